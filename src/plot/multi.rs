//! Plots across runs: one point per sweep cell (from the sweep aggregate) or per run directory.
//! Throughput against latency with the Pareto front, TTFT against throughput, and every key
//! metric against every swept parameter with its confidence band.

use super::canvas::{self, Axis, format_value, legend_dot, legend_line};
use super::config::{MultiRunKind, MultiRunPlot};
pub use super::points::{MultiRun, Point, Stat, show};
use super::{Drawn, PlotContext, metric_label};
use anyhow::Result;
use plotters::prelude::*;
use serde_json::Value;

/// Draws a user-defined multi-run plot.
pub fn draw_custom(
    ctx: &PlotContext<'_>,
    runs: &MultiRun,
    name: &str,
    plot: &MultiRunPlot,
) -> Result<Drawn> {
    let default_title = format!(
        "{} {} vs {} {}",
        super::metric_name(&plot.y.metric),
        plot.y.stat,
        super::metric_name(&plot.x.metric),
        plot.x.stat
    );
    xy(
        ctx,
        runs,
        name,
        (&plot.x.metric, &plot.x.stat),
        (&plot.y.metric, &plot.y.stat),
        plot.kind,
        plot.title.as_deref().unwrap_or(&default_title),
    )
}

/// A series key: the source, plus every parameter but the first (so each line walks the first).
fn series_key(p: &Point) -> String {
    let rest: Vec<String> = p
        .params
        .iter()
        .skip(1)
        .map(|(k, v)| format!("{k}={}", show(v)))
        .collect();
    match (p.series.is_empty(), rest.is_empty()) {
        (true, true) => String::new(),
        (true, false) => rest.join(", "),
        (false, true) => p.series.clone(),
        (false, false) => format!("{}: {}", p.series, rest.join(", ")),
    }
}

fn first_param_value(p: &Point) -> f64 {
    p.params
        .first()
        .and_then(|(_, v)| v.as_f64())
        .unwrap_or(f64::NAN)
}

/// Labels drawn beside points; more than this many would cover the plot.
const MAX_POINT_LABELS: usize = 40;

