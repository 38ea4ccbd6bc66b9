//! Per-request plots of one run: metrics over time, rolling percentiles, throughput over time,
//! the request timeline, distributions, and AIPerf's timeslices when the run has them.

use super::canvas::{self, Axis, Scale, format_value, legend_dot, legend_line};
use super::config::{SingleRunKind, SingleRunPlot, SingleRunX};
use super::data::{self, Records, Summary, Timeslice};
use super::{Drawn, PlotContext, metric_label, metric_name};
use anyhow::Result;
use plotters::prelude::*;
use std::path::{Path, PathBuf};

/// One run, loaded for plotting.
pub struct SingleRun {
    /// The run directory.
    pub dir: PathBuf,
    /// Its profiling-phase requests.
    pub records: Records,
    /// Its `profile_export_aiperf.json`.
    pub summary: Summary,
    /// AIPerf timeslices, when the directory has them.
    pub timeslices: Option<Vec<Timeslice>>,
}

impl SingleRun {
    /// Loads a run directory (with the columns that user-defined plots need).
    pub fn load(dir: &Path, extra_columns: &[String]) -> Result<SingleRun> {
        let records = data::read_records(
            &dir.join(crate::artifacts::names::PROFILE_EXPORT_JSONL),
            extra_columns,
        )?;
        let summary = Summary::read(&dir.join(crate::artifacts::names::PROFILE_EXPORT_JSON))?;
        let slices = dir.join(crate::artifacts::names::TIMESLICES_CSV);
        let timeslices = if slices.is_file() {
            Some(data::read_timeslices(&slices)?)
        } else {
            None
        };
        Ok(SingleRun {
            dir: dir.to_path_buf(),
            records,
            summary,
            timeslices,
        })
    }

    /// "model · load · N requests · directory", shown under every title.
    fn subtitle(&self) -> String {
        let mut parts = Vec::new();
        if let Some(model) = self.summary.model() {
            parts.push(model);
        }
        let (concurrency, rate) = self.summary.profiling_load();
        if let Some(c) = concurrency {
            parts.push(format!("concurrency {c}"));
        }
        if let Some(r) = rate {
            parts.push(format!("{} req/s", format_value(r)));
        }
        parts.push(format!("{} requests", self.records.len()));
        parts.push(self.dir.display().to_string());
        parts.join("  ·  ")
    }
}

/// Draws a user-defined single-run plot.
pub fn draw_custom(
    ctx: &PlotContext<'_>,
    run: &SingleRun,
    name: &str,
    plot: &SingleRunPlot,
) -> Result<Drawn> {
    let path = ctx.png(name);
    let title = plot.title.as_deref();
    match plot.kind {
        SingleRunKind::Scatter => scatter(ctx, run, &path, &plot.y, plot.x, false, title),
        SingleRunKind::ScatterWithPercentiles => {
            scatter(ctx, run, &path, &plot.y, plot.x, true, title)
        }
        SingleRunKind::Histogram => histogram(ctx, run, &path, &plot.y, title),
    }
}

fn no_values(tag: &str) -> Drawn {
    Drawn::Skipped(format!(
        "no request has {tag}{}",
        if matches!(tag, "time_to_first_token" | "inter_token_latency") {
            " (it needs a streaming run)"
        } else {
            ""
        }
    ))
}

/// Rolling p50/p95/p99 over a window of neighbouring requests, evaluated at about 200 points.
fn rolling_percentiles(points: &[(f64, f64)]) -> [Vec<(f64, f64)>; 3] {
    let n = points.len();
    let window = (n / 20).clamp(10.min(n), 2_000);
    let step = (n / 200).max(1);
    let mut out: [Vec<(f64, f64)>; 3] = Default::default();
    if window == 0 {
        return out;
    }
    for i in (0..n).step_by(step) {
        // A full window around i, shifted inwards at the ends of the run.
        let hi = (i.saturating_sub(window / 2) + window).min(n);
        let lo = hi.saturating_sub(window);
        let mut values: Vec<f64> = points[lo..hi].iter().map(|p| p.1).collect();
        values.sort_by(f64::total_cmp);
        for (k, q) in [0.5, 0.95, 0.99].into_iter().enumerate() {
            if let Some(v) = data::quantile(&values, q) {
                out[k].push((points[i].0, v));
            }
        }
    }
    out
}

