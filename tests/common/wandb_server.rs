//! A loopback W&B server that answers as wandb-protocol.md §9.2 describes, records every
//! request, and checks the recording the way the protocol requires (auth, config wrapping,
//! file_stream offsets and finish, table files, artifact digests, uploads, commit).
#![allow(dead_code)]

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{post, put};
use base64::Engine;
use md5::{Digest, Md5};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// One recorded request.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// HTTP method.
    pub method: String,
    /// Path.
    pub path: String,
    /// The Authorization header.
    pub auth: Option<String>,
    /// The body.
    pub body: Vec<u8>,
    /// The GraphQL operation, for /graphql.
    pub op: Option<String>,
    /// Whether the server answered it with an injected failure.
    pub failed: bool,
}

impl Recorded {
    /// The body as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    /// GraphQL variables, flattened from 0.31's single `input` where present.
    pub fn vars(&self) -> Value {
        let v = self.json()["variables"].clone();
        match v.get("input") {
            Some(input) if input.is_object() => input.clone(),
            _ => v,
        }
    }
}

#[derive(Default)]
struct Inner {
    log: Mutex<Vec<Recorded>>,
    storage: Mutex<HashMap<String, Vec<u8>>>,
    fail_next: AtomicUsize,
    ids: AtomicUsize,
    base: Mutex<String>,
}

/// The server, running on its own thread until dropped.
pub struct WandbServer {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    inner: Arc<Inner>,
    _runtime: tokio::runtime::Runtime,
}

fn b64md5(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(Md5::digest(bytes))
}

