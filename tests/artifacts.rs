//! Every typed file of `aiperf::artifacts` reads back what a real mock run wrote, and writes the
//! same document again: the types are the files, not a guess at them.

mod common;
use aiperf::artifacts::{
    aggregates::{CellAggregateFile, SweepAggregateFile},
    io, layout, names,
    plan_file::PlanFile,
    record_line::RecordLine,
    run_metadata::{RunMetadata, RunStatus},
    search_history::SearchHistory,
    summary::RunSummaryFile,
    trial_status::TrialStatus,
};
use common::*;

#[test]
fn a_single_run_summary_round_trips_with_warmup_and_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    let out = MockProfile::new("ttft_ms=1&itl_ms=1&error_rate=0.2&seed=3")
        .streaming()
        .requests(20)
        .tokens(16, 4)
        .concurrency(4)
        .arg("--warmup-request-count", 3)
        .run(&dir);
    assert_exit(&out, 0);
    let summary: RunSummaryFile = round_trip(&dir.join(names::PROFILE_EXPORT_JSON));
    assert_eq!(
        io::to_pretty_json(&summary),
        std::fs::read(dir.join(names::PROFILE_EXPORT_JSON)).unwrap(),
        "written through the type"
    );
    let (ok, failed) = (
        summary.stat("request_count", "avg").unwrap(),
        summary.stat("error_request_count", "avg").unwrap(),
    );
    assert_eq!(ok + failed, 20.0);
    assert!(summary.stat("time_to_first_token", "p99").is_some());
    assert_eq!(summary.unit("time_to_first_token"), Some("ms"));
    assert!(summary.warmup_metrics.is_some());
    assert!(!summary.error_summary.is_empty(), "20% injected errors");
    let spec = summary
        .spec()
        .expect("input_config reads back as the spec it was written from");
    assert!(spec.endpoint.streaming);
    assert_eq!(summary.profiling_load(), (Some(4), None));
    assert!(summary.other.is_empty(), "{:?}", summary.other.keys());
    let lines = std::fs::read_to_string(dir.join(names::PROFILE_EXPORT_JSONL)).unwrap();
    let mut failed_lines = 0;
    for line in lines.lines() {
        let original: serde_json::Value = serde_json::from_str(line).unwrap();
        let typed: RecordLine = serde_json::from_str(line).unwrap();
        assert_eq!(serde_json::to_value(&typed).unwrap(), original, "{line}");
        failed_lines += usize::from(!typed.succeeded());
        assert!(typed.metadata.other.is_empty());
    }
    assert_eq!(lines.lines().count(), 20);
    assert_eq!(failed_lines as f64, failed);
    let meta: RunMetadata = round_trip(&dir.join(names::RUN_METADATA_JSON));
    assert_eq!(meta.status, RunStatus::Completed);
    assert_eq!(meta.requests.sent, 20);
    assert_eq!(
        io::to_pretty_json(&meta),
        std::fs::read(dir.join(names::RUN_METADATA_JSON)).unwrap(),
        "written through the type"
    );
}

