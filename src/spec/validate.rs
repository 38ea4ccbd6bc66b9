//! Semantic checks on a [`BenchmarkSpec`]: combinations the types alone cannot rule out.
//!
//! Every problem is reported (not just the first), each as one sentence that names the setting
//! and says how to fix it, with the key path it concerns.

use super::{BenchmarkSpec, DatasetType, EndpointType, PhaseKind, PhaseType, SamplingStrategy};
use crate::spec::goodput::check_slo_tag;

/// The longest duration any setting may take: 30 days. Beyond this no benchmark is meaningful,
/// and values such as `1e30` would overflow the clock.
pub const MAX_SECONDS: f64 = 30.0 * 86_400.0;
/// The most tokens one prompt or answer may ask for.
pub const MAX_TOKENS: f64 = 1_000_000.0;
/// The most prompt tokens a whole dataset may hold (entries x prompt length), so that
/// generating it can never exhaust memory.
pub const MAX_DATASET_TOKENS: f64 = 50_000_000.0;
/// The most requests in flight.
pub const MAX_CONCURRENCY: u32 = 100_000;
/// The highest request rate, per second.
pub const MAX_RATE: f64 = 1_000_000.0;

/// A message when `value` (seconds) is outside `[min, MAX_SECONDS]` (or exactly `min` when
/// `min_exclusive`), naming the setting, the value and the allowed range.
pub fn check_seconds(what: &str, value: f64, min_exclusive: bool) -> Option<String> {
    let ok = value.is_finite()
        && value <= MAX_SECONDS
        && if min_exclusive {
            value > 0.0
        } else {
            value >= 0.0
        };
    (!ok).then(|| {
        format!(
            "{what} must be {} seconds and at most {MAX_SECONDS} (30 days), got {value}",
            if min_exclusive {
                "more than 0"
            } else {
                "0 or more"
            }
        )
    })
}

/// One problem: the key path inside the spec (dotted, `phases[0].rate`) and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Where, relative to the spec root.
    pub path: String,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

#[derive(Default)]
struct Problems(Vec<Problem>);

impl Problems {
    fn push(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.0.push(Problem {
            path: path.into(),
            message: message.into(),
        });
    }
}

/// Checks a spec; on failure returns every problem found.
pub fn validate(spec: &BenchmarkSpec) -> Result<(), Vec<Problem>> {
    let mut problems = Problems::default();
    if spec.models.items.is_empty() || spec.models.items.iter().any(|m| m.name.trim().is_empty()) {
        problems.push("models", "a model name is required (--model NAME)");
    }
    check_endpoint(spec, &mut problems);
    check_dataset(spec, &mut problems);
    check_phases(spec, &mut problems);
    check_wandb(&spec.wandb, &mut problems);
    if let Some(s) = spec.artifacts.slice_duration
        && let Some(m) = check_seconds("the slice duration (--slice-duration)", s, true)
    {
        problems.push("artifacts.slice_duration", m);
    }
    if let Some(n) = spec.runtime.record_processors
        && !(1..=64).contains(&n)
    {
        problems.push(
            "runtime.record_processors",
            format!("record processors must be between 1 and 64 (--record-processors), got {n}"),
        );
    }
    for (tag, &threshold) in &spec.slos {
        if let Err(e) = check_slo_tag(tag) {
            problems.push(format!("slos.{tag}"), e);
        } else if !(threshold.is_finite() && threshold > 0.0) {
            problems.push(
                format!("slos.{tag}"),
                format!("the SLO threshold for {tag} must be a positive number, got {threshold}"),
            );
        }
    }
    if problems.0.is_empty() {
        Ok(())
    } else {
        Err(problems.0)
    }
}

