//! `/v1/completions`.

use super::{BodyContext, Endpoint, ResponseDelta, merge_extra, wire};
use serde_json::{Map, Value, json};

/// The legacy text completions API.
pub struct Completions;

impl Endpoint for Completions {
    fn build_body(&self, prompt: &str, max_tokens: Option<u32>, ctx: &BodyContext) -> Value {
        let mut body = Map::new();
        body.insert("prompt".into(), json!(prompt));
        body.insert("model".into(), json!(ctx.model));
        body.insert("stream".into(), json!(ctx.streaming));
        if let Some(n) = max_tokens {
            body.insert("max_tokens".into(), json!(n));
        }
        if ctx.streaming {
            body.insert("stream_options".into(), json!({"include_usage": true}));
        }
        merge_extra(&mut body, &ctx.extra);
        Value::Object(body)
    }

    fn parse_event(&self, data: &[u8]) -> Result<ResponseDelta, String> {
        wire::parse_generation(data)
    }

    fn parse_body(&self, body: &[u8]) -> Result<ResponseDelta, String> {
        wire::parse_generation(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        };
        let body = Completions.build_body("p", Some(4), &ctx);
        assert_eq!(
            serde_json::to_string(&body).unwrap(),
            r#"{"prompt":"p","model":"m","stream":false,"max_tokens":4}"#
        );
    }
}
