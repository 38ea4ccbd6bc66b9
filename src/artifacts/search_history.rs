//! `search_history.json`: every point an adaptive search measured, its verdict and objective, the
//! best point, the boundary, and why the search stopped. Rewritten after every point, so a crash
//! loses nothing and `--resume` can replay the search; plots and uploads read it back.

use super::names::SEARCH_HISTORY_JSON;
use crate::spec::recipe::{ConstraintOp, Objective, PlannerSpec, Threshold};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// What the search was: its space, objective, constraints and planner.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(default)]
pub struct SearchConfig {
    /// The searched knobs.
    pub search_space: Vec<SearchDim>,
    /// What the search maximises or minimises.
    pub objective: Option<Objective>,
    /// The SLA constraints with their resolved thresholds.
    pub sla_filters: Vec<SlaFilter>,
    /// Per-request SLOs for goodput.
    pub slos: BTreeMap<String, Threshold>,
    /// The planner and its budget.
    pub planner: Option<PlannerSpec>,
    /// Runs measured at each point before replicates.
    pub runs_per_point: u32,
    /// The planner's seed.
    pub random_seed: u64,
}

/// One searched knob.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SearchDim {
    /// Its dotted path in the benchmark.
    pub path: String,
    /// Lower bound.
    pub lo: f64,
    /// Upper bound.
    pub hi: f64,
    /// `int` or `real`.
    pub kind: String,
    /// `uniform` or `log-uniform`.
    pub prior: String,
}

/// An SLA as the search judged it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SlaFilter {
    /// Metric tag.
    pub metric: String,
    /// Statistic (`p95`).
    pub stat: String,
    /// Comparison.
    pub op: ConstraintOp,
    /// Threshold in the metric's unit.
    pub threshold: f64,
}

/// The first SLA a point broke and the value it had.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct BreachRecord {
    /// Metric tag.
    pub metric: String,
    /// Statistic.
    pub stat: String,
    /// Comparison.
    pub op: ConstraintOp,
    /// Threshold.
    pub threshold: f64,
    /// The value measured (`null` when the runs lacked the metric).
    pub observed: Option<f64>,
}

/// The best point.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct BestTrial {
    /// Its position.
    pub iteration_idx: usize,
    /// Its objective.
    pub objective_values: Option<Vec<f64>>,
    /// Its knob values.
    pub variation_values: Map<String, Value>,
    /// Whether every SLA held there.
    pub feasible: bool,
    /// How many points were feasible.
    pub feasible_count: usize,
}

/// For a one-knob search: the highest passing and the lowest failing value.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct BoundarySummary {
    /// The knob.
    pub swept_dim_path: String,
    /// The highest value where every SLA held.
    pub feasible_max: Option<FeasibleMax>,
    /// The lowest value where one broke.
    pub infeasible_min: Option<InfeasibleMin>,
}

/// The feasible side of the boundary.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FeasibleMax {
    /// The knob's value.
    pub value: Option<f64>,
    /// The point.
    pub iteration_idx: usize,
    /// Its objective.
    pub objective_value: Option<f64>,
}

/// The infeasible side of the boundary.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct InfeasibleMin {
    /// The knob's value.
    pub value: Option<f64>,
    /// The point.
    pub iteration_idx: usize,
    /// The SLA it broke.
    pub first_breach: Option<BreachRecord>,
}

/// One measured point.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Iteration {
    /// 0-based position.
    pub iteration_idx: usize,
    /// The knob value, by path.
    pub variation_values: Map<String, Value>,
    /// Mean objective over the point's successful runs (`null` when none succeeded).
    pub objective_values: Option<Vec<f64>>,
    /// Whether every SLA held.
    pub feasible: bool,
    /// How the verdict was reached: `agreement`, `confidence_interval` or `mean_after_replicates`.
    #[serde(default)]
    pub decided_by: String,
    /// The runs measured at this point (directory labels).
    #[serde(default)]
    pub runs: Vec<String>,
    /// The first constraint broken, when infeasible.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_breach: Option<BreachRecord>,
    /// The point failed while the client, not the server, was the limit (its runs were
    /// client-bound): it is no verdict on the server, so the best point and the boundary
    /// ignore it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub client_bound: bool,
}

