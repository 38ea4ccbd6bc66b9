//! `aiperf run FILE` end to end against the embedded mock server.

mod common;
use common::*;
use serde_json::Value;
use std::path::{Path, PathBuf};

fn spec(dir: &Path, extra: &str, phases: &str) -> String {
    format!(
        "benchmark:
  model: m
  endpoint: {{url: 'mock://?ttft_ms=2&itl_ms=1', streaming: true}}
  dataset: {{entries: 4, prompts: {{isl: 16, osl: 4}}}}
  phases: {phases}
  artifacts: {{dir: '{}'}}
{extra}",
        dir.display()
    )
}

const PHASE: &str = "{type: concurrency, requests: 6, concurrency: 2}";

fn run(file: &Path, extra: &[&str]) -> std::process::Output {
    aiperf().arg("run").arg(file).args(extra).output().unwrap()
}

#[test]
fn repeated_sweep_writes_cell_and_sweep_aggregates() {
    let tmp = tempfile::tempdir().unwrap();
    let out_dir = tmp.path().join("out");
    let file = write(
        tmp.path(),
        "e.yaml",
        &spec(
            &out_dir,
            "sweep: {parameters: {concurrency: [1, 2]}}\nmultiRun: {numRuns: 2}\n",
            PHASE,
        ),
    );
    let out = run(&file, &[]);
    assert_exit(&out, 0);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("Trials: 4 planned, 4 completed, 0 failed"),
        "{stdout}"
    );
    for t in 1..=2 {
        for c in [1, 2] {
            let dir = out_dir.join(format!("profile_runs/trial_000{t}/concurrency_{c}"));
            assert_eq!(json(dir.join("trial_status.json"))["status"], "completed");
            assert!(dir.join("profile_export_aiperf.json").exists());
        }
    }
    let cell = json(out_dir.join("aggregate/concurrency_2/profile_export_aiperf_aggregate.json"));
    assert_eq!(cell["metadata"]["num_successful_runs"], 2);
    let t = &cell["metrics"]["time_to_first_token_p99"];
    for key in [
        "mean",
        "std",
        "min",
        "max",
        "cv",
        "se",
        "ci_low",
        "ci_high",
        "t_critical",
        "unit",
    ] {
        assert!(!t[key].is_null(), "time_to_first_token_p99.{key}");
    }
    assert!(
        (t["t_critical"].as_f64().unwrap() - 12.7062).abs() < 1e-3,
        "t(0.975, 1 df)"
    );
    let csv = std::fs::read_to_string(
        out_dir.join("aggregate/concurrency_2/profile_export_aiperf_aggregate.csv"),
    )
    .unwrap();
    assert!(csv.starts_with("metric,mean,std,min,max,cv,se,ci_low,ci_high,t_critical,unit\n"));
    let sweep = json(out_dir.join("aggregate/sweep_aggregate/profile_export_aiperf_sweep.json"));
    assert_eq!(sweep["aggregation_type"], "sweep");
    assert_eq!(sweep["num_profile_runs"], 4);
    assert_eq!(
        sweep["metadata"]["sweep_parameters"][0]["name"],
        "concurrency"
    );
    assert_eq!(
        sweep["per_combination_metrics"].as_array().unwrap().len(),
        2
    );
    assert!(
        sweep["best_configurations"]["best_throughput"]["parameters"]["concurrency"].is_number()
    );
    assert!(!sweep["pareto_optimal"].as_array().unwrap().is_empty());
    let sweep_csv = std::fs::read_to_string(
        out_dir.join("aggregate/sweep_aggregate/profile_export_aiperf_sweep.csv"),
    )
    .unwrap();
    for section in [
        "\nBest Configurations\n",
        "\nPareto Optimal Points\n",
        "\nMetadata\n",
    ] {
        assert!(sweep_csv.contains(section), "{section}");
    }
}

