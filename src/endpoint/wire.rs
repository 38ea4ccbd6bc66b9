//! OpenAI wire shapes shared by chat and completions responses, read leniently: every field is
//! optional because servers differ (llama.cpp sends `content: null` in a role-only first chunk,
//! vLLM a usage-only final chunk with empty `choices`, others `reasoning` instead of
//! `reasoning_content`).

use serde::Deserialize;
use std::borrow::Cow;

/// Token usage as reported by the server.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// `usage.prompt_tokens`.
    pub prompt_tokens: Option<u64>,
    /// `usage.completion_tokens`.
    pub completion_tokens: Option<u64>,
    /// `usage.total_tokens`.
    pub total_tokens: Option<u64>,
    /// `usage.completion_tokens_details.reasoning_tokens`.
    pub reasoning_tokens: Option<u64>,
    /// `usage.prompt_tokens_details.cached_tokens`.
    pub cached_prompt_tokens: Option<u64>,
}

/// What one event (or one whole body) contributed. Its text borrows from the payload when the
/// payload holds it as one string without escapes (the common case: a streamed chunk of one
/// token), so reading a chunk allocates nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResponseDelta<'a> {
    /// Answer text in this event.
    pub content: Cow<'a, str>,
    /// Reasoning text in this event.
    pub reasoning: Cow<'a, str>,
    /// Usage, when this event carries it.
    pub usage: Option<Usage>,
    /// An error object the server sent instead of (or in the middle of) a response.
    pub error: Option<String>,
}

impl ResponseDelta<'_> {
    /// Whether the event carries any generated text (role-only, usage-only and empty chunks do not).
    pub fn has_text(&self) -> bool {
        !self.content.is_empty() || !self.reasoning.is_empty()
    }

    /// The same delta owning its text, free of the payload it was read from.
    pub fn into_owned(self) -> ResponseDelta<'static> {
        ResponseDelta {
            content: Cow::Owned(self.content.into_owned()),
            reasoning: Cow::Owned(self.reasoning.into_owned()),
            usage: self.usage,
            error: self.error,
        }
    }
}

/// Adds `piece` to the end of `text`, still borrowing when `text` was empty.
pub(super) fn append<'a>(text: &mut Cow<'a, str>, piece: Cow<'a, str>) {
    if text.is_empty() {
        *text = piece;
    } else if !piece.is_empty() {
        text.to_mut().push_str(&piece);
    }
}

#[derive(Deserialize)]
pub(super) struct WireResponse<'a> {
    #[serde(default, borrow)]
    pub choices: Vec<WireChoice<'a>>,
    #[serde(default)]
    pub usage: Option<WireUsage>,
    #[serde(default)]
    pub error: Option<serde_json::Value>,
}

#[derive(Deserialize)]
pub(super) struct WireChoice<'a> {
    #[serde(default, borrow)]
    pub delta: Option<WireMessage<'a>>,
    #[serde(default, borrow)]
    pub message: Option<WireMessage<'a>>,
    #[serde(default, borrow)]
    pub text: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
pub(super) struct WireMessage<'a> {
    #[serde(default, borrow)]
    pub content: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    pub reasoning_content: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    pub reasoning: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
pub(super) struct WireUsage {
    #[serde(default)]
    prompt_tokens: Option<u64>,
    #[serde(default)]
    completion_tokens: Option<u64>,
    #[serde(default)]
    total_tokens: Option<u64>,
    #[serde(default)]
    completion_tokens_details: Option<WireCompletionDetails>,
    #[serde(default)]
    prompt_tokens_details: Option<WirePromptDetails>,
}

#[derive(Deserialize)]
struct WireCompletionDetails {
    #[serde(default)]
    reasoning_tokens: Option<u64>,
}

#[derive(Deserialize)]
struct WirePromptDetails {
    #[serde(default)]
    cached_tokens: Option<u64>,
}

impl From<WireUsage> for Usage {
    fn from(w: WireUsage) -> Self {
        Usage {
            prompt_tokens: w.prompt_tokens,
            completion_tokens: w.completion_tokens,
            total_tokens: w.total_tokens,
            reasoning_tokens: w.completion_tokens_details.and_then(|d| d.reasoning_tokens),
            cached_prompt_tokens: w.prompt_tokens_details.and_then(|d| d.cached_tokens),
        }
    }
}

/// A short description of a server error object.
pub(super) fn describe_error(error: &serde_json::Value) -> String {
    let text = match error {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Object(map) => map
            .get("message")
            .and_then(|m| m.as_str())
            .map(str::to_string)
            .unwrap_or_else(|| error.to_string()),
        other => other.to_string(),
    };
    text.chars().take(300).collect()
}

/// Parses a chat or completions payload, taking text from `delta`, `message` or `text`.
pub(super) fn parse_generation(data: &[u8]) -> Result<ResponseDelta<'_>, super::InvalidResponse> {
    match super::fast_chunk::parse(data) {
        Some(delta) => Ok(delta),
        None => parse_with_serde(data),
    }
}

/// [`parse_generation`] through serde_json: the reference, and the path for every payload the
/// fast reader leaves alone (usage, errors, anything unusual or invalid).
pub(super) fn parse_with_serde(data: &[u8]) -> Result<ResponseDelta<'_>, super::InvalidResponse> {
    let wire: WireResponse<'_> = serde_json::from_slice(data).map_err(|e| {
        let preview: String = String::from_utf8_lossy(&data[..data.len().min(120)]).into_owned();
        format!("malformed JSON in response ({e}): {preview}")
    })?;
    let mut delta = ResponseDelta {
        usage: wire.usage.map(Usage::from),
        error: wire.error.as_ref().map(describe_error),
        ..ResponseDelta::default()
    };
    if let Some(choice) = wire.choices.into_iter().next() {
        if let Some(text) = choice.text {
            append(&mut delta.content, text);
        }
        for message in [choice.delta, choice.message].into_iter().flatten() {
            if let Some(c) = message.content {
                append(&mut delta.content, c);
            }
            if let Some(r) = message.reasoning_content.or(message.reasoning) {
                append(&mut delta.reasoning, r);
            }
        }
    }
    Ok(delta)
}
