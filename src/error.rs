//! The error type that reaches `main`: a message for the user plus the exit code it maps to.

use crate::exit_code::ExitCode;

/// A failure that ends the command, carrying the exit code that names its class.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct AppError {
    /// One clear line (or a short paragraph) for the user.
    pub message: String,
    /// The exit code this failure maps to.
    pub code: ExitCode,
}

impl AppError {
    /// An invalid flag, value or combination: nothing was started.
    pub fn config(message: impl std::fmt::Display) -> Self {
        Self {
            message: message.to_string(),
            code: ExitCode::INVALID_CONFIG,
        }
    }

    /// A server that could not be reached before the benchmark started.
    pub fn unreachable(message: impl std::fmt::Display) -> Self {
        Self {
            message: message.to_string(),
            code: ExitCode::SERVER_UNREACHABLE,
        }
    }

    /// Any other failure.
    pub fn failure(message: impl std::fmt::Display) -> Self {
        Self {
            message: message.to_string(),
            code: ExitCode::FAILURE,
        }
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
