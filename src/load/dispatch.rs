//! Running one phase of load: closed-loop workers or an open-loop pacer, stop conditions, the
//! grace period and cancellation.
//!
//! Open-loop arrivals are paced from absolute deadlines on a dedicated thread (finer than the
//! async timer wheel's millisecond), handed to the runtime in batches of those due together
//! (at most one wake-up per [`PACER_MIN_WAKE`]), and never dropped: an arrival that cannot be sent on time
//! (the concurrency cap is full, or the client is behind) is sent late, and its `intended` time is
//! kept so the lag is measured.

use super::clock::RunClock;
use super::record::RequestInput;
use super::record::{ErrorKind, Outcome, RawRecord, RequestError};
use super::schedule::Schedule;
use super::transport::Transport;
use crate::dataset::Dataset;
use crate::dataset::conversations::{Builder, Feed, Order, PreparedConversation};
use crate::spec::PhaseKind;
use bytes::Bytes;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Live counters for progress display; written with relaxed atomics, read by the UI.
#[derive(Debug, Default)]
pub struct Progress {
    /// Requests issued in the current phase.
    pub issued: AtomicU64,
    /// Requests finished in the current phase (any outcome).
    pub finished: AtomicU64,
    /// Requests that failed at the transport level in the current phase.
    pub failed: AtomicU64,
    /// Requests cancelled in the current phase (never sent, or cut off).
    pub cancelled: AtomicU64,
}

impl Progress {
    fn reset(&self) {
        self.issued.store(0, Ordering::Relaxed);
        self.finished.store(0, Ordering::Relaxed);
        self.failed.store(0, Ordering::Relaxed);
        self.cancelled.store(0, Ordering::Relaxed);
    }
}

/// Connection refusals in a row (no success between them) after which the server is taken to
/// have gone away and the run stops issuing requests.
pub const SERVER_GONE_REFUSALS: u32 = 20;

/// Watches for a server that went away mid-run: after [`SERVER_GONE_REFUSALS`] connection
/// failures in a row it says so, and the issuing loops stop within their next check (at most
/// 50 ms for the pacer). Client-side resource errors never count: they are not the server's.
#[derive(Debug, Default)]
pub struct ServerHealth {
    refusals_in_a_row: std::sync::atomic::AtomicU32,
    gone: std::sync::atomic::AtomicBool,
}

impl ServerHealth {
    /// Notes how a request ended.
    pub fn observe(&self, outcome: &Outcome) {
        match outcome {
            Outcome::Error(RequestError {
                kind: ErrorKind::Connect,
                ..
            }) => {
                let n = self.refusals_in_a_row.fetch_add(1, Ordering::Relaxed) + 1;
                if n >= SERVER_GONE_REFUSALS && !self.gone.swap(true, Ordering::Relaxed) {
                    tracing::warn!(
                        "the server refused {n} connections in a row: it has gone away; stopping the run"
                    );
                }
            }
            Outcome::Error(_) | Outcome::Cancelled => {}
            Outcome::Success => self.refusals_in_a_row.store(0, Ordering::Relaxed),
        }
    }

    /// Whether the server is taken to have gone away.
    pub fn is_gone(&self) -> bool {
        self.gone.load(Ordering::Relaxed)
    }
}

/// Sends one request and fills in its record: the seam under the load engine. The real one is
/// [`Transport`] (HTTP over its own pool); unit tests drive the dispatcher with an in-memory
/// fake. Static dispatch, so the seam costs nothing per request.
pub trait SendRequest: Send + Sync + 'static {
    /// Sends `body`, stamping `rec` from `clock` as bytes go and come, and says how it ended,
    /// under `control` (see [`SendControl`]).
    fn send(
        &self,
        body: Bytes,
        rec: &mut RawRecord,
        clock: &RunClock,
        control: SendControl,
    ) -> impl Future<Output = Outcome> + Send;
}

/// What a request is sent under beyond its body.
#[derive(Debug, Default)]
pub struct SendControl {
    /// Abandon the request (closing its connection) this long after it was sent, ending it
    /// [`Outcome::Cancelled`].
    pub cancel_after: Option<Duration>,
    /// A prefill slot, given back when the first token arrives (or the request ends).
    pub prefill_slot: Option<tokio::sync::OwnedSemaphorePermit>,
    /// Send to this target (taken modulo the number of URLs) instead of the next in turn: a
    /// conversation's turns all go to one server.
    pub url: Option<usize>,
}

