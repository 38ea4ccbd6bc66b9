//! The hashes W&B checks: base64 MD5 of files, the artifact manifest digest, SHA-256 of tables,
//! and the table file itself (its bytes are what is hashed, so they are built once here).

use base64::Engine;
use md5::{Digest, Md5};
use serde_json::{Value, json};
use sha2::Sha256;

/// base64(MD5(bytes)): the digest of an artifact entry and of the uploaded manifest.
pub fn b64_md5(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(Md5::digest(bytes))
}

/// Lowercase hex SHA-256, as table references carry it.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The artifact digest (`MANIFEST_MD5`): hex MD5 of the manifest header line and one
/// `path:b64md5` line per entry, sorted by path.
pub fn artifact_digest(entries: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> = entries.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    let mut text = String::from("wandb-artifact-manifest-v1\n");
    for (path, digest) in sorted {
        text.push_str(&format!("{path}:{digest}\n"));
    }
    hex(&Md5::digest(text.as_bytes()))
}

/// A W&B Table: column names and rows (numbers, strings or null).
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// Column names.
    pub columns: Vec<String>,
    /// Rows, each as long as `columns`.
    pub rows: Vec<Vec<Value>>,
}

impl Table {
    /// The table file: compact `{"columns":[...],"data":[[...]]}`, byte-identical to the SDK's.
    pub fn file_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(&json!({"columns": self.columns, "data": self.rows})).unwrap_or_default()
    }

    /// The run-file path W&B expects for this table under `key` at `step`.
    pub fn path(key: &str, step: u64, bytes: &[u8]) -> String {
        format!(
            "media/table/{key}_{step}_{}.table.json",
            &sha256_hex(bytes)[..20]
        )
    }

    /// The reference to the uploaded file that goes into history and summary.
    pub fn reference(&self, path: &str, bytes: &[u8]) -> Value {
        json!({
            "_type": "table-file",
            "path": path,
            "sha256": sha256_hex(bytes),
            "size": bytes.len(),
            "ncols": self.columns.len(),
            "nrows": self.rows.len(),
            "log_mode": "IMMUTABLE",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The table bytes the SDK 0.31.0 wrote in the captured session, and their hash.
    #[test]
    fn table_bytes_and_hash_match_the_sdk() {
        let t = Table {
            columns: ["Metric", "avg", "min", "max", "p99", "p90", "p50", "std"]
                .map(String::from)
                .to_vec(),
            rows: vec![
                vec![
                    json!("time_to_first_token_ms"),
                    json!(12.5),
                    json!(10.0),
                    json!(20.0),
                    json!(19.9),
                    json!(18.0),
                    json!(12.0),
                    json!(2.1),
                ],
                vec![
                    json!("request_count"),
                    json!(100),
                    Value::Null,
                    Value::Null,
                    Value::Null,
                    Value::Null,
                    Value::Null,
                    Value::Null,
                ],
            ],
        };
        let bytes = t.file_bytes();
        assert_eq!(bytes.len(), 186);
        assert_eq!(
            sha256_hex(&bytes),
            "4838a077cac651caacf56f7e8b3d63686115f47ed8d7d7a0629bf4749a35b837"
        );
        assert_eq!(
            Table::path("summary_metrics", 0, &bytes),
            "media/table/summary_metrics_0_4838a077cac651caacf5.table.json"
        );
    }

    #[test]
    fn artifact_digest_sorts_entries() {
        let a = artifact_digest(&[("b".into(), "x".into()), ("a".into(), "y".into())]);
        let b = artifact_digest(&[("a".into(), "y".into()), ("b".into(), "x".into())]);
        assert_eq!(a, b);
        assert_eq!(a.len(), 32);
        assert_eq!(b64_md5(b""), "1B2M2Y8AsgTpgAmY7PhCfg==");
    }
}
