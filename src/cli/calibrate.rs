//! `aiperf calibrate`: how much load this host's client can drive. Closed-loop runs at a few
//! concurrencies against the embedded zero-latency mock (or a URL), then an open loop at half the
//! best rate; the result is one sentence and `calibration.json` in the user's cache, which every
//! later run reads to warn when it asks for more.

use crate::artifacts::calibration::{Calibration, CalibrationPoint, default_path};
use crate::artifacts::names::{PROFILE_EXPORT_JSON, RUN_METADATA_JSON};
use crate::artifacts::run_metadata::RunMetadata;
use crate::artifacts::summary::RunSummaryFile;
use crate::error::AppError;
use crate::exit_code::ExitCode;
use crate::run::{Invocation, run_benchmark};
use std::path::{Path, PathBuf};

/// The embedded mock with no latency at all: every millisecond measured is the client's (and
/// the mock's, which shares the process, so the figures are on the safe side).
const ZERO_LATENCY_MOCK: &str = "mock://?ttft_ms=0&itl_ms=0";

/// Flags of `aiperf calibrate`.
#[derive(Debug, clap::Args)]
pub struct CalibrateArgs {
    /// Server to calibrate against (default: the embedded mock at zero latency).
    #[arg(short = 'u', long = "url")]
    pub url: Option<String>,
    /// Model name sent in requests.
    #[arg(short = 'm', long = "model", default_value = "mock-model")]
    pub model: String,
    /// Concurrencies measured in closed loop, comma-separated (each 1-4096).
    #[arg(long, value_delimiter = ',', default_values_t = vec![1u32, 16, 64])]
    pub concurrency: Vec<u32>,
    /// Seconds per measurement (0.5-600).
    #[arg(long, default_value_t = 3.0)]
    pub seconds: f64,
    /// Where the calibration is written (default: `$AIPERF_CALIBRATION`, else the user's cache,
    /// where `profile` and `run` look for it).
    #[arg(long)]
    pub output: Option<PathBuf>,
    /// Where the measurement runs are kept.
    #[arg(long = "artifact-dir", default_value = "artifacts/calibration")]
    pub artifact_dir: PathBuf,
}

fn check(args: &CalibrateArgs) -> Result<(), AppError> {
    if args.concurrency.is_empty() || args.concurrency.iter().any(|&c| !(1..=4096).contains(&c)) {
        return Err(AppError::config(
            "--concurrency: give one or more values from 1 to 4096",
        ));
    }
    if !(0.5..=600.0).contains(&args.seconds) {
        return Err(AppError::config(format!(
            "--seconds {}: must be from 0.5 to 600",
            args.seconds
        )));
    }
    Ok(())
}