#[test]
fn independent_order_and_single_cell_repetitions_use_their_layouts() {
    let tmp = tempfile::tempdir().unwrap();
    let out_dir = tmp.path().join("ind");
    let file = write(
        tmp.path(),
        "i.yaml",
        &spec(
            &out_dir,
            "sweep: {parameters: {isl: [8, 16]}}\nmultiRun: {numRuns: 2, iterationOrder: independent}\n",
            PHASE,
        ),
    );
    assert_exit(&run(&file, &[]), 0);
    assert!(
        out_dir
            .join("isl_8/profile_runs/trial_0002/profile_export_aiperf.json")
            .exists()
    );
    assert!(
        out_dir
            .join("isl_16/aggregate/profile_export_aiperf_aggregate.json")
            .exists()
    );
    assert!(
        out_dir
            .join("sweep_aggregate/profile_export_aiperf_sweep.json")
            .exists()
    );

    let plain = tmp.path().join("plain");
    let file = write(
        tmp.path(),
        "p.yaml",
        &spec(&plain, "multiRun: {numRuns: 2}\n", PHASE),
    );
    assert_exit(&run(&file, &[]), 0);
    assert!(
        plain
            .join("profile_runs/run_0002/profile_export_aiperf.json")
            .exists()
    );
    let agg = json(plain.join("aggregate/profile_export_aiperf_aggregate.json"));
    assert_eq!(
        agg["metadata"]["run_labels"],
        serde_json::json!(["profile_runs/run_0001", "profile_runs/run_0002"])
    );
}

#[test]
fn a_failing_middle_trial_is_recorded_and_the_sweep_goes_on() {
    let tmp = tempfile::tempdir().unwrap();
    let out_dir = tmp.path().join("out");
    let extra = "sweep:
  type: scenarios
  runs:
    - {name: first}
    - name: broken
      benchmark: {endpoint: {url: 'http://127.0.0.1:9'}}
    - {name: last}
";
    let file = write(tmp.path(), "e.yaml", &spec(&out_dir, extra, PHASE));
    let out = run(&file, &[]);
    assert_exit(&out, 5);
    let sweep = json(out_dir.join("sweep_aggregate/profile_export_aiperf_sweep.json"));
    let failed = sweep["failed_runs"].as_array().unwrap();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["label"], "broken");
    assert!(
        failed[0]["error"]
            .as_str()
            .unwrap()
            .contains("cannot reach"),
        "{failed:?}"
    );
    let names: Vec<&Value> = sweep["per_combination_metrics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| &c["parameters"]["scenario"])
        .collect();
    assert_eq!(names, ["first", "last"]);
    assert_eq!(
        json(out_dir.join("broken/trial_status.json"))["status"],
        "failed"
    );
}

