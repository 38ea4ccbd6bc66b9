//! `aiperf compare BASELINE CANDIDATE` (or `--baseline-from wandb:ENTITY/PROJECT/RUN
//! CANDIDATE`): did the candidate get slower? Metric by metric and
//! cell by cell, with a confidence interval of each change and a verdict that needs both
//! significance and a practical margin (docs/compare.md). Writes `compare.json`, prints a
//! table or Markdown, optionally a JUnit report; exits 10 on a regression.

use crate::after_run::baseline::BaselineSource;
use crate::artifacts::io::{to_pretty_json, write_atomic};
use crate::error::AppError;
use crate::exit_code::ExitCode;
use crate::gate::comparison::{CompareOptions, compare_results};
use crate::gate::report;
use std::path::PathBuf;

/// Output formats of `aiperf compare` on stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CompareFormat {
    /// A console table.
    Table,
    /// GitHub-flavoured Markdown, for a pull-request comment or a CI job summary.
    Markdown,
    /// `compare.json` itself.
    Json,
}

/// Flags of `aiperf compare`.
#[derive(Debug, clap::Args)]
pub struct CompareArgs {
    /// The baseline result directory (a run, repeated trials, a sweep or a search), or
    /// `wandb:ENTITY/PROJECT/RUN_ID`; with `--baseline-from`, the only directory given is the
    /// candidate.
    #[arg(value_name = "BASELINE")]
    pub first: String,
    /// The candidate result directory, of the same kind.
    #[arg(value_name = "CANDIDATE")]
    pub second: Option<PathBuf>,
    /// Download the baseline from W&B: `wandb:ENTITY/PROJECT/RUN_ID` names a run aiperf
    /// uploaded (its `aiperf-run` artifact, or an experiment's aggregate run and its trials),
    /// read with WANDB_API_KEY and WANDB_BASE_URL as for uploads. Then give only CANDIDATE.
    #[arg(long, value_name = "wandb:ENTITY/PROJECT/RUN")]
    pub baseline_from: Option<String>,
    /// A metric to compare, `tag.stat` (`time_to_first_token.p99`) or a per-run metric's tag
    /// (`output_token_throughput`). Repeatable. Default: TTFT p99, ITL p99, request latency
    /// p99, output token throughput and the error rate.
    #[arg(long = "metric", value_name = "TAG.STAT")]
    pub metrics: Vec<String>,
    /// The practical margin: a significant change is a regression (or an improvement) only
    /// beyond it. `5%` for every metric, or `TAG.STAT=10%` for one. Repeatable.
    #[arg(
        long = "max-regression",
        value_name = "PCT",
        default_value = "5%",
        allow_hyphen_values = true
    )]
    pub max_regression: Vec<String>,
    /// Confidence level of the intervals (0.5-0.999).
    #[arg(long, default_value_t = 0.95, allow_negative_numbers = true)]
    pub confidence_level: f64,
    /// Bootstrap resamples (200-100000).
    #[arg(long, default_value_t = 2000, allow_negative_numbers = true)]
    pub bootstrap_samples: i64,
    /// Seed of the bootstrap (the same inputs and seed give the same intervals).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Compare runs whose settings differ (model, endpoint, lengths, load), listing the
    /// differences instead of refusing.
    #[arg(long)]
    pub allow_different: bool,
    /// What to print on stdout.
    #[arg(long, value_enum, default_value = "table")]
    pub format: CompareFormat,
    /// Also write a JUnit XML report here: one test case per compared metric and scope.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Where to write compare.json (default: the candidate directory).
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Also draw the comparison plots (PNG) into this directory: CDFs of both runs per
    /// latency metric, or per-cell changes with their intervals for sweeps.
    #[arg(long, value_name = "DIR")]
    pub plot: Option<PathBuf>,
    /// The plots' theme.
    #[arg(long, value_enum, default_value = "light")]
    pub theme: crate::spec::plot::Theme,
}

