//! The benchmark specification: the one typed value every run is driven by.
//!
//! `aiperf profile` flags build a [`BenchmarkSpec`]; the YAML experiment format has the same
//! struct as its `benchmark:` body, so flags and files can never describe different things. The
//! field names and shapes follow AIPerf's config v2 (`models`, `endpoint`, `datasets`, `phases`,
//! `artifacts`, `slos`, `tokenizer`, `runtime`), which is also what `input_config` in
//! `profile_export_aiperf.json` shows. This module only describes and checks; it never runs anything.

pub mod dataset;
mod distribution;
mod endpoint;
pub mod experiment;
mod failure_threshold;
pub mod forms;
mod goodput;
pub mod load;
pub mod mock_url;
pub mod nemo;
pub mod paths;
pub mod plot;
pub mod recipe;
pub mod schema;
pub mod thresholds;
pub mod validate;

pub use dataset::{FileFormat, SamplingStrategy, SequenceShare};
pub use distribution::TokenDistribution;
pub use endpoint::{ConnectionReuse, EndpointSpec, EndpointType, Secret};
pub use failure_threshold::FailureThreshold;
pub use goodput::{InvalidGoodput, check_slo_tag, parse_goodput};
pub use validate::{Problem, validate};

use forms::{DurationForm, OneOrMany, one_or_many, opt_seconds};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// One benchmark: what to call, with what prompts, under which load, and where results go.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct BenchmarkSpec {
    /// The model(s) named in requests: a name, a list of names, or `{items: [{name}]}`.
    #[serde(alias = "model")]
    pub models: ModelsSpec,
    /// The server and API to call.
    pub endpoint: EndpointSpec,
    /// The prompts to send (exactly one dataset today); `dataset:` with one entry also works.
    #[serde(
        alias = "dataset",
        deserialize_with = "one_or_many",
        default = "default_datasets"
    )]
    #[schemars(with = "OneOrMany<DatasetSpec>")]
    pub datasets: Vec<DatasetSpec>,
    /// Ordered phases (one phase or a list); warmup phases run first and are excluded from results.
    #[serde(deserialize_with = "one_or_many")]
    #[schemars(with = "OneOrMany<PhaseSpec>")]
    pub phases: Vec<PhaseSpec>,
    /// Where and what to write.
    #[serde(default)]
    pub artifacts: ArtifactsSpec,
    /// Per-request service-level objectives for goodput: metric tag → threshold in display units.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub slos: BTreeMap<String, f64>,
    /// Pass/fail rules on the results, each `metric.stat OP number` in the metric's display
    /// unit (`time_to_first_token.p99 < 200`, `request_error_rate < 1`,
    /// `output_token_throughput > 900`), optionally ending `with 95% confidence` to judge
    /// repeated trials by their confidence bound. Judged per run, or per cell across its
    /// trials; a failed one makes the command exit 9 after every file is written (docs/ci.md).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(with = "Vec<String>")]
    pub thresholds: Vec<thresholds::MetricThreshold>,
    /// The tokenizer used to count input and output tokens.
    #[serde(default)]
    pub tokenizer: TokenizerSpec,
    /// How the run presents itself.
    #[serde(default)]
    pub runtime: RuntimeSpec,
    /// Seed for every random choice (prompt lengths, prompt text, Poisson arrivals).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub random_seed: Option<u64>,
    /// Plot configuration: a plot-config file path (relative to the experiment file) or the
    /// configuration in place. Its presence turns auto-plot on unless `artifacts.auto_plot` is false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plot: Option<plot::PlotEnvelope>,
    /// Weights & Biases export; setting `project` enables it.
    #[serde(default, skip_serializing_if = "WandbSpec::is_empty")]
    pub wandb: WandbSpec,
}