#[test]
fn convergence_ends_repetitions_early() {
    let tmp = tempfile::tempdir().unwrap();
    let out_dir = tmp.path().join("out");
    // Input length is constant, so its CV is 0 after the minimum 2 runs: runs 3-5 are skipped.
    let extra = "multiRun: {numRuns: 5, convergence: {metric: input_sequence_length, stat: avg, mode: cv, threshold: 0.01}}\n";
    let file = write(tmp.path(), "e.yaml", &spec(&out_dir, extra, PHASE));
    let out = run(&file, &[]);
    assert_exit(&out, 0);
    let statuses: Vec<String> = (1..=5)
        .map(|r| {
            json(out_dir.join(format!("profile_runs/run_000{r}/trial_status.json")))["status"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(
        statuses,
        ["completed", "completed", "skipped", "skipped", "skipped"]
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("converged after 2 runs"));
    assert_eq!(
        json(out_dir.join("aggregate/profile_export_aiperf_aggregate.json"))["metadata"]["num_successful_runs"],
        2
    );
}

/// Kills the process (SIGKILL, no chance to clean up) after two trials, resumes, and checks the
/// finished trials were kept as they were and the aggregates cover every trial.
#[test]
fn resume_after_a_kill_skips_finished_trials_and_completes_the_aggregates() {
    let tmp = tempfile::tempdir().unwrap();
    let out_dir = tmp.path().join("out");
    let slow = "{type: concurrency, requests: 8, concurrency: 1}";
    let file = write(
        tmp.path(),
        "e.yaml",
        &spec(
            &out_dir,
            "sweep: {parameters: {isl: [8, 12, 16, 20]}}\n",
            slow,
        )
        .replace("ttft_ms=2&itl_ms=1", "ttft_ms=40&itl_ms=5"),
    );
    let mut child = aiperf()
        .arg("run")
        .arg(&file)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let second = out_dir.join("isl_12/trial_status.json");
    wait_until(10, || second.exists());
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        second.exists(),
        "two trials should have finished before the kill"
    );
    let first_bytes = std::fs::read(out_dir.join("isl_8/profile_export_aiperf.json")).unwrap();
    assert!(!out_dir.join("isl_20/trial_status.json").exists());

    let out = run(&file, &["--resume", out_dir.to_str().unwrap()]);
    assert_exit(&out, 0);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("isl=8: already done") && stderr.contains("isl=12: already done"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read(out_dir.join("isl_8/profile_export_aiperf.json")).unwrap(),
        first_bytes
    );
    let sweep = json(out_dir.join("sweep_aggregate/profile_export_aiperf_sweep.json"));
    assert_eq!(sweep["num_profile_runs"], 4);
    assert_eq!(sweep["num_successful_runs"], 4);
    assert_eq!(
        sweep["per_combination_metrics"].as_array().unwrap().len(),
        4
    );

    // The same experiment uninterrupted gives aggregates of the same shape: the same cells, runs
    // and metric keys (the numbers are measurements, so they differ).
    let fresh_dir = tmp.path().join("fresh");
    let fresh_file = write(
        tmp.path(),
        "fresh.yaml",
        &std::fs::read_to_string(&file)
            .unwrap()
            .replace(out_dir.to_str().unwrap(), fresh_dir.to_str().unwrap()),
    );
    assert_exit(&run(&fresh_file, &[]), 0);
    let fresh = json(fresh_dir.join("sweep_aggregate/profile_export_aiperf_sweep.json"));
    let shape = |doc: &Value| {
        doc["per_combination_metrics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    c["parameters"].to_string(),
                    c["metrics"]
                        .as_object()
                        .unwrap()
                        .keys()
                        .cloned()
                        .collect::<Vec<_>>(),
                )
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(shape(&sweep), shape(&fresh));
    assert_eq!(sweep["metadata"], fresh["metadata"]);
    assert_eq!(sweep["failed_runs"], fresh["failed_runs"]);

    // A different experiment cannot resume this directory.
    let other = write(
        tmp.path(),
        "other.yaml",
        &std::fs::read_to_string(&file)
            .unwrap()
            .replace("20]", "24]"),
    );
    let out = run(&other, &["--resume", out_dir.to_str().unwrap()]);
    assert_exit(&out, 2);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("was started from a different experiment")
    );
}

#[test]
fn ctrl_c_stops_the_sweep_and_says_how_to_resume() {
    let tmp = tempfile::tempdir().unwrap();
    let out_dir = tmp.path().join("out");
    let long = "{type: concurrency, duration: 30, concurrency: 1}";
    let file = write(
        tmp.path(),
        "e.yaml",
        &spec(&out_dir, "sweep: {parameters: {isl: [8, 16]}}\n", long),
    );
    let child = aiperf()
        .arg("run")
        .arg(&file)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let jsonl = out_dir.join("isl_8/profile_export.jsonl");
    wait_until(10, || has_content(&jsonl));
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let out = child.wait_with_output().unwrap();
    assert_exit(&out, 130);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("--resume"), "{stdout}");
    assert_eq!(
        json(out_dir.join("isl_8/profile_export_aiperf.json"))["was_cancelled"],
        true
    );
    assert!(
        !out_dir.join("isl_8/trial_status.json").exists(),
        "an interrupted trial runs again on resume"
    );
}

#[test]
fn nemo_batch_example_runs_unchanged() {
    let tmp = tempfile::tempdir().unwrap();
    let example = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/nemo-batch.yaml"
    ))
    .unwrap();
    let file = write(
        tmp.path(),
        "nemo.yaml",
        &example.replace("benchmark_duration: 2", "benchmark_duration: 0.5"),
    );
    let out = aiperf()
        .current_dir(tmp.path())
        .arg("run")
        .arg(&file)
        .output()
        .unwrap();
    assert_exit(&out, 0);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("SUMMARY\nTotal runs : 4\nCompleted  : 4\nFailed     : 0"),
        "{stdout}"
    );
    let batch = tmp.path().join("artifacts/nemo/nemo_mock_sweep");
    let stamps: Vec<PathBuf> = std::fs::read_dir(&batch)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(stamps.len(), 1);
    let stamp = stamps[0].file_name().unwrap().to_string_lossy().to_string();
    assert!(
        stamp.len() == 15 && stamp.as_bytes()[8] == b'_',
        "YYYYMMDD_HHMMSS, got {stamp}"
    );
    for name in [
        "concurrency1_prompt_input_tokens_mean100",
        "concurrency4_prompt_input_tokens_mean400",
    ] {
        let dir = stamps[0].join(name);
        let meta = json(dir.join("run_metadata.json"));
        assert!(
            meta["sweep_params"].is_object()
                && meta["command"]
                    .as_str()
                    .unwrap()
                    .starts_with("aiperf profile")
        );
        assert_eq!(json(dir.join("process_result.json"))["returncode"], 0);
        assert!(dir.join("profile_export_aiperf.json").exists());
    }
    let run =
        json(stamps[0].join("concurrency4_prompt_input_tokens_mean400/profile_export_aiperf.json"));
    assert_eq!(run["input_config"]["phases"][1]["concurrency"], 4);
}

