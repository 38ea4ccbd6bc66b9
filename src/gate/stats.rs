//! The two tests `aiperf compare` uses, both giving a confidence interval of a change
//! (candidate minus baseline):
//!
//! - [`block_bootstrap_difference`]: for one run against another, from their per-request values.
//!   Latency distributions are skewed and the judged statistic is often a high percentile, for
//!   which no normal approximation holds; the bootstrap needs none. Requests of a closed loop
//!   are not independent (a slow request delays the next on its connection, load moves over
//!   time), so requests are resampled in blocks of consecutive requests (the moving-block
//!   bootstrap, block length about n^(1/3)), which keeps short-range dependence inside blocks.
//! - [`welch_difference`]: for repeated trials, from one value per trial: Welch's t interval of
//!   the difference of means, which does not assume equal variances. Trials are independent
//!   runs, so only their spread matters.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use statrs::distribution::{ContinuousCDF, StudentsT};

/// A statistic of a sample that the bootstrap can judge.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SampleStat {
    /// The mean.
    Mean,
    /// The population standard deviation (as the summaries report).
    Std,
    /// A quantile, 0..=1, numpy's linear interpolation (as the summaries' definition).
    Quantile(f64),
}

impl SampleStat {
    /// The statistic of a summary key (`avg`, `std`, `p99`, `p99.9`), if the bootstrap can
    /// judge it (extremes, sums and counts it cannot).
    pub fn from_key(key: &str) -> Option<SampleStat> {
        match key {
            "avg" => Some(SampleStat::Mean),
            "std" => Some(SampleStat::Std),
            _ => {
                let level: f64 = key.strip_prefix('p')?.parse().ok()?;
                (level > 0.0 && level < 100.0).then_some(SampleStat::Quantile(level / 100.0))
            }
        }
    }

    /// The statistic of `values` (reordered in place); `None` when empty.
    pub fn of(self, values: &mut [f64]) -> Option<f64> {
        let n = values.len();
        if n == 0 {
            return None;
        }
        match self {
            SampleStat::Mean => Some(values.iter().sum::<f64>() / n as f64),
            SampleStat::Std => {
                let mean = values.iter().sum::<f64>() / n as f64;
                let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n as f64;
                Some(var.sqrt())
            }
            SampleStat::Quantile(q) => {
                let (lo, hi, w) = crate::support::numbers::quantile_position(n as u64, q);
                let (lo, hi) = (lo as usize, hi as usize);
                let (_, a, upper) = values.select_nth_unstable_by(lo, f64::total_cmp);
                let a = *a;
                let b = if hi > lo {
                    upper.iter().copied().fold(f64::INFINITY, f64::min)
                } else {
                    a
                };
                Some(a + (b - a) * w)
            }
        }
    }
}

/// A change with its confidence interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Difference {
    /// Candidate minus baseline, on the full samples.
    pub estimate: f64,
    /// Lower bound of the interval of the change.
    pub low: f64,
    /// Upper bound.
    pub high: f64,
}

/// How a bootstrap is run.
#[derive(Debug, Clone, Copy)]
pub struct Bootstrap {
    /// Resamples.
    pub resamples: usize,
    /// Confidence level of the interval (0.5-0.999).
    pub level: f64,
    /// Seed of the resampling, so a comparison is reproducible.
    pub seed: u64,
}

/// The block length for `n` time-ordered values: about n^(1/3), at least 1.
pub fn block_length(n: usize) -> usize {
    ((n as f64).cbrt().round() as usize).clamp(1, n.max(1))
}