impl SendRequest for Transport {
    fn send(
        &self,
        body: Bytes,
        rec: &mut RawRecord,
        clock: &RunClock,
        control: SendControl,
    ) -> impl Future<Output = Outcome> + Send {
        self.execute(body, rec, clock, control)
    }
}

/// The limits a phase's requests share: the in-flight cap of an open loop, and the prefill
/// slots (requests waiting for their first token).
#[derive(Debug, Clone, Default)]
struct Slots {
    in_flight: Option<Arc<Semaphore>>,
    prefill: Option<Arc<Semaphore>>,
}

/// Waits for a permit, or `None` when the phase is cancelled first (or there is no limit).
async fn acquire(
    semaphore: Option<Arc<Semaphore>>,
    cancel: &CancellationToken,
) -> Option<tokio::sync::OwnedSemaphorePermit> {
    let semaphore = semaphore?;
    tokio::select! {
        permit = semaphore.acquire_owned() => permit.ok(),
        _ = cancel.cancelled() => None,
    }
}

/// How the open-loop pacer waits for the next arrival's absolute deadline (a run-clock time).
pub trait Pacing: Send + Sync {
    /// Blocks this thread until `deadline_ns`; false when `stop()` turned true first. Checks
    /// `stop` at least every 50 ms.
    fn wait_until(&self, clock: &RunClock, deadline_ns: u64, stop: &dyn Fn() -> bool) -> bool;
}

/// Sleeps the pacer's own thread (finer than the async timer's millisecond).
#[derive(Debug, Default)]
pub struct ThreadPacing;

impl Pacing for ThreadPacing {
    fn wait_until(&self, clock: &RunClock, deadline_ns: u64, stop: &dyn Fn() -> bool) -> bool {
        let deadline = clock.instant_at(deadline_ns);
        loop {
            if stop() {
                return false;
            }
            let now = Instant::now();
            if now >= deadline {
                return true;
            }
            std::thread::sleep((deadline - now).min(Duration::from_millis(50)));
        }
    }
}

/// Everything a phase needs, shared by all its requests.
pub struct LoadContext<T: SendRequest = Transport> {
    /// Sends requests.
    pub transport: Arc<T>,
    /// How the open-loop pacer waits.
    pub pacing: Arc<dyn Pacing>,
    /// What requests send.
    pub workload: Workload,
    /// The run clock.
    pub clock: RunClock,
    /// Finished records go here (bounded: a slow consumer slows the client, never loses data).
    pub records: super::record_sink::RecordSink,
    /// Cancelled by Ctrl-C.
    pub interrupt: CancellationToken,
    /// Live counters.
    pub progress: Arc<Progress>,
    /// Per-request timeout.
    pub request_timeout: Duration,
    /// Whether the server is still there.
    pub health: ServerHealth,
}

/// What a run's requests send.
#[derive(Clone)]
pub enum Workload {
    /// Single-turn bodies built before the run, used round robin (synthetic prompts).
    Prebuilt(Arc<Dataset>),
    /// Conversations built while the run goes (input files): each phase starts its own feed.
    Conversations(Arc<Builder>),
}

/// How arrivals are generated.
#[derive(Debug, Clone)]
pub enum LoadMode {
    /// Closed loop with this many requests in flight.
    Concurrency(u32),
    /// Open loop from a schedule, optionally capped at this many in flight.
    Rate {
        /// Arrival offsets.
        schedule: Schedule,
        /// In-flight cap.
        cap: Option<u32>,
    },
    /// Trace replay: each conversation starts at its timestamp, `(t - origin_ms) / speedup`
    /// after the phase starts.
    Replay {
        /// Trace time (ms) of the phase start.
        origin_ms: f64,
        /// Gaps are divided by this.
        speedup: f64,
        /// In-flight cap.
        cap: Option<u32>,
    },
}

