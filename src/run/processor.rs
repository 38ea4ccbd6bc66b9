//! The record processors: each runs on its own thread, off the timing path. A processor parses
//! each raw record through the endpoint, counts tokens once per request, computes the request's
//! metrics, feeds its own accumulators and streams the JSONL line into the run's one file.
//! When the phase is over the processors' accumulators are merged, which gives exactly what one
//! processor would have computed from all the records (see [`RunAccumulator::merge`]).

use crate::dataset::tokenizer::Tokenizer;
use crate::endpoint::{Endpoint, Usage};
use crate::export::line_file::LineFile;
use crate::export::records::{RecordError, write_record_line};
use crate::load::buffers::ResponseBuffers;
use crate::load::record_sink::RecordQueue;
use crate::load::{ErrorKind, Outcome, RawRecord, RequestError, RunClock};
use crate::metrics::RunAccumulator;
use crate::metrics::record_metrics::{Observation, compute};
use crate::spec::PhaseKind;
use std::sync::Arc;
use std::time::Duration;

/// How long a processor whose queue ran empty naps before looking again, instead of
/// parking until a request task wakes it. A parked processor costs every record a
/// cross-thread wake-up (a futex call on the request's worker and a context switch here):
/// about a seventh of the workers' time in an open loop at 28,000 req/s on two cores. Records
/// carry their own timestamps, so the nap delays only their accounting.
const EMPTY_NAP: Duration = Duration::from_millis(1);

/// Naps in a row with nothing arriving, after which the processor parks (the run is idle or
/// slow enough that a wake-up per record costs nothing worth saving).
const NAPS_BEFORE_PARKING: u32 = 4;

/// What the processor needs.
pub struct Processor {
    /// Parses responses.
    pub endpoint: &'static dyn Endpoint,
    /// Counts output tokens.
    pub tokenizer: Arc<dyn Tokenizer>,
    /// Converts times for the JSONL.
    pub clock: RunClock,
    /// Take output counts from server usage.
    pub use_server_token_count: bool,
    /// Take the first chunk's token count from the server's per-chunk usage.
    pub per_chunk_usage: bool,
    /// Whether the API generates tokens.
    pub produces_tokens: bool,
    /// Warmup results.
    pub warmup: RunAccumulator,
    /// Profiling results.
    pub profiling: RunAccumulator,
    /// The JSONL writer.
    pub jsonl: LineFile,
    /// Whether streamed responses were asked for.
    pub streaming: bool,
    /// What the transport noticed in the profiling phase.
    pub notes: TransportNotes,
}

/// Profiling-phase facts about the connection that are not request errors.
#[derive(Debug, Clone, Copy, Default)]
pub struct TransportNotes {
    /// Requests re-sent on a fresh connection after a reused one was closed under them.
    pub reconnects: u64,
    /// Successful responses that were not event streams although streaming was asked for.
    pub not_streamed: u64,
}

/// A parsed successful response. One is kept per processor and refilled for every record, so
/// its buffers are allocated once per run, not once per record.
#[derive(Default)]
struct Parsed {
    content: String,
    reasoning: String,
    text_events: Vec<(u64, bool)>,
    usage: Option<Usage>,
    /// The server's cumulative completion tokens at the first text event, when it reported
    /// usage in that chunk (`--per-chunk-usage`).
    first_chunk_tokens: Option<u64>,
}

/// The most text a kept [`Parsed`] goes on holding between records: one very long reply must
/// not keep its buffer for the rest of the run.
const KEPT_TEXT_LIMIT: usize = 1 << 20;

impl Parsed {
    /// Empties it for the next record, keeping buffers of a usual size.
    fn reset(&mut self) {
        for text in [&mut self.content, &mut self.reasoning] {
            if text.capacity() > KEPT_TEXT_LIMIT {
                *text = String::new();
            }
            text.clear();
        }
        self.text_events.clear();
        self.text_events.shrink_to(KEPT_TEXT_LIMIT / 64);
        self.usage = None;
        self.first_chunk_tokens = None;
    }
}

