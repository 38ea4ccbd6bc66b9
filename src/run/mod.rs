//! Running one benchmark from a resolved spec: prepare (tokenizer, targets, prompts), drive the
//! phases, and write every result file. This is the one place that wires the pipeline stages
//! together for a single run; each stage lives in its own module.

mod processor;
pub mod progress_ui;
pub mod targets;

use crate::dataset::synthetic::{self, SyntheticRequest};
use crate::dataset::tokenizer::{self, Resolution};
use crate::endpoint::{body_context, endpoint_for};
use crate::error::AppError;
use crate::exit_code::ExitCode;
use crate::export::{self, metadata::*};
use crate::load::RunClock;
use crate::load::dispatch::{LoadContext, LoadMode, PhasePlan, Progress, run_phase};
use crate::load::schedule::Schedule;
use crate::load::transport::{Transport, TransportConfig};
use crate::metrics::{MetricId, RunAccumulator, RunSummary};
use crate::spec::{BenchmarkSpec, PhaseKind, PhaseSpec, PhaseType};
use processor::Processor;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Idle connections kept for an open-loop phase without a concurrency cap.
const UNCAPPED_POOL_SIZE: u32 = 1024;

/// Records buffered between the load engine and the record processor. Bounded so memory stays
/// flat: when the processor falls behind, senders wait (and the wait is visible as lower
/// throughput), instead of records piling up.
const RECORD_CHANNEL_CAPACITY: usize = 2_048;

/// How the run was invoked, and how it should present itself.
#[derive(Debug, Clone, Default)]
pub struct Invocation {
    /// The command line, secrets redacted.
    pub command_line: String,
    /// Print nothing to stdout (an experiment runner reports trials itself).
    pub quiet: bool,
    /// Cancelled by the caller's Ctrl-C handler; when absent the run installs its own.
    pub interrupt: Option<CancellationToken>,
    /// Draw the progress bar inside this display (an experiment's overall bar), if any.
    pub progress: Option<indicatif::MultiProgress>,
}

/// The outcome of a finished (or interrupted) run whose files are on disk.
#[derive(Debug)]
pub struct RunReport {
    /// The exit code the run maps to.
    pub exit_code: ExitCode,
    /// The run directory.
    pub dir: PathBuf,
    /// Profiling results.
    pub summary: RunSummary,
}

fn io_error(what: &str, path: &Path) -> impl FnOnce(std::io::Error) -> AppError {
    let message = format!("cannot {what} {}", path.display());
    move |e| AppError::failure(format!("{message}: {e}"))
}

/// The load plan of a phase.
fn plan_for(phase: &PhaseSpec, seed: u64) -> PhasePlan {
    let mode = match phase.phase_type {
        PhaseType::Concurrency => LoadMode::Concurrency(phase.concurrency.unwrap_or(1)),
        PhaseType::Constant => LoadMode::Rate {
            schedule: Schedule::constant(phase.rate.unwrap_or(1.0)),
            cap: phase.concurrency,
        },
        PhaseType::Poisson => LoadMode::Rate {
            schedule: Schedule::poisson(phase.rate.unwrap_or(1.0), seed),
            cap: phase.concurrency,
        },
    };
    PhasePlan {
        kind: phase.kind,
        mode,
        requests: phase.requests,
        duration: phase.duration.map(Duration::from_secs_f64),
        grace: Duration::from_secs_f64(phase.grace_period_or_default()),
    }
}

/// Listens for Ctrl-C and cancels the token; a second Ctrl-C exits at once.
fn spawn_interrupt_listener(token: CancellationToken) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!(
                "\ninterrupted: stopping, cancelling in-flight requests and writing results (Ctrl-C again to abort)"
            );
            token.cancel();
            if tokio::signal::ctrl_c().await.is_ok() {
                std::process::exit(ExitCode::INTERRUPTED.0);
            }
        }
    })
}

