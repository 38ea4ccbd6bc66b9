//! Writers of what the user sees: result files (AIPerf's names and shapes) and console tables.

pub mod console;
pub mod csv_export;
pub mod json_export;
pub mod line_file;
pub mod metadata;
pub mod records;

use std::io::Write;
use std::path::Path;

/// `profile_export_aiperf.json`: the run summary.
pub const PROFILE_EXPORT_JSON: &str = "profile_export_aiperf.json";
/// `profile_export_aiperf.csv`: the run summary as tables.
pub const PROFILE_EXPORT_CSV: &str = "profile_export_aiperf.csv";
/// `profile_export.jsonl`: one line per profiling request, streamed as requests complete.
pub const PROFILE_EXPORT_JSONL: &str = "profile_export.jsonl";
/// `inputs.json`: the exact request bodies.
pub const INPUTS_JSON: &str = "inputs.json";
/// `run_metadata.json`: how the run was configured and how it ended.
pub const RUN_METADATA_JSON: &str = "run_metadata.json";
/// `logs/aiperf.log`: the run log.
pub const LOG_FILE: &str = "logs/aiperf.log";

/// Writes a file atomically (temporary file + rename), so a crash never leaves half a file. On
/// failure (disk full) the temporary file is removed and any earlier version stays intact.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension(format!(
        "{}.tmp",
        path.extension().and_then(|e| e.to_str()).unwrap_or("")
    ));
    let written = (|| {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_data()?;
        std::fs::rename(&tmp, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

/// Reads a JSON file; the error names the file and whether it was missing or not JSON.
pub fn read_json(path: &Path) -> anyhow::Result<serde_json::Value> {
    use anyhow::Context;
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not valid JSON", path.display()))
}

/// Serializes JSON with one-space indentation, as AIPerf's files are.
pub fn to_pretty_json(value: &impl serde::Serialize) -> Vec<u8> {
    let mut out = Vec::new();
    let formatter = serde_json::ser::PrettyFormatter::with_indent(b" ");
    let mut ser = serde_json::Serializer::with_formatter(&mut out, formatter);
    // Serializing a serde_json::Value or plain derive structs into memory cannot fail.
    let _ = value.serialize(&mut ser);
    out
}

/// Writes `inputs.json`: `{"data": [{"session_id", "payloads": [body]}]}`.
pub fn write_inputs(path: &Path, dataset: &crate::dataset::Dataset) -> std::io::Result<()> {
    let data: Vec<serde_json::Value> = dataset
        .entries
        .iter()
        .map(|e| serde_json::json!({"session_id": e.session_id, "payloads": [e.payload]}))
        .collect();
    write_atomic(path, &to_pretty_json(&serde_json::json!({ "data": data })))
}
