//! `forge generate --interactive`: refused without a terminal, and driven
//! through a pseudo-terminal (util-linux `script`) with keys as a person types.

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::forge::corpus;

#[test]
fn interactive_without_a_terminal_names_the_flags() {
    let dir = corpus();
    let run = dir.run(&[
        "forge",
        "generate",
        "--proto",
        "protos/acme/wkt/v1/wkt.proto",
        "-I",
        "protos",
        "--interactive",
    ]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("--interactive needs a terminal")
            && run.stderr.contains("--service, --method, --no-health, --target, --interval, --timeout, --tls and -o DIR"),
        "{}",
        run.stderr
    );
    assert!(run.stdout.is_empty());
}

/// Runs `forge generate --interactive` on a pseudo-terminal in `dir`, waits
/// for the first prompt, types `keys` and waits for `done` on the terminal;
/// returns the screen.
fn drive(dir: &crate::support::Files, keys: &[u8], done: &str) -> String {
    let cmd = format!(
        "{} forge generate --proto protos/acme/payments/v1/payments.proto protos/acme/wkt/v1/wkt.proto -I protos --interactive",
        env!("CARGO_BIN_EXE_uptimeping")
    );
    let mut child = Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .current_dir(dir.path())
        .env("NO_COLOR", "1")
        .env("TERM", "xterm")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("util-linux `script` runs the command on a pseudo-terminal");
    let seen = Arc::new(Mutex::new(String::new()));
    let mut stdout = child.stdout.take().unwrap();
    let sink = Arc::clone(&seen);
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = stdout.read(&mut buf) {
            if n == 0 {
                break;
            }
            sink.lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    });
    let wait_for = |needle: &str| {
        let start = Instant::now();
        while !seen.lock().unwrap().contains(needle) {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "no `{needle}` on the terminal:\n{}",
                seen.lock().unwrap()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    wait_for("Services");
    child.stdin.as_mut().unwrap().write_all(keys).unwrap();
    wait_for(done);
    let _ = child.kill();
    let _ = child.wait();
    seen.lock().unwrap().clone()
}

#[test]
fn interactive_prompts_choose_preview_and_write() {
    let dir = corpus();
    // Untick the first service (payments), keep WellKnown's methods, no health
    // checks, another target, default TLS, interval 30s, timeout, out dir, yes.
    let screen = drive(
        &dir,
        b" \r\rn10.0.0.7:9000\r\r\x7f\x7f30s\r\rinter\ry",
        "wrote inter/well-known.yaml",
    );
    assert!(screen.contains("# ---- well-known.yaml ----"), "{screen}");
    let text = std::fs::read_to_string(dir.join("inter/well-known.yaml")).unwrap();
    assert!(text.contains("target: \"10.0.0.7:9000\""), "{text}");
    assert!(text.contains("schedule: \"30s\""), "{text}");
    assert!(!text.contains("health: true"), "{text}");
    assert!(!text.contains("acme.payments"), "{text}");
    let valid = dir.run(&["validate", "-f", "inter"]);
    assert_eq!(valid.code, 0, "{valid:?}");
}

#[test]
fn interactive_with_no_method_chosen_writes_only_health_checks() {
    let dir = corpus();
    // Both services, untick every method (`a` ticks all, as CreatePayment
    // starts unticked; `a` again unticks all), defaults, out dir, yes.
    let screen = drive(&dir, b"\raa\r\r\r\r\rnone\ry", "wrote none/well-known.yaml");
    assert!(
        screen.contains("only a health check per service"),
        "{screen}"
    );
    for file in ["none/payments.yaml", "none/well-known.yaml"] {
        let text = std::fs::read_to_string(dir.join(file)).unwrap();
        assert_eq!(text.matches("kind: Check").count(), 1, "{text}");
        assert!(text.contains("health: true"), "{text}");
    }
}

#[test]
fn interactive_methods_that_may_change_data_start_unticked_and_marked() {
    let dir = corpus();
    // Every default: services, methods, health, target, TLS, interval, timeout.
    let screen = drive(
        &dir,
        b"\r\r\r\r\r\r\rdefaults\ry",
        "wrote defaults/well-known.yaml",
    );
    assert!(
        screen.contains("acme.payments.v1.Payments/CreatePayment  [WRITES? it may change data: its name starts with `Create`"),
        "{screen}"
    );
    let text = std::fs::read_to_string(dir.join("defaults/payments.yaml")).unwrap();
    assert!(!text.contains("method: \"CreatePayment\""), "{text}");
    assert!(text.contains("method: \"GetStatus\""), "{text}");
}
