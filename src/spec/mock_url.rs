//! The embedded mock server's settings, as a `mock://?key=value&...` URL writes them (and as
//! `aiperf mock-server` flags set them). Here, at the bottom, because checking a URL is part of
//! checking a spec; the server itself is `crate::mock`.

use serde::{Deserialize, Serialize};

crate::sentence_error!(
    /// A `mock://` URL with an unknown setting or a value out of range.
    InvalidMockUrl
);

/// How the mock server behaves. Probabilities are fractions in [0, 1].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MockConfig {
    /// Model id listed by /v1/models (requests may name any model).
    pub model: String,
    /// Time to first token at no load, in ms (plus prefill time per prompt token).
    pub ttft_ms: f64,
    /// Prefill time per prompt token, in ms.
    pub prefill_ms_per_token: f64,
    /// Time between tokens at no load, in ms.
    pub itl_ms: f64,
    /// Random variation of every delay, as a fraction (0.1 = ±10%, uniform).
    pub jitter: f64,
    /// Maximum sequences decoded together; 0 = unlimited (every request on its own clock).
    /// Above 0 the continuous-batching capacity model applies.
    pub max_batch: u32,
    /// Growth of the decode step time per extra sequence in the batch, in ms.
    pub decode_ms_per_seq: f64,
    /// Output length when the request sets no max_tokens.
    pub default_max_tokens: u32,
    /// Reasoning tokens (`reasoning_content`) emitted before the answer.
    pub reasoning_tokens: u32,
    /// Answer tokens sent together in the first streamed chunk (as servers with a stream
    /// interval do); 1 = one token per chunk.
    pub first_chunk_tokens: u32,
    /// Fraction of requests answered with an error status.
    pub error_rate: f64,
    /// The status of injected errors.
    pub error_status: u16,
    /// Fraction of requests answered 429 with Retry-After.
    pub rate_limit_rate: f64,
    /// Retry-After seconds on 429 answers.
    pub retry_after_s: u32,
    /// Fraction of streams whose connection is reset halfway.
    pub reset_rate: f64,
    /// Fraction of streams with a malformed (truncated JSON) event halfway.
    pub malformed_rate: f64,
    /// Fraction of streams that send an error object halfway and end.
    pub stream_error_rate: f64,
    /// Fraction of streams that stall halfway for `stall_ms`.
    pub stall_rate: f64,
    /// Length of an injected stall, in ms.
    pub stall_ms: f64,
    /// Seed for jitter and fault choices.
    pub seed: u64,
}

impl Default for MockConfig {
    fn default() -> Self {
        Self {
            model: "mock-model".into(),
            ttft_ms: 20.0,
            prefill_ms_per_token: 0.0,
            itl_ms: 5.0,
            jitter: 0.0,
            max_batch: 0,
            decode_ms_per_seq: 0.0,
            default_max_tokens: 32,
            reasoning_tokens: 0,
            first_chunk_tokens: 1,
            error_rate: 0.0,
            error_status: 500,
            rate_limit_rate: 0.0,
            retry_after_s: 1,
            reset_rate: 0.0,
            malformed_rate: 0.0,
            stream_error_rate: 0.0,
            stall_rate: 0.0,
            stall_ms: 1000.0,
            seed: 0,
        }
    }
}

impl MockConfig {
    /// Parses the query of a `mock://` URL (`mock://?ttft_ms=50&max_batch=8`); keys are the field
    /// names above (snake_case).
    pub fn from_mock_url(url: &str) -> Result<Self, InvalidMockUrl> {
        let parsed =
            url::Url::parse(url).map_err(|e| format!("invalid mock:// URL '{url}': {e}"))?;
        if parsed.scheme() != "mock" {
            return Err(format!("'{url}' is not a mock:// URL").into());
        }
        let mut map = serde_json::Map::new();
        for (key, value) in parsed.query_pairs() {
            let json = match value.parse::<f64>() {
                Ok(n) if key != "model" => serde_json::json!(n),
                _ => serde_json::json!(value),
            };
            map.insert(key.into_owned(), json);
        }
        // Integers arrive as floats; let serde see integral values as integers.
        for value in map.values_mut() {
            if let Some(f) = value.as_f64()
                && f.fract() == 0.0
                && f >= 0.0
            {
                *value = serde_json::json!(f as u64);
            }
        }
        let config: MockConfig = serde_json::from_value(serde_json::Value::Object(map))
            .map_err(|e| format!("invalid mock:// setting in '{url}': {e}"))?;
        config.validate()?;
        Ok(config)
    }

    /// Checks ranges.
    pub fn validate(&self) -> Result<(), InvalidMockUrl> {
        for (name, p) in [
            ("error_rate", self.error_rate),
            ("rate_limit_rate", self.rate_limit_rate),
            ("reset_rate", self.reset_rate),
            ("malformed_rate", self.malformed_rate),
            ("stream_error_rate", self.stream_error_rate),
            ("stall_rate", self.stall_rate),
            ("jitter", self.jitter),
        ] {
            if !(0.0..=1.0).contains(&p) {
                return Err(format!("mock {name} must be between 0 and 1, got {p}").into());
            }
        }
        for (name, ms) in [
            ("ttft_ms", self.ttft_ms),
            ("itl_ms", self.itl_ms),
            ("prefill_ms_per_token", self.prefill_ms_per_token),
            ("decode_ms_per_seq", self.decode_ms_per_seq),
            ("stall_ms", self.stall_ms),
        ] {
            if !(ms.is_finite() && ms >= 0.0) {
                return Err(
                    format!("mock {name} must be a non-negative number of ms, got {ms}").into(),
                );
            }
        }
        if !(100..=599).contains(&self.error_status) {
            return Err(format!(
                "mock error_status must be an HTTP status, got {}",
                self.error_status
            )
            .into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mock_url_query_sets_fields() {
        let c = MockConfig::from_mock_url("mock://?ttft_ms=50&max_batch=8&error_rate=0.25&model=x")
            .unwrap();
        assert_eq!(
            (c.ttft_ms, c.max_batch, c.error_rate, c.model.as_str()),
            (50.0, 8, 0.25, "x")
        );
        assert_eq!(
            MockConfig::from_mock_url("mock://").unwrap(),
            MockConfig::default()
        );
    }

    #[test]
    fn mock_url_rejects_unknown_keys_and_bad_ranges() {
        let err = MockConfig::from_mock_url("mock://?ttft=5").unwrap_err();
        assert!(err.0.contains("unknown field `ttft`"), "{err}");
        assert!(MockConfig::from_mock_url("mock://?error_rate=2").is_err());
        assert!(MockConfig::from_mock_url("http://?ttft_ms=2").is_err());
    }

    #[test]
    fn mock_url_values_are_percent_decoded() {
        let c = MockConfig::from_mock_url("mock://?model=my%20model&ttft_ms=1").unwrap();
        assert_eq!(c.model, "my model");
    }
}
