//! aiperf's timings against the server's own: `aiperf mock-server --timing-log` records, per
//! streamed response, when the request's bytes arrived on the server's socket (the kernel's
//! stamp), when the server read them, when the request reached the handler and when the first
//! token was handed to the connection, keyed by the `X-Request-ID` aiperf sends. A loose guard
//! (a few ms); the precise figures are `bench/measurement_truth.sh`'s.

mod common;
use common::*;
use std::collections::HashMap;

#[test]
fn time_to_first_token_brackets_the_servers_own() {
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("server_times.jsonl");
    let (_server, url) = start_mock_server(&[
        "--ttft-ms",
        "20",
        "--itl-ms",
        "2",
        "--timing-log",
        log.to_str().unwrap(),
    ]);
    let dir = tmp.path().join("run");
    let out = MockProfile::at(&url)
        .streaming()
        .concurrency(4)
        .requests(200)
        .tokens(20, 16)
        .run(&dir);
    assert_exit(&out, 0);

    let server: HashMap<String, (u64, u64, u64)> = jsonl(log)
        .into_iter()
        .map(|l| {
            let id = l["request_id"]
                .as_str()
                .expect("aiperf sends X-Request-ID")
                .to_string();
            let received = l["received_ns"].as_u64().unwrap();
            let first_read = l["first_read_ns"]
                .as_u64()
                .expect("the server stamps its first read of every request");
            assert!(first_read <= received, "read after the handler started");
            let arrived = l["arrived_ns"]
                .as_u64()
                .expect("the kernel stamps the arrival of every request (Linux)");
            assert!(arrived <= first_read, "arrived after the server read it");
            (
                id,
                (arrived, received, l["first_token_ns"].as_u64().unwrap()),
            )
        })
        .collect();
    let records = jsonl(dir.join("profile_export.jsonl"));
    assert_eq!(records.len(), 200);
    assert_eq!(server.len(), 200, "one server line per request, ids unique");
    let mut added = Vec::new();
    for r in &records {
        let id = r["metadata"]["x_request_id"].as_str().unwrap();
        let &(at_server, received, first_sent) = server
            .get(id)
            .unwrap_or_else(|| panic!("no server line for {id}"));
        let start = r["metadata"]["request_start_ns"].as_u64().unwrap() as f64;
        let ttft_ms = r["metrics"]["time_to_first_token"]["value"]
            .as_f64()
            .unwrap();
        let arrived = start + ttft_ms * 1e6;
        // Both stamps are wall clocks of the same host; allow 1 ms for how aiperf pairs its
        // monotonic clock with the wall clock at the start.
        assert!(
            start <= at_server as f64 + 1e6,
            "sent after the request's bytes were on the server's socket"
        );
        assert!(
            arrived + 1e6 >= first_sent as f64,
            "first token stamped before the server sent it"
        );
        let server_ttft_ms = (first_sent - received) as f64 / 1e6;
        assert!(
            ttft_ms >= server_ttft_ms - 0.05,
            "{ttft_ms} ms < the server's {server_ttft_ms} ms"
        );
        added.push(ttft_ms - server_ttft_ms);
    }
    added.sort_by(f64::total_cmp);
    let p50 = added[added.len() / 2];
    assert!(
        p50 < 5.0,
        "aiperf's TTFT p50 is {p50} ms above the server's"
    );
}

/// A request sent with its connection, before the server has accepted it (what a client
/// without a pool does), still carries the kernel's arrival stamp: the listener asks for them.
#[test]
fn a_request_on_a_new_connection_is_stamped_on_arrival() {
    use std::io::{Read, Write};
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("server_times.jsonl");
    let (server, url) =
        start_mock_server(&["--ttft-ms", "1", "--timing-log", log.to_str().unwrap()]);
    let addr = url.trim_start_matches("http://").trim_end_matches('/');
    let body =
        r#"{"model":"m","messages":[{"role":"user","content":"hi"}],"stream":true,"max_tokens":2}"#;
    let request = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
         X-Request-ID: fresh\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    // The kernel turns receive stamping on from a work queue, a moment after the first socket
    // asks for it; a request in that moment would carry no arrival (logged as null, not wrong).
    std::thread::sleep(std::time::Duration::from_millis(100));
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut reply = String::new();
    stream.read_to_string(&mut reply).unwrap();
    assert!(reply.contains("[DONE]"), "{reply}");
    // The line is written after the response ends; give the server a moment to append it.
    let line = (0..50)
        .find_map(|_| {
            let lines = std::fs::read_to_string(&log).unwrap_or_default();
            if lines.contains("\"fresh\"") {
                return Some(lines);
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
            None
        })
        .expect("the server logged the request");
    drop(server);
    let l: serde_json::Value = serde_json::from_str(line.lines().next().unwrap()).unwrap();
    assert_eq!(l["request_id"], "fresh");
    let arrived = l["arrived_ns"]
        .as_u64()
        .expect("stamped on arrival (Linux)");
    assert!(arrived <= l["first_read_ns"].as_u64().unwrap());
}
