//! Running an experiment: every trial of the plan in order, each writing its own files, with
//! aggregates rewritten after every trial. A failed trial is recorded and the experiment goes on;
//! Ctrl-C stops after the current trial's results are written and says how to resume.

mod adaptive;
pub mod aggregates;
mod dry_run;
mod nemo_files;
mod report;

use crate::artifacts::names::PLAN_JSON;
use crate::artifacts::plan_file::{PlanFile, PlannedTrial, planned_trial};
use crate::artifacts::trial_status::{self as status, TrialStatus};
use crate::error::AppError;
use crate::exit_code::ExitCode;
use crate::plan::{Plan, Trial};
use crate::run::{Invocation, run_benchmark};
use crate::spec::experiment::{ConvergenceMode, Experiment};
use crate::spec::load::LoadedExperiment;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

pub use dry_run::{describe_cell, dry_run};

/// Options of `aiperf run`.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Print each trial's resolved configuration and sweep overrides before it runs.
    pub verbose: bool,
    /// Continue the experiment in this directory.
    pub resume: Option<PathBuf>,
    /// Start afresh in a directory that holds earlier results, moving them aside first.
    pub force: bool,
    /// The command line, secrets redacted.
    pub command_line: String,
}

/// A fingerprint of the plan: what each trial runs and where (secrets redacted).
fn plan_fingerprint(plan: &Plan) -> Vec<PlannedTrial> {
    plan.trials
        .iter()
        .map(|t| {
            let cell = &plan.cells[t.cell];
            planned_trial(
                t.number,
                &cell.label,
                t.repetition,
                t.dir.clone(),
                &cell.parameters,
                &t.spec,
            )
        })
        .collect()
}

/// Moves every trial under `new_base` (for `--resume DIR` when DIR is not the spec's directory).
fn rebase(plan: &mut Plan, new_base: &Path) {
    let old = plan.base_dir.clone();
    for t in &mut plan.trials {
        let rel = t
            .dir
            .strip_prefix(&old)
            .map(Path::to_path_buf)
            .unwrap_or_default();
        t.dir = new_base.join(rel);
        t.spec.artifacts.dir = t.dir.clone();
    }
    plan.base_dir = new_base.to_path_buf();
}

/// Prepares the directory: a fresh start forgets earlier trial states; a resume checks that the
/// experiment is the one that was started there.
fn prepare(plan: &mut Plan, loaded: &LoadedExperiment, opts: &RunOptions) -> Result<(), AppError> {
    let fingerprint = plan_fingerprint(plan);
    if let Some(dir) = &opts.resume {
        rebase(plan, dir);
        let fingerprint = plan_fingerprint(plan);
        let path = dir.join(PLAN_JSON);
        if !path.is_file() {
            return Err(AppError::config(format!(
                "{} holds no experiment to resume ({PLAN_JSON} not found)",
                dir.display()
            )));
        }
        let saved: PlanFile =
            crate::artifacts::io::read(&path).map_err(|e| AppError::config(format!("{e}")))?;
        if saved.trials != fingerprint {
            return Err(AppError::config(format!(
                "{} was started from a different experiment (its trials or settings differ from {}); resume it with \
                 the file it was started with, or start a new experiment in another directory",
                dir.display(),
                loaded.file.display()
            )));
        }
        return Ok(());
    }
    if let Some(found) = earlier_results(plan) {
        if !opts.force {
            return Err(AppError::config(format!(
                "{} already holds the results of an experiment ({found}); continue it with --resume {}, or pass \
                 --force to move them aside (nothing is deleted)",
                plan.base_dir.display(),
                plan.base_dir.display()
            )));
        }
        let aside = move_aside(&plan.base_dir)?;
        eprintln!(
            "--force: the earlier results in {} were moved to {}",
            plan.base_dir.display(),
            aside.display()
        );
    }
    std::fs::create_dir_all(&plan.base_dir).map_err(|e| {
        AppError::failure(format!("cannot create {}: {e}", plan.base_dir.display()))
    })?;
    let doc = PlanFile {
        aiperf_version: crate::VERSION.to_string(),
        file: loaded.file.clone(),
        command_line: opts.command_line.clone(),
        num_cells: plan.cells.len(),
        num_runs: plan.num_runs,
        trials: fingerprint,
    };
    crate::artifacts::io::write_atomic(
        &plan.base_dir.join(PLAN_JSON),
        &crate::artifacts::io::to_pretty_json(&doc),
    )
    .map_err(|e| {
        AppError::failure(format!(
            "cannot write {}: {e}",
            plan.base_dir.join(PLAN_JSON).display()
        ))
    })
}

