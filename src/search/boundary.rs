//! The SLA-boundary planner for one monotone knob (concurrency or rate): exponential bracketing
//! from the lower bound (×2 until a point fails or the upper bound passes), then bisection between
//! the highest passing and lowest failing points until they are within the precision (relative
//! gap, or adjacent integers). Undecided points are replicated, up to a limit, then judged by
//! their mean. Pure: it proposes points and is told verdicts.

use super::verdict::Verdict;
use serde::Serialize;

/// Planner settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BoundarySettings {
    /// Knob lower bound.
    pub lo: f64,
    /// Knob upper bound.
    pub hi: f64,
    /// Integer knob.
    pub integer: bool,
    /// Stop when (first failing − last passing) / first failing is below this.
    pub precision: f64,
    /// Most points measured (replicates of a point do not count).
    pub max_points: u32,
}

/// What the planner wants next.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Ask {
    /// Measure this knob value.
    Measure(f64),
    /// The search is over, for this reason.
    Done(&'static str),
}

/// The boundary found so far.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Boundary {
    /// Highest value that passed.
    pub feasible_max: Option<f64>,
    /// Lowest value that failed.
    pub infeasible_min: Option<f64>,
}

/// The planner.
#[derive(Debug, Clone)]
pub struct BoundaryPlanner {
    settings: BoundarySettings,
    bracketing: bool,
    pass: Option<f64>,
    fail: Option<f64>,
    points: u32,
    pending: Option<f64>,
}

impl BoundaryPlanner {
    /// A planner at the start of a search.
    pub fn new(settings: BoundarySettings) -> Self {
        Self {
            settings,
            bracketing: true,
            pass: None,
            fail: None,
            points: 0,
            pending: None,
        }
    }

    fn round(&self, x: f64) -> f64 {
        let x = x.clamp(self.settings.lo, self.settings.hi);
        if self.settings.integer { x.round() } else { x }
    }

    /// The boundary so far.
    pub fn boundary(&self) -> Boundary {
        Boundary {
            feasible_max: self.pass,
            infeasible_min: self.fail,
        }
    }

    /// Points measured so far.
    pub fn points(&self) -> u32 {
        self.points
    }

    /// The next point, or why the search is over.
    pub fn ask(&mut self) -> Ask {
        if let Some(x) = self.pending {
            return Ask::Measure(x);
        }
        let s = self.settings;
        let next = if self.bracketing {
            match (self.pass, self.fail) {
                (_, Some(_)) => {
                    self.bracketing = false;
                    return self.ask();
                }
                (None, None) => s.lo,
                (Some(p), None) if p >= s.hi => return Ask::Done("no_failure_in_range"),
                (Some(p), None) => self.round((p * 2.0).max(p + 1.0).min(s.hi)),
            }
        } else {
            match (self.pass, self.fail) {
                (None, Some(_)) => return Ask::Done("no_pass_in_range"),
                (Some(p), Some(f)) => {
                    let adjacent = s.integer && f - p <= 1.0;
                    if adjacent || (f - p) / f < s.precision {
                        return Ask::Done("precision_reached");
                    }
                    let mid = self.round((p + f) / 2.0);
                    if mid <= p || mid >= f {
                        return Ask::Done("precision_reached");
                    }
                    mid
                }
                (_, None) => return Ask::Done("no_failure_in_range"),
            }
        };
        if self.points >= s.max_points {
            return Ask::Done("max_iterations");
        }
        self.pending = Some(next);
        Ask::Measure(next)
    }

    /// The verdict at the pending point. `Undecided` keeps the point pending (replicate it);
    /// `final_call` forces a decision (the caller judges by the mean once replicates run out).
    pub fn tell(&mut self, x: f64, verdict: Verdict) {
        if verdict == Verdict::Undecided {
            return;
        }
        self.pending = None;
        self.points += 1;
        match verdict {
            Verdict::Pass => self.pass = Some(self.pass.map_or(x, |p| p.max(x))),
            Verdict::Fail => self.fail = Some(self.fail.map_or(x, |f| f.min(x))),
            Verdict::Undecided => {}
        }
        if verdict == Verdict::Fail && x <= self.settings.lo {
            self.pass = self.pass.filter(|p| *p < x);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs the planner against an exact oracle: values <= boundary pass.
    fn search(
        boundary: f64,
        lo: f64,
        hi: f64,
        integer: bool,
    ) -> (Vec<f64>, Boundary, &'static str) {
        let mut p = BoundaryPlanner::new(BoundarySettings {
            lo,
            hi,
            integer,
            precision: 0.05,
            max_points: 30,
        });
        let mut asked = Vec::new();
        loop {
            match p.ask() {
                Ask::Measure(x) => {
                    asked.push(x);
                    p.tell(
                        x,
                        if x <= boundary {
                            Verdict::Pass
                        } else {
                            Verdict::Fail
                        },
                    );
                }
                Ask::Done(reason) => return (asked, p.boundary(), reason),
            }
        }
    }

    #[test]
    fn brackets_then_bisects_to_the_exact_integer_boundary() {
        let (asked, b, reason) = search(12.0, 1.0, 1000.0, true);
        assert_eq!(asked, [1.0, 2.0, 4.0, 8.0, 16.0, 12.0, 14.0, 13.0]);
        assert_eq!(
            (b.feasible_max, b.infeasible_min, reason),
            (Some(12.0), Some(13.0), "precision_reached")
        );
    }

    #[test]
    fn boundaries_anywhere_in_range_are_found_within_precision_in_few_points() {
        for boundary in [3.0, 37.0, 100.0, 517.0, 999.0] {
            let (asked, b, _) = search(boundary, 1.0, 1000.0, true);
            let (p, f) = (b.feasible_max.unwrap(), b.infeasible_min.unwrap());
            assert!(p <= boundary && boundary < f, "{boundary}: {p}..{f}");
            assert!((f - p) / f < 0.05 || f - p <= 1.0, "{boundary}: {p}..{f}");
            assert!(asked.len() <= 16, "{boundary}: {} points", asked.len());
        }
    }

    #[test]
    fn edges_of_the_range() {
        let (_, b, reason) = search(5000.0, 1.0, 1000.0, true);
        assert_eq!(
            (b.feasible_max, reason),
            (Some(1000.0), "no_failure_in_range")
        );
        let (asked, b, reason) = search(0.5, 1.0, 1000.0, true);
        assert_eq!(
            (asked, b.feasible_max, reason),
            (vec![1.0], None, "no_pass_in_range")
        );
    }

    #[test]
    fn undecided_points_are_asked_again() {
        let mut p = BoundaryPlanner::new(BoundarySettings {
            lo: 1.0,
            hi: 8.0,
            integer: true,
            precision: 0.05,
            max_points: 10,
        });
        assert_eq!(p.ask(), Ask::Measure(1.0));
        p.tell(1.0, Verdict::Undecided);
        assert_eq!(p.ask(), Ask::Measure(1.0));
        p.tell(1.0, Verdict::Pass);
        assert_eq!(p.ask(), Ask::Measure(2.0));
    }

    #[test]
    fn real_knobs_stop_at_the_relative_precision() {
        let (asked, b, reason) = search(23.7, 0.5, 200.0, false);
        let (p, f) = (b.feasible_max.unwrap(), b.infeasible_min.unwrap());
        assert!(p <= 23.7 && 23.7 < f && (f - p) / f < 0.05, "{p}..{f}");
        assert_eq!(reason, "precision_reached");
        assert!(asked.len() <= 14);
    }
}
