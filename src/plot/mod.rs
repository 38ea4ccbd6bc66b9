//! Plots: PNGs drawn with plotters from the files a run or an experiment wrote. Nothing here
//! measures or aggregates; it reads results back from disk, so `aiperf plot DIR` draws the same
//! pictures after the fact as auto-plot does at the end of a run.
//!
//! `detect` finds what a directory holds and picks the mode, `single`, `multi` and
//! `recipe_plots` draw, `canvas` and `theme` decide how it looks, `config` selects plots, and
//! `auto` decides whether a run plots by itself and what a failure does to its exit code.

pub mod auto;
pub mod canvas;
pub mod catalogue;
pub mod compare;
pub mod config;
pub mod data;
pub mod detect;
pub mod multi;
pub mod points;
pub mod recipe_plots;
pub mod single;
pub mod theme;
pub mod trajectory;

use crate::artifacts::names::{PLOT_LOG, SUMMARY_TXT};
use catalogue::PlotMode;
use config::PlotConfig;
use detect::Mode;
use std::io::Write;
use std::path::{Path, PathBuf};
use theme::Theme;

/// The directory plots go to, under the (first) results directory.
pub const PLOTS_DIR: &str = "plots";

/// What one plot produced.
#[derive(Debug)]
pub enum Drawn {
    /// One PNG.
    File(PathBuf),
    /// Several PNGs (one plot kind over several metrics or parameters).
    Files(Vec<PathBuf>),
    /// Nothing, because the data it needs is not there; why.
    Skipped(String),
}

/// What every drawing function needs.
pub struct PlotContext<'a> {
    /// Where PNGs go.
    pub out_dir: &'a Path,
    /// Colours.
    pub theme: Theme,
}

impl PlotContext<'_> {
    /// The path of the PNG named `name`.
    pub fn png(&self, name: &str) -> PathBuf {
        self.out_dir.join(format!("{name}.png"))
    }
}

/// "Time to First Token (ms)" for a tag, or the tag itself when it is not a known metric.
pub fn metric_label(tag: &str) -> String {
    crate::metrics::MetricId::from_tag(tag)
        .map(|m| crate::registry::label(m.def()))
        .unwrap_or_else(|| tag.to_string())
}

/// "Time to First Token" for a tag.
pub fn metric_name(tag: &str) -> String {
    crate::metrics::MetricId::from_tag(tag)
        .map(|m| m.def().header.to_string())
        .unwrap_or_else(|| tag.to_string())
}

/// How `aiperf plot` (or auto-plot) is asked to draw.
#[derive(Debug, Clone, Default)]
pub struct PlotOptions {
    /// Output directory (default `<first path>/plots`).
    pub output: Option<PathBuf>,
    /// Theme, overriding the config's.
    pub theme: Option<Theme>,
    /// The configuration, already loaded; `None` reads `<first path>/.aiperf-plot-config.yaml`
    /// when it exists, else uses the defaults.
    pub config: Option<PlotConfig>,
    /// Where the configuration came from, for the log.
    pub config_source: Option<String>,
}

/// What a plotting call made.
#[derive(Debug, Clone, Default)]
pub struct PlotReport {
    /// The plots directory.
    pub dir: PathBuf,
    /// The PNGs written.
    pub files: Vec<PathBuf>,
    /// Plots left out for lack of data: (name, why).
    pub skipped: Vec<(String, String)>,
    /// Plots whose drawing failed: (name, error).
    pub failed: Vec<(String, String)>,
}

/// A plotting failure: what went wrong and the log that says more (when it could be written).
#[derive(Debug, Clone)]
pub struct PlotError {
    /// One line for the user.
    pub message: String,
    /// The plot log.
    pub log: Option<PathBuf>,
}

impl std::fmt::Display for PlotError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)?;
        if let Some(log) = &self.log {
            write!(f, " (see {})", log.display())?;
        }
        Ok(())
    }
}

/// The plot log: every line goes to the file; nothing is printed.
struct PlotLog(Option<std::fs::File>);

impl PlotLog {
    fn line(&mut self, text: &str) {
        if let Some(f) = &mut self.0 {
            let now = chrono::Local::now().format("%Y-%m-%d %H:%M:%S%.3f");
            let _ = writeln!(f, "{now} {text}");
        }
    }
}

