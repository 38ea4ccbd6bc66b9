//! `profile_export.jsonl`: one line per profiling request in AIPerf's `MetricRecordInfo` shape,
//! written through a buffered writer as requests complete (never all held in memory).

use crate::load::{Outcome, RawRecord, RunClock};
use crate::metrics::MetricId;
use crate::metrics::record_metrics::RequestMetrics;
use serde::Serialize;
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
    /// Due while a ramp (`--*-ramp-duration`) was still rising.
    in_ramp: bool,
}

#[derive(Serialize)]
struct ErrorOut<'a> {
    code: Option<u16>,
    #[serde(rename = "type")]
    kind: &'a str,
    message: &'a str,
}

/// `{tag: {"value", "unit"}}` for every metric of the request, written directly: tags and units
/// are registry constants that need no escaping (a test checks every one), so only the numbers
/// go through serde_json. This is a third of the line's cost saved on every request.
fn write_metrics(out: &mut impl Write, metrics: Option<&RequestMetrics>) -> std::io::Result<()> {
    let Some(m) = metrics else {
        return out.write_all(b"{}");
    };
    let entry = |out: &mut dyn Write, first: bool, id: MetricId, value: &dyn erased::Value| {
        out.write_all(if first { b"{\"" } else { b",\"" })?;
        out.write_all(id.tag().as_bytes())?;
        out.write_all(b"\":{\"value\":")?;
        value.write(out)?;
        out.write_all(b",\"unit\":\"")?;
        out.write_all(id.def().unit.as_str().as_bytes())?;
        out.write_all(b"\"}")
    };
    let mut first = true;
    for &(id, value) in &m.values {
        entry(out, first, id, &value)?;
        first = false;
    }
    if !m.inter_chunk_latency.is_empty() {
        entry(
            out,
            first,
            MetricId::InterChunkLatency,
            &m.inter_chunk_latency,
        )?;
        first = false;
    }
    out.write_all(if first { b"{}" } else { b"}" })
}

/// A metric value written as serde_json writes it (non-finite numbers as `null`).
mod erased {
    pub trait Value {
        fn write(&self, out: &mut dyn std::io::Write) -> std::io::Result<()>;
    }
    impl<T: serde::Serialize> Value for T {
        fn write(&self, out: &mut dyn std::io::Write) -> std::io::Result<()> {
            serde_json::to_writer(out, self).map_err(std::io::Error::other)
        }
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
    metrics: Option<&RequestMetrics>,
    error: Option<RecordError<'_>>,
) -> std::io::Result<()> {
    let cancelled = rec.outcome == Outcome::Cancelled;
    let request_id = uuid::Uuid::from_u128(rec.request_id).to_string();
    let metadata = Metadata {
        session_num: rec.input.session_num,
        x_correlation_id: request_id.clone(),
        x_request_id: request_id,
        conversation_id: &rec.input.conversation,
        turn_index: rec.input.turn,
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
        in_ramp: rec.in_ramp,
    };
    let error = error.map(|e| ErrorOut {
        code: e.code,
        kind: e.kind,
        message: e.message,
    });
    // `{"metadata":…,"metrics":…,"error":…}`, serde_json's compact form.
    out.write_all(b"{\"metadata\":")?;
    serde_json::to_writer(&mut *out, &metadata).map_err(std::io::Error::other)?;
    out.write_all(b",\"metrics\":")?;
    write_metrics(out, metrics)?;
    out.write_all(b",\"error\":")?;
    serde_json::to_writer(&mut *out, &error).map_err(std::io::Error::other)?;
    out.write_all(b"}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::REGISTRY;
    use crate::spec::PhaseKind;

    #[test]
    fn every_tag_and_unit_needs_no_escaping() {
        for def in REGISTRY {
            for text in [def.id.tag(), def.unit.as_str()] {
                assert_eq!(serde_json::to_string(text).unwrap(), format!("\"{text}\""));
            }
        }
    }

    /// The line is byte for byte what serializing the same content as a JSON value gives.
    #[test]
    fn the_line_is_serde_json_compact_form() {
        let clock = RunClock::start();
        let input = crate::load::record::RequestInput {
            conversation: "conv".into(),
            session_num: 3,
            turn: 1,
            ..Default::default()
        };
        let mut rec = RawRecord::new(PhaseKind::Profiling, 7, input, 1_000);
        rec.sent_ns = 2_000;
        rec.end_ns = 9_500_123;
        rec.status = Some(200);
        rec.response_start_ns = Some(4_000);
        let metrics = RequestMetrics {
            values: vec![
                (MetricId::RequestLatency, 9.498123),
                (MetricId::TimeToFirstToken, f64::NAN),
                (MetricId::OutputSequenceLength, 32.0),
                (MetricId::OutputTokenThroughputPerUser, 1.0 / 3.0),
            ],
            inter_chunk_latency: vec![0.25, 1e-7, 12345.678],
            osl: Some(32),
            osl_mismatch: false,
            usage_discrepancy: false,
        };
        for (metrics, error) in [
            (Some(&metrics), None),
            (
                None,
                Some(RecordError {
                    code: Some(500),
                    kind: "http_status",
                    message: "a \"quoted\"\nmessage",
                }),
            ),
            (
                Some(&RequestMetrics {
                    values: vec![],
                    inter_chunk_latency: vec![],
                    osl: None,
                    osl_mismatch: false,
                    usage_discrepancy: false,
                }),
                None,
            ),
        ] {
            let mut line = Vec::new();
            let error_value = error
                .as_ref()
                .map(|e| serde_json::json!({"code": e.code, "type": e.kind, "message": e.message}));
            write_record_line(&mut line, &rec, &clock, metrics, error).unwrap();
            let parsed: serde_json::Value = serde_json::from_slice(&line).unwrap();
            assert_eq!(parsed["metadata"]["conversation_id"], "conv");
            assert_eq!(parsed["metadata"]["turn_index"], 1);
            assert_eq!(parsed["metadata"]["session_num"], 3);
            let mut expected_metrics = serde_json::Map::new();
            if let Some(m) = metrics {
                for &(id, value) in &m.values {
                    expected_metrics.insert(
                        id.tag().into(),
                        serde_json::json!({"value": value, "unit": id.def().unit.as_str()}),
                    );
                }
                if !m.inter_chunk_latency.is_empty() {
                    expected_metrics.insert(
                        "inter_chunk_latency".into(),
                        serde_json::json!({"value": m.inter_chunk_latency, "unit": "ms"}),
                    );
                }
            }
            let expected = serde_json::json!({
                "metadata": parsed["metadata"].clone(),
                "metrics": expected_metrics,
                "error": error_value,
            });
            assert_eq!(
                String::from_utf8(line).unwrap(),
                serde_json::to_string(&expected).unwrap()
            );
        }
    }
}
