//! The experiment file: the root of `aiperf run FILE`. It wraps one [`BenchmarkSpec`] (the same
//! type `aiperf profile` flags build) with a sweep, repetitions and variables. Keys follow
//! AIPerf's config v2; camelCase and snake_case are both accepted.

use super::BenchmarkSpec;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// An experiment: a base benchmark, optionally swept over parameters and repeated.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
#[schemars(title = "aiperf experiment")]
pub struct Experiment {
    /// Format version; "2.0" (AIPerf config v2) is the only one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema_version: Option<String>,
    /// The base benchmark every trial starts from.
    pub benchmark: BenchmarkSpec,
    /// Parameters to vary across trials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sweep: Option<SweepSpec>,
    /// Repetitions of every cell and how they are aggregated.
    #[serde(default)]
    pub multi_run: MultiRunSpec,
    /// Values substituted for `{{ name }}` in benchmark strings; sweepable as `variables.NAME`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub variables: BTreeMap<String, Value>,
    /// Base seed; trial cell N uses seed + N (all repetitions of a cell share its seed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub random_seed: Option<u64>,
    /// Compare the results with a baseline's when the experiment ends (docs/ci.md); a
    /// regression makes `aiperf run` exit 10.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compare: Option<CompareSpec>,
}

/// The one-step CI gate: the baseline and how to compare with it (`aiperf compare`'s flags).
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CompareSpec {
    /// The baseline: a result directory (a relative path is from the current directory, as
    /// `artifacts.dir`), or `wandb:ENTITY/PROJECT/RUN_ID`, a W&B run aiperf uploaded,
    /// downloaded before the run starts.
    pub baseline: std::path::PathBuf,
    /// The practical margin: `5%`, or a list with per-metric entries (`time_to_first_token.p99=10%`).
    #[serde(
        default,
        deserialize_with = "super::forms::one_or_many",
        skip_serializing_if = "Vec::is_empty"
    )]
    #[schemars(with = "super::forms::OneOrMany<String>")]
    pub max_regression: Vec<String>,
    /// Metrics to compare (`tag.stat`); default TTFT p99, ITL p99, request latency p99, output
    /// token throughput and the error rate.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub metrics: Vec<String>,
    /// Confidence level of the intervals (0.5-0.999, default 0.95).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confidence_level: Option<f64>,
    /// Compare even when settings differ from the baseline's.
    #[serde(default)]
    pub allow_different: bool,
}

/// How sweep parameters combine.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum SweepType {
    /// Cartesian product, first parameter outermost.
    #[default]
    Grid,
    /// Element-wise: the i-th values of every parameter together (equal lengths).
    Zip,
    /// Named runs, each with its own overrides.
    Scenarios,
    /// A search or recipe grid chosen by `recipe` (written in place or named).
    AdaptiveSearch,
}

/// A recipe: a built-in name or file path, or the recipe itself written in place.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(untagged)]
pub enum RecipeRef {
    /// A built-in name (`max-throughput-ttft-sla`) or a recipe file path.
    Name(String),
    /// A recipe written in place (the format of `schemas/recipe.schema.json`).
    Inline(Box<super::recipe::Recipe>),
}

/// The values of a swept parameter: a list, or a range.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(untagged)]
pub enum SweepValues {
    /// Explicit values.
    List(Vec<Value>),
    /// Geometric range: from, from·times, from·times², … up to `to` (inclusive).
    Geometric {
        /// First value.
        from: f64,
        /// Last value (inclusive bound).
        to: f64,
        /// Factor between consecutive values (> 1).
        times: f64,
    },
    /// Linear range: from, from+step, … up to `to` (inclusive).
    Linear {
        /// First value.
        from: f64,
        /// Last value (inclusive bound).
        to: f64,
        /// Increment (> 0).
        step: f64,
    },
}

/// One named scenario of a `scenarios` sweep.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ScenarioRun {
    /// Unique, path-safe name (used as the trial directory name).
    pub name: String,
    /// Parameter overrides by dotted path (`concurrency: 8`, `endpoint.streaming: false`).
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    #[schemars(with = "BTreeMap<String, Value>")]
    pub values: Map<String, Value>,
    /// A partial `benchmark:` body deep-merged over the base.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    #[schemars(with = "BTreeMap<String, Value>")]
    pub benchmark: Map<String, Value>,
    /// Variable overrides for this scenario.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub variables: BTreeMap<String, Value>,
}

