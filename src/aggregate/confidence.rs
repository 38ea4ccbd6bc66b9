//! Statistics across runs: mean, sample std, min, max, coefficient of variation, standard error
//! and a Student-t confidence interval (statrs).

use statrs::distribution::{ContinuousCDF, StudentsT};

/// Cross-run statistics of one metric statistic (e.g. `time_to_first_token_p99`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Confidence {
    /// Number of runs.
    pub n: usize,
    /// Mean over runs.
    pub mean: f64,
    /// Sample standard deviation (n - 1); 0 for one run.
    pub std: f64,
    /// Smallest value.
    pub min: f64,
    /// Largest value.
    pub max: f64,
    /// std / mean (0 for one run; infinite when the mean is 0 and std is not).
    pub cv: f64,
    /// Standard error std / √n.
    pub se: f64,
    /// Lower bound of the interval.
    pub ci_low: f64,
    /// Upper bound of the interval.
    pub ci_high: f64,
    /// Student-t critical value for n - 1 degrees of freedom (NaN for one run: no interval).
    pub t_critical: f64,
}

/// Computes the statistics of `values` (non-finite values are dropped) at `level` (e.g. 0.95).
/// One value gives a degenerate interval [v, v] with `t_critical` NaN.
pub fn confidence(values: &[f64], level: f64) -> Option<Confidence> {
    let v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    let n = v.len();
    if n == 0 {
        return None;
    }
    let mean = v.iter().sum::<f64>() / n as f64;
    let min = v.iter().copied().fold(f64::INFINITY, f64::min);
    let max = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if n == 1 {
        return Some(Confidence {
            n,
            mean,
            std: 0.0,
            min,
            max,
            cv: 0.0,
            se: 0.0,
            ci_low: mean,
            ci_high: mean,
            t_critical: f64::NAN,
        });
    }
    let std = (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt();
    let se = std / (n as f64).sqrt();
    let t_critical = StudentsT::new(0.0, 1.0, (n - 1) as f64)
        .map(|t| t.inverse_cdf(1.0 - (1.0 - level) / 2.0))
        .unwrap_or(f64::NAN);
    let cv = if mean != 0.0 {
        std / mean.abs()
    } else if std == 0.0 {
        0.0
    } else {
        f64::INFINITY
    };
    Some(Confidence {
        n,
        mean,
        std,
        min,
        max,
        cv,
        se,
        ci_low: mean - t_critical * se,
        ci_high: mean + t_critical * se,
        t_critical,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Values computed by hand: mean 12, sample variance ((−2)²+0²+2²)/2 = 4, std 2,
    /// se 2/√3 = 1.154700538, t(0.975, df 2) = 4.302652730, half-width 4.968275.
    #[test]
    fn three_runs_by_hand() {
        let c = confidence(&[10.0, 12.0, 14.0], 0.95).unwrap();
        assert_eq!(
            (c.n, c.mean, c.std, c.min, c.max),
            (3, 12.0, 2.0, 10.0, 14.0)
        );
        assert!((c.se - 1.154_700_538).abs() < 1e-9);
        assert!(
            (c.t_critical - 4.302_652_730).abs() < 1e-6,
            "{}",
            c.t_critical
        );
        assert!((c.ci_low - (12.0 - 4.968_275)).abs() < 1e-5);
        assert!((c.ci_high - (12.0 + 4.968_275)).abs() < 1e-5);
        assert!((c.cv - 2.0 / 12.0).abs() < 1e-12);
    }

    #[test]
    fn ninety_percent_level_and_large_n_approach_normal() {
        let c = confidence(&[1.0, 2.0], 0.90).unwrap();
        assert!(
            (c.t_critical - 6.313_751_515).abs() < 1e-6,
            "{}",
            c.t_critical
        );
        let many: Vec<f64> = (0..10_000).map(|i| (i % 7) as f64).collect();
        assert!((confidence(&many, 0.95).unwrap().t_critical - 1.960).abs() < 1e-3);
    }

    #[test]
    fn one_run_is_degenerate_and_nan_is_dropped() {
        let c = confidence(&[5.0, f64::NAN], 0.95).unwrap();
        assert_eq!(
            (c.n, c.mean, c.std, c.ci_low, c.ci_high),
            (1, 5.0, 0.0, 5.0, 5.0)
        );
        assert!(c.t_critical.is_nan());
        assert!(confidence(&[], 0.95).is_none());
    }
}
