//! How a comparison is shown: a console table, GitHub-flavoured Markdown, and a JUnit report
//! (quick-junit) with one test case per compared metric.

use crate::artifacts::compare_file::{CompareFile, MetricComparison, Verdict};
use crate::exit_code::ExitCode;

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

/// The console table, the headline and any settings that differ.
pub fn table(file: &CompareFile) -> String {
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
    for c in &file.client_bound {
        out.push_str(&format!(
            "warning: the client, not the server, limited {c}: a change there may be the client's\n"
        ));
    }
    out
}

/// Markdown for a pull-request comment or a CI job summary.
pub fn markdown(file: &CompareFile) -> String {
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
    for c in &file.client_bound {
        out.push_str(&format!(
            "\n⚠️ The client, not the server, limited {c}: a change there may be the client's."
        ));
    }
    out.push_str(&format!(
        "\n\nA regression is a change whose {level}% interval lies wholly on the worse side and \
         that is larger than the margin; see aiperf's docs/compare.md.\n"
    ));
    out
}

/// A JUnit report: one suite per scope, one case per metric; a regression is a failure, an
/// untested metric is skipped.
pub fn junit(file: &CompareFile) -> Result<String, String> {
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
        .map_err(|e| format!("cannot write the JUnit report: {e}"))
}

/// 10 when the comparison found a regression (saying so on stderr), else 0.
pub fn exit_code(file: &CompareFile, written: &std::path::Path) -> ExitCode {
    let regressions = file
        .comparisons
        .iter()
        .filter(|c| c.verdict == Verdict::Regression)
        .count();
    if regressions > 0 {
        eprintln!(
            "error: {regressions} regression(s) against the baseline (see {})",
            written.display()
        );
        ExitCode::REGRESSION
    } else {
        ExitCode::SUCCESS
    }
}