/// A short id for the run: 12 hex characters.
fn new_benchmark_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..12].to_string()
}

/// Runs one benchmark and writes its files. Errors before the first request mean nothing ran.
pub async fn run_benchmark(
    spec: BenchmarkSpec,
    invocation: &Invocation,
) -> Result<RunReport, AppError> {
    crate::spec::validate(&spec).map_err(|problems| {
        AppError::config(
            problems
                .iter()
                .map(|p| p.message.as_str())
                .collect::<Vec<_>>()
                .join("\n"),
        )
    })?;
    let seed = spec.random_seed.unwrap_or_else(rand::random);
    let mut spec = spec;
    spec.random_seed = Some(seed);
    let model = spec.model_name().to_string();
    let (tokenizer, resolution) = tokenizer::resolve(spec.tokenizer.name.as_deref(), &model)
        .map_err(|e| AppError::config(format!("{e:#}")))?;
    if resolution == Resolution::BuiltinFallback {
        tracing::info!(
            "no tokenizer for '{model}' in the local HuggingFace cache; counting tokens with the built-in o200k_base \
             (pass --tokenizer to choose)"
        );
    }
    let targets = targets::resolve(&spec.endpoint).await?;
    targets::check_reachable(
        &targets,
        Duration::from_secs_f64(spec.endpoint.wait_for_model_timeout.max(0.0)),
    )
    .await?;

    let dir = spec.artifacts.dir.clone();
    std::fs::create_dir_all(&dir).map_err(io_error("create the artifact directory", &dir))?;
    crate::logging::open_run_log(&dir.join(export::LOG_FILE))
        .map_err(io_error("open the log in", &dir))?;
    let benchmark_id = new_benchmark_id();
    tracing::info!("benchmark {benchmark_id}: {}", invocation.command_line);
    tracing::info!(
        "targets: {}; tokenizer: {}; seed {seed}",
        targets.display().join(", "),
        tokenizer.name()
    );

    let endpoint = endpoint_for(spec.endpoint.endpoint_type);
    let body = body_context(&model, &spec.endpoint);
    let dataset_spec = spec.dataset().clone();
    let dataset = synthetic::generate(&SyntheticRequest {
        entries: dataset_spec.entries,
        prompts: &dataset_spec.prompts,
        seed,
        tokenizer: tokenizer.as_ref(),
        endpoint,
        body: &body,
    })
    .map_err(|e| AppError::failure(format!("cannot generate prompts: {e:#}")))?;
    let dataset = Arc::new(dataset);
    export::write_inputs(&dir.join(export::INPUTS_JSON), &dataset)
        .map_err(io_error("write", &dir.join(export::INPUTS_JSON)))?;

    // Keep as many idle connections as requests can be in flight: the concurrency, or for an
    // uncapped open-loop phase enough that high rates reuse connections instead of reconnecting.
    let max_concurrency = spec
        .phases
        .iter()
        .map(|p| match (p.phase_type, p.concurrency) {
            (_, Some(c)) => c,
            (PhaseType::Concurrency, None) => 1,
            (_, None) => UNCAPPED_POOL_SIZE,
        })
        .max()
        .unwrap_or(1);
    let transport = Transport::new(TransportConfig {
        urls: targets.urls.clone(),
        api_key: spec.endpoint.api_key.as_ref().map(|k| k.expose()),
        headers: spec
            .endpoint
            .headers
            .iter()
            .map(|(k, v)| (k.clone(), v.expose().to_string()))
            .collect(),
        streaming: spec.endpoint.streaming,
        pool_size: max_concurrency as usize,
    })
    .map_err(|e| AppError::config(format!("{e:#}")))?;

    let jsonl_path = dir.join(export::PROFILE_EXPORT_JSONL);
    let jsonl = std::fs::File::create(&jsonl_path).map_err(io_error("create", &jsonl_path))?;
    let clock = RunClock::start();
    let processor = Processor {
        endpoint,
        tokenizer: tokenizer.clone(),
        dataset: dataset.clone(),
        clock,
        use_server_token_count: spec.endpoint.use_server_token_count,
        produces_tokens: spec.endpoint.endpoint_type.produces_tokens(),
        warmup: RunAccumulator::new(&spec.slos),
        profiling: RunAccumulator::new(&spec.slos),
        jsonl: BufWriter::with_capacity(1 << 16, jsonl),
    };
    let (records_tx, records_rx) = mpsc::channel(RECORD_CHANNEL_CAPACITY);
    let processor_thread = std::thread::Builder::new()
        .name("record-processor".into())
        .spawn(move || processor.run(records_rx))
        .map_err(|e| AppError::failure(format!("cannot start the record processor: {e}")))?;

    let (interrupt, listener) = match &invocation.interrupt {
        Some(token) => (token.clone(), None),
        None => {
            let token = CancellationToken::new();
            let listener = spawn_interrupt_listener(token.clone());
            (token, Some(listener))
        }
    };
    let progress = Arc::new(Progress::default());
    let ctx = Arc::new(LoadContext {
        transport: Arc::new(transport),
        dataset: dataset.clone(),
        clock,
        records: records_tx,
        interrupt: interrupt.clone(),
        progress: progress.clone(),
        request_timeout: Duration::from_secs_f64(spec.endpoint.timeout),
    });
    let start_time = clock.wall_iso(0);
    let mut grace_expired = false;
    for (i, phase) in spec.phases.iter().enumerate() {
        let plan = plan_for(phase, seed.wrapping_add(i as u64 + 1));
        let display = progress_ui::PhaseDisplay {
            name: if phase.kind == PhaseKind::Warmup {
                "warmup"
            } else {
                "profiling"
            },
            total_requests: phase.requests,
            duration: plan.duration,
        };
        tracing::info!("phase '{}' starting: {:?}", phase.name, plan.mode);
        let ui = progress_ui::start(
            progress.clone(),
            spec.runtime.ui,
            display,
            invocation.progress.as_ref(),
        );
        let result = run_phase(&ctx, &plan).await;
        ui.finish().await;
        tracing::info!(
            "phase '{}' finished: {} requests issued in {:.3} s{}",
            phase.name,
            result.issued,
            (result.end_ns - result.start_ns) as f64 / 1e9,
            if result.grace_expired {
                "; grace period expired, in-flight requests cancelled"
            } else {
                ""
            }
        );
        grace_expired |= result.grace_expired && phase.kind == PhaseKind::Profiling;
        if result.interrupted {
            break;
        }
    }
    let end_ns = clock.now_ns();
    if let Some(listener) = listener {
        listener.abort();
    }
    drop(ctx);
    let (processor, processed) = tokio::task::spawn_blocking(move || processor_thread.join())
        .await
        .map_err(|e| AppError::failure(format!("record processor failed: {e}")))?
        .map_err(|_| AppError::failure("record processor panicked"))?;
    processed.map_err(io_error("write", &jsonl_path))?;

    let interrupted = interrupt.is_cancelled();
    let summary = processor.profiling.summarize();
    let warmup = processor.warmup.summarize();
    let (status, exit_code) = if interrupted {
        (RunStatus::Interrupted, ExitCode::INTERRUPTED)
    } else if summary.success == 0 && summary.errors > 0 {
        (RunStatus::AllRequestsFailed, ExitCode::ALL_REQUESTS_FAILED)
    } else {
        (RunStatus::Completed, ExitCode::SUCCESS)
    };
    let incomplete_reason = if interrupted {
        Some("interrupted by Ctrl-C".to_string())
    } else if grace_expired {
        Some("grace period expired; in-flight requests were cancelled".to_string())
    } else {
        None
    };
    let end_time = clock.wall_iso(end_ns);
    let input_config = serde_json::to_value(&spec).unwrap_or_default();
    let verdict = load_verdict(&summary, &spec);
    let json = export::json_export::export_json(
        &summary,
        Some(&warmup),
        &export::json_export::ExportContext {
            benchmark_id: &benchmark_id,
            input_config: input_config.clone(),
            cli_command: &invocation.command_line,
            random_seed: seed,
            was_cancelled: interrupted,
            incomplete_reason,
            start_time: start_time.clone(),
            end_time: end_time.clone(),
        },
    );
    let json_path = dir.join(export::PROFILE_EXPORT_JSON);
    export::write_atomic(&json_path, &export::to_pretty_json(&json))
        .map_err(io_error("write", &json_path))?;
    let csv_path = dir.join(export::PROFILE_EXPORT_CSV);
    let csv = export::csv_export::export_csv(&summary)
        .map_err(|e| AppError::failure(format!("cannot render CSV: {e}")))?;
    export::write_atomic(&csv_path, &csv).map_err(io_error("write", &csv_path))?;
    let metadata = RunMetadata {
        aiperf_version: crate::VERSION,
        benchmark_id: benchmark_id.clone(),
        status,
        exit_code: exit_code.0,
        command_line: invocation.command_line.clone(),
        random_seed: seed,
        tokenizer: tokenizer.name().to_string(),
        urls: targets.display(),
        start_time,
        end_time,
        requests: RequestCounts {
            sent: summary.sent(),
            success: summary.success,
            errors: summary.errors,
            cancelled: summary.cancelled,
        },
        load_verdict: verdict.clone(),
        spec: input_config,
    };
    let metadata_path = dir.join(export::RUN_METADATA_JSON);
    export::write_atomic(&metadata_path, &export::to_pretty_json(&metadata))
        .map_err(io_error("write", &metadata_path))?;
    tracing::info!("results written to {}", dir.display());
    crate::logging::close_run_log();

    if invocation.quiet {
        return Ok(RunReport {
            exit_code,
            dir,
            summary,
        });
    }
    println!(
        "{}",
        export::console::metrics_table(&summary, "aiperf | LLM Metrics")
    );
    if let Some(errors) = export::console::error_table(&summary) {
        println!("{errors}");
    }
    if verdict.client_bound {
        println!("warning: {}", verdict.explanation);
    }
    if status == RunStatus::AllRequestsFailed {
        println!(
            "every request failed: see the error summary above and {}",
            json_path.display()
        );
    }
    println!("Results: {}", dir.display());
    Ok(RunReport {
        exit_code,
        dir,
        summary,
    })
}

