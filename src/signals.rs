//! Stopping on a signal: SIGINT (Ctrl-C), SIGTERM (what `timeout`, `docker stop`, Kubernetes and
//! CI cancellation send) and SIGHUP (a closed terminal) all mean "stop issuing, finish or cancel
//! what is in flight within the grace period, and write every file". A second signal exits at
//! once.
//!
//! One listener serves the whole process, so a signal that arrives between stages (during
//! plotting or an upload) is never swallowed by a handler that has already gone. It is installed
//! only by the commands that have something to save; the others keep the default dispositions.

use crate::exit_code::ExitCode;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicI32, Ordering};
use tokio_util::sync::CancellationToken;

/// The signal number that stopped the run (0 while none arrived).
static RECEIVED: AtomicI32 = AtomicI32::new(0);
static SHUTDOWN: OnceLock<CancellationToken> = OnceLock::new();

/// A token cancelled by the first SIGINT, SIGTERM or SIGHUP. The first call installs the
/// listener; it must be made inside the tokio runtime.
pub fn shutdown_token() -> CancellationToken {
    SHUTDOWN
        .get_or_init(|| {
            let token = CancellationToken::new();
            install(token.clone());
            token
        })
        .clone()
}

/// The exit code for a run stopped by a signal: 128 + the signal number (130 for SIGINT, 143
/// for SIGTERM, 129 for SIGHUP), as shells report it.
pub fn interrupted_exit_code() -> ExitCode {
    match RECEIVED.load(Ordering::Relaxed) {
        0 => ExitCode::INTERRUPTED,
        signo => ExitCode(128 + signo),
    }
}

/// The name of the signal that stopped the run, for messages ("interrupted by SIGTERM").
pub fn received_name() -> &'static str {
    match RECEIVED.load(Ordering::Relaxed) {
        libc::SIGTERM => "SIGTERM",
        libc::SIGHUP => "SIGHUP",
        _ => "Ctrl-C",
    }
}

fn install(token: CancellationToken) {
    use tokio::signal::unix::{SignalKind, signal};
    let streams = [
        (libc::SIGINT, SignalKind::interrupt()),
        (libc::SIGTERM, SignalKind::terminate()),
        (libc::SIGHUP, SignalKind::hangup()),
    ];
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<i32>();
    for (signo, kind) in streams {
        match signal(kind) {
            Ok(mut stream) => {
                let tx = tx.clone();
                tokio::spawn(async move {
                    while stream.recv().await.is_some() {
                        if tx.send(signo).is_err() {
                            break;
                        }
                    }
                });
            }
            Err(e) => tracing::warn!("cannot listen for signal {signo}: {e}"),
        }
    }
    tokio::spawn(async move {
        let Some(first) = rx.recv().await else {
            return;
        };
        RECEIVED.store(first, Ordering::Relaxed);
        eprintln!(
            "\ninterrupted by {}: stopping, finishing or cancelling in-flight requests and writing every \
             result file (send it again to abort at once)",
            received_name()
        );
        token.cancel();
        if let Some(second) = rx.recv().await {
            std::process::exit(128 + second);
        }
    });
}
