//! `aiperf run FILE` and `aiperf validate FILE`: experiments from YAML.

use crate::error::AppError;
use crate::exit_code::ExitCode;
use crate::experiment::{self, RunOptions};
use crate::plan::{self, Plan};
use crate::spec::load::{LoadedExperiment, SpecError};
use std::path::{Path, PathBuf};

/// Flags of `aiperf run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The experiment file (YAML; AIPerf config v2 or the NeMo Guardrails batch format).
    pub file: PathBuf,
    /// Print every trial, the total and an estimated duration, check the servers, run nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Continue the interrupted experiment in this directory, skipping finished trials.
    #[arg(long, value_name = "DIR")]
    pub resume: Option<PathBuf>,
    /// Start afresh in a directory that holds an earlier experiment's results, after moving them
    /// aside to DIR.old-N (nothing is deleted). Without it such a directory is refused.
    #[arg(long, conflicts_with = "resume")]
    pub force: bool,
    /// Auto-plot flags (override the experiment's `artifacts.auto_plot` and `plot:` block).
    #[command(flatten)]
    pub plot: crate::cli::flags::PlotFlags,
    /// W&B flags (override the experiment's `benchmark.wandb`).
    #[command(flatten)]
    pub wandb: crate::cli::flags::WandbFlags,
    /// CI gate flags (added to the experiment's `benchmark.thresholds`).
    #[command(flatten)]
    pub gate: crate::cli::flags::GateFlags,
    /// Comparison-with-a-baseline flags (over the experiment's `compare:` block).
    #[command(flatten)]
    pub baseline: crate::cli::flags::BaselineFlags,
}

/// Flags of `aiperf validate`.
#[derive(Debug, clap::Args)]
pub struct ValidateArgs {
    /// The experiment file.
    pub file: PathBuf,
}

fn spec_errors(errors: Vec<SpecError>) -> AppError {
    let count = errors.len();
    let mut text = errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n");
    if count > 1 {
        text.push_str(&format!("\n{count} problems; nothing was run"));
    }
    AppError::config(text)
}

/// Loads and expands a file (either format).
pub fn load_and_expand(file: &Path) -> Result<(LoadedExperiment, Plan), AppError> {
    load_and_expand_with(file, &[])
}

/// Loads a file, adds `thresholds` (from flags) to its benchmark, and expands it.
fn load_and_expand_with(
    file: &Path,
    thresholds: &[crate::spec::thresholds::MetricThreshold],
) -> Result<(LoadedExperiment, Plan), AppError> {
    let mut loaded = super::load_experiment(file).map_err(spec_errors)?;
    loaded
        .experiment
        .benchmark
        .thresholds
        .extend_from_slice(thresholds);
    let plan = plan::expand(&loaded).map_err(spec_errors)?;
    Ok((loaded, plan))
}

/// Prints a summary of the expanded plan.
fn print_summary(plan: &Plan) {
    if let Some(a) = &plan.adaptive {
        println!(
            "adaptive search '{}' over {} (at most {} points, {} run(s) each), SLA {}",
            a.recipe.name,
            a.space_text(),
            a.max_points(),
            plan.num_runs,
            a.slas
                .iter()
                .map(|s| s.describe())
                .collect::<Vec<_>>()
                .join(" and ")
        );
        println!("results in {}", plan.base_dir.display());
        return;
    }
    println!(
        "{} cells x {} runs = {} trials",
        plan.cells.len(),
        plan.num_runs,
        plan.trials.len()
    );
    for (name, values) in &plan.sweep_parameters {
        let shown: Vec<String> = values
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| v.to_string())
            })
            .collect();
        println!("  {name}: {}", shown.join(", "));
    }
    println!("results in {}", plan.base_dir.display());
}

/// Reads every input file the plan's trials name, each once: a bad file stops the command
/// before anything runs.
fn check_input_files(plan: &Plan) -> Result<(), AppError> {
    crate::run::workload::check_files(
        plan.trials
            .iter()
            .map(|t| &t.spec)
            .chain(plan.adaptive.as_ref().map(|a| &a.base)),
    )
}

