//! A distribution of one per-request metric: an HDR histogram (3 significant digits, so every
//! percentile is within 0.1%) plus exact count, sum, min, max and Welford variance.
//!
//! Memory is constant in the number of values. Negative values (signed percentages) go to a
//! second histogram of magnitudes, so signed metrics keep exact-order percentiles.
//!
//! Distributions filled from parts of one stream [merge](Distribution::merge) into exactly the
//! distribution of the whole stream: the histograms add, and the sum is kept as an integer in
//! histogram units (nanoseconds for ms metrics, which is what the clock measures), so it does
//! not depend on the order values arrived in. Only the variance is merged in floating point
//! (Chan's formula), equal to the single-stream value within about 1e-12 relative.

use hdrhistogram::Histogram;

/// Significant digits kept by the histograms.
const SIGNIFICANT_DIGITS: u8 = 3;

/// The statistics reported for a per-request metric.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Stats {
    /// Number of values.
    pub count: u64,
    /// Exact sum.
    pub sum: f64,
    /// Exact mean.
    pub avg: f64,
    /// Exact minimum.
    pub min: f64,
    /// Exact maximum.
    pub max: f64,
    /// Population standard deviation (ddof = 0, as AIPerf reports).
    pub std: f64,
    /// Percentiles p1, p5, p10, p25, p50, p75, p90, p95, p99, p99.9.
    pub percentiles: [f64; 10],
}

/// The percentile levels of [`Stats::percentiles`], with their export keys.
pub const PERCENTILES: [(f64, &str); 10] = [
    (1.0, "p1"),
    (5.0, "p5"),
    (10.0, "p10"),
    (25.0, "p25"),
    (50.0, "p50"),
    (75.0, "p75"),
    (90.0, "p90"),
    (95.0, "p95"),
    (99.0, "p99"),
    (99.9, "p99.9"),
];

impl Stats {
    /// A percentile by its export key (`"p99"`).
    pub fn percentile(&self, key: &str) -> Option<f64> {
        PERCENTILES
            .iter()
            .position(|(_, k)| *k == key)
            .map(|i| self.percentiles[i])
    }

    /// A statistic by name: `avg`, `min`, `max`, `std`, `sum`, `count` or a percentile key.
    pub fn get(&self, stat: &str) -> Option<f64> {
        match stat {
            "avg" | "mean" => Some(self.avg),
            "min" => Some(self.min),
            "max" => Some(self.max),
            "std" => Some(self.std),
            "sum" => Some(self.sum),
            "count" => Some(self.count as f64),
            other => self.percentile(other),
        }
    }
}

/// Accumulates values of one metric.
#[derive(Debug, Clone)]
pub struct Distribution {
    positive: Histogram<u64>,
    negative: Option<Histogram<u64>>,
    /// Histogram units per display unit (1e6 for ms, so values are kept in ns).
    scale: f64,
    count: u64,
    /// Sum of the values in histogram units, signed: exact and independent of order.
    scaled_sum: i128,
    min: f64,
    max: f64,
    /// Welford running mean and sum of squared deviations, for the variance only.
    mean: f64,
    m2: f64,
}

fn new_histogram() -> Histogram<u64> {
    Histogram::new(SIGNIFICANT_DIGITS).expect("3 significant digits is a valid histogram precision")
}

impl Distribution {
    /// A distribution storing values with the given resolution: `scale` histogram units per
    /// display unit.
    pub fn new(scale: f64) -> Self {
        Self {
            positive: new_histogram(),
            negative: None,
            scale,
            count: 0,
            scaled_sum: 0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            mean: 0.0,
            m2: 0.0,
        }
    }

    /// Adds one value (non-finite values are ignored).
    pub fn record(&mut self, value: f64) {
        if !value.is_finite() {
            return;
        }
        self.count += 1;
        self.min = self.min.min(value);
        self.max = self.max.max(value);
        let delta = value - self.mean;
        self.mean += delta / self.count as f64;
        self.m2 += delta * (value - self.mean);
        // `as` saturates, so an absurd value cannot wrap around.
        let scaled = (value.abs() * self.scale).round() as u64;
        let signed = i128::from(scaled);
        self.scaled_sum += if value < 0.0 { -signed } else { signed };
        let hist = if value < 0.0 {
            self.negative.get_or_insert_with(new_histogram)
        } else {
            &mut self.positive
        };
        // `record` grows the histogram as needed; it only fails past u64 range, where
        // saturating keeps the exact min/max/mean correct and percentiles at the top bucket.
        if hist.record(scaled).is_err() {
            hist.saturating_record(scaled);
        }
    }

