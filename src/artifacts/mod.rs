//! The files on disk: every name aiperf writes, where each goes in every mode, and how they are
//! written and read back. Everything that reads a result directory (aggregates, resume, plots,
//! uploads, dry run) finds its files here.

pub mod aggregates;
pub mod analyses;
pub mod calibration;
pub mod compare_file;
pub mod io;
pub mod layout;
pub mod names;
pub mod plan_file;
pub mod record_line;
pub mod run_metadata;
pub mod search_history;
pub mod summary;
pub mod thresholds;
pub mod trial_status;
