//! The files search recipes write beside the sweep aggregate, in AIPerf's shapes:
//! `degradation_knee.json`, `prefill_curve.json`, `decode_itl_surface.json`,
//! `pareto_sweep.json` and `sla_breach.json`. Several keys are named after the swept parameter
//! or statistic (`knee_concurrency`, `baseline_p99`, `concurrency_axis`), so each type keeps the
//! fields every file has and reads the named ones through methods; the document reads back and
//! writes again as it was.

use super::names;
use super::search_history::SlaFilter;
use crate::spec::recipe::ConstraintOp;
use crate::support::numbers::json_number_integral as integral;
use serde::{Deserialize, Serialize, Serializer};
use serde_json::{Map, Value, json};

/// A recipe's analysis, ready to be written to its file.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Analysis {
    /// `degradation_knee.json`.
    DegradationKnee(DegradationKnee),
    /// `prefill_curve.json`.
    PrefillCurve(PrefillCurve),
    /// `decode_itl_surface.json`.
    DecodeItlSurface(DecodeItlSurface),
    /// `pareto_sweep.json`.
    ParetoSweep(ParetoSweep),
    /// `sla_breach.json`.
    SlaBreach(SlaBreach),
}

impl Analysis {
    /// The file the analysis is written to, beside the sweep aggregate.
    pub fn file_name(&self) -> &'static str {
        match self {
            Self::DegradationKnee(_) => names::DEGRADATION_KNEE_JSON,
            Self::PrefillCurve(_) => names::PREFILL_CURVE_JSON,
            Self::DecodeItlSurface(_) => names::DECODE_ITL_SURFACE_JSON,
            Self::ParetoSweep(_) => names::PARETO_SWEEP_JSON,
            Self::SlaBreach(_) => names::SLA_BREACH_JSON,
        }
    }

    /// Names the recipe that wrote it (the `recipe` key, written last).
    pub fn set_recipe(&mut self, name: &str) {
        let rest = match self {
            Self::DegradationKnee(a) => &mut a.rest,
            Self::PrefillCurve(a) => &mut a.rest,
            Self::DecodeItlSurface(a) => &mut a.rest,
            Self::ParetoSweep(a) => &mut a.rest,
            Self::SlaBreach(a) => &mut a.rest,
        };
        rest.insert("recipe".into(), Value::from(name));
    }
}

fn integral_or_null(v: Option<f64>) -> Value {
    v.map(integral).unwrap_or(Value::Null)
}

/// Writes a coordinate as [`integral`] does: `12`, not `12.0`; `null` when absent.
fn integral_option<S: Serializer>(v: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
    integral_or_null(*v).serialize(s)
}

/// One point: the knob's value and one named measurement.
fn point(knob: &str, x: Value, key: impl Into<String>, y: Value) -> Value {
    let mut p = Map::new();
    p.insert(knob.to_string(), x);
    p.insert(key.into(), y);
    Value::Object(p)
}

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
    /// The analysis of `points` (knob value, statistic), sorted by knob value; `knee` is the
    /// first of them past the threshold. The baseline is the first point, so the two cannot
    /// disagree; with no points the file says so in `error_reason`.
    pub fn new(
        knob: &str,
        metric: &str,
        stat: &str,
        threshold: f64,
        points: &[(f64, f64)],
        knee: Option<(f64, f64)>,
    ) -> Self {
        let mut rest = Map::new();
        rest.insert("threshold_pct".into(), json!(threshold));
        match points.first() {
            None => {
                rest.insert("error_reason".into(), json!("no measured points"));
            }
            Some(&(x0, y0)) => {
                rest.insert(format!("baseline_{knob}"), integral(x0));
                rest.insert(format!("baseline_{stat}"), integral(y0));
                rest.insert(format!("knee_{knob}"), integral_or_null(knee.map(|k| k.0)));
                rest.insert(format!("knee_{stat}"), integral_or_null(knee.map(|k| k.1)));
                let y = format!("{metric}_{stat}");
                let all = points
                    .iter()
                    .map(|(x, v)| point(knob, integral(*x), y.clone(), json!(v)))
                    .collect();
                rest.insert("all_points".into(), Value::Array(all));
            }
        }
        Self {
            swept_param: knob.into(),
            swept_metric: metric.into(),
            stat: stat.into(),
            rest,
        }
    }

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

/// A least-squares polynomial through the measured points.
#[derive(Debug, Clone, PartialEq)]
pub struct PolynomialFit {
    /// `linear` or `quadratic`.
    pub form: &'static str,
    /// Highest power first.
    pub coefficients: Vec<f64>,
    /// Coefficient of determination.
    pub r_squared: f64,
}

