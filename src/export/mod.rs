//! Writers of what the user sees: result files (AIPerf's names and shapes) and console tables.

pub mod console;
pub mod csv_export;
pub mod json_export;
pub mod line_file;

pub mod records;
pub mod timeslices;

pub use crate::artifacts::io::{read_json, to_pretty_json, write_atomic};
pub use crate::artifacts::names::{
    INPUTS_JSON, LOG_FILE, PROFILE_EXPORT_CSV, PROFILE_EXPORT_JSON, PROFILE_EXPORT_JSONL,
    RUN_METADATA_JSON,
};

use std::path::Path;

/// Writes `inputs.json`: `{"data": [{"session_id", "payloads": [body]}]}`.
pub fn write_inputs(path: &Path, dataset: &crate::dataset::Dataset) -> std::io::Result<()> {
    let data: Vec<serde_json::Value> = dataset
        .entries
        .iter()
        .map(|e| serde_json::json!({"session_id": e.session_id, "payloads": [e.payload]}))
        .collect();
    write_atomic(path, &to_pretty_json(&serde_json::json!({ "data": data })))
}
