//! What a run's requests send, prepared before the first request: synthetic prompts built
//! whole, or an input file checked line by line (a bad file is a configuration error and
//! nothing runs) whose conversations are built while the run goes. Also how each phase draws
//! from a file: its order, and for a fixed-schedule replay the trace time its clock starts at.

use crate::dataset::conversations::{Builder, Order};
use crate::dataset::input_file::{IndexRules, InputFile};
use crate::dataset::synthetic::{self, SyntheticRequest};
use crate::dataset::tokenizer::Tokenizer;
use crate::endpoint::{BodyContext, Endpoint};
use crate::error::AppError;
use crate::load::dispatch::{LoadMode, Workload};
use crate::spec::dataset::DEFAULT_BLOCK_SIZE;
use crate::spec::{BenchmarkSpec, DatasetType, EndpointType, PhaseSpec, PhaseType};
use std::sync::Arc;

/// A run's workload, and the input file behind it, if any.
pub struct Prepared {
    /// What requests send.
    pub workload: Workload,
    /// The checked input file.
    pub file: Option<Arc<InputFile>>,
}

/// Everything preparing needs from the run.
pub struct Inputs<'a> {
    /// The run's spec.
    pub spec: &'a BenchmarkSpec,
    /// Counts tokens.
    pub tokenizer: Arc<dyn Tokenizer>,
    /// Builds bodies.
    pub endpoint: &'static dyn Endpoint,
    /// Model, streaming and extra fields.
    pub body: &'a BodyContext,
    /// The run's seed.
    pub seed: u64,
}

/// Builds the synthetic dataset, or checks the input file (every line, before anything is sent).
pub fn prepare(inputs: Inputs<'_>) -> Result<Prepared, AppError> {
    let dataset = inputs.spec.dataset();
    match dataset.dataset_type {
        DatasetType::Synthetic => {
            let built = synthetic::generate(&SyntheticRequest {
                entries: dataset.entries,
                prompts: &dataset.prompts,
                seed: inputs.seed,
                tokenizer: inputs.tokenizer.as_ref(),
                endpoint: inputs.endpoint,
                body: inputs.body,
            })
            .map_err(|e| AppError::failure(format!("cannot generate prompts: {e:#}")))?;
            Ok(Prepared {
                workload: Workload::Prebuilt(Arc::new(built)),
                file: None,
            })
        }
        DatasetType::File => {
            let (Some(path), Some(format)) = (&dataset.path, dataset.format) else {
                return Err(AppError::config(
                    "a file dataset needs a path and a format (--input-file and --custom-dataset-type)",
                ));
            };
            let rules = rules(inputs.spec);
            let file = InputFile::index(path, format, rules)
                .map_err(|e| AppError::config(e.to_string()))?;
            check_against_run(&file, inputs.spec)?;
            let file = Arc::new(file);
            let builder = Builder {
                file: file.clone(),
                rules,
                tokenizer: inputs.tokenizer,
                endpoint: inputs.endpoint,
                body: inputs.body.clone(),
                osl: dataset.prompts.osl,
                seed: inputs.seed,
            };
            Ok(Prepared {
                workload: Workload::Conversations(Arc::new(builder)),
                file: Some(file),
            })
        }
    }
}

/// How a file's lines are checked for this run.
pub fn rules(spec: &BenchmarkSpec) -> IndexRules {
    IndexRules {
        block_size: spec.dataset().block_size.unwrap_or(DEFAULT_BLOCK_SIZE),
        chat: spec.endpoint.endpoint_type == EndpointType::Chat,
    }
}

/// What the run asks of the file that the file cannot give: a replay of lines without
/// timestamps, a window with nothing in it, conversations of several turns without chat.
fn check_against_run(file: &InputFile, spec: &BenchmarkSpec) -> Result<(), AppError> {
    let shown = file.path.display();
    if file.stats.turns > file.conversation_count() as u64
        && spec.endpoint.endpoint_type != EndpointType::Chat
    {
        return Err(AppError::config(format!(
            "{shown}: its conversations have several turns, which need --endpoint-type chat (each turn carries \
             the conversation so far as messages)"
        )));
    }
    for phase in spec
        .phases
        .iter()
        .filter(|p| p.phase_type == PhaseType::FixedSchedule)
    {
        if let Some(line) = file.untimed_line() {
            return Err(AppError::config(format!(
                "{shown}:{line}: a fixed-schedule replay needs a timestamp on every conversation's first line \
                 (or pass --no-fixed-schedule)"
            )));
        }
        let window = phase.replay();
        let inside = (0..file.conversation_count())
            .filter_map(|n| file.timestamp_ms(n))
            .filter(|&t| {
                window.start_ms.is_none_or(|s| t >= s) && window.end_ms.is_none_or(|e| t <= e)
            })
            .count();
        if inside == 0 {
            return Err(AppError::config(format!(
                "{shown}: no request has a timestamp in the replay window {} to {} ms (the trace runs from {} to {} ms)",
                window
                    .start_ms
                    .map_or("the start".into(), |s| s.to_string()),
                window.end_ms.map_or("the end".into(), |e| e.to_string()),
                file.stats.first_timestamp_ms.unwrap_or(0.0),
                file.stats.last_timestamp_ms.unwrap_or(0.0),
            )));
        }
    }
    Ok(())
}