/// `aiperf validate FILE`.
pub fn validate(args: &ValidateArgs) -> Result<ExitCode, AppError> {
    let (_, plan) = load_and_expand(&args.file)?;
    check_input_files(&plan)?;
    println!("{}: valid", args.file.display());
    print_summary(&plan);
    Ok(ExitCode::SUCCESS)
}

/// `aiperf run FILE`.
pub async fn run(args: &RunArgs, command_line: String, verbose: u8) -> Result<ExitCode, AppError> {
    let (loaded, plan) = load_and_expand_with(&args.file, &args.gate.thresholds)?;
    if args.dry_run {
        if plan.adaptive.is_some() {
            print_summary(&plan);
            println!("the points of an adaptive search are chosen while it runs");
        }
        return experiment::dry_run(&plan, verbose > 0).await;
    }
    check_input_files(&plan)?;
    let options = RunOptions {
        resume: args.resume.clone(),
        force: args.force,
        command_line,
        verbose: verbose > 0,
    };
    run_experiment(
        &loaded,
        plan,
        &options,
        &args.plot,
        &args.wandb,
        &args.baseline,
    )
    .await
}

/// Runs an expanded experiment, then its after-run steps over the whole experiment directory
/// (multi-run plots once, then the upload) when at least one trial completed. The plot and W&B
/// settings are resolved first: a mistake in them is a configuration error before any trial.
pub async fn run_experiment(
    loaded: &LoadedExperiment,
    plan: Plan,
    options: &RunOptions,
    plot: &super::flags::PlotFlags,
    wandb: &super::flags::WandbFlags,
    baseline: &super::flags::BaselineFlags,
) -> Result<ExitCode, AppError> {
    let recipe_plots = plan
        .recipe
        .as_ref()
        .or(plan.adaptive.as_ref().map(|a| &a.recipe))
        .is_some_and(|r| r.auto_plot);
    let auto_plot = crate::plot::auto::AutoPlot::resolve(
        plot.choice(),
        plot.plot_required,
        &loaded.experiment.benchmark.artifacts,
        loaded.experiment.benchmark.plot.as_ref(),
        loaded.file.parent().unwrap_or(Path::new(".")),
        recipe_plots,
    )
    .map_err(|e| AppError::config(format!("{}: {e}", loaded.file.display())))?;
    let wandb = wandb
        .over(&loaded.experiment.benchmark.wandb)
        .map_err(AppError::config)?;
    let compare = baseline
        .comparison(loaded.experiment.compare.as_ref())
        .map_err(|e| AppError::config(format!("{}: {e}", loaded.file.display())))?;
    let thresholds = loaded.experiment.benchmark.thresholds.clone();
    if plan.adaptive.is_some() && !thresholds.is_empty() {
        return Err(AppError::config(format!(
            "{}: thresholds do not apply to an adaptive search, whose points are chosen while it \
             runs; its SLA (the recipe's `sla`) is its pass/fail rule",
            loaded.file.display()
        )));
    }
    // A W&B baseline is downloaded now: one that cannot be had fails before any trial runs.
    let compare = crate::after_run::baseline::fetch_comparison(compare)
        .await
        .map_err(|e| match e.kind {
            crate::error::FailureKind::InvalidConfig => {
                AppError::config(format!("{}: {}", loaded.file.display(), e.message))
            }
            _ => e,
        })?;
    let gate = crate::after_run::ThresholdStep::cells(
        thresholds,
        plan.layout(),
        plan.cells.iter().map(|c| c.label.clone()).collect(),
    );
    let end = experiment::run(loaded, plan, options).await?;
    let finished = crate::after_run::Finished {
        dir: end.dir,
        code: end.code,
        measured: end.completed > 0,
        results_on_disk: end.completed > 0,
    };
    let compare = crate::after_run::CompareStep(compare);
    Ok(crate::after_run::standard(gate, compare, auto_plot, wandb)
        .run(finished)
        .await)
}
