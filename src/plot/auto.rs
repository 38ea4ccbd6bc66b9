//! Auto-plot: whether a run or an experiment draws its plots when it ends, with which
//! configuration, and what a plotting failure does to the exit code.
//!
//! Resolution, as AIPerf defines it: an explicit `--auto-plot` / `--no-auto-plot` wins; then an
//! explicit `artifacts.auto_plot`; then a `plot:` block (which turns it on); then the recipe's
//! default; otherwise off. A failure is a warning unless `--plot-required` (or
//! `artifacts.plot_required`) makes it an error with its own exit code.

use super::config::{MATERIALIZED_CONFIG, PlotConfig, PlotEnvelope};
use super::{PlotOptions, plot};
use crate::exit_code::ExitCode;
use std::path::Path;

/// The plot flags `aiperf profile` and `aiperf run` share.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct PlotFlags {
    /// Draw plots into <artifact dir>/plots when the run ends.
    #[arg(long, overrides_with = "no_auto_plot", help_heading = "Plots")]
    pub auto_plot: bool,
    /// Do not draw plots, even where the recipe or a `plot:` block would.
    #[arg(long, overrides_with = "auto_plot", help_heading = "Plots")]
    pub no_auto_plot: bool,
    /// Exit with code 6 when auto-plot fails (default: a warning, exit code unchanged). Has no
    /// effect when auto-plot is off.
    #[arg(long, help_heading = "Plots")]
    pub plot_required: bool,
}

impl PlotFlags {
    /// `Some(true)` for --auto-plot, `Some(false)` for --no-auto-plot, `None` for neither.
    pub fn choice(&self) -> Option<bool> {
        match (self.auto_plot, self.no_auto_plot) {
            (true, _) => Some(true),
            (_, true) => Some(false),
            _ => None,
        }
    }
}

/// Whether auto-plot is on. `flag` is the command line's choice, `explicit` the experiment's
/// `artifacts.auto_plot` when written, `plot_block` whether the experiment has a `plot:` block,
/// `recipe_default` the recipe's `auto_plot`.
pub fn resolve_enabled(
    flag: Option<bool>,
    explicit: Option<bool>,
    plot_block: bool,
    recipe_default: bool,
) -> bool {
    flag.or(explicit).unwrap_or(plot_block || recipe_default)
}

/// The resolved auto-plot settings of a run or an experiment.
#[derive(Debug, Clone, Default)]
pub struct AutoPlot {
    /// Plot when the run ends.
    pub enabled: bool,
    /// A plotting failure is an error.
    pub required: bool,
    /// The `plot:` block's configuration, written beside the results for `aiperf plot`.
    pub config: Option<PlotConfig>,
}

impl AutoPlot {
    /// Resolves the settings; a `plot:` path is read relative to `base_dir` (the experiment
    /// file's directory). Errors are configuration errors: nothing has run yet.
    pub fn resolve(
        flags: &PlotFlags,
        artifacts: &crate::spec::ArtifactsSpec,
        envelope: Option<&PlotEnvelope>,
        base_dir: &Path,
        recipe_default: bool,
    ) -> Result<AutoPlot, String> {
        let config = match envelope {
            Some(e) => Some(e.resolve(base_dir).map_err(|m| format!("plot: {m}"))?),
            None => None,
        };
        let enabled = resolve_enabled(
            flags.choice(),
            artifacts.auto_plot,
            config.is_some(),
            recipe_default,
        );
        let required = flags.plot_required || artifacts.plot_required;
        if required && !enabled {
            eprintln!("note: --plot-required has no effect: auto-plot is off (add --auto-plot)");
        }
        Ok(AutoPlot {
            enabled,
            required,
            config,
        })
    }

    /// Draws the plots of `dir` if auto-plot is on, and returns the exit code the command ends
    /// with: `code` unchanged unless plotting failed and is required.
    pub fn after_run(&self, dir: &Path, code: ExitCode) -> ExitCode {
        if !self.enabled {
            return code;
        }
        if let Some(config) = &self.config {
            let path = dir.join(MATERIALIZED_CONFIG);
            if let Err(e) = crate::export::write_atomic(&path, config.to_file_text().as_bytes()) {
                eprintln!("warning: cannot write {}: {e}", path.display());
            }
        }
        let options = PlotOptions {
            config: self.config.clone(),
            config_source: self
                .config
                .as_ref()
                .map(|_| "the experiment's plot: block".to_string()),
            ..Default::default()
        };
        match plot(&[dir.to_path_buf()], &options) {
            Ok(report) => {
                let skipped = if report.skipped.is_empty() {
                    String::new()
                } else {
                    format!(
                        ", {} not drawn: see {}",
                        report.skipped.len(),
                        report.dir.join(super::SUMMARY_TXT).display()
                    )
                };
                println!(
                    "Plots: {} ({} PNGs{skipped})",
                    report.dir.display(),
                    report.files.len()
                );
                code
            }
            Err(e) if self.required => {
                eprintln!("error: auto-plot failed: {e}");
                if code == ExitCode::SUCCESS {
                    ExitCode::PLOT_FAILED
                } else {
                    code
                }
            }
            Err(e) => {
                eprintln!("warning: auto-plot failed (run artifacts intact): {e}");
                code
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::resolve_enabled;

    #[test]
    fn the_command_line_wins() {
        for explicit in [None, Some(true), Some(false)] {
            for block in [false, true] {
                for recipe in [false, true] {
                    assert!(resolve_enabled(Some(true), explicit, block, recipe));
                    assert!(!resolve_enabled(Some(false), explicit, block, recipe));
                }
            }
        }
    }

    #[test]
    fn an_explicit_artifacts_setting_beats_the_plot_block_and_the_recipe() {
        assert!(!resolve_enabled(None, Some(false), true, true));
        assert!(resolve_enabled(None, Some(true), false, false));
    }

    #[test]
    fn a_plot_block_turns_it_on() {
        assert!(resolve_enabled(None, None, true, false));
    }

    #[test]
    fn otherwise_the_recipe_default_then_off() {
        assert!(resolve_enabled(None, None, false, true));
        assert!(!resolve_enabled(None, None, false, false));
    }
}
