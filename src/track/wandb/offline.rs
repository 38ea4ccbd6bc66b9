//! Offline W&B runs: the `.wandb` transaction log the official SDK writes with
//! `WANDB_MODE=offline`, so `wandb sync DIR` can upload it later (wandb-protocol.md §8).
//!
//! The file is a 7-byte header (`:W&B`, magic 0xBEE1, version 0) followed by the LevelDB log
//! format (32 KiB blocks, chunks of `crc32 | length | type | payload`, plain CRC-32/IEEE over
//! type and payload) whose records are `wandb_internal.Record` protobufs. The messages below
//! carry only the fields aiperf writes, with the field numbers of wandb 0.31.0.

use super::digest::{Table, b64_md5};
use super::upload::{RunContent, random_id};
use anyhow::{Context, Result};
use serde_json::{Map, Value, json};
use std::path::{Path, PathBuf};

/// `google.protobuf.Timestamp`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Timestamp {
    /// Seconds since the Unix epoch.
    #[prost(int64, tag = "1")]
    pub seconds: i64,
    /// Nanoseconds within the second.
    #[prost(int32, tag = "2")]
    pub nanos: i32,
}

/// `wandb_internal.Record`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Record {
    /// Sequence number (0 is accepted by `wandb sync`).
    #[prost(int64, tag = "1")]
    pub num: i64,
    /// The record.
    #[prost(oneof = "RecordType", tags = "2, 3, 6, 8, 17, 18, 21")]
    pub record_type: Option<RecordType>,
}

/// The kinds of record aiperf writes.
#[derive(Clone, PartialEq, prost::Oneof)]
pub enum RecordType {
    /// A history row.
    #[prost(message, tag = "2")]
    History(HistoryRecord),
    /// Summary updates.
    #[prost(message, tag = "3")]
    Summary(SummaryRecord),
    /// Run files to upload.
    #[prost(message, tag = "6")]
    Files(FilesRecord),
    /// An output artifact.
    #[prost(message, tag = "8")]
    Artifact(ArtifactRecord),
    /// The run.
    #[prost(message, tag = "17")]
    Run(RunRecord),
    /// The end of the run.
    #[prost(message, tag = "18")]
    Exit(RunExitRecord),
    /// The file header record.
    #[prost(message, tag = "21")]
    Header(HeaderRecord),
}

/// `HeaderRecord`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct HeaderRecord {
    /// Who wrote the file.
    #[prost(message, optional, tag = "1")]
    pub version_info: Option<VersionInfo>,
}

/// `VersionInfo`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct VersionInfo {
    /// The writer.
    #[prost(string, tag = "1")]
    pub producer: String,
    /// The oldest reader that understands the file.
    #[prost(string, tag = "2")]
    pub min_consumer: String,
}

/// `RunRecord`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct RunRecord {
    /// Run ID.
    #[prost(string, tag = "1")]
    pub run_id: String,
    /// Entity (empty: the key's default at sync time).
    #[prost(string, tag = "2")]
    pub entity: String,
    /// Project.
    #[prost(string, tag = "3")]
    pub project: String,
    /// Config.
    #[prost(message, optional, tag = "4")]
    pub config: Option<ConfigRecord>,
    /// Group.
    #[prost(string, tag = "6")]
    pub run_group: String,
    /// Job type.
    #[prost(string, tag = "7")]
    pub job_type: String,
    /// Display name.
    #[prost(string, tag = "8")]
    pub display_name: String,
    /// Tags.
    #[prost(string, repeated, tag = "10")]
    pub tags: Vec<String>,
    /// Start time.
    #[prost(message, optional, tag = "17")]
    pub start_time: Option<Timestamp>,
}

/// `ConfigRecord`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ConfigRecord {
    /// Keys set.
    #[prost(message, repeated, tag = "1")]
    pub update: Vec<JsonItem>,
}

/// `ConfigItem` / `SummaryItem` / `HistoryItem`: a key and its JSON value (same tags in all three).
#[derive(Clone, PartialEq, prost::Message)]
pub struct JsonItem {
    /// Key.
    #[prost(string, tag = "1")]
    pub key: String,
    /// The value as JSON text.
    #[prost(string, tag = "16")]
    pub value_json: String,
}

/// `HistoryRecord`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct HistoryRecord {
    /// The row's values.
    #[prost(message, repeated, tag = "1")]
    pub item: Vec<JsonItem>,
    /// Its step.
    #[prost(message, optional, tag = "2")]
    pub step: Option<HistoryStep>,
}

/// `HistoryStep`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct HistoryStep {
    /// Step number.
    #[prost(int64, tag = "1")]
    pub num: i64,
}

