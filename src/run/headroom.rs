//! The client's own headroom, measured while the profiling phase runs, so a run can say when the
//! client and not the server set its numbers. A sampler thread wakes every
//! [`SAMPLE_INTERVAL`] and reads three things that only the client can see:
//!
//! - **CPU**: the process's CPU time over wall time, per core it may run on (affinity and
//!   cgroup limits included, as `available_parallelism` reports them), for the phase and for its
//!   busiest second;
//! - **event loop delay**: how long a task handed to the runtime waits before a worker runs it
//!   (a worker busy with other requests delays reading responses by the same amount);
//! - **processor queue**: how many requests waited for room in the record processors' queues
//!   (the load engine held back by the processors), and the queues' peak fill in bytes;
//! - **the host's CPU**: how busy all of the host's cores were (`/proc/stat`). When aiperf and
//!   the server share a host whose cores were all busy, and a good part of that was aiperf's,
//!   the server ran with less CPU than it would have alone;
//! - **host stalls**: how late the sampler's own sleep ends. A thread that wakes tens of
//!   milliseconds late was not run by the host at all (a virtual machine's vCPU descheduled, the
//!   kernel busy, a process stopped), and every response due meanwhile is read that late; the
//!   server's latency did not grow. Seen on the 2-core benchmark VM: stalls of 35-50 ms a few
//!   times a minute under loopback load, which a second process (a Python loop sleeping 1 ms)
//!   saw at the same moments, with oha as the load generator as well as with aiperf.
//!
//! The sampler costs one wake-up and one tiny task per interval, about 100 a second.

use crate::artifacts::run_metadata::ClientHeadroom;
use crate::load::record_sink::{QueueGauge, QueueWaits};
use crate::support::numbers::quantile;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How often the sampler looks.
pub const SAMPLE_INTERVAL: Duration = Duration::from_millis(10);

/// CPU use (of the cores the process may use) from which the client counts as saturated.
/// Measured (docs/performance.md): 64 streams against the zero-latency embedded mock use 0.96
/// of two cores and 1.00 of one; light runs 0.02-0.13.
pub const CPU_BOUND: f64 = 0.9;

/// Event loop delay p99 (ms) from which responses are read late enough to distort latencies:
/// the client-added TTFT budget of docs/performance.md. Measured: light runs 0.11-0.28 ms
/// (release and debug builds), 64 streams pinned to one core 6.3 ms.
pub const LOOP_DELAY_BOUND_MS: f64 = 2.0;

/// Probes needed before the event loop delay p99 is judged (half a second of sampling): a
/// shorter phase's p99 is its maximum, one unlucky wake-up.
pub const MIN_LOOP_SAMPLES: u64 = 50;

/// Share of the phase's requests that waited for room in the record queues from which the
/// processors, not the server, set the pace: 1 in 100. Not the queues' fill: a single reply
/// larger than a queue (2 MiB) fills it while no request waits, and a processor descheduled by
/// a host stall can half-fill it without delaying any; and not any wait at all, for the same
/// reasons (one long reply waits for its queue to empty).
pub const QUEUE_WAIT_BOUND: f64 = 0.01;

/// Busy share of all the host's cores from which they count as saturated. Measured on the
/// 2-core VM against nginx beside aiperf: 0.61-0.62 at half the maximum rate, 0.81-0.83 at
/// concurrency 8, 0.91-0.94 at the maximum rate (nginx's one worker and aiperf's wake-ups leave
/// gaps; the queue or loop rule flags those runs). The bound is above that: it speaks only when
/// the cores had nothing to spare, so a busy test machine does not flag moderate runs.
pub const HOST_CPU_BOUND: f64 = 0.95;

/// aiperf's share of all the host's cores from which, on a saturated host, aiperf counts as
/// taking CPU from a server beside it: a quarter. A light run uses 0.01-0.13 of its cores, so a
/// server that saturates the host by itself (llama.cpp on CPU) is not flagged; aiperf at the
/// maximum rate against nginx on 2 cores uses 0.60 of them.
pub const HOST_CPU_SHARE_BOUND: f64 = 0.25;

/// How late (ms) a sleeping thread must wake to count as a host stall: several times the
/// wake-up latency of a busy 2-core machine (the sampler's oversleep stays under 1-2 ms there
/// while aiperf and nginx use 1.4 of the 2 cores).
pub const HOST_STALL_MS: f64 = 5.0;

