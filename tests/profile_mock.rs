//! `aiperf profile` end to end against the embedded mock server (real HTTP on 127.0.0.1).

mod common;
use common::*;

/// Lower bounds on latencies are safe to assert: the mock cannot answer faster than configured.
#[test]
fn streaming_chat_writes_every_file_in_aiperf_shape() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    let out = MockProfile::new("ttft_ms=20&itl_ms=2")
        .streaming()
        .concurrency(4)
        .requests(40)
        .tokens(50, 16)
        .run(&dir);
    assert_exit(&out, 0);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("Time to First Token (ms)") && stdout.contains("Request Throughput"),
        "{stdout}"
    );

    let s = summary(&dir);
    assert_eq!(s["schema_version"], "1.4");
    assert_eq!(stat(&s, "request_count", "avg"), 40.0);
    assert_eq!(stat(&s, "error_request_count", "avg"), 0.0);
    assert_eq!(stat(&s, "input_sequence_length", "min"), 50.0);
    assert_eq!(stat(&s, "input_sequence_length", "max"), 50.0);
    assert_eq!(stat(&s, "output_sequence_length", "avg"), 16.0);
    assert_eq!(stat(&s, "usage_completion_tokens_diff_pct", "max"), 0.0);
    assert!(stat(&s, "time_to_first_token", "min") >= 20.0);
    assert!(stat(&s, "inter_token_latency", "min") >= 1.9);
    assert_eq!(stat(&s, "time_to_first_token", "count"), 40.0);
    assert_eq!(stat(&s, "inter_chunk_latency", "count"), 40.0 * 15.0);
    for key in [
        "p1", "p5", "p10", "p25", "p50", "p75", "p90", "p95", "p99", "min", "max", "std", "sum",
        "unit",
    ] {
        assert!(
            s["request_latency"].get(key).is_some(),
            "request_latency.{key}"
        );
    }
    for key in [
        "request_throughput",
        "output_token_throughput",
        "benchmark_duration",
        "total_token_throughput",
    ] {
        assert!(stat(&s, key, "avg") > 0.0, "{key}");
    }
    assert_eq!(s["input_config"]["endpoint"]["type"], "chat");
    assert_eq!(s["is_complete"], true);
    assert_eq!(s["was_cancelled"], false);

    let records = jsonl(dir.join("profile_export.jsonl"));
    assert_eq!(records.len(), 40);
    for r in &records {
        assert_eq!(r["metadata"]["benchmark_phase"], "profiling");
        assert!(
            r["metadata"]["request_start_ns"].as_u64().unwrap()
                >= r["metadata"]["credit_issued_ns"].as_u64().unwrap()
        );
        assert_eq!(r["metrics"]["output_sequence_length"]["value"], 16.0);
        assert!(r["error"].is_null());
    }

    let csv = std::fs::read_to_string(dir.join("profile_export_aiperf.csv")).unwrap();
    assert!(csv.starts_with("Metric,avg,min,max,sum,p1,p5,p10,p25,p50,p75,p90,p95,p99,std\n"));
    assert!(csv.contains("\n\nMetric,Value\n"));
    assert!(csv.contains("Request Count,40.00"));

    let inputs = json(dir.join("inputs.json"));
    let first = &inputs["data"][0]["payloads"][0];
    assert_eq!(first["model"], "mock-model");
    assert_eq!(first["max_completion_tokens"], 16);
    assert_eq!(first["stream_options"]["include_usage"], true);

    let meta = json(dir.join("run_metadata.json"));
    assert_eq!(meta["status"], "completed");
    assert_eq!(meta["random_seed"], 7);
    assert_eq!(meta["requests"]["sent"], 40);
    assert!(dir.join("logs/aiperf.log").exists());
}

