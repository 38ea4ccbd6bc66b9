//! Weights & Biases export over the SDK's own HTTP protocol, with no Python and no SDK.
//!
//! The export reads results back from disk (like plots), after local files and plots are
//! written: one W&B run per run directory, and for an experiment one run per trial, all in one
//! group, plus a run carrying the aggregate tables, the search history and the multi-run plots.
//! Uploading never fails or hangs the benchmark: retries and a time budget, then one warning and
//! an unchanged exit code, unless `--wandb-required` makes the failure an error.

pub mod api;
pub mod content;
pub mod digest;
pub mod download;
pub mod offline;
pub mod upload;

use crate::artifacts::plan_file::PlanFile;
use crate::artifacts::search_history::SearchHistory;
use crate::exit_code::ExitCode;
use crate::spec::WandbSpec;
use anyhow::{Result, bail};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use upload::{RunContent, Uploaded, upload_run};

/// The default W&B API.
pub const DEFAULT_BASE_URL: &str = "https://api.wandb.ai";

/// How the export runs, from the spec and the environment.
#[derive(Debug, Clone, PartialEq)]
pub enum Mode {
    /// Upload now.
    Online,
    /// `WANDB_MODE=offline`/`dryrun`: do not contact the server.
    Offline,
    /// `WANDB_MODE=disabled`: no export at all.
    Disabled,
}

/// Everything the export needs, resolved once.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The project.
    pub project: String,
    /// The entity, if given.
    pub entity: Option<String>,
    /// The display name, if given.
    pub run_name: Option<String>,
    /// User tags.
    pub tags: Vec<String>,
    /// The group, if given.
    pub group: Option<String>,
    /// Whether a failure is an error.
    pub required: bool,
    /// Online, offline or disabled.
    pub mode: Mode,
    /// The API base URL (`WANDB_BASE_URL`).
    pub base_url: String,
    /// The API key (`WANDB_API_KEY`, else `~/.netrc`). Never written anywhere.
    pub api_key: Option<String>,
    /// The time budget of one W&B run's upload (`AIPERF_WANDB_EXPORT_TIMEOUT_SECONDS`, default 30).
    pub budget: Duration,
}

/// The password of `machine <host>` in netrc text.
pub fn netrc_password(text: &str, host: &str) -> Option<String> {
    let tokens: Vec<&str> = text.split_whitespace().collect();
    let mut i = 0;
    let mut in_host = false;
    while i < tokens.len() {
        match tokens[i] {
            "machine" => {
                in_host = tokens.get(i + 1) == Some(&host);
                i += 2;
            }
            "default" => {
                in_host = true;
                i += 1;
            }
            "password" if in_host => return tokens.get(i + 1).map(|s| s.to_string()),
            _ => i += 1,
        }
    }
    None
}

/// The host a W&B base URL names (the `machine` of its `~/.netrc` entry); the text itself when
/// it is not a URL.
fn host_of(base_url: &str) -> String {
    url::Url::parse(base_url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_string))
        .unwrap_or_else(|| base_url.to_string())
}

impl Settings {
    /// Resolves the export of `spec`, or `None` when no project enables it. `env` reads
    /// environment variables; `netrc` is the text of `~/.netrc`, if any.
    pub fn resolve(
        spec: &WandbSpec,
        env: &dyn Fn(&str) -> Option<String>,
        netrc: Option<&str>,
    ) -> Option<Settings> {
        let project = spec.project.clone()?;
        let base_url = env("WANDB_BASE_URL")
            .filter(|u| !u.trim().is_empty())
            .unwrap_or_else(|| DEFAULT_BASE_URL.into())
            .trim_end_matches('/')
            .to_string();
        let api_key = env("WANDB_API_KEY")
            .filter(|k| !k.trim().is_empty())
            .or_else(|| netrc.and_then(|t| netrc_password(t, &host_of(&base_url))));
        let mode = match (spec.mode, env("WANDB_MODE").as_deref().map(str::trim)) {
            (Some(crate::spec::WandbMode::Offline), _) => Mode::Offline,
            (Some(crate::spec::WandbMode::Online), _) => Mode::Online,
            (None, Some("offline") | Some("dryrun")) => Mode::Offline,
            (None, Some("disabled")) => Mode::Disabled,
            _ => Mode::Online,
        };
        let budget = env("AIPERF_WANDB_EXPORT_TIMEOUT_SECONDS")
            .and_then(|s| s.trim().parse::<f64>().ok())
            .map_or(30.0, |s| s.clamp(1.0, 600.0));
        Some(Settings {
            project,
            entity: spec.entity.clone(),
            run_name: spec.run_name.clone(),
            tags: spec.tags.clone(),
            group: spec.group.clone(),
            required: spec.required,
            mode,
            base_url,
            api_key,
            budget: Duration::from_secs_f64(budget),
        })
    }

