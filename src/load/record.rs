//! What the load engine records about one request: timestamps and raw bytes, nothing parsed.
//!
//! Parsing and token counting happen later, off the timing path, in the record processor.

pub use crate::dataset::{RequestInput, SessionEnd};
use crate::spec::PhaseKind;

/// How a request ended, as far as the transport can tell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A complete response arrived (its content may still turn out to be an error object).
    Success,
    /// The request failed.
    Error(RequestError),
    /// Cancelled at the end of the grace period or by Ctrl-C.
    Cancelled,
}

/// The class of a failed request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ErrorKind {
    /// The server answered with a non-2xx status.
    HttpStatus,
    /// No connection could be made.
    Connect,
    /// The request exceeded the request timeout.
    Timeout,
    /// The connection broke while the response was being read.
    StreamInterrupted,
    /// The response could not be parsed.
    ResponseParse,
    /// The server sent an error object instead of (or in the middle of) the response.
    ServerError,
    /// The client ran out of a local resource (file descriptors, ephemeral ports, buffers):
    /// a fault of the machine running aiperf, never of the server.
    ClientResource,
    /// Any other transport failure.
    Request,
}

impl ErrorKind {
    /// Stable name used in exports (`error.type`).
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::HttpStatus => "http_status",
            ErrorKind::Connect => "connect",
            ErrorKind::Timeout => "timeout",
            ErrorKind::StreamInterrupted => "stream_interrupted",
            ErrorKind::ResponseParse => "response_parse",
            ErrorKind::ServerError => "server_error",
            ErrorKind::ClientResource => "client_resource",
            ErrorKind::Request => "request",
        }
    }
}

/// Details of a failed request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestError {
    /// Error class.
    pub kind: ErrorKind,
    /// HTTP status, when there was one.
    pub code: Option<u16>,
    /// Short human description (server message, truncated).
    pub message: String,
}

/// One request as measured. Times are [`RunClock`](super::RunClock) nanoseconds.
#[derive(Debug, Clone)]
pub struct RawRecord {
    /// Warmup or profiling.
    pub phase: PhaseKind,
    /// Request number within the phase, in issue order.
    pub index: u64,
    /// What was sent.
    pub input: RequestInput,
    /// A random (v4) UUID sent as the `X-Request-ID` header and written as the record's
    /// `x_request_id`, so a server's own logs can be joined to aiperf's records.
    pub request_id: u128,
    /// When the schedule wanted the request sent.
    pub intended_ns: u64,
    /// When the request was handed to a connection ready to send it (after any wait for one).
    pub sent_ns: u64,
    /// How long the request waited for a connection before `sent_ns` (k6's `http_req_blocked`):
    /// a new connection's connect time, or an idle one catching up; 0 when one was ready.
    pub blocked_ns: u64,
    /// When the response headers arrived.
    pub response_start_ns: Option<u64>,
    /// When the last byte arrived (or the request failed or was cancelled).
    pub end_ns: u64,
    /// HTTP status, when a response arrived.
    pub status: Option<u16>,
    /// Whether the response was read as an SSE stream.
    pub streamed: bool,
    /// For streams: (arrival time, end offset in `payload`) of each `data:` event.
    pub events: Vec<(u64, u32)>,
    /// Streams: the concatenated `data:` payloads. Otherwise: the response body.
    pub payload: Vec<u8>,
    /// Response bytes received.
    pub bytes_received: u64,
    /// The first attempt failed on a reused connection before any response byte arrived and
    /// the request was sent again on a fresh one. Times still run from the first send.
    pub reconnected: bool,
    /// Whether it was due while a ramp was still rising.
    pub in_ramp: bool,
    /// How it ended.
    pub outcome: Outcome,
}

impl RawRecord {
    /// A record for a request about to be sent.
    pub fn new(phase: PhaseKind, index: u64, input: RequestInput, intended_ns: u64) -> Self {
        Self {
            phase,
            index,
            input,
            request_id: uuid::Uuid::new_v4().as_u128(),
            intended_ns,
            sent_ns: intended_ns,
            blocked_ns: 0,
            response_start_ns: None,
            end_ns: intended_ns,
            status: None,
            streamed: false,
            events: Vec::new(),
            payload: Vec::new(),
            bytes_received: 0,
            reconnected: false,
            in_ramp: false,
            outcome: Outcome::Success,
        }
    }

    /// Bytes the record holds on the heap and inline: what it costs to keep it waiting for
    /// its processor. Counts allocated capacity, not length, since capacity is what memory
    /// holds.
    pub fn footprint(&self) -> usize {
        let error = match &self.outcome {
            Outcome::Error(e) => e.message.capacity(),
            Outcome::Success | Outcome::Cancelled => 0,
        };
        std::mem::size_of::<Self>()
            + self.payload.capacity()
            + self.events.capacity() * std::mem::size_of::<(u64, u32)>()
            + error
    }

    /// The `data:` payloads with their arrival times.
    pub fn event_payloads(&self) -> impl Iterator<Item = (u64, &[u8])> {
        let mut start = 0usize;
        self.events.iter().map(move |&(at, end)| {
            let slice = &self.payload[start..end as usize];
            start = end as usize;
            (at, slice)
        })
    }
}