/// One phase, fully resolved.
#[derive(Debug, Clone)]
pub struct PhasePlan {
    /// Warmup or profiling.
    pub kind: PhaseKind,
    /// Arrival generation.
    pub mode: LoadMode,
    /// Stop after issuing this many requests.
    pub requests: Option<u64>,
    /// Stop issuing after this long.
    pub duration: Option<Duration>,
    /// After `duration` (or once the failure threshold is crossed), wait this long for
    /// in-flight requests before cancelling them.
    pub grace: Duration,
    /// Stop issuing once this many failures are crossed (with the finished count a rate waits for).
    pub failure_threshold: Option<(crate::spec::FailureThreshold, u64)>,
    /// Requests abandoned on purpose.
    pub cancellation: Option<super::cancellation::RequestCancellation>,
    /// Most requests waiting for their first token at once.
    pub prefill_concurrency: Option<u32>,
    /// Over how long the concurrency (or the in-flight cap) rises from 1 to its value.
    pub concurrency_ramp: Option<Duration>,
    /// Over how long the prefill concurrency rises from 1 to its value.
    pub prefill_ramp: Option<Duration>,
    /// When the phase's last ramp (the rate's included) ends, from its start.
    pub ramp_end: Option<Duration>,
    /// Which conversations a conversation workload sends, in which order.
    pub order: Order,
    /// Seed of the order's draws.
    pub draw_seed: u64,
}

/// When step `k` (1-based) of a ramp from 1 to `target` in even steps over `ramp` comes: the
/// value is `k + 1` from then on, and `target` at the end of the ramp.
pub fn ramp_step_offset(ramp: Duration, target: u32, k: u32) -> Duration {
    if target <= 1 {
        return Duration::ZERO;
    }
    ramp.mul_f64(f64::from(k) / f64::from(target - 1))
}

/// A semaphore that starts with one permit and gains one at each ramp step until it holds
/// `target`; without a ramp it holds `target` from the start. The ramp stops with `stop`.
fn ramped_semaphore(
    target: u32,
    ramp: Option<Duration>,
    start: std::time::Instant,
    stop: &CancellationToken,
) -> Arc<Semaphore> {
    let Some(ramp) = ramp.filter(|_| target > 1) else {
        return Arc::new(Semaphore::new(target as usize));
    };
    let semaphore = Arc::new(Semaphore::new(1));
    let (rising, stop) = (semaphore.clone(), stop.clone());
    tokio::spawn(async move {
        for k in 1..target {
            let at = start + ramp_step_offset(ramp, target, k);
            tokio::select! {
                _ = tokio::time::sleep_until(at.into()) => rising.add_permits(1),
                _ = stop.cancelled() => return,
            }
        }
    });
    semaphore
}

/// What every request of a phase is sent under (copied into each request's task).
#[derive(Debug, Clone, Copy)]
struct RequestRules {
    kind: PhaseKind,
    failures: Option<(crate::spec::FailureThreshold, u64)>,
    cancellation: Option<super::cancellation::RequestCancellation>,
    /// Requests due before this run-clock time are sent during a ramp.
    ramp_end_ns: Option<u64>,
}

impl PhasePlan {
    fn rules(&self, start_ns: u64) -> RequestRules {
        RequestRules {
            kind: self.kind,
            failures: self.failure_threshold,
            cancellation: self.cancellation,
            ramp_end_ns: self.ramp_end.map(|d| start_ns + d.as_nanos() as u64),
        }
    }
}

impl PhasePlan {
    /// Whether the phase's failures crossed its threshold.
    fn too_many_failures(&self, progress: &Progress) -> bool {
        too_many_failures(self.failure_threshold, progress)
    }
}

/// Whether `progress` crossed `threshold` (with the finished count a rate waits for).
fn too_many_failures(
    threshold: Option<(crate::spec::FailureThreshold, u64)>,
    progress: &Progress,
) -> bool {
    {
        threshold.is_some_and(|(t, min_finished)| {
            t.crossed(
                progress.failed.load(Ordering::Relaxed),
                // Cancelled requests neither succeeded nor failed: not part of the rate.
                progress
                    .finished
                    .load(Ordering::Relaxed)
                    .saturating_sub(progress.cancelled.load(Ordering::Relaxed)),
                min_finished,
            )
        })
    }
}

/// What happened in a phase.
#[derive(Debug, Clone, Copy)]
pub struct PhaseResult {
    /// Requests issued.
    pub issued: u64,
    /// Run-clock time the phase started.
    pub start_ns: u64,
    /// Run-clock time the last request finished.
    pub end_ns: u64,
    /// Whether Ctrl-C ended the phase.
    pub interrupted: bool,
    /// Whether the grace period expired with requests still in flight.
    pub grace_expired: bool,
    /// Whether the phase stopped early because the server went away.
    pub server_gone: bool,
    /// Whether more requests failed than the phase's threshold allows.
    pub too_many_failures: bool,
}

