//! Loading an experiment file: read, substitute `${VAR}`, parse YAML with positions, validate
//! against the JSON Schema, deserialize into types, and check semantics. Every problem comes back
//! as a [`SpecError`] naming the file, line, column and key path; nothing runs on failure.

use super::experiment::Experiment;
use super::schema::{normalize_keys, to_snake, validate_document};
use crate::support::pointer::{dotted_to_pointer, pointer_to_dotted};
use crate::support::yaml::{self, Pos, YamlDoc};
use std::path::{Path, PathBuf};

/// One problem in an experiment file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecError {
    /// The file.
    pub file: PathBuf,
    /// Where in it.
    pub pos: Pos,
    /// The key path (`benchmark.phases[0].rate`), empty for the whole file.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

/// The `file` of an experiment built from `aiperf profile` flags: it has no lines to point at.
pub const FROM_FLAGS: &str = "command line";

impl std::fmt::Display for SpecError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.file == Path::new(FROM_FLAGS) {
            write!(f, "{FROM_FLAGS}: ")?;
        } else {
            write!(
                f,
                "{}:{}:{}: ",
                self.file.display(),
                self.pos.line,
                self.pos.col
            )?;
        }
        if !self.path.is_empty() {
            write!(f, "{}: ", self.path)?;
        }
        f.write_str(&self.message)
    }
}

/// A loaded file: the typed experiment and the parsed document (for positions of later errors).
#[derive(Debug, Clone)]
pub struct LoadedExperiment {
    /// The file it came from.
    pub file: PathBuf,
    /// The experiment (for a NeMo batch: its first run, with no sweep).
    pub experiment: Experiment,
    /// The document, for error positions.
    pub doc: YamlDoc,
    /// Set when the file is a NeMo Guardrails batch: its runs and their specs.
    pub nemo: Option<NemoLoaded>,
    /// The `benchmark:` body as written (keys normalized, shorthands given canonical structure,
    /// `{{ variables }}` not yet substituted): what each sweep cell is resolved from.
    pub benchmark_raw: serde_json::Value,
}

/// A NeMo batch with every run resolved.
#[derive(Debug, Clone)]
pub struct NemoLoaded {
    /// The batch as written.
    pub batch: super::nemo::NemoBatch,
    /// `<output_base_dir>/<batch_name>/<YYYYMMDD_HHMMSS>`.
    pub base_dir: PathBuf,
    /// Each run with its spec.
    pub runs: Vec<(super::nemo::NemoRun, super::BenchmarkSpec)>,
}