/// Fraction of the phase spent in host stalls from which latency percentiles from p99 on are
/// the host's: at least 1 request in 100 arrived or was answered during a stall.
pub const HOST_STALL_BOUND: f64 = 0.01;

/// The record processors' queues, as the sampler reads them.
pub trait ProcessorQueue: Send + 'static {
    /// Bytes of records waiting for the processors; `None` once the queues are gone.
    fn depth(&self) -> Option<usize>;
    /// Waits for room so far (counts that only grow).
    fn waits(&self) -> QueueWaits;
}

impl ProcessorQueue for QueueGauge {
    fn depth(&self) -> Option<usize> {
        QueueGauge::depth(self).map(|(waiting, _)| waiting)
    }

    fn waits(&self) -> QueueWaits {
        QueueGauge::waits(self)
    }
}

/// A running sampler; [`HeadroomMonitor::finish`] stops it and returns what it saw.
pub struct HeadroomMonitor {
    stop: Arc<AtomicBool>,
    capacity: usize,
    thread: Option<std::thread::JoinHandle<Samples>>,
}

#[derive(Default)]
struct Samples {
    cpu_seconds: f64,
    wall_seconds: f64,
    busiest_second: Option<f64>,
    loop_delays_ms: Vec<f64>,
    queue_max: usize,
    /// Waits for room during the phase.
    queue_waits: QueueWaits,
    /// The host's busy share over the phase, and its cores.
    host_busy: Option<f64>,
    host_cores: u64,
    /// Longest oversleep of the sampler, and the oversleeps of at least [`HOST_STALL_MS`].
    oversleep_max_ms: Option<f64>,
    stalls: u64,
    stalled_ms: f64,
}

impl Samples {
    /// Notes that a sleep of [`SAMPLE_INTERVAL`] took `slept`.
    fn note_sleep(&mut self, slept: Duration) {
        let late = slept.saturating_sub(SAMPLE_INTERVAL).as_secs_f64() * 1e3;
        self.oversleep_max_ms = Some(self.oversleep_max_ms.map_or(late, |m| m.max(late)));
        if late >= HOST_STALL_MS {
            self.stalls += 1;
            self.stalled_ms += late;
        }
    }
}

/// CPU time this process has used, user and system, all threads.
fn process_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid out-pointer; CLOCK_PROCESS_CPUTIME_ID exists on every Linux.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return Duration::ZERO;
    }
    Duration::new(
        ts.tv_sec.max(0) as u64,
        ts.tv_nsec.clamp(0, 999_999_999) as u32,
    )
}

/// The cores this process may run on.
pub fn usable_cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

impl HeadroomMonitor {
    /// Starts sampling. `runtime` is the event loop whose delay is measured; `queue` holds the
    /// processors' backlog, out of `capacity` bytes. If the thread cannot start, the run goes on
    /// unsampled.
    pub fn start(
        runtime: tokio::runtime::Handle,
        queue: impl ProcessorQueue,
        capacity: usize,
    ) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("headroom".into())
            .spawn(move || sample(&runtime, &queue, &flag))
            .map_err(|e| tracing::warn!("client headroom is not measured: {e}"))
            .ok();
        Self {
            stop,
            capacity,
            thread,
        }
    }

    /// Stops sampling and summarises the phase, in which `requests` requests were issued.
    pub fn finish(mut self, requests: u64) -> ClientHeadroom {
        self.stop.store(true, Ordering::Relaxed);
        let samples = self
            .thread
            .take()
            .and_then(|t| t.join().ok())
            .unwrap_or_default();
        ClientHeadroom {
            processor_queue_capacity_bytes: self.capacity as u64,
            ..summarise(samples, usable_cores(), requests)
        }
    }
}

