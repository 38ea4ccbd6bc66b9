//! W&B export end to end: the real binary uploads to a loopback server that answers as the
//! protocol describes and checks every request (tests/common/wandb_server.rs).

mod common;
#[path = "common/wandb_server.rs"]
mod wandb_server;

use common::*;
use std::path::Path;
use wandb_server::WandbServer;

const KEY: &str = "local-0123456789abcdef0123456789abcdef01234567";
const FAST: &str = "mock://?ttft_ms=3&itl_ms=1&max_batch=4";

fn with_server(cmd: &mut std::process::Command, server_url: &str) {
    cmd.env("WANDB_BASE_URL", server_url)
        .env("WANDB_API_KEY", KEY)
        .env_remove("WANDB_MODE")
        .env("HOME", std::env::temp_dir());
}

fn profile_to(server_url: &str, dir: &Path, extra: &[&str]) -> std::process::Output {
    let mut cmd = MockProfile::at(FAST)
        .streaming()
        .concurrency(2)
        .requests(12)
        .tokens(16, 8)
        .arg("--api-key", "sk-inference-secret")
        .args(extra)
        .command(dir);
    with_server(&mut cmd, server_url);
    cmd.output().unwrap()
}

fn assert_no_secret(server: &WandbServer) {
    for r in server.requests() {
        let body = String::from_utf8_lossy(&r.body);
        assert!(
            !body.contains(KEY),
            "the W&B key is in a request body: {}",
            r.path
        );
        assert!(
            !body.contains("sk-inference-secret"),
            "the endpoint key is in a request body: {}",
            r.path
        );
    }
}

#[test]
fn a_single_run_uploads_its_run_table_summary_and_artifact() {
    let server = WandbServer::start();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    let o = profile_to(
        &server.url,
        &dir,
        &[
            "--wandb-project",
            "bench",
            "--wandb-entity",
            "team",
            "--wandb-tag",
            "nightly",
            "--auto-plot",
        ],
    );
    assert_exit(&o, 0);
    let stdout = String::from_utf8_lossy(&o.stdout);
    let runs = server.verify(KEY);
    assert_eq!(runs.len(), 1);
    let run = &runs[0];
    let id = summary(&dir)["benchmark_id"].as_str().unwrap().to_string();
    assert_eq!(run.display_name, format!("aiperf-{id}"));
    assert!(
        stdout.contains(&format!("{}/team/bench/runs/{}", server.url, run.name)),
        "{stdout}"
    );
    assert_eq!(run.exit_code, 0);
    for tag in [
        format!("aiperf-{}", env!("CARGO_PKG_VERSION")),
        format!("benchmark-{id}"),
        "nightly".into(),
    ] {
        assert!(run.tags.contains(&tag), "{tag} missing from {:?}", run.tags);
    }
    assert!(
        run.config["aiperf.cli_command"]["value"]
            .as_str()
            .unwrap()
            .contains("--wandb-project bench")
    );
    assert_eq!(run.config["models"]["value"]["items"][0]["name"], "m");
    let (key, table) = &run.tables[0];
    assert_eq!(key, "summary_metrics");
    assert_eq!(
        table["columns"],
        serde_json::json!(["Metric", "avg", "min", "max", "p99", "p90", "p50", "std"])
    );
    assert_eq!(table["data"][0][0], "TTFT (ms)");
    let throughput = table["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r[0] == "Request Throughput (requests/sec)")
        .unwrap();
    assert!(
        throughput[1].is_f64() && throughput[2].is_null(),
        "{throughput}"
    );
    assert!(run.summary["request_throughput_avg"].is_f64());
    for f in [
        "profile_export_aiperf.json",
        "profile_export_aiperf.csv",
        "profile_export.jsonl",
        "inputs.json",
        "plots/ttft_over_time.png",
    ] {
        assert!(
            run.artifact_files.iter().any(|a| a == f),
            "{f} missing from the artifact {:?}",
            run.artifact_files
        );
    }
    assert_no_secret(&server);
    // Nor in any file the run wrote.
    let mut stack = vec![dir.clone()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            if e.file_type().unwrap().is_dir() {
                stack.push(e.path());
            } else {
                let bytes = std::fs::read(e.path()).unwrap();
                let text = String::from_utf8_lossy(&bytes);
                assert!(
                    !text.contains(KEY) && !text.contains("sk-inference-secret"),
                    "a secret is in {}",
                    e.path().display()
                );
            }
        }
    }
}

