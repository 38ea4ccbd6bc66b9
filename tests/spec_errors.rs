//! Invalid experiment files: each gets one clear message naming the file, line, column and key
//! path (with a suggestion where one helps), exit code 2, and nothing runs.

mod common;
use common::*;

const BASE: &str = "benchmark:
  model: m
  endpoint:
    url: 'mock://'
    streaming: true
  dataset: {entries: 4, prompts: {isl: 32, osl: 8}}
  phases:
    - {name: warmup, type: concurrency, requests: 2, concurrency: 1}
    - {name: profiling, type: concurrency, requests: 4, concurrency: 1}
";

/// (name, file content, expected fragments of the message). `{f}` in a fragment is the file path.
fn cases() -> Vec<(&'static str, String, Vec<&'static str>)> {
    vec![
        (
            "unknown top-level key",
            format!("{BASE}swep: {{}}\n"),
            vec!["{f}:10:1: swep: unknown key 'swep' (did you mean 'sweep'?)"],
        ),
        (
            "unknown nested key",
            BASE.replace("    streaming: true", "    streming: true"),
            vec![
                ":5:5: benchmark.endpoint.streming: unknown key 'streming' (did you mean 'streaming'?)",
            ],
        ),
        (
            "camelCase typo keeps camelCase hint",
            format!("{BASE}multiRun: {{numRun: 3}}\n"),
            vec![":10:12: multiRun.numRun: unknown key 'numRun' (did you mean 'numRuns'?)"],
        ),
        (
            "bad enum value",
            BASE.replace(
                "name: profiling, type: concurrency",
                "name: profiling, type: concurrrency",
            ),
            vec![
                ":9:25: benchmark.phases[1].type: must be one of 'concurrency', 'constant', 'poisson', 'gamma', 'fixed_schedule', got 'concurrrency' (did you mean 'concurrency'?)",
            ],
        ),
        (
            "wrong type",
            BASE.replace(
                "requests: 4, concurrency: 1",
                "requests: 4, concurrency: eight",
            ),
            vec![":9:57: benchmark.phases[1].concurrency:", "got string"],
        ),
        (
            "missing benchmark",
            "sweep: {parameters: {concurrency: [1]}}\n".into(),
            vec![":1:1:", "missing required key benchmark"],
        ),
        (
            "missing endpoint",
            "benchmark:\n  model: m\n  phases: {type: concurrency, requests: 1}\n".into(),
            vec![":1:1: benchmark:", "missing required key endpoint"],
        ),
        (
            "warmup without a stop condition",
            BASE.replace("requests: 2, concurrency: 1", "concurrency: 1"),
            vec![":8:7: benchmark.phases[0]: phase 'warmup' has no stop condition"],
        ),
        (
            "smoothness on poisson arrivals",
            BASE.replace(
                "name: profiling, type: concurrency, requests: 4, concurrency: 1",
                "name: profiling, type: poisson, rate: 5, smoothness: 2, requests: 4",
            ),
            vec![
                "benchmark.phases[1].smoothness: phase 'profiling': an arrival smoothness (--arrival-smoothness) applies only to gamma arrivals",
            ],
        ),
        (
            "rate phase without rate",
            BASE.replace(
                "name: profiling, type: concurrency, requests: 4, concurrency: 1",
                "name: profiling, type: poisson, requests: 4",
            ),
            vec!["benchmark.phases[1].rate: phase 'profiling': a rate phase needs --request-rate"],
        ),
        (
            "grace period without duration",
            BASE.replace(
                "requests: 4, concurrency: 1}",
                "requests: 4, concurrency: 1, gracePeriod: 5}",
            ),
            vec![
                "benchmark.phases[1].grace_period:",
                "only applies with a duration",
            ],
        ),
        (
            "two profiling phases",
            BASE.replace("name: warmup", "name: second"),
            vec!["benchmark.phases: exactly one profiling phase is required, got 2"],
        ),
        (
            "bad duration text",
            BASE.replace(
                "requests: 4, concurrency: 1}",
                "duration: 5 days, concurrency: 1}",
            ),
            vec![":9:44: benchmark.phases[1].duration: '5 days' is not a duration"],
        ),
        (
            "embeddings with streaming",
            BASE.replace(
                "    url: 'mock://'",
                "    url: 'mock://'\n    type: embeddings",
            ),
            vec![
                "benchmark.endpoint.streaming:",
                "embeddings are not streamed",
            ],
        ),
        (
            "bad url scheme",
            BASE.replace("'mock://'", "'ftp://host'"),
            vec![":4:5: benchmark.endpoint.urls[0]: URL 'ftp://host' has scheme 'ftp'"],
        ),
        (
            "unknown slo",
            BASE.replace(
                "  dataset:",
                "  slos: {time_to_frist_token: 100}\n  dataset:",
            ),
            vec![
                "benchmark.slos.time_to_frist_token: unknown goodput metric 'time_to_frist_token' (did you mean 'time_to_first_token'?)",
            ],
        ),
        (
            "unknown sweep path",
            format!("{BASE}sweep:\n  parameters:\n    endpoint.streming: [true, false]\n"),
            vec![
                ":12:5: sweep.parameters.endpoint.streming:",
                "unknown field `streming`",
            ],
        ),
        (
            "unknown phase in path",
            format!("{BASE}sweep:\n  parameters:\n    phases.cooldown.rate: [1]\n"),
            vec![":12:5: sweep.parameters.phases.cooldown.rate: no phase named 'cooldown'"],
        ),
        (
            "zip lengths differ",
            format!(
                "{BASE}sweep:\n  type: zip\n  parameters:\n    concurrency: [1, 2]\n    isl: [1]\n"
            ),
            vec![
                "sweep.parameters: a zip sweep needs lists of equal length (concurrency has 2, isl has 1)",
            ],
        ),
        (
            "bad range",
            format!("{BASE}sweep:\n  parameters:\n    concurrency: {{from: 8, to: 1, times: 2}}\n"),
            vec![":12:5: sweep.parameters.concurrency: a geometric range needs 0 < from <= to"],
        ),
        (
            "empty values",
            format!("{BASE}sweep:\n  parameters:\n    concurrency: []\n"),
            vec!["sweep.parameters.concurrency: the list of values is empty"],
        ),
        (
            "grid without parameters",
            format!("{BASE}sweep: {{type: grid}}\n"),
            vec![":10:1: sweep: a grid sweep needs `parameters`"],
        ),
        (
            "duplicate scenario names",
            format!(
                "{BASE}sweep:\n  type: scenarios\n  runs:\n    - {{name: a}}\n    - {{name: a}}\n"
            ),
            vec![":14:8: sweep.runs[1].name: scenario name 'a' is used twice"],
        ),
        (
            "unsafe scenario name",
            format!("{BASE}sweep:\n  type: scenarios\n  runs:\n    - {{name: 'a/b'}}\n"),
            vec!["sweep.runs[0].name: scenario name 'a/b' must be non-empty"],
        ),
        (
            "confidence level out of range",
            format!("{BASE}multiRun: {{numRuns: 2, confidenceLevel: 95}}\n"),
            vec!["multi_run.confidence_level: confidenceLevel must be between 0 and 1"],
        ),
        (
            "convergence with one run",
            format!(
                "{BASE}multiRun: {{convergence: {{metric: time_to_first_token, threshold: 0.05}}}}\n"
            ),
            vec!["multi_run.convergence: convergence needs numRuns of at least 2"],
        ),
        (
            "convergence metric typo",
            format!(
                "{BASE}multiRun: {{numRuns: 3, convergence: {{metric: time_to_frst_token, threshold: 0.05}}}}\n"
            ),
            vec![
                "multi_run.convergence.metric: unknown metric 'time_to_frst_token' (did you mean 'time_to_first_token'?)",
            ],
        ),
        (
            "unset environment variable",
            BASE.replace("model: m", "model: ${AIPERF_TEST_SURELY_UNSET}"),
            vec![
                ":2:10:",
                "environment variable AIPERF_TEST_SURELY_UNSET is not set",
            ],
        ),
        (
            "invalid yaml",
            "benchmark: [1, 2\n".into(),
            vec!["invalid YAML"],
        ),
        (
            "duplicate key",
            BASE.replace("  model: m", "  model: m\n  model: n"),
            vec![":3:3:", "duplicate key 'model'"],
        ),
        (
            "unknown variable",
            BASE.replace("model: m", "model: '{{ nope }}'"),
            vec!["unknown variable 'nope'"],
        ),
        (
            "mock url typo",
            BASE.replace("'mock://'", "'mock://?ttft=5'"),
            vec!["unknown field `ttft`"],
        ),
    ]
}

