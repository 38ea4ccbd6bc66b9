//! `aiperf profile`: AIPerf's flag names (`profile_spec` turns them into a [`BenchmarkSpec`]).

use crate::spec::*;
use clap::Args;
use std::path::PathBuf;

/// Flags of `aiperf profile` (names and aliases follow AIPerf 0.13).
#[derive(Debug, Args)]
pub struct ProfileArgs {
    /// With --search-recipe: continue the interrupted search in this directory, skipping the
    /// points already measured.
    #[arg(long, value_name = "DIR", help_heading = "Search")]
    pub resume: Option<std::path::PathBuf>,
    /// With --search-recipe: start afresh in a directory that holds an earlier search, after
    /// moving it aside to DIR.old-N (nothing is deleted).
    #[arg(long, conflicts_with = "resume", help_heading = "Search")]
    pub force: bool,
    /// Model name sent in requests.
    #[arg(
        short = 'm',
        long = "model",
        visible_alias = "model-names",
        help_heading = "Endpoint"
    )]
    pub model: String,
    /// Server URL (base like http://host:8000, or a full endpoint URL). Repeat for round-robin
    /// over several servers. `mock://` starts the embedded mock server (`mock://?ttft_ms=50&itl_ms=5`).
    #[arg(
        short = 'u',
        long = "url",
        default_value = "http://localhost:8000",
        help_heading = "Endpoint"
    )]
    pub url: Vec<String>,
    /// API flavour.
    #[arg(long, value_enum, default_value = "chat", help_heading = "Endpoint")]
    pub endpoint_type: EndpointType,
    /// Endpoint path overriding the API's default (e.g. /v1/chat/completions).
    #[arg(long, visible_alias = "custom-endpoint", help_heading = "Endpoint")]
    pub endpoint: Option<String>,
    /// Request streamed responses (needed for TTFT, ITL and the other per-token metrics).
    #[arg(long, help_heading = "Endpoint")]
    pub streaming: bool,
    /// API key sent as a bearer token. Never written to any output.
    #[arg(
        long,
        env = "AIPERF_API_KEY",
        hide_env_values = true,
        help_heading = "Endpoint"
    )]
    pub api_key: Option<String>,
    /// Extra HTTP header "Name: value" (repeatable).
    #[arg(short = 'H', long = "header", help_heading = "Endpoint")]
    pub header: Vec<String>,
    /// Extra request-body field "key:value" (value parsed as JSON when it is JSON), or a JSON
    /// object of fields (repeatable), e.g. --extra-inputs ignore_eos:true.
    #[arg(long, help_heading = "Endpoint")]
    pub extra_inputs: Vec<String>,
    /// Per-request timeout in seconds.
    #[arg(
        allow_negative_numbers = true,
        long,
        default_value_t = 21_600.0,
        help_heading = "Endpoint"
    )]
    pub request_timeout_seconds: f64,
    /// Send max_tokens instead of max_completion_tokens in chat requests.
    #[arg(long, help_heading = "Endpoint")]
    pub use_legacy_max_tokens: bool,
    /// Count output tokens from the server's usage instead of the client tokenizer.
    #[arg(long, help_heading = "Endpoint")]
    pub use_server_token_count: bool,
    /// Ask the server for usage in every chunk (continuous_usage_stats) and divide the decode
    /// time by the tokens after the first content chunk, for servers that bundle tokens into it.
    /// Needs --use-server-token-count, chat and --streaming.
    #[arg(long, help_heading = "Endpoint")]
    pub per_chunk_usage: bool,
    /// pooled (default) reuses connections while the server allows keep-alive; never opens a
    /// new connection for every request.
    #[arg(long, value_enum, default_value = "pooled", help_heading = "Endpoint")]
    pub connection_reuse_strategy: crate::spec::ConnectionReuse,
    /// With --endpoint-type template: the request body, a JSON text with {{ prompt|tojson }},
    /// {{ model|tojson }}, {{ max_tokens }} and {{ stream|tojson }} placeholders, or @FILE.
    #[arg(long, value_name = "JSON|@FILE", help_heading = "Endpoint")]
    pub endpoint_template: Option<String>,
    /// With --endpoint-type rankings: passages sent with each query (default 5); the prompt of
    /// --isl tokens is split into the query and the passages.
    #[arg(
        allow_negative_numbers = true,
        long,
        value_name = "N",
        help_heading = "Endpoint"
    )]
    pub rankings_passages: Option<u32>,
    /// Keep retrying to reach the server for this many seconds before giving up.
    #[arg(
        allow_negative_numbers = true,
        long,
        default_value_t = 0.0,
        help_heading = "Endpoint"
    )]
    pub wait_for_model_timeout: f64,

    /// Closed-loop concurrency; with --request-rate, the cap on requests in flight. A comma
    /// list (10,20,30) sweeps it.
    #[arg(
        allow_negative_numbers = true,
        long,
        value_delimiter = ',',
        value_name = "N[,N...]",
        help_heading = "Load"
    )]
    pub concurrency: Vec<u32>,
    /// Most requests waiting for their first token at once (a request holds a prefill slot
    /// from send until its first token; needs --streaming). A comma list sweeps it.
    #[arg(
        allow_negative_numbers = true,
        long,
        value_delimiter = ',',
        value_name = "N[,N...]",
        help_heading = "Load"
    )]
    pub prefill_concurrency: Vec<u32>,
    /// Open-loop request rate (requests/second). A comma list sweeps it.
    #[arg(
        allow_negative_numbers = true,
        long,
        value_delimiter = ',',
        value_name = "RATE[,RATE...]",
        help_heading = "Load"
    )]
    pub request_rate: Vec<f64>,
    /// Arrival process of --request-rate.
    #[arg(
        long,
        visible_alias = "arrival-pattern",
        value_enum,
        default_value = "poisson",
        help_heading = "Load"
    )]
    pub request_rate_mode: RateMode,
    /// Regularity of gamma arrivals (--arrival-pattern gamma), the shape of the gamma gaps as
    /// vLLM's --burstiness: 1 = Poisson (default), below 1 burstier, above 1 more regular.
    #[arg(
        allow_negative_numbers = true,
        long,
        visible_alias = "vllm-burstiness",
        value_name = "S",
        help_heading = "Load"
    )]
    pub arrival_smoothness: Option<f64>,
    /// Requests to send (default without --benchmark-duration: max(10, 2 x concurrency)). A comma
    /// list sweeps it.
    #[arg(
        allow_negative_numbers = true,
        long,
        visible_alias = "num-requests",
        value_delimiter = ',',
        value_name = "N[,N...]",
        help_heading = "Load"
    )]
    pub request_count: Vec<u64>,
    /// Send requests for this many seconds. A comma list sweeps it.
    #[arg(
        allow_negative_numbers = true,
        long,
        value_delimiter = ',',
        value_name = "SECONDS[,...]",
        help_heading = "Load"
    )]
    pub benchmark_duration: Vec<f64>,
    /// After --benchmark-duration, wait this long for in-flight requests, then cancel them (default 30).
    #[arg(allow_negative_numbers = true, long, help_heading = "Load")]
    pub benchmark_grace_period: Option<f64>,
    /// Stop the run early once more than this many requests failed (a count, 20), or more than
    /// this share of the finished ones (0.05 or 5%, judged after max(concurrency, 10)); exits 11
    /// with everything measured so far on disk.
    #[arg(
        allow_negative_numbers = true,
        long,
        value_name = "COUNT|RATE",
        help_heading = "Load"
    )]
    pub failed_request_threshold: Option<crate::spec::FailureThreshold>,
    /// Cancel this percentage of requests (0-100), chosen from the seed, to measure a server
    /// under clients that give up; they count as cancelled, never as errors.
    #[arg(
        allow_negative_numbers = true,
        long,
        value_name = "PERCENT",
        help_heading = "Load"
    )]
    pub request_cancellation_rate: Option<f64>,
    /// Seconds after a cancelled request was sent that its connection is closed (default 0:
    /// right after sending).
    #[arg(
        allow_negative_numbers = true,
        long,
        value_name = "SECONDS",
        help_heading = "Load"
    )]
    pub request_cancellation_delay: Option<f64>,
    /// Raise the concurrency (or the --request-rate cap) from 1 to its value in even steps over
    /// this many seconds.
    #[arg(
        allow_negative_numbers = true,
        long,
        value_name = "SECONDS",
        help_heading = "Ramps"
    )]
    pub concurrency_ramp_duration: Option<f64>,
    /// Raise --prefill-concurrency from 1 to its value in even steps over this many seconds.
    #[arg(
        allow_negative_numbers = true,
        long,
        value_name = "SECONDS",
        help_heading = "Ramps"
    )]
    pub prefill_concurrency_ramp_duration: Option<f64>,
    /// Raise --request-rate over this many seconds: from rate x 0.1 s / ramp, by that much
    /// every 100 ms.
    #[arg(
        allow_negative_numbers = true,
        long,
        value_name = "SECONDS",
        help_heading = "Ramps"
    )]
    pub request_rate_ramp_duration: Option<f64>,
    /// Warmup flags.
    #[command(flatten)]
    pub warmup: super::profile_warmup::WarmupFlags,
    /// Input file, trace replay and shared-prefix flags.
    #[command(flatten)]
    pub dataset: super::profile_dataset::DatasetFlags,

    /// Mean prompt length in tokens (default 550). A comma list sweeps it.
    #[arg(allow_negative_numbers = true, long, visible_aliases = ["isl", "prompt-input-tokens-mean"], value_delimiter = ',', value_name = "TOKENS[,...]", help_heading = "Dataset")]
    pub synthetic_input_tokens_mean: Vec<f64>,
    /// Standard deviation of the prompt length (default 0). A comma list sweeps it.
    #[arg(allow_negative_numbers = true, long, visible_aliases = ["isl-stddev", "prompt-input-tokens-stddev"], value_delimiter = ',', value_name = "TOKENS[,...]", help_heading = "Dataset")]
    pub synthetic_input_tokens_stddev: Vec<f64>,
    /// Mean requested output length (max tokens); unset lets the server decide. A comma list
    /// sweeps it.
    #[arg(allow_negative_numbers = true, long, visible_aliases = ["osl", "prompt-output-tokens-mean"], value_delimiter = ',', value_name = "TOKENS[,...]", help_heading = "Dataset")]
    pub output_tokens_mean: Vec<f64>,
    /// Standard deviation of the requested output length (default 0). A comma list sweeps it.
    #[arg(allow_negative_numbers = true, long, visible_aliases = ["osl-stddev", "prompt-output-tokens-stddev"], value_delimiter = ',', value_name = "TOKENS[,...]", help_heading = "Dataset")]
    pub output_tokens_stddev: Vec<f64>,
    /// Distinct prompts to generate (default: the request count, at most 1000; 100 for duration runs).
    #[arg(
        allow_negative_numbers = true,
        long,
        visible_alias = "num-prompts",
        help_heading = "Dataset"
    )]
    pub num_dataset_entries: Option<u32>,
    /// Seed for prompts and arrivals (default: random, recorded in run_metadata.json).
    #[arg(allow_negative_numbers = true, long, help_heading = "Dataset")]
    pub random_seed: Option<u64>,
    /// Tokenizer: `builtin`, a tokenizer.json file or directory, or a HuggingFace model id in the
    /// local cache (default: the model's, if cached, else builtin).
    #[arg(long, help_heading = "Dataset")]
    pub tokenizer: Option<String>,

    /// Per-request SLOs for goodput, e.g. "time_to_first_token:200 inter_token_latency:20" (ms).
    #[arg(long, help_heading = "Output")]
    pub goodput: Option<String>,
    /// Run directory (default: artifacts/<model>-<endpoint type>-<load>).
    #[arg(long, visible_alias = "output-artifact-dir", help_heading = "Output")]
    pub artifact_dir: Option<PathBuf>,
    /// Write AIPerf's timeslice files (profile_export_aiperf_timeslices.csv/.json): the
    /// profiling phase cut into slices of this many seconds, each with its own statistics.
    #[arg(
        allow_negative_numbers = true,
        long,
        value_name = "SECONDS",
        help_heading = "Output"
    )]
    pub slice_duration: Option<f64>,
    /// Progress display.
    #[arg(
        long,
        visible_alias = "ui",
        value_enum,
        default_value = "simple",
        help_heading = "Output"
    )]
    pub ui_type: UiType,
    /// Record processors working in parallel, 1-64 (default: one per four usable cores). The
    /// results are the same for any number.
    #[arg(
        allow_negative_numbers = true,
        long,
        value_name = "N",
        help_heading = "Output"
    )]
    pub record_processors: Option<u32>,
    /// Auto-plot flags.
    #[command(flatten)]
    pub plot: crate::cli::flags::PlotFlags,
    /// Weights & Biases flags.
    #[command(flatten)]
    pub wandb: crate::cli::flags::WandbFlags,
    /// CI gate flags.
    #[command(flatten)]
    pub gate: crate::cli::flags::GateFlags,
    /// Comparison-with-a-baseline flags.
    #[command(flatten)]
    pub baseline: crate::cli::flags::BaselineFlags,

    /// How several comma lists combine: grid (every combination, default) or zip (the i-th
    /// values together; the lists must be equally long).
    #[arg(long, value_enum, help_heading = "Sweep and repeated runs")]
    pub sweep_type: Option<FlagSweepType>,
    /// With comma lists and --num-profile-runs: repeated runs every cell once, then again
    /// (default; drift hits all cells alike); independent runs all of a cell's trials first.
    #[arg(long, value_enum, help_heading = "Sweep and repeated runs")]
    pub parameter_sweep_mode: Option<crate::spec::experiment::IterationOrder>,
    /// Seconds to wait between the cells of a sweep.
    #[arg(
        allow_negative_numbers = true,
        long,
        value_name = "SECONDS",
        help_heading = "Sweep and repeated runs"
    )]
    pub parameter_sweep_cooldown_seconds: Option<f64>,
    /// Run the benchmark (every cell of a sweep) this many times, 1-10, and report confidence
    /// intervals across the runs.
    #[arg(
        allow_negative_numbers = true,
        long,
        value_name = "N",
        help_heading = "Sweep and repeated runs"
    )]
    pub num_profile_runs: Option<u32>,
    /// Seconds to wait between repeated runs.
    #[arg(
        allow_negative_numbers = true,
        long,
        value_name = "SECONDS",
        help_heading = "Sweep and repeated runs"
    )]
    pub profile_run_cooldown_seconds: Option<f64>,
    /// Confidence level of the intervals across repeated runs (default 0.95).
    #[arg(
        allow_negative_numbers = true,
        long,
        value_name = "LEVEL",
        help_heading = "Sweep and repeated runs"
    )]
    pub confidence_level: Option<f64>,
    /// Stop a cell's repeated runs early once this metric (a tag such as time_to_first_token)
    /// has converged.
    #[arg(long, value_name = "TAG", help_heading = "Sweep and repeated runs")]
    pub convergence_metric: Option<String>,
    /// The statistic of --convergence-metric (avg, p50, p90, p95, p99; default avg).
    #[arg(
        long,
        value_name = "STAT",
        requires = "convergence_metric",
        help_heading = "Sweep and repeated runs"
    )]
    pub convergence_stat: Option<String>,
    /// The relative threshold of --convergence-metric, in (0, 1) (e.g. 0.05).
    #[arg(
        allow_negative_numbers = true,
        long,
        value_name = "FRACTION",
        requires = "convergence_metric",
        help_heading = "Sweep and repeated runs"
    )]
    pub convergence_threshold: Option<f64>,
    /// ci_width (the confidence interval's width over the mean, default) or cv (standard
    /// deviation over the mean).
    #[arg(
        long,
        value_enum,
        requires = "convergence_metric",
        help_heading = "Sweep and repeated runs"
    )]
    pub convergence_mode: Option<crate::spec::experiment::ConvergenceMode>,

    /// Run a search recipe (built-in name or file) over this benchmark; see `aiperf recipes list`.
    #[arg(long, help_heading = "Search")]
    pub search_recipe: Option<String>,
    /// SLA for search recipes: TTFT p95 limit in ms.
    #[arg(
        allow_negative_numbers = true,
        long,
        requires = "search_recipe",
        help_heading = "Search"
    )]
    pub ttft_sla_ms: Option<f64>,
    /// SLA for search recipes: inter-token latency p95 limit in ms.
    #[arg(
        allow_negative_numbers = true,
        long,
        visible_alias = "tpot-sla-ms",
        requires = "search_recipe",
        help_heading = "Search"
    )]
    pub itl_sla_ms: Option<f64>,
    /// SLA for search recipes: request latency p99 limit in ms.
    #[arg(long, requires = "search_recipe", help_heading = "Search")]
    pub e2e_sla_ms: Option<f64>,
    /// SLA for search recipes: error rate limit as a fraction (0.01 = 1%).
    #[arg(
        allow_negative_numbers = true,
        long,
        requires = "search_recipe",
        help_heading = "Search"
    )]
    pub error_rate_sla: Option<f64>,
    /// Planner for the recipe instead of its own: boundary (also monotonic, smooth_isotonic),
    /// bayesian (also bo, optuna) or grid.
    #[arg(long, requires = "search_recipe", value_parser = parse_search_style, help_heading = "Search")]
    pub search_style: Option<crate::spec::experiment::SearchStyle>,
    /// Most points an adaptive search measures.
    #[arg(
        allow_negative_numbers = true,
        long,
        requires = "search_recipe",
        help_heading = "Search"
    )]
    pub search_max_iterations: Option<u32>,
    /// Points of the bayesian planner's initial space-filling design.
    #[arg(
        allow_negative_numbers = true,
        long,
        requires = "search_recipe",
        help_heading = "Search"
    )]
    pub search_initial_points: Option<u32>,
    /// Seed of the bayesian planner.
    #[arg(
        allow_negative_numbers = true,
        long,
        requires = "search_recipe",
        help_heading = "Search"
    )]
    pub search_random_seed: Option<u64>,
    /// SLA for goodput recipes: the fraction of requests that must meet every SLO (default 0.95).
    #[arg(
        allow_negative_numbers = true,
        long,
        requires = "search_recipe",
        help_heading = "Search"
    )]
    pub slo_attainment_fraction: Option<f64>,
    /// Recipe knob bounds: lowest concurrency.
    #[arg(
        allow_negative_numbers = true,
        long,
        requires = "search_recipe",
        help_heading = "Search"
    )]
    pub concurrency_min: Option<f64>,
    /// Recipe knob bounds: highest concurrency.
    #[arg(
        allow_negative_numbers = true,
        long,
        requires = "search_recipe",
        help_heading = "Search"
    )]
    pub concurrency_max: Option<f64>,
    /// Recipe knob bounds: number of concurrency values.
    #[arg(
        allow_negative_numbers = true,
        long,
        requires = "search_recipe",
        help_heading = "Search"
    )]
    pub concurrency_steps: Option<u32>,
    /// Recipe knob bounds: shortest input length.
    #[arg(
        allow_negative_numbers = true,
        long,
        requires = "search_recipe",
        help_heading = "Search"
    )]
    pub isl_min: Option<f64>,
    /// Recipe knob bounds: longest input length.
    #[arg(
        allow_negative_numbers = true,
        long,
        requires = "search_recipe",
        help_heading = "Search"
    )]
    pub isl_max: Option<f64>,
    /// Recipe knob bounds: number of input lengths.
    #[arg(
        allow_negative_numbers = true,
        long,
        requires = "search_recipe",
        help_heading = "Search"
    )]
    pub isl_steps: Option<u32>,
    /// Recipe knob bounds: shortest output length.
    #[arg(
        allow_negative_numbers = true,
        long,
        requires = "search_recipe",
        help_heading = "Search"
    )]
    pub osl_min: Option<f64>,
    /// Recipe knob bounds: longest output length.
    #[arg(
        allow_negative_numbers = true,
        long,
        requires = "search_recipe",
        help_heading = "Search"
    )]
    pub osl_max: Option<f64>,
    /// Recipe knob bounds: number of output lengths.
    #[arg(
        allow_negative_numbers = true,
        long,
        requires = "search_recipe",
        help_heading = "Search"
    )]
    pub osl_steps: Option<u32>,
}