/// Record processors running on their own threads.
pub struct ProcessorThreads {
    threads: Vec<std::thread::JoinHandle<(Processor, std::io::Result<()>)>>,
}

impl ProcessorThreads {
    /// Starts one processor per queue: `first` on the first, and for each other queue a processor
    /// like `first` with empty accumulators appending to the same JSONL file. Processed
    /// records' buffers go back to `buffers`.
    pub fn start(
        first: Processor,
        queues: Vec<RecordQueue>,
        buffers: Arc<ResponseBuffers>,
    ) -> std::io::Result<Self> {
        let mut processors = vec![first];
        while processors.len() < queues.len() {
            let sibling = processors[0].sibling();
            processors.push(sibling);
        }
        let mut threads = Vec::with_capacity(queues.len());
        for (i, (processor, queue)) in processors.into_iter().zip(queues).enumerate() {
            let buffers = buffers.clone();
            let thread = std::thread::Builder::new()
                .name(format!("record-processor-{i}"))
                .spawn(move || processor.run(queue, &buffers))?;
            threads.push(thread);
        }
        Ok(Self { threads })
    }

    /// Waits for every processor to drain its queue (the queues close when the load engine is
    /// dropped) and merges them into one. The first write error of any processor is returned
    /// next to the merged results, which are complete regardless. `Err` if a processor panicked.
    pub fn join(self) -> Result<(Processor, std::io::Result<()>), &'static str> {
        let mut merged: Option<(Processor, std::io::Result<()>)> = None;
        let mut panicked = false;
        for thread in self.threads {
            match thread.join() {
                Ok((processor, result)) => match &mut merged {
                    None => merged = Some((processor, result)),
                    Some((into, first_result)) => {
                        into.absorb(processor);
                        if first_result.is_ok() {
                            *first_result = result;
                        }
                    }
                },
                Err(_) => panicked = true,
            }
        }
        match merged {
            Some(merged) if !panicked => Ok(merged),
            _ => Err("record processor panicked"),
        }
    }
}

impl Processor {
    /// A processor with the same settings and empty accumulators, writing to the same file.
    fn sibling(&self) -> Self {
        Self {
            endpoint: self.endpoint,
            tokenizer: self.tokenizer.clone(),
            clock: self.clock,
            use_server_token_count: self.use_server_token_count,
            per_chunk_usage: self.per_chunk_usage,
            produces_tokens: self.produces_tokens,
            warmup: self.warmup.empty_like(),
            profiling: self.profiling.empty_like(),
            jsonl: self.jsonl.writer(),
            streaming: self.streaming,
            notes: TransportNotes::default(),
        }
    }

    /// Adds another processor's results to this one's.
    fn absorb(&mut self, other: Processor) {
        self.warmup.merge(other.warmup);
        self.profiling.merge(other.profiling);
        self.notes.reconnects += other.notes.reconnects;
        self.notes.not_streamed += other.notes.not_streamed;
    }

    /// Processes records until the channel closes; returns itself with the final accumulators.
    ///
    /// Lines reach the JSONL file whenever the queue runs empty and at least every
    /// [`FLUSH_INTERVAL`](crate::export::line_file::FLUSH_INTERVAL) under load. A write error
    /// (disk full) stops the file, never the accounting: every record is still counted.
    pub fn run(
        mut self,
        mut records: RecordQueue,
        buffers: &ResponseBuffers,
    ) -> (Self, std::io::Result<()>) {
        use tokio::sync::mpsc::error::TryRecvError;
        let mut result = Ok(());
        let keep = |r: std::io::Result<()>, result: &mut std::io::Result<()>| {
            if let Err(e) = r
                && result.is_ok()
            {
                *result = Err(e);
            }
        };
        let mut naps = 0;
        let mut parsed = Parsed::default();
        loop {
            let rec = match records.try_recv() {
                Ok(queued) => {
                    naps = 0;
                    queued.into_record()
                }
                Err(TryRecvError::Empty) => {
                    if naps == 0 {
                        keep(self.jsonl.flush(), &mut result);
                    }
                    if naps < NAPS_BEFORE_PARKING {
                        naps += 1;
                        std::thread::sleep(EMPTY_NAP);
                        continue;
                    }
                    naps = 0;
                    match records.blocking_recv() {
                        Some(queued) => queued.into_record(),
                        None => break,
                    }
                }
                Err(TryRecvError::Disconnected) => break,
            };
            let processed = self.process(&rec, &mut parsed);
            buffers.give_back(rec);
            keep(processed, &mut result);
            keep(self.jsonl.flush_if_due(), &mut result);
        }
        keep(self.jsonl.flush(), &mut result);
        (self, result)
    }