/// Runs a phase to completion (or interruption) and returns once every issued request has a record.
pub async fn run_phase<T: SendRequest>(ctx: &Arc<LoadContext<T>>, plan: &PhasePlan) -> PhaseResult {
    ctx.progress.reset();
    // Conversations are built ahead of the phase clock: the first ones are never late.
    let feed = match &ctx.workload {
        Workload::Prebuilt(_) => None,
        Workload::Conversations(builder) => {
            let feed = Arc::new(builder.start(plan.order, plan.draw_seed));
            feed.primed().await;
            Some(feed)
        }
    };
    let phase_cancel = ctx.interrupt.child_token();
    let tracker = TaskTracker::new();
    let start_ns = ctx.clock.now_ns();
    let start = ctx.clock.instant_at(start_ns);
    let ramps_stop = CancellationToken::new();
    let _stop_ramps = ramps_stop.clone().drop_guard();
    let prefill = plan
        .prefill_concurrency
        .map(|n| ramped_semaphore(n, plan.prefill_ramp, start, &ramps_stop));
    let phase = PhaseShared {
        start_ns,
        next_index: Arc::new(AtomicU64::new(0)),
        limit: plan.requests,
        end_ns: plan.duration.map(|d| start_ns + d.as_nanos() as u64),
        rules: plan.rules(start_ns),
        feed: feed.clone(),
    };
    let cap_slots = |cap: &Option<u32>| Slots {
        in_flight: cap.map(|c| ramped_semaphore(c, plan.concurrency_ramp, start, &ramps_stop)),
        prefill: prefill.clone(),
    };
    let open_loop = match &plan.mode {
        LoadMode::Concurrency(n) => {
            let slots = Slots {
                in_flight: None,
                prefill: prefill.clone(),
            };
            spawn_closed_loop(ctx, plan, *n, &phase, &tracker, &phase_cancel, slots);
            None
        }
        LoadMode::Rate { schedule, cap } => Some((Arrivals::Schedule(schedule.clone()), *cap)),
        LoadMode::Replay {
            origin_ms,
            speedup,
            cap,
        } => Some((
            Arrivals::Trace {
                origin_ms: *origin_ms,
                speedup: *speedup,
            },
            *cap,
        )),
    };
    if let Some((arrivals, cap)) = open_loop {
        let slots = cap_slots(&cap);
        let pacer = spawn_pacer(ctx, plan, arrivals, &phase, &tracker, &phase_cancel, slots);
        let _ = pacer.await;
    }
    tracker.close();
    let mut grace_expired = false;
    let mut deadline = plan
        .duration
        .map(|duration| ctx.clock.instant_at(start_ns) + duration + plan.grace);
    let mut stopped_for_failures = false;
    loop {
        // Watch for the failure threshold while requests drain: once it is crossed, the
        // requests still in flight get the grace period, like those after a duration.
        let watch = plan.failure_threshold.is_some() && !stopped_for_failures;
        tokio::select! {
            _ = tracker.wait() => break,
            _ = sleep_until_or_never(deadline) => {
                grace_expired = true;
                phase_cancel.cancel();
                tracker.wait().await;
                break;
            }
            _ = tokio::time::sleep(Duration::from_millis(20)), if watch => {
                if plan.too_many_failures(&ctx.progress) {
                    stopped_for_failures = true;
                    let end = std::time::Instant::now() + plan.grace;
                    deadline = Some(deadline.map_or(end, |d| d.min(end)));
                }
            }
        }
    }
    if let Some(feed) = &feed
        && let Ok(failure) = feed.failure.lock()
        && let Some(why) = failure.as_ref()
    {
        tracing::error!("the input file could not be read to the end: {why}");
    }
    PhaseResult {
        issued: ctx.progress.issued.load(Ordering::Relaxed),
        start_ns,
        end_ns: ctx.clock.now_ns(),
        interrupted: ctx.interrupt.is_cancelled(),
        grace_expired,
        server_gone: ctx.health.is_gone(),
        too_many_failures: plan.too_many_failures(&ctx.progress),
    }
}

/// Sleeps until `deadline`, or forever without one.
async fn sleep_until_or_never(deadline: Option<std::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d.into()).await,
        None => std::future::pending().await,
    }
}

/// What every request of a phase shares: its clock origin, the request numbers, its limits,
/// its rules and (for a conversation workload) its feed.
#[derive(Clone)]
struct PhaseShared {
    start_ns: u64,
    /// The next request number; a number at or past `limit` is never sent.
    next_index: Arc<AtomicU64>,
    limit: Option<u64>,
    /// Requests due at or after this run-clock time are not sent (duration phases).
    end_ns: Option<u64>,
    rules: RequestRules,
    feed: Option<Arc<Feed>>,
}

