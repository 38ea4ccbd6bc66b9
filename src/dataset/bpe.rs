//! The built-in tokenizer, OpenAI's `o200k_base` byte-pair encoding, in a compact form.
//!
//! `build.rs` writes the table once at compile time: every token's bytes in rank order, one
//! buffer, with their offsets. This module reads it in place from the binary and adds one index
//! of 4-byte ranks, so the tokenizer costs about 3.5 MiB of memory instead of the ~36 MiB of hash
//! maps a general BPE library builds (docs/performance.md, "Memory"). Tokens are identical to
//! `tiktoken`'s: the same pre-tokenizing pattern, then the same merge rule (repeatedly join the
//! adjacent pair whose joined bytes have the lowest rank), checked against `tiktoken-rs` in the
//! tests below.

use hashbrown::DefaultHashBuilder;
use hashbrown::HashTable;
use std::hash::BuildHasher;

/// The table `build.rs` wrote: `n`, `n + 1` offsets, the bytes (all little-endian u32).
static TABLE: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/o200k_base.bin"));

/// o200k_base's pre-tokenizer: words with their leading punctuation and contractions, numbers of
/// up to three digits, punctuation runs, newlines, and whitespace (as `tiktoken` defines it).
pub(super) const PATTERN: &str = concat!(
    r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?",
    "|",
    r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?",
    "|",
    r"\p{N}{1,3}",
    "|",
    r" ?[^\s\p{L}\p{N}]+[\r\n/]*",
    "|",
    r"\s*[\r\n]+",
    "|",
    r"\s+(?!\S)",
    "|",
    r"\s+",
);

/// The rank of a pair that is not a token.
const NO_RANK: u32 = u32::MAX;

/// A byte-pair encoder over a table of tokens in rank order.
pub struct Bpe {
    offsets: &'static [u8],
    bytes: &'static [u8],
    count: u32,
    index: HashTable<u32>,
    hasher: DefaultHashBuilder,
    pattern: fancy_regex::Regex,
}

fn read_u32(bytes: &[u8], at: usize) -> u32 {
    let mut word = [0u8; 4];
    word.copy_from_slice(&bytes[at..at + 4]);
    u32::from_le_bytes(word)
}

impl Bpe {
    /// The built-in table. Its layout is checked when it is built (`build.rs`) and by the tests.
    pub fn o200k_base() -> Self {
        let count = read_u32(TABLE, 0);
        let offsets_end = 4 + (count as usize + 1) * 4;
        let mut bpe = Self {
            offsets: &TABLE[4..offsets_end],
            bytes: &TABLE[offsets_end..],
            count,
            index: HashTable::with_capacity(count as usize),
            hasher: DefaultHashBuilder::default(),
            // The pattern is a constant that the tests compile; it cannot fail at run time.
            pattern: fancy_regex::Regex::new(PATTERN).expect("the o200k pattern compiles"),
        };
        for rank in 0..count {
            let hash = bpe.hasher.hash_one(bpe.token(rank));
            let (bytes, offsets, hasher) = (bpe.bytes, bpe.offsets, &bpe.hasher);
            bpe.index.insert_unique(hash, rank, |&r| {
                hasher.hash_one(token_of(bytes, offsets, r))
            });
        }
        bpe
    }

