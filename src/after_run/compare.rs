//! The one-step CI gate: compares the finished result with a baseline (`--baseline DIR` or
//! `wandb:ENTITY/PROJECT/RUN`, or the experiment's `compare:` block), writes `compare.json` into the result directory before
//! the upload, prints the table, and exits 10 on a regression.

use super::baseline::Baseline;
use super::{AfterRunStep, Finished, StepOutcome};
use crate::artifacts::io::{to_pretty_json, write_atomic};
use crate::artifacts::names::COMPARE_JSON;
use crate::exit_code::ExitCode;
use crate::gate::comparison::{CompareOptions, compare_results};
use futures_util::future::LocalBoxFuture;

/// Compares a finished result with a baseline, when one is set.
#[derive(Debug, Clone, Default)]
pub struct CompareStep(pub Option<(Baseline, CompareOptions)>);

impl AfterRunStep for CompareStep {
    fn applies(&self, finished: &Finished) -> bool {
        self.0.is_some() && finished.results_on_disk
    }

    fn run<'a>(&'a self, finished: &'a Finished) -> LocalBoxFuture<'a, StepOutcome> {
        Box::pin(async move {
            let Some((baseline, options)) = &self.0 else {
                return StepOutcome::Done;
            };
            let mut file = match compare_results(baseline.dir(), &finished.dir, options) {
                Ok(file) => file,
                Err(e) => {
                    eprintln!(
                        "error: the results are on disk but cannot be compared with the baseline: {e}"
                    );
                    return StepOutcome::Failed(ExitCode::INVALID_CONFIG);
                }
            };
            file.baseline.clone_from(&baseline.label);
            println!("comparison with the baseline {}:", baseline.label);
            print!("{}", crate::gate::report::table(&file));
            let path = finished.dir.join(COMPARE_JSON);
            if let Err(e) = write_atomic(&path, &to_pretty_json(&file)) {
                eprintln!("error: cannot write {}: {e}", path.display());
                return StepOutcome::Failed(ExitCode::FAILURE);
            }
            match crate::gate::report::exit_code(&file, &path) {
                ExitCode::SUCCESS => StepOutcome::Done,
                code => StepOutcome::Failed(code),
            }
        })
    }
}
