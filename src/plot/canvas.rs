//! The drawing surface every plot shares: the embedded font, an in-memory bitmap encoded to PNG
//! only when drawing succeeded, axes (linear, log or categorical), the framed chart with title and
//! labelled axes, and the legend. Plots say what to draw; this module says how it looks.

use super::theme::{Palette, Theme};
use anyhow::{Context, Result, anyhow, bail};
use plotters::coord::Shift;
use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use std::ops::Range;
use std::path::Path;
use std::sync::OnceLock;

/// Width and height of every PNG, in pixels.
pub const SIZE: (u32, u32) = (1280, 720);

/// The font family every text is drawn in (DejaVu Sans, embedded in the binary).
pub const FONT: &str = "sans-serif";

/// A drawing area on the in-memory bitmap.
pub type Area<'a> = DrawingArea<BitMapBackend<'a>, Shift>;

/// One axis of a chart: f64 coordinates with the ticks [`Axis::ticks`] chose (plotters' own
/// numeric axis picks its ticks itself, which suits neither log nor categorical axes).
#[derive(Clone)]
pub struct AxisCoord {
    inner: RangedCoordf64,
    ticks: Vec<f64>,
}

impl Ranged for AxisCoord {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        self.inner.map(value, limit)
    }

    fn key_points<Hint: KeyPointHint>(&self, _hint: Hint) -> Vec<f64> {
        self.ticks.clone()
    }

    fn range(&self) -> Range<f64> {
        self.inner.range()
    }
}

/// A chart with linear coordinates (log and categorical axes are mapped onto them).
pub type Chart<'a, 'b> = ChartContext<'a, BitMapBackend<'b>, Cartesian2d<AxisCoord, AxisCoord>>;

/// Turns any drawing error into an `anyhow` error (plotters' errors are not all `Sync`).
pub fn drawing<E: std::fmt::Display>(e: E) -> anyhow::Error {
    anyhow!("drawing failed: {e}")
}

/// Registers the embedded DejaVu Sans once, so text never depends on system fonts.
fn register_fonts() -> Result<()> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| {
        plotters::style::register_font(FONT, FontStyle::Normal, dejavu::sans::regular()).is_ok()
            && plotters::style::register_font(FONT, FontStyle::Bold, dejavu::sans::bold()).is_ok()
    });
    if ok {
        Ok(())
    } else {
        bail!("the embedded font could not be loaded")
    }
}