#[allow(clippy::too_many_arguments)]
pub(super) fn scatter(
    ctx: &PlotContext<'_>,
    run: &SingleRun,
    path: &Path,
    tag: &str,
    x_kind: SingleRunX,
    percentiles: bool,
    title: Option<&str>,
) -> Result<Drawn> {
    let present = run.records.present(tag);
    if present.is_empty() {
        return Ok(no_values(tag));
    }
    let points: Vec<(f64, f64)> = present
        .iter()
        .map(|&(i, v)| match x_kind {
            SingleRunX::RequestNumber => ((i + 1) as f64, v),
            SingleRunX::Timestamp => (run.records.start_s[i], v),
        })
        .collect();
    let x_label = match x_kind {
        SingleRunX::RequestNumber => "Request number (send order)",
        SingleRunX::Timestamp => "Time since the first request (s)",
    };
    let x = Axis::linear(x_label, points.iter().map(|p| p.0), true);
    // Not anchored at zero: the variation over the run is what this plot is for.
    let y = Axis::linear(metric_label(tag), points.iter().map(|p| p.1), false);
    let default_title = format!(
        "{} {}",
        metric_name(tag),
        if percentiles {
            "over time"
        } else {
            "per request"
        }
    );
    let bands = if percentiles {
        rolling_percentiles(&points)
    } else {
        Default::default()
    };
    let radius = if points.len() > 2_000 { 2 } else { 3 };
    canvas::xy_plot(
        path,
        ctx.theme,
        title.unwrap_or(&default_title),
        Some(&run.subtitle()),
        &x,
        &y,
        Some(SeriesLabelPosition::UpperRight),
        |chart, palette| {
            let dot = palette.series(0).mix(if percentiles { 0.35 } else { 0.7 });
            chart
                .draw_series(points.iter().map(|&p| Circle::new(p, radius, dot.filled())))
                .map_err(canvas::drawing)?
                .label(format!("{} requests", points.len()))
                .legend(legend_dot(palette.series(0)));
            for (k, name) in ["rolling p50", "rolling p95", "rolling p99"]
                .into_iter()
                .enumerate()
            {
                if bands[k].is_empty() {
                    continue;
                }
                let color = palette.series(k + 1);
                chart
                    .draw_series(LineSeries::new(
                        bands[k].iter().copied(),
                        color.stroke_width(3),
                    ))
                    .map_err(canvas::drawing)?
                    .label(name)
                    .legend(legend_line(color));
            }
            Ok(())
        },
    )?;
    Ok(Drawn::File(path.to_path_buf()))
}

/// A replay against its trace: for every request, how long after the trace's time it was sent
/// (schedule lag), over the trace's time; a line at the largest lag. Skipped for a run that did
/// not replay a trace.
pub(super) fn replay_schedule(
    ctx: &PlotContext<'_>,
    run: &SingleRun,
    path: &Path,
) -> Result<Drawn> {
    if !run.summary.is_replay() {
        return Ok(Drawn::Skipped(
            "the run did not replay a trace (fixed_schedule)".into(),
        ));
    }
    let records = &run.records;
    if records.is_empty() {
        return Ok(Drawn::Skipped("no requests".into()));
    }
    let origin = records
        .intended_s
        .iter()
        .copied()
        .fold(f64::INFINITY, f64::min);
    let points: Vec<(f64, f64)> = records
        .intended_s
        .iter()
        .zip(&records.start_s)
        .map(|(&intended, &sent)| (intended - origin, ((sent - intended) * 1e3).max(0.0)))
        .collect();
    let worst = points.iter().map(|p| p.1).fold(0.0, f64::max);
    let x = Axis::linear(
        "Trace time of the request, from the first (s)",
        points.iter().map(|p| p.0),
        true,
    );
    let y = Axis::linear(
        "Sent after its timestamp (ms)",
        points.iter().map(|p| p.1),
        true,
    );
    let radius = if points.len() > 2_000 { 2 } else { 3 };
    canvas::xy_plot(
        path,
        ctx.theme,
        "Replay: send time against the trace",
        Some(&run.subtitle()),
        &x,
        &y,
        Some(SeriesLabelPosition::UpperRight),
        |chart, palette| {
            chart
                .draw_series(
                    points
                        .iter()
                        .map(|&p| Circle::new(p, radius, palette.series(0).mix(0.7).filled())),
                )
                .map_err(canvas::drawing)?
                .label(format!("{} requests", points.len()))
                .legend(legend_dot(palette.series(0)));
            let (x0, x1) = (x.range.start, x.range.end);
            chart
                .draw_series(LineSeries::new(
                    [(x0, worst), (x1, worst)],
                    palette.series(1).stroke_width(2),
                ))
                .map_err(canvas::drawing)?
                .label(format!("largest lag {} ms", format_value(worst)))
                .legend(legend_line(palette.series(1)));
            Ok(())
        },
    )?;
    Ok(Drawn::File(path.to_path_buf()))
}

