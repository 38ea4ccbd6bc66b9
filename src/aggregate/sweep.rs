//! The sweep aggregate: one row of cross-run statistics per parameter combination, the best
//! configurations, and the Pareto front of throughput against tail latency.

use super::{CellAggregate, FailedRun, confidence_stats, failed_records};
use crate::artifacts::aggregates::{
    BestConfiguration, CombinationMetrics, ConfidenceStats, ParetoAxes, SweepAggregateFile,
    SweepMetadata, SweepParameter,
};
use crate::artifacts::names::{SWEEP_CSV, SWEEP_JSON};
use crate::support::csv_text::CsvText;
use indexmap::IndexMap;
use serde_json::{Map, Value};
use std::path::Path;

/// The throughput key best configurations and the Pareto front maximise.
pub const THROUGHPUT_KEY: &str = "request_throughput_avg";
/// The latency keys they minimise, in order of preference.
pub const LATENCY_KEYS: &[&str] = &["time_to_first_token_p99", "request_latency_p99"];

/// One combination with its statistics.
pub struct Combination<'a> {
    /// Parameter values.
    pub parameters: &'a Map<String, Value>,
    /// Cross-run statistics (`None` when no run of it succeeded).
    pub aggregate: &'a CellAggregate,
}

/// Everything the sweep aggregate needs.
pub struct SweepInput<'a> {
    /// Swept parameters with their values.
    pub parameters: &'a [(String, Vec<Value>)],
    /// Combinations in sweep order.
    pub combinations: Vec<Combination<'a>>,
    /// Trials attempted so far.
    pub num_profile_runs: usize,
    /// Failed trials.
    pub failed_runs: Vec<FailedRun>,
    /// `repeated` or `independent`.
    pub sweep_mode: &'a str,
    /// Confidence level.
    pub confidence_level: f64,
    /// Repetitions per cell.
    pub num_trials_per_value: u32,
}

fn mean_of(agg: &CellAggregate, key: &str) -> Option<f64> {
    agg.get(key).map(|c| c.mean).filter(|m| m.is_finite())
}

