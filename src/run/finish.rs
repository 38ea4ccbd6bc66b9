//! How a finished run is judged: its status and exit code, and the warnings a person must see.
//!
//! A run that measured nothing useful never exits 0: no successful request is exit 4 whatever
//! the reason, a server that went away mid-run is exit 8, a signal is 128 + its number.

use super::processor::TransportNotes;
use crate::artifacts::run_metadata::RunStatus;
use crate::exit_code::ExitCode;
use crate::metrics::RunSummary;

/// An error rate above this (as a fraction of finished requests) is warned about.
pub const ERROR_RATE_WARNING: f64 = 0.02;

/// What ended the run, as seen by the load engine.
#[derive(Debug, Clone, Copy, Default)]
pub struct Ending {
    /// A signal stopped it.
    pub interrupted: bool,
    /// The profiling phase's grace period expired with requests in flight.
    pub grace_expired: bool,
    /// The server went away mid-run.
    pub server_gone: bool,
    /// The failed-request threshold that was crossed, if one was.
    pub too_many_failures: Option<crate::spec::FailureThreshold>,
    /// Streaming was asked for.
    pub streaming: bool,
}

/// The verdict on a run.
#[derive(Debug, Clone)]
pub struct Judgement {
    /// How it ended.
    pub status: RunStatus,
    /// The exit code it maps to.
    pub exit_code: ExitCode,
    /// Why the run is incomplete, if it is.
    pub incomplete_reason: Option<String>,
    /// Requests that failed for lack of a client resource.
    pub client_resource_errors: u64,
    /// One line each, for the console and `run_metadata.json`.
    pub warnings: Vec<String>,
}

