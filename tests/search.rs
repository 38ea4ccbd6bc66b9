//! SLA-boundary searches against the mock server's capacity model, whose boundaries follow from
//! its parameters.

mod common;
use common::*;
use std::path::Path;

fn write(dir: &Path, url: &str, sweep: &str, extra: &str) -> std::path::PathBuf {
    let file = dir.join("search.yaml");
    std::fs::write(
        &file,
        format!(
            "benchmark:
  model: m
  endpoint: {{url: '{url}', streaming: true}}
  dataset: {{entries: 16, prompts: {{isl: 16, osl: 20}}}}
  phases: {{type: concurrency, requests: 48, concurrency: 1}}
  artifacts: {{dir: '{}'}}
sweep: {sweep}
{extra}",
            dir.join("out").display()
        ),
    )
    .unwrap();
    file
}

fn iterations(out: &Path) -> Vec<serde_json::Value> {
    json(out.join("search_history.json"))["iterations"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// 12 batch slots: up to concurrency 12 nobody queues (TTFT ~10 ms); from 13 on, some requests
/// wait a whole generation (~100 ms). With TTFT p95 < 50 ms the boundary is exactly 12.
#[test]
fn ttft_sla_boundary_is_found_exactly_within_the_trial_budget() {
    let tmp = tempfile::tempdir().unwrap();
    let file = write(
        tmp.path(),
        "mock://?ttft_ms=5&itl_ms=5&max_batch=12",
        "{recipe: max-throughput-ttft-sla, sla: {ttft_p95_ms: 50}}",
        "",
    );
    let out = aiperf().arg("run").arg(&file).output().unwrap();
    assert_exit(&out, 0);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("Answer: max output_token_throughput avg with time_to_first_token p95 < 50: concurrency 12 ->"), "{stdout}");
    assert!(stdout.contains("(boundary between 12 and 13)"), "{stdout}");
    let dir = tmp.path().join("out");
    let history = json(dir.join("search_history.json"));
    assert_eq!(history["recipe"], "max-throughput-ttft-sla");
    assert_eq!(history["convergence_reason"], "precision_reached");
    assert_eq!(history["boundary_summary"]["feasible_max"]["value"], 12.0);
    assert_eq!(history["boundary_summary"]["infeasible_min"]["value"], 13.0);
    assert_eq!(
        history["best_trials"][0]["variation_values"]["phases.profiling.concurrency"],
        12
    );
    let trials: usize = iterations(&dir)
        .iter()
        .map(|i| i["runs"].as_array().unwrap().len())
        .sum();
    assert!(trials <= 12, "{trials} trials");
    assert!(
        dir.join("search_iter_0001/profile_runs/run_0001/profile_export_aiperf.json")
            .exists()
    );
    let sweep = json(dir.join("sweep_aggregate/profile_export_aiperf_sweep.json"));
    assert_eq!(
        sweep["per_combination_metrics"].as_array().unwrap().len(),
        iterations(&dir).len()
    );
}

/// Each extra sequence in a step adds 8 ms: ITL = 2 + 8 (c - 1) ms while c <= 64 slots. With
/// ITL p95 < 30 ms the boundary is 4 (26 ms; 5 gives 34 ms). The 4 ms margins absorb the timing
/// noise of a machine whose cores are all busy (the mock's steps then run late).
#[test]
fn itl_sla_boundary_follows_the_decode_step_model() {
    let tmp = tempfile::tempdir().unwrap();
    let url = "mock://?ttft_ms=2&itl_ms=2&max_batch=64&decode_ms_per_seq=8";
    let file = write(
        tmp.path(),
        url,
        "{recipe: max-throughput-itl-sla, sla: {itl_p95_ms: 30}, knobs: {concurrency: {hi: 64}}}",
        "",
    );
    let text = std::fs::read_to_string(&file)
        .unwrap()
        .replace("requests: 48", "requests: 16");
    std::fs::write(&file, text).unwrap();
    let out = aiperf().arg("run").arg(&file).output().unwrap();
    assert_exit(&out, 0);
    let history = json(tmp.path().join("out/search_history.json"));
    let boundary = history["boundary_summary"]["feasible_max"]["value"]
        .as_f64()
        .unwrap();
    assert!(
        (boundary - 4.0).abs() <= 4.0 * 0.05,
        "boundary {boundary}: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    let trials: usize = iterations(&tmp.path().join("out"))
        .iter()
        .map(|i| i["runs"].as_array().unwrap().len())
        .sum();
    assert!(trials <= 12, "{trials} trials");
}

/// Killed mid-search, resumed: the measured points are replayed, not re-run, and the search ends
/// with the same boundary.
#[test]
fn a_killed_search_resumes_where_it_stopped() {
    let tmp = tempfile::tempdir().unwrap();
    let file = write(
        tmp.path(),
        "mock://?ttft_ms=5&itl_ms=5&max_batch=12",
        "{recipe: max-throughput-ttft-sla, sla: {ttft_p95_ms: 50}}",
        "",
    );
    let dir = tmp.path().join("out");
    kill_after_points(&file, &dir, 3);
    let before = iterations(&dir).len();
    assert!(before >= 3);
    let first = std::fs::read(
        dir.join("search_iter_0001/profile_runs/run_0001/profile_export_aiperf.json"),
    )
    .unwrap();
    let out = resume(&file, &dir);
    assert_exit(&out, 0);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("concurrency=1: already measured (pass)")
    );
    assert_eq!(
        std::fs::read(
            dir.join("search_iter_0001/profile_runs/run_0001/profile_export_aiperf.json")
        )
        .unwrap(),
        first
    );
    let history = json(dir.join("search_history.json"));
    assert_eq!(history["boundary_summary"]["feasible_max"]["value"], 12.0);
    assert!(iterations(&dir).len() > before);
}

#[test]
fn impossible_slas_and_missing_sla_values_are_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let file = write(
        tmp.path(),
        "mock://?ttft_ms=5&itl_ms=1",
        "{recipe: max-throughput-ttft-sla, sla: {ttft_p95_ms: 1}}",
        "",
    );
    let out = aiperf().arg("run").arg(&file).output().unwrap();
    assert_exit(&out, 0);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("Answer: no concurrency from 1 meets time_to_first_token p95 < 1"),
        "{stdout}"
    );

    assert_invalid(
        tmp.path(),
        &[
            ("{recipe: max-throughput-ttft-sla}", "needs sla.ttft_p95_ms"),
            (
                "{recipe: max-concurrency-under-sla}",
                "needs at least one SLA value",
            ),
            (
                "{recipe: max-throughput-ttft-sla, sla: {ttft_p95_ms: 50}, knobs: {rate: {hi: 5}}}",
                "has no knob 'rate'",
            ),
        ],
    );
}

