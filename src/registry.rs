//! The metric registry: every metric `aiperf` reports, listed once.
//!
//! A metric's tag, display header, unit and flags live here and nowhere else; exporters, the
//! console table, goodput SLO parsing and documentation all read this table. Definitions (how a
//! value is computed) live in `record_metrics.rs` (per request) and `summary.rs` (per run).

/// The unit a metric is displayed and exported in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Milliseconds (measured in nanoseconds, exported in ms).
    Ms,
    /// Seconds.
    Sec,
    /// Tokens.
    Tokens,
    /// Tokens per second.
    TokensPerSec,
    /// Tokens per second for one user (one request).
    TokensPerSecPerUser,
    /// Requests.
    Requests,
    /// Requests per second.
    RequestsPerSec,
    /// Percent (0-100).
    Percent,
    /// A ratio (0-1).
    Ratio,
}

impl Unit {
    /// The unit string used in JSON exports (`"unit": "ms"`) and CSV headers.
    pub fn as_str(self) -> &'static str {
        match self {
            Unit::Ms => "ms",
            Unit::Sec => "sec",
            Unit::Tokens => "tokens",
            Unit::TokensPerSec => "tokens/sec",
            Unit::TokensPerSecPerUser => "tokens/sec/user",
            Unit::Requests => "requests",
            Unit::RequestsPerSec => "requests/sec",
            Unit::Percent => "%",
            Unit::Ratio => "ratio",
        }
    }
}

/// Whether a metric has one value per request or one value per run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricKind {
    /// One value per request (or several, for inter-chunk latency): summarised as a distribution.
    Record,
    /// One value per run (a count, sum or ratio).
    Scalar,
}

/// Every metric, by identity. The discriminant indexes [`REGISTRY`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(usize)]
#[allow(missing_docs)]
pub enum MetricId {
    RequestLatency,
    TimeToFirstToken,
    TimeToSecondToken,
    TimeToFirstOutputToken,
    InterTokenLatency,
    InterChunkLatency,
    DecodeDuration,
    OutputTokenThroughputPerUser,
    PrefillThroughputPerUser,
    E2eOutputTokenThroughput,
    InputSequenceLength,
    OutputSequenceLength,
    OutputTokenCount,
    ReasoningTokenCount,
    UsagePromptTokens,
    UsageCompletionTokens,
    UsageTotalTokens,
    UsageReasoningTokens,
    UsagePromptCacheReadTokens,
    UsagePromptTokensDiffPct,
    UsageCompletionTokensDiffPct,
    UsageReasoningTokensDiffPct,
    OslMismatchDiffPct,
    ScheduleLag,
    HttpReqBlocked,
    EffectiveRequestLatency,
    EffectiveTimeToFirstToken,
    SessionDuration,
    SessionTurns,
    RequestCount,
    ErrorRequestCount,
    CancelledRequestCount,
    CompletedRequestCount,
    GoodRequestCount,
    GoodRequestFraction,
    Goodput,
    RequestErrorRate,
    BenchmarkDuration,
    RequestThroughput,
    OutputTokenThroughput,
    InputTokenThroughput,
    TotalTokenThroughput,
    TotalIsl,
    TotalOsl,
    TotalOutputTokens,
    TotalReasoningTokens,
    TotalUsagePromptTokens,
    TotalUsageCompletionTokens,
    TotalUsageTotalTokens,
    OslMismatchCount,
    UsageDiscrepancyCount,
}

/// Flags that change how a metric is computed or shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetricFlags {
    /// Needs per-event timing, so it exists only for streamed responses.
    pub streaming_only: bool,
    /// Larger values are better (goodput SLOs compare with `>=`).
    pub larger_is_better: bool,
    /// Needs token counts (not produced by embeddings).
    pub needs_tokens: bool,
}

const NONE: MetricFlags = MetricFlags {
    streaming_only: false,
    larger_is_better: false,
    needs_tokens: false,
};

