//! `aiperf export wandb DIR`: upload results that are already on disk.

use super::flags::WandbFlags;
use crate::artifacts::plan_file::PlanFile;
use crate::artifacts::summary::RunSummaryFile;
use crate::error::AppError;
use crate::exit_code::ExitCode;
use crate::spec::WandbSpec;
use crate::track::wandb::{Mode, Settings};
use std::path::{Path, PathBuf};

/// Flags of `aiperf export wandb`.
#[derive(Debug, clap::Args)]
pub struct WandbExportArgs {
    /// A run directory or an experiment directory (sweep, repeated trials, search).
    pub dir: PathBuf,
    /// Where to upload; default: the `wandb` settings the results were run with.
    #[command(flatten)]
    pub wandb: WandbFlags,
}

/// The `wandb` settings the results in `dir` were run with, if any.
fn recorded_spec(dir: &Path) -> WandbSpec {
    let summary = dir.join(crate::artifacts::names::PROFILE_EXPORT_JSON);
    RunSummaryFile::read(&summary)
        .ok()
        .and_then(|s| s.spec())
        .map(|s| s.wandb)
        .or_else(|| {
            crate::artifacts::io::read::<PlanFile>(&dir.join(crate::artifacts::names::PLAN_JSON))
                .ok()
                .and_then(|p| p.trials.first().map(|t| t.wandb()))
        })
        .unwrap_or_default()
}

/// Runs `aiperf export wandb`.
pub async fn wandb(args: &WandbExportArgs) -> Result<ExitCode, AppError> {
    if !args.dir.is_dir() {
        return Err(AppError::config(format!(
            "{} is not a directory",
            args.dir.display()
        )));
    }
    let spec = args
        .wandb
        .over(&recorded_spec(&args.dir))
        .map_err(AppError::config)?;
    let Some(settings) = Settings::from_env(&spec) else {
        return Err(AppError::config("no W&B project: pass --wandb-project"));
    };
    if settings.mode != Mode::Online {
        return Err(AppError::config(
            "WANDB_MODE is offline or disabled; unset it to upload",
        ));
    }
    let finished = crate::after_run::Finished {
        dir: args.dir.clone(),
        code: ExitCode::SUCCESS,
        measured: true,
        results_on_disk: true,
    };
    Ok(crate::after_run::Pipeline::new()
        .then(crate::after_run::WandbStep::export(spec))
        .run(finished)
        .await)
}