#[test]
fn a_sweep_uploads_one_run_per_trial_in_a_group_and_an_aggregate_run() {
    let server = WandbServer::start();
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("wsweep");
    let file = tmp.path().join("e.yaml");
    std::fs::write(
        &file,
        format!(
            "benchmark:
  model: m
  endpoint: {{url: '{FAST}', streaming: true}}
  dataset: {{entries: 8, prompts: {{isl: 16, osl: 8}}}}
  phases: {{type: concurrency, requests: 8, concurrency: 1}}
  artifacts: {{dir: '{}'}}
  wandb: {{project: bench, entity: team, tags: [sweep]}}
multiRun: {{numRuns: 2}}
sweep: {{parameters: {{concurrency: [1, 2]}}}}
",
            out.display()
        ),
    )
    .unwrap();
    let mut cmd = aiperf();
    cmd.arg("run").arg(&file).arg("--auto-plot");
    with_server(&mut cmd, &server.url);
    let o = cmd.output().unwrap();
    assert_exit(&o, 0);
    let runs = server.verify(KEY);
    assert_eq!(runs.len(), 5, "4 trials and the aggregate");
    assert!(
        runs.iter().all(|r| r.group.as_deref() == Some("wsweep")),
        "{:?}",
        runs.iter().map(|r| &r.group).collect::<Vec<_>>()
    );
    let trials: Vec<_> = runs
        .iter()
        .filter(|r| r.job_type.as_deref() != Some("aggregate"))
        .collect();
    assert_eq!(trials.len(), 4);
    for t in &trials {
        let c = t.config["parameters"]["value"]["concurrency"]
            .as_u64()
            .unwrap();
        assert_eq!(
            t.job_type.as_deref(),
            Some(format!("concurrency_{c}").as_str())
        );
        assert!(t.tags.contains(&"sweep".to_string()));
    }
    let aggregate = runs
        .iter()
        .find(|r| r.job_type.as_deref() == Some("aggregate"))
        .unwrap();
    let keys: Vec<&str> = aggregate.tables.iter().map(|(k, _)| k.as_str()).collect();
    for k in [
        "per_combination_metrics",
        "best_configurations",
        "pareto_optimal",
    ] {
        assert!(keys.contains(&k), "{k} missing from {keys:?}");
    }
    let per = &aggregate
        .tables
        .iter()
        .find(|(k, _)| k == "per_combination_metrics")
        .unwrap()
        .1;
    assert_eq!(per["data"].as_array().unwrap().len(), 2);
    assert!(
        aggregate
            .artifact_files
            .iter()
            .any(|f| f.ends_with("profile_export_aiperf_sweep.json")),
        "{:?}",
        aggregate.artifact_files
    );
    assert!(
        aggregate
            .artifact_files
            .iter()
            .any(|f| f == "plots/pareto_throughput_vs_latency.png"),
        "{:?}",
        aggregate.artifact_files
    );
    assert!(
        !aggregate
            .artifact_files
            .iter()
            .any(|f| f.ends_with("profile_export.jsonl")),
        "trial files belong to the trial runs"
    );
}

#[test]
fn injected_server_errors_are_retried() {
    let server = WandbServer::start();
    server.fail_next(3);
    let tmp = tempfile::tempdir().unwrap();
    let o = profile_to(
        &server.url,
        &tmp.path().join("run"),
        &["--wandb-project", "bench", "--wandb-entity", "team"],
    );
    assert_exit(&o, 0);
    assert!(server.requests().iter().filter(|r| r.failed).count() == 3);
    assert_eq!(server.verify(KEY).len(), 1);
}

