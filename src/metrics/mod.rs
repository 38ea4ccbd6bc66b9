//! Metrics: the registry, per-request definitions, distributions and the run summary.

pub mod accumulator;
pub mod distribution;
pub mod record_metrics;
pub mod registry;

pub use accumulator::{ErrorGroup, RunAccumulator, RunSummary};
pub use distribution::{Distribution, Stats};
pub use registry::{MetricId, Unit};
