//! Passwords: the policy a new one must meet, and argon2id hashes in PHC strings
//! (`$argon2id$v=19$m=19456,t=2,p=1$…`), so that the cost can rise later: a hash
//! made with older settings still verifies, and is made again at login.

use std::sync::{Arc, Mutex, mpsc};

use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::{Algorithm, Argon2, Block, Params, Version};

/// The shortest password taken: the brief's minimum.
pub const MIN_PASSWORD_CHARS: usize = 8;
/// The longest password taken, checked before hashing so that a huge body cannot
/// buy a long hash; long enough for any passphrase or generated secret.
pub const MAX_PASSWORD_CHARS: usize = 256;
/// From this length a password needs no mix of character classes: length alone
/// makes it strong enough.
pub const LONG_PASSWORD_CHARS: usize = 16;

/// argon2id memory in KiB: 19 MiB, the OWASP recommendation for argon2id with two
/// passes and one lane.
pub const M_COST_KIB: u32 = 19 * 1024;
pub const T_COST: u32 = 2;
pub const P_COST: u32 = 1;

/// How a hash made at the current settings begins; another start means the hash
/// is from older (or other) settings and is made again at the next login.
const CURRENT: &str = "$argon2id$v=19$m=19456,t=2,p=1$";

/// Passwords people pick first, refused whatever their classes say.
const COMMON: &[&str] = &[
    "password",
    "password1",
    "password12",
    "password123",
    "passw0rd",
    "p@ssw0rd",
    "p@ssword",
    "qwerty123",
    "qwertyuiop",
    "iloveyou",
    "letmein1",
    "welcome1",
    "welcome123",
    "admin123",
    "administrator",
    "changeme",
    "changeme1",
    "trustno1",
    "football",
    "baseball",
    "sunshine",
    "princess",
    "superman",
    "starwars",
    "monkey123",
    "dragon123",
    "master123",
    "abc12345",
    "abcd1234",
    "1q2w3e4r",
    "1qaz2wsx",
    "zaq12wsx",
    "qwer1234",
    "asdf1234",
    "secret123",
    "uptimeping",
    "letmein123",
    "whatever1",
    "computer1",
    "internet1",
];

/// What a good password looks like, for every refusal.
const ADVICE: &str = "use at least 8 characters mixing three of lowercase, uppercase, digits and symbols, or a passphrase of 16 characters or more";

/// Checks `password` against the policy for the user `email`; the error says why
/// and what would do.
pub fn check_policy(password: &str, email: &str) -> Result<(), String> {
    let chars = password.chars().count();
    if chars < MIN_PASSWORD_CHARS {
        return Err(format!(
            "the password is too short ({chars} characters): {ADVICE}"
        ));
    }
    if chars > MAX_PASSWORD_CHARS {
        return Err(format!(
            "the password is longer than {MAX_PASSWORD_CHARS} characters: use a shorter one"
        ));
    }
    let lower = password.to_lowercase();
    let email = email.trim().to_lowercase();
    let local = email.split('@').next().unwrap_or_default();
    if lower == email || (!local.is_empty() && lower == local) {
        return Err(format!(
            "the password must not be the email address: {ADVICE}"
        ));
    }
    if COMMON.contains(&lower.as_str()) {
        return Err(format!(
            "the password is one of the most common ones: {ADVICE}"
        ));
    }
    if patterned(password) {
        return Err(format!(
            "the password is a trivial pattern (one character repeated, or a run like `12345678`): {ADVICE}"
        ));
    }
    let classes = [
        password.chars().any(|c| c.is_lowercase()),
        password.chars().any(|c| c.is_uppercase()),
        password.chars().any(|c| c.is_ascii_digit()),
        password.chars().any(|c| !c.is_alphanumeric()),
    ]
    .iter()
    .filter(|&&b| b)
    .count();
    if classes < 3 && chars < LONG_PASSWORD_CHARS {
        return Err(format!("the password is too simple: {ADVICE}"));
    }
    Ok(())
}

/// One character repeated, or a run going up or down one step at a time
/// (`12345678`, `abcdefgh`, `87654321`), case aside.
fn patterned(password: &str) -> bool {
    let codes: Vec<u32> = password.to_lowercase().chars().map(u32::from).collect();
    let steps: Vec<i64> = codes
        .windows(2)
        .map(|w| i64::from(w[1]) - i64::from(w[0]))
        .collect();
    let Some(first) = steps.first() else {
        return true;
    };
    (-1..=1).contains(first) && steps.iter().all(|s| s == first)
}

fn hasher() -> Argon2<'static> {
    // The constants are within argon2's bounds; `DEFAULT` is the same settings.
    let params = Params::new(M_COST_KIB, T_COST, P_COST, None).unwrap_or(Params::DEFAULT);
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// The working memory of one argon2 run at the current settings
/// ([`M_COST_KIB`] blocks of 1 KiB), made once per hashing thread and used run
/// after run: a fresh 19 MiB for every hash is kept by the allocator's per-thread
/// arenas afterwards, so memory would grow with the threads that ever hashed.
pub struct Memory(Vec<Block>);

