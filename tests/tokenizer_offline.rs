//! Tokenizers resolved with no network: a tokenizer.json path, a directory, and a model id found
//! in a HuggingFace cache laid out as `huggingface_hub` writes it.

mod common;
use common::*;
use std::path::Path;

/// Writes a small word-level tokenizer.json (whitespace pre-tokenizer) to `path`.
fn write_tokenizer(path: &Path) {
    use tokenizers::models::wordlevel::WordLevel;
    use tokenizers::pre_tokenizers::whitespace::Whitespace;
    let vocab = [("[UNK]", 0u32), ("the", 1), ("of", 2), ("and", 3)]
        .into_iter()
        .map(|(w, i)| (w.to_string(), i))
        .collect();
    let model = WordLevel::builder()
        .vocab(vocab)
        .unk_token("[UNK]".into())
        .build()
        .unwrap();
    let mut tokenizer = tokenizers::Tokenizer::new(model);
    tokenizer.with_pre_tokenizer(Some(Whitespace {}));
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    tokenizer.save(path, false).unwrap();
}

fn run_with(dir: &Path, hf_cache: &Path, extra: &[&str]) -> std::process::Output {
    MockProfile::new("ttft_ms=1&itl_ms=1")
        .model("test-org/tiny")
        .requests(3)
        .tokens(12, 2)
        .args(extra)
        .env("HF_HUB_CACHE", hf_cache.to_string_lossy())
        .run(dir)
}

#[test]
fn model_id_from_the_local_hf_cache_file_and_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("hub");
    let snapshot = cache.join("models--test-org--tiny/snapshots/0123abcd");
    write_tokenizer(&snapshot.join("tokenizer.json"));
    std::fs::create_dir_all(cache.join("models--test-org--tiny/refs")).unwrap();
    std::fs::write(cache.join("models--test-org--tiny/refs/main"), "0123abcd").unwrap();

    // No --tokenizer: the model id is found in the cache.
    let out = run_with(&tmp.path().join("a"), &cache, &[]);
    assert_exit(&out, 0);
    assert_eq!(
        json(tmp.path().join("a/run_metadata.json"))["tokenizer"],
        "test-org/tiny"
    );
    // The prompts have exactly 12 tokens of that tokenizer (whitespace-separated words).
    let inputs = json(tmp.path().join("a/inputs.json"));
    let prompt = inputs["data"][0]["payloads"][0]["messages"][0]["content"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(prompt.split_whitespace().count(), 12, "{prompt}");

    // Explicit file and directory.
    let file = snapshot.join("tokenizer.json");
    assert_exit(
        &run_with(
            &tmp.path().join("b"),
            &cache,
            &["--tokenizer", file.to_str().unwrap()],
        ),
        0,
    );
    assert_exit(
        &run_with(
            &tmp.path().join("c"),
            &cache,
            &["--tokenizer", snapshot.to_str().unwrap()],
        ),
        0,
    );
    assert_exit(
        &run_with(&tmp.path().join("d"), &cache, &["--tokenizer", "builtin"]),
        0,
    );
    assert_eq!(
        json(tmp.path().join("d/run_metadata.json"))["tokenizer"],
        "builtin (o200k_base)"
    );
}

#[test]
fn model_missing_from_cache_falls_back_to_builtin_and_explicit_id_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("empty-hub");
    assert_exit(&run_with(&tmp.path().join("a"), &cache, &[]), 0);
    assert_eq!(
        json(tmp.path().join("a/run_metadata.json"))["tokenizer"],
        "builtin (o200k_base)"
    );
    let out = run_with(
        &tmp.path().join("b"),
        &cache,
        &["--tokenizer", "test-org/tiny"],
    );
    assert_exit(&out, 2);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("not available offline") && stderr.contains("huggingface-cli download"),
        "{stderr}"
    );
}