/// Where results are uploaded in Weights & Biases. `project` enables the export; the other keys
/// need it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct WandbSpec {
    /// The W&B project (created on first upload).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    /// The entity (user or team); default: the API key's default entity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entity: Option<String>,
    /// The run's display name; default `aiperf-<benchmark id>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_name: Option<String>,
    /// Tags added to `aiperf-<version>` and `benchmark-<id>`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// The W&B group; default for experiments: the experiment directory's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// An upload failure fails the command (exit code 7) instead of warning.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub required: bool,
    /// `online` uploads now; `offline` writes W&B offline runs under `<dir>/wandb/` for
    /// `wandb sync`. Default: `WANDB_MODE`, else online.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<WandbMode>,
}

/// When W&B results are uploaded.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum WandbMode {
    /// Upload at the end of the run.
    Online,
    /// Write an offline run for `wandb sync`.
    Offline,
}

impl WandbSpec {
    /// Whether nothing is set.
    pub fn is_empty(&self) -> bool {
        *self == WandbSpec::default()
    }
}

/// The models requests name. Requests use the first model.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(from = "ModelsForm")]
pub struct ModelsSpec {
    /// Model entries, in order.
    pub items: Vec<ModelItem>,
}

/// The ways a YAML file may name models.
#[derive(Deserialize, JsonSchema)]
#[serde(untagged)]
enum ModelsForm {
    /// One model id.
    Name(String),
    /// Several model ids.
    Names(Vec<String>),
    /// The canonical form.
    Items {
        /// Model entries.
        items: Vec<ModelItem>,
    },
}

impl From<ModelsForm> for ModelsSpec {
    fn from(form: ModelsForm) -> Self {
        let items = match form {
            ModelsForm::Name(name) => vec![ModelItem { name }],
            ModelsForm::Names(names) => names.into_iter().map(|name| ModelItem { name }).collect(),
            ModelsForm::Items { items } => items,
        };
        ModelsSpec { items }
    }
}

/// One model name.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ModelItem {
    /// The model id sent in the request body.
    pub name: String,
}

/// A source of prompts: synthetic prompts from the embedded corpus, or an input file.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DatasetSpec {
    /// Dataset name (AIPerf names the single dataset `main`).
    #[serde(default = "default_dataset_name")]
    pub name: String,
    /// `synthetic` (generated prompts) or `file` (an input file: `path` and `format`).
    #[serde(rename = "type", default = "default_dataset_type")]
    pub dataset_type: DatasetType,
    /// Synthetic: number of distinct prompts generated; requests cycle through them.
    #[serde(default = "default_entries")]
    #[schemars(range(min = 1))]
    pub entries: u32,
    /// Prompt and output length distributions and shared prefixes (synthetic); for a file,
    /// `osl` is the output length of lines without `output_length`, and `isl` is unused.
    #[serde(default = "default_prompts")]
    pub prompts: PromptsSpec,
    /// File: the JSONL input file (relative to the experiment file, or to the working
    /// directory for `aiperf profile`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<PathBuf>,
    /// File: its format.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<FileFormat>,
    /// File: how entries are drawn when the run needs more requests than the file holds.
    #[serde(default, skip_serializing_if = "is_default")]
    pub sampling: SamplingStrategy,
    /// File: tokens per `hash_ids` block (default 512).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 1_000_000))]
    pub block_size: Option<u32>,
}

fn is_default<T: Default + PartialEq>(value: &T) -> bool {
    *value == T::default()
}

/// Without a dataset: synthetic prompts of 550 tokens (the `--isl` default), server-chosen length.
fn default_datasets() -> Vec<DatasetSpec> {
    vec![DatasetSpec {
        name: default_dataset_name(),
        dataset_type: DatasetType::Synthetic,
        entries: default_entries(),
        prompts: default_prompts(),
        path: None,
        format: None,
        sampling: SamplingStrategy::default(),
        block_size: None,
    }]
}

fn default_prompts() -> PromptsSpec {
    PromptsSpec::of_length(TokenDistribution::fixed(550.0), None)
}

fn default_dataset_name() -> String {
    "main".into()
}

fn default_dataset_type() -> DatasetType {
    DatasetType::Synthetic
}

fn default_entries() -> u32 {
    100
}