#[test]
fn inline_recipes_and_profile_sla_flags_run_the_same_search() {
    let tmp = tempfile::tempdir().unwrap();
    let inline = "
  type: adaptive_search
  recipe:
    name: my-ttft-search
    description: TTFT boundary over concurrency
    knobs: [{path: concurrency, lo: 1, hi: 64}]
    constraints: [{metric: time_to_first_token, stat: p95, op: lt, threshold: 50}]
    planner: {type: boundary}";
    let file = write(
        tmp.path(),
        "mock://?ttft_ms=5&itl_ms=5&max_batch=12",
        inline,
        "",
    );
    let out = aiperf().arg("run").arg(&file).output().unwrap();
    assert_exit(&out, 0);
    let history = json(tmp.path().join("out/search_history.json"));
    assert_eq!(history["recipe"], "my-ttft-search");
    assert_eq!(history["boundary_summary"]["feasible_max"]["value"], 12.0);

    let dir = tmp.path().join("flags");
    let out = ttft_search_profile(&dir, &[]);
    assert_exit(&out, 0);
    assert_eq!(
        json(dir.join("search_history.json"))["boundary_summary"]["feasible_max"]["value"],
        12.0
    );
}

/// Goodput with per-request SLOs (TTFT 50 ms): up to the 12 slots every request is good; at 13 a
/// request in 13 waits a whole generation, so fewer than 97% are good. Goodput is highest at 12,
/// which Bayesian optimisation finds within its 12-point budget.
#[test]
fn goodput_recipe_finds_the_slot_count_by_bayesian_optimisation() {
    let tmp = tempfile::tempdir().unwrap();
    let file = write(
        tmp.path(),
        "mock://?ttft_ms=5&itl_ms=5&max_batch=12",
        "{recipe: max-goodput-under-slo, sla: {ttft_ms: 50, itl_ms: 40, e2e_ms: 1000, slo_attainment_fraction: 0.97},
  knobs: {concurrency: {lo: 1, hi: 64}}, max_iterations: 12}",
        "",
    );
    let out = aiperf().arg("run").arg(&file).output().unwrap();
    assert_exit(&out, 0);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(
            "Answer: max goodput avg with good_request_fraction avg >= 0.97: concurrency=12 ->"
        ),
        "{stdout}"
    );
    let dir = tmp.path().join("out");
    let history = json(dir.join("search_history.json"));
    assert_eq!(history["recipe"], "max-goodput-under-slo");
    assert_eq!(history["config"]["planner"]["type"], "bayesian");
    assert_eq!(history["config"]["slos"]["time_to_first_token"], 50.0);
    let best = &history["best_trials"][0];
    assert_eq!(best["variation_values"]["phases.profiling.concurrency"], 12);
    assert_eq!(best["feasible"], true);
    let iterations = iterations(&dir);
    assert!(iterations.len() <= 12, "{} points", iterations.len());
    // The first five points are the space-filling design, evenly spread in log concurrency.
    let design: Vec<i64> = iterations[..5]
        .iter()
        .map(|i| {
            i["variation_values"]["phases.profiling.concurrency"]
                .as_i64()
                .unwrap()
        })
        .collect();
    assert_eq!(design, [2, 3, 8, 18, 42]);
    // Every trial measured goodput against the recipe's SLOs.
    let run = json(dir.join("search_iter_0001/profile_runs/run_0001/profile_export_aiperf.json"));
    assert_eq!(run["input_config"]["slos"]["request_latency"], 1000.0);
    assert!(run["goodput"]["avg"].as_f64().unwrap() > 0.0);
}

