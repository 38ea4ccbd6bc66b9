//! Planning from a search recipe: the cells of a grid-planned recipe, and the adaptive plan of a
//! search, with the recipe's SLA values and knob-bound overrides checked.

use super::{AdaptivePlan, CellDraft, dedupe, format_value, resolve_cell, short_names};
use crate::spec::load::{LoadedExperiment, SpecError};
use crate::spec::paths;
use serde_json::{Map, Value};

/// Checks the SLA values given against the recipe's declared ones.
fn check_recipe_sla(
    loaded: &LoadedExperiment,
    recipe: &crate::spec::recipe::Recipe,
    sweep: &crate::spec::experiment::SweepSpec,
    errors: &mut Vec<SpecError>,
) {
    for (param, p) in &recipe.sla_parameters {
        if p.required && !sweep.sla.contains_key(param) {
            errors.push(loaded.error_at(
                "sweep.sla",
                format!(
                    "recipe '{}' needs sla.{param} ({})",
                    recipe.name, p.description
                ),
            ));
        }
    }
    for key in sweep.sla.keys() {
        if !recipe.sla_parameters.contains_key(key) {
            let known: Vec<&str> = recipe.sla_parameters.keys().map(String::as_str).collect();
            let known = if known.is_empty() {
                "none".to_string()
            } else {
                known.join(", ")
            };
            errors.push(loaded.error_at(
                &format!("sweep.sla.{key}"),
                format!(
                    "recipe '{}' takes no SLA value '{key}' (it takes: {known})",
                    recipe.name
                ),
            ));
        }
    }
    if recipe.require_any_sla && sweep.sla.is_empty() {
        let names: Vec<&str> = recipe.sla_parameters.keys().map(String::as_str).collect();
        errors.push(loaded.error_at(
            "sweep",
            format!(
                "recipe '{}' needs at least one SLA value in `sla:` ({})",
                recipe.name,
                names.join(", ")
            ),
        ));
    }
    for (key, value) in &sweep.sla {
        // Fractions and percentages have a ceiling; a limit above it is an SLA nothing can miss
        // (or, for an attainment fraction, one nothing can meet).
        let (ceiling, what) = if key.ends_with("_fraction") {
            (1.0, "a fraction from 0 to 1")
        } else if key.ends_with("_pct") {
            (100.0, "a percentage from 0 to 100")
        } else {
            (f64::MAX, "a non-negative number")
        };
        if !(value.is_finite() && *value >= 0.0 && *value <= ceiling) {
            errors.push(loaded.error_at(
                &format!("sweep.sla.{key}"),
                format!("sla.{key} must be {what}, got {value}"),
            ));
        }
    }
}