/// Where prompts come from.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum DatasetType {
    /// Generated from the shipped corpus with exact token counts.
    Synthetic,
    /// Read from a JSONL input file (single_turn, multi_turn or mooncake_trace).
    File,
}

/// Input and output lengths in tokens, and the prefixes synthetic prompts share.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PromptsSpec {
    /// Input sequence length distribution (the prompt after any prefix and system prompt).
    pub isl: TokenDistribution,
    /// Requested output length distribution (sent as `max_tokens`); absent = server decides.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub osl: Option<TokenDistribution>,
    /// Tokens of a shared prefix put before every prompt, drawn from a pool of
    /// `prefix_pool_size` prefixes (`--prefix-prompt-length`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 1_000_000))]
    pub prefix_length: Option<u32>,
    /// Distinct prefixes of `prefix_length` tokens (default 100), each prompt taking one at
    /// random (`--prefix-prompt-pool-size`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 100_000))]
    pub prefix_pool_size: Option<u32>,
    /// Tokens of one system prompt every request shares (`--shared-system-prompt-length`): a
    /// system message for chat, text before the prompt otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 1_000_000))]
    pub shared_system_length: Option<u32>,
    /// A mixture of (ISL, OSL) pairs instead of `isl`/`osl`: `"256,128:0.7;1024,512:0.3"` or
    /// a list of `{isl, osl, probability}` (`--seq-dist`).
    #[serde(
        default,
        deserialize_with = "dataset_forms::opt_seq_dist",
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(with = "Option<dataset_forms::SeqDistForm>")]
    pub seq_dist: Option<Vec<SequenceShare>>,
}

impl PromptsSpec {
    /// Prompts of these lengths with no shared prefix.
    pub fn of_length(isl: TokenDistribution, osl: Option<TokenDistribution>) -> Self {
        Self {
            isl,
            osl,
            prefix_length: None,
            prefix_pool_size: None,
            shared_system_length: None,
            seq_dist: None,
        }
    }
}

/// How `seq_dist` may be written.
mod dataset_forms {
    use super::SequenceShare;
    use schemars::JsonSchema;
    use serde::{Deserialize, Deserializer};

    /// AIPerf's text, or the list.
    #[derive(Deserialize, JsonSchema)]
    #[serde(untagged)]
    pub enum SeqDistForm {
        /// `ISL,OSL:p;ISL,OSL:p`.
        Text(String),
        /// `[{isl, osl, probability}]`.
        List(Vec<SequenceShare>),
    }

    pub fn opt_seq_dist<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Vec<SequenceShare>>, D::Error> {
        let shares = match SeqDistForm::deserialize(d)? {
            SeqDistForm::Text(text) => {
                super::dataset::parse_seq_dist(&text).map_err(serde::de::Error::custom)?
            }
            SeqDistForm::List(list) => {
                super::dataset::check_shares(&list).map_err(serde::de::Error::custom)?;
                list
            }
        };
        Ok(Some(shares))
    }
}

/// Whether a phase's records count toward results.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum PhaseKind {
    /// Excluded from results (warms caches, connections and the server).
    Warmup,
    /// Measured.
    Profiling,
}

/// How arrivals are generated in a phase.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum PhaseType {
    /// Closed loop: `concurrency` requests always in flight.
    Concurrency,
    /// Open loop at a fixed interval of 1/rate.
    Constant,
    /// Open loop with exponentially distributed gaps (mean 1/rate).
    Poisson,
    /// Open loop with gamma-distributed gaps (mean 1/rate, coefficient of variation
    /// 1/sqrt(smoothness)): vLLM's `--burstiness`. Smoothness 1 is Poisson, below 1 burstier,
    /// above 1 more regular.
    Gamma,
    /// Trace replay: each request is sent at its input file line's `timestamp` (ms), scaled by
    /// `speedup`, from absolute deadlines; the phase ends when the trace (or its window) does.
    FixedSchedule,
}

impl PhaseType {
    /// Whether arrivals follow a schedule (a rate) rather than a closed loop.
    pub fn is_open_loop(self) -> bool {
        !matches!(self, PhaseType::Concurrency)
    }
}