fn check_endpoint(spec: &BenchmarkSpec, problems: &mut Problems) {
    let endpoint = &spec.endpoint;
    if endpoint.urls.is_empty() {
        problems.push(
            "endpoint.urls",
            "at least one server URL is required (--url http://host:port, or mock://)",
        );
    }
    for (i, url) in endpoint.urls.iter().enumerate() {
        let path = format!("endpoint.urls[{i}]");
        if url.starts_with("mock://") {
            if let Err(e) = super::mock_url::MockConfig::from_mock_url(url) {
                problems.push(path, e);
            }
            continue;
        }
        let shown = crate::redact::redact_url(url);
        match reqwest::Url::parse(url) {
            Ok(parsed) if parsed.port() == Some(0) => problems.push(
                path,
                format!("URL '{shown}' has port 0, which no server listens on"),
            ),
            Ok(parsed)
                if matches!(parsed.scheme(), "http" | "https") && parsed.host().is_some() => {}
            Ok(parsed) => problems.push(
                path,
                format!(
                    "URL '{shown}' has scheme '{}'; use http://, https:// or mock://",
                    parsed.scheme()
                ),
            ),
            Err(e) => problems.push(path, format!("URL '{shown}' is not valid: {e}")),
        }
    }
    if !endpoint.endpoint_type.produces_tokens() && endpoint.streaming {
        let kind = endpoint.endpoint_type.as_str();
        problems.push(
            "endpoint.streaming",
            format!(
                "--streaming does not apply to --endpoint-type {kind} ({kind} are not streamed)"
            ),
        );
    }
    if endpoint.per_chunk_usage {
        for (ok, needs) in [
            (endpoint.use_server_token_count, "--use-server-token-count"),
            (
                endpoint.endpoint_type == EndpointType::Chat,
                "--endpoint-type chat",
            ),
            (endpoint.streaming, "--streaming"),
        ] {
            if !ok {
                problems.push(
                    "endpoint.per_chunk_usage",
                    format!("--per-chunk-usage needs {needs} (the server's per-chunk usage counts the tokens)"),
                );
            }
        }
    }
    match (&endpoint.template, endpoint.endpoint_type) {
        (Some(template), EndpointType::Template) => {
            let sample = crate::support::body_template::TemplateValues {
                prompt: "a prompt",
                model: "a model",
                max_tokens: Some(16),
                stream: endpoint.streaming,
            };
            if let Err(e) = crate::support::body_template::render(template, &sample) {
                problems.push("endpoint.template", e);
            }
            if endpoint.path.is_none() {
                problems.push(
                    "endpoint.path",
                    "--endpoint-type template needs the path to send to (--endpoint /generate)",
                );
            }
        }
        (None, EndpointType::Template) => problems.push(
            "endpoint.template",
            "--endpoint-type template needs a body template (--endpoint-template '{\"inputs\": {{ prompt|tojson }}}')",
        ),
        (Some(_), _) => problems.push(
            "endpoint.template",
            "--endpoint-template applies to --endpoint-type template",
        ),
        (None, _) => {}
    }
    match (endpoint.rankings_passages, endpoint.endpoint_type) {
        (None, _) => {}
        (Some(n), EndpointType::Rankings) if (1..=1000).contains(&n) => {}
        (Some(n), EndpointType::Rankings) => problems.push(
            "endpoint.rankings_passages",
            format!("--rankings-passages must be from 1 to 1000, got {n}"),
        ),
        (Some(_), _) => problems.push(
            "endpoint.rankings_passages",
            "--rankings-passages applies to --endpoint-type rankings",
        ),
    }
    if let Some(m) = check_seconds(
        "the request timeout (--request-timeout-seconds, endpoint.timeout)",
        endpoint.timeout,
        true,
    ) {
        problems.push("endpoint.timeout", m);
    }
    if let Some(m) = check_seconds(
        "the wait for the model (--wait-for-model-timeout, endpoint.wait_for_model_timeout)",
        endpoint.wait_for_model_timeout,
        false,
    ) {
        problems.push("endpoint.wait_for_model_timeout", m);
    }
    if let Some(key) = &endpoint.api_key
        && reqwest::header::HeaderValue::from_str(&format!("Bearer {}", key.expose())).is_err()
    {
        problems.push(
            "endpoint.api_key",
            "the API key contains characters not allowed in an HTTP header (a line break or control character)",
        );
    }
    for (name, value) in &endpoint.headers {
        let path = format!("endpoint.headers.{name}");
        if reqwest::header::HeaderName::from_bytes(name.trim().as_bytes()).is_err() {
            problems.push(path, format!("'{name}' is not a valid HTTP header name"));
        } else if reqwest::header::HeaderValue::from_str(value.expose().trim()).is_err() {
            problems.push(
                path,
                format!(
                    "the value of header '{name}' contains characters not allowed in an HTTP header (a line break or \
                     control character)"
                ),
            );
        }
    }
    if let Some(path) = &endpoint.path
        && !path.starts_with('/')
    {
        problems.push(
            "endpoint.path",
            format!("--endpoint '{path}' must start with '/', e.g. /v1/chat/completions"),
        );
    }
}

