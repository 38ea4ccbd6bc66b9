//! Running an adaptive search: the planner proposes a knob value, every run of that point is
//! measured and judged against the SLAs, the planner is told the verdict, and the history and
//! aggregates are rewritten, until the planner stops. Points live in
//! `<dir>/search_iter_NNNN/profile_runs/run_NNNN/`.

use super::{RunOptions, aggregates, run_trial};
use crate::artifacts::run_metadata::RunMetadata;
use crate::artifacts::search_history::{SearchConfig, SearchDim};
use crate::artifacts::summary::{MetricSummary, RunSummaryFile};
use crate::artifacts::trial_status as status;
use crate::error::AppError;
use crate::exit_code::ExitCode;
use crate::export::console::fmt_number;
use crate::plan::{AdaptivePlan, Cell, Plan, Trial};
use crate::search::bayesian::Proposal;
use crate::search::history::{self, Iteration, SearchHistory};
use crate::search::planner::{Planner, observe};
use crate::search::space::Dim;
use crate::search::verdict::{Breach, Verdict, judge};
use crate::spec::load::LoadedExperiment;
use crate::spec::recipe::{ConstraintOp, Direction, PlannerSpec};
use serde_json::{Map, Value, json};
use tokio_util::sync::CancellationToken;

/// The spec of a point: the base benchmark with the knobs set.
fn point_spec(a: &AdaptivePlan, point: &[f64]) -> Result<crate::spec::BenchmarkSpec, String> {
    let mut json = a.base_json.clone();
    for (dim, x) in a.dims.iter().zip(point) {
        crate::spec::paths::set(&mut json, &dim.path, value_json(dim, *x))
            .map_err(|e| e.to_string())?;
    }
    let mut spec: crate::spec::BenchmarkSpec =
        serde_json::from_value(json).map_err(|e| e.to_string())?;
    spec.random_seed = a.base.random_seed;
    Ok(spec)
}

/// A point for people: `concurrency=12` or `concurrency=12 isl=512`.
fn show(a: &AdaptivePlan, point: &[f64]) -> String {
    a.dims
        .iter()
        .zip(point)
        .map(|(d, x)| format!("{}={}", d.leaf, d.show(*x)))
        .collect::<Vec<_>>()
        .join(" ")
}

fn label(i: usize) -> String {
    crate::artifacts::layout::search_point_label(i)
}

fn value_json(dim: &Dim, x: f64) -> Value {
    if dim.integer {
        json!(x as i64)
    } else {
        json!(x)
    }
}

/// A point's knob values by path, as the history records them.
fn variation(a: &AdaptivePlan, point: &[f64]) -> Map<String, Value> {
    a.dims
        .iter()
        .zip(point)
        .map(|(d, x)| (d.path.clone(), value_json(d, *x)))
        .collect()
}

/// Adds a point's cell to the plan the aggregates are written from.
fn add_cell(plan: &mut Plan, a: &AdaptivePlan, index: usize, point: &[f64]) -> usize {
    let mut parameters = Map::new();
    for (j, (dim, x)) in a.dims.iter().zip(point).enumerate() {
        parameters.insert(dim.leaf.clone(), value_json(dim, *x));
        if let Some((_, values)) = plan.sweep_parameters.get_mut(j) {
            values.push(value_json(dim, *x));
        }
    }
    plan.cells.push(Cell {
        index,
        label: label(index),
        parameters,
        spec: a.base.clone(),
        overrides: vec![],
    });
    plan.cells.len() - 1
}

fn summaries(plan: &Plan, cell: usize) -> Vec<RunSummaryFile> {
    aggregates::cell_runs(plan, cell)
        .0
        .into_iter()
        .map(|(_, s)| s)
        .collect()
}

