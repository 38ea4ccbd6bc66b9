//! Plots end to end: real runs against the mock server write the fixture directories (a single
//! run, a repeated sweep, repeated trials, every recipe, a search), and every PNG drawn from them
//! must decode at full size and not be blank. Auto-plot resolution and failure handling are
//! checked through the binary's exit codes.

mod common;
use common::*;
use std::path::Path;

const FAST: &str = "mock://?ttft_ms=3&itl_ms=1&max_batch=4";

fn experiment(out: &Path, url: &str, requests: u32, extra: &str) -> String {
    format!(
        "benchmark:
  model: m
  endpoint: {{url: '{url}', streaming: true}}
  dataset: {{entries: 8, prompts: {{isl: 16, osl: 8}}}}
  phases: {{type: concurrency, requests: {requests}, concurrency: 2}}
  artifacts: {{dir: '{}'}}
{extra}",
        out.display()
    )
}

fn run(file: &Path, flags: &[&str]) -> std::process::Output {
    aiperf().arg("run").arg(file).args(flags).output().unwrap()
}

fn plot(args: &[&str]) -> std::process::Output {
    aiperf().arg("plot").args(args).output().unwrap()
}

/// Every PNG in `dir` is a real plot; returns their names.
fn check_all(dir: &Path) -> Vec<String> {
    let names = pngs(dir);
    assert!(!names.is_empty(), "no PNG in {}", dir.display());
    for n in &names {
        assert_plot_png(&dir.join(n));
    }
    let summary = std::fs::read_to_string(dir.join("summary.txt")).expect("summary.txt");
    for n in &names {
        assert!(
            summary.contains(n.as_str()),
            "summary.txt does not list {n}:\n{summary}"
        );
    }
    assert!(has_content(&dir.join("aiperf_plot.log")));
    names
}

fn single_run(dir: &Path, extra: &[&str]) -> std::process::Output {
    MockProfile::at(FAST)
        .streaming()
        .concurrency(4)
        .requests(40)
        .tokens(16, 8)
        .args(extra)
        .run(dir)
}

#[test]
fn a_single_run_auto_plots_every_per_request_plot() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    let o = single_run(&dir, &["--auto-plot"]);
    assert_exit(&o, 0);
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("Plots: "),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    let names = check_all(&dir.join("plots"));
    for expected in [
        "ttft_over_time.png",
        "itl_over_time.png",
        "latency_over_time.png",
        "throughput_over_time.png",
        "request_timeline.png",
        "latency_distribution.png",
        "latency_cdf.png",
    ] {
        assert!(
            names.contains(&expected.to_string()),
            "{expected} missing from {names:?}"
        );
    }
    // No timeslices in this run: their plots are skipped, never drawn empty.
    assert!(!names.iter().any(|n| n.starts_with("timeslices_")));
    assert!(!names.contains(&"replay_schedule.png".to_string()));
    let summary = std::fs::read_to_string(dir.join("plots/summary.txt")).unwrap();
    assert!(
        summary.contains("timeslices_ttft: the run has no timeslices"),
        "{summary}"
    );
}

