//! Sweep parameter values: explicit lists and the ranges AIPerf lacks.

use crate::spec::experiment::SweepValues;
use crate::support::numbers::json_number_integral as number;
use serde_json::Value;

/// The most values one range may produce (a typo like `step: 0.0001` should fail, not hang).
const MAX_RANGE_VALUES: usize = 10_000;

crate::sentence_error!(
    /// Sweep values that are neither a list nor a valid, bounded range.
    InvalidValues
);

/// Expands a parameter's values.
pub fn expand(values: &Value) -> Result<Vec<Value>, InvalidValues> {
    let parsed: SweepValues = serde_json::from_value(values.clone()).map_err(|_| {
        "values must be a list, {from, to, times} (geometric) or {from, to, step} (linear)"
            .to_string()
    })?;
    let out = match parsed {
        SweepValues::List(list) => list,
        SweepValues::Geometric { from, to, times } => {
            if !(from > 0.0 && to >= from && times > 1.0) {
                return Err(format!(
                    "a geometric range needs 0 < from <= to and times > 1 (from {from}, to {to}, times {times})"
                ).into());
            }
            let mut out = Vec::new();
            let mut x = from;
            while x <= to * (1.0 + 1e-9) {
                out.push(number((x * 1e9).round() / 1e9));
                x *= times;
                if out.len() > MAX_RANGE_VALUES {
                    return Err(
                        format!("the range produces more than {MAX_RANGE_VALUES} values").into(),
                    );
                }
            }
            out
        }
        SweepValues::Linear { from, to, step } => {
            if !(to >= from && step > 0.0) {
                return Err(format!(
                    "a linear range needs from <= to and step > 0 (from {from}, to {to}, step {step})"
                ).into());
            }
            let count = ((to - from) / step + 1e-9).floor() as usize + 1;
            if count > MAX_RANGE_VALUES {
                return Err(format!(
                    "the range produces {count} values (at most {MAX_RANGE_VALUES})"
                )
                .into());
            }
            (0..count)
                .map(|i| number(((from + i as f64 * step) * 1e9).round() / 1e9))
                .collect()
        }
    };
    if out.is_empty() {
        return Err("the list of values is empty".into());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::expand;
    use serde_json::json;

    #[test]
    fn lists_and_ranges() {
        assert_eq!(
            expand(&json!([1, "a", true])).unwrap(),
            vec![json!(1), json!("a"), json!(true)]
        );
        assert_eq!(
            expand(&json!({"from": 1, "to": 256, "times": 2})).unwrap(),
            (0..9).map(|i| json!(1 << i)).collect::<Vec<_>>()
        );
        assert_eq!(
            expand(&json!({"from": 1, "to": 100, "times": 10})).unwrap(),
            vec![json!(1), json!(10), json!(100)]
        );
        assert_eq!(
            expand(&json!({"from": 100, "to": 1000, "step": 100})).unwrap(),
            (1..=10).map(|i| json!(i * 100)).collect::<Vec<_>>()
        );
        assert_eq!(
            expand(&json!({"from": 0.5, "to": 1.0, "step": 0.25})).unwrap(),
            vec![json!(0.5), json!(0.75), json!(1)]
        );
    }

    #[test]
    fn bad_ranges_are_explained() {
        assert!(
            expand(&json!({"from": 10, "to": 1, "step": 1}))
                .unwrap_err()
                .contains("from <= to")
        );
        assert!(
            expand(&json!({"from": 1, "to": 10, "times": 1}))
                .unwrap_err()
                .contains("times > 1")
        );
        assert!(
            expand(&json!({"from": 0, "to": 1e9, "step": 1}))
                .unwrap_err()
                .contains("at most")
        );
        assert!(expand(&json!([])).is_err());
        assert!(expand(&json!("eight")).is_err());
    }
}
