//! The names AIPerf's documentation reads sweep aggregates by (`metrics["ttft_p99_ms"]`), while
//! AIPerf 0.13's files, and ours, key them `<tag>_<stat>` (`time_to_first_token_p99`). The sweep
//! aggregate carries both, so a script written against either works (docs/outputs.md).

/// Latency tags and the short name the documentation gives them.
const SHORT_NAMES: &[(&str, &str)] = &[
    ("time_to_first_token", "ttft"),
    ("inter_token_latency", "itl"),
    ("request_latency", "latency"),
];

/// The documented name of a canonical `<tag>_<stat>` key in milliseconds (`ttft_p99_ms` for
/// `time_to_first_token_p99`), or `None` when the documentation has no name for it.
pub fn documented_name(key: &str, unit: &str) -> Option<String> {
    if unit != "ms" {
        return None;
    }
    SHORT_NAMES.iter().find_map(|(tag, short)| {
        let stat = key.strip_prefix(tag)?.strip_prefix('_')?;
        let known = matches!(stat, "avg" | "min" | "max" | "std")
            || stat.strip_prefix('p').is_some_and(|p| {
                !p.is_empty() && p.chars().all(|c| c.is_ascii_digit() || c == '.')
            });
        known.then(|| format!("{short}_{stat}_ms"))
    })
}

#[cfg(test)]
mod tests {
    use super::documented_name;

    #[test]
    fn latency_keys_get_their_documented_names() {
        let name = |k| documented_name(k, "ms");
        assert_eq!(
            name("time_to_first_token_p99").as_deref(),
            Some("ttft_p99_ms")
        );
        assert_eq!(
            name("time_to_first_token_p50").as_deref(),
            Some("ttft_p50_ms")
        );
        assert_eq!(
            name("inter_token_latency_p99").as_deref(),
            Some("itl_p99_ms")
        );
        assert_eq!(
            name("request_latency_p99").as_deref(),
            Some("latency_p99_ms")
        );
        assert_eq!(
            name("request_latency_avg").as_deref(),
            Some("latency_avg_ms")
        );
        assert_eq!(
            name("request_latency_p99.9").as_deref(),
            Some("latency_p99.9_ms")
        );
        // Not a latency the documentation names, or not in milliseconds.
        assert_eq!(name("request_throughput_avg"), None);
        assert_eq!(name("time_to_first_token_stats"), None);
        assert_eq!(name("time_to_first_token"), None);
        assert_eq!(documented_name("request_latency_p99", "sec"), None);
    }
}
