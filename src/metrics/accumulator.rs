//! Turning a stream of per-request results into a run summary, in constant memory.
//!
//! Every request ends as exactly one of success, error or cancelled; the summary's counts add up
//! to the requests sent. Run-level metrics (throughputs, goodput, error rate) are computed once
//! at the end from exact totals.

use super::distribution::{Distribution, Stats};
use super::record_metrics::RequestMetrics;
use crate::load::RequestError;
use crate::registry::{METRIC_COUNT, MetricId, MetricKind, Unit};
use std::collections::{BTreeMap, HashMap};

/// Identical errors grouped, for `error_summary`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorGroup {
    /// HTTP status, if any.
    pub code: Option<u16>,
    /// Error class name.
    pub kind: &'static str,
    /// Message.
    pub message: String,
    /// How many requests failed this way.
    pub count: u64,
}

/// Accumulates one phase of one run.
#[derive(Debug)]
pub struct RunAccumulator {
    distributions: Vec<Option<Distribution>>,
    slos: Vec<(MetricId, f64)>,
    success: u64,
    errors: u64,
    cancelled: u64,
    good: u64,
    first_sent_ns: Option<u64>,
    last_end_ns: Option<u64>,
    totals: HashMap<MetricId, f64>,
    osl_mismatches: u64,
    usage_discrepancies: u64,
    error_groups: HashMap<(Option<u16>, &'static str, String), u64>,
}

/// The results of one run (one phase).
#[derive(Debug, Clone, Default)]
pub struct RunSummary {
    /// Per-request metrics with at least one value.
    pub records: BTreeMap<MetricId, Stats>,
    /// Run-level metrics.
    pub scalars: BTreeMap<MetricId, f64>,
    /// Successful requests.
    pub success: u64,
    /// Failed requests.
    pub errors: u64,
    /// Cancelled requests.
    pub cancelled: u64,
    /// Failures grouped by (code, kind, message), most frequent first.
    pub error_groups: Vec<ErrorGroup>,
}

impl RunSummary {
    /// A statistic of a metric: `stat` of a per-request metric, or the value of a run-level one.
    pub fn stat(&self, id: MetricId, stat: &str) -> Option<f64> {
        match self.records.get(&id) {
            Some(stats) => stats.get(stat),
            None => self.scalars.get(&id).copied(),
        }
    }

    /// Requests that were sent (success + error + cancelled).
    pub fn sent(&self) -> u64 {
        self.success + self.errors + self.cancelled
    }
}

/// Histogram resolution for a unit: nanoseconds for ms, thousandths otherwise.
pub fn scale_for(unit: Unit) -> f64 {
    match unit {
        Unit::Ms => 1e6,
        _ => 1e3,
    }
}

impl RunAccumulator {
    /// An empty accumulator judging goodput against `slos` (metric tag → threshold).
    pub fn new(slos: &BTreeMap<String, f64>) -> Self {
        Self {
            distributions: (0..METRIC_COUNT).map(|_| None).collect(),
            slos: slos
                .iter()
                .filter_map(|(tag, &v)| MetricId::from_tag(tag).map(|id| (id, v)))
                .collect(),
            success: 0,
            errors: 0,
            cancelled: 0,
            good: 0,
            first_sent_ns: None,
            last_end_ns: None,
            totals: HashMap::new(),
            osl_mismatches: 0,
            usage_discrepancies: 0,
            error_groups: HashMap::new(),
        }
    }

    /// An empty accumulator judging by the same SLOs.
    pub fn empty_like(&self) -> Self {
        Self {
            slos: self.slos.clone(),
            ..Self::new(&BTreeMap::new())
        }
    }

    fn distribution(&mut self, id: MetricId) -> &mut Distribution {
        self.distributions[id as usize]
            .get_or_insert_with(|| Distribution::new(scale_for(id.def().unit)))
    }

    fn span(&mut self, sent_ns: u64, end_ns: u64) {
        self.first_sent_ns = Some(self.first_sent_ns.map_or(sent_ns, |f| f.min(sent_ns)));
        self.last_end_ns = Some(self.last_end_ns.map_or(end_ns, |l| l.max(end_ns)));
    }

    fn add_total(&mut self, id: MetricId, value: f64) {
        *self.totals.entry(id).or_default() += value;
    }

