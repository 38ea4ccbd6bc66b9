//! The plots of `aiperf compare --plot DIR`, drawn from `compare.json` and the two result
//! directories it names (the files on disk, like every plot):
//!
//! - one scope (two runs): per compared per-request metric, the baseline's and the
//!   candidate's distributions as CDFs, the verdict and interval in the subtitle;
//! - several scopes (sweeps, cell by cell): per compared metric, the change in percent per cell
//!   with its confidence interval as a whisker, coloured by verdict.

use super::canvas::{self, Axis, legend_dot, legend_line};
use super::metric_name;
use crate::artifacts::compare_file::{CompareFile, MetricComparison, Verdict};
use crate::gate::compare::RunSamples;
use crate::registry::{MetricId, MetricKind};
use crate::spec::plot::Theme;
use anyhow::{Result, bail};
use plotters::prelude::*;
use std::path::{Path, PathBuf};

/// Draws every comparison plot of `file` into `out_dir`; returns the PNGs written.
pub fn draw(file: &CompareFile, out_dir: &Path, theme: Theme) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(out_dir)?;
    let mut scopes: Vec<&str> = Vec::new();
    for c in &file.comparisons {
        if !scopes.contains(&c.scope.as_str()) {
            scopes.push(&c.scope);
        }
    }
    let mut written = Vec::new();
    if scopes.len() == 1 {
        let tags: Vec<&str> = file.comparisons.iter().map(|c| c.metric.as_str()).collect();
        let keep = |tag: &str| tags.contains(&tag);
        let baseline = crate::gate::inputs::read_result(Path::new(&file.baseline), &keep)
            .map_err(anyhow::Error::msg)?;
        let candidate = crate::gate::inputs::read_result(Path::new(&file.candidate), &keep)
            .map_err(anyhow::Error::msg)?;
        let pooled = |scopes: &[(String, Vec<RunSamples>)], tag: &str| -> Vec<f64> {
            let mut v: Vec<f64> = scopes
                .iter()
                .flat_map(|(_, runs)| runs)
                .flat_map(|r| r.values.get(tag).into_iter().flatten().copied())
                .filter(|v| v.is_finite())
                .collect();
            v.sort_by(f64::total_cmp);
            v
        };
        for c in &file.comparisons {
            let per_request =
                MetricId::from_tag(&c.metric).is_some_and(|m| m.def().kind == MetricKind::Record);
            if !per_request {
                continue;
            }
            let (b, k) = (pooled(&baseline, &c.metric), pooled(&candidate, &c.metric));
            if b.is_empty() || k.is_empty() {
                continue;
            }
            let path = out_dir.join(format!("compare_{}_cdf.png", c.metric));
            if written.contains(&path) {
                continue;
            }
            cdf(&path, theme, c, &b, &k)?;
            written.push(path);
        }
    } else {
        let mut subjects: Vec<(&str, &str)> = Vec::new();
        for c in &file.comparisons {
            if !subjects.contains(&(c.metric.as_str(), c.stat.as_str())) {
                subjects.push((&c.metric, &c.stat));
            }
        }
        for (metric, stat) in subjects {
            let rows: Vec<&MetricComparison> = file
                .comparisons
                .iter()
                .filter(|c| c.metric == metric && c.stat == stat)
                .collect();
            if rows.iter().all(|c| c.change_pct.is_none()) {
                continue;
            }
            let path = out_dir.join(format!("compare_{metric}_{stat}_deltas.png"));
            deltas(&path, theme, &rows)?;
            written.push(path);
        }
    }
    if written.is_empty() {
        bail!("nothing to draw: no compared metric has values on both sides");
    }
    Ok(written)
}

/// What the comparison found, in one line.
fn finding(c: &MetricComparison) -> String {
    let pct = |v: Option<f64>| v.map_or("-".into(), |p| format!("{p:+.1}%"));
    let base = c.baseline.unwrap_or(0.0).abs();
    let ci = match (c.ci_low, c.ci_high) {
        (Some(l), Some(h)) if base > 0.0 => {
            format!(
                " [{}, {}]",
                pct(Some(l / base * 100.0)),
                pct(Some(h / base * 100.0))
            )
        }
        _ => String::new(),
    };
    format!(
        "{} {}{ci}: {}",
        c.stat,
        pct(c.change_pct),
        c.verdict.label()
    )
}

