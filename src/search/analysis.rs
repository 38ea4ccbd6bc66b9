//! The analyses recipes write after their trials, computed from the sweep aggregate
//! (`per_combination_metrics`, keys `<tag>_<stat>`). Pure functions; the runner writes the files.

use super::verdict::Sla;
use crate::artifacts::aggregates::SweepAggregateFile;
use crate::artifacts::names;
use crate::spec::recipe::AnalysisSpec;
use crate::support::numbers::json_number_integral as num;
use serde_json::{Map, Value, json};

/// The file an analysis is written to.
pub fn file_name(spec: &AnalysisSpec) -> &'static str {
    match spec {
        AnalysisSpec::DegradationKnee { .. } => names::DEGRADATION_KNEE_JSON,
        AnalysisSpec::PrefillCurve { .. } => names::PREFILL_CURVE_JSON,
        AnalysisSpec::DecodeItlSurface { .. } => names::DECODE_ITL_SURFACE_JSON,
        AnalysisSpec::ParetoSweep { .. } => names::PARETO_SWEEP_JSON,
        AnalysisSpec::SlaBreach => names::SLA_BREACH_JSON,
    }
}

/// (parameters, value of `<metric>_<stat>`) for every measured combination.
fn points(
    sweep: &SweepAggregateFile,
    metric: &str,
    stat: &str,
) -> Vec<(Map<String, Value>, Option<f64>)> {
    let key = format!("{metric}_{stat}");
    sweep
        .per_combination_metrics
        .iter()
        .map(|c| (c.parameters.clone(), c.mean(&key)))
        .collect()
}

/// Runs an analysis; `params` are the swept parameter names in order, `slas` the recipe's
/// constraints with their thresholds.
pub fn analyse(
    spec: &AnalysisSpec,
    sweep: &SweepAggregateFile,
    params: &[String],
    slas: &[Sla],
) -> Value {
    match spec {
        AnalysisSpec::DegradationKnee {
            metric,
            stat,
            threshold_pct,
        } => knee(sweep, params, metric, stat, *threshold_pct),
        AnalysisSpec::PrefillCurve {
            metric,
            stat,
            r_squared_floor,
        } => prefill(sweep, params, metric, stat, *r_squared_floor),
        AnalysisSpec::DecodeItlSurface { metric, stat } => surface(sweep, params, metric, stat),
        AnalysisSpec::ParetoSweep {
            x_metric,
            x_stat,
            y_metric,
            y_stat,
        } => pareto(sweep, x_metric, x_stat, y_metric, y_stat),
        AnalysisSpec::SlaBreach => sla_breach(sweep, params, slas),
    }
}

