//! Nothing finished is lost, no failure is silent, no secret is written: signals, kills,
//! re-runs, a full disk, a server that goes away, a client out of file descriptors, and URL
//! credentials. Each test is named after the defect it guards.

mod common;
use common::*;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

/// The command of `profile`, with its output captured for `wait_with_output`.
fn piped(profile: &MockProfile, dir: &Path) -> Command {
    let mut cmd = profile.command(dir);
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    cmd
}

fn lines_now(path: &Path) -> usize {
    std::fs::read_to_string(path)
        .map(|t| t.lines().count())
        .unwrap_or(0)
}

fn kill(child: &std::process::Child, signal: i32) {
    // SAFETY: sending a signal to a child we spawned and have not reaped.
    unsafe {
        libc::kill(child.id() as i32, signal);
    }
}

/// Every line of a JSONL file parses: a kill never leaves a torn record.
fn assert_whole_lines(path: &Path) -> usize {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.is_empty() || text.ends_with('\n'), "torn last line");
    for line in text.lines() {
        serde_json::from_str::<serde_json::Value>(line).unwrap_or_else(|e| panic!("{e}: {line}"));
    }
    text.lines().count()
}

/// A streaming run against `url` for up to a minute, about 38 requests a second.
fn slow_stream(url: &str) -> MockProfile {
    MockProfile::at(url)
        .streaming()
        .tokens(16, 20)
        .concurrency(4)
        .duration(60.0)
}

fn spawn_slow_stream(dir: &Path, url: &str) -> std::process::Child {
    piped(&slow_stream(url), dir).spawn().unwrap()
}

/// SIGTERM mid-run: every file written, exit 143, and every response the server finished is in
/// the JSONL (cancelled in-flight requests are there too, marked).
#[test]
fn sigterm_mid_run_writes_every_file_and_exits_143() {
    let (_server, url) = start_mock_server(&["--ttft-ms", "5", "--itl-ms", "5"]);
    let tmp = tempfile::tempdir().unwrap();
    let jsonl = tmp.path().join("profile_export.jsonl");
    let child = spawn_slow_stream(tmp.path(), &url);
    assert!(wait_until(30, || lines_now(&jsonl) >= 20), "no records");
    kill(&child, libc::SIGTERM);
    let out = child.wait_with_output().unwrap();
    assert_exit(&out, 143);
    let (_, completed) = mock_stats(&url);
    let meta = json(tmp.path().join("run_metadata.json"));
    assert_eq!(meta["status"], "interrupted");
    assert_eq!(meta["exit_code"], 143);
    let summary = summary(tmp.path());
    assert_eq!(summary["was_cancelled"], true);
    let lines = assert_whole_lines(&jsonl) as u64;
    assert_eq!(lines, meta["requests"]["sent"].as_u64().unwrap(), "{meta}");
    let success = meta["requests"]["success"].as_u64().unwrap();
    // A response the server finished in the moment of the signal may be cancelled on our side,
    // but every success is one the server finished, and none is missing from the file.
    assert!(
        success <= completed && completed <= lines,
        "{success} {completed} {lines}"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("SIGTERM"));
}

#[test]
fn sighup_is_handled_like_ctrl_c() {
    let tmp = tempfile::tempdir().unwrap();
    let jsonl = tmp.path().join("profile_export.jsonl");
    let child = spawn_slow_stream(tmp.path(), "mock://?ttft_ms=5&itl_ms=5");
    assert!(wait_until(30, || lines_now(&jsonl) >= 5), "no records");
    kill(&child, libc::SIGHUP);
    let out = child.wait_with_output().unwrap();
    assert_exit(&out, 129);
    assert_eq!(
        json(tmp.path().join("run_metadata.json"))["status"],
        "interrupted"
    );
}

