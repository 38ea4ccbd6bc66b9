//! The mock server as a separate process (`aiperf mock-server`) and its capacity model.

mod common;
use common::*;

fn start(args: &[&str]) -> (ServerProcess, String) {
    start_mock_server(args)
}

#[test]
fn mock_server_process_serves_models_health_and_benchmarks() {
    let (_server, url) = start(&[
        "--ttft-ms",
        "5",
        "--itl-ms",
        "1",
        "--model-name",
        "served-model",
    ]);
    let models = http_get(&url, "/v1/models");
    assert!(
        models.starts_with("HTTP/1.1 200") && models.contains("\"served-model\""),
        "{models}"
    );
    assert!(http_get(&url, "/health").contains("\"ok\""));
    let tmp = tempfile::tempdir().unwrap();
    let out = MockProfile::at(&url)
        .model("served-model")
        .streaming()
        .requests(10)
        .tokens(20, 6)
        .run(tmp.path());
    assert_exit(&out, 0);
    assert_eq!(
        stat(&summary(tmp.path()), "output_sequence_length", "avg"),
        6.0
    );
}

#[test]
fn mock_server_rejects_invalid_settings() {
    let out = aiperf()
        .args(["mock-server", "--port", "0", "--error-rate", "1.5"])
        .output()
        .unwrap();
    assert_exit(&out, 2);
    assert!(String::from_utf8_lossy(&out.stderr).contains("error_rate must be between 0 and 1"));
}

/// With max_batch 4 and 5 ms decode steps, the engine emits at most 4 tokens per 5 ms = 800
/// tokens/s, however much load arrives; beyond 4 concurrent requests extra load only queues.
#[test]
fn capacity_model_saturates_throughput_and_queues_load() {
    let url = "mock://?ttft_ms=5&itl_ms=5&max_batch=4";
    let tmp = tempfile::tempdir().unwrap();
    let run = |name: &str, concurrency: &str| {
        let dir = tmp.path().join(name);
        let out = MockProfile::at(url)
            .streaming()
            .arg("--concurrency", concurrency)
            .requests(48)
            .tokens(10, 20)
            .run(&dir);
        assert_exit(&out, 0);
        summary(&dir)
    };
    let light = run("light", "2");
    let heavy = run("heavy", "16");
    let capacity = 4.0 / 0.005;
    assert!(stat(&heavy, "output_token_throughput", "avg") <= capacity * 1.02);
    // At concurrency 16 a request waits for about three full generations (~100 ms each) before
    // its prefill; at 2 it is admitted at once.
    assert!(
        stat(&heavy, "time_to_first_token", "avg")
            > 3.0 * stat(&light, "time_to_first_token", "avg")
    );
    // Decode speed per request is the same once admitted (no per-sequence step growth here).
    assert!(
        stat(&heavy, "inter_token_latency", "p50")
            < 2.0 * stat(&light, "inter_token_latency", "p50")
    );
}