/// What marks the experiment directory as holding earlier results: its plan file, or a trial
/// directory with files in it. `None` for a new or empty directory.
fn earlier_results(plan: &Plan) -> Option<String> {
    if plan.base_dir.join(PLAN_JSON).is_file() {
        return Some(PLAN_JSON.to_string());
    }
    let trials = plan
        .trials
        .iter()
        .filter(|t| {
            t.dir != plan.base_dir
                && std::fs::read_dir(&t.dir).is_ok_and(|mut entries| entries.next().is_some())
        })
        .count();
    if trials > 0 {
        return Some(format!("{trials} trial directories with files"));
    }
    let single = plan
        .base_dir
        .join(crate::artifacts::names::PROFILE_EXPORT_JSONL);
    single
        .is_file()
        .then(|| crate::artifacts::names::PROFILE_EXPORT_JSONL.to_string())
}

/// Renames `dir` to the first free `DIR.old-N` beside it and returns the new path.
fn move_aside(dir: &Path) -> Result<PathBuf, AppError> {
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "results".into());
    let parent = dir.parent().unwrap_or(Path::new("."));
    for n in 1..10_000 {
        let candidate = parent.join(format!("{name}.old-{n}"));
        if !candidate.exists() {
            std::fs::rename(dir, &candidate).map_err(|e| {
                AppError::failure(format!(
                    "--force: cannot move {} to {}: {e}",
                    dir.display(),
                    candidate.display()
                ))
            })?;
            return Ok(candidate);
        }
    }
    Err(AppError::failure(format!(
        "--force: no free name to move {} aside",
        dir.display()
    )))
}

/// Whether a cell's completed trials already meet the convergence criterion.
fn converged(plan: &Plan, experiment: &Experiment, cell: usize) -> Option<String> {
    let c = experiment.multi_run.convergence.as_ref()?;
    let (runs, _) = aggregates::cell_runs(plan, cell);
    if runs.len() < c.min_runs as usize {
        return None;
    }
    let values: Vec<f64> = runs
        .iter()
        .filter_map(|(_, s)| s.stat(&c.metric, &c.stat))
        .collect();
    let stats =
        crate::aggregate::confidence::confidence(&values, experiment.multi_run.confidence_level)?;
    if stats.n < c.min_runs as usize || stats.mean == 0.0 {
        return None;
    }
    let (name, value) = match c.mode {
        ConvergenceMode::CiWidth => (
            "CI half-width / mean",
            (stats.ci_high - stats.mean) / stats.mean.abs(),
        ),
        ConvergenceMode::Cv => ("CV", stats.cv),
    };
    (value.is_finite() && value < c.threshold).then(|| {
        format!(
            "converged after {} runs: {} {}_{} = {value:.4} < {}",
            stats.n, name, c.metric, c.stat, c.threshold
        )
    })
}

/// Sleeps, unless interrupted first.
async fn cooldown(seconds: f64, interrupt: &CancellationToken) {
    if seconds > 0.0 {
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs_f64(seconds)) => {}
            _ = interrupt.cancelled() => {}
        }
    }
}

fn describe(plan: &Plan, trial: &Trial) -> String {
    let params = plan.cells[trial.cell].parameters_text();
    if plan.num_runs > 1 {
        format!("{params} (run {}/{})", trial.repetition, plan.num_runs)
    } else {
        params
    }
}