fn load_nemo(
    file: &Path,
    doc: YamlDoc,
    parse: super::nemo::ProfileArgsParser,
) -> Result<LoadedExperiment, Vec<SpecError>> {
    use super::nemo;
    let err = |path: &str, message: String| SpecError {
        file: file.to_path_buf(),
        pos: doc.position(&dotted_to_pointer(path)),
        path: path.to_string(),
        message,
    };
    let batch: nemo::NemoBatch =
        serde_path_to_error::deserialize(doc.value.clone()).map_err(|e| {
            let path = e.path().to_string();
            vec![err(
                if path == "." { "" } else { &path },
                e.into_inner().to_string(),
            )]
        })?;
    let runs = nemo::runs(&batch).map_err(|errors| {
        errors
            .into_iter()
            .map(|(p, m)| err(&p, m))
            .collect::<Vec<_>>()
    })?;
    let timestamp = chrono::Local::now().format("%Y%m%d_%H%M%S").to_string();
    let base_dir = batch
        .output_base_dir
        .join(&batch.batch_name)
        .join(timestamp);
    let mut resolved = Vec::new();
    let mut errors = Vec::new();
    for run in runs {
        let dir = base_dir.join(&run.dir_name);
        match nemo::run_spec(&run, &dir, parse) {
            Ok(spec) => match super::validate(&spec) {
                Ok(()) => resolved.push((run, spec)),
                Err(problems) => errors.extend(problems.into_iter().map(|p| {
                    err(
                        "base_config",
                        format!("{} (run {})", p.message, run.dir_name),
                    )
                })),
            },
            Err(e) => errors.push(err("base_config", e.into())),
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let first = resolved
        .first()
        .map(|(_, s)| s.clone())
        .ok_or_else(|| vec![err("", "the batch has no runs".into())])?;
    let experiment = Experiment {
        schema_version: None,
        benchmark: first,
        sweep: None,
        multi_run: Default::default(),
        variables: Default::default(),
        random_seed: None,
        compare: None,
    };
    Ok(LoadedExperiment {
        file: file.to_path_buf(),
        experiment,
        doc,
        nemo: Some(NemoLoaded {
            batch,
            base_dir,
            runs: resolved,
        }),
        benchmark_raw: serde_json::Value::Null,
    })
}

impl LoadedExperiment {
    /// An error at a dotted key path (`benchmark.phases[0].rate`).
    pub fn error_at(&self, path: &str, message: impl Into<String>) -> SpecError {
        self.error_at_pointer(&dotted_to_pointer(path), path, message)
    }

    /// An error at a JSON pointer, shown with `path` (for keys that contain dots themselves).
    pub fn error_at_pointer(
        &self,
        pointer: &str,
        path: &str,
        message: impl Into<String>,
    ) -> SpecError {
        SpecError {
            file: self.file.clone(),
            pos: position_as_written(&self.doc, pointer),
            path: path.to_string(),
            message: message.into(),
        }
    }
}

/// The position of a canonical pointer in the file as written, which may use shorthands:
/// `url`/`model`/`dataset` for `urls`/`models`/`datasets`, or one object for a one-element list.
fn position_as_written(doc: &YamlDoc, pointer: &str) -> Pos {
    let mut candidates = vec![pointer.to_string()];
    for (canonical, alias) in [
        ("/urls", "/url"),
        ("/models", "/model"),
        ("/datasets", "/dataset"),
    ] {
        let more: Vec<String> = candidates
            .iter()
            .filter(|c| c.contains(canonical))
            .map(|c| c.replacen(canonical, alias, 1))
            .collect();
        candidates.extend(more);
    }
    for list in ["/phases/0", "/dataset/0", "/datasets/0", "/url/0"] {
        let more: Vec<String> = candidates
            .iter()
            .filter(|c| c.contains(list))
            .map(|c| c.replacen(list, &list[..list.len() - 2], 1))
            .collect();
        candidates.extend(more);
    }
    // The longest candidate that was written wins; otherwise the nearest written ancestor.
    candidates
        .iter()
        .filter_map(|c| doc.positions.get(c).map(|p| (c.len(), *p)))
        .max_by_key(|(len, _)| *len)
        .map(|(_, p)| p)
        .unwrap_or_else(|| doc.position(pointer))
}

impl LoadedExperiment {
    /// An experiment built from `aiperf profile` flags (no file, so errors carry no position).
    pub fn from_flags(experiment: Experiment) -> Self {
        let mut benchmark_raw = serde_json::to_value(&experiment.benchmark).unwrap_or_default();
        // The canonical form serializes secrets redacted; the raw form needs the real values.
        benchmark_raw["endpoint"]["urls"] =
            serde_json::Value::from(experiment.benchmark.endpoint.urls.clone());
        if let Some(key) = &experiment.benchmark.endpoint.api_key {
            benchmark_raw["endpoint"]["api_key"] = serde_json::Value::from(key.expose());
        }
        for (name, value) in &experiment.benchmark.endpoint.headers {
            benchmark_raw["endpoint"]["headers"][name] = serde_json::Value::from(value.expose());
        }
        LoadedExperiment {
            file: PathBuf::from(FROM_FLAGS),
            experiment,
            doc: YamlDoc::default(),
            nemo: None,
            benchmark_raw,
        }
    }
}

/// Positions re-keyed by snake_case tokens, so errors found after key normalization still map
/// back to where the (possibly camelCase) key was written.
fn normalize_positions(doc: &mut YamlDoc) {
    let extra: Vec<(String, Pos)> = doc
        .positions
        .iter()
        .filter(|(p, _)| p.chars().any(|c| c.is_ascii_uppercase()))
        .map(|(p, pos)| {
            (
                p.split('/').map(to_snake).collect::<Vec<_>>().join("/"),
                *pos,
            )
        })
        .collect();
    for (p, pos) in extra {
        doc.positions.entry(p).or_insert(pos);
    }
}

/// Reads and checks an experiment file (format and types only; see `plan` for the checks that
/// need the expanded trials). A NeMo Guardrails batch's runs are turned into specs with
/// `parse_profile_args`, the `aiperf profile` flag parser (`cli::load_experiment` passes it).
pub fn load_experiment(
    file: &Path,
    parse_profile_args: super::nemo::ProfileArgsParser,
) -> Result<LoadedExperiment, Vec<SpecError>> {
    let err = |pos: Pos, path: &str, message: String| SpecError {
        file: file.to_path_buf(),
        pos,
        path: path.to_string(),
        message,
    };
    if let Ok(meta) = std::fs::metadata(file)
        && meta.len() > yaml::MAX_DOCUMENT_BYTES as u64
    {
        return Err(vec![err(
            Pos { line: 1, col: 1 },
            "",
            format!(
                "the file is {} bytes; experiment files may be at most {} bytes",
                meta.len(),
                yaml::MAX_DOCUMENT_BYTES
            ),
        )]);
    }
    let text = std::fs::read_to_string(file).map_err(|e| {
        vec![err(
            Pos { line: 1, col: 1 },
            "",
            format!("cannot read the file: {e}"),
        )]
    })?;
    let text = yaml::interpolate_env(&text, |k| std::env::var(k).ok())
        .map_err(|(pos, m)| vec![err(pos, "", m)])?;
    let mut doc =
        yaml::parse(&text).map_err(|(pos, m)| vec![err(pos, "", format!("invalid YAML: {m}"))])?;
    if !doc.value.is_object() {
        return Err(vec![err(
            Pos { line: 1, col: 1 },
            "",
            "an experiment file is a mapping with at least a `benchmark:` key".into(),
        )]);
    }
    if super::nemo::is_nemo_batch(&doc.value) {
        return load_nemo(file, doc, parse_profile_args);
    }
    let violations = validate_document(&doc.value);
    if !violations.is_empty() {
        return Err(violations
            .into_iter()
            .map(|v| {
                err(
                    doc.position(&v.pointer),
                    &pointer_to_dotted(&v.pointer),
                    v.message,
                )
            })
            .collect());
    }
    let mut value = doc.value.clone();
    normalize_keys(&mut value);
    normalize_positions(&mut doc);
    if let Some(bench) = value.get_mut("benchmark") {
        crate::spec::paths::canonical_structure(bench);
    }
    let benchmark_raw = value.get("benchmark").cloned().unwrap_or_default();
    // The typed experiment sees the benchmark with its base variables substituted; templates the
    // base variables do not resolve are left for the sweep cells (and checked there).
    if let (Some(vars), Some(bench)) = (
        value.get("variables").and_then(|v| v.as_object()).cloned(),
        value.get_mut("benchmark"),
    ) {
        let _ = crate::spec::paths::substitute_benchmark_variables(bench, &vars);
    }
    let experiment: Experiment = serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let path = if path == "." { String::new() } else { path };
        let message = e.into_inner().to_string();
        vec![err(
            position_as_written(&doc, &dotted_to_pointer(&path)),
            &path,
            message,
        )]
    })?;
    Ok(LoadedExperiment {
        file: file.to_path_buf(),
        experiment,
        doc,
        nemo: None,
        benchmark_raw,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_convert_both_ways() {
        assert_eq!(
            pointer_to_dotted("/benchmark/phases/0/rate"),
            "benchmark.phases[0].rate"
        );
        assert_eq!(
            dotted_to_pointer("benchmark.phases[0].rate"),
            "/benchmark/phases/0/rate"
        );
        assert_eq!(dotted_to_pointer(""), "");
    }
}
