//! The plan of a NeMo Guardrails batch: one trial per run, in NeMo's directory layout.

use super::{Cell, NemoPlan, Plan, Trial};
use crate::spec::experiment::IterationOrder;
use serde_json::Value;

/// The plan of a NeMo batch: one trial per run, in NeMo's layout.
pub(super) fn expand_nemo(nemo: &crate::spec::load::NemoLoaded) -> Plan {
    let swept = nemo.batch.sweeps.as_ref().is_some_and(|s| !s.is_empty());
    let mut sweep_parameters: Vec<(String, Vec<Value>)> = Vec::new();
    for (key, values) in nemo.batch.sweeps.iter().flatten() {
        sweep_parameters.push((key.clone(), values.as_array().cloned().unwrap_or_default()));
    }
    let cells: Vec<Cell> = nemo
        .runs
        .iter()
        .enumerate()
        .map(|(index, (run, spec))| Cell {
            index,
            label: run.dir_name.clone(),
            parameters: run.sweep_params.clone(),
            spec: spec.clone(),
            overrides: Vec::new(),
        })
        .collect();
    let trials = cells
        .iter()
        .map(|c| {
            let dir = if swept {
                nemo.base_dir.join(&c.label)
            } else {
                nemo.base_dir.clone()
            };
            let mut spec = c.spec.clone();
            spec.artifacts.dir = dir.clone();
            Trial {
                number: c.index + 1,
                cell: c.index,
                repetition: 1,
                dir,
                spec,
            }
        })
        .collect();
    Plan {
        base_dir: nemo.base_dir.clone(),
        swept,
        sweep_parameters,
        num_runs: 1,
        order: IterationOrder::Repeated,
        cells,
        trials,
        recipe: None,
        adaptive: None,
        nemo: Some(NemoPlan {
            base_config: nemo.batch.base_config.clone(),
            args: nemo.runs.iter().map(|(r, _)| r.args.clone()).collect(),
            sweep_params: nemo
                .runs
                .iter()
                .map(|(r, _)| r.sweep_params.clone())
                .collect(),
        }),
    }
}