/// The whole file.
#[derive(Debug, Clone, Serialize, Deserialize, Default, PartialEq)]
pub struct SearchHistory {
    /// Recipe, knob, objective, constraints and planner settings.
    #[serde(default)]
    pub config: SearchConfig,
    /// Every point, in order.
    pub iterations: Vec<Iteration>,
    /// The best feasible point (or the best scored one when none is feasible).
    pub best_trials: Option<Vec<BestTrial>>,
    /// For a one-knob search: the highest passing and lowest failing values.
    pub boundary_summary: Option<BoundarySummary>,
    /// The recipe name.
    pub recipe: Option<String>,
    /// Why the search stopped (`null` while running).
    pub convergence_reason: Option<String>,
}

impl SearchHistory {
    /// Recomputes `best_trials` and, for a one-knob search (`path`), `boundary_summary`.
    pub fn summarize(&mut self, path: Option<&str>, maximize: bool) {
        let judged = || self.iterations.iter().filter(|i| !i.client_bound);
        let scored: Vec<&Iteration> = judged().filter(|i| i.objective_values.is_some()).collect();
        let feasible: Vec<&Iteration> = scored.iter().copied().filter(|i| i.feasible).collect();
        let pool = if feasible.is_empty() {
            &scored
        } else {
            &feasible
        };
        let objective = |i: &&Iteration| {
            i.objective_values
                .as_ref()
                .and_then(|v| v.first().copied())
                .unwrap_or(f64::NAN)
        };
        let best = pool
            .iter()
            .copied()
            .filter(|i| objective(i).is_finite())
            .max_by(|a, b| {
                let (x, y) = (objective(a), objective(b));
                if maximize {
                    x.total_cmp(&y)
                } else {
                    y.total_cmp(&x)
                }
            });
        self.best_trials = best.map(|b| {
            vec![BestTrial {
                iteration_idx: b.iteration_idx,
                objective_values: b.objective_values.clone(),
                variation_values: b.variation_values.clone(),
                feasible: b.feasible,
                feasible_count: feasible.len(),
            }]
        });
        let Some(path) = path else {
            self.boundary_summary = None;
            return;
        };
        let value_of = |it: &Iteration| it.variation_values.get(path).and_then(Value::as_f64);
        let feasible_max = judged().filter(|i| i.feasible).max_by(|a, b| {
            value_of(a)
                .unwrap_or(0.0)
                .total_cmp(&value_of(b).unwrap_or(0.0))
        });
        let infeasible_min = judged().filter(|i| !i.feasible).min_by(|a, b| {
            value_of(a)
                .unwrap_or(0.0)
                .total_cmp(&value_of(b).unwrap_or(0.0))
        });
        self.boundary_summary = Some(BoundarySummary {
            swept_dim_path: path.to_string(),
            feasible_max: feasible_max.map(|i| FeasibleMax {
                value: value_of(i),
                iteration_idx: i.iteration_idx,
                objective_value: i.objective_values.as_ref().and_then(|v| v.first().copied()),
            }),
            infeasible_min: infeasible_min.map(|i| InfeasibleMin {
                value: value_of(i),
                iteration_idx: i.iteration_idx,
                first_breach: i.first_breach.clone(),
            }),
        });
    }

    /// Writes the file atomically.
    pub fn write(&self, dir: &std::path::Path) -> std::io::Result<()> {
        crate::artifacts::io::write_atomic(
            &dir.join(SEARCH_HISTORY_JSON),
            &crate::artifacts::io::to_pretty_json(self),
        )
    }

    /// Reads the history in `dir` (for `--resume`, plots and uploads).
    pub fn read(dir: &std::path::Path) -> Option<Self> {
        super::io::read(&dir.join(SEARCH_HISTORY_JSON)).ok()
    }
}