    /// Resolves from the process environment and `~/.netrc`.
    pub fn from_env(spec: &WandbSpec) -> Option<Settings> {
        let netrc = std::env::var_os("HOME")
            .map(|h| PathBuf::from(h).join(".netrc"))
            .and_then(|p| std::fs::read_to_string(p).ok());
        Self::resolve(spec, &|k| std::env::var(k).ok(), netrc.as_deref())
    }
}

/// One W&B run to upload: its content and when its benchmark started.
struct Planned {
    content: RunContent,
    started: f64,
    label: String,
    /// A trial's directory relative to its experiment's (`/`-separated); `None` for a single
    /// run or the aggregate run.
    trial_dir: Option<String>,
}

/// Trials of an experiment directory: (run dir, cell label, parameters), from its plan or search.
fn trials_of(base: &Path) -> Vec<(PathBuf, String, Value)> {
    let mut out = Vec::new();
    let plan_file = base.join(crate::artifacts::names::PLAN_JSON);
    if let Ok(plan) = crate::artifacts::io::read::<PlanFile>(&plan_file) {
        for t in plan.trials {
            out.push((t.dir, t.cell, Value::Object(t.parameters)));
        }
    }
    if out.is_empty()
        && let Some(history) = SearchHistory::read(base)
    {
        for i in history.iterations {
            let label = crate::artifacts::layout::search_point_label(i.iteration_idx);
            let params: serde_json::Map<String, Value> = i
                .variation_values
                .iter()
                .map(|(k, v)| (k.rsplit('.').next().unwrap_or(k).to_string(), v.clone()))
                .collect();
            for r in &i.runs {
                out.push((base.join(r), label.clone(), Value::Object(params.clone())));
            }
        }
    }
    out.retain(|(dir, _, _)| {
        dir.join(crate::artifacts::names::PROFILE_EXPORT_JSON)
            .is_file()
    });
    out
}

/// The W&B runs `dir` becomes: one for a run directory; for an experiment, one per trial plus the
/// aggregate run.
fn plan_uploads(dir: &Path, s: &Settings) -> Result<Vec<Planned>> {
    if dir
        .join(crate::artifacts::names::PROFILE_EXPORT_JSON)
        .is_file()
    {
        let (mut content, started) =
            content::run_content(dir, s.run_name.as_deref(), &s.tags, None)?;
        content.group = s.group.clone();
        return Ok(vec![Planned {
            label: content.display_name.clone(),
            content,
            started,
            trial_dir: None,
        }]);
    }
    let trials = trials_of(dir);
    if trials.is_empty() {
        bail!("{} holds no aiperf results to upload", dir.display());
    }
    let experiment = dir
        .canonicalize()
        .unwrap_or_else(|_| dir.to_path_buf())
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "aiperf".into());
    let group = s.group.clone().unwrap_or_else(|| experiment.clone());
    let mut planned = Vec::new();
    let mut first_start = f64::INFINITY;
    for (run_dir, cell, params) in &trials {
        let (mut content, started) = content::run_content(run_dir, None, &s.tags, Some(params))?;
        // The repetition, in every layout: profile_runs/trial_NNNN/<cell>,
        // <cell>/profile_runs/trial_NNNN, search_iter_NNNN/profile_runs/run_NNNN.
        let repetition = crate::artifacts::layout::repetition_name(dir, run_dir)
            .map(|c| format!(" {c}"))
            .unwrap_or_default();
        let base_name = s.run_name.clone().unwrap_or_else(|| group.clone());
        content.display_name = format!("{base_name} {cell}{repetition}");
        content.group = Some(group.clone());
        content.job_type = Some(cell.clone());
        first_start = first_start.min(started);
        let trial_dir = run_dir.strip_prefix(dir).ok().map(|rel| {
            rel.components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("/")
        });
        planned.push(Planned {
            label: content.display_name.clone(),
            content,
            started,
            trial_dir,
        });
    }
    let mut aggregate = aggregate_run(dir, &group, s, &trials, first_start)?;
    // Where each trial's W&B run is: a download of the experiment (`--baseline-from`) puts
    // each trial back in its directory.
    let trial_runs: Vec<download::TrialRun> = planned
        .iter()
        .filter_map(|p| {
            p.trial_dir.as_ref().map(|dir| download::TrialRun {
                dir: dir.clone(),
                run: p.content.run_id.clone(),
            })
        })
        .collect();
    aggregate
        .content
        .config
        .insert(download::TRIAL_RUNS_KEY.into(), json!(trial_runs));
    planned.push(aggregate);
    Ok(planned)
}