/// Output tokens per second in time buckets, each request's tokens spread evenly between its
/// first token and its end (the client sees no per-token times in the records).
fn dispersed_throughput(records: &Records) -> (f64, Vec<(f64, f64)>) {
    let osl = records.column("output_sequence_length");
    let ttft = records.column("time_to_first_token");
    let end = records.end_s.iter().copied().fold(0.0, f64::max);
    let width = canvas::nice_step(end / 80.0);
    let buckets = ((end / width).ceil() as usize).max(1);
    let mut tokens = vec![0.0; buckets];
    for i in 0..records.len() {
        let (Some(Some(n)), true) = (osl.get(i), records.ok[i]) else {
            continue;
        };
        let first = records.start_s[i] + ttft.get(i).copied().flatten().unwrap_or(0.0) / 1000.0;
        let last = records.end_s[i].max(first);
        let span = last - first;
        if span <= 0.0 {
            let b = ((first / width) as usize).min(buckets - 1);
            tokens[b] += n;
            continue;
        }
        let (b0, b1) = (
            ((first / width) as usize).min(buckets - 1),
            ((last / width) as usize).min(buckets - 1),
        );
        for (b, bucket) in tokens.iter_mut().enumerate().take(b1 + 1).skip(b0) {
            let lo = (b as f64 * width).max(first);
            let hi = ((b + 1) as f64 * width).min(last);
            if hi > lo {
                *bucket += n * (hi - lo) / span;
            }
        }
    }
    let series = tokens
        .iter()
        .enumerate()
        .map(|(b, t)| ((b as f64 + 0.5) * width, t / width))
        .collect();
    (width, series)
}

pub(super) fn throughput_over_time(
    ctx: &PlotContext<'_>,
    run: &SingleRun,
    path: &Path,
) -> Result<Drawn> {
    if run.records.present("output_sequence_length").is_empty() {
        return Ok(no_values("output_sequence_length"));
    }
    let (width, series) = dispersed_throughput(&run.records);
    let x = Axis::linear(
        "Time since the first request (s)",
        series.iter().map(|p| p.0),
        true,
    );
    let y = Axis::linear(
        "Output token throughput (tokens/sec)",
        series.iter().map(|p| p.1),
        true,
    );
    let mean = run.summary.stat("output_token_throughput", "avg");
    canvas::xy_plot(
        path,
        ctx.theme,
        "Output token throughput over time",
        Some(&run.subtitle()),
        &x,
        &y,
        Some(SeriesLabelPosition::LowerRight),
        |chart, palette| {
            let color = palette.series(0);
            chart
                .draw_series(
                    AreaSeries::new(series.iter().copied(), 0.0, color.mix(0.3))
                        .border_style(color.stroke_width(2)),
                )
                .map_err(canvas::drawing)?
                .label(format!("per {} s", format_value(width)))
                .legend(legend_line(color));
            if let Some(mean) = mean {
                let c = palette.highlight;
                let (x0, x1) = (x.range.start, x.range.end);
                chart
                    .draw_series(DashedLineSeries::new(
                        [(x0, mean), (x1, mean)],
                        8,
                        5,
                        c.stroke_width(2),
                    ))
                    .map_err(canvas::drawing)?
                    .label(format!("run average {}", format_value(mean)))
                    .legend(legend_line(c));
            }
            Ok(())
        },
    )?;
    Ok(Drawn::File(path.to_path_buf()))
}

/// At most this many bars; longer runs show every k-th request.
const TIMELINE_MAX_BARS: usize = 4_000;

