//! Auto-plot as an after-run step: draws when something was measured; a failure is a warning
//! unless plots are required (exit code 6).

use super::{AfterRunStep, Finished, StepOutcome};
use crate::exit_code::ExitCode;
use crate::plot::auto::AutoPlot;
use futures_util::future::LocalBoxFuture;

/// Draws the plots of a finished result with the resolved auto-plot settings.
pub struct PlotStep(pub AutoPlot);

impl AfterRunStep for PlotStep {
    fn applies(&self, finished: &Finished) -> bool {
        self.0.enabled && finished.measured
    }

    fn run<'a>(&'a self, finished: &'a Finished) -> LocalBoxFuture<'a, StepOutcome> {
        Box::pin(async move {
            match self.0.draw(&finished.dir) {
                Ok(()) => StepOutcome::Done,
                Err(e) if self.0.required => {
                    eprintln!("error: auto-plot failed: {e}");
                    StepOutcome::Failed(ExitCode::PLOT_FAILED)
                }
                Err(e) => {
                    eprintln!("warning: auto-plot failed (run artifacts intact): {e}");
                    StepOutcome::Done
                }
            }
        })
    }
}
