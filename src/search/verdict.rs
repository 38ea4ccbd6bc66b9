//! Judging a search point against SLA constraints from its trials' summaries.
//!
//! Noise is handled honestly: a verdict is taken when every replicate agrees, or when the
//! confidence interval of the constrained statistic across replicates lies wholly on one side of
//! the threshold; otherwise the point is undecided and the planner replicates it. A single run
//! is also checked against its own per-request noise ([`straddles_within_run`]): when the
//! block-bootstrap interval of its statistic straddles the threshold, one run cannot decide.

use crate::aggregate::confidence::confidence;
use crate::artifacts::summary::RunSummaryFile;
use crate::spec::recipe::ConstraintOp;
use serde::Serialize;

/// A constraint with its threshold resolved.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Sla {
    /// Metric tag.
    pub metric: String,
    /// Statistic.
    pub stat: String,
    /// Comparison.
    pub op: ConstraintOp,
    /// Threshold in display units.
    pub threshold: f64,
}

impl Sla {
    /// Whether an observed value meets it.
    pub fn holds(&self, observed: f64) -> bool {
        match self.op {
            ConstraintOp::Lt => observed < self.threshold,
            ConstraintOp::Le => observed <= self.threshold,
            ConstraintOp::Gt => observed > self.threshold,
            ConstraintOp::Ge => observed >= self.threshold,
        }
    }

    /// `time_to_first_token p95 < 200`.
    pub fn describe(&self) -> String {
        let op = match self.op {
            ConstraintOp::Lt => "<",
            ConstraintOp::Le => "<=",
            ConstraintOp::Gt => ">",
            ConstraintOp::Ge => ">=",
        };
        format!("{} {} {op} {}", self.metric, self.stat, self.threshold)
    }
}

/// The verdict at a point.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Every constraint holds.
    Pass,
    /// Some constraint fails.
    Fail,
    /// The replicates disagree and their interval straddles a threshold: measure again.
    Undecided,
}

/// The first constraint a point breaks, for reports.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Breach {
    /// The constraint.
    #[serde(flatten)]
    pub sla: Sla,
    /// Mean observed value across replicates.
    pub observed: f64,
}

/// Judges a point from its successful trials' `profile_export_aiperf.json` summaries. A point with
/// no successful trial, or whose summaries lack a constrained metric, fails (it is unmeasurable).
pub fn judge(summaries: &[RunSummaryFile], slas: &[Sla], level: f64) -> (Verdict, Option<Breach>) {
    if summaries.is_empty() {
        return (Verdict::Fail, None);
    }
    let mut undecided = false;
    for sla in slas {
        let values: Vec<f64> = summaries
            .iter()
            .filter_map(|s| s.stat(&sla.metric, &sla.stat))
            .collect();
        if values.len() < summaries.len() {
            return (
                Verdict::Fail,
                Some(Breach {
                    sla: sla.clone(),
                    observed: f64::NAN,
                }),
            );
        }
        let mean = values.iter().sum::<f64>() / values.len() as f64;
        let passes = values.iter().filter(|v| sla.holds(**v)).count();
        if passes == values.len() {
            continue;
        }
        if passes == 0 {
            return (
                Verdict::Fail,
                Some(Breach {
                    sla: sla.clone(),
                    observed: mean,
                }),
            );
        }
        // Mixed: decide only if the interval of the statistic clears the threshold.
        match confidence(&values, level) {
            Some(c) if sla.holds(c.ci_low) && sla.holds(c.ci_high) => {}
            Some(c) if !sla.holds(c.ci_low) && !sla.holds(c.ci_high) => {
                return (
                    Verdict::Fail,
                    Some(Breach {
                        sla: sla.clone(),
                        observed: mean,
                    }),
                );
            }
            _ => undecided = true,
        }
    }
    if undecided {
        (Verdict::Undecided, None)
    } else {
        (Verdict::Pass, None)
    }
}