/// Draws with `draw` on a fresh canvas and writes `path` as PNG. Nothing is written when drawing
/// fails or leaves the canvas blank, so a PNG on disk always shows something.
pub fn render_png(
    path: &Path,
    theme: Theme,
    draw: impl FnOnce(&Area<'_>) -> Result<()>,
) -> Result<()> {
    register_fonts()?;
    let (w, h) = SIZE;
    let mut pixels = vec![0u8; (w * h * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut pixels, SIZE).into_drawing_area();
        root.fill(&theme.palette().background).map_err(drawing)?;
        draw(&root)?;
        root.present().map_err(drawing)?;
    }
    let bg = theme.palette().background;
    let drawn = pixels
        .chunks_exact(3)
        .filter(|p| p[0] != bg.0 || p[1] != bg.1 || p[2] != bg.2)
        .count();
    // A title alone colours well under 1% of the canvas; require more than that.
    if drawn < (w * h / 100) as usize {
        bail!("nothing was drawn");
    }
    let mut png = Vec::new();
    image::ImageEncoder::write_image(
        image::codecs::png::PngEncoder::new(&mut png),
        &pixels,
        w,
        h,
        image::ColorType::Rgb8,
    )
    .context("cannot encode the PNG")?;
    crate::artifacts::io::write_atomic(path, &png)
        .with_context(|| format!("cannot write {}", path.display()))
}

/// How values map onto an axis.
#[derive(Debug, Clone, PartialEq)]
pub enum Scale {
    /// Values as they are.
    Linear,
    /// log10 of the values (all must be positive); ticks show the values.
    Log,
    /// One evenly spaced slot per label; values are slot indices.
    Categories(Vec<String>),
}

/// One axis: its description, scale and the range of values it shows.
#[derive(Debug, Clone)]
pub struct Axis {
    /// Axis description with its unit, e.g. "Time to First Token (ms)".
    pub label: String,
    /// The scale.
    pub scale: Scale,
    /// Shown range, in value units (slot indices for categories).
    pub range: Range<f64>,
}

impl Axis {
    /// A linear axis covering `values` with a margin; `from_zero` anchors it at 0 when every
    /// value is positive (throughputs, counts).
    pub fn linear(
        label: impl Into<String>,
        values: impl IntoIterator<Item = f64>,
        from_zero: bool,
    ) -> Self {
        let (mut lo, mut hi) = extent(values);
        if from_zero && lo >= 0.0 {
            lo = 0.0;
        }
        if hi - lo <= f64::EPSILON * hi.abs().max(1.0) {
            let pad = if hi == 0.0 { 1.0 } else { hi.abs() * 0.1 };
            lo -= pad;
            hi += pad;
            if from_zero && lo < 0.0 && hi > 0.0 {
                lo = 0.0;
            }
        }
        let pad = (hi - lo) * 0.06;
        let lo = if from_zero && lo == 0.0 {
            0.0
        } else {
            lo - pad
        };
        Axis {
            label: label.into(),
            scale: Scale::Linear,
            range: lo..hi + pad,
        }
    }

    /// A log axis when the positive `values` span more than `min_ratio`, else a linear one.
    pub fn auto(label: impl Into<String>, values: &[f64], min_ratio: f64, from_zero: bool) -> Self {
        let (lo, hi) = extent(values.iter().copied());
        if lo > 0.0 && hi / lo > min_ratio {
            let (llo, lhi) = (lo.log10(), hi.log10());
            let pad = (lhi - llo) * 0.06;
            Axis {
                label: label.into(),
                scale: Scale::Log,
                range: 10f64.powf(llo - pad)..10f64.powf(lhi + pad),
            }
        } else {
            Self::linear(label, values.iter().copied(), from_zero)
        }
    }

    /// A categorical axis with one slot per label.
    pub fn categories(label: impl Into<String>, labels: Vec<String>) -> Self {
        let n = labels.len().max(1) as f64;
        Axis {
            label: label.into(),
            scale: Scale::Categories(labels),
            range: -0.5..n - 0.5,
        }
    }

    /// Where `value` lands in chart coordinates.
    pub fn at(&self, value: f64) -> f64 {
        match self.scale {
            Scale::Log => value.max(f64::MIN_POSITIVE).log10(),
            _ => value,
        }
    }

    fn coord_range(&self) -> Range<f64> {
        self.at(self.range.start)..self.at(self.range.end)
    }

    /// The tick text at chart coordinate `coord`.
    fn tick(&self, coord: f64) -> String {
        match &self.scale {
            Scale::Linear => format_value(coord),
            Scale::Log => format_value(10f64.powf(coord)),
            Scale::Categories(labels) => {
                let slot = coord.round();
                if (coord - slot).abs() > 1e-6 || slot < 0.0 {
                    return String::new();
                }
                labels.get(slot as usize).cloned().unwrap_or_default()
            }
        }
    }

    /// Tick positions in chart coordinates: 1-2-5 steps on linear axes, 1-2-5 times powers of
    /// ten on log axes (powers of ten alone when that is too many), every slot of categories.
    fn ticks(&self) -> Vec<f64> {
        let Range { start, end } = self.coord_range();
        match &self.scale {
            Scale::Linear => {
                let step = nice_step((end - start) / 8.0);
                let first = (start / step).ceil() as i64;
                let last = (end / step).floor() as i64;
                (first..=last).map(|k| k as f64 * step).collect()
            }
            Scale::Log => {
                let decades = (start.floor() as i32)..=(end.ceil() as i32);
                let within = |mults: &[f64]| -> Vec<f64> {
                    decades
                        .clone()
                        .flat_map(|d| mults.iter().map(move |m| (m * 10f64.powi(d)).log10()))
                        .filter(|c| *c >= start - 1e-9 && *c <= end + 1e-9)
                        .collect()
                };
                let dense = within(&[1.0, 2.0, 5.0]);
                if dense.len() > 12 {
                    within(&[1.0])
                } else if dense.len() < 3 {
                    within(&[1.0, 1.5, 2.0, 3.0, 5.0, 7.0])
                } else {
                    dense
                }
            }
            Scale::Categories(labels) => {
                let step = labels.len().div_ceil(16).max(1);
                (0..labels.len()).step_by(step).map(|i| i as f64).collect()
            }
        }
    }
}

/// A 1, 2 or 5 times a power of ten at or above `raw`.
pub fn nice_step(raw: f64) -> f64 {
    if !(raw > 0.0 && raw.is_finite()) {
        return 1.0;
    }
    let base = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * base)
        .find(|s| *s >= raw * 0.999)
        .unwrap_or(10.0 * base)
}

/// The smallest and largest finite value (0..1 when there is none).
pub fn extent(values: impl IntoIterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values
        .into_iter()
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
    if lo.is_finite() { (lo, hi) } else { (0.0, 1.0) }
}

