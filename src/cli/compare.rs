//! `aiperf compare BASELINE CANDIDATE`: did the candidate get slower? Metric by metric and
//! cell by cell, with a confidence interval of each change and a verdict that needs both
//! significance and a practical margin (docs/compare.md). Writes `compare.json`, prints a
//! table or Markdown, optionally a JUnit report; exits 10 on a regression.

use crate::artifacts::compare_file::{CompareFile, MetricComparison, Verdict};
use crate::artifacts::io::{to_pretty_json, write_atomic};
use crate::error::AppError;
use crate::exit_code::ExitCode;
use crate::gate::compare::{
    DEFAULT_METRICS, Method, MetricChoice, compare_metric, settings_differences,
};
use crate::gate::inputs::read_result;
use crate::gate::stats::Bootstrap;
use std::path::PathBuf;

/// Output formats of `aiperf compare` on stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CompareFormat {
    /// A console table.
    Table,
    /// GitHub-flavoured Markdown, for a pull-request comment or a CI job summary.
    Markdown,
    /// `compare.json` itself.
    Json,
}

/// Flags of `aiperf compare`.
#[derive(Debug, clap::Args)]
pub struct CompareArgs {
    /// The baseline result directory (a run, repeated trials or a sweep).
    pub baseline: PathBuf,
    /// The candidate result directory, of the same kind.
    pub candidate: PathBuf,
    /// A metric to compare, `tag.stat` (`time_to_first_token.p99`) or a per-run metric's tag
    /// (`output_token_throughput`). Repeatable. Default: TTFT p99, ITL p99, request latency
    /// p99, output token throughput and the error rate.
    #[arg(long = "metric", value_name = "TAG.STAT")]
    pub metrics: Vec<String>,
    /// The practical margin: a significant change is a regression (or an improvement) only
    /// beyond it. `5%` for every metric, or `TAG.STAT=10%` for one. Repeatable.
    #[arg(long = "max-regression", value_name = "PCT", default_value = "5%")]
    pub max_regression: Vec<String>,
    /// Confidence level of the intervals (0.5-0.999).
    #[arg(long, default_value_t = 0.95, allow_negative_numbers = true)]
    pub confidence_level: f64,
    /// Bootstrap resamples (200-100000).
    #[arg(long, default_value_t = 2000, allow_negative_numbers = true)]
    pub bootstrap_samples: i64,
    /// Seed of the bootstrap (the same inputs and seed give the same intervals).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Compare runs whose settings differ (model, endpoint, lengths, load), listing the
    /// differences instead of refusing.
    #[arg(long)]
    pub allow_different: bool,
    /// What to print on stdout.
    #[arg(long, value_enum, default_value = "table")]
    pub format: CompareFormat,
    /// Also write a JUnit XML report here: one test case per compared metric and scope.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Where to write compare.json (default: the candidate directory).
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// The margins: a default and per-metric overrides.
fn margins(specs: &[String]) -> Result<(f64, Vec<(String, f64)>), AppError> {
    let percent = |text: &str| -> Result<f64, AppError> {
        let number = text.trim().trim_end_matches('%').trim();
        number
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite() && (0.0..=1000.0).contains(v))
            .ok_or_else(|| {
                AppError::config(format!(
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
                    .map_err(|e| AppError::config(format!("--max-regression: {e}")))?;
                per_metric.push((format!("{}.{stat}", metric.tag()), percent(pct)?));
            }
            None => default = percent(spec)?,
        }
    }
    Ok((default, per_metric))
}

/// The metrics to compare, each with its margin.
fn choices(args: &CompareArgs) -> Result<Vec<MetricChoice>, AppError> {
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
                .map_err(|e| AppError::config(format!("--metric: {e}")))?;
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

/// Runs `aiperf compare`.
pub fn run(args: &CompareArgs) -> Result<ExitCode, AppError> {
    if !(0.5..=0.999).contains(&args.confidence_level) {
        return Err(AppError::config(format!(
            "--confidence-level {} must be from 0.5 to 0.999",
            args.confidence_level
        )));
    }
    if !(200..=100_000).contains(&args.bootstrap_samples) {
        return Err(AppError::config(format!(
            "--bootstrap-samples {} must be from 200 to 100000",
            args.bootstrap_samples
        )));
    }
    let choices = choices(args)?;
    let baseline = read_result(&args.baseline).map_err(AppError::config)?;
    let candidate = read_result(&args.candidate).map_err(AppError::config)?;

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
                let scoped = if baseline.len() > 1 {
                    format!("{cell}: {d}")
                } else {
                    d
                };
                differences.push(scoped);
            }
        }
    }
    if !differences.is_empty() && !args.allow_different {
        return Err(AppError::config(format!(
            "the two results were made with different settings (compare them anyway with --allow-different):\n  {}",
            differences.join("\n  ")
        )));
    }
    let method = Method {
        bootstrap: Bootstrap {
            resamples: args.bootstrap_samples as usize,
            level: args.confidence_level,
            seed: args.seed,
        },
    };
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
        return Err(AppError::config(
            "the two results have no cell in common to compare",
        ));
    }
    let file = CompareFile {
        aiperf_version: env!("CARGO_PKG_VERSION").to_string(),
        baseline: args.baseline.display().to_string(),
        candidate: args.candidate.display().to_string(),
        confidence_level: args.confidence_level,
        resamples: args.bootstrap_samples as usize,
        seed: args.seed,
        settings_differences: differences,
        regression: comparisons.iter().any(|c| c.verdict == Verdict::Regression),
        comparisons,
    };
    let output = args
        .output
        .clone()
        .unwrap_or_else(|| args.candidate.join(crate::artifacts::names::COMPARE_JSON));
    write_atomic(&output, &to_pretty_json(&file))
        .map_err(|e| AppError::failure(format!("cannot write {}: {e}", output.display())))?;
    if let Some(path) = &args.junit {
        write_atomic(path, junit(&file)?.as_bytes())
            .map_err(|e| AppError::failure(format!("cannot write {}: {e}", path.display())))?;
    }
    match args.format {
        CompareFormat::Table => print!("{}", table(&file)),
        CompareFormat::Markdown => print!("{}", markdown(&file)),
        CompareFormat::Json => println!("{}", String::from_utf8_lossy(&to_pretty_json(&file))),
    }
    let regressions = file
        .comparisons
        .iter()
        .filter(|c| c.verdict == Verdict::Regression)
        .count();
    if regressions > 0 {
        eprintln!(
            "error: {regressions} regression(s) against the baseline (see {})",
            output.display()
        );
        Ok(ExitCode::REGRESSION)
    } else {
        Ok(ExitCode::SUCCESS)
    }
}