/// Which knob values meet every constraint: the highest that does, the first that does not and
/// what it broke, and whether the verdicts are monotone (passes, then only failures). A value
/// whose constrained statistic was not measured breaks that constraint.
fn sla_breach(sweep: &SweepAggregateFile, params: &[String], slas: &[Sla]) -> Value {
    let param = params.first().cloned().unwrap_or_default();
    let mut rows: Vec<(f64, Vec<Value>)> = sweep
        .per_combination_metrics
        .iter()
        .filter_map(|cell| {
            let x = cell.parameters.get(&param)?.as_f64()?;
            let breaches = slas
                .iter()
                .filter_map(|sla| {
                    let observed = cell.mean(&format!("{}_{}", sla.metric, sla.stat));
                    if observed.is_some_and(|v| sla.holds(v)) {
                        return None;
                    }
                    let mut b = serde_json::to_value(sla).unwrap_or_default();
                    b["observed"] = observed.map(num).unwrap_or(Value::Null);
                    Some(b)
                })
                .collect();
            Some((x, breaches))
        })
        .collect();
    rows.sort_by(|a, b| a.0.total_cmp(&b.0));
    let first_fail = rows.iter().find(|(_, b)| !b.is_empty());
    let max_pass = rows
        .iter()
        .filter(|(_, b)| b.is_empty())
        .map(|(x, _)| *x)
        .fold(None, |m: Option<f64>, x| Some(m.map_or(x, |m| m.max(x))));
    let passes_after_failure: Vec<Value> = match first_fail {
        Some((f, _)) => rows
            .iter()
            .filter(|(x, b)| x > f && b.is_empty())
            .map(|(x, _)| num(*x))
            .collect(),
        None => vec![],
    };
    let mut doc = Map::new();
    doc.insert("swept_param".into(), json!(param));
    doc.insert(
        format!("max_passing_{param}"),
        max_pass.map(num).unwrap_or(Value::Null),
    );
    doc.insert(
        format!("first_failing_{param}"),
        first_fail.map(|(x, _)| num(*x)).unwrap_or(Value::Null),
    );
    doc.insert(
        "first_failing_breach".into(),
        first_fail
            .and_then(|(_, b)| b.first().cloned())
            .unwrap_or(Value::Null),
    );
    doc.insert(
        "all_points".into(),
        Value::Array(
            rows.iter()
                .map(|(x, b)| json!({param.clone(): num(*x), "feasible": b.is_empty(), "breaches": b}))
                .collect(),
        ),
    );
    doc.insert(
        "monotonicity_check".into(),
        json!({"monotone": passes_after_failure.is_empty(), "passes_after_first_failure": passes_after_failure}),
    );
    doc.insert(
        "filters".into(),
        serde_json::to_value(slas).unwrap_or_default(),
    );
    if rows.is_empty() {
        doc.insert("error_reason".into(), json!("no measured points"));
    }
    Value::Object(doc)
}

fn sorted_1d(sweep: &SweepAggregateFile, param: &str, metric: &str, stat: &str) -> Vec<(f64, f64)> {
    let mut pts: Vec<(f64, f64)> = points(sweep, metric, stat)
        .into_iter()
        .filter_map(|(p, v)| Some((p.get(param)?.as_f64()?, v?)))
        .collect();
    pts.sort_by(|a, b| a.0.total_cmp(&b.0));
    pts
}

/// The first knob value whose metric exceeds the first point's by more than `threshold`.
fn knee(
    sweep: &SweepAggregateFile,
    params: &[String],
    metric: &str,
    stat: &str,
    threshold: f64,
) -> Value {
    let param = params.first().cloned().unwrap_or_default();
    let pts = sorted_1d(sweep, &param, metric, stat);
    let mut doc = Map::new();
    doc.insert("swept_param".into(), json!(param));
    doc.insert("swept_metric".into(), json!(metric));
    doc.insert("stat".into(), json!(stat));
    doc.insert("threshold_pct".into(), json!(threshold));
    let Some(&(x0, y0)) = pts.first() else {
        doc.insert("error_reason".into(), json!("no measured points"));
        return Value::Object(doc);
    };
    let knee = pts.iter().find(|(_, y)| *y > y0 * (1.0 + threshold));
    doc.insert(format!("baseline_{param}"), num(x0));
    doc.insert(format!("baseline_{stat}"), num(y0));
    doc.insert(
        format!("knee_{param}"),
        knee.map(|k| num(k.0)).unwrap_or(Value::Null),
    );
    doc.insert(
        format!("knee_{stat}"),
        knee.map(|k| num(k.1)).unwrap_or(Value::Null),
    );
    doc.insert(
        "all_points".into(),
        json!(
            pts.iter()
                .map(|(x, y)| json!({param.clone(): num(*x), format!("{metric}_{stat}"): y}))
                .collect::<Vec<_>>()
        ),
    );
    Value::Object(doc)
}

