//! What an experiment prints: one line per finished trial and a closing table per cell.

use crate::aggregate::CellAggregate;
use crate::aggregate::confidence::Confidence;
use crate::export::console::fmt_number;
use crate::metrics::{MetricId, RunSummary};
use crate::plan::Plan;
use comfy_table::{Cell, CellAlignment, ContentArrangement, Table, presets::UTF8_FULL_CONDENSED};

/// A one-line result of a trial.
pub fn trial_line(summary: &RunSummary) -> String {
    let get = |id: MetricId, stat: &str| summary.stat(id, stat);
    let mut parts = vec![format!(
        "{} req/s",
        fmt_number(get(MetricId::RequestThroughput, "avg").unwrap_or(f64::NAN))
    )];
    if let Some(v) = get(MetricId::OutputTokenThroughput, "avg") {
        parts.push(format!("{} tok/s", fmt_number(v)));
    }
    match get(MetricId::TimeToFirstToken, "p99") {
        Some(v) => parts.push(format!("TTFT p99 {} ms", fmt_number(v))),
        None => parts.push(format!(
            "latency p99 {} ms",
            fmt_number(get(MetricId::RequestLatency, "p99").unwrap_or(f64::NAN))
        )),
    }
    parts.push(format!("{} errors", summary.errors));
    parts.join(", ")
}

/// `mean ± half-width` (or just the mean for one run).
fn with_interval(c: Option<&Confidence>) -> String {
    match c {
        None => "-".into(),
        Some(c) if c.n < 2 || !c.t_critical.is_finite() => fmt_number(c.mean),
        Some(c) => format!(
            "{} ± {}",
            fmt_number(c.mean),
            fmt_number(c.ci_high - c.mean)
        ),
    }
}

/// The closing table: one row per cell with its main metrics across runs.
pub fn experiment_table(plan: &Plan, cells: &[CellAggregate]) -> String {
    let mut table = Table::new();
    table
        .load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Disabled);
    let param_names: Vec<String> = match plan.sweep_parameters.is_empty() {
        true => vec![],
        false => plan
            .sweep_parameters
            .iter()
            .map(|(n, _)| n.clone())
            .collect(),
    };
    let latency_key = if cells
        .iter()
        .any(|c| c.get("time_to_first_token_p99").is_some())
    {
        "time_to_first_token_p99"
    } else {
        "request_latency_p99"
    };
    let latency_label = if latency_key.starts_with("time_to_first") {
        "TTFT p99 (ms)"
    } else {
        "latency p99 (ms)"
    };
    let mut header: Vec<String> = param_names.clone();
    header.extend([
        "runs ok".to_string(),
        "req/s".into(),
        "output tok/s".into(),
        latency_label.into(),
        "ITL avg (ms)".into(),
        "errors".into(),
    ]);
    table.set_header(header);
    for (cell, agg) in plan.cells.iter().zip(cells) {
        let mut row: Vec<Cell> = param_names
            .iter()
            .map(|n| {
                Cell::new(
                    cell.parameters
                        .get(n)
                        .map(|v| {
                            v.as_str()
                                .map(str::to_string)
                                .unwrap_or_else(|| v.to_string())
                        })
                        .unwrap_or_default(),
                )
            })
            .collect();
        let planned = plan.trials.iter().filter(|t| t.cell == cell.index).count();
        let values = [
            format!("{}/{planned}", agg.successful()),
            with_interval(agg.get("request_throughput_avg")),
            with_interval(agg.get("output_token_throughput_avg")),
            with_interval(agg.get(latency_key)),
            with_interval(agg.get("inter_token_latency_avg")),
            agg.get("error_request_count_avg")
                .map(|c| fmt_number(c.mean))
                .unwrap_or_else(|| "-".into()),
        ];
        row.extend(
            values
                .into_iter()
                .map(|v| Cell::new(v).set_alignment(CellAlignment::Right)),
        );
        table.add_row(row);
    }
    let level = cells.first().map(|_| "").unwrap_or("");
    format!("aiperf | Experiment results (mean ± CI half-width across runs){level}\n{table}")
}