/// Records reach the file at least every 100 ms as whole lines: after a kill -9 the file holds
/// whole lines only, and all but the last moment's responses.
#[test]
fn sigkill_leaves_only_whole_lines_and_loses_at_most_the_last_moment() {
    let (_server, url) = start_mock_server(&["--ttft-ms", "5", "--itl-ms", "5"]);
    let tmp = tempfile::tempdir().unwrap();
    let jsonl = tmp.path().join("profile_export.jsonl");
    let mut child = spawn_slow_stream(tmp.path(), &url);
    assert!(wait_until(30, || lines_now(&jsonl) >= 30), "no records");
    let before = lines_now(&jsonl);
    std::thread::sleep(Duration::from_millis(500));
    let during = lines_now(&jsonl);
    kill(&child, libc::SIGKILL);
    let _ = child.wait();
    let (_, completed) = mock_stats(&url);
    assert!(
        during > before,
        "records did not reach the file while running"
    );
    let lines = assert_whole_lines(&jsonl) as u64;
    // About 38 responses a second finish: 100 ms is ~4 of them. Allow a loaded machine 1 s.
    assert!(
        lines <= completed && completed - lines <= 40,
        "{completed} responses finished, {lines} recorded"
    );
}

#[test]
fn a_run_where_nothing_completes_exits_4() {
    let tmp = tempfile::tempdir().unwrap();
    let out = MockProfile::new("ttft_ms=60000")
        .model("m")
        .streaming()
        .concurrency(3)
        .duration(0.5)
        .arg("--benchmark-grace-period", 0.2)
        .run(tmp.path());
    assert_exit(&out, 4);
    let meta = json(tmp.path().join("run_metadata.json"));
    assert_eq!(meta["status"], "nothing_completed");
    assert!(
        meta["requests"]["cancelled"].as_u64().unwrap() >= 3,
        "{meta}"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("no request completed"));
}

#[test]
fn a_server_killed_mid_run_stops_the_run_with_exit_8() {
    let (mut server, url) = start_mock_server(&["--ttft-ms", "2", "--itl-ms", "1"]);
    let tmp = tempfile::tempdir().unwrap();
    let profile = MockProfile::at(&url)
        .streaming()
        .concurrency(4)
        .duration(60.0);
    let child = piped(&profile, tmp.path()).spawn().unwrap();
    let jsonl = tmp.path().join("profile_export.jsonl");
    assert!(wait_until(30, || lines_now(&jsonl) >= 20), "no records");
    let _ = server.0.kill();
    let _ = server.0.wait();
    let killed_at = std::time::Instant::now();
    let out = child.wait_with_output().unwrap();
    assert!(
        killed_at.elapsed() < Duration::from_secs(30),
        "the run went on after the server was gone"
    );
    assert_exit(&out, 8);
    let meta = json(tmp.path().join("run_metadata.json"));
    assert_eq!(meta["status"], "server_gone");
    // It stopped issuing after a few refusals instead of spinning through thousands.
    assert!(meta["requests"]["errors"].as_u64().unwrap() < 200, "{meta}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("gone away"));
}

#[test]
fn file_descriptor_exhaustion_is_the_clients_fault() {
    let (_server, url) = start_mock_server(&["--ttft-ms", "50", "--itl-ms", "5"]);
    let tmp = tempfile::tempdir().unwrap();
    let script = format!(
        "ulimit -n 128 && exec {} profile -m m -u {url} --streaming --concurrency 300 --request-count 600 \
         --osl 10 --artifact-dir {} --ui-type none",
        env!("CARGO_BIN_EXE_aiperf"),
        tmp.path().display()
    );
    let out = Command::new("sh").args(["-c", &script]).output().unwrap();
    let meta = json(tmp.path().join("run_metadata.json"));
    let client = meta["requests"]["client_resource_errors"].as_u64().unwrap();
    assert!(client > 0, "{meta}");
    assert_eq!(meta["load_verdict"]["client_bound"], true);
    let summary = summary(tmp.path());
    let groups = summary["error_summary"].to_string();
    assert!(groups.contains("client_resource"), "{groups}");
    assert!(
        !groups.contains("\"connect\""),
        "reported as the server's: {groups}"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("ulimit -n"), "{stderr}");
    // Said before the run, too.
    assert!(stderr.contains("but this process may open 128"), "{stderr}");
}

#[test]
fn rerunning_into_a_finished_experiment_is_refused_and_force_moves_it_aside() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("e.yaml");
    let out_dir = tmp.path().join("out");
    std::fs::write(
        &file,
        format!(
            "benchmark:
  model: m
  endpoint: {{url: 'mock://?ttft_ms=1&itl_ms=1'}}
  phases: {{type: concurrency, requests: 4, concurrency: 1}}
  artifacts: {{dir: '{}', auto_plot: false}}
sweep:
  parameters:
    concurrency: [1, 2]
",
            out_dir.display()
        ),
    )
    .unwrap();
    assert_exit(&aiperf().arg("run").arg(&file).output().unwrap(), 0);
    let before: Vec<_> = all_files(&out_dir);
    let again = aiperf().arg("run").arg(&file).output().unwrap();
    assert_exit(&again, 2);
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(
        stderr.contains("--resume") && stderr.contains("--force"),
        "{stderr}"
    );
    assert_eq!(
        all_files(&out_dir),
        before,
        "a refused run touched the results"
    );
    let forced = aiperf()
        .arg("run")
        .arg(&file)
        .arg("--force")
        .output()
        .unwrap();
    assert_exit(&forced, 0);
    let aside = tmp.path().join("out.old-1");
    assert_eq!(
        all_files(&aside).len(),
        before.len(),
        "old results not kept whole"
    );
}

