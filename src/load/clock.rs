//! The run's single monotonic clock, paired once with wall-clock time for export timestamps.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Nanoseconds since the start of the run on a monotonic clock, plus the wall-clock time of that
/// start. Every duration `aiperf` reports is a difference of two readings of this clock.
#[derive(Debug, Clone, Copy)]
pub struct RunClock {
    origin: Instant,
    origin_wall_ns: u64,
}

impl RunClock {
    /// Starts the clock now.
    pub fn start() -> Self {
        let origin = Instant::now();
        let origin_wall_ns = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        Self {
            origin,
            origin_wall_ns,
        }
    }

    /// Monotonic nanoseconds since the start.
    #[inline]
    pub fn now_ns(&self) -> u64 {
        self.origin.elapsed().as_nanos() as u64
    }

    /// The `Instant` of a reading.
    pub fn instant_at(&self, ns: u64) -> Instant {
        self.origin + Duration::from_nanos(ns)
    }

    /// Unix-epoch nanoseconds of a reading (for export timestamps only).
    pub fn wall_ns(&self, ns: u64) -> u64 {
        self.origin_wall_ns + ns
    }

    /// RFC 3339 wall-clock time of a reading.
    pub fn wall_iso(&self, ns: u64) -> String {
        let wall = self.wall_ns(ns);
        chrono::DateTime::from_timestamp(
            (wall / 1_000_000_000) as i64,
            (wall % 1_000_000_000) as u32,
        )
        .map(|t| {
            t.with_timezone(&chrono::Local)
                .format("%Y-%m-%dT%H:%M:%S%.6f")
                .to_string()
        })
        .unwrap_or_default()
    }
}
