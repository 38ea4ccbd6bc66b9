//! `aiperf compare` end to end: real runs against the embedded mock server, compared as a CI
//! job would, with every output format and the refusals.

mod common;
use aiperf::artifacts::compare_file::{CompareFile, Verdict};
use common::*;
use std::path::Path;
use std::process::Output;

fn mock_run(dir: &Path, ttft_ms: u32, seed: u32) {
    let out = MockProfile::new(&format!("ttft_ms={ttft_ms}&itl_ms=5&seed={seed}"))
        .streaming()
        .requests(240)
        .concurrency(4)
        .tokens(16, 4)
        .run(dir);
    assert_exit(&out, 0);
}

fn compare(baseline: &Path, candidate: &Path, extra: &[&str]) -> Output {
    aiperf()
        .arg("compare")
        .arg(baseline)
        .arg(candidate)
        .args(extra)
        .output()
        .unwrap()
}

fn verdict_of<'a>(
    file: &'a CompareFile,
    metric: &str,
) -> &'a aiperf::artifacts::compare_file::MetricComparison {
    file.comparisons
        .iter()
        .find(|c| c.metric == metric)
        .unwrap_or_else(|| panic!("no {metric} in {:?}", file.comparisons))
}

#[test]
fn single_runs_pass_the_same_settings_and_flag_a_slower_candidate() {
    let tmp = tempfile::tempdir().unwrap();
    let (base, same, slow) = (
        tmp.path().join("base"),
        tmp.path().join("same"),
        tmp.path().join("slow"),
    );
    mock_run(&base, 20, 1);
    mock_run(&same, 20, 2);
    mock_run(&slow, 40, 3);

    // Two runs on a shared machine also differ by its load, which a single-run comparison
    // cannot see (docs/compare.md): a client-bound run on a loaded CI machine came out 15%
    // slower at p99, and a 1 ms ITL's p99 doubled under a parallel build, hence 5 ms ITLs. A
    // 100% margin keeps this end-to-end check about the pipeline, and the slow candidates below
    // are twice as slow. The A/A false-positive rate is tested on seeded samples (gate::compare).
    let out = compare(&base, &same, &["--max-regression", "100%"]);
    assert_exit(&out, 0);
    let file: CompareFile = round_trip(&same.join("compare.json"));
    assert!(!file.regression);
    assert_eq!(file.comparisons.len(), 5, "the default metrics");
    let ttft = verdict_of(&file, "time_to_first_token");
    assert_ne!(ttft.verdict, Verdict::Regression);
    assert!(
        ttft.method
            .starts_with("block bootstrap over requests (240 vs 240"),
        "{}",
        ttft.method
    );

    let junit = tmp.path().join("junit.xml");
    let plots = tmp.path().join("plots");
    let out = compare(
        &base,
        &slow,
        &[
            "--format",
            "markdown",
            "--junit",
            junit.to_str().unwrap(),
            "--metric",
            "time_to_first_token.p50",
            "--metric",
            "request_latency.max",
            "--plot",
            plots.to_str().unwrap(),
        ],
    );
    assert_exit(&out, 10);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.starts_with("### aiperf compare: ❌ regression"),
        "{stdout}"
    );
    assert!(
        stdout.contains("| `time_to_first_token.p50 (ms)` |"),
        "{stdout}"
    );
    assert!(stderr(&out).contains("1 regression(s)"), "{}", stderr(&out));
    let file = CompareFile::read(&slow.join("compare.json")).unwrap();
    let ttft = verdict_of(&file, "time_to_first_token");
    assert_eq!(ttft.verdict, Verdict::Regression);
    assert!(
        ttft.change_pct.unwrap() > 20.0 && ttft.ci_low.unwrap() > 0.0,
        "{ttft:?}"
    );
    assert_eq!(
        verdict_of(&file, "request_latency").verdict,
        Verdict::NotTested
    );

    // One CDF per compared per-request metric.
    assert_eq!(
        pngs(&plots),
        [
            "compare_request_latency_cdf.png",
            "compare_time_to_first_token_cdf.png"
        ]
    );
    assert_plot_png(&plots.join("compare_time_to_first_token_cdf.png"));

    // The JUnit report parses, with one case per metric: the regression fails, max is skipped.
    let xml = std::fs::read_to_string(&junit).unwrap();
    let report = quick_junit::Report::deserialize_from_str(&xml).unwrap();
    assert_eq!((report.tests, report.failures), (2, 1));
    let cases = &report.test_suites[0].test_cases;
    assert_eq!(cases[0].name.as_str(), "time_to_first_token.p50");
    assert!(matches!(
        cases[0].status,
        quick_junit::TestCaseStatus::NonSuccess { .. }
    ));
    assert!(matches!(
        cases[1].status,
        quick_junit::TestCaseStatus::Skipped { .. }
    ));
}

