//! Search recipes: declarative YAML files naming the knobs searched, the objective, SLA
//! constraints, the planner, its budget and the analysis written afterwards. Built-ins live in
//! `recipes/` and are embedded in the binary; a user can point at a file of their own.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

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

fn default_avg() -> String {
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

fn default_p95() -> String {
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

fn default_bo_iterations() -> u32 {
    30
}

fn default_initial_points() -> u32 {
    5
}

fn default_patience() -> u32 {
    10
}

fn default_plateau_window() -> u32 {
    8
}

fn default_plateau_threshold() -> f64 {
    0.01
}

fn default_precision() -> f64 {
    0.05
}

fn default_max_iterations() -> u32 {
    12
}

fn default_max_replicates() -> u32 {
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

/// The built-in recipes, embedded from `recipes/`.
pub const BUILT_INS: &[(&str, &str)] = &[
    (
        "max-throughput-ttft-sla",
        include_str!("../../recipes/max-throughput-ttft-sla.yaml"),
    ),
    (
        "max-throughput-itl-sla",
        include_str!("../../recipes/max-throughput-itl-sla.yaml"),
    ),
    (
        "max-concurrency-under-sla",
        include_str!("../../recipes/max-concurrency-under-sla.yaml"),
    ),
    (
        "max-goodput-under-slo",
        include_str!("../../recipes/max-goodput-under-slo.yaml"),
    ),
    (
        "concurrency-ramp",
        include_str!("../../recipes/concurrency-ramp.yaml"),
    ),
    (
        "prefill-ttft-curve",
        include_str!("../../recipes/prefill-ttft-curve.yaml"),
    ),
    (
        "decode-itl-curve",
        include_str!("../../recipes/decode-itl-curve.yaml"),
    ),
    (
        "pareto-sweep",
        include_str!("../../recipes/pareto-sweep.yaml"),
    ),
];

/// Parses a recipe text (YAML), checking it against the recipe schema first.
pub fn parse(text: &str, origin: &str) -> Result<Recipe, String> {
    let doc = crate::spec::yaml::parse(text)
        .map_err(|(pos, m)| format!("{origin}:{}:{}: invalid YAML: {m}", pos.line, pos.col))?;
    let recipe: Recipe = serde_path_to_error::deserialize(doc.value.clone()).map_err(|e| {
        let path = e.path().to_string();
        let pos = doc.position(&crate::spec::load::dotted_to_pointer(&path));
        format!(
            "{origin}:{}:{}: {path}: {}",
            pos.line,
            pos.col,
            e.into_inner()
        )
    })?;
    validate(&recipe).map_err(|problems| {
        problems
            .iter()
            .map(|p| format!("{origin}: {p}"))
            .collect::<Vec<_>>()
            .join("\n")
    })?;
    Ok(recipe)
}

/// Checks one knob: a path or paired paths, and bounds or values that make sense.
pub fn validate_knob(knob: &Knob) -> Vec<String> {
    let mut problems = Vec::new();
    if knob.path.is_some() != knob.paths.is_empty() {
        problems.push("give exactly one of `path` and `paths`".to_string());
    }
    if !knob.paths.is_empty() && knob.values.is_empty() {
        problems.push("paired `paths` need explicit `values`".into());
    }
    if knob.values.is_empty() {
        match (knob.lo, knob.hi) {
            (Some(lo), Some(hi)) if lo <= hi && (knob.scale == KnobScale::Linear || lo > 0.0) => {}
            (Some(lo), Some(hi)) => problems.push(format!(
                "bounds [{lo}, {hi}] are invalid for a {:?} scale",
                knob.scale
            )),
            _ => problems.push("give `lo` and `hi`, or `values`".into()),
        }
    }
    problems
}

/// Checks a recipe's internal consistency.
pub fn validate(recipe: &Recipe) -> Result<(), Vec<String>> {
    let mut problems = Vec::new();
    if recipe.knobs.is_empty() {
        problems.push("a recipe needs at least one knob".to_string());
    }
    for (i, knob) in recipe.knobs.iter().enumerate() {
        problems.extend(
            validate_knob(knob)
                .into_iter()
                .map(|p| format!("knobs[{i}]: {p}")),
        );
    }
    let thresholds = recipe
        .constraints
        .iter()
        .map(|c| (&c.metric, &c.threshold))
        .chain(recipe.slos.iter());
    for (metric, threshold) in thresholds {
        if let Threshold::Sla { sla } = threshold
            && !recipe.sla_parameters.contains_key(sla)
        {
            problems.push(format!("the threshold of {metric} uses SLA parameter '{sla}', which `sla_parameters` does not declare"));
        }
    }
    for tag in recipe.slos.keys() {
        if let Err(e) = crate::spec::check_slo_tag(tag) {
            problems.push(format!("slos: {e}"));
        }
    }
    let tags = [recipe.objective.as_ref().map(|o| o.metric.as_str())]
        .into_iter()
        .flatten()
        .chain(recipe.constraints.iter().map(|c| c.metric.as_str()));
    for tag in tags {
        if let Err(e) = crate::metrics::MetricId::parse(tag) {
            problems.push(e);
        }
    }
    if let PlannerSpec::Boundary {
        precision,
        max_iterations,
        ..
    } = &recipe.planner
    {
        if recipe.knobs.len() != 1 || recipe.knobs[0].path.is_none() {
            problems.push("the boundary planner searches exactly one knob with a `path`".into());
        }
        if recipe.constraints.is_empty() {
            problems.push("the boundary planner needs at least one constraint".into());
        }
        if !(*precision > 0.0 && *precision < 1.0) {
            problems.push(format!(
                "planner.precision must be between 0 and 1, got {precision}"
            ));
        }
        if *max_iterations < 2 {
            problems.push("planner.max_iterations must be at least 2".into());
        }
    }
    if let PlannerSpec::Bayesian {
        max_iterations,
        initial_points,
        plateau_threshold,
        ..
    } = &recipe.planner
    {
        if recipe.objective.is_none() {
            problems.push("the bayesian planner needs an `objective`".into());
        }
        if recipe
            .knobs
            .iter()
            .any(|k| k.path.is_none() || !k.values.is_empty())
        {
            problems.push(
                "the bayesian planner searches knobs with a `path` and bounds (no `values`)".into(),
            );
        }
        if !(2..=200).contains(max_iterations) {
            problems.push(format!(
                "planner.max_iterations must be between 2 and 200, got {max_iterations}"
            ));
        }
        if *initial_points == 0 || initial_points >= max_iterations {
            problems.push(format!(
                "planner.initial_points must be at least 1 and below max_iterations ({max_iterations}), got {initial_points}"
            ));
        }
        if plateau_threshold.is_nan() || *plateau_threshold < 0.0 {
            problems.push(format!(
                "planner.plateau_threshold must be >= 0, got {plateau_threshold}"
            ));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

/// The recipe with a sweep's planner choice and budget applied, and its constraint thresholds
/// resolved from the user's SLA values (constraints on values not given are dropped).
pub fn restyle(
    mut recipe: Recipe,
    style: Option<crate::spec::experiment::SearchStyle>,
    max_iterations: Option<u32>,
    initial_points: Option<u32>,
    sla: &BTreeMap<String, f64>,
) -> Result<Recipe, String> {
    use crate::spec::experiment::SearchStyle;
    // A style the recipe already has keeps the recipe's own settings.
    match (style, &recipe.planner) {
        (Some(SearchStyle::Grid), p) if *p != PlannerSpec::Grid => {
            recipe.planner = PlannerSpec::Grid;
            for knob in &mut recipe.knobs {
                knob.steps = knob.steps.or(Some(8));
            }
            if recipe.analysis.is_none() && !recipe.constraints.is_empty() {
                recipe.analysis = Some(AnalysisSpec::SlaBreach);
            }
        }
        (Some(SearchStyle::Boundary), p) if !matches!(p, PlannerSpec::Boundary { .. }) => {
            recipe.planner = PlannerSpec::Boundary {
                precision: default_precision(),
                max_iterations: default_max_iterations(),
                max_replicates: default_max_replicates(),
            };
        }
        (Some(SearchStyle::Bayesian), p) if !matches!(p, PlannerSpec::Bayesian { .. }) => {
            recipe.planner = PlannerSpec::Bayesian {
                max_iterations: default_bo_iterations(),
                initial_points: default_initial_points(),
                patience: default_patience(),
                plateau_window: default_plateau_window(),
                plateau_threshold: default_plateau_threshold(),
                max_replicates: 0,
            };
        }
        _ => {}
    }
    match &mut recipe.planner {
        PlannerSpec::Grid if max_iterations.is_some() || initial_points.is_some() => {
            return Err(format!(
                "`max_iterations` and `initial_points` apply to adaptive searches; recipe '{}' runs a grid",
                recipe.name
            ));
        }
        PlannerSpec::Boundary { .. } if initial_points.is_some() => {
            return Err(
                "`initial_points` applies to the bayesian planner, not the boundary planner".into(),
            );
        }
        PlannerSpec::Boundary {
            max_iterations: m, ..
        } => *m = max_iterations.unwrap_or(*m),
        PlannerSpec::Bayesian {
            max_iterations: m,
            initial_points: i,
            ..
        } => {
            *m = max_iterations.unwrap_or(*m);
            *i = initial_points.unwrap_or(*i);
        }
        PlannerSpec::Grid => {}
    }
    validate(&recipe).map_err(|p| p.join("; "))?;
    // Thresholds are resolved after validation, so a missing SLA value is reported as such (by
    // the planner's SLA check) rather than as a recipe without constraints.
    let slos: Vec<(String, f64)> = recipe
        .slos
        .iter()
        .filter_map(|(tag, t)| Some((tag.clone(), threshold_value(&recipe, t, sla)?)))
        .collect();
    for (tag, value) in slos {
        recipe.slos.insert(tag.clone(), Threshold::Value(value));
        recipe
            .fixed
            .insert(format!("slos.{tag}"), Value::from(value));
    }
    recipe.constraints = resolve_constraints(&recipe, sla)
        .into_iter()
        .map(|s| Constraint {
            metric: s.metric,
            stat: s.stat,
            op: s.op,
            threshold: Threshold::Value(s.threshold),
        })
        .collect();
    Ok(recipe)
}

/// The constraints with thresholds resolved from the user's SLA values; constraints on SLA values
/// the user did not give are dropped (the recipe's `required` rules are checked by the caller).
pub fn resolve_constraints(
    recipe: &Recipe,
    sla: &BTreeMap<String, f64>,
) -> Vec<super::verdict::Sla> {
    recipe
        .constraints
        .iter()
        .filter_map(|c| {
            let threshold = threshold_value(recipe, &c.threshold, sla)?;
            Some(super::verdict::Sla {
                metric: c.metric.clone(),
                stat: c.stat.clone(),
                op: c.op,
                threshold,
            })
        })
        .collect()
}

/// A threshold's value: fixed, the user's SLA value, or the SLA parameter's default.
fn threshold_value(recipe: &Recipe, t: &Threshold, sla: &BTreeMap<String, f64>) -> Option<f64> {
    match t {
        Threshold::Value(v) => Some(*v),
        Threshold::Sla { sla: name } => sla
            .get(name)
            .copied()
            .or_else(|| recipe.sla_parameters.get(name)?.default),
    }
}

/// Loads a built-in recipe by name, or a recipe file by path.
pub fn load(name_or_path: &str) -> Result<Recipe, String> {
    if let Some((_, text)) = BUILT_INS.iter().find(|(n, _)| *n == name_or_path) {
        return parse(text, &format!("recipes/{name_or_path}.yaml"));
    }
    let path = Path::new(name_or_path);
    if path.is_file() {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        return parse(&text, &path.display().to_string());
    }
    let hint = crate::suggest::closest(name_or_path, BUILT_INS.iter().map(|(n, _)| *n))
        .map(|s| format!(" (did you mean '{s}'?)"))
        .unwrap_or_default();
    Err(format!(
        "no recipe named '{name_or_path}'{hint}; built-ins: {} (or give a recipe file path)",
        BUILT_INS
            .iter()
            .map(|(n, _)| *n)
            .collect::<Vec<_>>()
            .join(", ")
    ))
}

/// The recipe schema as committed in `schemas/recipe.schema.json`.
pub fn schema_text() -> String {
    let mut text = serde_json::to_string_pretty(&schemars::schema_for!(Recipe)).unwrap_or_default();
    text.push('\n');
    text
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_built_in_parses_and_validates() {
        for (name, _) in BUILT_INS {
            let r = load(name).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(&r.name, name);
        }
    }

    #[test]
    fn log_grids_match_aiperfs_steps() {
        let knob = |lo: f64, hi: f64, steps: u32| Knob {
            path: Some("concurrency".into()),
            paths: vec![],
            lo: Some(lo),
            hi: Some(hi),
            kind: KnobKind::Int,
            scale: KnobScale::Log,
            steps: Some(steps),
            values: vec![],
        };
        let ints = |k: Knob| {
            grid_values(&k)
                .iter()
                .map(|v| v.as_i64().unwrap())
                .collect::<Vec<_>>()
        };
        assert_eq!(
            ints(knob(1.0, 1000.0, 8)),
            [1, 3, 7, 19, 52, 139, 373, 1000]
        );
        assert_eq!(
            ints(knob(256.0, 32768.0, 8)),
            [256, 512, 1024, 2048, 4096, 8192, 16384, 32768]
        );
        assert_eq!(ints(knob(1.0, 200.0, 6)), [1, 3, 8, 24, 69, 200]);
        assert_eq!(ints(knob(64.0, 1024.0, 4)), [64, 161, 406, 1024]);
        let mut k = knob(0.0, 1.0, 3);
        k.kind = KnobKind::Real;
        k.scale = KnobScale::Linear;
        assert_eq!(grid_values(&k), vec![json!(0.0), json!(0.5), json!(1.0)]);
    }

    #[test]
    fn committed_schema_is_fresh() {
        let committed = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/schemas/recipe.schema.json"
        ))
        .unwrap_or_default();
        assert!(
            committed == schema_text(),
            "schemas/recipe.schema.json is stale: regenerate it with `cargo run -- schema recipe > schemas/recipe.schema.json`"
        );
    }

    #[test]
    fn unknown_names_get_suggestions() {
        let err = load("concurrency-rmap").unwrap_err();
        assert!(err.contains("did you mean 'concurrency-ramp'"), "{err}");
    }
}
