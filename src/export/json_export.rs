//! `profile_export_aiperf.json`, in AIPerf's shape (schema 1.4): one object per metric tag with
//! `unit` and statistics, then `input_config`, `run_info`, completion flags, `error_summary` and
//! times. Non-finite numbers become `null`.

use crate::artifacts::summary::{ErrorCount, ErrorDetails, MetricSummary, RunInfo, RunSummaryFile};
use crate::metrics::distribution::PERCENTILES;
use crate::metrics::{MetricId, RunSummary, Stats};
use indexmap::IndexMap;
use serde_json::{Number, Value};

/// The schema version AIPerf 0.13 writes.
pub const SCHEMA_VERSION: &str = "1.4";

/// Everything besides the summary that goes in the file.
pub struct ExportContext<'a> {
    /// Short id of this run.
    pub benchmark_id: &'a str,
    /// The resolved spec (secrets already redacted by its serializer).
    pub input_config: Value,
    /// The command line, secrets redacted.
    pub cli_command: &'a str,
    /// The seed used.
    pub random_seed: u64,
    /// Whether Ctrl-C stopped the run.
    pub was_cancelled: bool,
    /// Why the run is incomplete, if it is.
    pub incomplete_reason: Option<String>,
    /// Requests re-sent once on a fresh connection (not errors; see docs/metrics.md).
    pub reconnects: u64,
    /// Whether the client limited the run (the load verdict).
    pub client_bound: bool,
    /// Start time (ISO 8601).
    pub start_time: String,
    /// End time (ISO 8601).
    pub end_time: String,
}

/// One per-request metric's statistics, as the summary file holds them.
pub fn record_metric(id: MetricId, s: &Stats) -> MetricSummary {
    let n = |v: f64| Number::from_f64(v);
    let mut stats = IndexMap::new();
    stats.insert("avg".to_string(), n(s.avg));
    for (value, (_, key)) in s.percentiles.iter().zip(PERCENTILES) {
        stats.insert(key.to_string(), n(*value));
    }
    stats.insert("min".to_string(), n(s.min));
    stats.insert("max".to_string(), n(s.max));
    stats.insert("std".to_string(), n(s.std));
    stats.insert("count".to_string(), Some(Number::from(s.count)));
    stats.insert("sum".to_string(), n(s.sum));
    MetricSummary {
        unit: id.def().unit.as_str().to_string(),
        stats,
    }
}

/// The metrics of a summary, in registry order.
pub fn metrics(summary: &RunSummary) -> IndexMap<String, MetricSummary> {
    let mut out = IndexMap::new();
    for id in MetricId::all() {
        if let Some(stats) = summary.records.get(&id) {
            out.insert(id.tag().to_string(), record_metric(id, stats));
        } else if let Some(&value) = summary.scalars.get(&id) {
            let mut stats = IndexMap::new();
            stats.insert("avg".to_string(), Number::from_f64(value));
            out.insert(
                id.tag().to_string(),
                MetricSummary {
                    unit: id.def().unit.as_str().to_string(),
                    stats,
                },
            );
        }
    }
    out
}

/// The `error_summary` list.
pub fn error_summary(summary: &RunSummary) -> Vec<ErrorCount> {
    summary
        .error_groups
        .iter()
        .map(|g| ErrorCount {
            error_details: ErrorDetails {
                code: g.code,
                kind: g.kind.to_string(),
                message: g.message.clone(),
            },
            count: g.count,
        })
        .collect()
}

/// Builds the whole file.
pub fn export_json(
    summary: &RunSummary,
    warmup: Option<&RunSummary>,
    ctx: &ExportContext<'_>,
) -> RunSummaryFile {
    RunSummaryFile {
        schema_version: Some(SCHEMA_VERSION.to_string()),
        aiperf_version: Some(crate::VERSION.to_string()),
        benchmark_id: Some(ctx.benchmark_id.to_string()),
        metrics: metrics(summary),
        input_config: ctx.input_config.clone(),
        run_info: Some(RunInfo {
            benchmark_id: ctx.benchmark_id.to_string(),
            random_seed: Some(ctx.random_seed),
            trial: 0,
            cli_command: ctx.cli_command.to_string(),
        }),
        was_cancelled: ctx.was_cancelled,
        is_complete: ctx.incomplete_reason.is_none(),
        incomplete_reason: ctx.incomplete_reason.clone(),
        connection_reconnects: Some(ctx.reconnects),
        client_bound: Some(ctx.client_bound),
        error_summary: error_summary(summary),
        start_time: Some(ctx.start_time.clone()),
        end_time: Some(ctx.end_time.clone()),
        warmup_metrics: warmup.filter(|w| w.sent() > 0).map(metrics),
        other: Default::default(),
    }
}
