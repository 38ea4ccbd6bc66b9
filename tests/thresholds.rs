//! The CI gate: thresholds judged on real runs against the embedded mock server, their exit
//! codes, `thresholds.json`, and configuration errors.

mod common;
use aiperf::artifacts::thresholds::ThresholdsFile;
use common::*;
use std::path::Path;

fn gated(dir: &Path, settings: &str, thresholds: &[&str]) -> std::process::Output {
    let mut run = MockProfile::new(settings)
        .streaming()
        .requests(20)
        .concurrency(2)
        .tokens(16, 4);
    for t in thresholds {
        run = run.arg("--threshold", t);
    }
    run.run(dir)
}

#[test]
fn a_passing_gate_exits_0_and_a_failing_one_exits_9_with_every_file_written() {
    let tmp = tempfile::tempdir().unwrap();
    let pass = tmp.path().join("pass");
    let out = gated(
        &pass,
        "ttft_ms=20&itl_ms=1",
        &["time_to_first_token.p50 > 5", "request_error_rate < 1"],
    );
    assert_exit(&out, 0);
    let file: ThresholdsFile = round_trip(&pass.join("thresholds.json"));
    assert!(file.passed);
    assert_eq!(file.results.len(), 2);
    let ttft = &file.results[0];
    assert_eq!(
        ttft.observed,
        Some(stat(&summary(&pass), "time_to_first_token", "p50"))
    );
    assert_eq!(
        (ttft.scope.as_str(), ttft.rule.as_str()),
        ("run", "value of the run")
    );
    assert_eq!(ttft.unit.as_deref(), Some("ms"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("thresholds: 2 of 2 passed"), "{stdout}");

    let fail = tmp.path().join("fail");
    let out = gated(
        &fail,
        "ttft_ms=20&itl_ms=1",
        &["time_to_first_token.p50 < 5", "request_error_rate < 1"],
    );
    assert_exit(&out, 9);
    let file = ThresholdsFile::read(&fail.join("thresholds.json")).unwrap();
    assert!(!file.passed);
    assert_eq!(
        file.results.iter().map(|r| r.passed).collect::<Vec<_>>(),
        [false, true]
    );
    assert!(
        stderr(&out).contains("threshold judgement(s) failed"),
        "{}",
        stderr(&out)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("FAIL time_to_first_token.p50 < 5"));
    for name in [
        "profile_export_aiperf.json",
        "profile_export_aiperf.csv",
        "profile_export.jsonl",
        "run_metadata.json",
    ] {
        assert!(has_content(&fail.join(name)), "{name} missing");
    }
}

#[test]
fn a_run_that_failed_keeps_its_exit_code_and_still_judges() {
    let tmp = tempfile::tempdir().unwrap();
    let out = gated(
        tmp.path(),
        "error_rate=1",
        &["time_to_first_token.p99 < 1000"],
    );
    assert_exit(&out, 4);
    let file = ThresholdsFile::read(&tmp.path().join("thresholds.json")).unwrap();
    assert!(!file.passed);
    assert_eq!(file.results[0].observed, None);
}

#[test]
fn invalid_thresholds_are_configuration_errors_and_nothing_runs() {
    let tmp = tempfile::tempdir().unwrap();
    for (rule, says) in [
        (
            "time_to_frist_token.p99 < 200",
            "did you mean 'time_to_first_token'",
        ),
        ("time_to_first_token.p999 < 200", "did you mean 'p99.9'"),
        ("time_to_first_token < 200", "say which statistic"),
        ("request_throughput == 3", "use <, <=, > or >="),
    ] {
        let dir = tmp.path().join("never");
        let out = gated(&dir, "", &[rule]);
        assert_exit(&out, 2);
        assert!(stderr(&out).contains(says), "{rule}: {}", stderr(&out));
        assert!(!dir.exists(), "{rule}: a directory was written");
    }
    let out_dir = tmp.path().join("out");
    let file = write(
        tmp.path(),
        "e.yaml",
        &format!(
            "benchmark:
  model: m
  endpoint: {{url: 'mock://', streaming: true}}
  phases: {{type: concurrency, requests: 2, concurrency: 1}}
  artifacts: {{dir: '{}'}}
  thresholds:
    - time_to_first_token.p99 < 200
    - inter_token_latncy.p99 < 20
",
            out_dir.display()
        ),
    );
    let out = aiperf().arg("run").arg(&file).output().unwrap();
    assert_exit(&out, 2);
    let err = stderr(&out);
    assert!(
        err.contains("e.yaml") && err.contains("thresholds"),
        "{err}"
    );
    assert!(err.contains("did you mean 'inter_token_latency'"), "{err}");
    assert!(!out_dir.exists());
}

#[test]
fn repeated_trials_are_judged_per_cell_on_their_confidence_bound() {
    let tmp = tempfile::tempdir().unwrap();
    let out_dir = tmp.path().join("out");
    let file = write(
        tmp.path(),
        "e.yaml",
        &format!(
            "benchmark:
  model: m
  endpoint: {{url: 'mock://?ttft_ms=5&itl_ms=1', streaming: true}}
  dataset: {{entries: 4, prompts: {{isl: 16, osl: 4}}}}
  phases: {{type: concurrency, requests: 6, concurrency: 2}}
  artifacts: {{dir: '{}'}}
  thresholds: [time_to_first_token.p50 < 1000 with 95% confidence]
sweep: {{parameters: {{concurrency: [1, 2]}}}}
multiRun: {{numRuns: 2}}
",
            out_dir.display()
        ),
    );
    let out = aiperf()
        .arg("run")
        .arg(&file)
        .args(["--threshold", "request_throughput > 1000000"])
        .output()
        .unwrap();
    assert_exit(&out, 9);
    let file = ThresholdsFile::read(&out_dir.join("thresholds.json")).unwrap();
    let judged: Vec<(&str, &str, bool)> = file
        .results
        .iter()
        .map(|r| (r.scope.as_str(), r.metric.as_str(), r.passed))
        .collect();
    assert_eq!(
        judged,
        [
            ("concurrency_1", "time_to_first_token", true),
            ("concurrency_1", "request_throughput", false),
            ("concurrency_2", "time_to_first_token", true),
            ("concurrency_2", "request_throughput", false),
        ]
    );
    for (r, cell) in file
        .results
        .iter()
        .step_by(2)
        .zip(["concurrency_1", "concurrency_2"])
    {
        assert_eq!(r.trials, 2);
        assert_eq!(
            r.rule,
            "upper bound of the 95% confidence interval of 2 trials"
        );
        // The same bound as the cell aggregate's.
        let aggregate = json(out_dir.join(format!(
            "aggregate/{cell}/profile_export_aiperf_aggregate.json"
        )));
        let ci_high = aggregate["metrics"]["time_to_first_token_p50"]["ci_high"]
            .as_f64()
            .unwrap();
        assert!(
            (r.observed.unwrap() - ci_high).abs() <= 1e-9 * ci_high.abs(),
            "{r:?} vs {ci_high}"
        );
    }
    let mean = &file.results[1];
    assert_eq!(mean.rule, "mean of 2 trials");
}
