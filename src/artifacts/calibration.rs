//! `calibration.json`: what `aiperf calibrate` measured of this host's client capacity, read
//! back before every run to warn when a run asks for more than the host can drive.
//!
//! It lives in the user's cache (`$AIPERF_CALIBRATION`, else `$XDG_CACHE_HOME/aiperf/`, else
//! `~/.cache/aiperf/`), not in a result directory: it describes the machine, not a run.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// One closed-loop measurement of the calibration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CalibrationPoint {
    /// Requests in flight.
    pub concurrency: u32,
    /// Requests per second reached.
    pub request_rate: f64,
    /// TTFT p50 and p99, ms (against the zero-latency mock: all of it is the client's).
    pub ttft_p50_ms: Option<f64>,
    /// See `ttft_p50_ms`.
    pub ttft_p99_ms: Option<f64>,
    /// Whether the run's own headroom said the client was the limit.
    pub client_bound: bool,
    /// CPU used, of the usable cores.
    pub cpu_utilization: Option<f64>,
    /// Event loop delay p99, ms.
    pub event_loop_delay_p99_ms: Option<f64>,
}

/// The whole file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    /// `aiperf` version that measured it.
    pub aiperf_version: String,
    /// When (ISO 8601, local time).
    pub measured_at: String,
    /// Cores the process could use.
    pub cores: u64,
    /// The server calibrated against (`mock://...` for the embedded one).
    pub url: String,
    /// The highest request rate reached at any concurrency.
    pub max_request_rate: f64,
    /// The most concurrent streams driven with headroom left (not client-bound), if any.
    pub max_concurrency: Option<u32>,
    /// Client-added TTFT at concurrency 1, p50 and p99, ms.
    pub added_ttft_p50_ms: Option<f64>,
    /// See `added_ttft_p50_ms`.
    pub added_ttft_p99_ms: Option<f64>,
    /// The open-loop rate of the half-load measurement.
    pub half_load_rate: f64,
    /// TTFT at half load, p50 and p99, ms.
    pub half_load_ttft_p50_ms: Option<f64>,
    /// See `half_load_ttft_p50_ms`.
    pub half_load_ttft_p99_ms: Option<f64>,
    /// Schedule lag p99 at half load, ms.
    pub half_load_schedule_lag_p99_ms: Option<f64>,
    /// Every closed-loop point.
    pub points: Vec<CalibrationPoint>,
}

impl Calibration {
    /// The sentence `aiperf calibrate` ends with.
    pub fn sentence(&self) -> String {
        let streams = self
            .max_concurrency
            .map(|c| format!(" / {c} concurrent streams"))
            .unwrap_or_else(|| " (every tested concurrency was client-bound)".into());
        let added = self
            .half_load_ttft_p99_ms
            .map(|p| format!(" with under {p:.2} ms added (TTFT p99 at half that rate)"))
            .unwrap_or_default();
        format!(
            "this host can drive about {:.0} req/s{streams}{added}",
            self.max_request_rate
        )
    }
}

/// Where the calibration is kept (see the module documentation).
pub fn default_path() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("AIPERF_CALIBRATION") {
        return Some(PathBuf::from(path));
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(cache.join("aiperf").join(super::names::CALIBRATION_JSON))
}

/// The calibration on this host, if one was measured and reads back.
pub fn read() -> Option<Calibration> {
    super::io::read(&default_path()?).ok()
}