crate::sentence_error!(
    /// A metric tag the registry does not have (with the closest one, when there is one).
    UnknownMetric
);
const STREAM: MetricFlags = MetricFlags {
    streaming_only: true,
    larger_is_better: false,
    needs_tokens: false,
};
const STREAM_TOKENS: MetricFlags = MetricFlags {
    streaming_only: true,
    larger_is_better: false,
    needs_tokens: true,
};
const STREAM_UP: MetricFlags = MetricFlags {
    streaming_only: true,
    larger_is_better: true,
    needs_tokens: true,
};
const TOKENS: MetricFlags = MetricFlags {
    streaming_only: false,
    larger_is_better: false,
    needs_tokens: true,
};
const TOKENS_UP: MetricFlags = MetricFlags {
    streaming_only: false,
    larger_is_better: true,
    needs_tokens: true,
};
const UP: MetricFlags = MetricFlags {
    streaming_only: false,
    larger_is_better: true,
    needs_tokens: false,
};

/// The static description of one metric.
#[derive(Debug, Clone, Copy)]
pub struct MetricDef {
    /// Identity.
    pub id: MetricId,
    /// Stable tag used in JSON keys, CSV lookups and `--goodput` (AIPerf's names).
    pub tag: &'static str,
    /// Human header, e.g. "Time to First Token".
    pub header: &'static str,
    /// Display unit.
    pub unit: Unit,
    /// Per request or per run.
    pub kind: MetricKind,
    /// Behaviour flags.
    pub flags: MetricFlags,
    /// One-line definition, for documentation and `--help`.
    pub definition: &'static str,
}

macro_rules! metric {
    ($id:ident, $tag:literal, $header:literal, $unit:ident, $kind:ident, $flags:ident, $def:literal) => {
        MetricDef {
            id: MetricId::$id,
            tag: $tag,
            header: $header,
            unit: Unit::$unit,
            kind: MetricKind::$kind,
            flags: $flags,
            definition: $def,
        }
    };
}

