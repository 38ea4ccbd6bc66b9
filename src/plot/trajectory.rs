//! The search trajectory: an adaptive search's points in the order it measured them, the
//! objective above (feasible and infeasible points, the answer ringed), and below the first SLA
//! metric of every point against its threshold.

use super::canvas::{self, Axis, format_value, legend_dot, legend_line};
use super::data::Summary;
use super::multi::show;
use super::{Drawn, PlotContext, metric_label, metric_name};
use crate::artifacts::search_history::{Iteration, SearchHistory};
use crate::spec::recipe::{ConstraintOp, Direction, PlannerSpec};
use anyhow::{Context, Result};
use plotters::prelude::*;
use serde_json::Value;
use std::path::Path;

/// One constraint of a search, with its value at each point.
struct Constraint {
    metric: String,
    stat: String,
    threshold: f64,
    op: String,
    values: Vec<Option<f64>>,
}

/// The comparison as the history writes it (`lt`).
fn op_name(op: ConstraintOp) -> &'static str {
    match op {
        ConstraintOp::Lt => "lt",
        ConstraintOp::Le => "le",
        ConstraintOp::Gt => "gt",
        ConstraintOp::Ge => "ge",
    }
}

/// The mean of `metric stat` over a point's runs, read from their summaries.
fn mean_over_runs(base: &Path, runs: &[String], metric: &str, stat: &str) -> Option<f64> {
    let values: Vec<f64> = runs
        .iter()
        .filter_map(|r| {
            Summary::read(
                &base
                    .join(r)
                    .join(crate::artifacts::names::PROFILE_EXPORT_JSON),
            )
            .ok()
        })
        .filter_map(|s| s.stat(metric, stat))
        .collect();
    (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
}

pub(super) fn search_trajectory(
    ctx: &PlotContext<'_>,
    doc: &Value,
    history: &Path,
    out: &Path,
) -> Result<Drawn> {
    let hist: SearchHistory = serde_json::from_value(doc.clone())
        .with_context(|| format!("{} is not a search history", history.display()))?;
    let base = history.parent().unwrap_or(Path::new("."));
    let iterations = &hist.iterations;
    let objective: Vec<Option<f64>> = iterations
        .iter()
        .map(|i| {
            i.objective_values
                .as_ref()
                .and_then(|v| v.first().copied())
                .filter(|v| v.is_finite())
        })
        .collect();
    if objective.iter().all(Option::is_none) {
        return Ok(Drawn::Skipped(
            "the search has no measured points yet".into(),
        ));
    }
    let feasible: Vec<bool> = iterations.iter().map(|i| i.feasible).collect();
    let knob = |i: &Iteration| -> String {
        i.variation_values
            .iter()
            .map(|(k, v)| format!("{}={}", k.rsplit('.').next().unwrap_or(k), show(v)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let obj = hist.config.objective.as_ref();
    let (om, os) = (
        obj.map_or("objective", |o| o.metric.as_str()),
        obj.map_or("avg", |o| o.stat.as_str()),
    );
    let constraints: Vec<Constraint> = hist
        .config
        .sla_filters
        .iter()
        .filter(|s| s.threshold.is_finite())
        .map(|s| Constraint {
            threshold: s.threshold,
            op: op_name(s.op).to_string(),
            metric: s.metric.clone(),
            stat: s.stat.clone(),
            values: iterations
                .iter()
                .map(|i| mean_over_runs(base, &i.runs, &s.metric, &s.stat))
                .collect(),
        })
        .collect();
    // The answer as the search states it: the boundary planner's highest passing point, the
    // Bayesian (and grid) planner's best feasible point.
    let best_feasible = || {
        hist.best_trials
            .as_ref()
            .and_then(|b| b.first())
            .filter(|b| b.feasible)
            .map(|b| b.iteration_idx)
    };
    let answer_idx = if matches!(hist.config.planner, Some(PlannerSpec::Boundary { .. })) {
        hist.boundary_summary
            .as_ref()
            .and_then(|b| b.feasible_max.as_ref())
            .map(|m| m.iteration_idx)
            .or_else(best_feasible)
    } else {
        best_feasible()
    }
    .filter(|i| *i < iterations.len());
    let reason = hist.convergence_reason.as_deref().unwrap_or("running");
    let recipe = hist.recipe.as_deref().unwrap_or("search");
    let title = match answer_idx {
        Some(i) => format!(
            "Search trajectory: answer {} at point {}",
            knob(&iterations[i]),
            i + 1
        ),
        None => "Search trajectory: no point met the SLA".to_string(),
    };
    let direction = match obj.map(|o| o.direction) {
        Some(Direction::Minimize) => "minimize",
        _ => "maximize",
    };
    let subtitle = format!(
        "{recipe}  ·  objective: {direction} {} {os}  ·  {} points  ·  stopped: {reason}  ·  from {}",
        metric_name(om),
        iterations.len(),
        history.display()
    );
    let palette = ctx.theme.palette();
    let n = iterations.len() as f64;
    canvas::render_png(out, ctx.theme, |root| {
        let area = canvas::titled(root, &title, Some(&subtitle), &palette)?;
        let panels: Vec<_> = if constraints.is_empty() {
            vec![area]
        } else {
            let (_, h) = area.dim_in_pixel();
            let (top, bottom) = area.split_vertically(h / 2);
            vec![top, bottom]
        };
        let x = Axis::linear("Point (in the order measured)", [1.0, n], false);
        // Top: the objective, feasible and infeasible points, the answer.
        // The metric's full name is in the subtitle; half a canvas has room only for the unit.
        let unit = crate::metrics::MetricId::from_tag(om)
            .map(|m| m.def().unit.as_str())
            .unwrap_or("");
        let y = Axis::linear(
            format!("Objective ({unit})"),
            objective.iter().flatten().copied(),
            true,
        );
        let mut chart = canvas::chart(&panels[0], &x, &y, &palette)?;
        let pts: Vec<(f64, Option<f64>, bool)> = objective
            .iter()
            .enumerate()
            .map(|(i, o)| ((i + 1) as f64, *o, feasible[i]))
            .collect();
        let line: Vec<(f64, f64)> = pts
            .iter()
            .filter_map(|(x, o, _)| Some((*x, (*o)?)))
            .collect();
        chart
            .draw_series(LineSeries::new(line, palette.grid.stroke_width(2)))
            .map_err(canvas::drawing)?;
        chart
            .draw_series(
                pts.iter().filter(|p| p.2).filter_map(|(x, o, _)| {
                    Some(Circle::new((*x, (*o)?), 7, palette.good.filled()))
                }),
            )
            .map_err(canvas::drawing)?
            .label("meets the SLA")
            .legend(legend_dot(palette.good));
        chart
            .draw_series(pts.iter().filter(|p| !p.2).filter_map(|(x, o, _)| {
                Some(Cross::new((*x, (*o)?), 8, palette.bad.stroke_width(3)))
            }))
            .map_err(canvas::drawing)?
            .label("breaks the SLA")
            .legend(legend_dot(palette.bad));
        if let Some(i) = answer_idx
            && let Some(o) = objective[i]
        {
            chart
                .draw_series([Circle::new(
                    ((i + 1) as f64, o),
                    14,
                    palette.highlight.stroke_width(4),
                )])
                .map_err(canvas::drawing)?
                .label(format!(
                    "answer: {} -> {}",
                    knob(&iterations[i]),
                    format_value(o)
                ))
                .legend(legend_dot(palette.highlight));
        }
        let style = canvas::text(12, &palette);
        chart
            .draw_series(pts.iter().enumerate().filter_map(|(i, (x, o, _))| {
                Some(
                    EmptyElement::at((*x, (*o)?))
                        + Text::new(knob(&iterations[i]), (8, 10), style.clone()),
                )
            }))
            .map_err(canvas::drawing)?;
        canvas::legend(&mut chart, &palette, SeriesLabelPosition::LowerRight)?;
        // Bottom: the first constraint's metric against its threshold.
        if let (Some(c), Some(panel)) = (constraints.first(), panels.get(1)) {
            let y = Axis::linear(
                format!("{} {}", metric_label(&c.metric), c.stat),
                c.values.iter().flatten().copied().chain([c.threshold]),
                true,
            );
            let mut chart = canvas::chart(panel, &x, &y, &palette)?;
            let pts: Vec<(f64, f64, bool)> = c
                .values
                .iter()
                .enumerate()
                .filter_map(|(i, v)| Some(((i + 1) as f64, (*v)?, feasible[i])))
                .collect();
            chart
                .draw_series(pts.iter().map(|(x, v, ok)| {
                    Circle::new(
                        (*x, *v),
                        6,
                        if *ok {
                            palette.good.filled()
                        } else {
                            palette.bad.filled()
                        },
                    )
                }))
                .map_err(canvas::drawing)?
                .label(format!("{} {}", metric_name(&c.metric), c.stat))
                .legend(legend_dot(palette.series(0)));
            let op = match c.op.as_str() {
                "lt" => "<",
                "le" => "≤",
                "gt" => ">",
                "ge" => "≥",
                other => other,
            };
            chart
                .draw_series(DashedLineSeries::new(
                    [(x.range.start, c.threshold), (x.range.end, c.threshold)],
                    10,
                    6,
                    palette.bad.stroke_width(2),
                ))
                .map_err(canvas::drawing)?
                .label(format!("SLA: {op} {}", format_value(c.threshold)))
                .legend(legend_line(palette.bad));
            // Upper limits keep passing points low, lower limits keep them high.
            let corner = if matches!(c.op.as_str(), "lt" | "le") {
                SeriesLabelPosition::UpperLeft
            } else {
                SeriesLabelPosition::LowerLeft
            };
            canvas::legend(&mut chart, &palette, corner)?;
        }
        Ok(())
    })?;
    Ok(Drawn::File(out.to_path_buf()))
}
