//! Tokenizers that work with no network: the built-in one shipped inside the binary, a
//! `tokenizer.json` file or directory, or a HuggingFace model id found in the local HF cache.
//!
//! The built-in tokenizer is OpenAI's `o200k_base` BPE (the same one AIPerf's `builtin` uses), in
//! the compact form of [`super::bpe`], built into the binary, so it never downloads anything.

use anyhow::{Context, anyhow};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

/// Counts, encodes and decodes tokens.
pub trait Tokenizer: Send + Sync {
    /// A short description for logs and metadata (`builtin (o200k_base)`, a path, a model id).
    fn name(&self) -> &str;
    /// Token ids of `text`, without special tokens.
    fn encode(&self, text: &str) -> Vec<u32>;
    /// Text of token ids (invalid UTF-8 is replaced, never an error).
    fn decode(&self, ids: &[u32]) -> String;
    /// Number of tokens in `text`.
    fn count(&self, text: &str) -> usize {
        self.encode(text).len()
    }
}

/// The name that selects the built-in tokenizer.
pub const BUILTIN: &str = "builtin";

struct BuiltinTokenizer {
    bpe: super::bpe::Bpe,
}

impl Tokenizer for BuiltinTokenizer {
    fn name(&self) -> &str {
        "builtin (o200k_base)"
    }
    fn encode(&self, text: &str) -> Vec<u32> {
        self.bpe.encode(text)
    }
    fn decode(&self, ids: &[u32]) -> String {
        self.bpe.decode(ids)
    }
}

struct HfTokenizer {
    name: String,
    inner: tokenizers::Tokenizer,
}

impl Tokenizer for HfTokenizer {
    fn name(&self) -> &str {
        &self.name
    }
    fn encode(&self, text: &str) -> Vec<u32> {
        self.inner
            .encode_fast(text, false)
            .map(|e| e.get_ids().to_vec())
            .unwrap_or_default()
    }
    fn decode(&self, ids: &[u32]) -> String {
        self.inner.decode(ids, false).unwrap_or_default()
    }
}

/// The built-in tokenizer (loaded once per process).
pub fn builtin() -> Arc<dyn Tokenizer> {
    static BUILTIN_TOKENIZER: OnceLock<Arc<dyn Tokenizer>> = OnceLock::new();
    BUILTIN_TOKENIZER
        .get_or_init(|| {
            Arc::new(BuiltinTokenizer {
                bpe: super::bpe::Bpe::o200k_base(),
            })
        })
        .clone()
}

/// How a tokenizer was chosen, for the log and for a warning when the user did not choose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolution {
    /// The user named it.
    Explicit,
    /// No tokenizer was named and the model id was found in the HF cache.
    ModelFromCache,
    /// No tokenizer was named, the model id is not cached, so the built-in one is used.
    BuiltinFallback,
}

/// Resolves a tokenizer by name (see module docs); `None` means "the model's, else built-in".
pub fn resolve(
    name: Option<&str>,
    model: &str,
) -> anyhow::Result<(Arc<dyn Tokenizer>, Resolution)> {
    match name {
        Some(n) if n == BUILTIN => Ok((builtin(), Resolution::Explicit)),
        Some(n) => Ok((load_named(n)?, Resolution::Explicit)),
        None => match find_in_hf_cache(model) {
            Some(file) => Ok((load_file(&file, model)?, Resolution::ModelFromCache)),
            None => Ok((builtin(), Resolution::BuiltinFallback)),
        },
    }
}

