//! Downloading a W&B run's aiperf results back into a result directory, for a comparison
//! baseline (`--baseline-from wandb:ENTITY/PROJECT/RUN`). It sends the queries the SDK's public
//! API sends for `api.run(path).logged_artifacts()` and `artifact.download()`
//! (RunOutputArtifacts, FetchArtifactManifest, GetArtifactMembershipFileUrls) and, for an
//! experiment, `Run` to read which W&B runs hold its trials.
//!
//! What it guarantees: every file written matches the size and MD5 its artifact manifest
//! records (else the download fails and says which file); no manifest path can write outside
//! the destination; the API key goes only to the W&B server's own origin, never to a storage
//! URL on another host.

use super::api::Api;
use anyhow::{Context, Result, anyhow, bail};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

/// The config key of an experiment's aggregate W&B run that lists its trials' W&B runs.
pub const TRIAL_RUNS_KEY: &str = "aiperf_trial_runs";

/// Artifact types aiperf uploads (one per W&B run).
const RUN_ARTIFACT: &str = "aiperf-run";
const EXPERIMENT_ARTIFACT: &str = "aiperf-experiment";

/// A W&B run named as `wandb:ENTITY/PROJECT/RUN` (or `wandb:PROJECT/RUN` for the API key's
/// default entity). RUN is the run ID, the last segment of the run's page URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunRef {
    /// The entity, or `None` for the key's default one.
    pub entity: Option<String>,
    /// The project.
    pub project: String,
    /// The run ID.
    pub run: String,
}

impl RunRef {
    /// Parses `wandb:ENTITY/PROJECT/RUN` or `wandb:PROJECT/RUN`; the error says the form.
    pub fn parse(text: &str) -> Result<RunRef, String> {
        let form = "expected wandb:ENTITY/PROJECT/RUN_ID (or wandb:PROJECT/RUN_ID)";
        let Some(rest) = text.strip_prefix("wandb:") else {
            return Err(format!("{text:?}: {form}"));
        };
        let parts: Vec<&str> = rest.trim_matches('/').split('/').collect();
        let valid = |p: &&str| {
            !p.is_empty()
                && p.len() <= 128
                && p.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
                && *p != "."
                && *p != ".."
        };
        if !parts.iter().all(valid) {
            return Err(format!(
                "{text:?}: {form}; names are letters, digits, '-', '_' and '.'"
            ));
        }
        match parts.as_slice() {
            [project, run] => Ok(RunRef {
                entity: None,
                project: project.to_string(),
                run: run.to_string(),
            }),
            [entity, project, run] => Ok(RunRef {
                entity: Some(entity.to_string()),
                project: project.to_string(),
                run: run.to_string(),
            }),
            _ => Err(format!("{text:?}: {form}")),
        }
    }

    /// Whether `text` names a W&B run rather than a directory.
    pub fn is_wandb(text: &str) -> bool {
        text.starts_with("wandb:")
    }
}

impl std::fmt::Display for RunRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.entity {
            Some(e) => write!(f, "wandb:{e}/{}/{}", self.project, self.run),
            None => write!(f, "wandb:{}/{}", self.project, self.run),
        }
    }
}

/// What a download brought.
#[derive(Debug, Clone, PartialEq)]
pub struct Downloaded {
    /// Files written.
    pub files: usize,
    /// Bytes written.
    pub bytes: u64,
    /// W&B runs read: 1 for a run, 1 + trials for an experiment.
    pub runs: usize,
}

const RUN_OUTPUT_ARTIFACTS: &str = "query RunOutputArtifacts($entity: String!, $project: String!, $run: String!, $cursor: String, $perPage: Int) { project(entityName: $entity, name: $project) { run(name: $run) { artifacts: outputArtifacts(after: $cursor, first: $perPage) { totalCount pageInfo { endCursor hasNextPage } edges { node { id versionIndex state artifactType { name } artifactSequence { name project { name entity { name } } } } } } } } }";
const FETCH_ARTIFACT_MANIFEST: &str = "query FetchArtifactManifest($id: ID!) { artifact(id: $id) { currentManifest { file { directUrl } } } }";
const GET_FILE_URLS: &str = "query GetArtifactMembershipFileUrls($entity: String!, $project: String!, $collection: String!, $alias: String!, $cursor: String, $perPage: Int) { project(name: $project, entityName: $entity) { artifactCollection(name: $collection) { __typename artifactMembership(aliasName: $alias) { files(after: $cursor, first: $perPage) { pageInfo { endCursor hasNextPage } edges { node { __typename name directUrl } } } } } } }";
const RUN_CONFIG: &str = "query Run($project: String!, $entity: String!, $name: String!) { project(name: $project, entityName: $entity) { run(name: $name) { id name displayName group config } } }";
const VIEWER: &str = "query Viewer { viewer { id entity username } }";

