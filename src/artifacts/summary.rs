//! `profile_export_aiperf.json`: a run's summary in AIPerf's shape. Metrics sit at the top
//! level by tag (`"time_to_first_token": {"unit": "ms", "avg": ..., "p99": ...}`) next to the
//! run's settings and how it ended. Read back by aggregates, searches, plots and uploads.
//!
//! Tolerant of AIPerf's own files (plots and uploads read those too): a top-level object with a
//! `unit` is a metric, any other key this type does not know is kept in `other` as written.

use crate::spec::{BenchmarkSpec, PhaseKind, PhaseSpec, PhaseType};
use indexmap::IndexMap;
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Number, Value};

/// One metric's statistics: its unit and `avg`, `min`, `max`, `p1`..`p99.9`, `std`, `count`,
/// `sum` as present (a scalar metric such as `request_throughput` has only `avg`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricSummary {
    /// The unit the values are in (`ms`, `tokens/sec`).
    pub unit: String,
    /// The statistics in file order; `None` where the file has `null` (no finite value).
    #[serde(flatten)]
    pub stats: IndexMap<String, Option<Number>>,
}

impl MetricSummary {
    /// A statistic (`avg`, `p99`, ...) when present and finite.
    pub fn stat(&self, stat: &str) -> Option<f64> {
        self.stats
            .get(stat)?
            .as_ref()?
            .as_f64()
            .filter(|v| v.is_finite())
    }

    /// Whether this metric has a distribution (percentiles), not just one value.
    pub fn is_distribution(&self) -> bool {
        self.stats.contains_key("p50")
    }
}

/// `run_info`: who ran it and with which seed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunInfo {
    /// The run's id.
    pub benchmark_id: String,
    /// The seed prompts and arrivals came from.
    pub random_seed: Option<u64>,
    /// Always 0 (AIPerf's field).
    pub trial: u64,
    /// The command line, secrets redacted.
    pub cli_command: String,
}

/// One line of `error_summary`: a kind of failure and how often it happened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorCount {
    /// What failed.
    pub error_details: ErrorDetails,
    /// How many requests failed this way.
    pub count: u64,
}

/// The identity of a kind of failure.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorDetails {
    /// The HTTP status, when there was one.
    pub code: Option<u16>,
    /// The error kind (`connect`, `http`, `timeout`, ...).
    #[serde(rename = "type")]
    pub kind: String,
    /// The message.
    pub message: String,
}

/// The whole file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunSummaryFile {
    /// The file format's version.
    pub schema_version: Option<String>,
    /// The writer's version.
    pub aiperf_version: Option<String>,
    /// The run's id.
    pub benchmark_id: Option<String>,
    /// The profiling phase's metrics by tag, in file order.
    pub metrics: IndexMap<String, MetricSummary>,
    /// The benchmark as run (the spec, secrets redacted).
    pub input_config: Value,
    /// Seed and command line.
    pub run_info: Option<RunInfo>,
    /// Whether Ctrl-C (or a signal) ended the run.
    pub was_cancelled: bool,
    /// Whether the run did everything it set out to.
    pub is_complete: bool,
    /// Why not, when it did not.
    pub incomplete_reason: Option<String>,
    /// Requests resent on a fresh connection.
    pub connection_reconnects: Option<u64>,
    /// Whether the client, not the server, limited the run (run_metadata.json says why).
    pub client_bound: Option<bool>,
    /// Failures by kind.
    pub error_summary: Vec<ErrorCount>,
    /// When the run started (local time, ISO 8601).
    pub start_time: Option<String>,
    /// When it ended.
    pub end_time: Option<String>,
    /// The warmup phase's metrics, when there was one.
    pub warmup_metrics: Option<IndexMap<String, MetricSummary>>,
    /// Keys of another writer (AIPerf) that are not metrics, as written.
    pub other: Map<String, Value>,
}

impl RunSummaryFile {
    /// Reads a run's summary file.
    pub fn read(path: &std::path::Path) -> Result<Self, super::io::ReadError> {
        super::io::read(path)
    }

    /// A statistic of a metric (`time_to_first_token`, `p99`) when present and finite.
    pub fn stat(&self, tag: &str, stat: &str) -> Option<f64> {
        self.metrics.get(tag)?.stat(stat)
    }

    /// The unit of a metric.
    pub fn unit(&self, tag: &str) -> Option<&str> {
        self.metrics.get(tag).map(|m| m.unit.as_str())
    }

