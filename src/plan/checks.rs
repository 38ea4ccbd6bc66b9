//! Checks of the experiment as a whole (schema version, multi-run and convergence settings,
//! cooldowns) that no single cell can make.

use super::MAX_TRIALS;
use crate::spec::load::{LoadedExperiment, SpecError};

pub(super) fn experiment_checks(loaded: &LoadedExperiment, errors: &mut Vec<SpecError>) {
    let mr = &loaded.experiment.multi_run;
    if let Some(version) = &loaded.experiment.schema_version
        && !matches!(version.trim(), "2" | "2.0")
    {
        errors.push(loaded.error_at(
            "schema_version",
            format!(
                "schemaVersion '{version}' is not supported; this aiperf reads version \"2.0\""
            ),
        ));
    }
    if mr.num_runs == 0 || u64::from(mr.num_runs) > MAX_TRIALS {
        errors.push(loaded.error_at(
            "multi_run.num_runs",
            format!(
                "numRuns must be from 1 to {MAX_TRIALS}, got {}",
                mr.num_runs
            ),
        ));
    }
    if !(mr.confidence_level > 0.0 && mr.confidence_level < 1.0) {
        errors.push(loaded.error_at(
            "multi_run.confidence_level",
            format!(
                "confidenceLevel must be between 0 and 1 (exclusive), got {}",
                mr.confidence_level
            ),
        ));
    }
    if let Some(m) =
        crate::spec::validate::check_seconds("cooldownSeconds", mr.cooldown_seconds, false)
    {
        errors.push(loaded.error_at("multi_run.cooldown_seconds", m));
    }
    if let Some(c) = &mr.convergence {
        if let Err(e) = crate::metrics::MetricId::parse(&c.metric) {
            errors.push(loaded.error_at("multi_run.convergence.metric", e));
        }
        if !(c.threshold > 0.0 && c.threshold < 1.0) {
            errors.push(loaded.error_at(
                "multi_run.convergence.threshold",
                format!(
                    "threshold must be between 0 and 1 (a relative width), got {}",
                    c.threshold
                ),
            ));
        }
        if c.min_runs < 2 {
            errors.push(loaded.error_at(
                "multi_run.convergence.min_runs",
                "minRuns must be at least 2 (a spread needs two runs)",
            ));
        }
        if mr.num_runs < 2 {
            errors.push(loaded.error_at(
                "multi_run.convergence",
                "convergence needs numRuns of at least 2",
            ));
        }
    }
    if let Some(s) = &loaded.experiment.sweep
        && let Some(m) =
            crate::spec::validate::check_seconds("cooldownSeconds", s.cooldown_seconds, false)
    {
        errors.push(loaded.error_at("sweep.cooldown_seconds", m));
    }
}