#[test]
fn non_streaming_completions_have_latency_but_no_stream_metrics() {
    let tmp = tempfile::tempdir().unwrap();
    let out = MockProfile::new("ttft_ms=5&itl_ms=1")
        .model("m")
        .endpoint("completions")
        .requests(12)
        .concurrency(3)
        .tokens(20, 8)
        .run(tmp.path());
    assert_exit(&out, 0);
    let s = summary(tmp.path());
    assert_eq!(stat(&s, "request_count", "avg"), 12.0);
    assert_eq!(stat(&s, "output_sequence_length", "avg"), 8.0);
    assert!(stat(&s, "request_latency", "min") >= 5.0 + 7.0);
    for tag in [
        "time_to_first_token",
        "inter_token_latency",
        "inter_chunk_latency",
    ] {
        assert!(
            s.get(tag).is_none(),
            "{tag} must not exist without streaming"
        );
    }
    let body = &json(tmp.path().join("inputs.json"))["data"][0]["payloads"][0];
    assert_eq!(body["max_tokens"], 8);
    assert!(body["prompt"].is_string());
}

/// `--endpoint-type rankings`: NIM's `/v1/ranking` with a query and passages cut from the
/// prompt; the mock ranks them, and the run measures latency and input tokens.
#[test]
fn rankings_send_a_query_with_passages_end_to_end() {
    let tmp = tempfile::tempdir().unwrap();
    let out = MockProfile::new("ttft_ms=3")
        .model("reranker")
        .endpoint("rankings")
        .arg("--rankings-passages", 4)
        .requests(10)
        .arg("--isl", 60)
        .run(tmp.path());
    assert_exit(&out, 0);
    let s = summary(tmp.path());
    assert_eq!(stat(&s, "request_count", "avg"), 10.0);
    assert_eq!(stat(&s, "error_request_count", "avg"), 0.0);
    assert!(stat(&s, "request_latency", "avg") >= 3.0);
    assert!(s.get("time_to_first_token").is_none() && s.get("output_sequence_length").is_none());
    // Every request went to /v1/ranking with a query and four passages.
    let inputs = json(tmp.path().join("inputs.json"));
    let body = &inputs["data"][0]["payloads"][0];
    assert_eq!(body["model"], "reranker");
    assert!(!body["query"]["text"].as_str().unwrap().is_empty());
    assert_eq!(body["passages"].as_array().unwrap().len(), 4);
    // The input length is the tokens of the query and passages as sent, which the server
    // counted too.
    assert_eq!(
        stat(&s, "input_sequence_length", "avg"),
        stat(&s, "usage_prompt_tokens", "avg")
    );
    // Streaming is refused for an API that does not stream.
    let o = MockProfile::new("")
        .endpoint("rankings")
        .streaming()
        .requests(1)
        .run(tmp.path());
    assert_exit(&o, 2);
    assert!(stderr(&o).contains("--streaming does not apply to --endpoint-type rankings"));
}

