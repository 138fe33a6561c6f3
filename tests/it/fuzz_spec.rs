//! Bounded fuzzing of the check-file loader and of conditions: documents and
//! expressions built from a grammar (deep, long, aliased, duplicated, odd) and
//! random bytes. Each case runs on a thread with a deliberately small stack, so a
//! recursion that escaped the bounds shows as an overflow (which aborts the test
//! binary), and within a generous deadline, so a blow-up shows as a hang.

use std::sync::mpsc;
use std::time::Duration;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use uptimeping::spec::{Source, expr, load};

/// Smaller than any thread the loader runs on in the CLI or the daemon.
const SMALL_STACK: usize = 768 * 1024;

/// Far longer than any case takes; only a runaway reaches it.
const DEADLINE: Duration = Duration::from_secs(30);

/// Cases per target: enough variety within a few seconds on a shared machine.
const CASES: u32 = 256;

fn on_small_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::Builder::new()
        .stack_size(SMALL_STACK)
        .spawn(move || {
            let _ = tx.send(f());
        })
        .expect("spawn");
    rx.recv_timeout(DEADLINE)
        .expect("the case panicked or did not finish in time")
}

fn runner() -> TestRunner {
    // A fixed seed: the same cases on every run, so a failure is never a flake.
    TestRunner::new_with_rng(
        Config {
            cases: CASES,
            failure_persistence: None,
            ..Config::default()
        },
        proptest::test_runner::TestRng::deterministic_rng(
            proptest::test_runner::RngAlgorithm::ChaCha,
        ),
    )
}

/// Plain and odd scalars, including ones that look like other types.
fn scalar() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("lol".to_string()),
        Just("~".to_string()),
        Just("0x1F".to_string()),
        Just("-.inf".to_string()),
        Just("'quoted'".to_string()),
        Just("\"esc\\u00e9\"".to_string()),
        Just("${NOPE}".to_string()),
        Just("!!str 12".to_string()),
        Just("!custom x".to_string()),
        "[a-z0-9]{0,6}",
        Just("1e400".to_string()),
        Just("https://example.com/".to_string()),
    ]
}

/// A YAML value in flow style, nested by the grammar.
fn flow() -> impl Strategy<Value = String> {
    scalar().prop_recursive(6, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(|v| format!("[{}]", v.join(", "))),
            prop::collection::vec(("[a-c]{1,2}", inner), 0..6).prop_map(|kv| {
                let entries: Vec<String> =
                    kv.into_iter().map(|(k, v)| format!("{k}: {v}")).collect();
                format!("{{{}}}", entries.join(", "))
            }),
        ]
    })
}

/// A whole document: kind, name, fields of a check, anchors and aliases (nested
/// ones that multiply), merges, duplicate keys, deep nesting, or random bytes.
fn document() -> impl Strategy<Value = String> {
    let field = prop_oneof![
        flow().prop_map(|v| format!("http: {{headers: {v}}}")),
        flow().prop_map(|v| format!("expect: {v}")),
        flow().prop_map(|v| format!("labels: {v}")),
        (1usize..200).prop_map(|n| format!("v: {}{}", "[".repeat(n), "]".repeat(n))),
        (1usize..5000).prop_map(|n| format!("v:\n  {}x", "- ".repeat(n))),
        (1usize..300).prop_map(|n| format!("v: {}1{}", "{a: ".repeat(n), "}".repeat(n))),
        (2usize..12, 2usize..12).prop_map(|(levels, width)| {
            let mut s = "a0: &a0 [lol, lol]\n".to_string();
            for i in 1..levels {
                s.push_str(&format!(
                    "a{i}: &a{i} [{}]\n",
                    vec![format!("*a{}", i - 1); width].join(", ")
                ));
            }
            s.push_str(&format!("<<: *a{}", levels - 1));
            s
        }),
        flow().prop_map(|v| format!("base: &b {v}\nmerged:\n  <<: *b\n  extra: 1")),
        Just("name: again".to_string()),
        Just("timeout: 5s\ntimeout: 6s".to_string()),
        Just("*undefined".to_string()),
        "[ -~\n]{0,40}",
    ];
    prop_oneof![
        4 => prop::collection::vec(field, 0..6).prop_map(|fields| {
            format!("kind: Check\nname: api\ntype: http\ntarget: https://example.com/\n{}\n", fields.join("\n"))
        }),
        1 => prop::collection::vec(any::<u8>(), 0..200).prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
    ]
}

