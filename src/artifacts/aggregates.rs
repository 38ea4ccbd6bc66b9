//! The aggregates an experiment writes from its trials: a cell's confidence statistics
//! (`profile_export_aiperf_aggregate.json`) and the sweep aggregate across cells
//! (`profile_export_aiperf_sweep.json`), in AIPerf's shapes. Read back by plots, recipe
//! analyses and uploads. Tolerant of AIPerf's own sweep files (plots read those too): fields
//! AIPerf may leave out are optional, keys only it writes are kept in `other`.

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

impl Default for ConfidenceStats {
    fn default() -> Self {
        Self {
            mean: None,
            std: None,
            min: None,
            max: None,
            cv: None,
            se: None,
            ci_low: None,
            ci_high: None,
            t_critical: None,
            unit: String::new(),
            other: Map::new(),
        }
    }
}

/// Cross-run statistics of one `<tag>_<stat>` key. Each statistic is `None` when the file
/// leaves it out (a single-trial sweep cell has only `mean` and `unit`) and `Some(None)` when it
/// is `null` (not finite), so a file reads back and writes again as it was.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ConfidenceStats {
    /// Mean across runs.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "present")]
    pub mean: Option<Option<f64>>,
    /// Sample standard deviation.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "present")]
    pub std: Option<Option<f64>>,
    /// Smallest run value.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "present")]
    pub min: Option<Option<f64>>,
    /// Largest run value.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "present")]
    pub max: Option<Option<f64>>,
    /// Coefficient of variation.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "present")]
    pub cv: Option<Option<f64>>,
    /// Standard error of the mean.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "present")]
    pub se: Option<Option<f64>>,
    /// Lower confidence bound.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "present")]
    pub ci_low: Option<Option<f64>>,
    /// Upper confidence bound.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "present")]
    pub ci_high: Option<Option<f64>>,
    /// Student-t critical value used.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "present")]
    pub t_critical: Option<Option<f64>>,
    /// The metric's unit.
    pub unit: String,
    /// Statistics only another writer adds (AIPerf's single-trial cells carry `avg`, `p99`...).
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// A trial that failed, by label.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FailedRunRecord {
    /// The trial's directory relative to the experiment.
    pub label: String,
    /// Why.
    pub error: String,
}

/// `profile_export_aiperf_aggregate.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CellAggregateFile {
    /// The format's version.
    pub schema_version: String,
    /// The writer's version.
    pub aiperf_version: String,
    /// Runs, failures and settings.
    pub metadata: CellAggregateMetadata,
    /// Statistics by `<tag>_<stat>`.
    pub metrics: IndexMap<String, ConfidenceStats>,
}

/// The cell aggregate's `metadata`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CellAggregateMetadata {
    /// `confidence`.
    pub aggregation_type: String,
    /// Runs attempted.
    pub num_profile_runs: usize,
    /// Runs that succeeded.
    pub num_successful_runs: usize,
    /// Runs that failed.
    pub failed_runs: Vec<FailedRunRecord>,
    /// The confidence level of the intervals.
    pub confidence_level: f64,
    /// The successful runs' labels.
    pub run_labels: Vec<String>,
    /// Pause between runs.
    pub cooldown_seconds: f64,
    /// Set when only one run succeeded (the interval is degenerate).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub single_run: Option<bool>,
    /// Why a single run's spread is zero.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// `profile_export_aiperf_sweep.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepAggregateFile {
    /// `sweep`.
    #[serde(default)]
    pub aggregation_type: String,
    /// Runs attempted across cells.
    #[serde(default)]
    pub num_profile_runs: usize,
    /// Runs that succeeded.
    #[serde(default)]
    pub num_successful_runs: usize,
    /// Runs that failed.
    #[serde(default)]
    pub failed_runs: Vec<FailedRunRecord>,
    /// What was swept and how.
    #[serde(default)]
    pub metadata: SweepMetadata,
    /// One entry per cell.
    pub per_combination_metrics: Vec<CombinationMetrics>,
    /// The best cell by throughput and by latency.
    #[serde(default)]
    pub best_configurations: IndexMap<String, BestConfiguration>,
    /// The parameters of the cells on the throughput/latency Pareto front.
    #[serde(default)]
    pub pareto_optimal: Vec<Map<String, Value>>,
}

