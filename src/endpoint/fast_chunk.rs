//! A fast reader for the common shape of chat and completions payloads.
//!
//! serde_json spends about 6,000 instructions on a 150-byte streamed chunk, most of them on
//! fields nobody reads (`id`, `object`, `created`, `model`, `index`, `finish_reason`), and a
//! stream has one chunk per token. This reader validates the whole payload as strict JSON in one
//! pass and takes only the fields [`super::wire::WireResponse`] holds. It answers only when its
//! answer is certainly the one serde_json would give: anything unusual (a `usage` or `error`
//! object, a repeated field, an escaped key, a `\u` escape, a wrong type, deep nesting, invalid
//! JSON) returns `None` and the caller parses with serde_json, which also words the errors.
//! The tests compare the two on generated payloads.
//!
//! The chunks of one stream differ only in their text: a chunk read in full leaves a
//! [`Template`] (its bytes with the one string that made the answer cut out), and a later chunk
//! that is the same bytes around a different plain string is answered from it by two byte
//! comparisons instead of a parse.

use super::wire::{ResponseDelta, append};
use std::borrow::Cow;
use std::cell::RefCell;

/// Nesting deeper than this is left to serde_json (whose limit is 128).
const MAX_DEPTH: u32 = 64;

thread_local! {
    /// The last template this thread made. A memo only: [`parse`] answers the same with or
    /// without it, so sharing it between the streams a record processor reads is safe.
    static LAST_TEMPLATE: RefCell<Option<Template>> = const { RefCell::new(None) };
}

/// The delta of `data` exactly as serde_json would read it, or `None` to ask serde_json.
pub(super) fn parse(data: &[u8]) -> Option<ResponseDelta<'_>> {
    LAST_TEMPLATE.with_borrow_mut(|last| {
        if let Some(delta) = last.as_ref().and_then(|t| t.answer(data)) {
            return Some(delta);
        }
        let (delta, cut) = parse_in_full(data)?;
        if let Some(cut) = cut {
            match last {
                Some(template) => template.reset(data, cut),
                None => *last = Some(Template::new(data, cut)),
            }
        }
        Some(delta)
    })
}

/// Reads `data` in one pass; with the delta, the string that alone made its text, when there
/// is one (see [`Template`]).
fn parse_in_full(data: &[u8]) -> Option<(ResponseDelta<'_>, Option<Cut>)> {
    let text = std::str::from_utf8(data).ok()?;
    let mut reader = Reader {
        text,
        bytes: data,
        at: 0,
        depth: 0,
    };
    let answer = reader.response()?;
    reader.space();
    (reader.at == data.len()).then_some(answer)
}

/// The byte range of a string's contents (between its quotes) in a payload.
type Span = (usize, usize);

/// Which text a template's string is.
#[derive(Clone, Copy)]
enum Field {
    Content,
    Reasoning,
}

/// The string a template cuts out.
struct Cut {
    field: Field,
    span: Span,
}

/// A payload with the string that alone made its text cut out: the prefix ends with that
/// string's opening quote, the suffix starts with its closing quote.
///
/// Why an answer from it is serde_json's: the template's payload was read in full and all of
/// its text (content and reasoning) came from that one string, with no usage and no error.
/// Another payload `prefix + X + suffix`, where `X` is valid UTF-8 with no quote, backslash or
/// control byte, is the same JSON token for token except that string, so every rule (nesting,
/// duplicates, types, trailing bytes) decides the same, and its text is `X` in the same field.
struct Template {
    bytes: Vec<u8>,
    prefix_len: usize,
    field: Field,
}

impl Template {
    fn new(data: &[u8], cut: Cut) -> Template {
        let mut template = Template {
            bytes: Vec::new(),
            prefix_len: 0,
            field: cut.field,
        };
        template.reset(data, cut);
        template
    }

