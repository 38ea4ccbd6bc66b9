//! Search recipes as data: the knobs searched, the objective, SLA constraints, the planner, its
//! budget and the analysis written afterwards. Loading, checking and the built-ins are in
//! `plan::recipe_catalogue`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// A recipe.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
#[schemars(title = "aiperf search recipe")]
pub struct Recipe {
    /// Name (`concurrency-ramp`); built-ins are addressed by it.
    pub name: String,
    /// What question the recipe answers, in one or two sentences.
    pub description: String,
    /// SLA values the user supplies (`sla: {ttft_p95_ms: 200}`), by name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub sla_parameters: BTreeMap<String, SlaParameter>,
    /// The dimensions searched; a grid planner takes their Cartesian product.
    pub knobs: Vec<Knob>,
    /// Settings fixed for every trial, by dotted path (e.g. `concurrency: 1`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub fixed: BTreeMap<String, Value>,
    /// Per-request SLOs set on every trial (`benchmark.slos`), for goodput: metric tag → threshold.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub slos: BTreeMap<String, Threshold>,
    /// The metric optimised, for searches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub objective: Option<Objective>,
    /// Constraints every acceptable point meets.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub constraints: Vec<Constraint>,
    /// How points are chosen.
    pub planner: PlannerSpec,
    /// The analysis written after the trials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub analysis: Option<AnalysisSpec>,
    /// Whether plots are drawn by default after the run.
    #[serde(default)]
    pub auto_plot: bool,
    /// Whether the recipe needs streamed responses (it uses TTFT or ITL).
    #[serde(default)]
    pub require_streaming: bool,
    /// Whether at least one SLA value must be given (when none is individually required).
    #[serde(default)]
    pub require_any_sla: bool,
}

/// An SLA value the user supplies.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SlaParameter {
    /// What it is, with its unit.
    pub description: String,
    /// Whether the recipe cannot run without it.
    #[serde(default)]
    pub required: bool,
    /// The value used when the user gives none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<f64>,
}

/// Integer or real values.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum KnobKind {
    /// Whole numbers (concurrency, token counts).
    #[default]
    Int,
    /// Real numbers (rates).
    Real,
}

/// Spacing of the values between the bounds.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum KnobScale {
    /// Even steps.
    Linear,
    /// Even steps of the logarithm (needs lo > 0).
    #[default]
    Log,
}

/// One dimension: a dotted path with bounds, or explicit values (several paths move together
/// when `paths` is given, each value being a list with one entry per path).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Knob {
    /// Dotted path under `benchmark` (bare names allowed: `concurrency`, `isl`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Several paths set together (paired values), instead of `path`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub paths: Vec<String>,
    /// Lower bound.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lo: Option<f64>,
    /// Upper bound.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hi: Option<f64>,
    /// Integer or real.
    #[serde(default)]
    pub kind: KnobKind,
    /// Linear or log spacing.
    #[serde(default)]
    pub scale: KnobScale,
    /// For a grid: how many values between the bounds (both bounds included).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub steps: Option<u32>,
    /// Explicit values instead of bounds.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<Value>,
}

/// Maximise or minimise.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Larger is better.
    Maximize,
    /// Smaller is better.
    Minimize,
}

/// The metric a search optimises.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Objective {
    /// Metric tag.
    pub metric: String,
    /// Statistic (`avg`, `p50`, `p95`, `p99`, ...).
    #[serde(default = "default_avg")]
    pub stat: String,
    /// Which way is better.
    pub direction: Direction,
}

pub(crate) fn default_avg() -> String {
    "avg".into()
}

/// Comparison of a constraint.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ConstraintOp {
    /// Observed < threshold.
    Lt,
    /// Observed <= threshold.
    Le,
    /// Observed > threshold.
    Gt,
    /// Observed >= threshold.
    Ge,
}

/// A threshold: a number, or the name of an SLA parameter (`{sla: ttft_p95_ms}`).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(untagged)]
pub enum Threshold {
    /// A fixed value.
    Value(f64),
    /// The user's SLA value of this name.
    Sla {
        /// SLA parameter name.
        sla: String,
    },
}

/// A constraint on a metric statistic.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Constraint {
    /// Metric tag.
    pub metric: String,
    /// Statistic.
    #[serde(default = "default_p95")]
    pub stat: String,
    /// Comparison.
    pub op: ConstraintOp,
    /// Threshold.
    pub threshold: Threshold,
}

pub(crate) fn default_p95() -> String {
    "p95".into()
}

