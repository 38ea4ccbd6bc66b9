//! Plots of search recipes, drawn from the files the recipes write: the concurrency-ramp knee,
//! the prefill TTFT curve with its fit, the decode ITL surface as a heatmap, the pareto-sweep
//! cells, and the trajectory of an adaptive search with its SLA and answer.

use super::canvas::{self, Axis, format_value, legend_dot, legend_line};
use super::detect::Source;
use super::multi::show;
use super::{Drawn, PlotContext, metric_label, metric_name};
use crate::artifacts::analyses::{
    AnalysisHeader, DecodeItlSurface, DegradationKnee, ParetoSweep, PrefillCurve,
};
use anyhow::{Context, Result};
use plotters::prelude::*;
use serde_json::Value;
use std::path::Path;

/// Draws a recipe plot from the first source that has its `input` file (an analysis beside
/// the sweep aggregate, or the search history).
pub(super) fn draw_from_file(
    ctx: &PlotContext<'_>,
    sources: &[Source],
    name: &str,
    input: &str,
    draw: DrawFromDoc,
) -> Result<Drawn> {
    let found = sources.iter().find_map(|s| {
        if input == crate::artifacts::names::SEARCH_HISTORY_JSON {
            s.search_history.clone()
        } else {
            s.analysis(input)
        }
    });
    let Some(path) = found else {
        return Ok(Drawn::Skipped(format!(
            "no {input} (written by the recipe that makes this plot)"
        )));
    };
    let doc = crate::artifacts::io::read_json(&path)?;
    let header: AnalysisHeader = serde_json::from_value(doc.clone()).unwrap_or_default();
    if let Some(reason) = header.error_reason {
        return Ok(Drawn::Skipped(format!("{}: {reason}", path.display())));
    }
    let out = ctx.png(name);
    let subtitle = format!(
        "{}  ·  from {}",
        header.recipe.as_deref().unwrap_or("recipe"),
        path.display()
    );
    draw(
        ctx,
        &doc,
        &RecipeFile {
            path: &path,
            out: &out,
            subtitle: &subtitle,
        },
    )
}

/// Where a recipe plot's data came from and where it goes.
pub struct RecipeFile<'a> {
    /// The file read.
    pub path: &'a Path,
    /// The PNG to write.
    pub out: &'a Path,
    /// The line under the title.
    pub subtitle: &'a str,
}

/// Draws a recipe plot from its parsed file.
pub type DrawFromDoc = fn(&PlotContext<'_>, &Value, &RecipeFile<'_>) -> Result<Drawn>;

pub(super) fn concurrency_ramp(
    ctx: &PlotContext<'_>,
    doc: &Value,
    out: &Path,
    subtitle: &str,
) -> Result<Drawn> {
    let doc: DegradationKnee = serde_json::from_value(doc.clone())?;
    let param = doc.swept_param.as_str();
    let (metric, stat) = (doc.swept_metric.as_str(), doc.stat.as_str());
    let mut pts = doc.points();
    if pts.is_empty() {
        return Ok(Drawn::Skipped("the ramp has no measured points".into()));
    }
    pts.sort_by(|a, b| a.0.total_cmp(&b.0));
    let baseline = doc.baseline();
    let threshold = doc.threshold().zip(baseline).map(|(t, b)| b * (1.0 + t));
    let knee = doc.knee();
    let x = Axis::categories(param, pts.iter().map(|p| format_value(p.0)).collect());
    let y = Axis::linear(
        format!("{} {stat}", metric_label(metric)),
        pts.iter().map(|p| p.1).chain(threshold),
        true,
    );
    let slot = |c: f64| pts.iter().position(|p| p.0 == c).map(|i| i as f64);
    let title = match knee {
        Some(k) => format!(
            "Concurrency ramp: the knee is at {param} {}",
            format_value(k)
        ),
        None => "Concurrency ramp: no knee within the ramp".to_string(),
    };
    canvas::xy_plot(
        out,
        ctx.theme,
        &title,
        Some(subtitle),
        &x,
        &y,
        Some(SeriesLabelPosition::UpperLeft),
        |chart, palette| {
            let color = palette.series(0);
            let line: Vec<(f64, f64)> = pts
                .iter()
                .enumerate()
                .map(|(i, p)| (i as f64, p.1))
                .collect();
            chart
                .draw_series(LineSeries::new(line.iter().copied(), color.stroke_width(3)))
                .map_err(canvas::drawing)?;
            chart
                .draw_series(line.iter().map(|&p| Circle::new(p, 6, color.filled())))
                .map_err(canvas::drawing)?
                .label(format!("{} {stat}", metric_name(metric)))
                .legend(legend_dot(color));
            if let Some(t) = threshold {
                let c = palette.bad;
                chart
                    .draw_series(DashedLineSeries::new(
                        [(x.range.start, t), (x.range.end, t)],
                        10,
                        6,
                        c.stroke_width(2),
                    ))
                    .map_err(canvas::drawing)?
                    .label(format!(
                        "baseline + {:.0}% = {}",
                        doc.threshold().unwrap_or(0.0) * 100.0,
                        format_value(t)
                    ))
                    .legend(legend_line(c));
            }
            if let Some(i) = knee.and_then(slot) {
                let c = palette.highlight;
                let v = pts[i as usize].1;
                chart
                    .draw_series([Circle::new((i, v), 12, c.stroke_width(4))])
                    .map_err(canvas::drawing)?
                    .label(format!("knee: {param} {}", format_value(pts[i as usize].0)))
                    .legend(legend_dot(c));
                chart
                    .draw_series([Text::new(
                        format!("knee ({})", format_value(v)),
                        (i, v),
                        canvas::text(16, palette),
                    )])
                    .map_err(canvas::drawing)?;
            }
            Ok(())
        },
    )?;
    Ok(Drawn::File(out.to_path_buf()))
}

