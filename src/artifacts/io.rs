//! Writing and reading the files of a result directory: atomic writes (a kill never leaves half
//! a file) and JSON in AIPerf's one-space indentation.

use std::io::Write;
use std::path::Path;

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

/// A file of ours that could not be read back. The message carries the cause itself (no
/// `source`), so an error chain does not print it twice.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// Missing or unreadable.
    #[error("cannot read {}: {cause}", path.display())]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        cause: std::io::Error,
    },
    /// Not the JSON this file holds.
    #[error("{} is not readable: {cause}", path.display())]
    Shape {
        /// The file.
        path: std::path::PathBuf,
        /// Where and what.
        cause: serde_json::Error,
    },
}

/// Reads one of our JSON files into its type.
pub fn read<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, ReadError> {
    let text = std::fs::read_to_string(path).map_err(|cause| ReadError::Io {
        path: path.to_path_buf(),
        cause,
    })?;
    serde_json::from_str(&text).map_err(|cause| ReadError::Shape {
        path: path.to_path_buf(),
        cause,
    })
}
