//! Against uvicorn, the HTTP layer of vLLM and SGLang (`tests/fixtures/sse_server.py`): it closes
//! idle keep-alive connections after its timeout without a header that says so, and requests
//! spaced around that timeout must never be sent into a connection it is closing; and a server
//! that answers a streaming request with a plain body is said to, once.

mod common;
use common::*;

fn start_uvicorn(args: &[&str]) -> Option<(ServerProcess, String)> {
    let has_uvicorn = std::process::Command::new("python3")
        .args(["-c", "import uvicorn"])
        .status()
        .is_ok_and(|s| s.success());
    if !has_uvicorn {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "uvicorn must be installed in CI (.ci/run)"
        );
        eprintln!("skipping: uvicorn is not installed");
        return None;
    }
    let args: Vec<&std::ffi::OsStr> = args.iter().map(std::ffi::OsStr::new).collect();
    let (server, port) = start_python_fixture("sse_server.py", &args);
    Some((server, format!("http://127.0.0.1:{port}")))
}

/// Sends `count` streamed requests at a constant `rate` and checks that none failed.
fn spaced_requests_all_succeed(url: &str, rate: &str, count: &str) {
    let tmp = tempfile::tempdir().unwrap();
    let out = MockProfile::at(url)
        .streaming()
        .arg("--request-rate", rate)
        .arg("--request-rate-mode", "constant")
        .arg("--request-count", count)
        .run(tmp.path());
    assert_exit(&out, 0);
    let meta = json(tmp.path().join("run_metadata.json"));
    assert_eq!(meta["requests"]["errors"], 0, "{meta}");
    assert_eq!(meta["requests"]["success"].to_string(), count, "{meta}");
}

/// Requests 1 s apart against a 1 s keep-alive: each one arrives as the server closes the idle
/// connection. The pool keeps idle connections shorter than the server does, and a request on a
/// connection closed under it is sent again on a fresh one, so none fails.
#[test]
fn requests_spaced_at_the_servers_keep_alive_never_fail() {
    if let Some((_server, url)) = start_uvicorn(&["1"]) {
        spaced_requests_all_succeed(&url, "1", "6");
    }
}

/// Idle past the default keep-alive of uvicorn (5 s): the next request still succeeds.
#[test]
fn a_connection_idle_past_the_default_keep_alive_is_not_reused() {
    if let Some((_server, url)) = start_uvicorn(&["5"]) {
        spaced_requests_all_succeed(&url, "0.19", "3");
    }
}

#[test]
fn a_streaming_run_against_plain_bodies_says_so_once() {
    let Some((_server, url)) = start_uvicorn(&["5", "plain"]) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let out = MockProfile::at(&url)
        .streaming()
        .requests(5)
        .run(tmp.path());
    assert_exit(&out, 0);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.matches("not event streams").count(), 1, "{stderr}");
    let meta = json(tmp.path().join("run_metadata.json"));
    let warnings = meta["warnings"].to_string();
    assert!(
        warnings.contains("5 responses were plain bodies"),
        "{warnings}"
    );
}
