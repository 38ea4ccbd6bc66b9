//! The CI gate: judging results against thresholds. Pure functions over the files a run or
//! an experiment wrote (read through their types); the after-run step
//! (`crate::after_run::ThresholdStep`) finds the files, writes `thresholds.json` and sets the
//! exit code.

pub mod compare;
pub mod inputs;
pub mod stats;
pub mod thresholds;