/// The adaptive plan of a boundary-planned recipe.
pub(super) fn adaptive_plan(
    loaded: &LoadedExperiment,
    sweep: &crate::spec::experiment::SweepSpec,
) -> Result<AdaptivePlan, Vec<SpecError>> {
    use crate::search::space::Dim;
    let recipe = match crate::plan::recipe_catalogue::sweep_recipe(sweep) {
        Some(r) => r.map_err(|e| vec![loaded.error_at("sweep.recipe", e)])?,
        None => return Err(vec![loaded.error_at("sweep", "internal: no recipe")]),
    };
    let mut errors = Vec::new();
    if !sweep.parameters.is_empty() || !sweep.runs.is_empty() {
        errors.push(loaded.error_at(
            "sweep.recipe",
            "a recipe chooses the cells itself: remove `parameters` and `runs`",
        ));
    }
    check_recipe_sla(loaded, &recipe, sweep, &mut errors);
    let mut dims = Vec::new();
    let mut used_overrides = std::collections::HashSet::new();
    for knob in &recipe.knobs {
        let mut knob = knob.clone();
        let path = paths::canonical_path(knob.path.as_deref().unwrap_or_default());
        let leaf = paths::leaf(&path).to_string();
        for (key, o) in &sweep.knobs {
            if paths::canonical_path(key) == path || key == &leaf {
                used_overrides.insert(key.clone());
                knob.lo = o.lo.or(knob.lo);
                knob.hi = o.hi.or(knob.hi);
            }
        }
        let (lo, hi) = (knob.lo.unwrap_or(1.0), knob.hi.unwrap_or(1.0));
        if !(lo > 0.0 && lo <= hi) {
            errors.push(loaded.error_at(
                "sweep.knobs",
                format!("the bounds of {leaf}, [{lo}, {hi}], need 0 < lo <= hi"),
            ));
        }
        dims.push(Dim::from_knob(&knob, path, leaf));
    }
    for key in sweep.knobs.keys().filter(|k| !used_overrides.contains(*k)) {
        errors.push(loaded.error_at(
            &format!("sweep.knobs.{key}"),
            format!(
                "recipe '{}' has no knob '{key}' (knobs: {})",
                recipe.name,
                dims.iter()
                    .map(|d| d.leaf.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    let draft = CellDraft {
        label: String::new(),
        assignments: vec![],
        overlay: None,
        variables: Map::new(),
        fixed: recipe
            .fixed
            .iter()
            .map(|(k, v)| (paths::canonical_path(k), v.clone()))
            .collect(),
    };
    let seed = loaded
        .experiment
        .random_seed
        .or(loaded.experiment.benchmark.random_seed);
    let base = match resolve_cell(loaded, &draft, seed) {
        Ok((spec, _)) => Some(spec),
        Err(e) => {
            errors.extend(e);
            None
        }
    };
    if let Some(b) = &base
        && recipe.require_streaming
        && !b.endpoint.streaming
    {
        errors.push(loaded.error_at(
            "benchmark.endpoint.streaming",
            format!("recipe '{}' measures TTFT or ITL, which need streamed responses: set endpoint.streaming: true", recipe.name),
        ));
    }
    if !errors.is_empty() {
        return Err(dedupe(errors));
    }
    let base = base.ok_or_else(Vec::new)?;
    let mut base_json = loaded.benchmark_raw.clone();
    for (p, v) in &draft.fixed {
        let _ = paths::set(&mut base_json, p, v.clone());
    }
    // Points are built from this JSON: it names the input file as the base spec does.
    if let Some(path) = &base.dataset().path {
        let _ = paths::set(
            &mut base_json,
            "datasets.0.path",
            Value::from(path.display().to_string()),
        );
    }
    Ok(AdaptivePlan {
        slas: crate::plan::recipe_catalogue::resolve_constraints(&recipe, &sweep.sla),
        dims,
        recipe,
        base,
        base_json,
        seed: sweep.search_seed.or(seed).unwrap_or(0),
    })
}

/// The cells of a grid-planned recipe: the Cartesian product of its knobs' values (paired knobs
/// move together), with the experiment's bound overrides applied.
pub(super) fn recipe_drafts(
    loaded: &LoadedExperiment,
    sweep: &crate::spec::experiment::SweepSpec,
    errors: &mut Vec<SpecError>,
) -> (Vec<CellDraft>, Vec<(String, Vec<Value>)>) {
    use crate::spec::recipe;
    let recipe = match crate::plan::recipe_catalogue::sweep_recipe(sweep) {
        Some(Ok(r)) => r,
        Some(Err(e)) => {
            errors.push(loaded.error_at("sweep.recipe", e));
            return (vec![], vec![]);
        }
        None => return (vec![], vec![]),
    };
    if !sweep.parameters.is_empty() || !sweep.runs.is_empty() {
        errors.push(loaded.error_at(
            "sweep.recipe",
            "a recipe chooses the cells itself: remove `parameters` and `runs`",
        ));
    }
    check_recipe_sla(loaded, &recipe, sweep, errors);
    // Each knob becomes a list of alternatives, each alternative one value per path.
    let mut dims: Vec<(Vec<String>, Vec<Vec<Value>>)> = Vec::new();
    let mut used_overrides = std::collections::HashSet::new();
    for knob in &recipe.knobs {
        let mut knob = knob.clone();
        let knob_paths: Vec<String> = match &knob.path {
            Some(p) => vec![paths::canonical_path(p)],
            None => knob
                .paths
                .iter()
                .map(|p| paths::canonical_path(p))
                .collect(),
        };
        for (key, o) in &sweep.knobs {
            if knob_paths
                .iter()
                .any(|p| *p == paths::canonical_path(key) || paths::leaf(p) == key)
            {
                used_overrides.insert(key.clone());
                knob.lo = o.lo.or(knob.lo);
                knob.hi = o.hi.or(knob.hi);
                knob.steps = o.steps.or(knob.steps);
                if !o.values.is_empty() {
                    knob.values = o.values.clone();
                }
            }
        }
        let problems = crate::plan::recipe_catalogue::validate_knob(&knob);
        if !problems.is_empty() {
            errors.extend(
                problems
                    .into_iter()
                    .map(|p| loaded.error_at("sweep.knobs", p)),
            );
            continue;
        }
        let alternatives: Vec<Vec<Value>> = recipe::grid_values(&knob)
            .into_iter()
            .map(|v| {
                if knob_paths.len() > 1 {
                    v.as_array().cloned().unwrap_or_default()
                } else {
                    vec![v]
                }
            })
            .collect();
        if alternatives.iter().any(|a| a.len() != knob_paths.len()) {
            errors.push(loaded.error_at(
                "sweep.knobs",
                format!(
                    "values of the paired knob {} need one entry per path",
                    knob_paths.join(", ")
                ),
            ));
            continue;
        }
        dims.push((knob_paths, alternatives));
    }
    for key in sweep.knobs.keys().filter(|k| !used_overrides.contains(*k)) {
        let leaves: Vec<String> = dims
            .iter()
            .flat_map(|d| d.0.iter().map(|p| paths::leaf(p).to_string()))
            .collect();
        errors.push(loaded.error_at(
            &format!("sweep.knobs.{key}"),
            format!(
                "recipe '{}' has no knob '{key}' (knobs: {})",
                recipe.name,
                leaves.join(", ")
            ),
        ));
    }
    let all_paths: Vec<String> = dims.iter().flat_map(|d| d.0.clone()).collect();
    let shorts = short_names(&all_paths);
    let mut listing: Vec<(String, Vec<Value>)> = Vec::new();
    let mut column = 0;
    for (knob_paths, alternatives) in &dims {
        for k in 0..knob_paths.len() {
            let mut values: Vec<Value> = Vec::new();
            for a in alternatives {
                if !values.contains(&a[k]) {
                    values.push(a[k].clone());
                }
            }
            listing.push((shorts[column].clone(), values));
            column += 1;
        }
    }
    let mut combos: Vec<Vec<(String, Value)>> = vec![vec![]];
    for (knob_paths, alternatives) in &dims {
        combos = combos
            .into_iter()
            .flat_map(|c| {
                alternatives.iter().map(move |alt| {
                    let mut n = c.clone();
                    n.extend(knob_paths.iter().cloned().zip(alt.iter().cloned()));
                    n
                })
            })
            .collect();
    }
    let fixed: Vec<(String, Value)> = recipe
        .fixed
        .iter()
        .map(|(k, v)| (paths::canonical_path(k), v.clone()))
        .collect();
    let short_of =
        |p: &str| shorts[all_paths.iter().position(|q| q == p).unwrap_or(0)].replace('.', "_");
    let drafts = combos
        .into_iter()
        .map(|combo| CellDraft {
            label: combo
                .iter()
                .map(|(p, v)| format!("{}_{}", short_of(p), format_value(v)))
                .collect::<Vec<_>>()
                .join("__"),
            assignments: combo
                .into_iter()
                .map(|(p, v)| (paths::leaf(&p).to_string(), p, v))
                .collect(),
            overlay: None,
            variables: Map::new(),
            fixed: fixed.clone(),
        })
        .collect();
    (drafts, listing)
}
