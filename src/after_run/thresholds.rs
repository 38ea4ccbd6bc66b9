//! The CI gate as an after-run step: judges every threshold on every scope, writes
//! `thresholds.json` (before the upload, so it is uploaded too), prints one line per
//! judgement, and fails the command with exit code 9 when any threshold failed.

use super::{AfterRunStep, Finished, StepOutcome};
use crate::artifacts::io::{to_pretty_json, write_atomic};
use crate::artifacts::layout::Layout;
use crate::artifacts::names::{PROFILE_EXPORT_JSON, THRESHOLDS_JSON};
use crate::artifacts::summary::RunSummaryFile;
use crate::artifacts::thresholds::{ThresholdResult, ThresholdsFile};
use crate::exit_code::ExitCode;
use crate::gate::thresholds::{Scope, judge};
use crate::spec::thresholds::MetricThreshold;
use futures_util::future::LocalBoxFuture;
use std::path::{Path, PathBuf};

/// Where a result's scopes are.
#[derive(Debug, Clone)]
enum Scopes {
    /// One run: the result directory itself.
    SingleRun,
    /// An experiment's cells, each with `layout.num_runs` trials.
    Cells { layout: Layout, labels: Vec<String> },
}

/// Judges thresholds when a run or experiment has ended.
#[derive(Debug, Clone)]
pub struct ThresholdStep {
    thresholds: Vec<MetricThreshold>,
    scopes: Scopes,
}

impl ThresholdStep {
    /// For `aiperf profile`: the thresholds judged on the run directory.
    pub fn single_run(thresholds: Vec<MetricThreshold>) -> Self {
        Self {
            thresholds,
            scopes: Scopes::SingleRun,
        }
    }

    /// For an experiment: judged per cell, over the cell's trials (found by `layout`).
    pub fn cells(thresholds: Vec<MetricThreshold>, layout: Layout, labels: Vec<String>) -> Self {
        Self {
            thresholds,
            scopes: Scopes::Cells { layout, labels },
        }
    }

    /// Every scope with the trial directories it has in `base`.
    fn scope_dirs(&self, base: &Path) -> Vec<(String, Vec<PathBuf>)> {
        match &self.scopes {
            Scopes::SingleRun => vec![("run".to_string(), vec![base.to_path_buf()])],
            Scopes::Cells { layout, labels } => labels
                .iter()
                .map(|label| {
                    let dirs = (1..=layout.num_runs.max(1))
                        .map(|r| layout.trial_dir(base, label, r))
                        .collect();
                    (label.clone(), dirs)
                })
                .collect(),
        }
    }

    /// Judges every threshold on every scope of the result in `base`.
    pub fn judge_all(&self, base: &Path) -> ThresholdsFile {
        let mut results = Vec::new();
        for (label, dirs) in self.scope_dirs(base) {
            let mut scope = Scope {
                label,
                ..Scope::default()
            };
            for dir in dirs {
                match RunSummaryFile::read(&dir.join(PROFILE_EXPORT_JSON)) {
                    Ok(summary) => scope.trials.push(summary),
                    Err(_) => scope.missing += 1,
                }
            }
            results.extend(self.thresholds.iter().map(|t| judge(t, &scope)));
        }
        ThresholdsFile {
            aiperf_version: env!("CARGO_PKG_VERSION").to_string(),
            passed: results.iter().all(|r| r.passed),
            results,
        }
    }
}

/// One console line: `PASS time_to_first_token.p99 < 200: 152.3 ms (value of the run)`.
fn line(result: &ThresholdResult, with_scope: bool) -> String {
    let verdict = if result.passed { "PASS" } else { "FAIL" };
    let scope = if with_scope {
        format!("[{}] ", result.scope)
    } else {
        String::new()
    };
    let observed = match result.observed {
        Some(v) => format!("{v:.3} {}", result.unit.as_deref().unwrap_or("")),
        None => "no value".to_string(),
    };
    let client = if result.client_bound_trials > 0 && !result.passed {
        format!(
            "; the client, not the server, limited {} of {} trial(s): the failure may be the client's",
            result.client_bound_trials, result.trials
        )
    } else {
        String::new()
    };
    format!(
        "  {verdict} {scope}{}: {} ({}{client})",
        result.threshold,
        observed.trim_end(),
        result.rule
    )
}

impl AfterRunStep for ThresholdStep {
    fn applies(&self, _: &Finished) -> bool {
        !self.thresholds.is_empty()
    }

    fn run<'a>(&'a self, finished: &'a Finished) -> LocalBoxFuture<'a, StepOutcome> {
        Box::pin(async move {
            let file = self.judge_all(&finished.dir);
            let with_scope = matches!(self.scopes, Scopes::Cells { .. });
            let failed = file.results.iter().filter(|r| !r.passed).count();
            println!(
                "thresholds: {} of {} passed",
                file.results.len() - failed,
                file.results.len()
            );
            for result in &file.results {
                println!("{}", line(result, with_scope));
            }
            let path = finished.dir.join(THRESHOLDS_JSON);
            let written = write_atomic(&path, &to_pretty_json(&file));
            if let Err(e) = &written {
                eprintln!("error: cannot write {}: {e}", path.display());
            }
            if failed > 0 {
                eprintln!(
                    "error: {failed} threshold judgement(s) failed (see {})",
                    path.display()
                );
                StepOutcome::Failed(ExitCode::THRESHOLDS_FAILED)
            } else if written.is_err() {
                StepOutcome::Failed(ExitCode::FAILURE)
            } else {
                StepOutcome::Done
            }
        })
    }
}