#[test]
fn different_settings_are_refused_unless_allowed() {
    let tmp = tempfile::tempdir().unwrap();
    let (base, other) = (tmp.path().join("base"), tmp.path().join("other"));
    mock_run(&base, 5, 1);
    let out = MockProfile::new("ttft_ms=5&itl_ms=1")
        .streaming()
        .requests(40)
        .concurrency(8)
        .tokens(32, 4)
        .run(&other);
    assert_exit(&out, 0);
    let out = compare(&base, &other, &[]);
    assert_exit(&out, 2);
    let err = stderr(&out);
    assert!(err.contains("--allow-different"), "{err}");
    assert!(
        err.contains("load: concurrency, concurrency 4 vs concurrency, concurrency 8"),
        "{err}"
    );
    assert!(err.contains("input and output lengths"), "{err}");
    assert!(
        !other.join("compare.json").exists(),
        "nothing is written for a refusal"
    );
    let out = compare(
        &base,
        &other,
        &["--allow-different", "--metric", "request_error_rate"],
    );
    assert_exit(&out, 0);
    let file = CompareFile::read(&other.join("compare.json")).unwrap();
    assert_eq!(file.settings_differences.len(), 2);
}

#[test]
fn unusable_inputs_are_configuration_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let base = tmp.path().join("base");
    mock_run(&base, 5, 1);
    let out = compare(&base, tmp.path(), &[]);
    assert_exit(&out, 2);
    assert!(
        stderr(&out).contains("not a result directory"),
        "{}",
        stderr(&out)
    );
    let broken = tmp.path().join("broken");
    std::fs::create_dir(&broken).unwrap();
    for name in ["profile_export_aiperf.json", "profile_export.jsonl"] {
        std::fs::copy(base.join(name), broken.join(name)).unwrap();
    }
    let mut lines = std::fs::read_to_string(broken.join("profile_export.jsonl")).unwrap();
    lines.push_str("{\"metadata\": tor\n");
    std::fs::write(broken.join("profile_export.jsonl"), lines).unwrap();
    let out = compare(&base, &broken, &[]);
    assert_exit(&out, 2);
    assert!(
        stderr(&out).contains("profile_export.jsonl:241: not a record line"),
        "{}",
        stderr(&out)
    );
    for bad in [
        ["--metric", "time_to_frist_token.p99"],
        ["--max-regression", "lots"],
        ["--confidence-level", "1.5"],
    ] {
        let out = compare(&base, &base, &bad);
        assert_exit(&out, 2);
    }
}