/// `--endpoint-type template`: the body is the user's template, rendered per request; here a
/// chat body with an extra field, streamed from the mock, so every metric is measured.
#[test]
fn a_body_template_is_rendered_for_every_request() {
    let tmp = tempfile::tempdir().unwrap();
    let template = r#"{"model": {{ model|tojson }}, "messages": [{"role": "user", "content": {{ prompt|tojson }}}], "max_tokens": {{ max_tokens }}, "stream": {{ stream|tojson }}, "stream_options": {"include_usage": true}, "custom": "kept"}"#;
    let out = MockProfile::new("ttft_ms=2&itl_ms=1")
        .model("m")
        .endpoint("template")
        .arg("--endpoint-template", template)
        .arg("--endpoint", "/v1/chat/completions")
        .streaming()
        .requests(8)
        .tokens(20, 6)
        .run(tmp.path());
    assert_exit(&out, 0);
    let s = summary(tmp.path());
    assert_eq!(stat(&s, "request_count", "avg"), 8.0);
    assert_eq!(stat(&s, "output_sequence_length", "avg"), 6.0);
    assert!(stat(&s, "time_to_first_token", "avg") >= 2.0);
    let body = &json(tmp.path().join("inputs.json"))["data"][0]["payloads"][0];
    assert_eq!(
        (body["custom"].as_str(), body["max_tokens"].as_u64()),
        (Some("kept"), Some(6))
    );
    // A template that does not render is a configuration error before anything is sent.
    let bad = MockProfile::new("")
        .endpoint("template")
        .arg("--endpoint-template", r#"{"x": {{ promt|tojson }}}"#)
        .arg("--endpoint", "/generate")
        .requests(1)
        .run(&tmp.path().join("bad"));
    assert_exit(&bad, 2);
    assert!(
        stderr(&bad).contains("the body template does not render"),
        "{}",
        stderr(&bad)
    );
    assert!(!tmp.path().join("bad").exists());
}

#[test]
fn embeddings_measure_latency_and_input_tokens() {
    let tmp = tempfile::tempdir().unwrap();
    let out = MockProfile::new("ttft_ms=3")
        .model("m")
        .endpoint("embeddings")
        .requests(10)
        .arg("--isl", 30)
        .run(tmp.path());
    assert_exit(&out, 0);
    let s = summary(tmp.path());
    assert_eq!(stat(&s, "request_count", "avg"), 10.0);
    assert_eq!(stat(&s, "input_sequence_length", "avg"), 30.0);
    assert_eq!(stat(&s, "usage_prompt_tokens", "avg"), 30.0);
    assert!(s.get("output_sequence_length").is_none());
}

#[test]
fn constant_rate_sends_on_an_exact_schedule() {
    let tmp = tempfile::tempdir().unwrap();
    let out = MockProfile::new("ttft_ms=2&itl_ms=1")
        .model("m")
        .streaming()
        .rate(50.0)
        .arg("--request-rate-mode", "constant")
        .requests(20)
        .tokens(10, 4)
        .run(tmp.path());
    assert_exit(&out, 0);
    let mut intended: Vec<u64> = jsonl(tmp.path().join("profile_export.jsonl"))
        .iter()
        .map(|r| r["metadata"]["credit_issued_ns"].as_u64().unwrap())
        .collect();
    intended.sort_unstable();
    assert_eq!(intended.len(), 20);
    for pair in intended.windows(2) {
        // Intended times are start + i/rate exactly: 20 ms apart (±1 ns of rounding).
        assert!((pair[1] - pair[0]).abs_diff(20_000_000) <= 1, "{pair:?}");
    }
    let s = summary(tmp.path());
    assert!(s.get("schedule_lag").is_some());
    assert!(s.get("effective_time_to_first_token").is_some());
}

/// `--arrival-pattern gamma --arrival-smoothness S` sends at gaps whose coefficient of variation
/// is 1/sqrt(S). The intended send times come from the seeded schedule, so this cannot flake.
#[test]
fn gamma_arrivals_are_as_bursty_as_their_smoothness() {
    let cv_of_gaps = |smoothness: &str| {
        let tmp = tempfile::tempdir().unwrap();
        let out = MockProfile::new("ttft_ms=1&itl_ms=1")
            .model("m")
            .streaming()
            .rate(500.0)
            .arg("--arrival-pattern", "gamma")
            .arg("--vllm-burstiness", smoothness)
            .requests(600)
            .tokens(10, 2)
            .run(tmp.path());
        assert_exit(&out, 0);
        let input = &summary(tmp.path())["input_config"]["phases"][0];
        assert_eq!(input["type"], "gamma");
        assert_eq!(
            input["smoothness"].as_f64().unwrap().to_string(),
            smoothness
        );
        let mut intended: Vec<f64> = jsonl(tmp.path().join("profile_export.jsonl"))
            .iter()
            .map(|r| r["metadata"]["credit_issued_ns"].as_u64().unwrap() as f64)
            .collect();
        intended.sort_by(f64::total_cmp);
        let gaps: Vec<f64> = intended.windows(2).map(|w| w[1] - w[0]).collect();
        let mean = gaps.iter().sum::<f64>() / gaps.len() as f64;
        let var = gaps.iter().map(|g| (g - mean).powi(2)).sum::<f64>() / gaps.len() as f64;
        (mean / 1e6, var.sqrt() / mean)
    };
    let (bursty_mean_ms, bursty) = cv_of_gaps("0.25");
    let (smooth_mean_ms, smooth) = cv_of_gaps("16");
    // Expected: mean 2 ms; CV 2 and 0.25.
    assert!((1.5..2.5).contains(&bursty_mean_ms), "{bursty_mean_ms}");
    assert!((1.8..2.2).contains(&smooth_mean_ms), "{smooth_mean_ms}");
    assert!(
        (1.5..2.5).contains(&bursty),
        "CV {bursty} for smoothness 0.25"
    );
    assert!(
        (0.2..0.3).contains(&smooth),
        "CV {smooth} for smoothness 16"
    );
}

#[test]
fn poisson_rate_with_concurrency_cap_never_drops_arrivals() {
    let tmp = tempfile::tempdir().unwrap();
    // 2 slots, each request ~40 ms, arrivals at 200/s: most arrivals must wait for a slot.
    let out = MockProfile::new("ttft_ms=20&itl_ms=5")
        .model("m")
        .streaming()
        .rate(200.0)
        .concurrency(2)
        .requests(30)
        .tokens(10, 5)
        .run(tmp.path());
    assert_exit(&out, 0);
    let s = summary(tmp.path());
    assert_eq!(stat(&s, "request_count", "avg"), 30.0);
    // Waiting for a slot shows up as schedule lag and in the effective metrics, never as drops.
    assert!(stat(&s, "schedule_lag", "max") > 20.0);
    assert!(stat(&s, "effective_request_latency", "avg") > stat(&s, "request_latency", "avg"));
    let meta = json(tmp.path().join("run_metadata.json"));
    assert_eq!(meta["load_verdict"]["client_bound"], true);
}

#[test]
fn warmup_requests_are_excluded_from_results() {
    let tmp = tempfile::tempdir().unwrap();
    let out = MockProfile::new("ttft_ms=2&itl_ms=1")
        .model("m")
        .streaming()
        .arg("--warmup-request-count", 6)
        .requests(10)
        .tokens(10, 4)
        .run(tmp.path());
    assert_exit(&out, 0);
    let s = summary(tmp.path());
    assert_eq!(stat(&s, "request_count", "avg"), 10.0);
    assert_eq!(s["warmup_metrics"]["request_count"]["avg"], 6.0);
    assert_eq!(jsonl(tmp.path().join("profile_export.jsonl")).len(), 10);
}

#[test]
fn reasoning_counts_for_ttft_but_not_for_first_output_token() {
    let tmp = tempfile::tempdir().unwrap();
    let out = MockProfile::new("ttft_ms=10&itl_ms=5&reasoning_tokens=4")
        .model("m")
        .streaming()
        .requests(5)
        .tokens(10, 12)
        .run(tmp.path());
    assert_exit(&out, 0);
    let s = summary(tmp.path());
    assert_eq!(stat(&s, "reasoning_token_count", "avg"), 4.0);
    assert_eq!(stat(&s, "output_token_count", "avg"), 8.0);
    assert_eq!(stat(&s, "output_sequence_length", "avg"), 12.0);
    // The first answer token comes 4 ITLs after the first reasoning token.
    assert!(
        stat(&s, "time_to_first_output_token", "min")
            >= stat(&s, "time_to_first_token", "min") + 4.0 * 5.0 * 0.9
    );
}

#[test]
fn goodput_counts_requests_meeting_every_slo() {
    let tmp = tempfile::tempdir().unwrap();
    let out = MockProfile::new("ttft_ms=30&itl_ms=1")
        .model("m")
        .streaming()
        .requests(8)
        .tokens(10, 4)
        .arg(
            "--goodput",
            "time_to_first_token:10000 inter_token_latency:0.001",
        )
        .run(tmp.path());
    assert_exit(&out, 0);
    let s = summary(tmp.path());
    // ITL is at least 1 ms, so no request meets the 0.001 ms ITL objective.
    assert_eq!(stat(&s, "good_request_count", "avg"), 0.0);
    assert_eq!(stat(&s, "goodput", "avg"), 0.0);

    let ok = tmp.path().join("ok");
    assert_exit(
        &MockProfile::new("ttft_ms=3&itl_ms=1")
            .model("m")
            .streaming()
            .requests(8)
            .tokens(10, 4)
            .arg("--goodput", "time_to_first_token:60000")
            .run(&ok),
        0,
    );
    let s = summary(&ok);
    assert_eq!(stat(&s, "good_request_count", "avg"), 8.0);
    assert!(stat(&s, "goodput", "avg") > 0.0);
}

#[test]
fn same_seed_gives_byte_identical_inputs() {
    let tmp = tempfile::tempdir().unwrap();
    let run = |name: &str| {
        let dir = tmp.path().join(name);
        let out = MockProfile::new("ttft_ms=1&itl_ms=1")
            .model("m")
            .requests(10)
            .tokens(64, 4)
            .arg("--isl-stddev", 10)
            .arg("--osl-stddev", 1)
            .run(&dir);
        assert_exit(&out, 0);
        std::fs::read(dir.join("inputs.json")).unwrap()
    };
    assert_eq!(run("a"), run("b"));
}

#[test]
fn secrets_never_reach_any_file() {
    let tmp = tempfile::tempdir().unwrap();
    let out = MockProfile::new("ttft_ms=1&itl_ms=1")
        .model("m")
        .requests(3)
        .tokens(10, 2)
        .arg("--api-key", "sk-top-secret-1")
        .arg("-H", "Authorization: Bearer sk-top-secret-2")
        .run(tmp.path());
    assert_exit(&out, 0);
    for entry in walk(tmp.path()) {
        let text = String::from_utf8_lossy(&std::fs::read(&entry).unwrap()).into_owned();
        assert!(
            !text.contains("sk-top-secret"),
            "secret leaked into {}",
            entry.display()
        );
    }
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(walk(&path))
        } else {
            files.push(path)
        }
    }
    files
}

