//! `search_history.json`: every point an adaptive search measured, its verdict and objective, the
//! best point, the boundary, and why the search stopped. Rewritten after every point, so a crash
//! loses nothing and `--resume` can replay the search.

use super::verdict::{Breach, Sla, Verdict};
use crate::artifacts::names::SEARCH_HISTORY_JSON;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

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
    pub decided_by: String,
    /// The runs measured at this point (directory labels).
    pub runs: Vec<String>,
    /// The first constraint broken, when infeasible.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_breach: Option<Value>,
}

/// The whole file.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct SearchHistory {
    /// Recipe, knob, objective, constraints and planner settings.
    pub config: Value,
    /// Every point, in order.
    pub iterations: Vec<Iteration>,
    /// The best feasible point (or the best scored one when none is feasible).
    pub best_trials: Option<Vec<Value>>,
    /// For a one-knob search: the highest passing and lowest failing values.
    pub boundary_summary: Option<Value>,
    /// The recipe name.
    pub recipe: Option<String>,
    /// Why the search stopped (`null` while running).
    pub convergence_reason: Option<String>,
}

impl SearchHistory {
    /// Recomputes `best_trials` and, for a one-knob search (`path`), `boundary_summary`.
    pub fn summarize(&mut self, path: Option<&str>, maximize: bool) {
        let scored: Vec<&Iteration> = self
            .iterations
            .iter()
            .filter(|i| i.objective_values.is_some())
            .collect();
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
            vec![serde_json::json!({
                "iteration_idx": b.iteration_idx,
                "objective_values": b.objective_values,
                "variation_values": b.variation_values,
                "feasible": b.feasible,
                "feasible_count": feasible.len(),
            })]
        });
        let Some(path) = path else {
            self.boundary_summary = None;
            return;
        };
        let value_of = |it: &Iteration| it.variation_values.get(path).and_then(Value::as_f64);
        let feasible_max = self
            .iterations
            .iter()
            .filter(|i| i.feasible)
            .max_by(|a, b| {
                value_of(a)
                    .unwrap_or(0.0)
                    .total_cmp(&value_of(b).unwrap_or(0.0))
            });
        let infeasible_min = self
            .iterations
            .iter()
            .filter(|i| !i.feasible)
            .min_by(|a, b| {
                value_of(a)
                    .unwrap_or(0.0)
                    .total_cmp(&value_of(b).unwrap_or(0.0))
            });
        self.boundary_summary = Some(serde_json::json!({
            "swept_dim_path": path,
            "feasible_max": feasible_max.map(|i| serde_json::json!({"value": value_of(i), "iteration_idx": i.iteration_idx, "objective_value": i.objective_values.as_ref().and_then(|v| v.first())})),
            "infeasible_min": infeasible_min.map(|i| serde_json::json!({"value": value_of(i), "iteration_idx": i.iteration_idx, "first_breach": i.first_breach})),
        }));
    }

    /// Writes the file atomically.
    pub fn write(&self, dir: &std::path::Path) -> std::io::Result<()> {
        crate::artifacts::io::write_atomic(
            &dir.join(SEARCH_HISTORY_JSON),
            &crate::artifacts::io::to_pretty_json(self),
        )
    }

    /// Reads a history (for `--resume`).
    pub fn read(dir: &std::path::Path) -> Option<Self> {
        serde_json::from_str(&std::fs::read_to_string(dir.join(SEARCH_HISTORY_JSON)).ok()?).ok()
    }
}

/// A breach as stored in the history.
pub fn breach_json(breach: &Option<Breach>) -> Option<Value> {
    breach
        .as_ref()
        .map(|b| serde_json::to_value(b).unwrap_or_default())
}

/// The constraints as stored in the history.
pub fn slas_json(slas: &[Sla]) -> Value {
    serde_json::to_value(slas).unwrap_or_default()
}

/// Whether a verdict is feasible.
pub fn feasible(v: Verdict) -> bool {
    v == Verdict::Pass
}
