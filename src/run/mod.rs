//! Running one benchmark from a resolved spec: prepare (tokenizer, targets, prompts), drive the
//! phases, and write every result file. This is the one place that wires the pipeline stages
//! together for a single run; each stage lives in its own module.

mod finish;
pub mod headroom;
mod host_cpu;
mod limits;
mod processor;
pub mod progress_ui;
pub mod targets;
pub mod workload;

use crate::artifacts::run_metadata::*;
use crate::dataset::tokenizer::{self, Resolution};
use crate::endpoint::{body_context, endpoint_for};
use crate::error::AppError;
use crate::exit_code::ExitCode;
use crate::export;
use crate::load::RunClock;
use crate::load::dispatch::{LoadContext, LoadMode, PhasePlan, Progress, run_phase};
use crate::load::record_sink::RecordSink;
use crate::load::schedule::Schedule;
use crate::load::transport::{Transport, TransportConfig};
use crate::metrics::{MetricId, RunAccumulator, RunSummary};
use crate::spec::{BenchmarkSpec, PhaseKind, PhaseSpec, PhaseType};
use processor::{Processor, ProcessorThreads};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Idle connections kept for an open-loop phase without a concurrency cap.
const UNCAPPED_POOL_SIZE: u32 = 1024;

/// Bytes of records each record processor's queue holds (see [`RawRecord::footprint`]).
/// Bounded so memory stays flat: when the processor falls behind, senders wait (and the wait
/// is visible as lower throughput), instead of records piling up. 2 MiB holds about 800 short
/// chat replies, 15 ms of the fastest rate a 2-core host drives, enough to ride out a JSONL
/// flush; at 2,048 records a run's peak RSS grew by 7-9 MiB whenever the processor fell behind
/// (docs/performance.md), and long replies would have multiplied that.
///
/// [`RawRecord::footprint`]: crate::load::RawRecord::footprint
const RECORD_QUEUE_BYTES: usize = 2 << 20;

/// How many record processors a run uses: the experiment's `runtime.record_processors`, else
/// one per four usable cores (as AIPerf sizes its record processors), at least one. A processor
/// costs about a third of what the HTTP path costs per request, so this keeps the processors
/// ahead of the event loop's workers on any machine.
fn record_processors(spec: &BenchmarkSpec) -> usize {
    match spec.runtime.record_processors {
        Some(n) => n as usize,
        None => {
            let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
            (cores / 4).max(1)
        }
    }
}

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
    /// The run is part of `aiperf calibrate`: do not warn against the previous calibration.
    pub calibrating: bool,
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
fn plan_for(
    spec: &BenchmarkSpec,
    phase: &PhaseSpec,
    seed: u64,
    file: Option<&crate::dataset::input_file::InputFile>,
) -> PhasePlan {
    let mode = match phase.phase_type {
        PhaseType::FixedSchedule => workload::replay_mode(phase, file),
        PhaseType::Concurrency => LoadMode::Concurrency(phase.concurrency.unwrap_or(1)),
        PhaseType::Constant => LoadMode::Rate {
            schedule: Schedule::constant(phase.rate.unwrap_or(1.0)),
            cap: phase.concurrency,
        },
        PhaseType::Poisson => LoadMode::Rate {
            schedule: Schedule::poisson(phase.rate.unwrap_or(1.0), seed),
            cap: phase.concurrency,
        },
        PhaseType::Gamma => LoadMode::Rate {
            schedule: Schedule::gamma(
                phase.rate.unwrap_or(1.0),
                phase.smoothness_or_default(),
                seed,
            ),
            cap: phase.concurrency,
        },
    };
    let mode = match (mode, phase.rate_ramp) {
        (LoadMode::Rate { schedule, cap }, Some(ramp)) => LoadMode::Rate {
            schedule: schedule.ramped(ramp),
            cap,
        },
        (mode, _) => mode,
    };
    PhasePlan {
        kind: phase.kind,
        mode,
        requests: workload::request_limit(spec, phase),
        duration: phase.duration.map(Duration::from_secs_f64),
        grace: Duration::from_secs_f64(phase.grace_period_or_default()),
        // A rate is judged once max(concurrency, 10) requests finished, as AIPerf does.
        failure_threshold: phase
            .failed_request_threshold
            .map(|t| (t, u64::from(phase.concurrency.unwrap_or(1)).max(10))),
        cancellation: phase.cancellation.filter(|c| c.rate > 0.0).map(|c| {
            crate::load::cancellation::RequestCancellation {
                fraction: c.rate / 100.0,
                delay: Duration::from_secs_f64(c.delay),
                seed: seed ^ 0x6361_6e63_656c, // "cancel": not the arrival stream's seed
            }
        }),
        prefill_concurrency: phase.prefill_concurrency,
        concurrency_ramp: phase.concurrency_ramp.map(Duration::from_secs_f64),
        prefill_ramp: phase.prefill_ramp.map(Duration::from_secs_f64),
        ramp_end: Some(phase.ramp_seconds())
            .filter(|&s| s > 0.0)
            .map(Duration::from_secs_f64),
        order: workload::order(spec, phase),
        draw_seed: seed ^ 0x6472_6177, // "draw": not the arrival stream's seed
    }
}