/// Several record processors split the records and merge their accumulators: the summary must
/// be what the per-request file adds up to, with every request in the file exactly once.
#[test]
fn parallel_record_processors_lose_nothing_and_merge_exactly() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    let out = MockProfile::new("ttft_ms=1&itl_ms=0.2&error_rate=0.05")
        .streaming()
        .concurrency(16)
        .requests(3000)
        .tokens(20, 8)
        .arg("--record-processors", 4)
        .run(&dir);
    assert_exit(&out, 0);
    let s = summary(&dir);
    let records = jsonl(dir.join("profile_export.jsonl"));
    assert_eq!(records.len(), 3000);
    let mut indices: Vec<u64> = records
        .iter()
        .map(|r| r["metadata"]["profiling_index"].as_u64().unwrap())
        .collect();
    indices.sort_unstable();
    assert_eq!(indices, (0..3000).collect::<Vec<_>>());
    let errors = records.iter().filter(|r| !r["error"].is_null()).count() as f64;
    assert!(errors > 50.0, "the mock's 5% errors: {errors}");
    assert_eq!(stat(&s, "error_request_count", "avg"), errors);
    assert_eq!(stat(&s, "request_count", "avg"), 3000.0 - errors);
    let values = |tag: &str| -> Vec<f64> {
        records
            .iter()
            .filter_map(|r| r["metrics"][tag]["value"].as_f64())
            .collect()
    };
    for tag in [
        "time_to_first_token",
        "request_latency",
        "output_sequence_length",
    ] {
        let v = values(tag);
        assert_eq!(stat(&s, tag, "count"), v.len() as f64, "{tag}");
        let sum: f64 = v.iter().sum();
        // The file prints values to the nanosecond; the summary sums them exactly.
        assert!(
            (stat(&s, tag, "sum") - sum).abs() < 1e-6 * v.len() as f64,
            "{tag} sum"
        );
        let max = v.iter().copied().fold(f64::MIN, f64::max);
        assert_eq!(stat(&s, tag, "max"), max, "{tag} max");
    }
}

