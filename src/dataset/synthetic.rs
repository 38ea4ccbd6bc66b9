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
    pub session_id: Arc<str>,
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
    /// The entry for the `n`-th request (entries are used round robin), and what its record says
    /// it sent.
    pub fn entry(&self, n: u64) -> (&DatasetEntry, super::RequestInput) {
        let index = (n % self.entries.len() as u64) as u32;
        let entry = &self.entries[index as usize];
        let input = super::RequestInput {
            conversation: entry.session_id.clone(),
            session_num: index,
            turn: 0,
            input_tokens: entry.input_tokens,
            max_tokens: entry.max_tokens,
            session_end: None,
        };
        (entry, input)
    }
}

/// The corpus as token ids for a tokenizer, computed once per tokenizer per process.
pub(crate) fn corpus_tokens(tokenizer: &dyn Tokenizer) -> Arc<Vec<u32>> {
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
    let prompts = req.prompts;
    // The shared texts come from their own stream, so adding a prefix does not move the prompts.
    let mut shared_rng = ChaCha8Rng::seed_from_u64(req.seed ^ 0x7072_6566_6978);
    let mut shared_text = |tokens: u32| {
        let start = shared_rng.random_range(0..corpus.len());
        prompt_of_exact_length(req.tokenizer, &corpus, start, tokens as usize)
    };
    let system = prompts.shared_system_length.map(&mut shared_text);
    let prefixes: Vec<String> = match prompts.prefix_length {
        Some(length) => (0..prompts.prefix_pool_size.unwrap_or(DEFAULT_PREFIX_POOL))
            .map(|_| shared_text(length))
            .collect(),
        None => Vec::new(),
    };
    let mixture = prompts.seq_dist.as_deref().map(cumulative);
    let mut entries = Vec::with_capacity(req.entries as usize);
    for _ in 0..req.entries {
        let (isl, max_tokens) = match &mixture {
            Some(mixture) => {
                let u: f64 = rng.random();
                let share = mixture
                    .iter()
                    .find(|(upto, _)| u < *upto)
                    .or(mixture.last())
                    .map(|(_, s)| *s);
                match share {
                    Some(s) => (s.isl, Some(s.osl)),
                    None => (prompts.isl.sample(&mut rng), None),
                }
            }
            None => (
                prompts.isl.sample(&mut rng),
                prompts.osl.map(|d| d.sample(&mut rng)),
            ),
        };
        let start = rng.random_range(0..corpus.len());
        let mut prompt = prompt_of_exact_length(req.tokenizer, &corpus, start, isl as usize);
        if !prefixes.is_empty() {
            let prefix = &prefixes[rng.random_range(0..prefixes.len())];
            prompt = format!("{prefix} {prompt}");
        }
        let session_id = uuid::Builder::from_random_bytes(rng.random())
            .into_uuid()
            .to_string()
            .into();
        let (payload, input_tokens) = body_with_system(req, &prompt, max_tokens, system.as_deref());
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

/// Prefixes in a pool when only their length is given (AIPerf's default).
pub const DEFAULT_PREFIX_POOL: u32 = 100;

/// A mixture as (cumulative probability up to and including the share, share).
fn cumulative(shares: &[crate::spec::SequenceShare]) -> Vec<(f64, crate::spec::SequenceShare)> {
    let total: f64 = shares.iter().map(|s| s.probability).sum();
    let mut upto = 0.0;
    shares
        .iter()
        .filter(|s| s.probability > 0.0)
        .map(|s| {
            upto += s.probability / total;
            (upto, *s)
        })
        .collect()
}

/// The body for `prompt`, with the shared system prompt as a system message (chat) or before
/// the prompt (other APIs), and the input tokens it carries: what the body sends is what is
/// counted (a rankings body cuts the prompt in pieces).
fn body_with_system(
    req: &SyntheticRequest<'_>,
    prompt: &str,
    max_tokens: Option<u32>,
    system: Option<&str>,
) -> (serde_json::Value, u32) {
    let count_texts = |prompt: &str, payload: &serde_json::Value| {
        req.endpoint
            .input_texts(prompt, payload)
            .iter()
            .map(|t| req.tokenizer.count(t))
            .sum::<usize>()
    };
    let Some(system) = system else {
        let payload = req.endpoint.build_body(prompt, max_tokens, req.body);
        let tokens = count_texts(prompt, &payload);
        return (payload, tokens as u32);
    };
    let mut payload = req.endpoint.build_body(prompt, max_tokens, req.body);
    if let Some(messages) = payload
        .get_mut("messages")
        .and_then(serde_json::Value::as_array_mut)
    {
        messages.insert(0, serde_json::json!({"role": "system", "content": system}));
        let tokens = count_texts(prompt, &payload) + req.tokenizer.count(system);
        return (payload, tokens as u32);
    }
    let joined = format!("{system} {prompt}");
    let payload = req.endpoint.build_body(&joined, max_tokens, req.body);
    let tokens = count_texts(&joined, &payload);
    (payload, tokens as u32)
}

/// `n` corpus tokens starting at `start`, wrapping around the end.
pub(crate) fn window(corpus: &[u32], start: usize, n: usize) -> Vec<u32> {
    corpus.iter().cycle().skip(start).take(n).copied().collect()
}

/// Decodes a window and adjusts it until the text re-encodes to exactly `target` tokens.
pub(crate) fn prompt_of_exact_length(
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
        let prompts = PromptsSpec::of_length(isl, Some(TokenDistribution::fixed(32.0)));
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