#[test]
fn every_invalid_file_gets_a_located_message_and_exit_2() {
    let tmp = tempfile::tempdir().unwrap();
    let mut failures = Vec::new();
    for (i, (name, content, expected)) in cases().into_iter().enumerate() {
        let file = tmp.path().join(format!("case{i}.yaml"));
        std::fs::write(&file, &content).unwrap();
        let out = aiperf()
            .arg("validate")
            .arg(&file)
            .env_remove("AIPERF_TEST_SURELY_UNSET")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        let ok_code = out.status.code() == Some(2);
        let missing: Vec<String> = expected
            .iter()
            .map(|e| e.replace("{f}", &file.display().to_string()))
            .filter(|e| !stderr.contains(e.as_str()))
            .collect();
        if !ok_code || !missing.is_empty() {
            failures.push(format!(
                "{name}: exit {:?}, missing {missing:?}\n{stderr}",
                out.status.code()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n---\n"));
    assert!(cases().len() >= 20);
}

#[test]
fn run_of_an_invalid_file_starts_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("bad.yaml");
    let out_dir = tmp.path().join("out");
    std::fs::write(
        &file,
        BASE.replace("streaming: true", "streaming: true\n    typo: 1")
            + &format!("  artifacts: {{dir: '{}'}}\n", out_dir.display()),
    )
    .unwrap();
    let out = aiperf().arg("run").arg(&file).output().unwrap();
    assert_exit(&out, 2);
    assert!(!out_dir.exists());
}