    /// Number of values.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Adds every value of `other` (which must have the same scale), as if they had been
    /// recorded here.
    pub fn merge(&mut self, other: &Distribution) {
        if other.count == 0 {
            return;
        }
        debug_assert_eq!(
            self.scale, other.scale,
            "merging distributions of different units"
        );
        add_histogram(&mut self.positive, &other.positive);
        if let Some(theirs) = &other.negative {
            add_histogram(self.negative.get_or_insert_with(new_histogram), theirs);
        }
        let (na, nb) = (self.count as f64, other.count as f64);
        let n = na + nb;
        let delta = other.mean - self.mean;
        self.mean += delta * nb / n;
        self.m2 += other.m2 + delta * delta * na * nb / n;
        self.count += other.count;
        self.scaled_sum += other.scaled_sum;
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
    }

    /// The exact sum, in display units.
    fn sum(&self) -> f64 {
        self.scaled_sum as f64 / self.scale
    }

    /// The value of rank `k` (0-based, ascending), within the histogram's precision.
    fn value_at_rank(&self, k: u64) -> f64 {
        if k == 0 {
            return self.min;
        }
        if k + 1 >= self.count {
            return self.max;
        }
        let negatives = self.negative.as_ref().map_or(0, |h| h.len());
        let (hist, rank, sign) = if k < negatives {
            (
                self.negative.as_ref().unwrap_or(&self.positive),
                negatives - 1 - k,
                -1.0,
            )
        } else {
            (&self.positive, k - negatives, 1.0)
        };
        // ceil((rank + 0.5) / n * n) is rank + 1 however the division rounds.
        let raw = hist.value_at_quantile((rank as f64 + 0.5) / hist.len() as f64);
        let value = sign * hist.median_equivalent(raw) as f64 / self.scale;
        value.clamp(self.min, self.max)
    }

    /// The `p`-th percentile with linear interpolation between ranks (numpy's default method).
    pub fn percentile(&self, p: f64) -> f64 {
        if self.count == 0 {
            return f64::NAN;
        }
        let (lo, hi, w) = crate::support::numbers::quantile_position(self.count, p / 100.0);
        let (a, b) = (self.value_at_rank(lo), self.value_at_rank(hi));
        a + (b - a) * w
    }

    /// The summary statistics (`None` when empty).
    pub fn stats(&self) -> Option<Stats> {
        if self.count == 0 {
            return None;
        }
        let mut percentiles = [0.0; 10];
        for (slot, (p, _)) in percentiles.iter_mut().zip(PERCENTILES) {
            *slot = self.percentile(p);
        }
        let sum = self.sum();
        Some(Stats {
            count: self.count,
            sum,
            avg: sum / self.count as f64,
            min: self.min,
            max: self.max,
            std: (self.m2 / self.count as f64).max(0.0).sqrt(),
            percentiles,
        })
    }
}

/// Adds `from`'s counts to `to`. Both grow as needed, so this only fails past the u64 range,
/// where saturating keeps the top bucket as `record` does.
fn add_histogram(to: &mut Histogram<u64>, from: &Histogram<u64>) {
    if to.add(from).is_err() {
        for bucket in from.iter_recorded() {
            for _ in 0..bucket.count_at_value() {
                to.saturating_record(bucket.value_iterated_to());
            }
        }
    }
}