/// A warning when the run asks for more than `aiperf calibrate` measured this host's client can
/// drive: an open-loop rate above the highest rate it reached, or more concurrent streams than
/// it could drive with headroom against a zero-latency server (where it then ran out).
fn capacity_warning(
    spec: &BenchmarkSpec,
    calibration: &crate::artifacts::calibration::Calibration,
) -> Option<String> {
    let phase = spec.profiling_phase();
    let when = calibration.measured_at.get(..10).unwrap_or("");
    match phase.phase_type {
        PhaseType::Concurrency => {
            let asked = phase.concurrency.unwrap_or(1);
            let ran_out = calibration
                .points
                .iter()
                .filter(|p| p.client_bound && p.concurrency <= asked)
                .map(|p| p.concurrency)
                .min()?;
            Some(format!(
                "this run asks for {asked} concurrent streams; against a zero-latency server this host's client ran out of \
                 headroom at {ran_out} (aiperf calibrate, {when}). A slower server needs less of the client; the run \
                 says at the end whether it was client-bound"
            ))
        }
        PhaseType::FixedSchedule => None,
        PhaseType::Constant | PhaseType::Poisson | PhaseType::Gamma => {
            let rate = phase.rate?;
            (rate > calibration.max_request_rate).then(|| {
                format!(
                    "this run asks for {rate} req/s; this host's client reached at most {:.0} req/s (aiperf calibrate, \
                     {when}): the client, not the server, may set this run's numbers",
                    calibration.max_request_rate
                )
            })
        }
    }
}

/// One second of arrivals: how many connections an open-loop phase is given before it starts
/// (arrivals that find none open one and wait for it, which `http_req_blocked` shows).
const CONNECTIONS_AHEAD_SECONDS: f64 = 1.0;

