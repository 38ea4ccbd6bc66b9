//! The name of every file aiperf writes, in one place (AIPerf's names where AIPerf has the file).

/// `compare.json`: what `aiperf compare` found.
pub const COMPARE_JSON: &str = "compare.json";
/// `thresholds.json`: how the CI gate judged every threshold.
pub const THRESHOLDS_JSON: &str = "thresholds.json";
/// `profile_export_aiperf.json`: the run summary.
pub const PROFILE_EXPORT_JSON: &str = "profile_export_aiperf.json";
/// `profile_export_aiperf.csv`: the run summary as tables.
pub const PROFILE_EXPORT_CSV: &str = "profile_export_aiperf.csv";
/// `profile_export.jsonl`: one line per profiling request, streamed as requests complete.
pub const PROFILE_EXPORT_JSONL: &str = "profile_export.jsonl";
/// `inputs.json`: the exact request bodies.
pub const INPUTS_JSON: &str = "inputs.json";
/// `run_metadata.json`: how the run was configured and how it ended.
pub const RUN_METADATA_JSON: &str = "run_metadata.json";
/// `calibration.json`: this host's client capacity, from `aiperf calibrate` (in the user's cache).
pub const CALIBRATION_JSON: &str = "calibration.json";
/// `logs/aiperf.log`: the run log.
pub const LOG_FILE: &str = "logs/aiperf.log";
/// `profile_export_aiperf_sweep.json`.
pub const SWEEP_JSON: &str = "profile_export_aiperf_sweep.json";
/// `profile_export_aiperf_sweep.csv`.
pub const SWEEP_CSV: &str = "profile_export_aiperf_sweep.csv";
/// `profile_export_aiperf_aggregate.json`.
pub const AGGREGATE_JSON: &str = "profile_export_aiperf_aggregate.json";
/// `profile_export_aiperf_aggregate.csv`.
pub const AGGREGATE_CSV: &str = "profile_export_aiperf_aggregate.csv";
/// The file name.
pub const SEARCH_HISTORY_JSON: &str = "search_history.json";
/// `experiment_plan.json`: the trials of the experiment, written at start and checked on resume.
pub const PLAN_JSON: &str = "experiment_plan.json";
/// The file name.
pub const TRIAL_STATUS_JSON: &str = "trial_status.json";
/// AIPerf's timeslice export (`--slice-duration`); plotted when a run directory has one.
pub const TIMESLICES_CSV: &str = "profile_export_aiperf_timeslices.csv";
/// `profile_export_aiperf_timeslices.json`: the same slices as one JSON document.
pub const TIMESLICES_JSON: &str = "profile_export_aiperf_timeslices.json";
/// The plot log, in the plots directory.
pub const PLOT_LOG: &str = "aiperf_plot.log";
/// The list of what was made, in the plots directory.
pub const SUMMARY_TXT: &str = "summary.txt";
/// The file auto-plot writes beside the results, so `aiperf plot DIR` draws the same plots.
pub const MATERIALIZED_CONFIG: &str = ".aiperf-plot-config.yaml";
/// `process_result.json`: a NeMo Guardrails run's outcome, in that runner's shape.
pub const NEMO_PROCESS_RESULT_JSON: &str = "process_result.json";

/// `degradation_knee.json`: the concurrency-ramp recipe's knee.
pub const DEGRADATION_KNEE_JSON: &str = "degradation_knee.json";
/// `prefill_curve.json`: the prefill recipe's TTFT curve and its fit.
pub const PREFILL_CURVE_JSON: &str = "prefill_curve.json";
/// `decode_itl_surface.json`: the decode recipe's ITL over concurrency and output length.
pub const DECODE_ITL_SURFACE_JSON: &str = "decode_itl_surface.json";
/// `pareto_sweep.json`: the pareto-sweep recipe's cells and front.
pub const PARETO_SWEEP_JSON: &str = "pareto_sweep.json";
/// `sla_breach.json`: a grid search's first SLA breach.
pub const SLA_BREACH_JSON: &str = "sla_breach.json";
