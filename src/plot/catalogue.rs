//! The built-in plots, each one entry: its name (also the PNG file name), the mode it belongs to,
//! what it shows, what it reads, and the function that draws it. Configuration files name plots
//! from this list; adding a plot is adding an entry here.

use super::detect::Source;
use super::multi::MultiRun;
use super::recipe_plots::{self, DrawFromDoc};
use super::single::{self, SingleRun};
use super::{Drawn, PlotContext, multi, trajectory};
use crate::artifacts::names;
use crate::spec::plot::{MultiRunKind, SingleRunX};
use anyhow::Result;
use std::path::Path;

/// Which mode a plot is drawn in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlotMode {
    /// Per-request plots of one run.
    Single,
    /// One point per cell or run.
    Multi,
}

/// How a built-in plot is drawn, and from what.
#[derive(Clone, Copy)]
pub enum Draw {
    /// From one run's records, summary and timeslices, into the given PNG.
    Single(fn(&PlotContext<'_>, &SingleRun, &Path) -> Result<Drawn>),
    /// From the points of several runs or sweep cells (may write several PNGs named after
    /// the plot).
    Multi(fn(&PlotContext<'_>, &MultiRun, &str) -> Result<Drawn>),
    /// From a file a search recipe writes (`input`, one of `artifacts::names`).
    Recipe {
        /// The file read.
        input: &'static str,
        /// Draws from its parsed contents.
        draw: DrawFromDoc,
    },
}

/// A built-in plot.
#[derive(Clone, Copy)]
pub struct Preset {
    /// Name, also the file name (`<name>.png`; `metrics_vs_parameters` writes one file per pair).
    pub name: &'static str,
    /// What it shows, for `summary.txt` and the docs.
    pub description: &'static str,
    /// How it is drawn.
    pub draw: Draw,
}

impl Preset {
    /// The mode it is drawn in.
    pub fn mode(&self) -> PlotMode {
        match self.draw {
            Draw::Single(_) => PlotMode::Single,
            Draw::Multi(_) | Draw::Recipe { .. } => PlotMode::Multi,
        }
    }

    /// What it reads, for people.
    pub fn inputs(&self) -> &'static str {
        match self.draw {
            Draw::Single(_) => names::PROFILE_EXPORT_JSONL,
            Draw::Multi(_) => "the sweep aggregate or the run summaries",
            Draw::Recipe { input, .. } => input,
        }
    }

    /// Draws a single-run plot; `Skipped` for a plot of the other mode.
    pub fn draw_single(&self, ctx: &PlotContext<'_>, run: &SingleRun) -> Result<Drawn> {
        match self.draw {
            Draw::Single(draw) => draw(ctx, run, &ctx.png(self.name)),
            _ => Ok(Drawn::Skipped(format!(
                "'{}' is not a single-run plot",
                self.name
            ))),
        }
    }

    /// Draws a multi-run plot from the points or from the sources' recipe files; `Skipped` for
    /// a plot of the other mode.
    pub fn draw_multi(
        &self,
        ctx: &PlotContext<'_>,
        runs: &MultiRun,
        sources: &[Source],
    ) -> Result<Drawn> {
        match self.draw {
            Draw::Multi(draw) => draw(ctx, runs, self.name),
            Draw::Recipe { input, draw } => {
                recipe_plots::draw_from_file(ctx, sources, self.name, input, draw)
            }
            Draw::Single(_) => Ok(Drawn::Skipped(format!(
                "'{}' is not a multi-run plot",
                self.name
            ))),
        }
    }
}

/// Every built-in plot, in drawing order.
pub const PRESETS: &[Preset] = &[
    Preset {
        name: "ttft_over_time",
        description: "time to first token of every request, in send order",
        draw: Draw::Single(|ctx, run, png| {
            single::scatter(
                ctx,
                run,
                png,
                "time_to_first_token",
                SingleRunX::RequestNumber,
                false,
                None,
            )
        }),
    },
    Preset {
        name: "itl_over_time",
        description: "inter-token latency of every request, in send order",
        draw: Draw::Single(|ctx, run, png| {
            single::scatter(
                ctx,
                run,
                png,
                "inter_token_latency",
                SingleRunX::RequestNumber,
                false,
                None,
            )
        }),
    },
    Preset {
        name: "latency_over_time",
        description: "request latency over the run with rolling p50, p95 and p99",
        draw: Draw::Single(|ctx, run, png| {
            single::scatter(
                ctx,
                run,
                png,
                "request_latency",
                SingleRunX::Timestamp,
                true,
                None,
            )
        }),
    },
    Preset {
        name: "throughput_over_time",
        description: "output tokens per second over the run (each request's tokens spread over its generation)",
        draw: Draw::Single(single::throughput_over_time),
    },
    Preset {
        name: "request_timeline",
        description: "every request as a bar: waiting for the first token, then generating",
        draw: Draw::Single(single::request_timeline),
    },
    Preset {
        name: "replay_schedule",
        description: "a trace replay: how long after its timestamp each request was sent, over the trace",
        draw: Draw::Single(single::replay_schedule),
    },
    Preset {
        name: "latency_distribution",
        description: "histogram of request latency (log scale when it spans more than 20x)",
        draw: Draw::Single(|ctx, run, png| {
            single::histogram(ctx, run, png, "request_latency", None)
        }),
    },
    Preset {
        name: "latency_cdf",
        description: "cumulative distribution of TTFT, ITL and request latency",
        draw: Draw::Single(single::cdf),
    },
    Preset {
        name: "timeslices_ttft",
        description: "average TTFT per timeslice (AIPerf timeslice export)",
        draw: Draw::Single(|ctx, run, png| {
            single::timeslices(ctx, run, png, "Time to First Token")
        }),
    },
    Preset {
        name: "timeslices_itl",
        description: "average ITL per timeslice (AIPerf timeslice export)",
        draw: Draw::Single(|ctx, run, png| {
            single::timeslices(ctx, run, png, "Inter Token Latency")
        }),
    },
    Preset {
        name: "timeslices_throughput",
        description: "request throughput per timeslice (AIPerf timeslice export)",
        draw: Draw::Single(|ctx, run, png| single::timeslices(ctx, run, png, "Request Throughput")),
    },
    Preset {
        name: "timeslices_latency",
        description: "average request latency per timeslice (AIPerf timeslice export)",
        draw: Draw::Single(|ctx, run, png| single::timeslices(ctx, run, png, "Request Latency")),
    },
    Preset {
        name: "pareto_throughput_vs_latency",
        description: "output token throughput against request latency, Pareto front marked, CI crosshairs",
        draw: Draw::Multi(|ctx, runs, name| {
            multi::xy(
                ctx,
                runs,
                name,
                ("request_latency", "avg"),
                ("output_token_throughput", "avg"),
                MultiRunKind::Pareto,
                "Throughput vs latency (Pareto front of lower latency and higher throughput)",
            )
        }),
    },
    Preset {
        name: "ttft_vs_throughput",
        description: "request throughput against time to first token, one line per series",
        draw: Draw::Multi(|ctx, runs, name| {
            multi::xy(
                ctx,
                runs,
                name,
                ("time_to_first_token", "avg"),
                ("request_throughput", "avg"),
                MultiRunKind::ScatterLine,
                "Request throughput vs time to first token",
            )
        }),
    },
    Preset {
        name: "metrics_vs_parameters",
        description: "each key metric against each swept parameter (or run), with its CI band",
        draw: Draw::Multi(|ctx, runs, _| multi::metrics_vs_parameters(ctx, runs)),
    },
    Preset {
        name: "concurrency_ramp",
        description: "the concurrency-ramp curve with its threshold and the knee marked",
        draw: Draw::Recipe {
            input: names::DEGRADATION_KNEE_JSON,
            draw: |ctx, doc, file| {
                recipe_plots::concurrency_ramp(ctx, doc, file.out, file.subtitle)
            },
        },
    },
    Preset {
        name: "prefill_ttft_curve",
        description: "TTFT against input length with the fitted curve",
        draw: Draw::Recipe {
            input: names::PREFILL_CURVE_JSON,
            draw: |ctx, doc, file| recipe_plots::prefill_curve(ctx, doc, file.out, file.subtitle),
        },
    },
    Preset {
        name: "decode_itl_surface",
        description: "ITL over concurrency and output length, as a heatmap",
        draw: Draw::Recipe {
            input: names::DECODE_ITL_SURFACE_JSON,
            draw: |ctx, doc, file| recipe_plots::itl_surface(ctx, doc, file.out, file.subtitle),
        },
    },
    Preset {
        name: "pareto_sweep",
        description: "the pareto-sweep recipe's cells with their Pareto front",
        draw: Draw::Recipe {
            input: names::PARETO_SWEEP_JSON,
            draw: |ctx, doc, file| recipe_plots::pareto_sweep(ctx, doc, file.out, file.subtitle),
        },
    },
    Preset {
        name: "search_trajectory",
        description: "a search's points in order: objective, SLA metric and threshold, the answer",
        draw: Draw::Recipe {
            input: names::SEARCH_HISTORY_JSON,
            draw: |ctx, doc, file| trajectory::search_trajectory(ctx, doc, file.path, file.out),
        },
    },
];

/// The built-in plot named `name`.
pub fn preset(name: &str) -> Option<&'static Preset> {
    PRESETS.iter().find(|p| p.name == name)
}

/// Names of the built-in plots of `mode`.
pub fn names(mode: PlotMode) -> impl Iterator<Item = &'static str> {
    PRESETS
        .iter()
        .filter(move |p| p.mode() == mode)
        .map(|p| p.name)
}
