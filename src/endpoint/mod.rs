//! Endpoint flavours: how a request body is built and how a response is read, per API type.
//!
//! One [`Endpoint`] implementation per API (chat, completions, embeddings, rankings, and a body template). The load engine only
//! sends the pre-built bodies and stores raw bytes; parsing happens off the timing path, in the
//! record processor, through [`Endpoint::parse_event`] / [`Endpoint::parse_body`].

mod chat;
mod completions;
mod embeddings;
mod fast_chunk;
pub mod rankings;
mod template;
mod wire;

pub use wire::{ResponseDelta, Usage};

use crate::spec::{EndpointSpec, EndpointType};
use serde_json::{Map, Value};

/// What every request body needs besides the prompt.
#[derive(Debug, Clone)]
pub struct BodyContext {
    /// Model id sent in the body.
    pub model: String,
    /// Whether to request a stream.
    pub streaming: bool,
    /// Send `max_tokens` instead of `max_completion_tokens` (chat).
    pub use_legacy_max_tokens: bool,
    /// Extra fields merged into the body last (they win over built-in fields).
    pub extra: Map<String, Value>,
    /// Rankings: passages per query (default [`rankings::DEFAULT_PASSAGES`]).
    pub rankings_passages: Option<u32>,
    /// Template: the body template.
    pub template: Option<String>,
    /// Ask for usage in every streamed chunk (`continuous_usage_stats`).
    pub per_chunk_usage: bool,
}

crate::sentence_error!(
    /// A response the server sent that is not what the endpoint's API allows: malformed JSON
    /// (with a preview of the bytes) or a body of the wrong shape.
    InvalidResponse
);

/// One API flavour.
pub trait Endpoint: Send + Sync {
    /// Builds the JSON body for one request.
    fn build_body(&self, prompt: &str, max_tokens: Option<u32>, ctx: &BodyContext) -> Value;
    /// Parses one SSE `data:` payload (never `[DONE]`, which the caller handles).
    fn parse_event<'a>(&self, data: &'a [u8]) -> Result<ResponseDelta<'a>, InvalidResponse>;
    /// Parses a complete non-streamed response body.
    fn parse_body<'a>(&self, body: &'a [u8]) -> Result<ResponseDelta<'a>, InvalidResponse>;
    /// The input texts a built body sends, whose tokens are its input length: the prompt, or
    /// for APIs that cut it into pieces, the pieces.
    fn input_texts<'a>(&self, prompt: &'a str, _body: &'a Value) -> Vec<&'a str> {
        vec![prompt]
    }
}

/// The implementation for an endpoint type.
pub fn endpoint_for(kind: EndpointType) -> &'static dyn Endpoint {
    match kind {
        EndpointType::Chat => &chat::Chat,
        EndpointType::Completions => &completions::Completions,
        EndpointType::Embeddings => &embeddings::Embeddings,
        EndpointType::Rankings => &rankings::Rankings,
        EndpointType::Template => &template::Template,
    }
}

/// The body context for a spec.
pub fn body_context(model: &str, endpoint: &EndpointSpec) -> BodyContext {
    BodyContext {
        model: model.to_string(),
        streaming: endpoint.streaming,
        use_legacy_max_tokens: endpoint.use_legacy_max_tokens,
        extra: endpoint.extra.clone(),
        rankings_passages: endpoint.rankings_passages,
        template: endpoint.template.clone(),
        per_chunk_usage: endpoint.per_chunk_usage,
    }
}

/// The body shared by generation APIs: the prompt field, model, stream flag, the max-tokens field
/// (when an output length is requested), usage in streams, then the extra fields.
fn generation_body(
    prompt: (&str, Value),
    max_tokens: Option<(&str, u32)>,
    ctx: &BodyContext,
) -> Value {
    let mut body = Map::new();
    body.insert(prompt.0.into(), prompt.1);
    body.insert("model".into(), Value::from(ctx.model.as_str()));
    body.insert("stream".into(), Value::from(ctx.streaming));
    if let Some((key, n)) = max_tokens {
        body.insert(key.into(), Value::from(n));
    }
    if ctx.streaming {
        let options = if ctx.per_chunk_usage {
            serde_json::json!({"include_usage": true, "continuous_usage_stats": true})
        } else {
            serde_json::json!({"include_usage": true})
        };
        body.insert("stream_options".into(), options);
    }
    merge_extra(&mut body, &ctx.extra);
    Value::Object(body)
}

/// Merges `extra` into a body object (extra keys win).
fn merge_extra(body: &mut Map<String, Value>, extra: &Map<String, Value>) {
    for (k, v) in extra {
        body.insert(k.clone(), v.clone());
    }
}
