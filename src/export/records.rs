//! `profile_export.jsonl`: one line per profiling request in AIPerf's `MetricRecordInfo` shape,
//! written through a buffered writer as requests complete (never all held in memory).

use crate::load::{Outcome, RawRecord, RunClock};
use crate::metrics::MetricId;
use crate::metrics::record_metrics::RequestMetrics;
use serde::Serialize;
use serde::ser::SerializeMap;
use std::io::Write;

#[derive(Serialize)]
struct Metadata<'a> {
    session_num: u32,
    x_request_id: String,
    x_correlation_id: String,
    conversation_id: &'a str,
    turn_index: u32,
    credit_issued_ns: u64,
    request_start_ns: u64,
    request_ack_ns: Option<u64>,
    request_end_ns: u64,
    benchmark_phase: &'static str,
    phase_index: u32,
    profiling_index: u64,
    phase_name: &'static str,
    phase_kind: &'static str,
    was_cancelled: bool,
    cancellation_time_ns: Option<u64>,
    http_status: Option<u16>,
}

/// One line, serialized straight from borrowed data (no intermediate JSON values).
#[derive(Serialize)]
struct Line<'a> {
    metadata: Metadata<'a>,
    metrics: MetricsOut<'a>,
    error: Option<ErrorOut<'a>>,
}

#[derive(Serialize)]
struct ErrorOut<'a> {
    code: Option<u16>,
    #[serde(rename = "type")]
    kind: &'a str,
    message: &'a str,
}

#[derive(Serialize)]
struct ValueWithUnit<T> {
    value: T,
    unit: &'static str,
}

/// `{tag: {"value", "unit"}}` for every metric of the request.
struct MetricsOut<'a>(Option<&'a RequestMetrics>);

impl Serialize for MetricsOut<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let Some(m) = self.0 else {
            return serializer.serialize_map(Some(0))?.end();
        };
        let icl = !m.inter_chunk_latency.is_empty();
        let mut map = serializer.serialize_map(Some(m.values.len() + icl as usize))?;
        for &(id, value) in &m.values {
            map.serialize_entry(
                id.tag(),
                &ValueWithUnit {
                    value,
                    unit: id.def().unit.as_str(),
                },
            )?;
        }
        if icl {
            let id = MetricId::InterChunkLatency;
            map.serialize_entry(
                id.tag(),
                &ValueWithUnit {
                    value: &m.inter_chunk_latency,
                    unit: id.def().unit.as_str(),
                },
            )?;
        }
        map.end()
    }
}

/// The error object of a record line.
pub struct RecordError<'a> {
    /// HTTP status.
    pub code: Option<u16>,
    /// Error class.
    pub kind: &'a str,
    /// Message.
    pub message: &'a str,
}

/// Writes one record line, without its newline.
pub fn write_record_line(
    out: &mut impl Write,
    rec: &RawRecord,
    clock: &RunClock,
    conversation_id: &str,
    metrics: Option<&RequestMetrics>,
    error: Option<RecordError<'_>>,
) -> std::io::Result<()> {
    let cancelled = rec.outcome == Outcome::Cancelled;
    let request_id = uuid::Uuid::new_v4().to_string();
    let metadata = Metadata {
        session_num: rec.entry,
        x_correlation_id: request_id.clone(),
        x_request_id: request_id,
        conversation_id,
        turn_index: 0,
        credit_issued_ns: clock.wall_ns(rec.intended_ns),
        request_start_ns: clock.wall_ns(rec.sent_ns),
        request_ack_ns: rec.response_start_ns.map(|t| clock.wall_ns(t)),
        request_end_ns: clock.wall_ns(rec.end_ns),
        benchmark_phase: "profiling",
        phase_index: 0,
        profiling_index: rec.index,
        phase_name: "profiling",
        phase_kind: "profiling",
        was_cancelled: cancelled,
        cancellation_time_ns: cancelled.then(|| clock.wall_ns(rec.end_ns)),
        http_status: rec.status,
    };
    let line = Line {
        metadata,
        metrics: MetricsOut(metrics),
        error: error.map(|e| ErrorOut {
            code: e.code,
            kind: e.kind,
            message: e.message,
        }),
    };
    serde_json::to_writer(&mut *out, &line).map_err(std::io::Error::other)
}
