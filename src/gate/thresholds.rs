//! Judging one threshold on one scope: a single run, or a cell and its repeated trials.
//!
//! The rules, in the words `thresholds.json` and the console use:
//!
//! - one trial: its value;
//! - several trials: their mean, or with `with N% confidence` the bound of the N% Student-t
//!   confidence interval of the trials' values on the side that matters (the upper bound for
//!   `<` and `<=`, the lower for `>` and `>=`); it is the same two-sided interval, at the same
//!   level, as the cell aggregate's `ci_low`/`ci_high`, so a passing bound is conservative;
//! - a trial without a finite value of the statistic (a failed trial, TTFT of a non-streamed
//!   run), or a trial that left no results, fails the threshold: a gate never passes on
//!   missing data.

use crate::aggregate::confidence::confidence;
use crate::artifacts::summary::RunSummaryFile;
use crate::artifacts::thresholds::ThresholdResult;
use crate::spec::thresholds::MetricThreshold;

/// What one scope's results are.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    /// `run`, or the cell's label.
    pub label: String,
    /// The summaries of its trials that left one.
    pub trials: Vec<RunSummaryFile>,
    /// Trials planned for it that left no readable summary.
    pub missing: usize,
}

/// Judges `threshold` on `scope`.
pub fn judge(threshold: &MetricThreshold, scope: &Scope) -> ThresholdResult {
    let tag = threshold.metric.tag();
    let values: Vec<f64> = scope
        .trials
        .iter()
        .filter_map(|s| s.stat(tag, &threshold.stat))
        .collect();
    let planned = scope.trials.len() + scope.missing;
    let without_value = planned - values.len();
    let (observed, rule) = if values.is_empty() {
        (None, "no value in the results".to_string())
    } else if without_value > 0 {
        (
            None,
            format!("{without_value} of {planned} trials have no value"),
        )
    } else {
        judged_value(threshold, &values)
    };
    ThresholdResult {
        scope: scope.label.clone(),
        threshold: threshold.to_string(),
        metric: tag.to_string(),
        stat: threshold.stat.clone(),
        op: threshold.op,
        limit: threshold.limit,
        unit: scope
            .trials
            .iter()
            .find_map(|s| s.unit(tag))
            .map(str::to_string),
        observed,
        rule,
        trials: planned,
        client_bound_trials: scope
            .trials
            .iter()
            .filter(|s| s.client_bound == Some(true))
            .count(),
        passed: observed.is_some_and(|v| threshold.op.holds(v, threshold.limit)),
    }
}

/// The value a threshold is judged on, from every trial's (finite) value, and the rule used.
fn judged_value(threshold: &MetricThreshold, values: &[f64]) -> (Option<f64>, String) {
    let n = values.len();
    match (n, threshold.confidence) {
        (1, None) => (Some(values[0]), "value of the run".to_string()),
        (1, Some(_)) => (
            Some(values[0]),
            "value of the one trial (a confidence bound needs 2 or more)".to_string(),
        ),
        (_, None) => (
            confidence(values, 0.95).map(|c| c.mean),
            format!("mean of {n} trials"),
        ),
        (_, Some(level)) => {
            let percent = (level * 1000.0).round() / 10.0;
            let c = confidence(values, level);
            if threshold.op.wants_small() {
                (
                    c.map(|c| c.ci_high).filter(|v| v.is_finite()),
                    format!("upper bound of the {percent}% confidence interval of {n} trials"),
                )
            } else {
                (
                    c.map(|c| c.ci_low).filter(|v| v.is_finite()),
                    format!("lower bound of the {percent}% confidence interval of {n} trials"),
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::artifacts::summary::MetricSummary;
    use serde_json::Number;

    fn summary(ttft_p99: Option<f64>) -> RunSummaryFile {
        let mut s = RunSummaryFile::default();
        let mut stats = indexmap::IndexMap::new();
        stats.insert("p99".to_string(), ttft_p99.and_then(Number::from_f64));
        s.metrics.insert(
            "time_to_first_token".into(),
            MetricSummary {
                unit: "ms".into(),
                stats,
            },
        );
        s
    }

    fn scope(values: &[Option<f64>], missing: usize) -> Scope {
        Scope {
            label: "cell".into(),
            trials: values.iter().map(|v| summary(*v)).collect(),
            missing,
        }
    }

    fn rule(text: &str) -> MetricThreshold {
        MetricThreshold::parse(text).unwrap()
    }

    #[test]
    fn one_run_is_judged_on_its_value() {
        let r = judge(
            &rule("time_to_first_token.p99 < 200"),
            &scope(&[Some(150.0)], 0),
        );
        assert!(r.passed);
        assert_eq!(
            (r.observed, r.rule.as_str()),
            (Some(150.0), "value of the run")
        );
        assert_eq!(r.unit.as_deref(), Some("ms"));
        let r = judge(
            &rule("time_to_first_token.p99 < 200"),
            &scope(&[Some(200.0)], 0),
        );
        assert!(!r.passed);
    }

    #[test]
    fn trials_are_judged_on_the_mean_or_on_the_confidence_bound() {
        // Mean 190, but the trials spread widely: the mean passes, the upper bound does not.
        let trials = scope(&[Some(150.0), Some(190.0), Some(230.0)], 0);
        let mean = judge(&rule("time_to_first_token.p99 < 200"), &trials);
        assert!(mean.passed, "{mean:?}");
        assert_eq!(mean.rule, "mean of 3 trials");
        let bound = judge(
            &rule("time_to_first_token.p99 < 200 with 95% confidence"),
            &trials,
        );
        assert!(!bound.passed, "{bound:?}");
        assert!(bound.observed.unwrap() > 230.0);
        assert_eq!(
            bound.rule,
            "upper bound of the 95% confidence interval of 3 trials"
        );
        // For a lower limit the lower bound is judged.
        let low = judge(
            &rule("time_to_first_token.p99 > 100 with 95% confidence"),
            &trials,
        );
        assert!(low.observed.unwrap() < 150.0 && low.rule.starts_with("lower bound"));
        // Tight trials pass either way.
        let tight = scope(&[Some(150.0), Some(151.0), Some(149.0)], 0);
        assert!(
            judge(
                &rule("time_to_first_token.p99 < 200 with 99% confidence"),
                &tight
            )
            .passed
        );
    }

    #[test]
    fn missing_data_fails() {
        let t = rule("time_to_first_token.p99 < 200");
        let none = judge(&t, &scope(&[None], 0));
        assert!(!none.passed && none.observed.is_none());
        let partly = judge(&t, &scope(&[Some(10.0), None], 0));
        assert!(!partly.passed);
        assert_eq!(partly.rule, "1 of 2 trials have no value");
        let lost = judge(&t, &scope(&[Some(10.0)], 1));
        assert!(!lost.passed && lost.trials == 2);
        let other_metric = judge(
            &rule("inter_token_latency.p99 < 5"),
            &scope(&[Some(1.0)], 0),
        );
        assert!(!other_metric.passed);
    }
}
