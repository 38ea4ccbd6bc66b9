//! Per-request metric definitions: pure functions from what was observed about one successful
//! request to its metric values. Each definition is stated once, here, and tested on
//! hand-computed fixtures.

use crate::endpoint::Usage;
use crate::registry::MetricId;

/// Nanoseconds per millisecond.
const NS_PER_MS: f64 = 1e6;

/// Everything the definitions need about one successful request. Times are run-clock ns.
#[derive(Debug, Clone, Default)]
pub struct Observation {
    /// When the schedule wanted it sent.
    pub intended_ns: u64,
    /// When it was sent (it had a connection).
    pub sent_ns: u64,
    /// How long it waited for a connection before that.
    pub blocked_ns: u64,
    /// When the last byte arrived.
    pub end_ns: u64,
    /// Whether the response was an SSE stream.
    pub streamed: bool,
    /// Arrival times of events that carried text, each with whether it carried answer content
    /// (false = reasoning only). Role-only, usage-only and empty events are not listed.
    pub text_events: Vec<(u64, bool)>,
    /// Input tokens.
    pub input_tokens: u32,
    /// Output token counts: (answer tokens, reasoning tokens). `None` for APIs without output.
    pub output_tokens: Option<(u64, u64)>,
    /// Whether the response carried reasoning text at all.
    pub has_reasoning: bool,
    /// The requested output length (`max_tokens`).
    pub requested_osl: Option<u32>,
    /// Server-reported usage.
    pub usage: Option<Usage>,
    /// Tokens in the first content chunk, from the server's per-chunk usage
    /// (`--per-chunk-usage`); `None` = one.
    pub first_chunk_tokens: Option<u64>,
    /// The last turn of a conversation of several: when its first turn was due, and its turns.
    pub session_end: Option<crate::load::record::SessionEnd>,
}

/// Room for the most scalar values one request can have (every optional metric present; a
/// unit test checks the fullest request fits).
const MOST_VALUES: usize = 32;

/// Metric values of one request.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RequestMetrics {
    /// Scalar per-request values, in display units.
    pub values: Vec<(MetricId, f64)>,
    /// Inter-chunk gaps in ms.
    pub inter_chunk_latency: Vec<f64>,
    /// Output sequence length (for run totals).
    pub osl: Option<u64>,
    /// Whether OSL differs from the requested length by more than the mismatch threshold.
    pub osl_mismatch: bool,
    /// Whether a usage count differs from the client count by more than 10%.
    pub usage_discrepancy: bool,
}

impl RequestMetrics {
    /// The value of a metric, if this request has one.
    pub fn get(&self, id: MetricId) -> Option<f64> {
        self.values.iter().find(|(m, _)| *m == id).map(|(_, v)| *v)
    }
}

/// AIPerf's OSL mismatch rule: |OSL - requested| > min(5% of requested, 50 tokens).
const OSL_MISMATCH_PCT: f64 = 5.0;
const OSL_MISMATCH_MAX_TOKENS: f64 = 50.0;
/// AIPerf's usage discrepancy threshold in percent.
const USAGE_DIFF_PCT: f64 = 10.0;

fn ms(from: u64, to: u64) -> f64 {
    to.saturating_sub(from) as f64 / NS_PER_MS
}

fn pct_diff(reported: f64, client: f64) -> Option<f64> {
    (client > 0.0).then(|| (reported - client).abs() / client * 100.0)
}