#[test]
fn dry_run_lists_trials_and_checks_servers() {
    let tmp = tempfile::tempdir().unwrap();
    let out_dir = tmp.path().join("out");
    let file = write(
        tmp.path(),
        "e.yaml",
        &spec(
            &out_dir,
            "sweep: {parameters: {concurrency: [1, 2]}}\nmultiRun: {numRuns: 2}\n",
            "{type: concurrency, duration: 5, concurrency: 1}",
        ),
    );
    let out = aiperf()
        .args(["run", "--dry-run", "-v"])
        .arg(&file)
        .output()
        .unwrap();
    assert_exit(&out, 0);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("2 cells x 2 runs = 4 trials"), "{stdout}");
    assert!(stdout.contains("[4] concurrency=2 run 2/2 ->"), "{stdout}");
    assert!(
        stdout.contains("estimated duration: at least 20 s"),
        "{stdout}"
    );
    assert!(stdout.contains("resolved configuration"), "{stdout}");
    assert!(
        stdout.contains("phases.profiling.concurrency: 1 -> 2 (sweep)"),
        "{stdout}"
    );
    assert!(!out_dir.exists(), "a dry run writes nothing");

    let file = write(
        tmp.path(),
        "down.yaml",
        &spec(&out_dir, "", PHASE).replace("mock://?ttft_ms=2&itl_ms=1", "http://127.0.0.1:9"),
    );
    let out = aiperf()
        .args(["run", "--dry-run"])
        .arg(&file)
        .output()
        .unwrap();
    assert_exit(&out, 3);
    assert!(String::from_utf8_lossy(&out.stdout).contains("does not answer"));
}

#[test]
fn every_example_validates_and_names_the_schema() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut count = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("yaml") {
            continue;
        }
        count += 1;
        let text = std::fs::read_to_string(&path).unwrap();
        let nemo = text.contains("base_config:");
        if !nemo {
            assert!(
                text.starts_with(
                    "# yaml-language-server: $schema=../schemas/experiment.schema.json"
                ),
                "{}",
                path.display()
            );
        }
        let out = aiperf().arg("validate").arg(&path).output().unwrap();
        assert_exit(&out, 0);
    }
    assert!(count >= 4);
}

/// The files below `dir`, relative, with the parts that differ by nature (timestamps, ids,
/// measurements) left to the comparisons of their contents.
fn relative_files(dir: &Path) -> Vec<String> {
    let mut files: Vec<String> = all_files(dir)
        .into_iter()
        .map(|p| p.strip_prefix(dir).unwrap().display().to_string())
        .collect();
    files.sort();
    files
}