fn cdf(
    path: &Path,
    theme: Theme,
    c: &MetricComparison,
    baseline: &[f64],
    candidate: &[f64],
) -> Result<()> {
    let ends = [
        baseline[0],
        baseline[baseline.len() - 1],
        candidate[0],
        candidate[candidate.len() - 1],
    ];
    let unit = c.unit.as_deref().unwrap_or("");
    let x = Axis::auto(
        format!("{} ({unit})", metric_name(&c.metric)),
        &ends,
        20.0,
        false,
    );
    let y = Axis::linear("Requests at or below (%)", [0.0, 100.0], true);
    canvas::xy_plot(
        path,
        theme,
        &format!("{}: baseline vs candidate (CDF)", metric_name(&c.metric)),
        Some(&finding(c)),
        &x,
        &y,
        Some(SeriesLabelPosition::LowerRight),
        |chart, palette| {
            for (k, (name, v)) in [("baseline", baseline), ("candidate", candidate)]
                .into_iter()
                .enumerate()
            {
                let pts = canvas::cdf_points(&x, v);
                let color = palette.series(k);
                chart
                    .draw_series(LineSeries::new(pts, color.stroke_width(3)))
                    .map_err(canvas::drawing)?
                    .label(format!("{name} ({} requests)", v.len()))
                    .legend(legend_line(color));
            }
            Ok(())
        },
    )
}

/// One cell's point: its slot, its change in percent, and the interval's ends in percent.
type Delta = (f64, f64, Option<(f64, f64)>);

fn deltas(path: &Path, theme: Theme, rows: &[&MetricComparison]) -> Result<()> {
    let percent = |c: &MetricComparison, v: Option<f64>| -> Option<f64> {
        let base = c.baseline?.abs();
        v.filter(|_| base > 0.0).map(|v| v / base * 100.0)
    };
    let mut values = vec![
        0.0,
        rows[0].max_regression_pct
            * if rows[0].better == "higher" {
                -1.0
            } else {
                1.0
            },
    ];
    for c in rows {
        values.extend(percent(c, c.ci_low));
        values.extend(percent(c, c.ci_high));
        values.extend(c.change_pct);
    }
    let first = rows[0];
    let x = Axis::categories("cell", rows.iter().map(|c| c.scope.clone()).collect());
    let y = Axis::linear("change (%), with its confidence interval", values, false);
    let subject =
        if MetricId::from_tag(&first.metric).is_some_and(|m| m.def().kind == MetricKind::Scalar) {
            metric_name(&first.metric)
        } else {
            format!("{} {}", metric_name(&first.metric), first.stat)
        };
    canvas::xy_plot(
        path,
        theme,
        &format!("{subject}: candidate vs baseline, per cell"),
        Some(&format!(
            "{} is better; margin {}%",
            first.better, first.max_regression_pct
        )),
        &x,
        &y,
        Some(SeriesLabelPosition::UpperRight),
        |chart, palette| {
            let zero = [(x.range.start, 0.0), (x.range.end, 0.0)];
            chart
                .draw_series(LineSeries::new(zero, palette.foreground.stroke_width(1)))
                .map_err(canvas::drawing)?;
            // The margin on the worse side: beyond it a significant change is a regression.
            let worse = if first.better == "higher" { -1.0 } else { 1.0 };
            let margin = worse * first.max_regression_pct;
            chart
                .draw_series(DashedLineSeries::new(
                    [(x.range.start, margin), (x.range.end, margin)],
                    8,
                    5,
                    palette.bad.stroke_width(1),
                ))
                .map_err(canvas::drawing)?
                .label(format!("margin {margin:+}%"))
                .legend(legend_line(palette.bad));
            for (verdict, color) in [
                (Verdict::Regression, palette.bad),
                (Verdict::Improvement, palette.good),
                (Verdict::NoSignificantChange, palette.series(0)),
            ] {
                let points: Vec<Delta> = rows
                    .iter()
                    .enumerate()
                    .filter(|(_, c)| c.verdict == verdict)
                    .filter_map(|(i, c)| {
                        let whisker = percent(c, c.ci_low).zip(percent(c, c.ci_high));
                        Some((i as f64, c.change_pct?, whisker))
                    })
                    .collect();
                if points.is_empty() {
                    continue;
                }
                for (at, _, whisker) in &points {
                    if let Some((lo, hi)) = whisker {
                        chart
                            .draw_series(LineSeries::new(
                                [(*at, *lo), (*at, *hi)],
                                color.stroke_width(3),
                            ))
                            .map_err(canvas::drawing)?;
                    }
                }
                chart
                    .draw_series(
                        points
                            .iter()
                            .map(|(at, v, _)| Circle::new((*at, *v), 7, color.filled())),
                    )
                    .map_err(canvas::drawing)?
                    .label(verdict.label())
                    .legend(legend_dot(color));
            }
            Ok(())
        },
    )
}