/// The most requests in prefill (sent, first token not yet in) at any instant, from the records.
fn most_in_prefill(dir: &std::path::Path) -> usize {
    let spans: Vec<(f64, f64)> = jsonl(dir.join("profile_export.jsonl"))
        .iter()
        .map(|r| {
            let start = r["metadata"]["request_start_ns"].as_u64().unwrap() as f64;
            let ttft = r["metrics"]["time_to_first_token"]["value"]
                .as_f64()
                .unwrap();
            (start, start + ttft * 1e6)
        })
        .collect();
    spans
        .iter()
        .map(|&(start, _)| {
            spans
                .iter()
                .filter(|&&(s, e)| s <= start && start < e - 1_000.0)
                .count()
        })
        .max()
        .unwrap_or(0)
}

/// `--prefill-concurrency 2` under `--concurrency 8`: at no instant are more than 2 requests
/// waiting for their first token, while without it all 8 are.
#[test]
fn prefill_concurrency_limits_requests_waiting_for_their_first_token() {
    let run = |extra: &[&str]| {
        let tmp = tempfile::tempdir().unwrap();
        let out = MockProfile::new("ttft_ms=30&itl_ms=2")
            .model("m")
            .streaming()
            .concurrency(8)
            .requests(40)
            .tokens(10, 10)
            .args(extra)
            .run(tmp.path());
        assert_exit(&out, 0);
        assert_eq!(stat(&summary(tmp.path()), "request_count", "avg"), 40.0);
        most_in_prefill(tmp.path())
    };
    assert_eq!(run(&["--prefill-concurrency", "2"]), 2);
    assert!(run(&[]) > 4, "without the limit, prefills overlap");
}

