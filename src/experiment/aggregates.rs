//! Writing every aggregate of an experiment from what is on disk: per-cell confidence aggregates
//! and, for sweeps, the sweep aggregate. Called after every trial, so nothing finished is lost.

use crate::aggregate::sweep::{Combination, SweepInput, write_sweep_aggregate};
use crate::aggregate::{
    CellAggregate, CellMetadata, FailedRun, aggregate_cell, write_cell_aggregate,
};
use crate::artifacts::summary::RunSummaryFile;
use crate::artifacts::trial_status::{self as status, TrialStatus};
use crate::plan::Plan;
use crate::spec::experiment::{Experiment, IterationOrder};
use std::path::{Path, PathBuf};

/// A trial label relative to the experiment directory (`profile_runs/trial_0002/concurrency_4`).
pub fn trial_label(plan: &Plan, dir: &Path) -> String {
    let rel = dir
        .strip_prefix(&plan.base_dir)
        .unwrap_or(dir)
        .display()
        .to_string();
    if rel.is_empty() { ".".into() } else { rel }
}

/// Where a cell's aggregate goes (`None` for a single run without a sweep).
pub fn cell_aggregate_dir(plan: &Plan, label: &str) -> Option<PathBuf> {
    plan.layout().cell_aggregate_dir(&plan.base_dir, label)
}

/// Where the sweep aggregate goes.
pub fn sweep_aggregate_dir(plan: &Plan) -> PathBuf {
    plan.layout().sweep_aggregate_dir(&plan.base_dir)
}

/// The summaries of a cell's completed trials and its failures.
pub fn cell_runs(plan: &Plan, cell: usize) -> (Vec<(String, RunSummaryFile)>, Vec<FailedRun>) {
    let mut runs = Vec::new();
    let mut failed = Vec::new();
    for trial in plan.trials.iter().filter(|t| t.cell == cell) {
        let label = trial_label(plan, &trial.dir);
        match status::read(&trial.dir) {
            Some(TrialStatus::Completed) => {
                let summary = crate::artifacts::io::read::<RunSummaryFile>(
                    &trial.dir.join(crate::artifacts::names::PROFILE_EXPORT_JSON),
                )
                .ok();
                match summary {
                    Some(s) => runs.push((label, s)),
                    None => failed.push(FailedRun {
                        label,
                        error: "profile_export_aiperf.json is missing or unreadable".into(),
                    }),
                }
            }
            Some(TrialStatus::Failed { error }) => failed.push(FailedRun { label, error }),
            Some(TrialStatus::Skipped { .. }) | None => {}
        }
    }
    (runs, failed)
}

/// Recomputes and writes every aggregate; returns the per-cell aggregates.
pub fn write_all(plan: &Plan, experiment: &Experiment) -> std::io::Result<Vec<CellAggregate>> {
    let level = experiment.multi_run.confidence_level;
    let mut cells = Vec::new();
    let mut all_failed = Vec::new();
    let mut attempted = 0;
    for cell in &plan.cells {
        let (runs, failed) = cell_runs(plan, cell.index);
        attempted += runs.len() + failed.len();
        all_failed.extend(failed.clone());
        let aggregate = aggregate_cell(&runs, failed, level);
        if let Some(dir) = cell_aggregate_dir(plan, &cell.label)
            && aggregate.successful() + aggregate.failed.len() > 0
        {
            let meta = CellMetadata {
                num_profile_runs: aggregate.successful() + aggregate.failed.len(),
                confidence_level: level,
                cooldown_seconds: experiment.multi_run.cooldown_seconds,
            };
            if aggregate.successful() > 0 {
                write_cell_aggregate(&dir, &aggregate, &meta)?;
            }
        }
        cells.push(aggregate);
    }
    if plan.swept {
        let order = match plan.order {
            IterationOrder::Repeated => "repeated",
            IterationOrder::Independent => "independent",
        };
        let input = SweepInput {
            parameters: &plan.sweep_parameters,
            combinations: plan
                .cells
                .iter()
                .zip(&cells)
                .map(|(c, a)| Combination {
                    parameters: &c.parameters,
                    aggregate: a,
                })
                .collect(),
            num_profile_runs: attempted,
            failed_runs: all_failed,
            sweep_mode: order,
            confidence_level: level,
            num_trials_per_value: plan.num_runs,
        };
        let dir = sweep_aggregate_dir(plan);
        let doc = write_sweep_aggregate(&dir, &input)?;
        if let Some(recipe) = &plan.recipe
            && let Some(analysis) = &recipe.analysis
        {
            let names: Vec<String> = plan
                .sweep_parameters
                .iter()
                .map(|(n, _)| n.clone())
                .collect();
            let slas =
                crate::plan::recipe_catalogue::resolve_constraints(recipe, &Default::default());
            let mut result = crate::search::analysis::analyse(analysis, &doc, &names, &slas);
            result.set_recipe(&recipe.name);
            let path = dir.join(result.file_name());
            crate::artifacts::io::write_atomic(
                &path,
                &crate::artifacts::io::to_pretty_json(&result),
            )?;
        }
    }
    Ok(cells)
}