/// Whether the point's one run is too noisy to decide an SLA on its own (its per-request
/// interval straddles a threshold). A run whose records cannot be read decides as before.
fn within_run_undecided(
    plan: &Plan,
    cell: usize,
    slas: &[crate::search::verdict::Sla],
    level: f64,
) -> bool {
    let Some(trial) = plan.trials.iter().rev().find(|t| t.cell == cell) else {
        return false;
    };
    let tags: Vec<&str> = slas.iter().map(|s| s.metric.as_str()).collect();
    let keep = |tag: &str| tags.contains(&tag);
    match crate::gate::inputs::read_result(&trial.dir, &keep) {
        Ok(scopes) => scopes
            .first()
            .and_then(|(_, runs)| runs.first())
            .is_some_and(|samples| {
                crate::search::verdict::straddles_within_run(samples, slas, level)
            }),
        Err(_) => false,
    }
}

/// Whether a failed point may be the client's doing rather than the server's: one of its runs
/// was client-bound and [`client_explains`] its breach.
fn failed_by_the_client(plan: &Plan, cell: usize, breach: Option<&Breach>) -> bool {
    plan.trials
        .iter()
        .filter(|t| t.cell == cell)
        .filter_map(|t| {
            crate::artifacts::io::read::<RunMetadata>(
                &t.dir.join(crate::artifacts::names::RUN_METADATA_JSON),
            )
            .ok()
        })
        .any(|m| client_explains(&m, breach))
}

/// Whether a client-bound run may explain a breach: the client had no CPU or resources left
/// (then any figure may be the client's), the breach is a floor (throughput, goodput) the
/// client may have held down, or it is a latency limit missed by less than the delay the
/// client itself added (its event loop delay or schedule lag, p99). A latency missed by more
/// than that is the server's, client-bound or not; a run that was not client-bound explains
/// nothing.
fn client_explains(m: &RunMetadata, breach: Option<&Breach>) -> bool {
    let verdict = &m.load_verdict;
    if !verdict.client_bound {
        return false;
    }
    let h = &verdict.client_headroom;
    let exhausted = m.requests.client_resource_errors > 0
        || h.cpu_utilization
            .is_some_and(|c| c >= crate::run::headroom::CPU_BOUND);
    let Some(b) = breach else {
        return true;
    };
    if exhausted {
        return true;
    }
    if matches!(b.sla.op, ConstraintOp::Gt | ConstraintOp::Ge) {
        return true;
    }
    let latency = crate::metrics::MetricId::from_tag(&b.sla.metric)
        .is_some_and(|id| id.def().unit.as_str() == "ms");
    let added = h
        .event_loop_delay_p99_ms
        .unwrap_or(0.0)
        .max(verdict.schedule_lag_p99_ms.unwrap_or(0.0));
    latency && b.sla.holds(b.observed - added)
}