fn check_dataset(spec: &BenchmarkSpec, problems: &mut Problems) {
    if spec.datasets.len() != 1 {
        problems.push(
            "datasets",
            format!(
                "exactly one dataset is supported, got {}",
                spec.datasets.len()
            ),
        );
        return;
    }
    let dataset = &spec.datasets[0];
    check_dataset_kind(dataset, problems);
    if dataset.entries == 0 {
        problems.push(
            "datasets[0].entries",
            "the dataset needs at least one entry (--num-dataset-entries)",
        );
    }
    let isl = dataset.prompts.isl;
    if !(isl.mean >= 1.0 && isl.stddev >= 0.0) {
        problems.push(
            "datasets[0].prompts.isl",
            format!(
                "input tokens mean must be >= 1 and stddev >= 0 (--isl {}, --isl-stddev {})",
                isl.mean, isl.stddev
            ),
        );
    }
    for (key, flags, dist) in [
        ("isl", "--isl / --isl-stddev", Some(isl)),
        ("osl", "--osl / --osl-stddev", dataset.prompts.osl),
    ] {
        if let Some(d) = dist
            && !(d.mean.is_finite()
                && d.stddev.is_finite()
                && d.mean <= MAX_TOKENS
                && d.stddev <= MAX_TOKENS)
        {
            problems.push(
                format!("datasets[0].prompts.{key}"),
                format!(
                    "token counts ({flags}) must be at most {MAX_TOKENS} tokens, got mean {} and stddev {}",
                    d.mean, d.stddev
                ),
            );
        }
    }
    let budget = f64::from(dataset.entries) * (isl.mean + 3.0 * isl.stddev);
    if budget.is_finite() && budget > MAX_DATASET_TOKENS && isl.mean <= MAX_TOKENS {
        problems.push(
            "datasets[0].entries",
            format!(
                "{} prompts of about {} tokens would be {budget:.0} prompt tokens to generate; at most \
                 {MAX_DATASET_TOKENS} (lower --num-dataset-entries or --isl)",
                dataset.entries, isl.mean
            ),
        );
    }
    if let Some(osl) = dataset.prompts.osl
        && !(osl.mean >= 1.0 && osl.stddev >= 0.0)
    {
        problems.push(
            "datasets[0].prompts.osl",
            format!(
                "output tokens mean must be >= 1 and stddev >= 0 (--osl {}, --osl-stddev {})",
                osl.mean, osl.stddev
            ),
        );
    }
}