/// Runs one trial and records its status.
pub(crate) async fn run_trial(
    trial: &Trial,
    opts: &RunOptions,
    interrupt: &CancellationToken,
    multi: Option<&MultiProgress>,
) -> (TrialStatus, bool, String) {
    let invocation = Invocation {
        command_line: opts.command_line.clone(),
        quiet: true,
        interrupt: Some(interrupt.clone()),
        progress: multi.cloned(),
        calibrating: false,
    };
    let (status, interrupted, line) = match run_benchmark(trial.spec.clone(), &invocation).await {
        Ok(report) if report.exit_code.is_interruption() => (None, true, "interrupted".to_string()),
        Ok(report) if report.exit_code == ExitCode::ALL_REQUESTS_FAILED => {
            let first = report
                .summary
                .error_groups
                .first()
                .map(|g| format!(": {}", g.message))
                .unwrap_or_default();
            let error = format!("every request failed{first}");
            (
                Some(TrialStatus::Failed {
                    error: error.clone(),
                }),
                false,
                format!("FAILED {error}"),
            )
        }
        Ok(report) if report.exit_code == ExitCode::TOO_MANY_FAILURES => {
            let error = format!(
                "stopped early: {} of {} finished requests failed (--failed-request-threshold)",
                report.summary.errors,
                report.summary.success + report.summary.errors
            );
            (
                Some(TrialStatus::Failed {
                    error: error.clone(),
                }),
                false,
                format!("FAILED {error}"),
            )
        }
        Ok(report) => (
            Some(TrialStatus::Completed),
            false,
            report::trial_line(&report.summary),
        ),
        Err(e) => (
            Some(TrialStatus::Failed {
                error: e.message.clone(),
            }),
            false,
            format!("FAILED {}", e.message),
        ),
    };
    match status {
        Some(s) => {
            if let Err(e) = status::write(&trial.dir, &s) {
                tracing::warn!("cannot record the status of {}: {e}", trial.dir.display());
            }
            (s, interrupted, line)
        }
        None => (
            TrialStatus::Failed {
                error: "interrupted".into(),
            },
            true,
            line,
        ),
    }
}

/// How an experiment ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExperimentEnd {
    /// The exit code so far (before plots and uploads).
    pub code: ExitCode,
    /// Trials that completed, this time or in an earlier attempt that was resumed.
    pub completed: usize,
    /// Where the results are (the directory resumed, when resumed elsewhere).
    pub dir: PathBuf,
}

