//! "Did you mean" suggestions for mistyped names.

/// The candidate closest to `input` by Jaro-Winkler similarity, if any is reasonably close.
pub fn closest<'a>(input: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(input, c), c))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    #[test]
    fn finds_near_misses_only() {
        assert_eq!(
            super::closest("concurency", ["concurrency", "rate"]),
            Some("concurrency")
        );
        assert_eq!(super::closest("zzz", ["concurrency", "rate"]), None);
    }
}