fn config_for(paths: &[PathBuf], options: &PlotOptions) -> Result<(PlotConfig, String), String> {
    if let Some(config) = &options.config {
        return Ok((
            config.clone(),
            options
                .config_source
                .clone()
                .unwrap_or_else(|| "given".into()),
        ));
    }
    let materialized = paths[0].join(crate::artifacts::names::MATERIALIZED_CONFIG);
    if materialized.is_file() {
        let config = config::load(&materialized)?;
        return Ok((config, materialized.display().to_string()));
    }
    Ok((PlotConfig::default(), "built-in defaults".into()))
}

/// Removes the PNGs an earlier call listed in `summary.txt` and this one did not make again, so
/// the directory never shows a stale plot beside fresh ones.
fn remove_stale(dir: &Path, made: &[PathBuf]) {
    let Ok(text) = std::fs::read_to_string(dir.join(SUMMARY_TXT)) else {
        return;
    };
    for line in text.lines() {
        let Some(name) = line.split_whitespace().next() else {
            continue;
        };
        if !name.ends_with(".png") || name.contains('/') || name.contains('\\') {
            continue;
        }
        let path = dir.join(name);
        if !made.contains(&path) {
            let _ = std::fs::remove_file(path);
        }
    }
}

fn summary_text(
    mode: &str,
    sources: &str,
    theme: Theme,
    config: &str,
    report: &PlotReport,
) -> String {
    let mut text = format!(
        "aiperf plot: {mode} from {sources}\ntheme: {}; config: {config}\n",
        theme.as_str()
    );
    text.push_str(&format!("\nmade ({}):\n", report.files.len()));
    for f in &report.files {
        let name = f
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let stem = name.trim_end_matches(".png");
        let about = catalogue::preset(stem).map(|p| p.description).unwrap_or("");
        text.push_str(&format!("  {name}  {about}\n"));
    }
    if !report.skipped.is_empty() {
        text.push_str(&format!("\nskipped ({}):\n", report.skipped.len()));
        for (name, why) in &report.skipped {
            text.push_str(&format!("  {name}: {why}\n"));
        }
    }
    if !report.failed.is_empty() {
        text.push_str(&format!("\nfailed ({}):\n", report.failed.len()));
        for (name, why) in &report.failed {
            text.push_str(&format!("  {name}: {why}\n"));
        }
    }
    text
}