#[test]
fn a_dead_server_is_a_warning_unless_the_upload_is_required() {
    // A port that nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    let run = |extra: &[&str]| {
        let mut cmd = MockProfile::at(FAST)
            .streaming()
            .concurrency(2)
            .requests(6)
            .args(&["--wandb-project", "bench", "--wandb-entity", "team"])
            .args(extra)
            .env("AIPERF_WANDB_EXPORT_TIMEOUT_SECONDS", "2")
            .command(&dir);
        with_server(&mut cmd, &url);
        cmd.output().unwrap()
    };
    let o = run(&[]);
    assert_exit(&o, 0);
    assert!(
        stderr(&o).contains("warning: W&B upload failed (local results intact)"),
        "{}",
        stderr(&o)
    );
    assert!(stderr(&o).contains("cannot connect"), "{}", stderr(&o));
    assert!(has_content(&dir.join("profile_export_aiperf.json")));
    let o = run(&["--wandb-required"]);
    assert_exit(&o, 7);
    assert!(has_content(&dir.join("profile_export_aiperf.json")));
}

#[test]
fn secondary_options_need_a_project_and_a_key_is_needed() {
    let tmp = tempfile::tempdir().unwrap();
    let o = MockProfile::at(FAST)
        .arg("--wandb-entity", "team")
        .run(&tmp.path().join("r"));
    assert_exit(&o, 2);
    assert!(
        stderr(&o).contains(
            "--wandb-entity, --wandb-run-name, and --wandb-tag require --wandb-project to be set."
        ),
        "{}",
        stderr(&o)
    );
    let file = tmp.path().join("e.yaml");
    std::fs::write(
        &file,
        format!("benchmark:\n  model: m\n  endpoint: {{url: '{FAST}'}}\n  phases: {{type: concurrency, requests: 2, concurrency: 1}}\n  artifacts: {{dir: '{}'}}\n  wandb: {{entity: team, run_name: x}}\n", tmp.path().join("never").display()),
    )
    .unwrap();
    let o = aiperf().arg("run").arg(&file).output().unwrap();
    assert_exit(&o, 2);
    assert!(
        stderr(&o).contains("wandb.entity, wandb.run_name require wandb.project to be set."),
        "{}",
        stderr(&o)
    );
    // No key anywhere: one warning, exit 0.
    let o = MockProfile::at(FAST)
        .requests(4)
        .concurrency(1)
        .arg("--wandb-project", "bench")
        .command(&tmp.path().join("nokey"))
        .env_remove("WANDB_API_KEY")
        .env("HOME", tmp.path())
        .env("WANDB_BASE_URL", "http://127.0.0.1:9")
        .output()
        .unwrap();
    assert_exit(&o, 0);
    assert!(stderr(&o).contains("no W&B API key"), "{}", stderr(&o));
}

#[test]
fn existing_results_upload_afterwards_with_export_wandb() {
    let server = WandbServer::start();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    assert_exit(
        &MockProfile::at(FAST)
            .streaming()
            .concurrency(2)
            .requests(6)
            .run(&dir),
        0,
    );
    assert!(server.requests().is_empty());
    let mut cmd = aiperf();
    cmd.args([
        "export",
        "wandb",
        dir.to_str().unwrap(),
        "--wandb-project",
        "later",
    ]);
    with_server(&mut cmd, &server.url);
    let o = cmd.output().unwrap();
    assert_exit(&o, 0);
    let runs = server.verify(KEY);
    assert_eq!(runs.len(), 1);
    // No entity given: the key's default entity, from the Viewer query.
    assert!(
        server
            .requests()
            .iter()
            .any(|r| r.op.as_deref() == Some("Viewer"))
    );
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("/default-entity/later/runs/"),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
}

