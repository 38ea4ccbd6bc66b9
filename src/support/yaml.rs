//! Reading YAML into a JSON value while remembering where every key and item was written, so
//! that any later error (schema, types, semantics) can name the file, line and column.
//!
//! Scalars are typed by the YAML 1.2 core schema (plain `true`, `12`, `1.5`, `null`/`~`; quoted
//! scalars are strings). Anchors and aliases work; complex keys and multiple documents do not.

use super::pointer::escape_token;
use saphyr_parser::{Event, Parser, ScalarStyle, Span};
use serde_json::{Map, Number, Value};
use std::collections::HashMap;

/// A 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pos {
    /// Line, from 1.
    pub line: usize,
    /// Column, from 1.
    pub col: usize,
}

/// A parsed document: its value and the position of every node, by JSON pointer.
#[derive(Debug, Clone, Default)]
pub struct YamlDoc {
    /// The document as JSON.
    pub value: Value,
    /// JSON pointer (`/benchmark/phases/0/rate`) → where that key (or list item) was written.
    pub positions: HashMap<String, Pos>,
}

impl YamlDoc {
    /// The position of `pointer`, or of its nearest ancestor that has one.
    pub fn position(&self, pointer: &str) -> Pos {
        let mut p = pointer.to_string();
        loop {
            if let Some(pos) = self.positions.get(&p) {
                return *pos;
            }
            match p.rfind('/') {
                Some(i) => p.truncate(i),
                None => return Pos { line: 1, col: 1 },
            }
        }
    }
}

fn pos(span: &Span) -> Pos {
    Pos {
        line: span.start.line(),
        col: span.start.col() + 1,
    }
}

enum Frame {
    Seq {
        items: Vec<Value>,
        pointer: String,
        anchor: usize,
    },
    Map {
        map: Map<String, Value>,
        pointer: String,
        anchor: usize,
        key: Option<String>,
    },
}

/// The largest YAML text read (bytes). Experiment files are a few KiB.
pub const MAX_DOCUMENT_BYTES: usize = 4 << 20;
/// The most values a document may hold once aliases are expanded (a "billion laughs" file of
/// nested aliases would otherwise take all memory).
pub const MAX_NODES: u64 = 200_000;
/// The deepest nesting of mappings and sequences.
pub const MAX_DEPTH: usize = 64;

/// Values in a tree (each scalar, mapping and sequence counts one).
fn count_nodes(value: &Value) -> u64 {
    1 + match value {
        Value::Array(items) => items.iter().map(count_nodes).sum(),
        Value::Object(map) => map.values().map(count_nodes).sum(),
        _ => 0,
    }
}

