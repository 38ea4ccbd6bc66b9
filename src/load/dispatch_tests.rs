//! The dispatcher driven through its seam: an in-memory transport that counts what is in flight
//! and answers when told, and a pacing clock that records the deadlines it was asked for. No
//! test asserts a wall-clock time; they assert order, counts and the exact deadlines.

use super::*;
use crate::dataset::DatasetEntry;
use std::sync::Mutex;
use std::sync::atomic::AtomicU32;
use tokio::sync::Notify;

/// How the fake server answers.
#[derive(Clone, Copy)]
enum Answer {
    /// After yielding to the scheduler a few times.
    Soon,
    /// After `ms` of (tokio) time.
    After(u64),
    /// Never: only cancellation ends the request.
    Never,
    /// With a refused connection.
    Refuse,
    /// With HTTP 500 after yielding once.
    Fail,
}

struct FakeServer {
    answer: Answer,
    in_flight: AtomicU32,
    max_in_flight: AtomicU32,
    started: Notify,
}

impl FakeServer {
    fn new(answer: Answer) -> Arc<Self> {
        Arc::new(Self {
            answer,
            in_flight: AtomicU32::new(0),
            max_in_flight: AtomicU32::new(0),
            started: Notify::new(),
        })
    }
}

/// Decrements the in-flight count however the request ends (also when it is dropped).
struct InFlight<'a>(&'a AtomicU32);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl SendRequest for FakeServer {
    async fn send(
        &self,
        _body: Bytes,
        rec: &mut RawRecord,
        clock: &RunClock,
        control: SendControl,
    ) -> Outcome {
        // The fake holds its prefill slot for the whole request.
        let _prefill = control.prefill_slot;
        rec.sent_ns = clock.now_ns();
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        let _guard = InFlight(&self.in_flight);
        self.max_in_flight.fetch_max(now, Ordering::SeqCst);
        self.started.notify_one();
        match self.answer {
            Answer::Soon => {
                for _ in 0..3 {
                    tokio::task::yield_now().await;
                }
            }
            Answer::After(ms) => tokio::time::sleep(Duration::from_millis(ms)).await,
            Answer::Never => std::future::pending::<()>().await,
            Answer::Refuse => {
                return Outcome::Error(RequestError {
                    kind: ErrorKind::Connect,
                    code: None,
                    message: "connection refused".into(),
                });
            }
            Answer::Fail => {
                tokio::task::yield_now().await;
                return Outcome::Error(RequestError {
                    kind: ErrorKind::HttpStatus,
                    code: Some(500),
                    message: "internal server error".into(),
                });
            }
        }
        rec.end_ns = clock.now_ns();
        Outcome::Success
    }
}

/// A pacing clock that does not wait: it records each deadline and lets the arrival go.
#[derive(Default)]
struct RecordedPacing(Mutex<Vec<u64>>);

impl Pacing for RecordedPacing {
    fn wait_until(&self, _clock: &RunClock, deadline_ns: u64, stop: &dyn Fn() -> bool) -> bool {
        if stop() {
            return false;
        }
        self.0.lock().unwrap().push(deadline_ns);
        true
    }
}

struct Harness {
    ctx: Arc<LoadContext<FakeServer>>,
    records: crate::load::record_sink::RecordQueue,
}

fn harness(server: &Arc<FakeServer>, pacing: Arc<dyn Pacing>) -> Harness {
    let (tx, rx) = crate::load::record_sink::RecordSink::new(1, usize::MAX);
    let rx = rx.into_iter().next().expect("one queue");
    let entry = DatasetEntry {
        session_id: "s".into(),
        input_tokens: 1,
        max_tokens: Some(1),
        payload: serde_json::Value::Null,
        body: Bytes::from_static(b"{}"),
    };
    let ctx = Arc::new(LoadContext {
        transport: server.clone(),
        pacing,
        workload: Workload::Prebuilt(Arc::new(Dataset {
            entries: vec![entry],
        })),
        clock: RunClock::start(),
        records: tx,
        interrupt: CancellationToken::new(),
        progress: Arc::default(),
        request_timeout: Duration::from_secs(3600),
        health: ServerHealth::default(),
    });
    Harness { ctx, records: rx }
}

impl Harness {
    /// Every record the phase sent, in request order.
    fn drain(&mut self) -> Vec<RawRecord> {
        let mut out = Vec::new();
        while let Ok(r) = self.records.try_recv() {
            out.push(r.into_record());
        }
        out.sort_by_key(|r| r.index);
        out
    }
}