/// The official `wandb` CLI (0.31.0, installed by .ci/run). Outside CI a machine without it
/// skips the offline checks; in CI its absence fails them.
fn wandb_cli() -> Option<std::process::Command> {
    let works = |mut c: std::process::Command| {
        c.arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    };
    let plain = || std::process::Command::new("wandb");
    let module = || {
        let mut c = std::process::Command::new("python3");
        c.args(["-m", "wandb"]);
        c
    };
    let mut cmd = if works(plain()) {
        plain()
    } else if works(module()) {
        module()
    } else {
        assert!(
            std::env::var_os("CI").is_none(),
            "the wandb CLI is missing; .ci/run installs wandb==0.31.0"
        );
        eprintln!("skipped: the wandb CLI is not installed (pip install wandb==0.31.0)");
        return None;
    };
    // The CLI writes debug logs under ./wandb: keep them out of the source tree.
    let scratch = tempfile::tempdir().unwrap().keep();
    cmd.current_dir(&scratch)
        .env("WANDB_ERROR_REPORTING", "false")
        .env("WANDB_CONFIG_DIR", scratch.join("config"))
        .env("WANDB_DIR", &scratch)
        .env("WANDB_SILENT", "true");
    Some(cmd)
}

#[test]
fn offline_mode_writes_a_run_the_official_cli_reads_and_syncs() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    let mut cmd = MockProfile::at(FAST)
        .streaming()
        .concurrency(2)
        .requests(8)
        .tokens(16, 8)
        .arg("--wandb-project", "bench")
        .arg("--wandb-tag", "offline-test")
        .command(&dir);
    cmd.env("WANDB_MODE", "offline")
        .env_remove("WANDB_API_KEY")
        .env("WANDB_BASE_URL", "http://127.0.0.1:9");
    let o = cmd.output().unwrap();
    assert_exit(&o, 0);
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("wandb sync"),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    let runs: Vec<_> = std::fs::read_dir(dir.join("wandb"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert_eq!(runs.len(), 1);
    let run_dir = &runs[0];
    let Some(mut inspect) = wandb_cli() else {
        return;
    };
    let out = inspect
        .args(["leet", "inspect", "--summary", "--json"])
        .arg(run_dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("leet inspect prints JSON");
    let id = summary(&dir)["benchmark_id"].as_str().unwrap().to_string();
    assert_eq!(doc["project"], "bench");
    assert_eq!(doc["name"], format!("aiperf-{id}"));
    assert_eq!(doc["state"], "finished");
    assert_eq!(doc["exit_code"], 0);
    assert!(
        doc["tags"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t == "offline-test")
    );
    assert!(
        doc["config"]["aiperf.cli_command"]
            .as_str()
            .unwrap()
            .contains("--wandb-project bench")
    );
    assert!(doc["summary"]["request_throughput_avg"].is_f64());
    let table = &doc["summary"]["summary_metrics"];
    assert_eq!(table["_type"], "table-file");
    assert_eq!(table["ncols"], 8);
    let bytes = std::fs::read(run_dir.join("files").join(table["path"].as_str().unwrap())).unwrap();
    assert_eq!(table["size"].as_u64(), Some(bytes.len() as u64));
    let rows: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(rows["data"][0][0], "TTFT (ms)");

    // `wandb sync` uploads the offline run to the loopback server, which checks every request.
    let server = WandbServer::start();
    let mut sync = wandb_cli().unwrap();
    let out = sync
        .arg("sync")
        .arg(run_dir)
        .env("WANDB_BASE_URL", &server.url)
        .env("WANDB_API_KEY", KEY)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "wandb sync failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let synced = server.verify(KEY);
    assert_eq!(
        synced.len(),
        1,
        "{:?}",
        server
            .requests()
            .iter()
            .map(|r| (&r.path, &r.op))
            .collect::<Vec<_>>()
    );
    assert_eq!(synced[0].exit_code, 0);
    assert!(synced[0].tables.iter().any(|(k, _)| k == "summary_metrics"));
    assert!(
        synced[0]
            .artifact_files
            .iter()
            .any(|f| f == "profile_export_aiperf.json"),
        "{:?}",
        synced[0].artifact_files
    );
}

#[test]
fn a_search_uploads_its_history_and_trajectory() {
    let server = WandbServer::start();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("wsearch");
    let mut cmd = MockProfile::at("mock://?ttft_ms=3&itl_ms=1&max_batch=4")
        .streaming()
        .requests(8)
        .tokens(16, 8)
        .arg("--search-recipe", "max-throughput-ttft-sla")
        .arg("--ttft-sla-ms", 30)
        .arg("--concurrency-max", 32)
        .flag("--auto-plot")
        .arg("--wandb-project", "bench")
        .arg("--wandb-entity", "team")
        .command(&dir);
    with_server(&mut cmd, &server.url);
    let o = cmd.output().unwrap();
    assert_exit(&o, 0);
    let runs = server.verify(KEY);
    let aggregate = runs
        .iter()
        .find(|r| r.job_type.as_deref() == Some("aggregate"))
        .expect("aggregate run");
    let measured: usize = json(dir.join("search_history.json"))["iterations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["runs"].as_array().unwrap().len())
        .sum();
    assert_eq!(
        runs.len() - 1,
        measured,
        "one W&B run per measured run, plus the aggregate"
    );
    let history = &aggregate
        .tables
        .iter()
        .find(|(k, _)| k == "search_history")
        .expect("search_history table")
        .1;
    assert_eq!(history["columns"][0], "point");
    assert!(
        aggregate
            .artifact_files
            .iter()
            .any(|f| f == "plots/search_trajectory.png"),
        "{:?}",
        aggregate.artifact_files
    );
    assert!(
        aggregate
            .artifact_files
            .iter()
            .any(|f| f == "search_history.json")
    );
    assert!(
        runs.iter()
            .filter(|r| r.job_type.as_deref() != Some("aggregate"))
            .all(|r| r.job_type.as_deref().unwrap().starts_with("search_iter_"))
    );
}

#[test]
fn a_failed_benchmark_is_uploaded_as_a_failed_run() {
    let server = WandbServer::start();
    let tmp = tempfile::tempdir().unwrap();
    let mut cmd = MockProfile::at("mock://?error_rate=1")
        .concurrency(1)
        .requests(3)
        .arg("--wandb-project", "bench")
        .arg("--wandb-entity", "team")
        .command(&tmp.path().join("run"));
    with_server(&mut cmd, &server.url);
    let o = cmd.output().unwrap();
    assert_exit(&o, 4);
    let runs = server.verify(KEY);
    assert_eq!(runs.len(), 1);
    assert_eq!(
        runs[0].exit_code, 4,
        "marked failed with the benchmark's exit code"
    );
}

/// `aiperf compare` with the first argument as the only directory and `--baseline-from`.
fn compare_from(
    server_url: &str,
    from: &str,
    candidate: &Path,
    extra: &[&str],
) -> std::process::Output {
    let mut cmd = aiperf();
    cmd.arg("compare")
        .arg("--baseline-from")
        .arg(from)
        .arg(candidate)
        .args(["--max-regression", "100%"])
        .args(extra);
    with_server(&mut cmd, server_url);
    cmd.output().unwrap()
}

#[test]
fn a_baseline_downloads_from_a_wandb_run() {
    let server = WandbServer::start();
    let tmp = tempfile::tempdir().unwrap();
    let main = tmp.path().join("main");
    let o = profile_to(&server.url, &main, &["--wandb-project", "bench"]);
    assert_exit(&o, 0);
    let runs = server.verify(KEY);
    let run = &runs[0].name;
    let candidate = tmp.path().join("candidate");
    assert_exit(&profile_to(&server.url, &candidate, &[]), 0);

    // The downloaded baseline is the run itself: every record, compared as a directory would be.
    let from = format!("wandb:default-entity/bench/{run}");
    let o = compare_from(&server.url, &from, &candidate, &["--format", "json"]);
    assert_exit(&o, 0);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains(&format!("baseline {from}: downloaded")),
        "{stderr}"
    );
    let file: serde_json::Value =
        serde_json::from_slice(&std::fs::read(candidate.join("compare.json")).unwrap()).unwrap();
    assert_eq!(file["baseline"], from.as_str());
    let by_dir = {
        let mut cmd = aiperf();
        cmd.arg("compare")
            .arg(&main)
            .arg(&candidate)
            .args(["--max-regression", "100%", "--output"])
            .arg(tmp.path().join("by_dir.json"));
        cmd.output().unwrap()
    };
    assert_exit(&by_dir, 0);
    let by_dir: serde_json::Value =
        serde_json::from_slice(&std::fs::read(tmp.path().join("by_dir.json")).unwrap()).unwrap();
    assert_eq!(
        file["comparisons"], by_dir["comparisons"],
        "the W&B baseline compares exactly like its directory"
    );
    // The project-only form uses the key's default entity.
    let o = compare_from(&server.url, &format!("wandb:bench/{run}"), &candidate, &[]);
    assert_exit(&o, 0);

    // One step: the profile downloads its baseline before it runs and gates on it.
    let gated = tmp.path().join("gated");
    let o = profile_to(
        &server.url,
        &gated,
        &["--baseline", &from, "--max-regression", "100%"],
    );
    assert_exit(&o, 0);
    let gate: serde_json::Value =
        serde_json::from_slice(&std::fs::read(gated.join("compare.json")).unwrap()).unwrap();
    assert_eq!(gate["baseline"], from.as_str());

    // A run that does not exist, and a malformed reference: unusable inputs, nothing run.
    let o = compare_from(
        &server.url,
        "wandb:default-entity/bench/nosuchrun",
        &candidate,
        &[],
    );
    assert_exit(&o, 2);
    assert!(String::from_utf8_lossy(&o.stderr).contains("no such W&B run"));
    let never = tmp.path().join("never");
    let o = profile_to(&server.url, &never, &["--baseline-from", "wandb:nosuchrun"]);
    assert_exit(&o, 2);
    assert!(
        !never.exists(),
        "nothing runs when the baseline cannot be had"
    );

    server.verify(KEY);
    // A stored file that no longer matches its manifest is refused, naming the file.
    let artifact_file = server
        .requests()
        .iter()
        .find(|r| r.method == "PUT" && r.path.ends_with("/profile_export.jsonl"))
        .map(|r| r.path.trim_start_matches("/storage/").to_string())
        .unwrap();
    server.overwrite(&artifact_file, b"{}\n");
    let o = compare_from(&server.url, &from, &candidate, &[]);
    assert_exit(&o, 2);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains("profile_export.jsonl")
            && stderr.contains("does not match the artifact manifest"),
        "{stderr}"
    );
    // A server sending more than the manifest's size is cut off, not written to the end.
    server.overwrite(&artifact_file, &vec![b'x'; 4 << 20]);
    let o = compare_from(&server.url, &from, &candidate, &[]);
    assert_exit(&o, 2);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("bytes expected"), "{stderr}");
    assert_no_secret(&server);
}

