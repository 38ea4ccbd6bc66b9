//! aiperf: benchmark OpenAI-compatible LLM inference servers.
//!
//! The pipeline (see `docs/architecture.md`): `cli` and `spec` describe a run, `dataset` builds
//! the prompts, `load` drives requests and records them, `metrics` turns records into
//! statistics, `export` writes files and tables, `run` wires these together for one benchmark,
//! and `mock` is the embedded OpenAI-compatible server used by the quickstart and the tests.

pub mod after_run;
pub mod aggregate;
pub mod artifacts;
pub mod cli;
pub mod crash;
pub mod dataset;
pub mod endpoint;
pub mod error;
pub mod exit_code;
pub mod experiment;
pub mod export;
pub mod gate;
pub mod load;
pub mod logging;
pub mod metrics;
pub mod mock;
pub mod plan;
pub mod plot;
pub mod redact;
pub mod registry;
pub mod run;
pub mod search;
pub mod signals;
pub mod spec;
pub mod support;
pub mod track;

/// The version written into every export.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
