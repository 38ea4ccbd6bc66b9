//! Logging: warnings (and with `-v`, progress details) to stderr, and everything at info level or
//! above to the run's `logs/aiperf.log` once the run directory is known. Nothing is logged per
//! request, so logging never costs the hot path.

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::Mutex;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{Layer, fmt};

static LOG_FILE: Mutex<Option<File>> = Mutex::new(None);

/// Writes to the run's log file, if one is open.
#[derive(Clone, Copy)]
struct RunLogWriter;

impl Write for RunLogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match LOG_FILE.lock() {
            Ok(mut guard) => match guard.as_mut() {
                Some(file) => file.write(buf),
                None => Ok(buf.len()),
            },
            Err(_) => Ok(buf.len()),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match LOG_FILE.lock() {
            Ok(mut guard) => guard.as_mut().map_or(Ok(()), |f| f.flush()),
            Err(_) => Ok(()),
        }
    }
}

impl<'a> MakeWriter<'a> for RunLogWriter {
    type Writer = RunLogWriter;
    fn make_writer(&'a self) -> Self::Writer {
        *self
    }
}

/// Installs the global subscriber; `verbosity` 0 = warnings on stderr, 1 = info, 2+ = debug.
pub fn init(verbosity: u8) {
    let stderr_level = match verbosity {
        0 => LevelFilter::WARN,
        1 => LevelFilter::INFO,
        _ => LevelFilter::DEBUG,
    };
    let stderr = fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(colour_on_stderr())
        .with_target(false)
        .without_time()
        .with_filter(stderr_level);
    let file = fmt::layer()
        .with_writer(RunLogWriter)
        .with_ansi(false)
        .with_target(false)
        .with_filter(LevelFilter::INFO);
    let _ = tracing_subscriber::registry()
        .with(stderr)
        .with(file)
        .try_init();
}

/// Colour only for a person at a terminal: never into a redirected stderr, never with
/// `NO_COLOR` set (<https://no-color.org>).
pub fn colour_on_stderr() -> bool {
    use std::io::IsTerminal;
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// Directs the log file to `path` (appending), creating its directory.
pub fn open_run_log(path: &Path) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    if let Ok(mut guard) = LOG_FILE.lock() {
        *guard = Some(file);
    }
    Ok(())
}

/// Closes the run log.
pub fn close_run_log() {
    if let Ok(mut guard) = LOG_FILE.lock()
        && let Some(mut file) = guard.take()
    {
        let _ = file.flush();
    }
}