/// Runs an expanded experiment: every trial, the aggregates and the closing report. Plots and
/// uploads are the caller's (`crate::after_run`).
pub async fn run(
    loaded: &LoadedExperiment,
    mut plan: Plan,
    opts: &RunOptions,
) -> Result<ExperimentEnd, AppError> {
    prepare(&mut plan, loaded, opts)?;
    let experiment = &loaded.experiment;
    let interrupt = crate::signals::shutdown_token();
    let total = plan.trials.len();
    let tty = std::io::stderr().is_terminal();
    let multi =
        tty.then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr_with_hz(10)));
    let overall = multi.as_ref().map(|m| {
        let bar = m.add(ProgressBar::new(total as u64));
        bar.set_style(
            ProgressStyle::with_template("{prefix:>9} [{bar:30}] {pos}/{len} trials  {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        bar.set_prefix("trials");
        bar
    });
    let say = |line: String| match &multi {
        Some(m) => {
            let _ = m.println(line);
        }
        None => eprintln!("{line}"),
    };
    if plan.adaptive.is_none() {
        say(format!(
            "experiment: {} cells x {} runs = {total} trials -> {}",
            plan.cells.len(),
            plan.num_runs,
            plan.base_dir.display()
        ));
    }
    let mut interrupted = false;
    if plan.adaptive.is_some() {
        let (code, searched) = adaptive::run(loaded, plan, opts, &interrupt, &say).await?;
        plan = searched;
        interrupted = code.is_interruption();
    } else {
        let mut previous_cell: Option<usize> = None;
        for trial in plan.trials.clone() {
            if let Some(bar) = &overall {
                bar.set_position(trial.number as u64 - 1);
                bar.set_message(describe(&plan, &trial));
            }
            let tag = format!("[{}/{total}]", trial.number);
            if let Some(done) = status::read(&trial.dir) {
                say(format!(
                    "{tag} {}: already {}",
                    describe(&plan, &trial),
                    match done {
                        TrialStatus::Completed => "done",
                        TrialStatus::Failed { .. } => "failed",
                        TrialStatus::Skipped { .. } => "skipped",
                    }
                ));
                continue;
            }
            if let Some(reason) = converged(&plan, experiment, trial.cell) {
                say(format!(
                    "{tag} {}: skipped, {reason}",
                    describe(&plan, &trial)
                ));
                let _ = status::write(&trial.dir, &TrialStatus::Skipped { reason });
                continue;
            }
            if let Some(prev) = previous_cell {
                let pause = if prev != trial.cell {
                    experiment
                        .sweep
                        .as_ref()
                        .map_or(0.0, |s| s.cooldown_seconds)
                } else {
                    experiment.multi_run.cooldown_seconds
                };
                cooldown(pause, &interrupt).await;
            }
            if interrupt.is_cancelled() {
                interrupted = true;
                break;
            }
            let (outcome, was_interrupted, line) =
                run_trial(&trial, opts, &interrupt, multi.as_ref()).await;
            if let Some(nemo) = &plan.nemo
                && !was_interrupted
            {
                let (code, error) = match &outcome {
                    TrialStatus::Completed => (0, None),
                    TrialStatus::Failed { error } => (1, Some(error.as_str())),
                    TrialStatus::Skipped { .. } => (0, None),
                };
                if let Err(e) = nemo_files::write(nemo, &trial, &loaded.file, code, error) {
                    say(format!(
                        "warning: cannot write the NeMo runner files of {}: {e}",
                        trial.dir.display()
                    ));
                }
            }
            say(format!(
                "{tag} {} -> {}: {line}",
                describe(&plan, &trial),
                aggregates::trial_label(&plan, &trial.dir)
            ));
            previous_cell = Some(trial.cell);
            if let Err(e) = aggregates::write_all(&plan, experiment) {
                say(format!("warning: cannot write aggregates: {e}"));
            }
            if was_interrupted {
                interrupted = true;
                break;
            }
        }
    }
    if let Some(bar) = &overall {
        bar.finish_and_clear();
    }
    let cells = aggregates::write_all(&plan, experiment)
        .map_err(|e| AppError::failure(format!("cannot write aggregates: {e}")))?;
    let total = plan.trials.len();
    let outcomes: Vec<Option<TrialStatus>> =
        plan.trials.iter().map(|t| status::read(&t.dir)).collect();
    let completed = outcomes
        .iter()
        .filter(|s| matches!(s, Some(TrialStatus::Completed)))
        .count();
    let failed = outcomes
        .iter()
        .filter(|s| matches!(s, Some(TrialStatus::Failed { .. })))
        .count();
    let skipped = outcomes
        .iter()
        .filter(|s| matches!(s, Some(TrialStatus::Skipped { .. })))
        .count();
    println!("{}", report::experiment_table(&plan, &cells));
    println!(
        "Trials: {total} planned, {completed} completed, {failed} failed, {skipped} skipped (converged)"
    );
    if plan.nemo.is_some() {
        println!("SUMMARY\nTotal runs : {total}\nCompleted  : {completed}\nFailed     : {failed}");
    }
    if plan.swept {
        println!(
            "Sweep aggregate: {}",
            aggregates::sweep_aggregate_dir(&plan)
                .join(crate::artifacts::names::SWEEP_JSON)
                .display()
        );
    } else if let Some(dir) = aggregates::cell_aggregate_dir(&plan, "") {
        println!(
            "Aggregate: {}",
            dir.join(crate::artifacts::names::AGGREGATE_JSON).display()
        );
    }
    println!("Results: {}", plan.base_dir.display());
    if interrupted {
        let again = if loaded.file == Path::new(crate::spec::load::FROM_FLAGS) {
            "the same aiperf profile command with".to_string()
        } else {
            format!("aiperf run {}", loaded.file.display())
        };
        println!(
            "Interrupted. Finished trials are kept; continue with:\n  {again} --resume {}",
            plan.base_dir.display()
        );
        return Ok(ExperimentEnd {
            code: crate::signals::interrupted_exit_code(),
            completed,
            dir: plan.base_dir,
        });
    }
    let code = if failed > 0 {
        ExitCode::TRIALS_FAILED
    } else {
        ExitCode::SUCCESS
    };
    Ok(ExperimentEnd {
        code,
        completed,
        dir: plan.base_dir,
    })
}