/// Runs the search.
pub async fn run(
    loaded: &LoadedExperiment,
    mut plan: Plan,
    opts: &RunOptions,
    interrupt: &CancellationToken,
    say: &dyn Fn(String),
) -> Result<(ExitCode, Plan), AppError> {
    let a = plan
        .adaptive
        .clone()
        .ok_or_else(|| AppError::failure("internal: not an adaptive plan"))?;
    let experiment = &loaded.experiment;
    let level = experiment.multi_run.confidence_level;
    let runs_per_point = plan.num_runs;
    let objective = a.recipe.objective.as_ref();
    let maximize = objective.is_none_or(|o| o.direction == Direction::Maximize);
    let objective_key = objective.map(|o| (o.metric.as_str(), o.stat.as_str()));
    let mut planner = Planner::new(&a.recipe.planner, &a.dims, a.slas.len(), a.seed, maximize)
        .ok_or_else(|| AppError::failure("internal: not an adaptive planner"))?;
    let one_knob = (a.dims.len() == 1).then(|| a.dims[0].path.as_str());
    let mut hist = SearchHistory {
        config: SearchConfig {
            search_space: a
                .dims
                .iter()
                .map(|d| SearchDim {
                    path: d.path.clone(),
                    lo: d.lo,
                    hi: d.hi,
                    kind: if d.integer { "int" } else { "real" }.into(),
                    prior: if d.log { "log-uniform" } else { "uniform" }.into(),
                })
                .collect(),
            objective: a.recipe.objective.clone(),
            sla_filters: history::sla_filters(&a.slas),
            slos: a.recipe.slos.clone(),
            planner: Some(a.recipe.planner.clone()),
            runs_per_point,
            random_seed: a.seed,
        },
        recipe: Some(a.recipe.name.clone()),
        ..SearchHistory::default()
    };
    // Resume: replay the recorded points through the planner, so it continues where it stopped.
    if opts.resume.is_some()
        && let Some(saved) = SearchHistory::read(&plan.base_dir)
    {
        for it in saved.iterations {
            if it.client_bound {
                // Not a verdict on the server: measured again, perhaps with more headroom.
                continue;
            }
            let point: Vec<f64> = a
                .dims
                .iter()
                .map(|d| {
                    it.variation_values
                        .get(&d.path)
                        .and_then(Value::as_f64)
                        .unwrap_or(f64::NAN)
                })
                .collect();
            let cell = add_cell(&mut plan, &a, it.iteration_idx, &point);
            for (r, run) in it.runs.iter().enumerate() {
                let dir = plan.base_dir.join(run);
                plan.trials.push(Trial {
                    number: plan.trials.len() + 1,
                    cell,
                    repetition: r as u32 + 1,
                    dir,
                    spec: a.base.clone(),
                });
            }
            let verdict = if it.feasible {
                Verdict::Pass
            } else {
                Verdict::Fail
            };
            let observation = observe(&summaries(&plan, cell), objective_key, &a.slas, verdict);
            if !planner.replay(&point, verdict, observation) {
                return Err(AppError::config(format!(
                    "{} does not replay: the search changed since it was started",
                    crate::artifacts::names::SEARCH_HISTORY_JSON
                )));
            }
            say(format!(
                "[{}] {}: already measured ({})",
                label(it.iteration_idx),
                show(&a, &point),
                if it.feasible { "pass" } else { "fail" }
            ));
            hist.iterations.push(it);
        }
    }
    say(format!(
        "search: {} ({} planner) over {}, {} run(s) per point, SLA {}",
        a.recipe.name,
        planner_name(&a),
        a.space_text(),
        runs_per_point,
        describe_slas(&a)
    ));
    let mut interrupted = false;
    let reason = loop {
        let point = match planner.ask() {
            Proposal::Done(reason) => break reason.to_string(),
            Proposal::Measure(p) => p,
        };
        if interrupt.is_cancelled() {
            interrupted = true;
            break "cancelled".to_string();
        }
        let index = hist.iterations.len();
        let cell = add_cell(&mut plan, &a, index, &point);
        let spec = point_spec(&a, &point)
            .map_err(|e| AppError::config(format!("cannot set {}: {e}", show(&a, &point))))?;
        let mut verdict = Verdict::Undecided;
        let mut breach = None;
        let mut decided_by = "agreement";
        let mut run_labels = Vec::new();
        let max_runs = runs_per_point + a.max_replicates();
        let mut run = 0;
        let mut measured = Vec::new();
        while verdict == Verdict::Undecided && run < max_runs {
            // The first round measures every configured run; replicates add one at a time.
            let round = if run == 0 { runs_per_point } else { 1 };
            for _ in 0..round {
                run += 1;
                let dir = crate::artifacts::layout::search_run_dir(&plan.base_dir, index, run);
                status::clear(&dir);
                let mut trial_spec = spec.clone();
                trial_spec.artifacts.dir = dir.clone();
                if run > 1 && experiment.multi_run.disable_warmup_after_first {
                    trial_spec
                        .phases
                        .retain(|p| p.kind != crate::spec::PhaseKind::Warmup);
                }
                let trial = Trial {
                    number: plan.trials.len() + 1,
                    cell,
                    repetition: run,
                    dir: dir.clone(),
                    spec: trial_spec,
                };
                let (_, was_interrupted, line) = run_trial(&trial, opts, interrupt, None).await;
                say(format!(
                    "[{}] {} run {run}: {line}",
                    label(index),
                    show(&a, &point)
                ));
                run_labels.push(aggregates::trial_label(&plan, &dir));
                plan.trials.push(trial);
                if was_interrupted {
                    interrupted = true;
                    break;
                }
            }
            if interrupted {
                break;
            }
            measured = summaries(&plan, cell);
            (verdict, breach) = judge(&measured, &a.slas, level);
            if verdict != Verdict::Undecided
                && measured.len() == 1
                && run < max_runs
                && within_run_undecided(&plan, cell, &a.slas, level)
            {
                // One run agrees with itself trivially; its own noise says measure again.
                verdict = Verdict::Undecided;
                breach = None;
            }
            if verdict == Verdict::Undecided && run >= max_runs {
                // Out of replicates: decide on the mean of each statistic.
                let means = vec![mean_summary(&measured, &a.slas)];
                (verdict, breach) = judge(&means, &a.slas, level);
                decided_by = "mean_after_replicates";
            } else if measured.len() > 1 && verdict != Verdict::Undecided && run > runs_per_point {
                decided_by = "confidence_interval";
            }
        }
        if interrupted {
            break "cancelled".to_string();
        }
        let observation = observe(&measured, objective_key, &a.slas, verdict);
        let objective_values = observation.objective.map(|v| vec![v]);
        let feasible = history::feasible(verdict);
        // A failure while the client was the limit says nothing about the server: it is
        // recorded, never told to the planner, and the search stops there.
        let client_bound = !feasible && failed_by_the_client(&plan, cell, breach.as_ref());
        if client_bound {
            say(format!(
                "[{}] {}: not judged: the client, not the server, limited this point (see its run_metadata.json)",
                label(index),
                show(&a, &point),
            ));
            hist.iterations.push(Iteration {
                iteration_idx: index,
                variation_values: variation(&a, &point),
                objective_values,
                feasible,
                decided_by: "client_bound".into(),
                runs: run_labels,
                first_breach: history::breach_record(&breach),
                client_bound,
            });
            hist.summarize(one_knob, maximize);
            save(&hist, &plan)?;
            break format!(
                "stopped: the client, not the server, limited {}; the answer holds below it",
                show(&a, &point)
            );
        }
        planner.tell(&point, verdict, observation);
        say(format!(
            "[{}] {}: {}{}",
            label(index),
            show(&a, &point),
            if feasible { "PASS" } else { "FAIL" },
            breach
                .as_ref()
                .map(|b| format!(
                    " ({} observed {})",
                    b.sla.describe(),
                    fmt_number(b.observed)
                ))
                .unwrap_or_default()
        ));
        hist.iterations.push(Iteration {
            iteration_idx: index,
            variation_values: variation(&a, &point),
            objective_values,
            feasible,
            decided_by: decided_by.into(),
            runs: run_labels,
            first_breach: history::breach_record(&breach),
            client_bound: false,
        });
        hist.summarize(one_knob, maximize);
        save(&hist, &plan)?;
        if let Err(e) = aggregates::write_all(&plan, experiment) {
            say(format!("warning: cannot write aggregates: {e}"));
        }
    };
    hist.convergence_reason = Some(reason.clone());
    hist.summarize(one_knob, maximize);
    save(&hist, &plan)?;
    // The caller writes the final aggregates.
    println!("{}", answer(&a, &hist, &reason));
    let code = if interrupted {
        crate::signals::interrupted_exit_code()
    } else {
        ExitCode::SUCCESS
    };
    Ok((code, plan))
}