/// Connections to open before a phase: one per request in flight for a closed loop, one second
/// of arrivals for an open loop, never more than the in-flight cap, the pool, or a quarter of
/// the file descriptors left (the rest stay for the requests themselves and the run's files).
fn connections_ahead(phase: &PhaseSpec, pool_size: u32, open_files: Option<u64>) -> usize {
    let wanted = match phase.phase_type {
        PhaseType::Concurrency => f64::from(phase.concurrency.unwrap_or(1)),
        PhaseType::Constant | PhaseType::Poisson | PhaseType::Gamma => {
            (phase.rate.unwrap_or(1.0) * CONNECTIONS_AHEAD_SECONDS).ceil()
        }
        // A trace's rate is its own; a few connections cover its first requests.
        PhaseType::FixedSchedule => f64::from(phase.concurrency.unwrap_or(8).min(8)),
    };
    let cap = phase.concurrency.unwrap_or(pool_size).min(pool_size);
    let by_files = open_files.map_or(u64::MAX, |n| n.saturating_sub(64) / 4);
    (wanted.min(f64::from(cap)) as u64).min(by_files) as usize
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
    if !invocation.calibrating
        && let Some(calibration) = crate::artifacts::calibration::read()
        && let Some(warning) = capacity_warning(&spec, &calibration)
    {
        tracing::warn!("{warning}");
    }
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

    // A bad input file is a configuration error: found before anything is written.
    let endpoint = endpoint_for(spec.endpoint.endpoint_type);
    let body = body_context(&model, &spec.endpoint);
    let prepared = workload::prepare(workload::Inputs {
        spec: &spec,
        tokenizer: tokenizer.clone(),
        endpoint,
        body: &body,
        seed,
    })?;
    let dir = spec.artifacts.dir.clone();
    std::fs::create_dir_all(&dir).map_err(io_error("create the artifact directory", &dir))?;
    crate::crash::set_results_dir(&dir);
    crate::logging::open_run_log(&dir.join(export::LOG_FILE))
        .map_err(io_error("open the log in", &dir))?;
    let benchmark_id = new_benchmark_id();
    tracing::info!("benchmark {benchmark_id}: {}", invocation.command_line);
    tracing::info!(
        "targets: {}; tokenizer: {}; seed {seed}",
        targets.display().join(", "),
        tokenizer.name()
    );
    if let Some(file) = &prepared.file {
        tracing::info!(
            "input file {} ({}): {} conversations, {} requests per pass, sha256 {}",
            file.path.display(),
            file.format.as_str(),
            file.conversation_count(),
            file.stats.turns,
            file.sha256
        );
    }

    if let crate::load::dispatch::Workload::Prebuilt(dataset) = &prepared.workload {
        export::write_inputs(&dir.join(export::INPUTS_JSON), dataset)
            .map_err(io_error("write", &dir.join(export::INPUTS_JSON)))?;
    }

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
    // Only an explicit concurrency says how many connections the run will hold; an uncapped
    // rate holds as many as its latency requires.
    let explicit_concurrency = spec
        .phases
        .iter()
        .filter_map(|p| match (p.phase_type, p.concurrency) {
            (_, Some(c)) => Some(c),
            (PhaseType::Concurrency, None) => Some(1),
            (_, None) => None,
        })
        .max()
        .unwrap_or(1);
    let open_files = limits::raise_open_files_limit();
    if let Some(open_files) = open_files
        && let Some(warning) =
            limits::connection_warning(u64::from(explicit_concurrency), open_files)
    {
        tracing::warn!("{warning}");
    }
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
        reuse: spec.endpoint.connection_reuse == crate::spec::ConnectionReuse::Pooled,
    })
    .map_err(|e| AppError::config(format!("{e:#}")))?;

    let jsonl_path = dir.join(export::PROFILE_EXPORT_JSONL);
    let jsonl = export::line_file::LineFile::create(&jsonl_path)
        .map_err(io_error("create", &jsonl_path))?;
    let clock = RunClock::start();
    let processor = Processor {
        endpoint,
        tokenizer: tokenizer.clone(),
        clock,
        use_server_token_count: spec.endpoint.use_server_token_count,
        per_chunk_usage: spec.endpoint.per_chunk_usage,
        produces_tokens: spec.endpoint.endpoint_type.produces_tokens(),
        warmup: RunAccumulator::new(&spec.slos),
        profiling: RunAccumulator::new(&spec.slos),
        jsonl,
        streaming: spec.endpoint.streaming,
        notes: Default::default(),
    };
    let shards = record_processors(&spec);
    let (records_tx, queues) = RecordSink::new(shards, RECORD_QUEUE_BYTES);
    let processors = ProcessorThreads::start(processor, queues, records_tx.buffers())
        .map_err(|e| AppError::failure(format!("cannot start the record processors: {e}")))?;
    tracing::debug!("{shards} record processor(s)");

    let interrupt = match &invocation.interrupt {
        Some(token) => token.clone(),
        None => crate::signals::shutdown_token(),
    };
    let progress = Arc::new(Progress::default());
    let ctx = Arc::new(LoadContext {
        transport: Arc::new(transport),
        pacing: Arc::new(crate::load::dispatch::ThreadPacing),
        workload: prepared.workload.clone(),
        clock,
        records: records_tx,
        interrupt: interrupt.clone(),
        progress: progress.clone(),
        request_timeout: Duration::from_secs_f64(spec.endpoint.timeout),
        health: Default::default(),
    });
    let start_time = clock.wall_iso(0);
    let mut grace_expired = false;
    let mut server_gone = false;
    let mut too_many_failures = None;
    let mut client_headroom = ClientHeadroom::default();
    let mut profiling_mode = None;
    let mut profiling_scheduled = 0;
    for (i, phase) in spec.phases.iter().enumerate() {
        let plan = plan_for(
            &spec,
            phase,
            seed.wrapping_add(i as u64 + 1),
            prepared.file.as_deref(),
        );
        let display = progress_ui::PhaseDisplay {
            name: if phase.kind == PhaseKind::Warmup {
                "warmup"
            } else {
                "profiling"
            },
            total_requests: plan.requests,
            duration: plan.duration,
        };
        tracing::info!("phase '{}' starting: {:?}", phase.name, plan.mode);
        let ui = progress_ui::start(
            progress.clone(),
            spec.runtime.ui,
            display,
            invocation.progress.as_ref(),
        );
        // Without reuse a connection opened ahead would never be used.
        let ahead = match spec.endpoint.connection_reuse {
            crate::spec::ConnectionReuse::Pooled => {
                connections_ahead(phase, max_concurrency, open_files)
            }
            crate::spec::ConnectionReuse::Never => 0,
        };
        if ahead > 0 {
            let opened = ctx.transport.prewarm(ahead).await;
            tracing::info!("opened {opened} of {ahead} connections ahead of the phase");
        }
        let monitor = (phase.kind == PhaseKind::Profiling).then(|| {
            headroom::HeadroomMonitor::start(
                tokio::runtime::Handle::current(),
                ctx.records.gauge(),
                shards * RECORD_QUEUE_BYTES,
            )
        });
        let result = run_phase(&ctx, &plan).await;
        if phase.kind == PhaseKind::Profiling {
            profiling_mode = Some(plan.mode.clone());
            profiling_scheduled = result.issued;
        }
        if let Some(monitor) = monitor {
            client_headroom = monitor.finish(result.issued);
        }
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
        server_gone |= result.server_gone;
        if result.too_many_failures {
            too_many_failures = phase.failed_request_threshold;
        }
        if result.interrupted || result.server_gone || result.too_many_failures {
            break;
        }
    }
    let end_ns = clock.now_ns();
    drop(ctx);
    let (processor, processed) = tokio::task::spawn_blocking(move || processors.join())
        .await
        .map_err(|e| AppError::failure(format!("record processor failed: {e}")))?
        .map_err(AppError::failure)?;
    // A write error (disk full) must not lose what is in memory: every later file is still
    // tried, the table is still printed, and the first error is returned at the end.
    let mut write_error: Option<AppError> = None;
    let mut keep_first = |result: Result<(), AppError>| {
        if let Err(e) = result
            && write_error.is_none()
        {
            write_error = Some(e);
        }
    };
    keep_first(processed.map_err(io_error("write", &jsonl_path)));

    let summary = processor.profiling.summarize();
    let warmup = processor.warmup.summarize();
    let judgement = finish::judge(
        &summary,
        finish::Ending {
            interrupted: interrupt.is_cancelled(),
            grace_expired,
            server_gone,
            too_many_failures,
            streaming: spec.endpoint.streaming,
        },
        processor.notes,
    );
    let (status, exit_code) = (judgement.status, judgement.exit_code);
    let end_time = clock.wall_iso(end_ns);
    let input_config = serde_json::to_value(&spec).unwrap_or_default();
    let verdict = load_verdict(
        &summary,
        &spec,
        judgement.client_resource_errors,
        client_headroom,
    );
    let replay = profiling_mode
        .as_ref()
        .and_then(|mode| workload::replay_summary(mode, &summary, profiling_scheduled));
    let json = export::json_export::export_json(
        &summary,
        Some(&warmup),
        &export::json_export::ExportContext {
            benchmark_id: &benchmark_id,
            input_config: input_config.clone(),
            cli_command: &invocation.command_line,
            random_seed: seed,
            was_cancelled: status == RunStatus::Interrupted,
            incomplete_reason: judgement.incomplete_reason.clone(),
            reconnects: processor.notes.reconnects,
            client_bound: verdict.client_bound,
            start_time: start_time.clone(),
            end_time: end_time.clone(),
        },
    );
    let json_path = dir.join(export::PROFILE_EXPORT_JSON);
    keep_first(
        export::write_atomic(&json_path, &export::to_pretty_json(&json))
            .map_err(io_error("write", &json_path)),
    );
    let csv_path = dir.join(export::PROFILE_EXPORT_CSV);
    keep_first(
        export::csv_export::export_csv(&summary)
            .map_err(|e| AppError::failure(format!("cannot render CSV: {e}")))
            .and_then(|csv| {
                export::write_atomic(&csv_path, &csv).map_err(io_error("write", &csv_path))
            }),
    );
    if let Some(slice) = spec.artifacts.slice_duration {
        match export::timeslices::write(&dir, slice) {
            Ok(Ok(())) => {}
            Ok(Err(warning)) => tracing::warn!("no timeslice files: {warning}"),
            Err(e) => keep_first(Err(io_error(
                "write",
                &dir.join(crate::artifacts::names::TIMESLICES_CSV),
            )(e))),
        }
    }
    let metadata = RunMetadata {
        aiperf_version: crate::VERSION.to_string(),
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
            reconnects: processor.notes.reconnects,
            client_resource_errors: judgement.client_resource_errors,
        },
        load_verdict: verdict.clone(),
        warnings: judgement.warnings.clone(),
        input_file: prepared.file.as_deref().map(workload::file_info),
        replay: replay.clone(),
        spec: input_config,
    };
    let metadata_path = dir.join(export::RUN_METADATA_JSON);
    keep_first(
        export::write_atomic(&metadata_path, &export::to_pretty_json(&metadata))
            .map_err(io_error("write", &metadata_path)),
    );
    for warning in &judgement.warnings {
        tracing::warn!("{warning}");
    }
    if let Some(replay) = &replay {
        tracing::info!("{}", replay.explanation);
    }
    // `aiperf calibrate` reports client-bound points in its own table.
    if verdict.client_bound && !invocation.calibrating {
        tracing::warn!("{}", verdict.explanation);
    }
    if processor.notes.reconnects > 0 {
        tracing::info!(
            "{} requests were re-sent on a fresh connection after the server closed a reused one",
            processor.notes.reconnects
        );
    }
    // A write error is printed once, by `main`, as the command's error.
    if write_error.is_none() {
        tracing::info!("results written to {}", dir.display());
    }
    crate::logging::close_run_log();

    if !invocation.quiet {
        println!(
            "{}",
            export::console::metrics_table(&summary, "aiperf | LLM Metrics")
        );
        if let Some(errors) = export::console::error_table(&summary) {
            println!("{errors}");
        }
        match status {
            RunStatus::AllRequestsFailed => eprintln!(
                "every request failed: see the error summary above and {}",
                json_path.display()
            ),
            RunStatus::NothingCompleted => {
                eprintln!("no request completed: see {}", metadata_path.display())
            }
            _ => {}
        }
        if write_error.is_none() {
            println!("Results: {}", dir.display());
        }
    }
    if let Some(e) = write_error {
        return Err(e);
    }
    Ok(RunReport {
        exit_code,
        dir,
        summary,
    })
}