/// One phase of load.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(from = "PhaseForm")]
pub struct PhaseSpec {
    /// Phase name (`warmup`, `profiling`).
    pub name: String,
    /// Whether results count.
    pub kind: PhaseKind,
    /// Arrival process.
    #[serde(rename = "type")]
    pub phase_type: PhaseType,
    /// Stop after this many requests were sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests: Option<u64>,
    /// Stop sending after this many seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<f64>,
    /// Closed-loop concurrency, or the in-flight cap of a rate phase.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concurrency: Option<u32>,
    /// Requests per second for `constant`, `poisson` and `gamma`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<f64>,
    /// Regularity of `gamma` arrivals (the gamma shape; default 1 = Poisson).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub smoothness: Option<f64>,
    /// Seconds to wait for in-flight requests after `duration`; then they are cancelled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grace_period: Option<f64>,
    /// Stop issuing requests once more than this many (a count) or this share (a rate) failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_request_threshold: Option<FailureThreshold>,
    /// Requests abandoned on purpose, to measure a server under clients that give up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancellation: Option<CancellationSpec>,
    /// Most requests waiting for their first token at once (sent, no token yet).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefill_concurrency: Option<u32>,
    /// Seconds over which the concurrency (or a rate phase's cap) rises from 1 to its value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concurrency_ramp: Option<f64>,
    /// Seconds over which the prefill concurrency rises from 1 to its value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefill_ramp: Option<f64>,
    /// Seconds over which the rate rises from rate x 0.1 s / ramp to its value, every 100 ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_ramp: Option<f64>,
    /// Fixed schedule: shift the trace so its first request is sent at once (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_offset: Option<bool>,
    /// Fixed schedule: replay from this trace time (ms, inclusive); the replay starts there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_offset: Option<f64>,
    /// Fixed schedule: replay up to this trace time (ms, inclusive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_offset: Option<f64>,
    /// Fixed schedule: divide every gap of the trace by this (2 = twice as fast).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub speedup: Option<f64>,
}

/// Requests a phase cancels on purpose (AIPerf's `cancellation`, `--request-cancellation-*`).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CancellationSpec {
    /// The percentage of requests cancelled, 0 to 100 (chosen per request from the seed).
    pub rate: f64,
    /// Seconds after a chosen request was sent that it is abandoned (its connection closed);
    /// 0 disconnects right after sending.
    #[serde(default, deserialize_with = "forms::seconds")]
    #[schemars(with = "DurationForm")]
    pub delay: f64,
}