/// A full disk: every request still completes, the table is still printed from memory, no
/// temporary file is left, the JSONL holds whole lines only, one error line, exit 1.
#[test]
fn a_full_disk_keeps_the_table_and_leaves_no_torn_file() {
    let mount = tempfile::tempdir().unwrap();
    let status = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=96k", "tmpfs"])
        .arg(mount.path())
        .status();
    if !status.is_ok_and(|s| s.success()) {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI runs as root and must be able to mount a tmpfs"
        );
        eprintln!("skipping: cannot mount a tmpfs here");
        return;
    }
    let dir = mount.path().join("run");
    let out = MockProfile::new("ttft_ms=0&itl_ms=0")
        .model("m")
        .streaming()
        .tokens(8, 4)
        .arg("--num-dataset-entries", 4)
        .concurrency(4)
        .requests(2000)
        .flag("--no-auto-plot")
        .run(&dir);
    let files = all_files(&dir);
    let jsonl = dir.join("profile_export.jsonl");
    let whole = jsonl.is_file().then(|| assert_whole_lines(&jsonl));
    let _ = Command::new("umount").arg(mount.path()).status();
    assert_exit(&out, 1);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("Request Count"), "no table: {stdout}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(errors.len(), 1, "{stderr}");
    assert!(errors[0].contains("No space left"), "{stderr}");
    assert!(
        files.iter().all(|f| !f.to_string_lossy().ends_with(".tmp")),
        "{files:?}"
    );
    assert!(
        whole.is_some_and(|n| n < 2000),
        "the disk was not full: {whole:?}"
    );
}

const SECRET: &str = "sk-SECRETPW";

#[test]
fn url_credentials_never_reach_a_file() {
    let (_server, url) = start_mock_server(&["--ttft-ms", "1", "--itl-ms", "1"]);
    let with_creds = url.replace("http://", &format!("http://bob:{SECRET}@"));
    let tmp = tempfile::tempdir().unwrap();
    let run_dir = tmp.path().join("single");
    let out = MockProfile::at(&with_creds)
        .streaming()
        .requests(4)
        .arg("--wandb-project", "p")
        .env("WANDB_MODE", "offline")
        .command(&run_dir)
        .current_dir(tmp.path())
        .output()
        .unwrap();
    assert_exit(&out, 0);
    let file = tmp.path().join("e.yaml");
    std::fs::write(
        &file,
        format!(
            "benchmark:
  model: m
  endpoint: {{url: '{with_creds}', streaming: true}}
  phases: {{type: concurrency, requests: 4, concurrency: 1}}
  artifacts: {{dir: '{}'}}
  wandb: {{project: p, mode: offline}}
sweep:
  parameters:
    concurrency: [1, 2]
",
            tmp.path().join("sweep").display()
        ),
    )
    .unwrap();
    let swept = aiperf()
        .current_dir(tmp.path())
        .arg("run")
        .arg(&file)
        .output()
        .unwrap();
    assert_exit(&swept, 0);
    let files = all_files(tmp.path());
    assert!(
        files
            .iter()
            .any(|f| f.to_string_lossy().contains("offline-run")),
        "no W&B offline files: {files:?}"
    );
    for f in files.iter().filter(|f| *f != &file) {
        let bytes = std::fs::read(f).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        assert!(
            !text.contains(SECRET),
            "{} holds the URL password",
            f.display()
        );
    }
    for output in [&out, &swept] {
        assert!(!String::from_utf8_lossy(&output.stdout).contains(SECRET));
        assert!(!String::from_utf8_lossy(&output.stderr).contains(SECRET));
    }
}