/// One measurement run: `aiperf profile` with `load` flags, written to `dir`.
async fn measure(
    args: &CalibrateArgs,
    url: &str,
    load: &[String],
    dir: &Path,
) -> Result<Measured, AppError> {
    let mut argv: Vec<String> = [
        "-m",
        &args.model,
        "-u",
        url,
        "--streaming",
        "--isl",
        "100",
        "--osl",
        "8",
        "--random-seed",
        "1",
        "--ui-type",
        "none",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    argv.extend(load.iter().cloned());
    argv.push("--benchmark-duration".into());
    argv.push(args.seconds.to_string());
    argv.push("--artifact-dir".into());
    argv.push(dir.display().to_string());
    let spec = super::profile_args_to_spec(&argv).map_err(AppError::config)?;
    let invocation = Invocation {
        command_line: format!("aiperf calibrate ({})", load.join(" ")),
        quiet: true,
        calibrating: true,
        ..Invocation::default()
    };
    let report = run_benchmark(spec, &invocation).await?;
    if report.exit_code.is_interruption() {
        // Ctrl-C or SIGTERM: stop with the signal's code; what was measured stays in `dir`.
        return Ok(Measured::Interrupted(report.exit_code));
    }
    if report.exit_code != ExitCode::SUCCESS {
        return Err(AppError::failure(format!(
            "the calibration run {} did not finish cleanly (exit code {}); see {}",
            load.join(" "),
            report.exit_code.0,
            dir.display()
        )));
    }
    let summary = RunSummaryFile::read(&dir.join(PROFILE_EXPORT_JSON))
        .map_err(|e| AppError::failure(format!("{e:#}")))?;
    let metadata = crate::artifacts::io::read(&dir.join(RUN_METADATA_JSON))
        .map_err(|e| AppError::failure(e.to_string()))?;
    Ok(Measured::Done(Box::new(summary), Box::new(metadata)))
}

/// A measurement run's end: its files, or the signal that stopped it.
enum Measured {
    Done(Box<RunSummaryFile>, Box<RunMetadata>),
    Interrupted(ExitCode),
}

/// Runs `aiperf calibrate`.
pub async fn run(args: &CalibrateArgs) -> Result<ExitCode, AppError> {
    check(args)?;
    let url = args.url.clone().unwrap_or_else(|| ZERO_LATENCY_MOCK.into());
    let mut points = Vec::new();
    let mut cores = 0;
    for &c in &args.concurrency {
        eprintln!("calibrate: concurrency {c} for {} s", args.seconds);
        let load = vec!["--concurrency".to_string(), c.to_string()];
        let dir = args.artifact_dir.join(format!("concurrency{c}"));
        let (summary, metadata) = match measure(args, &url, &load, &dir).await? {
            Measured::Done(summary, metadata) => (*summary, *metadata),
            Measured::Interrupted(code) => return Ok(code),
        };
        let headroom = &metadata.load_verdict.client_headroom;
        cores = headroom.cores;
        points.push(CalibrationPoint {
            concurrency: c,
            request_rate: summary.stat("request_throughput", "avg").unwrap_or(0.0),
            ttft_p50_ms: summary.stat("time_to_first_token", "p50"),
            ttft_p99_ms: summary.stat("time_to_first_token", "p99"),
            client_bound: metadata.load_verdict.client_bound,
            cpu_utilization: headroom.cpu_utilization,
            event_loop_delay_p99_ms: headroom.event_loop_delay_p99_ms,
        });
    }
    let max_request_rate = points.iter().map(|p| p.request_rate).fold(0.0, f64::max);
    if max_request_rate <= 0.0 {
        return Err(AppError::failure(
            "no calibration run completed a request; nothing was written",
        ));
    }
    let half = (max_request_rate / 2.0).max(1.0).round();
    eprintln!(
        "calibrate: open loop at {half} req/s for {} s",
        args.seconds
    );
    let load = vec!["--request-rate".to_string(), half.to_string()];
    let half_summary =
        match measure(args, &url, &load, &args.artifact_dir.join("half_load")).await? {
            Measured::Done(summary, _) => *summary,
            Measured::Interrupted(code) => return Ok(code),
        };
    let lowest = points.iter().min_by_key(|p| p.concurrency);
    let calibration = Calibration {
        aiperf_version: crate::VERSION.to_string(),
        measured_at: chrono::Local::now().to_rfc3339(),
        cores,
        url: crate::redact::redact_url(&url),
        max_request_rate,
        max_concurrency: points
            .iter()
            .filter(|p| !p.client_bound)
            .map(|p| p.concurrency)
            .max(),
        added_ttft_p50_ms: lowest.and_then(|p| p.ttft_p50_ms),
        added_ttft_p99_ms: lowest.and_then(|p| p.ttft_p99_ms),
        half_load_rate: half,
        half_load_ttft_p50_ms: half_summary.stat("time_to_first_token", "p50"),
        half_load_ttft_p99_ms: half_summary.stat("time_to_first_token", "p99"),
        half_load_schedule_lag_p99_ms: half_summary.stat("schedule_lag", "p99"),
        points,
    };
    let path = args.output.clone().or_else(default_path).ok_or_else(|| {
        AppError::config("no place for calibration.json: give --output FILE (HOME is not set)")
    })?;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| AppError::failure(format!("cannot create {}: {e}", parent.display())))?;
    }
    crate::artifacts::io::write_atomic(&path, &crate::artifacts::io::to_pretty_json(&calibration))
        .map_err(|e| AppError::failure(format!("cannot write {}: {e}", path.display())))?;
    for p in &calibration.points {
        println!(
            "concurrency {:>4}: {:>9.0} req/s, TTFT p50 {} ms, p99 {} ms{}",
            p.concurrency,
            p.request_rate,
            crate::export::console::fmt_number(p.ttft_p50_ms.unwrap_or(f64::NAN)),
            crate::export::console::fmt_number(p.ttft_p99_ms.unwrap_or(f64::NAN)),
            if p.client_bound {
                "  (client-bound)"
            } else {
                ""
            }
        );
    }
    println!("{}", calibration.sentence());
    println!("Calibration: {}", path.display());
    Ok(ExitCode::SUCCESS)
}