fn phase(mode: LoadMode, requests: Option<u64>, duration_ms: Option<u64>) -> PhasePlan {
    PhasePlan {
        kind: PhaseKind::Profiling,
        mode,
        requests,
        duration: duration_ms.map(Duration::from_millis),
        grace: Duration::from_millis(30),
        failure_threshold: None,
        cancellation: None,
        prefill_concurrency: None,
        concurrency_ramp: None,
        prefill_ramp: None,
        ramp_end: None,
        order: Order::Drawn {
            strategy: Default::default(),
            once: false,
        },
        draw_seed: 0,
    }
}

fn indices(records: &[RawRecord]) -> Vec<u64> {
    records.iter().map(|r| r.index).collect()
}

#[tokio::test]
async fn closed_loop_keeps_every_slot_busy_and_sends_each_request_once() {
    let server = FakeServer::new(Answer::Soon);
    let mut h = harness(&server, Arc::new(ThreadPacing));
    let result = run_phase(&h.ctx, &phase(LoadMode::Concurrency(3), Some(20), None)).await;
    let records = h.drain();
    assert_eq!(result.issued, 20);
    assert_eq!(indices(&records), (0..20).collect::<Vec<_>>());
    assert!(records.iter().all(|r| r.outcome == Outcome::Success));
    // Three slots, each refilled as soon as its request ends: never more, and all of them used.
    assert_eq!(server.max_in_flight.load(Ordering::SeqCst), 3);
    assert!(!result.interrupted && !result.grace_expired && !result.server_gone);
}

#[tokio::test]
async fn open_loop_paces_from_absolute_deadlines_without_drift() {
    let server = FakeServer::new(Answer::Soon);
    let pacing = Arc::new(RecordedPacing::default());
    let mut h = harness(&server, pacing.clone());
    let mode = LoadMode::Rate {
        schedule: Schedule::constant(100.0),
        cap: None,
    };
    let result = run_phase(&h.ctx, &phase(mode, Some(50), None)).await;
    let records = h.drain();
    let deadlines = pacing.0.lock().unwrap().clone();
    assert_eq!(result.issued, 50);
    // The first arrival is due at the start and needs no wake-up.
    assert_eq!(deadlines.len(), 49);
    for (i, deadline) in deadlines.iter().enumerate() {
        // Deadline i is start + i/rate, not the previous deadline plus a period: no drift.
        let exact = result.start_ns + (i as u64 + 1) * 10_000_000;
        assert!(
            deadline.abs_diff(exact) <= 1,
            "arrival {i}: {deadline} vs {exact}"
        );
    }
    let intended: Vec<u64> = records.iter().map(|r| r.intended_ns).collect();
    assert_eq!(intended[0], result.start_ns);
    assert_eq!(
        intended[1..],
        deadlines[..],
        "each record keeps its arrival's deadline"
    );
}

/// Real pacing that also records the deadlines it was asked to wake at.
#[derive(Default)]
struct RecordedThreadPacing(Mutex<Vec<u64>>);

