//! Sweep expansion: order of grid, zip and scenarios cells, ranges, layouts and seeds.

use aiperf::cli::load_experiment;
use aiperf::plan::{Plan, expand};
use serde_json::json;

fn plan(yaml: &str) -> Plan {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("e.yaml");
    std::fs::write(&file, yaml).unwrap();
    let loaded = load_experiment(&file).unwrap_or_else(|e| panic!("{e:?}"));
    expand(&loaded).unwrap_or_else(|e| panic!("{e:?}"))
}

const BASE: &str = "
benchmark:
  model: m
  endpoint: {url: 'mock://', streaming: true}
  dataset: {entries: 4, prompts: {isl: 32, osl: 8}}
  phases:
    - {name: warmup, type: concurrency, requests: 2, concurrency: 1}
    - {name: profiling, type: concurrency, requests: 4, concurrency: 1}
  artifacts: {dir: out}
";

fn labels(p: &Plan) -> Vec<&str> {
    p.trials
        .iter()
        .map(|t| p.cells[t.cell].label.as_str())
        .collect()
}

#[test]
fn grid_is_a_cartesian_product_with_the_first_parameter_outermost() {
    let p = plan(&format!(
        "{BASE}sweep:\n  parameters:\n    concurrency: [1, 2]\n    isl: [10, 20, 30]\n"
    ));
    assert_eq!(
        labels(&p),
        [
            "concurrency_1__isl_10",
            "concurrency_1__isl_20",
            "concurrency_1__isl_30",
            "concurrency_2__isl_10",
            "concurrency_2__isl_20",
            "concurrency_2__isl_30",
        ]
    );
    let last = &p.cells[5].spec;
    assert_eq!(last.profiling_phase().concurrency, Some(2));
    assert_eq!(last.dataset().prompts.isl.mean, 30.0);
    assert_eq!(
        p.cells[5].parameters,
        json!({"concurrency": 2, "isl": 30})
            .as_object()
            .unwrap()
            .clone()
    );
}

#[test]
fn zip_pairs_values_and_rejects_unequal_lengths() {
    let p = plan(&format!(
        "{BASE}sweep:\n  type: zip\n  parameters:\n    concurrency: [1, 4]\n    phases.profiling.requests: [8, 32]\n"
    ));
    assert_eq!(
        labels(&p),
        ["concurrency_1__requests_8", "concurrency_4__requests_32"]
    );
    assert_eq!(p.cells[1].spec.profiling_phase().requests, Some(32));
}

#[test]
fn ranges_expand_geometrically_and_linearly() {
    let p = plan(&format!(
        "{BASE}sweep:\n  parameters:\n    concurrency: {{from: 1, to: 16, times: 2}}\n"
    ));
    assert_eq!(
        p.sweep_parameters[0].1,
        vec![json!(1), json!(2), json!(4), json!(8), json!(16)]
    );
    let p = plan(&format!(
        "{BASE}sweep:\n  parameters:\n    isl: {{from: 100, to: 300, step: 100}}\n"
    ));
    assert_eq!(labels(&p), ["isl_100", "isl_200", "isl_300"]);
}

#[test]
fn scenarios_deep_merge_overrides_and_values() {
    let p = plan(&format!(
        "{BASE}sweep:\n  type: scenarios\n  runs:\n    - name: short\n      values: {{isl: 16}}\n    - name: no-stream\n      benchmark:\n        endpoint: {{streaming: false}}\n        phases: {{type: constant, rate: 5, requests: 3}}\n"
    ));
    assert_eq!(labels(&p), ["short", "no-stream"]);
    assert_eq!(p.cells[0].spec.dataset().prompts.isl.mean, 16.0);
    assert!(p.cells[0].spec.endpoint.streaming);
    let second = &p.cells[1].spec;
    assert!(!second.endpoint.streaming, "merged over the base endpoint");
    assert_eq!(
        second.endpoint.urls,
        ["mock://"],
        "the rest of the endpoint is kept"
    );
    assert_eq!(second.phases.len(), 1, "lists are replaced, not merged");
    assert_eq!(second.profiling_phase().rate, Some(5.0));
}

