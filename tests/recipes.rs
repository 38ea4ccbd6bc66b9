//! Grid-planned recipes end to end against the mock server's capacity model, whose answers can be
//! computed from its parameters.

mod common;
use aiperf::artifacts::analyses::{DecodeItlSurface, DegradationKnee, ParetoSweep, PrefillCurve};
use common::*;
use std::path::Path;

fn experiment(dir: &Path, url: &str, benchmark_extra: &str, sweep: &str) -> String {
    format!(
        "benchmark:
  model: m
  endpoint: {{url: '{url}', streaming: true}}
  dataset: {{entries: 8, prompts: {{isl: 16, osl: 20}}}}
  phases: {{type: concurrency, requests: 32, concurrency: 1}}
  artifacts: {{dir: '{}'}}
{benchmark_extra}sweep: {sweep}
",
        dir.display()
    )
}

fn run_file(tmp: &Path, content: &str) -> std::process::Output {
    let file = tmp.join("e.yaml");
    std::fs::write(&file, content).unwrap();
    aiperf().arg("run").arg(&file).output().unwrap()
}

/// 4 batch slots: up to concurrency 4 every request is admitted at once; at 8 half of them wait a
/// whole generation, so p99 latency roughly doubles. The knee is 8. Delays of 10 ms keep a
/// scheduling hiccup on a busy machine (a few ms at the baseline's p99) well inside the 20% margin.
#[test]
fn concurrency_ramp_finds_the_knee_of_the_capacity_model() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("ramp");
    let sweep = "{recipe: concurrency-ramp, knobs: {concurrency: {lo: 1, hi: 32, steps: 6}}}";
    let o = run_file(
        tmp.path(),
        &experiment(&out, "mock://?ttft_ms=10&itl_ms=10&max_batch=4", "", sweep),
    );
    assert_exit(&o, 0);
    let knee = json(out.join("sweep_aggregate/degradation_knee.json"));
    let typed: DegradationKnee = round_trip(&out.join("sweep_aggregate/degradation_knee.json"));
    assert_eq!(typed.knee(), Some(8.0));
    assert_eq!(typed.points().len(), 6);
    assert_eq!(knee["baseline_concurrency"], 1);
    assert_eq!(knee["knee_concurrency"], 8, "{knee}");
    assert_eq!(knee["recipe"], "concurrency-ramp");
    assert_eq!(knee["all_points"].as_array().unwrap().len(), 6);
}

/// TTFT = 10 ms + 0.05 ms per prompt token on the mock: the fit recovers both.
#[test]
fn prefill_curve_fit_recovers_the_models_coefficients() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("prefill");
    let sweep = "{recipe: prefill-ttft-curve, knobs: {isl: {lo: 64, hi: 1024, steps: 5}}}";
    let url = "mock://?ttft_ms=10&itl_ms=1&prefill_ms_per_token=0.05";
    let o = run_file(
        tmp.path(),
        &experiment(&out, url, "", sweep).replace("requests: 32", "requests: 6"),
    );
    assert_exit(&o, 0);
    let fit = json(out.join("sweep_aggregate/prefill_curve.json"));
    let typed: PrefillCurve = round_trip(&out.join("sweep_aggregate/prefill_curve.json"));
    assert_eq!(typed.fit_form(), Some("linear"));
    assert_eq!(typed.points().len(), 5);
    assert_eq!(typed.coefficients().len(), 2);
    assert_eq!(fit["fit_form"], "linear", "{fit}");
    let (a, b) = (
        fit["coefficients"][0].as_f64().unwrap(),
        fit["coefficients"][1].as_f64().unwrap(),
    );
    assert!((a - 0.05).abs() < 0.005, "slope {a}");
    assert!((10.0..13.0).contains(&b), "intercept {b}");
    assert!(fit["r_squared"].as_f64().unwrap() > 0.99);
    assert_eq!(fit["raw_points"].as_array().unwrap().len(), 5);
}