/// The percentile-bootstrap interval of `stat(candidate) - stat(baseline)`, each sample
/// resampled in moving blocks (values in time order). `None` when a sample is empty.
pub fn block_bootstrap_difference(
    baseline: &[f64],
    candidate: &[f64],
    stat: SampleStat,
    how: Bootstrap,
) -> Option<Difference> {
    let estimate = stat.of(&mut candidate.to_vec())? - stat.of(&mut baseline.to_vec())?;
    let mut rng = ChaCha8Rng::seed_from_u64(how.seed);
    let mut b_buf = Vec::with_capacity(baseline.len());
    let mut c_buf = Vec::with_capacity(candidate.len());
    let mut diffs = Vec::with_capacity(how.resamples);
    for _ in 0..how.resamples {
        resample_blocks(baseline, &mut b_buf, &mut rng);
        resample_blocks(candidate, &mut c_buf, &mut rng);
        let (Some(b), Some(c)) = (stat.of(&mut b_buf), stat.of(&mut c_buf)) else {
            continue;
        };
        diffs.push(c - b);
    }
    interval(estimate, &mut diffs, how.level)
}

/// The percentile-bootstrap interval of `stat(values)` itself (values in time order, resampled
/// in moving blocks), as a [`Difference`] whose estimate is the statistic. `None` when empty.
pub fn block_bootstrap_interval(
    values: &[f64],
    stat: SampleStat,
    how: Bootstrap,
) -> Option<Difference> {
    let estimate = stat.of(&mut values.to_vec())?;
    let mut rng = ChaCha8Rng::seed_from_u64(how.seed);
    let mut buf = Vec::with_capacity(values.len());
    let mut draws = Vec::with_capacity(how.resamples);
    for _ in 0..how.resamples {
        resample_blocks(values, &mut buf, &mut rng);
        draws.extend(stat.of(&mut buf));
    }
    interval(estimate, &mut draws, how.level)
}

/// The percentile interval of `draws` around `estimate`.
fn interval(estimate: f64, draws: &mut Vec<f64>, level: f64) -> Option<Difference> {
    draws.retain(|d| d.is_finite());
    if draws.is_empty() {
        return None;
    }
    draws.sort_by(f64::total_cmp);
    let tail = (1.0 - level) / 2.0;
    let low = crate::support::numbers::quantile(draws, tail)?;
    let high = crate::support::numbers::quantile(draws, 1.0 - tail)?;
    Some(Difference {
        estimate,
        low,
        high,
    })
}

/// Fills `out` with `values.len()` values made of random blocks of consecutive values.
fn resample_blocks(values: &[f64], out: &mut Vec<f64>, rng: &mut ChaCha8Rng) {
    out.clear();
    let n = values.len();
    if n == 0 {
        return;
    }
    let block = block_length(n);
    while out.len() < n {
        let start = rng.random_range(0..=n - block);
        let take = block.min(n - out.len());
        out.extend_from_slice(&values[start..start + take]);
    }
}

