//! `run_metadata.json`: how a run was configured and how it ended, for people and for tools that
//! resume or compare runs (W&B reads its exit code).

use serde::{Deserialize, Serialize};

/// How a run ended.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Every phase finished.
    Completed,
    /// Finished, but every request failed.
    AllRequestsFailed,
    /// Finished, but no request completed (all cancelled, or none sent).
    NothingCompleted,
    /// Stopped early: the server went away mid-run.
    ServerGone,
    /// Stopped early: more requests failed than the failed-request threshold allows.
    TooManyFailures,
    /// Stopped by a signal (Ctrl-C, SIGTERM, SIGHUP).
    Interrupted,
}

/// Request counts of the profiling phase.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequestCounts {
    /// Sent (= success + errors + cancelled).
    pub sent: u64,
    /// Successful.
    pub success: u64,
    /// Failed.
    pub errors: u64,
    /// Cancelled.
    pub cancelled: u64,
    /// Of those sent, how many were re-sent once on a fresh connection because the server had
    /// closed the reused one before answering (not errors; counted here, timed from the first
    /// send).
    pub reconnects: u64,
    /// Failed for lack of a client resource (file descriptors, local ports): the client's fault.
    pub client_resource_errors: u64,
}

/// Whether the client kept up with the schedule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoadVerdict {
    /// True when the client, not the server, limited the run: arrivals were sent materially
    /// late (latencies measured from the send time understate what users would see; see the
    /// `effective_*` metrics), or requests failed for lack of a client resource.
    pub client_bound: bool,
    /// Median schedule lag in ms.
    pub schedule_lag_p50_ms: Option<f64>,
    /// 99th percentile schedule lag in ms.
    pub schedule_lag_p99_ms: Option<f64>,
    /// A sentence for people.
    pub explanation: String,
    /// What the client measured of its own headroom during the profiling phase.
    #[serde(default)]
    pub client_headroom: ClientHeadroom,
}

/// The client's own headroom during the profiling phase (see `docs/outputs.md` for the limits
/// that make a run client-bound). Absent figures were not measured.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ClientHeadroom {
    /// Cores the process may run on (affinity and cgroup limits included).
    pub cores: u64,
    /// Process CPU time over wall time, as a fraction of those cores (1.0 = all busy).
    pub cpu_utilization: Option<f64>,
    /// The same for the busiest whole second.
    pub cpu_utilization_busiest_second: Option<f64>,
    /// How long a task handed to the event loop waited to run: median, ms.
    pub event_loop_delay_p50_ms: Option<f64>,
    /// 99th percentile, ms.
    pub event_loop_delay_p99_ms: Option<f64>,
    /// Longest, ms.
    pub event_loop_delay_max_ms: Option<f64>,
    /// Probes behind the three figures above.
    pub event_loop_samples: u64,
    /// Most bytes of records (their footprint in memory) seen waiting for the record
    /// processors at once.
    #[serde(default)]
    pub processor_queue_max_bytes: u64,
    /// The queues' room in bytes (the load engine waits when it is full).
    #[serde(default)]
    pub processor_queue_capacity_bytes: u64,
    /// Requests that waited for room in the queues before their record was taken.
    #[serde(default)]
    pub processor_queue_waits: u64,
    /// Those waits added up, ms.
    #[serde(default)]
    pub processor_queue_waited_ms: f64,
    /// Those requests over the phase's requests (`None` when it issued none).
    #[serde(default)]
    pub processor_queue_wait_fraction: Option<f64>,
    /// The host's cores (all of them, whatever aiperf may use).
    #[serde(default)]
    pub host_cores: u64,
    /// Busy time of all the host's cores over the phase, as a fraction (1.0 = all busy; other
    /// processes, the server among them, included).
    #[serde(default)]
    pub host_cpu_utilization: Option<f64>,
    /// Longest a sleeping client thread woke late, ms: the host (its other processes, its
    /// hypervisor, or aiperf's own busy threads) ran none of it for that long.
    #[serde(default)]
    pub host_stall_max_ms: Option<f64>,
    /// Times it woke at least `HOST_STALL_MS` (5 ms) late.
    #[serde(default)]
    pub host_stalls: u64,
    /// Those stalls' total time over the phase's wall time.
    #[serde(default)]
    pub host_stalled_fraction: Option<f64>,
}

/// The input file a run sent, so results name the exact trace behind them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InputFileInfo {
    /// The file as given.
    pub path: String,
    /// Its format.
    pub format: String,
    /// SHA-256 of its bytes, hex.
    pub sha256: String,
    /// Conversations it holds.
    pub conversations: u64,
    /// Turns over all conversations.
    pub turns: u64,
}

/// How closely a fixed-schedule replay followed its trace.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReplaySummary {
    /// Trace time (ms) the replay clock started at.
    pub origin_ms: f64,
    /// Gaps were divided by this.
    pub speedup: f64,
    /// Requests sent (later turns of conversations included); a replay drops none.
    pub sent: u64,
    /// Send time minus the time the trace asked for, ms: median, 90th and 99th percentile and
    /// the largest (AIPerf's `replay_sched_lag_p50/p90/p99`).
    pub schedule_lag_p50_ms: Option<f64>,
    /// 90th percentile, ms.
    pub schedule_lag_p90_ms: Option<f64>,
    /// 99th percentile, ms.
    pub schedule_lag_p99_ms: Option<f64>,
    /// Largest, ms.
    pub schedule_lag_max_ms: Option<f64>,
    /// A sentence for people.
    pub explanation: String,
}

/// The file's content.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunMetadata {
    /// `aiperf` version.
    pub aiperf_version: String,
    /// Short id of this run.
    pub benchmark_id: String,
    /// How it ended.
    pub status: RunStatus,
    /// The process exit code this run maps to.
    pub exit_code: i32,
    /// Command line with secrets redacted.
    pub command_line: String,
    /// The seed used (given or drawn).
    pub random_seed: u64,
    /// Which tokenizer counted tokens.
    pub tokenizer: String,
    /// Target URLs (credentials redacted; `mock://` shown with its bound address).
    pub urls: Vec<String>,
    /// Start time (ISO 8601, local).
    pub start_time: String,
    /// End time (ISO 8601, local).
    pub end_time: String,
    /// Profiling phase request counts.
    pub requests: RequestCounts,
    /// Whether the client kept up.
    pub load_verdict: LoadVerdict,
    /// What a person must know about this run (error rate, client limits, unstreamed
    /// responses, a server that went away), one line each.
    pub warnings: Vec<String>,
    /// The input file sent, if the dataset is a file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_file: Option<InputFileInfo>,
    /// How closely a fixed-schedule replay followed its trace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replay: Option<ReplaySummary>,
    /// The resolved benchmark spec.
    pub spec: serde_json::Value,
}
