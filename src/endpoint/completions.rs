//! `/v1/completions`.

use super::{BodyContext, Endpoint, ResponseDelta, generation_body, wire};
use serde_json::{Value, json};

/// The legacy text completions API.
pub struct Completions;

impl Endpoint for Completions {
    fn build_body(&self, prompt: &str, max_tokens: Option<u32>, ctx: &BodyContext) -> Value {
        generation_body(
            ("prompt", json!(prompt)),
            max_tokens.map(|n| ("max_tokens", n)),
            ctx,
        )
    }

    fn parse_event<'a>(&self, data: &'a [u8]) -> Result<ResponseDelta<'a>, super::InvalidResponse> {
        wire::parse_generation(data)
    }

    fn parse_body<'a>(&self, body: &'a [u8]) -> Result<ResponseDelta<'a>, super::InvalidResponse> {
        wire::parse_generation(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Map;

    #[test]
    fn text_choices_are_content() {
        let d = Completions
            .parse_event(br#"{"choices":[{"text":" world","index":0}]}"#)
            .unwrap();
        assert_eq!(d.content, " world");
        let ctx = BodyContext {
            model: "m".into(),
            streaming: false,
            use_legacy_max_tokens: false,
            extra: Map::new(),
            rankings_passages: None,
            template: None,
            per_chunk_usage: false,
        };
        let body = Completions.build_body("p", Some(4), &ctx);
        assert_eq!(
            serde_json::to_string(&body).unwrap(),
            r#"{"prompt":"p","model":"m","stream":false,"max_tokens":4}"#
        );
    }
}
