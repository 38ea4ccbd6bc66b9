//! Input files, trace replay, multi-turn sessions and shared prefixes, end to end: the real
//! binary against mock servers that log every request they receive (`--request-log`), so each
//! claim is checked on what the server saw.

mod common;
use common::*;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Writes JSONL lines.
fn lines(dir: &Path, name: &str, lines: &[Value]) -> std::path::PathBuf {
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    write(dir, name, &text)
}

/// The request log of a mock server: one entry per request, in arrival order.
fn request_log(path: &Path) -> Vec<Value> {
    if !path.exists() {
        return Vec::new();
    }
    jsonl(path.to_path_buf())
}

/// A mock server (fast) that logs every request to `log`.
fn logged_mock(log: &Path, timing: &[&str]) -> (ServerProcess, String) {
    let mut args = timing.to_vec();
    args.extend(["--request-log", log.to_str().unwrap()]);
    start_mock_server(&args)
}

/// The conversations the records sent, in request order.
fn session_order(dir: &Path) -> Vec<u64> {
    records(dir)
        .iter()
        .map(|r| r["metadata"]["session_num"].as_u64().unwrap())
        .collect()
}

/// A message's content in a logged body.
fn contents(body: &Value) -> Vec<(String, String)> {
    body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["role"].as_str().unwrap().to_string(),
                m["content"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn common_prefix(a: &str, b: &str) -> usize {
    a.bytes().zip(b.bytes()).take_while(|(x, y)| x == y).count()
}

/// Records in request order.
fn records(dir: &Path) -> Vec<Value> {
    let mut r = jsonl(dir.join("profile_export.jsonl"));
    r.sort_by_key(|r| r["metadata"]["profiling_index"].as_u64());
    r
}

#[test]
fn a_replayed_trace_is_sent_at_its_timestamps_divided_by_the_speedup() {
    let tmp = tempfile::tempdir().unwrap();
    // Irregular gaps, a burst of three at the same millisecond, a long pause.
    let stamps = [
        100.0, 137.0, 141.5, 141.5, 141.5, 300.0, 302.0, 520.0, 900.0, 901.0,
    ];
    let trace: Vec<Value> = stamps
        .iter()
        .map(|t| json!({"timestamp": t, "input_length": 40, "output_length": 4}))
        .collect();
    let file = lines(tmp.path(), "trace.jsonl", &trace);
    let out_dir = tmp.path().join("out");
    let out = MockProfile::new("ttft_ms=2&itl_ms=1")
        .streaming()
        .arg("--input-file", file.display())
        .arg("--custom-dataset-type", "mooncake_trace")
        .arg("--replay-speedup", 2)
        .flag("--fixed-schedule-auto-offset")
        .run(&out_dir);
    assert_exit(&out, 0);
    let recs = records(&out_dir);
    assert_eq!(recs.len(), stamps.len(), "every line is sent, none dropped");
    let t0 = recs[0]["metadata"]["credit_issued_ns"].as_u64().unwrap();
    let mut lags = Vec::new();
    for (rec, stamp) in recs.iter().zip(stamps) {
        let meta = &rec["metadata"];
        let intended = meta["credit_issued_ns"].as_u64().unwrap() - t0;
        // The schedule is exact: (t - first) / speedup, to the microsecond.
        let expected = (stamp - stamps[0]) / 2.0 * 1e6;
        assert!(
            (intended as f64 - expected).abs() < 1e3,
            "intended {intended} ns, trace says {expected}"
        );
        let sent = meta["request_start_ns"].as_u64().unwrap();
        lags.push((sent - meta["credit_issued_ns"].as_u64().unwrap()) as f64 / 1e6);
        assert_eq!(rec["metrics"]["input_sequence_length"]["value"], 40.0);
    }
    lags.sort_by(f64::total_cmp);
    // A loose bound for a loaded machine: a late start would be tens of ms.
    assert!(lags[lags.len() - 1] < 15.0, "schedule lag {lags:?}");
    let metadata = json(out_dir.join("run_metadata.json"));
    assert_eq!(metadata["replay"]["speedup"], 2.0);
    assert_eq!(metadata["replay"]["origin_ms"], 100.0);
    assert_eq!(metadata["replay"]["sent"], 10);
    assert!(metadata["replay"]["schedule_lag_p99_ms"].as_f64().unwrap() < 15.0);
    assert_eq!(metadata["input_file"]["format"], "mooncake_trace");
    assert_eq!(metadata["input_file"]["sha256"].as_str().unwrap().len(), 64);
}

#[test]
fn a_replay_window_keeps_the_requests_inside_it_and_starts_at_its_start() {
    let tmp = tempfile::tempdir().unwrap();
    let trace: Vec<Value> = (0..10)
        .map(|i| json!({"timestamp": i * 20, "text_input": format!("request {i}"), "output_length": 2}))
        .collect();
    let file = lines(tmp.path(), "trace.jsonl", &trace);
    let out_dir = tmp.path().join("out");
    // Timestamps make the replay automatic; the window is inclusive at both ends.
    let out = MockProfile::new("ttft_ms=1&itl_ms=1")
        .streaming()
        .arg("--input-file", file.display())
        .arg("--custom-dataset-type", "mooncake_trace")
        .arg("--fixed-schedule-start-offset", 40)
        .arg("--fixed-schedule-end-offset", 120)
        .run(&out_dir);
    assert_exit(&out, 0);
    assert_eq!(session_order(&out_dir), vec![2, 3, 4, 5, 6]);
    let metadata = json(out_dir.join("run_metadata.json"));
    assert_eq!(metadata["replay"]["origin_ms"], 40.0);
    assert_eq!(metadata["spec"]["phases"][0]["type"], "fixed_schedule");
}

#[test]
fn shared_hash_ids_reach_the_server_as_byte_identical_prefixes() {
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("requests.log");
    let (_server, url) = logged_mock(&log, &["--ttft-ms", "1", "--itl-ms", "1"]);
    let trace = [
        json!({"input_length": 200, "output_length": 2, "hash_ids": [7, 8, 9, 10]}),
        json!({"input_length": 190, "output_length": 2, "hash_ids": [7, 8, 9, 55]}),
        json!({"input_length": 100, "output_length": 2, "hash_ids": [7, 66]}),
        json!({"input_length": 120, "output_length": 2, "hash_ids": [99, 8]}),
    ];
    let file = lines(tmp.path(), "trace.jsonl", &trace);
    let run = |dir: &Path| {
        MockProfile::at(&url)
            .streaming()
            .arg("--input-file", file.display())
            .arg("--custom-dataset-type", "mooncake_trace")
            .arg("--isl-block-size", 50)
            .run(dir)
    };
    let out_dir = tmp.path().join("out");
    assert_exit(&run(&out_dir), 0);
    let sent = request_log(&log);
    assert_eq!(sent.len(), 4);
    // At concurrency 1 the requests arrive one at a time, in file order.
    let prompt = |n: usize| contents(&sent[n]["body"])[0].1.clone();
    let (a, b, c, d) = (prompt(0), prompt(1), prompt(2), prompt(3));
    let ab = common_prefix(&a, &b);
    // Three shared blocks of 50 tokens: well over 400 bytes of text in common.
    assert!(ab > 400, "a and b share {ab} bytes");
    assert!(common_prefix(&a, &c) > 100 && common_prefix(&a, &c) < ab);
    assert!(common_prefix(&a, &d) < 40, "d starts with another block");
    // Each prompt has exactly its input_length in the run's tokenizer.
    let lengths: Vec<f64> = records(&out_dir)
        .iter()
        .map(|r| {
            r["metrics"]["input_sequence_length"]["value"]
                .as_f64()
                .unwrap()
        })
        .collect();
    assert_eq!(lengths, vec![200.0, 190.0, 100.0, 120.0]);
    // The same seed gives the same bytes in another run.
    assert_exit(&run(&tmp.path().join("again")), 0);
    let again = request_log(&log);
    assert_eq!(contents(&again[4]["body"])[0].1, a);
}

#[test]
fn a_conversation_carries_the_servers_real_replies_and_stays_on_one_server() {
    let tmp = tempfile::tempdir().unwrap();
    let (log1, log2) = (tmp.path().join("one.log"), tmp.path().join("two.log"));
    let server = |log: &Path| logged_mock(log, &["--ttft-ms", "2", "--itl-ms", "1"]);
    let ((_s1, url1), (_s2, url2)) = (server(&log1), server(&log2));
    let conversations: Vec<Value> = (0..6)
        .map(|i| {
            json!({"session_id": format!("chat-{i}"), "turns": [
                {"text": format!("first question {i}"), "output_length": 2 + i},
                {"text": format!("second question {i}"), "delay": 30, "output_length": 3},
                {"text": format!("third question {i}"), "output_length": 2},
            ]})
        })
        .collect();
    let file = lines(tmp.path(), "chats.jsonl", &conversations);
    let out_dir = tmp.path().join("out");
    let out = MockProfile::at(&url1)
        .arg("--url", &url2)
        .streaming()
        .concurrency(3)
        .arg("--input-file", file.display())
        .arg("--custom-dataset-type", "multi_turn")
        .run(&out_dir);
    assert_exit(&out, 0);
    let recs = records(&out_dir);
    assert_eq!(recs.len(), 18);
    // Where each session's turns went, and what each server answered.
    let mut servers: BTreeMap<String, BTreeSet<usize>> = BTreeMap::new();
    let mut bodies: BTreeMap<(String, usize), Vec<(String, String)>> = BTreeMap::new();
    let mut replies: BTreeMap<(String, usize), String> = BTreeMap::new();
    for (server, log) in [(1, &log1), (2, &log2)] {
        for entry in request_log(log) {
            let messages = contents(&entry["body"]);
            let first = &messages[0].1;
            let session = format!("chat-{}", first.rsplit(' ').next().unwrap());
            let turn = messages.iter().filter(|(role, _)| role == "user").count() - 1;
            servers.entry(session.clone()).or_default().insert(server);
            replies.insert(
                (session.clone(), turn),
                entry["reply"].as_str().unwrap().to_string(),
            );
            bodies.insert((session, turn), messages);
        }
    }
    assert_eq!(servers.len(), 6);
    for (session, on) in &servers {
        assert_eq!(on.len(), 1, "{session} went to servers {on:?}");
    }
    assert_eq!(
        servers.values().flatten().collect::<BTreeSet<_>>().len(),
        2,
        "both servers are used"
    );
    for i in 0..6 {
        let session = format!("chat-{i}");
        let third = &bodies[&(session.clone(), 2)];
        let roles: Vec<&str> = third.iter().map(|(r, _)| r.as_str()).collect();
        assert_eq!(
            roles,
            ["user", "assistant", "user", "assistant", "user"],
            "{session}"
        );
        assert_eq!(
            third[1].1,
            replies[&(session.clone(), 0)],
            "{session} turn 1's reply"
        );
        assert_eq!(
            third[3].1,
            replies[&(session.clone(), 1)],
            "{session} turn 2's reply"
        );
        assert_eq!(third[2].1, format!("second question {i}"));
    }
    // Records name the conversation and turn; later turns count the history as input.
    let by_turn: BTreeMap<(String, u64), f64> = recs
        .iter()
        .map(|r| {
            (
                (
                    r["metadata"]["conversation_id"]
                        .as_str()
                        .unwrap()
                        .to_string(),
                    r["metadata"]["turn_index"].as_u64().unwrap(),
                ),
                r["metrics"]["input_sequence_length"]["value"]
                    .as_f64()
                    .unwrap(),
            )
        })
        .collect();
    assert_eq!(by_turn.len(), 18);
    // The last turn of each conversation has the conversation's duration (a 30 ms think
    // time at least) and its turns; the summary counts one per conversation.
    for r in recs.iter().filter(|r| r["metadata"]["turn_index"] == 2) {
        assert_eq!(r["metrics"]["session_turns"]["value"], 3.0);
        assert!(r["metrics"]["session_duration"]["value"].as_f64().unwrap() >= 30.0);
    }
    assert!(
        recs.iter()
            .filter(|r| r["metadata"]["turn_index"] != 2)
            .all(|r| r["metrics"].get("session_turns").is_none())
    );
    assert_eq!(summary(&out_dir)["session_duration"]["count"], 6);
    assert!(by_turn[&("chat-0".to_string(), 2)] > by_turn[&("chat-0".to_string(), 1)]);
    assert!(by_turn[&("chat-0".to_string(), 1)] > by_turn[&("chat-0".to_string(), 0)]);
}

#[test]
fn single_turn_sessions_wait_for_each_other_and_files_repeat_in_the_chosen_order() {
    let tmp = tempfile::tempdir().unwrap();
    let file = lines(
        tmp.path(),
        "single.jsonl",
        &[
            json!({"text": "alpha", "output_length": 2}),
            json!({"text": "beta", "output_length": 2, "extra": {"temperature": 0.5}}),
            json!({"text": "gamma", "output_length": 2}),
        ],
    );
    let log = tmp.path().join("requests.log");
    let (_server, url) = logged_mock(&log, &["--ttft-ms", "1", "--itl-ms", "1"]);
    let out_dir = tmp.path().join("seq");
    let out = MockProfile::at(&url)
        .streaming()
        .requests(7)
        .arg("--input-file", file.display())
        .arg("--custom-dataset-type", "single_turn")
        .run(&out_dir);
    assert_exit(&out, 0);
    let order = session_order(&out_dir);
    assert_eq!(order, vec![0, 1, 2, 0, 1, 2, 0]);
    let sent = request_log(&log);
    assert_eq!(sent[1]["body"]["temperature"], 0.5, "extra is merged");
    assert!(sent[0]["body"].get("temperature").is_none());
    // A shuffle sends each entry once per pass.
    let out_dir = tmp.path().join("shuffle");
    let out = MockProfile::at(&url)
        .streaming()
        .requests(6)
        .arg("--input-file", file.display())
        .arg("--custom-dataset-type", "single_turn")
        .arg("--dataset-sampling-strategy", "shuffle")
        .run(&out_dir);
    assert_exit(&out, 0);
    let order = session_order(&out_dir);
    for pass in order.chunks(3) {
        assert_eq!(pass.iter().collect::<BTreeSet<_>>().len(), 3, "{order:?}");
    }
}

#[test]
fn synthetic_prompts_share_a_pool_of_prefixes_and_a_system_prompt() {
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("requests.log");
    let (_server, url) = logged_mock(&log, &["--ttft-ms", "1", "--itl-ms", "1"]);
    let out = MockProfile::at(&url)
        .streaming()
        .requests(12)
        .tokens(30, 2)
        .arg("--prefix-prompt-length", 40)
        .arg("--prefix-prompt-pool-size", 2)
        .arg("--shared-system-prompt-length", 25)
        .run(&tmp.path().join("out"));
    assert_exit(&out, 0);
    let sent = request_log(&log);
    assert_eq!(sent.len(), 12);
    let systems: BTreeSet<String> = sent
        .iter()
        .map(|e| {
            let m = contents(&e["body"]);
            assert_eq!(m[0].0, "system");
            m[0].1.clone()
        })
        .collect();
    assert_eq!(systems.len(), 1, "one system prompt for every request");
    let users: Vec<String> = sent
        .iter()
        .map(|e| contents(&e["body"])[1].1.clone())
        .collect();
    // Every pair of prompts shares a long prefix (the same pool entry) or a short one.
    let mut groups: Vec<&String> = Vec::new();
    for u in &users {
        if !groups.iter().any(|g| common_prefix(g, u) > 100) {
            groups.push(u);
        }
    }
    assert_eq!(groups.len(), 2, "two prefixes in the pool");
    // A mixture of lengths: the records' input lengths come from it.
    let out_dir = tmp.path().join("mix");
    let out = MockProfile::new("ttft_ms=1&itl_ms=1")
        .streaming()
        .requests(40)
        .arg("--seq-dist", "20,4:50%;60,8:50%")
        .run(&out_dir);
    assert_exit(&out, 0);
    let isls: BTreeSet<u64> = records(&out_dir)
        .iter()
        .map(|r| {
            r["metrics"]["input_sequence_length"]["value"]
                .as_f64()
                .unwrap() as u64
        })
        .collect();
    assert_eq!(isls, BTreeSet::from([20, 60]));
}

#[test]
fn bad_input_files_are_configuration_errors_naming_file_and_line() {
    let tmp = tempfile::tempdir().unwrap();
    let cases: &[(&str, &str, &[&str], &str)] = &[
        (
            "{\"input_length\": 10}\n{\"input_length\": 10, \"oops\n",
            "mooncake_trace",
            &[],
            "bad.jsonl:2: malformed JSON",
        ),
        (
            "{\"timestamp\": 5}\n",
            "mooncake_trace",
            &[],
            "bad.jsonl:1: the entry has no content",
        ),
        (
            "{\"input_length\": 100, \"hash_ids\": [1, 2, 3, 4, 5]}\n",
            "mooncake_trace",
            &["--isl-block-size", "32"],
            "bad.jsonl:1: 5 hash_ids need more than input_length 100",
        ),
        (
            "{\"timestamp\": 10, \"input_length\": 5}\n{\"timestamp\": 3, \"input_length\": 5}\n",
            "mooncake_trace",
            &[],
            "bad.jsonl:2: timestamp 3 is before line 1's 10",
        ),
        (
            "{\"timestamp\": -4, \"input_length\": 5}\n",
            "mooncake_trace",
            &[],
            "bad.jsonl:1: 'timestamp' is -4",
        ),
        (
            "{\"timestamp\": 1, \"input_length\": 5}\n",
            "mooncake_trace",
            &[
                "--fixed-schedule-start-offset",
                "50",
                "--fixed-schedule-end-offset",
                "10",
            ],
            "the replay window starts at 50 ms, after its end at 10 ms",
        ),
        (
            "\n\n",
            "single_turn",
            &[],
            "bad.jsonl: the input file has no entries",
        ),
        (
            "{\"text\": \"look\", \"image\": \"cat.png\"}\n",
            "single_turn",
            &[],
            "bad.jsonl:1: 'image' needs a multimodal run",
        ),
        (
            "{\"txt\": \"hi\"}\n",
            "single_turn",
            &[],
            "unknown key 'txt' (did you mean 'text'?)",
        ),
    ];
    for (content, format, extra, expected) in cases {
        let file = write(tmp.path(), "bad.jsonl", content);
        let out_dir = tmp.path().join("never");
        let out = MockProfile::new("")
            .streaming()
            .arg("--input-file", file.display())
            .arg("--custom-dataset-type", format)
            .args(extra)
            .run(&out_dir);
        assert_exit(&out, 2);
        let err = stderr(&out);
        assert!(err.contains(expected), "{content:?}: {err}");
        assert!(!out_dir.exists(), "nothing is written for a bad file");
    }
    // An unknown type gets the closest name.
    let file = write(tmp.path(), "ok.jsonl", "{\"text\": \"hi\"}\n");
    let out = MockProfile::new("")
        .arg("--input-file", file.display())
        .arg("--custom-dataset-type", "single-turn")
        .run(&tmp.path().join("never"));
    assert_exit(&out, 2);
    assert!(stderr(&out).contains("single_turn"), "{}", stderr(&out));
}

#[test]
fn experiments_sweep_over_a_trace_and_validate_checks_its_file() {
    let tmp = tempfile::tempdir().unwrap();
    let trace: Vec<Value> = (0..8)
        .map(|i| json!({"timestamp": i * 10, "input_length": 30, "output_length": 2, "hash_ids": [1]}))
        .collect();
    std::fs::create_dir_all(tmp.path().join("traces")).unwrap();
    lines(&tmp.path().join("traces"), "t.jsonl", &trace);
    let experiment = write(
        tmp.path(),
        "replay.yaml",
        &format!(
            "benchmark:\n  model: m\n  endpoint: {{url: \"mock://?ttft_ms=1&itl_ms=1\", streaming: true}}\n  \
             dataset: {{type: file, path: traces/t.jsonl, format: mooncake_trace}}\n  \
             phases: {{type: fixed_schedule}}\n  artifacts: {{dir: {}}}\n\
             sweep:\n  parameters:\n    replay_speedup: [1, 4]\n",
            tmp.path().join("results").display()
        ),
    );
    let validate = aiperf()
        .args(["validate"])
        .arg(&experiment)
        .output()
        .unwrap();
    assert_exit(&validate, 0);
    let run = aiperf()
        .args(["run"])
        .arg(&experiment)
        .current_dir("/")
        .output()
        .unwrap();
    assert_exit(&run, 0);
    for cell in ["speedup_1", "speedup_4"] {
        let recs = jsonl(
            tmp.path()
                .join("results")
                .join(cell)
                .join("profile_export.jsonl"),
        );
        assert_eq!(recs.len(), 8, "{cell}");
    }
    // A broken line is found by validate, before anything runs.
    write(
        &tmp.path().join("traces"),
        "t.jsonl",
        "{\"timestamp\": 0, \"input_length\": 30}\n{\"timestamp\": 5, \"input_lenght\": 3}\n",
    );
    let validate = aiperf()
        .args(["validate"])
        .arg(&experiment)
        .output()
        .unwrap();
    assert_exit(&validate, 2);
    assert!(stderr(&validate).contains("t.jsonl:2: unknown key 'input_lenght'"));
}

#[test]
fn dataset_inspect_reports_what_a_trace_holds() {
    let tmp = tempfile::tempdir().unwrap();
    let trace: Vec<Value> = (0..20)
        .map(|i| {
            json!({"timestamp": i * 100, "input_length": 100, "output_length": 10,
                   "hash_ids": [1, 2 + i]})
        })
        .collect();
    let file = lines(tmp.path(), "t.jsonl", &trace);
    let out = aiperf()
        .args(["dataset", "inspect"])
        .arg(&file)
        .args([
            "--custom-dataset-type",
            "mooncake_trace",
            "--isl-block-size",
            "50",
            "--json",
        ])
        .output()
        .unwrap();
    assert_exit(&out, 0);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["requests"], 20);
    assert_eq!(report["duration_ms"], 1900.0);
    assert_eq!(report["isl"]["p50"], 100.0);
    assert_eq!(report["osl"]["max"], 10.0);
    // 40 blocks, of which 19 repeat id 1: 19 x 50 of 2000 tokens.
    assert_eq!(report["block_reuse_ratio"], 19.0 / 40.0);
    assert_eq!(report["token_reuse_ratio"], 950.0 / 2000.0);
    assert_eq!(report["rate_over_time"].as_array().unwrap().len(), 10);
}

#[test]
fn a_search_finds_the_fastest_replay_of_a_trace_that_meets_an_sla() {
    let tmp = tempfile::tempdir().unwrap();
    let trace: String = (0..40)
        .map(|i| format!("{{\"timestamp\": {}, \"input_length\": 64, \"output_length\": 16, \"hash_ids\": [1]}}\n", i * 20))
        .collect();
    write(tmp.path(), "t.jsonl", &trace);
    // Four decode slots: a faster replay queues requests, and TTFT grows with the speedup.
    let experiment = write(
        tmp.path(),
        "search.yaml",
        "benchmark:\n  model: m\n  endpoint: {url: \"mock://?ttft_ms=5&itl_ms=2&max_batch=4&decode_ms_per_seq=1\", streaming: true}\n  \
         dataset: {type: file, path: t.jsonl, format: mooncake_trace, block_size: 64}\n  \
         phases: {type: fixed_schedule}\n  artifacts: {dir: results}\n\
         sweep:\n  type: adaptive_search\n  recipe:\n    name: fastest-replay\n    \
         description: The fastest replay whose TTFT p95 stays under 60 ms.\n    \
         knobs: [{path: replay_speedup, lo: 0.5, hi: 32, kind: real, scale: log}]\n    \
         objective: {metric: request_throughput, stat: avg, direction: maximize}\n    \
         constraints: [{metric: time_to_first_token, stat: p95, op: lt, threshold: 60}]\n    \
         planner: {type: boundary, precision: 0.1, max_iterations: 8}\n",
    );
    let out = aiperf()
        .arg("run")
        .arg(&experiment)
        .current_dir(tmp.path())
        .output()
        .unwrap();
    assert_exit(&out, 0);
    let history = json(tmp.path().join("results/search_history.json"));
    let points: Vec<(f64, bool)> = history["iterations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["variation_values"]["phases.profiling.speedup"]
                    .as_f64()
                    .unwrap(),
                i["feasible"].as_bool().unwrap(),
            )
        })
        .collect();
    let passing = points
        .iter()
        .filter(|p| p.1)
        .map(|p| p.0)
        .fold(0.0, f64::max);
    let failing = points
        .iter()
        .filter(|p| !p.1)
        .map(|p| p.0)
        .fold(f64::INFINITY, f64::min);
    assert!(passing >= 0.5 && failing <= 32.0, "{points:?}");
    assert!(
        passing < failing,
        "the boundary separates passes from failures: {points:?}"
    );
    // Every point replayed the whole trace.
    for i in history["iterations"].as_array().unwrap() {
        let run = i["runs"][0].as_str().unwrap();
        let recs = jsonl(
            tmp.path()
                .join("results")
                .join(run)
                .join("profile_export.jsonl"),
        );
        assert_eq!(recs.len(), 40);
    }
}
