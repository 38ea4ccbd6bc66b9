//! Pass/fail thresholds on a run's results, k6-style: `time_to_first_token.p99 < 200`.
//!
//! A threshold names a metric of the registry, one of its statistics, a comparison and a limit
//! in the units the metric is displayed in (ms, tokens/sec, a ratio). Per-run metrics
//! (`request_throughput`, `request_error_rate`) have one value and take no statistic (or
//! `.avg`). A trailing `with 95% confidence` asks, where a cell has repeated trials, for the
//! bound of the confidence interval across trials to pass (the upper bound for `<`, the lower
//! for `>`), not just the mean. This module parses and checks; evaluation lives in
//! `crate::gate`.

use crate::registry::{MetricId, MetricKind};
use crate::support::suggest::closest;
use serde::{Deserialize, Serialize};
use std::fmt;

crate::sentence_error!(
    /// A threshold that is not `metric.stat OP number [with N% confidence]` over a known
    /// metric and statistic.
    InvalidThreshold
);

/// The statistics a per-request metric's summary carries.
pub const RECORD_STATS: &[&str] = &[
    "avg", "min", "max", "std", "sum", "count", "p1", "p5", "p10", "p25", "p50", "p75", "p90",
    "p95", "p99", "p99.9",
];

/// The longest threshold text accepted (a typo should not become a huge error message).
const MAX_LEN: usize = 200;

/// How the observed value is compared with the limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Comparison {
    /// `<`
    #[serde(rename = "<")]
    Below,
    /// `<=`
    #[serde(rename = "<=")]
    AtMost,
    /// `>`
    #[serde(rename = ">")]
    Above,
    /// `>=`
    #[serde(rename = ">=")]
    AtLeast,
}

impl Comparison {
    /// The operator as written.
    pub fn symbol(self) -> &'static str {
        match self {
            Comparison::Below => "<",
            Comparison::AtMost => "<=",
            Comparison::Above => ">",
            Comparison::AtLeast => ">=",
        }
    }

    /// Whether `value` passes against `limit`.
    pub fn holds(self, value: f64, limit: f64) -> bool {
        match self {
            Comparison::Below => value < limit,
            Comparison::AtMost => value <= limit,
            Comparison::Above => value > limit,
            Comparison::AtLeast => value >= limit,
        }
    }

    /// Whether passing needs the value small (so the upper confidence bound is the one judged).
    pub fn wants_small(self) -> bool {
        matches!(self, Comparison::Below | Comparison::AtMost)
    }
}

/// One parsed threshold. Written and read as its text (`"time_to_first_token.p99 < 200"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct MetricThreshold {
    /// The metric.
    pub metric: MetricId,
    /// Its statistic (`avg` for a per-run metric).
    pub stat: String,
    /// The comparison.
    pub op: Comparison,
    /// The limit, in the metric's display unit.
    pub limit: f64,
    /// The confidence level (0.5-0.999) whose bound must pass, for cells with repeated trials.
    pub confidence: Option<f64>,
}

impl MetricThreshold {
    /// Parses `metric[.stat] OP number [with N% confidence]`.
    pub fn parse(text: &str) -> Result<Self, InvalidThreshold> {
        if text.len() > MAX_LEN {
            return Err(format!("threshold is longer than {MAX_LEN} characters").into());
        }
        let form =
            "write thresholds as `metric.stat OP number`, e.g. `time_to_first_token.p99 < 200`";
        let at = text.find(['<', '>', '=']).ok_or_else(|| {
            format!("threshold '{text}' has no comparison (<, <=, > or >=); {form}")
        })?;
        let (left, rest) = text.split_at(at);
        let (op, rest) = if let Some(r) = rest.strip_prefix("<=") {
            (Comparison::AtMost, r)
        } else if let Some(r) = rest.strip_prefix(">=") {
            (Comparison::AtLeast, r)
        } else if let Some(r) = rest.strip_prefix('<') {
            (Comparison::Below, r)
        } else if let Some(r) = rest.strip_prefix('>') {
            (Comparison::Above, r)
        } else {
            return Err(format!(
                "threshold '{text}': use <, <=, > or >= (equality is not a useful gate on measured values)"
            )
            .into());
        };
        let (metric, stat) = metric_and_stat(left.trim(), &format!("threshold '{text}'"))?;
        let (number, confidence) = match rest.split_once("with") {
            Some((number, tail)) => (number, Some(parse_confidence(tail.trim(), text)?)),
            None => (rest, None),
        };
        let number = number.trim();
        let limit: f64 = number
            .parse()
            .ok()
            .filter(|v: &f64| v.is_finite())
            .ok_or_else(|| {
                format!("threshold '{text}': limit '{number}' is not a finite number")
            })?;
        Ok(MetricThreshold {
            metric,
            stat: stat.to_string(),
            op,
            limit,
            confidence,
        })
    }

