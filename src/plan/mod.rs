//! Turning an experiment into trials: sweep cells (grid, zip, scenarios) times repetitions, each
//! with a fully resolved [`BenchmarkSpec`] and its output directory. Pure: nothing runs here.
//!
//! Where each trial goes is `crate::artifacts::layout`'s answer.

mod cells;
mod checks;
mod nemo;
mod recipe;
pub mod recipe_catalogue;
pub mod values;

use cells::{dedupe, parameter_error, resolve_cell};
use checks::experiment_checks;
use nemo::expand_nemo;
use recipe::{adaptive_plan, recipe_drafts};

use crate::artifacts::layout::Layout;
use crate::spec::experiment::{IterationOrder, SweepType};
use crate::spec::load::{LoadedExperiment, SpecError};
use crate::spec::paths;
use crate::spec::{BenchmarkSpec, PhaseKind};
use serde::Serialize;
use serde_json::{Map, Value};
use std::path::PathBuf;

/// One combination of swept values.
#[derive(Debug, Clone, Serialize)]
pub struct Cell {
    /// Position in the sweep (0-based).
    pub index: usize,
    /// Directory name and label (`concurrency_8`, `a_1__b_2`, or the scenario name).
    pub label: String,
    /// Swept values by short name (the leaf of the path, or the full path when leaves collide).
    pub parameters: Map<String, Value>,
    /// The resolved spec (artifact directory not yet set).
    #[serde(skip)]
    pub spec: BenchmarkSpec,
    /// What the sweep changed.
    #[serde(skip)]
    pub overrides: Vec<Override>,
}

impl Cell {
    /// The cell's parameters as `name=value` pairs (`base` for an unswept cell).
    pub fn parameters_text(&self) -> String {
        let text = self
            .parameters
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(" ");
        if text.is_empty() { "base".into() } else { text }
    }
}

/// One value a sweep set: (dotted path, base value if any, swept value).
pub type Override = (String, Option<Value>, Value);

/// One benchmark run of the plan.
#[derive(Debug, Clone, Serialize)]
pub struct Trial {
    /// 1-based position in execution order.
    pub number: usize,
    /// Index of its cell.
    pub cell: usize,
    /// 1-based repetition within the cell.
    pub repetition: u32,
    /// Output directory.
    pub dir: PathBuf,
    /// The spec to run.
    #[serde(skip)]
    pub spec: BenchmarkSpec,
}

/// The expanded experiment.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    /// The experiment's base directory.
    pub base_dir: PathBuf,
    /// Whether there is a sweep (cells are parameter combinations).
    pub swept: bool,
    /// Swept parameter names (short) with their values, in declaration order.
    pub sweep_parameters: Vec<(String, Vec<Value>)>,
    /// Repetitions per cell.
    pub num_runs: u32,
    /// Trial order.
    pub order: IterationOrder,
    /// The cells.
    pub cells: Vec<Cell>,
    /// The trials, in execution order.
    pub trials: Vec<Trial>,
    /// Set for a NeMo Guardrails batch: per cell, the equivalent `aiperf profile` arguments.
    #[serde(skip)]
    pub nemo: Option<NemoPlan>,
    /// The search recipe that chose the cells, if any.
    #[serde(skip)]
    pub recipe: Option<crate::spec::recipe::Recipe>,
    /// Set for an adaptive search: the trials are chosen while it runs.
    #[serde(skip)]
    pub adaptive: Option<AdaptivePlan>,
}

impl Plan {
    /// The shape of the experiment's directory.
    pub fn layout(&self) -> Layout {
        Layout {
            swept: self.swept,
            num_runs: self.num_runs,
            order: self.order,
        }
    }
}

/// An adaptive search: what the planner needs to propose points and judge them.
#[derive(Debug, Clone)]
pub struct AdaptivePlan {
    /// The recipe, with the sweep's planner choice applied and its thresholds resolved.
    pub recipe: crate::spec::recipe::Recipe,
    /// The searched dimensions, one per knob.
    pub dims: Vec<crate::search::space::Dim>,
    /// Constraints with the user's thresholds.
    pub slas: Vec<crate::search::verdict::Sla>,
    /// The benchmark every point starts from.
    pub base: BenchmarkSpec,
    /// The benchmark as JSON (for setting the knobs).
    pub base_json: Value,
    /// Seed of the bayesian planner.
    pub seed: u64,
}