#[test]
fn a_repeated_sweep_round_trips_its_plan_statuses_and_summaries_where_the_layout_says() {
    let tmp = tempfile::tempdir().unwrap();
    let file = write(
        tmp.path(),
        "sweep.yaml",
        &format!(
            "multiRun: {{numRuns: 2}}
sweep: {{type: grid, parameters: {{concurrency: [1, 2]}}}}
benchmark:
  model: m
  endpoint: {{url: 'mock://?ttft_ms=1&itl_ms=1', streaming: true}}
  dataset: {{entries: 4, prompts: {{isl: 8, osl: 4}}}}
  phases: [{{name: profiling, type: concurrency, concurrency: 1, requests: 6}}]
  artifacts: {{dir: '{}'}}
",
            tmp.path().join("out").display()
        ),
    );
    let out = aiperf().arg("run").arg(&file).output().unwrap();
    assert_exit(&out, 0);
    let base = tmp.path().join("out");
    let plan: PlanFile = round_trip(&base.join(names::PLAN_JSON));
    let bytes = std::fs::read(base.join(names::PLAN_JSON)).unwrap();
    assert_eq!(io::to_pretty_json(&plan), bytes, "written through the type");
    assert_eq!(plan.trials.len(), 4);
    let shape = layout::Layout {
        swept: true,
        num_runs: 2,
        order: aiperf::spec::experiment::IterationOrder::Repeated,
    };
    for trial in &plan.trials {
        assert_eq!(
            trial.dir,
            shape.trial_dir(&base, &trial.cell, trial.repetition),
            "the layout module knows where trial {} is",
            trial.number
        );
        let status: TrialStatus = round_trip(&trial.dir.join(names::TRIAL_STATUS_JSON));
        assert_eq!(status, TrialStatus::Completed);
        let summary: RunSummaryFile = round_trip(&trial.dir.join(names::PROFILE_EXPORT_JSON));
        assert_eq!(summary.stat("request_count", "avg"), Some(6.0));
    }
    for cell in ["concurrency_1", "concurrency_2"] {
        let dir = shape.cell_aggregate_dir(&base, cell).unwrap();
        let aggregate: CellAggregateFile = round_trip(&dir.join(names::AGGREGATE_JSON));
        assert_eq!(
            io::to_pretty_json(&aggregate),
            std::fs::read(dir.join(names::AGGREGATE_JSON)).unwrap(),
            "written through the type"
        );
        assert_eq!(aggregate.metadata.num_successful_runs, 2);
        let ttft = &aggregate.metrics["time_to_first_token_p99"];
        assert!(ttft.get("ci_low").unwrap() <= ttft.get("mean").unwrap());
        assert_eq!(ttft.unit, "ms");
    }
    let sweep: SweepAggregateFile =
        round_trip(&shape.sweep_aggregate_dir(&base).join(names::SWEEP_JSON));
    assert_eq!(
        io::to_pretty_json(&sweep),
        std::fs::read(shape.sweep_aggregate_dir(&base).join(names::SWEEP_JSON)).unwrap(),
        "written through the type"
    );
    assert_eq!(sweep.parameter_names(), ["concurrency"]);
    assert_eq!(sweep.per_combination_metrics.len(), 2);
    assert!(
        sweep.per_combination_metrics[1]
            .mean("request_throughput_avg")
            .is_some()
    );
    assert!(sweep.best_configurations.contains_key("best_throughput"));
}

#[test]
fn a_search_history_round_trips_byte_for_byte() {
    let tmp = tempfile::tempdir().unwrap();
    let file = write(
        tmp.path(),
        "search.yaml",
        &format!(
            "benchmark:
  model: m
  endpoint: {{url: 'mock://?ttft_ms=5&itl_ms=5&max_batch=4', streaming: true}}
  dataset: {{entries: 8, prompts: {{isl: 8, osl: 8}}}}
  phases: {{type: concurrency, requests: 12, concurrency: 1}}
  artifacts: {{dir: '{}'}}
sweep: {{recipe: max-throughput-ttft-sla, sla: {{ttft_p95_ms: 40}}, maxIterations: 4}}
",
            tmp.path().join("out").display()
        ),
    );
    let out = aiperf().arg("run").arg(&file).output().unwrap();
    assert_exit(&out, 0);
    let base = tmp.path().join("out");
    let path = base.join(names::SEARCH_HISTORY_JSON);
    let history: SearchHistory = round_trip(&path);
    assert_eq!(
        io::to_pretty_json(&history),
        std::fs::read(&path).unwrap(),
        "written through the type"
    );
    assert!(!history.iterations.is_empty());
    assert_eq!(history.config.sla_filters[0].threshold, 40.0);
    for (i, it) in history.iterations.iter().enumerate() {
        assert_eq!(
            base.join(&it.runs[0]),
            layout::search_run_dir(&base, i, 1),
            "point {i}'s first run is where the layout says"
        );
    }
}