/// Evaluates a polynomial with coefficients highest degree first.
fn polyval(coefficients: &[f64], x: f64) -> f64 {
    coefficients.iter().fold(0.0, |acc, c| acc * x + c)
}

pub(super) fn prefill_curve(
    ctx: &PlotContext<'_>,
    doc: &Value,
    out: &Path,
    subtitle: &str,
) -> Result<Drawn> {
    let doc: PrefillCurve = serde_json::from_value(doc.clone())?;
    let param = doc.swept_param.as_str();
    let mut pts = doc.points();
    if pts.is_empty() {
        return Ok(Drawn::Skipped("the curve has no measured points".into()));
    }
    pts.sort_by(|a, b| a.0.total_cmp(&b.0));
    let coefficients = doc.coefficients();
    let (lo, hi) = canvas::extent(pts.iter().map(|p| p.0));
    let fit: Vec<(f64, f64)> = if coefficients.is_empty() {
        vec![]
    } else {
        (0..=100)
            .map(|i| lo + (hi - lo) * i as f64 / 100.0)
            .map(|x| (x, polyval(&coefficients, x)))
            .collect()
    };
    let x = Axis::linear(
        format!("Input sequence length ({param}, tokens)"),
        pts.iter().map(|p| p.0),
        true,
    );
    let y = Axis::linear(
        format!("Time to First Token {} (ms)", doc.stat),
        pts.iter().map(|p| p.1).chain(fit.iter().map(|p| p.1)),
        true,
    );
    let form = doc.fit_form().unwrap_or("fit");
    let equation = match coefficients.as_slice() {
        [a, b] => format!("TTFT = {a:.4} ms/token × ISL + {b:.2} ms"),
        [a, b, c] => format!("TTFT = {a:.3e} × ISL² + {b:.4} × ISL + {c:.2} ms"),
        _ => String::new(),
    };
    let r2 = doc
        .r_squared()
        .map(|r| format!(", R² = {r:.4}"))
        .unwrap_or_default();
    canvas::xy_plot(
        out,
        ctx.theme,
        "Prefill cost: TTFT against input length",
        Some(subtitle),
        &x,
        &y,
        Some(SeriesLabelPosition::UpperLeft),
        |chart, palette| {
            if !fit.is_empty() {
                let c = palette.series(1);
                chart
                    .draw_series(LineSeries::new(fit.iter().copied(), c.stroke_width(3)))
                    .map_err(canvas::drawing)?
                    .label(format!("{form} fit: {equation}{r2}"))
                    .legend(legend_line(c));
            }
            let color = palette.series(0);
            chart
                .draw_series(pts.iter().map(|&p| Circle::new(p, 7, color.filled())))
                .map_err(canvas::drawing)?
                .label(format!("measured ({} points)", pts.len()))
                .legend(legend_dot(color));
            Ok(())
        },
    )?;
    Ok(Drawn::File(out.to_path_buf()))
}