/// The most requests in flight at once among those sent in `[from, to)` seconds after the first.
fn most_in_flight(records: &[serde_json::Value], from: f64, to: f64) -> usize {
    let t0 = records
        .iter()
        .map(|r| r["metadata"]["request_start_ns"].as_u64().unwrap())
        .min()
        .unwrap() as f64;
    let spans: Vec<(f64, f64)> = records
        .iter()
        .map(|r| {
            let m = &r["metadata"];
            (
                (m["request_start_ns"].as_u64().unwrap() as f64 - t0) / 1e9,
                (m["request_end_ns"].as_u64().unwrap() as f64 - t0) / 1e9,
            )
        })
        .collect();
    spans
        .iter()
        .filter(|(s, _)| (from..to).contains(s))
        .map(|&(start, _)| {
            spans
                .iter()
                .filter(|&&(s, e)| s <= start && start < e)
                .count()
        })
        .max()
        .unwrap_or(0)
}

/// Ramps: `--concurrency-ramp-duration` adds a worker every ramp/(N-1); requests due during a
/// ramp say so in their record; `--request-rate-ramp-duration` starts at rate x 0.1 s / ramp and
/// rises every 100 ms (the intended send times come from the seeded schedule: exact).
#[test]
fn ramps_rise_in_aiperf_steps_and_mark_their_requests() {
    let tmp = tempfile::tempdir().unwrap();
    let out = MockProfile::new("ttft_ms=20&itl_ms=2")
        .model("m")
        .streaming()
        .concurrency(4)
        .duration(2.0)
        .tokens(10, 5)
        .arg("--concurrency-ramp-duration", "1.2")
        .run(tmp.path());
    assert_exit(&out, 0);
    let records = jsonl(tmp.path().join("profile_export.jsonl"));
    // One worker until 0.4 s, two until 0.8 s, ...: never more in flight than the ramp allows.
    assert_eq!(most_in_flight(&records, 0.0, 0.39), 1);
    assert!(most_in_flight(&records, 0.0, 0.79) <= 2);
    assert!(
        most_in_flight(&records, 1.3, 2.0) >= 3,
        "all four run after the ramp"
    );
    let in_ramp = records
        .iter()
        .filter(|r| r["metadata"]["in_ramp"] == true)
        .count();
    assert!(
        in_ramp > 0 && in_ramp < records.len(),
        "{in_ramp} of {}",
        records.len()
    );

    let rate = tempfile::tempdir().unwrap();
    let out = MockProfile::new("ttft_ms=1&itl_ms=1")
        .model("m")
        .streaming()
        .rate(100.0)
        .arg("--request-rate-mode", "constant")
        .requests(200)
        .tokens(10, 2)
        .arg("--request-rate-ramp-duration", "1")
        .run(rate.path());
    assert_exit(&out, 0);
    let records = jsonl(rate.path().join("profile_export.jsonl"));
    let mut due: Vec<f64> = records
        .iter()
        .map(|r| r["metadata"]["credit_issued_ns"].as_u64().unwrap() as f64)
        .collect();
    due.sort_by(f64::total_cmp);
    let per_step: Vec<usize> = (0..10)
        .map(|k| {
            let (lo, hi) = (k as f64 * 0.1, (k + 1) as f64 * 0.1);
            due.iter()
                .filter(|&&t| ((t - due[0]) / 1e9 - lo) > -1e-6 && ((t - due[0]) / 1e9) < hi - 1e-6)
                .count()
        })
        .collect();
    // 10/s, 20/s, ... 100/s: 1, 2, ..., 10 arrivals per 100 ms.
    assert_eq!(per_step, (1..=10).collect::<Vec<_>>());
    let ramped = records
        .iter()
        .filter(|r| r["metadata"]["in_ramp"] == true)
        .count();
    assert_eq!(ramped, 55, "the arrivals due in the first second");
}

