//! Running an adaptive search: the planner proposes a knob value, every run of that point is
//! measured and judged against the SLAs, the planner is told the verdict, and the history and
//! aggregates are rewritten, until the planner stops. Points live in
//! `<dir>/search_iter_NNNN/profile_runs/run_NNNN/`.

use super::status;
use super::{RunOptions, aggregates, run_trial};
use crate::error::AppError;
use crate::exit_code::ExitCode;
use crate::export::console::fmt_number;
use crate::plan::{AdaptivePlan, Cell, Plan, Trial};
use crate::search::boundary::{Ask, BoundaryPlanner};
use crate::search::history::{self, Iteration, SearchHistory};
use crate::search::recipe::Direction;
use crate::search::verdict::{Verdict, judge};
use crate::spec::load::LoadedExperiment;
use serde_json::{Map, Value, json};
use tokio_util::sync::CancellationToken;

/// The spec of a point: the base benchmark with the knob set.
fn point_spec(a: &AdaptivePlan, x: f64) -> Result<crate::spec::BenchmarkSpec, String> {
    let mut json = a.base_json.clone();
    let value = if a.settings.integer {
        json!(x as i64)
    } else {
        json!(x)
    };
    crate::plan::paths::set(&mut json, &a.path, value).map_err(|e| e.to_string())?;
    let mut spec: crate::spec::BenchmarkSpec =
        serde_json::from_value(json).map_err(|e| e.to_string())?;
    spec.random_seed = a.base.random_seed;
    Ok(spec)
}

/// A knob value for people: integers without decimals.
fn show(a: &AdaptivePlan, x: f64) -> String {
    if a.settings.integer {
        format!("{}", x as i64)
    } else {
        fmt_number(x)
    }
}

fn label(i: usize) -> String {
    format!("search_iter_{:04}", i + 1)
}

fn value_json(a: &AdaptivePlan, x: f64) -> Value {
    if a.settings.integer {
        json!(x as i64)
    } else {
        json!(x)
    }
}

/// Adds a point's cell and its runs to the plan the aggregates are written from.
fn add_cell(plan: &mut Plan, a: &AdaptivePlan, index: usize, x: f64) -> usize {
    let mut parameters = Map::new();
    parameters.insert(a.leaf.clone(), value_json(a, x));
    plan.cells.push(Cell {
        index,
        label: label(index),
        parameters,
        spec: a.base.clone(),
        overrides: vec![],
    });
    if let Some((_, values)) = plan.sweep_parameters.first_mut() {
        values.push(value_json(a, x));
    }
    plan.cells.len() - 1
}