impl AdaptivePlan {
    /// Extra runs allowed at a point whose runs disagree about an SLA.
    pub fn max_replicates(&self) -> u32 {
        match self.recipe.planner {
            crate::spec::recipe::PlannerSpec::Boundary { max_replicates, .. }
            | crate::spec::recipe::PlannerSpec::Bayesian { max_replicates, .. } => max_replicates,
            crate::spec::recipe::PlannerSpec::Grid => 0,
        }
    }

    /// Most points the planner measures.
    pub fn max_points(&self) -> u32 {
        match self.recipe.planner {
            crate::spec::recipe::PlannerSpec::Boundary { max_iterations, .. }
            | crate::spec::recipe::PlannerSpec::Bayesian { max_iterations, .. } => max_iterations,
            crate::spec::recipe::PlannerSpec::Grid => 0,
        }
    }

    /// The knobs and their bounds for people: `concurrency in [1, 1000]`.
    pub fn space_text(&self) -> String {
        self.dims
            .iter()
            .map(|d| format!("{} in [{}, {}]", d.leaf, d.show(d.lo), d.show(d.hi)))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// What a NeMo batch needs beyond the trials: its runner's metadata files.
#[derive(Debug, Clone)]
pub struct NemoPlan {
    /// The batch's `base_config`.
    pub base_config: Map<String, Value>,
    /// Per cell: the `aiperf profile` arguments (secrets included; redact before writing).
    pub args: Vec<Vec<String>>,
    /// Per cell: the sweep values.
    pub sweep_params: Vec<Map<String, Value>>,
}

/// A cell before resolution: a label, its values by path, scenario overlay and variables.
pub(super) struct CellDraft {
    pub(super) label: String,
    pub(super) assignments: Vec<(String, String, Value)>, // (parameter as written, canonical path, value)
    pub(super) overlay: Option<(usize, Value)>,           // (scenario index, benchmark overlay)
    pub(super) variables: Map<String, Value>,
    pub(super) fixed: Vec<(String, Value)>, // recipe settings applied to every cell (canonical path, value)
}

pub(super) fn format_value(v: &Value) -> String {
    let text = match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Short names for parameter paths: leaves, or full paths where two leaves collide.
pub(super) fn short_names(paths: &[String]) -> Vec<String> {
    paths
        .iter()
        .map(|p| {
            let l = paths::leaf(p);
            if paths.iter().filter(|q| paths::leaf(q) == l).count() > 1 {
                p.clone()
            } else {
                l.to_string()
            }
        })
        .collect()
}

/// "concurrency has 3, isl has 2": how many values each swept parameter has.
fn value_counts(params: &[(String, String, Vec<Value>)]) -> String {
    params
        .iter()
        .map(|p| format!("{} has {}", p.0, p.2.len()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The most trials one plan may expand to (cells x runs), checked before it is materialised.
pub const MAX_TRIALS: u64 = 10_000;

fn drafts(
    loaded: &LoadedExperiment,
    errors: &mut Vec<SpecError>,
) -> (Vec<CellDraft>, Vec<(String, Vec<Value>)>) {
    let exp = &loaded.experiment;
    let Some(sweep) = &exp.sweep else {
        return (
            vec![CellDraft {
                label: String::new(),
                assignments: vec![],
                overlay: None,
                variables: Map::new(),
                fixed: vec![],
            }],
            vec![],
        );
    };
    if sweep.recipe.is_some() {
        return recipe_drafts(loaded, sweep, errors);
    }
    if sweep.sweep_type == SweepType::AdaptiveSearch {
        errors.push(loaded.error_at(
            "sweep",
            "an adaptive_search sweep needs a `recipe` (a name, a file, or one written in place)",
        ));
        return (vec![], vec![]);
    }
    let mut params: Vec<(String, String, Vec<Value>)> = Vec::new();
    for (name, raw) in &sweep.parameters {
        match values::expand(raw) {
            Ok(vals) => params.push((name.clone(), paths::canonical_path(name), vals)),
            Err(e) => errors.push(parameter_error(loaded, name, None, e)),
        }
    }
    let canonical: Vec<String> = params.iter().map(|p| p.1.clone()).collect();
    let shorts = short_names(&canonical);
    let listing: Vec<(String, Vec<Value>)> = shorts
        .iter()
        .cloned()
        .zip(params.iter().map(|p| p.2.clone()))
        .collect();
    let make = |combo: Vec<(usize, Value)>| CellDraft {
        label: combo
            .iter()
            .map(|(i, v)| format!("{}_{}", shorts[*i].replace('.', "_"), format_value(v)))
            .collect::<Vec<_>>()
            .join("__"),
        assignments: combo
            .into_iter()
            .map(|(i, v)| (params[i].0.clone(), params[i].1.clone(), v))
            .collect(),
        overlay: None,
        variables: Map::new(),
        fixed: vec![],
    };
    let mut listing = listing;
    if sweep.sweep_type == SweepType::Scenarios {
        listing = vec![(
            "scenario".to_string(),
            sweep
                .runs
                .iter()
                .map(|r| Value::from(r.name.clone()))
                .collect(),
        )];
    }
    let cells = match sweep.sweep_type {
        SweepType::AdaptiveSearch => vec![],
        SweepType::Grid => {
            if params.is_empty() {
                errors.push(loaded.error_at("sweep", "a grid sweep needs `parameters`"));
            }
            // Bound the plan before building it: two 10,000-value ranges would otherwise
            // materialise 10^8 cells.
            let cells = params
                .iter()
                .fold(1u64, |n, p| n.saturating_mul(p.2.len() as u64));
            let trials = cells.saturating_mul(u64::from(exp.multi_run.num_runs.max(1)));
            if trials > MAX_TRIALS {
                let sizes = value_counts(&params);
                errors.push(loaded.error_at(
                    "sweep.parameters",
                    format!(
                        "the grid expands to {trials} trials ({sizes}); at most {MAX_TRIALS} are allowed"
                    ),
                ));
                return (vec![], listing);
            }
            let mut combos: Vec<Vec<(usize, Value)>> = vec![vec![]];
            for (i, (_, _, vals)) in params.iter().enumerate() {
                combos = combos
                    .into_iter()
                    .flat_map(|c| {
                        vals.iter().map(move |v| {
                            let mut n = c.clone();
                            n.push((i, v.clone()));
                            n
                        })
                    })
                    .collect();
            }
            if params.is_empty() {
                vec![]
            } else {
                combos.into_iter().map(make).collect()
            }
        }
        SweepType::Zip => {
            let lengths: Vec<usize> = params.iter().map(|p| p.2.len()).collect();
            if params.is_empty() {
                errors.push(loaded.error_at("sweep", "a zip sweep needs `parameters`"));
            } else if lengths.iter().any(|&l| l != lengths[0]) {
                let detail = value_counts(&params);
                errors.push(loaded.error_at(
                    "sweep.parameters",
                    format!("a zip sweep needs lists of equal length ({detail})"),
                ));
            }
            let n = lengths.iter().copied().min().unwrap_or(0);
            (0..n)
                .map(|k| {
                    make(
                        params
                            .iter()
                            .enumerate()
                            .map(|(i, p)| (i, p.2[k].clone()))
                            .collect(),
                    )
                })
                .collect()
        }
        SweepType::Scenarios => {
            if sweep.runs.is_empty() {
                errors.push(loaded.error_at("sweep", "a scenarios sweep needs `runs`"));
            }
            if !params.is_empty() {
                errors.push(loaded.error_at(
                    "sweep.parameters",
                    "a scenarios sweep takes `runs`, not `parameters`",
                ));
            }
            let mut seen = std::collections::HashSet::new();
            sweep
                .runs
                .iter()
                .enumerate()
                .map(|(i, run)| {
                    let safe = !run.name.is_empty() && run.name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
                    if !safe {
                        errors.push(loaded.error_at(&format!("sweep.runs[{i}].name"), format!("scenario name '{}' must be non-empty and use only letters, digits, '-', '_' and '.'", run.name)));
                    }
                    if !seen.insert(run.name.clone()) {
                        errors.push(loaded.error_at(&format!("sweep.runs[{i}].name"), format!("scenario name '{}' is used twice", run.name)));
                    }
                    let mut overlay = Value::Object(run.benchmark.clone());
                    crate::spec::schema::normalize_keys(&mut overlay);
                    paths::canonical_structure(&mut overlay);
                    CellDraft {
                        label: run.name.clone(),
                        assignments: run.values.iter().map(|(k, v)| (k.clone(), paths::canonical_path(k), v.clone())).collect(),
                        overlay: Some((i, overlay)),
                        variables: run.variables.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
                        fixed: vec![],
                    }
                })
                .collect()
        }
    };
    (cells, listing)
}

/// Expands a loaded experiment; every problem in any cell is reported together.
pub fn expand(loaded: &LoadedExperiment) -> Result<Plan, Vec<SpecError>> {
    if let Some(nemo) = &loaded.nemo {
        return Ok(expand_nemo(nemo));
    }
    let exp = &loaded.experiment;
    let mut errors = Vec::new();
    experiment_checks(loaded, &mut errors);
    if let Some(sweep) = &exp.sweep
        && let Some(Ok(recipe)) = crate::plan::recipe_catalogue::sweep_recipe(sweep)
        && !matches!(recipe.planner, crate::spec::recipe::PlannerSpec::Grid)
    {
        if !errors.is_empty() {
            return Err(errors);
        }
        let adaptive = adaptive_plan(loaded, sweep)?;
        return Ok(Plan {
            base_dir: exp.benchmark.artifacts.dir.clone(),
            swept: true,
            sweep_parameters: adaptive
                .dims
                .iter()
                .map(|d| (d.leaf.clone(), vec![]))
                .collect(),
            num_runs: exp.multi_run.num_runs.max(1),
            order: IterationOrder::Independent,
            cells: vec![],
            trials: vec![],
            nemo: None,
            recipe: Some(adaptive.recipe.clone()),
            adaptive: Some(adaptive),
        });
    }
    let (drafts, sweep_parameters) = drafts(loaded, &mut errors);
    let base_seed = exp.random_seed.or(exp.benchmark.random_seed);
    let mut cells = Vec::new();
    for (index, draft) in drafts.iter().enumerate() {
        let seed = base_seed.map(|s| s.wrapping_add(index as u64));
        match resolve_cell(loaded, draft, seed) {
            Ok((spec, overrides)) => {
                let parameters = match &draft.overlay {
                    Some(_) => {
                        let mut p = Map::new();
                        p.insert("scenario".into(), Value::from(draft.label.clone()));
                        p
                    }
                    None => sweep_parameters
                        .iter()
                        .zip(&draft.assignments)
                        .map(|((short, _), (_, _, v))| (short.clone(), v.clone()))
                        .collect(),
                };
                cells.push(Cell {
                    index,
                    label: draft.label.clone(),
                    parameters,
                    spec,
                    overrides,
                });
            }
            Err(e) => errors.extend(e),
        }
    }
    if !errors.is_empty() {
        return Err(dedupe(errors));
    }
    let recipe = exp
        .sweep
        .as_ref()
        .and_then(crate::plan::recipe_catalogue::sweep_recipe)
        .and_then(Result::ok);
    if let Some(r) = &recipe
        && r.require_streaming
        && cells.iter().any(|c| !c.spec.endpoint.streaming)
    {
        return Err(vec![loaded.error_at(
            "benchmark.endpoint.streaming",
            format!("recipe '{}' measures TTFT or ITL, which need streamed responses: set endpoint.streaming: true", r.name),
        )]);
    }
    let swept = exp.sweep.is_some();
    let base_dir = exp.benchmark.artifacts.dir.clone();
    let num_runs = exp.multi_run.num_runs.max(1);
    let order = exp.multi_run.iteration_order;
    let mut order_pairs: Vec<(usize, u32)> = Vec::new();
    match order {
        IterationOrder::Repeated => {
            (1..=num_runs).for_each(|r| (0..cells.len()).for_each(|c| order_pairs.push((c, r))))
        }
        IterationOrder::Independent => {
            (0..cells.len()).for_each(|c| (1..=num_runs).for_each(|r| order_pairs.push((c, r))))
        }
    }
    let trials = order_pairs
        .into_iter()
        .enumerate()
        .map(|(i, (c, repetition))| {
            let mut spec = cells[c].spec.clone();
            let layout = Layout {
                swept,
                num_runs,
                order,
            };
            let dir = layout.trial_dir(&base_dir, &cells[c].label, repetition);
            spec.artifacts.dir = dir.clone();
            if repetition > 1 && exp.multi_run.disable_warmup_after_first {
                spec.phases.retain(|p| p.kind != PhaseKind::Warmup);
            }
            Trial {
                number: i + 1,
                cell: c,
                repetition,
                dir,
                spec,
            }
        })
        .collect();
    Ok(Plan {
        base_dir,
        swept,
        sweep_parameters,
        num_runs,
        order,
        cells,
        trials,
        nemo: None,
        recipe,
        adaptive: None,
    })
}
