//! Comparing a candidate's results with a baseline's, metric by metric, with a verdict that
//! needs both statistical significance and a practical margin (docs/compare.md).
//!
//! - Two single runs: from their per-request values ([`RunSamples`]), by a moving-block
//!   bootstrap of the statistic's difference; throughputs from the completed work in each
//!   twentieth of the run, the error rate from each request's outcome.
//! - Repeated trials (two or more on both sides): Welch's t interval on one value per trial.
//! - A regression is a change whose whole interval lies on the worse side of zero and whose
//!   point estimate is worse than the margin (`--max-regression`, 5% by default); an
//!   improvement is the same on the better side; anything else is no significant change.

use super::stats::{
    Bootstrap, Difference, SampleStat, block_bootstrap_difference, welch_difference,
};
use crate::artifacts::compare_file::{MetricComparison, Verdict};
use crate::artifacts::record_line::{Measured, RecordLine};
use crate::artifacts::summary::RunSummaryFile;
use crate::registry::{MetricId, MetricKind};
use crate::spec::BenchmarkSpec;
use std::collections::BTreeMap;

/// Windows a run is cut into for its throughputs.
pub const THROUGHPUT_WINDOWS: usize = 20;

/// What a comparison judges: a metric and one of its statistics.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricChoice {
    /// The metric.
    pub metric: MetricId,
    /// The statistic (`avg` for a per-run metric).
    pub stat: String,
    /// The margin for this metric, percent.
    pub max_regression_pct: f64,
}

/// The metrics compared when none is named: what a CI gate on serving usually watches.
pub const DEFAULT_METRICS: &[&str] = &[
    "time_to_first_token.p99",
    "inter_token_latency.p99",
    "request_latency.p99",
    "output_token_throughput",
    "request_error_rate",
];

/// One run's results as a comparison reads them.
#[derive(Debug, Clone, Default)]
pub struct RunSamples {
    /// The run's summary.
    pub summary: RunSummaryFile,
    /// Per-request values of each per-request metric, in request start order.
    pub values: BTreeMap<String, Vec<f64>>,
    /// Per finished request, in start order: 100 for an error, 0 for a success (cancelled
    /// requests are neither), so their mean is the error rate in percent.
    pub error_percent: Vec<f64>,
    /// Requests completed per second in each of [`THROUGHPUT_WINDOWS`] equal windows.
    pub request_rate_windows: Vec<f64>,
    /// Output tokens per second in the same windows.
    pub token_rate_windows: Vec<f64>,
}

/// Collects a run's samples record by record, keeping only what a comparison reads (the
/// metrics it compares, each request's outcome and end), so a run of a million requests
/// costs tens of bytes per request, not its parsed records.
pub struct SamplesBuilder<'a> {
    keep: &'a dyn Fn(&str) -> bool,
    /// (start, value) per kept metric.
    values: BTreeMap<String, Vec<(u64, f64)>>,
    /// (start, 0 or 100) per finished request.
    errors: Vec<(u64, f64)>,
    /// (end, output tokens) per successful request.
    done: Vec<(u64, f64)>,
    first_start: Option<u64>,
}

impl<'a> SamplesBuilder<'a> {
    /// A builder keeping the per-request metrics for which `keep` says yes.
    pub fn new(keep: &'a dyn Fn(&str) -> bool) -> Self {
        Self {
            keep,
            values: BTreeMap::new(),
            errors: Vec::new(),
            done: Vec::new(),
            first_start: None,
        }
    }