impl PhaseShared {
    /// A request number, or `None` once the phase's request limit is reached.
    fn take_index(&self) -> Option<u64> {
        let index = self.next_index.fetch_add(1, Ordering::Relaxed);
        self.limit.is_none_or(|l| index < l).then_some(index)
    }

    /// Whether the phase still issues requests.
    fn issuing<T: SendRequest>(&self, ctx: &LoadContext<T>, cancel: &CancellationToken) -> bool {
        !(cancel.is_cancelled()
            || ctx.health.is_gone()
            || too_many_failures(self.rules.failures, &ctx.progress))
    }
}

fn spawn_closed_loop<T: SendRequest>(
    ctx: &Arc<LoadContext<T>>,
    plan: &PhasePlan,
    concurrency: u32,
    phase: &PhaseShared,
    tracker: &TaskTracker,
    phase_cancel: &CancellationToken,
    slots: Slots,
) {
    for worker in 0..concurrency {
        let ctx = ctx.clone();
        let cancel = phase_cancel.clone();
        let (phase, slots) = (phase.clone(), slots.clone());
        // Along a ramp, worker k joins at ramp x k / (concurrency - 1).
        let joins = plan.concurrency_ramp.map(|ramp| {
            ctx.clock.instant_at(phase.start_ns) + ramp_step_offset(ramp, concurrency, worker)
        });
        tracker.spawn(async move {
            if let Some(at) = joins {
                tokio::select! {
                    _ = tokio::time::sleep_until(at.into()) => {}
                    _ = cancel.cancelled() => return,
                }
            }
            // A worker is one user: one request, or one conversation, at a time.
            while phase.issuing(&ctx, &cancel) {
                let Some(index) = phase.take_index() else {
                    break;
                };
                let now = ctx.clock.now_ns();
                if phase.end_ns.is_some_and(|end| now >= end) {
                    break;
                }
                let conversation = match &phase.feed {
                    Some(feed) => match feed.next().await {
                        Some(c) => Some(c),
                        None => break,
                    },
                    None => None,
                };
                let due_ns = ctx.clock.now_ns();
                issue(
                    &ctx,
                    &cancel,
                    &phase,
                    index,
                    due_ns,
                    conversation,
                    None,
                    &slots,
                )
                .await;
            }
        });
    }
}

/// Where open-loop arrivals come from.
enum Arrivals {
    /// A schedule of offsets from the phase start.
    Schedule(Schedule),
    /// The conversations' own timestamps.
    Trace { origin_ms: f64, speedup: f64 },
}

/// The pacer's thread wakes at most once per this interval: arrivals due closer together
/// than this are handed to the runtime in one batch, at the later wake-up. Each hand-off from
/// the pacer's thread is a cross-thread wake of a runtime worker (a futex or eventfd write, a
/// context switch), and each wake-up of the pacer a timer interrupt: one of each per arrival
/// cost more than the request itself above about 15,000 req/s on two cores, and at 28,000
/// req/s the runtime fell behind and the schedule lag grew without bound. An arrival waits at
/// most this long for its wake-up (its schedule lag includes the wait), a quarter of the 1 ms a
/// schedule-lag p99 may take; below 4,000 arrivals per second nearly every arrival still gets
/// a wake-up at its own deadline. Measured at 28,000 req/s against nginx on two cores, three
/// runs each: 100 us cost the client 0.98 cores and gave TTFT p99 8-24 ms with no cap on
/// requests in flight; 250 us cost 0.75-0.8 cores and gave 3.9-5.7 ms (1.0-1.4 ms with 64 in
/// flight), for a median lag of 0.20 ms instead of 0.11 ms; 400 us saved little more.
pub const PACER_MIN_WAKE: Duration = Duration::from_micros(250);

/// The most arrivals handed to the runtime at once.
const MAX_BATCH: usize = 256;

/// An arrival the pacer has woken for, not yet handed to the runtime.
struct Due {
    index: u64,
    intended_ns: u64,
    conversation: Option<PreparedConversation>,
}

