//! The documented maximums of the settings that size a run's memory or work:
//! refused above them at `validate` with `file:line:col`, accepted at them.

use super::spec_errors::assert_file_problems;
use super::support::Files;

const HTTP: &str = "kind: Check\nname: api\ntype: http\ntarget: https://example.com/healthz\n";
const TCP: &str = "kind: Check\nname: api\ntype: tcp\ntarget: example.com:25\n";
const GRPC: &str = "kind: Check\nname: api\ntype: grpc\ntarget: example.com:443\n";

/// `(head, section, field, maximum, what follows the maximum in the message)`.
const CAPS: &[(&str, &str, &str, u64, &str)] = &[
    (
        HTTP,
        "http",
        "max_body",
        16 * 1024 * 1024,
        " bytes (16 MiB)",
    ),
    (HTTP, "http", "max_redirects", 20, ""),
    (TCP, "tcp", "max_bytes", 1024 * 1024, " bytes (1 MiB)"),
    (GRPC, "grpc", "max_messages", 100, ""),
];

/// The check with `field` set to `value`, on line 6, column 14.
fn with(head: &str, section: &str, field: &str, value: u64) -> String {
    let health = if section == "grpc" {
        "  health: true\n"
    } else {
        ""
    };
    format!("{head}{section}:\n  {field}: {value}\n{health}")
}

#[test]
fn each_cap_is_refused_above_its_maximum_with_the_place_and_the_maximum() {
    for &(head, section, field, max, unit) in CAPS {
        // Just over, a GiB (the body once held in memory), and the most a u32 holds.
        for over in [max + 1, 1 << 30, u64::from(u32::MAX)] {
            let col = 4 + field.len() + 1;
            assert_file_problems(
                &with(head, section, field, over),
                &[format!(
                    "checks/api.yaml:6:{col}: `{section}.{field}`: {over} is more than the maximum of {max}{unit}; lower it"
                )],
            );
        }
    }
}

#[test]
fn each_cap_is_accepted_at_its_maximum() {
    for &(head, section, field, max, _) in CAPS {
        let dir = Files::new(&[("checks/api.yaml", &with(head, section, field, max))]);
        let run = dir.run(&["validate", "-f", "checks"]);
        assert_eq!(run.code, 0, "{section}.{field}: {}", run.stderr);
    }
}