    /// Takes one record (in any order).
    pub fn add(&mut self, r: &RecordLine) {
        let start = r.metadata.request_start_ns.unwrap_or(0);
        if let Some(s) = r.metadata.request_start_ns {
            self.first_start = Some(self.first_start.map_or(s, |f| f.min(s)));
        }
        if r.metadata.was_cancelled {
            return;
        }
        self.errors
            .push((start, if r.error.is_some() { 100.0 } else { 0.0 }));
        if r.error.is_some() {
            return;
        }
        for (tag, m) in &r.metrics {
            if !(self.keep)(tag) {
                continue;
            }
            let list = self.values.entry(tag.clone()).or_default();
            match &m.value {
                Measured::One(Some(v)) if v.is_finite() => list.push((start, *v)),
                Measured::Many(vs) => {
                    list.extend(vs.iter().filter(|v| v.is_finite()).map(|v| (start, *v)))
                }
                Measured::One(_) => {}
            }
        }
        if let Some(end) = r.metadata.request_end_ns {
            let tokens = match r.metrics.get("output_sequence_length").map(|m| &m.value) {
                Some(Measured::One(Some(v))) if v.is_finite() => *v,
                _ => 0.0,
            };
            self.done.push((end, tokens));
        }
    }

    /// The samples, in request start order, with the run's summary.
    pub fn finish(self, summary: RunSummaryFile) -> RunSamples {
        let in_start_order = |mut v: Vec<(u64, f64)>| -> Vec<f64> {
            // Stable: the values of one request stay in their order.
            v.sort_by_key(|(at, _)| *at);
            v.into_iter().map(|(_, x)| x).collect()
        };
        let mut samples = RunSamples {
            summary,
            values: self
                .values
                .into_iter()
                .map(|(tag, v)| (tag, in_start_order(v)))
                .collect(),
            error_percent: in_start_order(self.errors),
            ..RunSamples::default()
        };
        let end = self.done.iter().map(|(e, _)| *e).max();
        if let (Some(start), Some(end)) = (self.first_start, end)
            && end > start
        {
            let width = (end - start) as f64 / THROUGHPUT_WINDOWS as f64;
            let mut requests = [0.0; THROUGHPUT_WINDOWS];
            let mut tokens = [0.0; THROUGHPUT_WINDOWS];
            for (at, t) in &self.done {
                let i = (((at.saturating_sub(start)) as f64 / width) as usize)
                    .min(THROUGHPUT_WINDOWS - 1);
                requests[i] += 1.0;
                tokens[i] += t;
            }
            let seconds = width / 1e9;
            samples.request_rate_windows = requests.iter().map(|n| n / seconds).collect();
            samples.token_rate_windows = tokens.iter().map(|n| n / seconds).collect();
        }
        samples
    }
}

impl RunSamples {
    /// Builds the samples from a run's summary and its per-request records (any order),
    /// keeping every metric.
    pub fn from_records(summary: RunSummaryFile, records: Vec<RecordLine>) -> Self {
        let all = |_: &str| true;
        let mut builder = SamplesBuilder::new(&all);
        for r in &records {
            builder.add(r);
        }
        builder.finish(summary)
    }

    /// The per-request sample a choice is judged on, if it has one.
    fn sample(&self, metric: MetricId) -> Option<&[f64]> {
        match metric {
            MetricId::RequestErrorRate => Some(&self.error_percent),
            MetricId::RequestThroughput => Some(&self.request_rate_windows),
            MetricId::OutputTokenThroughput => Some(&self.token_rate_windows),
            _ if metric.def().kind == MetricKind::Record => {
                self.values.get(metric.tag()).map(Vec::as_slice)
            }
            _ => None,
        }
    }
}

/// How the comparison is made.
#[derive(Debug, Clone, Copy)]
pub struct Method {
    /// Bootstrap resamples, level and seed (the level is also Welch's).
    pub bootstrap: Bootstrap,
}

