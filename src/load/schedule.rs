//! Arrival processes for open-loop phases, as absolute offsets from the phase start.
//!
//! Offsets are computed from the arrival index (constant) or as a running sum of seeded
//! exponential gaps (Poisson); the pacer sleeps until `start + offset`, so lateness never
//! accumulates into drift.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Exp, Gamma};

/// The arrival process of a rate phase.
#[derive(Debug, Clone)]
pub enum Schedule {
    /// Arrival `i` at `i / rate` seconds.
    Constant {
        /// Requests per second.
        rate: f64,
        /// Next arrival index.
        next: u64,
    },
    /// Exponentially distributed gaps with mean `1 / rate`; first arrival at 0.
    Poisson {
        /// Gap distribution.
        gaps: Exp<f64>,
        /// Seeded generator.
        rng: Box<ChaCha8Rng>,
        /// Offset of the next arrival in seconds.
        next_offset: f64,
    },
    /// Another schedule whose rate rises over a ramp (see [`RateRamp`]).
    Ramped {
        /// The schedule at the full rate.
        inner: Box<Schedule>,
        /// The rise.
        ramp: RateRamp,
    },
    /// Gamma-distributed gaps with mean `1 / rate` and shape `smoothness` (vLLM's
    /// `--burstiness`): coefficient of variation `1 / sqrt(smoothness)`; first arrival at 0.
    Gamma {
        /// Gap distribution.
        gaps: Gamma<f64>,
        /// Seeded generator.
        rng: Box<ChaCha8Rng>,
        /// Offset of the next arrival in seconds.
        next_offset: f64,
    },
}

impl Schedule {
    /// A constant-rate schedule.
    pub fn constant(rate: f64) -> Self {
        Schedule::Constant { rate, next: 0 }
    }

    /// A Poisson schedule; `rate` must be positive (validated by the spec).
    pub fn poisson(rate: f64, seed: u64) -> Self {
        let gaps = Exp::new(rate).unwrap_or_else(|_| Exp::new(1.0).expect("1.0 is a valid rate"));
        Schedule::Poisson {
            gaps,
            rng: Box::new(ChaCha8Rng::seed_from_u64(seed)),
            next_offset: 0.0,
        }
    }

    /// A gamma schedule (shape `smoothness`, scale `1 / (rate * smoothness)`, as vLLM draws
    /// them); both must be positive (validated by the spec).
    pub fn gamma(rate: f64, smoothness: f64, seed: u64) -> Self {
        let gaps = Gamma::new(smoothness, 1.0 / (rate * smoothness))
            .unwrap_or_else(|_| Gamma::new(1.0, 1.0).expect("shape 1, scale 1 is valid"));
        Schedule::Gamma {
            gaps,
            rng: Box::new(ChaCha8Rng::seed_from_u64(seed)),
            next_offset: 0.0,
        }
    }

    /// This schedule with its rate rising over `seconds` first (AIPerf's request-rate ramp).
    pub fn ramped(self, seconds: f64) -> Self {
        Schedule::Ramped {
            inner: Box::new(self),
            ramp: RateRamp::new(seconds),
        }
    }

    /// Seconds from the phase start to the next arrival.
    pub fn next_offset(&mut self) -> f64 {
        match self {
            Schedule::Ramped { inner, ramp } => {
                let at_full_rate = inner.next_offset();
                ramp.real_time(at_full_rate)
            }
            Schedule::Constant { rate, next } => {
                let offset = *next as f64 / *rate;
                *next += 1;
                offset
            }
            Schedule::Poisson {
                gaps,
                rng,
                next_offset,
            } => advance(gaps, rng, next_offset),
            Schedule::Gamma {
                gaps,
                rng,
                next_offset,
            } => advance(gaps, rng, next_offset),
        }
    }
}

/// The current offset of a random-gap schedule, moving it on by one drawn gap.
fn advance(gaps: &impl Distribution<f64>, rng: &mut ChaCha8Rng, next_offset: &mut f64) -> f64 {
    let offset = *next_offset;
    *next_offset += gaps.sample(rng);
    offset
}

/// How often a rate ramp raises the rate, seconds (AIPerf's 100 ms updates).
pub const RATE_RAMP_STEP: f64 = 0.1;

/// A rate rising in steps: during step `j` (from `j x 0.1 s`) the rate is
/// `min(1, (j + 1) x 0.1 s / ramp)` of the full rate, so it starts at rate x 0.1 s / ramp and
/// reaches the full rate by the end of the ramp. Arrivals are the full-rate schedule's, moved by
/// the time change that this rate profile defines: an exact inhomogeneous process (for Poisson,
/// the same as thinning), with nothing dropped.
#[derive(Debug, Clone)]
pub struct RateRamp {
    seconds: f64,
    /// The step the last arrival fell in, and the full-rate time elapsed before it.
    step: u64,
    elapsed_before_step: f64,
}

impl RateRamp {
    fn new(seconds: f64) -> Self {
        Self {
            seconds: seconds.max(RATE_RAMP_STEP),
            step: 0,
            elapsed_before_step: 0.0,
        }
    }

    /// The share of the full rate during step `j`.
    fn share(&self, j: u64) -> f64 {
        ((j + 1) as f64 * RATE_RAMP_STEP / self.seconds).min(1.0)
    }

