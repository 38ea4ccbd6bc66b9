//! Light and dark colour themes. A theme is only colours; layout and fonts live in `canvas`.

use plotters::style::RGBColor;

pub use crate::spec::plot::Theme;

/// The colours a theme resolves to.
#[derive(Debug, Clone, Copy)]
pub struct Palette {
    /// Canvas background.
    pub background: RGBColor,
    /// Text, axes and outlines.
    pub foreground: RGBColor,
    /// Grid lines.
    pub grid: RGBColor,
    /// Series colours, in order of use.
    pub series: [RGBColor; 8],
    /// Feasible / passing points.
    pub good: RGBColor,
    /// Infeasible / failing points, thresholds.
    pub bad: RGBColor,
    /// The answer, the knee, the Pareto front: what the eye should find first.
    pub highlight: RGBColor,
}

impl Theme {
    /// The theme's colours.
    pub fn palette(self) -> Palette {
        match self {
            // Tableau-10 hues: distinguishable and print well.
            Theme::Light => Palette {
                background: RGBColor(255, 255, 255),
                foreground: RGBColor(33, 37, 41),
                grid: RGBColor(222, 226, 230),
                series: [
                    RGBColor(31, 119, 180),
                    RGBColor(255, 127, 14),
                    RGBColor(44, 160, 44),
                    RGBColor(148, 103, 189),
                    RGBColor(140, 86, 75),
                    RGBColor(227, 119, 194),
                    RGBColor(127, 127, 127),
                    RGBColor(23, 190, 207),
                ],
                good: RGBColor(44, 160, 44),
                bad: RGBColor(214, 39, 40),
                highlight: RGBColor(230, 159, 0),
            },
            // Brighter variants of the same hues, so series keep their identity across themes.
            Theme::Dark => Palette {
                background: RGBColor(24, 26, 31),
                foreground: RGBColor(230, 232, 235),
                grid: RGBColor(58, 63, 75),
                series: [
                    RGBColor(86, 180, 233),
                    RGBColor(255, 160, 64),
                    RGBColor(102, 204, 102),
                    RGBColor(190, 150, 230),
                    RGBColor(200, 140, 120),
                    RGBColor(240, 150, 210),
                    RGBColor(180, 180, 180),
                    RGBColor(80, 220, 235),
                ],
                good: RGBColor(102, 204, 102),
                bad: RGBColor(255, 99, 99),
                highlight: RGBColor(255, 200, 40),
            },
        }
    }

    /// The name used in files and flags.
    pub fn as_str(self) -> &'static str {
        match self {
            Theme::Light => "light",
            Theme::Dark => "dark",
        }
    }
}

impl Palette {
    /// The colour of the `i`-th series (cycling).
    pub fn series(&self, i: usize) -> RGBColor {
        self.series[i % self.series.len()]
    }
}