/// Pages of a listing; a server that keeps saying "more" cannot loop forever.
const MAX_PAGES: usize = 1000;
const PAGE_SIZE: u64 = 100;
/// The most a file the manifest gives no size for may hold.
const UNSIZED_FILE_LIMIT: u64 = 16 << 30;
/// Trials of one experiment, at most (bounds a hostile config).
const MAX_TRIALS: usize = 100_000;

/// One artifact version, as RunOutputArtifacts lists it.
#[derive(Debug, Clone)]
struct ArtifactVersion {
    id: String,
    kind: String,
    version: u64,
    entity: String,
    project: String,
    collection: String,
}

/// The manifest (`wandb_manifest.json`): path -> digest and size.
#[derive(Debug, Deserialize)]
struct Manifest {
    #[serde(default)]
    contents: BTreeMap<String, ManifestEntry>,
}

#[derive(Debug, Deserialize)]
struct ManifestEntry {
    digest: String,
    #[serde(default)]
    size: Option<u64>,
}

/// One trial of an experiment's aggregate run: its directory (relative) and W&B run.
#[derive(Debug, Clone, Deserialize, serde::Serialize, PartialEq)]
pub struct TrialRun {
    /// The trial directory, relative to the experiment directory, `/`-separated.
    pub dir: String,
    /// The trial's W&B run ID.
    pub run: String,
}

/// Downloads the aiperf results of `run` into `dest` (created; it should be empty): a run's
/// `aiperf-run` artifact as a run directory, or an experiment's aggregate artifact plus each of
/// its trials' runs into their directories.
pub async fn download(api: &Api, run: &RunRef, dest: &Path) -> Result<Downloaded> {
    let entity = match &run.entity {
        Some(e) => e.clone(),
        None => api.graphql("Viewer", VIEWER, Value::Null).await?["viewer"]["entity"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| {
                anyhow!("the W&B server names no default entity for this API key; use wandb:ENTITY/PROJECT/RUN")
            })?,
    };
    let artifact = results_artifact(api, &entity, &run.project, &run.run)
        .await
        .with_context(|| format!("{run}"))?;
    let mut got = download_artifact(api, &artifact, dest)
        .await
        .with_context(|| format!("{run}"))?;
    got.runs = 1;
    if artifact.kind == EXPERIMENT_ARTIFACT {
        let trials = trial_runs(api, &entity, &run.project, &run.run).await?;
        if trials.is_empty() {
            bail!("{run}: the experiment's W&B run lists no trial runs ({TRIAL_RUNS_KEY})");
        }
        for t in &trials {
            let rel = safe_relative(&t.dir).ok_or_else(|| {
                anyhow!(
                    "{run}: trial directory {:?} is not a relative path inside the experiment",
                    t.dir
                )
            })?;
            let trial = results_artifact(api, &entity, &run.project, &t.run)
                .await
                .with_context(|| format!("{run}: trial run {}", t.run))?;
            let one = download_artifact(api, &trial, &dest.join(rel))
                .await
                .with_context(|| format!("{run}: trial run {}", t.run))?;
            got.files += one.files;
            got.bytes += one.bytes;
            got.runs += 1;
        }
    }
    Ok(got)
}

