//! `aiperf recipes list` and `aiperf recipes show NAME`.

use super::RecipesCommand;
use crate::error::AppError;
use crate::exit_code::ExitCode;
use crate::plan::recipe_catalogue::{self as recipe, BUILT_INS};

/// Runs a recipes subcommand.
pub fn run(command: &RecipesCommand) -> Result<ExitCode, AppError> {
    match command {
        RecipesCommand::List => {
            for (name, _) in BUILT_INS {
                let r = recipe::load(name).map_err(AppError::failure)?;
                let sla: Vec<&str> = r.sla_parameters.keys().map(String::as_str).collect();
                let sla = if sla.is_empty() {
                    String::new()
                } else {
                    format!(" [sla: {}]", sla.join(", "))
                };
                println!("{name}{sla}\n    {}", r.description);
            }
            println!(
                "\nUse one with `sweep: {{recipe: NAME}}` in an experiment, or `aiperf profile --search-recipe NAME`."
            );
            Ok(ExitCode::SUCCESS)
        }
        RecipesCommand::Show { name } => {
            match BUILT_INS.iter().find(|(n, _)| n == name) {
                Some((_, text)) => print!("{text}"),
                None => {
                    let r = recipe::load(name).map_err(AppError::config)?;
                    println!("{}", serde_json::to_string_pretty(&r).unwrap_or_default());
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