#[allow(clippy::too_many_arguments)]
pub(super) fn xy(
    ctx: &PlotContext<'_>,
    runs: &MultiRun,
    name: &str,
    (x_tag, x_stat): (&str, &str),
    (y_tag, y_stat): (&str, &str),
    kind: MultiRunKind,
    title: &str,
) -> Result<Drawn> {
    let (xk, yk) = (format!("{x_tag}_{x_stat}"), format!("{y_tag}_{y_stat}"));
    let pts: Vec<(&Point, Stat, Stat)> = runs
        .points
        .iter()
        .filter_map(|p| Some((p, p.get(&xk)?, p.get(&yk)?)))
        .collect();
    if pts.is_empty() {
        return Ok(Drawn::Skipped(format!("no point has both {xk} and {yk}")));
    }
    let xs = pts.iter().flat_map(|(_, x, _)| {
        [
            x.mean,
            x.ci.map_or(x.mean, |c| c.0),
            x.ci.map_or(x.mean, |c| c.1),
        ]
    });
    let ys = pts.iter().flat_map(|(_, _, y)| {
        [
            y.mean,
            y.ci.map_or(y.mean, |c| c.0),
            y.ci.map_or(y.mean, |c| c.1),
        ]
    });
    let x = Axis::linear(format!("{} {x_stat}", metric_label(x_tag)), xs, true);
    let y = Axis::linear(format!("{} {y_stat}", metric_label(y_tag)), ys, true);
    let front: Vec<usize> = if kind == MultiRunKind::Pareto {
        let coords: Vec<(f64, f64)> = pts.iter().map(|(_, x, y)| (y.mean, x.mean)).collect();
        crate::aggregate::sweep::pareto_front(&coords)
    } else {
        vec![]
    };
    let mut series: Vec<String> = Vec::new();
    for (p, _, _) in &pts {
        let key = series_key(p);
        if !series.contains(&key) {
            series.push(key);
        }
    }
    let path = ctx.png(name);
    let subtitle = format!(
        "{}{}",
        runs.subtitle,
        if runs.has_intervals() {
            format!(
                "  ·  crosshairs: {:.0}% confidence intervals",
                runs.confidence_level * 100.0
            )
        } else {
            String::new()
        }
    );
    let legend_at = if kind == MultiRunKind::Pareto {
        SeriesLabelPosition::LowerRight
    } else {
        // Throughput and latency rise together, so the upper left is usually empty.
        SeriesLabelPosition::UpperLeft
    };
    canvas::xy_plot(
        &path,
        ctx.theme,
        title,
        Some(&subtitle),
        &x,
        &y,
        Some(legend_at),
        |chart, palette| {
            for (s, key) in series.iter().enumerate() {
                let color = palette.series(s);
                let mut mine: Vec<&(&Point, Stat, Stat)> = pts
                    .iter()
                    .filter(|(p, _, _)| &series_key(p) == key)
                    .collect();
                mine.sort_by(|a, b| first_param_value(a.0).total_cmp(&first_param_value(b.0)));
                let centres: Vec<(f64, f64)> =
                    mine.iter().map(|(_, x, y)| (x.mean, y.mean)).collect();
                if kind == MultiRunKind::ScatterLine && centres.len() > 1 {
                    chart
                        .draw_series(LineSeries::new(
                            centres.iter().copied(),
                            color.stroke_width(2),
                        ))
                        .map_err(canvas::drawing)?;
                }
                for (_, xs, ys) in &mine {
                    if let Some((lo, hi)) = xs.ci {
                        chart
                            .draw_series([PathElement::new(
                                vec![(lo, ys.mean), (hi, ys.mean)],
                                color.stroke_width(1),
                            )])
                            .map_err(canvas::drawing)?;
                    }
                    if let Some((lo, hi)) = ys.ci {
                        chart
                            .draw_series([PathElement::new(
                                vec![(xs.mean, lo), (xs.mean, hi)],
                                color.stroke_width(1),
                            )])
                            .map_err(canvas::drawing)?;
                    }
                }
                let shown = if key.is_empty() {
                    format!("{} points", centres.len())
                } else {
                    key.clone()
                };
                chart
                    .draw_series(centres.iter().map(|&c| Circle::new(c, 5, color.filled())))
                    .map_err(canvas::drawing)?
                    .label(shown)
                    .legend(legend_dot(color));
            }
            if !front.is_empty() {
                let mut line: Vec<(f64, f64)> = front
                    .iter()
                    .map(|&i| (pts[i].1.mean, pts[i].2.mean))
                    .collect();
                line.sort_by(|a, b| a.0.total_cmp(&b.0));
                let c = palette.highlight;
                chart
                    .draw_series(LineSeries::new(line.iter().copied(), c.stroke_width(3)))
                    .map_err(canvas::drawing)?
                    .label(format!("Pareto front ({} points)", line.len()))
                    .legend(legend_line(c));
                chart
                    .draw_series(line.iter().map(|&p| Circle::new(p, 8, c.stroke_width(3))))
                    .map_err(canvas::drawing)?;
            }
            if pts.len() <= MAX_POINT_LABELS {
                let style = canvas::text(13, palette);
                chart
                    .draw_series(pts.iter().map(|(p, xs, ys)| {
                        let label = p.label();
                        let offset = canvas::label_offset(&x, xs.mean, &label);
                        EmptyElement::at((xs.mean, ys.mean))
                            + Text::new(label, offset, style.clone())
                    }))
                    .map_err(canvas::drawing)?;
            }
            Ok(())
        },
    )?;
    Ok(Drawn::File(path))
}

/// The metrics drawn against every parameter, in this order.
const KEY_METRICS: &[(&str, &str)] = &[
    ("output_token_throughput", "avg"),
    ("request_throughput", "avg"),
    ("time_to_first_token", "avg"),
    ("time_to_first_token", "p99"),
    ("inter_token_latency", "avg"),
    ("request_latency", "avg"),
    ("request_latency", "p99"),
    ("goodput", "avg"),
];

/// The x axis for a parameter: categorical for names and for wide numeric ranges (which are
/// usually geometric: 1, 2, 4, ...), linear otherwise.
fn parameter_axis(name: &str, values: &[Value]) -> (Axis, Vec<f64>) {
    let numbers: Option<Vec<f64>> = values.iter().map(Value::as_f64).collect();
    match numbers {
        Some(nums) if !nums.is_empty() => {
            let (lo, hi) = canvas::extent(nums.iter().copied());
            if lo > 0.0 && hi / lo >= 8.0 && nums.len() <= 16 {
                let labels = nums.iter().map(|v| format_value(*v)).collect();
                (
                    Axis::categories(name, labels),
                    (0..nums.len()).map(|i| i as f64).collect(),
                )
            } else {
                (Axis::linear(name, nums.iter().copied(), false), nums)
            }
        }
        _ => {
            let labels = values.iter().map(show).collect();
            (
                Axis::categories(name, labels),
                (0..values.len()).map(|i| i as f64).collect(),
            )
        }
    }
}