impl Pacing for RecordedThreadPacing {
    fn wait_until(&self, clock: &RunClock, deadline_ns: u64, stop: &dyn Fn() -> bool) -> bool {
        self.0.lock().unwrap().push(deadline_ns);
        ThreadPacing.wait_until(clock, deadline_ns, stop)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn arrivals_closer_than_the_pacers_wake_interval_share_a_wake_up_and_keep_their_times() {
    let server = FakeServer::new(Answer::Soon);
    let pacing = Arc::new(RecordedThreadPacing::default());
    let mut h = harness(&server, pacing.clone());
    // 50,000/s: an arrival every 20 us, several per wake-up interval.
    let mode = LoadMode::Rate {
        schedule: Schedule::constant(50_000.0),
        cap: None,
    };
    let result = run_phase(&h.ctx, &phase(mode, Some(400), None)).await;
    let records = h.drain();
    assert_eq!(indices(&records), (0..400).collect::<Vec<_>>());
    for r in &records {
        let exact = result.start_ns + r.index * 20_000;
        assert!(
            r.intended_ns.abs_diff(exact) <= 1,
            "arrival {} moved",
            r.index
        );
        assert!(r.sent_ns >= r.intended_ns, "{} was sent early", r.index);
    }
    let wakes = pacing.0.lock().unwrap().clone();
    for pair in wakes.windows(2) {
        assert!(
            pair[1] - pair[0] >= PACER_MIN_WAKE.as_nanos() as u64,
            "wake-ups {pair:?} closer than the interval"
        );
    }
    // 8 ms of arrivals: at most one wake-up per interval, however the thread was scheduled.
    // Wake-ups fall between the first arrival and one interval past the last (a wake-up is
    // pushed back to keep the interval), at least an interval apart: (n - 1) x interval <=
    // span + interval.
    let span = records[399].intended_ns - records[0].intended_ns;
    let most = span / PACER_MIN_WAKE.as_nanos() as u64 + 2;
    assert!(
        (wakes.len() as u64) <= most,
        "{} wake-ups for {span} ns",
        wakes.len()
    );
}

#[tokio::test]
async fn the_in_flight_cap_holds_and_late_arrivals_are_sent_late_never_dropped() {
    let server = FakeServer::new(Answer::After(2));
    // Real pacing at 20,000/s: arrivals come far faster than one slot can serve them.
    let mut h = harness(&server, Arc::new(ThreadPacing));
    let mode = LoadMode::Rate {
        schedule: Schedule::constant(20_000.0),
        cap: Some(1),
    };
    let result = run_phase(&h.ctx, &phase(mode, Some(12), None)).await;
    let records = h.drain();
    assert_eq!(result.issued, 12);
    assert_eq!(indices(&records), (0..12).collect::<Vec<_>>());
    assert_eq!(server.max_in_flight.load(Ordering::SeqCst), 1);
    for pair in records.windows(2) {
        // One slot: each request waits for the previous one to end, so it goes late, and its
        // intended time is kept to measure how late.
        assert!(
            pair[1].sent_ns >= pair[0].end_ns,
            "{} overlapped",
            pair[1].index
        );
        assert!(pair[1].sent_ns >= pair[1].intended_ns);
    }
    assert!(records.iter().all(|r| r.outcome == Outcome::Success));
}

#[tokio::test]
async fn a_grace_period_that_expires_cancels_what_is_in_flight() {
    let server = FakeServer::new(Answer::Never);
    let mut h = harness(&server, Arc::new(ThreadPacing));
    let result = run_phase(&h.ctx, &phase(LoadMode::Concurrency(2), None, Some(20))).await;
    let records = h.drain();
    assert!(result.grace_expired);
    assert!(!result.interrupted);
    assert_eq!(records.len(), 2, "the two requests in flight are recorded");
    assert!(records.iter().all(|r| r.outcome == Outcome::Cancelled));
    assert_eq!(server.in_flight.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn ctrl_c_stops_issuing_and_records_the_requests_in_flight() {
    let server = FakeServer::new(Answer::Never);
    let mut h = harness(&server, Arc::new(ThreadPacing));
    let (ctx, watcher) = (h.ctx.clone(), server.clone());
    tokio::spawn(async move {
        while watcher.in_flight.load(Ordering::SeqCst) < 2 {
            watcher.started.notified().await;
        }
        ctx.interrupt.cancel();
    });
    let result = run_phase(&h.ctx, &phase(LoadMode::Concurrency(2), Some(1000), None)).await;
    let records = h.drain();
    assert!(result.interrupted);
    assert_eq!(result.issued, 2);
    assert_eq!(records.len(), 2);
    assert!(records.iter().all(|r| r.outcome == Outcome::Cancelled));
}

#[tokio::test]
async fn ctrl_c_stops_the_pacer_between_arrivals() {
    let server = FakeServer::new(Answer::Soon);
    let mut h = harness(&server, Arc::new(ThreadPacing));
    h.ctx.interrupt.cancel();
    let mode = LoadMode::Rate {
        schedule: Schedule::constant(1.0),
        cap: None,
    };
    let result = run_phase(&h.ctx, &phase(mode, Some(100), None)).await;
    assert!(result.interrupted);
    assert_eq!(result.issued, 0);
    assert!(h.drain().is_empty());
}

#[tokio::test]
async fn a_server_that_refuses_every_connection_stops_the_run() {
    let server = FakeServer::new(Answer::Refuse);
    let mut h = harness(&server, Arc::new(ThreadPacing));
    let result = run_phase(&h.ctx, &phase(LoadMode::Concurrency(1), Some(1000), None)).await;
    let records = h.drain();
    assert!(result.server_gone);
    assert_eq!(records.len() as u32, SERVER_GONE_REFUSALS);
    assert!(
        records
            .iter()
            .all(|r| matches!(&r.outcome, Outcome::Error(e) if e.kind == ErrorKind::Connect))
    );
}

#[tokio::test]
async fn a_failure_count_stops_issuing_once_crossed() {
    use crate::spec::FailureThreshold;
    let server = FakeServer::new(Answer::Fail);
    let mut h = harness(&server, Arc::new(ThreadPacing));
    let mut plan = phase(LoadMode::Concurrency(2), Some(10_000), None);
    plan.failure_threshold = Some((FailureThreshold::Count(5), 10));
    let result = run_phase(&h.ctx, &plan).await;
    let records = h.drain();
    assert!(result.too_many_failures && !result.server_gone);
    // Six failures cross "more than 5"; at most the two slots' requests then in flight follow.
    assert!(
        (6..=8).contains(&records.len()),
        "{} records",
        records.len()
    );
    assert_eq!(
        result.issued,
        records.len() as u64,
        "every issued request has its record"
    );
}

#[tokio::test]
async fn a_failure_rate_waits_for_enough_finished_requests() {
    use crate::spec::FailureThreshold;
    let server = FakeServer::new(Answer::Fail);
    let mut h = harness(&server, Arc::new(RecordedPacing::default()));
    let mode = LoadMode::Rate {
        schedule: Schedule::constant(1000.0),
        cap: Some(1),
    };
    let mut plan = phase(mode, Some(10_000), None);
    plan.failure_threshold = Some((FailureThreshold::Rate(0.5), 10));
    let result = run_phase(&h.ctx, &plan).await;
    let records = h.drain();
    assert!(result.too_many_failures);
    assert_eq!(result.issued, records.len() as u64);
    // Judged only from the 10th finished request on; with one slot, one more may be in flight.
    // Arrivals still waiting for the slot are never sent: they end cancelled.
    let failed = records
        .iter()
        .filter(|r| matches!(r.outcome, Outcome::Error(_)))
        .count();
    assert!((10..=11).contains(&failed), "{failed} failed");
    assert!(
        records[failed..]
            .iter()
            .all(|r| r.outcome == Outcome::Cancelled)
    );
    let healthy = FakeServer::new(Answer::Soon);
    let h = harness(&healthy, Arc::new(ThreadPacing));
    let mut plan = phase(LoadMode::Concurrency(2), Some(50), None);
    plan.failure_threshold = Some((FailureThreshold::Count(0), 10));
    let result = run_phase(&h.ctx, &plan).await;
    assert!(!result.too_many_failures && result.issued == 50);
}

#[tokio::test]
async fn the_prefill_limit_holds_under_a_wider_concurrency() {
    let server = FakeServer::new(Answer::After(3));
    let mut h = harness(&server, Arc::new(ThreadPacing));
    let mut plan = phase(LoadMode::Concurrency(6), Some(30), None);
    plan.prefill_concurrency = Some(2);
    let result = run_phase(&h.ctx, &plan).await;
    assert_eq!(result.issued, 30);
    assert_eq!(h.drain().len(), 30);
    // The fake holds a prefill slot for its whole request: never more than 2 at once.
    assert_eq!(server.max_in_flight.load(Ordering::SeqCst), 2);
}

#[test]
fn ramp_steps_are_even_and_end_with_the_ramp() {
    let ramp = Duration::from_millis(60);
    let steps: Vec<Duration> = (0..4).map(|k| ramp_step_offset(ramp, 4, k)).collect();
    assert_eq!(
        steps,
        [0, 20, 40, 60].map(Duration::from_millis),
        "from 1 to 4: +1 every 20 ms, 4 at the end"
    );
    assert_eq!(ramp_step_offset(ramp, 1, 0), Duration::ZERO);
}

#[tokio::test]
async fn a_ramped_semaphore_gains_one_permit_per_step() {
    let stop = CancellationToken::new();
    let start = std::time::Instant::now();
    let s = ramped_semaphore(3, Some(Duration::from_millis(40)), start, &stop);
    assert_eq!(s.available_permits(), 1);
    tokio::time::sleep(Duration::from_millis(80)).await;
    assert_eq!(s.available_permits(), 3);
    let unramped = ramped_semaphore(5, None, start, &stop);
    assert_eq!(unramped.available_permits(), 5);
}
