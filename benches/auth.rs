//! What people and access cost: one password check at login (argon2id at the
//! settings the daemon hashes with), a whole login, and what resolving a bearer
//! credential adds to each authenticated request, for an access token (JWT) and
//! for an API key, through `Auth::principal_from_bearer` on a real SQLite store.
//!
//!     cargo bench --bench auth -- [--runs 5] [--requests 2000] [--logins 15]
//!
//! Each figure is the median of `--runs` runs; a run's figure is the median of
//! its samples (one per hash, per login, per request). Prints a table.

use std::time::{Duration, Instant};

use uptimeping::daemon::auth::{Auth, Options, SessionKind, password};
use uptimeping::daemon::store::{NewKey, Role, Store, now_ms};
use uptimeping::model::LoginRequest;

const PASSWORD: &str = "Tr0ub4dor&3";

struct Args {
    runs: usize,
    requests: usize,
    logins: usize,
}

fn args() -> Args {
    let mut a = Args {
        runs: 5,
        requests: 2000,
        logins: 15,
    };
    let given: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    for pair in given.chunks(2) {
        let v = pair
            .get(1)
            .and_then(|v| v.parse::<usize>().ok())
            .unwrap_or_else(|| panic!("`{}` needs a number", pair[0]));
        match pair[0].as_str() {
            "--runs" => a.runs = v.max(1),
            "--requests" => a.requests = v.max(1),
            "--logins" => a.logins = v.max(1),
            other => panic!("unknown argument `{other}`; use --runs N --requests N --logins N"),
        }
    }
    a
}

fn median(mut xs: Vec<Duration>) -> Duration {
    xs.sort();
    xs[xs.len() / 2]
}

fn show(d: Duration) -> String {
    if d >= Duration::from_millis(1) {
        format!("{:.2} ms", d.as_secs_f64() * 1e3)
    } else {
        format!("{:.1} µs", d.as_secs_f64() * 1e6)
    }
}

fn main() {
    let a = args();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(&dir.path().join("uptimeping.db")).expect("store");
    let auth = Auth::open(dir.path(), Options::default()).expect("auth");
    let hash = password::hash(PASSWORD).expect("hash");

    let (token, key) = rt.block_on(async {
        store.bootstrap(|_| Ok(())).await.expect("bootstrap");
        for i in 0..a.runs {
            store
                .add_user(
                    1,
                    format!("u{i}@bench.example"),
                    hash.clone(),
                    Role::Operator,
                    "bench".into(),
                    now_ms(),
                )
                .await
                .expect("user");
        }
        let logged = auth
            .login(
                &store,
                LoginRequest {
                    email: "u0@bench.example".into(),
                    password: PASSWORD.into(),
                    tenant: None,
                },
                None,
                SessionKind::Cli,
            )
            .await
            .expect("login");
        let (_, key) = store
            .create_key(
                1,
                NewKey {
                    name: "bench".into(),
                    role: Role::Operator,
                    expires_at: None,
                    created_by: "bench".into(),
                },
                now_ms(),
            )
            .await
            .expect("key");
        (logged.tokens.expect("tokens").access_token, key)
    });

    let mut verify = Vec::new();
    let mut login = Vec::new();
    let mut jwt = Vec::new();
    let mut api_key = Vec::new();
    for run in 0..a.runs {
        verify.push(median(
            (0..a.logins)
                .map(|_| {
                    let t = Instant::now();
                    assert!(password::verify(PASSWORD, &hash));
                    t.elapsed()
                })
                .collect(),
        ));
        let email = format!("u{run}@bench.example");
        login.push(rt.block_on(async {
            let mut samples = Vec::new();
            for _ in 0..a.logins {
                let t = Instant::now();
                auth.login(
                    &store,
                    LoginRequest {
                        email: email.clone(),
                        password: PASSWORD.into(),
                        tenant: None,
                    },
                    None,
                    SessionKind::Cli,
                )
                .await
                .expect("login");
                samples.push(t.elapsed());
            }
            median(samples)
        }));
        for (credential, out) in [(&token, &mut jwt), (&key, &mut api_key)] {
            out.push(rt.block_on(async {
                let mut samples = Vec::with_capacity(a.requests);
                for _ in 0..a.requests {
                    let t = Instant::now();
                    let who = auth
                        .principal_from_bearer(&store, credential)
                        .await
                        .expect("resolved");
                    samples.push(t.elapsed());
                    std::hint::black_box(who);
                }
                median(samples)
            }));
        }
    }
    println!(
        "auth: {} runs; {} hashes and logins, {} requests per credential per run",
        a.runs, a.logins, a.requests
    );
    println!("| what | median | runs |");
    println!("|---|---|---|");
    for (what, runs) in [
        ("password verify (argon2id m=19456,t=2,p=1)", &verify),
        ("whole login (verify + session + tokens)", &login),
        ("bearer: access token (JWT)", &jwt),
        ("bearer: API key", &api_key),
    ] {
        let all: Vec<String> = runs.iter().map(|d| show(*d)).collect();
        println!(
            "| {what} | {} | {} |",
            show(median(runs.clone())),
            all.join(", ")
        );
    }
}