fn load_named(name: &str) -> anyhow::Result<Arc<dyn Tokenizer>> {
    let path = Path::new(name);
    if path.is_file() {
        return load_file(path, name);
    }
    if path.is_dir() {
        let file = path.join("tokenizer.json");
        if file.is_file() {
            return load_file(&file, name);
        }
        return Err(anyhow!(
            "tokenizer directory '{name}' has no tokenizer.json"
        ));
    }
    if let Some(file) = find_in_hf_cache(name) {
        return load_file(&file, name);
    }
    Err(anyhow!(
        "tokenizer '{name}' is not available offline: it is not a file or directory, and no tokenizer.json for it is \
         in the HuggingFace cache ({}). Download it where there is network (`huggingface-cli download {name} \
         tokenizer.json`) and copy the cache here, pass --tokenizer path/to/tokenizer.json, or use --tokenizer builtin",
        hf_cache_dir().display()
    ))
}

fn load_file(path: &Path, name: &str) -> anyhow::Result<Arc<dyn Tokenizer>> {
    static CACHE: OnceLock<Mutex<HashMap<PathBuf, Arc<dyn Tokenizer>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let key = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
    if let Some(t) = cache
        .lock()
        .map_err(|_| anyhow!("tokenizer cache poisoned"))?
        .get(&key)
    {
        return Ok(t.clone());
    }
    let inner = tokenizers::Tokenizer::from_file(path)
        .map_err(|e| anyhow!("{e}"))
        .with_context(|| format!("cannot load tokenizer from {}", path.display()))?;
    let tokenizer: Arc<dyn Tokenizer> = Arc::new(HfTokenizer {
        name: name.to_string(),
        inner,
    });
    cache
        .lock()
        .map_err(|_| anyhow!("tokenizer cache poisoned"))?
        .insert(key, tokenizer.clone());
    Ok(tokenizer)
}

/// The HuggingFace hub cache directory, following the same variables as `huggingface_hub`.
pub fn hf_cache_dir() -> PathBuf {
    let env = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    if let Some(dir) = env("HF_HUB_CACHE").or_else(|| env("HUGGINGFACE_HUB_CACHE")) {
        return dir;
    }
    if let Some(home) = env("HF_HOME") {
        return home.join("hub");
    }
    let cache = env("XDG_CACHE_HOME")
        .or_else(|| env("HOME").map(|h| h.join(".cache")))
        .unwrap_or_default();
    cache.join("huggingface").join("hub")
}

/// Finds `tokenizer.json` of a model id in the HF cache: the `main` ref's snapshot first, then any.
pub fn find_in_hf_cache(model_id: &str) -> Option<PathBuf> {
    if model_id.is_empty() || model_id.contains("..") {
        return None;
    }
    let repo = hf_cache_dir().join(format!("models--{}", model_id.replace('/', "--")));
    let snapshots = repo.join("snapshots");
    if let Ok(rev) = std::fs::read_to_string(repo.join("refs").join("main")) {
        let file = snapshots.join(rev.trim()).join("tokenizer.json");
        if file.is_file() {
            return Some(file);
        }
    }
    let mut candidates: Vec<PathBuf> = std::fs::read_dir(&snapshots)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path().join("tokenizer.json")))
        .filter(|p| p.is_file())
        .collect();
    candidates.sort();
    candidates.pop()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_round_trips_text() {
        let t = builtin();
        let ids = t.encode("From fairest creatures we desire increase");
        assert!(ids.len() >= 5 && ids.len() <= 8, "{ids:?}");
        assert_eq!(t.decode(&ids), "From fairest creatures we desire increase");
    }

    #[test]
    fn unknown_model_id_falls_back_or_errors_clearly() {
        let (t, how) = resolve(None, "no-such-org/no-such-model-xyz").unwrap();
        assert_eq!(how, Resolution::BuiltinFallback);
        assert_eq!(t.name(), "builtin (o200k_base)");
        let err = resolve(Some("no-such-org/no-such-model-xyz"), "m")
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains("not available offline") && err.contains("--tokenizer builtin"),
            "{err}"
        );
    }

    #[test]
    fn a_directory_without_tokenizer_json_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let err = resolve(Some(dir.path().to_str().unwrap()), "m")
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("has no tokenizer.json"), "{err}");
    }
}
