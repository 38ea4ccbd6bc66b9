//! What goes into each W&B run, read from the files a run or an experiment wrote: the config, the
//! `summary_metrics` table, scalar summaries and the artifact's files for a run directory; the
//! aggregate tables, search history and plots for an experiment's aggregate run.

use super::digest::Table;
use super::upload::RunContent;
use crate::artifacts::aggregates::SweepAggregateFile;
use crate::artifacts::run_metadata::RunMetadata;
use crate::artifacts::search_history::SearchHistory;
use crate::artifacts::summary::RunSummaryFile;
use crate::registry::{CONSOLE_METRICS, short_label};
use anyhow::Result;
use serde_json::{Map, Value, json};
use std::path::{Path, PathBuf};

/// The statistics columns of the `summary_metrics` table, in AIPerf's order.
pub const TABLE_STATS: &[&str] = &["avg", "min", "max", "p99", "p90", "p50", "std"];

/// The artifact type of every aiperf run.
pub const ARTIFACT_TYPE: &str = "aiperf-run";

fn rounded(v: Option<f64>) -> Value {
    match v {
        Some(x) if x.is_finite() => json!((x * 100.0).round() / 100.0),
        _ => Value::Null,
    }
}

/// One row per console metric the run has, labelled like "TTFT (ms)"; N/A cells are null.
pub fn summary_table(summary: &RunSummaryFile) -> Table {
    let mut columns = vec!["Metric".to_string()];
    columns.extend(TABLE_STATS.iter().map(|s| s.to_string()));
    let rows = CONSOLE_METRICS
        .iter()
        .filter_map(|m| Some((m, summary.metrics.get(m.tag())?)))
        .map(|(m, v)| {
            let mut row = vec![json!(short_label(m.def()))];
            row.extend(TABLE_STATS.iter().map(|s| rounded(v.stat(s))));
            row
        })
        .collect();
    Table { columns, rows }
}

/// `<tag>_<stat>` for every console metric and statistic the run has, and `client_bound`
/// (whether the client limited the run) when the summary says.
pub fn summary_scalars(summary: &RunSummaryFile) -> Map<String, Value> {
    let mut out = Map::new();
    for m in CONSOLE_METRICS {
        for s in TABLE_STATS {
            if let Some(x) = summary.stat(m.tag(), s) {
                out.insert(format!("{}_{s}", m.tag()), json!(x));
            }
        }
    }
    if let Some(client_bound) = summary.client_bound {
        out.insert("client_bound".into(), json!(client_bound));
    }
    out
}

/// Files of `dir` that go into an artifact (JSON, CSV, JSONL, PNG), with names relative to `dir`.
/// `skip` names top-level entries to leave out (for an experiment: the trial directories).
pub fn artifact_files(dir: &Path, skip: &dyn Fn(&Path) -> bool) -> Vec<(String, PathBuf)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let path = e.path();
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') || name == "wandb" || skip(&path) {
                continue;
            }
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                stack.push(path);
            } else if [".json", ".csv", ".jsonl", ".png"]
                .iter()
                .any(|x| name.ends_with(x))
            {
                let rel = path.strip_prefix(dir).unwrap_or(&path);
                let rel = rel
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect::<Vec<_>>()
                    .join("/");
                out.push((rel, path));
            }
        }
    }
    out.sort();
    out
}

/// A run directory as a W&B run. `parameters` are a trial's swept values.
pub fn run_content(
    dir: &Path,
    display_name: Option<&str>,
    user_tags: &[String],
    parameters: Option<&Value>,
) -> Result<(RunContent, f64)> {
    let summary = RunSummaryFile::read(&dir.join(crate::artifacts::names::PROFILE_EXPORT_JSON))?;
    let metadata: Option<RunMetadata> =
        crate::artifacts::io::read(&dir.join(crate::artifacts::names::RUN_METADATA_JSON)).ok();
    let id = summary
        .benchmark_id
        .clone()
        .unwrap_or_else(|| "unknown".into());
    let mut config = match &summary.input_config {
        Value::Object(m) => m.clone(),
        _ => Map::new(),
    };
    if let Some(info) = &summary.run_info {
        config.insert("aiperf.cli_command".into(), json!(info.cli_command));
    }
    if let Some(p) = parameters {
        config.insert("parameters".into(), p.clone());
    }
    // The trace behind the numbers: its name and the hash of its bytes.
    if let Some(file) = metadata.as_ref().and_then(|m| m.input_file.as_ref()) {
        config.insert(
            "aiperf.input_file".into(),
            json!({"path": file.path, "format": file.format, "sha256": file.sha256}),
        );
    }
    let mut tags = vec![
        format!("aiperf-{}", crate::VERSION),
        format!("benchmark-{id}"),
    ];
    tags.extend(user_tags.iter().cloned());
    let exit_code = metadata.map_or(0, |m| m.exit_code);
    let started = summary
        .start_time
        .as_deref()
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.timestamp_millis() as f64 / 1000.0)
        .unwrap_or_else(|| chrono::Utc::now().timestamp_millis() as f64 / 1000.0);
    let content = RunContent {
        display_name: display_name
            .map(str::to_string)
            .unwrap_or_else(|| format!("aiperf-{id}")),
        group: None,
        job_type: None,
        config,
        tags,
        tables: vec![("summary_metrics".into(), summary_table(&summary))],
        scalars: summary_scalars(&summary),
        artifact_files: artifact_files(dir, &|_| false),
        artifact_type: ARTIFACT_TYPE.into(),
        exit_code,
        run_id: super::upload::random_id(8),
    };
    Ok((content, started))
}

