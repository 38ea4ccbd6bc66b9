//! Finding what a directory holds: run directories, the sweep aggregate, the search history and
//! the recipe analyses, in aiperf's layouts and AIPerf's. From that comes the mode: one run, or
//! many (a sweep, repeated trials, a search, or several directories compared).

use crate::artifacts::names::SEARCH_HISTORY_JSON;
use crate::artifacts::names::SWEEP_JSON;
use crate::export::{PROFILE_EXPORT_JSON, PROFILE_EXPORT_JSONL};
use std::path::{Path, PathBuf};

crate::sentence_error!(
    /// A set of paths with no aiperf or AIPerf results to plot.
    NothingToPlot
);

/// Directories never searched: our own outputs and tool state.
const SKIPPED_DIRS: &[&str] = &["plots", "logs", "wandb"];

/// How deep below an input path results are looked for (AIPerf's deepest layout is 4).
const MAX_DEPTH: usize = 8;

/// What one input path holds.
#[derive(Debug, Clone, Default)]
pub struct Source {
    /// The path as given.
    pub root: PathBuf,
    /// Directories with both `profile_export.jsonl` and `profile_export_aiperf.json`, sorted.
    pub run_dirs: Vec<PathBuf>,
    /// The shallowest `profile_export_aiperf_sweep.json`.
    pub sweep_json: Option<PathBuf>,
    /// The shallowest `search_history.json`.
    pub search_history: Option<PathBuf>,
}

impl Source {
    /// A recipe analysis file (`degradation_knee.json`, ...) beside the sweep aggregate.
    pub fn analysis(&self, name: &str) -> Option<PathBuf> {
        let path = self.sweep_json.as_ref()?.parent()?.join(name);
        path.is_file().then_some(path)
    }

    /// A name for this source in labels: the directory's own name.
    pub fn name(&self) -> String {
        self.root
            .canonicalize()
            .unwrap_or_else(|_| self.root.clone())
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| self.root.display().to_string())
    }
}

/// Whether the plots are of one run or of many.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// Exactly one run directory and no sweep: per-request plots of that run.
    SingleRun(PathBuf),
    /// Several runs or a sweep aggregate: one point per cell or run.
    MultiRun,
}

/// Everything found under the input paths.
#[derive(Debug, Clone)]
pub struct Discovery {
    /// One entry per input path, in the order given.
    pub sources: Vec<Source>,
    /// The mode the contents imply.
    pub mode: Mode,
}

/// Searches the input paths. Fails when a path does not exist or nothing aiperf wrote is found.
pub fn discover(paths: &[PathBuf]) -> Result<Discovery, NothingToPlot> {
    let mut sources = Vec::new();
    for root in paths {
        if !root.is_dir() {
            return Err(format!("{} is not a directory", root.display()).into());
        }
        let mut source = Source {
            root: root.clone(),
            ..Default::default()
        };
        walk(root, 0, &mut source);
        source.run_dirs.sort();
        sources.push(source);
    }
    let runs: Vec<&PathBuf> = sources.iter().flat_map(|s| &s.run_dirs).collect();
    let sweeps = sources.iter().filter(|s| s.sweep_json.is_some()).count();
    let mode = match (runs.len(), sweeps) {
        (0, 0) => {
            return Err(format!(
                "no aiperf results under {}: expected run directories ({PROFILE_EXPORT_JSON} with \
                 {PROFILE_EXPORT_JSONL}) or a sweep aggregate ({SWEEP_JSON})",
                paths
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
            .into());
        }
        (1, 0) => Mode::SingleRun(runs[0].clone()),
        _ => Mode::MultiRun,
    };
    Ok(Discovery { sources, mode })
}

fn walk(dir: &Path, depth: usize, source: &mut Source) {
    if dir.join(PROFILE_EXPORT_JSON).is_file() && dir.join(PROFILE_EXPORT_JSONL).is_file() {
        source.run_dirs.push(dir.to_path_buf());
    }
    if source.sweep_json.is_none() && dir.join(SWEEP_JSON).is_file() {
        source.sweep_json = Some(dir.join(SWEEP_JSON));
    }
    if source.search_history.is_none() && dir.join(SEARCH_HISTORY_JSON).is_file() {
        source.search_history = Some(dir.join(SEARCH_HISTORY_JSON));
    }
    if depth >= MAX_DEPTH {
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut children: Vec<PathBuf> = entries
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.path())
        .filter(|p| {
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            !name.starts_with('.') && !SKIPPED_DIRS.contains(&name.as_str())
        })
        .collect();
    // Breadth matters for "shallowest": visit this level's files first (done above), then
    // children in name order.
    children.sort();
    for child in children {
        walk(&child, depth + 1, source);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_dir(path: &Path) {
        std::fs::create_dir_all(path).unwrap();
        std::fs::write(path.join(PROFILE_EXPORT_JSON), "{}").unwrap();
        std::fs::write(path.join(PROFILE_EXPORT_JSONL), "").unwrap();
    }

    #[test]
    fn one_run_is_single_run_mode() {
        let dir = tempfile::tempdir().unwrap();
        run_dir(dir.path());
        let d = discover(&[dir.path().to_path_buf()]).unwrap();
        assert_eq!(d.mode, Mode::SingleRun(dir.path().to_path_buf()));
    }

    #[test]
    fn repeated_sweep_layout_is_multi_run_with_its_aggregate() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path();
        for t in ["trial_0001", "trial_0002"] {
            run_dir(&base.join("profile_runs").join(t).join("concurrency_1"));
        }
        std::fs::create_dir_all(base.join("aggregate/sweep_aggregate")).unwrap();
        std::fs::write(
            base.join("aggregate/sweep_aggregate").join(SWEEP_JSON),
            "{}",
        )
        .unwrap();
        run_dir(&base.join("plots/not_a_run"));
        let d = discover(&[base.to_path_buf()]).unwrap();
        assert_eq!(d.mode, Mode::MultiRun);
        assert_eq!(d.sources[0].run_dirs.len(), 2);
        assert!(d.sources[0].sweep_json.is_some());
    }

    #[test]
    fn an_empty_directory_is_an_error_that_says_what_was_expected() {
        let dir = tempfile::tempdir().unwrap();
        let e = discover(&[dir.path().to_path_buf()]).unwrap_err();
        assert!(e.0.contains("no aiperf results"), "{e}");
        let e = discover(&[dir.path().join("missing")]).unwrap_err();
        assert!(e.0.contains("is not a directory"), "{e}");
    }
}