    /// Adds a successful request.
    pub fn add_success(&mut self, metrics: &RequestMetrics, sent_ns: u64, end_ns: u64) {
        self.success += 1;
        self.span(sent_ns, end_ns);
        for &(id, value) in &metrics.values {
            self.distribution(id).record(value);
        }
        let icl = self.distribution(MetricId::InterChunkLatency);
        metrics
            .inter_chunk_latency
            .iter()
            .for_each(|&v| icl.record(v));
        for (total, source) in [
            (MetricId::TotalIsl, MetricId::InputSequenceLength),
            (MetricId::TotalOsl, MetricId::OutputSequenceLength),
            (MetricId::TotalOutputTokens, MetricId::OutputTokenCount),
            (
                MetricId::TotalReasoningTokens,
                MetricId::ReasoningTokenCount,
            ),
            (
                MetricId::TotalUsagePromptTokens,
                MetricId::UsagePromptTokens,
            ),
            (
                MetricId::TotalUsageCompletionTokens,
                MetricId::UsageCompletionTokens,
            ),
            (MetricId::TotalUsageTotalTokens, MetricId::UsageTotalTokens),
        ] {
            if let Some(v) = metrics.get(source) {
                self.add_total(total, v);
            }
        }
        self.osl_mismatches += metrics.osl_mismatch as u64;
        self.usage_discrepancies += metrics.usage_discrepancy as u64;
        if self.meets_slos(metrics) {
            self.good += 1;
        }
    }

    /// Whether a request meets every SLO (`<=`, or `>=` for larger-is-better metrics). A metric
    /// the request does not have (e.g. TTFT of a non-streamed response) fails its SLO.
    fn meets_slos(&self, metrics: &RequestMetrics) -> bool {
        self.slos.iter().all(|&(id, threshold)| {
            let value = if id == MetricId::InterChunkLatency {
                metrics.inter_chunk_latency.iter().copied().reduce(f64::max)
            } else {
                metrics.get(id)
            };
            match value {
                Some(v) if id.def().flags.larger_is_better => v >= threshold,
                Some(v) => v <= threshold,
                None => false,
            }
        })
    }

    /// Adds a failed request.
    pub fn add_error(&mut self, error: &RequestError, sent_ns: u64, end_ns: u64) {
        self.errors += 1;
        self.span(sent_ns, end_ns);
        let key = (error.code, error.kind.as_str(), error.message.clone());
        *self.error_groups.entry(key).or_default() += 1;
    }

    /// Adds a cancelled request.
    pub fn add_cancelled(&mut self) {
        self.cancelled += 1;
    }

    /// Adds everything `other` accumulated (judged against the same SLOs), as if its requests
    /// had been added here: counts, totals and error groups add, histograms add, the span is the
    /// union. This is how record processors working in parallel combine their results.
    pub fn merge(&mut self, other: RunAccumulator) {
        debug_assert_eq!(
            self.slos, other.slos,
            "merging runs judged by different SLOs"
        );
        for (mine, theirs) in self.distributions.iter_mut().zip(other.distributions) {
            match (mine.as_mut(), theirs) {
                (Some(mine), Some(theirs)) => mine.merge(&theirs),
                (None, theirs @ Some(_)) => *mine = theirs,
                (_, None) => {}
            }
        }
        self.success += other.success;
        self.errors += other.errors;
        self.cancelled += other.cancelled;
        self.good += other.good;
        if let (Some(first), Some(last)) = (other.first_sent_ns, other.last_end_ns) {
            self.span(first, last);
        }
        for (id, value) in other.totals {
            self.add_total(id, value);
        }
        self.osl_mismatches += other.osl_mismatches;
        self.usage_discrepancies += other.usage_discrepancies;
        for (key, count) in other.error_groups {
            *self.error_groups.entry(key).or_default() += count;
        }
    }

    /// Requests seen so far (any outcome).
    pub fn seen(&self) -> u64 {
        self.success + self.errors + self.cancelled
    }