fn parse_search_style(text: &str) -> Result<crate::spec::experiment::SearchStyle, String> {
    serde_json::from_value(serde_json::Value::String(text.to_string())).map_err(|_| {
        "expected boundary, bayesian or grid (or AIPerf's monotonic, smooth_isotonic, bo, optuna)"
            .to_string()
    })
}

/// `--request-rate-mode` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RateMode {
    /// Fixed interval 1/rate.
    Constant,
    /// Exponential gaps with mean 1/rate.
    Poisson,
    /// Gamma gaps with mean 1/rate, regularity --arrival-smoothness.
    Gamma,
}

/// `--sweep-type` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FlagSweepType {
    /// Every combination of the lists.
    Grid,
    /// The i-th values of every list together.
    Zip,
}

/// Parses one `--extra-inputs` value into body fields.
pub(super) fn parse_extra(
    item: &str,
    into: &mut serde_json::Map<String, serde_json::Value>,
) -> Result<(), String> {
    let trimmed = item.trim();
    if trimmed.starts_with('{') {
        let object: serde_json::Map<String, serde_json::Value> = serde_json::from_str(trimmed)
            .map_err(|e| format!("--extra-inputs '{item}' is not a valid JSON object: {e}"))?;
        into.extend(object);
        return Ok(());
    }
    let (key, value) = trimmed
        .split_once(':')
        .ok_or_else(|| format!("--extra-inputs '{item}' must be key:value or a JSON object"))?;
    let value = serde_json::from_str(value.trim())
        .unwrap_or_else(|_| serde_json::Value::String(value.trim().into()));
    into.insert(key.trim().to_string(), value);
    Ok(())
}