fn summaries(plan: &Plan, cell: usize) -> Vec<Value> {
    aggregates::cell_runs(plan, cell)
        .0
        .into_iter()
        .map(|(_, s)| s)
        .collect()
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
    let maximize = a
        .recipe
        .objective
        .as_ref()
        .is_none_or(|o| o.direction == Direction::Maximize);
    let mut planner = BoundaryPlanner::new(a.settings);
    let mut hist = SearchHistory {
        config: json!({
            "knob": {"path": a.path, "lo": a.settings.lo, "hi": a.settings.hi, "integer": a.settings.integer},
            "objective": a.recipe.objective,
            "sla_filters": history::slas_json(&a.slas),
            "planner": a.recipe.planner,
            "runs_per_point": runs_per_point,
            "max_replicates": a.max_replicates,
        }),
        recipe: Some(a.recipe.name.clone()),
        ..SearchHistory::default()
    };
    // Resume: replay the recorded points through the planner, so it continues where it stopped.
    if opts.resume.is_some()
        && let Some(saved) = SearchHistory::read(&plan.base_dir)
    {
        for it in saved.iterations {
            let x = it
                .variation_values
                .get(&a.path)
                .and_then(Value::as_f64)
                .unwrap_or(f64::NAN);
            match planner.ask() {
                Ask::Measure(asked) if asked == x => {}
                _ => {
                    return Err(AppError::config(format!(
                        "{} does not replay: the search changed since it was started",
                        history::SEARCH_HISTORY_JSON
                    )));
                }
            }
            let cell = add_cell(&mut plan, &a, it.iteration_idx, x);
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
            planner.tell(
                x,
                if it.feasible {
                    Verdict::Pass
                } else {
                    Verdict::Fail
                },
            );
            say(format!(
                "[{}] {}={}: already measured ({})",
                label(it.iteration_idx),
                a.leaf,
                show(&a, x),
                if it.feasible { "pass" } else { "fail" }
            ));
            hist.iterations.push(it);
        }
    }
    say(format!(
        "search: {} over {} in [{}, {}], {} run(s) per point, SLA {}",
        a.recipe.name,
        a.leaf,
        show(&a, a.settings.lo),
        show(&a, a.settings.hi),
        runs_per_point,
        a.slas
            .iter()
            .map(|s| s.describe())
            .collect::<Vec<_>>()
            .join(" and ")
    ));
    let mut interrupted = false;
    let reason = loop {
        let x = match planner.ask() {
            Ask::Done(reason) => break reason.to_string(),
            Ask::Measure(x) => x,
        };
        if interrupt.is_cancelled() {
            interrupted = true;
            break "cancelled".to_string();
        }
        let index = hist.iterations.len();
        let cell = add_cell(&mut plan, &a, index, x);
        let spec = point_spec(&a, x)
            .map_err(|e| AppError::config(format!("cannot set {} to {x}: {e}", a.path)))?;
        let mut verdict = Verdict::Undecided;
        let mut breach = None;
        let mut decided_by = "agreement";
        let mut run_labels = Vec::new();
        let max_runs = runs_per_point + a.max_replicates;
        let mut run = 0;
        let mut measured = Vec::new();
        while verdict == Verdict::Undecided && run < max_runs {
            // The first round measures every configured run; replicates add one at a time.
            let round = if run == 0 { runs_per_point } else { 1 };
            for _ in 0..round {
                run += 1;
                let dir = plan
                    .base_dir
                    .join(label(index))
                    .join("profile_runs")
                    .join(format!("run_{run:04}"));
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
                    "[{}] {}={} run {run}: {line}",
                    label(index),
                    a.leaf,
                    show(&a, x)
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
            if verdict == Verdict::Undecided && run >= max_runs {
                // Out of replicates: decide on the mean of each statistic.
                let means: Vec<Value> = vec![mean_summary(&measured, &a.slas)];
                (verdict, breach) = judge(&means, &a.slas, level);
                decided_by = "mean_after_replicates";
            } else if measured.len() > 1 && verdict != Verdict::Undecided && run > runs_per_point {
                decided_by = "confidence_interval";
            }
        }
        if interrupted {
            break "cancelled".to_string();
        }
        planner.tell(x, verdict);
        let objective = a.recipe.objective.as_ref().and_then(|o| {
            let values: Vec<f64> = measured
                .iter()
                .filter_map(|s| s[&o.metric][&o.stat].as_f64())
                .collect();
            (!values.is_empty()).then(|| vec![values.iter().sum::<f64>() / values.len() as f64])
        });
        let feasible = history::feasible(verdict);
        say(format!(
            "[{}] {}={}: {}{}",
            label(index),
            a.leaf,
            show(&a, x),
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
        let mut variation = Map::new();
        variation.insert(a.path.clone(), value_json(&a, x));
        hist.iterations.push(Iteration {
            iteration_idx: index,
            variation_values: variation,
            objective_values: objective,
            feasible,
            decided_by: decided_by.into(),
            runs: run_labels,
            first_breach: history::breach_json(&breach),
        });
        hist.summarize(&a.path, maximize);
        save(&hist, &plan)?;
        if let Err(e) = aggregates::write_all(&plan, experiment) {
            say(format!("warning: cannot write aggregates: {e}"));
        }
    };
    hist.convergence_reason = Some(reason.clone());
    hist.summarize(&a.path, maximize);
    save(&hist, &plan)?;
    // The caller writes the final aggregates.
    println!("{}", answer(&a, &hist, &reason));
    let code = if interrupted {
        ExitCode::INTERRUPTED
    } else {
        ExitCode::SUCCESS
    };
    Ok((code, plan))
}

/// Writes the history; losing it would make the search unresumable, so failure stops the run.
fn save(hist: &SearchHistory, plan: &Plan) -> Result<(), AppError> {
    hist.write(&plan.base_dir).map_err(|e| {
        AppError::failure(format!(
            "cannot write {}: {e}",
            history::SEARCH_HISTORY_JSON
        ))
    })
}

/// The mean of each constrained statistic across runs, as one summary.
fn mean_summary(summaries: &[Value], slas: &[crate::search::verdict::Sla]) -> Value {
    let mut out = json!({});
    for sla in slas {
        let values: Vec<f64> = summaries
            .iter()
            .filter_map(|s| s[&sla.metric][&sla.stat].as_f64())
            .collect();
        if !values.is_empty() {
            out[&sla.metric][&sla.stat] = json!(values.iter().sum::<f64>() / values.len() as f64);
        }
    }
    out
}

/// The answer in one sentence.
fn answer(a: &AdaptivePlan, hist: &SearchHistory, reason: &str) -> String {
    let slas = a
        .slas
        .iter()
        .map(|s| s.describe())
        .collect::<Vec<_>>()
        .join(" and ");
    let objective = a
        .recipe
        .objective
        .as_ref()
        .map(|o| format!("{} {}", o.metric, o.stat))
        .unwrap_or_else(|| "the knob".into());
    let boundary = hist.boundary_summary.clone().unwrap_or_default();
    let pass = boundary["feasible_max"]["value"].as_f64();
    let fail = boundary["infeasible_min"]["value"].as_f64();
    let unit = a
        .recipe
        .objective
        .as_ref()
        .and_then(|o| crate::metrics::MetricId::from_tag(&o.metric))
        .map(|m| m.def().unit.as_str())
        .unwrap_or("");
    match (pass, fail) {
        (Some(p), f) => {
            let obj = boundary["feasible_max"]["objective_value"]
                .as_f64()
                .map(|v| format!(" -> {} {unit}", fmt_number(v)))
                .unwrap_or_default();
            let between = match f {
                Some(f) => format!(" (boundary between {} and {})", show(a, p), show(a, f)),
                None => format!(" (every {} up to {} passed)", a.leaf, show(a, p)),
            };
            format!(
                "Answer: max {objective} with {slas}: {} {}{obj}{between} [{} points, {reason}]",
                a.leaf,
                show(a, p),
                hist.iterations.len()
            )
        }
        (None, Some(f)) => format!(
            "Answer: no {} from {} meets {slas} (it fails already at {}) [{reason}]",
            a.leaf,
            show(a, a.settings.lo),
            show(a, f)
        ),
        (None, None) => {
            format!("Answer: the search stopped before any point was judged [{reason}]")
        }
    }
}