/// The sweep.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SweepSpec {
    /// How parameters combine (default grid).
    #[serde(rename = "type", default)]
    pub sweep_type: SweepType,
    /// Swept parameters by dotted path under `benchmark` (`phases.profiling.concurrency`,
    /// `datasets.main.prompts.isl`, `endpoint.streaming`, `variables.NAME`), or a bare name for a
    /// profiling-phase field (`concurrency`, `rate`, `requests`, `duration`, `grace_period`) or a
    /// prompt length (`isl`, `osl`). In declaration order; the first is the outermost loop.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    #[schemars(with = "BTreeMap<String, SweepValues>")]
    pub parameters: Map<String, Value>,
    /// The runs of a `scenarios` sweep.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub runs: Vec<ScenarioRun>,
    /// Seconds to wait between cells.
    #[serde(default, deserialize_with = "super::forms::seconds")]
    #[schemars(with = "super::forms::DurationForm")]
    pub cooldown_seconds: f64,
    /// A search recipe that chooses the cells instead of `parameters`/`runs`: a built-in name
    /// (see `aiperf recipes list`), a recipe file path, or a recipe written in place.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipe: Option<RecipeRef>,
    /// The recipe's SLA values, e.g. `{ttft_p95_ms: 200}`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub sla: BTreeMap<String, f64>,
    /// Overrides of the recipe's knob bounds, by knob path or its last segment
    /// (`concurrency: {lo: 1, hi: 64, steps: 7}`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub knobs: BTreeMap<String, KnobOverride>,
    /// The planner to use instead of the recipe's (AIPerf's `--search-style`): `boundary`,
    /// `bayesian` or `grid` (a log-spaced grid with `sla_breach.json`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub search_style: Option<SearchStyle>,
    /// Most points an adaptive search measures (overrides the recipe's budget).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_iterations: Option<u32>,
    /// Points of the bayesian planner's initial space-filling design.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initial_points: Option<u32>,
    /// Seed of the bayesian planner (default: the experiment's `random_seed`, else 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub search_seed: Option<u64>,
}

/// A planner chosen for a recipe in place of its own.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum SearchStyle {
    /// Exponential bracketing, then bisection (one monotone knob). AIPerf's `monotonic` and
    /// `smooth_isotonic` are accepted as names for it.
    #[serde(alias = "monotonic", alias = "smooth_isotonic")]
    Boundary,
    /// Gaussian-process Bayesian optimisation. AIPerf's `bo` and `optuna` name it too.
    #[serde(alias = "bo", alias = "optuna")]
    Bayesian,
    /// Every value of a log-spaced grid (the knob's `steps`, default 8), with `sla_breach.json`.
    Grid,
}

/// New bounds or values for a recipe knob.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct KnobOverride {
    /// Lower bound.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lo: Option<f64>,
    /// Upper bound.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hi: Option<f64>,
    /// Number of grid values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub steps: Option<u32>,
    /// Explicit values.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<Value>,
}

/// The order repetitions and cells run in.
#[derive(
    Debug, Clone, Copy, Default, Serialize, Deserialize, JsonSchema, PartialEq, Eq, clap::ValueEnum,
)]
#[serde(rename_all = "snake_case")]
pub enum IterationOrder {
    /// Every cell once, then every cell again (trials outer): drift hits all cells alike.
    #[default]
    Repeated,
    /// All repetitions of a cell, then the next cell (cells outer).
    Independent,
}

/// A criterion that ends a cell's repetitions early.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ConvergenceSpec {
    /// Metric tag, e.g. `time_to_first_token`.
    pub metric: String,
    /// Statistic of the metric (`avg`, `p50`, `p90`, `p95`, `p99`, ...).
    #[serde(default = "default_stat")]
    pub stat: String,
    /// `ci_width`: full CI width (2·t·se) / |mean| below the threshold (AIPerf's rule); `cv`:
    /// std / |mean| below it.
    #[serde(default)]
    pub mode: ConvergenceMode,
    /// Relative threshold in (0, 1), e.g. 0.05.
    pub threshold: f64,
    /// Repetitions always run before the criterion is checked (>= 2).
    #[serde(default = "default_min_runs")]
    pub min_runs: u32,
}

fn default_stat() -> String {
    "avg".into()
}

fn default_min_runs() -> u32 {
    2
}

/// Convergence criteria.
#[derive(
    Debug, Clone, Copy, Default, Serialize, Deserialize, JsonSchema, PartialEq, Eq, clap::ValueEnum,
)]
#[serde(rename_all = "snake_case")]
pub enum ConvergenceMode {
    /// Relative confidence-interval width.
    #[default]
    #[value(name = "ci_width")]
    CiWidth,
    /// Coefficient of variation.
    Cv,
}

/// Repetitions.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct MultiRunSpec {
    /// Trials per cell.
    #[serde(default = "default_num_runs")]
    #[schemars(range(min = 1, max = 1000))]
    pub num_runs: u32,
    /// Confidence level of the intervals, in (0, 1).
    #[serde(default = "default_confidence")]
    pub confidence_level: f64,
    /// Order of trials and cells.
    #[serde(default)]
    pub iteration_order: IterationOrder,
    /// Seconds to wait between trials.
    #[serde(default, deserialize_with = "super::forms::seconds")]
    #[schemars(with = "super::forms::DurationForm")]
    pub cooldown_seconds: f64,
    /// Run warmup phases only in a cell's first trial.
    #[serde(default = "default_true")]
    pub disable_warmup_after_first: bool,
    /// Stop a cell's repetitions once this holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub convergence: Option<ConvergenceSpec>,
}

fn default_num_runs() -> u32 {
    1
}

fn default_confidence() -> f64 {
    0.95
}

fn default_true() -> bool {
    true
}

impl Default for MultiRunSpec {
    fn default() -> Self {
        Self {
            num_runs: 1,
            confidence_level: 0.95,
            iteration_order: IterationOrder::Repeated,
            cooldown_seconds: 0.0,
            disable_warmup_after_first: true,
            convergence: None,
        }
    }
}
