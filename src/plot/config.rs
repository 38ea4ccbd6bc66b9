//! Plot configuration: which built-in plots to draw, extra plots of the user's own, and the theme.
//! The shape follows AIPerf's plot config (`visualization.single_run_defaults`, ...), so its
//! files load here. It comes from `aiperf plot --config FILE`, from an experiment's `plot:` block
//! (inline or a path), or from `<artifact dir>/.aiperf-plot-config.yaml` that auto-plot writes.

use super::catalogue::{self, PlotMode};
pub use crate::spec::plot::*;
use crate::support::pointer::{dotted_to_pointer, pointer_to_dotted};
use crate::support::problem::Problems;
use std::path::Path;

crate::sentence_error!(
    /// A plot configuration that cannot be read or names unknown plots.
    PlotConfigError
);

impl PlotEnvelope {
    /// The configuration, reading the file (relative to `base_dir`) when it is a path.
    pub fn resolve(&self, base_dir: &Path) -> Result<PlotConfig, PlotConfigError> {
        match self {
            PlotEnvelope::Inline(config) => {
                config.check().map_err(|p| p.join("; "))?;
                Ok((**config).clone())
            }
            PlotEnvelope::Path(path) => {
                let path = if path.is_absolute() {
                    path.clone()
                } else {
                    base_dir.join(path)
                };
                load(&path)
            }
        }
    }
}

impl PlotConfig {
    /// Checks names: every `*_defaults` entry must be a built-in or a defined plot of that mode,
    /// and defined plots must not take a built-in's name. Each problem names its key.
    pub fn check(&self) -> Result<(), Problems> {
        let mut problems = Vec::new();
        let v = &self.visualization;
        let single_custom: Vec<&str> = v.single_run_plots.keys().map(String::as_str).collect();
        let multi_custom: Vec<&str> = v.multi_run_plots.keys().map(String::as_str).collect();
        for (key, list, mode, custom) in [
            (
                "single_run_defaults",
                &v.single_run_defaults,
                PlotMode::Single,
                &single_custom,
            ),
            (
                "multi_run_defaults",
                &v.multi_run_defaults,
                PlotMode::Multi,
                &multi_custom,
            ),
        ] {
            for name in list.iter().flatten() {
                let known =
                    catalogue::names(mode).any(|n| n == name) || custom.contains(&name.as_str());
                if !known {
                    let mut candidates: Vec<&str> = catalogue::names(mode).collect();
                    candidates.extend(custom.iter().copied());
                    let hint = crate::support::suggest::closest(name, candidates.iter().copied())
                        .map(|c| format!(" (did you mean '{c}'?)"))
                        .unwrap_or_default();
                    problems.push(format!(
                        "visualization.{key}: unknown plot '{name}'{hint}; the built-in ones are {}",
                        catalogue::names(mode).collect::<Vec<_>>().join(", ")
                    ));
                }
            }
        }
        for name in single_custom.iter().chain(&multi_custom) {
            if catalogue::preset(name).is_some() {
                problems.push(format!(
                    "visualization: '{name}' is a built-in plot; give yours another name"
                ));
            }
        }
        for (name, plot) in &v.single_run_plots {
            if let Err(e) = crate::registry::MetricId::parse(&plot.y) {
                problems.push(format!("visualization.single_run_plots.{name}.y: {e}"));
            }
        }
        for (name, plot) in &v.multi_run_plots {
            for (axis, ms) in [("x", &plot.x), ("y", &plot.y)] {
                if let Err(e) = crate::registry::MetricId::parse(&ms.metric) {
                    problems.push(format!(
                        "visualization.multi_run_plots.{name}.{axis}.metric: {e}"
                    ));
                }
                if !crate::aggregate::STAT_KEYS.contains(&ms.stat.as_str()) {
                    problems.push(format!(
                        "visualization.multi_run_plots.{name}.{axis}.stat: unknown statistic '{}'; use one of {}",
                        ms.stat,
                        crate::aggregate::STAT_KEYS.join(", ")
                    ));
                }
            }
        }
        Problems(problems).into_result()
    }

    /// The plots to draw in `mode`: built-in names and user-defined names, in order.
    pub fn enabled(&self, mode: PlotMode) -> Vec<String> {
        let v = &self.visualization;
        let (list, custom): (&Option<Vec<String>>, Vec<&String>) = match mode {
            PlotMode::Single => (&v.single_run_defaults, v.single_run_plots.keys().collect()),
            PlotMode::Multi => (&v.multi_run_defaults, v.multi_run_plots.keys().collect()),
        };
        match list {
            Some(names) => names.clone(),
            None => catalogue::names(mode)
                .map(str::to_string)
                .chain(custom.into_iter().cloned())
                .collect(),
        }
    }