/// A number for a table cell.
fn num(v: Option<f64>) -> String {
    match v {
        Some(v) if v.abs() >= 1000.0 => format!("{v:.1}"),
        Some(v) => format!("{v:.3}"),
        None => "-".to_string(),
    }
}

fn signed(v: Option<f64>) -> String {
    match v {
        Some(v) if v >= 0.0 => format!("+{}", num(Some(v))),
        other => num(other),
    }
}

fn pct(v: Option<f64>) -> String {
    v.map_or("-".to_string(), |p| format!("{p:+.1}%"))
}

fn subject(c: &MetricComparison) -> String {
    let unit = c
        .unit
        .as_deref()
        .map(|u| format!(" ({u})"))
        .unwrap_or_default();
    let per_run = crate::registry::MetricId::from_tag(&c.metric)
        .is_some_and(|m| m.def().kind == crate::registry::MetricKind::Scalar);
    if per_run {
        format!("{}{unit}", c.metric)
    } else {
        format!("{}.{}{unit}", c.metric, c.stat)
    }
}

fn interval(c: &MetricComparison) -> String {
    match (c.ci_low, c.ci_high) {
        (Some(l), Some(h)) => format!("[{}, {}]", signed(Some(l)), signed(Some(h))),
        _ => "-".to_string(),
    }
}

/// The headline: how many of each verdict.
fn headline(file: &CompareFile) -> String {
    let count = |v: Verdict| file.comparisons.iter().filter(|c| c.verdict == v).count();
    format!(
        "{} regression(s), {} improvement(s), {} without significant change, {} not tested",
        count(Verdict::Regression),
        count(Verdict::Improvement),
        count(Verdict::NoSignificantChange),
        count(Verdict::NotTested)
    )
}

