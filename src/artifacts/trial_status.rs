//! The state of each trial on disk (`trial_status.json` in its directory), which makes an
//! experiment resumable: a trial with a final status is never run again.

use crate::artifacts::names::TRIAL_STATUS_JSON;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// How a trial ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum TrialStatus {
    /// The benchmark ran; its files are in the directory.
    Completed,
    /// It failed; the reason is kept.
    Failed {
        /// Why.
        error: String,
    },
    /// Not run because its cell had converged.
    Skipped {
        /// Why.
        reason: String,
    },
}

/// Reads a trial's final status, if it has one.
pub fn read(dir: &Path) -> Option<TrialStatus> {
    let text = std::fs::read_to_string(dir.join(TRIAL_STATUS_JSON)).ok()?;
    serde_json::from_str(&text).ok()
}

/// Records a trial's final status.
pub fn write(dir: &Path, status: &TrialStatus) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    crate::artifacts::io::write_atomic(
        &dir.join(TRIAL_STATUS_JSON),
        &crate::artifacts::io::to_pretty_json(status),
    )
}

/// Forgets a trial's status (a fresh, non-resumed start re-runs everything).
pub fn clear(dir: &Path) {
    let _ = std::fs::remove_file(dir.join(TRIAL_STATUS_JSON));
}
