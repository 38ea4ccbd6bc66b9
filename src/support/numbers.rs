//! Numbers as aiperf writes and summarises them: JSON numbers that are never NaN, and the one
//! quantile definition every statistic uses (numpy's default linear interpolation).

use serde_json::Value;

/// A finite number as a JSON number; NaN and infinities as `null` (JSON has neither).
pub fn json_number(v: f64) -> Value {
    serde_json::Number::from_f64(v)
        .map(Value::Number)
        .unwrap_or(Value::Null)
}

/// Like [`json_number`], but an integral value is written as an integer (`12`, not `12.0`).
pub fn json_number_integral(v: f64) -> Value {
    if v.fract() == 0.0 && v.abs() < 9e15 {
        return Value::from(v as i64);
    }
    json_number(v)
}

/// Where the `q`-quantile (0..=1) of `n` sorted values lies: the ranks below and above it and
/// the weight of the upper one. numpy's default (`linear`) method.
pub fn quantile_position(n: u64, q: f64) -> (u64, u64, f64) {
    let pos = q.clamp(0.0, 1.0) * n.saturating_sub(1) as f64;
    let (lo, hi) = (pos.floor(), pos.ceil());
    (lo as u64, hi as u64, pos - lo)
}

/// The `q`-quantile (0..=1) of sorted values, linearly interpolated; `None` when empty.
pub fn quantile(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let (lo, hi, w) = quantile_position(sorted.len() as u64, q);
    let (a, b) = (sorted[lo as usize], sorted[hi as usize]);
    Some(a + (b - a) * w)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_interpolate_like_numpy() {
        let v = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(quantile(&v, 0.0), Some(1.0));
        assert_eq!(quantile(&v, 0.5), Some(2.5));
        assert!((quantile(&v, 0.9).unwrap() - 3.7).abs() < 1e-12);
        assert_eq!(quantile(&v, 1.0), Some(4.0));
        assert_eq!(quantile(&[], 0.5), None);
        assert_eq!(quantile(&[7.0], 0.99), Some(7.0));
    }

    #[test]
    fn json_numbers_are_never_nan() {
        assert_eq!(json_number(f64::NAN), Value::Null);
        assert_eq!(json_number(1.5), serde_json::json!(1.5));
        assert_eq!(json_number_integral(12.0), serde_json::json!(12));
        assert_eq!(json_number_integral(f64::INFINITY), Value::Null);
    }
}