/// Parses one YAML document, bounded in size, depth and alias expansion.
pub fn parse(text: &str) -> Result<YamlDoc, (Pos, String)> {
    if text.len() > MAX_DOCUMENT_BYTES {
        return Err((
            Pos { line: 1, col: 1 },
            format!(
                "the file is {} bytes; experiment files may be at most {MAX_DOCUMENT_BYTES} bytes",
                text.len()
            ),
        ));
    }
    let mut doc = YamlDoc::default();
    let mut stack: Vec<Frame> = Vec::new();
    let mut anchors: HashMap<usize, (Value, u64)> = HashMap::new();
    let mut nodes: u64 = 0;
    let too_many = |here: Pos| {
        (
            here,
            format!(
                "the document expands to more than {MAX_NODES} values (aliases of aliases?); nothing was read"
            ),
        )
    };
    let mut root: Option<Value> = None;
    let mut documents = 0;
    for event in Parser::new_from_str(text) {
        let (event, span) = event.map_err(|e| {
            let m = e.marker();
            (
                Pos {
                    line: m.line(),
                    col: m.col() + 1,
                },
                e.info().to_string(),
            )
        })?;
        let here = pos(&span);
        if matches!(
            event,
            Event::SequenceStart(..) | Event::MappingStart(..) | Event::Scalar(..)
        ) {
            nodes += 1;
            if nodes > MAX_NODES {
                return Err(too_many(here));
            }
            if stack.len() >= MAX_DEPTH {
                return Err((
                    here,
                    format!("mappings and lists are nested more than {MAX_DEPTH} deep"),
                ));
            }
        }
        let node = match event {
            Event::DocumentStart(_) => {
                documents += 1;
                if documents > 1 {
                    return Err((here, "only one YAML document is allowed per file".into()));
                }
                continue;
            }
            Event::StreamStart | Event::StreamEnd | Event::DocumentEnd | Event::Nothing => continue,
            Event::SequenceStart(anchor, _) => {
                let pointer = child_pointer(&stack, &mut doc, here)?;
                stack.push(Frame::Seq {
                    items: Vec::new(),
                    pointer,
                    anchor,
                });
                continue;
            }
            Event::MappingStart(anchor, _) => {
                let pointer = child_pointer(&stack, &mut doc, here)?;
                stack.push(Frame::Map {
                    map: Map::new(),
                    pointer,
                    anchor,
                    key: None,
                });
                continue;
            }
            Event::SequenceEnd => match stack.pop() {
                Some(Frame::Seq { items, anchor, .. }) => {
                    remember(&mut anchors, anchor, Value::Array(items))
                }
                _ => return Err((here, "unbalanced sequence".into())),
            },
            Event::MappingEnd => match stack.pop() {
                Some(Frame::Map { map, anchor, .. }) => {
                    remember(&mut anchors, anchor, Value::Object(map))
                }
                _ => return Err((here, "unbalanced mapping".into())),
            },
            Event::Alias(id) => match anchors.get(&id) {
                Some((v, n)) => {
                    nodes += n;
                    if nodes > MAX_NODES {
                        return Err(too_many(here));
                    }
                    v.clone()
                }
                None => return Err((here, "alias to an unknown anchor".into())),
            },
            Event::Scalar(text, style, anchor, tag) => {
                // A scalar in key position is a key, not a value.
                if let Some(Frame::Map { key, pointer, .. }) = stack.last_mut()
                    && key.is_none()
                {
                    let k = text.to_string();
                    doc.positions
                        .insert(format!("{pointer}/{}", escape_token(&k)), here);
                    *key = Some(k);
                    continue;
                }
                let explicit_string = tag.as_ref().is_some_and(|t| t.suffix == "str");
                let value = if style == ScalarStyle::Plain && !explicit_string {
                    resolve_plain(&text)
                } else {
                    Value::String(text.to_string())
                };
                if !matches!(stack.last(), Some(Frame::Map { .. })) {
                    let pointer = child_pointer(&stack, &mut doc, here)?;
                    doc.positions.entry(pointer).or_insert(here);
                }
                remember(&mut anchors, anchor, value)
            }
        };
        match stack.last_mut() {
            None => root = Some(node),
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map {
                map, key, pointer, ..
            }) => {
                let Some(k) = key.take() else {
                    return Err((here, "complex mapping keys are not supported".into()));
                };
                if map.contains_key(&k) {
                    let at = doc
                        .positions
                        .get(&format!("{pointer}/{}", escape_token(&k)))
                        .copied()
                        .unwrap_or(here);
                    return Err((at, format!("duplicate key '{k}'")));
                }
                map.insert(k, node);
            }
        }
    }
    doc.value = root.unwrap_or(Value::Null);
    Ok(doc)
}

/// The pointer of the node about to start inside the current container; records list items.
fn child_pointer(stack: &[Frame], doc: &mut YamlDoc, here: Pos) -> Result<String, (Pos, String)> {
    Ok(match stack.last() {
        None => String::new(),
        Some(Frame::Seq { items, pointer, .. }) => {
            let p = format!("{pointer}/{}", items.len());
            doc.positions.entry(p.clone()).or_insert(here);
            p
        }
        Some(Frame::Map {
            key: Some(k),
            pointer,
            ..
        }) => format!("{pointer}/{}", escape_token(k)),
        Some(Frame::Map { key: None, .. }) => {
            return Err((here, "complex mapping keys are not supported".into()));
        }
    })
}

fn remember(anchors: &mut HashMap<usize, (Value, u64)>, anchor: usize, value: Value) -> Value {
    if anchor > 0 {
        let n = count_nodes(&value);
        anchors.insert(anchor, (value.clone(), n));
    }
    value
}

