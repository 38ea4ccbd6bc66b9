//! The inputs that once crashed aiperf (a panic converting 1e30 seconds, an allocation abort for
//! a billion-token prompt, all memory taken by YAML aliases or a huge grid) now each get one clear
//! error naming the setting: exit 2, no backtrace, nothing written, in `validate` too.

mod common;
use common::*;

fn assert_config_error(out: &std::process::Output, mentions: &str, what: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{what}: {stderr}");
    assert!(!stderr.contains("panicked"), "{what}: {stderr}");
    assert!(!stderr.contains("RUST_BACKTRACE"), "{what}: {stderr}");
    assert!(
        stderr.contains(mentions),
        "{what}: expected '{mentions}' in {stderr}"
    );
}

#[test]
fn huge_or_invalid_numbers_in_flags_are_range_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("never");
    for (flag, value, mentions) in [
        (
            "--request-timeout-seconds",
            "1e30",
            "--request-timeout-seconds",
        ),
        ("--benchmark-duration", "1e30", "--benchmark-duration"),
        (
            "--wait-for-model-timeout",
            "1e30",
            "--wait-for-model-timeout",
        ),
        (
            "--wait-for-model-timeout",
            "nan",
            "--wait-for-model-timeout",
        ),
        ("--isl", "1e30", "--isl"),
        ("--isl", "1000000000", "at most 1000000 tokens"),
        ("--osl", "1e30", "--osl"),
        ("--concurrency", "-1", "--concurrency"),
        ("--request-rate", "1e30", "--request-rate"),
        ("--record-processors", "0", "--record-processors"),
        ("--record-processors", "65", "--record-processors"),
        ("--record-processors", "-3", "--record-processors"),
        (
            "--threshold",
            "time_to_first_token.p99 < 1e999",
            "not a finite number",
        ),
        (
            "--threshold",
            "time_to_first_token.p99 < nan",
            "not a finite number",
        ),
        (
            "--threshold",
            "time_to_first_token.p99 < 2 with 1e30% confidence",
            "50% to 99.9%",
        ),
        ("--max-regression", "1e30%", "need --baseline"),
    ] {
        let mut args = vec!["-m", "m", "-u", "mock://", flag, value];
        if flag != "--benchmark-duration" {
            args.extend(["--request-count", "2"]);
        }
        let out = profile(&dir, &args);
        assert_config_error(&out, mentions, &format!("{flag} {value}"));
    }
    let out = MockProfile::new("")
        .model("m")
        .duration(5.0)
        .arg("--benchmark-grace-period", "1e30")
        .run(&dir);
    assert_config_error(&out, "--benchmark-grace-period", "grace 1e30");
    let out = MockProfile::new("")
        .model("m")
        .requests(2)
        .arg("--num-dataset-entries", 1000000)
        .arg("--isl", 1000)
        .run(&dir);
    assert_config_error(&out, "prompt tokens to generate", "dataset budget");
    let out = MockProfile::new("")
        .model("m")
        .requests(2)
        .arg("--baseline", tmp.path().display())
        .arg("--max-regression", "1e30%")
        .run(&dir);
    assert_config_error(&out, "--max-regression", "margin 1e30%");
    assert!(!dir.exists(), "a configuration error wrote files");
    // aiperf compare's own numbers.
    for (flag, value, mentions) in [
        ("--confidence-level", "nan", "--confidence-level"),
        ("--confidence-level", "1e30", "--confidence-level"),
        (
            "--bootstrap-samples",
            "1000000000000",
            "--bootstrap-samples",
        ),
        ("--bootstrap-samples", "-5", "--bootstrap-samples"),
        ("--max-regression", "-5%", "--max-regression"),
        ("--max-regression", "inf", "--max-regression"),
    ] {
        let out = aiperf()
            .args(["compare", "a", "b", flag, value])
            .output()
            .unwrap();
        assert_config_error(&out, mentions, &format!("compare {flag} {value}"));
    }
}