fn spawn_pacer<T: SendRequest>(
    ctx: &Arc<LoadContext<T>>,
    plan: &PhasePlan,
    mut arrivals: Arrivals,
    phase: &PhaseShared,
    tracker: &TaskTracker,
    phase_cancel: &CancellationToken,
    slots: Slots,
) -> tokio::task::JoinHandle<()> {
    let handle = tokio::runtime::Handle::current();
    let (ctx, tracker, cancel, phase) = (
        ctx.clone(),
        tracker.clone(),
        phase_cancel.clone(),
        phase.clone(),
    );
    let duration = plan.duration.map(|d| d.as_secs_f64());
    let trace = match arrivals {
        Arrivals::Trace { origin_ms, speedup } => Some((origin_ms, speedup)),
        Arrivals::Schedule(_) => None,
    };
    let min_wake_ns = PACER_MIN_WAKE.as_nanos() as u64;
    tokio::task::spawn_blocking(move || {
        let hand_off = |batch: &mut Vec<Due>| {
            hand_off(
                &handle, &ctx, &tracker, &cancel, &phase, &slots, trace, batch,
            )
        };
        let mut batch: Vec<Due> = Vec::new();
        // The deadline of the last wake-up (not the clock after it), so the spacing of
        // wake-ups does not depend on how late the thread was woken.
        let mut last_wake_ns: Option<u64> = None;
        loop {
            // A conversation is taken before its deadline, so building it is never lag; what
            // is due is handed over before waiting for the producer.
            let conversation = match &phase.feed {
                Some(feed) => match feed.try_next() {
                    Some(c) => Some(c),
                    None => {
                        hand_off(&mut batch);
                        match feed.blocking_next() {
                            Some(c) => Some(c),
                            None => break,
                        }
                    }
                },
                None => None,
            };
            let offset = match &mut arrivals {
                Arrivals::Schedule(schedule) => schedule.next_offset(),
                Arrivals::Trace { origin_ms, speedup } => {
                    let at = conversation
                        .as_ref()
                        .and_then(PreparedConversation::timestamp_ms)
                        .unwrap_or(*origin_ms);
                    ((at - *origin_ms) / *speedup / 1e3).max(0.0)
                }
            };
            if duration.is_some_and(|d| offset >= d) {
                break;
            }
            let Some(index) = phase.take_index() else {
                break;
            };
            let intended_ns = phase.start_ns + Duration::from_secs_f64(offset).as_nanos() as u64;
            if intended_ns > ctx.clock.now_ns() {
                // Not due yet: send what is, then sleep until it is (or, when the last wake-up
                // was less than the interval ago, until the interval has passed).
                hand_off(&mut batch);
                let wake_ns = last_wake_ns.map_or(intended_ns, |last| {
                    intended_ns.max(last.saturating_add(min_wake_ns))
                });
                let stop = || !phase.issuing(&ctx, &cancel);
                if !ctx.pacing.wait_until(&ctx.clock, wake_ns, &stop) {
                    break;
                }
                last_wake_ns = Some(wake_ns);
            } else if !phase.issuing(&ctx, &cancel) {
                break;
            }
            batch.push(Due {
                index,
                intended_ns,
                conversation,
            });
            // A pacer that never catches up (a rate beyond what it can even count) still
            // hands arrivals over as it goes.
            if batch.len() >= MAX_BATCH {
                hand_off(&mut batch);
            }
        }
        hand_off(&mut batch);
    })
}

/// Hands the due arrivals to the runtime: one spawn from the pacer's thread per batch. The
/// batch's task spawns each request as a task of its own on its worker (a local queue the
/// other workers steal from), so requests still run in parallel.
#[allow(clippy::too_many_arguments)]
fn hand_off<T: SendRequest>(
    handle: &tokio::runtime::Handle,
    ctx: &Arc<LoadContext<T>>,
    tracker: &TaskTracker,
    cancel: &CancellationToken,
    phase: &PhaseShared,
    slots: &Slots,
    trace: Option<(f64, f64)>,
    batch: &mut Vec<Due>,
) {
    if batch.is_empty() {
        return;
    }
    let due = std::mem::take(batch);
    let (ctx, cancel, slots, phase, spawner) = (
        ctx.clone(),
        cancel.clone(),
        slots.clone(),
        phase.clone(),
        tracker.clone(),
    );
    tracker.spawn_on(
        async move {
            let mut due = due.into_iter();
            // The batch's first request runs in this task, the others in tasks of their own.
            let first = due.next();
            for d in due {
                let (ctx, cancel, slots, phase) =
                    (ctx.clone(), cancel.clone(), slots.clone(), phase.clone());
                spawner
                    .spawn(async move { issue_due(&ctx, &cancel, &phase, &slots, trace, d).await });
            }
            if let Some(d) = first {
                issue_due(&ctx, &cancel, &phase, &slots, trace, d).await;
            }
        },
        handle,
    );
}

