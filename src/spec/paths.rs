//! Dotted parameter paths (`phases.profiling.concurrency`, `datasets.main.prompts.isl`,
//! `endpoint.streaming`) and AIPerf's bare-name sugar, applied to a benchmark as JSON.

use serde_json::{Map, Value};

crate::sentence_error!(
    /// A dotted path that names nothing settable in the benchmark.
    InvalidPath
);

/// Bare names that mean a field of the profiling phase.
const PHASE_FIELDS: &[&str] = &[
    "concurrency",
    "prefill_concurrency",
    "rate",
    "smoothness",
    "requests",
    "duration",
    "grace_period",
    "concurrency_ramp",
    "prefill_ramp",
    "rate_ramp",
    "speedup",
    "start_offset",
    "end_offset",
];

/// Bare names that mean a field of the dataset (AIPerf's flag names where they differ).
const DATASET_FIELDS: &[(&str, &str)] = &[
    ("input_file", "datasets.main.path"),
    ("replay_speedup", "phases.profiling.speedup"),
    ("prefix_length", "datasets.main.prompts.prefix_length"),
    (
        "prefix_prompt_length",
        "datasets.main.prompts.prefix_length",
    ),
    ("prefix_pool_size", "datasets.main.prompts.prefix_pool_size"),
    (
        "prefix_prompt_pool_size",
        "datasets.main.prompts.prefix_pool_size",
    ),
    (
        "shared_system_length",
        "datasets.main.prompts.shared_system_length",
    ),
    (
        "shared_system_prompt_length",
        "datasets.main.prompts.shared_system_length",
    ),
    ("seq_dist", "datasets.main.prompts.seq_dist"),
    ("block_size", "datasets.main.block_size"),
    ("isl_block_size", "datasets.main.block_size"),
];

/// The full path of a parameter name (bare names expanded, camelCase segments snake_cased).
pub fn canonical_path(name: &str) -> String {
    let snake: Vec<String> = name.split('.').map(crate::spec::schema::to_snake).collect();
    let joined = snake.join(".");
    if snake.len() == 1 && PHASE_FIELDS.contains(&joined.as_str()) {
        return format!("phases.profiling.{joined}");
    }
    if snake.len() == 1
        && let Some((_, path)) = DATASET_FIELDS.iter().find(|(name, _)| *name == joined)
    {
        return (*path).to_string();
    }
    // `isl`, `osl`, and their `.mean` / `.stddev` parts.
    if matches!(snake[0].as_str(), "isl" | "osl")
        && (snake.len() == 1
            || (snake.len() == 2 && matches!(snake[1].as_str(), "mean" | "stddev")))
    {
        return format!("datasets.main.prompts.{joined}");
    }
    joined
}

/// The short display name of a path: its last segment, except that a prompt length's parts
/// are named after it (`isl` for `...prompts.isl.mean`, `isl_stddev` for its deviation).
pub fn leaf(path: &str) -> &str {
    let mut segments = path.rsplit('.');
    let last = segments.next().unwrap_or(path);
    match (last, segments.next(), segments.next()) {
        ("mean", Some(length @ ("isl" | "osl")), Some("prompts")) => length,
        ("stddev", Some("isl"), Some("prompts")) => "isl_stddev",
        ("stddev", Some("osl"), Some("prompts")) => "osl_stddev",
        _ => last,
    }
}

/// Finds the element of a named list (`phases`, `datasets`) by name or index. For phases,
/// `profiling` and `warmup` also match a phase of that kind.
fn find_named<'a>(
    list: &'a mut [Value],
    key: &str,
    list_name: &str,
) -> Result<&'a mut Value, String> {
    let names: Vec<String> = list
        .iter()
        .filter_map(|v| v["name"].as_str().map(str::to_string))
        .collect();
    let position = key
        .parse::<usize>()
        .ok()
        .filter(|i| *i < list.len())
        .or_else(|| list.iter().position(|v| v["name"] == key))
        .or_else(|| match (list_name, key) {
            ("phases", "profiling") => list.iter().rposition(|v| v["kind"] == "profiling"),
            ("phases", "warmup") => list.iter().position(|v| v["kind"] == "warmup"),
            ("datasets", "main") if list.len() == 1 => Some(0),
            _ => None,
        });
    match position {
        Some(i) => Ok(&mut list[i]),
        None => Err(format!(
            "no {} named '{key}' (there are: {})",
            &list_name[..list_name.len() - 1],
            names.join(", ")
        )),
    }
}

/// The value at the dotted `path` of a benchmark JSON, if there is one.
pub fn get(benchmark: &Value, path: &str) -> Option<Value> {
    let mut copy = benchmark.clone();
    let segments: Vec<&str> = path.split('.').collect();
    let mut node = &mut copy;
    let mut i = 0;
    while i < segments.len() {
        let segment = segments[i];
        if matches!(segment, "phases" | "datasets")
            && i + 1 < segments.len()
            && node.get(segment).is_some_and(Value::is_array)
        {
            let list = node.get_mut(segment)?.as_array_mut()?;
            node = find_named(list, segments[i + 1], segment).ok()?;
            i += 2;
            continue;
        }
        node = node.get_mut(segment)?;
        i += 1;
    }
    Some(node.clone())
}