/// Which conversations a phase sends: a replay's window once; otherwise drawn by the
/// dataset's strategy, once through the file when the phase sets neither a request count nor
/// a duration, else as often as the phase needs.
pub fn order(spec: &BenchmarkSpec, phase: &PhaseSpec) -> Order {
    if phase.phase_type == PhaseType::FixedSchedule {
        let window = phase.replay();
        return Order::Window {
            start_ms: window.start_ms,
            end_ms: window.end_ms,
        };
    }
    Order::Drawn {
        strategy: spec.dataset().sampling,
        once: phase.requests.is_none() && phase.duration.is_none(),
    }
}

/// The request limit of a phase: a file is sent once through when nothing else bounds the
/// phase; synthetic prompts take AIPerf's default count.
pub fn request_limit(spec: &BenchmarkSpec, phase: &PhaseSpec) -> Option<u64> {
    let from_file = spec.dataset().dataset_type == DatasetType::File;
    if from_file && phase.requests.is_none() {
        return None;
    }
    phase.request_limit()
}

/// The load mode of a fixed-schedule phase: its clock starts at the window's start (given),
/// at the first replayed timestamp (auto offset), or at trace time 0.
pub fn replay_mode(phase: &PhaseSpec, file: Option<&InputFile>) -> LoadMode {
    let window = phase.replay();
    let first_in_window = file.and_then(|f| {
        (0..f.conversation_count())
            .filter_map(|n| f.timestamp_ms(n))
            .find(|&t| window.start_ms.is_none_or(|s| t >= s))
    });
    let origin_ms = match (window.start_ms, window.auto_offset) {
        (Some(start), _) => start,
        (None, true) => first_in_window.unwrap_or(0.0),
        (None, false) => 0.0,
    };
    LoadMode::Replay {
        origin_ms,
        speedup: window.speedup,
        cap: phase.concurrency,
    }
}

/// What the results say of the input file.
pub fn file_info(file: &InputFile) -> crate::artifacts::run_metadata::InputFileInfo {
    crate::artifacts::run_metadata::InputFileInfo {
        path: file.path.display().to_string(),
        format: file.format.as_str().to_string(),
        sha256: file.sha256.clone(),
        conversations: file.conversation_count() as u64,
        turns: file.stats.turns,
    }
}

/// How closely a replay followed its trace, from the profiling phase's schedule lag; `None`
/// for a phase that was not a replay.
pub fn replay_summary(
    mode: &LoadMode,
    summary: &crate::metrics::RunSummary,
    sent: u64,
) -> Option<crate::artifacts::run_metadata::ReplaySummary> {
    let LoadMode::Replay {
        origin_ms, speedup, ..
    } = mode
    else {
        return None;
    };
    let lag = summary.records.get(&crate::metrics::MetricId::ScheduleLag);
    let at = |key: &str| lag.and_then(|s| s.get(key));
    let (p50, p90, p99, max) = (at("p50"), at("p90"), at("p99"), at("max"));
    let explanation = match (p50, p99, max) {
        (Some(p50), Some(p99), Some(max)) => format!(
            "the replay sent {sent} requests at {speedup}x the trace's pace; each went this much after its timestamp: \
             p50 {p50:.2} ms, p99 {p99:.2} ms, max {max:.2} ms"
        ),
        _ => format!("the replay sent {sent} requests; none has a schedule lag to report"),
    };
    Some(crate::artifacts::run_metadata::ReplaySummary {
        origin_ms: *origin_ms,
        speedup: *speedup,
        sent,
        schedule_lag_p50_ms: p50,
        schedule_lag_p90_ms: p90,
        schedule_lag_p99_ms: p99,
        schedule_lag_max_ms: max,
        explanation,
    })
}

/// Checks every input file the specs name before anything runs (each file read once, each
/// spec's window and endpoint checked against it): a bad file is a configuration error of the
/// experiment, not a failure of one of its trials.
pub fn check_files<'a>(specs: impl IntoIterator<Item = &'a BenchmarkSpec>) -> Result<(), AppError> {
    let mut read = std::collections::BTreeMap::new();
    for spec in specs {
        let dataset = spec.dataset();
        let (Some(path), Some(format)) = (&dataset.path, dataset.format) else {
            continue;
        };
        let rules = rules(spec);
        let key = (path.clone(), format.as_str(), rules.block_size, rules.chat);
        let file = match read.entry(key) {
            std::collections::btree_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::btree_map::Entry::Vacant(e) => e.insert(
                InputFile::index(path, format, rules)
                    .map_err(|e| AppError::config(e.to_string()))?,
            ),
        };
        check_against_run(file, spec)?;
    }
    Ok(())
}