/// `--per-chunk-usage` against a server that bundles its first 3 tokens into one chunk: the
/// request asks for `continuous_usage_stats`, and each record's inter-token latency divides the
/// decode time by the tokens after that chunk (OSL - 3), where without the flag it is OSL - 1.
#[test]
fn per_chunk_usage_corrects_itl_for_a_bundled_first_chunk() {
    let run = |extra: &[&str]| {
        let tmp = tempfile::tempdir().unwrap();
        let out = MockProfile::new("ttft_ms=5&itl_ms=2&first_chunk_tokens=3")
            .model("m")
            .streaming()
            .requests(6)
            .tokens(10, 10)
            .flag("--use-server-token-count")
            .args(extra)
            .run(tmp.path());
        assert_exit(&out, 0);
        let body = json(tmp.path().join("inputs.json"))["data"][0]["payloads"][0].clone();
        let divisors: Vec<f64> = jsonl(tmp.path().join("profile_export.jsonl"))
            .iter()
            .map(|r| {
                let m = &r["metrics"];
                let decode = m["request_latency"]["value"].as_f64().unwrap()
                    - m["time_to_first_token"]["value"].as_f64().unwrap();
                assert_eq!(m["output_sequence_length"]["value"], 10.0);
                (decode / m["inter_token_latency"]["value"].as_f64().unwrap()).round()
            })
            .collect();
        (
            body["stream_options"]["continuous_usage_stats"].clone(),
            divisors,
        )
    };
    let (asked, divisors) = run(&["--per-chunk-usage"]);
    assert_eq!(asked, true);
    assert_eq!(divisors, vec![7.0; 6]);
    let (asked, divisors) = run(&[]);
    assert!(asked.is_null());
    assert_eq!(divisors, vec![9.0; 6]);
    // It needs the server's counts, chat and streaming.
    let o = MockProfile::new("")
        .model("m")
        .flag("--per-chunk-usage")
        .requests(1)
        .run(&std::env::temp_dir().join("aiperf-pcu-never"));
    assert_exit(&o, 2);
    assert!(stderr(&o).contains("--per-chunk-usage needs --use-server-token-count"));
}
