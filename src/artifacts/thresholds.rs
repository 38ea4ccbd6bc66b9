//! `thresholds.json`: how every threshold of a run or experiment was judged, written by the
//! CI gate into the result directory before the upload (so it is uploaded too).

use crate::spec::thresholds::Comparison;
use serde::{Deserialize, Serialize};

/// One threshold judged on one scope (the run, or one cell of an experiment).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThresholdResult {
    /// `run` for a single run, else the cell's label (`concurrency_8`).
    pub scope: String,
    /// The threshold as written back (`time_to_first_token.p99 < 200`).
    pub threshold: String,
    /// The metric's tag.
    pub metric: String,
    /// The statistic judged (`avg` for a per-run metric).
    pub stat: String,
    /// The comparison.
    pub op: Comparison,
    /// The limit, in `unit`.
    pub limit: f64,
    /// The metric's display unit, when a result carried the metric.
    pub unit: Option<String>,
    /// The value judged (the run's value, the trials' mean, or a confidence bound); `None`
    /// when the results hold no finite value of it, which fails the threshold.
    pub observed: Option<f64>,
    /// How `observed` was obtained, in words ("mean of 3 trials").
    pub rule: String,
    /// Trials whose results were judged.
    pub trials: usize,
    /// Of those, trials that say the client, not the server, limited them: a latency that
    /// passes still holds for the server (its own is no higher), a failure may be the client's.
    #[serde(default)]
    pub client_bound_trials: usize,
    /// Whether it passed.
    pub passed: bool,
}

/// The whole file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThresholdsFile {
    /// The writer's version.
    pub aiperf_version: String,
    /// Whether every threshold passed on every scope.
    pub passed: bool,
    /// Every judgement, scope by scope in plan order, thresholds in the order given.
    pub results: Vec<ThresholdResult>,
}

impl ThresholdsFile {
    /// Reads the file back.
    pub fn read(path: &std::path::Path) -> Result<Self, super::io::ReadError> {
        super::io::read(path)
    }
}
