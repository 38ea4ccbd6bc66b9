//! Parsing of `--goodput "tag:value tag:value"` into per-request SLOs.

use crate::registry::{MetricId, MetricKind, REGISTRY};
use crate::support::suggest::closest;
use std::collections::BTreeMap;

crate::sentence_error!(
    /// A `--goodput` text that is not `metric:threshold` pairs of known metrics.
    InvalidGoodput
);

/// Parses a goodput string (`"request_latency:250 inter_token_latency:10"`, thresholds in display
/// units) into SLOs, checking each tag names a per-request metric.
pub fn parse_goodput(text: &str) -> Result<BTreeMap<String, f64>, InvalidGoodput> {
    let mut slos = BTreeMap::new();
    for item in text
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|s| !s.is_empty())
    {
        let (tag, value) = item.split_once(':').ok_or_else(|| {
            format!(
                "--goodput item '{item}' must look like tag:value, e.g. time_to_first_token:200"
            )
        })?;
        let value: f64 = value
            .trim()
            .parse()
            .map_err(|_| format!("--goodput threshold '{value}' for '{tag}' is not a number"))?;
        check_slo_tag(tag).map_err(|e| InvalidGoodput(e.0))?;
        if !value.is_finite() || value < 0.0 {
            return Err(format!(
                "--goodput threshold for '{tag}' must be a non-negative number, got {value}"
            )
            .into());
        }
        slos.insert(tag.to_string(), value);
    }
    if slos.is_empty() {
        return Err("--goodput needs at least one tag:value pair".into());
    }
    Ok(slos)
}

/// Checks that `tag` is a per-request metric usable as an SLO, with a suggestion when it is not.
pub fn check_slo_tag(tag: &str) -> Result<(), crate::registry::UnknownMetric> {
    match MetricId::from_tag(tag) {
        Some(id) if id.def().kind == MetricKind::Record => Ok(()),
        Some(_) => Err(format!(
            "'{tag}' is a per-run metric; goodput SLOs apply to per-request metrics"
        )
        .into()),
        None => {
            let tags = REGISTRY
                .iter()
                .filter(|d| d.kind == MetricKind::Record)
                .map(|d| d.tag);
            let hint = closest(tag, tags)
                .map(|s| format!(" (did you mean '{s}'?)"))
                .unwrap_or_default();
            Err(format!("unknown goodput metric '{tag}'{hint}").into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_several_slos() {
        let slos = parse_goodput("request_latency:250 inter_token_latency:10.5").unwrap();
        assert_eq!(slos["request_latency"], 250.0);
        assert_eq!(slos["inter_token_latency"], 10.5);
    }

    #[test]
    fn unknown_tag_gets_a_suggestion() {
        let err = parse_goodput("time_to_frist_token:100").unwrap_err();
        assert!(err.contains("did you mean 'time_to_first_token'"), "{err}");
    }

    #[test]
    fn malformed_items_are_rejected() {
        assert!(parse_goodput("request_latency").is_err());
        assert!(parse_goodput("request_latency:abc").is_err());
        assert!(parse_goodput("request_count:3").is_err());
        assert!(parse_goodput("").is_err());
    }
}