fn sorted_unique(values: impl IntoIterator<Item = Value>) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::new();
    for v in values {
        if !out.contains(&v) {
            out.push(v);
        }
    }
    if out.iter().all(Value::is_number) {
        out.sort_by(|a, b| {
            a.as_f64()
                .unwrap_or(0.0)
                .total_cmp(&b.as_f64().unwrap_or(0.0))
        });
    }
    out
}

pub(super) fn metrics_vs_parameters(ctx: &PlotContext<'_>, runs: &MultiRun) -> Result<Drawn> {
    let mut files = Vec::new();
    let no_params = runs.param_names.is_empty();
    for &(tag, stat) in KEY_METRICS {
        let key = format!("{tag}_{stat}");
        if !runs.points.iter().any(|p| p.get(&key).is_some()) {
            continue;
        }
        if no_params {
            files.push(by_run(ctx, runs, tag, stat)?);
            continue;
        }
        for (pi, param) in runs.param_names.iter().enumerate() {
            let value_of = |p: &Point| {
                p.params
                    .iter()
                    .find(|(k, _)| k == param)
                    .map(|(_, v)| v.clone())
            };
            let values = sorted_unique(runs.points.iter().filter_map(value_of));
            if values.is_empty() {
                continue;
            }
            let (x, positions) = parameter_axis(param, &values);
            // One line per combination of the other parameters (and per source).
            let others = |p: &Point| {
                let rest: Vec<String> = p
                    .params
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| *i != pi)
                    .map(|(_, (k, v))| format!("{k}={}", show(v)))
                    .collect();
                [p.series.clone(), rest.join(", ")]
                    .into_iter()
                    .filter(|s| !s.is_empty())
                    .collect::<Vec<_>>()
                    .join(": ")
            };
            let mut lines: Vec<(String, Vec<(f64, Stat)>)> = Vec::new();
            for p in &runs.points {
                let (Some(v), Some(s)) = (value_of(p), p.get(&key)) else {
                    continue;
                };
                let Some(i) = values.iter().position(|x| *x == v) else {
                    continue;
                };
                let name = others(p);
                match lines.iter_mut().find(|(n, _)| *n == name) {
                    Some((_, pts)) => pts.push((positions[i], s)),
                    None => lines.push((name, vec![(positions[i], s)])),
                }
            }
            for (_, pts) in &mut lines {
                pts.sort_by(|a, b| a.0.total_cmp(&b.0));
            }
            let file = format!("{key}_vs_{param}");
            files.push(band_plot(ctx, runs, &file, tag, stat, &x, &lines)?);
        }
    }
    if files.is_empty() {
        return Ok(Drawn::Skipped("no point has any of the key metrics".into()));
    }
    Ok(Drawn::Files(files))
}

