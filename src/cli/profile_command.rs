//! `aiperf profile`: one benchmark from flags, or a search over it with `--search-recipe`; then
//! the plots and the W&B upload, in that order, so plots are uploaded too.

use super::profile::ProfileArgs;
use crate::error::AppError;
use crate::exit_code::ExitCode;
use crate::run::{Invocation, run_benchmark};

/// Runs `aiperf profile` and returns its exit code.
pub async fn run(profile: &ProfileArgs, command_line: String) -> Result<ExitCode, AppError> {
    let spec = profile
        .to_spec()
        .map_err(|problems| AppError::config(problems.join("\n")))?;
    if let Some(sweep) = profile.recipe_sweep() {
        let experiment = crate::spec::experiment::Experiment {
            schema_version: None,
            benchmark: spec,
            sweep: Some(sweep),
            multi_run: Default::default(),
            variables: Default::default(),
            random_seed: None,
        };
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
            plot: profile.plot.clone(),
            wandb: profile.wandb.clone(),
            ..Default::default()
        };
        return crate::experiment::run(&loaded, plan, &options).await;
    }
    if profile.resume.is_some() || profile.force {
        return Err(AppError::config(
            "--resume and --force apply to searches (--search-recipe); a single profile run writes its directory afresh",
        ));
    }
    let auto_plot = crate::plot::auto::AutoPlot::resolve(
        &profile.plot,
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
    let code = run_benchmark(spec, &invocation).await?.exit_code;
    // Single-run plots after a successful run only; then the upload, so plots go too.
    let code = if code == ExitCode::SUCCESS {
        auto_plot.after_run(&dir, code)
    } else {
        code
    };
    Ok(
        if !code.is_interruption() && dir.join(crate::export::PROFILE_EXPORT_JSON).is_file() {
            crate::track::wandb::export_after_run(&dir, &wandb, code).await
        } else {
            code
        },
    )
}