#[test]
fn timeslices_and_the_dark_theme_and_a_config_that_picks_plots() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    // 40 requests at 100/s: 0.4 s, cut into 0.1 s timeslices by aiperf itself.
    let o = single_run(
        &dir,
        &[
            "--request-rate",
            "100",
            "--request-rate-mode",
            "constant",
            "--slice-duration",
            "0.1",
        ],
    );
    assert_exit(&o, 0);
    assert!(!dir.join("plots").exists(), "auto-plot is off by default");
    let csv = std::fs::read_to_string(dir.join("profile_export_aiperf_timeslices.csv")).unwrap();
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some("Timeslice,Start_NS,End_NS,Metric,Unit,Stat,Value")
    );
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    let counted: f64 = rows
        .iter()
        .filter(|r| r[3] == "Request Count")
        .map(|r| r[6].parse::<f64>().unwrap())
        .sum();
    assert_eq!(counted, 40.0, "every request in exactly one slice");
    let slices = json(dir.join("profile_export_aiperf_timeslices.json"));
    let n = slices["num_timeslices"].as_u64().unwrap();
    assert!((4..=5).contains(&n), "{n} slices");
    assert_eq!(slices["timeslices"].as_array().unwrap().len() as u64, n);
    assert!(
        slices["timeslices"][0]["metrics"]["time_to_first_token"]["p99"]
            .as_f64()
            .unwrap()
            > 0.0
    );
    let config = write(
        tmp.path(),
        "plots.yaml",
        "visualization:\n  single_run_defaults: [timeslices_ttft, timeslices_itl, timeslices_throughput, timeslices_latency, osl]\n  single_run_plots:\n    osl: {type: histogram, y: output_sequence_length}\n",
    );
    let out = tmp.path().join("dark");
    let o = plot(&[
        dir.to_str().unwrap(),
        "--theme",
        "dark",
        "--config",
        config.to_str().unwrap(),
        "--output",
        out.to_str().unwrap(),
    ]);
    assert_exit(&o, 0);
    let names = check_all(&out);
    assert_eq!(
        names,
        [
            "osl.png",
            "timeslices_itl.png",
            "timeslices_latency.png",
            "timeslices_throughput.png",
            "timeslices_ttft.png"
        ]
    );
    let bg = assert_plot_png(&out.join("timeslices_ttft.png"));
    assert!(
        bg.iter().all(|c| *c < 60),
        "dark background expected, got {bg:?}"
    );
    // A typo in the config is a configuration error with a suggestion.
    let bad = write(
        tmp.path(),
        "bad.yaml",
        "visualization:\n  single_run_defaults: [latency_cfd]\n",
    );
    let o = plot(&[dir.to_str().unwrap(), "--config", bad.to_str().unwrap()]);
    assert_exit(&o, 2);
    assert!(
        stderr(&o).contains("did you mean 'latency_cdf'"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn a_repeated_sweep_with_a_plot_block_plots_once_at_the_end_and_replots_the_same() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("sweep");
    let file = write(
        tmp.path(),
        "e.yaml",
        &format!(
            "{}  plot:\n    visualization:\n      multi_run_defaults: [pareto_throughput_vs_latency, ttft_vs_throughput, metrics_vs_parameters, latency_vs_c]\n      multi_run_plots:\n        latency_vs_c: {{type: scatter_line, x: {{metric: request_throughput}}, y: {{metric: request_latency, stat: p99}}}}\nmultiRun: {{numRuns: 2}}\nsweep: {{parameters: {{concurrency: [1, 2, 4]}}}}\n",
            experiment(&out, FAST, 12, "")
        ),
    );
    let o = run(&file, &[]);
    assert_exit(&o, 0);
    let plots = out.join("plots");
    let names = check_all(&plots);
    for expected in [
        "pareto_throughput_vs_latency.png",
        "ttft_vs_throughput.png",
        "latency_vs_c.png",
        "request_throughput_avg_vs_concurrency.png",
        "time_to_first_token_p99_vs_concurrency.png",
    ] {
        assert!(
            names.contains(&expected.to_string()),
            "{expected} missing from {names:?}"
        );
    }
    // No per-trial plots: multi-run plots once, against the top directory.
    assert!(
        !out.join("profile_runs/trial_0001/concurrency_1/plots")
            .exists()
    );
    // The plot block is materialised, so a later `aiperf plot` reproduces the same set.
    assert!(has_content(&out.join(".aiperf-plot-config.yaml")));
    std::fs::remove_dir_all(&plots).unwrap();
    assert_exit(&plot(&[out.to_str().unwrap()]), 0);
    assert_eq!(pngs(&plots), names);
}

#[test]
fn repeated_trials_of_one_configuration_plot_each_run_with_the_confidence_interval() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("repeat");
    let file = write(
        tmp.path(),
        "e.yaml",
        &format!(
            "{}multiRun: {{numRuns: 3}}\n",
            experiment(&out, FAST, 10, "")
        ),
    );
    assert_exit(&run(&file, &["--auto-plot"]), 0);
    let names = check_all(&out.join("plots"));
    assert!(
        names.contains(&"request_throughput_avg_by_run.png".to_string()),
        "{names:?}"
    );
    assert!(
        names.contains(&"pareto_throughput_vs_latency.png".to_string()),
        "{names:?}"
    );
}