fn planner_name(a: &AdaptivePlan) -> &'static str {
    match a.recipe.planner {
        PlannerSpec::Boundary { .. } => "boundary",
        PlannerSpec::Bayesian { .. } => "bayesian",
        PlannerSpec::Grid => "grid",
    }
}

fn describe_slas(a: &AdaptivePlan) -> String {
    if a.slas.is_empty() {
        return "none".into();
    }
    a.slas
        .iter()
        .map(|s| s.describe())
        .collect::<Vec<_>>()
        .join(" and ")
}

/// Writes the history; losing it would make the search unresumable, so failure stops the run.
fn save(hist: &SearchHistory, plan: &Plan) -> Result<(), AppError> {
    hist.write(&plan.base_dir).map_err(|e| {
        AppError::failure(format!(
            "cannot write {}: {e}",
            crate::artifacts::names::SEARCH_HISTORY_JSON
        ))
    })
}

/// The mean of each constrained statistic across runs, as one summary.
fn mean_summary(
    summaries: &[RunSummaryFile],
    slas: &[crate::search::verdict::Sla],
) -> RunSummaryFile {
    let mut out = RunSummaryFile::default();
    for sla in slas {
        let values: Vec<f64> = summaries
            .iter()
            .filter_map(|s| s.stat(&sla.metric, &sla.stat))
            .collect();
        if values.is_empty() {
            continue;
        }
        let mean = serde_json::Number::from_f64(values.iter().sum::<f64>() / values.len() as f64);
        let unit = summaries
            .iter()
            .find_map(|s| s.unit(&sla.metric))
            .unwrap_or_default()
            .to_string();
        out.metrics
            .entry(sla.metric.clone())
            .or_insert_with(|| MetricSummary {
                unit,
                stats: Default::default(),
            })
            .stats
            .insert(sla.stat.clone(), mean);
    }
    out
}