    /// Computes the summary.
    pub fn summarize(&self) -> RunSummary {
        let mut records = BTreeMap::new();
        for (i, dist) in self.distributions.iter().enumerate() {
            if let Some(stats) = dist.as_ref().and_then(Distribution::stats) {
                let id = crate::registry::REGISTRY[i].id;
                debug_assert_eq!(id.def().kind, MetricKind::Record);
                records.insert(id, stats);
            }
        }
        let mut scalars = BTreeMap::new();
        let completed = (self.success + self.errors) as f64;
        scalars.insert(MetricId::RequestCount, self.success as f64);
        scalars.insert(MetricId::ErrorRequestCount, self.errors as f64);
        if self.cancelled > 0 {
            scalars.insert(MetricId::CancelledRequestCount, self.cancelled as f64);
        }
        scalars.insert(MetricId::CompletedRequestCount, completed);
        if completed > 0.0 {
            scalars.insert(
                MetricId::RequestErrorRate,
                self.errors as f64 / completed * 100.0,
            );
        }
        for (&id, &v) in &self.totals {
            scalars.insert(id, v);
        }
        if records.contains_key(&MetricId::OutputSequenceLength) {
            scalars.insert(MetricId::OslMismatchCount, self.osl_mismatches as f64);
        }
        if records
            .keys()
            .any(|id| id.tag().starts_with("usage_") && id.tag().ends_with("_diff_pct"))
        {
            scalars.insert(
                MetricId::UsageDiscrepancyCount,
                self.usage_discrepancies as f64,
            );
        }
        let duration_s = match (self.first_sent_ns, self.last_end_ns) {
            (Some(first), Some(last)) if last > first => Some((last - first) as f64 / 1e9),
            _ => None,
        };
        if let Some(d) = duration_s {
            scalars.insert(MetricId::BenchmarkDuration, d);
            scalars.insert(MetricId::RequestThroughput, self.success as f64 / d);
            let isl = self.totals.get(&MetricId::TotalIsl).copied();
            let osl = self.totals.get(&MetricId::TotalOsl).copied();
            if let Some(isl) = isl {
                scalars.insert(MetricId::InputTokenThroughput, isl / d);
            }
            if let Some(osl) = osl {
                scalars.insert(MetricId::OutputTokenThroughput, osl / d);
                scalars.insert(
                    MetricId::TotalTokenThroughput,
                    (isl.unwrap_or(0.0) + osl) / d,
                );
            }
            if !self.slos.is_empty() {
                scalars.insert(MetricId::Goodput, self.good as f64 / d);
            }
        }
        if !self.slos.is_empty() {
            scalars.insert(MetricId::GoodRequestCount, self.good as f64);
            if completed > 0.0 {
                scalars.insert(MetricId::GoodRequestFraction, self.good as f64 / completed);
            }
        }
        let mut error_groups: Vec<ErrorGroup> = self
            .error_groups
            .iter()
            .map(|((code, kind, message), &count)| ErrorGroup {
                code: *code,
                kind,
                message: message.clone(),
                count,
            })
            .collect();
        error_groups.sort_by(|a, b| {
            b.count
                .cmp(&a.count)
                .then_with(|| a.message.cmp(&b.message))
        });
        RunSummary {
            records,
            scalars,
            success: self.success,
            errors: self.errors,
            cancelled: self.cancelled,
            error_groups,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::ErrorKind;
    use crate::metrics::record_metrics::{Observation, compute};

    const MS: u64 = 1_000_000;

    fn request(sent_ms: u64, ttft_ms: u64, gap_ms: u64, tokens: u64) -> (RequestMetrics, u64, u64) {
        let sent = sent_ms * MS;
        let events: Vec<(u64, bool)> = (0..tokens)
            .map(|i| (sent + (ttft_ms + i * gap_ms) * MS, true))
            .collect();
        let end = events.last().map(|e| e.0).unwrap_or(sent);
        let obs = Observation {
            intended_ns: sent,
            sent_ns: sent,
            end_ns: end,
            streamed: true,
            text_events: events,
            input_tokens: 50,
            output_tokens: Some((tokens, 0)),
            requested_osl: Some(tokens as u32),
            ..Observation::default()
        };
        (compute(&obs), sent, end)
    }

    #[test]
    fn run_metrics_from_hand_computed_requests() {
        let mut slos = BTreeMap::new();
        slos.insert("time_to_first_token".to_string(), 100.0);
        let mut acc = RunAccumulator::new(&slos);
        // Two successes: sent at 0 ms and 500 ms; TTFT 50 and 150 ms; 11 tokens 10 ms apart.
        for (sent, ttft) in [(0, 50), (500, 150)] {
            let (m, s, e) = request(sent, ttft, 10, 11);
            acc.add_success(&m, s, e);
        }
        let err = RequestError {
            kind: ErrorKind::HttpStatus,
            code: Some(500),
            message: "boom".into(),
        };
        acc.add_error(&err, 100 * MS, 1000 * MS);
        acc.add_cancelled();
        let s = acc.summarize();
        assert_eq!((s.success, s.errors, s.cancelled, s.sent()), (2, 1, 1, 4));
        // Duration: first send 0 ms → last end max(1000 ms error, 500 + 150 + 100 = 750 ms) = 1 s.
        assert_eq!(s.scalars[&MetricId::BenchmarkDuration], 1.0);
        assert_eq!(s.scalars[&MetricId::RequestThroughput], 2.0);
        assert_eq!(s.scalars[&MetricId::OutputTokenThroughput], 22.0);
        assert_eq!(s.scalars[&MetricId::InputTokenThroughput], 100.0);
        assert_eq!(s.scalars[&MetricId::TotalTokenThroughput], 122.0);
        assert!((s.scalars[&MetricId::RequestErrorRate] - 100.0 / 3.0).abs() < 1e-9);
        assert_eq!(s.scalars[&MetricId::GoodRequestCount], 1.0);
        assert_eq!(s.scalars[&MetricId::Goodput], 1.0);
        assert_eq!(s.records[&MetricId::TimeToFirstToken].avg, 100.0);
        assert_eq!(s.records[&MetricId::InterTokenLatency].avg, 10.0);
        assert_eq!(s.records[&MetricId::InterChunkLatency].count, 20);
        assert_eq!(
            s.error_groups,
            vec![ErrorGroup {
                code: Some(500),
                kind: "http_status",
                message: "boom".into(),
                count: 1
            }]
        );
        assert_eq!(s.scalars[&MetricId::OslMismatchCount], 0.0);
    }

    #[test]
    fn larger_is_better_slos_compare_the_other_way() {
        let mut slos = BTreeMap::new();
        slos.insert("output_token_throughput_per_user".to_string(), 50.0);
        let mut acc = RunAccumulator::new(&slos);
        let (fast, s, e) = request(0, 10, 10, 5); // 100 tokens/s/user
        acc.add_success(&fast, s, e);
        let (slow, s, e) = request(0, 10, 40, 5); // 25 tokens/s/user
        acc.add_success(&slow, s, e);
        assert_eq!(acc.summarize().scalars[&MetricId::GoodRequestCount], 1.0);
    }

    /// A seeded stream of successes (streamed, varied timings and lengths), errors of a few
    /// kinds and cancellations.
    fn seeded_stream(n: u64) -> Vec<Result<(RequestMetrics, u64, u64), Option<RequestError>>> {
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = move |m: u64| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (state >> 33) % m
        };
        (0..n)
            .map(|i| match next(20) {
                0 => Err(Some(RequestError {
                    kind: ErrorKind::HttpStatus,
                    code: Some(500 + next(3) as u16),
                    message: format!("boom {}", next(2)),
                })),
                1 => Err(None),
                _ => {
                    let sent = i * 3 * MS + next(MS);
                    let events: Vec<(u64, bool)> = (0..1 + next(40))
                        .map(|k| {
                            (
                                sent + 5 * MS + next(900 * MS) + k * (next(30) + 1) * 1_013,
                                true,
                            )
                        })
                        .collect();
                    let end = events.iter().map(|e| e.0).max().unwrap_or(sent) + next(MS);
                    let obs = Observation {
                        intended_ns: sent.saturating_sub(next(50_000)),
                        sent_ns: sent,
                        end_ns: end,
                        streamed: true,
                        output_tokens: Some((events.len() as u64 + next(3), next(2))),
                        text_events: events,
                        input_tokens: 10 + next(500) as u32,
                        requested_osl: Some(40),
                        ..Observation::default()
                    };
                    Ok((compute(&obs), sent, end))
                }
            })
            .collect()
    }

    #[test]
    fn shards_merge_into_exactly_the_single_processor_result() {
        let mut slos = BTreeMap::new();
        slos.insert("time_to_first_token".to_string(), 400.0);
        let stream = seeded_stream(20_000);
        let add =
            |acc: &mut RunAccumulator,
             item: &Result<(RequestMetrics, u64, u64), Option<RequestError>>| match item
            {
                Ok((m, s, e)) => acc.add_success(m, *s, *e),
                Err(Some(error)) => acc.add_error(error, 7 * MS, 9 * MS),
                Err(None) => acc.add_cancelled(),
            };
        let mut single = RunAccumulator::new(&slos);
        stream.iter().for_each(|item| add(&mut single, item));
        let mut shards: Vec<RunAccumulator> = (0..4).map(|_| RunAccumulator::new(&slos)).collect();
        for (i, item) in stream.iter().enumerate() {
            add(&mut shards[(i * 5 + i / 3) % 4], item);
        }
        let mut merged = RunAccumulator::new(&slos);
        shards.into_iter().for_each(|shard| merged.merge(shard));

        for (a, b) in single.distributions.iter().zip(&merged.distributions) {
            assert_eq!(a.is_some(), b.is_some());
            if let (Some(a), Some(b)) = (a, b) {
                assert!(a == b, "a distribution differs after merging");
            }
        }
        let (one, many) = (single.summarize(), merged.summarize());
        assert_eq!(
            (one.success, one.errors, one.cancelled),
            (many.success, many.errors, many.cancelled)
        );
        assert!(one.success > 15_000 && one.errors > 500 && one.cancelled > 500);
        assert_eq!(one.scalars, many.scalars);
        assert_eq!(one.error_groups, many.error_groups);
        assert_eq!(
            one.records.keys().collect::<Vec<_>>(),
            many.records.keys().collect::<Vec<_>>()
        );
        for (id, a) in &one.records {
            let b = &many.records[id];
            assert_eq!(
                (a.count, a.sum, a.avg, a.min, a.max, a.percentiles),
                (b.count, b.sum, b.avg, b.min, b.max, b.percentiles),
                "{id:?}"
            );
            assert!(
                (a.std - b.std).abs() <= 1e-12 * a.std.max(1e-300),
                "{id:?}: {} vs {}",
                a.std,
                b.std
            );
        }
    }
}