/// Judges a run from its profiling summary.
pub fn judge(summary: &RunSummary, ending: Ending, notes: TransportNotes) -> Judgement {
    let client_resource_errors: u64 = summary
        .error_groups
        .iter()
        .filter(|g| g.kind == crate::load::ErrorKind::ClientResource.as_str())
        .map(|g| g.count)
        .sum();
    let (status, exit_code) = if ending.interrupted {
        (
            RunStatus::Interrupted,
            crate::signals::interrupted_exit_code(),
        )
    } else if ending.server_gone {
        (RunStatus::ServerGone, ExitCode::SERVER_GONE)
    } else if ending.too_many_failures.is_some() {
        (RunStatus::TooManyFailures, ExitCode::TOO_MANY_FAILURES)
    } else if summary.success == 0 && summary.errors > 0 {
        (RunStatus::AllRequestsFailed, ExitCode::ALL_REQUESTS_FAILED)
    } else if summary.success == 0 {
        (RunStatus::NothingCompleted, ExitCode::ALL_REQUESTS_FAILED)
    } else {
        (RunStatus::Completed, ExitCode::SUCCESS)
    };
    let incomplete_reason = if ending.interrupted {
        Some(format!(
            "interrupted by {}",
            crate::signals::received_name()
        ))
    } else if ending.server_gone {
        Some(format!(
            "the server went away: {} connections in a row were refused, so the run stopped issuing requests",
            crate::load::dispatch::SERVER_GONE_REFUSALS
        ))
    } else if let Some(threshold) = ending.too_many_failures {
        Some(format!(
            "stopped early: {threshold} ({} of {} finished; --failed-request-threshold)",
            summary.errors,
            summary.success + summary.errors
        ))
    } else if ending.grace_expired {
        Some("grace period expired; in-flight requests were cancelled".to_string())
    } else {
        None
    };
    let mut warnings = Vec::new();
    if let Some(reason) = incomplete_reason
        .as_ref()
        .filter(|_| ending.server_gone || ending.too_many_failures.is_some())
    {
        warnings.push(format!("{reason}; every result up to then is on disk"));
    }
    if status == RunStatus::NothingCompleted {
        warnings.push(format!(
            "no request completed: {} sent, {} cancelled{}",
            summary.sent(),
            summary.cancelled,
            if ending.grace_expired {
                " when the grace period expired (the server never finished a response)"
            } else {
                ""
            }
        ));
    }
    let finished = summary.success + summary.errors;
    if finished > 0 && summary.errors > 0 {
        let rate = summary.errors as f64 / finished as f64;
        if rate > ERROR_RATE_WARNING && summary.success > 0 {
            let top = summary
                .error_groups
                .first()
                .map(|g| format!("; most often: {} ({}x)", g.message, g.count))
                .unwrap_or_default();
            warnings.push(format!(
                "{:.1}% of requests failed ({} of {}){top}",
                rate * 100.0,
                summary.errors,
                finished
            ));
        }
    }
    if client_resource_errors > 0 {
        warnings.push(format!(
            "{client_resource_errors} requests failed for lack of a client resource (file descriptors or local \
             ports): the client, not the server, limited this run. Raise the limit (ulimit -n 65536) or lower \
             --concurrency"
        ));
    }
    if ending.streaming && notes.not_streamed > 0 {
        warnings.push(format!(
            "--streaming was asked for, but {} responses were plain bodies, not event streams: the server does not \
             stream this endpoint, so time to first token and inter-token latency were not measured for them",
            notes.not_streamed
        ));
    }
    Judgement {
        status,
        exit_code,
        incomplete_reason,
        client_resource_errors,
        warnings,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::accumulator::ErrorGroup;

    fn summary(success: u64, errors: u64, cancelled: u64) -> RunSummary {
        RunSummary {
            success,
            errors,
            cancelled,
            ..RunSummary::default()
        }
    }

    #[test]
    fn nothing_completed_is_never_success() {
        let j = judge(
            &summary(0, 0, 3),
            Ending::default(),
            TransportNotes::default(),
        );
        assert_eq!(j.exit_code, ExitCode::ALL_REQUESTS_FAILED);
        assert_eq!(j.status, RunStatus::NothingCompleted);
        let j = judge(
            &summary(0, 0, 0),
            Ending::default(),
            TransportNotes::default(),
        );
        assert_eq!(j.exit_code, ExitCode::ALL_REQUESTS_FAILED);
    }

    #[test]
    fn a_server_gone_mid_run_has_its_own_code() {
        let ending = Ending {
            server_gone: true,
            ..Ending::default()
        };
        let j = judge(&summary(30, 40, 0), ending, TransportNotes::default());
        assert_eq!(j.exit_code, ExitCode::SERVER_GONE);
        assert!(j.warnings.iter().any(|w| w.contains("went away")));
    }

    #[test]
    fn error_rate_above_the_threshold_is_warned() {
        let mut s = summary(90, 10, 0);
        s.error_groups.push(ErrorGroup {
            code: Some(500),
            kind: "http_status",
            message: "boom".into(),
            count: 10,
        });
        let j = judge(&s, Ending::default(), TransportNotes::default());
        assert_eq!(j.exit_code, ExitCode::SUCCESS);
        assert!(
            j.warnings[0].starts_with("10.0% of requests failed"),
            "{:?}",
            j.warnings
        );
        let quiet = judge(
            &summary(99, 1, 0),
            Ending::default(),
            TransportNotes::default(),
        );
        assert!(quiet.warnings.is_empty());
    }

    #[test]
    fn client_resource_errors_are_the_clients() {
        let mut s = summary(10, 5, 0);
        s.error_groups.push(ErrorGroup {
            code: None,
            kind: "client_resource",
            message: "Too many open files".into(),
            count: 5,
        });
        let j = judge(&s, Ending::default(), TransportNotes::default());
        assert_eq!(j.client_resource_errors, 5);
        assert!(j.warnings.iter().any(|w| w.contains("ulimit -n")));
    }

    #[test]
    fn unstreamed_responses_are_said_once() {
        let ending = Ending {
            streaming: true,
            ..Ending::default()
        };
        let notes = TransportNotes {
            not_streamed: 7,
            ..TransportNotes::default()
        };
        let j = judge(&summary(7, 0, 0), ending, notes);
        assert_eq!(j.warnings.len(), 1);
        assert!(j.warnings[0].contains("7 responses were plain bodies"));
    }
}
