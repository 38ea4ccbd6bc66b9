//! Every exit code `aiperf` can return, named in one place.
//!
//! Scripts and CI pipelines branch on these numbers, so they are part of the public interface:
//! never renumber one, only add new ones. The README documents the same table.

/// A process exit code with a stable meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExitCode(pub i32);

impl ExitCode {
    /// The command did what was asked.
    pub const SUCCESS: ExitCode = ExitCode(0);
    /// An unexpected failure (I/O error writing results, internal error).
    pub const FAILURE: ExitCode = ExitCode(1);
    /// The configuration (flags or experiment file) is invalid; nothing was started.
    pub const INVALID_CONFIG: ExitCode = ExitCode(2);
    /// A target server could not be reached before the benchmark started; nothing was measured.
    pub const SERVER_UNREACHABLE: ExitCode = ExitCode(3);
    /// The benchmark ran but no request succeeded (every one failed or was cancelled); results
    /// and the error summary are on disk.
    pub const ALL_REQUESTS_FAILED: ExitCode = ExitCode(4);
    /// An experiment finished but at least one of its trials failed; the others are aggregated.
    pub const TRIALS_FAILED: ExitCode = ExitCode(5);
    /// Plotting failed and was required (`--plot-required`); the results are on disk.
    pub const PLOT_FAILED: ExitCode = ExitCode(6);
    /// The W&B upload failed and was required (`--wandb-required`); the results are on disk.
    pub const UPLOAD_FAILED: ExitCode = ExitCode(7);
    /// The server went away mid-run (connections refused in a row); the run stopped issuing
    /// requests and everything measured until then is on disk.
    pub const SERVER_GONE: ExitCode = ExitCode(8);
    /// A threshold (`--threshold`, `benchmark.thresholds`) failed; every file, thresholds.json
    /// included, is written.
    pub const THRESHOLDS_FAILED: ExitCode = ExitCode(9);
    /// `aiperf compare` found a regression against the baseline; compare.json is written.
    pub const REGRESSION: ExitCode = ExitCode(10);
    /// More requests failed than `--failed-request-threshold` allows, so the run stopped early;
    /// everything measured until then is on disk.
    pub const TOO_MANY_FAILURES: ExitCode = ExitCode(11);
    /// The reader of stdout went away (`aiperf ... | head -1`); the command stopped quietly, as
    /// a tool stopped by SIGPIPE would.
    pub const OUTPUT_CLOSED: ExitCode = ExitCode(141);
    /// Stopped by SIGHUP (the terminal closed); everything measured so far is on disk.
    pub const HANGUP: ExitCode = ExitCode(129);
    /// Interrupted by Ctrl-C (SIGINT); everything measured so far is on disk.
    pub const INTERRUPTED: ExitCode = ExitCode(130);
    /// Stopped by SIGTERM (`timeout`, `docker stop`, CI cancellation); everything measured so far
    /// is on disk.
    pub const TERMINATED: ExitCode = ExitCode(143);

    /// Every named code with a one-line meaning, for `--help` text and documentation tests.
    pub const ALL: &'static [(ExitCode, &'static str)] = &[
        (Self::SUCCESS, "success"),
        (Self::FAILURE, "unexpected failure (I/O, internal error)"),
        (
            Self::INVALID_CONFIG,
            "invalid configuration; nothing was started",
        ),
        (
            Self::SERVER_UNREACHABLE,
            "a server could not be reached before the start",
        ),
        (
            Self::ALL_REQUESTS_FAILED,
            "no request succeeded: every one failed or was cancelled (results are on disk)",
        ),
        (
            Self::TRIALS_FAILED,
            "an experiment finished but some trials failed (the rest are aggregated)",
        ),
        (
            Self::PLOT_FAILED,
            "plotting failed and --plot-required was given (results are on disk)",
        ),
        (
            Self::UPLOAD_FAILED,
            "the W&B upload failed and --wandb-required was given (results are on disk)",
        ),
        (
            Self::SERVER_GONE,
            "the server went away mid-run (results until then are on disk)",
        ),
        (
            Self::THRESHOLDS_FAILED,
            "a threshold failed (results and thresholds.json are on disk)",
        ),
        (
            Self::REGRESSION,
            "aiperf compare found a regression (compare.json is written)",
        ),
        (
            Self::TOO_MANY_FAILURES,
            "too many requests failed (--failed-request-threshold); results so far are on disk",
        ),
        (
            Self::HANGUP,
            "stopped by SIGHUP (results so far are on disk)",
        ),
        (
            Self::INTERRUPTED,
            "interrupted by Ctrl-C (results so far are on disk)",
        ),
        (
            Self::OUTPUT_CLOSED,
            "stdout was closed by its reader (e.g. piped into head); stopped quietly",
        ),
        (
            Self::TERMINATED,
            "stopped by SIGTERM (results so far are on disk)",
        ),
    ];

    /// Whether this code means "stopped by a signal" (129, 130 or 143).
    pub fn is_interruption(self) -> bool {
        matches!(self.0, 129 | 130 | 143)
    }
}