/// The run's newest committed aiperf artifact.
async fn results_artifact(
    api: &Api,
    entity: &str,
    project: &str,
    run: &str,
) -> Result<ArtifactVersion> {
    let mut cursor: Option<String> = None;
    let mut best: Option<ArtifactVersion> = None;
    let mut seen_run = false;
    for _ in 0..MAX_PAGES {
        let data = api
            .graphql(
                "RunOutputArtifacts",
                RUN_OUTPUT_ARTIFACTS,
                json!({"entity": entity, "project": project, "run": run, "cursor": cursor, "perPage": PAGE_SIZE}),
            )
            .await?;
        let listing = &data["project"]["run"]["artifacts"];
        if data["project"]["run"].is_object() {
            seen_run = true;
        }
        for edge in listing["edges"].as_array().into_iter().flatten() {
            let node = &edge["node"];
            let kind = node["artifactType"]["name"].as_str().unwrap_or_default();
            if (kind != RUN_ARTIFACT && kind != EXPERIMENT_ARTIFACT)
                || node["state"].as_str() != Some("COMMITTED")
            {
                continue;
            }
            let sequence = &node["artifactSequence"];
            let (Some(id), Some(collection)) = (node["id"].as_str(), sequence["name"].as_str())
            else {
                continue;
            };
            let found = ArtifactVersion {
                id: id.to_string(),
                kind: kind.to_string(),
                version: node["versionIndex"].as_u64().unwrap_or(0),
                entity: sequence["project"]["entity"]["name"]
                    .as_str()
                    .unwrap_or(entity)
                    .to_string(),
                project: sequence["project"]["name"]
                    .as_str()
                    .unwrap_or(project)
                    .to_string(),
                collection: collection.to_string(),
            };
            if best.as_ref().is_none_or(|b| found.version >= b.version) {
                best = Some(found);
            }
        }
        if listing["pageInfo"]["hasNextPage"] != true {
            break;
        }
        cursor = listing["pageInfo"]["endCursor"]
            .as_str()
            .map(str::to_string);
    }
    if !seen_run {
        bail!("no such W&B run (entity {entity}, project {project}, run ID {run})");
    }
    best.ok_or_else(|| {
        anyhow!("the W&B run has no committed aiperf results artifact (type {RUN_ARTIFACT} or {EXPERIMENT_ARTIFACT}); was it uploaded by aiperf?")
    })
}

/// The trials an experiment's aggregate run lists in its config.
async fn trial_runs(api: &Api, entity: &str, project: &str, run: &str) -> Result<Vec<TrialRun>> {
    let data = api
        .graphql(
            "Run",
            RUN_CONFIG,
            json!({"project": project, "entity": entity, "name": run}),
        )
        .await?;
    let config = &data["project"]["run"]["config"];
    // The config is a JSON string of `{key: {"value": v, "desc": ...}}`.
    let config: Value = match config {
        Value::String(s) => serde_json::from_str(s).context("the run's config is not JSON")?,
        other => other.clone(),
    };
    let listed = config[TRIAL_RUNS_KEY]
        .get("value")
        .cloned()
        .unwrap_or_else(|| config[TRIAL_RUNS_KEY].clone());
    if listed.is_null() {
        return Ok(Vec::new());
    }
    let trials: Vec<TrialRun> =
        serde_json::from_value(listed).with_context(|| format!("the run's {TRIAL_RUNS_KEY}"))?;
    if trials.len() > MAX_TRIALS {
        bail!(
            "the run lists {} trials, more than {MAX_TRIALS}",
            trials.len()
        );
    }
    Ok(trials)
}

/// Downloads every file of one artifact version into `dest`, checking each against the manifest.
async fn download_artifact(api: &Api, a: &ArtifactVersion, dest: &Path) -> Result<Downloaded> {
    let data = api
        .graphql(
            "FetchArtifactManifest",
            FETCH_ARTIFACT_MANIFEST,
            json!({"id": a.id}),
        )
        .await?;
    let url = data["artifact"]["currentManifest"]["file"]["directUrl"]
        .as_str()
        .ok_or_else(|| anyhow!("artifact {}: no manifest", a.id))?;
    let manifest_bytes = api.get(url, "the artifact manifest").await?;
    let manifest: Manifest =
        serde_json::from_slice(&manifest_bytes).context("the artifact manifest is not JSON")?;
    let urls = file_urls(api, a).await?;
    std::fs::create_dir_all(dest).with_context(|| format!("cannot create {}", dest.display()))?;
    let mut got = Downloaded {
        files: 0,
        bytes: 0,
        runs: 0,
    };
    for (name, entry) in &manifest.contents {
        let rel = safe_relative(name)
            .ok_or_else(|| anyhow!("artifact file {name:?} is not a relative path"))?;
        let url = urls
            .get(name)
            .ok_or_else(|| anyhow!("the server gave no download URL for {name}"))?;
        let target = dest.join(rel);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        // A manifest without a size allows what a record file of 10 M requests could hold.
        let max = entry.size.unwrap_or(UNSIZED_FILE_LIMIT);
        let (size, digest) = api.get_to_file(url, &target, name, max).await?;
        if digest != entry.digest || entry.size.is_some_and(|s| s != size) {
            let _ = std::fs::remove_file(&target);
            bail!(
                "{name}: the downloaded file does not match the artifact manifest ({size} bytes, MD5 {digest}; the manifest says {} bytes, MD5 {})",
                entry.size.map_or("?".to_string(), |s| s.to_string()),
                entry.digest
            );
        }
        got.files += 1;
        got.bytes += size;
    }
    Ok(got)
}