    /// The real offset of an arrival at `at` seconds on the full-rate clock (non-decreasing
    /// calls).
    fn real_time(&mut self, at: f64) -> f64 {
        loop {
            let share = self.share(self.step);
            if share >= 1.0 {
                return self.step as f64 * RATE_RAMP_STEP + (at - self.elapsed_before_step);
            }
            let in_step = share * RATE_RAMP_STEP;
            if at < self.elapsed_before_step + in_step {
                return self.step as f64 * RATE_RAMP_STEP + (at - self.elapsed_before_step) / share;
            }
            self.elapsed_before_step += in_step;
            self.step += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_offsets_are_exact_multiples() {
        let mut s = Schedule::constant(4.0);
        let offsets: Vec<f64> = (0..5).map(|_| s.next_offset()).collect();
        assert_eq!(offsets, [0.0, 0.25, 0.5, 0.75, 1.0]);
        let mut fast = Schedule::constant(3.0);
        let last = (0..=300_000).map(|_| fast.next_offset()).last().unwrap();
        assert_eq!(last, 100_000.0, "index-based offsets do not drift");
    }

    #[test]
    fn poisson_is_reproducible_per_seed() {
        let take = |seed| {
            let mut s = Schedule::poisson(100.0, seed);
            (0..50).map(|_| s.next_offset()).collect::<Vec<_>>()
        };
        assert_eq!(take(1), take(1));
        assert_ne!(take(1), take(2));
    }

    /// Seeded, so deterministic: these statistical checks cannot flake. The bounds are still
    /// the honest ones (several standard errors), so a broken generator would fail them.
    #[test]
    fn poisson_gaps_are_exponential_with_the_right_mean() {
        let rate = 50.0;
        let n = 20_000;
        let mut s = Schedule::poisson(rate, 12345);
        let offsets: Vec<f64> = (0..=n).map(|_| s.next_offset()).collect();
        let mut gaps: Vec<f64> = offsets.windows(2).map(|w| w[1] - w[0]).collect();
        let mean = gaps.iter().sum::<f64>() / n as f64;
        // Standard error of the mean gap: (1/rate)/sqrt(n) = 0.000141; allow 5 of them.
        assert!(
            (mean - 1.0 / rate).abs() < 5.0 * 0.02 / (n as f64).sqrt(),
            "mean gap {mean}"
        );
        // Kolmogorov-Smirnov statistic against Exp(rate); the 1% critical value is 1.63/sqrt(n).
        gaps.sort_by(f64::total_cmp);
        let d = gaps
            .iter()
            .enumerate()
            .map(|(i, g)| {
                let cdf = 1.0 - (-rate * g).exp();
                (cdf - i as f64 / n as f64)
                    .abs()
                    .max(((i + 1) as f64 / n as f64 - cdf).abs())
            })
            .fold(0.0, f64::max);
        assert!(d < 1.63 / (n as f64).sqrt(), "KS statistic {d}");
    }

    /// Seeded, so these checks cannot flake; the bounds are several standard errors wide.
    #[test]
    fn gamma_gaps_have_mean_one_over_rate_and_cv_one_over_sqrt_smoothness() {
        let rate = 20.0;
        let n = 40_000;
        for smoothness in [0.25, 1.0, 4.0] {
            let mut s = Schedule::gamma(rate, smoothness, 7);
            let offsets: Vec<f64> = (0..=n).map(|_| s.next_offset()).collect();
            assert_eq!(offsets[0], 0.0);
            let gaps: Vec<f64> = offsets.windows(2).map(|w| w[1] - w[0]).collect();
            let mean = gaps.iter().sum::<f64>() / n as f64;
            let var = gaps.iter().map(|g| (g - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
            let cv = var.sqrt() / mean;
            let want_cv = 1.0 / smoothness.sqrt();
            // Standard error of the mean: cv / rate / sqrt(n); allow 5 of them.
            let se = want_cv / rate / (n as f64).sqrt();
            assert!(
                (mean - 1.0 / rate).abs() < 5.0 * se,
                "smoothness {smoothness}: mean gap {mean}"
            );
            assert!(
                (cv - want_cv).abs() < 0.05 * want_cv,
                "smoothness {smoothness}: cv {cv}, want {want_cv}"
            );
        }
        let take = |seed| {
            let mut s = Schedule::gamma(10.0, 0.5, seed);
            (0..20).map(|_| s.next_offset()).collect::<Vec<_>>()
        };
        assert_eq!(take(3), take(3));
        assert_ne!(take(3), take(4));
    }

    #[test]
    fn a_rate_ramp_starts_at_a_tenth_of_a_second_over_the_ramp_and_rises_every_100_ms() {
        // 100/s ramped over 1 s: 10/s in the first 100 ms, 20/s in the next, ..., 100/s from 0.9 s.
        let mut s = Schedule::constant(100.0).ramped(1.0);
        let offsets: Vec<f64> = (0..400).map(|_| s.next_offset()).collect();
        let count = |from: f64, to: f64| {
            offsets
                .iter()
                .filter(|&&o| o >= from - 1e-9 && o < to - 1e-9)
                .count()
        };
        for step in 0..9 {
            let lo = step as f64 * 0.1;
            assert_eq!(count(lo, lo + 0.1), step + 1, "step {step}");
        }
        // After the ramp: the full rate, 10 per 100 ms.
        assert_eq!(count(1.0, 2.0), 100);
        assert!(
            offsets.windows(2).all(|w| w[1] >= w[0]),
            "offsets never go back"
        );
        // Nothing is dropped: the 400 arrivals all come, later than without the ramp.
        assert!(offsets[399] > 3.99);
    }
}