fn hex_md5(bytes: &[u8]) -> String {
    Md5::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl WandbServer {
    /// Starts the server on a free loopback port.
    pub fn start() -> WandbServer {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let inner = Arc::new(Inner::default());
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        *inner.base.lock().unwrap() = url.clone();
        let app = Router::new()
            .route("/graphql", post(graphql))
            .route(
                "/files/{entity}/{project}/{run}/file_stream",
                post(file_stream),
            )
            .route("/storage/{*path}", put(storage).get(download))
            .with_state(inner.clone());
        runtime.spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        WandbServer {
            url,
            inner,
            _runtime: runtime,
        }
    }

    /// Answers the next `n` requests with HTTP 500.
    pub fn fail_next(&self, n: usize) {
        self.inner.fail_next.store(n, Ordering::SeqCst);
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.inner.log.lock().unwrap().clone()
    }

    /// The bytes stored at a storage path (`runs/<run>/<name>` ...).
    pub fn stored(&self, path: &str) -> Option<Vec<u8>> {
        self.inner.storage.lock().unwrap().get(path).cloned()
    }

    /// Replaces the bytes stored at a storage path (to test that a download checks them).
    pub fn overwrite(&self, path: &str, bytes: &[u8]) {
        self.inner
            .storage
            .lock()
            .unwrap()
            .insert(path.to_string(), bytes.to_vec());
    }

    /// Requests that were answered normally.
    fn served(&self) -> Vec<Recorded> {
        self.requests().into_iter().filter(|r| !r.failed).collect()
    }

    /// Checks every rule of wandb-protocol.md §9.2 on the recording and returns the runs.
    pub fn verify(&self, api_key: &str) -> Vec<RunSeen> {
        let reqs = self.served();
        let expected_auth = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("api:{api_key}"))
        );
        for r in &reqs {
            // Signed-URL uploads, and downloads from the other origin (see
            // GetArtifactMembershipFileUrls), must not carry the key.
            if r.method == "PUT" || r.path.starts_with("/storage/artifacts/") {
                assert!(
                    r.auth.is_none(),
                    "a signed-URL {} carries credentials: {}",
                    r.method,
                    r.path
                );
            } else {
                assert_eq!(
                    r.auth.as_deref(),
                    Some(expected_auth.as_str()),
                    "{} {} without Basic api:<key>",
                    r.method,
                    r.path
                );
            }
        }
        let mut runs = Vec::new();
        let mut names: Vec<String> = Vec::new();
        for upsert in reqs
            .iter()
            .filter(|r| r.op.as_deref() == Some("UpsertBucket"))
        {
            let name = upsert.vars()["name"]
                .as_str()
                .expect("UpsertBucket has name")
                .to_string();
            if !names.contains(&name) {
                names.push(name);
            }
        }
        for name in names {
            // The SDK upserts a run more than once (the second time with `tags: null`, unchanged).
            let upserts: Vec<Value> = reqs
                .iter()
                .filter(|r| {
                    r.op.as_deref() == Some("UpsertBucket") && r.vars()["name"] == name.as_str()
                })
                .map(Recorded::vars)
                .collect();
            let v = upserts[0].clone();
            let mut config = Value::Null;
            for u in &upserts {
                assert!(
                    u["tags"].is_null() || u["tags"].is_array(),
                    "tags are [String] or null"
                );
                if u["config"].is_null() {
                    continue;
                }
                let parsed: Value =
                    serde_json::from_str(u["config"].as_str().expect("config is a JSONString"))
                        .expect("config is JSON");
                for (k, wrapped) in parsed.as_object().expect("config object") {
                    assert!(
                        wrapped.as_object().is_some_and(|o| o.contains_key("value")),
                        "config key {k} is not wrapped in {{value}}"
                    );
                }
                config = parsed;
            }
            let tags: Vec<String> = v["tags"]
                .as_array()
                .expect("tags array")
                .iter()
                .map(|t| t.as_str().expect("string tag").to_string())
                .collect();
            let streams: Vec<Value> = reqs
                .iter()
                .filter(|r| r.path.ends_with(&format!("/{name}/file_stream")))
                .map(Recorded::json)
                .collect();
            assert!(!streams.is_empty(), "run {name} sent no file_stream");
            let mut history_lines = 0u64;
            let mut summary = Value::Null;
            for (i, s) in streams.iter().enumerate() {
                let last = i + 1 == streams.len();
                assert_eq!(
                    s.get("complete").is_some(),
                    last,
                    "complete only on the last file_stream of {name}: {s}"
                );
                if last {
                    assert_eq!(s["complete"], true);
                    assert!(s["exitcode"].is_i64(), "integer exitcode: {s}");
                }
                if let Some(h) = s["files"].get("wandb-history.jsonl") {
                    assert_eq!(
                        h["offset"].as_u64(),
                        Some(history_lines),
                        "history offsets are contiguous"
                    );
                    for line in h["content"].as_array().unwrap() {
                        let row: Value = serde_json::from_str(line.as_str().unwrap()).unwrap();
                        assert!(row["_step"].is_u64(), "integer _step: {row}");
                        history_lines += 1;
                    }
                }
                if let Some(sm) = s["files"].get("wandb-summary.json") {
                    assert_eq!(sm["offset"], 0, "summary offset is 0");
                    let lines = sm["content"].as_array().unwrap();
                    assert_eq!(lines.len(), 1, "one summary line");
                    summary = serde_json::from_str(lines[0].as_str().unwrap()).unwrap();
                }
            }
            let last = streams.last().unwrap();
            let uploaded: Vec<String> = last["uploaded"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|u| u.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            let mut tables = Vec::new();
            for (key, value) in summary.as_object().into_iter().flatten() {
                if value["_type"] != "table-file" {
                    continue;
                }
                let path = value["path"].as_str().unwrap();
                let bytes = self
                    .stored(&format!("runs/{name}/{path}"))
                    .unwrap_or_else(|| panic!("table {path} of {name} was not uploaded"));
                let sha = sha256_hex(&bytes);
                assert_eq!(value["sha256"].as_str(), Some(sha.as_str()), "table sha256");
                assert_eq!(
                    value["size"].as_u64(),
                    Some(bytes.len() as u64),
                    "table size"
                );
                assert_eq!(
                    path,
                    format!("media/table/{key}_0_{}.table.json", &sha[..20]),
                    "table path"
                );
                let doc: Value = serde_json::from_slice(&bytes).unwrap();
                assert_eq!(
                    doc.as_object().unwrap().keys().collect::<Vec<_>>(),
                    vec!["columns", "data"]
                );
                let ncols = doc["columns"].as_array().unwrap().len();
                let nrows = doc["data"].as_array().unwrap().len();
                assert_eq!(value["ncols"].as_u64(), Some(ncols as u64));
                assert_eq!(value["nrows"].as_u64(), Some(nrows as u64));
                for row in doc["data"].as_array().unwrap() {
                    assert_eq!(row.as_array().unwrap().len(), ncols, "row width");
                }
                assert!(
                    uploaded.iter().any(|u| u == path),
                    "{path} not listed in uploaded"
                );
                tables.push((key.clone(), doc));
            }
            // The artifact of this run.
            let artifact = reqs.iter().find(|r| {
                r.op.as_deref() == Some("CreateArtifact") && r.vars()["runName"] == name.as_str()
            });
            let mut artifact_files = Vec::new();
            if let Some(create) = artifact {
                let av = create.vars();
                let id = self.artifact_id_for(&reqs, create);
                let manifest = self
                    .stored(&format!("manifests/{id}"))
                    .expect("manifest uploaded");
                let manifest_calls: Vec<Value> = reqs
                    .iter()
                    .filter(|r| {
                        r.op.as_deref() == Some("CreateArtifactManifest")
                            && r.vars()["artifactID"] == id.as_str()
                    })
                    .map(Recorded::vars)
                    .collect();
                assert_eq!(manifest_calls.len(), 2, "CreateArtifactManifest twice");
                assert_eq!(
                    manifest_calls[1]["digest"].as_str(),
                    Some(b64md5(&manifest).as_str()),
                    "manifest digest"
                );
                let doc: Value = serde_json::from_slice(&manifest).unwrap();
                assert_eq!(doc["storagePolicy"], "wandb-storage-policy-v1");
                let mut lines = String::from("wandb-artifact-manifest-v1\n");
                let mut entries: Vec<(&String, &Value)> =
                    doc["contents"].as_object().unwrap().iter().collect();
                entries.sort_by(|a, b| a.0.cmp(b.0));
                for (path, entry) in &entries {
                    let bytes = self
                        .stored(&format!("artifacts/{id}/{path}"))
                        .unwrap_or_else(|| panic!("artifact file {path} not uploaded"));
                    assert_eq!(
                        entry["digest"].as_str(),
                        Some(b64md5(&bytes).as_str()),
                        "md5 of {path}"
                    );
                    assert_eq!(
                        entry["size"].as_u64(),
                        Some(bytes.len() as u64),
                        "size of {path}"
                    );
                    lines.push_str(&format!("{path}:{}\n", entry["digest"].as_str().unwrap()));
                    artifact_files.push(path.to_string());
                }
                assert_eq!(
                    av["digest"].as_str(),
                    Some(hex_md5(lines.as_bytes()).as_str()),
                    "artifact digest"
                );
                assert!(
                    reqs.iter()
                        .any(|r| r.op.as_deref() == Some("CommitArtifact")
                            && r.vars()["artifactID"] == id.as_str()),
                    "CommitArtifact called"
                );
                assert!(
                    av["artifactTypeName"]
                        .as_str()
                        .is_some_and(|t| !t.is_empty()),
                    "artifact type"
                );
                assert!(
                    av["clientID"].as_str().is_some_and(|c| c.len() == 128),
                    "clientID"
                );
            }
            runs.push(RunSeen {
                name,
                display_name: v["displayName"].as_str().unwrap_or("").to_string(),
                group: v["groupName"].as_str().map(str::to_string),
                job_type: v["jobType"].as_str().map(str::to_string),
                config,
                tags,
                exit_code: last["exitcode"].as_i64().unwrap(),
                summary,
                tables,
                artifact_files,
            });
        }
        runs
    }

    fn artifact_id_for(&self, reqs: &[Recorded], create: &Recorded) -> String {
        // The server numbers artifacts in CreateArtifact order.
        let index = reqs
            .iter()
            .filter(|r| r.op.as_deref() == Some("CreateArtifact"))
            .position(|r| std::ptr::eq(r, create))
            .unwrap();
        format!("artifact-{index}")
    }
}