/// A number as a tick or annotation shows it: three significant digits, thousands as "k".
pub fn format_value(v: f64) -> String {
    if !v.is_finite() {
        return String::new();
    }
    let a = v.abs();
    if a == 0.0 {
        return "0".into();
    }
    let text = if a >= 1e6 {
        format!("{:.3}M", v / 1e6)
    } else if a >= 1e4 {
        format!("{:.3}k", v / 1e3)
    } else if a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else if a >= 1.0 {
        format!("{v:.2}")
    } else if a >= 0.001 {
        format!("{v:.3}")
    } else {
        format!("{v:.1e}")
    };
    trim_zeros(text)
}

fn trim_zeros(text: String) -> String {
    if text.contains('e') || !text.contains('.') {
        return text;
    }
    let (number, suffix) = match text.find(|c: char| c.is_ascii_alphabetic()) {
        Some(i) => (&text[..i], &text[i..]),
        None => (text.as_str(), ""),
    };
    let number = number.trim_end_matches('0').trim_end_matches('.');
    format!("{number}{suffix}")
}

/// Text style in the theme's foreground.
pub fn text(size: u32, palette: &Palette) -> TextStyle<'static> {
    (FONT, size).into_font().color(&palette.foreground)
}

/// Draws the title (and an optional subtitle line) and returns the area below it.
pub fn titled<'a>(
    root: &Area<'a>,
    title: &str,
    subtitle: Option<&str>,
    palette: &Palette,
) -> Result<Area<'a>> {
    let height = if subtitle.is_some() { 78 } else { 52 };
    let (head, body) = root.split_vertically(height);
    head.draw(&Text::new(
        title.to_string(),
        (24, 14),
        (FONT, 26, FontStyle::Bold)
            .into_font()
            .color(&palette.foreground),
    ))
    .map_err(drawing)?;
    if let Some(sub) = subtitle {
        head.draw(&Text::new(sub.to_string(), (24, 48), text(16, palette)))
            .map_err(drawing)?;
    }
    Ok(body)
}

/// Builds a chart on `area` with both axes labelled, ticks formatted for their scales and a
/// light grid.
pub fn chart<'a, 'b>(
    area: &'a Area<'b>,
    x: &Axis,
    y: &Axis,
    palette: &Palette,
) -> Result<Chart<'a, 'b>> {
    let longest_x_tick = match &x.scale {
        Scale::Categories(labels) => labels.iter().map(|l| l.chars().count()).max().unwrap_or(0),
        _ => 0,
    };
    // Long category names (scenario labels) are drawn at an angle and need more room.
    let rotate = longest_x_tick > 10;
    let x_area = if rotate {
        60 + (longest_x_tick.min(40) as u32) * 6
    } else {
        60
    };
    let mut chart = ChartBuilder::on(area)
        .margin_left(16)
        .margin_right(32)
        .margin_bottom(12)
        .margin_top(8)
        .x_label_area_size(x_area)
        .y_label_area_size(90)
        .build_cartesian_2d(
            AxisCoord {
                inner: x.coord_range().into(),
                ticks: x.ticks(),
            },
            AxisCoord {
                inner: y.coord_range().into(),
                ticks: y.ticks(),
            },
        )
        .map_err(drawing)?;
    let x_fmt = |v: &f64| x.tick(*v);
    let y_fmt = |v: &f64| y.tick(*v);
    let x_style = if rotate {
        text(13, palette).transform(FontTransform::Rotate90)
    } else {
        text(14, palette)
    };
    chart
        .configure_mesh()
        .x_desc(x.label.as_str())
        .y_desc(y.label.as_str())
        .x_label_formatter(&x_fmt)
        .y_label_formatter(&y_fmt)
        .x_label_style(x_style)
        .y_label_style(text(14, palette))
        .axis_desc_style(text(18, palette))
        .axis_style(palette.foreground)
        .bold_line_style(palette.grid)
        .light_line_style(TRANSPARENT)
        .draw()
        .map_err(drawing)?;
    Ok(chart)
}

/// The usual plot: one titled chart on its own PNG. `body` draws the series; when `legend` is
/// set, the labelled series get a legend in that corner.
#[allow(clippy::too_many_arguments)]
pub fn xy_plot(
    path: &Path,
    theme: Theme,
    title: &str,
    subtitle: Option<&str>,
    x: &Axis,
    y: &Axis,
    legend_at: Option<SeriesLabelPosition>,
    body: impl FnOnce(&mut Chart<'_, '_>, &Palette) -> Result<()>,
) -> Result<()> {
    let palette = theme.palette();
    render_png(path, theme, |root| {
        let area = titled(root, title, subtitle, &palette)?;
        let mut c = chart(&area, x, y, &palette)?;
        body(&mut c, &palette)?;
        if let Some(position) = legend_at {
            legend(&mut c, &palette, position)?;
        }
        Ok(())
    })
}