impl Memory {
    pub fn new() -> Memory {
        Memory(vec![Block::default(); M_COST_KIB as usize])
    }

    /// Where the blocks are, to tell one buffer from another in tests.
    pub fn address(&self) -> usize {
        self.0.as_ptr() as usize
    }
}

impl Default for Memory {
    fn default() -> Self {
        Memory::new()
    }
}

/// The PHC string of `password` at the current settings, with a random salt.
pub fn hash(password: &str) -> Result<String, String> {
    hash_in(password, &mut Memory::new())
}

/// [`hash`] in `memory`.
pub fn hash_in(password: &str, memory: &mut Memory) -> Result<String, String> {
    let failed = |e: &dyn std::fmt::Display| format!("cannot hash the password: {e}");
    let salt = argon2::password_hash::try_generate_salt().map_err(|e| failed(&e))?;
    let argon = hasher();
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    let blocks = memory
        .0
        .get_mut(..argon.params().block_count())
        .ok_or_else(|| failed(&"the working memory is too small"))?;
    argon
        .hash_password_into_with_memory(password.as_bytes(), &salt, &mut out, blocks)
        .map_err(|e| failed(&e))?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(argon.params()).map_err(|e| failed(&e))?,
        salt: Some(Salt::new(&salt).map_err(|e| failed(&e))?),
        hash: Some(Output::new(&out).map_err(|e| failed(&e))?),
    };
    Ok(phc.to_string())
}

/// Whether `password` is the one `phc` was made from (with the settings `phc`
/// names). A string that is not a PHC hash verifies nothing.
pub fn verify(password: &str, phc: &str) -> bool {
    verify_in(password, phc, &mut Memory::new())
}

/// [`verify`] in `memory`. A hash asking for more memory than the current
/// settings verifies nothing: this daemon never made one, and running it would
/// take memory beyond the bound.
pub fn verify_in(password: &str, phc: &str, memory: &mut Memory) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (&parsed.salt, &parsed.hash) else {
        return false;
    };
    let Ok(algorithm) = Algorithm::try_from(parsed.algorithm.as_str()) else {
        return false;
    };
    let version = match parsed.version.map(Version::try_from).transpose() {
        Ok(v) => v.unwrap_or_default(),
        Err(_) => return false,
    };
    let Ok(params) = Params::try_from(&parsed) else {
        return false;
    };
    let argon = Argon2::new(algorithm, version, params);
    let Some(blocks) = memory.0.get_mut(..argon.params().block_count()) else {
        return false;
    };
    let mut buffer = [0u8; Output::MAX_LENGTH];
    let Some(out) = buffer.get_mut(..expected.len()) else {
        return false;
    };
    argon
        .hash_password_into_with_memory(password.as_bytes(), salt, out, blocks)
        .is_ok()
        // `Output`'s equality takes the same time wherever the bytes differ.
        && Output::new(out).is_ok_and(|computed| &computed == expected)
}

/// Work for a hashing thread, given that thread's memory.
pub type Job = Box<dyn FnOnce(&mut Memory) + Send>;

/// How long a hashing thread keeps its [`Memory`] with no job: long enough that a
/// burst of logins reuses it, short enough that an idle daemon holds none of it.
pub const IDLE_RELEASE: std::time::Duration = std::time::Duration::from_secs(5);

/// Long-lived threads that run password hashes, each in its own [`Memory`] (made
/// at its first job and freed after [`IDLE_RELEASE`] without one), so that the
/// memory hashing takes is at most `threads` × 19 MiB however many logins come,
/// and none between them.
pub struct Hashers {
    jobs: Mutex<mpsc::Sender<Job>>,
    /// How many threads hold their memory now.
    held: Arc<std::sync::atomic::AtomicUsize>,
}

impl Hashers {
    /// Starts `threads` hashing threads.
    pub fn start(threads: usize) -> std::io::Result<Hashers> {
        Hashers::start_releasing_after(threads, IDLE_RELEASE)
    }