#[cfg(test)]
impl PartialEq for Distribution {
    /// Same values: histograms, count, exact sum, min and max (the variance is compared by
    /// the tests that need it, within floating-point tolerance).
    fn eq(&self, other: &Self) -> bool {
        self.positive == other.positive
            && self.negative == other.negative
            && self.scale == other.scale
            && self.count == other.count
            && self.scaled_sum == other.scaled_sum
            && self.min == other.min
            && self.max == other.max
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// numpy.percentile(values, p) with the default linear method.
    fn exact_percentile(sorted: &[f64], p: f64) -> f64 {
        crate::support::numbers::quantile(sorted, p / 100.0).unwrap_or(f64::NAN)
    }

    #[test]
    fn exact_moments_and_percentiles_within_a_tenth_of_a_percent() {
        let values: Vec<f64> = (1..=1000)
            .map(|i| (i as f64).powf(1.7) / 13.0 + 0.25)
            .collect();
        let mut d = Distribution::new(1e6);
        values.iter().for_each(|&v| d.record(v));
        let s = d.stats().unwrap();
        let n = values.len() as f64;
        let mean = values.iter().sum::<f64>() / n;
        let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
        assert_eq!(s.count, 1000);
        assert!((s.avg - mean).abs() < 1e-9 * mean);
        assert!((s.std - var.sqrt()).abs() < 1e-9 * var.sqrt());
        assert_eq!((s.min, s.max), (values[0], values[999]));
        for (p, _) in PERCENTILES {
            let exact = exact_percentile(&values, p);
            let got = d.percentile(p);
            assert!(
                (got - exact).abs() <= 0.001 * exact,
                "p{p}: {got} vs {exact}"
            );
        }
    }

    #[test]
    fn hand_computed_small_sample() {
        let mut d = Distribution::new(1e3);
        for v in [10.0, 20.0, 30.0, 40.0] {
            d.record(v);
        }
        let s = d.stats().unwrap();
        assert_eq!(s.avg, 25.0);
        assert_eq!(s.sum, 100.0);
        assert!((s.std - 125f64.sqrt()).abs() < 1e-12);
        // Interior ranks come from the histogram, so they are exact to 3 significant digits.
        let close = |got: Option<f64>, want: f64| (got.unwrap() - want).abs() <= want * 0.001;
        assert!(
            close(s.percentile("p50"), 25.0),
            "{:?}",
            s.percentile("p50")
        );
        assert!(
            close(s.percentile("p25"), 17.5),
            "{:?}",
            s.percentile("p25")
        );
        assert!(
            close(s.percentile("p99.9"), 39.97),
            "{:?}",
            s.percentile("p99.9")
        );
    }

    #[test]
    fn signed_values_keep_their_order() {
        let mut d = Distribution::new(1e3);
        for v in [-50.0, -10.0, 0.0, 10.0, 100.0] {
            d.record(v);
        }
        let close = |got: f64, want: f64| (got - want).abs() <= want.abs() * 0.001 + 1e-9;
        assert!(close(d.percentile(25.0), -10.0), "{}", d.percentile(25.0));
        assert!(close(d.percentile(50.0), 0.0), "{}", d.percentile(50.0));
        assert!(close(d.percentile(75.0), 10.0), "{}", d.percentile(75.0));
        assert!(close(d.percentile(12.5), -30.0), "{}", d.percentile(12.5));
    }

    #[test]
    fn empty_has_no_stats_and_single_value_is_exact() {
        assert!(Distribution::new(1.0).stats().is_none());
        let mut d = Distribution::new(1e6);
        d.record(41.237);
        let s = d.stats().unwrap();
        assert!(s.percentiles.iter().all(|&p| p == 41.237));
        assert_eq!(s.std, 0.0);
    }

    #[test]
    fn merged_parts_equal_the_whole_stream() {
        // Signed, spread over six decades, in an order that makes float sums order-dependent.
        let values: Vec<f64> = (0..5000u64)
            .map(|i| {
                let x = ((i * 2_654_435_761) % 1_000_003) as f64 / 997.0;
                if i % 7 == 0 {
                    -x / 3.0
                } else {
                    x * x / 11.0 + 0.000_123
                }
            })
            .collect();
        let mut whole = Distribution::new(1e6);
        values.iter().for_each(|&v| whole.record(v));
        let mut parts: Vec<Distribution> = (0..3).map(|_| Distribution::new(1e6)).collect();
        for (i, &v) in values.iter().enumerate() {
            parts[(i * 7 + i / 5) % 3].record(v);
        }
        let mut merged = Distribution::new(1e6);
        for part in &parts {
            merged.merge(part);
        }
        assert!(merged == whole);
        let (m, w) = (merged.stats().unwrap(), whole.stats().unwrap());
        assert_eq!(
            (m.count, m.sum, m.avg, m.min, m.max, m.percentiles),
            (w.count, w.sum, w.avg, w.min, w.max, w.percentiles)
        );
        assert!(
            (m.std - w.std).abs() <= 1e-12 * w.std,
            "{} vs {}",
            m.std,
            w.std
        );
    }
}