    /// The metric and statistic as the summary keys them, e.g. `time_to_first_token.p99`.
    pub fn subject(&self) -> String {
        match self.metric.def().kind {
            MetricKind::Scalar => self.metric.tag().to_string(),
            MetricKind::Record => format!("{}.{}", self.metric.tag(), self.stat),
        }
    }
}

/// A metric and statistic written `tag.stat` (or `tag` for a per-run metric), as thresholds
/// and `aiperf compare --metric` name them, with suggestions for near misses.
pub fn parse_subject(text: &str) -> Result<(MetricId, String), InvalidThreshold> {
    metric_and_stat(text.trim(), &format!("metric '{text}'")).map(|(m, s)| (m, s.to_string()))
}

/// The metric and statistic of the left side, with suggestions for near misses; `what` names
/// the text in messages (`threshold 'x < 1'`).
fn metric_and_stat(left: &str, what: &str) -> Result<(MetricId, &'static str), InvalidThreshold> {
    let (tag, stat) = match left.split_once('.') {
        Some((tag, stat)) => (tag.trim(), Some(stat.trim())),
        None => (left, None),
    };
    if tag.is_empty() {
        return Err(format!("{what} names no metric").into());
    }
    let metric = MetricId::parse(tag).map_err(|e| format!("{what}: {e}"))?;
    match (metric.def().kind, stat) {
        (MetricKind::Scalar, None | Some("avg")) => Ok((metric, "avg")),
        (MetricKind::Scalar, Some(stat)) => Err(format!(
            "{what}: '{tag}' is one value per run; it has no '{stat}' (write `{tag} < ...`)"
        )
        .into()),
        (MetricKind::Record, None) => Err(format!(
            "{what}: say which statistic of '{tag}' to judge, e.g. `{tag}.p99` or `{tag}.avg`"
        )
        .into()),
        (MetricKind::Record, Some(stat)) => match RECORD_STATS.iter().find(|s| **s == stat) {
            Some(known) => Ok((metric, known)),
            None => {
                let hint = closest(stat, RECORD_STATS.iter().copied())
                    .map(|s| format!(" (did you mean '{s}'?)"))
                    .unwrap_or_default();
                Err(format!(
                    "{what}: unknown statistic '{stat}'{hint}; one of {}",
                    RECORD_STATS.join(", ")
                )
                .into())
            }
        },
    }
}

/// `95% confidence` (or `0.95 confidence`) as a level between 0.5 and 0.999.
fn parse_confidence(tail: &str, text: &str) -> Result<f64, InvalidThreshold> {
    let bad = || {
        InvalidThreshold::from(format!(
            "threshold '{text}': write the confidence as `with 95% confidence` (50% to 99.9%)"
        ))
    };
    let level = tail.strip_suffix("confidence").ok_or_else(bad)?.trim();
    let level = match level.strip_suffix('%') {
        Some(percent) => percent.trim().parse::<f64>().map_err(|_| bad())? / 100.0,
        None => level.parse::<f64>().map_err(|_| bad())?,
    };
    // Kept to a tenth of a percent, so the level prints and reads back exactly.
    let level = (level * 1000.0).round() / 1000.0;
    if (0.5..=0.999).contains(&level) {
        Ok(level)
    } else {
        Err(bad())
    }
}

impl fmt::Display for MetricThreshold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.subject(), self.op.symbol(), self.limit)?;
        if let Some(level) = self.confidence {
            write!(f, " with {}% confidence", (level * 1000.0).round() / 10.0)?;
        }
        Ok(())
    }
}