/// `SummaryRecord`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct SummaryRecord {
    /// Keys set.
    #[prost(message, repeated, tag = "1")]
    pub update: Vec<JsonItem>,
}

/// `FilesRecord`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct FilesRecord {
    /// Files under the run's `files/`.
    #[prost(message, repeated, tag = "1")]
    pub files: Vec<FilesItem>,
}

/// `FilesItem`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct FilesItem {
    /// Path relative to `files/`.
    #[prost(string, tag = "1")]
    pub path: String,
    /// Upload policy (0 = now).
    #[prost(int32, tag = "2")]
    pub policy: i32,
    /// File type (2 = media).
    #[prost(int32, tag = "3")]
    pub file_type: i32,
}

/// `ArtifactRecord`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ArtifactRecord {
    /// The run it is an output of.
    #[prost(string, tag = "1")]
    pub run_id: String,
    /// Project.
    #[prost(string, tag = "2")]
    pub project: String,
    /// Entity.
    #[prost(string, tag = "3")]
    pub entity: String,
    /// Artifact type.
    #[prost(string, tag = "4")]
    pub artifact_type: String,
    /// Collection name.
    #[prost(string, tag = "5")]
    pub name: String,
    /// Manifest digest (MANIFEST_MD5).
    #[prost(string, tag = "6")]
    pub digest: String,
    /// Description.
    #[prost(string, tag = "7")]
    pub description: String,
    /// Metadata JSON.
    #[prost(string, tag = "8")]
    pub metadata: String,
    /// Aliases.
    #[prost(string, repeated, tag = "11")]
    pub aliases: Vec<String>,
    /// The files.
    #[prost(message, optional, tag = "12")]
    pub manifest: Option<ArtifactManifest>,
    /// Commit when uploaded.
    #[prost(bool, tag = "14")]
    pub finalize: bool,
    /// Client ID.
    #[prost(string, tag = "15")]
    pub client_id: String,
    /// Sequence client ID.
    #[prost(string, tag = "16")]
    pub sequence_client_id: String,
    /// "MANIFEST_MD5".
    #[prost(string, tag = "20")]
    pub digest_algorithm: String,
}

/// `ArtifactManifest`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ArtifactManifest {
    /// 1.
    #[prost(int32, tag = "1")]
    pub version: i32,
    /// "wandb-storage-policy-v1".
    #[prost(string, tag = "2")]
    pub storage_policy: String,
    /// `storageLayout: "V2"`.
    #[prost(message, repeated, tag = "3")]
    pub storage_policy_config: Vec<PolicyItem>,
    /// Entries.
    #[prost(message, repeated, tag = "4")]
    pub contents: Vec<ManifestEntry>,
}

/// `StoragePolicyConfigItem`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct PolicyItem {
    /// Key.
    #[prost(string, tag = "1")]
    pub key: String,
    /// JSON value.
    #[prost(string, tag = "2")]
    pub value_json: String,
}

/// `ArtifactManifestEntry`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ManifestEntry {
    /// Name in the artifact.
    #[prost(string, tag = "1")]
    pub path: String,
    /// base64 MD5.
    #[prost(string, tag = "2")]
    pub digest: String,
    /// Bytes.
    #[prost(int64, tag = "4")]
    pub size: i64,
    /// Absolute path of the copy to upload.
    #[prost(string, tag = "6")]
    pub local_path: String,
}

/// `RunExitRecord`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct RunExitRecord {
    /// 0 = finished, else failed.
    #[prost(int32, tag = "1")]
    pub exit_code: i32,
    /// Seconds.
    #[prost(int32, tag = "2")]
    pub runtime: i32,
}

const BLOCK: usize = 32 * 1024;
const CHUNK_HEADER: usize = 7;
/// `:W&B`, magic 0xBEE1 little-endian, version 0.
const FILE_HEADER: [u8; 7] = [b':', b'W', b'&', b'B', 0xE1, 0xBE, 0];

/// Appends one record to a LevelDB-format log (`out` starts with the file header).
pub fn append_record(out: &mut Vec<u8>, payload: &[u8]) {
    let mut rest = payload;
    let mut first = true;
    loop {
        let left = BLOCK - out.len() % BLOCK;
        if left < CHUNK_HEADER {
            out.resize(out.len() + left, 0);
            continue;
        }
        let n = rest.len().min(left - CHUNK_HEADER);
        let last = n == rest.len();
        let kind: u8 = match (first, last) {
            (true, true) => 1,
            (true, false) => 2,
            (false, false) => 3,
            (false, true) => 4,
        };
        let mut crc = crc32fast::Hasher::new();
        crc.update(&[kind]);
        crc.update(&rest[..n]);
        out.extend_from_slice(&crc.finalize().to_le_bytes());
        out.extend_from_slice(&(n as u16).to_le_bytes());
        out.push(kind);
        out.extend_from_slice(&rest[..n]);
        rest = &rest[n..];
        first = false;
        if last {
            return;
        }
    }
}