    /// The benchmark as run, read back as the spec it was written from; `None` for settings
    /// that are not an aiperf spec of this version (another writer's file, an older format).
    pub fn spec(&self) -> Option<BenchmarkSpec> {
        serde_json::from_value(self.input_config.clone()).ok()
    }

    /// The profiling phase of the benchmark as run.
    pub fn profiling_phase(&self) -> Option<PhaseSpec> {
        self.spec()?
            .phases
            .into_iter()
            .find(|p| p.kind == PhaseKind::Profiling)
    }

    /// The first model the run was made against.
    pub fn model(&self) -> Option<String> {
        self.spec()?.models.items.into_iter().next().map(|m| m.name)
    }

    /// The profiling phase's concurrency and request rate, as far as the run set them.
    pub fn profiling_load(&self) -> (Option<u64>, Option<f64>) {
        match self.profiling_phase() {
            Some(p) => (p.concurrency.map(u64::from), p.rate),
            None => (None, None),
        }
    }

    /// Whether the profiling phase replayed a trace on its fixed schedule.
    pub fn is_replay(&self) -> bool {
        self.profiling_phase()
            .is_some_and(|p| p.phase_type == PhaseType::FixedSchedule)
    }
}

fn take<T: serde::de::DeserializeOwned, E: serde::de::Error>(
    map: &mut Map<String, Value>,
    key: &str,
) -> Result<Option<T>, E> {
    match map.shift_remove(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => serde_json::from_value(v)
            .map(Some)
            .map_err(|e| E::custom(format!("{key}: {e}"))),
    }
}

fn is_metric(value: &Value) -> bool {
    value.get("unit").is_some_and(Value::is_string)
}

impl<'de> Deserialize<'de> for RunSummaryFile {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let mut map = Map::deserialize(deserializer)?;
        let mut file = RunSummaryFile {
            schema_version: take(&mut map, "schema_version")?,
            aiperf_version: take(&mut map, "aiperf_version")?,
            benchmark_id: take(&mut map, "benchmark_id")?,
            input_config: map.shift_remove("input_config").unwrap_or(Value::Null),
            run_info: take(&mut map, "run_info")?,
            was_cancelled: take(&mut map, "was_cancelled")?.unwrap_or(false),
            is_complete: take(&mut map, "is_complete")?.unwrap_or(true),
            incomplete_reason: take(&mut map, "incomplete_reason")?,
            connection_reconnects: take(&mut map, "connection_reconnects")?,
            client_bound: take(&mut map, "client_bound")?,
            error_summary: take(&mut map, "error_summary")?.unwrap_or_default(),
            start_time: take(&mut map, "start_time")?,
            end_time: take(&mut map, "end_time")?,
            warmup_metrics: take(&mut map, "warmup_metrics")?,
            ..Default::default()
        };
        for (key, value) in map {
            if is_metric(&value) {
                let metric = serde_json::from_value(value)
                    .map_err(|e| D::Error::custom(format!("{key}: {e}")))?;
                file.metrics.insert(key, metric);
            } else {
                file.other.insert(key, value);
            }
        }
        Ok(file)
    }
}

impl Serialize for RunSummaryFile {
    /// In the order aiperf writes the file: versions and id, metrics, settings, the ending.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut doc = Map::new();
        let mut put = |key: &str, value: Value, keep_null: bool| {
            if keep_null || !value.is_null() {
                doc.insert(key.to_string(), value);
            }
        };
        put("schema_version", to(&self.schema_version), false);
        put("aiperf_version", to(&self.aiperf_version), false);
        put("benchmark_id", to(&self.benchmark_id), false);
        for (tag, metric) in &self.metrics {
            put(tag, to(metric), true);
        }
        put("input_config", self.input_config.clone(), false);
        put("run_info", to(&self.run_info), false);
        put("was_cancelled", Value::Bool(self.was_cancelled), true);
        put("is_complete", Value::Bool(self.is_complete), true);
        put("incomplete_reason", to(&self.incomplete_reason), true);
        put(
            "connection_reconnects",
            to(&self.connection_reconnects),
            false,
        );
        put("client_bound", to(&self.client_bound), false);
        put("error_summary", to(&self.error_summary), true);
        put("start_time", to(&self.start_time), false);
        put("end_time", to(&self.end_time), false);
        put("warmup_metrics", to(&self.warmup_metrics), false);
        for (key, value) in &self.other {
            put(key, value.clone(), true);
        }
        doc.serialize(serializer)
    }
}

/// A value of ours as JSON (serializing plain data into a value cannot fail).
fn to<T: Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or_default()
}
