//! One W&B run, uploaded in the order the official SDK uses: create the run (UpsertBucket),
//! stream history and summary, upload the table files, build and commit the artifact, and mark
//! the run finished (or failed) with the final file-stream request.

use super::api::Api;
use super::digest::{Table, artifact_digest, b64_md5};
use anyhow::{Context, Result, anyhow};
use rand::Rng;
use serde_json::{Map, Value, json};
use std::path::PathBuf;

/// Everything one W&B run holds.
#[derive(Debug, Clone, Default)]
pub struct RunContent {
    /// The run's name in the UI.
    pub display_name: String,
    /// The W&B group (an experiment's trials share one).
    pub group: Option<String>,
    /// The job type (a trial's cell label).
    pub job_type: Option<String>,
    /// Config, unwrapped (each key is wrapped as `{"value": ...}` on the wire).
    pub config: Map<String, Value>,
    /// Tags.
    pub tags: Vec<String>,
    /// Tables logged at step 0, by key.
    pub tables: Vec<(String, Table)>,
    /// Scalar summary values.
    pub scalars: Map<String, Value>,
    /// The artifact's files: name inside the artifact, and the file on disk.
    pub artifact_files: Vec<(String, PathBuf)>,
    /// The artifact's type (its collection is `aiperf-<run id>`).
    pub artifact_type: String,
    /// 0 marks the run finished, anything else failed.
    pub exit_code: i32,
    /// The W&B run ID (chosen before any upload, so an experiment's aggregate run can name
    /// its trials' runs).
    pub run_id: String,
}

/// What an upload created.
#[derive(Debug, Clone)]
pub struct Uploaded {
    /// The run ID (URL segment).
    pub run_id: String,
    /// The run's page.
    pub url: String,
    /// Run files uploaded (tables, summary).
    pub run_files: usize,
    /// Files in the artifact.
    pub artifact_files: usize,
}

const UPSERT_BUCKET: &str = "mutation UpsertBucket($id: String, $name: String, $project: String, $entity: String, $groupName: String, $description: String, $displayName: String, $notes: String, $commit: String, $config: JSONString, $host: String, $debug: Boolean, $program: String, $repo: String, $jobType: String, $state: String, $sweep: String, $tags: [String!], $summaryMetrics: JSONString) { upsertBucket(input: {id: $id, name: $name, groupName: $groupName, modelName: $project, entityName: $entity, description: $description, displayName: $displayName, notes: $notes, config: $config, commit: $commit, host: $host, debug: $debug, jobProgram: $program, jobRepo: $repo, jobType: $jobType, state: $state, sweep: $sweep, tags: $tags, summaryMetrics: $summaryMetrics}) { bucket { id name displayName description config sweepName project { id name entity { id name } } historyLineCount } inserted } }";
const CREATE_RUN_FILES: &str = "mutation CreateRunFiles($entity: String!, $project: String!, $run: String!, $files: [String!]!) { createRunFiles(input: {entityName: $entity, projectName: $project, runName: $run, files: $files}) { runID uploadHeaders files { name uploadUrl } } }";
const CREATE_ARTIFACT: &str = "mutation CreateArtifact($input: CreateArtifactInput!) { createArtifact(input: $input) { artifact { id state artifactSequence { latestArtifact { id } } } } }";
const CREATE_ARTIFACT_MANIFEST: &str = "mutation CreateArtifactManifest($artifactID: ID!, $baseArtifactID: ID, $name: String!, $digest: String!, $entityName: String!, $projectName: String!, $runName: String!, $manifestType: ArtifactManifestType!, $includeUpload: Boolean!) { createArtifactManifest(input: {artifactID: $artifactID, baseArtifactID: $baseArtifactID, name: $name, digest: $digest, entityName: $entityName, projectName: $projectName, runName: $runName, type: $manifestType}) { artifactManifest { id file { id uploadUrl @include(if: $includeUpload) uploadHeaders @include(if: $includeUpload) } } } }";
const CREATE_ARTIFACT_FILES: &str = "mutation CreateArtifactFiles($input: CreateArtifactFilesInput!) { createArtifactFiles(input: $input) { files { edges { node { storagePath uploadUrl uploadHeaders uploadMultipartUrls { uploadID uploadUrlParts { partNumber uploadUrl } } artifact { id } } } } } }";
const COMMIT_ARTIFACT: &str = "mutation CommitArtifact($artifactID: ID!) { commitArtifact(input: {artifactID: $artifactID}) { artifact { id digest } } }";

/// `n` random characters from `[a-z0-9]`, as the SDK makes run and client IDs.
pub fn random_id(n: usize) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    (0..n)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

/// `{"key": {"value": v}}` for every key: the config shape W&B stores.
pub fn wrap_config(config: &Map<String, Value>) -> Value {
    Value::Object(
        config
            .iter()
            .map(|(k, v)| (k.clone(), json!({"value": v})))
            .collect(),
    )
}