    /// Reads `rec`'s response into `parsed` (emptied first), or the reason it is an error
    /// after all.
    fn parse(&self, rec: &RawRecord, parsed: &mut Parsed) -> Result<(), RequestError> {
        parsed.reset();
        let absorb = |delta: crate::endpoint::ResponseDelta, at: u64, parsed: &mut Parsed| {
            if let Some(message) = delta.error {
                return Err(RequestError {
                    kind: ErrorKind::ServerError,
                    code: rec.status,
                    message,
                });
            }
            if delta.has_text() {
                if parsed.text_events.is_empty() {
                    parsed.first_chunk_tokens = delta.usage.and_then(|u| u.completion_tokens);
                }
                parsed.text_events.push((at, !delta.content.is_empty()));
            }
            parsed.content.push_str(&delta.content);
            parsed.reasoning.push_str(&delta.reasoning);
            if delta.usage.is_some() {
                parsed.usage = delta.usage;
            }
            Ok(())
        };
        let parse_error = |invalid: crate::endpoint::InvalidResponse| RequestError {
            kind: ErrorKind::ResponseParse,
            code: rec.status,
            message: invalid.into(),
        };
        if rec.streamed {
            for (at, data) in rec.event_payloads() {
                let delta = self.endpoint.parse_event(data).map_err(parse_error)?;
                absorb(delta, at, parsed)?;
            }
        } else {
            let delta = self
                .endpoint
                .parse_body(&rec.payload)
                .map_err(parse_error)?;
            absorb(delta, rec.end_ns, parsed)?;
        }
        Ok(())
    }

    fn process(&mut self, rec: &RawRecord, parsed: &mut Parsed) -> std::io::Result<()> {
        let outcome = match &rec.outcome {
            Outcome::Success => match self.parse(rec, parsed) {
                Ok(()) => Ok(&mut *parsed),
                Err(e) => Err(Some(e)),
            },
            Outcome::Error(e) => Err(Some(e.clone())),
            Outcome::Cancelled => Err(None),
        };
        let is_profiling = rec.phase == PhaseKind::Profiling;
        if is_profiling {
            self.notes.reconnects += u64::from(rec.reconnected);
            if self.streaming && !rec.streamed && outcome.is_ok() {
                self.notes.not_streamed += 1;
            }
        }
        let acc = if is_profiling {
            &mut self.profiling
        } else {
            &mut self.warmup
        };
        let (metrics, error) = match outcome {
            Ok(parsed) => {
                let obs = Observation {
                    intended_ns: rec.intended_ns,
                    sent_ns: rec.sent_ns,
                    blocked_ns: rec.blocked_ns,
                    end_ns: rec.end_ns,
                    streamed: rec.streamed,
                    output_tokens: output_tokens(
                        self.produces_tokens,
                        self.use_server_token_count,
                        &*self.tokenizer,
                        parsed,
                    ),
                    has_reasoning: !parsed.reasoning.is_empty(),
                    // Lent for the computation and taken back below, keeping its buffer.
                    text_events: std::mem::take(&mut parsed.text_events),
                    input_tokens: rec.input.input_tokens,
                    requested_osl: rec.input.max_tokens,
                    usage: parsed.usage,
                    first_chunk_tokens: parsed.first_chunk_tokens.filter(|_| self.per_chunk_usage),
                    session_end: rec.input.session_end,
                };
                let metrics = compute(&obs);
                parsed.text_events = obs.text_events;
                acc.add_success(&metrics, rec.sent_ns, rec.end_ns);
                (Some(metrics), None)
            }
            Err(Some(error)) => {
                acc.add_error(&error, rec.sent_ns, rec.end_ns);
                (None, Some(error))
            }
            Err(None) => {
                acc.add_cancelled();
                // Excluded from every latency statistic, but the record keeps the time to first
                // token when the first token had arrived before the cancellation.
                (self.partial_ttft(rec, parsed), None)
            }
        };
        // Only the measured phase is exported per request.
        if is_profiling {
            let record_error = error.as_ref().map(|e| RecordError {
                code: e.code,
                kind: e.kind.as_str(),
                message: &e.message,
            });
            let clock = &self.clock;
            self.jsonl
                .push(|out| write_record_line(out, rec, clock, metrics.as_ref(), record_error))?;
        }
        Ok(())
    }
}

