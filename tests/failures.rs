//! Failures: injected server errors, broken streams, unreachable servers, invalid flags, the grace
//! period and Ctrl-C. Every request must end as exactly one of success, error or cancelled.

mod common;
use common::*;
use std::collections::BTreeMap;

/// Counts JSONL records by outcome and error type.
fn outcomes(dir: &std::path::Path) -> (u64, u64, u64, BTreeMap<String, u64>) {
    let (mut ok, mut err, mut cancelled) = (0, 0, 0);
    let mut kinds = BTreeMap::new();
    for r in jsonl(dir.join("profile_export.jsonl")) {
        if r["metadata"]["was_cancelled"] == true {
            cancelled += 1;
        } else if r["error"].is_null() {
            ok += 1;
        } else {
            err += 1;
            *kinds
                .entry(r["error"]["type"].as_str().unwrap().to_string())
                .or_default() += 1;
        }
    }
    (ok, err, cancelled, kinds)
}

#[test]
fn injected_http_errors_are_counted_and_summarised() {
    let tmp = tempfile::tempdir().unwrap();
    let out = MockProfile::new(
        "ttft_ms=1&itl_ms=1&error_rate=0.3&error_status=503&rate_limit_rate=0.2&seed=3",
    )
    .model("m")
    .streaming()
    .requests(60)
    .concurrency(4)
    .tokens(10, 4)
    .run(tmp.path());
    assert_exit(&out, 0);
    let s = summary(tmp.path());
    let (ok, err, cancelled, kinds) = outcomes(tmp.path());
    assert_eq!(ok + err + cancelled, 60);
    assert!(err > 0 && ok > 0, "{ok} ok, {err} errors");
    assert_eq!(stat(&s, "request_count", "avg"), ok as f64);
    assert_eq!(stat(&s, "error_request_count", "avg"), err as f64);
    assert_eq!(kinds.keys().collect::<Vec<_>>(), ["http_status"]);
    let codes: Vec<u64> = s["error_summary"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["error_details"]["code"].as_u64().unwrap())
        .collect();
    assert!(codes.contains(&503) && codes.contains(&429), "{codes:?}");
    let summed: u64 = s["error_summary"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["count"].as_u64().unwrap())
        .sum();
    assert_eq!(summed, err);
    let expected_rate = err as f64 / 60.0 * 100.0;
    assert!((stat(&s, "request_error_rate", "avg") - expected_rate).abs() < 1e-9);
    assert!(String::from_utf8_lossy(&out.stdout).contains("Errors ("));
}

#[test]
fn broken_streams_are_errors_of_the_right_kind() {
    let tmp = tempfile::tempdir().unwrap();
    let out = MockProfile::new(
        "ttft_ms=1&itl_ms=1&reset_rate=0.25&malformed_rate=0.25&stream_error_rate=0.25&seed=11",
    )
    .model("m")
    .streaming()
    .requests(80)
    .concurrency(4)
    .tokens(10, 8)
    .run(tmp.path());
    assert_exit(&out, 0);
    let (ok, err, cancelled, kinds) = outcomes(tmp.path());
    assert_eq!(ok + err + cancelled, 80);
    for kind in ["stream_interrupted", "response_parse", "server_error"] {
        assert!(
            kinds.get(kind).copied().unwrap_or(0) > 0,
            "no {kind} in {kinds:?}"
        );
    }
    let s = summary(tmp.path());
    assert_eq!(
        stat(&s, "request_count", "avg") + stat(&s, "error_request_count", "avg"),
        80.0
    );
}

#[test]
fn unreachable_server_fails_before_starting() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    let out = MockProfile::at("http://127.0.0.1:9").requests(5).run(&dir);
    assert_exit(&out, 3);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("cannot reach http://127.0.0.1:9/v1/chat/completions"),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "one clear message: {stderr}");
    assert!(!dir.exists(), "nothing should be written when nothing ran");
}

#[test]
fn every_request_failing_has_its_own_exit_code_and_keeps_results() {
    let tmp = tempfile::tempdir().unwrap();
    let out = MockProfile::new("error_rate=1")
        .model("m")
        .requests(5)
        .arg("--isl", 10)
        .run(tmp.path());
    assert_exit(&out, 4);
    let s = summary(tmp.path());
    assert_eq!(stat(&s, "error_request_count", "avg"), 5.0);
    assert_eq!(
        json(tmp.path().join("run_metadata.json"))["status"],
        "all_requests_failed"
    );
}