/// A phase as written in YAML: `name` defaults to `profiling`, `kind` follows from the name
/// (or `exclude_from_results: true`), durations accept units.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct PhaseForm {
    /// Phase name (`warmup`, `profiling`, ...).
    #[serde(default = "default_phase_name")]
    name: String,
    /// Whether results count; default: `warmup` for a phase named warmup, else `profiling`.
    #[serde(default)]
    kind: Option<PhaseKind>,
    /// AIPerf's way of marking a warmup phase.
    #[serde(default)]
    exclude_from_results: Option<bool>,
    /// Arrival process.
    #[serde(rename = "type")]
    phase_type: PhaseType,
    /// Stop after this many requests were sent.
    #[serde(default)]
    #[schemars(range(min = 1))]
    requests: Option<u64>,
    /// Stop sending after this long (seconds, or "90s", "5m", "2h").
    #[serde(default, deserialize_with = "opt_seconds")]
    #[schemars(with = "Option<DurationForm>")]
    duration: Option<f64>,
    /// Closed-loop concurrency, or the in-flight cap of a rate phase.
    #[serde(default)]
    #[schemars(range(min = 1, max = 100_000))]
    concurrency: Option<u32>,
    /// Requests per second for `constant`, `poisson` and `gamma`.
    #[serde(default)]
    rate: Option<f64>,
    /// Regularity of `gamma` arrivals, the shape of the gamma gaps (AIPerf's `smoothness`,
    /// vLLM's `--burstiness`): 1 = Poisson (default), below 1 burstier, above 1 more regular.
    #[serde(default)]
    smoothness: Option<f64>,
    /// Wait this long for in-flight requests after `duration`, then cancel them (default 30 s).
    #[serde(default, deserialize_with = "opt_seconds")]
    #[schemars(with = "Option<DurationForm>")]
    grace_period: Option<f64>,
    /// Stop the phase early on a failing server: a count (`20`: once more than 20 requests
    /// failed), a fraction (`0.05`) or a percentage (`"5%"`: once more than 5% of the finished
    /// requests failed, judged after max(concurrency, 10) finished). In-flight requests get the
    /// grace period; the run exits 11 with everything measured on disk.
    #[serde(default)]
    failed_request_threshold: Option<FailureThreshold>,
    /// Cancel `rate` percent of the requests `delay` seconds after each is sent (0 = right
    /// after sending); cancelled requests are counted as cancelled, never as errors.
    #[serde(default)]
    cancellation: Option<CancellationSpec>,
    /// Most requests waiting for their first token at once: a request holds a prefill slot
    /// from when it is sent until its first token (needs streaming). At most `concurrency`.
    #[serde(default)]
    #[schemars(range(min = 1, max = 100_000))]
    prefill_concurrency: Option<u32>,
    /// Raise the concurrency (or a rate phase's in-flight cap) from 1 to its value in even
    /// steps over this long (seconds, "30s", or `{duration, strategy: linear}`).
    #[serde(default, deserialize_with = "forms::opt_ramp")]
    #[schemars(with = "Option<forms::RampForm>")]
    concurrency_ramp: Option<f64>,
    /// Raise the prefill concurrency from 1 to its value in even steps over this long.
    #[serde(default, deserialize_with = "forms::opt_ramp")]
    #[schemars(with = "Option<forms::RampForm>")]
    prefill_ramp: Option<f64>,
    /// Raise the rate over this long: it starts at rate x (0.1 s / ramp) and rises by that much
    /// every 100 ms until it reaches `rate` (AIPerf's steps).
    #[serde(default, deserialize_with = "forms::opt_ramp")]
    #[schemars(with = "Option<forms::RampForm>")]
    rate_ramp: Option<f64>,
    /// `fixed_schedule`: shift the trace so its first request goes at once (default true;
    /// not with `start_offset`/`end_offset`).
    #[serde(default, alias = "autoOffset")]
    auto_offset: Option<bool>,
    /// `fixed_schedule`: replay only requests at or after this trace time, in ms.
    #[serde(default, alias = "startOffset")]
    #[schemars(range(min = 0))]
    start_offset: Option<f64>,
    /// `fixed_schedule`: replay only requests at or before this trace time, in ms.
    #[serde(default, alias = "endOffset")]
    #[schemars(range(min = 0))]
    end_offset: Option<f64>,
    /// `fixed_schedule`: divide every gap of the trace by this (`--replay-speedup`; 2 = twice
    /// as fast, 0.5 = half as fast).
    #[serde(default)]
    speedup: Option<f64>,
}

fn default_phase_name() -> String {
    "profiling".into()
}

impl From<PhaseForm> for PhaseSpec {
    fn from(f: PhaseForm) -> Self {
        let kind = f
            .kind
            .unwrap_or(match (f.exclude_from_results, f.name.as_str()) {
                (Some(true), _) | (None, "warmup") => PhaseKind::Warmup,
                _ => PhaseKind::Profiling,
            });
        PhaseSpec {
            name: f.name,
            kind,
            phase_type: f.phase_type,
            requests: f.requests,
            duration: f.duration,
            concurrency: f.concurrency,
            rate: f.rate,
            smoothness: f.smoothness,
            grace_period: f.grace_period,
            failed_request_threshold: f.failed_request_threshold,
            cancellation: f.cancellation,
            prefill_concurrency: f.prefill_concurrency,
            concurrency_ramp: f.concurrency_ramp,
            prefill_ramp: f.prefill_ramp,
            rate_ramp: f.rate_ramp,
            auto_offset: f.auto_offset,
            start_offset: f.start_offset,
            end_offset: f.end_offset,
            speedup: f.speedup,
        }
    }
}

