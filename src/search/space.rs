//! The space an adaptive search moves in: one dimension per knob, each with bounds, integer or
//! real values, and linear or log spacing. Planners work in the unit cube; a dimension maps a
//! unit coordinate to a knob value and back, so a log-scaled knob is searched evenly in its
//! logarithm and an integer knob is rounded only when a value is proposed.

use crate::spec::recipe::{Knob, KnobKind, KnobScale};

/// One searched dimension.
#[derive(Debug, Clone, PartialEq)]
pub struct Dim {
    /// Canonical dotted path of the knob.
    pub path: String,
    /// Short name (`concurrency`).
    pub leaf: String,
    /// Lower bound.
    pub lo: f64,
    /// Upper bound.
    pub hi: f64,
    /// Whole numbers only.
    pub integer: bool,
    /// Spaced evenly in the logarithm (needs lo > 0).
    pub log: bool,
}

impl Dim {
    /// A dimension from a recipe knob whose bounds are known and valid.
    pub fn from_knob(knob: &Knob, path: String, leaf: String) -> Self {
        Dim {
            path,
            leaf,
            lo: knob.lo.unwrap_or(1.0),
            hi: knob.hi.unwrap_or(1.0),
            integer: knob.kind == KnobKind::Int,
            log: knob.scale == KnobScale::Log,
        }
    }

    fn warp(&self, x: f64) -> f64 {
        if self.log { x.ln() } else { x }
    }

    /// A knob value for people: integers without decimals.
    pub fn show(&self, x: f64) -> String {
        if self.integer {
            format!("{}", x as i64)
        } else {
            crate::export::console::fmt_number(x)
        }
    }

    /// The unit coordinate of a knob value (0 at `lo`, 1 at `hi`).
    pub fn to_unit(&self, x: f64) -> f64 {
        let (a, b) = (self.warp(self.lo), self.warp(self.hi));
        if b == a {
            return 0.0;
        }
        ((self.warp(x) - a) / (b - a)).clamp(0.0, 1.0)
    }

    /// The knob value at a unit coordinate, rounded for integer knobs and kept within bounds.
    pub fn from_unit(&self, u: f64) -> f64 {
        let (a, b) = (self.warp(self.lo), self.warp(self.hi));
        let w = a + u.clamp(0.0, 1.0) * (b - a);
        let x = if self.log { w.exp() } else { w };
        let x = x.clamp(self.lo, self.hi);
        if self.integer {
            x.round().clamp(self.lo.ceil(), self.hi.floor())
        } else {
            x
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dim(lo: f64, hi: f64, integer: bool, log: bool) -> Dim {
        Dim {
            path: "phases.profiling.concurrency".into(),
            leaf: "concurrency".into(),
            lo,
            hi,
            integer,
            log,
        }
    }

    #[test]
    fn log_dimensions_are_even_in_the_logarithm() {
        let d = dim(1.0, 1000.0, true, true);
        assert_eq!(d.from_unit(0.0), 1.0);
        assert_eq!(d.from_unit(1.0 / 3.0), 10.0);
        assert_eq!(d.from_unit(2.0 / 3.0), 100.0);
        assert_eq!(d.from_unit(1.0), 1000.0);
        assert!((d.to_unit(100.0) - 2.0 / 3.0).abs() < 1e-12);
    }

    #[test]
    fn values_round_trip_and_stay_in_bounds() {
        let d = dim(0.5, 20.0, false, false);
        for x in [0.5, 3.25, 20.0] {
            assert!((d.from_unit(d.to_unit(x)) - x).abs() < 1e-12);
        }
        assert_eq!(d.from_unit(-1.0), 0.5);
        assert_eq!(d.from_unit(2.0), 20.0);
        let i = dim(1.5, 9.5, true, false);
        assert_eq!(i.from_unit(0.0), 2.0);
        assert_eq!(i.from_unit(1.0), 9.0);
    }
}