    /// The file auto-plot writes: JSON, which every YAML reader (and [`load`]) accepts.
    pub fn to_file_text(&self) -> String {
        let json = serde_json::to_string_pretty(self).unwrap_or_else(|_| "{}".into());
        format!(
            "# The plot configuration of these results, written by aiperf (JSON is valid YAML).\n\
             # `aiperf plot <this directory>` reads it to draw the same plots again.\n{json}\n"
        )
    }
}

/// Reads a plot-config file; errors name the file, line, column and key.
pub fn load(path: &Path) -> Result<PlotConfig, PlotConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("{}: cannot read the plot config: {e}", path.display()))?;
    parse(&text).map_err(|(pos, message)| {
        format!("{}:{}:{}: {message}", path.display(), pos.line, pos.col).into()
    })
}

/// Parses plot-config text (YAML or JSON).
pub fn parse(text: &str) -> Result<PlotConfig, (crate::support::yaml::Pos, String)> {
    let first = crate::support::yaml::Pos { line: 1, col: 1 };
    if text.trim().is_empty()
        || text
            .lines()
            .all(|l| l.trim().is_empty() || l.trim_start().starts_with('#'))
    {
        return Ok(PlotConfig::default());
    }
    let doc = crate::support::yaml::parse(text)
        .map_err(|(pos, m)| (pos, format!("invalid YAML: {m}")))?;
    let config: PlotConfig = serde_path_to_error::deserialize(doc.value.clone()).map_err(|e| {
        let path = e.path().to_string();
        let path = if path == "." { String::new() } else { path };
        let mut message = e.into_inner().to_string();
        let mut pointer = dotted_to_pointer(&path);
        if let Some(field) = unknown_field(&message) {
            let hint = crate::support::suggest::closest(&field, KNOWN_KEYS.iter().copied())
                .map(|c| format!(" (did you mean '{c}'?)"))
                .unwrap_or_default();
            message = format!("{message}{hint}");
            // Point at the misspelt key itself, not at the mapping holding it.
            pointer = format!(
                "{pointer}/{}",
                crate::support::pointer::escape_token(&field)
            );
        }
        let pos = doc.position(&pointer);
        let shown = pointer_to_dotted(&dotted_to_pointer(&path));
        (
            pos,
            if shown.is_empty() {
                message
            } else {
                format!("{shown}: {message}")
            },
        )
    })?;
    config
        .check()
        .map_err(|problems| (first, problems.join("; ")))?;
    Ok(config)
}

/// Every key of the format, for suggestions.
const KNOWN_KEYS: &[&str] = &[
    "theme",
    "visualization",
    "settings",
    "experiment_classification",
    "single_run_defaults",
    "multi_run_defaults",
    "single_run_plots",
    "multi_run_plots",
    "type",
    "x",
    "y",
    "title",
    "metric",
    "stat",
];

fn unknown_field(message: &str) -> Option<String> {
    let rest = message.strip_prefix("unknown field `")?;
    Some(rest.split('`').next()?.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aiperf_style_files_load_and_pick_plots() {
        let c = parse(
            "visualization:\n  single_run_defaults: [ttft_over_time, osl]\n  single_run_plots:\n    osl: {type: scatter, y: output_sequence_length}\nsettings: {server_metrics_downsampling: {enabled: true}}\n",
        )
        .unwrap();
        assert_eq!(c.enabled(PlotMode::Single), vec!["ttft_over_time", "osl"]);
        assert_eq!(
            c.enabled(PlotMode::Multi).len(),
            catalogue::names(PlotMode::Multi).count()
        );
    }

    #[test]
    fn unknown_names_and_keys_get_suggestions_with_positions() {
        let (pos, m) =
            parse("visualization:\n  single_run_defaults: [ttft_over_tme]\n").unwrap_err();
        assert!(m.contains("did you mean 'ttft_over_time'"), "{m}");
        assert_eq!(pos.line, 1);
        let (pos, m) = parse("theme: light\nvisualisation: {}\n").unwrap_err();
        assert!(m.contains("did you mean 'visualization'"), "{m}");
        assert_eq!(pos.line, 2, "{m}");
        let (_, m) = parse("visualization:\n  multi_run_plots:\n    p: {type: pareto, x: {metric: ttft}, y: {metric: request_throughput}}\n").unwrap_err();
        assert!(m.contains("multi_run_plots.p.x.metric"), "{m}");
    }

    #[test]
    fn the_materialized_file_reads_back_as_the_same_config() {
        let c = parse("theme: dark\nvisualization:\n  multi_run_defaults: [search_trajectory]\n")
            .unwrap();
        assert_eq!(parse(&c.to_file_text()).unwrap(), c);
    }
}