/// What the recording says about one W&B run.
#[derive(Debug, Clone)]
pub struct RunSeen {
    /// Run ID.
    pub name: String,
    /// Display name.
    pub display_name: String,
    /// Group.
    pub group: Option<String>,
    /// Job type.
    pub job_type: Option<String>,
    /// Config, wrapped.
    pub config: Value,
    /// Tags.
    pub tags: Vec<String>,
    /// Final exit code.
    pub exit_code: i64,
    /// The summary line.
    pub summary: Value,
    /// Uploaded tables (key, content).
    pub tables: Vec<(String, Value)>,
    /// Artifact entry names.
    pub artifact_files: Vec<String>,
}

fn record(
    inner: &Inner,
    method: &str,
    path: &str,
    headers: &HeaderMap,
    body: &[u8],
    op: Option<String>,
) -> bool {
    let failed = inner
        .fail_next
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok();
    inner.log.lock().unwrap().push(Recorded {
        method: method.into(),
        path: path.into(),
        auth: headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
        body: body.to_vec(),
        op,
        failed,
    });
    failed
}

fn ok(v: Value) -> Response {
    axum::Json(v).into_response()
}

async fn graphql(State(inner): State<Arc<Inner>>, headers: HeaderMap, body: Bytes) -> Response {
    let doc: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let op = doc["operationName"].as_str().map(str::to_string);
    if record(&inner, "POST", "/graphql", &headers, &body, op.clone()) {
        return (StatusCode::INTERNAL_SERVER_ERROR, "injected failure").into_response();
    }
    let base = inner.base.lock().unwrap().clone();
    let vars = {
        let v = doc["variables"].clone();
        match v.get("input") {
            Some(i) if i.is_object() => i.clone(),
            _ => v,
        }
    };
    let data = match op.as_deref() {
        Some("Viewer") => {
            json!({"viewer": {"id": "VXNlcjox", "entity": "default-entity", "username": "tester", "email": "", "flags": "{}", "teams": {"edges": []}}})
        }
        Some("UpsertBucket") => json!({"upsertBucket": {"bucket": {
            "id": format!("bucket-{}", inner.ids.fetch_add(1, Ordering::SeqCst)), "name": vars["name"],
            "displayName": vars["displayName"], "description": null, "config": vars["config"], "sweepName": null,
            // An empty entity means the key's default one, as on the real server.
            "project": {"id": "project-1", "name": vars["project"], "entity": {"id": "entity-1",
                "name": vars["entity"].as_str().filter(|e| !e.is_empty()).unwrap_or("default-entity")}},
            "historyLineCount": 0}, "inserted": true}}),
        Some("ServerFeaturesQuery") => json!({"serverInfo": {"features": []}}),
        Some("CreateRunFiles") => {
            let run = vars["run"].as_str().unwrap_or("");
            let files: Vec<Value> = vars["files"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|f| {
                    let name = f.as_str().unwrap_or("");
                    json!({"name": name, "uploadUrl": format!("{base}/storage/runs/{run}/{name}")})
                })
                .collect();
            json!({"createRunFiles": {"runID": "UnVuOjE=", "uploadHeaders": [], "files": files}})
        }
        Some("CreateArtifact") => {
            let index = inner
                .log
                .lock()
                .unwrap()
                .iter()
                .filter(|r| !r.failed && r.op.as_deref() == Some("CreateArtifact"))
                .count()
                - 1;
            json!({"createArtifact": {"artifact": {"id": format!("artifact-{index}"), "state": "PENDING", "artifactSequence": {"latestArtifact": null}}}})
        }
        Some("CreateArtifactManifest") => {
            let id = vars["artifactID"].as_str().unwrap_or("");
            let file = if vars["includeUpload"] == true {
                json!({"id": format!("file-{id}"), "uploadUrl": format!("{base}/storage/manifests/{id}"), "uploadHeaders": []})
            } else {
                json!({"id": format!("file-{id}")})
            };
            json!({"createArtifactManifest": {"artifactManifest": {"id": format!("manifest-{id}"), "file": file}}})
        }
        Some("CreateArtifactFiles") => {
            let edges: Vec<Value> = vars["artifactFiles"].as_array().into_iter().flatten().map(|f| {
                let id = f["artifactID"].as_str().unwrap_or("");
                let name = f["name"].as_str().unwrap_or("");
                json!({"node": {"storagePath": format!("{id}/{name}"), "uploadUrl": format!("{base}/storage/artifacts/{id}/{name}"),
                                "uploadHeaders": [], "uploadMultipartUrls": null, "artifact": {"id": id}}})
            }).collect();
            json!({"createArtifactFiles": {"files": {"edges": edges}}})
        }
        Some("CommitArtifact") => {
            json!({"commitArtifact": {"artifact": {"id": vars["artifactID"], "digest": "d"}}})
        }
        // The reads a download sends (the SDK's public API), answered from what was uploaded.
        Some("Run") => {
            let log = served_log(&inner);
            let run = log.iter().rev().find(|r| {
                r.op.as_deref() == Some("UpsertBucket") && r.vars()["name"] == vars["name"]
            });
            json!({"project": {"run": run.map(|r| json!({
                "id": "UnVuOjE=", "name": vars["name"], "displayName": r.vars()["displayName"],
                "group": r.vars()["groupName"], "config": r.vars()["config"]}))}})
        }
        Some("RunOutputArtifacts") => {
            let log = served_log(&inner);
            let known = log.iter().any(|r| {
                r.op.as_deref() == Some("UpsertBucket") && r.vars()["name"] == vars["run"]
            });
            let edges: Vec<Value> = artifacts_of(&log)
                .into_iter()
                .filter(|a| a.run == vars["run"].as_str().unwrap_or(""))
                .map(|a| json!({"node": {
                    "id": a.id, "versionIndex": 0,
                    "state": if a.committed { "COMMITTED" } else { "PENDING" },
                    "artifactType": {"name": a.kind},
                    "artifactSequence": {"name": a.collection, "project": {"name": vars["project"], "entity": {"name": vars["entity"]}}}}}))
                .collect();
            json!({"project": {"run": known.then(|| json!({"artifacts": {
                "totalCount": edges.len(), "pageInfo": {"endCursor": null, "hasNextPage": false}, "edges": edges}}))}})
        }
        Some("FetchArtifactManifest") => {
            let id = vars["id"].as_str().unwrap_or("");
            json!({"artifact": {"currentManifest": {"file": {"directUrl": format!("{base}/storage/manifests/{id}")}}}})
        }
        Some("GetArtifactMembershipFileUrls") => {
            let log = served_log(&inner);
            let artifact = artifacts_of(&log).into_iter().find(|a| {
                a.collection == vars["collection"].as_str().unwrap_or("") && vars["alias"] == "v0"
            });
            // Files are served from another origin (`localhost` rather than 127.0.0.1), as
            // signed storage URLs are: the API key must not go there.
            let other_origin = base.replace("127.0.0.1", "localhost");
            json!({"project": {"artifactCollection": artifact.map(|a| {
                let edges: Vec<Value> = a.files.iter().map(|name| json!({"node": {"__typename": "File", "name": name,
                    "directUrl": format!("{other_origin}/storage/artifacts/{}/{name}", a.id)}})).collect();
                json!({"__typename": "ArtifactCollection", "artifactMembership": {"files": {
                    "pageInfo": {"endCursor": null, "hasNextPage": false}, "edges": edges}}})
            })}})
        }
        other => {
            return ok(json!({"errors": [{"message": format!("unknown operation {other:?}")}]}));
        }
    };
    ok(json!({"data": data}))
}

