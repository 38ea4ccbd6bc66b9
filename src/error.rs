//! The error that ends a command: a message for the user and the kind of failure it is. Library
//! code says what went wrong; only `main` turns the kind into an exit code.

/// What kind of failure ended a command. Each kind has its own documented exit code, chosen in
/// `main`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// An invalid flag, value, file or combination: nothing was started.
    InvalidConfig,
    /// A server could not be reached before the benchmark started: nothing was measured.
    Unreachable,
    /// `aiperf plot` could not draw the plots it was asked for.
    PlotFailed,
    /// A signal (SIGINT, SIGTERM, SIGHUP) stopped the command before it measured anything.
    Interrupted,
    /// Anything else: an I/O error writing results, an internal error.
    Other,
}

/// A failure that ends the command.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct AppError {
    /// One clear line (or a short paragraph) for the user.
    pub message: String,
    /// What kind of failure it is.
    pub kind: FailureKind,
}

impl AppError {
    fn new(kind: FailureKind, message: impl std::fmt::Display) -> Self {
        Self {
            message: message.to_string(),
            kind,
        }
    }

    /// An invalid flag, value or combination: nothing was started.
    pub fn config(message: impl std::fmt::Display) -> Self {
        Self::new(FailureKind::InvalidConfig, message)
    }

    /// A server that could not be reached before the benchmark started.
    pub fn unreachable(message: impl std::fmt::Display) -> Self {
        Self::new(FailureKind::Unreachable, message)
    }

    /// Plots that could not be drawn.
    pub fn plot_failed(message: impl std::fmt::Display) -> Self {
        Self::new(FailureKind::PlotFailed, message)
    }

    /// Stopped by a signal before anything was measured (exit 128 + the signal's number).
    pub fn interrupted(message: impl std::fmt::Display) -> Self {
        Self::new(FailureKind::Interrupted, message)
    }

    /// Any other failure.
    pub fn failure(message: impl std::fmt::Display) -> Self {
        Self::new(FailureKind::Other, message)
    }
}

impl From<anyhow::Error> for AppError {
    fn from(err: anyhow::Error) -> Self {
        match err.downcast::<AppError>() {
            Ok(app) => app,
            Err(other) => Self::failure(format!("{other:#}")),
        }
    }
}

/// Result alias for command entry points.
pub type AppResult<T> = Result<T, AppError>;
