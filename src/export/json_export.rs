//! `profile_export_aiperf.json`, in AIPerf's shape (schema 1.4): one object per metric tag with
//! `unit` and statistics, then `input_config`, `run_info`, completion flags, `error_summary` and
//! times. Non-finite numbers become `null`.

use crate::metrics::distribution::PERCENTILES;
use crate::metrics::{MetricId, RunSummary, Stats};
use crate::support::numbers::json_number as num;
use serde_json::{Map, Value, json};

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
    /// Start time (ISO 8601).
    pub start_time: String,
    /// End time (ISO 8601).
    pub end_time: String,
}

/// The JSON object of one per-request metric.
pub fn record_metric_json(id: MetricId, s: &Stats) -> Value {
    let mut m = Map::new();
    m.insert("unit".into(), json!(id.def().unit.as_str()));
    m.insert("avg".into(), num(s.avg));
    for (value, (_, key)) in s.percentiles.iter().zip(PERCENTILES) {
        m.insert(key.into(), num(*value));
    }
    m.insert("min".into(), num(s.min));
    m.insert("max".into(), num(s.max));
    m.insert("std".into(), num(s.std));
    m.insert("count".into(), json!(s.count));
    m.insert("sum".into(), num(s.sum));
    Value::Object(m)
}

/// The metric objects of a summary, in registry order.
pub fn metrics_json(summary: &RunSummary) -> Map<String, Value> {
    let mut out = Map::new();
    for id in MetricId::all() {
        if let Some(stats) = summary.records.get(&id) {
            out.insert(id.tag().into(), record_metric_json(id, stats));
        } else if let Some(&value) = summary.scalars.get(&id) {
            out.insert(
                id.tag().into(),
                json!({"unit": id.def().unit.as_str(), "avg": num(value)}),
            );
        }
    }
    out
}

/// The `error_summary` list.
pub fn error_summary_json(summary: &RunSummary) -> Value {
    Value::Array(
        summary
            .error_groups
            .iter()
            .map(|g| json!({"error_details": {"code": g.code, "type": g.kind, "message": g.message}, "count": g.count}))
            .collect(),
    )
}

/// Builds the whole document.
pub fn export_json(
    summary: &RunSummary,
    warmup: Option<&RunSummary>,
    ctx: &ExportContext<'_>,
) -> Value {
    let mut doc = Map::new();
    doc.insert("schema_version".into(), json!(SCHEMA_VERSION));
    doc.insert("aiperf_version".into(), json!(crate::VERSION));
    doc.insert("benchmark_id".into(), json!(ctx.benchmark_id));
    doc.extend(metrics_json(summary));
    doc.insert("input_config".into(), ctx.input_config.clone());
    doc.insert(
        "run_info".into(),
        json!({"benchmark_id": ctx.benchmark_id, "random_seed": ctx.random_seed, "trial": 0, "cli_command": ctx.cli_command}),
    );
    doc.insert("was_cancelled".into(), json!(ctx.was_cancelled));
    doc.insert("is_complete".into(), json!(ctx.incomplete_reason.is_none()));
    doc.insert("incomplete_reason".into(), json!(ctx.incomplete_reason));
    doc.insert("connection_reconnects".into(), json!(ctx.reconnects));
    doc.insert("error_summary".into(), error_summary_json(summary));
    doc.insert("start_time".into(), json!(ctx.start_time));
    doc.insert("end_time".into(), json!(ctx.end_time));
    if let Some(w) = warmup.filter(|w| w.sent() > 0) {
        doc.insert("warmup_metrics".into(), Value::Object(metrics_json(w)));
    }
    Value::Object(doc)
}
