//! `experiment_plan.json`: the trials of an experiment, written when it starts, compared on
//! resume (the same trials and settings, or the resume is refused) and read by uploads.

use crate::spec::BenchmarkSpec;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::path::PathBuf;

/// The whole file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanFile {
    /// The aiperf version that started the experiment.
    pub aiperf_version: String,
    /// The experiment file (`command line` for `aiperf profile --search-recipe`).
    pub file: PathBuf,
    /// The command line, secrets redacted.
    pub command_line: String,
    /// Cells of the sweep.
    pub num_cells: usize,
    /// Repetitions per cell.
    pub num_runs: u32,
    /// Every trial, in execution order.
    pub trials: Vec<PlannedTrial>,
}

/// One trial: what it runs and where (secrets redacted by the spec's serializer).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlannedTrial {
    /// 1-based position in execution order.
    pub number: usize,
    /// The cell's label (its directory name).
    pub cell: String,
    /// 1-based repetition within the cell.
    pub repetition: u32,
    /// The trial's directory.
    pub dir: PathBuf,
    /// The swept values by short name.
    pub parameters: Map<String, Value>,
    /// The resolved benchmark, as JSON: compared as written, so a resume under a newer aiperf
    /// with new defaults is still recognised only when the written settings agree.
    pub spec: Value,
}

impl PlannedTrial {
    /// The trial's W&B settings, if its spec reads back as a spec (else none).
    pub fn wandb(&self) -> crate::spec::WandbSpec {
        serde_json::from_value::<BenchmarkSpec>(self.spec.clone())
            .map(|spec| spec.wandb)
            .unwrap_or_default()
    }
}

/// A trial of the plan as it will be written.
pub fn planned_trial(
    number: usize,
    cell: &str,
    repetition: u32,
    dir: PathBuf,
    parameters: &Map<String, Value>,
    spec: &BenchmarkSpec,
) -> PlannedTrial {
    PlannedTrial {
        number,
        cell: cell.to_string(),
        repetition,
        dir,
        parameters: parameters.clone(),
        spec: serde_json::to_value(spec).unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_planned_trial_reads_its_wandb_settings_back_through_the_spec() {
        let mut spec = crate::spec::test_support::minimal_spec();
        spec.wandb.project = Some("capacity".into());
        spec.endpoint.api_key = Some(crate::spec::Secret::new("sk-secret"));
        let trial = planned_trial(0, "c", 0, "t".into(), &Map::new(), &spec);
        assert!(!trial.spec.to_string().contains("sk-secret"), "redacted");
        assert_eq!(trial.wandb().project.as_deref(), Some("capacity"));
        let foreign = PlannedTrial {
            spec: serde_json::json!({"wandb": {"project": "p"}}),
            ..trial
        };
        assert_eq!(foreign.wandb(), crate::spec::WandbSpec::default());
    }
}