/// Draws every enabled plot for the results under `paths`. Fails when the results cannot be
/// read, the plots directory cannot be written, nothing could be drawn, or a plot failed to draw.
pub fn plot(paths: &[PathBuf], options: &PlotOptions) -> Result<PlotReport, PlotError> {
    let bare = |message: String| PlotError { message, log: None };
    let first = paths
        .first()
        .ok_or_else(|| bare("no results directory given".into()))?;
    let out_dir = options
        .output
        .clone()
        .unwrap_or_else(|| first.join(PLOTS_DIR));
    std::fs::create_dir_all(&out_dir).map_err(|e| {
        bare(format!(
            "cannot create the plots directory {}: {e}",
            out_dir.display()
        ))
    })?;
    let log_path = out_dir.join(PLOT_LOG);
    let mut log = PlotLog(std::fs::File::create(&log_path).ok());
    let logged = log.0.is_some().then(|| log_path.clone());
    let fail = |log: &mut PlotLog, message: String| {
        log.line(&format!("error: {message}"));
        PlotError {
            message,
            log: logged.clone(),
        }
    };
    if log.0.is_none() {
        // Without a log nothing below could be explained afterwards; say so now.
        return Err(bare(format!(
            "cannot write {} (is the plots directory writable?)",
            log_path.display()
        )));
    }
    let sources_text = paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ");
    log.line(&format!(
        "aiperf {} plot {sources_text} -> {}",
        crate::VERSION,
        out_dir.display()
    ));
    let (config, config_source) = config_for(paths, options).map_err(|e| fail(&mut log, e))?;
    let theme = options.theme.or(config.theme).unwrap_or_default();
    log.line(&format!(
        "config: {config_source}; theme: {}",
        theme.as_str()
    ));
    if config.settings.is_some() || config.experiment_classification.is_some() {
        log.line("note: settings and experiment_classification are AIPerf options for server metrics and groups; aiperf has neither and ignores them");
    }
    let discovery = detect::discover(paths).map_err(|e| fail(&mut log, e.into()))?;
    for s in &discovery.sources {
        log.line(&format!(
            "{}: {} run directories, sweep aggregate: {}, search history: {}",
            s.root.display(),
            s.run_dirs.len(),
            s.sweep_json
                .as_ref()
                .map_or("none".into(), |p| p.display().to_string()),
            s.search_history
                .as_ref()
                .map_or("none".into(), |p| p.display().to_string()),
        ));
    }
    let ctx = PlotContext {
        out_dir: &out_dir,
        theme,
    };
    let mut report = PlotReport {
        dir: out_dir.clone(),
        ..Default::default()
    };
    let record = |report: &mut PlotReport,
                  log: &mut PlotLog,
                  name: &str,
                  result: anyhow::Result<Drawn>| match result {
        Ok(Drawn::File(f)) => {
            log.line(&format!("made {}", f.display()));
            report.files.push(f);
        }
        Ok(Drawn::Files(fs)) => {
            for f in fs {
                log.line(&format!("made {}", f.display()));
                report.files.push(f);
            }
        }
        Ok(Drawn::Skipped(why)) => {
            log.line(&format!("skipped {name}: {why}"));
            report.skipped.push((name.to_string(), why));
        }
        Err(e) => {
            log.line(&format!("error: {name} failed: {e:#}"));
            report.failed.push((name.to_string(), format!("{e:#}")));
        }
    };
    let mode_text = match &discovery.mode {
        Mode::SingleRun(dir) => {
            log.line(&format!("mode: single run ({})", dir.display()));
            let extra: Vec<String> = config
                .visualization
                .single_run_plots
                .values()
                .map(|p| p.y.clone())
                .collect();
            let run = single::SingleRun::load(dir, &extra)
                .map_err(|e| fail(&mut log, format!("{e:#}")))?;
            if run.records.unreadable_lines > 0 {
                log.line(&format!(
                    "note: {} lines of the records were not valid records and were left out",
                    run.records.unreadable_lines
                ));
            }
            for name in config.enabled(PlotMode::Single) {
                let result = match (
                    config.visualization.single_run_plots.get(&name),
                    catalogue::preset(&name),
                ) {
                    (Some(custom), _) => single::draw_custom(&ctx, &run, &name, custom),
                    (None, Some(preset)) => preset.draw_single(&ctx, &run),
                    (None, None) => {
                        Ok(Drawn::Skipped(format!("'{name}' is not a single-run plot")))
                    }
                };
                record(&mut report, &mut log, &name, result);
            }
            "single run"
        }
        Mode::MultiRun => {
            let runs = multi::MultiRun::load(&discovery.sources)
                .map_err(|e| fail(&mut log, format!("{e:#}")))?;
            log.line(&format!(
                "mode: multi run ({} points; parameters: {})",
                runs.points.len(),
                runs.param_names.join(", ")
            ));
            for name in config.enabled(PlotMode::Multi) {
                let result = match (
                    config.visualization.multi_run_plots.get(&name),
                    catalogue::preset(&name),
                ) {
                    (Some(custom), _) => multi::draw_custom(&ctx, &runs, &name, custom),
                    (None, Some(preset)) => preset.draw_multi(&ctx, &runs, &discovery.sources),
                    (None, None) => Ok(Drawn::Skipped(format!("'{name}' is not a multi-run plot"))),
                };
                record(&mut report, &mut log, &name, result);
            }
            "multi run"
        }
    };
    remove_stale(&out_dir, &report.files);
    let summary = summary_text(mode_text, &sources_text, theme, &config_source, &report);
    if let Err(e) =
        crate::artifacts::io::write_atomic(&out_dir.join(SUMMARY_TXT), summary.as_bytes())
    {
        return Err(fail(
            &mut log,
            format!("cannot write {}: {e}", out_dir.join(SUMMARY_TXT).display()),
        ));
    }
    if !report.failed.is_empty() {
        let names: Vec<&str> = report.failed.iter().map(|(n, _)| n.as_str()).collect();
        return Err(fail(
            &mut log,
            format!(
                "{} plot(s) failed to draw: {}",
                names.len(),
                names.join(", ")
            ),
        ));
    }
    if report.files.is_empty() {
        return Err(fail(
            &mut log,
            format!(
                "no data to plot: every enabled plot lacked its data ({} skipped)",
                report.skipped.len()
            ),
        ));
    }
    log.line(&format!(
        "done: {} made, {} skipped",
        report.files.len(),
        report.skipped.len()
    ));
    Ok(report)
}