#[test]
fn an_experiment_baseline_downloads_with_its_trials() {
    let server = WandbServer::start();
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("e.yaml");
    let write = |out: &Path, wandb: &str| {
        std::fs::write(
            &file,
            format!(
                "benchmark:
  model: m
  endpoint: {{url: '{FAST}', streaming: true}}
  dataset: {{entries: 8, prompts: {{isl: 16, osl: 8}}}}
  phases: {{type: concurrency, requests: 12, concurrency: 1}}
  artifacts: {{dir: '{}'}}
{wandb}
multiRun: {{numRuns: 2}}
sweep: {{parameters: {{concurrency: [1, 2]}}}}
",
                out.display()
            ),
        )
        .unwrap();
    };
    let main = tmp.path().join("main");
    write(&main, "  wandb: {project: bench}");
    let mut cmd = aiperf();
    cmd.arg("run").arg(&file);
    with_server(&mut cmd, &server.url);
    assert_exit(&cmd.output().unwrap(), 0);
    let runs = server.verify(KEY);
    let aggregate = runs
        .iter()
        .find(|r| r.job_type.as_deref() == Some("aggregate"))
        .unwrap();
    let trials = aggregate.config["aiperf_trial_runs"]["value"]
        .as_array()
        .unwrap();
    assert_eq!(trials.len(), 4, "{:?}", aggregate.config);

    let candidate = tmp.path().join("candidate");
    write(&candidate, "");
    let mut cmd = aiperf();
    cmd.arg("run").arg(&file);
    assert_exit(&cmd.output().unwrap(), 0);
    let from = format!("wandb:default-entity/bench/{}", aggregate.name);
    let o = compare_from(&server.url, &from, &candidate, &["--format", "json"]);
    assert_exit(&o, 0);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("from 5 W&B run(s)"), "{stderr}");
    let compared: serde_json::Value =
        serde_json::from_slice(&std::fs::read(candidate.join("compare.json")).unwrap()).unwrap();
    let comparisons = compared["comparisons"].as_array().unwrap();
    let mut scopes: Vec<&str> = comparisons
        .iter()
        .filter_map(|c| c["scope"].as_str())
        .collect();
    scopes.dedup();
    assert_eq!(scopes.len(), 2, "both cells: {compared}");
    assert!(
        comparisons.iter().any(|c| c["method"]
            .as_str()
            .unwrap_or("")
            .contains("over trials (2 vs 2)")),
        "the trials came back as trials: {compared}"
    );

    // The experiment file's `compare:` block takes the same reference.
    let gated = tmp.path().join("gated");
    write(
        &gated,
        &format!("compare: {{baseline: '{from}', max_regression: 100%}}"),
    );
    let mut cmd = aiperf();
    cmd.arg("run").arg(&file);
    with_server(&mut cmd, &server.url);
    assert_exit(&cmd.output().unwrap(), 0);
    let gate: serde_json::Value =
        serde_json::from_slice(&std::fs::read(gated.join("compare.json")).unwrap()).unwrap();
    assert_eq!(gate["baseline"], from.as_str());
    server.verify(KEY);
}

