//! `--endpoint-type template`: the request body is the user's template (see
//! `support::body_template`) with the prompt, model, output length and stream flag filled in.
//! Responses are read as OpenAI chat or completions shapes when they are, else from a
//! top-level `generated_text`, `text`, `output` or `response` string (TGI, Triton and similar
//! APIs), so text and tokens are counted wherever the server puts them.

use super::{BodyContext, Endpoint, ResponseDelta, wire};
use crate::support::body_template::{TemplateValues, render};
use serde_json::Value;

/// The template API.
pub struct Template;

/// Top-level fields holding generated text in non-OpenAI APIs, in the order they are tried.
const TEXT_FIELDS: &[&str] = &["generated_text", "text", "output", "response"];

impl Endpoint for Template {
    fn build_body(&self, prompt: &str, max_tokens: Option<u32>, ctx: &BodyContext) -> Value {
        let values = TemplateValues {
            prompt,
            model: &ctx.model,
            max_tokens,
            stream: ctx.streaming,
        };
        // The spec checked that the template renders; a body that still cannot be made is sent
        // as null, which the server refuses, and the run reports it as an error.
        let mut body = ctx
            .template
            .as_deref()
            .and_then(|t| render(t, &values).ok())
            .unwrap_or(Value::Null);
        if let Value::Object(map) = &mut body {
            super::merge_extra(map, &ctx.extra);
        }
        body
    }

    fn parse_event<'a>(&self, data: &'a [u8]) -> Result<ResponseDelta<'a>, super::InvalidResponse> {
        self.parse_body(data)
    }

    fn parse_body<'a>(&self, body: &'a [u8]) -> Result<ResponseDelta<'a>, super::InvalidResponse> {
        let mut delta = wire::parse_generation(body)?;
        if !delta.has_text()
            && delta.error.is_none()
            && let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(body)
            && let Some(text) = TEXT_FIELDS.iter().find_map(|k| map.get(*k)?.as_str())
        {
            delta.content.to_mut().push_str(text);
        }
        Ok(delta)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Map, json};

    fn ctx(template: &str) -> BodyContext {
        BodyContext {
            model: "m".into(),
            streaming: false,
            use_legacy_max_tokens: false,
            extra: Map::new(),
            rankings_passages: None,
            template: Some(template.into()),
            per_chunk_usage: false,
        }
    }

    #[test]
    fn the_body_is_the_rendered_template_plus_extra_fields() {
        let mut c = ctx(
            r#"{"inputs": {{ prompt|tojson }}, "parameters": {"max_new_tokens": {{ max_tokens }}}}"#,
        );
        c.extra.insert("seed".into(), json!(3));
        let body = Template.build_body("hello", Some(4), &c);
        assert_eq!(
            body,
            json!({"inputs": "hello", "parameters": {"max_new_tokens": 4}, "seed": 3})
        );
    }

    #[test]
    fn text_is_found_in_openai_and_other_shapes() {
        let chat = Template
            .parse_body(br#"{"choices":[{"message":{"content":"hi"}}]}"#)
            .unwrap();
        assert_eq!(chat.content, "hi");
        let tgi = Template.parse_body(br#"{"generated_text":"yo"}"#).unwrap();
        assert_eq!(tgi.content, "yo");
        let nothing = Template.parse_body(br#"{"id":1}"#).unwrap();
        assert!(!nothing.has_text() && nothing.error.is_none());
        let err = Template
            .parse_body(br#"{"error":{"message":"nope"}}"#)
            .unwrap();
        assert!(err.error.is_some());
    }
}