/// The recipes that plot by default (concurrency-ramp, prefill-ttft-curve, decode-itl-curve) do
/// so with no flag; --no-auto-plot turns them off; the others plot with `aiperf plot`.
#[test]
fn recipe_plots_follow_the_recipe_default_and_draw_their_analyses() {
    let tmp = tempfile::tempdir().unwrap();
    let cases = [
        (
            "ramp",
            "{recipe: concurrency-ramp, knobs: {concurrency: {lo: 1, hi: 8, steps: 4}}}",
            "concurrency_ramp.png",
        ),
        (
            "prefill",
            "{recipe: prefill-ttft-curve, knobs: {isl: {lo: 16, hi: 256, steps: 3}}}",
            "prefill_ttft_curve.png",
        ),
        (
            "surface",
            "{recipe: decode-itl-curve, knobs: {concurrency: {lo: 1, hi: 4, steps: 2}, osl: {lo: 4, hi: 8, steps: 2}}}",
            "decode_itl_surface.png",
        ),
    ];
    for (name, sweep, png) in cases {
        let out = tmp.path().join(name);
        let file = write(
            tmp.path(),
            &format!("{name}.yaml"),
            &format!("{}sweep: {sweep}\n", experiment(&out, FAST, 6, "")),
        );
        assert_exit(&run(&file, &[]), 0);
        let names = check_all(&out.join("plots"));
        assert!(
            names.contains(&png.to_string()),
            "{png} missing from {names:?}"
        );
    }
    let out = tmp.path().join("ramp_off");
    let file = write(
        tmp.path(),
        "off.yaml",
        &format!(
            "{}sweep: {{recipe: concurrency-ramp, knobs: {{concurrency: {{lo: 1, hi: 2, steps: 2}}}}}}\n",
            experiment(&out, FAST, 4, "")
        ),
    );
    assert_exit(&run(&file, &["--no-auto-plot"]), 0);
    assert!(!out.join("plots").exists());

    let out = tmp.path().join("pareto");
    let file = write(
        tmp.path(),
        "pareto.yaml",
        &format!(
            "{}sweep:\n  recipe:\n    name: small-pareto\n    description: two shapes at two loads\n    knobs:\n      - paths: [datasets.main.prompts.isl, datasets.main.prompts.osl]\n        values: [[16, 4], [64, 8]]\n      - {{path: phases.profiling.concurrency, values: [1, 4]}}\n    analysis: {{type: pareto_sweep, x_metric: time_to_first_token, x_stat: p95, y_metric: output_token_throughput, y_stat: avg}}\n    planner: {{type: grid}}\n",
            experiment(&out, FAST, 6, "")
        ),
    );
    assert_exit(&run(&file, &[]), 0);
    assert!(
        !out.join("plots").exists(),
        "pareto-sweep does not plot by default"
    );
    assert_exit(&plot(&[out.to_str().unwrap()]), 0);
    let names = check_all(&out.join("plots"));
    assert!(names.contains(&"pareto_sweep.png".to_string()), "{names:?}");
}

#[test]
fn a_search_plots_its_trajectory() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("search");
    let sweep = "{recipe: max-throughput-ttft-sla, sla: {ttft_p95_ms: 30}, knobs: {concurrency: {lo: 1, hi: 32}}}";
    let file = write(
        tmp.path(),
        "s.yaml",
        &format!(
            "{}sweep: {sweep}\n",
            experiment(&out, "mock://?ttft_ms=3&itl_ms=1&max_batch=4", 8, "")
        ),
    );
    assert_exit(&run(&file, &["--auto-plot"]), 0);
    let names = check_all(&out.join("plots"));
    assert!(
        names.contains(&"search_trajectory.png".to_string()),
        "{names:?}"
    );
    assert!(
        names.contains(&"output_token_throughput_avg_vs_concurrency.png".to_string()),
        "{names:?}"
    );
}

