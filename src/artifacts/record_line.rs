//! One line of `profile_export.jsonl`: a request's timestamps, its per-request metrics and its
//! error, in AIPerf's `MetricRecordInfo` shape. The run writes lines straight from borrowed data
//! (`export::records`, no allocation per request); this is the shape they are read back in.
//! Tolerant of AIPerf's own lines: metadata keys this type does not know are kept in `other`.

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The whole line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordLine {
    /// When and how the request went.
    pub metadata: RecordMetadata,
    /// The request's metrics by tag.
    #[serde(default)]
    pub metrics: IndexMap<String, MetricValue>,
    /// Why it failed, when it did.
    #[serde(default)]
    pub error: Option<RecordError>,
}

impl RecordLine {
    /// A metric's single value (`None` for absent metrics and per-chunk lists).
    pub fn value(&self, tag: &str) -> Option<f64> {
        match self.metrics.get(tag)?.value {
            Measured::One(v) => v,
            Measured::Many(_) => None,
        }
    }

    /// Whether this request belongs to the warmup phase.
    pub fn is_warmup(&self) -> bool {
        let m = &self.metadata;
        m.phase_kind.as_deref().or(m.benchmark_phase.as_deref()) == Some("warmup")
    }

    /// Whether it succeeded (no error, not cancelled).
    pub fn succeeded(&self) -> bool {
        self.error.is_none() && !self.metadata.was_cancelled
    }
}

/// Timestamps (Unix-epoch nanoseconds) and identity of a request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordMetadata {
    /// The dataset entry sent.
    pub session_num: Option<u32>,
    /// The request's id.
    pub x_request_id: Option<String>,
    /// The correlation id (the request id).
    pub x_correlation_id: Option<String>,
    /// The conversation the entry belongs to.
    pub conversation_id: Option<String>,
    /// The turn within it.
    pub turn_index: Option<u32>,
    /// When the schedule wanted it sent.
    pub credit_issued_ns: Option<u64>,
    /// When it was sent.
    pub request_start_ns: Option<u64>,
    /// When the response headers arrived.
    pub request_ack_ns: Option<u64>,
    /// When the last byte arrived (or it failed).
    pub request_end_ns: Option<u64>,
    /// `profiling` or `warmup`.
    pub benchmark_phase: Option<String>,
    /// The phase's position.
    pub phase_index: Option<u32>,
    /// The request's position in the phase.
    pub profiling_index: Option<u64>,
    /// The phase's name.
    pub phase_name: Option<String>,
    /// The phase's kind.
    pub phase_kind: Option<String>,
    /// Whether it was cancelled.
    #[serde(default)]
    pub was_cancelled: bool,
    /// When it was cancelled.
    pub cancellation_time_ns: Option<u64>,
    /// The HTTP status, when a response came.
    pub http_status: Option<u16>,
    /// Whether it was due while a ramp was still rising (aiperf only).
    #[serde(default)]
    pub in_ramp: bool,
    /// Keys of another writer (AIPerf), as written.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// A metric of one request with its unit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricValue {
    /// The value (a list for per-chunk metrics such as `inter_chunk_latency`).
    pub value: Measured,
    /// Its unit.
    pub unit: String,
}

/// One value, or one per chunk.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Measured {
    /// A single value (`null` in the file when it was not finite).
    One(Option<f64>),
    /// A value per chunk.
    Many(Vec<f64>),
}

/// The error of a failed request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordError {
    /// HTTP status, if any.
    pub code: Option<u16>,
    /// Error class (`http`, `timeout`, ...).
    #[serde(rename = "type")]
    pub kind: String,
    /// Message.
    pub message: String,
}