pub(super) fn itl_surface(
    ctx: &PlotContext<'_>,
    doc: &Value,
    out: &Path,
    subtitle: &str,
) -> Result<Drawn> {
    let doc: DecodeItlSurface = serde_json::from_value(doc.clone())?;
    let (row_name, col_name) = match doc.swept_params.as_slice() {
        [r, c] => (r.clone(), c.clone()),
        _ => ("concurrency".to_string(), "osl".to_string()),
    };
    let (rows, cols) = (doc.axis(0), doc.axis(1));
    let grid = doc.grid();
    let values: Vec<f64> = grid.iter().flatten().flatten().copied().collect();
    if rows.is_empty() || cols.is_empty() || values.is_empty() {
        return Ok(Drawn::Skipped("the surface has no measured cells".into()));
    }
    let (lo, hi) = canvas::extent(values.iter().copied());
    let x = Axis::categories(
        col_name.clone(),
        cols.iter().map(|v| format_value(*v)).collect(),
    );
    let y = Axis::categories(
        row_name.clone(),
        rows.iter().map(|v| format_value(*v)).collect(),
    );
    let theme = ctx.theme;
    let palette = theme.palette();
    let colour =
        |v: f64| ViridisRGB.get_color_normalized(v as f32, lo as f32, hi.max(lo + 1e-9) as f32);
    canvas::render_png(out, theme, |root| {
        let area = canvas::titled(
            root,
            "Decode: inter-token latency by concurrency and output length",
            Some(subtitle),
            &palette,
        )?;
        let (w, _) = area.dim_in_pixel();
        let (main, bar) = area.split_horizontally(w.saturating_sub(150));
        let mut chart = canvas::chart(&main, &x, &y, &palette)?;
        for (i, row) in grid.iter().enumerate() {
            for (j, cell) in row.iter().enumerate() {
                let (cx, cy) = (j as f64, i as f64);
                let Some(v) = cell else {
                    chart
                        .draw_series([Rectangle::new(
                            [(cx - 0.5, cy - 0.5), (cx + 0.5, cy + 0.5)],
                            palette.grid.filled(),
                        )])
                        .map_err(canvas::drawing)?;
                    continue;
                };
                chart
                    .draw_series([Rectangle::new(
                        [(cx - 0.49, cy - 0.49), (cx + 0.49, cy + 0.49)],
                        colour(*v).filled(),
                    )])
                    .map_err(canvas::drawing)?;
                // Dark text on the bright end of viridis, light text on the dark end.
                let bright = (*v - lo) / (hi - lo).max(1e-9) > 0.6;
                let ink = if bright {
                    RGBColor(20, 20, 20)
                } else {
                    RGBColor(245, 245, 245)
                };
                let style = (canvas::FONT, 16).into_font().color(&ink).pos(
                    plotters::style::text_anchor::Pos::new(
                        plotters::style::text_anchor::HPos::Center,
                        plotters::style::text_anchor::VPos::Center,
                    ),
                );
                chart
                    .draw_series([Text::new(
                        format!("{} ms", format_value(*v)),
                        (cx, cy),
                        style,
                    )])
                    .map_err(canvas::drawing)?;
            }
        }
        // Colour bar: the value scale of the cells.
        let scale_axis = Axis::linear("ITL (ms)", [lo, hi], false);
        let slot = Axis::linear("", [0.0, 1.0], false);
        let mut legend = ChartBuilder::on(&bar)
            .margin_top(8)
            .margin_bottom(72)
            .margin_right(10)
            .y_label_area_size(70)
            .build_cartesian_2d(slot.range.clone(), scale_axis.range.clone())
            .map_err(canvas::drawing)?;
        legend
            .configure_mesh()
            .disable_x_mesh()
            .disable_y_mesh()
            .x_labels(0)
            .y_desc("ITL (ms)")
            .y_label_formatter(&|v: &f64| format_value(*v))
            .y_label_style(canvas::text(13, &palette))
            .axis_desc_style(canvas::text(15, &palette))
            .axis_style(palette.foreground)
            .draw()
            .map_err(canvas::drawing)?;
        let steps = 100;
        let (s0, s1) = (scale_axis.range.start, scale_axis.range.end);
        legend
            .draw_series((0..steps).map(|k| {
                let a = s0 + (s1 - s0) * k as f64 / steps as f64;
                let b = s0 + (s1 - s0) * (k + 1) as f64 / steps as f64;
                Rectangle::new([(0.0, a), (1.0, b)], colour((a + b) / 2.0).filled())
            }))
            .map_err(canvas::drawing)?;
        Ok(())
    })
    .context("drawing the ITL surface")?;
    Ok(Drawn::File(out.to_path_buf()))
}

