//! The JSON Schema of experiment files: generated from the Rust types (schemars), extended so
//! camelCase spellings of every key validate too, committed as `schemas/experiment.schema.json`,
//! and used (via boon) to validate every file before it is deserialized.

use super::experiment::Experiment;
use serde_json::{Map, Value};
use std::sync::OnceLock;

/// Where the committed schema lives in the repository.
pub const SCHEMA_PATH: &str = "schemas/experiment.schema.json";
const SCHEMA_URL: &str = "urn:aiperf:experiment.schema.json";

/// `snake_case` → `camelCase`.
pub fn to_camel(name: &str) -> String {
    heck::ToLowerCamelCase::to_lower_camel_case(name)
}

/// `camelCase` → `snake_case`. A name without capitals is returned as written, so names a
/// user chose (`phases.warm-up-2.rate`) keep their hyphens and digits.
pub fn to_snake(name: &str) -> String {
    if name.bytes().any(|b| b.is_ascii_uppercase()) {
        heck::ToSnakeCase::to_snake_case(name)
    } else {
        name.to_string()
    }
}

/// Adds a camelCase twin of every multi-word property, and lets a required key be written in
/// either spelling.
fn add_camel_case(schema: &mut Value) {
    match schema {
        Value::Object(map) => {
            // Children first, so the rules added below are not processed again.
            for v in map.values_mut() {
                add_camel_case(v);
            }
            if let Some(Value::Object(props)) = map.get_mut("properties") {
                let twins: Vec<(String, Value)> = props
                    .iter()
                    .filter(|(k, _)| k.contains('_'))
                    .map(|(k, v)| (to_camel(k), v.clone()))
                    .filter(|(k, _)| !props.contains_key(k))
                    .collect();
                props.extend(twins);
            }
            let required: Vec<String> = map
                .get("required")
                .and_then(Value::as_array)
                .map(|r| {
                    r.iter()
                        .filter_map(|v| v.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            if required.iter().any(|k| k.contains('_')) {
                let (plain, twinned): (Vec<String>, Vec<String>) =
                    required.into_iter().partition(|k| !k.contains('_'));
                map.insert("required".into(), Value::from(plain));
                let any_of: Vec<Value> = twinned
                    .iter()
                    .map(|k| serde_json::json!({"anyOf": [{"required": [k]}, {"required": [to_camel(k)]}]}))
                    .collect();
                if let Value::Array(list) = map
                    .entry("allOf")
                    .or_insert_with(|| Value::Array(Vec::new()))
                {
                    list.extend(any_of);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(add_camel_case),
        _ => {}
    }
}

/// Serde aliases (schemars leaves them out): (definition, canonical key, alias).
const ALIASES: &[(&str, &str, &str)] = &[
    ("BenchmarkSpec", "models", "model"),
    ("BenchmarkSpec", "datasets", "dataset"),
    ("EndpointSpec", "urls", "url"),
];

/// Lets each alias stand for its canonical key, including where the key is required.
fn add_aliases(schema: &mut Value) {
    for (def, canonical, alias) in ALIASES {
        let Some(Value::Object(def)) = schema.pointer_mut(&format!("/$defs/{def}")) else {
            continue;
        };
        if let Some(Value::Object(props)) = def.get_mut("properties")
            && let Some(sub) = props.get(*canonical).cloned()
        {
            props.insert(alias.to_string(), sub);
        }
        let required = def.get_mut("required").and_then(Value::as_array_mut);
        if let Some(required) = required
            && let Some(i) = required.iter().position(|v| v == canonical)
        {
            required.remove(i);
            let rule =
                serde_json::json!({"anyOf": [{"required": [canonical]}, {"required": [alias]}]});
            if let Value::Array(list) = def
                .entry("allOf")
                .or_insert_with(|| Value::Array(Vec::new()))
            {
                list.push(rule);
            }
        }
    }
}

/// What a duration string must look like: a number, optionally with ms, s, m or h.
pub const DURATION_PATTERN: &str = r"^\s*[0-9]+(\.[0-9]+)?\s*(ms|s|m|h)?\s*$";

/// Constrains the string form of durations (schemars cannot put a pattern on an enum variant).
fn add_duration_pattern(schema: &mut Value) {
    if let Some(Value::Array(variants)) = schema.pointer_mut("/$defs/DurationForm/anyOf") {
        for v in variants.iter_mut().filter(|v| v["type"] == "string") {
            v["pattern"] = Value::from(DURATION_PATTERN);
        }
    }
}

/// AIPerf's phase shorthand: `warmup:` and `profiling:` beside (instead of) `phases:`. The
/// loader turns them into `phases` before the types see them.
fn add_phase_shorthand(schema: &mut Value) {
    let Some(Value::Object(def)) = schema.pointer_mut("/$defs/BenchmarkSpec") else {
        return;
    };
    if let Some(Value::Object(props)) = def.get_mut("properties") {
        for (name, doc) in [
            (
                "warmup",
                "Shorthand for a phase named warmup (excluded from results).",
            ),
            ("profiling", "Shorthand for the measured phase."),
        ] {
            props.insert(
                name.into(),
                serde_json::json!({"description": doc, "$ref": "#/$defs/PhaseSpec"}),
            );
        }
    }
    if let Some(Value::Array(required)) = def.get_mut("required") {
        required.retain(|k| k != "phases");
    }
    let rule =
        serde_json::json!({"anyOf": [{"required": ["phases"]}, {"required": ["profiling"]}]});
    if let Value::Array(list) = def
        .entry("allOf")
        .or_insert_with(|| Value::Array(Vec::new()))
    {
        list.push(rule);
    }
}

/// The experiment schema as JSON.
pub fn experiment_schema() -> Value {
    let mut schema = serde_json::to_value(schemars::schema_for!(Experiment)).unwrap_or(Value::Null);
    add_duration_pattern(&mut schema);
    add_phase_shorthand(&mut schema);
    add_aliases(&mut schema);
    add_camel_case(&mut schema);
    if let Value::Object(map) = &mut schema {
        map.insert(
            "$id".into(),
            Value::from("https://aiperf.dev/schemas/experiment.schema.json"),
        );
    }
    schema
}

/// The schema as committed: pretty-printed with a final newline.
pub fn experiment_schema_text() -> String {
    let mut text = serde_json::to_string_pretty(&experiment_schema()).unwrap_or_default();
    text.push('\n');
    text
}

/// One schema violation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaViolation {
    /// JSON pointer of the offending value.
    pub pointer: String,
    /// What is wrong.
    pub message: String,
}

struct Compiled {
    schemas: boon::Schemas,
    index: boon::SchemaIndex,
    schema: Value,
}

fn compiled() -> &'static Result<Compiled, String> {
    static COMPILED: OnceLock<Result<Compiled, String>> = OnceLock::new();
    COMPILED.get_or_init(|| {
        let schema = experiment_schema();
        let mut schemas = boon::Schemas::new();
        let mut compiler = boon::Compiler::new();
        compiler
            .add_resource(SCHEMA_URL, schema.clone())
            .map_err(|e| e.to_string())?;
        let index = compiler
            .compile(SCHEMA_URL, &mut schemas)
            .map_err(|e| e.to_string())?;
        Ok(Compiled {
            schemas,
            index,
            schema,
        })
    })
}

/// The property names allowed where an `additionalProperties` keyword at `keyword_url` applies.
fn allowed_properties(schema: &Value, keyword_url: &str) -> Vec<String> {
    let fragment = keyword_url.split_once('#').map(|(_, f)| f).unwrap_or("");
    let parent = fragment
        .strip_suffix("/additionalProperties")
        .unwrap_or(fragment);
    schema
        .pointer(parent)
        .and_then(|s| s.get("properties"))
        .and_then(Value::as_object)
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default()
}

fn collect(error: &boon::ValidationError<'_, '_>, schema: &Value, out: &mut Vec<SchemaViolation>) {
    if !error.causes.is_empty() {
        for cause in &error.causes {
            collect(cause, schema, out);
        }
        return;
    }
    let pointer = error.instance_location.to_string();
    let message = match &error.kind {
        boon::ErrorKind::AdditionalProperties { got } => {
            let allowed = allowed_properties(schema, error.schema_url);
            for key in got {
                // Suggest in the spelling style the user wrote (camelCase or snake_case).
                let camel = key.chars().any(|c| c.is_ascii_uppercase());
                let same_style = allowed
                    .iter()
                    .filter(|k| camel || !k.chars().any(|c| c.is_ascii_uppercase()));
                let hint = crate::support::suggest::closest(key, same_style.map(String::as_str))
                    .map(|s| format!(" (did you mean '{s}'?)"))
                    .unwrap_or_default();
                out.push(SchemaViolation {
                    pointer: format!("{pointer}/{}", crate::support::pointer::escape_token(key)),
                    message: format!("unknown key '{key}'{hint}"),
                });
            }
            return;
        }
        boon::ErrorKind::Pattern { got, .. } if error.schema_url.contains("DurationForm") => {
            format!(
                "'{got}' is not a duration: write seconds (90) or a number with ms, s, m or h (\"90s\", \"5m\", \"2h\")"
            )
        }
        boon::ErrorKind::Required { want } => {
            format!(
                "missing required key{} {}",
                if want.len() > 1 { "s" } else { "" },
                want.join(", ")
            )
        }
        other => other.to_string(),
    };
    out.push(SchemaViolation { pointer, message });
}

/// Makes branch-by-branch output of `anyOf`/`oneOf` readable: the enum alternatives reported at
/// one place become one message naming them all, with a suggestion for the value written; and a
/// type mismatch of a shorthand branch is dropped when another branch reports something more
/// precise further in.
fn tidy(violations: Vec<SchemaViolation>, document: &Value) -> Vec<SchemaViolation> {
    let mut out: Vec<SchemaViolation> = Vec::new();
    let mut choices: Vec<(String, Vec<String>)> = Vec::new();
    for v in violations {
        if let Some(rest) = v.message.strip_prefix("value must be ") {
            let options = rest.split(", ").map(|o| o.trim_matches('\'').to_string());
            match choices.iter_mut().find(|(p, _)| *p == v.pointer) {
                Some((_, list)) => list.extend(options),
                None => {
                    choices.push((v.pointer.clone(), options.collect()));
                    out.push(v); // placeholder, rewritten below
                }
            }
        } else if !out.contains(&v) {
            out.push(v);
        }
    }
    for v in out.iter_mut() {
        if let Some((_, options)) = choices
            .iter()
            .find(|(p, _)| *p == v.pointer && v.message.starts_with("value must be "))
        {
            let got = document.pointer(&v.pointer).map(|g| {
                g.as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| g.to_string())
            });
            let got = got.unwrap_or_default();
            let hint = crate::support::suggest::closest(&got, options.iter().map(String::as_str))
                .map(|s| format!(" (did you mean '{s}'?)"))
                .unwrap_or_default();
            let list = options
                .iter()
                .map(|o| format!("'{o}'"))
                .collect::<Vec<_>>()
                .join(", ");
            v.message = format!("must be one of {list}, got '{got}'{hint}");
        }
    }
    let snapshot = out.clone();
    let deeper = |p: &str| {
        snapshot
            .iter()
            .any(|o| o.pointer.len() > p.len() && o.pointer.starts_with(p))
    };
    out.retain(|v| !(v.message.starts_with("want ") && deeper(&v.pointer)));
    out
}

/// Whether a value is a `{{ variable }}` template, which is checked after substitution instead.
fn is_template(document: &Value, pointer: &str) -> bool {
    document
        .pointer(pointer)
        .and_then(Value::as_str)
        .is_some_and(|s| s.contains("{{"))
}

/// Validates a document against the experiment schema, returning every violation.
pub fn validate_document(document: &Value) -> Vec<SchemaViolation> {
    let compiled = match compiled() {
        Ok(c) => c,
        Err(e) => {
            return vec![SchemaViolation {
                pointer: String::new(),
                message: format!("internal schema error: {e}"),
            }];
        }
    };
    match compiled.schemas.validate(document, compiled.index) {
        Ok(()) => Vec::new(),
        Err(error) => {
            let mut out = Vec::new();
            collect(&error, &compiled.schema, &mut out);
            let mut out = tidy(out, document);
            out.retain(|v| !is_template(document, &v.pointer));
            out
        }
    }
}

/// Renames camelCase keys to snake_case where the snake_case name is a known property, leaving
/// free-form maps (SLO tags, headers, extra body fields, sweep parameters, variables) untouched.
pub fn normalize_keys(value: &mut Value) {
    const FREE_FORM: &[&str] = &[
        "slos",
        "headers",
        "extra",
        "parameters",
        "variables",
        "values",
    ];
    fn walk(value: &mut Value, known: &std::collections::HashSet<String>) {
        match value {
            Value::Object(map) => {
                let renamed: Map<String, Value> = std::mem::take(map)
                    .into_iter()
                    .map(|(k, mut v)| {
                        let key = if k.chars().any(|c| c.is_ascii_uppercase())
                            && known.contains(&to_snake(&k))
                        {
                            to_snake(&k)
                        } else {
                            k
                        };
                        if !FREE_FORM.contains(&key.as_str()) {
                            walk(&mut v, known);
                        } else if key == "values" || key == "parameters" {
                            // Keys are paths; nested scenario bodies are normalized below.
                        }
                        if key == "benchmark" {
                            walk(&mut v, known);
                        }
                        (key, v)
                    })
                    .collect();
                *map = renamed;
            }
            Value::Array(items) => items.iter_mut().for_each(|v| walk(v, known)),
            _ => {}
        }
    }
    let mut known = std::collections::HashSet::new();
    fn gather(schema: &Value, known: &mut std::collections::HashSet<String>) {
        match schema {
            Value::Object(map) => {
                if let Some(Value::Object(props)) = map.get("properties") {
                    known.extend(props.keys().filter(|k| k.contains('_')).cloned());
                }
                map.values().for_each(|v| gather(v, known));
            }
            Value::Array(items) => items.iter().for_each(|v| gather(v, known)),
            _ => {}
        }
    }
    gather(&experiment_schema(), &mut known);
    walk(value, &known);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_conversions() {
        assert_eq!(to_camel("num_runs"), "numRuns");
        assert_eq!(to_snake("confidenceLevel"), "confidence_level");
        assert_eq!(to_snake("ttftP95Ms"), "ttft_p95_ms");
        assert_eq!(to_camel("ttft_p95_ms"), "ttftP95Ms");
        assert_eq!(to_snake("ttft_p95_ms"), "ttft_p95_ms");
        assert_eq!(to_snake("warm-up-2"), "warm-up-2");
        assert_eq!(
            to_snake(&to_camel("use_server_token_count")),
            "use_server_token_count"
        );
    }

    #[test]
    fn committed_schema_is_fresh() {
        let committed = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/schemas/experiment.schema.json"
        ))
        .unwrap_or_default();
        assert!(
            committed == experiment_schema_text(),
            "schemas/experiment.schema.json is stale: regenerate it with `cargo run -- schema > {SCHEMA_PATH}`"
        );
    }
}
