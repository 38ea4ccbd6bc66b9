//! The text the mock server generates: common English words, each exactly one token of the
//! built-in tokenizer when preceded by a space, so the client counts the tokens the server sent.

/// Words emitted in turn, each with its leading space.
pub const WORDS: &[&str] = &[
    " the", " of", " and", " to", " in", " is", " that", " it", " was", " for", " on", " are",
    " with", " as", " be", " at", " this", " have", " from", " or", " one", " had", " by", " word",
    " but", " not", " what", " all", " were", " we", " when", " your", " can", " said", " there",
    " use", " an", " each", " which", " she", " do", " how", " their", " if", " will", " up",
    " other", " about", " out", " many", " then", " them", " these", " so", " some", " her",
    " would", " make", " like", " him", " into", " time", " has", " look",
];

/// The `i`-th generated word.
pub fn word(i: u32) -> &'static str {
    WORDS[i as usize % WORDS.len()]
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_word_and_any_run_of_words_is_one_token_each() {
        let tokenizer = crate::dataset::tokenizer::builtin();
        for w in super::WORDS {
            assert_eq!(tokenizer.count(w), 1, "{w:?}");
        }
        let text: String = (0..500).map(super::word).collect();
        assert_eq!(tokenizer.count(&text), 500);
    }
}