/// The sweep aggregate's `metadata`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SweepMetadata {
    /// The swept parameters with their values, in declaration order.
    #[serde(default)]
    pub sweep_parameters: Vec<SweepParameter>,
    /// Cells.
    #[serde(default)]
    pub num_combinations: usize,
    /// `sweep`.
    #[serde(default)]
    pub aggregation_type: String,
    /// `repeated` or `independent`.
    #[serde(default)]
    pub sweep_mode: Option<String>,
    /// The confidence level of the intervals.
    #[serde(default)]
    pub confidence_level: Option<f64>,
    /// Repetitions per cell.
    #[serde(default)]
    pub num_trials_per_value: Option<u32>,
    /// The keys the Pareto front trades off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pareto_axes: Option<ParetoAxes>,
    /// Keys only another writer adds (AIPerf's `sla_constraints`).
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// One swept parameter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepParameter {
    /// Its short name.
    pub name: String,
    /// Its values.
    pub values: Vec<Value>,
}

/// The axes of the Pareto front.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParetoAxes {
    /// The key maximised.
    pub maximize: String,
    /// The key minimised (none when no cell has a latency).
    pub minimize: Option<String>,
}

/// One cell of the sweep.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CombinationMetrics {
    /// The cell's swept values.
    pub parameters: Map<String, Value>,
    /// Its successful runs (AIPerf does not write it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub num_successful_runs: Option<usize>,
    /// Its statistics by `<tag>_<stat>` (AIPerf's single-trial cells: by `<tag>`).
    pub metrics: IndexMap<String, ConfidenceStats>,
}

impl SweepAggregateFile {
    /// The swept parameters' names, in declaration order.
    pub fn parameter_names(&self) -> Vec<String> {
        self.metadata
            .sweep_parameters
            .iter()
            .map(|p| p.name.clone())
            .collect()
    }
}

impl ConfidenceStats {
    /// A statistic by name: the cross-run `mean`, `min`, `max`, `std`, ..., or one only another
    /// writer adds (`avg`, `p99`); `None` when absent or not finite.
    pub fn get(&self, stat: &str) -> Option<f64> {
        let v = match stat {
            "mean" => self.mean.flatten(),
            "std" => self.std.flatten(),
            "min" => self.min.flatten(),
            "max" => self.max.flatten(),
            "cv" => self.cv.flatten(),
            "se" => self.se.flatten(),
            "ci_low" => self.ci_low.flatten(),
            "ci_high" => self.ci_high.flatten(),
            "t_critical" => self.t_critical.flatten(),
            other => self.other.get(other).and_then(Value::as_f64),
        };
        v.filter(|x| x.is_finite())
    }
}

impl CombinationMetrics {
    /// The cross-run mean of a key.
    pub fn mean(&self, key: &str) -> Option<f64> {
        self.metrics.get(key)?.get("mean")
    }
}

/// A best cell.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BestConfiguration {
    /// Its swept values.
    pub parameters: Map<String, Value>,
    /// Its value of the key it is best at.
    pub metric: Option<f64>,
    /// That key's unit.
    pub unit: String,
    /// The key, where it is not implied by the name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric_key: Option<String>,
}

/// A statistic that may be absent (`None`), `null` (`Some(None)`) or a number.
mod present {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(v: &Option<Option<f64>>, s: S) -> Result<S::Ok, S::Error> {
        v.flatten().serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<f64>>, D::Error> {
        Option::<f64>::deserialize(d).map(Some)
    }
}