#[test]
fn decode_surface_and_pareto_sweep_write_their_analyses() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("surface");
    let sweep = "{recipe: decode-itl-curve, knobs: {concurrency: {lo: 1, hi: 8, steps: 2}, osl: {lo: 8, hi: 16, steps: 2}}}";
    let url = "mock://?ttft_ms=2&itl_ms=2&max_batch=16&decode_ms_per_seq=0.5";
    assert_exit(
        &run_file(
            tmp.path(),
            &experiment(&out, url, "", sweep).replace("requests: 32", "requests: 8"),
        ),
        0,
    );
    let surface = json(out.join("sweep_aggregate/decode_itl_surface.json"));
    let typed: DecodeItlSurface = round_trip(&out.join("sweep_aggregate/decode_itl_surface.json"));
    assert_eq!(typed.axis(0), [1.0, 8.0]);
    assert_eq!(typed.grid().len(), 2);
    assert_eq!(
        surface["surface"]["concurrency_axis"],
        serde_json::json!([1.0, 8.0])
    );
    let grid = surface["surface"]["itl_grid"].as_array().unwrap();
    // More sequences per step make every step slower: ITL grows with concurrency.
    assert!(grid[1][0].as_f64().unwrap() > grid[0][0].as_f64().unwrap());
    assert_eq!(surface["surface_fit_failed"], false);

    let out = tmp.path().join("pareto");
    let sweep = "{recipe: pareto-sweep, knobs: {concurrency: {values: [1, 8]}}}";
    assert_exit(
        &run_file(
            tmp.path(),
            &experiment(&out, url, "", sweep).replace("requests: 32", "requests: 8"),
        ),
        0,
    );
    let pareto = json(out.join("sweep_aggregate/pareto_sweep.json"));
    let typed: ParetoSweep = round_trip(&out.join("sweep_aggregate/pareto_sweep.json"));
    assert_eq!(typed.cells.len(), 6);
    assert!(typed.cells.iter().any(|c| c.pareto_optimal));
    let cells = pareto["cells"].as_array().unwrap();
    assert_eq!(cells.len(), 6, "3 shapes x 2 concurrencies");
    assert!(cells.iter().any(|c| c["pareto_optimal"] == true));
    assert!(
        cells
            .iter()
            .all(|c| c["isl"].is_number() && c["osl"].is_number() && c["concurrency"].is_number())
    );
}

#[test]
fn recipe_misuse_is_explained() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("x");
    for (sweep, expected) in [
        (
            "{recipe: concurrency-rmap}",
            "no recipe named 'concurrency-rmap' (did you mean 'concurrency-ramp'?)",
        ),
        (
            "{recipe: concurrency-ramp, parameters: {concurrency: [1]}}",
            "a recipe chooses the cells itself",
        ),
        (
            "{recipe: concurrency-ramp, knobs: {osl: {lo: 1, hi: 2}}}",
            "recipe 'concurrency-ramp' has no knob 'osl'",
        ),
        (
            "{recipe: concurrency-ramp, sla: {ttft_p95_ms: 200}}",
            "takes no SLA value 'ttft_p95_ms'",
        ),
    ] {
        let file = tmp.path().join("bad.yaml");
        std::fs::write(&file, experiment(&out, "mock://", "", sweep)).unwrap();
        let o = aiperf().arg("validate").arg(&file).output().unwrap();
        assert_exit(&o, 2);
        assert!(
            String::from_utf8_lossy(&o.stderr).contains(expected),
            "{sweep}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    let file = tmp.path().join("nostream.yaml");
    std::fs::write(
        &file,
        experiment(&out, "mock://", "", "{recipe: prefill-ttft-curve}")
            .replace("streaming: true", "streaming: false"),
    )
    .unwrap();
    let o = aiperf().arg("validate").arg(&file).output().unwrap();
    assert_exit(&o, 2);
    assert!(String::from_utf8_lossy(&o.stderr).contains("need streamed responses"));
}

#[test]
fn recipes_are_listed_shown_and_usable_from_profile_flags() {
    let list = aiperf().args(["recipes", "list"]).output().unwrap();
    assert_exit(&list, 0);
    let text = String::from_utf8_lossy(&list.stdout);
    for name in [
        "concurrency-ramp",
        "prefill-ttft-curve",
        "decode-itl-curve",
        "pareto-sweep",
    ] {
        assert!(text.contains(name), "{name}");
    }
    let show = aiperf()
        .args(["recipes", "show", "concurrency-ramp"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&show.stdout).contains("type: degradation_knee"));

    let tmp = tempfile::tempdir().unwrap();
    let out = MockProfile::new("ttft_ms=2&itl_ms=1")
        .model("m")
        .streaming()
        .requests(4)
        .tokens(8, 4)
        .arg("--search-recipe", "concurrency-ramp")
        .arg("--concurrency-max", 4)
        .arg("--concurrency-steps", 3)
        .run(tmp.path());
    assert_exit(&out, 0);
    let knee = json(tmp.path().join("sweep_aggregate/degradation_knee.json"));
    assert_eq!(knee["all_points"].as_array().unwrap().len(), 3);
}
