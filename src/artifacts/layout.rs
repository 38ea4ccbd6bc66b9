//! Where every result goes, in every mode, so "where is trial 3 of cell concurrency=16" has one
//! answer. AIPerf's layouts:
//!
//! | mode                                  | a trial                                 | a cell's aggregate          | the sweep aggregate                |
//! |---------------------------------------|-----------------------------------------|-----------------------------|------------------------------------|
//! | single run                            | `<base>/`                               | none                        | none                               |
//! | repeated trials, no sweep             | `<base>/profile_runs/run_NNNN/`         | `<base>/aggregate/`         | none                               |
//! | sweep, one run per cell (and NeMo)    | `<base>/<cell>/`                        | `<base>/aggregate/<cell>/`  | `<base>/sweep_aggregate/`          |
//! | sweep, repeated order                 | `<base>/profile_runs/trial_NNNN/<cell>/`| `<base>/aggregate/<cell>/`  | `<base>/aggregate/sweep_aggregate/`|
//! | sweep, independent order              | `<base>/<cell>/profile_runs/trial_NNNN/`| `<base>/<cell>/aggregate/`  | `<base>/sweep_aggregate/`          |
//! | search                                | `<base>/search_iter_NNNN/profile_runs/run_NNNN/` | as a sweep         | `<base>/sweep_aggregate/`          |

use crate::spec::experiment::IterationOrder;
use std::path::{Path, PathBuf};

/// The directory fixed by the layout between a cell and its repetitions.
const PROFILE_RUNS: &str = "profile_runs";
/// The directory of per-cell aggregates.
const AGGREGATE: &str = "aggregate";
/// The directory of the sweep aggregate.
const SWEEP_AGGREGATE: &str = "sweep_aggregate";

/// The shape of an experiment's directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    /// Cells are parameter combinations (a sweep, a NeMo batch or a search).
    pub swept: bool,
    /// Repetitions per cell.
    pub num_runs: u32,
    /// Trial order, which decides the nesting of cells and repetitions.
    pub order: IterationOrder,
}

impl Layout {
    /// The directory of repetition `repetition` (from 1) of the cell labelled `cell`.
    pub fn trial_dir(&self, base: &Path, cell: &str, repetition: u32) -> PathBuf {
        match (self.swept, self.num_runs > 1, self.order) {
            (false, false, _) => base.to_path_buf(),
            (false, true, _) => base.join(PROFILE_RUNS).join(run_name(repetition)),
            (true, false, _) => base.join(cell),
            (true, true, IterationOrder::Repeated) => base
                .join(PROFILE_RUNS)
                .join(trial_name(repetition))
                .join(cell),
            (true, true, IterationOrder::Independent) => base
                .join(cell)
                .join(PROFILE_RUNS)
                .join(trial_name(repetition)),
        }
    }

    /// Where the aggregate of the cell labelled `cell` goes (`None` for a single run).
    pub fn cell_aggregate_dir(&self, base: &Path, cell: &str) -> Option<PathBuf> {
        match (self.swept, self.num_runs > 1, self.order) {
            (false, false, _) => None,
            (false, true, _) => Some(base.join(AGGREGATE)),
            (true, true, IterationOrder::Independent) => Some(base.join(cell).join(AGGREGATE)),
            (true, _, _) => Some(base.join(AGGREGATE).join(cell)),
        }
    }

    /// Where the sweep aggregate goes.
    pub fn sweep_aggregate_dir(&self, base: &Path) -> PathBuf {
        if self.num_runs > 1 && self.order == IterationOrder::Repeated {
            base.join(AGGREGATE).join(SWEEP_AGGREGATE)
        } else {
            base.join(SWEEP_AGGREGATE)
        }
    }
}

/// `run_0003`: a repetition of an unswept benchmark or of a search point.
fn run_name(repetition: u32) -> String {
    format!("run_{repetition:04}")
}

/// `trial_0003`: a repetition of a swept cell.
fn trial_name(repetition: u32) -> String {
    format!("trial_{repetition:04}")
}

/// `search_iter_0004`: the directory of search point `index` (from 0).
pub fn search_point_label(index: usize) -> String {
    format!("search_iter_{:04}", index + 1)
}

/// The directory of run `run` (from 1) of search point `index` (from 0).
pub fn search_run_dir(base: &Path, index: usize, run: u32) -> PathBuf {
    base.join(search_point_label(index))
        .join(PROFILE_RUNS)
        .join(run_name(run))
}

/// The repetition a trial directory names (`trial_0002`, `run_0001`), in any layout.
pub fn repetition_name(base: &Path, trial_dir: &Path) -> Option<String> {
    trial_dir
        .strip_prefix(base)
        .unwrap_or(trial_dir)
        .components()
        .filter_map(|c| c.as_os_str().to_str())
        .find(|c| c.starts_with("trial_") || c.starts_with("run_"))
        .map(str::to_string)
}

/// A trial's path below `base` without the layout's fixed parts (`profile_runs/run_0001` →
/// `run_0001`): what tells trials apart in a label.
pub fn short_label(relative: &Path) -> String {
    relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .filter(|c| c != PROFILE_RUNS)
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(swept: bool, num_runs: u32, order: IterationOrder) -> Layout {
        Layout {
            swept,
            num_runs,
            order,
        }
    }

    #[test]
    fn every_mode_has_its_aiperf_layout() {
        let base = Path::new("/b");
        let cases = [
            (
                layout(false, 1, IterationOrder::Repeated),
                "/b",
                None,
                "/b/sweep_aggregate",
            ),
            (
                layout(false, 3, IterationOrder::Repeated),
                "/b/profile_runs/run_0002",
                Some("/b/aggregate"),
                "/b/aggregate/sweep_aggregate",
            ),
            (
                layout(true, 1, IterationOrder::Repeated),
                "/b/concurrency_16",
                Some("/b/aggregate/concurrency_16"),
                "/b/sweep_aggregate",
            ),
            (
                layout(true, 3, IterationOrder::Repeated),
                "/b/profile_runs/trial_0002/concurrency_16",
                Some("/b/aggregate/concurrency_16"),
                "/b/aggregate/sweep_aggregate",
            ),
            (
                layout(true, 3, IterationOrder::Independent),
                "/b/concurrency_16/profile_runs/trial_0002",
                Some("/b/concurrency_16/aggregate"),
                "/b/sweep_aggregate",
            ),
        ];
        for (l, trial, cell, sweep) in cases {
            assert_eq!(
                l.trial_dir(base, "concurrency_16", 2),
                Path::new(trial),
                "{l:?}"
            );
            assert_eq!(
                l.cell_aggregate_dir(base, "concurrency_16").as_deref(),
                cell.map(Path::new),
                "{l:?}"
            );
            assert_eq!(l.sweep_aggregate_dir(base), Path::new(sweep), "{l:?}");
        }
        assert_eq!(
            search_run_dir(base, 3, 2),
            Path::new("/b/search_iter_0004/profile_runs/run_0002")
        );
    }

    #[test]
    fn repetitions_and_labels_are_read_back_from_any_layout() {
        let base = Path::new("/b");
        for (dir, rep) in [
            ("/b/profile_runs/trial_0002/c_1", Some("trial_0002")),
            ("/b/c_1/profile_runs/trial_0003", Some("trial_0003")),
            (
                "/b/search_iter_0001/profile_runs/run_0001",
                Some("run_0001"),
            ),
            ("/b/c_1", None),
        ] {
            assert_eq!(repetition_name(base, Path::new(dir)).as_deref(), rep);
        }
        assert_eq!(short_label(Path::new("profile_runs/run_0001")), "run_0001");
    }
}