/// Whether one run's own per-request noise leaves an SLA undecided: the moving-block bootstrap
/// interval (`crate::gate::stats`) of a per-request statistic straddles the threshold. SLAs on
/// per-run metrics, or statistics the bootstrap cannot judge, never do.
pub fn straddles_within_run(
    samples: &crate::gate::compare::RunSamples,
    slas: &[Sla],
    level: f64,
) -> bool {
    use crate::gate::stats::{Bootstrap, SampleStat, block_bootstrap_interval};
    slas.iter().any(|sla| {
        let (Some(stat), Some(values)) = (
            SampleStat::from_key(&sla.stat),
            samples.values.get(&sla.metric),
        ) else {
            return false;
        };
        let how = Bootstrap {
            resamples: 500,
            level,
            seed: 0,
        };
        block_bootstrap_interval(values, stat, how)
            .is_some_and(|d| sla.holds(d.low) != sla.holds(d.high))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ttft(p95s: &[f64]) -> Vec<RunSummaryFile> {
        p95s.iter()
            .map(|v| {
                serde_json::from_value(json!({"time_to_first_token": {"unit": "ms", "p95": v}}))
                    .unwrap()
            })
            .collect()
    }

    fn sla() -> Vec<Sla> {
        vec![Sla {
            metric: "time_to_first_token".into(),
            stat: "p95".into(),
            op: ConstraintOp::Lt,
            threshold: 200.0,
        }]
    }

    #[test]
    fn a_run_whose_own_interval_straddles_the_threshold_is_undecided() {
        let run = |center: f64| {
            let mut s = crate::gate::compare::RunSamples::default();
            // 400 requests spread ±20% around `center`: the p95's interval is a few ms wide.
            let v: Vec<f64> = (0..400)
                .map(|i| center * (0.8 + 0.4 * ((i * 37 % 400) as f64 / 400.0)))
                .collect();
            s.values.insert("time_to_first_token".into(), v);
            s
        };
        // p95 ≈ 1.18 x center: far below 200, far above, and at it.
        assert!(!straddles_within_run(&run(100.0), &sla(), 0.95));
        assert!(!straddles_within_run(&run(300.0), &sla(), 0.95));
        assert!(straddles_within_run(&run(200.0 / 1.18), &sla(), 0.95));
        // A metric the run does not have never straddles.
        assert!(!straddles_within_run(
            &crate::gate::compare::RunSamples::default(),
            &sla(),
            0.95
        ));
    }

    #[test]
    fn agreeing_replicates_decide() {
        assert_eq!(judge(&ttft(&[150.0, 160.0]), &sla(), 0.95).0, Verdict::Pass);
        let (v, breach) = judge(&ttft(&[250.0, 260.0]), &sla(), 0.95);
        assert_eq!(v, Verdict::Fail);
        assert_eq!(breach.unwrap().observed, 255.0);
    }

    #[test]
    fn disagreeing_replicates_replicate_unless_the_interval_clears() {
        assert_eq!(
            judge(&ttft(&[190.0, 210.0]), &sla(), 0.95).0,
            Verdict::Undecided
        );
        // Replicates straddling the threshold with a mean on it: still undecided.
        assert_eq!(
            judge(&ttft(&[195.0, 205.0, 198.0, 203.0]), &sla(), 0.95).0,
            Verdict::Undecided
        );
        // Many replicates around 150 and one outlier over: the interval clears 200, so it passes.
        let tight = [
            150.0, 151.0, 149.0, 150.5, 149.5, 150.2, 149.8, 150.1, 201.0,
        ];
        assert_eq!(judge(&ttft(&tight), &sla(), 0.95).0, Verdict::Pass);
        // ...and the mirror image fails.
        let over = [
            250.0, 251.0, 249.0, 250.5, 249.5, 250.2, 249.8, 250.1, 199.0,
        ];
        assert_eq!(judge(&ttft(&over), &sla(), 0.95).0, Verdict::Fail);
    }

    #[test]
    fn unmeasurable_points_fail() {
        assert_eq!(judge(&[], &sla(), 0.95).0, Verdict::Fail);
        assert_eq!(
            judge(&[RunSummaryFile::default()], &sla(), 0.95).0,
            Verdict::Fail
        );
    }
}