impl TryFrom<String> for MetricThreshold {
    type Error = InvalidThreshold;
    fn try_from(text: String) -> Result<Self, Self::Error> {
        Self::parse(&text)
    }
}

impl From<MetricThreshold> for String {
    fn from(t: MetricThreshold) -> String {
        t.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::REGISTRY;
    use proptest::prelude::*;

    #[test]
    fn the_documented_forms_parse() {
        let t = MetricThreshold::parse("time_to_first_token.p99 < 200").unwrap();
        assert_eq!(
            (t.metric, t.stat.as_str(), t.op, t.limit, t.confidence),
            (
                MetricId::TimeToFirstToken,
                "p99",
                Comparison::Below,
                200.0,
                None
            )
        );
        let t = MetricThreshold::parse("request_error_rate<0.01").unwrap();
        assert_eq!(
            (t.metric, t.stat.as_str()),
            (MetricId::RequestErrorRate, "avg")
        );
        let t = MetricThreshold::parse("output_token_throughput.avg >= 900").unwrap();
        assert_eq!(t.op, Comparison::AtLeast);
        let t = MetricThreshold::parse("inter_token_latency.p99.9 <= 12.5 with 95% confidence")
            .unwrap();
        assert_eq!((t.stat.as_str(), t.confidence), ("p99.9", Some(0.95)));
        let t = MetricThreshold::parse("goodput > 3 with 0.9 confidence").unwrap();
        assert_eq!(t.confidence, Some(0.9));
    }

    #[test]
    fn mistakes_are_explained() {
        for (text, says) in [
            (
                "time_to_frist_token.p99 < 200",
                "did you mean 'time_to_first_token'",
            ),
            ("time_to_first_token.p999 < 200", "did you mean 'p99.9'"),
            ("time_to_first_token < 200", "say which statistic"),
            ("request_throughput.p99 > 1", "one value per run"),
            ("time_to_first_token.p99 = 200", "use <, <=, > or >="),
            ("time_to_first_token.p99 200", "no comparison"),
            ("time_to_first_token.p99 < fast", "not a finite number"),
            ("time_to_first_token.p99 < inf", "not a finite number"),
            (
                "time_to_first_token.p99 < 200 with 120% confidence",
                "50% to 99.9%",
            ),
            (
                "time_to_first_token.p99 < 200 with lots",
                "with 95% confidence",
            ),
            ("< 200", "names no metric"),
        ] {
            let err = MetricThreshold::parse(text).unwrap_err();
            assert!(err.0.contains(says), "{text}: {err}");
        }
    }

    #[test]
    fn comparisons_hold_as_written() {
        assert!(Comparison::Below.holds(1.0, 2.0) && !Comparison::Below.holds(2.0, 2.0));
        assert!(Comparison::AtMost.holds(2.0, 2.0));
        assert!(Comparison::Above.holds(3.0, 2.0) && !Comparison::Above.holds(2.0, 2.0));
        assert!(Comparison::AtLeast.holds(2.0, 2.0));
    }

    proptest! {
        /// Any text parses or is refused with a message; nothing panics.
        #[test]
        fn any_text_is_parsed_or_refused(text in "\\PC{0,60}") {
            let _ = MetricThreshold::parse(&text);
        }

        /// What a threshold prints parses back to the same threshold.
        #[test]
        fn printing_round_trips(
            metric in prop::sample::select(REGISTRY.iter().map(|d| d.id).collect::<Vec<_>>()),
            stat in prop::sample::select(RECORD_STATS.to_vec()),
            op in prop::sample::select(vec![Comparison::Below, Comparison::AtMost, Comparison::Above, Comparison::AtLeast]),
            limit in -1e9f64..1e9,
            confidence in proptest::option::of(prop::sample::select(vec![0.5, 0.9, 0.95, 0.99, 0.999])),
        ) {
            let stat = match metric.def().kind { MetricKind::Scalar => "avg", MetricKind::Record => stat };
            let t = MetricThreshold { metric, stat: stat.to_string(), op, limit, confidence };
            prop_assert_eq!(MetricThreshold::parse(&t.to_string()).unwrap(), t);
        }
    }
}