/// Least-squares polynomial fit of degree `degree`; coefficients highest degree first, and r².
pub fn polyfit(xs: &[f64], ys: &[f64], degree: usize) -> Option<(Vec<f64>, f64)> {
    let n = degree + 1;
    if xs.len() < n {
        return None;
    }
    // Normal equations A c = b with A[i][j] = Σ x^(i+j), b[i] = Σ y x^i (coefficients lowest
    // first), as an augmented matrix solved by Gauss-Jordan elimination with partial pivoting.
    let mut a: Vec<Vec<f64>> = (0..n)
        .map(|i| {
            let mut row: Vec<f64> = (0..n)
                .map(|j| xs.iter().map(|x| x.powi((i + j) as i32)).sum())
                .collect();
            row.push(xs.iter().zip(ys).map(|(x, y)| y * x.powi(i as i32)).sum());
            row
        })
        .collect();
    for col in 0..n {
        let pivot = (col..n).max_by(|&r, &s| a[r][col].abs().total_cmp(&a[s][col].abs()))?;
        a.swap(col, pivot);
        if a[col][col].abs() < 1e-12 {
            return None;
        }
        let pivot_row = a[col].clone();
        for (r, row) in a.iter_mut().enumerate() {
            if r != col {
                let f = row[col] / pivot_row[col];
                row.iter_mut()
                    .zip(&pivot_row)
                    .skip(col)
                    .for_each(|(v, p)| *v -= f * p);
            }
        }
    }
    let low_first: Vec<f64> = a
        .iter()
        .enumerate()
        .map(|(i, row)| row[n] / row[i])
        .collect();
    let predict = |x: f64| {
        low_first
            .iter()
            .enumerate()
            .map(|(i, c)| c * x.powi(i as i32))
            .sum::<f64>()
    };
    let mean = ys.iter().sum::<f64>() / ys.len() as f64;
    let ss_tot: f64 = ys.iter().map(|y| (y - mean).powi(2)).sum();
    let ss_res: f64 = xs
        .iter()
        .zip(ys)
        .map(|(x, y)| (y - predict(*x)).powi(2))
        .sum();
    let r2 = if ss_tot > 0.0 {
        1.0 - ss_res / ss_tot
    } else {
        1.0
    };
    Some((low_first.into_iter().rev().collect(), r2))
}

/// TTFT against input length: linear fit, or quadratic when the line is below the r² floor and
/// the quadratic fits better.
fn prefill(
    sweep: &SweepAggregateFile,
    params: &[String],
    metric: &str,
    stat: &str,
    floor: f64,
) -> Value {
    let param = params
        .iter()
        .find(|p| p.as_str() == "isl")
        .cloned()
        .or_else(|| params.first().cloned())
        .unwrap_or_default();
    let pts = sorted_1d(sweep, &param, metric, stat);
    let (xs, ys): (Vec<f64>, Vec<f64>) = pts.iter().copied().unzip();
    let mut doc = json!({
        "swept_param": param, "swept_metric": metric, "stat": stat, "r_squared_floor": floor,
        "raw_points": pts.iter().map(|(x, y)| json!({param.clone(): num(*x), "ttft_ms": y})).collect::<Vec<_>>(),
    });
    let Some((mut coefficients, mut r2)) = polyfit(&xs, &ys, 1) else {
        doc["error_reason"] = json!("a fit needs at least 2 measured points");
        doc["fit_form"] = Value::Null;
        return doc;
    };
    let mut form = "linear";
    if r2 < floor
        && let Some((q, q_r2)) = polyfit(&xs, &ys, 2)
        && q_r2 > r2
    {
        (coefficients, r2, form) = (q, q_r2, "quadratic");
    }
    doc["fit_form"] = json!(form);
    doc["coefficients"] = json!(coefficients.iter().map(|c| num(*c)).collect::<Vec<_>>());
    doc["r_squared"] = num(r2);
    doc["below_floor"] = json!(r2 < floor);
    doc
}

