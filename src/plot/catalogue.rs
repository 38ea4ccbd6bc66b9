//! The built-in plots: their names (which are also the PNG file names), the mode they belong to
//! and what each shows. Configuration files name plots from this list.

/// Which mode a plot is drawn in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlotMode {
    /// Per-request plots of one run.
    Single,
    /// One point per cell or run.
    Multi,
}

/// A built-in plot.
#[derive(Debug, Clone, Copy)]
pub struct Preset {
    /// Name, also the file name (`<name>.png`; `metrics_vs_parameters` writes one file per pair).
    pub name: &'static str,
    /// Mode.
    pub mode: PlotMode,
    /// What it shows, for `summary.txt` and the docs.
    pub description: &'static str,
}

const fn single(name: &'static str, description: &'static str) -> Preset {
    Preset {
        name,
        mode: PlotMode::Single,
        description,
    }
}

const fn multi(name: &'static str, description: &'static str) -> Preset {
    Preset {
        name,
        mode: PlotMode::Multi,
        description,
    }
}

/// Every built-in plot, in drawing order.
pub const PRESETS: &[Preset] = &[
    single(
        "ttft_over_time",
        "time to first token of every request, in send order",
    ),
    single(
        "itl_over_time",
        "inter-token latency of every request, in send order",
    ),
    single(
        "latency_over_time",
        "request latency over the run with rolling p50, p95 and p99",
    ),
    single(
        "throughput_over_time",
        "output tokens per second over the run (each request's tokens spread over its generation)",
    ),
    single(
        "request_timeline",
        "every request as a bar: waiting for the first token, then generating",
    ),
    single(
        "latency_distribution",
        "histogram of request latency (log scale when it spans more than 20x)",
    ),
    single(
        "latency_cdf",
        "cumulative distribution of TTFT, ITL and request latency",
    ),
    single(
        "timeslices_ttft",
        "average TTFT per timeslice (AIPerf timeslice export)",
    ),
    single(
        "timeslices_itl",
        "average ITL per timeslice (AIPerf timeslice export)",
    ),
    single(
        "timeslices_throughput",
        "request throughput per timeslice (AIPerf timeslice export)",
    ),
    single(
        "timeslices_latency",
        "average request latency per timeslice (AIPerf timeslice export)",
    ),
    multi(
        "pareto_throughput_vs_latency",
        "output token throughput against request latency, Pareto front marked, CI crosshairs",
    ),
    multi(
        "ttft_vs_throughput",
        "request throughput against time to first token, one line per series",
    ),
    multi(
        "metrics_vs_parameters",
        "each key metric against each swept parameter (or run), with its CI band",
    ),
    multi(
        "concurrency_ramp",
        "the concurrency-ramp curve with its threshold and the knee marked",
    ),
    multi(
        "prefill_ttft_curve",
        "TTFT against input length with the fitted curve",
    ),
    multi(
        "decode_itl_surface",
        "ITL over concurrency and output length, as a heatmap",
    ),
    multi(
        "pareto_sweep",
        "the pareto-sweep recipe's cells with their Pareto front",
    ),
    multi(
        "search_trajectory",
        "a search's points in order: objective, SLA metric and threshold, the answer",
    ),
];

/// The built-in plot named `name`.
pub fn preset(name: &str) -> Option<&'static Preset> {
    PRESETS.iter().find(|p| p.name == name)
}

/// Names of the built-in plots of `mode`.
pub fn names(mode: PlotMode) -> impl Iterator<Item = &'static str> {
    PRESETS
        .iter()
        .filter(move |p| p.mode == mode)
        .map(|p| p.name)
}