pub(super) fn parse_header(item: &str) -> Result<(String, Secret), String> {
    let (name, value) = item
        .split_once(':')
        .ok_or_else(|| format!("--header '{item}' must look like 'Name: value'"))?;
    if name.trim().is_empty() {
        return Err(format!("--header '{item}' has no name"));
    }
    Ok((name.trim().to_string(), Secret::new(value.trim())))
}

pub(super) fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use crate::cli::{Cli, Command};
    use clap::Parser;

    fn spec(args: &[&str]) -> crate::spec::BenchmarkSpec {
        let cli = Cli::try_parse_from(["aiperf", "profile"].iter().chain(args)).unwrap();
        let Command::Profile(p) = cli.command else {
            panic!()
        };
        p.to_spec().unwrap()
    }

    #[test]
    fn aiperf_flag_names_build_the_spec() {
        let s = spec(&[
            "-m",
            "m",
            "-u",
            "http://a:1",
            "-u",
            "http://b:2",
            "--streaming",
            "--concurrency",
            "8",
            "--request-count",
            "200",
            "--isl",
            "100",
            "--osl",
            "32",
            "--extra-inputs",
            "ignore_eos:true",
            "-H",
            "X-A: 1",
            "--goodput",
            "time_to_first_token:100",
            "--warmup-request-count",
            "5",
        ]);
        assert_eq!(s.endpoint.urls, ["http://a:1", "http://b:2"]);
        assert_eq!(s.phases.len(), 2);
        assert_eq!(s.phases[1].concurrency, Some(8));
        assert_eq!(s.phases[1].requests, Some(200));
        assert_eq!(s.dataset().prompts.isl.mean, 100.0);
        assert_eq!(s.endpoint.extra["ignore_eos"], true);
        assert_eq!(s.slos["time_to_first_token"], 100.0);
        assert_eq!(
            s.artifacts.dir,
            std::path::PathBuf::from("artifacts/m-chat-concurrency8")
        );
        assert_eq!(crate::spec::validate(&s), Ok(()));
    }

    #[test]
    fn rate_with_cap_and_default_request_count() {
        let s = spec(&[
            "-m",
            "org/m",
            "--request-rate",
            "5",
            "--request-rate-mode",
            "constant",
            "--concurrency",
            "4",
        ]);
        let p = s.profiling_phase();
        assert_eq!(p.phase_type, crate::spec::PhaseType::Constant);
        assert_eq!(
            (p.rate, p.concurrency, p.requests),
            (Some(5.0), Some(4), Some(10))
        );
        assert_eq!(
            s.artifacts.dir,
            std::path::PathBuf::from("artifacts/org_m-chat-request_rate5")
        );
        let d = spec(&["-m", "m", "--benchmark-duration", "3"]);
        assert_eq!(d.profiling_phase().requests, None);
    }
}
