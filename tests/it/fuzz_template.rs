//! Fuzzing notification templates from a grammar: filters with random arguments
//! (sizes far past every limit among them), nested loops, `set`s, concatenations
//! and deep nesting. Whatever the template, checking and rendering it never panics,
//! never renders past the output cap, keeps this process's memory small, and an
//! error says at which template line it is.

use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed, TestCaseError, TestRunner};
use uptimeping::spec::template::{
    EVENTS, Format, Template, check_renders, context, environment, error_parts, sample_payload,
};
use uptimeping::spec::template_bounds::{
    ContextBounds, MAX_RENDERED_BYTES, refusal, render_bounded,
};

/// Cases per run: enough to reach every production of the grammar many times,
/// few enough for a couple of seconds on a small CI machine.
const CASES: u32 = 300;

fn literal() -> impl Strategy<Value = String> {
    prop_oneof![
        (0u64..5).prop_map(|n| n.to_string()),
        prop_oneof![Just(8u64), Just(1000), Just(50_000), Just(10_000_000)]
            .prop_map(|n| n.to_string()),
        "[a-z ]{0,12}".prop_map(|s| format!("'{s}'")),
        Just("''".to_string()),
        Just("true".to_string()),
    ]
}

fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("check".to_string()),
        Just("check.name".to_string()),
        Just("check.target".to_string()),
        Just("check.labels".to_string()),
        Just("incident".to_string()),
        Just("incident.error".to_string()),
        Just("incident.count".to_string()),
        Just("result.failures".to_string()),
        Just("message.text".to_string()),
        Just("loop.index".to_string()),
        Just("loop.previtem".to_string()),
        Just("a".to_string()),
        Just("b".to_string()),
        Just("nope.deeper".to_string()),
    ]
}

/// Filters templates may use, with every argument the generator gives them.
const FILTERS: &[&str] = &[
    "upper", "lower", "title", "trim", "escape", "string", "list", "items", "dictsort", "split",
    "lines", "join", "replace", "indent", "tojson", "default", "length", "first", "last",
    "reverse", "sort", "unique", "map", "safe", "duration", "int",
];
/// Filters that are not there (some of minijinja's, some of Jinja2's).
const ABSENT: &[&str] = &[
    "center",
    "urlencode",
    "batch",
    "format",
    "pprint",
    "sum",
    "truncate",
];

fn filter() -> impl Strategy<Value = &'static str> {
    prop_oneof![
        9 => proptest::sample::select(FILTERS),
        1 => proptest::sample::select(ABSENT),
    ]
}

fn expr() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        3 => name(),
        2 => literal(),
        1 => literal().prop_map(|n| format!("range({n})")),
    ];
    leaf.prop_recursive(6, 48, 4, |inner| {
        prop_oneof![
            4 => (
                inner.clone(),
                filter(),
                proptest::collection::vec(prop_oneof![inner.clone(), literal()], 0..3),
                proptest::option::of(prop_oneof![
                    Just("indent"),
                    Just("width"),
                    Just("attribute"),
                    Just("d")
                ]),
                literal(),
            )
                .prop_map(|(e, f, args, kw, kv)| {
                    let mut all = args;
                    if let Some(k) = kw {
                        all.push(format!("{k}={kv}"));
                    }
                    if all.is_empty() {
                        format!("({e})|{f}")
                    } else {
                        format!("({e})|{f}({})", all.join(", "))
                    }
                }),
            3 => (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a} ~ {b})")),
            1 => (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a} + {b})")),
            1 => (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("[{a}, {b}]")),
            1 => (inner.clone(), inner.clone(), inner.clone())
                .prop_map(|(a, b, c)| format!("({a} if {b} else {c})")),
            1 => inner.prop_map(|a| format!("({a})[1:]")),
        ]
    })
}

