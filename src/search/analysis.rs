//! The analyses recipes write after their trials, computed from the sweep aggregate
//! (`per_combination_metrics`, keys `<tag>_<stat>`). Pure functions: they decide what the
//! numbers say; `artifacts::analyses` owns the files' shapes, and the runner writes them.

use super::verdict::Sla;
use crate::artifacts::aggregates::SweepAggregateFile;
use crate::artifacts::analyses::{
    Analysis, Breach, DecodeItlSurface, DegradationKnee, ParetoAxis, ParetoCell, ParetoSweep,
    PolynomialFit, PrefillCurve, SlaBreach,
};
use crate::spec::recipe::AnalysisSpec;
use serde_json::{Map, Value};

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
) -> Analysis {
    match spec {
        AnalysisSpec::DegradationKnee {
            metric,
            stat,
            threshold_pct,
        } => Analysis::DegradationKnee(knee(sweep, params, metric, stat, *threshold_pct)),
        AnalysisSpec::PrefillCurve {
            metric,
            stat,
            r_squared_floor,
        } => Analysis::PrefillCurve(prefill(sweep, params, metric, stat, *r_squared_floor)),
        AnalysisSpec::DecodeItlSurface { metric, stat } => {
            Analysis::DecodeItlSurface(surface(sweep, params, metric, stat))
        }
        AnalysisSpec::ParetoSweep {
            x_metric,
            x_stat,
            y_metric,
            y_stat,
        } => Analysis::ParetoSweep(pareto(sweep, x_metric, x_stat, y_metric, y_stat)),
        AnalysisSpec::SlaBreach => Analysis::SlaBreach(sla_breach(sweep, params, slas)),
    }
}

/// Which knob values meet every constraint. A value whose constrained statistic was not
/// measured breaks that constraint.
fn sla_breach(sweep: &SweepAggregateFile, params: &[String], slas: &[Sla]) -> SlaBreach {
    let param = params.first().cloned().unwrap_or_default();
    let rows: Vec<(f64, Vec<Breach>)> = sweep
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
                    Some(Breach {
                        metric: sla.metric.clone(),
                        stat: sla.stat.clone(),
                        op: sla.op,
                        threshold: sla.threshold,
                        observed,
                    })
                })
                .collect();
            Some((x, breaches))
        })
        .collect();
    SlaBreach::new(&param, rows, &super::history::sla_filters(slas))
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
) -> DegradationKnee {
    let param = params.first().cloned().unwrap_or_default();
    let pts = sorted_1d(sweep, &param, metric, stat);
    let knee = pts
        .first()
        .and_then(|&(_, y0)| pts.iter().find(|(_, y)| *y > y0 * (1.0 + threshold)))
        .copied();
    DegradationKnee::new(&param, metric, stat, threshold, &pts, knee)
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
) -> PrefillCurve {
    let param = params
        .iter()
        .find(|p| p.as_str() == "isl")
        .cloned()
        .or_else(|| params.first().cloned())
        .unwrap_or_default();
    let pts = sorted_1d(sweep, &param, metric, stat);
    let (xs, ys): (Vec<f64>, Vec<f64>) = pts.iter().copied().unzip();
    let fit = polyfit(&xs, &ys, 1).map(|(coefficients, r_squared)| {
        let line = PolynomialFit {
            form: "linear",
            coefficients,
            r_squared,
        };
        match polyfit(&xs, &ys, 2) {
            Some((q, q_r2)) if line.r_squared < floor && q_r2 > line.r_squared => PolynomialFit {
                form: "quadratic",
                coefficients: q,
                r_squared: q_r2,
            },
            _ => line,
        }
    });
    PrefillCurve::new(&param, metric, stat, floor, &pts, fit)
}