impl PhaseSpec {
    /// The grace period after a duration-bounded phase (AIPerf's default is 30 s).
    pub fn grace_period_or_default(&self) -> f64 {
        self.grace_period.unwrap_or(30.0)
    }

    /// How many requests the phase sends at most: `requests`, or without a duration AIPerf's
    /// default of max(10, 2 x concurrency); `None` for a phase bounded by its duration only.
    pub fn request_limit(&self) -> Option<u64> {
        match (self.requests, self.duration) {
            (Some(n), _) => Some(n),
            (None, Some(_)) => None,
            (None, None) => Some((2 * u64::from(self.concurrency.unwrap_or(1))).max(10)),
        }
    }

    /// Seconds from the phase start until its last ramp ends (0 without ramps).
    pub fn ramp_seconds(&self) -> f64 {
        [self.concurrency_ramp, self.prefill_ramp, self.rate_ramp]
            .into_iter()
            .flatten()
            .fold(0.0, f64::max)
    }

    /// The replay window and speed of a `fixed_schedule` phase.
    pub fn replay(&self) -> ReplayWindow {
        ReplayWindow {
            auto_offset: self.auto_offset.unwrap_or(self.start_offset.is_none()),
            start_ms: self.start_offset,
            end_ms: self.end_offset,
            speedup: self.speedup.unwrap_or(1.0),
        }
    }

    /// The gamma shape of a `gamma` phase (1 = Poisson when unset).
    pub fn smoothness_or_default(&self) -> f64 {
        self.smoothness.unwrap_or(1.0)
    }
}

/// Which part of a trace a fixed-schedule phase replays, and how fast.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReplayWindow {
    /// The replay starts at the first replayed request (its time is the origin).
    pub auto_offset: bool,
    /// Requests before this trace time (ms) are skipped; with it the origin is this time.
    pub start_ms: Option<f64>,
    /// Requests after this trace time (ms) are skipped.
    pub end_ms: Option<f64>,
    /// Gaps are divided by this.
    pub speedup: f64,
}

/// Output settings.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ArtifactsSpec {
    /// The run directory.
    #[serde(default = "default_artifact_dir")]
    pub dir: PathBuf,
    /// Draw plots into `<dir>/plots` when the run (or the whole experiment) ends. Unset: on when
    /// the experiment has a `plot:` block or its recipe plots by default, else off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_plot: Option<bool>,
    /// Fail the command (exit code 6) when auto-plot fails, instead of warning.
    #[serde(default)]
    pub plot_required: bool,
    /// Write AIPerf's timeslice files: the profiling phase cut into slices of this many seconds
    /// (or "30s"), each with its own statistics (`--slice-duration`).
    #[serde(
        default,
        deserialize_with = "opt_seconds",
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(with = "Option<DurationForm>")]
    pub slice_duration: Option<f64>,
}

fn default_artifact_dir() -> PathBuf {
    PathBuf::from("artifacts")
}

impl Default for ArtifactsSpec {
    fn default() -> Self {
        Self {
            dir: default_artifact_dir(),
            auto_plot: None,
            plot_required: false,
            slice_duration: None,
        }
    }
}

/// Which tokenizer counts tokens: a name, or `{name}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(from = "TokenizerForm")]
pub struct TokenizerSpec {
    /// `builtin`, a path to `tokenizer.json` (or a directory holding one), or a HuggingFace model
    /// id found in the local HF cache. Absent: the model id if cached, else `builtin`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(untagged)]
enum TokenizerForm {
    /// `builtin`, a path, or a HuggingFace model id.
    Name(String),
    /// The canonical form.
    Full {
        /// `builtin`, a path, or a HuggingFace model id.
        #[serde(default)]
        name: Option<String>,
    },
}

impl From<TokenizerForm> for TokenizerSpec {
    fn from(form: TokenizerForm) -> Self {
        match form {
            TokenizerForm::Name(name) => TokenizerSpec { name: Some(name) },
            TokenizerForm::Full { name } => TokenizerSpec { name },
        }
    }
}

/// Console presentation.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RuntimeSpec {
    /// Progress display.
    #[serde(default)]
    pub ui: UiType,
    /// Record processors working in parallel (1-64). Default: one per four usable cores, at
    /// least one. Results are the same for any number; more only add processing capacity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 64))]
    pub record_processors: Option<u32>,
}

