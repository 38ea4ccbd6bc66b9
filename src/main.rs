//! The `aiperf` binary: parse the command line, dispatch, and map failures to exit codes.

use aiperf::cli::{Cli, Command};
use aiperf::error::AppError;
use aiperf::exit_code::ExitCode;
use aiperf::redact::redact_command_line;
use aiperf::run::{Invocation, run_benchmark};
use clap::Parser;

fn main() {
    // Like other command-line tools, stop quietly when the reader of stdout goes away
    // (`aiperf validate f.yaml | head -1`) instead of panicking on a broken pipe.
    // SAFETY: resetting a signal disposition to its default before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = Cli::parse();
    aiperf::logging::init(cli.verbose);
    // reqwest is built without a default TLS provider (avoids a slow C build); install ring's.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => exit_with(AppError::failure(format!(
            "cannot start the async runtime: {e}"
        ))),
    };
    let args: Vec<String> = std::env::args().collect();
    let code = runtime.block_on(async move {
        match cli.command {
            Command::Profile(profile) => {
                let spec = profile
                    .to_spec()
                    .map_err(|problems| AppError::config(problems.join("\n")))?;
                if let Some(sweep) = profile.recipe_sweep() {
                    let experiment = aiperf::spec::experiment::Experiment {
                        schema_version: None,
                        benchmark: spec,
                        sweep: Some(sweep),
                        multi_run: Default::default(),
                        variables: Default::default(),
                        random_seed: None,
                    };
                    let loaded = aiperf::spec::load::LoadedExperiment::from_flags(experiment);
                    let plan = aiperf::plan::expand(&loaded).map_err(|errors| {
                        AppError::config(
                            errors
                                .iter()
                                .map(ToString::to_string)
                                .collect::<Vec<_>>()
                                .join("\n"),
                        )
                    })?;
                    let options = aiperf::experiment::RunOptions {
                        command_line: redact_command_line(&args),
                        plot: profile.plot.clone(),
                        wandb: profile.wandb.clone(),
                        ..Default::default()
                    };
                    return aiperf::experiment::run(&loaded, plan, &options).await;
                }
                let auto_plot = aiperf::plot::auto::AutoPlot::resolve(
                    &profile.plot,
                    &spec.artifacts,
                    None,
                    std::path::Path::new("."),
                    false,
                )
                .map_err(AppError::config)?;
                let dir = spec.artifacts.dir.clone();
                let invocation = Invocation {
                    command_line: redact_command_line(&args),
                    ..Invocation::default()
                };
                let wandb = spec.wandb.clone();
                let code = run_benchmark(spec, &invocation).await?.exit_code;
                // Single-run plots after a successful run only; then the upload, so plots go too.
                let code = if code == ExitCode::SUCCESS {
                    auto_plot.after_run(&dir, code)
                } else {
                    code
                };
                Ok::<ExitCode, AppError>(
                    if code != ExitCode::INTERRUPTED
                        && dir.join(aiperf::export::PROFILE_EXPORT_JSON).is_file()
                    {
                        aiperf::track::wandb::export_after_run(&dir, &wandb, code).await
                    } else {
                        code
                    },
                )
            }
            Command::Run(run_args) => {
                aiperf::cli::run::run(&run_args, redact_command_line(&args), cli.verbose).await
            }
            Command::Validate(validate_args) => aiperf::cli::run::validate(&validate_args),
            Command::Schema { kind } => {
                match kind {
                    aiperf::cli::SchemaKind::Experiment => {
                        print!("{}", aiperf::spec::schema::experiment_schema_text())
                    }
                    aiperf::cli::SchemaKind::Recipe => {
                        print!("{}", aiperf::search::recipe::schema_text())
                    }
                }
                Ok(ExitCode::SUCCESS)
            }
            Command::Recipes(command) => aiperf::cli::recipes::run(&command),
            Command::Plot(plot_args) => aiperf::cli::plot::run(&plot_args),
            Command::Export(aiperf::cli::ExportCommand::Wandb(args)) => {
                aiperf::cli::export::wandb(&args).await
            }
            Command::MockServer(args) => {
                args.config.validate().map_err(AppError::config)?;
                aiperf::mock::serve_forever(args.config, &args.host, args.port)
                    .await
                    .map_err(|e| {
                        AppError::failure(format!(
                            "mock server on {}:{}: {e}",
                            args.host, args.port
                        ))
                    })?;
                Ok(ExitCode::SUCCESS)
            }
        }
    });
    match code {
        Ok(code) => std::process::exit(code.0),
        Err(e) => exit_with(e),
    }
}

fn exit_with(error: AppError) -> ! {
    let mut lines = error.message.lines();
    if let Some(first) = lines.next() {
        eprintln!("error: {first}");
    }
    for line in lines {
        eprintln!("error: {line}");
    }
    std::process::exit(error.code.0);
}
