//! The embedded OpenAI-compatible mock server: `aiperf mock-server`, and `mock://` URLs, which
//! start it in-process on a free loopback port.
//!
//! It is a real HTTP server (axum) with a timing engine on its own thread: a latency model
//! (TTFT, ITL, jitter), a continuous-batching capacity model (see `engine.rs` and
//! `docs/mock-server.md` for the formulas) and fault injection. It never touches the network
//! beyond the loopback address it binds.

mod engine;
mod read_stamp;
mod server;
mod words;

pub use crate::spec::mock_url::MockConfig;
pub use server::{MockLogs, MockServer, serve_forever, spawn};
