//! `compare.json`: what `aiperf compare` found, metric by metric and scope by scope.

use serde::{Deserialize, Serialize};

/// The verdict on one metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Worse, significantly and by more than the margin.
    Regression,
    /// Better, significantly and by more than the margin.
    Improvement,
    /// Neither: the interval of the change includes zero, or the change is within the margin.
    NoSignificantChange,
    /// No test could be made (one value per run, a statistic the tests cannot judge, a metric
    /// missing on a side); the values are shown.
    NotTested,
}

impl Verdict {
    /// The word the table and Markdown use.
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Regression => "regression",
            Verdict::Improvement => "improvement",
            Verdict::NoSignificantChange => "no significant change",
            Verdict::NotTested => "not tested",
        }
    }
}

/// One metric's comparison in one scope.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricComparison {
    /// `run` for two single runs, else the cell's label.
    pub scope: String,
    /// The metric's tag.
    pub metric: String,
    /// The statistic (`avg` for a per-run metric).
    pub stat: String,
    /// The display unit.
    pub unit: Option<String>,
    /// `lower` or `higher`: which direction is better.
    pub better: String,
    /// The baseline's value.
    pub baseline: Option<f64>,
    /// The candidate's value.
    pub candidate: Option<f64>,
    /// Candidate minus baseline.
    pub change: Option<f64>,
    /// The change in percent of the baseline (`null` when the baseline is 0).
    pub change_pct: Option<f64>,
    /// Lower bound of the confidence interval of the change.
    pub ci_low: Option<f64>,
    /// Upper bound.
    pub ci_high: Option<f64>,
    /// How the interval was obtained, in words.
    pub method: String,
    /// The practical margin: a significant change smaller than this (percent) is no change.
    pub max_regression_pct: f64,
    /// The verdict.
    pub verdict: Verdict,
    /// Why not tested, or a remark on the test.
    pub note: Option<String>,
}

/// The whole file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CompareFile {
    /// The writer's version.
    pub aiperf_version: String,
    /// The baseline directory as given.
    pub baseline: String,
    /// The candidate directory as given.
    pub candidate: String,
    /// Confidence level of every interval.
    pub confidence_level: f64,
    /// Bootstrap resamples.
    pub resamples: usize,
    /// Bootstrap seed.
    pub seed: u64,
    /// Settings that differ between the two (compared anyway with `--allow-different`).
    pub settings_differences: Vec<String>,
    /// Runs (by side and scope) that say the client, not the server, limited them: their
    /// latencies are upper bounds and throughputs lower bounds of the server's, so a change
    /// there may be the client's.
    #[serde(default)]
    pub client_bound: Vec<String>,
    /// Whether any comparison is a regression.
    pub regression: bool,
    /// Every comparison, scope by scope, metrics in the order asked.
    pub comparisons: Vec<MetricComparison>,
}

impl CompareFile {
    /// Reads the file back.
    pub fn read(path: &std::path::Path) -> Result<Self, super::io::ReadError> {
        super::io::read(path)
    }
}
