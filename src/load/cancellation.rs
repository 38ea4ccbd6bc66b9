//! Request cancellation (`--request-cancellation-rate`, `--request-cancellation-delay`): which
//! requests a phase abandons on purpose, and when. Chosen per request index from the run's seed,
//! so the same seed cancels the same requests, whatever the order they finish in.

use std::time::Duration;

/// A phase's cancellation rule.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RequestCancellation {
    /// The share of requests cancelled, 0 to 1.
    pub fraction: f64,
    /// How long after it was sent a chosen request is abandoned.
    pub delay: Duration,
    /// The seed of the choice.
    pub seed: u64,
}

impl RequestCancellation {
    /// When request `index` is to be abandoned, if it is one of the chosen.
    pub fn cancel_after(&self, index: u64) -> Option<Duration> {
        (unit_interval(self.seed, index) < self.fraction).then_some(self.delay)
    }
}

/// A uniform number in [0, 1) from (seed, index): SplitMix64's finaliser, whose output bits
/// are equidistributed for consecutive inputs.
fn unit_interval(seed: u64, index: u64) -> f64 {
    let mut z = seed
        .wrapping_add(0x9E37_79B9_7F4A_7C15)
        .wrapping_add(index.wrapping_mul(0xBF58_476D_1CE4_E5B9));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(fraction: f64, seed: u64) -> RequestCancellation {
        RequestCancellation {
            fraction,
            delay: Duration::from_millis(5),
            seed,
        }
    }

    /// Seeded, so the counts are fixed; the bounds are still honest (5 standard deviations of
    /// a binomial), so a biased choice would fail them.
    #[test]
    fn the_chosen_share_matches_the_rate() {
        let n = 100_000u64;
        for fraction in [0.01, 0.25, 0.5, 0.9] {
            let r = rule(fraction, 42);
            let chosen = (0..n).filter(|&i| r.cancel_after(i).is_some()).count() as f64;
            let sd = (n as f64 * fraction * (1.0 - fraction)).sqrt();
            assert!(
                (chosen - n as f64 * fraction).abs() < 5.0 * sd,
                "{fraction}: {chosen} of {n}"
            );
        }
        assert!((0..1000).all(|i| rule(0.0, 1).cancel_after(i).is_none()));
        assert!((0..1000).all(|i| rule(1.0, 1).cancel_after(i) == Some(Duration::from_millis(5))));
    }

    #[test]
    fn the_choice_depends_on_the_seed_and_not_on_the_order() {
        let pick = |seed| {
            (0..200)
                .filter(|&i| rule(0.3, seed).cancel_after(i).is_some())
                .collect::<Vec<_>>()
        };
        assert_eq!(pick(7), pick(7));
        assert_ne!(pick(7), pick(8));
        // Runs of chosen indices are no longer than chance allows (no striping).
        let chosen = pick(7);
        let longest_run = chosen.windows(2).fold((1, 1), |(best, run), w| {
            let run = if w[1] == w[0] + 1 { run + 1 } else { 1 };
            (best.max(run), run)
        });
        assert!(longest_run.0 < 12, "{longest_run:?}");
    }
}
