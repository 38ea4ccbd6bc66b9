//! Progress display while a phase runs: an indicatif bar on a terminal, a plain line every few
//! seconds otherwise, nothing with `--ui-type none`.

use crate::load::dispatch::Progress;
use crate::spec::UiType;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// What a phase will do, for the display.
pub struct PhaseDisplay {
    /// "warmup" or "profiling".
    pub name: &'static str,
    /// Requests to send, if count-bounded.
    pub total_requests: Option<u64>,
    /// Length, if duration-bounded.
    pub duration: Option<Duration>,
}

/// Stops the display when dropped.
pub struct ProgressGuard {
    stop: CancellationToken,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl ProgressGuard {
    /// Stops and waits for the last update.
    pub async fn finish(mut self) {
        self.stop.cancel();
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for ProgressGuard {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// Starts the display for a phase (inside `multi` when an experiment shows an overall bar).
pub fn start(
    progress: Arc<Progress>,
    ui: UiType,
    phase: PhaseDisplay,
    multi: Option<&MultiProgress>,
) -> ProgressGuard {
    let stop = CancellationToken::new();
    if ui == UiType::None {
        return ProgressGuard { stop, task: None };
    }
    let token = stop.clone();
    let task = if std::io::stderr().is_terminal() {
        tokio::spawn(bar(progress, phase, token, multi.cloned()))
    } else {
        tokio::spawn(lines(progress, phase, token))
    };
    ProgressGuard {
        stop,
        task: Some(task),
    }
}

async fn bar(
    progress: Arc<Progress>,
    phase: PhaseDisplay,
    stop: CancellationToken,
    multi: Option<MultiProgress>,
) {
    let started = Instant::now();
    let (length, by_time) = match (phase.total_requests, phase.duration) {
        (_, Some(d)) => (d.as_secs().max(1), true),
        (Some(n), None) => (n, false),
        (None, None) => (0, false),
    };
    let bar = ProgressBar::with_draw_target(Some(length), ProgressDrawTarget::stderr_with_hz(10));
    let bar = match &multi {
        Some(m) => m.add(bar),
        None => bar,
    };
    let template = if by_time {
        "{prefix:>9} [{bar:30}] {pos}/{len} s  {msg}"
    } else {
        "{prefix:>9} [{bar:30}] {pos}/{len} requests  {msg}"
    };
    bar.set_style(
        ProgressStyle::with_template(template)
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.set_prefix(phase.name);
    loop {
        let finished = progress.finished.load(Ordering::Relaxed);
        let failed = progress.failed.load(Ordering::Relaxed);
        let in_flight = progress
            .issued
            .load(Ordering::Relaxed)
            .saturating_sub(finished);
        bar.set_position(if by_time {
            started.elapsed().as_secs().min(length)
        } else {
            finished
        });
        bar.set_message(format!(
            "{finished} done, {in_flight} in flight, {failed} failed"
        ));
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = tokio::time::sleep(Duration::from_millis(100)) => {}
        }
    }
    bar.finish_and_clear();
    if let Some(m) = multi {
        m.remove(&bar);
    }
}

async fn lines(progress: Arc<Progress>, phase: PhaseDisplay, stop: CancellationToken) {
    let started = Instant::now();
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(Duration::from_secs(5)) => {}
        }
        let finished = progress.finished.load(Ordering::Relaxed);
        let failed = progress.failed.load(Ordering::Relaxed);
        let of = phase
            .total_requests
            .map(|n| format!("/{n}"))
            .unwrap_or_default();
        eprintln!(
            "[{}] {:.0} s: {finished}{of} requests finished, {failed} failed",
            phase.name,
            started.elapsed().as_secs_f64()
        );
    }
}
