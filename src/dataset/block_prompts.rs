//! Prompts built from KV-cache block ids (a Mooncake trace's `hash_ids`).
//!
//! Each id stands for one block of `block_size` tokens. The block's text is a window of the
//! corpus (in the run's tokenizer's tokens) at a place chosen from the seed and the id, starting
//! at a token that begins with a space, so the same id gives the same bytes everywhere in the
//! run and a block joins the text before it at a word boundary. A prompt is its blocks' text in
//! order; only the last block is cut or extended so that the whole prompt has exactly
//! `input_length` tokens. Requests that share leading ids therefore share a byte-identical
//! prefix, which is what a server's prefix cache sees.

use super::synthetic::{corpus_tokens, prompt_of_exact_length, window};
use super::tokenizer::Tokenizer;
use std::collections::HashMap;
use std::sync::Arc;

/// Blocks whose text is kept for reuse; the cache is emptied when it fills (ids shared across
/// a trace, its system prompts, are asked for again at once and come back first).
const CACHED_BLOCKS: usize = 4096;
const MAX_LENGTH_FIX_ATTEMPTS: usize = 10;

/// Builds block prompts for one run (one tokenizer, one seed, one block size).
pub struct BlockPrompts {
    tokenizer: Arc<dyn Tokenizer>,
    corpus: Arc<Vec<u32>>,
    /// Corpus positions whose token starts with a space followed by something else.
    word_starts: Vec<u32>,
    block_size: u32,
    seed: u64,
    cache: HashMap<u32, Arc<str>>,
}