    /// The bytes of token `rank` (empty for a rank outside the table).
    pub fn token(&self, rank: u32) -> &'static [u8] {
        if rank >= self.count {
            return &[];
        }
        token_of(self.bytes, self.offsets, rank)
    }

    /// The rank of a token's bytes, if they are one.
    fn rank(&self, piece: &[u8]) -> Option<u32> {
        let hash = self.hasher.hash_one(piece);
        self.index
            .find(hash, |&r| token_of(self.bytes, self.offsets, r) == piece)
            .copied()
    }

    /// The tokens of `text` (no special tokens), as `tiktoken`'s `encode_ordinary`.
    pub fn encode(&self, text: &str) -> Vec<u32> {
        let mut out = Vec::with_capacity(text.len() / 3 + 1);
        let bytes = text.as_bytes();
        let mut start = 0;
        while start < bytes.len() {
            let end = match super::pretokenize::ascii_piece(bytes, start) {
                Some(end) => end,
                // Every position starts a piece (the pattern matches any character), so the
                // regex's match from here begins here. It only fails on backtracking limits,
                // which this pattern cannot reach; the rest is then merged as one piece.
                None => match self.pattern.find_from_pos(text, start) {
                    Ok(Some(found)) if found.end() > start => found.end(),
                    _ => bytes.len(),
                },
            };
            let piece = &bytes[start..end];
            match self.rank(piece) {
                Some(rank) => out.push(rank),
                None => self.merge_into(piece, &mut out),
            }
            start = end;
        }
        out
    }

    /// The text of `ranks`; bytes that are not UTF-8 are replaced, unknown ranks skipped.
    pub fn decode(&self, ranks: &[u32]) -> String {
        let mut bytes = Vec::with_capacity(ranks.len() * 4);
        for &rank in ranks {
            bytes.extend_from_slice(self.token(rank));
        }
        String::from_utf8_lossy(&bytes).into_owned()
    }

    /// Byte-pair merging of one piece that is not a token itself: start from single bytes and
    /// join, again and again, the adjacent pair whose joined bytes have the lowest rank.
    fn merge_into(&self, piece: &[u8], out: &mut Vec<u32>) {
        if piece.len() == 1 {
            out.extend(self.rank(piece));
            return;
        }
        // starts[i] is where part i begins; ranks[i] the rank of parts i and i+1 joined.
        let mut starts: Vec<usize> = (0..=piece.len()).collect();
        let pair_rank = |starts: &[usize], i: usize| -> u32 {
            if i + 2 < starts.len() {
                self.rank(&piece[starts[i]..starts[i + 2]])
                    .unwrap_or(NO_RANK)
            } else {
                NO_RANK
            }
        };
        let mut ranks: Vec<u32> = (0..starts.len()).map(|i| pair_rank(&starts, i)).collect();
        while let Some((i, _)) = ranks[..starts.len() - 1]
            .iter()
            .enumerate()
            .filter(|(_, r)| **r != NO_RANK)
            .min_by_key(|(_, r)| **r)
        {
            starts.remove(i + 1);
            ranks.remove(i + 1);
            ranks[i] = pair_rank(&starts, i);
            if i > 0 {
                ranks[i - 1] = pair_rank(&starts, i - 1);
            }
        }
        for w in starts.windows(2) {
            out.extend(self.rank(&piece[w[0]..w[1]]));
        }
    }
}

fn token_of(bytes: &'static [u8], offsets: &'static [u8], rank: u32) -> &'static [u8] {
    let i = rank as usize * 4;
    let (start, end) = (
        read_u32(offsets, i) as usize,
        read_u32(offsets, i + 4) as usize,
    );
    &bytes[start..end]
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::sync::OnceLock;

    fn ours() -> &'static Bpe {
        static BPE: OnceLock<Bpe> = OnceLock::new();
        BPE.get_or_init(Bpe::o200k_base)
    }

    fn oracle() -> &'static tiktoken_rs::CoreBPE {
        tiktoken_rs::o200k_base_singleton()
    }

    #[test]
    fn the_table_is_o200k_base() {
        assert_eq!(ours().count, 199_998);
        assert_eq!(ours().token(0), b"!");
        assert_eq!(ours().token(199_998), b"");
    }

    #[test]
    fn the_corpus_encodes_exactly_as_tiktoken() {
        let text = crate::dataset::synthetic::CORPUS;
        let (a, b) = (ours().encode(text), oracle().encode_ordinary(text));
        assert_eq!(a.len(), b.len());
        assert_eq!(a, b);
        assert_eq!(ours().decode(&a), text);
    }

    #[test]
    fn tricky_text_encodes_exactly_as_tiktoken() {
        for text in [
            "",
            " ",
            "hello world",
            "Don't you LOVE it's 12345 numbers?!\n\n\tTabs   and  spaces  ",
            "日本語のテキストと emoji 🙂🙂 and ünïcödé",
            "a\r\nb\rc\n\n\n   \n",
            "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
            "function(x) { return x*2; } // comment",
        ] {
            assert_eq!(
                ours().encode(text),
                oracle().encode_ordinary(text),
                "{text:?}"
            );
        }
    }

    #[test]
    fn decoding_replaces_broken_utf8_and_skips_unknown_ranks() {
        // "é" alone is the two bytes C3 A9; the first byte alone is not UTF-8.
        let lone_lead = ours().rank(&[0xC3]).unwrap();
        assert_eq!(ours().decode(&[lone_lead]), "\u{FFFD}");
        let hello = ours().encode("hello");
        assert_eq!(ours().decode(&[hello[0], 4_000_000_000]), "hello");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn any_text_encodes_exactly_as_tiktoken(text in "\\PC{0,80}") {
            prop_assert_eq!(ours().encode(&text), oracle().encode_ordinary(&text));
        }

        #[test]
        fn any_ascii_round_trips(text in "[ -~\\n\\t]{0,120}") {
            prop_assert_eq!(ours().decode(&ours().encode(&text)), text);
        }
    }
}