pub(super) fn request_timeline(
    ctx: &PlotContext<'_>,
    run: &SingleRun,
    path: &Path,
) -> Result<Drawn> {
    let r = &run.records;
    if r.is_empty() {
        return Ok(Drawn::Skipped("the run has no requests".into()));
    }
    let ttft = r.column("time_to_first_token");
    let stride = r.len().div_ceil(TIMELINE_MAX_BARS);
    let shown: Vec<usize> = (0..r.len()).step_by(stride).collect();
    let x = Axis::linear(
        "Time since the first request (s)",
        r.end_s.iter().copied().chain([0.0]),
        true,
    );
    let y = Axis::linear("Request number (send order)", [0.0, r.len() as f64], true);
    let subtitle = if stride > 1 {
        format!("{}  ·  every {stride}th request shown", run.subtitle())
    } else {
        run.subtitle()
    };
    let half = (0.42 * stride as f64).max(0.42);
    canvas::xy_plot(
        path,
        ctx.theme,
        "Request timeline: waiting for the first token, then generating",
        Some(&subtitle),
        &x,
        &y,
        Some(SeriesLabelPosition::UpperLeft),
        |chart, palette| {
            let (wait, generate, failed) = (palette.series(1), palette.series(0), palette.bad);
            let bar = |x0: f64, x1: f64, row: f64, color: RGBColor| {
                Rectangle::new([(x0, row - half), (x1.max(x0), row + half)], color.filled())
            };
            let mut waits = Vec::new();
            let mut gens = Vec::new();
            let mut fails = Vec::new();
            for &i in &shown {
                let row = (i + 1) as f64;
                let (start, end) = (r.start_s[i], r.end_s[i]);
                if !r.ok[i] {
                    fails.push(bar(start, end, row, failed));
                    continue;
                }
                match ttft.get(i).copied().flatten() {
                    Some(t) => {
                        let first = (start + t / 1000.0).min(end);
                        waits.push(bar(start, first, row, wait));
                        gens.push(bar(first, end, row, generate));
                    }
                    None => gens.push(bar(start, end, row, generate)),
                }
            }
            // Generation is always in the legend; waiting and failures only when there are any.
            let groups = [
                (gens, "generating (first token to end)", generate, true),
                (waits, "waiting for the first token", wait, false),
                (fails, "failed", failed, false),
            ];
            for (bars, label, color, always) in groups {
                if always || !bars.is_empty() {
                    chart
                        .draw_series(bars)
                        .map_err(canvas::drawing)?
                        .label(label)
                        .legend(legend_line(color));
                }
            }
            Ok(())
        },
    )?;
    Ok(Drawn::File(path.to_path_buf()))
}

pub(super) fn histogram(
    ctx: &PlotContext<'_>,
    run: &SingleRun,
    path: &Path,
    tag: &str,
    title: Option<&str>,
) -> Result<Drawn> {
    let values: Vec<f64> = run.records.present(tag).into_iter().map(|p| p.1).collect();
    if values.is_empty() {
        return Ok(no_values(tag));
    }
    let x = Axis::auto(metric_label(tag), &values, 20.0, false);
    let bins = 40usize;
    let (lo, hi) = (x.at(x.range.start), x.at(x.range.end));
    let width = (hi - lo) / bins as f64;
    let mut counts = vec![0u64; bins];
    for v in &values {
        let b = (((x.at(*v) - lo) / width) as usize).min(bins - 1);
        counts[b] += 1;
    }
    let y = Axis::linear("Requests", counts.iter().map(|c| *c as f64), true);
    let log = x.scale == Scale::Log;
    let default_title = format!(
        "{} distribution{}",
        metric_name(tag),
        if log { " (log scale)" } else { "" }
    );
    let mut sorted = values.clone();
    sorted.sort_by(f64::total_cmp);
    let marks: Vec<(&str, f64)> = [("p50", 0.5), ("p99", 0.99)]
        .into_iter()
        .filter_map(|(n, q)| Some((n, data::quantile(&sorted, q)?)))
        .collect();
    canvas::xy_plot(
        path,
        ctx.theme,
        title.unwrap_or(&default_title),
        Some(&run.subtitle()),
        &x,
        &y,
        Some(SeriesLabelPosition::UpperRight),
        |chart, palette| {
            let color = palette.series(0);
            chart
                .draw_series(
                    counts
                        .iter()
                        .enumerate()
                        .filter(|(_, c)| **c > 0)
                        .map(|(b, c)| {
                            let x0 = lo + b as f64 * width;
                            Rectangle::new(
                                [(x0, 0.0), (x0 + width * 0.92, *c as f64)],
                                color.mix(0.8).filled(),
                            )
                        }),
                )
                .map_err(canvas::drawing)?
                .label(format!("{} requests", values.len()))
                .legend(legend_line(color));
            let top = y.range.end;
            for (k, (name, v)) in marks.iter().enumerate() {
                let c = palette.series(k + 1);
                let at = x.at(*v);
                chart
                    .draw_series(DashedLineSeries::new(
                        [(at, 0.0), (at, top)],
                        8,
                        5,
                        c.stroke_width(2),
                    ))
                    .map_err(canvas::drawing)?
                    .label(format!("{name} {}", format_value(*v)))
                    .legend(legend_line(c));
            }
            Ok(())
        },
    )?;
    Ok(Drawn::File(path.to_path_buf()))
}

