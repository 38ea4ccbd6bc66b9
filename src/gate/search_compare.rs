//! Comparing two searches: did the answer move? A search (`search_history.json`) already judged
//! every point with its own runs and SLA rules, so its answer is compared as found, without a
//! further interval: the largest value of the searched knob that met the SLA (a one-knob
//! boundary search, e.g. "concurrency 32"), and the best point's objective (e.g. the highest
//! throughput under the SLA), each against the margin.

use crate::artifacts::compare_file::{MetricComparison, Verdict};
use crate::artifacts::search_history::SearchHistory;
use crate::spec::recipe::Direction;

/// The comparisons of two searches' answers.
pub fn compare_searches(
    baseline: &SearchHistory,
    candidate: &SearchHistory,
    max_regression_pct: f64,
) -> Vec<MetricComparison> {
    let mut out = Vec::new();
    let boundary = |h: &SearchHistory| {
        h.boundary_summary.as_ref().map(|b| {
            (
                b.swept_dim_path.clone(),
                b.feasible_max.as_ref().and_then(|f| f.value),
            )
        })
    };
    if let (Some((path, b)), Some((_, c))) = (boundary(baseline), boundary(candidate)) {
        out.push(judge(
            path,
            "largest value meeting the SLA".into(),
            None,
            true,
            b,
            c,
            max_regression_pct,
        ));
    }
    if let Some(objective) = &baseline.config.objective {
        let best = |h: &SearchHistory| {
            h.best_trials
                .as_ref()
                .and_then(|t| t.first())
                .filter(|t| t.feasible)
                .and_then(|t| t.objective_values.as_ref()?.first().copied())
        };
        out.push(judge(
            objective.metric.clone(),
            format!("{} at the best point meeting the SLA", objective.stat),
            None,
            objective.direction == Direction::Maximize,
            best(baseline),
            best(candidate),
            max_regression_pct,
        ));
    }
    out
}

/// One answer against the other. A side with no answer (no point met the SLA) is worse than
/// any answer.
fn judge(
    metric: String,
    stat: String,
    unit: Option<String>,
    larger_is_better: bool,
    baseline: Option<f64>,
    candidate: Option<f64>,
    max_regression_pct: f64,
) -> MetricComparison {
    let change = baseline.zip(candidate).map(|(b, c)| c - b);
    let change_pct = baseline
        .zip(change)
        .filter(|(b, _)| *b != 0.0)
        .map(|(b, d)| d / b.abs() * 100.0);
    let (verdict, note) = match (baseline, candidate) {
        (Some(_), None) => (
            Verdict::Regression,
            Some("the candidate's search found no point meeting the SLA".to_string()),
        ),
        (None, Some(_)) => (
            Verdict::Improvement,
            Some("the baseline's search found no point meeting the SLA".to_string()),
        ),
        (None, None) => (
            Verdict::NotTested,
            Some("neither search found a point meeting the SLA".to_string()),
        ),
        (Some(_), Some(_)) => {
            let d = change.unwrap_or(0.0);
            let beyond = change_pct.map_or(d != 0.0, |p| p.abs() > max_regression_pct);
            let worse = if larger_is_better { d < 0.0 } else { d > 0.0 };
            match (beyond, worse) {
                (true, true) => (Verdict::Regression, None),
                (true, false) => (Verdict::Improvement, None),
                (false, _) => (Verdict::NoSignificantChange, None),
            }
        }
    };
    MetricComparison {
        scope: "search".into(),
        metric,
        stat,
        unit,
        better: if larger_is_better { "higher" } else { "lower" }.into(),
        baseline,
        candidate,
        change,
        change_pct,
        ci_low: None,
        ci_high: None,
        method: "the searches' answers as found (each point was judged by its search)".into(),
        max_regression_pct,
        verdict,
        note,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::artifacts::search_history::{BoundarySummary, FeasibleMax};

    fn history(max: Option<f64>) -> SearchHistory {
        SearchHistory {
            boundary_summary: Some(BoundarySummary {
                swept_dim_path: "phases.profiling.concurrency".into(),
                feasible_max: max.map(|value| FeasibleMax {
                    value: Some(value),
                    iteration_idx: 0,
                    objective_value: None,
                }),
                infeasible_min: None,
            }),
            ..SearchHistory::default()
        }
    }

    #[test]
    fn a_lower_boundary_is_a_regression_and_a_lost_answer_too() {
        let r = compare_searches(&history(Some(32.0)), &history(Some(16.0)), 5.0);
        assert_eq!(r[0].verdict, Verdict::Regression);
        assert_eq!(r[0].change_pct, Some(-50.0));
        let same = compare_searches(&history(Some(32.0)), &history(Some(32.0)), 5.0);
        assert_eq!(same[0].verdict, Verdict::NoSignificantChange);
        let up = compare_searches(&history(Some(32.0)), &history(Some(48.0)), 5.0);
        assert_eq!(up[0].verdict, Verdict::Improvement);
        let lost = compare_searches(&history(Some(32.0)), &history(None), 5.0);
        assert_eq!(lost[0].verdict, Verdict::Regression);
    }
}