/// Draws the legend of every labelled series in the chosen corner.
pub fn legend<'a, 'b: 'a>(
    chart: &mut Chart<'a, 'b>,
    palette: &Palette,
    position: SeriesLabelPosition,
) -> Result<()> {
    chart
        .configure_series_labels()
        .position(position)
        .background_style(palette.background.mix(0.9))
        .border_style(palette.grid)
        .label_font(text(15, palette))
        .draw()
        .map_err(drawing)
}

/// The vertices of the CDF of `sorted` values on `x`: percent of values at or below each, at
/// most ~1000 vertices (the shape, not every request), ending at 100%. `sorted` is not empty.
pub fn cdf_points(x: &Axis, sorted: &[f64]) -> Vec<(f64, f64)> {
    let n = sorted.len() as f64;
    let step = (sorted.len() / 1000).max(1);
    let mut pts: Vec<(f64, f64)> = sorted
        .iter()
        .enumerate()
        .step_by(step)
        .map(|(i, val)| (x.at(*val), 100.0 * (i + 1) as f64 / n))
        .collect();
    if let Some(last) = sorted.last() {
        pts.push((x.at(*last), 100.0));
    }
    pts
}

/// A short legend line sample in `color`.
pub fn legend_line(color: RGBColor) -> impl Fn((i32, i32)) -> PathElement<(i32, i32)> {
    move |(x, y)| PathElement::new(vec![(x, y), (x + 22, y)], color.stroke_width(3))
}

/// A legend marker in `color`.
pub fn legend_dot(color: RGBColor) -> impl Fn((i32, i32)) -> Circle<(i32, i32), i32> {
    move |(x, y)| Circle::new((x + 11, y), 5, color.filled())
}

/// Where a point's label goes, in pixels from the point: to its right, or to its left in the
/// right quarter of the chart, so labels near the edge are not cut off.
pub fn label_offset(x: &Axis, value: f64, label: &str) -> (i32, i32) {
    let (lo, hi) = (x.at(x.range.start), x.at(x.range.end));
    let share = if hi > lo {
        (x.at(value) - lo) / (hi - lo)
    } else {
        0.0
    };
    if share > 0.75 {
        (-(label.chars().count() as i32 * 7) - 8, -16)
    } else {
        (8, -16)
    }
}

/// A note in the lower right corner of the canvas (what the plot was made from).
pub fn footnote(root: &Area<'_>, note: &str, palette: &Palette) -> Result<()> {
    let (w, h) = root.dim_in_pixel();
    let style = text(12, palette);
    let width = note.chars().count() as i32 * 7;
    root.draw(&Text::new(
        note.to_string(),
        (w as i32 - width - 12, h as i32 - 18),
        style,
    ))
    .map_err(drawing)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_format_with_three_significant_digits() {
        assert_eq!(format_value(0.0), "0");
        assert_eq!(format_value(1.0), "1");
        assert_eq!(format_value(2.5), "2.5");
        assert_eq!(format_value(12.34), "12.3");
        assert_eq!(format_value(250.0), "250");
        assert_eq!(format_value(12_345.0), "12.345k");
        assert_eq!(format_value(2_500_000.0), "2.5M");
        assert_eq!(format_value(0.0123), "0.012");
    }

    #[test]
    fn log_axes_are_chosen_only_for_wide_positive_ranges() {
        assert_eq!(
            Axis::auto("x", &[1.0, 1000.0], 20.0, false).scale,
            Scale::Log
        );
        assert_eq!(
            Axis::auto("x", &[10.0, 30.0], 20.0, false).scale,
            Scale::Linear
        );
        assert_eq!(
            Axis::auto("x", &[0.0, 1000.0], 20.0, false).scale,
            Scale::Linear
        );
    }

    #[test]
    fn ticks_are_round_numbers() {
        let lin = Axis::linear("x", [0.0, 97.0], true);
        // 0..103 with its margin: about 8 steps of 12.9 round up to 20.
        assert_eq!(lin.ticks(), vec![0.0, 20.0, 40.0, 60.0, 80.0, 100.0]);
        let log = Axis::auto("x", &[2.0, 900.0], 20.0, false);
        let shown: Vec<String> = log.ticks().iter().map(|c| log.tick(*c)).collect();
        assert_eq!(
            shown,
            vec!["2", "5", "10", "20", "50", "100", "200", "500", "1000"]
        );
    }

    #[test]
    fn category_ticks_only_at_slots() {
        let a = Axis::categories("c", vec!["1".into(), "4".into()]);
        assert_eq!(a.tick(1.0), "4");
        assert_eq!(a.tick(0.5), "");
        assert_eq!(a.tick(7.0), "");
    }

    #[test]
    fn a_blank_canvas_is_not_written() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("blank.png");
        let err = render_png(&path, Theme::Light, |_| Ok(())).unwrap_err();
        assert!(err.to_string().contains("nothing was drawn"));
        assert!(!path.exists());
    }
}