/// The run that carries an experiment's aggregates, search history and multi-run plots.
fn aggregate_run(
    dir: &Path,
    group: &str,
    s: &Settings,
    trials: &[(PathBuf, String, Value)],
    started: f64,
) -> Result<Planned> {
    let mut tables = Vec::new();
    let detected = crate::plot::detect::discover(&[dir.to_path_buf()]).ok();
    let source = detected.as_ref().and_then(|d| d.sources.first());
    if let Some(path) = source.and_then(|s| s.sweep_json.as_ref()) {
        let sweep: crate::artifacts::aggregates::SweepAggregateFile =
            crate::artifacts::io::read(path)?;
        tables.extend(content::sweep_tables(&sweep));
    }
    if let Some(path) = source.and_then(|s| s.search_history.as_ref()) {
        let history: SearchHistory = crate::artifacts::io::read(path)?;
        tables.push(("search_history".into(), content::search_table(&history)));
    }
    let trial_dirs: Vec<PathBuf> = trials.iter().map(|(d, _, _)| d.clone()).collect();
    // Trials carry their own artifacts; the aggregate run holds what lies outside them.
    let artifact_files = content::artifact_files(dir, &|p: &Path| {
        trial_dirs
            .iter()
            .any(|t| t.starts_with(p) || p.starts_with(t))
    });
    let mut config = serde_json::Map::new();
    config.insert("experiment".into(), json!(group));
    config.insert("trials".into(), json!(trials.len()));
    let mut tags = vec![
        format!("aiperf-{}", crate::VERSION),
        "aggregate".to_string(),
    ];
    tags.extend(s.tags.iter().cloned());
    let content = RunContent {
        display_name: format!("{group} aggregate"),
        group: Some(group.to_string()),
        job_type: Some("aggregate".into()),
        config,
        tags,
        tables,
        scalars: Default::default(),
        artifact_files,
        artifact_type: "aiperf-experiment".into(),
        exit_code: 0,
        run_id: upload::random_id(8),
    };
    Ok(Planned {
        label: content.display_name.clone(),
        content,
        trial_dir: None,
        started: if started.is_finite() {
            started
        } else {
            chrono::Utc::now().timestamp_millis() as f64 / 1000.0
        },
    })
}

/// Uploads the results in `dir` (a run directory or an experiment directory).
pub async fn export(dir: &Path, s: &Settings, say: &dyn Fn(String)) -> Result<Vec<Uploaded>> {
    let key = match &s.api_key {
        Some(k) => k.clone(),
        None => bail!(
            "no W&B API key: set WANDB_API_KEY (or add {} to ~/.netrc)",
            host_of(&s.base_url)
        ),
    };
    let planned = plan_uploads(dir, s)?;
    let count = planned.len();
    let mut entity = s.entity.clone();
    let mut done = Vec::new();
    for (i, p) in planned.iter().enumerate() {
        let api = api::Api::new(&s.base_url, &key, Instant::now() + s.budget)?;
        if entity.is_none() {
            let data = api.graphql("Viewer", "query Viewer { viewer { id entity username email flags teams { edges { node { name } } } } }", Value::Null).await?;
            entity = data["viewer"]["entity"].as_str().map(str::to_string);
            if entity.is_none() {
                bail!(
                    "the W&B server names no default entity for this API key; pass --wandb-entity"
                );
            }
        }
        let e = entity.as_deref().unwrap_or_default();
        let up = upload_run(&api, e, &s.project, &p.content, p.started).await?;
        say(format!(
            "W&B [{}/{}] {}: {} files, {} in the artifact -> {}",
            i + 1,
            count,
            p.label,
            up.run_files,
            up.artifact_files,
            up.url
        ));
        done.push(up);
    }
    Ok(done)
}

/// Writes the results in `dir` as W&B offline runs under `dir/wandb/`; returns their directories.
pub fn export_offline(dir: &Path, s: &Settings) -> Result<Vec<PathBuf>> {
    let planned = plan_uploads(dir, s)?;
    let wandb_dir = dir.join("wandb");
    planned
        .iter()
        .map(|p| {
            offline::write_run(
                &wandb_dir,
                &s.project,
                s.entity.as_deref(),
                &p.content,
                p.started,
            )
        })
        .collect()
}