/// ITL over the two swept knobs (first = rows, second = columns), nulls where unmeasured.
fn surface(sweep: &SweepAggregateFile, params: &[String], metric: &str, stat: &str) -> Value {
    let (row, col) = (
        params.first().cloned().unwrap_or_default(),
        params.get(1).cloned().unwrap_or_default(),
    );
    let pts: Vec<(f64, f64, Option<f64>)> = points(sweep, metric, stat)
        .into_iter()
        .filter_map(|(p, v)| Some((p.get(&row)?.as_f64()?, p.get(&col)?.as_f64()?, v)))
        .collect();
    let axis = |f: fn(&(f64, f64, Option<f64>)) -> f64| {
        let mut a: Vec<f64> = pts.iter().map(f).collect();
        a.sort_by(f64::total_cmp);
        a.dedup();
        a
    };
    let (rows, cols) = (axis(|p| p.0), axis(|p| p.1));
    let grid: Vec<Vec<Value>> = rows
        .iter()
        .map(|r| {
            cols.iter()
                .map(|c| {
                    pts.iter()
                        .find(|p| p.0 == *r && p.1 == *c)
                        .and_then(|p| p.2)
                        .map(num)
                        .unwrap_or(Value::Null)
                })
                .collect()
        })
        .collect();
    let measured = grid.iter().flatten().filter(|v| !v.is_null()).count();
    let mut doc = json!({
        "swept_metric": metric, "stat": stat, "swept_params": [row, col],
        "raw_points": pts.iter().map(|p| json!({row.clone(): p.0, col.clone(): p.1, "itl_ms": p.2})).collect::<Vec<_>>(),
        "surface": {format!("{row}_axis"): rows, format!("{col}_axis"): cols, "itl_grid": grid},
        "surface_fit_failed": rows.len() < 2 || cols.len() < 2 || measured < 4,
    });
    if rows.len() < 2 || cols.len() < 2 || measured < 4 {
        doc["error_reason"] =
            json!("a surface needs at least 2 values of each knob and 4 measured cells");
    }
    doc
}