impl CompareArgs {
    /// The baseline and the candidate these flags name; the error says what is missing.
    pub fn inputs(&self) -> Result<(BaselineSource, PathBuf), String> {
        match (&self.baseline_from, &self.second) {
            (Some(from), None) => {
                if !crate::track::wandb::download::RunRef::is_wandb(from) {
                    return Err(format!(
                        "--baseline-from {from:?}: expected wandb:ENTITY/PROJECT/RUN_ID (a \
                         directory is given as the first argument)"
                    ));
                }
                Ok((BaselineSource::parse(from)?, PathBuf::from(&self.first)))
            }
            (Some(_), Some(_)) => Err(
                "with --baseline-from, give only the candidate directory (the baseline comes from W&B)"
                    .into(),
            ),
            (None, Some(candidate)) => {
                Ok((BaselineSource::parse(&self.first)?, candidate.clone()))
            }
            (None, None) => Err(
                "give BASELINE and CANDIDATE directories, or --baseline-from wandb:ENTITY/PROJECT/RUN CANDIDATE"
                    .into(),
            ),
        }
    }

    /// The comparison these flags ask for.
    pub fn options(&self) -> CompareOptions {
        CompareOptions {
            metrics: self.metrics.clone(),
            max_regression: self.max_regression.clone(),
            confidence_level: self.confidence_level,
            resamples: usize::try_from(self.bootstrap_samples).unwrap_or(0),
            seed: self.seed,
            allow_different: self.allow_different,
        }
    }
}

/// Runs `aiperf compare`.
pub async fn run(args: &CompareArgs) -> Result<ExitCode, AppError> {
    let (source, candidate) = args.inputs().map_err(AppError::config)?;
    let options = args.options();
    // Inputs that are wrong locally fail before anything is downloaded.
    options.check().map_err(|e| AppError::config(e.0))?;
    crate::gate::inputs::check_result_dir(&candidate).map_err(AppError::config)?;
    let baseline = source.fetch().await?;
    if let Some(download) = baseline.download_dir() {
        // The download installed the signal listener, and nothing here watches its token: a
        // signal now ends the command at once, as the default action would have, without
        // leaving the downloaded baseline behind.
        let shutdown = crate::signals::shutdown_token();
        tokio::spawn(async move {
            shutdown.cancelled().await;
            let _ = std::fs::remove_dir_all(&download);
            std::process::exit(crate::signals::interrupted_exit_code().0);
        });
    }
    let mut file =
        compare_results(baseline.dir(), &candidate, &options).map_err(|e| AppError::config(e.0))?;
    file.baseline.clone_from(&baseline.label);
    let output = args
        .output
        .clone()
        .unwrap_or_else(|| candidate.join(crate::artifacts::names::COMPARE_JSON));
    write_atomic(&output, &to_pretty_json(&file))
        .map_err(|e| AppError::failure(format!("cannot write {}: {e}", output.display())))?;
    if let Some(path) = &args.junit {
        let xml = report::junit(&file).map_err(AppError::failure)?;
        write_atomic(path, xml.as_bytes())
            .map_err(|e| AppError::failure(format!("cannot write {}: {e}", path.display())))?;
    }
    match args.format {
        CompareFormat::Table => print!("{}", report::table(&file)),
        CompareFormat::Markdown => print!("{}", report::markdown(&file)),
        CompareFormat::Json => println!("{}", String::from_utf8_lossy(&to_pretty_json(&file))),
    }
    let code = report::exit_code(&file, &output);
    if let Some(dir) = &args.plot {
        match crate::plot::compare::draw(&file, dir, args.theme) {
            Ok(drawn) => eprintln!(
                "wrote {} comparison plot(s) to {}",
                drawn.len(),
                dir.display()
            ),
            Err(e) => {
                eprintln!("error: comparison plots: {e:#}");
                // A regression says more than a missing plot.
                if code == ExitCode::SUCCESS {
                    return Ok(ExitCode::PLOT_FAILED);
                }
            }
        }
    }
    Ok(code)
}