/// `aiperf profile --concurrency 1,2 --isl 16,32 --num-profile-runs 2` builds the plan of the
/// experiment file that writes the same sweep: the same trials with the same resolved settings,
/// the same directories and files, and a sweep aggregate of the same shape.
#[test]
fn a_sweep_from_flags_equals_the_same_sweep_from_a_file() {
    let tmp = tempfile::tempdir().unwrap();
    let flags_dir = tmp.path().join("flags");
    let file_dir = tmp.path().join("file");
    let out = aiperf()
        .args([
            "profile",
            "-m",
            "m",
            "-u",
            "mock://?ttft_ms=2&itl_ms=1",
            "--streaming",
        ])
        .args(["--concurrency", "1,2", "--isl", "16,32", "--osl", "4"])
        .args(["--num-profile-runs", "2", "--confidence-level", "0.9"])
        .args([
            "--num-dataset-entries",
            "4",
            "--random-seed",
            "7",
            "--ui-type",
            "none",
        ])
        .arg("--artifact-dir")
        .arg(&flags_dir)
        .output()
        .unwrap();
    assert_exit(&out, 0);
    let file = write(
        tmp.path(),
        "e.yaml",
        &format!(
            "benchmark:
  model: m
  endpoint: {{url: 'mock://?ttft_ms=2&itl_ms=1', streaming: true}}
  dataset: {{entries: 4, prompts: {{isl: 16, osl: 4}}}}
  phases: {{type: concurrency, concurrency: 1}}
  artifacts: {{dir: '{}'}}
  runtime: {{ui: none}}
  random_seed: 7
sweep: {{parameters: {{isl: [16, 32], concurrency: [1, 2]}}}}
multi_run: {{num_runs: 2, confidence_level: 0.9}}
",
            file_dir.display()
        ),
    );
    assert_exit(&run(&file, &[]), 0);

    let trials = |dir: &Path| {
        let plan = json(dir.join("experiment_plan.json"));
        let text = plan["trials"]
            .to_string()
            .replace(dir.to_str().unwrap(), "BASE");
        serde_json::from_str::<Value>(&text).unwrap()
    };
    let (from_flags, from_file) = (trials(&flags_dir), trials(&file_dir));
    assert_eq!(from_flags.as_array().unwrap().len(), 8);
    assert_eq!(
        from_flags, from_file,
        "the same trials with the same settings"
    );
    assert_eq!(relative_files(&flags_dir), relative_files(&file_dir));
    let shape = |dir: &Path| {
        let sweep = json(dir.join("aggregate/sweep_aggregate/profile_export_aiperf_sweep.json"));
        let keys = |v: &Value| v.as_object().map(|o| o.keys().cloned().collect::<Vec<_>>());
        (
            sweep["metadata"]["sweep_parameters"].clone(),
            sweep["per_combination_metrics"].as_array().map(|cells| {
                cells
                    .iter()
                    .map(|c| (c["parameters"].clone(), keys(&c["metrics"])))
                    .collect::<Vec<_>>()
            }),
        )
    };
    let (parameters, cells) = shape(&flags_dir);
    assert_eq!(
        parameters,
        serde_json::json!([{"name": "isl", "values": [16, 32]}, {"name": "concurrency", "values": [1, 2]}])
    );
    let cells = cells.unwrap();
    assert_eq!(cells.len(), 4);
    assert!(
        cells
            .iter()
            .all(|(_, metrics)| metrics.as_ref().is_some_and(|m| m.len() > 10))
    );
    assert_eq!((parameters, Some(cells)), shape(&file_dir));

    // AIPerf's documentation reads `metrics["ttft_p99_ms"]["mean"]`; its files (and ours) say
    // `time_to_first_token_p99`. Both are there, with the same statistics.
    let sweep = json(flags_dir.join("aggregate/sweep_aggregate/profile_export_aiperf_sweep.json"));
    let cell = &sweep["per_combination_metrics"][0]["metrics"];
    for (documented, canonical) in [
        ("ttft_p99_ms", "time_to_first_token_p99"),
        ("ttft_p90_ms", "time_to_first_token_p90"),
        ("ttft_p50_ms", "time_to_first_token_p50"),
        ("itl_p99_ms", "inter_token_latency_p99"),
        ("latency_p99_ms", "request_latency_p99"),
    ] {
        assert!(
            cell[canonical]["mean"].as_f64().unwrap() > 0.0,
            "{canonical}"
        );
        assert_eq!(cell[documented], cell[canonical], "{documented}");
    }
    let csv = std::fs::read_to_string(
        flags_dir.join("aggregate/sweep_aggregate/profile_export_aiperf_sweep.csv"),
    )
    .unwrap();
    let header = csv.lines().next().unwrap();
    assert!(
        header.contains(",ttft_p99_ms_mean,") && header.contains(",time_to_first_token_p99_mean,"),
        "{header}"
    );
}

/// A body template in an experiment file keeps its per-request placeholders: the experiment's
/// own `{{ variables }}` are substituted everywhere else.
#[test]
fn a_body_template_in_a_file_is_rendered_per_request_not_as_a_variable() {
    let tmp = tempfile::tempdir().unwrap();
    let out_dir = tmp.path().join("out");
    let file = write(
        tmp.path(),
        "e.yaml",
        &format!(
            r#"variables: {{api: chat/completions}}
benchmark:
  model: m
  endpoint:
    url: 'mock://?ttft_ms=1&itl_ms=1'
    type: template
    path: '/v1/{{{{ api }}}}'
    template: '{{"model": {{{{ model|tojson }}}}, "messages": [{{"role": "user", "content": {{{{ prompt|tojson }}}}}}], "max_tokens": {{{{ max_tokens }}}}}}'
  dataset: {{entries: 2, prompts: {{isl: 16, osl: 3}}}}
  phases: {{type: concurrency, requests: 4, concurrency: 1}}
  artifacts: {{dir: '{}'}}
"#,
            out_dir.display()
        ),
    );
    let out = run(&file, &[]);
    assert_exit(&out, 0);
    let s = summary(&out_dir);
    assert_eq!(stat(&s, "request_count", "avg"), 4.0);
    assert_eq!(stat(&s, "output_sequence_length", "avg"), 3.0);
    let body = &json(out_dir.join("inputs.json"))["data"][0]["payloads"][0];
    assert_eq!(body["messages"][0]["role"], "user");
    assert_eq!(body["max_tokens"], 3);
}