/// The answer in one sentence: for the boundary planner the boundary and the throughput at it,
/// for the Bayesian planner the best feasible point and its objective.
fn answer(a: &AdaptivePlan, hist: &SearchHistory, reason: &str) -> String {
    let slas = describe_slas(a);
    let objective = a
        .recipe
        .objective
        .as_ref()
        .map(|o| format!("{} {}", o.metric, o.stat))
        .unwrap_or_else(|| "the knob".into());
    let unit = a
        .recipe
        .objective
        .as_ref()
        .and_then(|o| crate::metrics::MetricId::from_tag(&o.metric))
        .map(|m| m.def().unit.as_str())
        .unwrap_or("");
    let direction = match a.recipe.objective.as_ref().map(|o| o.direction) {
        Some(Direction::Minimize) => "min",
        _ => "max",
    };
    let points = hist.iterations.len();
    let point_of = |values: &serde_json::Map<String, Value>| -> Vec<f64> {
        a.dims
            .iter()
            .map(|d| {
                values
                    .get(&d.path)
                    .and_then(Value::as_f64)
                    .unwrap_or(f64::NAN)
            })
            .collect()
    };
    if let PlannerSpec::Bayesian { .. } = a.recipe.planner {
        let best = hist.best_trials.as_ref().and_then(|b| b.first());
        return match best {
            Some(b) if b.feasible => {
                let value = b
                    .objective_values
                    .as_ref()
                    .and_then(|v| v.first())
                    .map(|v| format!(" -> {} {unit}", fmt_number(*v)))
                    .unwrap_or_default();
                format!(
                    "Answer: {direction} {objective} with {slas}: {}{value} (best of {points} points, {} feasible) [{reason}]",
                    show(a, &point_of(&b.variation_values)),
                    b.feasible_count
                )
            }
            _ => format!("Answer: none of {points} points met {slas} [{reason}]"),
        };
    }
    let dim = &a.dims[0];
    let boundary = hist.boundary_summary.as_ref();
    let feasible_max = boundary.and_then(|b| b.feasible_max.as_ref());
    let pass = feasible_max.and_then(|m| m.value);
    let fail = boundary
        .and_then(|b| b.infeasible_min.as_ref())
        .and_then(|m| m.value);
    match (pass, fail) {
        (Some(p), f) => {
            let obj = feasible_max
                .and_then(|m| m.objective_value)
                .map(|v| format!(" -> {} {unit}", fmt_number(v)))
                .unwrap_or_default();
            let between = match f {
                Some(f) => format!(" (boundary between {} and {})", dim.show(p), dim.show(f)),
                None => format!(" (every {} up to {} passed)", dim.leaf, dim.show(p)),
            };
            format!(
                "Answer: {direction} {objective} with {slas}: {} {}{obj}{between} [{points} points, {reason}]",
                dim.leaf,
                dim.show(p),
            )
        }
        (None, Some(f)) => format!(
            "Answer: no {} from {} meets {slas} (it fails already at {}) [{reason}]",
            dim.leaf,
            dim.show(dim.lo),
            dim.show(f)
        ),
        (None, None) => {
            format!("Answer: the search stopped before any point was judged [{reason}]")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search::verdict::Sla;

    fn metadata(client_bound: bool, cpu: f64, loop_p99: f64, resource_errors: u64) -> RunMetadata {
        serde_json::from_value(json!({
            "aiperf_version": "0", "benchmark_id": "b", "status": "completed", "exit_code": 0,
            "command_line": "", "random_seed": 0, "tokenizer": "t", "urls": [],
            "start_time": "", "end_time": "",
            "requests": {"sent": 10, "success": 10, "errors": 0, "cancelled": 0, "reconnects": 0,
                         "client_resource_errors": resource_errors},
            "load_verdict": {"client_bound": client_bound, "schedule_lag_p50_ms": null,
                             "schedule_lag_p99_ms": null, "explanation": "",
                             "client_headroom": {"cores": 2, "cpu_utilization": cpu,
                                                 "cpu_utilization_busiest_second": cpu,
                                                 "event_loop_delay_p50_ms": 0.1,
                                                 "event_loop_delay_p99_ms": loop_p99,
                                                 "event_loop_delay_max_ms": loop_p99,
                                                 "event_loop_samples": 300,
                                                 "processor_queue_max_bytes": 0,
                                                 "processor_queue_capacity_bytes": 2097152}},
            "warnings": [], "spec": null
        }))
        .unwrap()
    }

    fn breach(metric: &str, op: ConstraintOp, threshold: f64, observed: f64) -> Breach {
        Breach {
            sla: Sla {
                metric: metric.into(),
                stat: "p95".into(),
                op,
                threshold,
            },
            observed,
        }
    }

    #[test]
    fn a_run_with_headroom_explains_no_failure() {
        let ttft = breach("time_to_first_token", ConstraintOp::Lt, 50.0, 51.0);
        assert!(!client_explains(
            &metadata(false, 0.99, 40.0, 3),
            Some(&ttft)
        ));
    }

    #[test]
    fn a_latency_missed_by_less_than_the_client_added_is_the_clients() {
        let close = breach("time_to_first_token", ConstraintOp::Lt, 50.0, 58.0);
        let far = breach("time_to_first_token", ConstraintOp::Lt, 50.0, 300.0);
        let slow_loop = metadata(true, 0.5, 12.0, 0);
        assert!(client_explains(&slow_loop, Some(&close)));
        assert!(
            !client_explains(&slow_loop, Some(&far)),
            "the server's, by 250 ms"
        );
    }

    #[test]
    fn an_exhausted_client_explains_any_failure() {
        let far = breach("time_to_first_token", ConstraintOp::Lt, 50.0, 300.0);
        assert!(client_explains(&metadata(true, 0.97, 1.0, 0), Some(&far)));
        assert!(client_explains(&metadata(true, 0.3, 1.0, 5), Some(&far)));
    }

    #[test]
    fn floors_may_be_held_down_by_the_client_and_rates_are_not_latencies() {
        let slow_loop = metadata(true, 0.5, 12.0, 0);
        let floor = breach("output_token_throughput", ConstraintOp::Gt, 900.0, 700.0);
        assert!(client_explains(&slow_loop, Some(&floor)));
        let errors = breach("request_error_rate", ConstraintOp::Lt, 0.01, 0.02);
        assert!(!client_explains(&slow_loop, Some(&errors)));
    }
}
