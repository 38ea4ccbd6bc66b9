//! `/v1/ranking` (NVIDIA NIM rankings): one query and its passages in, a score per passage out.
//! No tokens are generated, so latency and input metrics apply.
//!
//! The synthetic prompt of `isl` tokens is cut at word boundaries into the query (the first
//! share) and the passages, so the request carries the prompt's tokens in all.

use super::{BodyContext, Endpoint, ResponseDelta, merge_extra, wire};
use serde::Deserialize;
use serde_json::{Map, Value, json};

/// Passages per query when none are asked for.
pub const DEFAULT_PASSAGES: u32 = 5;

/// The rankings API.
pub struct Rankings;

#[derive(Deserialize)]
struct WireRankings {
    #[serde(default)]
    rankings: Option<Vec<WireRanking>>,
    #[serde(default)]
    usage: Option<wire::WireUsage>,
    #[serde(default)]
    error: Option<Value>,
}

#[derive(Deserialize)]
struct WireRanking {
    index: Option<u64>,
}

/// `text` cut at word boundaries into `parts` pieces of about equal length (fewer when it has
/// fewer words); nothing is dropped: the pieces joined by one space are the text's words.
pub fn split_words(text: &str, parts: usize) -> Vec<String> {
    let words: Vec<&str> = text.split_whitespace().collect();
    let parts = parts.clamp(1, words.len().max(1));
    let per = words.len().div_ceil(parts).max(1);
    let mut out: Vec<String> = words.chunks(per).map(|c| c.join(" ")).collect();
    if out.is_empty() {
        out.push(String::new());
    }
    out
}

impl Endpoint for Rankings {
    fn build_body(&self, prompt: &str, _max_tokens: Option<u32>, ctx: &BodyContext) -> Value {
        let passages = ctx.rankings_passages.unwrap_or(DEFAULT_PASSAGES) as usize;
        let mut pieces = split_words(prompt, passages + 1).into_iter();
        let query = pieces.next().unwrap_or_default();
        let passages: Vec<Value> = pieces.map(|text| json!({"text": text})).collect();
        let mut body = Map::new();
        body.insert("model".into(), json!(ctx.model));
        body.insert("query".into(), json!({"text": query}));
        body.insert("passages".into(), Value::Array(passages));
        merge_extra(&mut body, &ctx.extra);
        Value::Object(body)
    }

    fn parse_event<'a>(&self, data: &'a [u8]) -> Result<ResponseDelta<'a>, super::InvalidResponse> {
        self.parse_body(data)
    }

    fn input_texts<'a>(&self, _prompt: &'a str, body: &'a Value) -> Vec<&'a str> {
        let passages = body["passages"].as_array().into_iter().flatten();
        body["query"]["text"]
            .as_str()
            .into_iter()
            .chain(passages.filter_map(|p| p["text"].as_str()))
            .collect()
    }

    fn parse_body<'a>(&self, body: &'a [u8]) -> Result<ResponseDelta<'a>, super::InvalidResponse> {
        let wire: WireRankings = serde_json::from_slice(body)
            .map_err(|e| format!("malformed JSON in rankings response ({e})"))?;
        let error = match (&wire.error, &wire.rankings) {
            (Some(e), _) => Some(wire::describe_error(e)),
            (None, None) => Some("rankings response has no 'rankings'".to_string()),
            (None, Some(r)) if r.iter().any(|x| x.index.is_none()) => {
                Some("a ranking in the response has no 'index'".to_string())
            }
            (None, Some(_)) => None,
        };
        Ok(ResponseDelta {
            usage: wire.usage.map(Into::into),
            error,
            ..ResponseDelta::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(passages: Option<u32>) -> BodyContext {
        BodyContext {
            model: "rerank".into(),
            streaming: false,
            use_legacy_max_tokens: false,
            extra: Map::new(),
            rankings_passages: passages,
            template: None,
            per_chunk_usage: false,
        }
    }

    #[test]
    fn the_prompt_becomes_a_query_and_passages_with_every_word() {
        let prompt = "one two three four five six seven eight nine ten eleven twelve";
        let body = Rankings.build_body(prompt, Some(8), &ctx(Some(3)));
        assert_eq!(body["model"], "rerank");
        assert_eq!(body["query"]["text"], "one two three");
        let passages = body["passages"].as_array().unwrap();
        assert_eq!(passages.len(), 3);
        let mut all = vec![body["query"]["text"].as_str().unwrap().to_string()];
        all.extend(
            passages
                .iter()
                .map(|p| p["text"].as_str().unwrap().to_string()),
        );
        assert_eq!(all.join(" "), prompt, "no word lost or added");
        assert!(body.get("max_tokens").is_none());
        let default = Rankings.build_body(prompt, None, &ctx(None));
        assert_eq!(default["passages"].as_array().unwrap().len(), 5);
    }

    #[test]
    fn a_short_prompt_gives_fewer_pieces_never_empty_ones_beyond_it() {
        assert_eq!(split_words("a b", 6), ["a", "b"]);
        assert_eq!(split_words("", 3), [""]);
    }

    #[test]
    fn responses_need_their_rankings() {
        let ok = Rankings
            .parse_body(br#"{"rankings":[{"index":1,"logit":2.5},{"index":0,"logit":-1.0}]}"#)
            .unwrap();
        assert!(ok.error.is_none());
        let missing = Rankings.parse_body(br#"{"data":[]}"#).unwrap();
        assert!(missing.error.unwrap().contains("no 'rankings'"));
        let failed = Rankings
            .parse_body(br#"{"error":{"message":"bad query","code":400}}"#)
            .unwrap();
        assert!(failed.error.unwrap().contains("bad query"));
        assert!(Rankings.parse_body(b"not json").is_err());
    }
}
