//! The `aiperf` binary: parse the command line, dispatch, and map failures to their messages and
//! exit codes (the one place that does).

use aiperf::cli::{Cli, Command};
use aiperf::error::{AppError, FailureKind};
use aiperf::exit_code::ExitCode;
use aiperf::redact::redact_command_line;
use clap::Parser;

fn main() {
    // SIGPIPE stays ignored (Rust's default): hyper writes sockets with writev, which, unlike
    // send(MSG_NOSIGNAL), raises SIGPIPE on a connection the other side closed, and a server (or
    // the embedded mock) going away mid-write must be an error, never the end of the process.
    // A closed stdout (`aiperf validate f.yaml | head -1`) is handled by the panic hook, which
    // stops quietly with 141.
    aiperf::crash::install_panic_hook();
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
                aiperf::cli::profile_command::run(&profile, redact_command_line(&args)).await
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
                        print!("{}", aiperf::plan::recipe_catalogue::schema_text())
                    }
                }
                Ok(ExitCode::SUCCESS)
            }
            Command::Recipes(command) => aiperf::cli::recipes::run(&command),
            Command::Plot(plot_args) => aiperf::cli::plot::run(&plot_args),
            Command::Calibrate(args) => aiperf::cli::calibrate::run(&args).await,
            Command::Compare(args) => aiperf::cli::compare::run(&args).await,
            Command::Dataset(command) => aiperf::cli::dataset::run(&command),
            Command::Export(aiperf::cli::ExportCommand::Wandb(args)) => {
                aiperf::cli::export::wandb(&args).await
            }
            Command::MockServer(args) => {
                let config = aiperf::mock::MockConfig::from(args.behaviour);
                config.validate().map_err(AppError::config)?;
                aiperf::mock::serve_forever(
                    config,
                    &args.host,
                    args.port,
                    aiperf::mock::MockLogs {
                        timing: args.timing_log.as_deref(),
                        requests: args.request_log.as_deref(),
                    },
                )
                .await
                .map_err(|e| {
                    AppError::failure(format!("mock server on {}:{}: {e}", args.host, args.port))
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
    std::process::exit(exit_code(error.kind).0);
}

/// The documented exit code of each kind of failure (README, `exit_code.rs`).
fn exit_code(kind: FailureKind) -> ExitCode {
    match kind {
        FailureKind::InvalidConfig => ExitCode::INVALID_CONFIG,
        FailureKind::Unreachable => ExitCode::SERVER_UNREACHABLE,
        FailureKind::PlotFailed => ExitCode::PLOT_FAILED,
        FailureKind::Interrupted => aiperf::signals::interrupted_exit_code(),
        FailureKind::Other => ExitCode::FAILURE,
    }
}