/// Download URLs of one artifact version's files, by name.
async fn file_urls(api: &Api, a: &ArtifactVersion) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    let mut cursor: Option<String> = None;
    for _ in 0..MAX_PAGES {
        let data = api
            .graphql(
                "GetArtifactMembershipFileUrls",
                GET_FILE_URLS,
                json!({"entity": a.entity, "project": a.project, "collection": a.collection,
                       "alias": format!("v{}", a.version), "cursor": cursor, "perPage": PAGE_SIZE}),
            )
            .await?;
        let files = &data["project"]["artifactCollection"]["artifactMembership"]["files"];
        if !files.is_object() {
            bail!(
                "cannot list the files of artifact {}:v{}",
                a.collection,
                a.version
            );
        }
        for edge in files["edges"].as_array().into_iter().flatten() {
            if let (Some(name), Some(url)) = (
                edge["node"]["name"].as_str(),
                edge["node"]["directUrl"].as_str(),
            ) {
                out.insert(name.to_string(), url.to_string());
            }
        }
        if files["pageInfo"]["hasNextPage"] != true {
            break;
        }
        cursor = files["pageInfo"]["endCursor"].as_str().map(str::to_string);
    }
    Ok(out)
}

/// `path` as a relative path that stays inside its base (`a/b.json`), or `None` for an
/// absolute path, a `..`, or an empty one.
fn safe_relative(path: &str) -> Option<PathBuf> {
    if path.is_empty() || path.contains('\\') || path.contains('\0') {
        return None;
    }
    let p = Path::new(path);
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::Normal(part) => out.push(part),
            Component::CurDir => {}
            _ => return None,
        }
    }
    (!out.as_os_str().is_empty()).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_refs_parse_with_and_without_an_entity() {
        assert_eq!(
            RunRef::parse("wandb:team/proj/abc123").unwrap(),
            RunRef {
                entity: Some("team".into()),
                project: "proj".into(),
                run: "abc123".into()
            }
        );
        let short = RunRef::parse("wandb:proj/abc123").unwrap();
        assert_eq!(short.entity, None);
        assert_eq!(short.to_string(), "wandb:proj/abc123");
        for bad in [
            "team/proj/run",
            "wandb:",
            "wandb:run",
            "wandb:a/b/c/d",
            "wandb:a/../c",
            "wandb:a/b c/d",
            "wandb:a//c",
        ] {
            assert!(RunRef::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn manifest_paths_cannot_leave_the_destination() {
        assert_eq!(safe_relative("a/b.json"), Some(PathBuf::from("a/b.json")));
        assert_eq!(safe_relative("./a.json"), Some(PathBuf::from("a.json")));
        for bad in ["", "/etc/passwd", "../x", "a/../../x", "a\\..\\x", "."] {
            assert_eq!(safe_relative(bad), None, "{bad}");
        }
    }

    proptest::proptest! {
        #[test]
        fn safe_relative_paths_stay_inside(path in "[a-z./\\\\]{0,20}") {
            if let Some(p) = safe_relative(&path) {
                proptest::prop_assert!(p.is_relative());
                proptest::prop_assert!(p.components().all(|c| matches!(c, Component::Normal(_))));
            }
        }

        #[test]
        fn run_ref_parsing_never_panics_and_round_trips(text in "(wandb:)?[a-z0-9/._ -]{0,30}") {
            if let Ok(r) = RunRef::parse(&text) {
                proptest::prop_assert_eq!(RunRef::parse(&r.to_string()), Ok(r));
            }
        }
    }
}
