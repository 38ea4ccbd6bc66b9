//! The Weights & Biases export as an after-run step.

use super::{AfterRunStep, Finished, StepOutcome};
use crate::spec::WandbSpec;
use crate::track::wandb::{ExportEnd, export_after_run};
use futures_util::future::LocalBoxFuture;

/// Uploads a finished result when its W&B settings name a project.
pub struct WandbStep {
    spec: WandbSpec,
    list_every_run: bool,
}

impl WandbStep {
    /// The upload at the end of `profile` and `run`: one line naming the last run.
    pub fn after_run(spec: WandbSpec) -> Self {
        Self {
            spec,
            list_every_run: false,
        }
    }

    /// The upload of `aiperf export wandb`: required, and every run's URL listed.
    pub fn export(mut spec: WandbSpec) -> Self {
        spec.required = true;
        Self {
            spec,
            list_every_run: true,
        }
    }
}

impl AfterRunStep for WandbStep {
    fn applies(&self, finished: &Finished) -> bool {
        finished.results_on_disk
    }

    fn run<'a>(&'a self, finished: &'a Finished) -> LocalBoxFuture<'a, StepOutcome> {
        Box::pin(async move {
            match export_after_run(&finished.dir, &self.spec, self.list_every_run).await {
                ExportEnd::Done => StepOutcome::Done,
                ExportEnd::Failed(code) => StepOutcome::Failed(code),
                ExportEnd::Interrupted(code) => StepOutcome::Interrupted(code),
            }
        })
    }
}
