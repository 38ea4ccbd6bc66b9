//! The files NeMo Guardrails' runner writes beside each run, so its users' scripts keep working:
//! its `run_metadata.json` keys (merged into ours) and `process_result.json`.

use crate::plan::{NemoPlan, Trial};
use serde_json::{Value, json};
use std::path::Path;

/// The equivalent command line of a run, secrets redacted.
fn command(plan: &NemoPlan, trial: &Trial) -> Vec<String> {
    let mut argv = vec!["aiperf".to_string(), "profile".to_string()];
    argv.extend(plan.args[trial.cell].iter().cloned());
    argv.extend([
        "--output-artifact-dir".into(),
        trial.dir.display().to_string(),
        "--ui-type".into(),
        "none".into(),
    ]);
    let redacted = crate::redact::redact_command_line(&argv);
    // Split back into arguments for `args`; the redacted form only has quoted single arguments.
    shell_words(&redacted)
}

fn shell_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' => quoted = !quoted,
            '\\' if !quoted => {
                if let Some(n) = chars.next() {
                    current.push(n);
                }
            }
            ' ' if !quoted => {
                if !current.is_empty() {
                    words.push(std::mem::take(&mut current));
                }
            }
            other => current.push(other),
        }
    }
    if !current.is_empty() {
        words.push(current);
    }
    words
}

/// Writes `process_result.json` and adds NeMo's keys to `run_metadata.json`.
pub fn write(
    plan: &NemoPlan,
    trial: &Trial,
    config_file: &Path,
    exit_code: i32,
    error: Option<&str>,
) -> std::io::Result<()> {
    std::fs::create_dir_all(&trial.dir)?;
    let args = command(plan, trial);
    let result =
        json!({"args": args, "returncode": exit_code, "stdout": "", "stderr": error.unwrap_or("")});
    crate::artifacts::io::write_atomic(
        &trial
            .dir
            .join(crate::artifacts::names::NEMO_PROCESS_RESULT_JSON),
        &crate::artifacts::io::to_pretty_json(&result),
    )?;
    let path = trial.dir.join(crate::artifacts::names::RUN_METADATA_JSON);
    let mut metadata: Value = std::fs::read_to_string(&path)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_else(|| json!({}));
    let sweep = &plan.sweep_params[trial.cell];
    metadata["run_index"] = json!(trial.cell);
    metadata["timestamp"] = json!(
        chrono::Local::now()
            .format("%Y-%m-%dT%H:%M:%S%.6f")
            .to_string()
    );
    metadata["config_file"] = json!(config_file);
    metadata["sweep_params"] = if sweep.is_empty() {
        Value::Null
    } else {
        Value::Object(sweep.clone())
    };
    metadata["base_config"] = Value::Object(plan.base_config.clone());
    metadata["command"] = json!(args.join(" "));
    crate::artifacts::io::write_atomic(&path, &crate::artifacts::io::to_pretty_json(&metadata))
}

#[cfg(test)]
mod tests {
    #[test]
    fn splits_redacted_command_lines() {
        assert_eq!(
            super::shell_words("aiperf --api-key '<redacted>' -H 'X: 1'"),
            ["aiperf", "--api-key", "<redacted>", "-H", "X: 1"]
        );
    }
}