/// Welch's t interval of `mean(candidate) - mean(baseline)` from one value per trial; `None`
/// with fewer than two values on a side. Two sides without spread give a zero-width interval.
pub fn welch_difference(baseline: &[f64], candidate: &[f64], level: f64) -> Option<Difference> {
    let (nb, nc) = (baseline.len() as f64, candidate.len() as f64);
    if baseline.len() < 2 || candidate.len() < 2 {
        return None;
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let var =
        |v: &[f64], m: f64| v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (v.len() - 1) as f64;
    let (mb, mc) = (mean(baseline), mean(candidate));
    let (vb, vc) = (var(baseline, mb) / nb, var(candidate, mc) / nc);
    let estimate = mc - mb;
    let se = (vb + vc).sqrt();
    if se == 0.0 {
        return Some(Difference {
            estimate,
            low: estimate,
            high: estimate,
        });
    }
    // Welch-Satterthwaite degrees of freedom.
    let df = (vb + vc).powi(2) / (vb.powi(2) / (nb - 1.0) + vc.powi(2) / (nc - 1.0));
    let t = StudentsT::new(0.0, 1.0, df)
        .ok()?
        .inverse_cdf(1.0 - (1.0 - level) / 2.0);
    Some(Difference {
        estimate,
        low: estimate - t * se,
        high: estimate + t * se,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rand_distr::{Distribution, LogNormal};

    fn lognormal(n: usize, median_ms: f64, seed: u64) -> Vec<f64> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let d = LogNormal::new(median_ms.ln(), 0.35).unwrap();
        (0..n).map(|_| d.sample(&mut rng)).collect()
    }

    fn how(seed: u64) -> Bootstrap {
        Bootstrap {
            resamples: 400,
            level: 0.95,
            seed,
        }
    }

    #[test]
    fn quantiles_match_the_summaries_definition() {
        let v: Vec<f64> = (1..=11).map(f64::from).collect();
        for q in [0.0, 0.1, 0.5, 0.9, 0.99, 1.0] {
            let mut shuffled = v.clone();
            shuffled.reverse();
            assert_eq!(
                SampleStat::Quantile(q).of(&mut shuffled),
                crate::support::numbers::quantile(&v, q)
            );
        }
        assert!(
            matches!(SampleStat::from_key("p99.9"), Some(SampleStat::Quantile(q)) if (q - 0.999).abs() < 1e-12)
        );
        assert_eq!(SampleStat::from_key("max"), None);
        assert_eq!(SampleStat::from_key("p100"), None);
    }

    /// A/A: the same distribution twice. A 95% interval excludes 0 in about 5% of pairs; over
    /// 40 seeded pairs, at most 5 (the seeds are fixed, so this cannot flake).
    #[test]
    fn same_distribution_twice_is_rarely_significant() {
        let significant = (0..40)
            .filter(|&seed| {
                let a = lognormal(600, 20.0, 2 * seed);
                let b = lognormal(600, 20.0, 2 * seed + 1);
                let d = block_bootstrap_difference(&a, &b, SampleStat::Quantile(0.99), how(seed))
                    .unwrap();
                d.low > 0.0 || d.high < 0.0
            })
            .count();
        assert!(
            significant <= 5,
            "{significant} of 40 A/A pairs significant"
        );
    }

    /// Power: a 10% slower median (20 vs 22 ms) is found in at least 36 of 40 pairs.
    #[test]
    fn a_ten_percent_slowdown_is_found() {
        let found = (0..40)
            .filter(|&seed| {
                let a = lognormal(600, 20.0, 2 * seed);
                let b = lognormal(600, 22.0, 2 * seed + 1);
                let d = block_bootstrap_difference(&a, &b, SampleStat::Quantile(0.5), how(seed))
                    .unwrap();
                d.low > 0.0
            })
            .count();
        assert!(found >= 36, "found in {found} of 40");
    }

    #[test]
    fn welch_matches_a_textbook_example() {
        // Two groups; the interval is symmetric around the difference of means and contains it.
        let a = [19.0, 21.0, 20.0, 22.0, 18.0];
        let b = [24.0, 23.0, 26.0, 22.0, 25.0];
        let d = welch_difference(&a, &b, 0.95).unwrap();
        assert!((d.estimate - 4.0).abs() < 1e-12);
        assert!(
            d.low > 1.0 && d.high < 7.0 && d.low < 4.0 && d.high > 4.0,
            "{d:?}"
        );
        assert!(welch_difference(&a[..1], &b, 0.95).is_none());
        let flat = welch_difference(&[5.0, 5.0], &[6.0, 6.0], 0.95).unwrap();
        assert_eq!((flat.low, flat.high), (1.0, 1.0));
    }

    proptest! {
        /// Any samples give an interval around the estimate, or nothing for an empty side.
        #[test]
        fn intervals_contain_their_estimate_for_means(
            a in prop::collection::vec(0.0f64..1e4, 0..40),
            b in prop::collection::vec(0.0f64..1e4, 0..40),
        ) {
            let d = block_bootstrap_difference(&a, &b, SampleStat::Mean, Bootstrap { resamples: 50, level: 0.9, seed: 1 });
            prop_assert_eq!(d.is_none(), a.is_empty() || b.is_empty());
            if let Some(d) = d {
                prop_assert!(d.low <= d.high);
            }
        }
    }
}