#[test]
fn variables_are_substituted_and_sweepable() {
    let yaml = "
variables: {model_name: base-model, conc: 2}
sweep:
  parameters:
    variables.model_name: [a, b]
benchmark:
  model: '{{ model_name }}'
  endpoint: {url: 'mock://'}
  phases: {type: concurrency, requests: 4, concurrency: '{{ conc }}'}
";
    let p = plan(yaml);
    assert_eq!(labels(&p), ["model_name_a", "model_name_b"]);
    assert_eq!(p.cells[1].spec.model_name(), "b");
    assert_eq!(p.cells[1].spec.profiling_phase().concurrency, Some(2));
}

#[test]
fn layouts_for_each_combination_of_sweep_runs_and_order() {
    let dirs = |p: &Plan| {
        p.trials
            .iter()
            .map(|t| t.dir.display().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(dirs(&plan(BASE)), ["out"]);
    assert_eq!(
        dirs(&plan(&format!("{BASE}multiRun: {{numRuns: 2}}\n"))),
        ["out/profile_runs/run_0001", "out/profile_runs/run_0002"]
    );
    let sweep = "sweep: {parameters: {concurrency: [1, 2]}}\n";
    assert_eq!(
        dirs(&plan(&format!("{BASE}{sweep}"))),
        ["out/concurrency_1", "out/concurrency_2"]
    );
    assert_eq!(
        dirs(&plan(&format!("{BASE}{sweep}multiRun: {{numRuns: 2}}\n"))),
        [
            "out/profile_runs/trial_0001/concurrency_1",
            "out/profile_runs/trial_0001/concurrency_2",
            "out/profile_runs/trial_0002/concurrency_1",
            "out/profile_runs/trial_0002/concurrency_2",
        ]
    );
    assert_eq!(
        dirs(&plan(&format!(
            "{BASE}{sweep}multiRun: {{numRuns: 2, iterationOrder: independent}}\n"
        ))),
        [
            "out/concurrency_1/profile_runs/trial_0001",
            "out/concurrency_1/profile_runs/trial_0002",
            "out/concurrency_2/profile_runs/trial_0001",
            "out/concurrency_2/profile_runs/trial_0002",
        ]
    );
}

#[test]
fn seeds_per_cell_and_warmup_only_in_the_first_run() {
    let p = plan(&format!(
        "{BASE}randomSeed: 100\nsweep: {{parameters: {{concurrency: [1, 2]}}}}\nmultiRun: {{numRuns: 2}}\n"
    ));
    let seeds: Vec<Option<u64>> = p.trials.iter().map(|t| t.spec.random_seed).collect();
    assert_eq!(
        seeds,
        [Some(100), Some(101), Some(100), Some(101)],
        "a cell's repetitions share its seed"
    );
    let phases: Vec<usize> = p.trials.iter().map(|t| t.spec.phases.len()).collect();
    assert_eq!(
        phases,
        [2, 2, 1, 1],
        "warmup runs only in each cell's first repetition"
    );
}

#[test]
fn snake_case_and_camel_case_keys_are_equivalent() {
    let camel = plan(&format!(
        "{BASE}multiRun: {{numRuns: 3, confidenceLevel: 0.9, iterationOrder: independent}}\n"
    ));
    let snake = plan(&format!(
        "{BASE}multi_run: {{num_runs: 3, confidence_level: 0.9, iteration_order: independent}}\n"
    ));
    assert_eq!(camel.trials.len(), snake.trials.len());
    assert_eq!(camel.order, snake.order);
}

#[test]
fn warmup_and_profiling_shorthand_become_phases() {
    let p = plan(
        "
benchmark:
  model: m
  endpoint: {url: 'mock://'}
  warmup: {type: concurrency, requests: 2}
  profiling: {type: poisson, rate: 3, requests: 9}
sweep: {parameters: {phases.warmup.requests: [1, 3]}}
",
    );
    let spec = &p.cells[1].spec;
    let names: Vec<&str> = spec.phases.iter().map(|ph| ph.name.as_str()).collect();
    assert_eq!(names, ["warmup", "profiling"]);
    assert_eq!(spec.phases[0].requests, Some(3));
    assert_eq!(spec.profiling_phase().rate, Some(3.0));
    assert_eq!(
        p.cells[1].overrides,
        vec![(
            "phases.warmup.requests".to_string(),
            Some(json!(2)),
            json!(3)
        )]
    );
}
