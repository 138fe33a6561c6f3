//! The committed shell completion scripts match what the binary generates, so
//! packages built from the repository never ship completions for old flags.

use std::path::Path;

use super::support::run;

const REGENERATE: &str = "scripts/update-completions.sh";

#[test]
fn committed_completions_are_up_to_date() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("completions");
    let mut stale = Vec::new();
    for (shell, file) in [
        ("bash", "uptimeping.bash"),
        ("zsh", "_uptimeping"),
        ("fish", "uptimeping.fish"),
    ] {
        let generated = run(&["completions", shell]);
        assert_eq!(
            generated.code, 0,
            "completions {shell}: {}",
            generated.stderr
        );
        assert!(
            !generated.stdout.is_empty(),
            "completions {shell} printed nothing"
        );
        let committed = std::fs::read_to_string(dir.join(file)).unwrap_or_default();
        if committed != generated.stdout {
            stale.push(format!(
                "completions/{file} (uptimeping completions {shell} > completions/{file})"
            ));
        }
    }
    assert!(
        stale.is_empty(),
        "out of date or missing: {}; regenerate them with `{REGENERATE}`",
        stale.join(", ")
    );
}

#[test]
fn every_supported_shell_gets_a_script() {
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let r = run(&["completions", shell]);
        assert_eq!(r.code, 0, "{shell}: {}", r.stderr);
        assert!(r.stdout.contains("uptimeping"), "{shell}");
        assert!(r.stdout.contains("validate"), "{shell}: no subcommands");
    }
}