/// Issues an arrival the pacer handed over.
async fn issue_due<T: SendRequest>(
    ctx: &LoadContext<T>,
    cancel: &CancellationToken,
    phase: &PhaseShared,
    slots: &Slots,
    trace: Option<(f64, f64)>,
    d: Due,
) {
    issue(
        ctx,
        cancel,
        phase,
        d.index,
        d.intended_ns,
        d.conversation,
        trace,
        slots,
    )
    .await
}

/// Issues request `index`, due at `due_ns`: a conversation from the feed (turn by turn), or
/// the next prebuilt body.
#[allow(clippy::too_many_arguments)]
async fn issue<T: SendRequest>(
    ctx: &LoadContext<T>,
    cancel: &CancellationToken,
    phase: &PhaseShared,
    index: u64,
    due_ns: u64,
    conversation: Option<PreparedConversation>,
    trace: Option<(f64, f64)>,
    slots: &Slots,
) {
    match (&ctx.workload, conversation) {
        (Workload::Conversations(builder), Some(conversation)) => {
            let first = FirstTurn { index, due_ns };
            run_conversation(
                ctx,
                builder,
                cancel,
                phase,
                &conversation,
                first,
                trace,
                slots,
            )
            .await;
        }
        _ => send_prebuilt(ctx, cancel, phase.rules, index, due_ns, slots.clone()).await,
    }
}

/// The first turn of a conversation: its request number and when it was due.
struct FirstTurn {
    index: u64,
    due_ns: u64,
}

/// Sends a synthetic request: entry `index` of the prebuilt dataset, round robin.
async fn send_prebuilt<T: SendRequest>(
    ctx: &LoadContext<T>,
    cancel: &CancellationToken,
    rules: RequestRules,
    index: u64,
    intended_ns: u64,
    slots: Slots,
) {
    let Workload::Prebuilt(dataset) = &ctx.workload else {
        return;
    };
    let (entry, input) = dataset.entry(index);
    let request = Request {
        index,
        intended_ns,
        input,
        body: entry.body.clone(),
        url: None,
        wants_reply: false,
    };
    send_one(ctx, cancel, rules, request, slots).await;
}

/// Sends a conversation's turns in order: each after the previous one's response and its
/// delay (and, in a replay, not before its own timestamp), with the conversation so far
/// (earlier messages and the replies the server actually gave) before it, all to one server.
/// A turn whose predecessor failed is not sent: its history would not be the real one.
#[allow(clippy::too_many_arguments)]
async fn run_conversation<T: SendRequest>(
    ctx: &LoadContext<T>,
    builder: &Builder,
    cancel: &CancellationToken,
    phase: &PhaseShared,
    conversation: &PreparedConversation,
    first: FirstTurn,
    trace: Option<(f64, f64)>,
    slots: &Slots,
) {
    let mut history: Vec<serde_json::Value> = Vec::new();
    let mut history_tokens = 0u32;
    let last = conversation.turns.len().saturating_sub(1);
    for (k, turn) in conversation.turns.iter().enumerate() {
        let (index, due_ns) = if k == 0 {
            (first.index, first.due_ns)
        } else {
            if let Some(delay) = turn.delay {
                tokio::select! {
                    _ = tokio::time::sleep(delay) => {}
                    _ = cancel.cancelled() => return,
                }
            }
            let mut due_ns = ctx.clock.now_ns();
            if let (Some((origin_ms, speedup)), Some(at_ms)) = (trace, turn.timestamp_ms) {
                let at_ns =
                    phase.start_ns + (((at_ms - origin_ms) / speedup).max(0.0) * 1e6) as u64;
                if at_ns > due_ns {
                    tokio::select! {
                        _ = tokio::time::sleep_until(ctx.clock.instant_at(at_ns).into()) => {}
                        _ = cancel.cancelled() => return,
                    }
                    due_ns = at_ns;
                }
            }
            if !phase.issuing(ctx, cancel) || phase.end_ns.is_some_and(|end| due_ns >= end) {
                return;
            }
            let Some(index) = phase.take_index() else {
                return;
            };
            (index, due_ns)
        };
        let input = RequestInput {
            conversation: conversation.id.clone(),
            session_num: conversation.number,
            turn: k as u32,
            input_tokens: turn.input_tokens.saturating_add(if turn.takes_history {
                history_tokens
            } else {
                0
            }),
            max_tokens: turn.max_tokens,
            session_end: (k == last && k > 0).then_some(crate::dataset::SessionEnd {
                started_ns: first.due_ns,
                turns: k as u32 + 1,
            }),
        };
        let request = Request {
            index,
            intended_ns: due_ns,
            input,
            body: turn.body_with(&history),
            url: Some(conversation.number as usize),
            wants_reply: k < last,
        };
        let Some(reply) = send_one(ctx, cancel, phase.rules, request, slots.clone()).await else {
            return;
        };
        history_tokens = history_tokens
            .saturating_add(turn.input_tokens)
            .saturating_add(builder.tokenizer.count(&reply) as u32);
        history.extend(turn.messages().iter().cloned());
        history.push(serde_json::json!({"role": "assistant", "content": reply}));
    }
}

