//! `aiperf plot PATH...`: draw the plots of results already on disk.

use crate::error::AppError;
use crate::exit_code::ExitCode;
use crate::plot::theme::Theme;
use crate::plot::{PlotOptions, config, plot};
use std::path::PathBuf;

/// Flags of `aiperf plot`.
#[derive(Debug, clap::Args)]
pub struct PlotArgs {
    /// Result directories: a run, an experiment (sweep, repeated trials, search), or several to
    /// compare.
    #[arg(default_value = "artifacts")]
    pub paths: Vec<PathBuf>,
    /// Where the PNGs go (default: <first path>/plots).
    #[arg(long, short = 'o')]
    pub output: Option<PathBuf>,
    /// Colour theme (default: the config's, else light).
    #[arg(long, value_enum)]
    pub theme: Option<Theme>,
    /// Plot configuration file (default: <first path>/.aiperf-plot-config.yaml when it exists).
    #[arg(long)]
    pub config: Option<PathBuf>,
}

/// Runs `aiperf plot`.
pub fn run(args: &PlotArgs) -> Result<ExitCode, AppError> {
    let config = match &args.config {
        Some(path) => Some(config::load(path).map_err(AppError::config)?),
        None => None,
    };
    for path in &args.paths {
        if !path.is_dir() {
            return Err(AppError::config(format!(
                "{} is not a directory",
                path.display()
            )));
        }
    }
    let options = PlotOptions {
        output: args.output.clone(),
        theme: args.theme,
        config,
        config_source: args.config.as_ref().map(|p| p.display().to_string()),
    };
    match plot(&args.paths, &options) {
        Ok(report) => {
            for file in &report.files {
                println!("{}", file.display());
            }
            // Plots that do not apply (a recipe plot of a plain sweep) are listed in summary.txt;
            // printing each would bury the files made.
            if !report.skipped.is_empty() {
                eprintln!(
                    "{} plots not drawn (their data is not in these results); see summary.txt",
                    report.skipped.len()
                );
            }
            println!(
                "Plots: {} ({} PNGs, list in {})",
                report.dir.display(),
                report.files.len(),
                report
                    .dir
                    .join(crate::artifacts::names::SUMMARY_TXT)
                    .display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => Err(AppError::plot_failed(format!("plotting failed: {e}"))),
    }
}