#[test]
fn a_replayed_trace_uploads_with_its_file_name_and_hash() {
    let server = WandbServer::start();
    let tmp = tempfile::tempdir().unwrap();
    let trace: String = (0..6)
        .map(|i| {
            format!(
                "{{\"timestamp\": {}, \"input_length\": 20, \"output_length\": 2}}\n",
                i * 5
            )
        })
        .collect();
    let file = write(tmp.path(), "trace.jsonl", &trace);
    let dir = tmp.path().join("run");
    let mut cmd = MockProfile::at(FAST)
        .streaming()
        .arg("--input-file", file.display())
        .arg("--custom-dataset-type", "mooncake_trace")
        .args(&["--wandb-project", "bench"])
        .command(&dir);
    with_server(&mut cmd, &server.url);
    let o = cmd.output().unwrap();
    assert_exit(&o, 0);
    let runs = server.verify(KEY);
    let input = &runs[0].config["aiperf.input_file"]["value"];
    assert_eq!(input["format"], "mooncake_trace");
    assert_eq!(input["path"], file.display().to_string());
    let metadata = json(dir.join("run_metadata.json"));
    assert_eq!(input["sha256"], metadata["input_file"]["sha256"]);
    assert_eq!(runs[0].config["datasets"]["value"][0]["type"], "file");
}