fn items(map: &Map<String, Value>) -> Vec<JsonItem> {
    map.iter()
        .map(|(k, v)| JsonItem {
            key: k.clone(),
            value_json: v.to_string(),
        })
        .collect()
}

/// Writes `content` as an offline run under `wandb_dir` and returns the run directory
/// (`offline-run-YYYYMMDD_HHMMSS-<id>`), which `wandb sync` uploads.
pub fn write_run(
    wandb_dir: &Path,
    project: &str,
    entity: Option<&str>,
    content: &RunContent,
    started: f64,
) -> Result<PathBuf> {
    let run_id = content.run_id.clone();
    let stamp = chrono::Utc::now().format("%Y%m%d_%H%M%S");
    let dir = wandb_dir.join(format!("offline-run-{stamp}-{run_id}"));
    let files_dir = dir.join("files");
    std::fs::create_dir_all(&files_dir)
        .with_context(|| format!("cannot create {}", files_dir.display()))?;
    let entity = entity.unwrap_or_default().to_string();
    let record = |r: RecordType| {
        prost::Message::encode_to_vec(&Record {
            num: 0,
            record_type: Some(r),
        })
    };
    let mut log = FILE_HEADER.to_vec();
    append_record(
        &mut log,
        &record(RecordType::Header(HeaderRecord {
            version_info: Some(VersionInfo {
                producer: format!("aiperf {}", crate::VERSION),
                min_consumer: "0.70.0".into(),
            }),
        })),
    );
    append_record(
        &mut log,
        &record(RecordType::Run(RunRecord {
            run_id: run_id.clone(),
            entity: entity.clone(),
            project: project.to_string(),
            config: Some(ConfigRecord {
                update: items(&content.config),
            }),
            run_group: content.group.clone().unwrap_or_default(),
            job_type: content.job_type.clone().unwrap_or_default(),
            display_name: content.display_name.clone(),
            tags: content.tags.clone(),
            start_time: Some(Timestamp {
                seconds: started.floor() as i64,
                nanos: ((started.fract()) * 1e9) as i32,
            }),
        })),
    );
    let mut refs = Map::new();
    let mut table_files = Vec::new();
    for (key, table) in &content.tables {
        let bytes = table.file_bytes();
        let path = Table::path(key, 0, &bytes);
        let target = files_dir.join(&path);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&target, &bytes)
            .with_context(|| format!("cannot write {}", target.display()))?;
        refs.insert(key.clone(), table.reference(&path, &bytes));
        table_files.push(path);
    }
    let runtime = (chrono::Utc::now().timestamp_millis() as f64 / 1000.0 - started).max(0.0);
    let mut history = refs.clone();
    history.insert("_step".into(), json!(0));
    history.insert("_runtime".into(), json!(runtime));
    history.insert("_timestamp".into(), json!(started));
    append_record(
        &mut log,
        &record(RecordType::History(HistoryRecord {
            item: items(&history),
            step: Some(HistoryStep { num: 0 }),
        })),
    );
    if !table_files.is_empty() {
        append_record(
            &mut log,
            &record(RecordType::Files(FilesRecord {
                files: table_files
                    .iter()
                    .map(|p| FilesItem {
                        path: p.clone(),
                        policy: 0,
                        file_type: 2,
                    })
                    .collect(),
            })),
        );
    }
    let mut summary = content.scalars.clone();
    summary.extend(refs);
    append_record(
        &mut log,
        &record(RecordType::Summary(SummaryRecord {
            update: items(&summary),
        })),
    );
    if !content.artifact_files.is_empty() {
        // `wandb sync` may delete staged copies after upload: stage copies, never the originals.
        let staging = dir.join("artifact");
        let mut entries = Vec::new();
        for (name, source) in &content.artifact_files {
            let copy = staging.join(name);
            if let Some(parent) = copy.parent() {
                std::fs::create_dir_all(parent)?;
            }
            let bytes = std::fs::read(source)
                .with_context(|| format!("cannot read {}", source.display()))?;
            std::fs::write(&copy, &bytes)
                .with_context(|| format!("cannot write {}", copy.display()))?;
            let local = copy.canonicalize().unwrap_or(copy);
            entries.push(ManifestEntry {
                path: name.clone(),
                digest: b64_md5(&bytes),
                size: bytes.len() as i64,
                local_path: local.display().to_string(),
            });
        }
        let digest = super::digest::artifact_digest(
            &entries
                .iter()
                .map(|e| (e.path.clone(), e.digest.clone()))
                .collect::<Vec<_>>(),
        );
        append_record(
            &mut log,
            &record(RecordType::Artifact(ArtifactRecord {
                run_id: run_id.clone(),
                project: project.to_string(),
                entity: entity.clone(),
                artifact_type: content.artifact_type.clone(),
                name: format!("aiperf-{run_id}"),
                digest,
                description: "aiperf results".into(),
                metadata: json!({"tool": "aiperf", "version": crate::VERSION}).to_string(),
                aliases: vec!["latest".into()],
                manifest: Some(ArtifactManifest {
                    version: 1,
                    storage_policy: "wandb-storage-policy-v1".into(),
                    storage_policy_config: vec![PolicyItem {
                        key: "storageLayout".into(),
                        value_json: "\"V2\"".into(),
                    }],
                    contents: entries,
                }),
                finalize: true,
                client_id: random_id(128),
                sequence_client_id: random_id(128),
                digest_algorithm: "MANIFEST_MD5".into(),
            })),
        );
    }
    append_record(
        &mut log,
        &record(RecordType::Exit(RunExitRecord {
            exit_code: content.exit_code,
            runtime: runtime.round() as i32,
        })),
    );
    let file = dir.join(format!("run-{run_id}.wandb"));
    crate::artifacts::io::write_atomic(&file, &log)
        .with_context(|| format!("cannot write {}", file.display()))?;
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads the records back the way the SDK's reader does, checking every CRC.
    fn read_records(file: &[u8]) -> Vec<Vec<u8>> {
        assert_eq!(&file[..7], &FILE_HEADER);
        let mut out = Vec::new();
        let mut pos = 7;
        let mut current = Vec::new();
        while pos + CHUNK_HEADER <= file.len() {
            let left = BLOCK - pos % BLOCK;
            if left < CHUNK_HEADER {
                pos += left;
                continue;
            }
            let crc = u32::from_le_bytes(file[pos..pos + 4].try_into().unwrap());
            let len = u16::from_le_bytes(file[pos + 4..pos + 6].try_into().unwrap()) as usize;
            let kind = file[pos + 6];
            let payload = &file[pos + 7..pos + 7 + len];
            let mut h = crc32fast::Hasher::new();
            h.update(&[kind]);
            h.update(payload);
            assert_eq!(h.finalize(), crc);
            current.extend_from_slice(payload);
            if kind == 1 || kind == 4 {
                out.push(std::mem::take(&mut current));
            }
            pos += 7 + len;
        }
        out
    }

    #[test]
    fn records_round_trip_across_block_boundaries() {
        let mut log = FILE_HEADER.to_vec();
        let big = vec![7u8; 70_000];
        append_record(&mut log, b"small");
        append_record(&mut log, &big);
        append_record(&mut log, b"after");
        let records = read_records(&log);
        assert_eq!(records.len(), 3);
        assert_eq!(records[1], big);
        assert_eq!(records[2], b"after");
    }

    #[test]
    fn a_run_file_decodes_as_records() {
        let dir = tempfile::tempdir().unwrap();
        let content = RunContent {
            display_name: "x".into(),
            tables: vec![(
                "t".into(),
                Table {
                    columns: vec!["a".into()],
                    rows: vec![vec![json!(1)]],
                },
            )],
            artifact_type: "aiperf-run".into(),
            run_id: "abcd1234".into(),
            ..Default::default()
        };
        let run = write_run(dir.path(), "p", None, &content, 1.0).unwrap();
        let wandb_file = std::fs::read_dir(&run)
            .unwrap()
            .flatten()
            .find(|e| e.file_name().to_string_lossy().ends_with(".wandb"))
            .unwrap();
        let records = read_records(&std::fs::read(wandb_file.path()).unwrap());
        let kinds: Vec<_> = records
            .iter()
            .map(|r| {
                match <Record as prost::Message>::decode(r.as_slice())
                    .unwrap()
                    .record_type
                {
                    Some(RecordType::Header(_)) => "header",
                    Some(RecordType::Run(_)) => "run",
                    Some(RecordType::History(_)) => "history",
                    Some(RecordType::Files(_)) => "files",
                    Some(RecordType::Summary(_)) => "summary",
                    Some(RecordType::Artifact(_)) => "artifact",
                    Some(RecordType::Exit(_)) => "exit",
                    None => "none",
                }
            })
            .collect();
        assert_eq!(
            kinds,
            ["header", "run", "history", "files", "summary", "exit"]
        );
        assert!(run.join("files/media/table").is_dir());
    }
}