pub(super) fn cdf(ctx: &PlotContext<'_>, run: &SingleRun, path: &Path) -> Result<Drawn> {
    let mut curves = Vec::new();
    for tag in [
        "time_to_first_token",
        "inter_token_latency",
        "request_latency",
    ] {
        let mut v: Vec<f64> = run
            .records
            .present(tag)
            .into_iter()
            .map(|p| p.1)
            .filter(|v| *v > 0.0)
            .collect();
        if !v.is_empty() {
            v.sort_by(f64::total_cmp);
            curves.push((tag, v));
        }
    }
    if curves.is_empty() {
        return Ok(no_values("request_latency"));
    }
    let all: Vec<f64> = curves
        .iter()
        .flat_map(|(_, v)| [v[0], v[v.len() - 1]])
        .collect();
    let x = Axis::auto("Latency (ms)", &all, 20.0, false);
    let y = Axis::linear("Requests at or below (%)", [0.0, 100.0], true);
    let log = x.scale == Scale::Log;
    canvas::xy_plot(
        path,
        ctx.theme,
        &format!(
            "Latency distributions (CDF{})",
            if log { ", log scale" } else { "" }
        ),
        Some(&run.subtitle()),
        &x,
        &y,
        Some(SeriesLabelPosition::LowerRight),
        |chart, palette| {
            for (k, (tag, v)) in curves.iter().enumerate() {
                let pts = canvas::cdf_points(&x, v);
                let color = palette.series(k);
                chart
                    .draw_series(LineSeries::new(pts, color.stroke_width(3)))
                    .map_err(canvas::drawing)?
                    .label(metric_name(tag))
                    .legend(legend_line(color));
            }
            Ok(())
        },
    )?;
    Ok(Drawn::File(path.to_path_buf()))
}

pub(super) fn timeslices(
    ctx: &PlotContext<'_>,
    run: &SingleRun,
    path: &Path,
    metric: &str,
) -> Result<Drawn> {
    let Some(slices) = &run.timeslices else {
        return Ok(Drawn::Skipped(format!(
            "the run has no timeslices ({} is written by --slice-duration)",
            crate::artifacts::names::TIMESLICES_CSV
        )));
    };
    let mut rows: Vec<&Timeslice> = slices
        .iter()
        .filter(|s| s.metric.eq_ignore_ascii_case(metric) && s.stat.eq_ignore_ascii_case("avg"))
        .collect();
    if rows.is_empty() {
        return Ok(Drawn::Skipped(format!(
            "the timeslices have no '{metric}' avg"
        )));
    }
    rows.sort_by_key(|s| s.index);
    let unit = rows[0].unit.clone();
    let x = Axis::linear(
        "Timeslice",
        rows.iter()
            .map(|s| s.index as f64)
            .chain([rows[0].index as f64 - 0.5]),
        false,
    );
    let y = Axis::linear(
        format!("{metric} ({unit})"),
        rows.iter().map(|s| s.value),
        true,
    );
    canvas::xy_plot(
        path,
        ctx.theme,
        &format!("{metric} per timeslice (avg)"),
        Some(&run.subtitle()),
        &x,
        &y,
        None,
        |chart, palette| {
            let color = palette.series(0);
            chart
                .draw_series(rows.iter().map(|s| {
                    let i = s.index as f64;
                    Rectangle::new(
                        [(i - 0.4, 0.0), (i + 0.4, s.value)],
                        color.mix(0.85).filled(),
                    )
                }))
                .map_err(canvas::drawing)?;
            Ok(())
        },
    )?;
    Ok(Drawn::File(path.to_path_buf()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dispersed_throughput_conserves_tokens() {
        let mut r = Records {
            start_s: vec![0.0, 0.5],
            end_s: vec![1.0, 2.0],
            ok: vec![true, true],
            ..Default::default()
        };
        r.columns.insert(
            "output_sequence_length".into(),
            vec![Some(100.0), Some(50.0)],
        );
        r.columns
            .insert("time_to_first_token".into(), vec![Some(200.0), None]);
        let (width, series) = dispersed_throughput(&r);
        let total: f64 = series.iter().map(|(_, tps)| tps * width).sum();
        assert!((total - 150.0).abs() < 1e-9, "{total}");
    }

    #[test]
    fn rolling_percentiles_follow_a_step() {
        let points: Vec<(f64, f64)> = (0..400)
            .map(|i| (i as f64, if i < 200 { 10.0 } else { 50.0 }))
            .collect();
        let [p50, _, p99] = rolling_percentiles(&points);
        assert_eq!(p50.first().unwrap().1, 10.0);
        assert_eq!(p50.last().unwrap().1, 50.0);
        assert!(p99.iter().all(|p| p.1 >= 10.0 && p.1 <= 50.0));
    }
}