/// A file dataset has a path and a format; a synthetic one none of the file settings, and
/// prefix settings that can be built.
fn check_dataset_kind(dataset: &super::DatasetSpec, problems: &mut Problems) {
    let prompts = &dataset.prompts;
    match dataset.dataset_type {
        DatasetType::File => {
            if dataset.path.is_none() {
                problems.push(
                    "datasets[0].path",
                    "a file dataset needs a path (--input-file)",
                );
            }
            if dataset.format.is_none() {
                problems.push(
                    "datasets[0].format",
                    "a file dataset needs a format: single_turn, multi_turn or mooncake_trace (--custom-dataset-type)",
                );
            }
            for (key, set) in [
                ("prefix_length", prompts.prefix_length.is_some()),
                (
                    "shared_system_length",
                    prompts.shared_system_length.is_some(),
                ),
                ("seq_dist", prompts.seq_dist.is_some()),
            ] {
                if set {
                    problems.push(
                        format!("datasets[0].prompts.{key}"),
                        format!(
                            "prompts.{key} shapes synthetic prompts; an input file brings its own"
                        ),
                    );
                }
            }
        }
        DatasetType::Synthetic => {
            for (key, set) in [
                ("path", dataset.path.is_some()),
                ("format", dataset.format.is_some()),
                ("sampling", dataset.sampling != SamplingStrategy::default()),
                ("block_size", dataset.block_size.is_some()),
            ] {
                if set {
                    problems.push(
                        format!("datasets[0].{key}"),
                        format!("{key} applies to a file dataset (type: file, --input-file)"),
                    );
                }
            }
        }
    }
    if let Some(b) = dataset.block_size
        && !(1..=1_000_000).contains(&b)
    {
        problems.push(
            "datasets[0].block_size",
            format!("the block size (--isl-block-size) must be from 1 to 1000000 tokens, got {b}"),
        );
    }
    for (key, flag, value, max) in [
        (
            "prefix_length",
            "--prefix-prompt-length",
            prompts.prefix_length,
            1_000_000,
        ),
        (
            "prefix_pool_size",
            "--prefix-prompt-pool-size",
            prompts.prefix_pool_size,
            100_000,
        ),
        (
            "shared_system_length",
            "--shared-system-prompt-length",
            prompts.shared_system_length,
            1_000_000,
        ),
    ] {
        if let Some(v) = value
            && !(1..=max).contains(&v)
        {
            problems.push(
                format!("datasets[0].prompts.{key}"),
                format!("{flag} must be from 1 to {max}, got {v}"),
            );
        }
    }
    if prompts.prefix_pool_size.is_some() && prompts.prefix_length.is_none() {
        problems.push(
            "datasets[0].prompts.prefix_pool_size",
            "a prefix pool (--prefix-prompt-pool-size) needs a prefix length (--prefix-prompt-length)",
        );
    }
    let prefix_tokens = f64::from(prompts.prefix_length.unwrap_or(0))
        * f64::from(prompts.prefix_pool_size.unwrap_or(100));
    if prefix_tokens > MAX_DATASET_TOKENS {
        problems.push(
            "datasets[0].prompts.prefix_length",
            format!(
                "a pool of prefixes would be {prefix_tokens:.0} tokens to generate; at most {MAX_DATASET_TOKENS} \
                 (lower --prefix-prompt-length or --prefix-prompt-pool-size)"
            ),
        );
    }
    if let Some(shares) = &prompts.seq_dist
        && let Err(why) = super::dataset::check_shares(shares)
    {
        problems.push("datasets[0].prompts.seq_dist", format!("--seq-dist: {why}"));
    }
}