#[test]
fn invalid_flags_exit_2_with_a_clear_message() {
    let tmp = tempfile::tempdir().unwrap();
    for (args, expected) in [
        (
            vec!["-m", "m", "-u", "mock://", "--request-rate", "0"],
            "--request-rate must be positive",
        ),
        (
            vec![
                "-m",
                "m",
                "-u",
                "mock://",
                "--goodput",
                "time_to_frist_token:5",
            ],
            "did you mean 'time_to_first_token'",
        ),
        (
            vec!["-m", "m", "-u", "mock://", "--benchmark-grace-period", "3"],
            "only applies with a duration",
        ),
        (
            vec!["-m", "m", "-u", "mock://?ttft=3"],
            "unknown field `ttft`",
        ),
        (
            vec!["-m", "m", "-u", "ftp://x", "--request-count", "1"],
            "use http://, https:// or mock://",
        ),
        (
            vec![
                "-m",
                "m",
                "--endpoint-type",
                "embeddings",
                "--streaming",
                "-u",
                "mock://",
            ],
            "embeddings are not streamed",
        ),
        (
            vec!["-m", "m", "-u", "mock://", "--extra-inputs", "nocolon"],
            "must be key:value",
        ),
        (
            vec![
                "-m",
                "m",
                "-u",
                "mock://",
                "--tokenizer",
                "no-such-org/no-model",
            ],
            "not available offline",
        ),
    ] {
        let out = profile(&tmp.path().join("x"), &args);
        assert_exit(&out, 2);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }
}

#[test]
fn grace_period_expiry_cancels_in_flight_requests() {
    let tmp = tempfile::tempdir().unwrap();
    // Each request takes ~3 s; sending stops after 0.5 s and in-flight requests get 0.5 s more.
    let out = MockProfile::new("ttft_ms=3000&itl_ms=1")
        .model("m")
        .streaming()
        .concurrency(3)
        .duration(0.5)
        .arg("--benchmark-grace-period", 0.5)
        .tokens(10, 4)
        .run(tmp.path());
    // Nothing completed, so the run measured nothing useful: never exit 0.
    assert_exit(&out, 4);
    let (ok, err, cancelled, _) = outcomes(tmp.path());
    assert_eq!((ok, err, cancelled), (0, 0, 3));
    let s = summary(tmp.path());
    assert_eq!(stat(&s, "cancelled_request_count", "avg"), 3.0);
    assert_eq!(s["is_complete"], false);
    assert!(
        s["incomplete_reason"]
            .as_str()
            .unwrap()
            .contains("grace period")
    );
}

