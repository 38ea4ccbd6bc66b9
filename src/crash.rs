//! The last line of defence: a panic anywhere becomes one line on stderr that says what happened,
//! where, and where the results measured so far are, then exit code 1. Never a backtrace unless
//! `RUST_BACKTRACE` asks for one.
//!
//! Results survive a panic because the record files are flushed as whole lines at least every
//! 100 ms (see `export::records`), so exiting at once loses at most that much.

use crate::exit_code::ExitCode;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

static RESULTS_DIR: Mutex<Option<PathBuf>> = Mutex::new(None);

/// Records where the current command writes its results, for the panic message.
pub fn set_results_dir(dir: &Path) {
    if let Ok(mut guard) = RESULTS_DIR.lock() {
        *guard = Some(dir.to_path_buf());
    }
}

/// Installs the hook. Call once, first thing in `main`.
pub fn install_panic_hook() {
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let backtrace = std::env::var_os("RUST_BACKTRACE").is_some_and(|v| v != "0");
        if backtrace {
            default_hook(info);
        }
        let what = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown cause".into());
        // println!/eprintln! panic when their reader went away (`aiperf ... | head -1`): stop
        // quietly, as a tool killed by SIGPIPE would (SIGPIPE itself is ignored, see main).
        if (what.starts_with("failed printing to stdout")
            || what.starts_with("failed printing to stderr"))
            && what.contains("Broken pipe")
        {
            std::process::exit(ExitCode::OUTPUT_CLOSED.0);
        }
        let place = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        // try_lock: the panic may have happened while the lock was held.
        let results = RESULTS_DIR
            .try_lock()
            .ok()
            .and_then(|g| g.clone())
            .map(|d| format!("; results measured so far are in {}", d.display()))
            .unwrap_or_default();
        eprintln!(
            "error: internal error (a bug in aiperf, please report it): {}{place}{results}",
            what.lines().next().unwrap_or("")
        );
        std::process::exit(ExitCode::FAILURE.0);
    }));
}