/// Compares one metric of one scope. `baseline` and `candidate` are the scope's trials.
pub fn compare_metric(
    scope: &str,
    choice: &MetricChoice,
    baseline: &[RunSamples],
    candidate: &[RunSamples],
    method: Method,
) -> MetricComparison {
    let def = choice.metric.def();
    let tag = def.tag;
    let summary_value = |side: &[RunSamples]| -> Option<f64> {
        let values: Vec<f64> = side
            .iter()
            .filter_map(|r| r.summary.stat(tag, &choice.stat))
            .collect();
        (!values.is_empty() && values.len() == side.len())
            .then(|| values.iter().sum::<f64>() / values.len() as f64)
    };
    let unit = baseline
        .iter()
        .chain(candidate)
        .find_map(|r| r.summary.unit(tag))
        .map(str::to_string);
    let mut out = MetricComparison {
        scope: scope.to_string(),
        metric: tag.to_string(),
        stat: choice.stat.clone(),
        unit,
        better: if def.flags.larger_is_better {
            "higher"
        } else {
            "lower"
        }
        .to_string(),
        baseline: summary_value(baseline),
        candidate: summary_value(candidate),
        change: None,
        change_pct: None,
        ci_low: None,
        ci_high: None,
        method: String::new(),
        max_regression_pct: choice.max_regression_pct,
        verdict: Verdict::NotTested,
        note: None,
    };
    let level = method.bootstrap.level;
    let tested = if baseline.len() >= 2 && candidate.len() >= 2 {
        let per_trial = |side: &[RunSamples]| -> Option<Vec<f64>> {
            side.iter()
                .map(|r| r.summary.stat(tag, &choice.stat))
                .collect()
        };
        match (per_trial(baseline), per_trial(candidate)) {
            (Some(b), Some(c)) => welch_difference(&b, &c, level).map(|d| {
                let text = format!(
                    "Welch's t over trials ({} vs {}), {}% interval",
                    b.len(),
                    c.len(),
                    percent(level)
                );
                (d, text)
            }),
            _ => {
                out.note = Some("a trial has no value of this statistic".into());
                None
            }
        }
    } else {
        bootstrap_runs(choice, baseline, candidate, method, &mut out)
    };
    if let Some((d, text)) = tested {
        out.method = text;
        apply(&mut out, d);
    } else if out.method.is_empty() {
        out.method = "none".into();
    }
    out
}

/// The block bootstrap over the runs' pooled per-request values.
fn bootstrap_runs(
    choice: &MetricChoice,
    baseline: &[RunSamples],
    candidate: &[RunSamples],
    method: Method,
    out: &mut MetricComparison,
) -> Option<(Difference, String)> {
    let metric = choice.metric;
    let stat = match metric.def().kind {
        MetricKind::Scalar => match metric {
            MetricId::RequestErrorRate
            | MetricId::RequestThroughput
            | MetricId::OutputTokenThroughput => SampleStat::Mean,
            _ => {
                out.note = Some(
                    "one value per run: compare repeated trials (2 or more a side) to test it"
                        .into(),
                );
                return None;
            }
        },
        MetricKind::Record => match SampleStat::from_key(&choice.stat) {
            Some(stat) => stat,
            None => {
                out.note = Some(format!(
                    "the bootstrap cannot judge '{}'; use avg, std or a percentile",
                    choice.stat
                ));
                return None;
            }
        },
    };
    let pool = |side: &[RunSamples]| -> Option<Vec<f64>> {
        let mut all = Vec::new();
        for run in side {
            all.extend_from_slice(run.sample(metric)?);
        }
        (!all.is_empty()).then_some(all)
    };
    let (Some(b), Some(c)) = (pool(baseline), pool(candidate)) else {
        out.note = Some("no per-request values on a side".into());
        return None;
    };
    let d = block_bootstrap_difference(&b, &c, stat, method.bootstrap)?;
    if let SampleStat::Quantile(q) = stat {
        let beyond = (b.len().min(c.len()) as f64 * (1.0 - q)).floor();
        if beyond < 10.0 {
            out.note = Some(format!(
                "only {beyond} requests lie beyond this percentile; its interval is too narrow \
                 below about 10 (run more requests)"
            ));
        }
    }
    // The point values of the test, so the change and its interval agree with them.
    out.baseline = stat.of(&mut b.clone());
    out.candidate = stat.of(&mut c.clone());
    let what = match metric {
        MetricId::RequestThroughput | MetricId::OutputTokenThroughput => {
            format!("block bootstrap over {THROUGHPUT_WINDOWS} time windows per run")
        }
        _ => format!(
            "block bootstrap over requests ({} vs {}, blocks of {})",
            b.len(),
            c.len(),
            super::stats::block_length(b.len().min(c.len()))
        ),
    };
    let pooled = if baseline.len() > 1 || candidate.len() > 1 {
        ", trials pooled"
    } else {
        ""
    };
    Some((
        d,
        format!(
            "{what}{pooled}, {} resamples, {}% interval",
            method.bootstrap.resamples,
            percent(method.bootstrap.level)
        ),
    ))
}