fn check_phases(spec: &BenchmarkSpec, problems: &mut Problems) {
    let profiling = spec
        .phases
        .iter()
        .filter(|p| p.kind == PhaseKind::Profiling)
        .count();
    if profiling != 1 {
        problems.push(
            "phases",
            format!("exactly one profiling phase is required, got {profiling}"),
        );
    }
    if let Some(last) = spec.phases.last()
        && last.kind != PhaseKind::Profiling
    {
        problems.push(
            "phases",
            "the profiling phase must be the last phase (warmup phases come first)",
        );
    }
    for (i, phase) in spec.phases.iter().enumerate() {
        let name = &phase.name;
        let at = |key: &str| {
            if key.is_empty() {
                format!("phases[{i}]")
            } else {
                format!("phases[{i}].{key}")
            }
        };
        // A profiling phase without either sends AIPerf's default count (request_limit).
        if phase.kind == PhaseKind::Warmup && phase.requests.is_none() && phase.duration.is_none() {
            problems.push(
                at(""),
                format!(
                    "phase '{name}' has no stop condition: set a request count (--warmup-request-count) or a duration \
                     (--warmup-duration)"
                ),
            );
        }
        if phase.requests == Some(0) {
            problems.push(
                at("requests"),
                format!("phase '{name}': the request count must be at least 1"),
            );
        }
        // The flags that set this phase, for messages.
        let (duration_flag, grace_flag) = match phase.kind {
            PhaseKind::Warmup => ("--warmup-duration", "--warmup-grace-period"),
            PhaseKind::Profiling => ("--benchmark-duration", "--benchmark-grace-period"),
        };
        if let Some(d) = phase.duration
            && let Some(m) = check_seconds(
                &format!("phase '{name}': the duration ({duration_flag})"),
                d,
                true,
            )
        {
            problems.push(at("duration"), m);
        }
        if let Some(g) = phase.grace_period {
            if let Some(m) = check_seconds(
                &format!("phase '{name}': the grace period ({grace_flag})"),
                g,
                false,
            ) {
                problems.push(at("grace_period"), m);
            }
            if phase.duration.is_none() {
                problems.push(
                    at("grace_period"),
                    format!(
                        "phase '{name}': a grace period ({grace_flag}) only applies with a duration ({duration_flag})"
                    ),
                );
            }
        }
        if let Some(c) = phase.concurrency
            && !(1..=MAX_CONCURRENCY).contains(&c)
        {
            problems.push(
                at("concurrency"),
                format!("phase '{name}': concurrency must be from 1 to {MAX_CONCURRENCY}, got {c}"),
            );
        }
        match phase.phase_type {
            PhaseType::Concurrency => {
                if phase.rate.is_some() {
                    problems.push(
                        at("rate"),
                        format!("phase '{name}': a concurrency phase takes no rate"),
                    );
                }
            }
            PhaseType::Constant | PhaseType::Poisson | PhaseType::Gamma => match phase.rate {
                Some(r) if r.is_finite() && r > 0.0 && r <= MAX_RATE => {}
                Some(r) => problems.push(
                    at("rate"),
                    format!(
                        "phase '{name}': --request-rate must be positive and at most {MAX_RATE} per second, got {r}"
                    ),
                ),
                None => problems.push(
                    at("rate"),
                    format!("phase '{name}': a rate phase needs --request-rate"),
                ),
            },
            PhaseType::FixedSchedule => check_replay(spec, phase, &at, problems),
        }
        if phase.phase_type != PhaseType::FixedSchedule {
            for (key, set) in [
                ("auto_offset", phase.auto_offset.is_some()),
                ("start_offset", phase.start_offset.is_some()),
                ("end_offset", phase.end_offset.is_some()),
                ("speedup", phase.speedup.is_some()),
            ] {
                if set {
                    problems.push(
                        at(key),
                        format!(
                            "phase '{name}': {key} applies to a fixed_schedule phase (trace replay)"
                        ),
                    );
                }
            }
        }
        if let Some(p) = phase.prefill_concurrency {
            if !(1..=MAX_CONCURRENCY).contains(&p) {
                problems.push(
                    at("prefill_concurrency"),
                    format!("phase '{name}': the prefill concurrency must be from 1 to {MAX_CONCURRENCY}, got {p}"),
                );
            } else if let Some(c) = phase.concurrency.filter(|&c| p > c) {
                problems.push(
                    at("prefill_concurrency"),
                    format!(
                        "phase '{name}': --prefill-concurrency {p} is above --concurrency {c}: at most {c} requests are ever \
                         in flight, so at most {c} can wait for a first token"
                    ),
                );
            }
            if !spec.endpoint.streaming {
                problems.push(
                    at("prefill_concurrency"),
                    format!(
                        "phase '{name}': --prefill-concurrency needs --streaming (a request's prefill ends with its first \
                         streamed token)"
                    ),
                );
            }
        }
        check_ramps(phase, &at, problems);
        if let Some(c) = phase.cancellation {
            if !(c.rate.is_finite() && (0.0..=100.0).contains(&c.rate)) {
                problems.push(
                    at("cancellation.rate"),
                    format!(
                        "phase '{name}': the cancellation rate (--request-cancellation-rate) is a percentage from 0 to 100, \
                         got {}",
                        c.rate
                    ),
                );
            }
            if let Some(m) = check_seconds(
                &format!("phase '{name}': the cancellation delay (--request-cancellation-delay)"),
                c.delay,
                false,
            ) {
                problems.push(at("cancellation.delay"), m);
            }
        }
        match (phase.smoothness, phase.phase_type) {
            (None, _) => {}
            (Some(s), PhaseType::Gamma) if (MIN_SMOOTHNESS..=MAX_SMOOTHNESS).contains(&s) => {}
            (Some(s), PhaseType::Gamma) => problems.push(
                at("smoothness"),
                format!(
                    "phase '{name}': the arrival smoothness (--arrival-smoothness) must be from {MIN_SMOOTHNESS} to \
                     {MAX_SMOOTHNESS}, got {s}"
                ),
            ),
            (Some(_), _) => problems.push(
                at("smoothness"),
                format!(
                    "phase '{name}': an arrival smoothness (--arrival-smoothness) applies only to gamma arrivals \
                     (--arrival-pattern gamma, type: gamma)"
                ),
            ),
        }
    }
}

/// The most a replay may be sped up or slowed down.
const MAX_SPEEDUP: f64 = 1e6;

