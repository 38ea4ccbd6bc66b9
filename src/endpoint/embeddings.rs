//! `/v1/embeddings`: no tokens are generated, so only latency and input metrics apply.

use super::{BodyContext, Endpoint, ResponseDelta, merge_extra, wire};
use serde::Deserialize;
use serde_json::{Map, Value, json};

/// The embeddings API.
pub struct Embeddings;

#[derive(Deserialize)]
struct WireEmbeddings {
    #[serde(default)]
    data: Option<Vec<serde::de::IgnoredAny>>,
    #[serde(default)]
    usage: Option<wire::WireUsage>,
    #[serde(default)]
    error: Option<Value>,
}

impl Endpoint for Embeddings {
    fn build_body(&self, prompt: &str, _max_tokens: Option<u32>, ctx: &BodyContext) -> Value {
        let mut body = Map::new();
        body.insert("input".into(), json!([prompt]));
        body.insert("model".into(), json!(ctx.model));
        merge_extra(&mut body, &ctx.extra);
        Value::Object(body)
    }

    fn parse_event<'a>(&self, data: &'a [u8]) -> Result<ResponseDelta<'a>, super::InvalidResponse> {
        self.parse_body(data)
    }

    fn parse_body<'a>(&self, body: &'a [u8]) -> Result<ResponseDelta<'a>, super::InvalidResponse> {
        let wire: WireEmbeddings = serde_json::from_slice(body)
            .map_err(|e| format!("malformed JSON in embeddings response ({e})"))?;
        let error = match (&wire.error, &wire.data) {
            (Some(e), _) => Some(wire::describe_error(e)),
            (None, None) => Some("embeddings response has no 'data'".to_string()),
            (None, Some(_)) => None,
        };
        Ok(ResponseDelta {
            usage: wire.usage.map(Into::into),
            error,
            ..ResponseDelta::default()
        })
    }
}
