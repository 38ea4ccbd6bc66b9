//! Metrics: per-request definitions, distributions and the run summary (the registry of
//! metric names is `crate::registry`).

pub mod accumulator;
pub mod distribution;
pub mod record_metrics;

pub use crate::registry::{MetricId, Unit};
pub use accumulator::{ErrorGroup, RunAccumulator, RunSummary};
pub use distribution::{Distribution, Stats};