/// Judges whether the client limited the run: requests that failed for lack of a client
/// resource, arrivals sent materially late (open-loop phases), or a client without headroom
/// (its CPU, its event loop or its record processor at a limit of `headroom`).
fn load_verdict(
    summary: &RunSummary,
    spec: &BenchmarkSpec,
    client_resource_errors: u64,
    client_headroom: ClientHeadroom,
) -> LoadVerdict {
    let lag = summary.records.get(&MetricId::ScheduleLag);
    let p50 = lag.and_then(|s| s.percentile("p50"));
    let p99 = lag.and_then(|s| s.percentile("p99"));
    let open_loop = spec.profiling_phase().phase_type != PhaseType::Concurrency;
    let late = open_loop && (p50.unwrap_or(0.0) > 1.0 || p99.unwrap_or(0.0) > 10.0);
    let mut reasons = Vec::new();
    if client_resource_errors > 0 {
        reasons.push(format!(
            "{client_resource_errors} requests failed for lack of a client resource (file descriptors or local ports)"
        ));
    }
    if late {
        reasons.push(format!(
            "requests were sent behind schedule (schedule lag p50 {:.2} ms, p99 {:.2} ms): the concurrency cap was \
             full or the client could not keep up; latencies from the send time understate what users would see, \
             read effective_request_latency and effective_time_to_first_token",
            p50.unwrap_or(0.0),
            p99.unwrap_or(0.0)
        ));
    }
    reasons.extend(headroom::limits_crossed(&client_headroom));
    let explanation = if !reasons.is_empty() {
        format!(
            "the client, not the server, limited this run: {}",
            reasons.join("; ")
        )
    } else if !open_loop {
        "closed loop (concurrency): requests are sent when a slot frees, and the client had headroom".into()
    } else {
        "requests were sent on schedule, and the client had headroom".into()
    };
    LoadVerdict {
        client_bound: !reasons.is_empty(),
        schedule_lag_p50_ms: p50,
        schedule_lag_p99_ms: p99,
        explanation,
        client_headroom,
    }
}
