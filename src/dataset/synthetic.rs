//! Synthetic prompts with exact token counts, reproducible from a seed.
//!
//! The shipped corpus is tokenized once (in fixed 10,000-character chunks, so the result does not
//! depend on the machine); each prompt is a contiguous window of `isl` tokens starting at a random
//! offset, decoded to text and re-encoded until its length is exactly `isl` (trimming or topping up
//! from the corpus). The same seed, tokenizer and settings give byte-identical prompts and bodies.

use super::tokenizer::Tokenizer;
use crate::endpoint::{BodyContext, Endpoint};
use crate::spec::PromptsSpec;
use bytes::Bytes;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

/// The embedded corpus text.
pub const CORPUS: &str = include_str!("../../assets/corpus/shakespeare.txt");
const CHUNK_CHARS: usize = 10_000;
const MAX_LENGTH_FIX_ATTEMPTS: usize = 10;

/// One prompt and its ready-to-send request body.
#[derive(Debug, Clone)]
pub struct DatasetEntry {
    /// Stable id of the conversation (written to `inputs.json` and records).
    pub session_id: String,
    /// Input length in tokens, as counted by the tokenizer.
    pub input_tokens: u32,
    /// Requested output length (`max_tokens`), if any.
    pub max_tokens: Option<u32>,
    /// The request body as JSON (for `inputs.json`).
    pub payload: serde_json::Value,
    /// The same body serialized once, so sending it costs no serialization.
    pub body: Bytes,
}

/// The prompts of a run.
#[derive(Debug, Clone, Default)]
pub struct Dataset {
    /// Entries in generation order; requests use them round-robin.
    pub entries: Vec<DatasetEntry>,
}

impl Dataset {
    /// The entry for the `n`-th request.
    pub fn entry(&self, n: u64) -> &DatasetEntry {
        &self.entries[(n % self.entries.len() as u64) as usize]
    }
}

/// The corpus as token ids for a tokenizer, computed once per tokenizer per process.
fn corpus_tokens(tokenizer: &dyn Tokenizer) -> Arc<Vec<u32>> {
    static CACHE: OnceLock<Mutex<HashMap<String, Arc<Vec<u32>>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(tokens) = cache
        .lock()
        .ok()
        .and_then(|c| c.get(tokenizer.name()).cloned())
    {
        return tokens;
    }
    let mut tokens = Vec::new();
    let mut chunk = String::with_capacity(CHUNK_CHARS + 200);
    let mut flush = |chunk: &mut String| {
        if !chunk.is_empty() {
            tokens.extend(tokenizer.encode(chunk));
            chunk.clear();
        }
    };
    for line in CORPUS.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if !chunk.is_empty() {
            chunk.push(' ');
        }
        chunk.push_str(line);
        if chunk.len() >= CHUNK_CHARS {
            flush(&mut chunk);
        }
    }
    flush(&mut chunk);
    let tokens = Arc::new(tokens);
    if let Ok(mut c) = cache.lock() {
        c.insert(tokenizer.name().to_string(), tokens.clone());
    }
    tokens
}

/// Everything prompt generation needs.
pub struct SyntheticRequest<'a> {
    /// Number of prompts to generate.
    pub entries: u32,
    /// Length distributions.
    pub prompts: &'a PromptsSpec,
    /// Seed for lengths, offsets and session ids.
    pub seed: u64,
    /// Counts tokens.
    pub tokenizer: &'a dyn Tokenizer,
    /// Builds the request bodies.
    pub endpoint: &'a dyn Endpoint,
    /// Model, streaming and extra fields for the bodies.
    pub body: &'a BodyContext,
}