/// ITL over the two swept knobs (first = rows, second = columns), `None` where unmeasured.
fn surface(
    sweep: &SweepAggregateFile,
    params: &[String],
    metric: &str,
    stat: &str,
) -> DecodeItlSurface {
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
    let grid: Vec<Vec<Option<f64>>> = rows
        .iter()
        .map(|r| {
            cols.iter()
                .map(|c| {
                    pts.iter()
                        .find(|p| p.0 == *r && p.1 == *c)
                        .and_then(|p| p.2)
                })
                .collect()
        })
        .collect();
    let measured = grid.iter().flatten().filter(|v| v.is_some()).count();
    let failed = rows.len() < 2 || cols.len() < 2 || measured < 4;
    DecodeItlSurface::new((&row, &col), metric, stat, &pts, rows, cols, &grid, failed)
}

/// Every cell with its x (lower is better) and y (higher is better), Pareto-optimal ones marked.
fn pareto(
    sweep: &SweepAggregateFile,
    x_metric: &str,
    x_stat: &str,
    y_metric: &str,
    y_stat: &str,
) -> ParetoSweep {
    let xs = points(sweep, x_metric, x_stat);
    let ys = points(sweep, y_metric, y_stat);
    let mut cells: Vec<ParetoCell> = xs
        .into_iter()
        .zip(ys)
        .map(|((parameters, x), (_, y))| ParetoCell {
            parameters,
            x,
            y,
            pareto_optimal: false,
        })
        .collect();
    let measured: Vec<(usize, (f64, f64))> = cells
        .iter()
        .enumerate()
        .filter_map(|(i, c)| Some((i, (c.y?, c.x?))))
        .collect();
    let coords: Vec<(f64, f64)> = measured.iter().map(|m| m.1).collect();
    for k in crate::aggregate::sweep::pareto_front(&coords) {
        cells[measured[k].0].pareto_optimal = true;
    }
    let axis = |metric: &str, stat: &str, better: &str| ParetoAxis {
        metric: metric.into(),
        stat: stat.into(),
        better: better.into(),
    };
    ParetoSweep {
        x: axis(x_metric, x_stat, "lower"),
        y: axis(y_metric, y_stat, "higher"),
        cells,
        rest: Map::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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
        let doc = serde_json::to_value(analyse(&spec, &s, &["concurrency".into()], &[])).unwrap();
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
        let doc = serde_json::to_value(analyse(
            &AnalysisSpec::SlaBreach,
            &s,
            &["concurrency".into()],
            &slas,
        ))
        .unwrap();
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
        let doc =
            serde_json::to_value(analyse(&spec, &sweep(&cells), &["isl".into()], &[])).unwrap();
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
        let doc = serde_json::to_value(analyse(
            &spec,
            &sweep(&cells),
            &["concurrency".into(), "osl".into()],
            &[],
        ))
        .unwrap();
        assert_eq!(doc["surface"]["itl_grid"], json!([[74, 266], [144, 336]]));
        assert_eq!(doc["surface_fit_failed"], false);
    }
}

#[cfg(test)]
mod written_bytes {
    //! The analysis files, byte for byte as aiperf has always written them (integral numbers
    //! without `.0`, key order, nulls), for sweeps with gaps, single points and no points.
    use super::*;
    use crate::spec::recipe::ConstraintOp;
    use serde_json::json;

    fn sweep(cells: &[(Value, Vec<(&str, f64)>)]) -> SweepAggregateFile {
        serde_json::from_value(json!({"per_combination_metrics": cells.iter().map(|(p, m)| {
            let metrics: Map<String, Value> = m.iter().map(|(k, v)| (k.to_string(), json!({"mean": v}))).collect();
            json!({"parameters": p, "metrics": metrics})
        }).collect::<Vec<_>>()}))
        .unwrap()
    }