/// Requests answered normally, in order.
fn served_log(inner: &Inner) -> Vec<Recorded> {
    inner
        .log
        .lock()
        .unwrap()
        .iter()
        .filter(|r| !r.failed)
        .cloned()
        .collect()
}

/// An artifact as the recording describes it.
struct ArtifactSeen {
    id: String,
    run: String,
    kind: String,
    collection: String,
    committed: bool,
    files: Vec<String>,
}

/// The artifacts created so far, numbered in CreateArtifact order as the server answered.
fn artifacts_of(log: &[Recorded]) -> Vec<ArtifactSeen> {
    log.iter()
        .filter(|r| r.op.as_deref() == Some("CreateArtifact"))
        .enumerate()
        .map(|(index, r)| {
            let v = r.vars();
            let id = format!("artifact-{index}");
            let committed = log.iter().any(|c| {
                c.op.as_deref() == Some("CommitArtifact") && c.vars()["artifactID"] == id.as_str()
            });
            let files = log
                .iter()
                .filter(|c| c.op.as_deref() == Some("CreateArtifactFiles"))
                .flat_map(|c| {
                    c.vars()["artifactFiles"]
                        .as_array()
                        .cloned()
                        .unwrap_or_default()
                })
                .filter(|f| f["artifactID"] == id.as_str())
                .filter_map(|f| f["name"].as_str().map(str::to_string))
                .collect();
            ArtifactSeen {
                run: v["runName"].as_str().unwrap_or("").to_string(),
                kind: v["artifactTypeName"].as_str().unwrap_or("").to_string(),
                collection: v["artifactCollectionName"]
                    .as_str()
                    .unwrap_or("")
                    .to_string(),
                committed,
                files,
                id,
            }
        })
        .collect()
}