/// The same impossible setting gives the same exit code from flags and from a file.
#[test]
fn port_zero_is_a_configuration_error_from_flags_and_files() {
    let tmp = tempfile::tempdir().unwrap();
    let flags = MockProfile::at("http://127.0.0.1:0")
        .requests(1)
        .run(tmp.path());
    assert_exit(&flags, 2);
    let file = tmp.path().join("p.yaml");
    std::fs::write(
        &file,
        "benchmark: {model: m, endpoint: {url: 'http://127.0.0.1:0'}, phases: {requests: 1}}\n",
    )
    .unwrap();
    assert_exit(&aiperf().arg("run").arg(&file).output().unwrap(), 2);
    assert!(!tmp.path().join("artifacts").exists());
}

/// The hint printed after interrupting `profile --search-recipe` is a command that works.
#[test]
fn an_interrupted_flag_search_resumes_as_its_hint_says() {
    let tmp = tempfile::tempdir().unwrap();
    let search = MockProfile::at("mock://?ttft_ms=5&itl_ms=5&max_batch=12")
        .streaming()
        .tokens(16, 20)
        .requests(48)
        .concurrency(1)
        .arg("--search-recipe", "max-throughput-ttft-sla")
        .arg("--ttft-sla-ms", 50)
        .flag("--no-auto-plot");
    let child = piped(&search, tmp.path()).spawn().unwrap();
    let history = tmp.path().join("search_history.json");
    assert!(
        wait_until(60, || history.is_file()),
        "no search point finished"
    );
    kill(&child, libc::SIGINT);
    let out = child.wait_with_output().unwrap();
    assert_exit(&out, 130);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let hint = format!(
        "the same aiperf profile command with --resume {}",
        tmp.path().display()
    );
    assert!(stdout.contains(&hint), "{stdout}");
    let mut resumed = piped(&search, tmp.path());
    resumed.arg("--resume").arg(tmp.path());
    let out = resumed.output().unwrap();
    assert_exit(&out, 0);
    assert!(String::from_utf8_lossy(&out.stdout).contains("Answer:"));
}

/// Errors and warnings go to stderr, without colour when stderr is not a terminal; the results
/// table stays on stdout.
#[test]
fn failures_are_said_on_stderr_without_colour_escapes() {
    let tmp = tempfile::tempdir().unwrap();
    let all_failed = MockProfile::new("error_rate=1")
        .model("m")
        .requests(5)
        .run(&tmp.path().join("a"));
    assert_exit(&all_failed, 4);
    let stdout = String::from_utf8_lossy(&all_failed.stdout);
    let stderr = String::from_utf8_lossy(&all_failed.stderr);
    assert!(stderr.contains("every request failed"), "{stderr}");
    assert!(!stdout.contains("every request failed"), "{stdout}");
    let some_failed = MockProfile::new("error_rate=0.5")
        .model("m")
        .requests(40)
        .run(&tmp.path().join("b"));
    assert_exit(&some_failed, 0);
    let stderr = String::from_utf8_lossy(&some_failed.stderr);
    assert!(stderr.contains("% of requests failed"), "{stderr}");
    for out in [&all_failed, &some_failed] {
        assert!(
            !out.stderr.contains(&0x1b),
            "colour escapes in a redirected stderr"
        );
    }
}