fn body() -> impl Strategy<Value = String> {
    let stmt = prop_oneof![
        3 => expr().prop_map(|e| format!("{{{{ {e} }}}}")),
        2 => (prop_oneof![Just("a"), Just("b")], expr())
            .prop_map(|(v, e)| format!("{{% set {v} = {e} %}}")),
        1 => "[a-z \n]{0,10}".prop_map(|s| s.to_string()),
    ];
    let stmts = proptest::collection::vec(stmt, 1..4).prop_map(|v| v.join(""));
    stmts.prop_recursive(4, 24, 3, |inner| {
        prop_oneof![
            3 => (prop_oneof![Just("a"), Just("b")], expr(), inner.clone())
                .prop_map(|(v, e, b)| format!("{{% for {v} in {e} %}}{b}{{% endfor %}}\n")),
            1 => (expr(), inner.clone(), inner.clone())
                .prop_map(|(e, t, f)| format!("{{% if {e} %}}{t}{{% else %}}{f}{{% endif %}}")),
            1 => (expr(), inner.clone())
                .prop_map(|(e, b)| format!("{{% with a = {e} %}}{b}{{% endwith %}}")),
            2 => (inner.clone(), inner).prop_map(|(a, b)| format!("{a}\n{b}")),
        ]
    })
}

/// A template: mostly [`body`], some wrapped in a construct that is always refused
/// (capture blocks, string repetition), so both paths are exercised.
fn template() -> impl Strategy<Value = String> {
    (body(), 0u8..10).prop_map(|(b, wrap)| match wrap {
        0 => format!("{{% filter upper %}}{b}{{% endfilter %}}"),
        1 => format!("{{% set a %}}{b}{{% endset %}}{{{{ a }}}}"),
        2 => format!("{b}{{{{ check.name * 3 }}}}"),
        _ => b,
    })
}

/// This process's peak resident set size in KiB.
fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// Far above what the test process needs, far below what one unbounded value took.
const PEAK_RSS_KIB: u64 = 1024 * 1024;

/// How the generated templates fared: refused before rendering, rendered, or
/// stopped while rendering (so that a grammar that only makes refused templates
/// shows).
#[derive(Default, Debug)]
struct Tally {
    refused: u32,
    rendered: u32,
    stopped: u32,
}

fn check_one(text: &str, tally: &std::cell::RefCell<Tally>) -> Result<(), TestCaseError> {
    // What `validate` and `plan` do.
    let t = Template {
        name: "fuzz".into(),
        text: Some(text.to_string()),
        ..Template::default()
    };
    for (_, line, why) in check_renders(&t) {
        prop_assert!(
            line.is_some() || why.contains("rendered text is longer"),
            "no line: {why}\n{text}"
        );
    }
    // What the notifier does, against the context of every event.
    let env = environment(Format::Html);
    for event in EVENTS {
        let mut ctx = context(&sample_payload(event), None);
        ctx["message"] = serde_json::json!({"subject": "s", "text": "t"});
        if refusal(text, &ContextBounds::of(&ctx)).is_some() {
            tally.borrow_mut().refused += 1;
            continue;
        }
        let Ok(compiled) = env.template_from_str(text) else {
            tally.borrow_mut().refused += 1;
            continue;
        };
        match render_bounded(
            &compiled,
            minijinja::Value::from(minijinja::value::Serde(&ctx)),
        ) {
            Ok(out) => {
                tally.borrow_mut().rendered += 1;
                prop_assert!(out.len() <= MAX_RENDERED_BYTES);
            }
            Err(e) => {
                tally.borrow_mut().stopped += 1;
                let (line, why) = error_parts(&e);
                prop_assert!(
                    line.is_some() || why.contains("rendered text is longer"),
                    "no line: {why}\n{text}"
                );
            }
        }
    }
    prop_assert!(
        peak_rss_kib() < PEAK_RSS_KIB,
        "peak RSS {} KiB after\n{text}",
        peak_rss_kib()
    );
    Ok(())
}

#[test]
fn generated_templates_never_panic_grow_past_the_caps_or_lose_their_line() {
    let config = Config {
        cases: CASES,
        rng_seed: RngSeed::Fixed(0x7e3a_1f55),
        failure_persistence: None,
        ..Config::default()
    };
    let started = std::time::Instant::now();
    let mut runner = TestRunner::new(config);
    let tally = std::cell::RefCell::new(Tally::default());
    let result = runner.run(&template(), |text| check_one(&text, &tally));
    if let Err(e) = result {
        panic!("{e}");
    }
    eprintln!(
        "fuzz_template: {CASES} templates in {:?}, peak RSS {} KiB, per event {:?}",
        started.elapsed(),
        peak_rss_kib(),
        tally.borrow()
    );
    let tally = tally.into_inner();
    assert!(
        tally.rendered > 0 && tally.refused > 0 && tally.stopped > 0,
        "the grammar should make templates of every fate: {tally:?}"
    );
}