fn percent(level: f64) -> f64 {
    (level * 1000.0).round() / 10.0
}

/// Fills in the change, its interval and the verdict.
fn apply(out: &mut MetricComparison, d: Difference) {
    out.change = Some(d.estimate);
    out.ci_low = Some(d.low);
    out.ci_high = Some(d.high);
    let base = out.baseline.unwrap_or(0.0);
    let pct = if base != 0.0 {
        Some(d.estimate / base.abs() * 100.0)
    } else {
        None
    };
    out.change_pct = pct;
    let larger_is_better = out.better == "higher";
    let (worse, better) = if larger_is_better {
        (d.high < 0.0, d.low > 0.0)
    } else {
        (d.low > 0.0, d.high < 0.0)
    };
    // From a baseline of 0 any change is beyond a relative margin.
    let beyond_margin = match pct {
        Some(p) => p.abs() > out.max_regression_pct,
        None => d.estimate != 0.0,
    };
    out.verdict = match (worse, better, beyond_margin) {
        (true, _, true) => Verdict::Regression,
        (_, true, true) => Verdict::Improvement,
        (true, _, false) | (_, true, false) => {
            let within = format!(
                "significant, but within the {}% margin",
                out.max_regression_pct
            );
            out.note = Some(match out.note.take() {
                Some(earlier) => format!("{within}; {earlier}"),
                None => within,
            });
            Verdict::NoSignificantChange
        }
        _ => Verdict::NoSignificantChange,
    };
}

/// Reads one setting of a spec, as the summary file writes it.
type SettingOf = fn(&BenchmarkSpec) -> Option<serde_json::Value>;

/// A setting as the summary file writes it.
fn json_of<T: serde::Serialize>(value: &T) -> serde_json::Value {
    serde_json::to_value(value).unwrap_or_default()
}

