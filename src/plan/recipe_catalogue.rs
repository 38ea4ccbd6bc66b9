//! The recipe catalogue: the built-in recipes embedded from `recipes/`, reading a recipe file,
//! checking it, applying a sweep's planner choice and resolving its SLA thresholds.

use crate::spec::experiment::{RecipeRef, SweepSpec};
use crate::spec::recipe::*;
use crate::support::problem::Problems;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

crate::sentence_error!(
    /// A recipe that cannot be found, parsed or checked.
    RecipeError
);

/// Loads a sweep's recipe (a name, a path or written in place) with the sweep's planner
/// overrides applied, if the sweep has one.
pub fn sweep_recipe(sweep: &SweepSpec) -> Option<Result<Recipe, RecipeError>> {
    let recipe = resolve(sweep.recipe.as_ref()?);
    Some(recipe.and_then(|r| {
        restyle(
            r,
            sweep.search_style,
            sweep.max_iterations,
            sweep.initial_points,
            &sweep.sla,
        )
    }))
}

/// Loads or returns the recipe a reference names.
pub fn resolve(reference: &RecipeRef) -> Result<Recipe, RecipeError> {
    match reference {
        RecipeRef::Name(name) => load(name),
        RecipeRef::Inline(recipe) => {
            validate(recipe).map_err(|p| p.join("; "))?;
            Ok((**recipe).clone())
        }
    }
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
pub fn parse(text: &str, origin: &str) -> Result<Recipe, RecipeError> {
    let doc = crate::support::yaml::parse(text)
        .map_err(|(pos, m)| format!("{origin}:{}:{}: invalid YAML: {m}", pos.line, pos.col))?;
    let recipe: Recipe = serde_path_to_error::deserialize(doc.value.clone()).map_err(|e| {
        let path = e.path().to_string();
        let pos = doc.position(&crate::support::pointer::dotted_to_pointer(&path));
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
pub fn validate(recipe: &Recipe) -> Result<(), Problems> {
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
            problems.push(e.into());
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
    Problems(problems).into_result()
}

/// The recipe with a sweep's planner choice and budget applied, and its constraint thresholds
/// resolved from the user's SLA values (constraints on values not given are dropped).
pub fn restyle(
    mut recipe: Recipe,
    style: Option<crate::spec::experiment::SearchStyle>,
    max_iterations: Option<u32>,
    initial_points: Option<u32>,
    sla: &BTreeMap<String, f64>,
) -> Result<Recipe, RecipeError> {
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
            ).into());
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
) -> Vec<crate::search::verdict::Sla> {
    recipe
        .constraints
        .iter()
        .filter_map(|c| {
            let threshold = threshold_value(recipe, &c.threshold, sla)?;
            Some(crate::search::verdict::Sla {
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
pub fn load(name_or_path: &str) -> Result<Recipe, RecipeError> {
    if let Some((_, text)) = BUILT_INS.iter().find(|(n, _)| *n == name_or_path) {
        return parse(text, &format!("recipes/{name_or_path}.yaml"));
    }
    let path = Path::new(name_or_path);
    if path.is_file() {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        return parse(&text, &path.display().to_string());
    }
    let hint = crate::support::suggest::closest(name_or_path, BUILT_INS.iter().map(|(n, _)| *n))
        .map(|s| format!(" (did you mean '{s}'?)"))
        .unwrap_or_default();
    Err(format!(
        "no recipe named '{name_or_path}'{hint}; built-ins: {} (or give a recipe file path)",
        BUILT_INS
            .iter()
            .map(|(n, _)| *n)
            .collect::<Vec<_>>()
            .join(", ")
    )
    .into())
}

/// The recipe schema as committed in `schemas/recipe.schema.json`.
pub fn schema_text() -> String {
    let mut text = serde_json::to_string_pretty(&schemars::schema_for!(Recipe)).unwrap_or_default();
    text.push('\n');
    text
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
        assert!(err.0.contains("did you mean 'concurrency-ramp'"), "{err}");
    }
}