/// How points are chosen.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum PlannerSpec {
    /// Every combination of the knobs' values.
    Grid,
    /// For one monotone knob and SLA constraints: exponential bracketing from `lo`, then bisection
    /// between the highest passing and lowest failing points.
    Boundary {
        /// Stop when the gap between them, relative to the failing point, is below this.
        #[serde(default = "default_precision")]
        precision: f64,
        /// Most points measured.
        #[serde(default = "default_max_iterations")]
        max_iterations: u32,
        /// Extra runs allowed at a point whose runs disagree about the SLA.
        #[serde(default = "default_max_replicates")]
        max_replicates: u32,
    },
    /// Efficient Global Optimisation (Gaussian-process surrogate, log expected improvement under
    /// the constraints' models): a space-filling design first, then one proposal per point.
    Bayesian {
        /// Most points measured.
        #[serde(default = "default_bo_iterations")]
        max_iterations: u32,
        /// Points of the initial space-filling design.
        #[serde(default = "default_initial_points")]
        initial_points: u32,
        /// Stop after this many points without a better feasible objective.
        #[serde(default = "default_patience")]
        patience: u32,
        /// Points in the plateau window.
        #[serde(default = "default_plateau_window")]
        plateau_window: u32,
        /// Stop when the window's objectives vary by less than this (coefficient of variation).
        #[serde(default = "default_plateau_threshold")]
        plateau_threshold: f64,
        /// Extra runs at a point whose runs disagree about an SLA (0: judge by the mean).
        #[serde(default)]
        max_replicates: u32,
    },
}

pub(crate) fn default_bo_iterations() -> u32 {
    30
}

pub(crate) fn default_initial_points() -> u32 {
    5
}

pub(crate) fn default_patience() -> u32 {
    10
}

pub(crate) fn default_plateau_window() -> u32 {
    8
}

pub(crate) fn default_plateau_threshold() -> f64 {
    0.01
}

pub(crate) fn default_precision() -> f64 {
    0.05
}

pub(crate) fn default_max_iterations() -> u32 {
    12
}

pub(crate) fn default_max_replicates() -> u32 {
    3
}

/// The analysis written after the trials (into the sweep aggregate directory).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum AnalysisSpec {
    /// `degradation_knee.json`: the first knob value whose metric exceeds the baseline (the first
    /// point) by more than `threshold_pct`.
    DegradationKnee {
        /// Metric tag.
        metric: String,
        /// Statistic.
        stat: String,
        /// Relative degradation that marks the knee (0.2 = 20%).
        threshold_pct: f64,
    },
    /// `prefill_curve.json`: TTFT against input length, fitted linearly (quadratic if the line fits
    /// poorly).
    PrefillCurve {
        /// Metric tag (TTFT).
        metric: String,
        /// Statistic.
        stat: String,
        /// Below this r² the linear fit is replaced by a quadratic one when it fits better.
        r_squared_floor: f64,
    },
    /// `decode_itl_surface.json`: ITL over a concurrency × output-length grid.
    DecodeItlSurface {
        /// Metric tag (ITL).
        metric: String,
        /// Statistic.
        stat: String,
    },
    /// `sla_breach.json`: for a one-knob grid, which values meet every constraint, the highest
    /// that does, the first that does not and what it broke.
    SlaBreach,
    /// `pareto_sweep.json`: each cell's latency (x, lower is better) and throughput (y, higher is
    /// better), with the Pareto-optimal cells marked.
    ParetoSweep {
        /// x metric tag.
        x_metric: String,
        /// x statistic.
        x_stat: String,
        /// y metric tag.
        y_metric: String,
        /// y statistic.
        y_stat: String,
    },
}

/// Values of a knob for a grid: explicit values, or `steps` values between the bounds (both
/// included; log spacing rounds to integers for int knobs, duplicates removed).
pub fn grid_values(knob: &Knob) -> Vec<Value> {
    if !knob.values.is_empty() {
        return knob.values.clone();
    }
    let (lo, hi) = (knob.lo.unwrap_or(1.0), knob.hi.unwrap_or(1.0));
    let steps = knob.steps.unwrap_or(8).max(2) as usize;
    let mut out: Vec<f64> = (0..steps)
        .map(|i| {
            let t = i as f64 / (steps - 1) as f64;
            match knob.scale {
                KnobScale::Log => (lo.ln() + t * (hi.ln() - lo.ln())).exp(),
                KnobScale::Linear => lo + t * (hi - lo),
            }
        })
        .map(|v| {
            if knob.kind == KnobKind::Int {
                v.round()
            } else {
                v
            }
        })
        .collect();
    out[0] = lo;
    out[steps - 1] = hi;
    out.dedup_by(|a, b| (*a - *b).abs() < 1e-9);
    out.into_iter()
        .map(|v| {
            if knob.kind == KnobKind::Int {
                Value::from(v as i64)
            } else {
                serde_json::Number::from_f64(v)
                    .map(Value::Number)
                    .unwrap_or(Value::Null)
            }
        })
        .collect()
}