impl Drop for HeadroomMonitor {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn sample(
    runtime: &tokio::runtime::Handle,
    queue: &impl ProcessorQueue,
    stop: &AtomicBool,
) -> Samples {
    let delays: Arc<Mutex<Vec<f64>>> = Arc::default();
    let (start_wall, start_cpu) = (Instant::now(), process_cpu());
    let (mut window_wall, mut window_cpu) = (start_wall, start_cpu);
    let cores = usable_cores() as f64;
    let mut out = Samples::default();
    let waits_before = queue.waits();
    let host_before = super::host_cpu::HostTicks::now();
    while !stop.load(Ordering::Relaxed) {
        let asleep = Instant::now();
        std::thread::sleep(SAMPLE_INTERVAL);
        let handed = Instant::now();
        out.note_sleep(handed.duration_since(asleep));
        let sink = delays.clone();
        runtime.spawn(async move {
            let waited = handed.elapsed().as_secs_f64() * 1e3;
            if let Ok(mut d) = sink.lock() {
                d.push(waited);
            }
        });
        if let Some(depth) = queue.depth() {
            out.queue_max = out.queue_max.max(depth);
        }
        let (now, cpu) = (Instant::now(), process_cpu());
        let span = now.duration_since(window_wall).as_secs_f64();
        if span >= 1.0 {
            let used = (cpu.saturating_sub(window_cpu)).as_secs_f64() / span / cores;
            out.busiest_second = Some(out.busiest_second.map_or(used, |b: f64| b.max(used)));
            (window_wall, window_cpu) = (now, cpu);
        }
    }
    out.wall_seconds = start_wall.elapsed().as_secs_f64();
    out.cpu_seconds = process_cpu().saturating_sub(start_cpu).as_secs_f64();
    out.queue_waits = queue.waits() - waits_before;
    if let (Some(before), Some(after)) = (host_before, super::host_cpu::HostTicks::now()) {
        out.host_busy = after.busy_since(&before);
        out.host_cores = after.cores;
    }
    // Probes still queued when sampling stopped are not counted: the phase is over.
    out.loop_delays_ms = delays
        .lock()
        .map(|mut d| std::mem::take(&mut *d))
        .unwrap_or_default();
    out
}

fn summarise(samples: Samples, cores: usize, requests: u64) -> ClientHeadroom {
    let mut delays = samples.loop_delays_ms;
    delays.sort_by(f64::total_cmp);
    let cpu = (samples.wall_seconds > 0.0)
        .then(|| samples.cpu_seconds / samples.wall_seconds / cores as f64);
    ClientHeadroom {
        cores: cores as u64,
        cpu_utilization: cpu,
        cpu_utilization_busiest_second: samples.busiest_second,
        event_loop_delay_p50_ms: quantile(&delays, 0.5),
        event_loop_delay_p99_ms: quantile(&delays, 0.99),
        event_loop_delay_max_ms: delays.last().copied(),
        event_loop_samples: delays.len() as u64,
        processor_queue_max_bytes: samples.queue_max as u64,
        processor_queue_capacity_bytes: 0,
        processor_queue_waits: samples.queue_waits.records,
        processor_queue_waited_ms: samples.queue_waits.waited.as_secs_f64() * 1e3,
        processor_queue_wait_fraction: (requests > 0)
            .then(|| samples.queue_waits.records as f64 / requests as f64),
        host_cores: samples.host_cores,
        host_cpu_utilization: samples.host_busy,
        host_stall_max_ms: samples.oversleep_max_ms,
        host_stalls: samples.stalls,
        host_stalled_fraction: (samples.wall_seconds > 0.0)
            .then(|| samples.stalled_ms / 1e3 / samples.wall_seconds),
    }
}

/// Why the client, not the server, limited the run, judged from its headroom: one clause per
/// limit crossed (empty when none was).
pub fn limits_crossed(h: &ClientHeadroom) -> Vec<String> {
    let mut reasons = Vec::new();
    if let Some(cpu) = h.cpu_utilization
        && cpu >= CPU_BOUND
    {
        reasons.push(format!(
            "the aiperf process used {:.0}% of the {} core(s) it may use",
            cpu * 100.0,
            h.cores
        ));
    }
    if let (Some(host), Some(cpu)) = (h.host_cpu_utilization, h.cpu_utilization)
        && h.host_cores > 0
        && reasons.is_empty()
    {
        // aiperf's share of all the host's cores (its own figure is of the cores it may use).
        let share = cpu * h.cores as f64 / h.host_cores as f64;
        if host >= HOST_CPU_BOUND && share >= HOST_CPU_SHARE_BOUND {
            reasons.push(format!(
                "this host's {} cores were {:.0}% busy, {:.0} points of it aiperf's: aiperf \
                 was short of CPU, and a server on this host had less than it would alone",
                h.host_cores,
                host * 100.0,
                share * 100.0
            ));
        }
    }
    if let Some(p99) = h.event_loop_delay_p99_ms
        && p99 >= LOOP_DELAY_BOUND_MS
        && h.event_loop_samples >= MIN_LOOP_SAMPLES
    {
        reasons.push(format!(
            "its event loop ran ready work {p99:.1} ms late (p99), so responses were read late"
        ));
    }
    if let Some(fraction) = h.processor_queue_wait_fraction
        && fraction >= QUEUE_WAIT_BOUND
    {
        reasons.push(format!(
            "the record processor fell behind: {} requests ({:.1}%) waited for room in its queue, \
             {:.1} ms in all",
            h.processor_queue_waits,
            fraction * 100.0,
            h.processor_queue_waited_ms
        ));
    }
    if let Some(fraction) = h.host_stalled_fraction
        && fraction >= HOST_STALL_BOUND
    {
        reasons.push(format!(
            "the host stalled it {} times (a thread sleeping {} ms woke {HOST_STALL_MS:.0} ms or more late, at worst \
             {:.0} ms), {:.1}% of the run: latencies in those moments are the host's, not the server's",
            h.host_stalls,
            SAMPLE_INTERVAL.as_millis(),
            h.host_stall_max_ms.unwrap_or(0.0),
            fraction * 100.0
        ));
    }
    reasons
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 2 MiB queue.
    const QUEUE: u64 = 2 << 20;

    /// `waits` of 1,000 requests waited for room in the record queues.
    fn headroom(cpu: f64, loop_p99: f64, waits: u64) -> ClientHeadroom {
        ClientHeadroom {
            cores: 2,
            cpu_utilization: Some(cpu),
            cpu_utilization_busiest_second: Some(cpu),
            event_loop_delay_p50_ms: Some(loop_p99 / 4.0),
            event_loop_delay_p99_ms: Some(loop_p99),
            event_loop_delay_max_ms: Some(loop_p99),
            event_loop_samples: 100,
            processor_queue_max_bytes: QUEUE / 4,
            processor_queue_capacity_bytes: QUEUE,
            processor_queue_waits: waits,
            processor_queue_waited_ms: waits as f64 * 0.5,
            processor_queue_wait_fraction: Some(waits as f64 / 1000.0),
            host_cores: 2,
            host_cpu_utilization: Some(0.5),
            host_stall_max_ms: Some(0.3),
            host_stalls: 0,
            host_stalled_fraction: Some(0.0),
        }
    }

    #[test]
    fn host_stalls_count_only_from_the_bound_and_judge_by_their_share_of_the_run() {
        let mut samples = Samples::default();
        for late_ms in [0.1, 1.5, 4.9, 5.0, 40.0] {
            samples.note_sleep(SAMPLE_INTERVAL + Duration::from_secs_f64(late_ms / 1e3));
        }
        samples.note_sleep(SAMPLE_INTERVAL / 2); // woken early: not late at all
        samples.wall_seconds = 3.0;
        let h = summarise(samples, 2, 100);
        assert_eq!(h.host_stalls, 2);
        assert!((h.host_stall_max_ms.unwrap() - 40.0).abs() < 1e-6);
        assert!((h.host_stalled_fraction.unwrap() - 0.015).abs() < 1e-6);
        let reasons = limits_crossed(&ClientHeadroom {
            processor_queue_capacity_bytes: QUEUE,
            ..h
        });
        assert_eq!(reasons.len(), 1, "{reasons:?}");
        assert!(reasons[0].contains("stalled it 2 times"), "{reasons:?}");
        assert!(reasons[0].contains("at worst 40 ms"), "{reasons:?}");
        assert!(reasons[0].contains("1.5% of the run"), "{reasons:?}");
        let rare = ClientHeadroom {
            host_stalls: 1,
            host_stall_max_ms: Some(45.0),
            host_stalled_fraction: Some(0.0045),
            ..headroom(0.3, 0.2, 0)
        };
        assert!(limits_crossed(&rare).is_empty(), "one 45 ms stall in 10 s");
    }

    #[test]
    fn a_light_run_crosses_no_limit() {
        assert!(limits_crossed(&headroom(0.05, 0.2, 0)).is_empty());
        assert!(limits_crossed(&headroom(0.89, 1.9, 9)).is_empty());
    }

    #[test]
    fn a_saturated_host_counts_only_with_a_good_share_of_it_aiperfs() {
        let saturated = |cpu: f64| ClientHeadroom {
            host_cpu_utilization: Some(0.98),
            ..headroom(cpu, 0.2, 0)
        };
        // aiperf using 0.60 of the 2 cores of a host that had none to spare.
        let shared = limits_crossed(&saturated(0.60));
        assert_eq!(shared.len(), 1, "{shared:?}");
        assert!(
            shared[0].contains("2 cores were 98% busy, 60 points of it aiperf's"),
            "{shared:?}"
        );
        // A server that saturates the host by itself (llama.cpp on CPU), aiperf light.
        assert!(limits_crossed(&saturated(0.05)).is_empty());
        // A busy host that is not saturated.
        let busy = ClientHeadroom {
            host_cpu_utilization: Some(0.90),
            ..headroom(0.60, 0.2, 0)
        };
        assert!(limits_crossed(&busy).is_empty());
        // Pinned to 1 of 4 cores and using all of it: the CPU rule says it, once.
        let pinned = ClientHeadroom {
            cores: 1,
            host_cores: 4,
            ..saturated(1.0)
        };
        let reasons = limits_crossed(&pinned);
        assert_eq!(reasons.len(), 1, "{reasons:?}");
        assert!(reasons[0].contains("100% of the 1 core(s)"), "{reasons:?}");
        // aiperf's share is of all the host's cores: 1 of 4 cores at 0.8 is 20 points.
        let small_share = ClientHeadroom {
            cores: 1,
            host_cores: 4,
            ..saturated(0.8)
        };
        assert!(limits_crossed(&small_share).is_empty());
    }

    #[test]
    fn a_full_queue_alone_is_not_a_verdict_only_requests_that_waited_are() {
        // One reply larger than the queue fills it; no request waited for room.
        let giant_reply = ClientHeadroom {
            processor_queue_max_bytes: QUEUE,
            ..headroom(0.3, 0.2, 0)
        };
        assert!(limits_crossed(&giant_reply).is_empty());
        let rare = ClientHeadroom {
            processor_queue_max_bytes: QUEUE,
            ..headroom(0.3, 0.2, 1)
        };
        assert!(
            limits_crossed(&rare).is_empty(),
            "1 request in 1,000 waited"
        );
    }

    #[test]
    fn each_limit_is_named_when_crossed() {
        let cpu = limits_crossed(&headroom(0.97, 0.2, 0));
        assert_eq!(cpu.len(), 1);
        assert!(cpu[0].contains("97% of the 2 core(s)"), "{cpu:?}");
        let late = limits_crossed(&headroom(0.3, 12.0, 0));
        assert!(late[0].contains("12.0 ms late"), "{late:?}");
        let queue = limits_crossed(&headroom(0.3, 0.2, 10));
        assert!(
            queue[0].contains("10 requests (1.0%) waited for room in its queue, 5.0 ms in all"),
            "{queue:?}"
        );
        assert_eq!(limits_crossed(&headroom(1.0, 40.0, 500)).len(), 3);
        let short = ClientHeadroom {
            event_loop_samples: MIN_LOOP_SAMPLES - 1,
            ..headroom(0.3, 12.0, 0)
        };
        assert!(limits_crossed(&short).is_empty(), "too few probes to judge");
    }

    #[test]
    fn no_measurement_is_no_verdict() {
        let unmeasured = ClientHeadroom::default();
        assert!(limits_crossed(&unmeasured).is_empty());
    }

    #[test]
    fn the_sampler_measures_a_busy_process_and_an_idle_loop() {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        /// Seven bytes waiting; three records waited 2 ms each before sampling began and one
        /// more (4 ms) during it.
        struct Queue(AtomicBool);
        impl ProcessorQueue for Queue {
            fn depth(&self) -> Option<usize> {
                Some(7)
            }
            fn waits(&self) -> QueueWaits {
                let later = self.0.swap(true, Ordering::Relaxed);
                QueueWaits {
                    records: 3 + u64::from(later),
                    waited: Duration::from_millis(6 + 4 * u64::from(later)),
                }
            }
        }
        let queue = Queue(AtomicBool::new(false));
        let monitor = HeadroomMonitor::start(runtime.handle().clone(), queue, 16);
        // Burn CPU on this thread for a while so the process is measurably busy.
        let until = Instant::now() + Duration::from_millis(300);
        let mut x = 0u64;
        while Instant::now() < until {
            x = x.wrapping_mul(31).wrapping_add(1);
        }
        std::hint::black_box(x);
        let h = monitor.finish(20);
        assert!(h.cpu_utilization.unwrap() > 0.0);
        assert!(h.event_loop_samples > 0);
        assert_eq!(h.processor_queue_max_bytes, 7);
        assert_eq!(h.processor_queue_waits, 1, "the phase's waits only");
        assert!((h.processor_queue_waited_ms - 4.0).abs() < 1e-9);
        assert_eq!(h.processor_queue_wait_fraction, Some(0.05));
        assert!(h.event_loop_delay_p50_ms.unwrap() >= 0.0);
    }
}