    fn cases() -> Vec<(&'static str, Analysis)> {
        let ramp = sweep(&[
            (
                json!({"concurrency": 1}),
                vec![
                    ("request_latency_p99", 100.5),
                    ("time_to_first_token_p95", 10.0),
                    ("output_token_throughput_avg", 50.0),
                ],
            ),
            (
                json!({"concurrency": 4}),
                vec![
                    ("request_latency_p99", 115.0),
                    ("time_to_first_token_p95", 12.25),
                    ("output_token_throughput_avg", 180.5),
                ],
            ),
            (
                json!({"concurrency": 16}),
                vec![
                    ("request_latency_p99", 130.0),
                    ("time_to_first_token_p95", 90.0),
                    ("output_token_throughput_avg", 300.0),
                ],
            ),
            (
                json!({"concurrency": 64}),
                vec![
                    ("request_latency_p99", 400.0),
                    ("output_token_throughput_avg", 310.0),
                ],
            ),
        ]);
        let one = sweep(&[(
            json!({"concurrency": 1}),
            vec![("request_latency_p99", 100.0)],
        )]);
        let empty = sweep(&[]);
        let knee = AnalysisSpec::DegradationKnee {
            metric: "request_latency".into(),
            stat: "p99".into(),
            threshold_pct: 0.2,
        };
        let slas = [Sla {
            metric: "time_to_first_token".into(),
            stat: "p95".into(),
            op: ConstraintOp::Lt,
            threshold: 50.0,
        }];
        let isl: Vec<(Value, Vec<(&str, f64)>)> = [256.0f64, 512.0, 1024.0, 2048.0, 4096.0]
            .iter()
            .map(|x| {
                (
                    json!({"isl": x}),
                    vec![("time_to_first_token_avg", 2e-5 * x * x + 10.0)],
                )
            })
            .collect();
        let prefill = AnalysisSpec::PrefillCurve {
            metric: "time_to_first_token".into(),
            stat: "avg".into(),
            r_squared_floor: 0.999,
        };
        let mut grid = Vec::new();
        for c in [1.0, 8.0] {
            for o in [64.0, 256.0] {
                if c == 8.0 && o == 256.0 {
                    continue;
                }
                grid.push((
                    json!({"concurrency": c, "osl": o}),
                    vec![("inter_token_latency_avg", c * 10.0 + o + 0.5)],
                ));
            }
        }
        let mut full = grid.clone();
        full.push((
            json!({"concurrency": 8.0, "osl": 256.0}),
            vec![("inter_token_latency_avg", 336.0)],
        ));
        let surface = AnalysisSpec::DecodeItlSurface {
            metric: "inter_token_latency".into(),
            stat: "avg".into(),
        };
        let pareto = AnalysisSpec::ParetoSweep {
            x_metric: "time_to_first_token".into(),
            x_stat: "p95".into(),
            y_metric: "output_token_throughput".into(),
            y_stat: "avg".into(),
        };
        let c = ["concurrency".to_string()];
        let co = ["concurrency".to_string(), "osl".to_string()];
        vec![
            ("knee", analyse(&knee, &ramp, &c, &[])),
            ("knee_one", analyse(&knee, &one, &c, &[])),
            ("knee_empty", analyse(&knee, &empty, &c, &[])),
            ("sla", analyse(&AnalysisSpec::SlaBreach, &ramp, &c, &slas)),
            (
                "sla_empty",
                analyse(&AnalysisSpec::SlaBreach, &empty, &c, &slas),
            ),
            (
                "prefill",
                analyse(&prefill, &sweep(&isl), &["isl".into()], &[]),
            ),
            ("prefill_one", analyse(&prefill, &one, &c, &[])),
            (
                "surface_partial",
                analyse(&surface, &sweep(&grid), &co, &[]),
            ),
            ("surface_full", analyse(&surface, &sweep(&full), &co, &[])),
            ("pareto", analyse(&pareto, &ramp, &c, &[])),
        ]
    }

    #[test]
    fn every_analysis_file_is_written_as_before() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/analyses");
        for (name, analysis) in cases() {
            let expected = std::fs::read_to_string(dir.join(format!("{name}.json"))).unwrap();
            let written = crate::artifacts::io::to_pretty_json(&analysis);
            assert_eq!(
                String::from_utf8(written).unwrap(),
                expected.trim_end(),
                "{name}"
            );
        }
    }
}
