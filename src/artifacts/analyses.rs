//! The files search recipes write beside the sweep aggregate, in AIPerf's shapes:
//! `degradation_knee.json`, `prefill_curve.json`, `decode_itl_surface.json`,
//! `pareto_sweep.json` and `sla_breach.json`. Several keys are named after the swept parameter
//! or statistic (`knee_concurrency`, `baseline_p99`, `concurrency_axis`), so each type keeps the
//! fields every file has and reads the named ones through methods; the document reads back and
//! writes again as it was.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// What every analysis file may say about itself.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AnalysisHeader {
    /// Why the analysis could not be made (too few points, no fit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_reason: Option<String>,
    /// The recipe that wrote it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipe: Option<String>,
}

fn number(map: &Map<String, Value>, key: &str) -> Option<f64> {
    map.get(key)?.as_f64().filter(|v| v.is_finite())
}

/// `(x, y)` of every point that has both, in file order.
fn pairs(points: &[Map<String, Value>], x: &str, y: &str) -> Vec<(f64, f64)> {
    points
        .iter()
        .filter_map(|p| Some((number(p, x)?, number(p, y)?)))
        .collect()
}

/// `degradation_knee.json`: where a latency statistic first rises more than `threshold_pct`
/// above its value at the lowest knob setting.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DegradationKnee {
    /// The knob (`concurrency`).
    pub swept_param: String,
    /// The metric watched.
    pub swept_metric: String,
    /// Its statistic (`p99`).
    pub stat: String,
    /// `baseline_<param>`, `knee_<stat>`, `all_points`, `threshold_pct`, ... as written.
    #[serde(flatten)]
    pub rest: Map<String, Value>,
}

impl DegradationKnee {
    /// The allowed rise, as a fraction (0.2 = 20%).
    pub fn threshold(&self) -> Option<f64> {
        number(&self.rest, "threshold_pct")
    }

    /// The statistic at the lowest knob setting.
    pub fn baseline(&self) -> Option<f64> {
        number(&self.rest, &format!("baseline_{}", self.stat))
    }

    /// The knob setting of the knee, when the rise happened.
    pub fn knee(&self) -> Option<f64> {
        number(&self.rest, &format!("knee_{}", self.swept_param))
    }

    /// `(knob, statistic)` of every measured point.
    pub fn points(&self) -> Vec<(f64, f64)> {
        let points: Vec<Map<String, Value>> = self
            .rest
            .get("all_points")
            .and_then(|v| serde_json::from_value(v.clone()).ok())
            .unwrap_or_default();
        let y = format!("{}_{}", self.swept_metric, self.stat);
        pairs(&points, &self.swept_param, &y)
    }
}

/// `prefill_curve.json`: TTFT against input length with a linear or quadratic fit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PrefillCurve {
    /// The knob (`isl`).
    pub swept_param: String,
    /// The metric fitted.
    pub swept_metric: String,
    /// Its statistic.
    pub stat: String,
    /// `raw_points`, `fit_form`, `coefficients`, `r_squared`, ... as written.
    #[serde(flatten)]
    pub rest: Map<String, Value>,
}

impl PrefillCurve {
    /// `(input length, TTFT ms)` of every measured point.
    pub fn points(&self) -> Vec<(f64, f64)> {
        let points: Vec<Map<String, Value>> = self
            .rest
            .get("raw_points")
            .and_then(|v| serde_json::from_value(v.clone()).ok())
            .unwrap_or_default();
        pairs(&points, &self.swept_param, "ttft_ms")
    }

    /// The fit's polynomial coefficients, highest power first.
    pub fn coefficients(&self) -> Vec<f64> {
        self.rest
            .get("coefficients")
            .and_then(Value::as_array)
            .map(|c| c.iter().filter_map(Value::as_f64).collect())
            .unwrap_or_default()
    }

    /// `linear` or `quadratic`.
    pub fn fit_form(&self) -> Option<&str> {
        self.rest.get("fit_form").and_then(Value::as_str)
    }

    /// The fit's coefficient of determination.
    pub fn r_squared(&self) -> Option<f64> {
        number(&self.rest, "r_squared")
    }
}

/// `decode_itl_surface.json`: ITL over two knobs (concurrency and output length) as a grid.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DecodeItlSurface {
    /// The metric.
    pub swept_metric: String,
    /// Its statistic.
    pub stat: String,
    /// The two knobs, rows first.
    pub swept_params: Vec<String>,
    /// `raw_points`, `surface` (`<knob>_axis`, `itl_grid`), `surface_fit_failed` as written.
    #[serde(flatten)]
    pub rest: Map<String, Value>,
}

impl DecodeItlSurface {
    fn surface(&self) -> Option<&Map<String, Value>> {
        self.rest.get("surface")?.as_object()
    }

    /// The values of knob `index` (0 = rows, 1 = columns).
    pub fn axis(&self, index: usize) -> Vec<f64> {
        let Some(name) = self.swept_params.get(index) else {
            return Vec::new();
        };
        self.surface()
            .and_then(|s| s.get(&format!("{name}_axis")))
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_f64).collect())
            .unwrap_or_default()
    }

    /// The grid, rows by the first knob; `None` where a cell was not measured.
    pub fn grid(&self) -> Vec<Vec<Option<f64>>> {
        self.surface()
            .and_then(|s| s.get("itl_grid"))
            .and_then(Value::as_array)
            .map(|rows| {
                rows.iter()
                    .map(|r| {
                        r.as_array()
                            .map(|c| c.iter().map(Value::as_f64).collect())
                            .unwrap_or_default()
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// One axis of the pareto-sweep plot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParetoAxis {
    /// Metric tag.
    pub metric: String,
    /// Statistic.
    pub stat: String,
    /// `lower` or `higher`.
    pub better: String,
}

/// One cell of `pareto_sweep.json`: its knob values, its two coordinates and whether it is on
/// the front.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParetoCell {
    /// The x coordinate.
    pub x: Option<f64>,
    /// The y coordinate.
    pub y: Option<f64>,
    /// Whether no other cell is better on both.
    pub pareto_optimal: bool,
    /// The cell's knob values (`isl`, `osl`, `concurrency`).
    #[serde(flatten)]
    pub parameters: Map<String, Value>,
}

/// `pareto_sweep.json`: the cells of a scenario sweep on two axes with their Pareto front.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParetoSweep {
    /// The x axis.
    pub x: ParetoAxis,
    /// The y axis.
    pub y: ParetoAxis,
    /// The cells.
    #[serde(default)]
    pub cells: Vec<ParetoCell>,
    /// `error_reason`, `recipe` as written.
    #[serde(flatten)]
    pub rest: Map<String, Value>,
}

/// `sla_breach.json`: which knob values met every SLA, the first that did not and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SlaBreach {
    /// The knob.
    pub swept_param: String,
    /// `max_passing_<knob>`, `first_failing_<knob>`, the breach, every point, the monotonicity
    /// check and the filters, as written.
    #[serde(flatten)]
    pub rest: Map<String, Value>,
}

impl SlaBreach {
    /// The highest knob value that met every SLA.
    pub fn max_passing(&self) -> Option<f64> {
        number(&self.rest, &format!("max_passing_{}", self.swept_param))
    }

    /// The lowest knob value that broke one.
    pub fn first_failing(&self) -> Option<f64> {
        number(&self.rest, &format!("first_failing_{}", self.swept_param))
    }
}