/// The same TTFT question answered by each planner: `bayesian` and the boundary find 12; a grid
/// of 8 log steps over [1, 64] can only bracket it (11 passes, 20 fails) in `sla_breach.json`.
#[test]
fn search_style_swaps_the_planner_of_a_recipe() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("bo");
    let out = ttft_search_profile(
        &dir,
        &["--search-style", "bo", "--search-max-iterations", "12"],
    );
    assert_exit(&out, 0);
    let history = json(dir.join("search_history.json"));
    assert_eq!(history["config"]["planner"]["type"], "bayesian");
    assert_eq!(history["config"]["planner"]["max_iterations"], 12);
    assert_eq!(
        history["best_trials"][0]["variation_values"]["phases.profiling.concurrency"],
        12
    );

    let file = write(
        tmp.path(),
        "mock://?ttft_ms=5&itl_ms=5&max_batch=12",
        "{recipe: max-throughput-ttft-sla, sla: {ttft_p95_ms: 50}, knobs: {concurrency: {hi: 64}}, search_style: grid}",
        "",
    );
    let out = aiperf().arg("run").arg(&file).output().unwrap();
    assert_exit(&out, 0);
    let breach = json(tmp.path().join("out/sweep_aggregate/sla_breach.json"));
    let typed: aiperf::artifacts::analyses::SlaBreach =
        round_trip(&tmp.path().join("out/sweep_aggregate/sla_breach.json"));
    assert_eq!(
        (typed.max_passing(), typed.first_failing()),
        (Some(11.0), Some(20.0))
    );
    assert_eq!(breach["recipe"], "max-throughput-ttft-sla");
    assert_eq!(breach["max_passing_concurrency"], 11);
    assert_eq!(breach["first_failing_concurrency"], 20);
    assert_eq!(
        breach["first_failing_breach"]["metric"],
        "time_to_first_token"
    );
    assert_eq!(breach["monotonicity_check"]["monotone"], true);
    assert_eq!(breach["all_points"].as_array().unwrap().len(), 8);

    assert_invalid(
        tmp.path(),
        &[
            (
                "{recipe: max-throughput-ttft-sla, sla: {ttft_p95_ms: 50}, search_style: grid, initial_points: 3}",
                "apply to adaptive searches",
            ),
            (
                "{recipe: max-throughput-ttft-sla, sla: {ttft_p95_ms: 50}, initial_points: 3}",
                "applies to the bayesian planner",
            ),
            (
                "{recipe: max-goodput-under-slo, sla: {ttft_ms: 50, itl_ms: 40, e2e_ms: 1000}, initial_points: 12, max_iterations: 12}",
                "initial_points must be at least 1 and below max_iterations",
            ),
            (
                "{recipe: max-goodput-under-slo, sla: {ttft_ms: 50, itl_ms: 40}}",
                "needs sla.e2e_ms",
            ),
        ],
    );
}

/// A Bayesian search killed mid-way resumes from its history: measured points are told to the
/// surrogate again, not re-run.
#[test]
fn a_killed_bayesian_search_resumes() {
    let tmp = tempfile::tempdir().unwrap();
    let file = write(
        tmp.path(),
        "mock://?ttft_ms=5&itl_ms=5&max_batch=12",
        "{recipe: max-throughput-ttft-sla, sla: {ttft_p95_ms: 50}, knobs: {concurrency: {hi: 64}}, search_style: bayesian, max_iterations: 12}",
        "",
    );
    let dir = tmp.path().join("out");
    kill_after_points(&file, &dir, 6);
    let before = iterations(&dir).len();
    let out = resume(&file, &dir);
    assert_exit(&out, 0);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("concurrency=2: already measured (pass)"),
        "{stderr}"
    );
    assert!(!stderr.contains("concurrency=2 run 1"), "{stderr}");
    let history = json(dir.join("search_history.json"));
    assert!(iterations(&dir).len() >= before);
    assert_eq!(
        history["best_trials"][0]["variation_values"]["phases.profiling.concurrency"],
        12
    );
}

