//! The CI gate: judging results against thresholds, and comparing them with a baseline's.
//! Functions over the files a run or an experiment wrote (read through their types); the
//! after-run steps (`crate::after_run::ThresholdStep`, `CompareStep`) and `aiperf compare`
//! write the verdict files and set the exit code.

pub mod compare;
pub mod comparison;
pub mod inputs;
pub mod report;
pub mod search_compare;
pub mod stats;
pub mod thresholds;