impl PrefillCurve {
    /// The curve of `points` (input length, TTFT ms) with its fit; without a fit the file says
    /// why in `error_reason`. `below_floor` is written from the fit and the floor together.
    pub fn new(
        knob: &str,
        metric: &str,
        stat: &str,
        r_squared_floor: f64,
        points: &[(f64, f64)],
        fit: Option<PolynomialFit>,
    ) -> Self {
        let mut rest = Map::new();
        rest.insert("r_squared_floor".into(), json!(r_squared_floor));
        let raw = points
            .iter()
            .map(|(x, y)| point(knob, integral(*x), "ttft_ms", json!(y)))
            .collect();
        rest.insert("raw_points".into(), Value::Array(raw));
        match fit {
            None => {
                rest.insert(
                    "error_reason".into(),
                    json!("a fit needs at least 2 measured points"),
                );
                rest.insert("fit_form".into(), Value::Null);
            }
            Some(fit) => {
                rest.insert("fit_form".into(), json!(fit.form));
                let coefficients = fit.coefficients.iter().map(|c| integral(*c)).collect();
                rest.insert("coefficients".into(), Value::Array(coefficients));
                rest.insert("r_squared".into(), integral(fit.r_squared));
                rest.insert("below_floor".into(), json!(fit.r_squared < r_squared_floor));
            }
        }
        Self {
            swept_param: knob.into(),
            swept_metric: metric.into(),
            stat: stat.into(),
            rest,
        }
    }

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
    /// The surface over two knobs: `points` (row knob, column knob, ITL when measured), the
    /// sorted axes and the grid (rows by `rows`, columns by `cols`). `fit_failed` marks a
    /// surface with too few values or cells to read, and says why in `error_reason`.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        knobs: (&str, &str),
        metric: &str,
        stat: &str,
        points: &[(f64, f64, Option<f64>)],
        rows: Vec<f64>,
        cols: Vec<f64>,
        grid: &[Vec<Option<f64>>],
        fit_failed: bool,
    ) -> Self {
        let (row, col) = knobs;
        let mut rest = Map::new();
        let raw = points
            .iter()
            .map(|p| {
                let mut m = Map::new();
                m.insert(row.into(), json!(p.0));
                m.insert(col.into(), json!(p.1));
                m.insert("itl_ms".into(), json!(p.2));
                Value::Object(m)
            })
            .collect();
        rest.insert("raw_points".into(), Value::Array(raw));
        let grid: Vec<Value> = grid
            .iter()
            .map(|r| Value::Array(r.iter().map(|c| integral_or_null(*c)).collect()))
            .collect();
        let mut surface = Map::new();
        surface.insert(format!("{row}_axis"), json!(rows));
        surface.insert(format!("{col}_axis"), json!(cols));
        surface.insert("itl_grid".into(), Value::Array(grid));
        rest.insert("surface".into(), Value::Object(surface));
        rest.insert("surface_fit_failed".into(), json!(fit_failed));
        if fit_failed {
            rest.insert(
                "error_reason".into(),
                json!("a surface needs at least 2 values of each knob and 4 measured cells"),
            );
        }
        Self {
            swept_metric: metric.into(),
            stat: stat.into(),
            swept_params: vec![row.into(), col.into()],
            rest,
        }
    }

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
    /// The cell's knob values (`isl`, `osl`, `concurrency`), written first.
    #[serde(flatten)]
    pub parameters: Map<String, Value>,
    /// The x coordinate.
    #[serde(serialize_with = "integral_option")]
    pub x: Option<f64>,
    /// The y coordinate.
    #[serde(serialize_with = "integral_option")]
    pub y: Option<f64>,
    /// Whether no other cell is better on both.
    pub pareto_optimal: bool,
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

/// An SLA a knob value broke, with the value measured (`null` when it was not).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Breach {
    /// Metric tag.
    pub metric: String,
    /// Statistic.
    pub stat: String,
    /// Comparison.
    pub op: ConstraintOp,
    /// Threshold.
    pub threshold: f64,
    /// The value measured.
    #[serde(serialize_with = "integral_option")]
    pub observed: Option<f64>,
}

impl SlaBreach {
    /// The verdicts of `rows` (knob value, the SLAs it broke), in any order. The highest passing
    /// value, the first failing one, its first breach and the monotonicity check are derived
    /// from the rows here, so the file cannot contradict its own points.
    pub fn new(knob: &str, mut rows: Vec<(f64, Vec<Breach>)>, filters: &[SlaFilter]) -> Self {
        rows.sort_by(|a, b| a.0.total_cmp(&b.0));
        let first_fail = rows.iter().find(|(_, b)| !b.is_empty());
        let max_pass = rows
            .iter()
            .filter(|(_, b)| b.is_empty())
            .map(|(x, _)| *x)
            .reduce(f64::max);
        let passes_after_failure: Vec<Value> = match first_fail {
            Some((f, _)) => rows
                .iter()
                .filter(|(x, b)| x > f && b.is_empty())
                .map(|(x, _)| integral(*x))
                .collect(),
            None => vec![],
        };
        let mut rest = Map::new();
        rest.insert(format!("max_passing_{knob}"), integral_or_null(max_pass));
        rest.insert(
            format!("first_failing_{knob}"),
            integral_or_null(first_fail.map(|(x, _)| *x)),
        );
        rest.insert(
            "first_failing_breach".into(),
            first_fail
                .and_then(|(_, b)| b.first())
                .map(|b| json!(b))
                .unwrap_or(Value::Null),
        );
        let all = rows
            .iter()
            .map(|(x, b)| {
                let mut p = Map::new();
                p.insert(knob.into(), integral(*x));
                p.insert("feasible".into(), json!(b.is_empty()));
                p.insert("breaches".into(), json!(b));
                Value::Object(p)
            })
            .collect();
        rest.insert("all_points".into(), Value::Array(all));
        rest.insert(
            "monotonicity_check".into(),
            json!({"monotone": passes_after_failure.is_empty(), "passes_after_first_failure": passes_after_failure}),
        );
        rest.insert("filters".into(), json!(filters));
        if rows.is_empty() {
            rest.insert("error_reason".into(), json!("no measured points"));
        }
        Self {
            swept_param: knob.into(),
            rest,
        }
    }

    /// The highest knob value that met every SLA.
    pub fn max_passing(&self) -> Option<f64> {
        number(&self.rest, &format!("max_passing_{}", self.swept_param))
    }

    /// The lowest knob value that broke one.
    pub fn first_failing(&self) -> Option<f64> {
        number(&self.rest, &format!("first_failing_{}", self.swept_param))
    }
}
