//! Semantic checks on a [`BenchmarkSpec`]: combinations the types alone cannot rule out.
//!
//! Every problem is reported (not just the first), each as one sentence that names the setting
//! and says how to fix it.

use super::{BenchmarkSpec, EndpointType, PhaseKind, PhaseType};
use crate::spec::goodput::check_slo_tag;

/// Checks a spec; on failure returns every problem found, one per line.
pub fn validate(spec: &BenchmarkSpec) -> Result<(), Vec<String>> {
    let mut problems = Vec::new();
    if spec.models.items.is_empty() || spec.models.items.iter().any(|m| m.name.trim().is_empty()) {
        problems.push("a model name is required (--model NAME)".to_string());
    }
    check_endpoint(spec, &mut problems);
    check_dataset(spec, &mut problems);
    check_phases(spec, &mut problems);
    for tag in spec.slos.keys() {
        if let Err(e) = check_slo_tag(tag) {
            problems.push(e);
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

fn check_endpoint(spec: &BenchmarkSpec, problems: &mut Vec<String>) {
    let endpoint = &spec.endpoint;
    if endpoint.urls.is_empty() {
        problems.push(
            "at least one server URL is required (--url http://host:port, or mock://)".into(),
        );
    }
    for url in &endpoint.urls {
        if url.starts_with("mock://") {
            continue;
        }
        match reqwest::Url::parse(url) {
            Ok(parsed)
                if matches!(parsed.scheme(), "http" | "https") && parsed.host().is_some() => {}
            Ok(parsed) => problems.push(format!(
                "URL '{}' has scheme '{}'; use http://, https:// or mock://",
                crate::redact::redact_url(url),
                parsed.scheme()
            )),
            Err(e) => problems.push(format!(
                "URL '{}' is not valid: {e}",
                crate::redact::redact_url(url)
            )),
        }
    }
    if endpoint.endpoint_type == EndpointType::Embeddings && endpoint.streaming {
        problems.push("--streaming does not apply to --endpoint-type embeddings (embeddings are not streamed)".into());
    }
    if !(endpoint.timeout.is_finite() && endpoint.timeout > 0.0) {
        problems.push(format!(
            "--request-timeout-seconds must be positive, got {}",
            endpoint.timeout
        ));
    }
    if let Some(path) = &endpoint.path
        && !path.starts_with('/')
    {
        problems.push(format!(
            "--endpoint '{path}' must start with '/', e.g. /v1/chat/completions"
        ));
    }
}

fn check_dataset(spec: &BenchmarkSpec, problems: &mut Vec<String>) {
    if spec.datasets.len() != 1 {
        problems.push(format!(
            "exactly one dataset is supported, got {}",
            spec.datasets.len()
        ));
        return;
    }
    let dataset = &spec.datasets[0];
    if dataset.entries == 0 {
        problems.push("the dataset needs at least one entry (--num-dataset-entries)".into());
    }
    let isl = dataset.prompts.isl;
    if !(isl.mean >= 1.0 && isl.stddev >= 0.0) {
        problems.push(format!(
            "input tokens mean must be >= 1 and stddev >= 0 (--isl {}, --isl-stddev {})",
            isl.mean, isl.stddev
        ));
    }
    if let Some(osl) = dataset.prompts.osl
        && !(osl.mean >= 1.0 && osl.stddev >= 0.0)
    {
        problems.push(format!(
            "output tokens mean must be >= 1 and stddev >= 0 (--osl {}, --osl-stddev {})",
            osl.mean, osl.stddev
        ));
    }
}

fn check_phases(spec: &BenchmarkSpec, problems: &mut Vec<String>) {
    let profiling = spec
        .phases
        .iter()
        .filter(|p| p.kind == PhaseKind::Profiling)
        .count();
    if profiling != 1 {
        problems.push(format!(
            "exactly one profiling phase is required, got {profiling}"
        ));
    }
    if let Some(last) = spec.phases.last()
        && last.kind != PhaseKind::Profiling
    {
        problems
            .push("the profiling phase must be the last phase (warmup phases come first)".into());
    }
    for phase in &spec.phases {
        let name = &phase.name;
        if phase.requests.is_none() && phase.duration.is_none() {
            problems.push(format!(
                "phase '{name}' has no stop condition: set a request count (--request-count) or a duration \
                 (--benchmark-duration)"
            ));
        }
        if phase.requests == Some(0) {
            problems.push(format!(
                "phase '{name}': the request count must be at least 1"
            ));
        }
        if let Some(d) = phase.duration
            && !(d.is_finite() && d > 0.0)
        {
            problems.push(format!(
                "phase '{name}': the duration must be a positive number of seconds, got {d}"
            ));
        }
        if let Some(g) = phase.grace_period {
            if !(g.is_finite() && g >= 0.0) {
                problems.push(format!(
                    "phase '{name}': the grace period must be >= 0 seconds, got {g}"
                ));
            }
            if phase.duration.is_none() {
                problems.push(format!(
                    "phase '{name}': a grace period (--benchmark-grace-period) only applies with a duration \
                     (--benchmark-duration)"
                ));
            }
        }
        if phase.concurrency == Some(0) {
            problems.push(format!("phase '{name}': concurrency must be at least 1"));
        }
        match phase.phase_type {
            PhaseType::Concurrency => {
                if phase.rate.is_some() {
                    problems.push(format!("phase '{name}': a concurrency phase takes no rate"));
                }
            }
            PhaseType::Constant | PhaseType::Poisson => match phase.rate {
                Some(r) if r.is_finite() && r > 0.0 => {}
                Some(r) => problems.push(format!(
                    "phase '{name}': --request-rate must be positive, got {r}"
                )),
                None => problems.push(format!("phase '{name}': a rate phase needs --request-rate")),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::spec::test_support::minimal_spec;

    #[test]
    fn minimal_spec_is_valid() {
        assert_eq!(super::validate(&minimal_spec()), Ok(()));
    }

    #[test]
    fn reports_every_problem() {
        let mut spec = minimal_spec();
        spec.endpoint.urls = vec!["ftp://x".into()];
        spec.endpoint.streaming = true;
        spec.endpoint.endpoint_type = crate::spec::EndpointType::Embeddings;
        spec.phases[0].requests = None;
        spec.phases[0].duration = None;
        let problems = super::validate(&spec).unwrap_err();
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(problems.iter().any(|p| p.contains("no stop condition")));
    }

    #[test]
    fn grace_period_needs_a_duration() {
        let mut spec = minimal_spec();
        spec.phases[0].grace_period = Some(5.0);
        let problems = super::validate(&spec).unwrap_err();
        assert!(problems[0].contains("grace period"), "{problems:?}");
    }
}