    /// [`start`](Self::start), with threads that free their memory after `idle`.
    pub fn start_releasing_after(
        threads: usize,
        idle: std::time::Duration,
    ) -> std::io::Result<Hashers> {
        use std::sync::atomic::Ordering;
        let (tx, rx) = mpsc::channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        let held = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        for i in 0..threads.max(1) {
            let (rx, held) = (Arc::clone(&rx), Arc::clone(&held));
            std::thread::Builder::new()
                .name(format!("password-hash-{i}"))
                .spawn(move || {
                    let mut memory: Option<Memory> = None;
                    loop {
                        // Every wait ends after `idle`, also without memory: a thread
                        // waiting for good would keep the others from the queue, and
                        // from ever timing out and freeing theirs.
                        let job = rx
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .recv_timeout(idle);
                        let job = match job {
                            Ok(job) => job,
                            Err(mpsc::RecvTimeoutError::Timeout) => {
                                if memory.take().is_some() {
                                    held.fetch_sub(1, Ordering::Relaxed);
                                }
                                continue;
                            }
                            Err(mpsc::RecvTimeoutError::Disconnected) => return,
                        };
                        let memory = memory.get_or_insert_with(|| {
                            held.fetch_add(1, Ordering::Relaxed);
                            Memory::new()
                        });
                        // A panicking job loses its answer (its caller hears of
                        // it), not the thread.
                        let _ =
                            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(memory)));
                    }
                })?;
        }
        Ok(Hashers {
            jobs: Mutex::new(tx),
            held,
        })
    }

    /// Queues `job` for the next free thread; false when no thread is left.
    pub fn submit(&self, job: Job) -> bool {
        self.jobs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .send(job)
            .is_ok()
    }

    /// How many threads hold their working memory now.
    pub fn holding(&self) -> usize {
        self.held.load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// Whether `phc` was made with settings other than the current ones.
pub fn needs_rehash(phc: &str) -> bool {
    !phc.starts_with(CURRENT)
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::password_hash::PasswordHasher;

    #[test]
    fn good_passwords_pass() {
        for p in [
            "Tr0ub4dor&3",
            "correct horse battery staple",
            "Zx9!kq2Lm",
            "ünïcödé-Pass1",
        ] {
            assert_eq!(check_policy(p, "alice@example.com"), Ok(()), "{p}");
        }
    }

    #[test]
    fn weak_passwords_are_refused_with_advice() {
        let cases = [
            ("Ab1!", "too short"),
            ("alice@example.com", "email"),
            ("ALICE", "too short"),
            ("AliceAlice", "too simple"),
            ("alicealice", "too simple"),
            ("Password123", "common"),
            ("12345678", "pattern"),
            ("abcdefghij", "pattern"),
            ("ZYXWVUTS", "pattern"),
            ("aaaaaaaaaaaaaaaaaaaa", "pattern"),
            ("lowercaseonly", "too simple"),
        ];
        for (p, why) in cases {
            let err = check_policy(p, "alice@example.com").expect_err(p);
            assert!(err.contains(why), "{p}: {err}");
            assert!(err.contains("at least 8 characters"), "{p}: {err}");
        }
        // The local part alone, in another case.
        let err = check_policy("Alice.Smith", "alice.smith@example.com").expect_err("local");
        assert!(err.contains("email"), "{err}");
        let long = "Aa1!".repeat(65);
        assert!(
            check_policy(&long, "a@b.c")
                .expect_err("long")
                .contains("longer")
        );
    }

    #[test]
    fn hashes_are_argon2id_phc_and_verify() {
        let h = hash("Tr0ub4dor&3").expect("hash");
        assert!(h.starts_with(CURRENT), "{h}");
        assert!(!needs_rehash(&h));
        assert!(verify("Tr0ub4dor&3", &h));
        assert!(!verify("Tr0ub4dor&4", &h));
        assert!(!verify("Tr0ub4dor&3", "not a hash"));
    }

    #[test]
    fn a_hash_at_older_settings_verifies_and_asks_for_a_rehash() {
        let weak = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(8 * 1024, 1, 1, None).expect("params"),
        );
        let old = weak
            .hash_password(b"Tr0ub4dor&3")
            .expect("hash")
            .to_string();
        assert!(verify("Tr0ub4dor&3", &old));
        assert!(needs_rehash(&old));
        let mut memory = Memory::new();
        assert!(verify_in("Tr0ub4dor&3", &old, &mut memory));
        assert!(!verify_in("Tr0ub4dor&4", &old, &mut memory));
    }

    #[test]
    fn a_hash_asking_for_more_memory_than_the_current_settings_verifies_nothing() {
        let big = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(M_COST_KIB * 2, 1, 1, None).expect("params"),
        );
        let phc = big.hash_password(b"Tr0ub4dor&3").expect("hash").to_string();
        assert!(!verify("Tr0ub4dor&3", &phc));
    }

    #[test]
    fn hashing_threads_reuse_their_memory_in_a_burst_and_free_it_when_idle() {
        let hashers = Hashers::start_releasing_after(2, std::time::Duration::from_millis(300))
            .expect("start");
        let (tx, rx) = mpsc::channel();
        for _ in 0..6 {
            let tx = tx.clone();
            assert!(hashers.submit(Box::new(move |memory| {
                let _ = tx.send(memory.address());
            })));
        }
        let buffers: std::collections::HashSet<usize> =
            (0..6).map(|_| rx.recv().expect("answer")).collect();
        assert!(buffers.len() <= 2, "{buffers:?}");
        assert!(hashers.holding() >= 1);
        // Each waiting thread lets go within two idle periods; wait for it, not a fixed time.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while hashers.holding() > 0 {
            assert!(std::time::Instant::now() < deadline, "memory still held");
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        // And a later job still runs, in memory made afresh.
        let tx2 = tx.clone();
        assert!(hashers.submit(Box::new(move |memory| {
            let _ = tx2.send(memory.address());
        })));
        rx.recv().expect("a job after the release");
        assert_eq!(hashers.holding(), 1);
    }
}