/// One request to send.
struct Request {
    index: u64,
    intended_ns: u64,
    input: RequestInput,
    body: Bytes,
    url: Option<usize>,
    /// Read the reply's text for the next turn.
    wants_reply: bool,
}

/// The text a successful response carried, read as the record processor reads it.
fn reply_text(endpoint: &dyn crate::endpoint::Endpoint, rec: &RawRecord) -> Option<String> {
    let mut text = String::new();
    if rec.streamed {
        for (_, data) in rec.event_payloads() {
            text.push_str(&endpoint.parse_event(data).ok()?.content);
        }
    } else {
        text = endpoint.parse_body(&rec.payload).ok()?.content.into_owned();
    }
    Some(text)
}

/// Sends one request and hands its record to the processors; for a request that wants its
/// reply, returns the reply's text when it succeeded.
async fn send_one<T: SendRequest>(
    ctx: &LoadContext<T>,
    cancel: &CancellationToken,
    rules: RequestRules,
    request: Request,
    slots: Slots,
) -> Option<String> {
    let Request {
        index,
        intended_ns,
        input,
        body,
        url,
        wants_reply,
    } = request;
    let kind = rules.kind;
    ctx.progress.issued.fetch_add(1, Ordering::Relaxed);
    let mut rec = RawRecord::new(kind, index, input, intended_ns);
    rec.in_ramp = rules.ramp_end_ns.is_some_and(|end| intended_ns < end);
    // In-flight slot first, then a prefill slot: waiting for either is schedule lag. The
    // in-flight slot is held until the record is queued: when the processors fall behind, the
    // cap then bounds the records waiting for room (memory stays flat), and the lag it causes
    // shows in the verdict.
    let _permit = acquire(slots.in_flight, cancel).await;
    let prefill_slot = acquire(slots.prefill, cancel).await;
    // An arrival that waited for a slot while the phase was stopped is never sent.
    let outcome = if cancel.is_cancelled() || too_many_failures(rules.failures, &ctx.progress) {
        rec.sent_ns = ctx.clock.now_ns();
        Outcome::Cancelled
    } else {
        let control = SendControl {
            cancel_after: rules.cancellation.and_then(|c| c.cancel_after(index)),
            prefill_slot,
            url,
        };
        // Lent only now: a request waiting for its slot holds no buffers.
        ctx.records.lend_buffers(&mut rec);
        tokio::select! {
            biased;
            _ = cancel.cancelled() => Outcome::Cancelled,
            result = tokio::time::timeout(ctx.request_timeout, ctx.transport.send(body, &mut rec, &ctx.clock, control)) => {
                result.unwrap_or_else(|_| Outcome::Error(RequestError {
                    kind: ErrorKind::Timeout,
                    code: None,
                    message: format!("no complete response within {:?}", ctx.request_timeout),
                }))
            }
        }
    };
    if !matches!(outcome, Outcome::Success) {
        rec.end_ns = ctx.clock.now_ns();
    }
    match outcome {
        Outcome::Error(_) => ctx.progress.failed.fetch_add(1, Ordering::Relaxed),
        Outcome::Cancelled => ctx.progress.cancelled.fetch_add(1, Ordering::Relaxed),
        Outcome::Success => 0,
    };
    ctx.health.observe(&outcome);
    let reply = match (&outcome, &ctx.workload) {
        (Outcome::Success, Workload::Conversations(builder)) if wants_reply => {
            reply_text(builder.endpoint, &rec)
        }
        _ => None,
    };
    rec.outcome = outcome;
    ctx.progress.finished.fetch_add(1, Ordering::Relaxed);
    ctx.records.send(rec).await;
    reply
}

#[cfg(test)]
#[path = "dispatch_tests.rs"]
mod tests;