fn headers_of(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|h| h.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// The run page: the app host is the API host without `api.`.
pub fn run_url(base: &str, entity: &str, project: &str, run_id: &str) -> String {
    let app = base.replacen("://api.", "://", 1);
    format!("{app}/{entity}/{project}/runs/{run_id}")
}

/// Uploads one run. `started` is the benchmark's start (Unix seconds) for `_timestamp`.
pub async fn upload_run(
    api: &Api,
    entity: &str,
    project: &str,
    content: &RunContent,
    started: f64,
) -> Result<Uploaded> {
    let run_id = content.run_id.clone();
    let data = api
        .graphql(
            "UpsertBucket",
            UPSERT_BUCKET,
            json!({
                "id": null, "name": run_id, "project": project, "entity": entity,
                "groupName": content.group, "displayName": content.display_name,
                "description": null, "notes": null, "commit": null, "host": null, "debug": null,
                "program": "aiperf", "repo": null, "jobType": content.job_type, "state": null,
                "sweep": null, "tags": content.tags, "summaryMetrics": null,
                "config": wrap_config(&content.config).to_string(),
            }),
        )
        .await?;
    let project_doc = &data["upsertBucket"]["bucket"]["project"];
    let entity = project_doc["entity"]["name"]
        .as_str()
        .unwrap_or(entity)
        .to_string();
    let project = project_doc["name"].as_str().unwrap_or(project).to_string();

    // Tables: the file bytes are hashed once and the same bytes are uploaded.
    let mut run_files: Vec<(String, Vec<u8>)> = Vec::new();
    let mut refs = Map::new();
    for (key, table) in &content.tables {
        let bytes = table.file_bytes();
        let path = Table::path(key, 0, &bytes);
        refs.insert(key.clone(), table.reference(&path, &bytes));
        run_files.push((path, bytes));
    }
    let runtime = (chrono::Utc::now().timestamp_millis() as f64 / 1000.0 - started).max(0.0);
    let mut history = refs.clone();
    history.insert("_step".into(), json!(0));
    history.insert("_runtime".into(), json!(runtime));
    history.insert("_timestamp".into(), json!(started));
    let mut summary = content.scalars.clone();
    summary.extend(refs);
    summary.insert("_step".into(), json!(0));
    summary.insert("_runtime".into(), json!(runtime));
    summary.insert("_timestamp".into(), json!(started));
    summary.insert("_wandb".into(), json!({"runtime": runtime.round() as i64}));
    let summary_line = Value::Object(summary).to_string();
    api.file_stream(
        &entity,
        &project,
        &run_id,
        &json!({"files": {
            "wandb-history.jsonl": {"offset": 0, "content": [Value::Object(history).to_string()]},
            "wandb-summary.json": {"offset": 0, "content": [summary_line.clone()]},
        }}),
    )
    .await?;
    run_files.push(("wandb-summary.json".into(), summary_line.into_bytes()));

    let names: Vec<&str> = run_files.iter().map(|(n, _)| n.as_str()).collect();
    let data = api
        .graphql(
            "CreateRunFiles",
            CREATE_RUN_FILES,
            json!({"entity": entity, "project": project, "run": run_id, "files": names}),
        )
        .await?;
    let created = &data["createRunFiles"];
    let headers = headers_of(&created["uploadHeaders"]);
    let mut uploaded = Vec::new();
    for file in created["files"].as_array().into_iter().flatten() {
        let (Some(name), Some(url)) = (file["name"].as_str(), file["uploadUrl"].as_str()) else {
            continue;
        };
        let Some((_, bytes)) = run_files.iter().find(|(n, _)| n == name) else {
            continue;
        };
        api.put(url, &headers, bytes, name).await?;
        uploaded.push(name.to_string());
    }

    let artifact_files = if content.artifact_files.is_empty() {
        0
    } else {
        upload_artifact(api, &entity, &project, &run_id, content).await?
    };

    api.file_stream(
        &entity,
        &project,
        &run_id,
        &json!({"files": {}, "uploaded": uploaded, "complete": true, "exitcode": content.exit_code}),
    )
    .await?;
    Ok(Uploaded {
        url: run_url(api.base(), &entity, &project, &run_id),
        run_id,
        run_files: uploaded.len(),
        artifact_files,
    })
}

/// Creates, fills and commits the run's output artifact; returns the number of files in it.
async fn upload_artifact(
    api: &Api,
    entity: &str,
    project: &str,
    run_id: &str,
    content: &RunContent,
) -> Result<usize> {
    let mut files: Vec<(String, Vec<u8>, String)> = Vec::new();
    for (name, path) in &content.artifact_files {
        let bytes =
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        let digest = b64_md5(&bytes);
        files.push((name.clone(), bytes, digest));
    }
    let entries: Vec<(String, String)> = files
        .iter()
        .map(|(n, _, d)| (n.clone(), d.clone()))
        .collect();
    let collection = format!("aiperf-{run_id}");
    let data = api
        .graphql(
            "CreateArtifact",
            CREATE_ARTIFACT,
            json!({"input": {
                "entityName": entity, "projectName": project, "runName": run_id,
                "artifactTypeName": content.artifact_type, "artifactCollectionName": collection,
                "artifactCollectionNames": null,
                "digest": artifact_digest(&entries), "digestAlgorithm": "MANIFEST_MD5",
                "description": "aiperf results", "metadata": json!({"tool": "aiperf", "version": crate::VERSION}).to_string(),
                "labels": null, "aliases": [{"alias": "latest", "artifactCollectionName": collection}],
                "clientID": random_id(128), "sequenceClientID": random_id(128),
                "enableDigestDeduplication": true, "historyStep": 0, "distributedID": null,
                "clientMutationId": null, "storageRegion": null, "ttlDurationSeconds": null,
            }}),
        )
        .await?;
    let artifact = &data["createArtifact"]["artifact"];
    let artifact_id = artifact["id"]
        .as_str()
        .ok_or_else(|| anyhow!("CreateArtifact: no artifact id"))?
        .to_string();
    if artifact["state"] == "COMMITTED" {
        // The server already holds identical content.
        return Ok(files.len());
    }
    let base_id = artifact["artifactSequence"]["latestArtifact"]["id"].clone();
    let manifest_vars = |digest: &str, include_upload: bool| {
        json!({"artifactID": artifact_id, "baseArtifactID": base_id, "name": "wandb_manifest.json",
               "digest": digest, "entityName": entity, "projectName": project, "runName": run_id,
               "manifestType": "FULL", "includeUpload": include_upload})
    };
    let data = api
        .graphql(
            "CreateArtifactManifest",
            CREATE_ARTIFACT_MANIFEST,
            manifest_vars("", false),
        )
        .await?;
    let manifest_id = data["createArtifactManifest"]["artifactManifest"]["id"]
        .as_str()
        .ok_or_else(|| anyhow!("CreateArtifactManifest: no manifest id"))?
        .to_string();
    let inputs: Vec<Value> = files
        .iter()
        .map(|(name, _, md5)| {
            json!({"artifactID": artifact_id, "artifactManifestID": manifest_id, "name": name,
                   "md5": md5, "mimetype": null, "uploadPartsInput": null})
        })
        .collect();
    let data = api
        .graphql(
            "CreateArtifactFiles",
            CREATE_ARTIFACT_FILES,
            json!({"input": {"storageLayout": "V2", "clientMutationId": null, "cloudRegionID": null, "artifactFiles": inputs}}),
        )
        .await?;
    let edges: Vec<&Value> = data["createArtifactFiles"]["files"]["edges"]
        .as_array()
        .into_iter()
        .flatten()
        .collect();
    if edges.len() != files.len() {
        return Err(anyhow!(
            "CreateArtifactFiles: {} answers for {} files",
            edges.len(),
            files.len()
        ));
    }
    let mut contents = Map::new();
    for ((name, bytes, md5), edge) in files.iter().zip(edges) {
        let node = &edge["node"];
        if let Some(url) = node["uploadUrl"].as_str() {
            api.put(url, &headers_of(&node["uploadHeaders"]), bytes, name)
                .await?;
        }
        let birth = node["artifact"]["id"].as_str().unwrap_or(&artifact_id);
        contents.insert(
            name.clone(),
            json!({"digest": md5, "size": bytes.len(), "birthArtifactID": birth}),
        );
    }
    let manifest = serde_json::to_vec(&json!({
        "version": 1, "storagePolicy": "wandb-storage-policy-v1",
        "storagePolicyConfig": {"storageLayout": "V2"}, "contents": contents,
    }))?;
    let data = api
        .graphql(
            "CreateArtifactManifest",
            CREATE_ARTIFACT_MANIFEST,
            manifest_vars(&b64_md5(&manifest), true),
        )
        .await?;
    let file = &data["createArtifactManifest"]["artifactManifest"]["file"];
    let url = file["uploadUrl"]
        .as_str()
        .ok_or_else(|| anyhow!("CreateArtifactManifest: no upload URL for the manifest"))?;
    api.put(
        url,
        &headers_of(&file["uploadHeaders"]),
        &manifest,
        "the artifact manifest",
    )
    .await?;
    api.graphql(
        "CommitArtifact",
        COMMIT_ARTIFACT,
        json!({"artifactID": artifact_id}),
    )
    .await?;
    Ok(files.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_urls() {
        let id = random_id(8);
        assert_eq!(id.len(), 8);
        assert!(
            id.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        );
        assert_eq!(
            run_url("https://api.wandb.ai", "e", "p", "r"),
            "https://wandb.ai/e/p/runs/r"
        );
        assert_eq!(
            run_url("http://127.0.0.1:9", "e", "p", "r"),
            "http://127.0.0.1:9/e/p/runs/r"
        );
        let mut c = Map::new();
        c.insert("a".into(), json!({"b": 1}));
        assert_eq!(wrap_config(&c), json!({"a": {"value": {"b": 1}}}));
    }
}