    /// Makes this the template of `data`, keeping the buffer.
    fn reset(&mut self, data: &[u8], Cut { field, span }: Cut) {
        self.bytes.clear();
        self.bytes.extend_from_slice(&data[..span.0]);
        self.bytes.extend_from_slice(&data[span.1..]);
        self.prefix_len = span.0;
        self.field = field;
    }

    /// The delta of `data` when it is this template around a plain string.
    fn answer<'a>(&self, data: &'a [u8]) -> Option<ResponseDelta<'a>> {
        let (prefix, suffix) = self.bytes.split_at(self.prefix_len);
        let middle = data.strip_prefix(prefix)?.strip_suffix(suffix)?;
        if first_special(middle).is_some() {
            return None;
        }
        let text = Cow::Borrowed(std::str::from_utf8(middle).ok()?);
        let mut delta = ResponseDelta::default();
        match self.field {
            Field::Content => delta.content = text,
            Field::Reasoning => delta.reasoning = text,
        }
        Some(delta)
    }
}

struct Reader<'a> {
    text: &'a str,
    bytes: &'a [u8],
    at: usize,
    depth: u32,
}

/// The fields of one `delta` or `message` object.
#[derive(Default)]
struct Message<'a> {
    content: Option<Text<'a>>,
    reasoning_content: Option<Text<'a>>,
    reasoning: Option<Text<'a>>,
}

/// A JSON string's contents: borrowed (with where it starts) when it has no escapes.
enum Text<'a> {
    Borrowed(&'a str, usize),
    Owned(String),
}

impl<'a> Text<'a> {
    fn into_cow(self) -> Cow<'a, str> {
        match self {
            Text::Borrowed(s, _) => Cow::Borrowed(s),
            Text::Owned(s) => Cow::Owned(s),
        }
    }

    /// Where the contents are in the payload, for a string without escapes.
    fn span(&self) -> Option<Span> {
        match self {
            Text::Borrowed(s, start) => Some((*start, start + s.len())),
            Text::Owned(_) => None,
        }
    }
}

/// Stores `value` in `slot`, refusing a field given twice (serde_json's `duplicate field`).
fn set_once<T>(slot: &mut Option<T>, seen: &mut bool, value: Option<T>) -> Option<()> {
    if std::mem::replace(seen, true) {
        return None;
    }
    *slot = value;
    Some(())
}

