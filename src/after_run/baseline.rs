//! Where a comparison's baseline comes from: a result directory, or a W&B run whose aiperf
//! results are downloaded (`wandb:ENTITY/PROJECT/RUN`) into a temporary directory that lives
//! as long as the command, checked file by file against the artifact's manifest.

use crate::error::AppError;
use crate::gate::comparison::CompareOptions;
use crate::track::wandb::download::{self, RunRef};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A baseline as the user named it.
#[derive(Debug, Clone, PartialEq)]
pub enum BaselineSource {
    /// A result directory on disk.
    Dir(PathBuf),
    /// A W&B run uploaded by aiperf.
    Wandb(RunRef),
}

impl BaselineSource {
    /// A `wandb:` reference, or else a directory.
    pub fn parse(text: &str) -> Result<BaselineSource, String> {
        if RunRef::is_wandb(text) {
            RunRef::parse(text).map(BaselineSource::Wandb)
        } else {
            Ok(BaselineSource::Dir(PathBuf::from(text)))
        }
    }

    /// Checks what can be checked without the network: that a directory holds a result.
    pub fn check(&self) -> Result<(), String> {
        match self {
            BaselineSource::Dir(dir) => crate::gate::inputs::check_result_dir(dir),
            BaselineSource::Wandb(_) => Ok(()),
        }
    }

    /// The baseline on disk: the directory itself, or the W&B run downloaded (saying so on
    /// stderr). The error says why the baseline cannot be had (a configuration error), or that
    /// a signal stopped the download (its partial files are removed).
    pub async fn fetch(&self) -> Result<Baseline, AppError> {
        match self {
            BaselineSource::Dir(dir) => {
                crate::gate::inputs::check_result_dir(dir).map_err(AppError::config)?;
                Ok(Baseline {
                    dir: dir.clone(),
                    label: dir.display().to_string(),
                    _download: None,
                })
            }
            BaselineSource::Wandb(run) => fetch_wandb(run).await,
        }
    }
}

/// The comparison to make after a run, with its baseline fetched (a W&B baseline downloaded
/// now, so one that cannot be had fails before the benchmark starts).
pub async fn fetch_comparison(
    comparison: Option<(BaselineSource, CompareOptions)>,
) -> Result<Option<(Baseline, CompareOptions)>, AppError> {
    match comparison {
        Some((source, options)) => Ok(Some((source.fetch().await?, options))),
        None => Ok(None),
    }
}

impl std::fmt::Display for BaselineSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BaselineSource::Dir(d) => write!(f, "{}", d.display()),
            BaselineSource::Wandb(r) => write!(f, "{r}"),
        }
    }
}

/// A baseline result directory ready to read; a downloaded one is removed when the last clone
/// is dropped.
#[derive(Debug, Clone)]
pub struct Baseline {
    /// The directory to read.
    pub dir: PathBuf,
    /// How the user named it (the directory, or `wandb:...`), for compare.json and the console.
    pub label: String,
    _download: Option<Arc<tempfile::TempDir>>,
}

impl Baseline {
    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The temporary directory a W&B baseline was downloaded into, if it was.
    pub fn download_dir(&self) -> Option<PathBuf> {
        self._download.as_ref().map(|t| t.path().to_path_buf())
    }
}

/// The time budget of a baseline download (`AIPERF_WANDB_DOWNLOAD_TIMEOUT_SECONDS`, default
/// 300, 1-3600).
fn download_budget() -> Duration {
    let secs = std::env::var("AIPERF_WANDB_DOWNLOAD_TIMEOUT_SECONDS")
        .ok()
        .and_then(|s| s.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite())
        .map_or(300.0, |s| s.clamp(1.0, 3600.0));
    Duration::from_secs_f64(secs)
}

async fn fetch_wandb(run: &RunRef) -> Result<Baseline, AppError> {
    // The listener is installed first, so a signal during the download unwinds through here
    // and the temporary directory is removed, instead of the default action killing the
    // process and leaving it behind.
    let shutdown = crate::signals::shutdown_token();
    let fetching = fetch_wandb_into(run);
    tokio::select! {
        fetched = fetching => fetched.map_err(AppError::config),
        _ = shutdown.cancelled() => Err(AppError::interrupted(format!(
            "interrupted by {} while downloading the baseline {run}; nothing was run",
            crate::signals::received_name()
        ))),
    }
}

async fn fetch_wandb_into(run: &RunRef) -> Result<Baseline, String> {
    // The server and key come from the same places as for uploads.
    let spec = crate::spec::WandbSpec {
        project: Some(run.project.clone()),
        ..Default::default()
    };
    let settings = crate::track::wandb::Settings::from_env(&spec)
        .ok_or_else(|| format!("{run}: W&B is not configured"))?;
    let key = settings.api_key.clone().ok_or_else(|| {
        format!("{run}: no W&B API key: set WANDB_API_KEY (or add the server to ~/.netrc)")
    })?;
    let temp = tempfile::Builder::new()
        .prefix("aiperf-baseline-")
        .tempdir()
        .map_err(|e| format!("{run}: cannot create a directory for the download: {e}"))?;
    let api = crate::track::wandb::api::Api::for_download(
        &settings.base_url,
        &key,
        Instant::now() + download_budget(),
    )
    .map_err(|e| format!("{run}: {e:#}"))?;
    let got = download::download(&api, run, temp.path())
        .await
        .map_err(|e| format!("cannot download the baseline {e:#}"))?;
    eprintln!(
        "baseline {run}: downloaded {} file(s), {:.1} MiB, from {} W&B run(s)",
        got.files,
        got.bytes as f64 / (1024.0 * 1024.0),
        got.runs
    );
    let dir = temp.path().to_path_buf();
    crate::gate::inputs::check_result_dir(&dir)
        .map_err(|_| format!("{run}: the downloaded artifact holds no aiperf result"))?;
    Ok(Baseline {
        dir,
        label: run.to_string(),
        _download: Some(Arc::new(temp)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wandb_reference_is_not_a_directory() {
        assert!(matches!(
            BaselineSource::parse("wandb:e/p/r"),
            Ok(BaselineSource::Wandb(_))
        ));
        assert_eq!(
            BaselineSource::parse("results/main"),
            Ok(BaselineSource::Dir(PathBuf::from("results/main")))
        );
        assert!(BaselineSource::parse("wandb:only").is_err());
    }
}