/// How an export after a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportEnd {
    /// Uploaded, written offline, not enabled, or failed with a warning.
    Done,
    /// Failed while `required`: the command should end with this code.
    Failed(ExitCode),
    /// A signal abandoned the upload.
    Interrupted(ExitCode),
}

/// Exports `dir` when `spec` enables W&B, saying what happened in one line (every run's URL
/// when `list_every_run`). A failure is a warning unless `spec.required`.
pub async fn export_after_run(dir: &Path, spec: &WandbSpec, list_every_run: bool) -> ExportEnd {
    let Some(settings) = Settings::from_env(spec) else {
        return ExportEnd::Done;
    };
    match settings.mode {
        Mode::Disabled => {
            eprintln!("note: WANDB_MODE=disabled: nothing uploaded to W&B");
            return ExportEnd::Done;
        }
        Mode::Offline => {
            return match export_offline(dir, &settings) {
                Ok(runs) => {
                    println!(
                        "W&B offline: {} run(s) in {}; upload them with: wandb sync {}",
                        runs.len(),
                        dir.join("wandb").display(),
                        runs.iter()
                            .map(|r| r.display().to_string())
                            .collect::<Vec<_>>()
                            .join(" ")
                    );
                    ExportEnd::Done
                }
                Err(e) => failed(&settings, &format!("{e:#}")),
            };
        }
        Mode::Online => {}
    }
    let say = |line: String| eprintln!("{line}");
    // A signal abandons the upload instead of waiting for the time budget to run out.
    let shutdown = crate::signals::shutdown_token();
    let outcome = tokio::select! {
        outcome = export(dir, &settings, &say) => outcome,
        _ = shutdown.cancelled() => {
            eprintln!("interrupted: W&B upload abandoned (local results intact; upload later with aiperf export wandb {})", dir.display());
            return ExportEnd::Interrupted(crate::signals::interrupted_exit_code());
        }
    };
    match outcome {
        Ok(runs) if list_every_run => {
            println!(
                "W&B: {} run(s) uploaded to {}",
                runs.len(),
                settings.project
            );
            for r in &runs {
                println!("  {}", r.url);
            }
            ExportEnd::Done
        }
        Ok(runs) => {
            if let Some(last) = runs.last() {
                println!(
                    "W&B: {} run(s) uploaded to {} ({})",
                    runs.len(),
                    settings.project,
                    last.url
                );
            }
            ExportEnd::Done
        }
        Err(e) => failed(&settings, &format!("{e:#}")),
    }
}

/// One line about a failed export, and how it ends.
fn failed(settings: &Settings, error: &str) -> ExportEnd {
    if settings.required {
        eprintln!("error: W&B upload failed: {error}");
        ExportEnd::Failed(ExitCode::UPLOAD_FAILED)
    } else {
        eprintln!("warning: W&B upload failed (local results intact): {error}");
        ExportEnd::Done
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn project_enables_and_the_environment_configures() {
        assert!(Settings::resolve(&WandbSpec::default(), &env(&[]), None).is_none());
        let spec = WandbSpec {
            project: Some("p".into()),
            ..Default::default()
        };
        let s = Settings::resolve(&spec, &env(&[]), None).unwrap();
        assert_eq!(s.base_url, DEFAULT_BASE_URL);
        assert_eq!(s.api_key, None);
        assert_eq!(s.mode, Mode::Online);
        assert_eq!(s.budget, Duration::from_secs(30));
        let s = Settings::resolve(
            &spec,
            &env(&[
                ("WANDB_BASE_URL", "http://127.0.0.1:9/"),
                ("WANDB_MODE", "offline"),
                ("AIPERF_WANDB_EXPORT_TIMEOUT_SECONDS", "0.1"),
            ]),
            Some("machine 127.0.0.1 login api password k123\n"),
        )
        .unwrap();
        assert_eq!(s.base_url, "http://127.0.0.1:9");
        assert_eq!(s.api_key.as_deref(), Some("k123"));
        assert_eq!(s.mode, Mode::Offline);
        assert_eq!(s.budget, Duration::from_secs(1));
    }

    #[test]
    fn netrc_lookup_by_host() {
        let text =
            "machine api.wandb.ai\n  login user\n  password secret1\nmachine other password x\n";
        assert_eq!(
            netrc_password(text, "api.wandb.ai").as_deref(),
            Some("secret1")
        );
        assert_eq!(netrc_password(text, "nowhere"), None);
        assert_eq!(host_of("https://api.wandb.ai"), "api.wandb.ai");
        assert_eq!(host_of("http://127.0.0.1:8080/x"), "127.0.0.1");
    }
}
