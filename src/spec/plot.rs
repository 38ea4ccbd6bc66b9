//! The `plot:` block of an experiment and the plot-config file format (AIPerf's shape:
//! `visualization.single_run_defaults`, ...). Only the types live here; reading, checking and
//! drawing are in `plot::config`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// The colour scheme of every plot in one `aiperf plot` call.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    serde::Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
    clap::ValueEnum,
)]
#[serde(rename_all = "snake_case")]
pub enum Theme {
    /// Dark text on white, for documents and slides.
    #[default]
    Light,
    /// Light text on near-black, for dark dashboards.
    Dark,
}

/// A plot configuration.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PlotConfig {
    /// Colour theme (`light` or `dark`); `aiperf plot --theme` overrides it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub theme: Option<Theme>,
    /// Which plots to draw.
    #[serde(default)]
    pub visualization: Visualization,
    /// AIPerf's server-metrics settings. Accepted so AIPerf files load; aiperf collects no server
    /// metrics, so nothing reads them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<BTreeMap<String, serde_json::Value>>")]
    pub settings: Option<serde_json::Value>,
    /// AIPerf's baseline/treatment grouping. Accepted so AIPerf files load; not used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<BTreeMap<String, serde_json::Value>>")]
    pub experiment_classification: Option<serde_json::Value>,
}

/// Which plots are drawn in each mode.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Visualization {
    /// Plots drawn for a single run (built-in or from `single_run_plots`); default: every built-in one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub single_run_defaults: Option<Vec<String>>,
    /// Plots drawn for several runs (built-in or from `multi_run_plots`); default: every built-in one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multi_run_defaults: Option<Vec<String>>,
    /// Extra single-run plots by name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub single_run_plots: BTreeMap<String, SingleRunPlot>,
    /// Extra multi-run plots by name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub multi_run_plots: BTreeMap<String, MultiRunPlot>,
}

/// Kinds of user-defined single-run plots.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum SingleRunKind {
    /// One dot per request.
    Scatter,
    /// One dot per request with rolling p50, p95 and p99.
    ScatterWithPercentiles,
    /// A histogram of the metric.
    Histogram,
}

/// The x axis of a single-run scatter.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum SingleRunX {
    /// The request's position in send order.
    #[default]
    RequestNumber,
    /// Seconds since the first request was sent.
    Timestamp,
}

/// A user-defined single-run plot.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SingleRunPlot {
    /// The kind of plot.
    #[serde(rename = "type")]
    pub kind: SingleRunKind,
    /// The x axis of scatters.
    #[serde(default)]
    pub x: SingleRunX,
    /// A per-request metric tag (`output_sequence_length`, `time_to_second_token`, ...).
    pub y: String,
    /// Title; default from the metric.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
}

/// Kinds of user-defined multi-run plots.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum MultiRunKind {
    /// Points joined in parameter order.
    ScatterLine,
    /// Points with the Pareto front of lower x and higher y marked.
    Pareto,
}

/// One statistic of one metric, as an axis of a multi-run plot.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct MetricStat {
    /// Metric tag.
    pub metric: String,
    /// Statistic (`avg`, `p50`, `p99`, ...); default `avg`.
    #[serde(default = "default_stat")]
    pub stat: String,
}

fn default_stat() -> String {
    "avg".into()
}

/// A user-defined multi-run plot.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct MultiRunPlot {
    /// The kind of plot.
    #[serde(rename = "type")]
    pub kind: MultiRunKind,
    /// The x axis.
    pub x: MetricStat,
    /// The y axis.
    pub y: MetricStat,
    /// Title; default from the metrics.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
}

/// A `plot:` block: a path to a plot-config file (relative to the experiment file) or the
/// configuration written in place.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(untagged)]
pub enum PlotEnvelope {
    /// A plot-config file.
    Path(PathBuf),
    /// The configuration itself.
    Inline(Box<PlotConfig>),
}
