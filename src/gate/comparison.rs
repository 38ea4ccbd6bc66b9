//! Comparing two result directories: reads both, checks they were made with the same settings,
//! and compares every chosen metric in every scope they share. Used by `aiperf compare` and by
//! the after-run step that compares a finished run with a baseline.

use super::compare::{DEFAULT_METRICS, Method, MetricChoice, compare_metric, settings_differences};
use super::inputs::read_result;
use super::stats::Bootstrap;
use crate::artifacts::compare_file::{CompareFile, Verdict};
use std::path::Path;

/// What to compare and how.
#[derive(Debug, Clone, PartialEq)]
pub struct CompareOptions {
    /// `tag.stat` of each metric to compare; empty for the defaults.
    pub metrics: Vec<String>,
    /// Margins: `5%` for every metric or `tag.stat=10%` for one.
    pub max_regression: Vec<String>,
    /// Confidence level of the intervals.
    pub confidence_level: f64,
    /// Bootstrap resamples.
    pub resamples: usize,
    /// Bootstrap seed.
    pub seed: u64,
    /// Compare results whose settings differ.
    pub allow_different: bool,
}

impl Default for CompareOptions {
    fn default() -> Self {
        Self {
            metrics: Vec::new(),
            max_regression: vec!["5%".into()],
            confidence_level: 0.95,
            resamples: 2000,
            seed: 0,
            allow_different: false,
        }
    }
}

crate::sentence_error!(
    /// Why two results cannot be compared: a flag out of range, a result that cannot be read,
    /// settings that differ, no scope in common.
    Incomparable
);

impl CompareOptions {
    /// Checks the options: the metrics, margins, level and resamples.
    pub fn check(&self) -> Result<Vec<MetricChoice>, Incomparable> {
        if !(0.5..=0.999).contains(&self.confidence_level) {
            return Err(format!(
                "--confidence-level {} must be from 0.5 to 0.999",
                self.confidence_level
            )
            .into());
        }
        if !(200..=100_000).contains(&self.resamples) {
            return Err(format!(
                "--bootstrap-samples {} must be from 200 to 100000",
                self.resamples
            )
            .into());
        }
        choices(self)
    }
}

/// The margins: a default and per-metric overrides.
fn margins(specs: &[String]) -> Result<(f64, Vec<(String, f64)>), Incomparable> {
    let percent = |text: &str| -> Result<f64, Incomparable> {
        let number = text.trim().trim_end_matches('%').trim();
        number
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite() && (0.0..=1000.0).contains(v))
            .ok_or_else(|| {
                Incomparable::from(format!(
                    "--max-regression '{text}' is not a percentage from 0% to 1000%"
                ))
            })
    };
    let mut default = 5.0;
    let mut per_metric = Vec::new();
    for spec in specs {
        match spec.split_once('=') {
            Some((subject, pct)) => {
                let (metric, stat) = crate::spec::thresholds::parse_subject(subject)
                    .map_err(|e| Incomparable::from(format!("--max-regression: {e}")))?;
                per_metric.push((format!("{}.{stat}", metric.tag()), percent(pct)?));
            }
            None => default = percent(spec)?,
        }
    }
    Ok((default, per_metric))
}

/// The metrics to compare, each with its margin.
fn choices(args: &CompareOptions) -> Result<Vec<MetricChoice>, Incomparable> {
    let (default, per_metric) = margins(&args.max_regression)?;
    let named: Vec<&str> = if args.metrics.is_empty() {
        DEFAULT_METRICS.to_vec()
    } else {
        args.metrics.iter().map(String::as_str).collect()
    };
    named
        .into_iter()
        .map(|text| {
            let (metric, stat) = crate::spec::thresholds::parse_subject(text)
                .map_err(|e| Incomparable::from(format!("--metric: {e}")))?;
            let key = format!("{}.{stat}", metric.tag());
            let max_regression_pct = per_metric
                .iter()
                .rev()
                .find(|(k, _)| *k == key)
                .map_or(default, |(_, p)| *p);
            Ok(MetricChoice {
                metric,
                stat,
                max_regression_pct,
            })
        })
        .collect()
}