impl<'a> Reader<'a> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn space(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.at += 1;
        }
    }

    /// Skips whitespace, then consumes `byte` if it is next.
    fn eat(&mut self, byte: u8) -> bool {
        self.space();
        if self.peek() == Some(byte) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, byte: u8) -> Option<()> {
        self.eat(byte).then_some(())
    }

    /// Iterates an object's members: calls `member` with each key (which must have no escapes),
    /// positioned at its value.
    fn object(&mut self, mut member: impl FnMut(&mut Self, &'a str) -> Option<()>) -> Option<()> {
        self.expect(b'{')?;
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return None;
        }
        if !self.eat(b'}') {
            loop {
                self.space();
                let key = match self.string()? {
                    Text::Borrowed(key, _) => key,
                    Text::Owned(_) => return None,
                };
                self.expect(b':')?;
                member(self, key)?;
                if self.eat(b'}') {
                    break;
                }
                self.expect(b',')?;
            }
        }
        self.depth -= 1;
        Some(())
    }

    /// Iterates an array's elements, positioned at each.
    fn array(&mut self, mut element: impl FnMut(&mut Self) -> Option<()>) -> Option<()> {
        self.expect(b'[')?;
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return None;
        }
        if !self.eat(b']') {
            loop {
                element(self)?;
                if self.eat(b']') {
                    break;
                }
                self.expect(b',')?;
            }
        }
        self.depth -= 1;
        Some(())
    }

    fn response(&mut self) -> Option<(ResponseDelta<'a>, Option<Cut>)> {
        let mut delta = ResponseDelta::default();
        let mut cut = None;
        let mut seen = [false; 3];
        self.object(|r, key| match key {
            "choices" => {
                if std::mem::replace(&mut seen[0], true) {
                    return None;
                }
                let mut first = true;
                r.array(|r| {
                    let choice = r.choice()?;
                    if std::mem::take(&mut first) {
                        cut = choice.add_to(&mut delta);
                    }
                    Some(())
                })
            }
            // Present and not null: left to serde_json (once per stream at most).
            "usage" | "error" => {
                let i = if key == "usage" { 1 } else { 2 };
                if std::mem::replace(&mut seen[i], true) {
                    return None;
                }
                r.null()
            }
            _ => r.skip_value(),
        })?;
        Some((delta, cut))
    }

    fn choice(&mut self) -> Option<Choice<'a>> {
        let mut choice = Choice::default();
        let mut seen = [false; 3];
        self.object(|r, key| match key {
            "delta" => {
                let value = r.optional(Self::message)?;
                set_once(&mut choice.delta, &mut seen[0], value)
            }
            "message" => {
                let value = r.optional(Self::message)?;
                set_once(&mut choice.message, &mut seen[1], value)
            }
            "text" => {
                let value = r.optional(Self::string)?;
                set_once(&mut choice.text, &mut seen[2], value)
            }
            _ => r.skip_value(),
        })?;
        Some(choice)
    }

    fn message(&mut self) -> Option<Message<'a>> {
        let mut message = Message::default();
        let mut seen = [false; 3];
        self.object(|r, key| {
            let (slot, i) = match key {
                "content" => (&mut message.content, 0),
                "reasoning_content" => (&mut message.reasoning_content, 1),
                "reasoning" => (&mut message.reasoning, 2),
                _ => return r.skip_value(),
            };
            let value = r.optional(Self::string)?;
            set_once(slot, &mut seen[i], value)
        })?;
        Some(message)
    }

    /// `null` as `None`, else the value read by `read`.
    fn optional<T>(&mut self, read: impl FnOnce(&mut Self) -> Option<T>) -> Option<Option<T>> {
        self.space();
        if self.peek() == Some(b'n') {
            self.null()?;
            return Some(None);
        }
        read(self).map(Some)
    }

    fn null(&mut self) -> Option<()> {
        self.space();
        self.literal(b"null")
    }

    fn literal(&mut self, word: &[u8]) -> Option<()> {
        let end = self.at + word.len();
        (self.bytes.get(self.at..end)? == word).then(|| self.at = end)
    }

    /// The length of the run from `from` up to the next `"` or `\`, if that run holds no
    /// control character (which JSON forbids in strings).
    fn plain_run(&self, from: usize) -> Option<usize> {
        let rest = self.bytes.get(from..)?;
        let len = first_special(rest)?;
        (rest[len] >= 0x20).then_some(len)
    }

    /// A string at the cursor (after whitespace), its escapes decoded.
    fn string(&mut self) -> Option<Text<'a>> {
        self.expect(b'"')?;
        let start = self.at;
        self.at += self.plain_run(start)?;
        if self.bytes[self.at] == b'"' {
            let raw = self.text.get(start..self.at)?;
            self.at += 1;
            return Some(Text::Borrowed(raw, start));
        }
        let mut owned = String::from(self.text.get(start..self.at)?);
        loop {
            if self.bytes[self.at] == b'"' {
                self.at += 1;
                return Some(Text::Owned(owned));
            }
            let decoded = match *self.bytes.get(self.at + 1)? {
                b'"' => '"',
                b'\\' => '\\',
                b'/' => '/',
                b'b' => '\u{8}',
                b'f' => '\u{c}',
                b'n' => '\n',
                b'r' => '\r',
                b't' => '\t',
                // `\u` (and surrogate pairs) are left to serde_json.
                _ => return None,
            };
            owned.push(decoded);
            self.at += 2;
            let run = self.plain_run(self.at)?;
            owned.push_str(self.text.get(self.at..self.at + run)?);
            self.at += run;
        }
    }

    /// Any JSON value, checked and discarded.
    fn skip_value(&mut self) -> Option<()> {
        self.space();
        match self.peek()? {
            b'{' => self.object(|r, _| r.skip_value()),
            b'[' => self.array(Self::skip_value),
            b'"' => self.string().map(drop),
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            _ => self.number(),
        }
    }

    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`
    fn number(&mut self) -> Option<()> {
        let digits = |r: &mut Self| {
            let start = r.at;
            while matches!(r.peek(), Some(b'0'..=b'9')) {
                r.at += 1;
            }
            (r.at > start).then_some(())
        };
        if self.peek() == Some(b'-') {
            self.at += 1;
        }
        match self.peek()? {
            b'0' => self.at += 1,
            b'1'..=b'9' => digits(self)?,
            _ => return None,
        }
        if self.peek() == Some(b'.') {
            self.at += 1;
            digits(self)?;
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.at += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.at += 1;
            }
            digits(self)?;
        }
        Some(())
    }
}

/// The position of the first `"`, `\` or control byte, eight bytes at a time.
///
/// For each 8-byte word, `x - 0x01..01` borrows into a byte's top bit exactly where that byte
/// was zero (or, above a zero byte, spuriously), so the lowest flagged byte is always the first
/// real match; the same holds for "less than 0x20" with `x - 0x20..20`.
fn first_special(bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let zero_in = |v: u64| v.wrapping_sub(ONES) & !v & HIGH;
    let mut at = 0;
    while let Some(word) = bytes.get(at..at + 8) {
        let x = u64::from_le_bytes(word.try_into().ok()?);
        let flags = zero_in(x ^ (ONES * u64::from(b'"')))
            | zero_in(x ^ (ONES * u64::from(b'\\')))
            | (x.wrapping_sub(ONES * 0x20) & !x & HIGH);
        if flags != 0 {
            return Some(at + (flags.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    let tail = bytes.get(at..)?;
    tail.iter()
        .position(|&b| b == b'"' || b == b'\\' || b < 0x20)
        .map(|i| at + i)
}

#[derive(Default)]
struct Choice<'a> {
    delta: Option<Message<'a>>,
    message: Option<Message<'a>>,
    text: Option<Text<'a>>,
}

impl<'a> Choice<'a> {
    /// What `wire::parse_generation` takes from the first choice, in the same order; and the
    /// cut for a [`Template`] when one string without escapes made all of the text.
    fn add_to(self, delta: &mut ResponseDelta<'a>) -> Option<Cut> {
        let mut reasoning: [Option<Text<'a>>; 2] = [None, None];
        let mut content: [Option<Text<'a>>; 3] = [self.text, None, None];
        let messages = [self.delta, self.message];
        for (i, message) in messages.into_iter().enumerate() {
            if let Some(message) = message {
                content[i + 1] = message.content;
                reasoning[i] = message.reasoning_content.or(message.reasoning);
            }
        }
        let mut pieces = 0;
        let mut cut = None;
        for (field, texts, target) in [
            (Field::Content, content.as_mut_slice(), &mut delta.content),
            (
                Field::Reasoning,
                reasoning.as_mut_slice(),
                &mut delta.reasoning,
            ),
        ] {
            for text in texts.iter_mut().filter_map(Option::take) {
                pieces += 1;
                cut = text.span().map(|span| Cut { field, span });
                append(target, text.into_cow());
            }
        }
        cut.filter(|_| pieces == 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The full read, without the template memo.
    fn parse(data: &[u8]) -> Option<ResponseDelta<'_>> {
        parse_in_full(data).map(|(delta, _)| delta)
    }

    fn serde(data: &[u8]) -> Option<ResponseDelta<'_>> {
        super::super::wire::parse_with_serde(data).ok()
    }

    proptest! {
        #[test]
        fn the_word_search_finds_the_first_special_byte(bytes in prop::collection::vec(
            prop_oneof![4 => 0x20u8..0x7f, 1 => Just(b'"'), 1 => Just(b'\\'), 1 => 0u8..0x20, 1 => 0x80u8..=0xff],
            0..40,
        )) {
            let expected = bytes.iter().position(|&b| b == b'"' || b == b'\\' || b < 0x20);
            prop_assert_eq!(first_special(&bytes), expected);
        }
    }

    #[test]
    fn common_chunks_take_the_fast_path() {
        for chunk in [
            r#"{"id":"chatcmpl-mock","object":"chat.completion.chunk","created":0,"model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}"#,
            r#"{"id":"x","choices":[{"index":0,"delta":{"content":" the"},"finish_reason":null}]}"#,
            r#"{"choices":[{"finish_reason":"length","index":0,"delta":{}}],"created":1733,"id":"chatcmpl-1","model":"gpt","system_fingerprint":"b1","object":"chat.completion.chunk","usage":null}"#,
            r#"{"choices":[{"text":"Hello\n\"world\"","index":0,"logprobs":null,"finish_reason":null}],"model":"m"}"#,
            r#"{"choices":[{"delta":{"reasoning_content":"think","content":null}}],"timings":{"predicted_ms":1.5e2,"n":-3}}"#,
            r#" { "choices" : [ { "message" : { "content" : "a/b\tc" , "reasoning" : "r" } } , {"text": null} ] } "#,
            r#"{"choices":[]}"#,
            "{}",
        ] {
            let fast = parse(chunk.as_bytes());
            assert!(fast.is_some(), "fast path refused {chunk}");
            assert_eq!(fast, serde(chunk.as_bytes()), "{chunk}");
        }
    }

    #[test]
    fn unusual_payloads_are_left_to_serde_json() {
        for chunk in [
            r#"{"choices":[],"usage":{"completion_tokens":3}}"#,
            r#"{"error":{"message":"overloaded"}}"#,
            r#"{"choices":[],"choices":[]}"#,
            r#"{"choices":[{"delta":{"content":"a","content":"b"}}]}"#,
            r#"{"cho\u0069ces":[]}"#,
            r#"{"choices":[{"text":"\u00e9"}]}"#,
            r#"{"choices":[{"text":5}]}"#,
            r#"{"choices":null}"#,
            r#"{"choices":[1]}"#,
            r#"{"a":01}"#,
            r#"{"a":1.}"#,
            r#"{"a":"tab	inside"}"#,
            r#"{"a":[1,]}"#,
            r#"{"a":tru}"#,
            r#"{} x"#,
            r#"[]"#,
            "",
        ] {
            assert_eq!(parse(chunk.as_bytes()), None, "{chunk}");
        }
    }

    /// A JSON object from members, with random whitespace around the punctuation.
    fn object(members: Vec<(String, String)>, gap: &'static str) -> String {
        let body: Vec<String> = members
            .iter()
            .map(|(k, v)| format!("{gap}\"{k}\"{gap}:{gap}{v}{gap}"))
            .collect();
        format!("{{{}}}", body.join(","))
    }

    /// Chunk-shaped payloads whose parts vary over every rule: known and unknown keys, nulls,
    /// wrong types, escapes, numbers, nesting, whitespace, repeated fields, trailing bytes.
    fn payload() -> impl Strategy<Value = String> {
        let gap = prop_oneof![4 => Just(""), 1 => Just(" "), 1 => Just("\n\t")];
        let string = prop_oneof![
            16 => "[a-z .,!?]{0,6}".prop_map(|s| format!("\"{s}\"")),
            1 => Just(r#""a\nb\"c\\d\/e\tf""#.to_string()),
            1 => Just(r#""\u0041""#.to_string()),
            1 => Just(r#""\x""#.to_string()),
            1 => Just("\"é🙂\"".to_string()),
            1 => Just("\"tab\there\"".to_string()),
        ];
        let scalar = prop_oneof![
            6 => string.clone(),
            3 => Just("null".to_string()),
            2 => Just("true".to_string()),
            1 => Just("fals".to_string()),
            6 => "-?(0|[1-9][0-9]{0,3})(\\.[0-9]{1,2})?([eE][+-]?[0-9])?",
            1 => Just("01".to_string()),
            1 => Just("1e".to_string()),
        ];
        let any = scalar.clone().prop_recursive(2, 8, 3, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..3)
                    .prop_map(|v| format!("[{}]", v.join(","))),
                prop::collection::vec(("[a-z]{1,3}", inner), 0..3)
                    .prop_map(|m| object(m.into_iter().collect(), "")),
            ]
        });
        // A string-or-null field, sometimes of the wrong type.
        let text =
            prop_oneof![12 => string.clone(), 2 => Just("null".to_string()), 1 => any.clone()];
        let member = |keys: Vec<&'static str>, value: BoxedStrategy<String>| {
            (prop::sample::select(keys), value).prop_map(|(k, v)| (k.to_string(), v))
        };
        let message = (
            prop::collection::vec(
                prop_oneof![
                    4 => member(vec!["content", "reasoning_content", "reasoning"], text.clone().boxed()),
                    1 => member(vec!["role", "tool_calls"], any.clone().boxed()),
                ],
                0..4,
            ),
            gap.clone(),
        )
            .prop_map(|(m, g)| object(m, g));
        let message_or_other =
            prop_oneof![12 => message, 1 => Just("null".to_string()), 1 => any.clone()];
        let choice = (
            prop::collection::vec(
                prop_oneof![
                    3 => member(vec!["delta", "message"], message_or_other.boxed()),
                    2 => member(vec!["text"], text.clone().boxed()),
                    2 => member(vec!["index", "finish_reason", "logprobs"], any.clone().boxed()),
                ],
                0..4,
            ),
            gap.clone(),
        )
            .prop_map(|(m, g)| object(m, g));
        let choices = prop_oneof![
            12 => prop::collection::vec(choice, 1..3).prop_map(|c| format!("[{}]", c.join(","))),
            1 => any.clone(),
        ];
        let response = (
            prop::collection::vec(
                prop_oneof![
                    4 => member(vec!["choices"], choices.boxed()),
                    1 => member(vec!["usage", "error"], prop_oneof![3 => Just("null".to_string()), 1 => any.clone()].boxed()),
                    2 => member(vec!["id", "object", "created", "model"], any.clone().boxed()),
                ],
                1..4,
            ),
            gap,
        )
            .prop_map(|(m, g)| object(m, g));
        (
            response,
            prop_oneof![12 => Just(""), 1 => Just(" \n"), 1 => Just(" x"), 1 => Just("}")],
        )
            .prop_map(|(v, tail)| format!("{v}{tail}"))
    }

    /// The template of `data`, when its text came from one plain string.
    fn template_of(data: &str) -> Option<Template> {
        let (_, cut) = parse_in_full(data.as_bytes())?;
        cut.map(|cut| Template::new(data.as_bytes(), cut))
    }

    #[test]
    fn later_chunks_of_a_stream_are_answered_from_the_template() {
        let first = r#"{"id":"c-1","choices":[{"index":0,"delta":{"content":" the"},"finish_reason":null}]}"#;
        let template = template_of(first).expect("one plain string makes a template");
        let next = r#"{"id":"c-1","choices":[{"index":0,"delta":{"content":"quick fox"},"finish_reason":null}]}"#;
        let answer = template.answer(next.as_bytes());
        assert_eq!(answer.as_ref().map(|d| &*d.content), Some("quick fox"));
        assert_eq!(answer, serde(next.as_bytes()));
        // Reasoning streams cut the reasoning string.
        let thinking = r#"{"choices":[{"delta":{"content":null,"reasoning_content":"hm"}}]}"#;
        let template = template_of(thinking).expect("reasoning makes a template");
        let next = r#"{"choices":[{"delta":{"content":null,"reasoning_content":"so"}}]}"#;
        assert_eq!(template.answer(next.as_bytes()), serde(next.as_bytes()));
        // Not the same shape, or not a plain string: read in full.
        let template = template_of(first).expect("template");
        for other in [
            r#"{"id":"c-2","choices":[{"index":0,"delta":{"content":"x"},"finish_reason":null}]}"#,
            r#"{"id":"c-1","choices":[{"index":0,"delta":{"content":"a\"b"},"finish_reason":null}]}"#,
            r#"{"id":"c-1","choices":[{"index":0,"delta":{"content":"a"b"},"finish_reason":null}]}"#,
            "{\"id\":\"c-1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\tb\"},\"finish_reason\":null}]}",
            r#"{"id":"c-1","choices":[{"index":0,"delta":{"content":" the"},"finish_reason":"stop"}]}"#,
        ] {
            assert_eq!(template.answer(other.as_bytes()), None, "{other}");
        }
    }

    #[test]
    fn text_from_two_strings_makes_no_template() {
        for chunk in [
            r#"{"choices":[{"text":"a","delta":{"content":"b"}}]}"#,
            r#"{"choices":[{"delta":{"content":"a","reasoning":"b"}}]}"#,
            r#"{"choices":[{"delta":{"content":"a"},"message":{"content":""}}]}"#,
            r#"{"choices":[{"delta":{"content":"a\nb"}}]}"#,
            r#"{"choices":[{"delta":{"role":"assistant"}}]}"#,
        ] {
            assert!(template_of(chunk).is_none(), "{chunk}");
        }
        // The second choice is not read, so its string is never the cut.
        let two = r#"{"choices":[{"delta":{"content":"a"}},{"delta":{"content":"a"}}]}"#;
        let template = template_of(two).expect("template");
        let changed = r#"{"choices":[{"delta":{"content":"a"}},{"delta":{"content":"b"}}]}"#;
        assert_eq!(template.answer(changed.as_bytes()), None);
    }

    /// The generated payloads reach the fast path often enough for the comparison to mean
    /// something (most are rejected by one rule or another, by design).
    #[test]
    fn the_generator_exercises_the_fast_path() {
        use proptest::strategy::ValueTree;
        let mut runner = proptest::test_runner::TestRunner::deterministic();
        let strategy = payload();
        let accepted = (0..3000)
            .filter(|_| {
                let data = strategy.new_tree(&mut runner).unwrap().current();
                parse(data.as_bytes()).is_some_and(|d| !d.content.is_empty())
            })
            .count();
        assert!(
            accepted > 60,
            "only {accepted} of 3000 payloads with text took the fast path"
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(5000))]
        #[test]
        fn the_fast_path_agrees_with_serde_json(data in payload()) {
            if let Some(fast) = parse(data.as_bytes()) {
                prop_assert_eq!(Some(fast), serde(data.as_bytes()), "{}", data);
            }
        }

        /// A template's answer for its prefix and suffix around any bytes is serde_json's.
        #[test]
        fn template_answers_agree_with_serde_json(
            content in "[ -~\\n\\t]{0,12}",
            field in prop::sample::select(vec!["content", "reasoning_content", "text"]),
            middle in prop::collection::vec(prop_oneof![
                8 => 0x20u8..0x7f, 1 => Just(b'"'), 1 => Just(b'\\'), 1 => 0u8..0x20, 2 => 0x80u8..=0xff,
            ], 0..16),
            tail in prop_oneof![4 => Just(""), 1 => Just(",\"usage\":null"), 1 => Just(",\"k\":[1,{\"a\":\"b\"}]")],
        ) {
            let content_json = serde_json::to_string(&content).unwrap();
            let chunk = if field == "text" {
                format!(r#"{{"id":"c","choices":[{{"index":0,"text":{content_json}}}]{tail}}}"#)
            } else {
                format!(r#"{{"id":"c","choices":[{{"index":0,"delta":{{"{field}":{content_json}}}}}]{tail}}}"#)
            };
            let Some(template) = template_of(&chunk) else {
                // Only a string with escapes makes none.
                prop_assert!(content_json.contains('\\'), "{}", chunk);
                return Ok(());
            };
            let (prefix, suffix) = template.bytes.split_at(template.prefix_len);
            let payload = [prefix, &middle, suffix].concat();
            let answer = template.answer(&payload);
            let plain = std::str::from_utf8(&middle).is_ok_and(|m| !m.bytes().any(|b| b == b'"' || b == b'\\' || b < 0x20));
            prop_assert_eq!(answer.is_some(), plain);
            if answer.is_some() {
                prop_assert_eq!(answer, serde(&payload));
            }
        }

        /// The memo never changes an answer: any sequence of payloads reads as serde_json reads
        /// each one alone.
        #[test]
        fn the_memo_changes_no_answer(chunks in prop::collection::vec(prop_oneof![
            payload(),
            "[a-z ]{0,6}".prop_map(|c| format!(r#"{{"id":"c","choices":[{{"index":0,"delta":{{"content":"{c}"}}}}]}}"#)),
            "[a-z ]{0,6}".prop_map(|c| format!(r#"{{"id":"c","choices":[{{"index":0,"delta":{{"content":"{c}"}}}}]}} "#)),
        ], 1..12)) {
            for chunk in &chunks {
                if let Some(fast) = super::parse(chunk.as_bytes()) {
                    prop_assert_eq!(Some(fast), serde(chunk.as_bytes()), "{}", chunk);
                }
            }
        }

        #[test]
        fn realistic_chunks_agree_and_mostly_take_the_fast_path(
            content in "[ -~\\n\\t]{0,12}",
            reasoning in proptest::option::of("[a-z ]{0,5}"),
            extra in proptest::option::of("[a-z]{1,4}"),
        ) {
            let content_json = serde_json::to_string(&content).unwrap();
            let reasoning_json = reasoning.map_or("null".to_string(), |r| format!("\"{r}\""));
            let extra_json = extra.map_or(String::new(), |e| format!(",\"{e}\":[1,{{\"k\":-2.5e3}}]"));
            let chunk = format!(
                r#"{{"id":"c","choices":[{{"index":0,"delta":{{"content":{content_json},"reasoning_content":{reasoning_json}}}{extra_json}}}],"created":7}}"#
            );
            let fast = parse(chunk.as_bytes());
            prop_assert!(fast.is_some() || content_json.contains("\\u"), "{}", chunk);
            if fast.is_some() {
                prop_assert_eq!(fast, serde(chunk.as_bytes()));
            }
        }
    }
}
/// A micro-benchmark, not a test: `cargo test --release --lib fast_chunk::speed -- --ignored
/// --nocapture` prints the time per chunk of this reader, of serde_json, and of validating only.
#[cfg(test)]
mod speed {
    #[test]
    #[ignore]
    fn chunk_parse_speed() {
        let chunk = br#"{"id":"chatcmpl-mock","object":"chat.completion.chunk","created":0,"model":"m","choices":[{"index":0,"delta":{"content":" the"},"finish_reason":null}]}"#;
        let n: u32 = 1_000_000;
        let time = |f: &dyn Fn() -> usize| {
            let t = std::time::Instant::now();
            let total: usize = (0..n).map(|_| f()).sum();
            (t.elapsed() / n, total)
        };
        let fast =
            time(&|| super::parse(std::hint::black_box(chunk)).map_or(0, |d| d.content.len()));
        let full = time(&|| {
            super::parse_in_full(std::hint::black_box(chunk)).map_or(0, |d| d.0.content.len())
        });
        let serde = time(&|| {
            super::super::wire::parse_with_serde(std::hint::black_box(chunk))
                .map_or(0, |d| d.content.len())
        });
        let validate = time(&|| {
            let data = std::hint::black_box(chunk);
            let text = std::str::from_utf8(data).unwrap_or_default();
            let mut r = super::Reader {
                text,
                bytes: data,
                at: 0,
                depth: 0,
            };
            r.skip_value().map_or(0, |()| r.at)
        });
        eprintln!(
            "per chunk: from the template {:?}, read in full {:?}, serde_json {:?}, validating only {:?}",
            fast.0, full.0, serde.0, validate.0
        );
    }
}
