//! Property tests: no input may crash aiperf. Arbitrary bytes and arbitrary structured inputs go
//! to the SSE parser, the YAML reader, the experiment loader and plan expander, and the
//! `mock://` parser; none may panic, and the SSE parser must not depend on how a stream is split.

use aiperf::load::sse::SseParser;
use proptest::prelude::*;
use proptest::test_runner::RngSeed;

/// `cases` cases from a fixed seed, so every run of the suite checks the same inputs and a
/// failure reproduces; `PROPTEST_RNG_SEED=N` explores other inputs.
fn config(cases: u32) -> ProptestConfig {
    let mut config = ProptestConfig::with_cases(cases);
    if std::env::var_os("PROPTEST_RNG_SEED").is_none() {
        config.rng_seed = RngSeed::Fixed(20_261_202);
    }
    config
}

fn events_of(chunks: &[&[u8]]) -> Vec<(Option<Vec<u8>>, Vec<u8>)> {
    let mut parser = SseParser::new();
    let mut out = Vec::new();
    for chunk in chunks {
        parser.feed(chunk, |e| {
            out.push((e.event.map(<[u8]>::to_vec), e.data.to_vec()))
        });
    }
    parser.finish(|e| out.push((e.event.map(<[u8]>::to_vec), e.data.to_vec())));
    out
}

/// Bytes that look like an event stream often enough to reach every branch.
fn stream_bytes() -> impl Strategy<Value = Vec<u8>> {
    let pieces = prop_oneof![
        Just(b"data: ".to_vec()),
        Just(b"data:".to_vec()),
        Just(b"event: error".to_vec()),
        Just(b": ping".to_vec()),
        Just(b"\n".to_vec()),
        Just(b"\r\n".to_vec()),
        Just(b"\r".to_vec()),
        Just(b"[DONE]".to_vec()),
        Just(br#"{"choices":[{"delta":{"content":"hi"}}]}"#.to_vec()),
        proptest::collection::vec(any::<u8>(), 0..8),
    ];
    proptest::collection::vec(pieces, 0..40).prop_map(|v| v.concat())
}

/// A YAML scalar that is hostile in value: huge, negative, not a number, not finite.
fn hostile_scalar() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("1e30".to_string()),
        Just("-1".to_string()),
        Just("0".to_string()),
        Just(".nan".to_string()),
        Just(".inf".to_string()),
        Just("-.inf".to_string()),
        Just("\"99999999999999999999h\"".to_string()),
        Just("\"5m\"".to_string()),
        Just("18446744073709551616".to_string()),
        Just("[]".to_string()),
        Just("{}".to_string()),
        Just("null".to_string()),
        Just("\"x\"".to_string()),
        (1u32..2000).prop_map(|n| n.to_string()),
        (-1e9f64..1e9).prop_map(|x| format!("{x}")),
    ]
}

/// The experiment template with the given twelve settings and sweep.
fn experiment_from(v: &[String], param: &str, values: &[String], sweep_type: &str) -> String {
    format!(
        "schemaVersion: \"2.0\"
benchmark:
  model: m
  endpoint: {{url: 'mock://?ttft_ms={}', timeout: {}, wait_for_model_timeout: {}}}
  dataset: {{entries: {}, prompts: {{isl: {}, osl: {}}}}}
  phases: {{type: concurrency, requests: {}, concurrency: {}, duration: {}, grace_period: {}}}
multi_run: {{num_runs: {}, cooldown_seconds: {}}}
sweep:
  type: {sweep_type}
  parameters:
    {param}: [{}]
",
        v[0],
        v[1],
        v[2],
        v[3],
        v[4],
        v[5],
        v[6],
        v[7],
        v[8],
        v[9],
        v[10],
        v[11],
        values.join(", ")
    )
}