/// Every cell with its x (lower is better) and y (higher is better), Pareto-optimal ones marked.
fn pareto(
    sweep: &SweepAggregateFile,
    x_metric: &str,
    x_stat: &str,
    y_metric: &str,
    y_stat: &str,
) -> Value {
    let xs = points(sweep, x_metric, x_stat);
    let ys = points(sweep, y_metric, y_stat);
    type Cell = (Map<String, Value>, Option<f64>, Option<f64>);
    let cells: Vec<Cell> = xs
        .into_iter()
        .zip(ys)
        .map(|((p, x), (_, y))| (p, x, y))
        .collect();
    let measured: Vec<(usize, (f64, f64))> = cells
        .iter()
        .enumerate()
        .filter_map(|(i, c)| Some((i, (c.2?, c.1?))))
        .collect();
    let coords: Vec<(f64, f64)> = measured.iter().map(|m| m.1).collect();
    let front: Vec<usize> = crate::aggregate::sweep::pareto_front(&coords)
        .into_iter()
        .map(|k| measured[k].0)
        .collect();
    json!({
        "x": {"metric": x_metric, "stat": x_stat, "better": "lower"},
        "y": {"metric": y_metric, "stat": y_stat, "better": "higher"},
        "cells": cells.iter().enumerate().map(|(i, (p, x, y))| {
            let mut c = p.clone();
            c.insert("x".into(), x.map(num).unwrap_or(Value::Null));
            c.insert("y".into(), y.map(num).unwrap_or(Value::Null));
            c.insert("pareto_optimal".into(), json!(front.contains(&i)));
            Value::Object(c)
        }).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sweep(cells: &[(Value, &str, f64)]) -> SweepAggregateFile {
        serde_json::from_value(json!({"per_combination_metrics": cells.iter().map(|(p, k, v)| json!({"parameters": p, "metrics": {*k: {"mean": v}}})).collect::<Vec<_>>()}))
            .unwrap()
    }

    #[test]
    fn knee_is_the_first_point_beyond_the_threshold() {
        let s = sweep(&[
            (json!({"concurrency": 1}), "request_latency_p99", 100.0),
            (json!({"concurrency": 4}), "request_latency_p99", 115.0),
            (json!({"concurrency": 16}), "request_latency_p99", 130.0),
            (json!({"concurrency": 64}), "request_latency_p99", 400.0),
        ]);
        let spec = AnalysisSpec::DegradationKnee {
            metric: "request_latency".into(),
            stat: "p99".into(),
            threshold_pct: 0.2,
        };
        let doc = analyse(&spec, &s, &["concurrency".into()], &[]);
        assert_eq!(doc["baseline_concurrency"], 1);
        assert_eq!(doc["knee_concurrency"], 16);
        assert_eq!(doc["knee_p99"], 130.0);
    }

    #[test]
    fn sla_breach_finds_the_last_pass_and_the_first_failure() {
        let s = sweep(&[
            (json!({"concurrency": 1}), "time_to_first_token_p95", 10.0),
            (json!({"concurrency": 8}), "time_to_first_token_p95", 12.0),
            (json!({"concurrency": 16}), "time_to_first_token_p95", 90.0),
            (json!({"concurrency": 32}), "time_to_first_token_p95", 40.0),
        ]);
        let slas = [Sla {
            metric: "time_to_first_token".into(),
            stat: "p95".into(),
            op: crate::spec::recipe::ConstraintOp::Lt,
            threshold: 50.0,
        }];
        let doc = analyse(&AnalysisSpec::SlaBreach, &s, &["concurrency".into()], &slas);
        assert_eq!(doc["max_passing_concurrency"], 32);
        assert_eq!(doc["first_failing_concurrency"], 16);
        assert_eq!(doc["first_failing_breach"]["observed"], 90);
        assert_eq!(doc["first_failing_breach"]["threshold"], 50.0);
        assert_eq!(doc["monotonicity_check"]["monotone"], false);
        assert_eq!(
            doc["monotonicity_check"]["passes_after_first_failure"],
            json!([32])
        );
        assert_eq!(doc["all_points"][2]["feasible"], false);
    }

    #[test]
    fn polyfit_recovers_exact_lines_and_parabolas() {
        let xs = [256.0, 512.0, 1024.0, 2048.0];
        let line: Vec<f64> = xs.iter().map(|x| 0.05 * x + 20.0).collect();
        let (c, r2) = polyfit(&xs, &line, 1).unwrap();
        assert!(
            (c[0] - 0.05).abs() < 1e-9 && (c[1] - 20.0).abs() < 1e-6 && (r2 - 1.0).abs() < 1e-12,
            "{c:?} {r2}"
        );
        let parabola: Vec<f64> = xs.iter().map(|x| 1e-5 * x * x + 0.01 * x + 5.0).collect();
        let (q, _) = polyfit(&xs, &parabola, 2).unwrap();
        assert!(
            (q[0] - 1e-5).abs() < 1e-9 && (q[1] - 0.01).abs() < 1e-6 && (q[2] - 5.0).abs() < 1e-3,
            "{q:?}"
        );
    }

    #[test]
    fn prefill_switches_to_quadratic_when_the_line_fits_badly() {
        let cells: Vec<(Value, &str, f64)> = [256.0f64, 512.0, 1024.0, 2048.0, 4096.0]
            .iter()
            .map(|x| {
                (
                    json!({"isl": x}),
                    "time_to_first_token_avg",
                    2e-5 * x * x + 10.0,
                )
            })
            .collect();
        let spec = AnalysisSpec::PrefillCurve {
            metric: "time_to_first_token".into(),
            stat: "avg".into(),
            r_squared_floor: 0.999,
        };
        let doc = analyse(&spec, &sweep(&cells), &["isl".into()], &[]);
        assert_eq!(doc["fit_form"], "quadratic");
        assert!(doc["r_squared"].as_f64().unwrap() > 0.9999);
    }

    #[test]
    fn surface_grid_and_pareto_cells() {
        let mut cells = Vec::new();
        for c in [1.0, 8.0] {
            for o in [64.0, 256.0] {
                cells.push((
                    json!({"concurrency": c, "osl": o}),
                    "inter_token_latency_avg",
                    c * 10.0 + o,
                ));
            }
        }
        let spec = AnalysisSpec::DecodeItlSurface {
            metric: "inter_token_latency".into(),
            stat: "avg".into(),
        };
        let doc = analyse(
            &spec,
            &sweep(&cells),
            &["concurrency".into(), "osl".into()],
            &[],
        );
        assert_eq!(doc["surface"]["itl_grid"], json!([[74, 266], [144, 336]]));
        assert_eq!(doc["surface_fit_failed"], false);
    }
}