/// Progress display style.
#[derive(
    Debug, Clone, Copy, Default, Serialize, Deserialize, JsonSchema, PartialEq, Eq, clap::ValueEnum,
)]
#[serde(rename_all = "snake_case")]
pub enum UiType {
    /// A progress bar on a terminal, periodic progress lines otherwise.
    #[default]
    #[value(alias = "dashboard")]
    Simple,
    /// No progress output; the results table is still printed.
    None,
}

impl BenchmarkSpec {
    /// The model name sent in requests.
    pub fn model_name(&self) -> &str {
        self.models
            .items
            .first()
            .map(|m| m.name.as_str())
            .unwrap_or("")
    }

    /// Makes relative input-file paths relative to `base` (the experiment file's directory).
    pub fn resolve_input_paths(&mut self, base: &std::path::Path) {
        for dataset in &mut self.datasets {
            if let Some(path) = &dataset.path
                && path.is_relative()
                && !base.as_os_str().is_empty()
            {
                dataset.path = Some(base.join(path));
            }
        }
    }

    /// The single dataset.
    pub fn dataset(&self) -> &DatasetSpec {
        &self.datasets[0]
    }

    /// The measured phase (validation guarantees there is exactly one, and it is last).
    pub fn profiling_phase(&self) -> &PhaseSpec {
        self.phases
            .iter()
            .rev()
            .find(|p| p.kind == PhaseKind::Profiling)
            .unwrap_or(&self.phases[0])
    }
}

/// Small specs for unit tests.
#[cfg(test)]
pub mod test_support {
    use super::*;

    /// A valid spec: chat against mock://, concurrency 1, 10 requests.
    pub fn minimal_spec() -> BenchmarkSpec {
        BenchmarkSpec {
            models: ModelsSpec {
                items: vec![ModelItem {
                    name: "mock-model".into(),
                }],
            },
            endpoint: EndpointSpec {
                urls: vec!["mock://".into()],
                endpoint_type: EndpointType::Chat,
                path: None,
                streaming: true,
                api_key: None,
                headers: BTreeMap::new(),
                extra: serde_json::Map::new(),
                timeout: 60.0,
                use_server_token_count: false,
                use_legacy_max_tokens: false,
                wait_for_model_timeout: 0.0,
                rankings_passages: None,
                template: None,
                connection_reuse: Default::default(),
                per_chunk_usage: false,
            },
            datasets: vec![DatasetSpec {
                name: "main".into(),
                dataset_type: DatasetType::Synthetic,
                entries: 10,
                prompts: PromptsSpec::of_length(
                    TokenDistribution::fixed(100.0),
                    Some(TokenDistribution::fixed(16.0)),
                ),
                path: None,
                format: None,
                sampling: SamplingStrategy::default(),
                block_size: None,
            }],
            phases: vec![PhaseSpec {
                name: "profiling".into(),
                kind: PhaseKind::Profiling,
                phase_type: PhaseType::Concurrency,
                requests: Some(10),
                duration: None,
                concurrency: Some(1),
                rate: None,
                smoothness: None,
                grace_period: None,
                failed_request_threshold: None,
                cancellation: None,
                prefill_concurrency: None,
                concurrency_ramp: None,
                prefill_ramp: None,
                rate_ramp: None,
                auto_offset: None,
                start_offset: None,
                end_offset: None,
                speedup: None,
            }],
            artifacts: ArtifactsSpec::default(),
            slos: BTreeMap::new(),
            thresholds: Vec::new(),
            tokenizer: TokenizerSpec::default(),
            runtime: RuntimeSpec::default(),
            random_seed: Some(1),
            plot: None,
            wandb: WandbSpec::default(),
        }
    }
}