#[test]
fn the_loader_never_panics_overflows_or_loses_a_position() {
    runner()
        .run(&document(), |text| {
            let result = on_small_stack(move || {
                load(&[Source::new("f.yaml", text, ".")], &|_| None).map(|_| ())
            });
            if let Err(diags) = result {
                for d in diags.iter() {
                    prop_assert!(d.pos.line >= 1 && d.pos.col >= 1, "no position: {d}");
                    prop_assert!(!d.message.is_empty());
                }
            }
            Ok(())
        })
        .unwrap();
}

/// A CEL expression from the grammar: every construct that nests or chains, and
/// chains far longer than the bounds.
fn condition() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        Just("status".to_string()),
        Just("body.items".to_string()),
        Just("1".to_string()),
        Just("'s'".to_string()),
        Just("r'\\d('".to_string()),
        Just("\"\"\"tri\"ple\"\"\"".to_string()),
        Just("latency_ms".to_string()),
        Just("true".to_string()),
    ];
    let expr = leaf.prop_recursive(16, 200, 4, |inner| {
        prop_oneof![
            (
                inner.clone(),
                inner.clone(),
                prop::sample::select(vec!["+", "-", "*", "==", "<", "&&", "||", "in"])
            )
                .prop_map(|(a, b, op)| format!("{a} {op} {b}")),
            inner.clone().prop_map(|a| format!("({a})")),
            inner.clone().prop_map(|a| format!("!{a}")),
            inner.clone().prop_map(|a| format!("[{a}]")),
            inner.clone().prop_map(|a| format!("{{1: {a}}}")),
            inner.clone().prop_map(|a| format!("size({a})")),
            inner.clone().prop_map(|a| format!("{a}.b[0]")),
            (inner.clone(), inner.clone(), inner).prop_map(|(a, b, c)| format!("{a} ? {b} : {c}")),
        ]
    });
    let long = (
        prop::sample::select(vec![
            ".b",
            " + 1",
            "[0]",
            " && true",
            "(",
            "[",
            "!",
            "-",
            "true ? 1 : ",
            "int(",
        ]),
        1usize..3000,
    )
        .prop_map(|(piece, n)| format!("body{}", piece.repeat(n)));
    prop_oneof![3 => expr, 1 => long, 1 => "[ -~]{0,60}"]
}

#[test]
fn conditions_never_panic_or_overflow_and_errors_say_why() {
    runner()
        .run(&condition(), |source| {
            let shown = source.clone();
            let outcome = on_small_stack(move || {
                let program = expr::compile(&source)?;
                let evaluated = expr::on_condition_stack(move || {
                    let mut ctx = cel::Context::default();
                    ctx.add_variable_from_value("status", cel::Value::Int(200));
                    ctx.add_variable_from_value("latency_ms", cel::Value::Float(1.0));
                    let body = serde_json::json!({"items": [1], "b": [{"b": 1}]});
                    ctx.add_variable_from_value(
                        "body",
                        cel::to_value(&body).unwrap_or(cel::Value::Null),
                    );
                    program.execute(&ctx).is_ok()
                })?;
                Ok::<bool, String>(evaluated)
            });
            if let Err(msg) = outcome {
                prop_assert!(!msg.is_empty(), "an empty error for `{shown}`");
            }
            Ok(())
        })
        .unwrap();
}

#[test]
fn a_request_body_nested_to_the_limit_loads_on_a_small_stack() {
    // 62 levels inside `http.body`, 64 with the document and `http`: the deepest
    // document the loader accepts, typed, validated and canonicalised all the same.
    let body = format!("{}1{}", "[".repeat(62), "]".repeat(62));
    let yaml = format!(
        "kind: Check\nname: api\ntype: http\ntarget: https://example.com/\nhttp:\n  method: POST\n  body: {body}\n"
    );
    let loaded = on_small_stack(move || {
        load(&[Source::new("f.yaml", yaml, ".")], &|_| None)
            .map(|b| serde_json::to_string(&b.resources[0].desired()).map(|s| s.len()))
    });
    assert!(matches!(loaded, Ok(Ok(n)) if n > 0), "{loaded:?}");
}
