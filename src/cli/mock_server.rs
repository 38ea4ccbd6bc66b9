//! `aiperf mock-server`: serve the embedded mock server until Ctrl-C.

use crate::mock::MockConfig;

/// Flags of `aiperf mock-server`.
#[derive(Debug, clap::Args)]
pub struct MockServerArgs {
    /// Port to listen on (0 = a free port, printed at start).
    #[arg(long, default_value_t = 8000)]
    pub port: u16,
    /// Address to bind.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// Append one JSON line per streamed response with the server's own wall-clock times
    /// (received, first token handed to the connection, end) and the `X-Request-ID` header, to
    /// check a client's measurements against (`bench/measurement_truth.sh`).
    #[arg(long, value_name = "FILE")]
    pub timing_log: Option<std::path::PathBuf>,
    /// Append one JSON line per chat or completions request as it arrives: its body as
    /// received, its `X-Request-ID`, and the text the answer carries, to check what a client
    /// sent (prompt prefixes, conversation history).
    #[arg(long, value_name = "FILE")]
    pub request_log: Option<std::path::PathBuf>,
    /// Behaviour of the server.
    #[command(flatten)]
    pub behaviour: MockFlags,
}

/// The mock server's settings as flags: the names and defaults of [`MockConfig`], whose
/// `mock://` URL keys are the same words in snake_case.
#[derive(Debug, clap::Args)]
pub struct MockFlags {
    /// Model id listed by /v1/models (requests may name any model).
    #[arg(long = "model-name", default_value_t = MockConfig::default().model)]
    pub model: String,
    /// Time to first token at no load, in ms (plus prefill time per prompt token).
    #[arg(long, default_value_t = MockConfig::default().ttft_ms)]
    pub ttft_ms: f64,
    /// Prefill time per prompt token, in ms.
    #[arg(long, default_value_t = MockConfig::default().prefill_ms_per_token)]
    pub prefill_ms_per_token: f64,
    /// Time between tokens at no load, in ms.
    #[arg(long, default_value_t = MockConfig::default().itl_ms)]
    pub itl_ms: f64,
    /// Random variation of every delay, as a fraction (0.1 = ±10%, uniform).
    #[arg(long, default_value_t = MockConfig::default().jitter)]
    pub jitter: f64,
    /// Maximum sequences decoded together; 0 = unlimited (every request on its own clock).
    /// Above 0 the continuous-batching capacity model applies.
    #[arg(long, default_value_t = MockConfig::default().max_batch)]
    pub max_batch: u32,
    /// Growth of the decode step time per extra sequence in the batch, in ms.
    #[arg(long, default_value_t = MockConfig::default().decode_ms_per_seq)]
    pub decode_ms_per_seq: f64,
    /// Output length when the request sets no max_tokens.
    #[arg(long, default_value_t = MockConfig::default().default_max_tokens)]
    pub default_max_tokens: u32,
    /// Reasoning tokens (`reasoning_content`) emitted before the answer.
    #[arg(long, default_value_t = MockConfig::default().reasoning_tokens)]
    pub reasoning_tokens: u32,
    /// Answer tokens sent together in the first streamed chunk (1 = one per chunk).
    #[arg(long, default_value_t = MockConfig::default().first_chunk_tokens)]
    pub first_chunk_tokens: u32,
    /// Fraction of requests answered with an error status.
    #[arg(long, default_value_t = MockConfig::default().error_rate)]
    pub error_rate: f64,
    /// The status of injected errors.
    #[arg(long, default_value_t = MockConfig::default().error_status)]
    pub error_status: u16,
    /// Fraction of requests answered 429 with Retry-After.
    #[arg(long, default_value_t = MockConfig::default().rate_limit_rate)]
    pub rate_limit_rate: f64,
    /// Retry-After seconds on 429 answers.
    #[arg(long, default_value_t = MockConfig::default().retry_after_s)]
    pub retry_after_s: u32,
    /// Fraction of streams whose connection is reset halfway.
    #[arg(long, default_value_t = MockConfig::default().reset_rate)]
    pub reset_rate: f64,
    /// Fraction of streams with a malformed (truncated JSON) event halfway.
    #[arg(long, default_value_t = MockConfig::default().malformed_rate)]
    pub malformed_rate: f64,
    /// Fraction of streams that send an error object halfway and end.
    #[arg(long, default_value_t = MockConfig::default().stream_error_rate)]
    pub stream_error_rate: f64,
    /// Fraction of streams that stall halfway for `stall_ms`.
    #[arg(long, default_value_t = MockConfig::default().stall_rate)]
    pub stall_rate: f64,
    /// Length of an injected stall, in ms.
    #[arg(long, default_value_t = MockConfig::default().stall_ms)]
    pub stall_ms: f64,
    /// Seed for jitter and fault choices.
    #[arg(long, default_value_t = MockConfig::default().seed)]
    pub seed: u64,
}

impl From<MockFlags> for MockConfig {
    fn from(f: MockFlags) -> Self {
        Self {
            model: f.model,
            ttft_ms: f.ttft_ms,
            prefill_ms_per_token: f.prefill_ms_per_token,
            itl_ms: f.itl_ms,
            jitter: f.jitter,
            max_batch: f.max_batch,
            decode_ms_per_seq: f.decode_ms_per_seq,
            default_max_tokens: f.default_max_tokens,
            reasoning_tokens: f.reasoning_tokens,
            first_chunk_tokens: f.first_chunk_tokens,
            error_rate: f.error_rate,
            error_status: f.error_status,
            rate_limit_rate: f.rate_limit_rate,
            retry_after_s: f.retry_after_s,
            reset_rate: f.reset_rate,
            malformed_rate: f.malformed_rate,
            stream_error_rate: f.stream_error_rate,
            stall_rate: f.stall_rate,
            stall_ms: f.stall_ms,
            seed: f.seed,
        }
    }
}