async fn download(
    State(inner): State<Arc<Inner>>,
    UrlPath(path): UrlPath<String>,
    headers: HeaderMap,
) -> Response {
    if record(
        &inner,
        "GET",
        &format!("/storage/{path}"),
        &headers,
        &[],
        None,
    ) {
        return (StatusCode::INTERNAL_SERVER_ERROR, "injected failure").into_response();
    }
    match inner.storage.lock().unwrap().get(&path) {
        Some(bytes) => bytes.clone().into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn file_stream(
    State(inner): State<Arc<Inner>>,
    UrlPath((e, p, r)): UrlPath<(String, String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if record(
        &inner,
        "POST",
        &format!("/files/{e}/{p}/{r}/file_stream"),
        &headers,
        &body,
        None,
    ) {
        return (StatusCode::INTERNAL_SERVER_ERROR, "injected failure").into_response();
    }
    ok(json!({"exitcode": null, "limits": {}}))
}

async fn storage(
    State(inner): State<Arc<Inner>>,
    UrlPath(path): UrlPath<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if record(
        &inner,
        "PUT",
        &format!("/storage/{path}"),
        &headers,
        &body,
        None,
    ) {
        return (StatusCode::INTERNAL_SERVER_ERROR, "injected failure").into_response();
    }
    inner.storage.lock().unwrap().insert(path, body.to_vec());
    StatusCode::OK.into_response()
}