/// The latency key present in every measured combination (TTFT p99 for streams, else request
/// latency p99).
fn latency_key(combos: &[&Combination<'_>]) -> Option<&'static str> {
    LATENCY_KEYS
        .iter()
        .copied()
        .find(|k| !combos.is_empty() && combos.iter().all(|c| mean_of(c.aggregate, k).is_some()))
}

/// Indices of the non-dominated points: maximise `x`, minimise `y`.
pub fn pareto_front(points: &[(f64, f64)]) -> Vec<usize> {
    (0..points.len())
        .filter(|&i| {
            let (x, y) = points[i];
            !points
                .iter()
                .enumerate()
                .any(|(j, &(x2, y2))| j != i && x2 >= x && y2 <= y && (x2 > x || y2 < y))
        })
        .collect()
}

/// Builds the sweep aggregate.
pub fn sweep_json(input: &SweepInput<'_>) -> SweepAggregateFile {
    let measured: Vec<&Combination<'_>> = input
        .combinations
        .iter()
        .filter(|c| c.aggregate.successful() > 0)
        .collect();
    let per_combination: Vec<CombinationMetrics> = measured
        .iter()
        .map(|c| CombinationMetrics {
            parameters: c.parameters.clone(),
            num_successful_runs: Some(c.aggregate.successful()),
            metrics: c
                .aggregate
                .metrics
                .iter()
                .map(|(k, (conf, unit))| {
                    let stats = if c.aggregate.successful() == 1 {
                        // One run has no spread: only its value, as AIPerf writes it.
                        ConfidenceStats {
                            mean: Some(Some(conf.mean).filter(|m| m.is_finite())),
                            unit: unit.clone(),
                            ..Default::default()
                        }
                    } else {
                        confidence_stats(conf, unit)
                    };
                    (k.clone(), stats)
                })
                .flat_map(|(k, stats)| {
                    let alias = super::documented_names::documented_name(&k, &stats.unit)
                        .map(|name| (name, stats.clone()));
                    std::iter::once((k, stats)).chain(alias)
                })
                .collect(),
        })
        .collect();
    let finite = |m: f64| Some(m).filter(|m| m.is_finite());
    let mut best = IndexMap::new();
    let throughput: Vec<(usize, f64)> = measured
        .iter()
        .enumerate()
        .filter_map(|(i, c)| mean_of(c.aggregate, THROUGHPUT_KEY).map(|m| (i, m)))
        .collect();
    if let Some(&(i, m)) = throughput.iter().max_by(|a, b| a.1.total_cmp(&b.1)) {
        best.insert(
            "best_throughput".to_string(),
            BestConfiguration {
                parameters: measured[i].parameters.clone(),
                metric: finite(m),
                unit: "requests/sec".into(),
                metric_key: None,
            },
        );
    }
    let lat_key = latency_key(&measured);
    if let Some(key) = lat_key {
        let best_lat = measured
            .iter()
            .enumerate()
            .filter_map(|(i, c)| mean_of(c.aggregate, key).map(|m| (i, m)))
            .min_by(|a, b| a.1.total_cmp(&b.1));
        if let Some((i, m)) = best_lat {
            best.insert(
                "best_latency_p99".to_string(),
                BestConfiguration {
                    parameters: measured[i].parameters.clone(),
                    metric: finite(m),
                    unit: "ms".into(),
                    metric_key: Some(key.to_string()),
                },
            );
        }
    }
    let mut pareto = Vec::new();
    if let Some(key) = lat_key {
        let points: Vec<(usize, (f64, f64))> = measured
            .iter()
            .enumerate()
            .filter_map(|(i, c)| {
                Some((
                    i,
                    (
                        mean_of(c.aggregate, THROUGHPUT_KEY)?,
                        mean_of(c.aggregate, key)?,
                    ),
                ))
            })
            .collect();
        let coords: Vec<(f64, f64)> = points.iter().map(|p| p.1).collect();
        pareto = pareto_front(&coords)
            .into_iter()
            .map(|k| measured[points[k].0].parameters.clone())
            .collect();
    }
    SweepAggregateFile {
        aggregation_type: "sweep".into(),
        num_profile_runs: input.num_profile_runs,
        num_successful_runs: measured.iter().map(|c| c.aggregate.successful()).sum(),
        failed_runs: failed_records(&input.failed_runs),
        metadata: SweepMetadata {
            sweep_parameters: input
                .parameters
                .iter()
                .map(|(n, v)| SweepParameter {
                    name: n.clone(),
                    values: v.clone(),
                })
                .collect(),
            num_combinations: input.combinations.len(),
            aggregation_type: "sweep".into(),
            sweep_mode: Some(input.sweep_mode.to_string()),
            confidence_level: Some(input.confidence_level),
            num_trials_per_value: Some(input.num_trials_per_value),
            pareto_axes: Some(ParetoAxes {
                maximize: THROUGHPUT_KEY.into(),
                minimize: lat_key.map(str::to_string),
            }),
            other: Default::default(),
        },
        per_combination_metrics: per_combination,
        best_configurations: best,
        pareto_optimal: pareto,
    }
}

/// The text of a cell: strings as written, `null` as empty, other values as JSON.
fn cell_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Renders the sweep CSV: the combination table, then `Best Configurations`, `Pareto Optimal
/// Points` and `Metadata` sections separated by blank lines.
pub fn sweep_csv(doc: &SweepAggregateFile, param_names: &[String]) -> String {
    let rows = &doc.per_combination_metrics;
    let mut keys: Vec<&String> = rows.iter().flat_map(|r| r.metrics.keys()).collect();
    keys.sort();
    keys.dedup();
    let stats = ["mean", "std", "min", "max", "cv"];
    let fmt = |v: Option<f64>| v.map(|f| format!("{f:.4}")).unwrap_or_default();
    let param = |m: &Map<String, Value>, name: &str| cell_text(m.get(name).unwrap_or(&Value::Null));
    let mut csv = CsvText::new();
    let mut header: Vec<String> = param_names.to_vec();
    header.extend(
        keys.iter()
            .flat_map(|k| stats.iter().map(move |s| format!("{k}_{s}"))),
    );
    csv.row(&header);
    for r in rows {
        let mut cells: Vec<String> = param_names
            .iter()
            .map(|p| param(&r.parameters, p))
            .collect();
        for k in &keys {
            for s in stats {
                cells.push(fmt(r.metrics.get(*k).and_then(|m| m.get(s))));
            }
        }
        csv.row(&cells);
    }
    csv.blank().row(["Best Configurations"]);
    let mut header = vec!["Configuration".to_string()];
    header.extend(param_names.iter().cloned());
    header.extend(["Metric".to_string(), "Unit".to_string()]);
    csv.row(&header);
    for (name, b) in &doc.best_configurations {
        let mut cells = vec![name.clone()];
        cells.extend(param_names.iter().map(|p| param(&b.parameters, p)));
        cells.extend([fmt(b.metric.filter(|m| m.is_finite())), b.unit.clone()]);
        csv.row(&cells);
    }
    csv.blank().row(["Pareto Optimal Points"]).row(param_names);
    for p in &doc.pareto_optimal {
        csv.row(param_names.iter().map(|n| param(p, n)));
    }
    csv.blank()
        .row(["Metadata"])
        .row(["Aggregation Type", "sweep"])
        .row([
            "Sweep Parameters".to_string(),
            doc.parameter_names().join(" "),
        ])
        .row([
            "Number of Combinations".to_string(),
            doc.metadata.num_combinations.to_string(),
        ])
        .row([
            "Number of Profile Runs".to_string(),
            doc.num_profile_runs.to_string(),
        ])
        .row([
            "Number of Successful Runs".to_string(),
            doc.num_successful_runs.to_string(),
        ]);
    csv.finish()
}

/// Writes the sweep aggregate JSON and CSV into `dir`, and returns the aggregate as it will
/// be read back.
pub fn write_sweep_aggregate(
    dir: &Path,
    input: &SweepInput<'_>,
) -> std::io::Result<SweepAggregateFile> {
    std::fs::create_dir_all(dir)?;
    let typed = sweep_json(input);
    crate::artifacts::io::write_atomic(
        &dir.join(SWEEP_JSON),
        &crate::artifacts::io::to_pretty_json(&typed),
    )?;
    let names: Vec<String> = input.parameters.iter().map(|(n, _)| n.clone()).collect();
    crate::artifacts::io::write_atomic(&dir.join(SWEEP_CSV), sweep_csv(&typed, &names).as_bytes())?;
    Ok(typed)
}
#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregate::aggregate_cell;
    use serde_json::json;

    fn summary(throughput: f64, ttft_p99: f64) -> crate::artifacts::summary::RunSummaryFile {
        serde_json::from_value(json!({"request_throughput": {"unit": "requests/sec", "avg": throughput},
               "time_to_first_token": {"unit": "ms", "avg": ttft_p99 / 2.0, "p50": ttft_p99 / 2.0, "p99": ttft_p99}}))
        .unwrap()
    }

    #[test]
    fn pareto_front_by_hand() {
        // (throughput, latency): b dominates a; c and d trade off; e is dominated by d.
        let pts = [
            (10.0, 50.0),
            (12.0, 40.0),
            (20.0, 90.0),
            (30.0, 100.0),
            (25.0, 120.0),
        ];
        assert_eq!(pareto_front(&pts), vec![1, 2, 3]);
        assert_eq!(
            pareto_front(&[(1.0, 1.0), (1.0, 1.0)]),
            vec![0, 1],
            "ties do not dominate"
        );
    }

    #[test]
    fn single_trial_sweep_has_best_and_pareto() {
        let cells: Vec<CellAggregate> = [(5.0, 30.0), (9.0, 60.0), (8.0, 90.0)]
            .iter()
            .map(|&(t, l)| aggregate_cell(&[("run".into(), summary(t, l))], vec![], 0.95))
            .collect();
        let params: Vec<Map<String, Value>> = [1, 2, 4]
            .iter()
            .map(|c| json!({"concurrency": c}).as_object().unwrap().clone())
            .collect();
        let sweep_params = vec![(
            "concurrency".to_string(),
            vec![json!(1), json!(2), json!(4)],
        )];
        let input = SweepInput {
            parameters: &sweep_params,
            combinations: params
                .iter()
                .zip(&cells)
                .map(|(p, a)| Combination {
                    parameters: p,
                    aggregate: a,
                })
                .collect(),
            num_profile_runs: 3,
            failed_runs: vec![],
            sweep_mode: "repeated",
            confidence_level: 0.95,
            num_trials_per_value: 1,
        };
        let doc = serde_json::to_value(sweep_json(&input)).unwrap();
        assert_eq!(
            doc["best_configurations"]["best_throughput"]["parameters"]["concurrency"],
            2
        );
        assert_eq!(
            doc["best_configurations"]["best_latency_p99"]["parameters"]["concurrency"],
            1
        );
        assert_eq!(
            doc["pareto_optimal"],
            json!([{"concurrency": 1}, {"concurrency": 2}])
        );
        let m = &doc["per_combination_metrics"][0]["metrics"]["request_throughput_avg"];
        assert_eq!(
            m,
            &json!({"mean": 5.0, "unit": "requests/sec"}),
            "single-trial cells carry only mean and unit"
        );
        let typed = serde_json::from_value(doc.clone()).unwrap();
        assert_eq!(
            serde_json::to_value(&typed).unwrap(),
            doc,
            "reads back as written"
        );
        let csv = sweep_csv(&typed, &["concurrency".to_string()]);
        assert!(csv.starts_with("concurrency,request_throughput_avg_mean,"));
        assert!(csv.contains("\nBest Configurations\nConfiguration,concurrency,Metric,Unit\nbest_throughput,2,9.0000,requests/sec\n"), "{csv}");
        assert!(
            csv.contains("\nPareto Optimal Points\nconcurrency\n1\n2\n\nMetadata\n"),
            "{csv}"
        );
    }
}