fn table(file: &CompareFile) -> String {
    let mut t = comfy_table::Table::new();
    t.load_preset(comfy_table::presets::UTF8_FULL_CONDENSED);
    let scoped = file.comparisons.iter().any(|c| c.scope != "run");
    let level = (file.confidence_level * 1000.0).round() / 10.0;
    let mut header = vec![
        "metric".to_string(),
        "baseline".into(),
        "candidate".into(),
        "change".into(),
        format!("{level}% CI of change"),
        "verdict".into(),
    ];
    if scoped {
        header.insert(0, "cell".into());
    }
    t.set_header(header);
    for c in &file.comparisons {
        let mut row = vec![
            subject(c),
            num(c.baseline),
            num(c.candidate),
            format!("{} ({})", signed(c.change), pct(c.change_pct)),
            interval(c),
            c.verdict.label().to_string(),
        ];
        if scoped {
            row.insert(0, c.scope.clone());
        }
        t.add_row(row);
    }
    let mut out = format!("{t}\n{}\n", headline(file));
    for d in &file.settings_differences {
        out.push_str(&format!("settings differ: {d}\n"));
    }
    out
}

fn markdown(file: &CompareFile) -> String {
    let scoped = file.comparisons.iter().any(|c| c.scope != "run");
    let level = (file.confidence_level * 1000.0).round() / 10.0;
    let verdict = if file.regression {
        "❌ regression"
    } else {
        "✅ no regression"
    };
    let mut out = format!(
        "### aiperf compare: {verdict}\n\n{}\n\nBaseline `{}`, candidate `{}`.\n\n",
        headline(file),
        file.baseline,
        file.candidate
    );
    if scoped {
        out.push_str("| cell ");
    }
    out.push_str(&format!(
        "| metric | baseline | candidate | change | {level}% CI of change | verdict |\n"
    ));
    if scoped {
        out.push_str("|---");
    }
    out.push_str("|---|---:|---:|---:|---|---|\n");
    for c in &file.comparisons {
        if scoped {
            out.push_str(&format!("| {} ", c.scope));
        }
        let verdict = match c.verdict {
            Verdict::Regression => "**regression**".to_string(),
            v => v.label().to_string(),
        };
        out.push_str(&format!(
            "| `{}` | {} | {} | {} ({}) | {} | {} |\n",
            subject(c),
            num(c.baseline),
            num(c.candidate),
            signed(c.change),
            pct(c.change_pct),
            interval(c),
            verdict
        ));
    }
    for d in &file.settings_differences {
        out.push_str(&format!("\nSettings differ: {d}"));
    }
    out.push_str(&format!(
        "\n\nA regression is a change whose {level}% interval lies wholly on the worse side and \
         that is larger than the margin; see aiperf's docs/compare.md.\n"
    ));
    out
}

/// A JUnit report: one suite per scope, one case per metric; a regression is a failure, an
/// untested metric is skipped.
fn junit(file: &CompareFile) -> Result<String, AppError> {
    use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};
    let mut report = Report::new("aiperf compare");
    let mut scopes: Vec<&str> = Vec::new();
    for c in &file.comparisons {
        if !scopes.contains(&c.scope.as_str()) {
            scopes.push(&c.scope);
        }
    }
    for scope in scopes {
        let mut suite = TestSuite::new(scope);
        for c in file.comparisons.iter().filter(|c| c.scope == scope) {
            let detail = format!(
                "baseline {}, candidate {}, change {} ({}), CI {}; {}",
                num(c.baseline),
                num(c.candidate),
                signed(c.change),
                pct(c.change_pct),
                interval(c),
                c.method
            );
            let status = match c.verdict {
                Verdict::Regression => {
                    let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                    s.set_message(format!(
                        "regression beyond the {}% margin",
                        c.max_regression_pct
                    ))
                    .set_description(detail.clone());
                    s
                }
                Verdict::NotTested => {
                    let mut s = TestCaseStatus::skipped();
                    s.set_message(c.note.clone().unwrap_or_else(|| "not tested".into()));
                    s
                }
                _ => TestCaseStatus::success(),
            };
            let name = subject(c);
            let name = name.split(" (").next().unwrap_or(&name).to_string();
            let mut case = TestCase::new(name, status);
            case.set_classname(format!("aiperf.compare.{scope}"));
            case.set_system_out(detail);
            suite.add_test_case(case);
        }
        report.add_test_suite(suite);
    }
    report
        .to_string()
        .map_err(|e| AppError::failure(format!("cannot write the JUnit report: {e}")))
}
