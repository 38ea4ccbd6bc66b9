//! Token-length distributions: a fixed count (`512`) or a normal `{mean, stddev}`.

use rand::Rng;
use rand_distr::{Distribution, Normal};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A distribution of token counts. Written as a number for a fixed length, or `{mean, stddev}`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(from = "DistributionForm")]
pub struct TokenDistribution {
    /// Mean length in tokens.
    pub mean: f64,
    /// Standard deviation in tokens (0 = every sample equals the mean).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub stddev: f64,
}

fn is_zero(x: &f64) -> bool {
    *x == 0.0
}

#[derive(Deserialize, JsonSchema)]
#[serde(untagged)]
enum DistributionForm {
    Fixed(f64),
    Normal {
        /// Mean length in tokens.
        mean: f64,
        /// Standard deviation in tokens.
        #[serde(default)]
        stddev: f64,
    },
}

impl From<DistributionForm> for TokenDistribution {
    fn from(form: DistributionForm) -> Self {
        match form {
            DistributionForm::Fixed(mean) => Self { mean, stddev: 0.0 },
            DistributionForm::Normal { mean, stddev } => Self { mean, stddev },
        }
    }
}

impl TokenDistribution {
    /// A fixed length.
    pub fn fixed(mean: f64) -> Self {
        Self { mean, stddev: 0.0 }
    }

    /// Draws one length, rounded to the nearest token and never below 1.
    pub fn sample(&self, rng: &mut impl Rng) -> u32 {
        let value = if self.stddev > 0.0 {
            match Normal::new(self.mean, self.stddev) {
                Ok(normal) => normal.sample(rng),
                Err(_) => self.mean,
            }
        } else {
            self.mean
        };
        value.round().max(1.0).min(u32::MAX as f64) as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn fixed_length_is_exact() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let d = TokenDistribution::fixed(100.0);
        assert!((0..100).all(|_| d.sample(&mut rng) == 100));
    }

    #[test]
    fn normal_lengths_centre_on_the_mean_and_never_drop_below_one() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let d = TokenDistribution {
            mean: 3.0,
            stddev: 10.0,
        };
        let samples: Vec<u32> = (0..10_000).map(|_| d.sample(&mut rng)).collect();
        assert!(samples.iter().all(|&s| s >= 1));
        let wide = TokenDistribution {
            mean: 500.0,
            stddev: 50.0,
        };
        let mean = (0..10_000)
            .map(|_| wide.sample(&mut rng) as f64)
            .sum::<f64>()
            / 10_000.0;
        // Standard error of the mean is 0.5; 5 is ten standard errors.
        assert!((mean - 500.0).abs() < 5.0, "mean {mean}");
    }

    #[test]
    fn parses_number_and_object_forms() {
        let a: TokenDistribution = serde_json::from_str("512").unwrap();
        assert_eq!(a, TokenDistribution::fixed(512.0));
        let b: TokenDistribution = serde_json::from_str(r#"{"mean": 100, "stddev": 5}"#).unwrap();
        assert_eq!(
            b,
            TokenDistribution {
                mean: 100.0,
                stddev: 5.0
            }
        );
        assert_eq!(serde_json::to_string(&a).unwrap(), r#"{"mean":512.0}"#);
    }
}