pub(super) fn pareto_sweep(
    ctx: &PlotContext<'_>,
    doc: &Value,
    out: &Path,
    subtitle: &str,
) -> Result<Drawn> {
    let doc: ParetoSweep = serde_json::from_value(doc.clone())?;
    let (xm, xs) = (doc.x.metric.as_str(), doc.x.stat.as_str());
    let (ym, ys) = (doc.y.metric.as_str(), doc.y.stat.as_str());
    struct Cell {
        x: f64,
        y: f64,
        front: bool,
        label: String,
    }
    let cells: Vec<Cell> = doc
        .cells
        .iter()
        .filter_map(|c| {
            let label = c
                .parameters
                .iter()
                .map(|(k, v)| format!("{}={}", k.rsplit('.').next().unwrap_or(k), show(v)))
                .collect::<Vec<_>>()
                .join(", ");
            Some(Cell {
                x: c.x.filter(|v| v.is_finite())?,
                y: c.y.filter(|v| v.is_finite())?,
                front: c.pareto_optimal,
                label,
            })
        })
        .collect();
    if cells.is_empty() {
        return Ok(Drawn::Skipped(
            "the pareto sweep has no measured cells".into(),
        ));
    }
    let x = Axis::linear(
        format!("{} {xs} (lower is better)", metric_label(xm)),
        cells.iter().map(|c| c.x),
        true,
    );
    let y = Axis::linear(
        format!("{} {ys} (higher is better)", metric_label(ym)),
        cells.iter().map(|c| c.y),
        true,
    );
    canvas::xy_plot(
        out,
        ctx.theme,
        "Pareto sweep: shapes and loads",
        Some(subtitle),
        &x,
        &y,
        Some(SeriesLabelPosition::LowerRight),
        |chart, palette| {
            let (dim, hl) = (palette.series(0), palette.highlight);
            chart
                .draw_series(
                    cells
                        .iter()
                        .filter(|c| !c.front)
                        .map(|c| Circle::new((c.x, c.y), 5, dim.filled())),
                )
                .map_err(canvas::drawing)?
                .label("dominated")
                .legend(legend_dot(dim));
            let mut front: Vec<(f64, f64)> = cells
                .iter()
                .filter(|c| c.front)
                .map(|c| (c.x, c.y))
                .collect();
            front.sort_by(|a, b| a.0.total_cmp(&b.0));
            chart
                .draw_series(LineSeries::new(front.iter().copied(), hl.stroke_width(3)))
                .map_err(canvas::drawing)?;
            chart
                .draw_series(front.iter().map(|&p| Circle::new(p, 7, hl.filled())))
                .map_err(canvas::drawing)?
                .label(format!("Pareto optimal ({})", front.len()))
                .legend(legend_dot(hl));
            if cells.len() <= 40 {
                let style = canvas::text(12, palette);
                chart
                    .draw_series(cells.iter().map(|c| {
                        let offset = canvas::label_offset(&x, c.x, &c.label);
                        EmptyElement::at((c.x, c.y))
                            + Text::new(c.label.clone(), offset, style.clone())
                    }))
                    .map_err(canvas::drawing)?;
            }
            Ok(())
        },
    )?;
    Ok(Drawn::File(out.to_path_buf()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn polynomials_are_highest_degree_first() {
        assert_eq!(super::polyval(&[2.0, 3.0], 10.0), 23.0);
        assert_eq!(super::polyval(&[1.0, 0.0, 1.0], 3.0), 10.0);
    }
}