/// A plotting failure (here: a file where the plots directory should be) is a warning that
/// leaves exit code 0 and the results in place; with --plot-required it is exit code 6.
#[test]
fn a_plotting_failure_warns_by_default_and_fails_with_plot_required() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    std::fs::create_dir_all(&dir).unwrap();
    write(&dir, "plots", "not a directory");
    let o = single_run(&dir, &["--auto-plot"]);
    assert_exit(&o, 0);
    assert!(
        stderr(&o).contains("warning: auto-plot failed (run artifacts intact)"),
        "{}",
        stderr(&o)
    );
    assert!(has_content(&dir.join("profile_export_aiperf.json")));
    let o = single_run(&dir, &["--auto-plot", "--plot-required"]);
    assert_exit(&o, 6);
    assert!(
        stderr(&o).contains("error: auto-plot failed"),
        "{}",
        stderr(&o)
    );
    assert!(has_content(&dir.join("profile_export_aiperf.json")));
    // Without auto-plot, --plot-required is a documented no-op.
    let o = single_run(&tmp.path().join("quiet"), &["--plot-required"]);
    assert_exit(&o, 0);
    assert!(
        stderr(&o).contains("--plot-required has no effect"),
        "{}",
        stderr(&o)
    );
    assert!(!tmp.path().join("quiet/plots").exists());
}

#[test]
fn a_log_that_names_the_failure_and_no_empty_pngs() {
    let tmp = tempfile::tempdir().unwrap();
    // Nothing aiperf wrote: an error, and no PNG.
    let empty = tmp.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let o = plot(&[empty.to_str().unwrap()]);
    assert_exit(&o, 6);
    assert!(stderr(&o).contains("no aiperf results"), "{}", stderr(&o));
    assert!(pngs(&empty.join("plots")).is_empty());
    assert!(
        std::fs::read_to_string(empty.join("plots/aiperf_plot.log"))
            .unwrap()
            .contains("no aiperf results")
    );
    assert_exit(&plot(&[tmp.path().join("missing").to_str().unwrap()]), 2);
    // A run whose records have no streaming metrics and a config asking only for those: no data.
    let dir = tmp.path().join("plain");
    assert_exit(
        &MockProfile::at(FAST).concurrency(2).requests(6).run(&dir),
        0,
    );
    let config = write(
        tmp.path(),
        "ttft.yaml",
        "visualization: {single_run_defaults: [ttft_over_time, itl_over_time]}\n",
    );
    let o = plot(&[dir.to_str().unwrap(), "--config", config.to_str().unwrap()]);
    assert_exit(&o, 6);
    assert!(stderr(&o).contains("no data to plot"), "{}", stderr(&o));
    assert!(pngs(&dir.join("plots")).is_empty());
}

#[test]
fn an_invalid_plot_block_stops_the_experiment_before_it_starts() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("never");
    let file = write(
        tmp.path(),
        "e.yaml",
        &format!(
            "{}  plot: missing-plot-config.yaml\n",
            experiment(&out, FAST, 4, "")
        ),
    );
    let o = run(&file, &[]);
    assert_exit(&o, 2);
    assert!(
        stderr(&o).contains("missing-plot-config.yaml"),
        "{}",
        stderr(&o)
    );
    assert!(!out.exists(), "nothing may run");
    let file = write(
        tmp.path(),
        "typo.yaml",
        &format!(
            "{}  plot: {{visualisation: {{}}}}\n",
            experiment(&out, FAST, 4, "")
        ),
    );
    let o = run(&file, &[]);
    assert_exit(&o, 2);
    assert!(stderr(&o).contains("visualisation"), "{}", stderr(&o));
}

/// Several directories given: multi-run mode, one series per directory.
#[test]
fn several_directories_are_compared_as_series() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("server-a"), tmp.path().join("server-b"));
    assert_exit(&single_run(&a, &[]), 0);
    assert_exit(&single_run(&b, &["--osl-stddev", "2"]), 0);
    let out = tmp.path().join("cmp");
    let o = plot(&[
        a.to_str().unwrap(),
        b.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_exit(&o, 0);
    let names = check_all(&out);
    assert!(
        names.contains(&"pareto_throughput_vs_latency.png".to_string()),
        "{names:?}"
    );
    let summary = std::fs::read_to_string(out.join("summary.txt")).unwrap();
    assert!(summary.contains("multi run"), "{summary}");
    let log = std::fs::read_to_string(out.join("aiperf_plot.log")).unwrap();
    assert!(
        log.contains("server-a") && log.contains("server-b"),
        "{log}"
    );
}
