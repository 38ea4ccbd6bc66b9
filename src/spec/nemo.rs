//! The NeMo Guardrails batch format (`batch_name`, `output_base_dir`, `base_config`, `sweeps`),
//! accepted unchanged. Like NeMo's `run_aiperf.py`, each sweep combination becomes an
//! `aiperf profile` command line built from `base_config` overridden by the combination; aiperf
//! parses it with its own `profile` flags, so the two formats can never disagree.

use crate::spec::BenchmarkSpec;
use serde::Deserialize;
use serde_json::{Map, Value};
use std::path::PathBuf;

crate::sentence_error!(
    /// `aiperf profile` arguments that do not parse into a valid benchmark.
    InvalidProfileArgs
);

/// The file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NemoBatch {
    /// Name of the batch (a directory level).
    #[serde(default = "default_batch_name")]
    pub batch_name: String,
    /// Root of all results.
    #[serde(default = "default_output_base_dir")]
    pub output_base_dir: PathBuf,
    /// Settings of every run.
    pub base_config: Map<String, Value>,
    /// Values to sweep (Cartesian product), by `base_config` key.
    #[serde(default)]
    pub sweeps: Option<Map<String, Value>>,
}

fn default_batch_name() -> String {
    "benchmark".into()
}

fn default_output_base_dir() -> PathBuf {
    PathBuf::from("aiperf_results")
}

/// The keys `base_config` accepts (NeMo's model).
pub const BASE_CONFIG_KEYS: &[&str] = &[
    "model",
    "tokenizer",
    "url",
    "endpoint",
    "endpoint_type",
    "api_key_env_var",
    "streaming",
    "warmup_request_count",
    "benchmark_duration",
    "concurrency",
    "request_rate",
    "request_rate_mode",
    "random_seed",
    "prompt_input_tokens_mean",
    "prompt_input_tokens_stddev",
    "prompt_output_tokens_mean",
    "prompt_output_tokens_stddev",
];

/// Whether a YAML document is in this format.
pub fn is_nemo_batch(doc: &Value) -> bool {
    doc.get("base_config").is_some()
        || (doc.get("batch_name").is_some() && doc.get("benchmark").is_none())
}

/// One run of the batch.
#[derive(Debug, Clone)]
pub struct NemoRun {
    /// Sweep values of this run (empty without sweeps), in declaration order.
    pub sweep_params: Map<String, Value>,
    /// Directory name: `{key}{value}` joined by `_`, keys sorted (NeMo's naming).
    pub dir_name: String,
    /// The equivalent `aiperf profile` arguments (after `profile`), secrets included.
    pub args: Vec<String>,
}

/// A problem at a key path.
pub type NemoError = (String, String);

fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Checks the keys of `base_config` and `sweeps` and builds every run.
pub fn runs(batch: &NemoBatch) -> Result<Vec<NemoRun>, Vec<NemoError>> {
    let mut errors = Vec::new();
    let check_key = |key: &str, at: String, errors: &mut Vec<NemoError>| {
        if !BASE_CONFIG_KEYS.contains(&key) {
            let hint = crate::support::suggest::closest(key, BASE_CONFIG_KEYS.iter().copied())
                .map(|s| format!(" (did you mean '{s}'?)"))
                .unwrap_or_default();
            errors.push((at, format!("unknown key '{key}'{hint}")));
        }
    };
    for key in batch.base_config.keys() {
        check_key(key, format!("base_config.{key}"), &mut errors);
    }
    for required in ["model", "url"] {
        if !batch.base_config.contains_key(required) {
            errors.push((
                "base_config".into(),
                format!("missing required key {required}"),
            ));
        }
    }
    let mut sweep: Vec<(String, Vec<Value>)> = Vec::new();
    for (key, values) in batch.sweeps.iter().flatten() {
        check_key(key, format!("sweeps.{key}"), &mut errors);
        match values.as_array() {
            Some(list) if !list.is_empty() => sweep.push((key.clone(), list.clone())),
            _ => errors.push((
                format!("sweeps.{key}"),
                "sweep values must be a non-empty list".into(),
            )),
        }
    }
    let combos: usize = sweep.iter().map(|(_, v)| v.len()).product();
    if combos > 100 {
        errors.push((
            "sweeps".into(),
            format!("the sweeps make {combos} runs; at most 100 are allowed (as in NeMo's runner)"),
        ));
    }
    if let Some(var) = batch
        .base_config
        .get("api_key_env_var")
        .and_then(Value::as_str)
        && std::env::var(var).map(|v| v.is_empty()).unwrap_or(true)
    {
        errors.push((
            "base_config.api_key_env_var".into(),
            format!("environment variable '{var}' is not set; set it: export {var}='your-api-key'"),
        ));
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let mut combinations: Vec<Map<String, Value>> = vec![Map::new()];
    for (key, values) in &sweep {
        combinations = combinations
            .into_iter()
            .flat_map(|c| {
                values.iter().map(move |v| {
                    let mut n = c.clone();
                    n.insert(key.clone(), v.clone());
                    n
                })
            })
            .collect();
    }
    Ok(combinations
        .into_iter()
        .map(|sweep_params| {
            let mut params = batch.base_config.clone();
            params.extend(sweep_params.clone());
            let mut sorted: Vec<(&String, &Value)> = sweep_params.iter().collect();
            sorted.sort_by(|a, b| a.0.cmp(b.0));
            let dir_name = sorted
                .iter()
                .map(|(k, v)| format!("{k}{}", value_text(v)))
                .collect::<Vec<_>>()
                .join("_");
            NemoRun {
                args: profile_args(&params),
                sweep_params,
                dir_name,
            }
        })
        .collect())
}

/// The `aiperf profile` arguments NeMo's runner would pass for these parameters.
fn profile_args(params: &Map<String, Value>) -> Vec<String> {
    let mut args = Vec::new();
    // NeMo documents `constant` as the default arrival pattern of its request rates.
    let mut params = params.clone();
    if params.get("request_rate").is_some_and(|r| !r.is_null())
        && !params.contains_key("request_rate_mode")
    {
        params.insert("request_rate_mode".into(), Value::from("constant"));
    }
    for (key, value) in &params {
        if value.is_null() {
            continue;
        }
        if key == "api_key_env_var" {
            if let Some(key) = value.as_str().and_then(|v| std::env::var(v).ok()) {
                args.extend(["--api-key".to_string(), key]);
            }
            continue;
        }
        let flag = format!("--{}", key.replace('_', "-"));
        match value {
            Value::Bool(true) => args.push(flag),
            Value::Bool(false) => {}
            Value::Array(items) => items
                .iter()
                .for_each(|i| args.extend([flag.clone(), value_text(i)])),
            other => args.extend([flag, value_text(other)]),
        }
    }
    args
}

/// Turns `aiperf profile` arguments into a spec. The command line owns that parser, so the
/// loader is handed it rather than importing it (spec is the bottom layer).
pub type ProfileArgsParser<'a> = &'a dyn Fn(&[String]) -> Result<BenchmarkSpec, InvalidProfileArgs>;

/// Parses one run's arguments into a spec with `parse`, exactly as `aiperf profile` would.
pub fn run_spec(
    run: &NemoRun,
    dir: &std::path::Path,
    parse: ProfileArgsParser,
) -> Result<BenchmarkSpec, InvalidProfileArgs> {
    let mut args = run.args.clone();
    args.extend(["--artifact-dir".to_string(), dir.display().to_string()]);
    parse(&args)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn batch(v: Value) -> NemoBatch {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn cartesian_product_and_nemo_directory_names() {
        let b = batch(json!({
            "batch_name": "b",
            "base_config": {"model": "m", "url": "http://h:1", "concurrency": 1, "prompt_input_tokens_mean": 10, "streaming": true},
            "sweeps": {"prompt_input_tokens_mean": [100, 500], "concurrency": [1, 4]},
        }));
        let runs = runs(&b).unwrap();
        let names: Vec<&str> = runs.iter().map(|r| r.dir_name.as_str()).collect();
        assert_eq!(
            names,
            [
                "concurrency1_prompt_input_tokens_mean100",
                "concurrency4_prompt_input_tokens_mean100",
                "concurrency1_prompt_input_tokens_mean500",
                "concurrency4_prompt_input_tokens_mean500",
            ]
        );
    }

    #[test]
    fn unknown_keys_and_missing_env_are_reported() {
        let b = batch(
            json!({"base_config": {"model": "m", "url": "http://h", "concurency": 2, "api_key_env_var": "AIPERF_TEST_UNSET_VAR"},
                             "sweeps": {"concurrency": 4}}),
        );
        let errors = runs(&b).unwrap_err();
        let text = format!("{errors:?}");
        assert!(text.contains("did you mean 'concurrency'"), "{text}");
        assert!(text.contains("AIPERF_TEST_UNSET_VAR"), "{text}");
        assert!(text.contains("non-empty list"), "{text}");
    }
}
