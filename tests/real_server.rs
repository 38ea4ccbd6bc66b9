//! aiperf against a real inference server: llama.cpp's llama-server with SmolLM2-135M (see
//! `tests/common/llama.rs`). Correctness only, never speed: every request accounted for, no
//! spurious errors from connection reuse, every response shape llama.cpp sends understood.

mod common;
use common::llama::llama_server;
use common::*;

/// Short answers keep the suite fast on 2 cores; `ignore_eos` makes the length exact.
/// Every run logs each request's steps (`-vv`) and gives up on a request after two minutes, so
/// a request that never ends fails the test with the transcript instead of stalling CI (one
/// such stall was seen on 2026-12-02 and is not yet explained).
const SHORT: &[&str] = &[
    "-vv",
    "--request-timeout-seconds",
    "120",
    "-m",
    "smollm2",
    "--isl",
    "32",
    "--extra-inputs",
    "ignore_eos:true",
];

fn run(dir: &std::path::Path, url: &str, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["-u", url];
    args.extend_from_slice(SHORT);
    if !extra.contains(&"--osl") {
        args.extend_from_slice(&["--osl", "8"]);
    }
    args.extend_from_slice(extra);
    profile(dir, &args)
}

fn requests(dir: &std::path::Path) -> serde_json::Value {
    json(dir.join("run_metadata.json"))["requests"].clone()
}

/// The llama-server defect this guards: it announces `Keep-Alive: timeout=5, max=100` but closes
/// the connection right after every streamed response, and a pool that reuses it before reading
/// the FIN failed 2-8 of 12 requests.
#[test]
fn no_spurious_errors_at_concurrency_1_4_and_8() {
    let Some(url) = llama_server() else { return };
    for (concurrency, count) in [("1", "60"), ("4", "100"), ("8", "120")] {
        let tmp = tempfile::tempdir().unwrap();
        let out = run(
            tmp.path(),
            &url,
            &[
                "--streaming",
                "--concurrency",
                concurrency,
                "--request-count",
                count,
            ],
        );
        assert_exit(&out, 0);
        let r = requests(tmp.path());
        assert_eq!(
            r["errors"],
            0,
            "concurrency {concurrency}: {r}\n{}",
            stderr(&out)
        );
        assert_eq!(r["success"].as_u64(), Some(count.parse().unwrap()), "{r}");
        let lines = jsonl(tmp.path().join("profile_export.jsonl"));
        assert_eq!(lines.len(), count.parse::<usize>().unwrap());
        // Every streamed request has a first token (llama.cpp's first chunk is a role chunk
        // with `content: null`, which must be read as no text, not as an error).
        for line in &lines {
            assert!(line["error"].is_null(), "{line}");
            assert!(
                line["metrics"]["time_to_first_token"]["value"]
                    .as_f64()
                    .unwrap()
                    > 0.0,
                "{line}"
            );
            // Counted by the built-in tokenizer, not the model's: close to 8, never 0.
            assert!(
                line["metrics"]["output_sequence_length"]["value"]
                    .as_f64()
                    .unwrap()
                    >= 1.0
            );
        }
    }
}

#[test]
fn streaming_completions_and_chat_with_and_without_usage() {
    let Some(url) = llama_server() else { return };
    let cases: &[(&str, &[&str])] = &[
        ("chat", &[]),
        (
            "chat",
            &[
                "--extra-inputs",
                r#"{"stream_options":{"include_usage":true}}"#,
            ],
        ),
        ("completions", &[]),
        (
            "completions",
            &[
                "--extra-inputs",
                r#"{"stream_options":{"include_usage":true}}"#,
            ],
        ),
    ];
    for (endpoint, extra) in cases {
        let tmp = tempfile::tempdir().unwrap();
        let mut args = vec![
            "--endpoint-type",
            endpoint,
            "--streaming",
            "--concurrency",
            "2",
            "--request-count",
            "8",
        ];
        args.extend_from_slice(extra);
        let out = run(tmp.path(), &url, &args);
        assert_exit(&out, 0);
        let summary = summary(tmp.path());
        assert_eq!(
            stat(&summary, "error_request_count", "avg"),
            0.0,
            "{endpoint} {extra:?}\n{}",
            stderr(&out)
        );
        assert!(stat(&summary, "inter_token_latency", "avg") > 0.0);
        assert!(stat(&summary, "output_sequence_length", "avg") >= 1.0);
        if !extra.is_empty() {
            // The server's usage agrees with our count when it is sent.
            assert!(
                summary["usage_completion_tokens"].is_object(),
                "{endpoint}: no usage"
            );
        }
        let meta = json(tmp.path().join("run_metadata.json"));
        assert_eq!(meta["warnings"], serde_json::json!([]), "{meta}");
    }
}

/// llama-server's `Keep-Alive: max=100`: past 100 requests on one connection it closes it. A
/// non-streamed closed loop at concurrency 1 sends 130 requests over reused connections.
#[test]
fn more_than_100_requests_on_one_connection() {
    let Some(url) = llama_server() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let out = run(
        tmp.path(),
        &url,
        &["--concurrency", "1", "--request-count", "130", "--osl", "1"],
    );
    assert_exit(&out, 0);
    let r = requests(tmp.path());
    assert_eq!(r["errors"], 0, "{r}");
    assert_eq!(r["success"], 130, "{r}");
}

#[test]
fn a_sweep_and_an_sla_search_end_to_end() {
    let Some(url) = llama_server() else { return };
    let tmp = tempfile::tempdir().unwrap();
    // One base benchmark, with a sweep or a search appended.
    let experiment = |name: &str, sweep: &str| {
        let file = tmp.path().join(format!("{name}.yaml"));
        std::fs::write(
            &file,
            format!(
                "benchmark:
  model: smollm2
  endpoint: {{url: '{url}', streaming: true, extra: {{ignore_eos: true}}}}
  dataset: {{entries: 8, prompts: {{isl: 32, osl: 8}}}}
  phases: {{type: concurrency, requests: 12, concurrency: 1}}
  artifacts: {{dir: '{}', auto_plot: false}}
{sweep}
",
                tmp.path().join(name).display()
            ),
        )
        .unwrap();
        file
    };
    let sweep = experiment("sweep", "sweep:\n  parameters:\n    concurrency: [1, 2]");
    let out = aiperf().arg("run").arg(&sweep).output().unwrap();
    assert_exit(&out, 0);
    let search = experiment(
        "search",
        "sweep: {recipe: max-throughput-ttft-sla, sla: {ttft_p95_ms: 60000}, knobs: {concurrency: {hi: 4}}}",
    );
    let out = aiperf().arg("run").arg(&search).output().unwrap();
    assert_exit(&out, 0);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("Answer:"), "{stdout}");
    let history = json(tmp.path().join("search/search_history.json"));
    for point in history["iterations"].as_array().unwrap() {
        assert!(point.to_string().contains("concurrency"), "{point}");
    }
}