#[test]
fn repeated_trials_are_compared_cell_by_cell_with_welch() {
    let tmp = tempfile::tempdir().unwrap();
    let experiment = |name: &str, ttft: u32| {
        let dir = tmp.path().join(name);
        let file = write(
            tmp.path(),
            &format!("{name}.yaml"),
            &format!(
                "benchmark:
  model: m
  endpoint: {{url: 'mock://?ttft_ms={ttft}&itl_ms=1', streaming: true}}
  dataset: {{entries: 4, prompts: {{isl: 16, osl: 4}}}}
  phases: {{type: concurrency, requests: 30, concurrency: 2}}
  artifacts: {{dir: '{}'}}
sweep: {{parameters: {{concurrency: [1, 2]}}}}
multiRun: {{numRuns: 3}}
",
                dir.display()
            ),
        );
        let out = aiperf().arg("run").arg(&file).output().unwrap();
        assert_exit(&out, 0);
        dir
    };
    let base = experiment("base", 10);
    let slow = experiment("slow", 20);
    let plots = tmp.path().join("plots");
    let out = compare(
        &base,
        &slow,
        &[
            "--metric",
            "time_to_first_token.p50",
            "--plot",
            plots.to_str().unwrap(),
        ],
    );
    assert_exit(&out, 10);
    assert_eq!(pngs(&plots), ["compare_time_to_first_token_p50_deltas.png"]);
    assert_plot_png(&plots.join("compare_time_to_first_token_p50_deltas.png"));
    let file = CompareFile::read(&slow.join("compare.json")).unwrap();
    let cells: Vec<(&str, Verdict)> = file
        .comparisons
        .iter()
        .map(|c| (c.scope.as_str(), c.verdict))
        .collect();
    assert_eq!(
        cells,
        [
            ("concurrency_1", Verdict::Regression),
            ("concurrency_2", Verdict::Regression)
        ]
    );
    assert!(
        file.comparisons[0]
            .method
            .starts_with("Welch's t over trials (3 vs 3)")
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("concurrency_2"), "{stdout}");
}

#[test]
fn a_run_compares_itself_with_a_baseline_in_one_step() {
    let tmp = tempfile::tempdir().unwrap();
    let base = tmp.path().join("base");
    mock_run(&base, 20, 1);
    // aiperf profile --baseline: a slower run exits 10 with compare.json in its directory.
    let slow = tmp.path().join("slow");
    let out = MockProfile::new("ttft_ms=40&itl_ms=5&seed=4")
        .streaming()
        .requests(240)
        .concurrency(4)
        .tokens(16, 4)
        .args(&[
            "--baseline",
            base.to_str().unwrap(),
            "--compare-metric",
            "time_to_first_token.p50",
        ])
        .run(&slow);
    assert_exit(&out, 10);
    assert!(String::from_utf8_lossy(&out.stdout).contains("comparison with the baseline"));
    let file = CompareFile::read(&slow.join("compare.json")).unwrap();
    assert!(file.regression);
    assert_eq!(file.comparisons.len(), 1);
    // The same settings pass, with the margin from the flag.
    let same = tmp.path().join("same");
    let out = MockProfile::new("ttft_ms=20&itl_ms=5&seed=5")
        .streaming()
        .requests(240)
        .concurrency(4)
        .tokens(16, 4)
        .args(&[
            "--baseline",
            base.to_str().unwrap(),
            "--max-regression",
            "100%",
        ])
        .run(&same);
    assert_exit(&out, 0);
    let file = CompareFile::read(&same.join("compare.json")).unwrap();
    assert!(
        file.comparisons
            .iter()
            .all(|c| c.max_regression_pct == 100.0)
    );
    // A baseline that is not a result is a configuration error before anything runs.
    let never = tmp.path().join("never");
    let out = MockProfile::new("")
        .args(&["--baseline", tmp.path().to_str().unwrap()])
        .run(&never);
    assert_exit(&out, 2);
    assert!(stderr(&out).contains("the baseline"), "{}", stderr(&out));
    assert!(!never.exists());

    // aiperf run with a `compare:` block in the experiment.
    let dir = tmp.path().join("exp");
    let file = write(
        tmp.path(),
        "e.yaml",
        &format!(
            "benchmark:
  model: mock-model
  endpoint: {{url: 'mock://?ttft_ms=40&itl_ms=1', streaming: true}}
  dataset: {{entries: 4, prompts: {{isl: 16, osl: 4}}}}
  phases: {{type: concurrency, requests: 240, concurrency: 4}}
  artifacts: {{dir: '{}'}}
compare: {{baseline: '{}', metrics: [time_to_first_token.p50], max_regression: 5%}}
",
            dir.display(),
            base.display()
        ),
    );
    let out = aiperf().arg("run").arg(&file).output().unwrap();
    assert_exit(&out, 10);
    let compared = CompareFile::read(&dir.join("compare.json")).unwrap();
    assert_eq!(compared.comparisons[0].verdict, Verdict::Regression);
}
