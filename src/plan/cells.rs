//! One sweep cell resolved into its benchmark: the base benchmark with the cell's values,
//! scenario overlay and variables applied, checked like a file; and the errors of many cells
//! reported once each.

use super::{CellDraft, Override};
use crate::spec::BenchmarkSpec;
use crate::spec::load::{LoadedExperiment, SpecError};
use crate::spec::paths;
use serde_json::{Map, Value};

/// Resolves one cell's spec, or reports what is wrong with it.
pub(super) fn resolve_cell(
    loaded: &LoadedExperiment,
    draft: &CellDraft,
    seed: Option<u64>,
) -> Result<(BenchmarkSpec, Vec<Override>), Vec<SpecError>> {
    let exp = &loaded.experiment;
    let cell_name = if draft.label.is_empty() {
        String::new()
    } else {
        format!(" (cell {})", draft.label)
    };
    let mut benchmark = loaded.benchmark_raw.clone();
    let mut variables: Map<String, Value> = exp
        .variables
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    variables.extend(draft.variables.clone());
    if let Some((_, overlay)) = &draft.overlay {
        paths::deep_merge(&mut benchmark, overlay);
    }
    for (path, value) in &draft.fixed {
        if let Err(e) = paths::set(&mut benchmark, path, value.clone()) {
            return Err(vec![loaded.error_at(
                "sweep.recipe",
                format!("the recipe's fixed setting {path}: {e}"),
            )]);
        }
    }
    let mut errors = Vec::new();
    let mut overrides = Vec::new();
    for (written, path, value) in &draft.assignments {
        let base = match path.strip_prefix("variables.") {
            Some(var) => variables.get(var).cloned(),
            None => paths::get(&benchmark, path),
        };
        overrides.push((path.clone(), base, value.clone()));
        let scenario = draft.overlay.as_ref().map(|(i, _)| *i);
        if let Some(var) = path.strip_prefix("variables.") {
            variables.insert(var.to_string(), value.clone());
        } else if let Err(e) = paths::set(&mut benchmark, path, value.clone()) {
            errors.push(parameter_error(loaded, written, scenario, e));
        }
    }
    if let Err(e) = paths::substitute_benchmark_variables(&mut benchmark, &variables) {
        errors.push(loaded.error_at("benchmark", format!("{e}{cell_name}")));
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let mut spec: BenchmarkSpec = serde_path_to_error::deserialize(benchmark).map_err(|e| {
        let inner_path = e.path().to_string();
        let message = format!("{}{cell_name}", e.into_inner());
        // A problem under a key a sweep value set is that sweep parameter's problem.
        let leaf = inner_path
            .rsplit('.')
            .next()
            .unwrap_or("")
            .split('[')
            .next()
            .unwrap_or("")
            .to_string();
        let culprit = draft.assignments.iter().find(|(_, path, _)| {
            paths::leaf(path) == leaf
                    || inner_path.ends_with(path.as_str())
                    // `bogus.thing` fails at `bogus`: the swept path runs through the bad key.
                    || path.starts_with(&format!("{inner_path}."))
        });
        match culprit {
            Some((written, _, _)) => vec![parameter_error(
                loaded,
                written,
                draft.overlay.as_ref().map(|(i, _)| *i),
                message,
            )],
            None => vec![loaded.error_at(&format!("benchmark.{inner_path}"), message)],
        }
    })?;
    if seed.is_some() {
        spec.random_seed = seed;
    }
    // An input file is named relative to the experiment file, like a plot configuration.
    spec.resolve_input_paths(loaded.file.parent().unwrap_or(std::path::Path::new(".")));
    crate::spec::validate(&spec).map_err(|problems| {
        problems
            .into_iter()
            .map(|p| {
                loaded.error_at(
                    &format!("benchmark.{}", p.path),
                    format!("{}{cell_name}", p.message),
                )
            })
            .collect::<Vec<_>>()
    })?;
    Ok((spec, overrides))
}

/// An error about a sweep parameter (its name may contain dots, so it is addressed as one key).
pub(super) fn parameter_error(
    loaded: &LoadedExperiment,
    name: &str,
    scenario: Option<usize>,
    message: impl Into<String>,
) -> SpecError {
    let key = crate::support::pointer::escape_token(name);
    match scenario {
        Some(i) => loaded.error_at_pointer(
            &format!("/sweep/runs/{i}/values/{key}"),
            &format!("sweep.runs[{i}].values.{name}"),
            message,
        ),
        None => loaded.error_at_pointer(
            &format!("/sweep/parameters/{key}"),
            &format!("sweep.parameters.{name}"),
            message,
        ),
    }
}

/// Drops repeats of one problem reported by several cells (keeping the first cell's wording).
pub(super) fn dedupe(errors: Vec<SpecError>) -> Vec<SpecError> {
    let strip = |m: &str| m.split(" (cell ").next().unwrap_or(m).to_string();
    let mut seen = std::collections::HashSet::new();
    errors
        .into_iter()
        .filter(|e| seen.insert((e.path.clone(), strip(&e.message))))
        .collect()
}