/// A fixed-schedule phase: the profiling phase of a file dataset, no rate, a window whose start
/// is not after its end, offsets or an auto offset (not both), a positive speedup.
fn check_replay(
    spec: &BenchmarkSpec,
    phase: &super::PhaseSpec,
    at: &dyn Fn(&str) -> String,
    problems: &mut Problems,
) {
    let name = &phase.name;
    if phase.kind == PhaseKind::Warmup {
        problems.push(
            at("type"),
            format!("phase '{name}': a warmup phase cannot replay a trace (fixed_schedule); warm up by concurrency or rate"),
        );
    }
    if spec
        .datasets
        .first()
        .is_some_and(|d| d.dataset_type != DatasetType::File)
    {
        problems.push(
            at("type"),
            format!(
                "phase '{name}': a fixed-schedule replay needs an input file with timestamps (--input-file, a dataset of type file)"
            ),
        );
    }
    if phase.rate.is_some() {
        problems.push(
            at("rate"),
            format!("phase '{name}': a fixed-schedule replay sends at the file's timestamps and takes no rate"),
        );
    }
    for (key, flag, value) in [
        (
            "start_offset",
            "--fixed-schedule-start-offset",
            phase.start_offset,
        ),
        (
            "end_offset",
            "--fixed-schedule-end-offset",
            phase.end_offset,
        ),
    ] {
        if let Some(v) = value
            && !(v.is_finite() && (0.0..=1e15).contains(&v))
        {
            problems.push(
                at(key),
                format!("phase '{name}': {flag} is a trace time in ms, 0 or more, got {v}"),
            );
        }
    }
    if let (Some(start), Some(end)) = (phase.start_offset, phase.end_offset)
        && start > end
    {
        problems.push(
            at("start_offset"),
            format!(
                "phase '{name}': the replay window starts at {start} ms, after its end at {end} ms \
                 (--fixed-schedule-start-offset must not be above --fixed-schedule-end-offset)"
            ),
        );
    }
    if phase.auto_offset == Some(true) && phase.start_offset.is_some() {
        problems.push(
            at("auto_offset"),
            format!(
                "phase '{name}': auto_offset (--fixed-schedule-auto-offset) and start_offset \
                 (--fixed-schedule-start-offset) both set where the replay starts: give one"
            ),
        );
    }
    if let Some(x) = phase.speedup
        && !(x.is_finite() && x > 0.0 && x <= MAX_SPEEDUP)
    {
        problems.push(
            at("speedup"),
            format!("phase '{name}': --replay-speedup must be above 0 and at most {MAX_SPEEDUP}, got {x}"),
        );
    }
}

/// Ramps: a positive duration no longer than the phase, and something to ramp.
fn check_ramps(phase: &super::PhaseSpec, at: &dyn Fn(&str) -> String, problems: &mut Problems) {
    let name = &phase.name;
    for (key, flag, ramp, what) in [
        (
            "concurrency_ramp",
            "--concurrency-ramp-duration",
            phase.concurrency_ramp,
            phase
                .concurrency
                .filter(|&c| c > 1)
                .map(|_| ())
                .ok_or("a concurrency above 1 (--concurrency)"),
        ),
        (
            "prefill_ramp",
            "--prefill-concurrency-ramp-duration",
            phase.prefill_ramp,
            phase
                .prefill_concurrency
                .filter(|&c| c > 1)
                .map(|_| ())
                .ok_or("a prefill concurrency above 1 (--prefill-concurrency)"),
        ),
        (
            "rate_ramp",
            "--request-rate-ramp-duration",
            phase.rate_ramp,
            phase
                .phase_type
                .is_open_loop()
                .then_some(())
                .ok_or("a request rate (--request-rate)"),
        ),
    ] {
        let Some(seconds) = ramp else {
            continue;
        };
        if let Some(m) = check_seconds(&format!("phase '{name}': the ramp ({flag})"), seconds, true)
        {
            problems.push(at(key), m);
        } else if let Some(d) = phase.duration.filter(|&d| seconds > d) {
            problems.push(
                at(key),
                format!(
                    "phase '{name}': the ramp ({flag}) of {seconds} s is longer than the phase's {d} s \
                     (--benchmark-duration)"
                ),
            );
        }
        if let Err(needs) = what {
            problems.push(
                at(key),
                format!("phase '{name}': {flag} needs {needs} to ramp up to"),
            );
        }
    }
}

/// The burstiest gamma arrivals allowed: gaps with a coefficient of variation of about 32.
pub const MIN_SMOOTHNESS: f64 = 0.001;
/// The most regular gamma arrivals allowed: a coefficient of variation of 0.03.
pub const MAX_SMOOTHNESS: f64 = 1000.0;

