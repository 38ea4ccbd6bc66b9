//! `/v1/chat/completions`.

use super::{BodyContext, Endpoint, ResponseDelta, generation_body, wire};
use serde_json::{Value, json};

/// The chat completions API.
pub struct Chat;

impl Endpoint for Chat {
    fn build_body(&self, prompt: &str, max_tokens: Option<u32>, ctx: &BodyContext) -> Value {
        let messages = json!([{"role": "user", "content": prompt}]);
        let key = if ctx.use_legacy_max_tokens {
            "max_tokens"
        } else {
            "max_completion_tokens"
        };
        generation_body(("messages", messages), max_tokens.map(|n| (key, n)), ctx)
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

    fn ctx(streaming: bool) -> BodyContext {
        BodyContext {
            model: "m".into(),
            streaming,
            use_legacy_max_tokens: false,
            extra: Map::new(),
            rankings_passages: None,
            template: None,
            per_chunk_usage: false,
        }
    }

    #[test]
    fn body_matches_aiperf_shape() {
        let body = Chat.build_body("hi", Some(32), &ctx(true));
        assert_eq!(
            serde_json::to_string(&body).unwrap(),
            r#"{"messages":[{"role":"user","content":"hi"}],"model":"m","stream":true,"max_completion_tokens":32,"stream_options":{"include_usage":true}}"#
        );
    }

    #[test]
    fn extra_inputs_override_and_legacy_max_tokens() {
        let mut c = ctx(false);
        c.use_legacy_max_tokens = true;
        c.extra.insert("ignore_eos".into(), json!(true));
        c.extra.insert("stream".into(), json!(false));
        let body = Chat.build_body("hi", Some(8), &c);
        assert_eq!(body["max_tokens"], 8);
        assert_eq!(body["ignore_eos"], true);
        assert!(body.get("stream_options").is_none());
    }

    #[test]
    fn parses_role_only_null_content_usage_only_and_reasoning_chunks() {
        let role_only = Chat
            .parse_event(
                br#"{"choices":[{"index":0,"delta":{"role":"assistant","content":null}}]}"#,
            )
            .unwrap();
        assert!(!role_only.has_text());
        let usage_only = Chat
            .parse_event(br#"{"choices":[],"usage":{"prompt_tokens":9,"completion_tokens":3,"total_tokens":12,"completion_tokens_details":{"reasoning_tokens":1}}}"#)
            .unwrap();
        assert!(!usage_only.has_text());
        let usage = usage_only.usage.unwrap();
        assert_eq!(
            (
                usage.prompt_tokens,
                usage.completion_tokens,
                usage.reasoning_tokens
            ),
            (Some(9), Some(3), Some(1))
        );
        let reasoning = Chat
            .parse_event(br#"{"choices":[{"delta":{"reasoning_content":"hmm"}}]}"#)
            .unwrap();
        assert_eq!((&*reasoning.content, &*reasoning.reasoning), ("", "hmm"));
        let alt = Chat
            .parse_event(br#"{"choices":[{"delta":{"reasoning":"so"}}]}"#)
            .unwrap();
        assert_eq!(alt.reasoning, "so");
        let escaped = Chat
            .parse_event(br#"{"choices":[{"delta":{"content":"a\"b\n"}}]}"#)
            .unwrap();
        assert_eq!(escaped.content, "a\"b\n");
    }

    #[test]
    fn error_objects_and_malformed_json() {
        let err = Chat
            .parse_event(br#"{"error":{"message":"overloaded","code":503}}"#)
            .unwrap();
        assert_eq!(err.error.as_deref(), Some("overloaded"));
        assert!(Chat.parse_event(br#"{"choices":[{"delta":"#).is_err());
    }

    #[test]
    fn non_streaming_message() {
        let body = br#"{"choices":[{"message":{"role":"assistant","content":"Hello!"}}],"usage":{"prompt_tokens":5,"completion_tokens":2,"total_tokens":7}}"#;
        let parsed = Chat.parse_body(body).unwrap();
        assert_eq!(parsed.content, "Hello!");
        assert_eq!(parsed.usage.unwrap().total_tokens, Some(7));
    }
}
