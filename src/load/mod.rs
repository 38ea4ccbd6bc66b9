//! The load engine: schedules arrivals, sends requests, reads streams, and emits one
//! [`RawRecord`] per request. It knows nothing about sweeps, metrics or files.

pub mod buffers;
pub mod cancellation;
pub mod clock;
pub mod dispatch;
pub mod pool;
pub mod record;
pub mod record_sink;
pub mod schedule;
pub mod sse;
pub mod transport;

pub use clock::RunClock;
pub use record::{ErrorKind, Outcome, RawRecord, RequestError};