fn check_wandb(w: &super::WandbSpec, problems: &mut Problems) {
    match &w.project {
        Some(p) if p.trim().is_empty() => {
            problems.push("wandb.project", "wandb.project cannot be empty.")
        }
        Some(_) => {}
        None => {
            let set: Vec<&str> = [
                ("wandb.entity", w.entity.is_some()),
                ("wandb.run_name", w.run_name.is_some()),
                ("wandb.tags", !w.tags.is_empty()),
                ("wandb.group", w.group.is_some()),
                ("wandb.required", w.required),
                ("wandb.mode", w.mode.is_some()),
            ]
            .into_iter()
            .filter(|(_, on)| *on)
            .map(|(k, _)| k)
            .collect();
            if !set.is_empty() {
                problems.push(
                    "wandb",
                    format!("{} require wandb.project to be set.", set.join(", ")),
                );
            }
        }
    }
    if w.entity.as_deref().is_some_and(|e| e.trim().is_empty()) {
        problems.push("wandb.entity", "wandb.entity cannot be empty when set.");
    }
}

#[cfg(test)]
mod tests {
    use crate::spec::test_support::minimal_spec;

    #[test]
    fn minimal_spec_is_valid() {
        assert_eq!(super::validate(&minimal_spec()), Ok(()));
    }

    #[test]
    fn reports_every_problem() {
        let mut spec = minimal_spec();
        spec.endpoint.urls = vec!["ftp://x".into()];
        spec.endpoint.streaming = true;
        spec.endpoint.endpoint_type = crate::spec::EndpointType::Embeddings;
        spec.phases[0].smoothness = Some(2.0);
        let problems = super::validate(&spec).unwrap_err();
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(
            problems
                .iter()
                .any(|p| p.message.contains("applies only to gamma arrivals"))
        );
    }

    #[test]
    fn only_a_warmup_phase_needs_a_stop_condition() {
        let mut spec = minimal_spec();
        spec.phases[0].requests = None;
        spec.phases[0].concurrency = Some(8);
        assert_eq!(super::validate(&spec), Ok(()));
        assert_eq!(spec.phases[0].request_limit(), Some(16), "AIPerf's default");
        let mut warmup = spec.phases[0].clone();
        warmup.name = "warmup".into();
        warmup.kind = crate::spec::PhaseKind::Warmup;
        spec.phases.insert(0, warmup);
        let problems = super::validate(&spec).unwrap_err();
        assert!(
            problems[0].message.contains("no stop condition"),
            "{problems:?}"
        );
    }

    #[test]
    fn cancellation_is_range_checked() {
        let mut spec = minimal_spec();
        for (rate, delay, bad) in [
            (30.0, 0.0, None),
            (100.0, 2.5, None),
            (101.0, 0.0, Some("cancellation.rate")),
            (f64::NAN, 0.0, Some("cancellation.rate")),
            (10.0, -1.0, Some("cancellation.delay")),
            (10.0, 1e12, Some("cancellation.delay")),
        ] {
            spec.phases[0].cancellation = Some(crate::spec::CancellationSpec { rate, delay });
            match (super::validate(&spec), bad) {
                (Ok(()), None) => {}
                (Err(p), Some(key)) => assert_eq!(p[0].path, format!("phases[0].{key}")),
                (other, _) => panic!("{rate} {delay}: {other:?}"),
            }
        }
    }

    #[test]
    fn gamma_smoothness_is_range_checked() {
        let mut spec = minimal_spec();
        spec.phases[0].phase_type = crate::spec::PhaseType::Gamma;
        spec.phases[0].rate = Some(10.0);
        assert_eq!(super::validate(&spec), Ok(()), "smoothness defaults to 1");
        for bad in [0.0, -1.0, f64::NAN, 1e9] {
            spec.phases[0].smoothness = Some(bad);
            let problems = super::validate(&spec).unwrap_err();
            assert_eq!(problems[0].path, "phases[0].smoothness", "{bad}");
        }
    }

    #[test]
    fn grace_period_needs_a_duration() {
        let mut spec = minimal_spec();
        spec.phases[0].grace_period = Some(5.0);
        let problems = super::validate(&spec).unwrap_err();
        assert!(problems[0].message.contains("grace period"), "{problems:?}");
        assert_eq!(problems[0].path, "phases[0].grace_period");
    }
}