#[test]
fn ctrl_c_stops_cleanly_and_keeps_results() {
    let tmp = tempfile::tempdir().unwrap();
    let child = MockProfile::new("ttft_ms=5&itl_ms=5")
        .model("m")
        .streaming()
        .concurrency(2)
        .duration(60.0)
        .tokens(10, 20)
        .command(tmp.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until requests are flowing (the JSONL has lines), then interrupt.
    let jsonl_path = tmp.path().join("profile_export.jsonl");
    wait_until(10, || has_content(&jsonl_path));
    std::thread::sleep(std::time::Duration::from_millis(300));
    // SAFETY: sending SIGINT to our own child process.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let out = child.wait_with_output().unwrap();
    assert_exit(&out, 130);
    let s = summary(tmp.path());
    assert_eq!(s["was_cancelled"], true);
    assert!(stat(&s, "request_count", "avg") > 0.0);
    let (ok, err, cancelled, _) = outcomes(tmp.path());
    assert_eq!(ok as f64, stat(&s, "request_count", "avg"));
    assert_eq!(err, 0);
    assert_eq!(
        ok + cancelled,
        json(tmp.path().join("run_metadata.json"))["requests"]["sent"]
            .as_u64()
            .unwrap()
    );
}

/// `--failed-request-threshold` stops a run against a failing server early, exits 11, and keeps
/// every record measured until then; a healthy run under the same threshold is not stopped.
#[test]
fn the_failed_request_threshold_stops_the_run_with_its_own_exit_code() {
    let tmp = tempfile::tempdir().unwrap();
    let out = MockProfile::new("ttft_ms=1&itl_ms=1&error_rate=0.6&error_status=500&seed=5")
        .model("m")
        .streaming()
        .requests(5000)
        .concurrency(4)
        .tokens(10, 2)
        .arg("--failed-request-threshold", "20%")
        .run(tmp.path());
    assert_exit(&out, 11);
    let stderr = stderr(&out);
    assert!(
        stderr.contains("stopped early: more than 20% of requests failed"),
        "{stderr}"
    );
    let (ok, err, cancelled, _) = outcomes(tmp.path());
    // Judged after max(concurrency, 10) = 10 finished requests; at 60% errors it stops at once.
    assert!(
        ok + err + cancelled < 100,
        "{ok} ok, {err} errors, {cancelled} cancelled"
    );
    assert!(err >= 3, "{err} errors");
    let meta = json(tmp.path().join("run_metadata.json"));
    assert_eq!(meta["status"], "too_many_failures");
    assert_eq!(meta["exit_code"], 11);
    assert_eq!(meta["requests"]["errors"], err);
    let s = summary(tmp.path());
    assert_eq!(s["is_complete"], false);
    assert!(
        s["incomplete_reason"]
            .as_str()
            .unwrap()
            .contains("--failed-request-threshold")
    );

    let healthy = tempfile::tempdir().unwrap();
    let out = MockProfile::new("ttft_ms=1&itl_ms=1")
        .model("m")
        .streaming()
        .requests(40)
        .concurrency(4)
        .tokens(10, 2)
        .arg("--failed-request-threshold", "0")
        .run(healthy.path());
    assert_exit(&out, 0);

    // A count, with a closed loop of one: exactly three failures cross "more than 2".
    let counted = tempfile::tempdir().unwrap();
    let out = MockProfile::new("ttft_ms=1&itl_ms=1&error_rate=1")
        .model("m")
        .requests(100)
        .tokens(10, 2)
        .arg("--failed-request-threshold", "2")
        .run(counted.path());
    assert_exit(&out, 11);
    assert_eq!(outcomes(counted.path()).1, 3);
}

/// `--request-cancellation-rate 30 --request-cancellation-delay S`: about 30% of requests (chosen
/// from the seed) are abandoned S after they were sent. They are counted as cancelled, never as
/// errors, stay out of the latency metrics, and the server saw each of them go away.
#[test]
fn cancelled_requests_are_counted_on_both_sides() {
    for delay in ["0.05", "0"] {
        let (_server, url) = start_mock_server(&["--ttft-ms", "100", "--itl-ms", "5"]);
        let tmp = tempfile::tempdir().unwrap();
        let out = MockProfile::at(&url)
            .streaming()
            .requests(60)
            .concurrency(4)
            .tokens(10, 20)
            .arg("--request-cancellation-rate", "30")
            .arg("--request-cancellation-delay", delay)
            .run(tmp.path());
        assert_exit(&out, 0);
        let (ok, err, cancelled, _) = outcomes(tmp.path());
        assert_eq!((ok + cancelled, err), (60, 0), "delay {delay}");
        assert!(
            (8..=30).contains(&cancelled),
            "delay {delay}: {cancelled} of 60 cancelled"
        );
        let s = summary(tmp.path());
        assert_eq!(stat(&s, "cancelled_request_count", "avg"), cancelled as f64);
        assert_eq!(stat(&s, "request_count", "avg"), ok as f64);
        assert_eq!(
            stat(&s, "request_latency", "count"),
            ok as f64,
            "cancelled requests have no latency"
        );
        assert!(s.get("error_request_count").is_none_or(|e| e["avg"] == 0.0));
        let (received, completed) = mock_stats(&url);
        assert_eq!(completed, ok, "delay {delay}");
        if delay == "0" {
            // Gone right after sending: a server may read the request and the close together
            // and never start it (hyper does, as most servers). Every one it started, it saw
            // go away.
            assert!((ok..=60).contains(&received), "{received}");
            assert!(wait_until(10, || mock_disconnects(&url) == received - completed));
        } else {
            // 50 ms after sending (TTFT is 100 ms), every cancelled request was being served when its client
            // went away.
            assert_eq!(received, 60);
            assert!(
                wait_until(10, || mock_disconnects(&url) == cancelled),
                "the server saw {} disconnects, the client cancelled {cancelled}",
                mock_disconnects(&url)
            );
        }
    }
}