/// Every metric, in `MetricId` order.
pub const REGISTRY: &[MetricDef] = &[
    metric!(
        RequestLatency,
        "request_latency",
        "Request Latency",
        Ms,
        Record,
        NONE,
        "last content event - send time (non-streaming: end of body - send time)"
    ),
    metric!(
        TimeToFirstToken,
        "time_to_first_token",
        "Time to First Token",
        Ms,
        Record,
        STREAM,
        "first content or reasoning event - send time"
    ),
    metric!(
        TimeToSecondToken,
        "time_to_second_token",
        "Time to Second Token",
        Ms,
        Record,
        STREAM,
        "second content event - first content event"
    ),
    metric!(
        TimeToFirstOutputToken,
        "time_to_first_output_token",
        "Time to First Output Token",
        Ms,
        Record,
        STREAM,
        "first non-reasoning content event - send time"
    ),
    metric!(
        InterTokenLatency,
        "inter_token_latency",
        "Inter Token Latency",
        Ms,
        Record,
        STREAM_TOKENS,
        "(request latency - TTFT) / (output sequence length - 1), for OSL >= 2"
    ),
    metric!(
        InterChunkLatency,
        "inter_chunk_latency",
        "Inter Chunk Latency",
        Ms,
        Record,
        STREAM,
        "gaps between consecutive content events (every gap of every request)"
    ),
    metric!(
        DecodeDuration,
        "decode_duration",
        "Decode Duration",
        Ms,
        Record,
        STREAM,
        "request latency - TTFT"
    ),
    metric!(
        OutputTokenThroughputPerUser,
        "output_token_throughput_per_user",
        "Output Token Throughput Per User",
        TokensPerSecPerUser,
        Record,
        STREAM_UP,
        "1 / inter token latency"
    ),
    metric!(
        PrefillThroughputPerUser,
        "prefill_throughput_per_user",
        "Prefill Throughput Per User",
        TokensPerSecPerUser,
        Record,
        STREAM_UP,
        "input sequence length / TTFT"
    ),
    metric!(
        E2eOutputTokenThroughput,
        "e2e_output_token_throughput",
        "E2E Output Token Throughput",
        TokensPerSecPerUser,
        Record,
        TOKENS_UP,
        "output sequence length / request latency"
    ),
    metric!(
        InputSequenceLength,
        "input_sequence_length",
        "Input Sequence Length",
        Tokens,
        Record,
        NONE,
        "prompt tokens counted by the client tokenizer"
    ),
    metric!(
        OutputSequenceLength,
        "output_sequence_length",
        "Output Sequence Length",
        Tokens,
        Record,
        TOKENS,
        "output tokens + reasoning tokens"
    ),
    metric!(
        OutputTokenCount,
        "output_token_count",
        "Output Token Count",
        Tokens,
        Record,
        TOKENS,
        "tokens of the (non-reasoning) answer text"
    ),
    metric!(
        ReasoningTokenCount,
        "reasoning_token_count",
        "Reasoning Token Count",
        Tokens,
        Record,
        TOKENS,
        "tokens of reasoning_content (only requests that reasoned)"
    ),
    metric!(
        UsagePromptTokens,
        "usage_prompt_tokens",
        "Usage Prompt Tokens",
        Tokens,
        Record,
        NONE,
        "server-reported usage.prompt_tokens"
    ),
    metric!(
        UsageCompletionTokens,
        "usage_completion_tokens",
        "Usage Completion Tokens",
        Tokens,
        Record,
        TOKENS,
        "server-reported usage.completion_tokens"
    ),
    metric!(
        UsageTotalTokens,
        "usage_total_tokens",
        "Usage Total Tokens",
        Tokens,
        Record,
        NONE,
        "server-reported usage.total_tokens"
    ),
    metric!(
        UsageReasoningTokens,
        "usage_reasoning_tokens",
        "Usage Reasoning Tokens",
        Tokens,
        Record,
        TOKENS,
        "server-reported usage.completion_tokens_details.reasoning_tokens"
    ),
    metric!(
        UsagePromptCacheReadTokens,
        "usage_prompt_cache_read_tokens",
        "Usage Prompt Cache Read Tokens",
        Tokens,
        Record,
        NONE,
        "server-reported usage.prompt_tokens_details.cached_tokens"
    ),
    metric!(
        UsagePromptTokensDiffPct,
        "usage_prompt_tokens_diff_pct",
        "Usage Prompt Diff %",
        Percent,
        Record,
        NONE,
        "|usage prompt tokens - ISL| / ISL x 100"
    ),
    metric!(
        UsageCompletionTokensDiffPct,
        "usage_completion_tokens_diff_pct",
        "Usage Completion Diff %",
        Percent,
        Record,
        TOKENS,
        "|usage completion tokens - OSL| / OSL x 100"
    ),
    metric!(
        UsageReasoningTokensDiffPct,
        "usage_reasoning_tokens_diff_pct",
        "Usage Reasoning Diff %",
        Percent,
        Record,
        TOKENS,
        "|usage reasoning tokens - reasoning tokens| / reasoning tokens x 100"
    ),
    metric!(
        OslMismatchDiffPct,
        "osl_mismatch_diff_pct",
        "OSL Mismatch Diff %",
        Percent,
        Record,
        TOKENS,
        "(OSL - requested max tokens) / requested max tokens x 100 (signed)"
    ),
    metric!(
        ScheduleLag,
        "schedule_lag",
        "Schedule Lag",
        Ms,
        Record,
        NONE,
        "send time - intended send time (how late the client sent the request)"
    ),
    metric!(
        HttpReqBlocked,
        "http_req_blocked",
        "HTTP Request Blocked",
        Ms,
        Record,
        NONE,
        "time waiting for a connection before the send (a connect, or an idle connection catching up); 0 when one was ready"
    ),
    metric!(
        EffectiveRequestLatency,
        "effective_request_latency",
        "Effective Request Latency",
        Ms,
        Record,
        NONE,
        "request latency measured from the intended send time (coordinated-omission corrected)"
    ),
    metric!(
        EffectiveTimeToFirstToken,
        "effective_time_to_first_token",
        "Effective Time to First Token",
        Ms,
        Record,
        STREAM,
        "TTFT measured from the intended send time (coordinated-omission corrected)"
    ),
    metric!(
        SessionDuration,
        "session_duration",
        "Session Duration",
        Ms,
        Record,
        NONE,
        "a conversation of several turns (input files): from its first turn's intended send time to its last turn's end, think times included; on the last turn's record"
    ),
    metric!(
        SessionTurns,
        "session_turns",
        "Turns Per Session",
        Requests,
        Record,
        NONE,
        "a conversation of several turns (input files): the turns it sent, on the last turn's record"
    ),
    metric!(
        RequestCount,
        "request_count",
        "Request Count",
        Requests,
        Scalar,
        NONE,
        "successful requests"
    ),
    metric!(
        ErrorRequestCount,
        "error_request_count",
        "Error Request Count",
        Requests,
        Scalar,
        NONE,
        "requests that ended in an error"
    ),
    metric!(
        CancelledRequestCount,
        "cancelled_request_count",
        "Cancelled Request Count",
        Requests,
        Scalar,
        NONE,
        "requests cancelled at the end of the grace period or by Ctrl-C"
    ),
    metric!(
        CompletedRequestCount,
        "completed_request_count",
        "Completed Requests (Success + Error)",
        Requests,
        Scalar,
        NONE,
        "successful + error requests"
    ),
    metric!(
        GoodRequestCount,
        "good_request_count",
        "Good Request Count",
        Requests,
        Scalar,
        NONE,
        "successful requests meeting every SLO"
    ),
    metric!(
        GoodRequestFraction,
        "good_request_fraction",
        "Good Request Fraction",
        Ratio,
        Scalar,
        UP,
        "good requests / (successful + error requests)"
    ),
    metric!(
        Goodput,
        "goodput",
        "Goodput",
        RequestsPerSec,
        Scalar,
        UP,
        "good requests / benchmark duration"
    ),
    metric!(
        RequestErrorRate,
        "request_error_rate",
        "Request Error Rate",
        Percent,
        Scalar,
        NONE,
        "error requests / (successful + error requests) x 100"
    ),
    metric!(
        BenchmarkDuration,
        "benchmark_duration",
        "Benchmark Duration",
        Sec,
        Scalar,
        NONE,
        "last response end - first request send"
    ),
    metric!(
        RequestThroughput,
        "request_throughput",
        "Request Throughput",
        RequestsPerSec,
        Scalar,
        UP,
        "successful requests / benchmark duration"
    ),
    metric!(
        OutputTokenThroughput,
        "output_token_throughput",
        "Output Token Throughput",
        TokensPerSec,
        Scalar,
        TOKENS_UP,
        "total output sequence length / benchmark duration"
    ),
    metric!(
        InputTokenThroughput,
        "input_token_throughput",
        "Input Token Throughput",
        TokensPerSec,
        Scalar,
        UP,
        "total input sequence length / benchmark duration"
    ),
    metric!(
        TotalTokenThroughput,
        "total_token_throughput",
        "Total Token Throughput",
        TokensPerSec,
        Scalar,
        TOKENS_UP,
        "(total ISL + total OSL) / benchmark duration"
    ),
    metric!(
        TotalIsl,
        "total_isl",
        "Total Input Sequence Length",
        Tokens,
        Scalar,
        NONE,
        "sum of input sequence lengths"
    ),
    metric!(
        TotalOsl,
        "total_osl",
        "Total Output Sequence Length",
        Tokens,
        Scalar,
        TOKENS,
        "sum of output sequence lengths"
    ),
    metric!(
        TotalOutputTokens,
        "total_output_tokens",
        "Total Output Tokens",
        Tokens,
        Scalar,
        TOKENS,
        "sum of output token counts"
    ),
    metric!(
        TotalReasoningTokens,
        "total_reasoning_tokens",
        "Total Reasoning Tokens",
        Tokens,
        Scalar,
        TOKENS,
        "sum of reasoning token counts"
    ),
    metric!(
        TotalUsagePromptTokens,
        "total_usage_prompt_tokens",
        "Total Usage Prompt Tokens",
        Tokens,
        Scalar,
        NONE,
        "sum of usage.prompt_tokens"
    ),
    metric!(
        TotalUsageCompletionTokens,
        "total_usage_completion_tokens",
        "Total Usage Completion Tokens",
        Tokens,
        Scalar,
        TOKENS,
        "sum of usage.completion_tokens"
    ),
    metric!(
        TotalUsageTotalTokens,
        "total_usage_total_tokens",
        "Total Usage Total Tokens",
        Tokens,
        Scalar,
        NONE,
        "sum of usage.total_tokens"
    ),
    metric!(
        OslMismatchCount,
        "osl_mismatch_count",
        "OSL Mismatch Count",
        Requests,
        Scalar,
        TOKENS,
        "requests whose |OSL - requested| exceeds min(5% of requested, 50 tokens)"
    ),
    metric!(
        UsageDiscrepancyCount,
        "usage_discrepancy_count",
        "Usage Discrepancy Count",
        Requests,
        Scalar,
        NONE,
        "requests where a usage diff exceeds 10%"
    ),
];