#[test]
fn huge_durations_and_expansions_in_files_are_errors_in_validate_and_run() {
    let tmp = tempfile::tempdir().unwrap();
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "timeout",
            "benchmark: {model: m, endpoint: {url: 'mock://', timeout: 1e30}, phases: {requests: 1}}".into(),
            "benchmark.endpoint.timeout",
        ),
        (
            "unit overflow",
            "benchmark: {model: m, endpoint: {url: 'mock://', timeout: \"99999999999999999999h\"}, phases: {requests: 1}}".into(),
            "benchmark.endpoint.timeout",
        ),
        (
            "duration",
            "benchmark: {model: m, endpoint: {url: 'mock://'}, phases: {duration: 1e30}}".into(),
            "duration",
        ),
        (
            "grace",
            "benchmark: {model: m, endpoint: {url: 'mock://'}, phases: {duration: 5, gracePeriod: 1e30}}".into(),
            "grace",
        ),
        (
            "cooldown",
            "benchmark: {model: m, endpoint: {url: 'mock://'}, phases: {requests: 1}}\nmultiRun: {numRuns: 2, cooldownSeconds: 1e30}".into(),
            "multi_run.cooldown_seconds",
        ),
        (
            "concurrency",
            "benchmark: {model: m, endpoint: {url: 'mock://'}, phases: {requests: 1, concurrency: 1e30}}".into(),
            "concurrency",
        ),
        (
            "schema version",
            "schemaVersion: \"9.9\"\nbenchmark: {model: m, endpoint: {url: 'mock://'}, phases: {requests: 1}}".into(),
            "schemaVersion '9.9'",
        ),
        (
            "grid",
            "benchmark: {model: m, endpoint: {url: 'mock://'}, phases: {requests: 1}}\nsweep:\n  parameters:\n    concurrency: {from: 1, to: 10000, step: 1}\n    isl: {from: 1, to: 10000, step: 1}".into(),
            "at most 10000 are allowed",
        ),
        ("aliases", billion_laughs(), "expands to more than"),
        (
            "header",
            "benchmark: {model: m, endpoint: {url: 'mock://', headers: {X-A: \"a\\r\\nb\"}}, phases: {requests: 1}}".into(),
            "benchmark.endpoint.headers.X-A",
        ),
    ];
    for (what, text, mentions) in cases {
        let file = tmp.path().join("e.yaml");
        let out_dir = tmp.path().join("out");
        std::fs::write(
            &file,
            text.replace(
                "phases: {",
                &format!(
                    "artifacts: {{dir: '{}'}}, phases: {{type: concurrency, ",
                    out_dir.display()
                ),
            ),
        )
        .unwrap();
        for command in ["validate", "run"] {
            let out = aiperf().arg(command).arg(&file).output().unwrap();
            assert_config_error(&out, mentions, &format!("{command} {what}"));
            assert!(
                String::from_utf8_lossy(&out.stderr).contains("e.yaml:"),
                "{what}: no position"
            );
        }
        assert!(
            !out_dir.exists(),
            "{what}: a configuration error wrote files"
        );
    }
}

/// Aliases nested 9 deep: 10^9 values once expanded.
fn billion_laughs() -> String {
    let mut lines = vec!["a0: &a0 [x, x, x, x, x, x, x, x, x, x]".to_string()];
    for i in 1..10 {
        let refs = vec![format!("*a{}", i - 1); 10].join(", ");
        lines.push(format!("a{i}: &a{i} [{refs}]"));
    }
    lines.push("benchmark: {model: m, endpoint: {url: 'mock://'}, phases: {requests: 1}}".into());
    lines.join("\n")
}

/// A swept path through an unknown key is located at the sweep parameter, not at 1:1.
#[test]
fn an_unknown_swept_path_is_located_at_its_parameter() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("e.yaml");
    std::fs::write(
        &file,
        "benchmark:\n  model: m\n  endpoint: {url: 'mock://'}\n  phases: {type: concurrency, requests: 4}\nsweep:\n  parameters:\n    bogus.thing: [1, 2]\n",
    )
    .unwrap();
    let out = aiperf().arg("validate").arg(&file).output().unwrap();
    assert_config_error(
        &out,
        "e.yaml:7:5: sweep.parameters.bogus.thing",
        "unknown path",
    );
}

/// A line break in a header or API key is refused before anything is written.
#[test]
fn control_characters_in_headers_are_refused_before_anything_is_written() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("never");
    for args in [
        vec!["--header", "X-A: a\r\nInjected: b"],
        vec!["--api-key", "sk-1\r\nInjected: b"],
    ] {
        let mut all = vec!["-m", "m", "-u", "mock://", "--request-count", "1"];
        all.extend(args);
        let out = profile(&dir, &all);
        assert_config_error(&out, "not allowed in an HTTP header", "header");
        assert!(
            !dir.exists(),
            "files were written before the header was checked"
        );
    }
}

/// An SLO attainment fraction above 1 is an SLA nothing can meet: refused, not searched.
#[test]
fn an_impossible_slo_attainment_fraction_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let out = MockProfile::new("")
        .model("m")
        .streaming()
        .requests(4)
        .arg("--search-recipe", "max-goodput-under-slo")
        .arg("--ttft-sla-ms", 100)
        .arg("--itl-sla-ms", 20)
        .arg("--e2e-sla-ms", "1000")
        .arg("--slo-attainment-fraction", 5)
        .run(&tmp.path().join("never"));
    assert_config_error(
        &out,
        "slo_attainment_fraction must be a fraction from 0 to 1, got 5",
        "fraction 5",
    );
    assert!(!tmp.path().join("never").exists());
}
