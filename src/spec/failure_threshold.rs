//! `failed_request_threshold` (`--failed-request-threshold`): when a phase gives up on a failing
//! server. A count (`20`: stop once more than 20 requests failed) or a rate (`0.05` or `"5%"`:
//! stop once more than 5% of the finished requests failed, judged after max(concurrency, 10)
//! have finished, as AIPerf does).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// How many failures a phase tolerates before it stops issuing requests.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(try_from = "ThresholdForm", into = "ThresholdForm")]
#[schemars(with = "ThresholdForm")]
pub enum FailureThreshold {
    /// More than this many failed requests.
    Count(u64),
    /// More than this fraction (0 < f < 1) of the finished requests failed.
    Rate(f64),
}

/// As written: a whole number of requests, a fraction below 1, or a percentage text (`"5%"`).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
enum ThresholdForm {
    /// A count of requests (0 or more).
    Count(u64),
    /// A rate (a fraction between 0 and 1), or a count written with a decimal point.
    Number(f64),
    /// A percentage such as "5%", or a number as text.
    Text(String),
}

impl From<FailureThreshold> for ThresholdForm {
    fn from(t: FailureThreshold) -> Self {
        match t {
            FailureThreshold::Count(n) => ThresholdForm::Count(n),
            FailureThreshold::Rate(r) => ThresholdForm::Number(r),
        }
    }
}

impl TryFrom<ThresholdForm> for FailureThreshold {
    type Error = String;

    fn try_from(form: ThresholdForm) -> Result<Self, String> {
        match form {
            ThresholdForm::Count(n) => from_number(n as f64),
            ThresholdForm::Number(x) => from_number(x),
            ThresholdForm::Text(text) => text.parse(),
        }
    }
}

/// The largest count accepted (a billion failures is past any real run).
const MAX_COUNT: f64 = 1e9;

fn from_number(x: f64) -> Result<FailureThreshold, String> {
    if x > 0.0 && x < 1.0 {
        Ok(FailureThreshold::Rate(x))
    } else if (0.0..=MAX_COUNT).contains(&x) && x.fract() == 0.0 {
        Ok(FailureThreshold::Count(x as u64))
    } else {
        Err(format!(
            "the failed-request threshold must be a count of requests (a whole number from 0 to {MAX_COUNT}), a \
             fraction between 0 and 1 (0.05) or a percentage (\"5%\"), got {x}"
        ))
    }
}

impl std::str::FromStr for FailureThreshold {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if let Some(pct) = text.strip_suffix('%') {
            return match pct.trim().parse::<f64>() {
                Ok(p) if p > 0.0 && p < 100.0 => Ok(FailureThreshold::Rate(p / 100.0)),
                _ => Err(format!(
                    "the failed-request threshold '{text}' must be a percentage above 0% and below 100%"
                )),
            };
        }
        match text.parse::<f64>() {
            Ok(x) => from_number(x),
            Err(_) => Err(format!(
                "the failed-request threshold '{text}' is not a count (20), a fraction (0.05) or a percentage (5%)"
            )),
        }
    }
}

impl FailureThreshold {
    /// Whether `failed` of `finished` requests crosses the threshold; a rate is judged only
    /// once `min_finished` requests have finished.
    pub fn crossed(self, failed: u64, finished: u64, min_finished: u64) -> bool {
        match self {
            FailureThreshold::Count(n) => failed > n,
            FailureThreshold::Rate(r) => {
                finished >= min_finished.max(1) && failed as f64 > r * finished as f64
            }
        }
    }
}

impl std::fmt::Display for FailureThreshold {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FailureThreshold::Count(n) => write!(f, "more than {n} failed requests"),
            FailureThreshold::Rate(r) => {
                write!(f, "more than {}% of requests failed", r * 100.0)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::FailureThreshold::{self, Count, Rate};
    use proptest::prelude::*;

    #[test]
    fn counts_rates_and_percentages() {
        let p = |s: &str| s.parse::<FailureThreshold>();
        assert_eq!(p("20"), Ok(Count(20)));
        assert_eq!(p("0"), Ok(Count(0)));
        assert_eq!(p("0.05"), Ok(Rate(0.05)));
        assert_eq!(p("5%"), Ok(Rate(0.05)));
        for bad in ["-1", "1.5", "100%", "0%", "x", "nan", "inf", "1e12"] {
            assert!(p(bad).is_err(), "{bad}");
        }
        let yaml: FailureThreshold = serde_json::from_str("\"10%\"").unwrap();
        assert_eq!(yaml, Rate(0.1));
        assert_eq!(serde_json::to_string(&Count(3)).unwrap(), "3");
        assert_eq!(
            serde_json::from_str::<FailureThreshold>("3.0").unwrap(),
            Count(3)
        );
    }

    #[test]
    fn a_rate_waits_for_enough_requests_and_a_count_does_not() {
        assert!(!Rate(0.1).crossed(5, 9, 10), "too few finished to judge");
        assert!(Rate(0.1).crossed(2, 10, 10));
        assert!(
            !Rate(0.1).crossed(1, 10, 10),
            "exactly 10% is not more than 10%"
        );
        assert!(!Count(2).crossed(2, 3, 10));
        assert!(Count(2).crossed(3, 3, 10));
        assert!(Count(0).crossed(1, 1, 10));
    }

    proptest! {
        #[test]
        fn any_text_parses_or_is_refused_without_panicking(text in ".{0,12}") {
            let _ = text.parse::<FailureThreshold>();
        }

        #[test]
        fn a_parsed_threshold_round_trips(x in 0.0f64..1e6) {
            if let Ok(t) = x.to_string().parse::<FailureThreshold>() {
                let back: FailureThreshold = serde_json::from_str(&serde_json::to_string(&t).unwrap()).unwrap();
                prop_assert_eq!(back, t);
            }
        }
    }
}
