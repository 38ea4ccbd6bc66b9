//! One interface over the adaptive planners, so the search loop does not care which one a recipe
//! chose: ask for a point, measure it, tell the verdict and what was observed.

use super::bayesian::{BayesianPlanner, BayesianSettings, Observation, Proposal};
use super::boundary::{Ask, BoundaryPlanner, BoundarySettings};
use super::space::Dim;
use super::verdict::{Sla, Verdict};
use crate::artifacts::summary::RunSummaryFile;
use crate::spec::recipe::{ConstraintOp, PlannerSpec};

/// A recipe's adaptive planner.
pub enum Planner {
    /// Bracketing and bisection over one monotone knob.
    Boundary(BoundaryPlanner),
    /// Gaussian-process Bayesian optimisation.
    Bayesian(Box<BayesianPlanner>),
}

impl Planner {
    /// The planner a recipe's `planner` block asks for (`None` for a grid).
    pub fn new(
        spec: &PlannerSpec,
        dims: &[Dim],
        constraints: usize,
        seed: u64,
        maximize: bool,
    ) -> Option<Self> {
        match *spec {
            PlannerSpec::Grid => None,
            PlannerSpec::Boundary {
                precision,
                max_iterations,
                ..
            } => {
                let d = dims.first()?;
                Some(Planner::Boundary(BoundaryPlanner::new(BoundarySettings {
                    lo: d.lo,
                    hi: d.hi,
                    integer: d.integer,
                    precision,
                    max_points: max_iterations,
                })))
            }
            PlannerSpec::Bayesian {
                max_iterations,
                initial_points,
                patience,
                plateau_window,
                plateau_threshold,
                ..
            } => Some(Planner::Bayesian(Box::new(BayesianPlanner::new(
                dims.to_vec(),
                constraints,
                BayesianSettings {
                    max_iterations,
                    initial_points,
                    patience,
                    plateau_window,
                    plateau_threshold,
                    seed,
                    maximize,
                },
            )))),
        }
    }

    /// The next point, or why the search is over.
    pub fn ask(&mut self) -> Proposal {
        match self {
            Planner::Boundary(p) => match p.ask() {
                Ask::Measure(x) => Proposal::Measure(vec![x]),
                Ask::Done(reason) => Proposal::Done(reason),
            },
            Planner::Bayesian(p) => p.ask(),
        }
    }

    /// The verdict and observation at the point last asked for.
    pub fn tell(&mut self, point: &[f64], verdict: Verdict, observation: Observation) {
        match self {
            Planner::Boundary(p) => p.tell(point.first().copied().unwrap_or(f64::NAN), verdict),
            Planner::Bayesian(p) => p.tell(point.to_vec(), observation),
        }
    }

    /// Replays a point measured before a restart. The boundary planner's path is determined by
    /// the verdicts, so the recorded point must be the one it asks for; the Bayesian planner
    /// learns from any point. False when the point does not replay.
    #[must_use]
    pub fn replay(&mut self, point: &[f64], verdict: Verdict, observation: Observation) -> bool {
        if let Planner::Boundary(_) = self
            && self.ask() != Proposal::Measure(point.to_vec())
        {
            return false;
        }
        self.tell(point, verdict, observation);
        true
    }
}

/// A constraint's margin relative to its threshold: ≤ 0 holds, 0.5 is 50% beyond it.
pub fn margin(sla: &Sla, observed: f64) -> f64 {
    let scale = if sla.threshold.abs() > 0.0 {
        sla.threshold.abs()
    } else {
        1.0
    };
    match sla.op {
        ConstraintOp::Lt | ConstraintOp::Le => (observed - sla.threshold) / scale,
        ConstraintOp::Gt | ConstraintOp::Ge => (sla.threshold - observed) / scale,
    }
}

/// The observation of a point from its successful runs' summaries: the mean objective and the
/// margin of each constraint's mean statistic.
pub fn observe(
    summaries: &[RunSummaryFile],
    objective: Option<(&str, &str)>,
    slas: &[Sla],
    verdict: Verdict,
) -> Observation {
    let mean = |metric: &str, stat: &str| {
        let values: Vec<f64> = summaries
            .iter()
            .filter_map(|s| s.stat(metric, stat))
            .collect();
        (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
    };
    Observation {
        objective: objective.and_then(|(m, s)| mean(m, s)),
        margins: slas
            .iter()
            .map(|sla| mean(&sla.metric, &sla.stat).map(|v| margin(sla, v)))
            .collect(),
        feasible: verdict == Verdict::Pass,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn margins_are_relative_and_signed_by_the_comparison() {
        let lt = Sla {
            metric: "time_to_first_token".into(),
            stat: "p95".into(),
            op: ConstraintOp::Lt,
            threshold: 200.0,
        };
        assert_eq!(margin(&lt, 300.0), 0.5);
        assert_eq!(margin(&lt, 100.0), -0.5);
        let ge = Sla {
            op: ConstraintOp::Ge,
            threshold: 0.95,
            ..lt.clone()
        };
        assert!((margin(&ge, 0.9) - 0.05 / 0.95).abs() < 1e-12);
        let runs: Vec<RunSummaryFile> = [
            json!({"time_to_first_token": {"unit": "ms", "p95": 100.0}, "goodput": {"unit": "requests/sec", "avg": 10.0}}),
            json!({"time_to_first_token": {"unit": "ms", "p95": 300.0}, "goodput": {"unit": "requests/sec", "avg": 20.0}}),
        ]
        .into_iter()
        .map(|v| serde_json::from_value(v).unwrap())
        .collect();
        let o = observe(&runs, Some(("goodput", "avg")), &[lt], Verdict::Fail);
        assert_eq!(o.objective, Some(15.0));
        assert_eq!(o.margins, vec![Some(0.0)]);
        assert!(!o.feasible);
    }
}