/// Judges whether arrivals were sent materially late (only meaningful for open-loop phases).
fn load_verdict(summary: &RunSummary, spec: &BenchmarkSpec) -> LoadVerdict {
    let lag = summary.records.get(&MetricId::ScheduleLag);
    let p50 = lag.and_then(|s| s.percentile("p50"));
    let p99 = lag.and_then(|s| s.percentile("p99"));
    let open_loop = spec.profiling_phase().phase_type != PhaseType::Concurrency;
    let late = open_loop && (p50.unwrap_or(0.0) > 1.0 || p99.unwrap_or(0.0) > 10.0);
    let explanation = if !open_loop {
        "closed loop (concurrency): requests are sent when a slot frees, so there is no schedule to fall behind".into()
    } else if late {
        format!(
            "requests were sent behind schedule (schedule lag p50 {:.2} ms, p99 {:.2} ms): the concurrency cap was \
             full or the client could not keep up. Latencies from the send time understate what users would see; \
             read effective_request_latency and effective_time_to_first_token.",
            p50.unwrap_or(0.0),
            p99.unwrap_or(0.0)
        )
    } else {
        "requests were sent on schedule".into()
    };
    LoadVerdict {
        client_bound: late,
        schedule_lag_p50_ms: p50,
        schedule_lag_p99_ms: p99,
        explanation,
    }
}