/// The key metric statistics of the per-combination table.
const AGGREGATE_KEYS: &[&str] = &[
    "request_throughput_avg",
    "output_token_throughput_avg",
    "time_to_first_token_avg",
    "time_to_first_token_p99",
    "inter_token_latency_avg",
    "request_latency_avg",
    "request_latency_p99",
];

fn show(v: &Value) -> Value {
    match v {
        Value::Number(_) | Value::String(_) | Value::Null => v.clone(),
        other => json!(other.to_string()),
    }
}

/// Tables of the sweep aggregate: per-combination metrics with CIs, best configurations, Pareto points.
pub fn sweep_tables(sweep: &SweepAggregateFile) -> Vec<(String, Table)> {
    let names: Vec<String> = sweep.parameter_names();
    let mut tables = Vec::new();
    let mut columns = names.clone();
    columns.push("runs".into());
    for k in AGGREGATE_KEYS {
        for s in ["mean", "ci_low", "ci_high"] {
            columns.push(format!("{k}_{s}"));
        }
    }
    let param = |m: &Map<String, Value>, n: &str| show(m.get(n).unwrap_or(&Value::Null));
    let rows = sweep
        .per_combination_metrics
        .iter()
        .map(|c| {
            let mut row: Vec<Value> = names.iter().map(|n| param(&c.parameters, n)).collect();
            row.push(json!(c.num_successful_runs));
            for k in AGGREGATE_KEYS {
                for s in ["mean", "ci_low", "ci_high"] {
                    row.push(rounded(c.metrics.get(*k).and_then(|m| m.get(s))));
                }
            }
            row
        })
        .collect();
    tables.push(("per_combination_metrics".into(), Table { columns, rows }));
    let best: Vec<Vec<Value>> = sweep
        .best_configurations
        .iter()
        .map(|(name, b)| {
            vec![
                json!(name),
                json!(Value::Object(b.parameters.clone()).to_string()),
                rounded(b.metric),
                json!(b.unit),
            ]
        })
        .collect();
    if !best.is_empty() {
        let columns = ["Configuration", "Parameters", "Metric", "Unit"]
            .map(String::from)
            .to_vec();
        tables.push((
            "best_configurations".into(),
            Table {
                columns,
                rows: best,
            },
        ));
    }
    let pareto: Vec<Vec<Value>> = sweep
        .pareto_optimal
        .iter()
        .map(|p| names.iter().map(|n| param(p, n)).collect())
        .collect();
    if !pareto.is_empty() && !names.is_empty() {
        tables.push((
            "pareto_optimal".into(),
            Table {
                columns: names,
                rows: pareto,
            },
        ));
    }
    tables
}

/// The search history as a table: one row per measured point.
pub fn search_table(history: &SearchHistory) -> Table {
    let columns = [
        "point",
        "parameters",
        "objective",
        "feasible",
        "decided_by",
        "runs",
    ]
    .map(String::from)
    .to_vec();
    let rows = history
        .iterations
        .iter()
        .map(|i| {
            vec![
                json!(i.iteration_idx + 1),
                json!(Value::Object(i.variation_values.clone()).to_string()),
                rounded(i.objective_values.as_ref().and_then(|v| v.first().copied())),
                json!(i.feasible),
                json!(i.decided_by),
                json!(i.runs.len()),
            ]
        })
        .collect();
    Table { columns, rows }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_table_has_one_row_per_console_metric_in_order_with_nulls_for_na() {
        let summary: RunSummaryFile = serde_json::from_value(json!({
            "request_throughput": {"unit": "requests/sec", "avg": 41.456},
            "time_to_first_token": {"unit": "ms", "avg": 12.345, "min": 10.0, "max": 20.0, "p99": 19.9, "p90": 18.0, "p50": 12.0, "std": 2.1},
        }))
        .unwrap();
        let t = summary_table(&summary);
        assert_eq!(
            t.columns,
            vec!["Metric", "avg", "min", "max", "p99", "p90", "p50", "std"]
        );
        assert_eq!(t.rows[0][0], json!("TTFT (ms)"));
        assert_eq!(t.rows[0][1], json!(12.35));
        assert_eq!(t.rows[1][0], json!("Request Throughput (requests/sec)"));
        assert_eq!(t.rows[1][1], json!(41.46));
        assert_eq!(t.rows[1][2], Value::Null);
    }
}