/// Types a plain scalar by the YAML 1.2 core schema.
fn resolve_plain(text: &str) -> Value {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" => return Value::String(text.into()),
        _ => {}
    }
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        if let Ok(i) = text.parse::<i64>() {
            return Value::Number(i.into());
        }
        if let Ok(u) = text.trim_start_matches('+').parse::<u64>() {
            return Value::Number(u.into());
        }
    }
    if let Some(hex) = text.strip_prefix("0x")
        && let Ok(u) = u64::from_str_radix(hex, 16)
    {
        return Value::Number(u.into());
    }
    if let Some(oct) = text.strip_prefix("0o")
        && let Ok(u) = u64::from_str_radix(oct, 8)
    {
        return Value::Number(u.into());
    }
    let looks_numeric = digits.starts_with(|c: char| c.is_ascii_digit() || c == '.')
        && digits
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'-' | b'+'));
    if looks_numeric
        && let Ok(f) = text.parse::<f64>()
        && let Some(n) = Number::from_f64(f)
    {
        return Value::Number(n);
    }
    Value::String(text.to_string())
}

/// Replaces `${VAR}` and `${VAR:default}` with environment values, line by line so positions stay
/// right. A variable that is unset and has no default is an error at its position.
pub fn interpolate_env(
    text: &str,
    env: impl Fn(&str) -> Option<String>,
) -> Result<String, (Pos, String)> {
    let mut out = String::with_capacity(text.len());
    for (i, line) in text.split_inclusive('\n').enumerate() {
        let mut rest = line;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let Some(end) = after.find('}') else {
                out.push_str(&rest[start..]);
                rest = "";
                break;
            };
            let inner = &after[..end];
            let (name, default) = match inner.split_once(':') {
                Some((n, d)) => (n, Some(d)),
                None => (inner, None),
            };
            let valid_name =
                !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !valid_name {
                out.push_str(&rest[start..start + 2 + end + 1]);
            } else {
                match env(name).or_else(|| default.map(str::to_string)) {
                    Some(value) => out.push_str(&value),
                    None => {
                        let col = line[..line.len() - rest.len() + start].chars().count() + 1;
                        return Err((
                            Pos { line: i + 1, col },
                            format!(
                                "environment variable {name} is not set (write ${{{name}:default}} to give a default)"
                            ),
                        ));
                    }
                }
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn values_and_positions() {
        let text = "a: 1\nb:\n  c: [x, 2.5, true]\n  d: '7'\nlist:\n  - name: p\n    rate: ~\n";
        let doc = parse(text).unwrap();
        assert_eq!(
            doc.value,
            json!({"a": 1, "b": {"c": ["x", 2.5, true], "d": "7"}, "list": [{"name": "p", "rate": null}]})
        );
        assert_eq!(doc.positions["/a"], Pos { line: 1, col: 1 });
        assert_eq!(doc.positions["/b/c"], Pos { line: 3, col: 3 });
        assert_eq!(doc.positions["/b/c/1"], Pos { line: 3, col: 10 });
        assert_eq!(doc.positions["/list/0/rate"], Pos { line: 7, col: 5 });
        assert_eq!(doc.position("/list/0/rate/deeper"), Pos { line: 7, col: 5 });
    }

    #[test]
    fn anchors_aliases_and_errors() {
        let doc = parse("base: &b {x: 1}\ncopy: *b\n").unwrap();
        assert_eq!(doc.value["copy"], json!({"x": 1}));
        let (at, msg) = parse("a: 1\na: 2\n").unwrap_err();
        assert_eq!((at.line, msg.as_str()), (2, "duplicate key 'a'"));
        let (at, _) = parse("a: [1, 2\nb: 3\n").unwrap_err();
        assert!(at.line >= 1);
        assert!(parse("a: 1\n---\nb: 2\n").is_err());
    }

    #[test]
    fn env_interpolation() {
        let env = |k: &str| (k == "HOST").then(|| "h:1".to_string());
        assert_eq!(
            interpolate_env("url: ${HOST}\nm: ${MODEL:llama}\n", env).unwrap(),
            "url: h:1\nm: llama\n"
        );
        let (at, msg) = interpolate_env("a: 1\nb: x${NOPE}\n", env).unwrap_err();
        assert_eq!((at.line, at.col), (2, 5));
        assert!(msg.contains("NOPE"));
        assert_eq!(
            interpolate_env("p: ${not a var}\n", env).unwrap(),
            "p: ${not a var}\n"
        );
    }
}
