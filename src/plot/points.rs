//! The points of multi-run plots: one per sweep cell (read from the sweep aggregate, with its
//! confidence intervals) or one per run directory, with the parameters they vary over.

use super::canvas::format_value;
use super::data::Summary;
use super::detect::Source;
use crate::aggregate::STAT_KEYS;
use crate::artifacts::aggregates::{ConfidenceStats, SweepAggregateFile};
use anyhow::Result;
use serde_json::Value;
use std::collections::BTreeMap;

/// A metric statistic across the runs of one point.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stat {
    /// Mean over runs.
    pub mean: f64,
    /// Confidence interval, when the point has two or more runs.
    pub ci: Option<(f64, f64)>,
}

/// One point: a sweep cell or a run.
#[derive(Debug, Clone)]
pub struct Point {
    /// Parameters (short names) in sweep order; empty for plain runs.
    pub params: Vec<(String, Value)>,
    /// The run's directory name, for points that are runs.
    pub run_label: Option<String>,
    /// Which input path it came from (empty when there is one).
    pub series: String,
    /// `<tag>_<stat>` → statistic.
    pub metrics: BTreeMap<String, Stat>,
}

impl Point {
    /// The statistic `key` (`request_throughput_avg`).
    pub fn get(&self, key: &str) -> Option<Stat> {
        self.metrics
            .get(key)
            .copied()
            .filter(|s| s.mean.is_finite())
    }

    /// "concurrency=8, osl=16", or the run's name.
    pub fn label(&self) -> String {
        if self.params.is_empty() {
            return self.run_label.clone().unwrap_or_default();
        }
        self.params
            .iter()
            .map(|(k, v)| format!("{k}={}", show(v)))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// A parameter value as text.
pub fn show(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n
            .as_f64()
            .map(format_value)
            .unwrap_or_else(|| n.to_string()),
        other => other.to_string(),
    }
}

/// The points of every source, and what they vary over.
#[derive(Debug, Clone, Default)]
pub struct MultiRun {
    /// Every point.
    pub points: Vec<Point>,
    /// Swept parameter names, in sweep order (union over sources).
    pub param_names: Vec<String>,
    /// Confidence level of the intervals.
    pub confidence_level: f64,
    /// "N cells × M runs" or "N runs", shown under titles.
    pub subtitle: String,
}

impl MultiRun {
    /// Loads the points of every source: the cells of its sweep aggregate, else its runs.
    pub fn load(sources: &[Source]) -> Result<MultiRun> {
        let mut all = MultiRun {
            confidence_level: 0.95,
            ..Default::default()
        };
        let mut descriptions = Vec::new();
        for source in sources {
            let series = if sources.len() > 1 {
                source.name()
            } else {
                String::new()
            };
            let (points, names, description) = match &source.sweep_json {
                Some(path) => {
                    let doc: SweepAggregateFile = crate::artifacts::io::read(path)?;
                    if let Some(level) = doc.metadata.confidence_level {
                        all.confidence_level = level;
                    }
                    sweep_points(&doc, &series)
                }
                None => run_points(source, &series)?,
            };
            for n in names {
                if !all.param_names.contains(&n) {
                    all.param_names.push(n);
                }
            }
            descriptions.push(if series.is_empty() {
                description
            } else {
                format!("{series}: {description}")
            });
            all.points.extend(points);
        }
        all.subtitle = descriptions.join("  ·  ");
        Ok(all)
    }

    /// Whether any point has a confidence interval.
    pub fn has_intervals(&self) -> bool {
        self.points
            .iter()
            .any(|p| p.metrics.values().any(|s| s.ci.is_some()))
    }
}

fn stat_of(v: &ConfidenceStats, runs: usize) -> Option<Stat> {
    let mean = v.get("mean")?;
    let ci = match (v.get("ci_low"), v.get("ci_high")) {
        (Some(lo), Some(hi)) if runs > 1 => Some((lo, hi)),
        _ => None,
    };
    Some(Stat { mean, ci })
}

fn sweep_points(doc: &SweepAggregateFile, series: &str) -> (Vec<Point>, Vec<String>, String) {
    let mut names: Vec<String> = doc.parameter_names();
    let mut points = Vec::new();
    for cell in &doc.per_combination_metrics {
        let runs = cell.num_successful_runs.unwrap_or(1);
        let params: Vec<(String, Value)> = cell
            .parameters
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        for (k, _) in &params {
            if !names.contains(k) {
                names.push(k.clone());
            }
        }
        let mut metrics = BTreeMap::new();
        for (key, v) in &cell.metrics {
            if let Some(stat) = stat_of(v, runs) {
                metrics.insert(key.clone(), stat);
            }
            // AIPerf keys one-trial cells by the bare tag with every statistic inside.
            for s in STAT_KEYS {
                if let Some(x) = v.get(s) {
                    metrics
                        .entry(format!("{key}_{s}"))
                        .or_insert(Stat { mean: x, ci: None });
                }
            }
        }
        points.push(Point {
            params,
            run_label: None,
            series: series.to_string(),
            metrics,
        });
    }
    let runs = doc.num_successful_runs;
    let description = format!("{} cells, {runs} successful runs", points.len());
    (points, names, description)
}

fn run_points(source: &Source, series: &str) -> Result<(Vec<Point>, Vec<String>, String)> {
    let mut points = Vec::new();
    for dir in &source.run_dirs {
        let summary = Summary::read(&dir.join(crate::artifacts::names::PROFILE_EXPORT_JSON))?;
        let mut metrics = BTreeMap::new();
        for (tag, v) in &summary.metrics {
            for s in STAT_KEYS {
                if let Some(x) = v.stat(s) {
                    metrics.insert(format!("{tag}_{s}"), Stat { mean: x, ci: None });
                }
            }
        }
        let label = dir
            .strip_prefix(&source.root)
            .ok()
            .filter(|p| !p.as_os_str().is_empty())
            .map(crate::artifacts::layout::short_label)
            .unwrap_or_else(|| source.name());
        points.push(Point {
            params: vec![],
            run_label: Some(label),
            series: series.to_string(),
            metrics,
        });
    }
    let description = format!("{} runs", points.len());
    Ok((points, vec![], description))
}