/// `aiperf profile` searching max-throughput-ttft-sla (TTFT p95 < 50 ms, concurrency up to 64)
/// on a mock with 12 slots, plus `extra` flags.
fn ttft_search_profile(dir: &Path, extra: &[&str]) -> std::process::Output {
    ttft_search_profile_on(12, dir, extra)
}

/// [`ttft_search_profile`] on a mock with `slots` batch slots.
fn ttft_search_profile_on(slots: u32, dir: &Path, extra: &[&str]) -> std::process::Output {
    MockProfile::at(&format!("mock://?ttft_ms=5&itl_ms=5&max_batch={slots}"))
        .streaming()
        .requests(48)
        .tokens(16, 20)
        .arg("--search-recipe", "max-throughput-ttft-sla")
        .arg("--ttft-sla-ms", 50)
        .arg("--concurrency-max", 64)
        .args(extra)
        .run(dir)
}

/// `aiperf run FILE --resume DIR` to the end.
fn resume(file: &Path, dir: &Path) -> std::process::Output {
    aiperf()
        .arg("run")
        .arg(file)
        .arg("--resume")
        .arg(dir)
        .output()
        .unwrap()
}

/// Starts a search and kills it once `points` points are in its history.
fn kill_after_points(file: &Path, dir: &Path, points: usize) {
    let mut child = aiperf()
        .arg("run")
        .arg(file)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let reached = wait_until(60, || iterations_on_disk(dir) >= points);
    assert!(
        reached,
        "the search measured fewer than {points} points in 60 s"
    );
    child.kill().unwrap();
    child.wait().unwrap();
}

/// Validates each sweep and expects exit 2 with the message.
fn assert_invalid(dir: &Path, cases: &[(&str, &str)]) {
    for (sweep, expected) in cases {
        let file = write(dir, "mock://", sweep, "");
        let out = aiperf().arg("validate").arg(&file).output().unwrap();
        assert_exit(&out, 2);
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(expected),
            "{sweep}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

fn iterations_on_disk(dir: &Path) -> usize {
    std::fs::read_to_string(dir.join("search_history.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .and_then(|h| h["iterations"].as_array().map(Vec::len))
        .unwrap_or(0)
}

/// Every SLA given must hold: request latency p99 < 150 ms breaks at 13 (a request in 13 waits a
/// whole ~105 ms generation), while the error-rate SLA holds everywhere (the mock makes none).
#[test]
fn max_concurrency_under_sla_binds_on_the_tightest_sla() {
    let tmp = tempfile::tempdir().unwrap();
    let file = write(
        tmp.path(),
        "mock://?ttft_ms=5&itl_ms=5&max_batch=12",
        "{recipe: max-concurrency-under-sla, sla: {e2e_p99_ms: 150, error_rate_pct: 1}, knobs: {concurrency: {hi: 64}}}",
        "",
    );
    let out = aiperf().arg("run").arg(&file).output().unwrap();
    assert_exit(&out, 0);
    let history = json(tmp.path().join("out/search_history.json"));
    assert_eq!(
        history["boundary_summary"]["feasible_max"]["value"],
        12.0,
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(history["boundary_summary"]["infeasible_min"]["value"], 13.0);
    assert_eq!(
        history["boundary_summary"]["infeasible_min"]["first_breach"]["metric"],
        "request_latency"
    );
    assert_eq!(
        history["config"]["sla_filters"].as_array().unwrap().len(),
        2
    );
    let trials: usize = iterations(&tmp.path().join("out"))
        .iter()
        .map(|i| i["runs"].as_array().unwrap().len())
        .sum();
    assert!(trials <= 12, "{trials} trials");
}

/// Two searches compared: 12 slots against 8, so the SLA boundary moves from 12 to 8 and
/// `aiperf compare` calls the lower answer a regression.
#[test]
fn compare_says_when_a_searchs_answer_moved() {
    let tmp = tempfile::tempdir().unwrap();
    let search = |name: &str, slots: u32| {
        let dir = tmp.path().join(name);
        let out = ttft_search_profile_on(slots, &dir, &[]);
        assert_exit(&out, 0);
        dir
    };
    let (base, fewer) = (search("base", 12), search("fewer", 8));
    let out = aiperf()
        .arg("compare")
        .arg(&base)
        .arg(&fewer)
        .output()
        .unwrap();
    assert_exit(&out, 10);
    let file =
        aiperf::artifacts::compare_file::CompareFile::read(&fewer.join("compare.json")).unwrap();
    let boundary = &file.comparisons[0];
    assert_eq!(boundary.metric, "phases.profiling.concurrency");
    assert_eq!(
        (boundary.baseline, boundary.candidate),
        (Some(12.0), Some(8.0))
    );
    assert_eq!(
        boundary.verdict,
        aiperf::artifacts::compare_file::Verdict::Regression
    );
    assert_eq!(file.comparisons[1].metric, "output_token_throughput");
}
