//! Command-line definitions (clap), one file per command. Flags become a typed spec here; the
//! rest of the program never sees raw flags.

pub mod calibrate;
pub mod compare;
pub mod dataset;
pub mod export;
pub mod flags;
pub mod mock_server;
pub mod plot;
pub mod profile;
pub mod profile_command;
mod profile_dataset;
mod profile_spec;
pub mod profile_sweep;
mod profile_warmup;
pub mod recipes;
pub mod run;

use clap::{Parser, Subcommand};

/// Benchmark OpenAI-compatible LLM inference servers.
#[derive(Debug, Parser)]
#[command(name = "aiperf", version, about, long_about = None, after_help = exit_codes_help())]
pub struct Cli {
    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
    /// More output on stderr (-v info, -vv debug).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run an experiment file: sweeps, repeated trials, aggregates.
    Run(run::RunArgs),
    /// Check an experiment file and print its plan.
    Validate(run::ValidateArgs),
    /// Run one benchmark configured from flags (AIPerf-compatible flag names).
    Profile(Box<profile::ProfileArgs>),
    /// Serve the embedded OpenAI-compatible mock server.
    MockServer(mock_server::MockServerArgs),
    /// Print a JSON Schema: of experiment files (default) or of recipe files.
    Schema {
        /// Which schema.
        #[arg(value_enum, default_value = "experiment")]
        kind: SchemaKind,
    },
    /// Draw PNG plots of the results in one or more directories.
    Plot(plot::PlotArgs),
    /// Upload existing results.
    #[command(subcommand)]
    Export(ExportCommand),
    /// List and show search recipes.
    #[command(subcommand)]
    Recipes(RecipesCommand),
    /// Measure how much load this host's client can drive, for later runs to warn against.
    Calibrate(calibrate::CalibrateArgs),
    /// Compare a candidate's results with a baseline's: regressions, with noise taken into
    /// account (exit 10 on a regression).
    Compare(compare::CompareArgs),
    /// Look into input files.
    #[command(subcommand)]
    Dataset(dataset::DatasetCommand),
}

/// The schemas `aiperf schema` prints.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum SchemaKind {
    /// `schemas/experiment.schema.json`.
    Experiment,
    /// `schemas/recipe.schema.json`.
    Recipe,
}

/// `aiperf export ...`.
#[derive(Debug, Subcommand)]
pub enum ExportCommand {
    /// Upload a run or experiment directory to Weights & Biases.
    Wandb(export::WandbExportArgs),
}

/// `aiperf recipes ...`.
#[derive(Debug, Subcommand)]
pub enum RecipesCommand {
    /// List the built-in recipes.
    List,
    /// Print a recipe (built-in name or file) as YAML.
    Show {
        /// Recipe name or path.
        name: String,
    },
}

fn exit_codes_help() -> String {
    let mut text = String::from("Exit codes:\n");
    for (code, meaning) in crate::exit_code::ExitCode::ALL {
        text.push_str(&format!("  {:>3}  {meaning}\n", code.0));
    }
    text
}

/// Reads and checks an experiment file; the runs of a NeMo Guardrails batch are parsed as
/// `aiperf profile` flags, exactly as on the command line.
pub fn load_experiment(
    file: &std::path::Path,
) -> Result<crate::spec::load::LoadedExperiment, Vec<crate::spec::load::SpecError>> {
    crate::spec::load::load_experiment(file, &profile_args_to_spec)
}

/// `aiperf profile ARGS` as a spec (the first line of clap's message on a parse error).
pub fn profile_args_to_spec(
    args: &[String],
) -> Result<crate::spec::BenchmarkSpec, crate::spec::nemo::InvalidProfileArgs> {
    let argv = ["aiperf", "profile"]
        .into_iter()
        .map(String::from)
        .chain(args.iter().cloned());
    let cli = Cli::try_parse_from(argv)
        .map_err(|e| e.to_string().lines().next().unwrap_or_default().to_string())?;
    let Command::Profile(profile) = cli.command else {
        return Err("internal: not a profile command".into());
    };
    profile
        .to_spec()
        .map_err(|problems| problems.join("; ").into())
}

#[cfg(test)]
mod tests {
    #[test]
    fn nemo_style_arguments_parse_like_the_command_line() {
        let args: Vec<String> = [
            "-m",
            "m",
            "-u",
            "http://h:1",
            "--concurrency",
            "4",
            "--isl",
            "100",
            "--streaming",
        ]
        .map(String::from)
        .to_vec();
        let spec = super::profile_args_to_spec(&args).unwrap();
        assert_eq!(spec.profiling_phase().concurrency, Some(4));
        assert_eq!(spec.dataset().prompts.isl.mean, 100.0);
        assert!(spec.endpoint.streaming);
        assert!(super::profile_args_to_spec(&["--nope".into()]).is_err());
    }
}