#[test]
fn help_lists_every_exit_code() {
    let out = aiperf().arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    for (code, meaning) in aiperf::exit_code::ExitCode::ALL {
        assert!(
            help.contains(&format!("{:>3}  {meaning}", code.0)),
            "--help misses exit code {}",
            code.0
        );
    }
}

/// A request cancelled at the end of the grace period keeps the time to first token it had
/// measured (it stays out of every latency statistic).
#[test]
fn a_cancelled_stream_keeps_its_time_to_first_token() {
    let tmp = tempfile::tempdir().unwrap();
    let out = MockProfile::new("ttft_ms=5&itl_ms=3000")
        .model("m")
        .streaming()
        .arg("--osl", 10)
        .concurrency(2)
        .duration(0.3)
        .arg("--benchmark-grace-period", 0.3)
        .run(tmp.path());
    assert_exit(&out, 4);
    let lines = jsonl(tmp.path().join("profile_export.jsonl"));
    assert!(!lines.is_empty());
    for line in &lines {
        assert_eq!(line["metadata"]["was_cancelled"], true, "{line}");
        let ttft = line["metrics"]["time_to_first_token"]["value"].as_f64();
        assert!(ttft.is_some_and(|t| t > 0.0), "{line}");
    }
    assert!(summary(tmp.path())["time_to_first_token"].is_null());
}

/// A server that keeps writing to a connection aiperf has given up on (here the embedded mock,
/// streaming on after aiperf's per-request timeout) must get an error, not kill the process:
/// hyper writes with writev, which raises SIGPIPE on a closed socket, so the process must
/// ignore SIGPIPE. Every request times out: exit 4 with the results on disk, never a signal.
#[test]
fn writes_to_a_connection_closed_by_the_other_side_never_kill_the_process() {
    let tmp = tempfile::tempdir().unwrap();
    let out = MockProfile::new("ttft_ms=5&itl_ms=40")
        .streaming()
        .requests(8)
        .concurrency(4)
        .tokens(16, 60)
        .arg("--request-timeout-seconds", 0.3)
        .run(tmp.path());
    assert_exit(&out, 4);
    assert!(tmp.path().join("profile_export_aiperf.json").is_file());
}

/// `aiperf ... | head -1`: when the reader of stdout goes away, aiperf stops quietly with
/// 141 (128 + SIGPIPE, what a shell shows for a writer stopped by a closed pipe).
#[test]
fn a_closed_stdout_stops_quietly() {
    let mut child = aiperf()
        .args(["schema"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert_exit(&out, 141);
    assert!(!stderr(&out).contains("internal error"), "{}", stderr(&out));
}

#[test]
fn sigterm_during_a_baseline_download_removes_what_was_downloaded_and_exits_143() {
    // A W&B server that accepts and never answers: the download waits for its budget.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (connected, waiting) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            held.push(stream);
            let _ = connected.send(());
        }
    });
    let tmp = tempfile::tempdir().unwrap();
    let scratch = tmp.path().join("tmp");
    std::fs::create_dir(&scratch).unwrap();
    let mut cmd = MockProfile::at("mock://").command(&tmp.path().join("run"));
    cmd.args(["--baseline", "wandb:team/proj/run1"])
        .env("WANDB_BASE_URL", format!("http://127.0.0.1:{port}"))
        .env("WANDB_API_KEY", "k".repeat(40))
        .env("TMPDIR", &scratch)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = cmd.spawn().unwrap();
    waiting
        .recv_timeout(Duration::from_secs(60))
        .expect("the download reaches the server");
    assert_eq!(
        std::fs::read_dir(&scratch).unwrap().count(),
        1,
        "the download's directory"
    );
    kill(&child, libc::SIGTERM);
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(143), "{stderr}");
    assert!(
        stderr.contains("interrupted by SIGTERM while downloading the baseline"),
        "{stderr}"
    );
    let left: Vec<_> = std::fs::read_dir(&scratch)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
    assert!(
        !tmp.path().join("run").join("profile_export.jsonl").exists(),
        "nothing was run"
    );
}
