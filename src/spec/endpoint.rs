//! Where requests go and how: the endpoint's URLs (credentials redacted whenever written), API
//! flavour, streaming, timeouts, headers and extra body fields, and the secret wrapper that keeps
//! API keys and header values out of every file and log.

use super::forms::{DurationForm, OneOrMany, one_or_many, seconds};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The API flavour of the endpoint, which decides the request body and response parsing.
#[derive(
    Debug, Clone, Copy, Serialize, Deserialize, JsonSchema, PartialEq, Eq, clap::ValueEnum,
)]
#[serde(rename_all = "snake_case")]
pub enum EndpointType {
    /// `/v1/chat/completions`.
    Chat,
    /// `/v1/completions`.
    Completions,
    /// `/v1/embeddings`.
    Embeddings,
    /// `/v1/ranking` (NVIDIA NIM rankings): a query and passages; scores come back.
    Rankings,
    /// Any JSON API: the body is `endpoint.template` with the prompt, model, output length and
    /// stream flag filled in; the path is `endpoint.path`.
    Template,
}

impl EndpointType {
    /// The path appended to a base URL when no explicit endpoint path is given.
    pub fn default_path(self) -> &'static str {
        match self {
            EndpointType::Chat => "/v1/chat/completions",
            EndpointType::Completions => "/v1/completions",
            EndpointType::Embeddings => "/v1/embeddings",
            EndpointType::Rankings => "/v1/ranking",
            // Validation requires `endpoint.path` for templates.
            EndpointType::Template => "/",
        }
    }

    /// The name used in file names and tables.
    pub fn as_str(self) -> &'static str {
        match self {
            EndpointType::Chat => "chat",
            EndpointType::Completions => "completions",
            EndpointType::Embeddings => "embeddings",
            EndpointType::Rankings => "rankings",
            EndpointType::Template => "template",
        }
    }

    /// Whether the API produces tokens (and so token metrics make sense).
    pub fn produces_tokens(self) -> bool {
        !matches!(self, EndpointType::Embeddings | EndpointType::Rankings)
    }
}

/// AIPerf's `--connection-reuse-strategy`.
#[derive(
    Debug, Clone, Copy, Default, Serialize, Deserialize, JsonSchema, PartialEq, Eq, clap::ValueEnum,
)]
#[serde(rename_all = "snake_case")]
pub enum ConnectionReuse {
    /// Keep connections open and reuse them while the server announces keep-alive.
    #[default]
    Pooled,
    /// Open a new connection for every request (`Connection: close`), as clients that do not
    /// pool do; the connect time shows in `http_req_blocked`.
    Never,
}

impl ConnectionReuse {
    fn is_pooled(&self) -> bool {
        *self == ConnectionReuse::Pooled
    }
}

/// Where requests go and how they are shaped.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct EndpointSpec {
    /// Base URLs (or full endpoint URLs); several are used round-robin. `mock://` starts the
    /// embedded mock server. `url:` with one URL also works.
    /// User-info in a URL (`http://user:password@host`) is a secret: it serializes as
    /// `<redacted>@host`, so no file, plan or upload ever holds it.
    #[serde(
        alias = "url",
        deserialize_with = "one_or_many",
        serialize_with = "serialize_redacted_urls"
    )]
    #[schemars(with = "OneOrMany<String>")]
    pub urls: Vec<String>,
    /// The API flavour.
    #[serde(rename = "type", default = "default_endpoint_type")]
    pub endpoint_type: EndpointType,
    /// Explicit endpoint path, overriding the API's default path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Request streamed responses (SSE) so per-token timing can be measured.
    #[serde(default)]
    pub streaming: bool,
    /// Bearer token sent as `Authorization`. Never written to any output.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key: Option<Secret>,
    /// Extra HTTP headers.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, Secret>,
    /// Extra top-level fields merged into every request body (e.g. `ignore_eos`).
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub extra: serde_json::Map<String, serde_json::Value>,
    /// Per-request timeout in seconds (or a duration like "10m").
    #[serde(default = "default_timeout", deserialize_with = "seconds")]
    #[schemars(with = "DurationForm")]
    pub timeout: f64,
    /// Count output tokens from the server's `usage` instead of the client tokenizer.
    #[serde(default)]
    pub use_server_token_count: bool,
    /// Send `max_tokens` instead of `max_completion_tokens` in chat requests.
    #[serde(default)]
    pub use_legacy_max_tokens: bool,
    /// Seconds to keep retrying the reachability check before giving up (0 = one attempt).
    #[serde(default, deserialize_with = "seconds")]
    #[schemars(with = "DurationForm")]
    pub wait_for_model_timeout: f64,
    /// Rankings: the passages sent with each query (default 5). The prompt of `isl` tokens is
    /// split into the query and this many passages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 1000))]
    pub rankings_passages: Option<u32>,
    /// Ask for usage in every streamed chunk (vLLM's `continuous_usage_stats`) and take the
    /// first content chunk's token count from it, so inter-token latency is right when a server
    /// bundles several tokens into its first chunk. Needs chat, streaming and
    /// `use_server_token_count`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub per_chunk_usage: bool,
    /// How connections are reused: `pooled` (default: kept while the server allows keep-alive)
    /// or `never` (a new connection for every request, closed after it).
    #[serde(default, skip_serializing_if = "ConnectionReuse::is_pooled")]
    pub connection_reuse: ConnectionReuse,
    /// Template: the request body as a JSON text with Jinja placeholders `{{ prompt|tojson }}`,
    /// `{{ model|tojson }}`, `{{ max_tokens }}` and `{{ stream|tojson }}` (rendered by minijinja).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<String>,
}

fn serialize_redacted_urls<S: serde::Serializer>(
    urls: &[String],
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.collect_seq(urls.iter().map(|u| crate::redact::redact_url(u)))
}

fn default_timeout() -> f64 {
    21_600.0
}

fn default_endpoint_type() -> EndpointType {
    EndpointType::Chat
}

/// A string that must never reach an output file, log line or upload.
///
/// It serializes as `"<redacted>"`; only the load engine reads the real value.
#[derive(Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// What a secret serializes to.
    pub const REDACTED: &'static str = "<redacted>";

    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The real value, for building requests only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(Self::REDACTED)
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(Self::REDACTED)
    }
}