/// Compares the results in `candidate` with those in `baseline`.
pub fn compare_results(
    baseline_dir: &Path,
    candidate_dir: &Path,
    options: &CompareOptions,
) -> Result<CompareFile, Incomparable> {
    let choices = options.check()?;
    let history = |dir: &Path| dir.join(crate::artifacts::names::SEARCH_HISTORY_JSON);
    if history(baseline_dir).is_file() && history(candidate_dir).is_file() {
        return compare_search_dirs(baseline_dir, candidate_dir, options, &history);
    }
    let tags: Vec<&str> = choices.iter().map(|c| c.metric.tag()).collect();
    let keep = |tag: &str| tags.contains(&tag);
    let mut baseline = read_result(baseline_dir, &keep)?;
    let candidate = read_result(candidate_dir, &keep)?;
    // One scope each (a run, or an experiment of one cell): the same benchmark whatever the
    // labels (`run` for a profile, `base` for an unswept experiment).
    if let ([(b, _)], [(c, _)]) = (baseline.as_mut_slice(), candidate.as_slice()) {
        b.clone_from(c);
    }
    let base_cells: Vec<&str> = baseline.iter().map(|(c, _)| c.as_str()).collect();
    let cand_cells: Vec<&str> = candidate.iter().map(|(c, _)| c.as_str()).collect();
    let mut differences = Vec::new();
    if base_cells != cand_cells {
        differences.push(format!(
            "cells: {} vs {}",
            base_cells.join(", "),
            cand_cells.join(", ")
        ));
    }
    for (cell, b_runs) in &baseline {
        if let Some((_, c_runs)) = candidate.iter().find(|(c, _)| c == cell) {
            for d in settings_differences(&b_runs[0].summary, &c_runs[0].summary) {
                differences.push(if baseline.len() > 1 {
                    format!("{cell}: {d}")
                } else {
                    d
                });
            }
        }
    }
    if !differences.is_empty() && !options.allow_different {
        return Err(format!(
            "the two results were made with different settings (compare them anyway with --allow-different):\n  {}",
            differences.join("\n  ")
        )
        .into());
    }
    let method = Method {
        bootstrap: Bootstrap {
            resamples: options.resamples,
            level: options.confidence_level,
            seed: options.seed,
        },
    };
    let mut client_bound = Vec::new();
    for (side, scopes) in [("baseline", &baseline), ("candidate", &candidate)] {
        for (cell, runs) in scopes {
            let bound = runs
                .iter()
                .filter(|r| r.summary.client_bound == Some(true))
                .count();
            if bound > 0 {
                client_bound.push(format!("{side} {cell}: {bound} of {} run(s)", runs.len()));
            }
        }
    }
    let mut comparisons = Vec::new();
    for (cell, b_runs) in &baseline {
        let Some((_, c_runs)) = candidate.iter().find(|(c, _)| c == cell) else {
            continue;
        };
        for choice in &choices {
            comparisons.push(compare_metric(cell, choice, b_runs, c_runs, method));
        }
    }
    if comparisons.is_empty() {
        return Err("the two results have no cell in common to compare".into());
    }
    Ok(compare_file(
        (baseline_dir, candidate_dir),
        options,
        differences,
        client_bound,
        comparisons,
    ))
}

/// Two searches: their answers, after checking they searched the same space for the same goal.
fn compare_search_dirs(
    baseline_dir: &Path,
    candidate_dir: &Path,
    options: &CompareOptions,
    history: &dyn Fn(&Path) -> std::path::PathBuf,
) -> Result<CompareFile, Incomparable> {
    use crate::artifacts::search_history::SearchHistory;
    let read = |dir: &Path| -> Result<SearchHistory, Incomparable> {
        crate::artifacts::io::read(&history(dir)).map_err(|e| Incomparable::from(e.to_string()))
    };
    let (baseline, candidate) = (read(baseline_dir)?, read(candidate_dir)?);
    let mut differences = Vec::new();
    let (b, c) = (&baseline.config, &candidate.config);
    if b.search_space != c.search_space {
        differences.push("the searched knobs or their ranges".to_string());
    }
    if b.sla_filters != c.sla_filters {
        differences.push("the SLA".to_string());
    }
    if b.objective != c.objective {
        differences.push("the objective".to_string());
    }
    if !differences.is_empty() && !options.allow_different {
        return Err(format!(
            "the two searches differ in {} (compare them anyway with --allow-different)",
            differences.join(", ")
        )
        .into());
    }
    let (default_margin, _) = margins(&options.max_regression)?;
    let comparisons =
        super::search_compare::compare_searches(&baseline, &candidate, default_margin);
    if comparisons.is_empty() {
        return Err("the searches have neither a boundary nor an objective to compare".into());
    }
    Ok(compare_file(
        (baseline_dir, candidate_dir),
        options,
        differences,
        Vec::new(),
        comparisons,
    ))
}

/// The file of a finished comparison.
fn compare_file(
    (baseline, candidate): (&Path, &Path),
    options: &CompareOptions,
    settings_differences: Vec<String>,
    client_bound: Vec<String>,
    comparisons: Vec<crate::artifacts::compare_file::MetricComparison>,
) -> CompareFile {
    CompareFile {
        aiperf_version: env!("CARGO_PKG_VERSION").to_string(),
        baseline: baseline.display().to_string(),
        candidate: candidate.display().to_string(),
        confidence_level: options.confidence_level,
        resamples: options.resamples,
        seed: options.seed,
        settings_differences,
        client_bound,
        regression: comparisons.iter().any(|c| c.verdict == Verdict::Regression),
        comparisons,
    }
}