/// Sets `value` at the dotted `path` of a benchmark JSON, creating intermediate objects.
pub fn set(benchmark: &mut Value, path: &str, value: Value) -> Result<(), InvalidPath> {
    let segments: Vec<&str> = path.split('.').collect();
    if segments.iter().any(|s| s.is_empty()) {
        return Err(format!("'{path}' is not a valid dotted path").into());
    }
    if segments[0] == "benchmark" {
        return Err(format!(
            "paths are relative to `benchmark:`; write '{}'",
            segments[1..].join(".")
        )
        .into());
    }
    let mut node = benchmark;
    let mut i = 0;
    while i < segments.len() {
        let segment = segments[i];
        let last = i == segments.len() - 1;
        if matches!(segment, "phases" | "datasets")
            && !last
            && node.get(segment).is_some_and(Value::is_array)
        {
            let list = node
                .get_mut(segment)
                .and_then(Value::as_array_mut)
                .ok_or("unreachable")?;
            node = find_named(list, segments[i + 1], segment)?;
            i += 2;
            if i == segments.len() {
                return Err(format!(
                    "'{path}' names a whole {segment} entry; name a field inside it"
                )
                .into());
            }
            continue;
        }
        let Value::Object(map) = node else {
            return Err(format!(
                "'{}' is not an object, so '{path}' cannot be set",
                segments[..i].join(".")
            )
            .into());
        };
        if last {
            map.insert(segment.to_string(), value);
            return Ok(());
        }
        node = map
            .entry(segment.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
        i += 1;
    }
    Ok(())
}

/// Gives a (partial) benchmark body as written the canonical structure that dotted paths
/// address, without touching values: `model`/`dataset`/`endpoint.url` become `models`/`datasets`/
/// `endpoint.urls`, a single dataset or phase becomes a one-element list, datasets are named
/// (`main`) and phases get their name (`profiling`) and kind.
pub fn canonical_structure(benchmark: &mut Value) {
    let Value::Object(map) = benchmark else {
        return;
    };
    for (alias, canonical) in [("model", "models"), ("dataset", "datasets")] {
        if let Some(v) = map.remove(alias) {
            map.insert(canonical.into(), v);
        }
    }
    if let Some(Value::Object(endpoint)) = map.get_mut("endpoint")
        && let Some(v) = endpoint.remove("url")
    {
        endpoint.insert("urls".into(), v);
    }
    // `warmup:` / `profiling:` shorthand → phases (warmup first).
    if !map.contains_key("phases") && (map.contains_key("warmup") || map.contains_key("profiling"))
    {
        let mut phases = Vec::new();
        for name in ["warmup", "profiling"] {
            if let Some(Value::Object(mut phase)) = map.remove(name) {
                phase.entry("name").or_insert_with(|| Value::from(name));
                phases.push(Value::Object(phase));
            }
        }
        map.insert("phases".into(), Value::Array(phases));
    }
    for key in ["datasets", "phases"] {
        if let Some(v) = map.get_mut(key)
            && v.is_object()
        {
            *v = Value::Array(vec![v.take()]);
        }
    }
    if let Some(Value::Array(datasets)) = map.get_mut("datasets") {
        for d in datasets.iter_mut().filter_map(Value::as_object_mut) {
            d.entry("name").or_insert_with(|| Value::from("main"));
        }
    }
    if let Some(Value::Array(phases)) = map.get_mut("phases") {
        for p in phases.iter_mut().filter_map(Value::as_object_mut) {
            let name = p
                .entry("name")
                .or_insert_with(|| Value::from("profiling"))
                .clone();
            if !p.contains_key("kind") {
                let excluded = p.get("exclude_from_results").and_then(Value::as_bool);
                let warmup = excluded == Some(true) || (excluded.is_none() && name == "warmup");
                p.insert(
                    "kind".into(),
                    Value::from(if warmup { "warmup" } else { "profiling" }),
                );
            }
        }
    }
}

/// Deep-merges `overlay` into `base`: objects merge key by key, anything else replaces.
pub fn deep_merge(base: &mut Value, overlay: &Value) {
    match (base, overlay) {
        (Value::Object(b), Value::Object(o)) => {
            for (k, v) in o {
                match b.get_mut(k) {
                    Some(existing) if existing.is_object() && v.is_object() => {
                        deep_merge(existing, v)
                    }
                    _ => {
                        b.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (b, o) => *b = o.clone(),
    }
}

/// [`substitute_variables`] on a benchmark body, leaving `endpoint.template` alone: its
/// `{{ prompt }}` placeholders are filled per request, not by the experiment's variables.
pub fn substitute_benchmark_variables(
    benchmark: &mut Value,
    variables: &Map<String, Value>,
) -> Result<(), InvalidPath> {
    let template = benchmark
        .get_mut("endpoint")
        .and_then(Value::as_object_mut)
        .and_then(|e| e.remove("template"));
    let result = substitute_variables(benchmark, variables);
    if let (Some(t), Some(endpoint)) = (
        template,
        benchmark.get_mut("endpoint").and_then(Value::as_object_mut),
    ) {
        endpoint.insert("template".into(), t);
    }
    result
}

/// Replaces `{{ name }}` in every string with the variable's value; a string that is only one
/// placeholder takes the variable's type (so `"{{ c }}"` can become the number 8).
pub fn substitute_variables(
    value: &mut Value,
    variables: &Map<String, Value>,
) -> Result<(), InvalidPath> {
    match value {
        Value::String(s) if s.contains("{{") => {
            let trimmed = s.trim();
            if let Some(name) = trimmed
                .strip_prefix("{{")
                .and_then(|r| r.strip_suffix("}}"))
                .map(str::trim)
                && !name.contains("{{")
            {
                let v = variables
                    .get(name)
                    .ok_or_else(|| format!("unknown variable '{name}' in \"{s}\""))?;
                *value = v.clone();
                return Ok(());
            }
            let mut out = String::new();
            let mut rest = s.as_str();
            while let Some(start) = rest.find("{{") {
                out.push_str(&rest[..start]);
                let end = rest[start..]
                    .find("}}")
                    .ok_or_else(|| format!("unclosed '{{{{' in \"{s}\""))?
                    + start;
                let name = rest[start + 2..end].trim();
                let v = variables
                    .get(name)
                    .ok_or_else(|| format!("unknown variable '{name}' in \"{s}\""))?;
                out.push_str(
                    &v.as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|| v.to_string()),
                );
                rest = &rest[end + 2..];
            }
            out.push_str(rest);
            *s = out;
            Ok(())
        }
        Value::Array(items) => items
            .iter_mut()
            .try_for_each(|v| substitute_variables(v, variables)),
        Value::Object(map) => map
            .values_mut()
            .try_for_each(|v| substitute_variables(v, variables)),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn bench() -> Value {
        json!({"endpoint": {"streaming": true}, "datasets": [{"name": "main", "prompts": {"isl": {"mean": 10.0}}}],
               "phases": [{"name": "warmup", "kind": "warmup"}, {"name": "main", "kind": "profiling", "concurrency": 1}]})
    }

    #[test]
    fn bare_names_and_named_lists() {
        assert_eq!(
            canonical_path("concurrency"),
            "phases.profiling.concurrency"
        );
        assert_eq!(
            canonical_path("gracePeriod"),
            "phases.profiling.grace_period"
        );
        assert_eq!(canonical_path("isl"), "datasets.main.prompts.isl");
        assert_eq!(canonical_path("replaySpeedup"), "phases.profiling.speedup");
        assert_eq!(canonical_path("input_file"), "datasets.main.path");
        assert_eq!(
            canonical_path("prefix_prompt_length"),
            "datasets.main.prompts.prefix_length"
        );
        let mut b = bench();
        set(&mut b, &canonical_path("concurrency"), json!(8)).unwrap();
        assert_eq!(
            b["phases"][1]["concurrency"], 8,
            "profiling resolves to the phase of that kind"
        );
        set(&mut b, "phases.warmup.requests", json!(3)).unwrap();
        set(&mut b, "datasets.main.prompts.isl", json!(512)).unwrap();
        set(&mut b, "endpoint.extra.ignore_eos", json!(true)).unwrap();
        assert_eq!(
            (
                b["phases"][0]["requests"].clone(),
                b["datasets"][0]["prompts"]["isl"].clone()
            ),
            (json!(3), json!(512))
        );
        assert_eq!(b["endpoint"]["extra"]["ignore_eos"], true);
        assert!(
            set(&mut b, "phases.cooldown.rate", json!(1))
                .unwrap_err()
                .0
                .contains("no phase named 'cooldown'")
        );
        assert!(
            set(&mut b, "benchmark.endpoint.streaming", json!(1))
                .unwrap_err()
                .0
                .contains("relative to")
        );
    }

    #[test]
    fn merge_and_variables() {
        let mut b = bench();
        deep_merge(&mut b, &json!({"endpoint": {"path": "/x"}}));
        assert_eq!(b["endpoint"], json!({"streaming": true, "path": "/x"}));
        let mut v = json!({"a": "{{ c }}", "b": "model-{{name}}-v1", "c": ["{{ c }}"]});
        let vars = json!({"c": 8, "name": "llama"})
            .as_object()
            .unwrap()
            .clone();
        substitute_variables(&mut v, &vars).unwrap();
        assert_eq!(v, json!({"a": 8, "b": "model-llama-v1", "c": [8]}));
        assert!(substitute_variables(&mut json!("{{ nope }}"), &vars).is_err());
        let mut bench =
            json!({"endpoint": {"template": "{\"p\": {{ prompt|tojson }}}", "path": "/{{ c }}"}});
        let vars = json!({"c": "generate"}).as_object().unwrap().clone();
        substitute_benchmark_variables(&mut bench, &vars).unwrap();
        assert_eq!(bench["endpoint"]["path"], "/generate");
        assert_eq!(
            bench["endpoint"]["template"], "{\"p\": {{ prompt|tojson }}}",
            "left for each request"
        );
    }
}