/// The settings two runs must share to be compared, with how they differ: model, endpoint,
/// streaming, prompt lengths and the profiling phase's load, read from each run's spec.
pub fn settings_differences(baseline: &RunSummaryFile, candidate: &RunSummaryFile) -> Vec<String> {
    let mut out = Vec::new();
    let (b_spec, c_spec) = (baseline.spec(), candidate.spec());
    // Each setting as written in the file (JSON), so a difference reads as the files do.
    let shown = |value: Option<serde_json::Value>| value.unwrap_or(serde_json::Value::Null);
    let settings: [(&str, SettingOf); 5] = [
        ("model", |s| {
            s.models.items.first().map(|m| json_of(&m.name))
        }),
        ("endpoint type", |s| {
            Some(json_of(&s.endpoint.endpoint_type))
        }),
        ("endpoint path", |s| Some(json_of(&s.endpoint.path))),
        ("streaming", |s| Some(json_of(&s.endpoint.streaming))),
        ("input and output lengths", |s| {
            s.datasets.first().map(|d| json_of(&d.prompts))
        }),
    ];
    for (what, read) in settings {
        let b = shown(b_spec.as_ref().and_then(read));
        let c = shown(c_spec.as_ref().and_then(read));
        if b != c {
            out.push(format!("{what}: {b} vs {c}"));
        }
    }
    let phase = |s: &RunSummaryFile| {
        let (concurrency, rate) = s.profiling_load();
        let kind = s
            .profiling_phase()
            .map(|p| json_of(&p.phase_type))
            .unwrap_or_default();
        (kind, concurrency, rate)
    };
    let (b, c) = (phase(baseline), phase(candidate));
    if b != c {
        let describe =
            |(kind, concurrency, rate): &(serde_json::Value, Option<u64>, Option<f64>)| {
                let mut text = kind.as_str().unwrap_or("unknown").to_string();
                if let Some(n) = concurrency {
                    text.push_str(&format!(", concurrency {n}"));
                }
                if let Some(r) = rate {
                    text.push_str(&format!(", {r} requests/s"));
                }
                text
            };
        out.push(format!("load: {} vs {}", describe(&b), describe(&c)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::artifacts::summary::MetricSummary;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;
    use rand_distr::{Distribution, LogNormal};

    fn summary_of(spec: &BenchmarkSpec) -> RunSummaryFile {
        RunSummaryFile {
            input_config: serde_json::to_value(spec).unwrap(),
            ..Default::default()
        }
    }

    #[test]
    fn settings_are_compared_through_the_spec() {
        let base = crate::spec::test_support::minimal_spec();
        let mut other = base.clone();
        other.endpoint.streaming = !base.endpoint.streaming;
        other.phases[0].concurrency = Some(8);
        let differences = settings_differences(&summary_of(&base), &summary_of(&other));
        assert_eq!(differences.len(), 2, "{differences:?}");
        assert!(differences[0].starts_with("streaming: "), "{differences:?}");
        assert!(differences[1].contains("concurrency 8"), "{differences:?}");
        assert!(settings_differences(&summary_of(&base), &summary_of(&base.clone())).is_empty());
        // Settings that are not an aiperf spec read as unknown on both sides: no difference.
        let foreign = RunSummaryFile {
            input_config: serde_json::json!({"cli_command": "aiperf profile ..."}),
            ..Default::default()
        };
        assert!(foreign.spec().is_none());
        assert_eq!(foreign.profiling_load(), (None, None));
        assert!(settings_differences(&foreign, &foreign.clone()).is_empty());
    }

    fn run(ttft_median: f64, n: usize, seed: u64) -> RunSamples {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let d = LogNormal::new(f64::ln(ttft_median), 0.3).unwrap();
        let values: Vec<f64> = (0..n).map(|_| d.sample(&mut rng)).collect();
        let mut summary = RunSummaryFile::default();
        let mut stats = indexmap::IndexMap::new();
        let mut sorted = values.clone();
        sorted.sort_by(f64::total_cmp);
        stats.insert(
            "p99".into(),
            serde_json::Number::from_f64(crate::support::numbers::quantile(&sorted, 0.99).unwrap()),
        );
        summary.metrics.insert(
            "time_to_first_token".into(),
            MetricSummary {
                unit: "ms".into(),
                stats,
            },
        );
        let mut samples = RunSamples {
            summary,
            ..RunSamples::default()
        };
        samples.values.insert("time_to_first_token".into(), values);
        samples.error_percent = vec![0.0; n];
        samples
    }

    fn choice(stat: &str) -> MetricChoice {
        MetricChoice {
            metric: MetricId::TimeToFirstToken,
            stat: stat.into(),
            max_regression_pct: 5.0,
        }
    }

    fn method(seed: u64) -> Method {
        Method {
            bootstrap: Bootstrap {
                resamples: 300,
                level: 0.95,
                seed,
            },
        }
    }

    /// Regressions in 40 seeded pairs of runs: a baseline TTFT median of 20 ms against
    /// `candidate_median`.
    fn regressions_in_40_pairs(candidate_median: f64) -> usize {
        (0..40)
            .filter(|&s| {
                let c = compare_metric(
                    "run",
                    &choice("p50"),
                    &[run(20.0, 500, 2 * s)],
                    &[run(candidate_median, 500, 2 * s + 1)],
                    method(s),
                );
                c.verdict == Verdict::Regression
            })
            .count()
    }

    /// A/A: 40 seeded pairs of the same settings flag at most 2 regressions (at 95% with a
    /// 5% margin the expected rate is far below 5%).
    #[test]
    fn same_settings_twice_are_rarely_a_regression() {
        let flagged = regressions_in_40_pairs(20.0);
        assert!(flagged <= 2, "{flagged} of 40 A/A pairs flagged");
    }

    /// Power: TTFT 20 ms vs 22 ms (10% slower) is a regression in at least 36 of 40 pairs.
    #[test]
    fn a_ten_percent_slowdown_is_a_regression() {
        let flagged = regressions_in_40_pairs(22.0);
        assert!(flagged >= 36, "flagged in {flagged} of 40");
        let faster = compare_metric(
            "run",
            &choice("p50"),
            &[run(22.0, 500, 1)],
            &[run(20.0, 500, 2)],
            method(1),
        );
        assert_eq!(faster.verdict, Verdict::Improvement);
        assert!(faster.change_pct.unwrap() < -5.0);
    }

    #[test]
    fn trials_are_compared_with_welch_and_odd_statistics_are_not_tested() {
        let b: Vec<RunSamples> = (0..3).map(|s| run(20.0, 200, s)).collect();
        let c: Vec<RunSamples> = (10..13).map(|s| run(30.0, 200, s)).collect();
        let r = compare_metric("cell", &choice("p99"), &b, &c, method(0));
        assert!(
            r.method.starts_with("Welch's t over trials (3 vs 3)"),
            "{}",
            r.method
        );
        assert_eq!(r.verdict, Verdict::Regression);
        let max = compare_metric("run", &choice("max"), &b[..1], &c[..1], method(0));
        assert_eq!(max.verdict, Verdict::NotTested);
        assert!(max.note.unwrap().contains("cannot judge 'max'"));
        let missing = compare_metric(
            "run",
            &MetricChoice {
                metric: MetricId::InterTokenLatency,
                stat: "p99".into(),
                max_regression_pct: 5.0,
            },
            &b[..1],
            &c[..1],
            method(0),
        );
        assert_eq!(missing.verdict, Verdict::NotTested);
    }

    proptest::proptest! {
        /// Records with any times, values and outcomes give samples without panicking, and
        /// every throughput window is finite.
        #[test]
        fn any_records_make_samples(records in proptest::collection::vec((
            proptest::option::of(0u64..1_000_000),
            proptest::option::of(0u64..2_000_000),
            proptest::option::of(-1e6f64..1e6),
            proptest::bool::ANY,
            proptest::bool::ANY,
        ), 0..40)) {
            let lines: Vec<RecordLine> = records
                .iter()
                .map(|(start, end, value, failed, cancelled)| {
                    serde_json::from_value(serde_json::json!({
                        "metadata": {"request_start_ns": start, "request_end_ns": end, "was_cancelled": cancelled},
                        "metrics": {"output_sequence_length": {"value": value, "unit": "tokens"},
                                    "inter_chunk_latency": {"value": [value.unwrap_or(1.0), 2.0], "unit": "ms"}},
                        "error": if *failed { serde_json::json!({"code": 500, "type": "http", "message": "x"}) } else { serde_json::Value::Null },
                    }))
                    .unwrap()
                })
                .collect();
            let samples = RunSamples::from_records(RunSummaryFile::default(), lines);
            proptest::prop_assert!(samples.token_rate_windows.iter().all(|v| v.is_finite()));
            let c = compare_metric("run", &MetricChoice { metric: MetricId::OutputTokenThroughput, stat: "avg".into(), max_regression_pct: 5.0 }, std::slice::from_ref(&samples), std::slice::from_ref(&samples), method(1));
            proptest::prop_assert!(c.verdict != Verdict::Regression);
        }
    }

    #[test]
    fn a_significant_change_inside_the_margin_is_no_change() {
        // 2% slower with many requests: significant, but under the 5% margin.
        let c = compare_metric(
            "run",
            &choice("p50"),
            &[run(20.0, 20_000, 1)],
            &[run(20.4, 20_000, 2)],
            method(3),
        );
        assert_eq!(c.verdict, Verdict::NoSignificantChange, "{c:?}");
        assert!(c.note.unwrap().contains("within the 5% margin"));
    }
}
