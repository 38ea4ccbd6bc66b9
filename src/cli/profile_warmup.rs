//! `aiperf profile`'s warmup flags (AIPerf's names): a warmup phase run before the profiling
//! phase and excluded from the results. Unset load settings are the profiling phase's.

use super::profile::RateMode;
use crate::spec::{PhaseKind, PhaseSpec, PhaseType};
use clap::Args;

/// The warmup phase's flags.
#[derive(Debug, Args, Default)]
pub struct WarmupFlags {
    /// Requests sent before measuring, excluded from results.
    #[arg(
        allow_negative_numbers = true,
        long,
        value_name = "N",
        help_heading = "Warmup"
    )]
    pub warmup_request_count: Option<u64>,
    /// Warm up for this many seconds (with or instead of --warmup-request-count).
    #[arg(
        allow_negative_numbers = true,
        long,
        value_name = "SECONDS",
        help_heading = "Warmup"
    )]
    pub warmup_duration: Option<f64>,
    /// Warmup concurrency (default: --concurrency).
    #[arg(
        allow_negative_numbers = true,
        long,
        value_name = "N",
        help_heading = "Warmup"
    )]
    pub warmup_concurrency: Option<u32>,
    /// Warmup request rate (default: --request-rate; without either, a closed loop).
    #[arg(
        allow_negative_numbers = true,
        long,
        value_name = "RATE",
        help_heading = "Warmup"
    )]
    pub warmup_request_rate: Option<f64>,
    /// Warmup arrivals (default: --arrival-pattern).
    #[arg(long, value_enum, help_heading = "Warmup")]
    pub warmup_arrival_pattern: Option<RateMode>,
    /// Warmup prefill concurrency (default: --prefill-concurrency).
    #[arg(
        allow_negative_numbers = true,
        long,
        value_name = "N",
        help_heading = "Warmup"
    )]
    pub warmup_prefill_concurrency: Option<u32>,
    /// After --warmup-duration, wait this long for in-flight warmup requests (default 30).
    #[arg(
        allow_negative_numbers = true,
        long,
        value_name = "SECONDS",
        help_heading = "Warmup"
    )]
    pub warmup_grace_period: Option<f64>,
    /// The warmup's concurrency ramp in seconds (as --concurrency-ramp-duration).
    #[arg(
        allow_negative_numbers = true,
        long,
        value_name = "SECONDS",
        help_heading = "Warmup"
    )]
    pub warmup_concurrency_ramp_duration: Option<f64>,
    /// The warmup's prefill-concurrency ramp in seconds (as --prefill-concurrency-ramp-duration).
    #[arg(
        allow_negative_numbers = true,
        long,
        value_name = "SECONDS",
        help_heading = "Warmup"
    )]
    pub warmup_prefill_concurrency_ramp_duration: Option<f64>,
    /// The warmup's request-rate ramp in seconds (as --request-rate-ramp-duration).
    #[arg(
        allow_negative_numbers = true,
        long,
        value_name = "SECONDS",
        help_heading = "Warmup"
    )]
    pub warmup_request_rate_ramp_duration: Option<f64>,
}

impl WarmupFlags {
    /// The warmup phase, if --warmup-request-count or --warmup-duration asks for one, built on
    /// the profiling phase's load; a warmup setting without either is a problem.
    pub fn phase(
        &self,
        profiling: &PhaseSpec,
        profiling_mode: RateMode,
        smoothness: Option<f64>,
        problems: &mut Vec<String>,
    ) -> Option<PhaseSpec> {
        let asked =
            self.warmup_request_count.is_some_and(|n| n > 0) || self.warmup_duration.is_some();
        if !asked {
            let set = [
                ("--warmup-concurrency", self.warmup_concurrency.is_some()),
                ("--warmup-request-rate", self.warmup_request_rate.is_some()),
                (
                    "--warmup-arrival-pattern",
                    self.warmup_arrival_pattern.is_some(),
                ),
                (
                    "--warmup-prefill-concurrency",
                    self.warmup_prefill_concurrency.is_some(),
                ),
                ("--warmup-grace-period", self.warmup_grace_period.is_some()),
                (
                    "--warmup-concurrency-ramp-duration",
                    self.warmup_concurrency_ramp_duration.is_some(),
                ),
                (
                    "--warmup-prefill-concurrency-ramp-duration",
                    self.warmup_prefill_concurrency_ramp_duration.is_some(),
                ),
                (
                    "--warmup-request-rate-ramp-duration",
                    self.warmup_request_rate_ramp_duration.is_some(),
                ),
            ];
            for (flag, _) in set.iter().filter(|(_, on)| *on) {
                problems.push(format!(
                    "{flag} applies to a warmup: add --warmup-request-count N or --warmup-duration SECONDS"
                ));
            }
            return None;
        }
        let rate = self.warmup_request_rate.or(profiling.rate);
        let phase_type = match (rate, self.warmup_arrival_pattern.unwrap_or(profiling_mode)) {
            (None, _) => PhaseType::Concurrency,
            (Some(_), RateMode::Constant) => PhaseType::Constant,
            (Some(_), RateMode::Poisson) => PhaseType::Poisson,
            (Some(_), RateMode::Gamma) => PhaseType::Gamma,
        };
        let concurrency = self.warmup_concurrency.or(profiling.concurrency);
        Some(PhaseSpec {
            name: "warmup".into(),
            kind: PhaseKind::Warmup,
            phase_type,
            requests: self.warmup_request_count.filter(|&n| n > 0),
            duration: self.warmup_duration,
            concurrency: match phase_type {
                PhaseType::Concurrency => Some(concurrency.unwrap_or(1)),
                _ => concurrency,
            },
            rate,
            smoothness: smoothness.filter(|_| phase_type == PhaseType::Gamma),
            grace_period: self.warmup_grace_period,
            failed_request_threshold: None,
            cancellation: None,
            prefill_concurrency: self
                .warmup_prefill_concurrency
                .or(profiling.prefill_concurrency),
            concurrency_ramp: self.warmup_concurrency_ramp_duration,
            prefill_ramp: self.warmup_prefill_concurrency_ramp_duration,
            rate_ramp: self.warmup_request_rate_ramp_duration,
            auto_offset: None,
            start_offset: None,
            end_offset: None,
            speedup: None,
        })
    }
}
