//! Connection reuse follows what the server announces, checked against a scripted server that
//! counts connections and requests (`tests/common/http_peer.rs`).

mod common;
use common::http_peer::{PeerLog, PeerScript, start_peer};
use common::*;
use std::sync::atomic::Ordering;

/// Requests per connection that carried at least one (the reachability check opens one that
/// carries none).
fn used_connections(log: &PeerLog) -> Vec<usize> {
    log.per_connection
        .lock()
        .unwrap()
        .iter()
        .copied()
        .filter(|&n| n > 0)
        .collect()
}

fn run(url: &str, extra: &[&str]) -> serde_json::Value {
    let tmp = tempfile::tempdir().unwrap();
    let mut args = vec!["-m", "m", "-u", url, "--osl", "2"];
    args.extend_from_slice(extra);
    let out = profile(tmp.path(), &args);
    assert_exit(&out, 0);
    json(tmp.path().join("run_metadata.json"))["requests"].clone()
}

fn closed_loop(url: &str, requests: &str) -> serde_json::Value {
    run(url, &["--concurrency", "1", "--request-count", requests])
}

#[test]
fn a_connection_the_server_will_close_is_never_reused() {
    let (url, log) = start_peer(PeerScript {
        headers: "Connection: close\r\n".into(),
        ..PeerScript::default()
    });
    let r = closed_loop(&url, "5");
    assert_eq!(r["errors"], 0, "{r}");
    assert_eq!(used_connections(&log), vec![1; 5]);
}

#[test]
fn keep_alive_max_is_respected() {
    let (url, log) = start_peer(PeerScript {
        headers: "Keep-Alive: timeout=60, max=2\r\n".into(),
        ..PeerScript::default()
    });
    let r = closed_loop(&url, "6");
    assert_eq!(r["errors"], 0, "{r}");
    assert_eq!(used_connections(&log), vec![2, 2, 2]);
}

#[test]
fn connections_are_reused_while_the_server_keeps_them() {
    let (url, log) = start_peer(PeerScript::default());
    let r = closed_loop(&url, "8");
    assert_eq!(r["errors"], 0, "{r}");
    assert_eq!(used_connections(&log), vec![8]);
}

/// `Keep-Alive: timeout=1`: a connection idle for 2 s is not reused (the pool keeps it for at
/// most 80% of the announced timeout); without the header, 2 s is within the 4 s default.
#[test]
fn idle_connections_are_kept_no_longer_than_the_server_announces() {
    let paced = [
        "--request-rate",
        "0.5",
        "--request-rate-mode",
        "constant",
        "--request-count",
        "3",
    ];
    let (url, log) = start_peer(PeerScript {
        headers: "Keep-Alive: timeout=1\r\n".into(),
        ..PeerScript::default()
    });
    assert_eq!(run(&url, &paced)["errors"], 0);
    assert_eq!(used_connections(&log), vec![1, 1, 1]);
    let (url, log) = start_peer(PeerScript::default());
    assert_eq!(run(&url, &paced)["errors"], 0);
    assert_eq!(used_connections(&log), vec![3]);
}

/// The server closes a reused connection with the request on it and no answer: the request is
/// sent once more on a fresh connection, counted as a reconnect, not as an error.
#[test]
fn a_request_dropped_on_a_reused_connection_is_sent_again_once() {
    let (url, log) = start_peer(PeerScript {
        drop_first_reused: true,
        ..PeerScript::default()
    });
    let tmp = tempfile::tempdir().unwrap();
    let out = MockProfile::at(&url)
        .arg("--osl", 2)
        .concurrency(1)
        .requests(4)
        .run(tmp.path());
    assert_exit(&out, 0);
    assert_eq!(summary(tmp.path())["connection_reconnects"], 1);
    let r = json(tmp.path().join("run_metadata.json"))["requests"].clone();
    assert_eq!(r["errors"], 0, "{r}");
    assert_eq!(r["success"], 4, "{r}");
    assert_eq!(r["reconnects"], 1, "{r}");
    assert_eq!(log.dropped.load(Ordering::Relaxed), 1);
    assert_eq!(log.requests.load(Ordering::Relaxed), 5);
}

/// An open-loop phase starts on connections opened before it: one second of arrivals (20 at
/// 20 req/s), so no arrival waits for a connect; the wait for a connection is its own metric.
#[test]
fn an_open_loop_phase_starts_on_connections_opened_ahead() {
    let (url, log) = start_peer(PeerScript::default());
    let tmp = tempfile::tempdir().unwrap();
    let out = MockProfile::at(&url)
        .rate(20.0)
        .requests(10)
        .arg("--osl", 2)
        .run(tmp.path());
    assert_exit(&out, 0);
    let opened = log.per_connection.lock().unwrap().len();
    assert!(
        opened > 20,
        "{opened} connections: the reachability check and 20 ahead"
    );
    let served: usize = used_connections(&log).iter().sum();
    assert_eq!(served, 10);
    let log_text = std::fs::read_to_string(tmp.path().join("logs/aiperf.log")).unwrap();
    assert!(
        log_text.contains("opened 20 of 20 connections ahead of the phase"),
        "{log_text}"
    );
    let blocked = &json(tmp.path().join("profile_export_aiperf.json"))["http_req_blocked"];
    assert_eq!(blocked["unit"], "ms");
    assert_eq!(blocked["count"], 10);
}

/// `--connection-reuse-strategy never` opens a connection for every request (the server counts
/// them), and the connect time shows in each request's `http_req_blocked`; `pooled` (the
/// default) reuses the few it opened.
#[test]
fn connection_reuse_never_connects_for_every_request() {
    let connections = |strategy: &str| {
        let (_server, url) = start_mock_server(&["--ttft-ms", "1", "--itl-ms", "1"]);
        let tmp = tempfile::tempdir().unwrap();
        let out = MockProfile::at(&url)
            .streaming()
            .requests(20)
            .concurrency(2)
            .tokens(10, 3)
            .arg("--connection-reuse-strategy", strategy)
            .run(tmp.path());
        assert_exit(&out, 0);
        let s = summary(tmp.path());
        assert_eq!(stat(&s, "request_count", "avg"), 20.0);
        (
            mock_counter(&url, "connections"),
            stat(&s, "http_req_blocked", "min"),
        )
    };
    let (never, never_blocked) = connections("never");
    let (pooled, _) = connections("pooled");
    // The reachability probe may open one more of its own.
    assert!(
        (20..=22).contains(&never),
        "{never} connections for 20 requests"
    );
    assert!(pooled <= 4, "{pooled} connections when pooled");
    assert!(
        never_blocked > 0.0,
        "every request waited for its own connect"
    );
}