/// The template is a valid experiment when its values are ordinary, so the hostile cases
/// below reach the expander rather than all stopping at the first key.
#[test]
fn the_experiment_template_expands_with_ordinary_values() {
    let ordinary: Vec<String> = [
        "5", "60", "0", "4", "16", "8", "10", "2", "30", "1", "2", "0",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let text = experiment_from(&ordinary, "concurrency", &["1".into(), "2".into()], "grid");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("e.yaml");
    std::fs::write(&file, &text).unwrap();
    let loaded = aiperf::cli::load_experiment(&file).unwrap_or_else(|e| panic!("{e:?}"));
    let plan = aiperf::plan::expand(&loaded).unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(plan.trials.len(), 4);
}

/// An experiment file whose settings are drawn from hostile values.
fn experiment_text() -> impl Strategy<Value = String> {
    (
        proptest::collection::vec(hostile_scalar(), 12),
        prop_oneof![
            Just("concurrency".to_string()),
            Just("isl".to_string()),
            Just("request_rate".to_string()),
            Just("benchmark.phases.profiling.requests".to_string()),
            Just("no_such_parameter".to_string()),
        ],
        proptest::collection::vec(hostile_scalar(), 0..4),
        prop_oneof![Just("grid"), Just("zip"), Just("scenarios")],
    )
        .prop_map(|(v, param, values, sweep_type)| experiment_from(&v, &param, &values, sweep_type))
}

proptest! {
    #![proptest_config(config(2000))]

    #[test]
    fn sse_parser_never_panics_and_ignores_how_reads_split(
        bytes in stream_bytes(),
        cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..6),
    ) {
        let whole = events_of(&[&bytes]);
        let mut points: Vec<usize> = cuts.iter().map(|i| i.index(bytes.len() + 1)).collect();
        points.sort_unstable();
        let mut chunks = Vec::new();
        let mut start = 0;
        for p in points {
            chunks.push(&bytes[start..p]);
            start = p;
        }
        chunks.push(&bytes[start..]);
        prop_assert_eq!(events_of(&chunks), whole);
    }

    #[test]
    fn sse_parser_survives_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = events_of(&[&bytes]);
    }

    #[test]
    fn yaml_reader_never_panics(text in "\\PC{0,300}") {
        let _ = aiperf::support::yaml::parse(&text);
    }

    #[test]
    fn yaml_reader_survives_yaml_like_text(
        lines in proptest::collection::vec(
            prop_oneof![
                Just("a: &x [1, 2]".to_string()),
                Just("b: *x".to_string()),
                Just("- *x".to_string()),
                Just("  - [*x, *x]".to_string()),
                Just("c: {d: e}".to_string()),
                Just("? complex".to_string()),
                Just("---".to_string()),
                Just("f: !!str 3".to_string()),
                Just("g: |".to_string()),
                "[a-z:{}\\[\\], &*!-]{0,20}",
            ],
            0..20,
        )
    ) {
        let _ = aiperf::support::yaml::parse(&lines.join("\n"));
    }

    #[test]
    fn mock_url_parser_never_panics(query in "[a-z_=&%0-9.eE+-]{0,80}") {
        let _ = aiperf::mock::MockConfig::from_mock_url(&format!("mock://?{query}"));
        let _ = aiperf::mock::MockConfig::from_mock_url(&query);
    }
}

proptest! {
    // Each case writes a file and expands a plan: fewer cases, still hundreds per run.
    #![proptest_config(config(400))]

    #[test]
    fn loader_and_plan_expander_never_panic_on_hostile_experiments(text in experiment_text()) {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("e.yaml");
        std::fs::write(&file, &text).unwrap();
        if let Ok(loaded) = aiperf::cli::load_experiment(&file)
            && let Ok(plan) = aiperf::plan::expand(&loaded)
        {
            // Whatever expands must be within the bounds that keep a run safe.
            prop_assert!(plan.trials.len() as u64 <= aiperf::plan::MAX_TRIALS);
            for trial in &plan.trials {
                prop_assert!(aiperf::spec::validate(&trial.spec).is_ok());
            }
        }
    }
}

/// JSONL-ish lines of the input formats: real keys with hostile values, and junk.
fn input_file_lines() -> impl Strategy<Value = String> {
    let value = prop_oneof![
        Just("0".to_string()),
        Just("-1".to_string()),
        Just("1e308".to_string()),
        Just("4294967296".to_string()),
        Just("null".to_string()),
        Just("\"x\"".to_string()),
        Just("[]".to_string()),
        Just("[1, 2, 99999999]".to_string()),
        Just("{}".to_string()),
        Just("[{\"text\": \"t\"}]".to_string()),
        "[0-9]{1,6}",
    ];
    let key = prop_oneof![
        Just("text"),
        Just("texts"),
        Just("timestamp"),
        Just("delay"),
        Just("session_id"),
        Just("input_length"),
        Just("output_length"),
        Just("hash_ids"),
        Just("text_input"),
        Just("messages"),
        Just("payload"),
        Just("turns"),
        Just("extra"),
        Just("image"),
    ];
    let line = prop_oneof![
        proptest::collection::vec((key, value), 0..5).prop_map(|fields| {
            let body: Vec<String> = fields
                .iter()
                .map(|(k, v)| format!("\"{k}\": {v}"))
                .collect();
            format!("{{{}}}", body.join(", "))
        }),
        "\\PC{0,40}",
    ];
    proptest::collection::vec(line, 0..8).prop_map(|l| l.join("\n"))
}

proptest! {
    // Each case writes a file, indexes it and reads every conversation back.
    #![proptest_config(config(600))]

    #[test]
    fn input_file_reader_never_panics_and_reads_back_what_it_indexed(
        text in input_file_lines(),
        format in prop_oneof![
            Just(aiperf::spec::FileFormat::SingleTurn),
            Just(aiperf::spec::FileFormat::MultiTurn),
            Just(aiperf::spec::FileFormat::MooncakeTrace),
        ],
        block_size in 1u32..600,
    ) {
        use aiperf::dataset::input_file::{IndexRules, InputFile};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.jsonl");
        std::fs::write(&path, &text).unwrap();
        let rules = IndexRules { block_size, chat: true };
        if let Ok(file) = InputFile::index(&path, format, rules) {
            let mut reader = file.reader().unwrap();
            let mut turns = 0;
            for n in 0..file.conversation_count() {
                let conversation = file.read(&mut reader, n, rules);
                prop_assert!(conversation.is_ok(), "{:?}", conversation);
                turns += conversation.unwrap().turns.len() as u64;
            }
            prop_assert_eq!(turns, file.stats.turns);
        }
    }

    #[test]
    fn seq_dist_parser_never_panics(text in "[0-9,:;%. a-z-]{0,40}") {
        if let Ok(shares) = aiperf::spec::dataset::parse_seq_dist(&text) {
            prop_assert!(aiperf::spec::dataset::check_shares(&shares).is_ok());
        }
    }
}