impl MetricId {
    /// The static description of this metric.
    pub fn def(self) -> &'static MetricDef {
        &REGISTRY[self as usize]
    }

    /// The stable tag.
    pub fn tag(self) -> &'static str {
        self.def().tag
    }

    /// Every metric id in registry order.
    pub fn all() -> impl Iterator<Item = MetricId> {
        REGISTRY.iter().map(|d| d.id)
    }

    /// Looks a metric up by its tag.
    pub fn from_tag(tag: &str) -> Option<MetricId> {
        REGISTRY.iter().find(|d| d.tag == tag).map(|d| d.id)
    }

    /// Looks a metric up by its tag, or explains: `unknown metric 'x' (did you mean 'y'?)`.
    pub fn parse(tag: &str) -> Result<MetricId, UnknownMetric> {
        Self::from_tag(tag).ok_or_else(|| {
            let hint = crate::support::suggest::closest(tag, REGISTRY.iter().map(|d| d.tag))
                .map(|s| format!(" (did you mean '{s}'?)"))
                .unwrap_or_default();
            UnknownMetric(format!("unknown metric '{tag}'{hint}"))
        })
    }
}

/// Number of metrics (the size of per-metric arrays).
pub const METRIC_COUNT: usize = MetricId::UsageDiscrepancyCount as usize + 1;