/// Lines of means with their confidence band, one per series.
fn band_plot(
    ctx: &PlotContext<'_>,
    runs: &MultiRun,
    file: &str,
    tag: &str,
    stat: &str,
    x: &Axis,
    lines: &[(String, Vec<(f64, Stat)>)],
) -> Result<std::path::PathBuf> {
    let values = lines.iter().flat_map(|(_, pts)| {
        pts.iter().flat_map(|(_, s)| {
            [
                s.mean,
                s.ci.map_or(s.mean, |c| c.0),
                s.ci.map_or(s.mean, |c| c.1),
            ]
        })
    });
    let y = Axis::linear(format!("{} {stat}", metric_label(tag)), values, true);
    let path = ctx.png(file);
    let with_ci = lines
        .iter()
        .any(|(_, pts)| pts.iter().any(|(_, s)| s.ci.is_some()));
    let title = format!("{} {stat} vs {}", super::metric_name(tag), x.label);
    let subtitle = if with_ci {
        format!(
            "{}  ·  band: {:.0}% confidence interval of the mean",
            runs.subtitle,
            runs.confidence_level * 100.0
        )
    } else {
        runs.subtitle.clone()
    };
    canvas::xy_plot(
        &path,
        ctx.theme,
        &title,
        Some(&subtitle),
        x,
        &y,
        Some(SeriesLabelPosition::UpperLeft),
        |chart, palette| {
            for (s, (name, pts)) in lines.iter().enumerate() {
                let color = palette.series(s);
                let band: Vec<(f64, f64)> = pts
                    .iter()
                    .filter_map(|(x, st)| st.ci.map(|c| (*x, c.1)))
                    .chain(
                        pts.iter()
                            .rev()
                            .filter_map(|(x, st)| st.ci.map(|c| (*x, c.0))),
                    )
                    .collect();
                if band.len() >= 4 {
                    chart
                        .draw_series([Polygon::new(band, color.mix(0.18).filled())])
                        .map_err(canvas::drawing)?;
                }
                for (xv, st) in pts {
                    if let Some((lo, hi)) = st.ci {
                        chart
                            .draw_series([PathElement::new(
                                vec![(*xv, lo), (*xv, hi)],
                                color.stroke_width(2),
                            )])
                            .map_err(canvas::drawing)?;
                    }
                }
                chart
                    .draw_series(LineSeries::new(
                        pts.iter().map(|(x, s)| (*x, s.mean)),
                        color.stroke_width(3),
                    ))
                    .map_err(canvas::drawing)?;
                let shown = if name.is_empty() {
                    "mean".to_string()
                } else {
                    name.clone()
                };
                chart
                    .draw_series(
                        pts.iter()
                            .map(|(x, s)| Circle::new((*x, s.mean), 5, color.filled())),
                    )
                    .map_err(canvas::drawing)?
                    .label(shown)
                    .legend(legend_dot(color));
            }
            Ok(())
        },
    )?;
    Ok(path)
}

/// Repeated runs of one configuration: each run's value, their mean and its confidence interval.
fn by_run(
    ctx: &PlotContext<'_>,
    runs: &MultiRun,
    tag: &str,
    stat: &str,
) -> Result<std::path::PathBuf> {
    let key = format!("{tag}_{stat}");
    let pts: Vec<(String, f64)> = runs
        .points
        .iter()
        .filter_map(|p| Some((p.label(), p.get(&key)?.mean)))
        .collect();
    let values: Vec<f64> = pts.iter().map(|p| p.1).collect();
    let summary = crate::aggregate::confidence::confidence(&values, runs.confidence_level);
    let x = Axis::categories("Run", pts.iter().map(|p| p.0.clone()).collect());
    let extra = summary.iter().flat_map(|c| [c.ci_low, c.ci_high]);
    let y = Axis::linear(
        format!("{} {stat}", metric_label(tag)),
        values.iter().copied().chain(extra),
        true,
    );
    let path = ctx.png(&format!("{key}_by_run"));
    let title = format!("{} {stat} per run", super::metric_name(tag));
    canvas::xy_plot(
        &path,
        ctx.theme,
        &title,
        Some(&runs.subtitle),
        &x,
        &y,
        Some(SeriesLabelPosition::LowerRight),
        |chart, palette| {
            let (x0, x1) = (x.range.start, x.range.end);
            if let Some(c) = summary.filter(|c| c.n > 1) {
                let band = palette.series(1);
                chart
                    .draw_series([Rectangle::new(
                        [(x0, c.ci_low), (x1, c.ci_high)],
                        band.mix(0.2).filled(),
                    )])
                    .map_err(canvas::drawing)?
                    .label(format!(
                        "{:.0}% CI of the mean [{}, {}]",
                        runs.confidence_level * 100.0,
                        format_value(c.ci_low),
                        format_value(c.ci_high)
                    ))
                    .legend(legend_line(band));
                chart
                    .draw_series(LineSeries::new(
                        [(x0, c.mean), (x1, c.mean)],
                        band.stroke_width(2),
                    ))
                    .map_err(canvas::drawing)?
                    .label(format!(
                        "mean {} (CV {:.1}%)",
                        format_value(c.mean),
                        c.cv * 100.0
                    ))
                    .legend(legend_line(band));
            }
            let color = palette.series(0);
            chart
                .draw_series(
                    pts.iter()
                        .enumerate()
                        .map(|(i, p)| Circle::new((i as f64, p.1), 6, color.filled())),
                )
                .map_err(canvas::drawing)?
                .label(format!("{} runs", pts.len()))
                .legend(legend_dot(color));
            Ok(())
        },
    )?;
    Ok(path)
}