/// Computes every per-request metric of a successful request.
pub fn compute(obs: &Observation) -> RequestMetrics {
    // Room for every value one request can have, so the list is allocated once (it grew
    // four times per request, which the record processor paid on every record).
    let mut m = RequestMetrics {
        values: Vec::with_capacity(MOST_VALUES),
        ..RequestMetrics::default()
    };
    let mut put = |id: MetricId, v: f64| m.values.push((id, v));

    let first_text = obs.text_events.first().map(|e| e.0);
    let last_text = obs.text_events.last().map(|e| e.0);
    let latency_end = if obs.streamed {
        last_text.unwrap_or(obs.end_ns)
    } else {
        obs.end_ns
    };
    let latency = ms(obs.sent_ns, latency_end);
    put(MetricId::RequestLatency, latency);
    put(MetricId::ScheduleLag, ms(obs.intended_ns, obs.sent_ns));
    put(MetricId::HttpReqBlocked, obs.blocked_ns as f64 / NS_PER_MS);
    put(
        MetricId::EffectiveRequestLatency,
        ms(obs.intended_ns, latency_end),
    );
    put(MetricId::InputSequenceLength, obs.input_tokens as f64);
    if let Some(session) = obs.session_end {
        put(
            MetricId::SessionDuration,
            ms(session.started_ns, latency_end),
        );
        put(MetricId::SessionTurns, f64::from(session.turns));
    }

    let osl = obs
        .output_tokens
        .map(|(answer, reasoning)| answer + reasoning);
    let ttft = if obs.streamed {
        first_text.map(|t| ms(obs.sent_ns, t))
    } else {
        None
    };
    if let (true, Some(first)) = (obs.streamed, first_text) {
        let ttft = ms(obs.sent_ns, first);
        put(MetricId::TimeToFirstToken, ttft);
        put(
            MetricId::EffectiveTimeToFirstToken,
            ms(obs.intended_ns, first),
        );
        if let Some(second) = obs.text_events.get(1) {
            put(MetricId::TimeToSecondToken, ms(first, second.0));
        }
        if let Some(first_output) = obs.text_events.iter().find(|e| e.1) {
            put(
                MetricId::TimeToFirstOutputToken,
                ms(obs.sent_ns, first_output.0),
            );
        }
        put(MetricId::DecodeDuration, latency - ttft);
        if ttft > 0.0 {
            put(
                MetricId::PrefillThroughputPerUser,
                obs.input_tokens as f64 / (ttft / 1e3),
            );
        }
        m.inter_chunk_latency = obs
            .text_events
            .windows(2)
            .map(|w| ms(w[0].0, w[1].0))
            .collect();
    }
    if let Some((answer, reasoning)) = obs.output_tokens {
        let osl = answer + reasoning;
        put(MetricId::OutputSequenceLength, osl as f64);
        put(MetricId::OutputTokenCount, answer as f64);
        if obs.has_reasoning {
            put(MetricId::ReasoningTokenCount, reasoning as f64);
        }
        // The decode time covers the tokens after the first chunk: one fewer than OSL, unless
        // the server said its first chunk carried more.
        let first = obs.first_chunk_tokens.unwrap_or(1).max(1);
        if let (Some(ttft), true) = (ttft, osl > first) {
            let itl = (latency - ttft) / (osl - first) as f64;
            put(MetricId::InterTokenLatency, itl);
            if itl > 0.0 {
                put(MetricId::OutputTokenThroughputPerUser, 1e3 / itl);
            }
        }
        if latency > 0.0 {
            put(
                MetricId::E2eOutputTokenThroughput,
                osl as f64 / (latency / 1e3),
            );
        }
        if let Some(requested) = obs.requested_osl.filter(|&r| r > 0) {
            let requested = requested as f64;
            put(
                MetricId::OslMismatchDiffPct,
                (osl as f64 - requested) / requested * 100.0,
            );
            let threshold = (requested * OSL_MISMATCH_PCT / 100.0).min(OSL_MISMATCH_MAX_TOKENS);
            m.osl_mismatch = (osl as f64 - requested).abs() > threshold;
        }
    }
    if let Some(usage) = obs.usage {
        let mut discrepancy = false;
        let mut diff = |id: MetricId, reported: Option<u64>, client: Option<f64>| {
            if let (Some(r), Some(c)) = (reported, client)
                && let Some(d) = pct_diff(r as f64, c)
            {
                put(id, d);
                discrepancy |= d > USAGE_DIFF_PCT;
            }
        };
        diff(
            MetricId::UsagePromptTokensDiffPct,
            usage.prompt_tokens,
            Some(obs.input_tokens as f64),
        );
        diff(
            MetricId::UsageCompletionTokensDiffPct,
            usage.completion_tokens,
            osl.map(|o| o as f64),
        );
        let reasoning = obs
            .output_tokens
            .filter(|_| obs.has_reasoning)
            .map(|(_, r)| r as f64);
        diff(
            MetricId::UsageReasoningTokensDiffPct,
            usage.reasoning_tokens,
            reasoning,
        );
        m.usage_discrepancy = discrepancy;
        for (id, v) in [
            (MetricId::UsagePromptTokens, usage.prompt_tokens),
            (MetricId::UsageCompletionTokens, usage.completion_tokens),
            (MetricId::UsageTotalTokens, usage.total_tokens),
            (MetricId::UsageReasoningTokens, usage.reasoning_tokens),
            (
                MetricId::UsagePromptCacheReadTokens,
                usage.cached_prompt_tokens,
            ),
        ] {
            if let Some(v) = v {
                m.values.push((id, v as f64));
            }
        }
    }
    m.osl = osl;
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    /// A stream sent at 10 ms (intended at 8 ms): a role-only chunk (not listed), reasoning at
    /// 60 ms, content at 65, 70, 80 ms; 5 answer tokens + 1 reasoning token; ISL 100, requested 5.
    fn streamed() -> Observation {
        Observation {
            intended_ns: 8 * MS,
            sent_ns: 10 * MS,
            blocked_ns: MS / 2,
            end_ns: 81 * MS,
            streamed: true,
            text_events: vec![
                (60 * MS, false),
                (65 * MS, true),
                (70 * MS, true),
                (80 * MS, true),
            ],
            input_tokens: 100,
            output_tokens: Some((5, 1)),
            has_reasoning: true,
            requested_osl: Some(5),
            usage: Some(Usage {
                prompt_tokens: Some(100),
                completion_tokens: Some(6),
                total_tokens: Some(106),
                reasoning_tokens: Some(1),
                cached_prompt_tokens: None,
            }),
            first_chunk_tokens: None,
            session_end: None,
        }
    }

    /// The list of values is sized once for the fullest request: every optional input given.
    #[test]
    fn the_fullest_request_fits_the_values_room() {
        let m = compute(&Observation {
            session_end: Some(crate::load::record::SessionEnd {
                started_ns: MS,
                turns: 3,
            }),
            usage: Some(Usage {
                cached_prompt_tokens: Some(10),
                ..streamed().usage.unwrap()
            }),
            ..streamed()
        });
        assert!(m.values.len() <= MOST_VALUES, "{} values", m.values.len());
        assert_eq!(m.values.capacity(), MOST_VALUES);
    }

    #[test]
    fn streamed_request_definitions() {
        let m = compute(&streamed());
        let get = |id| m.get(id).unwrap_or_else(|| panic!("{id:?} missing"));
        assert_eq!(get(MetricId::TimeToFirstToken), 50.0);
        assert_eq!(get(MetricId::TimeToFirstOutputToken), 55.0);
        assert_eq!(get(MetricId::TimeToSecondToken), 5.0);
        assert_eq!(get(MetricId::RequestLatency), 70.0);
        assert_eq!(get(MetricId::DecodeDuration), 20.0);
        assert_eq!(get(MetricId::InterTokenLatency), 4.0); // (70 - 50) / (6 - 1)
        // A server that put 3 tokens in its first chunk: the decode window holds 6 - 3.
        let bundled = compute(&Observation {
            first_chunk_tokens: Some(3),
            ..streamed()
        });
        let itl = bundled
            .values
            .iter()
            .find(|(id, _)| *id == MetricId::InterTokenLatency)
            .map(|v| v.1);
        assert_eq!(itl, Some(20.0 / 3.0));
        assert_eq!(get(MetricId::OutputTokenThroughputPerUser), 250.0);
        assert_eq!(get(MetricId::PrefillThroughputPerUser), 2000.0); // 100 tokens / 0.05 s
        assert!((get(MetricId::E2eOutputTokenThroughput) - 6.0 / 0.07).abs() < 1e-9);
        assert_eq!(get(MetricId::OutputSequenceLength), 6.0);
        assert_eq!(get(MetricId::OutputTokenCount), 5.0);
        assert_eq!(get(MetricId::ReasoningTokenCount), 1.0);
        assert_eq!(get(MetricId::ScheduleLag), 2.0);
        assert_eq!(get(MetricId::HttpReqBlocked), 0.5);
        assert_eq!(get(MetricId::EffectiveRequestLatency), 72.0);
        assert_eq!(get(MetricId::EffectiveTimeToFirstToken), 52.0);
        assert_eq!(get(MetricId::OslMismatchDiffPct), 20.0);
        assert_eq!(get(MetricId::UsageCompletionTokensDiffPct), 0.0);
        assert_eq!(get(MetricId::UsagePromptTokensDiffPct), 0.0);
        assert_eq!(get(MetricId::UsageTotalTokens), 106.0);
        assert_eq!(m.inter_chunk_latency, vec![5.0, 5.0, 10.0]);
        assert!(m.osl_mismatch, "1 token over 5 exceeds 5% of 5");
        assert!(!m.usage_discrepancy);
    }

    #[test]
    fn the_last_turn_of_a_conversation_carries_its_duration_and_turns() {
        let get = |obs: &Observation, id| compute(obs).get(id);
        let mut obs = streamed();
        assert_eq!(get(&obs, MetricId::SessionDuration), None);
        obs.session_end = Some(crate::load::record::SessionEnd {
            started_ns: 2 * MS,
            turns: 3,
        });
        // From the first turn's due time to this turn's last token (80 ms).
        assert_eq!(get(&obs, MetricId::SessionDuration), Some(78.0));
        assert_eq!(get(&obs, MetricId::SessionTurns), Some(3.0));
    }

    #[test]
    fn non_streamed_request_has_no_stream_metrics() {
        let obs = Observation {
            streamed: false,
            text_events: vec![],
            ..streamed()
        };
        let m = compute(&obs);
        assert_eq!(m.get(MetricId::RequestLatency), Some(71.0));
        for id in [
            MetricId::TimeToFirstToken,
            MetricId::InterTokenLatency,
            MetricId::TimeToSecondToken,
        ] {
            assert_eq!(m.get(id), None, "{id:?}");
        }
        assert!(m.inter_chunk_latency.is_empty());
        assert!(m.get(MetricId::E2eOutputTokenThroughput).is_some());
    }

    #[test]
    fn single_token_output_has_no_itl_and_usage_discrepancy_is_flagged() {
        let mut obs = streamed();
        obs.text_events.truncate(1);
        obs.output_tokens = Some((0, 1));
        obs.has_reasoning = true;
        obs.usage = Some(Usage {
            completion_tokens: Some(3),
            ..Usage::default()
        });
        let m = compute(&obs);
        assert_eq!(m.get(MetricId::InterTokenLatency), None);
        assert_eq!(m.get(MetricId::TimeToSecondToken), None);
        assert_eq!(m.get(MetricId::TimeToFirstOutputToken), None);
        assert_eq!(m.get(MetricId::UsageCompletionTokensDiffPct), Some(200.0));
        assert!(m.usage_discrepancy);
    }

    #[test]
    fn embeddings_have_latency_and_isl_only() {
        let obs = Observation {
            sent_ns: 0,
            end_ns: 3 * MS,
            input_tokens: 7,
            ..Observation::default()
        };
        let m = compute(&obs);
        let ids: Vec<MetricId> = m.values.iter().map(|v| v.0).collect();
        assert_eq!(
            ids,
            [
                MetricId::RequestLatency,
                MetricId::ScheduleLag,
                MetricId::HttpReqBlocked,
                MetricId::EffectiveRequestLatency,
                MetricId::InputSequenceLength
            ]
        );
    }
}