/// The rows of the console results table, in order.
pub const CONSOLE_METRICS: &[MetricId] = &[
    MetricId::TimeToFirstToken,
    MetricId::TimeToSecondToken,
    MetricId::RequestLatency,
    MetricId::InterTokenLatency,
    MetricId::OutputTokenThroughputPerUser,
    MetricId::OutputSequenceLength,
    MetricId::InputSequenceLength,
    MetricId::ScheduleLag,
    MetricId::OutputTokenThroughput,
    MetricId::RequestThroughput,
    MetricId::Goodput,
    MetricId::RequestCount,
    MetricId::ErrorRequestCount,
    MetricId::CancelledRequestCount,
];

/// Display label, e.g. `Time to First Token (ms)`.
pub fn label(def: &MetricDef) -> String {
    format!("{} ({})", def.header, def.unit.as_str())
}

/// The short name tables with little room use (AIPerf's short headers), e.g. `TTFT`.
pub fn short_header(id: MetricId) -> &'static str {
    match id {
        MetricId::TimeToFirstToken => "TTFT",
        MetricId::TimeToSecondToken => "TTST",
        MetricId::InterTokenLatency => "ITL",
        MetricId::OutputTokenThroughputPerUser => "Output TPS Per User",
        MetricId::OutputSequenceLength => "OSL",
        MetricId::InputSequenceLength => "ISL",
        MetricId::OutputTokenThroughput => "Output TPS",
        other => other.def().header,
    }
}

/// Short label with unit, e.g. `TTFT (ms)`.
pub fn short_label(def: &MetricDef) -> String {
    format!("{} ({})", short_header(def.id), def.unit.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_is_indexed_by_id_and_tags_are_unique() {
        assert_eq!(REGISTRY.len(), METRIC_COUNT);
        for (i, def) in REGISTRY.iter().enumerate() {
            assert_eq!(def.id as usize, i, "{} is out of order", def.tag);
        }
        let mut tags: Vec<&str> = REGISTRY.iter().map(|d| d.tag).collect();
        tags.sort_unstable();
        tags.dedup();
        assert_eq!(tags.len(), REGISTRY.len());
    }

    #[test]
    fn lookup_by_tag_round_trips() {
        for def in REGISTRY {
            assert_eq!(MetricId::from_tag(def.tag), Some(def.id));
        }
        assert_eq!(MetricId::from_tag("nope"), None);
    }
}