/// A 64-bit mix of the seed and an id (SplitMix64's finaliser): spreads neighbouring ids over
/// the corpus.
fn mix(seed: u64, id: u64) -> u64 {
    let mut z = seed ^ id.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl BlockPrompts {
    /// Prepares the corpus for `tokenizer` (tokenized once per process).
    pub fn new(tokenizer: Arc<dyn Tokenizer>, block_size: u32, seed: u64) -> anyhow::Result<Self> {
        let corpus = corpus_tokens(tokenizer.as_ref());
        anyhow::ensure!(
            !corpus.is_empty(),
            "the prompt corpus produced no tokens with {}",
            tokenizer.name()
        );
        let word_starts: Vec<u32> = corpus
            .iter()
            .enumerate()
            .filter(|&(_, &t)| {
                let text = tokenizer.decode(&[t]);
                let mut chars = text.chars();
                chars.next() == Some(' ') && chars.next().is_some_and(|c| !c.is_whitespace())
            })
            .map(|(i, _)| i as u32)
            .collect();
        Ok(Self {
            tokenizer,
            corpus,
            word_starts,
            block_size: block_size.max(1),
            seed,
            cache: HashMap::new(),
        })
    }

    /// Where block `id`'s window starts in the corpus.
    fn block_start(&self, id: u64) -> usize {
        let h = mix(self.seed, id);
        if self.word_starts.is_empty() {
            (h % self.corpus.len() as u64) as usize
        } else {
            self.word_starts[(h % self.word_starts.len() as u64) as usize] as usize
        }
    }

    /// The text of block `id`: `block_size` corpus tokens from its start, decoded.
    fn block_text(&mut self, id: u32) -> Arc<str> {
        if let Some(text) = self.cache.get(&id) {
            return text.clone();
        }
        let tokens = window(
            &self.corpus,
            self.block_start(u64::from(id)),
            self.block_size as usize,
        );
        let text: Arc<str> = self.tokenizer.decode(&tokens).into();
        if self.cache.len() >= CACHED_BLOCKS {
            self.cache.clear();
        }
        self.cache.insert(id, text.clone());
        text
    }

    /// A prompt of exactly `input_length` tokens: the blocks of `hash_ids` in order, the last
    /// one cut or extended to the length. Without ids, an unshared prompt whose place in the
    /// corpus comes from `unshared_key` (the conversation and turn).
    pub fn prompt(&mut self, input_length: u32, hash_ids: &[u32], unshared_key: u64) -> String {
        let target = input_length as usize;
        let Some((&last, shared)) = hash_ids.split_last() else {
            let start =
                (mix(self.seed ^ 0x756e_7368, unshared_key) % self.corpus.len() as u64) as usize;
            return prompt_of_exact_length(self.tokenizer.as_ref(), &self.corpus, start, target);
        };
        let mut prefix = String::new();
        for &id in shared {
            prefix.push_str(&self.block_text(id));
        }
        let shared_tokens = shared.len() * self.block_size as usize;
        let tail_start = self.block_start(u64::from(last));
        let mut tail_len = target.saturating_sub(shared_tokens);
        let mut text = String::new();
        for _ in 0..MAX_LENGTH_FIX_ATTEMPTS {
            text.clear();
            text.push_str(&prefix);
            text.push_str(
                &self
                    .tokenizer
                    .decode(&window(&self.corpus, tail_start, tail_len)),
            );
            let count = self.tokenizer.count(&text);
            if count == target {
                break;
            }
            // Only the tail moves: the shared blocks keep their bytes.
            tail_len = if count > target {
                tail_len.saturating_sub(count - target)
            } else {
                tail_len + (target - count)
            };
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::tokenizer::builtin;

    #[test]
    fn shared_ids_give_identical_prefixes_and_exact_lengths() {
        let tokenizer = builtin();
        let mut blocks = BlockPrompts::new(tokenizer.clone(), 16, 7).unwrap();
        let a = blocks.prompt(40, &[1, 2, 3], 0);
        let b = blocks.prompt(45, &[1, 2, 9], 1);
        assert_eq!(tokenizer.count(&a), 40);
        assert_eq!(tokenizer.count(&b), 45);
        let shared = blocks.block_text(1).len() + blocks.block_text(2).len();
        assert_eq!(a[..shared], b[..shared]);
        assert_ne!(a[shared..], b[shared..]);
        // The same ids in another run with the same seed give the same bytes.
        let mut again = BlockPrompts::new(tokenizer.clone(), 16, 7).unwrap();
        assert_eq!(again.prompt(40, &[1, 2, 3], 5), a);
        let mut other_seed = BlockPrompts::new(tokenizer, 16, 8).unwrap();
        assert_ne!(other_seed.prompt(40, &[1, 2, 3], 0), a);
    }

    #[test]
    fn exact_lengths_for_every_block_layout() {
        let tokenizer = builtin();
        let mut blocks = BlockPrompts::new(tokenizer.clone(), 512, 1).unwrap();
        for (length, ids) in [
            (1u32, vec![5u32]),
            (511, vec![5]),
            (512, vec![5]),
            (513, vec![5, 6]),
            (6955, (46..60).collect::<Vec<_>>()),
            (2000, vec![1]),
            (300, vec![]),
        ] {
            let prompt = blocks.prompt(length, &ids, 3);
            assert_eq!(
                tokenizer.count(&prompt),
                length as usize,
                "{length} {ids:?}"
            );
        }
    }
}

#[cfg(test)]
mod hf_tests {
    use super::*;

    /// A byte-level BPE tokenizer.json (GPT-2's layout) trained on the corpus, as a model's
    /// own tokenizer would be.
    fn trained_tokenizer(dir: &std::path::Path) -> Arc<dyn Tokenizer> {
        use tokenizers::models::bpe::{BPE, BpeTrainerBuilder};
        use tokenizers::normalizers::NormalizerWrapper;
        use tokenizers::pre_tokenizers::byte_level::ByteLevel;
        use tokenizers::processors::PostProcessorWrapper;
        use tokenizers::{Model, TokenizerBuilder};
        let corpus = dir.join("corpus.txt");
        std::fs::write(&corpus, &crate::dataset::synthetic::CORPUS[..200_000]).unwrap();
        let mut trainer = BpeTrainerBuilder::new()
            .vocab_size(3000)
            .show_progress(false)
            .initial_alphabet(ByteLevel::alphabet().into_iter().collect())
            .build();
        let mut tokenizer = TokenizerBuilder::<
            BPE,
            NormalizerWrapper,
            ByteLevel,
            PostProcessorWrapper,
            ByteLevel,
        >::new()
        .with_model(BPE::default())
        .with_pre_tokenizer(Some(ByteLevel::default()))
        .with_decoder(Some(ByteLevel::default()))
        .build()
        .unwrap();
        tokenizer
            .train_from_files(&mut trainer, vec![corpus.display().to_string()])
            .unwrap();
        assert!(tokenizer.get_model().get_vocab_size() > 1000);
        let path = dir.join("tokenizer.json");
        tokenizer.save(&path, false).unwrap();
        crate::dataset::tokenizer::resolve(Some(path.to_str().unwrap()), "")
            .unwrap()
            .0
    }

    #[test]
    fn exact_lengths_and_shared_prefixes_with_a_tokenizer_json() {
        let dir = tempfile::tempdir().unwrap();
        let tokenizer = trained_tokenizer(dir.path());
        let mut blocks = BlockPrompts::new(tokenizer.clone(), 32, 3).unwrap();
        for (length, ids) in [
            (100u32, vec![1u32, 2, 3, 4]),
            (97, vec![1, 2, 3, 9]),
            (10, vec![1]),
            (64, vec![]),
        ] {
            let prompt = blocks.prompt(length, &ids, 0);
            assert_eq!(
                tokenizer.count(&prompt),
                length as usize,
                "{length} {ids:?}"
            );
        }
        let a = blocks.prompt(100, &[1, 2, 3, 4], 0);
        let b = blocks.prompt(97, &[1, 2, 3, 9], 0);
        let shared: usize = [1, 2, 3]
            .iter()
            .map(|&id| blocks.block_text(id).len())
            .sum();
        assert_eq!(a[..shared], b[..shared]);
    }
}