impl Processor {
    /// For a cancelled stream: the metrics line holding only its time to first token, when one
    /// had arrived.
    fn partial_ttft(
        &self,
        rec: &RawRecord,
        parsed: &mut Parsed,
    ) -> Option<crate::metrics::record_metrics::RequestMetrics> {
        if !rec.streamed || rec.events.is_empty() {
            return None;
        }
        self.parse(rec, parsed).ok()?;
        let &(first_at, _) = parsed.text_events.first()?;
        let ttft_ms = first_at.checked_sub(rec.sent_ns)? as f64 / 1e6;
        Some(crate::metrics::record_metrics::RequestMetrics {
            values: vec![(crate::metrics::MetricId::TimeToFirstToken, ttft_ms)],
            inter_chunk_latency: Vec::new(),
            osl: None,
            osl_mismatch: false,
            usage_discrepancy: false,
        })
    }
}

/// Output token counts (answer, reasoning): from server usage when asked and present, else
/// counted once by the tokenizer. `None` for APIs that generate no tokens.
fn output_tokens(
    produces_tokens: bool,
    use_server_token_count: bool,
    tokenizer: &dyn Tokenizer,
    parsed: &Parsed,
) -> Option<(u64, u64)> {
    if !produces_tokens {
        return None;
    }
    if use_server_token_count
        && let Some(completion) = parsed.usage.and_then(|u| u.completion_tokens)
    {
        let reasoning = parsed
            .usage
            .and_then(|u| u.reasoning_tokens)
            .unwrap_or(0)
            .min(completion);
        return Some((completion - reasoning, reasoning));
    }
    let count = |text: &str| {
        if text.is_empty() {
            0
        } else {
            tokenizer.count(text) as u64
        }
    };
    Some((count(&parsed.content), count(&parsed.reasoning)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kept_parse_is_emptied_and_lets_go_of_a_long_replys_buffer() {
        let mut parsed = Parsed {
            content: "x".repeat(100),
            reasoning: "y".repeat(KEPT_TEXT_LIMIT + 1),
            text_events: vec![(1, true); 10],
            usage: Some(Usage::default()),
            first_chunk_tokens: Some(3),
        };
        let kept = parsed.content.capacity();
        parsed.reset();
        assert!(parsed.content.is_empty() && parsed.reasoning.is_empty());
        assert!(parsed.text_events.is_empty());
        assert!(parsed.usage.is_none() && parsed.first_chunk_tokens.is_none());
        assert_eq!(parsed.content.capacity(), kept, "a usual buffer is kept");
        assert_eq!(
            parsed.reasoning.capacity(),
            0,
            "a long reply's buffer is dropped"
        );
        assert!(parsed.text_events.capacity() >= 10);
    }
}
