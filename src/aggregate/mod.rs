//! Aggregation across trials: per-cell confidence statistics and the sweep aggregate (best
//! configurations, Pareto front), read from the trials' own `profile_export_aiperf.json` so
//! finished work on disk is the single source of truth (and a resumed experiment aggregates the
//! same way as an uninterrupted one).

pub mod confidence;
mod documented_names;
pub mod sweep;

use crate::artifacts::aggregates::{
    CellAggregateFile, CellAggregateMetadata, ConfidenceStats, FailedRunRecord,
};
use crate::artifacts::names::{AGGREGATE_CSV, AGGREGATE_JSON};
use crate::artifacts::summary::RunSummaryFile;
use crate::support::csv_text::CsvText;
use confidence::{Confidence, confidence};
use std::collections::BTreeMap;
use std::path::Path;

/// The statistics of per-request metrics that are aggregated across runs (AIPerf's STAT_KEYS).
pub const STAT_KEYS: &[&str] = &[
    "avg", "min", "max", "sum", "p1", "p5", "p10", "p25", "p50", "p75", "p90", "p95", "p99", "std",
];

/// A failed trial, as listed in `failed_runs`.
#[derive(Debug, Clone, PartialEq)]
pub struct FailedRun {
    /// Trial label (directory-relative, e.g. `profile_runs/trial_0002/concurrency_4`).
    pub label: String,
    /// Why it failed.
    pub error: String,
}

/// Cross-run statistics of every metric statistic of a cell, keyed `<tag>_<stat>`.
#[derive(Debug, Clone, Default)]
pub struct CellAggregate {
    /// Statistics with their unit.
    pub metrics: BTreeMap<String, (Confidence, String)>,
    /// Labels of the successful runs.
    pub run_labels: Vec<String>,
    /// Failed runs.
    pub failed: Vec<FailedRun>,
}

impl CellAggregate {
    /// Successful runs.
    pub fn successful(&self) -> usize {
        self.run_labels.len()
    }

    /// The statistics of one key.
    pub fn get(&self, key: &str) -> Option<&Confidence> {
        self.metrics.get(key).map(|(c, _)| c)
    }
}

/// Collects `<tag>_<stat>` values from run summaries.
pub fn collect_values(summaries: &[&RunSummaryFile]) -> BTreeMap<String, (Vec<f64>, String)> {
    let mut values: BTreeMap<String, (Vec<f64>, String)> = BTreeMap::new();
    for summary in summaries {
        for (tag, metric) in &summary.metrics {
            let stats: &[&str] = if metric.is_distribution() {
                STAT_KEYS
            } else {
                &["avg"]
            };
            for stat in stats {
                if let Some(v) = metric.stat(stat) {
                    let entry = values
                        .entry(format!("{tag}_{stat}"))
                        .or_insert_with(|| (Vec::new(), metric.unit.clone()));
                    entry.0.push(v);
                }
            }
        }
    }
    values
}

/// Aggregates the successful runs of a cell.
pub fn aggregate_cell(
    runs: &[(String, RunSummaryFile)],
    failed: Vec<FailedRun>,
    level: f64,
) -> CellAggregate {
    let summaries: Vec<&RunSummaryFile> = runs.iter().map(|(_, v)| v).collect();
    let metrics = collect_values(&summaries)
        .into_iter()
        .filter_map(|(k, (vals, unit))| confidence(&vals, level).map(|c| (k, (c, unit))))
        .collect();
    CellAggregate {
        metrics,
        run_labels: runs.iter().map(|(l, _)| l.clone()).collect(),
        failed,
    }
}

/// The full statistics of one key, as the aggregate files hold them (non-finite as `null`).
pub fn confidence_stats(c: &Confidence, unit: &str) -> ConfidenceStats {
    let v = |x: f64| Some(Some(x).filter(|x| x.is_finite()));
    ConfidenceStats {
        mean: v(c.mean),
        std: v(c.std),
        min: v(c.min),
        max: v(c.max),
        cv: v(c.cv),
        se: v(c.se),
        ci_low: v(c.ci_low),
        ci_high: v(c.ci_high),
        t_critical: v(c.t_critical),
        unit: unit.to_string(),
        other: Default::default(),
    }
}

/// The failed runs as the aggregate files list them.
pub fn failed_records(failed: &[FailedRun]) -> Vec<FailedRunRecord> {
    failed
        .iter()
        .map(|f| FailedRunRecord {
            label: f.label.clone(),
            error: f.error.clone(),
        })
        .collect()
}

/// Metadata of a cell aggregate file.
pub struct CellMetadata {
    /// Runs attempted.
    pub num_profile_runs: usize,
    /// Confidence level.
    pub confidence_level: f64,
    /// Cooldown between runs.
    pub cooldown_seconds: f64,
}

/// Writes `profile_export_aiperf_aggregate.{json,csv}` for a cell into `dir`.
pub fn write_cell_aggregate(
    dir: &Path,
    cell: &CellAggregate,
    meta: &CellMetadata,
) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let single = cell.successful() == 1;
    let doc = CellAggregateFile {
        schema_version: "1.0".into(),
        aiperf_version: crate::VERSION.into(),
        metadata: CellAggregateMetadata {
            aggregation_type: "confidence".into(),
            num_profile_runs: meta.num_profile_runs,
            num_successful_runs: cell.successful(),
            failed_runs: failed_records(&cell.failed),
            confidence_level: meta.confidence_level,
            run_labels: cell.run_labels.clone(),
            cooldown_seconds: meta.cooldown_seconds,
            single_run: single.then_some(true),
            note: single.then(|| {
                "one successful run: std, cv and se are 0 and the interval is degenerate [value, value]"
                    .to_string()
            }),
        },
        metrics: cell
            .metrics
            .iter()
            .map(|(k, (c, unit))| (k.clone(), confidence_stats(c, unit)))
            .collect(),
    };
    crate::artifacts::io::write_atomic(
        &dir.join(AGGREGATE_JSON),
        &crate::artifacts::io::to_pretty_json(&doc),
    )?;

    let fmt = |v: f64, decimals: usize| {
        if v.is_finite() {
            format!("{v:.decimals$}")
        } else {
            String::new()
        }
    };
    let mut csv = CsvText::new();
    csv.row([
        "metric",
        "mean",
        "std",
        "min",
        "max",
        "cv",
        "se",
        "ci_low",
        "ci_high",
        "t_critical",
        "unit",
    ]);
    for (key, (c, unit)) in &cell.metrics {
        csv.row([
            key.clone(),
            fmt(c.mean, 2),
            fmt(c.std, 2),
            fmt(c.min, 2),
            fmt(c.max, 2),
            fmt(c.cv, 4),
            fmt(c.se, 4),
            fmt(c.ci_low, 2),
            fmt(c.ci_high, 2),
            fmt(c.t_critical, 4),
            unit.clone(),
        ]);
    }
    csv.blank()
        .row(["Aggregation Type", "confidence"])
        .row(["Total Runs".to_string(), meta.num_profile_runs.to_string()])
        .row(["Successful Runs".to_string(), cell.successful().to_string()])
        .row([
            "Confidence Level".to_string(),
            meta.confidence_level.to_string(),
        ])
        .row(["Failed Runs".to_string(), cell.failed.len().to_string()]);
    if single {
        csv.row(["Single Run", "true"]);
    }
    let csv = csv.finish();
    crate::artifacts::io::write_atomic(&dir.join(AGGREGATE_CSV), csv.as_bytes())
}