/// Generates the dataset.
pub fn generate(req: &SyntheticRequest<'_>) -> anyhow::Result<Dataset> {
    let corpus = corpus_tokens(req.tokenizer);
    anyhow::ensure!(
        !corpus.is_empty(),
        "the prompt corpus produced no tokens with {}",
        req.tokenizer.name()
    );
    let mut rng = ChaCha8Rng::seed_from_u64(req.seed);
    let mut entries = Vec::with_capacity(req.entries as usize);
    for _ in 0..req.entries {
        let isl = req.prompts.isl.sample(&mut rng);
        let max_tokens = req.prompts.osl.map(|d| d.sample(&mut rng));
        let start = rng.random_range(0..corpus.len());
        let prompt = prompt_of_exact_length(req.tokenizer, &corpus, start, isl as usize);
        let session_id = uuid::Builder::from_random_bytes(rng.random())
            .into_uuid()
            .to_string();
        let payload = req.endpoint.build_body(&prompt, max_tokens, req.body);
        // What the body sends is what is counted (a rankings body cuts the prompt in pieces).
        let input_tokens = req
            .endpoint
            .input_texts(&prompt, &payload)
            .iter()
            .map(|t| req.tokenizer.count(t))
            .sum::<usize>() as u32;
        let body = Bytes::from(serde_json::to_vec(&payload)?);
        entries.push(DatasetEntry {
            session_id,
            input_tokens,
            max_tokens,
            payload,
            body,
        });
    }
    Ok(Dataset { entries })
}

/// `n` corpus tokens starting at `start`, wrapping around the end.
fn window(corpus: &[u32], start: usize, n: usize) -> Vec<u32> {
    corpus.iter().cycle().skip(start).take(n).copied().collect()
}

/// Decodes a window and adjusts it until the text re-encodes to exactly `target` tokens.
fn prompt_of_exact_length(
    tokenizer: &dyn Tokenizer,
    corpus: &[u32],
    start: usize,
    target: usize,
) -> String {
    let mut tokens = window(corpus, start, target);
    let mut next = start + target;
    let mut text = tokenizer.decode(&tokens);
    for _ in 0..MAX_LENGTH_FIX_ATTEMPTS {
        tokens = tokenizer.encode(&text);
        if tokens.len() == target {
            return text;
        }
        if tokens.len() > target {
            tokens.truncate(target);
        } else {
            let missing = target - tokens.len();
            tokens.extend(window(corpus, next % corpus.len(), missing));
            next += missing;
        }
        text = tokenizer.decode(&tokens);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::tokenizer::builtin;
    use crate::endpoint::endpoint_for;
    use crate::spec::{EndpointType, TokenDistribution};

    fn make(seed: u64, isl: TokenDistribution) -> Dataset {
        let tokenizer = builtin();
        let prompts = PromptsSpec {
            isl,
            osl: Some(TokenDistribution::fixed(32.0)),
        };
        let body = BodyContext {
            model: "m".into(),
            streaming: true,
            use_legacy_max_tokens: false,
            extra: Default::default(),
            rankings_passages: None,
            template: None,
            per_chunk_usage: false,
        };
        generate(&SyntheticRequest {
            entries: 20,
            prompts: &prompts,
            seed,
            tokenizer: tokenizer.as_ref(),
            endpoint: endpoint_for(EndpointType::Chat),
            body: &body,
        })
        .unwrap()
    }

    #[test]
    fn prompts_have_exact_token_counts() {
        let tokenizer = builtin();
        for isl in [1.0, 7.0, 100.0, 1000.0] {
            let ds = make(3, TokenDistribution::fixed(isl));
            for e in &ds.entries {
                let prompt = e.payload["messages"][0]["content"].as_str().unwrap();
                assert_eq!(
                    tokenizer.count(prompt),
                    isl as usize,
                    "isl {isl}: {prompt:?}"
                );
                assert_eq!(e.input_tokens, isl as u32);
            }
        }
    }

    #[test]
    fn same_seed_gives_identical_bodies_and_other_seeds_differ() {
        let isl = TokenDistribution {
            mean: 200.0,
            stddev: 30.0,
        };
        let a = make(42, isl);
        let b = make(42, isl);
        let c = make(43, isl);
        let bodies = |d: &Dataset| {
            d.entries
                .iter()
                .map(|e| (e.session_id.clone(), e.body.clone()))
                .collect::<Vec<_>>()
        };
        assert_eq!(bodies(&a), bodies(&b));
        assert_ne!(bodies(&a), bodies(&c));
    }
}
