//! `aiperf profile`: one benchmark from flags, or the experiment its comma lists, repeated runs
//! or `--search-recipe` describe; then the plots and the W&B upload, in that order, so plots
//! are uploaded too.

use super::profile::ProfileArgs;
use crate::after_run::Finished;
use crate::error::AppError;
use crate::exit_code::ExitCode;
use crate::run::{Invocation, run_benchmark};

/// Runs `aiperf profile` and returns its exit code.
pub async fn run(profile: &ProfileArgs, command_line: String) -> Result<ExitCode, AppError> {
    let experiment = profile
        .to_experiment()
        .map_err(|problems| AppError::config(problems.join("\n")))?;
    if experiment.sweep.is_some() || experiment.multi_run.num_runs > 1 {
        // Comma lists, repeated runs or a search: the plan an experiment file would give.
        let loaded = crate::spec::load::LoadedExperiment::from_flags(experiment);
        let plan = crate::plan::expand(&loaded).map_err(|errors| {
            AppError::config(
                errors
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("\n"),
            )
        })?;
        let options = crate::experiment::RunOptions {
            command_line: command_line.clone(),
            resume: profile.resume.clone(),
            force: profile.force,
            ..Default::default()
        };
        return super::run::run_experiment(
            &loaded,
            plan,
            &options,
            &profile.plot,
            &profile.wandb,
            &profile.baseline,
        )
        .await;
    }
    let spec = experiment.benchmark;
    if profile.resume.is_some() || profile.force {
        return Err(AppError::config(
            "--resume and --force apply to sweeps, repeated runs and searches; a single profile run writes its directory afresh",
        ));
    }
    let auto_plot = crate::plot::auto::AutoPlot::resolve(
        profile.plot.choice(),
        profile.plot.plot_required,
        &spec.artifacts,
        None,
        std::path::Path::new("."),
        false,
    )
    .map_err(AppError::config)?;
    let dir = spec.artifacts.dir.clone();
    let invocation = Invocation {
        command_line: command_line.clone(),
        ..Invocation::default()
    };
    let wandb = spec.wandb.clone();
    let gate = crate::after_run::ThresholdStep::single_run(spec.thresholds.clone());
    let compare = crate::after_run::baseline::fetch_comparison(
        profile
            .baseline
            .comparison(None)
            .map_err(AppError::config)?,
    )
    .await?;
    let compare = crate::after_run::CompareStep(compare);
    let code = run_benchmark(spec, &invocation).await?.exit_code;
    let finished = Finished {
        results_on_disk: dir
            .join(crate::artifacts::names::PROFILE_EXPORT_JSON)
            .is_file(),
        measured: code == ExitCode::SUCCESS,
        dir,
        code,
    };
    Ok(crate::after_run::standard(gate, compare, auto_plot, wandb)
        .run(finished)
        .await)
}
