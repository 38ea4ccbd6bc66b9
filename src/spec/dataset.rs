//! The dataset settings beyond length distributions: input files (their format, how entries are
//! drawn, the KV block size of `hash_ids`) and synthetic shared prefixes (a prefix pool, one
//! shared system prompt, a mixture of (ISL, OSL) pairs).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The JSONL formats an input file may have (AIPerf's `--custom-dataset-type`).
#[derive(
    Debug, Clone, Copy, Serialize, Deserialize, JsonSchema, PartialEq, Eq, clap::ValueEnum,
)]
#[serde(rename_all = "snake_case")]
#[value(rename_all = "snake_case")]
pub enum FileFormat {
    /// One request per line: `text`/`texts`, optional `timestamp`, `delay`, `session_id`,
    /// `role`, `output_length`, `extra`.
    SingleTurn,
    /// One conversation per line: `{"session_id", "turns": [single_turn fields, ...]}`.
    MultiTurn,
    /// The Mooncake (FAST'25) trace: `timestamp`, `input_length`, `output_length`, `hash_ids`,
    /// or literal `text_input`, `messages` (+`tools`) or a verbatim `payload`.
    MooncakeTrace,
}

impl FileFormat {
    /// The name in flags and files.
    pub fn as_str(self) -> &'static str {
        match self {
            FileFormat::SingleTurn => "single_turn",
            FileFormat::MultiTurn => "multi_turn",
            FileFormat::MooncakeTrace => "mooncake_trace",
        }
    }
}

/// How entries are drawn when a run needs more requests than a file holds
/// (`--dataset-sampling-strategy`).
#[derive(
    Debug, Clone, Copy, Default, Serialize, Deserialize, JsonSchema, PartialEq, Eq, clap::ValueEnum,
)]
#[serde(rename_all = "snake_case")]
#[value(rename_all = "snake_case")]
pub enum SamplingStrategy {
    /// In file order, starting over at the end.
    #[default]
    Sequential,
    /// Each request draws an entry uniformly at random (with replacement), from the seed.
    Random,
    /// A seeded permutation of the file, a new one for every pass.
    Shuffle,
}

/// The default KV-cache block size of `hash_ids` in a Mooncake trace (tokens per id).
pub const DEFAULT_BLOCK_SIZE: u32 = 512;

/// One component of a `seq_dist` mixture: requests of `isl` input and `osl` output tokens with
/// probability `probability`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SequenceShare {
    /// Input length in tokens.
    #[schemars(range(min = 1))]
    pub isl: u32,
    /// Requested output length in tokens.
    #[schemars(range(min = 1))]
    pub osl: u32,
    /// The share of requests, 0 to 1 (shares are normalised to sum to 1).
    pub probability: f64,
}

crate::sentence_error!(
    /// A `--seq-dist` mixture that does not read as `ISL,OSL:p;ISL,OSL:p`.
    InvalidSeqDist
);

/// Parses AIPerf's `--seq-dist` text: `ISL,OSL:p;ISL,OSL:p` (p as a fraction or a percentage,
/// `256,128:0.7;1024,512:30%`). A lone `ISL,OSL` (no `:p`) is the whole mixture.
pub fn parse_seq_dist(text: &str) -> Result<Vec<SequenceShare>, InvalidSeqDist> {
    let bad = |why: String| InvalidSeqDist::from(format!("--seq-dist '{text}': {why}"));
    let mut shares = Vec::new();
    for part in text.split(';').map(str::trim).filter(|p| !p.is_empty()) {
        let (pair, probability) = match part.split_once(':') {
            Some((pair, p)) => {
                let p = p.trim();
                let value = match p.strip_suffix('%') {
                    Some(percent) => percent.trim().parse::<f64>().map(|v| v / 100.0),
                    None => p.parse::<f64>(),
                }
                .map_err(|_| bad(format!("'{p}' is not a probability")))?;
                (pair, value)
            }
            None => (part, 1.0),
        };
        let (isl, osl) = pair
            .split_once(',')
            .ok_or_else(|| bad(format!("'{pair}' is not ISL,OSL")))?;
        let tokens = |s: &str| {
            s.trim()
                .parse::<u32>()
                .ok()
                .filter(|&n| n >= 1)
                .ok_or_else(|| bad(format!("'{}' is not a token count of at least 1", s.trim())))
        };
        shares.push(SequenceShare {
            isl: tokens(isl)?,
            osl: tokens(osl)?,
            probability,
        });
    }
    check_shares(&shares).map_err(|why| bad(why.to_string()))?;
    Ok(shares)
}

/// Why a mixture cannot be drawn from, if it cannot: no component, a probability that is not
/// a finite number in [0, 1], or shares summing to zero.
pub fn check_shares(shares: &[SequenceShare]) -> Result<(), &'static str> {
    if shares.is_empty() {
        return Err("no ISL,OSL pair");
    }
    if shares
        .iter()
        .any(|s| !s.probability.is_finite() || !(0.0..=1.0).contains(&s.probability))
    {
        return Err("every probability must be between 0 and 1 (or 0% and 100%)");
    }
    let total: f64 = shares.iter().map(|s| s.probability).sum();
    if total <= 0.0 {
        return Err("the probabilities sum to 0");
    }
    if (total - 1.0).abs() > 0.01 {
        return Err("the probabilities must sum to 1 (100%)");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seq_dist_reads_fractions_percentages_and_a_lone_pair() {
        let shares = parse_seq_dist("256,128:0.7; 1024,512:30%").unwrap();
        assert_eq!(shares.len(), 2);
        assert_eq!((shares[0].isl, shares[0].osl), (256, 128));
        assert!((shares[1].probability - 0.3).abs() < 1e-12);
        assert_eq!(parse_seq_dist("100,10").unwrap()[0].probability, 1.0);
    }

    #[test]
    fn seq_dist_refuses_what_it_cannot_draw_from() {
        for bad in [
            "",
            "256:1",
            "256,x:1",
            "0,5:1",
            "10,5:0.5",
            "10,5:1.5;3,3:0",
            "10,5:-1",
        ] {
            let e = parse_seq_dist(bad).unwrap_err().to_string();
            assert!(e.starts_with("--seq-dist"), "{bad}: {e}");
        }
    }
}
