//! Reading a result directory for a comparison: a single run, or an experiment (repeated
//! trials, a sweep, a search) through its `experiment_plan.json`, as scopes of trials.

use super::compare::{RunSamples, SamplesBuilder};
use crate::artifacts::names::{PLAN_JSON, PROFILE_EXPORT_JSON, PROFILE_EXPORT_JSONL};
use crate::artifacts::plan_file::PlanFile;
use crate::artifacts::record_line::RecordLine;
use crate::artifacts::summary::RunSummaryFile;
use std::path::{Path, PathBuf};

/// A result directory's scopes in order: `run` for a single run, else each cell's label with
/// the trials that left a summary.
pub type Scopes = Vec<(String, Vec<RunSamples>)>;

/// Reads every scope of the result in `dir`. The error says why the directory cannot be
/// compared (not a result directory, an unreadable file, a broken record line).
pub fn read_result(dir: &Path, keep: &dyn Fn(&str) -> bool) -> Result<Scopes, String> {
    let plan_path = dir.join(PLAN_JSON);
    if plan_path.is_file() {
        let plan: PlanFile = crate::artifacts::io::read(&plan_path).map_err(|e| e.to_string())?;
        let mut scopes: Scopes = Vec::new();
        for trial in &plan.trials {
            let Some(trial_dir) = locate(dir, &trial.dir) else {
                continue;
            };
            if !trial_dir.join(PROFILE_EXPORT_JSON).is_file() {
                continue;
            }
            let samples = read_run(&trial_dir, keep)?;
            match scopes.iter_mut().find(|(cell, _)| *cell == trial.cell) {
                Some((_, runs)) => runs.push(samples),
                None => scopes.push((trial.cell.clone(), vec![samples])),
            }
        }
        if scopes.is_empty() {
            return Err(format!(
                "{}: the experiment has no finished trial to compare",
                dir.display()
            ));
        }
        return Ok(scopes);
    }
    check_result_dir(dir)?;
    Ok(vec![("run".to_string(), vec![read_run(dir, keep)?])])
}

/// Whether `dir` holds a result `read_result` can read (a run's summary or an experiment's
/// plan), without reading it.
pub fn check_result_dir(dir: &Path) -> Result<(), String> {
    if dir.join(PLAN_JSON).is_file() || dir.join(PROFILE_EXPORT_JSON).is_file() {
        Ok(())
    } else {
        Err(format!(
            "{}: not a result directory (no {PROFILE_EXPORT_JSON} or {PLAN_JSON})",
            dir.display()
        ))
    }
}

/// A trial's directory: as planned, or the same path's last components under `base` (the
/// experiment was moved, e.g. downloaded as a CI artifact).
fn locate(base: &Path, planned: &Path) -> Option<PathBuf> {
    if planned.join(PROFILE_EXPORT_JSON).is_file() {
        return Some(planned.to_path_buf());
    }
    let parts: Vec<_> = planned.components().collect();
    (1..=parts.len().min(3))
        .map(|k| {
            parts[parts.len() - k..]
                .iter()
                .fold(base.to_path_buf(), |p, c| p.join(c))
        })
        .find(|p| p.join(PROFILE_EXPORT_JSON).is_file())
}

/// One run: its summary and (when written) its per-request records, read line by line and
/// kept only as far as `keep` asks.
fn read_run(dir: &Path, keep: &dyn Fn(&str) -> bool) -> Result<RunSamples, String> {
    use std::io::BufRead;
    let summary =
        RunSummaryFile::read(&dir.join(PROFILE_EXPORT_JSON)).map_err(|e| e.to_string())?;
    let path = dir.join(PROFILE_EXPORT_JSONL);
    let mut builder = SamplesBuilder::new(keep);
    if path.is_file() {
        let file = std::fs::File::open(&path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        for (i, line) in std::io::BufReader::new(file).lines().enumerate() {
            let line = line.map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            if line.trim().is_empty() {
                continue;
            }
            let record: RecordLine = serde_json::from_str(&line)
                .map_err(|e| format!("{}:{}: not a record line: {e}", path.display(), i + 1))?;
            builder.add(&record);
        }
    }
    Ok(builder.finish(summary))
}
