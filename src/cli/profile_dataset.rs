//! `aiperf profile`'s input-file, trace-replay and shared-prefix flags (AIPerf's names).

use crate::spec::dataset::{SequenceShare, parse_seq_dist};
use crate::spec::{FileFormat, SamplingStrategy};
use clap::Args;
use std::path::PathBuf;

/// Flags for input files, fixed-schedule replay and synthetic shared prefixes.
#[derive(Debug, Args, Default)]
pub struct DatasetFlags {
    /// A JSONL input file to send instead of synthetic prompts (with --custom-dataset-type).
    #[arg(long, value_name = "PATH", help_heading = "Input file")]
    pub input_file: Option<PathBuf>,
    /// The input file's format.
    #[arg(long, value_enum, value_name = "TYPE", help_heading = "Input file")]
    pub custom_dataset_type: Option<FileFormat>,
    /// How entries are drawn when the run needs more requests than the file holds.
    #[arg(long, value_enum, value_name = "STRATEGY", help_heading = "Input file")]
    pub dataset_sampling_strategy: Option<SamplingStrategy>,
    /// Tokens per `hash_ids` block of a Mooncake trace (default 512).
    #[arg(
        allow_negative_numbers = true,
        long,
        visible_alias = "prompt-input-tokens-block-size",
        value_name = "TOKENS",
        help_heading = "Input file"
    )]
    pub isl_block_size: Option<u32>,
    /// Send each request at its line's timestamp (default when the file's first line has one).
    #[arg(
        long,
        conflicts_with = "no_fixed_schedule",
        help_heading = "Trace replay"
    )]
    pub fixed_schedule: bool,
    /// Ignore the file's timestamps: send by --concurrency or --request-rate instead.
    #[arg(long, help_heading = "Trace replay")]
    pub no_fixed_schedule: bool,
    /// Shift the trace so its first replayed request is sent at once.
    #[arg(long, help_heading = "Trace replay")]
    pub fixed_schedule_auto_offset: bool,
    /// Replay only requests at or after this trace time (ms); the replay starts there.
    #[arg(
        allow_negative_numbers = true,
        long,
        value_name = "MS",
        help_heading = "Trace replay"
    )]
    pub fixed_schedule_start_offset: Option<f64>,
    /// Replay only requests at or before this trace time (ms).
    #[arg(
        allow_negative_numbers = true,
        long,
        value_name = "MS",
        help_heading = "Trace replay"
    )]
    pub fixed_schedule_end_offset: Option<f64>,
    /// Divide every gap of the trace by this (2 = twice as fast).
    #[arg(
        allow_negative_numbers = true,
        long,
        value_name = "X",
        help_heading = "Trace replay"
    )]
    pub replay_speedup: Option<f64>,
    /// Tokens of a shared prefix before every synthetic prompt (one of a pool of prefixes).
    #[arg(
        allow_negative_numbers = true,
        long,
        value_name = "TOKENS",
        help_heading = "Shared prefixes"
    )]
    pub prefix_prompt_length: Option<u32>,
    /// Distinct prefixes of --prefix-prompt-length tokens (default 100).
    #[arg(
        allow_negative_numbers = true,
        long,
        value_name = "N",
        help_heading = "Shared prefixes"
    )]
    pub prefix_prompt_pool_size: Option<u32>,
    /// Tokens of one system prompt every request shares.
    #[arg(
        allow_negative_numbers = true,
        long,
        value_name = "TOKENS",
        help_heading = "Shared prefixes"
    )]
    pub shared_system_prompt_length: Option<u32>,
    /// A mixture of (ISL, OSL) pairs, 'ISL,OSL:p;ISL,OSL:p' (p a fraction or a percentage).
    #[arg(long, value_name = "MIXTURE", help_heading = "Shared prefixes")]
    pub seq_dist: Option<String>,
}

/// What the flags say about the profiling phase's schedule.
pub struct Replay {
    /// Replay the file's timestamps.
    pub fixed: bool,
}

impl DatasetFlags {
    /// Whether the run replays the file's timestamps: asked with --fixed-schedule, refused with
    /// --no-fixed-schedule, else when the file's first entry carries a timestamp (an
    /// unreadable file is left to the check that reads it whole).
    pub fn replay(&self, problems: &mut Vec<String>) -> Replay {
        let window_flags = [
            (
                "--fixed-schedule-auto-offset",
                self.fixed_schedule_auto_offset,
            ),
            (
                "--fixed-schedule-start-offset",
                self.fixed_schedule_start_offset.is_some(),
            ),
            (
                "--fixed-schedule-end-offset",
                self.fixed_schedule_end_offset.is_some(),
            ),
            ("--replay-speedup", self.replay_speedup.is_some()),
        ];
        let fixed = match (&self.input_file, self.custom_dataset_type) {
            _ if self.no_fixed_schedule => false,
            _ if self.fixed_schedule => true,
            (Some(path), Some(format)) => {
                crate::dataset::input_file::first_entry_has_timestamp(path, format)
            }
            _ => false,
        };
        if !fixed {
            for (flag, _) in window_flags.iter().filter(|(_, on)| *on) {
                problems.push(format!(
                    "{flag} applies to a fixed-schedule replay (--fixed-schedule with a timestamped --input-file)"
                ));
            }
        }
        if self.fixed_schedule && self.input_file.is_none() {
            problems.push("--fixed-schedule replays an input file: add --input-file".into());
        }
        if self.fixed_schedule_auto_offset && self.fixed_schedule_start_offset.is_some() {
            problems.push(
                "--fixed-schedule-auto-offset and --fixed-schedule-start-offset both set where the replay starts: \
                 give one"
                    .into(),
            );
        }
        Replay { fixed }
    }

    /// The `seq_dist` mixture, if given.
    pub fn seq_dist(&self, problems: &mut Vec<String>) -> Option<Vec<SequenceShare>> {
        let text = self.seq_dist.as_deref()?;
        parse_seq_dist(text)
            .map_err(|e| problems.push(e.into()))
            .ok()
    }

    /// Problems with flags that need another: file flags without a file, a file without a
    /// format, a pool without a prefix.
    pub fn check(&self, problems: &mut Vec<String>) {
        match (&self.input_file, self.custom_dataset_type) {
            (Some(_), None) => problems.push(
                "--input-file needs --custom-dataset-type single_turn|multi_turn|mooncake_trace"
                    .into(),
            ),
            (None, Some(_)) => {
                problems.push("--custom-dataset-type describes an --input-file: add one".into())
            }
            _ => {}
        }
        if self.input_file.is_none() {
            for (flag, on) in [
                (
                    "--dataset-sampling-strategy",
                    self.dataset_sampling_strategy.is_some(),
                ),
                ("--isl-block-size", self.isl_block_size.is_some()),
            ] {
                if on {
                    problems.push(format!("{flag} applies to an --input-file"));
                }
            }
        }
        if self.prefix_prompt_pool_size.is_some() && self.prefix_prompt_length.is_none() {
            problems.push("--prefix-prompt-pool-size needs --prefix-prompt-length".into());
        }
    }
}
