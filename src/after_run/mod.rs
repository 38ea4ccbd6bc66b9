//! What happens to a finished result directory: one ordered list of steps (plots, then uploads,
//! so the plots are uploaded too), each with its own failure policy. `profile`, `run` and
//! `export` all end here; a new step (a gate, a report, another tracker) is one more
//! [`AfterRunStep`] in [`standard`].

pub mod baseline;
mod compare;
mod plots;
mod thresholds;
mod wandb;

pub use compare::CompareStep;
pub use plots::PlotStep;
pub use thresholds::ThresholdStep;
pub use wandb::WandbStep;

use crate::exit_code::ExitCode;
use futures_util::future::LocalBoxFuture;
use std::path::PathBuf;

/// A result directory whose run or experiment has ended.
#[derive(Debug, Clone)]
pub struct Finished {
    /// The run directory or the experiment directory.
    pub dir: PathBuf,
    /// The exit code so far.
    pub code: ExitCode,
    /// Whether anything was measured successfully (a completed run, or at least one completed
    /// trial): what is worth drawing.
    pub measured: bool,
    /// Whether results are on disk to upload (a failed run's summary is worth uploading too).
    pub results_on_disk: bool,
}

/// How a step ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepOutcome {
    /// Done, or failed with a warning that leaves the exit code alone.
    Done,
    /// Failed in a way the user made an error (`--plot-required`, `--wandb-required`): the
    /// command ends with this code unless an earlier failure already set one.
    Failed(ExitCode),
    /// Stopped by a signal: the command ends now with this code.
    Interrupted(ExitCode),
}

/// One thing done to a finished result directory.
pub trait AfterRunStep: Send + Sync {
    /// Whether the step has anything to do for this result.
    fn applies(&self, finished: &Finished) -> bool;
    /// Does it, saying what happened in one line on stdout or stderr.
    fn run<'a>(&'a self, finished: &'a Finished) -> LocalBoxFuture<'a, StepOutcome>;
}

/// The ordered steps after a run.
#[derive(Default)]
pub struct Pipeline {
    steps: Vec<Box<dyn AfterRunStep>>,
}

impl Pipeline {
    /// A pipeline with no steps.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a step after the others.
    pub fn then(mut self, step: impl AfterRunStep + 'static) -> Self {
        self.steps.push(Box::new(step));
        self
    }

    /// Runs every step that applies, in order, and returns the exit code the command ends
    /// with. An interrupted result gets no step: its directory is left as the signal found it.
    pub async fn run(&self, finished: Finished) -> ExitCode {
        if finished.code.is_interruption() {
            return finished.code;
        }
        let mut code = finished.code;
        for step in &self.steps {
            if !step.applies(&finished) {
                continue;
            }
            match step.run(&finished).await {
                StepOutcome::Done => {}
                StepOutcome::Failed(failed) => {
                    if code == ExitCode::SUCCESS {
                        code = failed;
                    }
                }
                StepOutcome::Interrupted(signal) => return signal,
            }
        }
        code
    }
}

/// The steps every benchmark command runs: the thresholds and the comparison with a baseline
/// (so `thresholds.json` and `compare.json` are uploaded too), plots, then the W&B upload.
pub fn standard(
    gate: ThresholdStep,
    compare: CompareStep,
    plots: crate::plot::auto::AutoPlot,
    wandb: crate::spec::WandbSpec,
) -> Pipeline {
    Pipeline::new()
        .then(gate)
        .then(compare)
        .then(PlotStep(plots))
        .then(WandbStep::after_run(wandb))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    struct Recorder {
        name: &'static str,
        outcome: StepOutcome,
        applies: bool,
        log: Arc<Mutex<Vec<&'static str>>>,
    }

    impl AfterRunStep for Recorder {
        fn applies(&self, _: &Finished) -> bool {
            self.applies
        }
        fn run<'a>(&'a self, _: &'a Finished) -> LocalBoxFuture<'a, StepOutcome> {
            self.log.lock().unwrap().push(self.name);
            Box::pin(async move { self.outcome })
        }
    }

    fn finished(code: ExitCode) -> Finished {
        Finished {
            dir: PathBuf::from("x"),
            code,
            measured: true,
            results_on_disk: true,
        }
    }

    fn step(
        log: &Arc<Mutex<Vec<&'static str>>>,
        name: &'static str,
        outcome: StepOutcome,
        applies: bool,
    ) -> Recorder {
        Recorder {
            name,
            outcome,
            applies,
            log: log.clone(),
        }
    }

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn steps_run_in_order_and_the_first_failure_sets_the_code() {
        let log = Arc::default();
        let pipeline = Pipeline::new()
            .then(step(
                &log,
                "plots",
                StepOutcome::Failed(ExitCode::PLOT_FAILED),
                true,
            ))
            .then(step(&log, "skipped", StepOutcome::Done, false))
            .then(step(
                &log,
                "upload",
                StepOutcome::Failed(ExitCode::UPLOAD_FAILED),
                true,
            ));
        let code = block_on(pipeline.run(finished(ExitCode::SUCCESS)));
        assert_eq!(code, ExitCode::PLOT_FAILED);
        assert_eq!(*log.lock().unwrap(), ["plots", "upload"]);
    }

    #[test]
    fn an_earlier_failure_of_the_run_keeps_its_code() {
        let log = Arc::default();
        let pipeline = Pipeline::new().then(step(
            &log,
            "plots",
            StepOutcome::Failed(ExitCode::PLOT_FAILED),
            true,
        ));
        let code = block_on(pipeline.run(finished(ExitCode::TRIALS_FAILED)));
        assert_eq!(code, ExitCode::TRIALS_FAILED);
    }

    #[test]
    fn an_interruption_stops_the_pipeline_and_an_interrupted_run_gets_no_step() {
        let log = Arc::default();
        let pipeline = Pipeline::new()
            .then(step(
                &log,
                "upload",
                StepOutcome::Interrupted(ExitCode::INTERRUPTED),
                true,
            ))
            .then(step(&log, "after", StepOutcome::Done, true));
        assert_eq!(
            block_on(pipeline.run(finished(ExitCode::SUCCESS))),
            ExitCode::INTERRUPTED
        );
        assert_eq!(*log.lock().unwrap(), ["upload"]);
        assert_eq!(
            block_on(pipeline.run(finished(ExitCode::INTERRUPTED))),
            ExitCode::INTERRUPTED
        );
        assert_eq!(log.lock().unwrap().len(), 1);
    }
}
