//! Auto-plot: whether a run or an experiment draws its plots when it ends, with which
//! configuration, and what a plotting failure does to the exit code.
//!
//! Resolution, as AIPerf defines it: an explicit `--auto-plot` / `--no-auto-plot` wins; then an
//! explicit `artifacts.auto_plot`; then a `plot:` block (which turns it on); then the recipe's
//! default; otherwise off. A failure is a warning unless `--plot-required` (or
//! `artifacts.plot_required`) makes it an error with its own exit code.

use super::config::{PlotConfig, PlotEnvelope};
use super::{PlotError, PlotOptions, plot};
use crate::artifacts::names::MATERIALIZED_CONFIG;
use std::path::Path;

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
    /// Resolves the settings from the command line's choice (`Some(true)` for `--auto-plot`,
    /// `Some(false)` for `--no-auto-plot`) and `--plot-required`; a `plot:` path is read relative to `base_dir` (the experiment
    /// file's directory). Errors are configuration errors: nothing has run yet.
    pub fn resolve(
        choice: Option<bool>,
        plot_required: bool,
        artifacts: &crate::spec::ArtifactsSpec,
        envelope: Option<&PlotEnvelope>,
        base_dir: &Path,
        recipe_default: bool,
    ) -> Result<AutoPlot, crate::plot::config::PlotConfigError> {
        let config = match envelope {
            Some(e) => Some(e.resolve(base_dir).map_err(|m| format!("plot: {m}"))?),
            None => None,
        };
        let enabled = resolve_enabled(
            choice,
            artifacts.auto_plot,
            config.is_some(),
            recipe_default,
        );
        let required = plot_required || artifacts.plot_required;
        if required && !enabled {
            eprintln!("note: --plot-required has no effect: auto-plot is off (add --auto-plot)");
        }
        Ok(AutoPlot {
            enabled,
            required,
            config,
        })
    }

    /// Draws the plots of `dir` (whether auto-plot is on is the caller's question) and says
    /// where they went; the error is the caller's to judge against [`AutoPlot::required`].
    pub fn draw(&self, dir: &Path) -> Result<(), PlotError> {
        if let Some(config) = &self.config {
            let path = dir.join(MATERIALIZED_CONFIG);
            if let Err(e) =
                crate::artifacts::io::write_atomic(&path, config.to_file_text().as_bytes())
            {
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
        let report = plot(&[dir.to_path_buf()], &options)?;
        let skipped = if report.skipped.is_empty() {
            String::new()
        } else {
            format!(
                ", {} not drawn: see {}",
                report.skipped.len(),
                report
                    .dir
                    .join(crate::artifacts::names::SUMMARY_TXT)
                    .display()
            )
        };
        println!(
            "Plots: {} ({} PNGs{skipped})",
            report.dir.display(),
            report.files.len()
        );
        Ok(())
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
