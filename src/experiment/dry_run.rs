//! `aiperf run FILE --dry-run`: every trial with its parameters and directory, the total, an
//! estimated duration, and a check that each target server answers; nothing is benchmarked.

use crate::error::AppError;
use crate::exit_code::ExitCode;
use crate::plan::Plan;
use crate::redact::redact_url;
use std::collections::BTreeSet;
use std::time::Duration;

/// Seconds a trial takes when it is bounded by duration (warmup and count-bounded phases are not
/// counted; they depend on the server).
fn bounded_seconds(spec: &crate::spec::BenchmarkSpec) -> Option<f64> {
    spec.profiling_phase().duration
}

/// Checks a server answers: `GET <base>/v1/models` (any HTTP answer counts).
async fn probe(url: &str) -> Result<String, String> {
    let parsed = reqwest::Url::parse(url).map_err(|e| e.to_string())?;
    let mut models = parsed.clone();
    models.set_path("/v1/models");
    models.set_query(None);
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(5))
        .build()
        .map_err(|e| e.to_string())?;
    match client.get(models.clone()).send().await {
        Ok(response) => {
            let status = response.status();
            let body: serde_json::Value = response.json().await.unwrap_or_default();
            let ids: Vec<String> = body["data"]
                .as_array()
                .map(|d| {
                    d.iter()
                        .filter_map(|m| m["id"].as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            Ok(if ids.is_empty() {
                format!("answers (HTTP {})", status.as_u16())
            } else {
                format!(
                    "answers (HTTP {}, models: {})",
                    status.as_u16(),
                    ids.join(", ")
                )
            })
        }
        Err(e) => Err(crate::load::transport::describe(&e)),
    }
}

/// A cell's resolved configuration and how the sweep changed the base values (for `-v`).
pub fn describe_cell(cell: &crate::plan::Cell) -> String {
    let mut text = format!(
        "cell {}:",
        if cell.label.is_empty() {
            "base"
        } else {
            &cell.label
        }
    );
    for (path, base, value) in &cell.overrides {
        let base = base
            .as_ref()
            .map(|b| b.to_string())
            .unwrap_or_else(|| "(unset)".into());
        text.push_str(&format!("\n  {path}: {base} -> {value} (sweep)"));
    }
    text.push_str("\n  resolved configuration:\n");
    text.push_str(&serde_json::to_string_pretty(&cell.spec).unwrap_or_default());
    text
}

/// Prints the plan and checks the servers. Exit code: success, or server unreachable.
pub async fn dry_run(plan: &Plan, verbose: bool) -> Result<ExitCode, AppError> {
    if let Some(a) = &plan.adaptive {
        if verbose {
            println!(
                "base configuration:\n{}",
                serde_json::to_string_pretty(&a.base).unwrap_or_default()
            );
        }
        return check_servers(&a.base.endpoint.urls).await;
    }
    println!(
        "{} cells x {} runs = {} trials, results in {}",
        plan.cells.len(),
        plan.num_runs,
        plan.trials.len(),
        plan.base_dir.display()
    );
    for trial in &plan.trials {
        let params = plan.cells[trial.cell].parameters_text();
        let run = if plan.num_runs > 1 {
            format!(" run {}/{}", trial.repetition, plan.num_runs)
        } else {
            String::new()
        };
        println!(
            "  [{}] {}{run} -> {}",
            trial.number,
            if params.is_empty() {
                "base".into()
            } else {
                params
            },
            trial.dir.display()
        );
    }
    if verbose {
        for cell in &plan.cells {
            println!("\n{}", describe_cell(cell));
        }
    }
    let bounded: Vec<f64> = plan
        .trials
        .iter()
        .filter_map(|t| bounded_seconds(&t.spec))
        .collect();
    let unbounded = plan.trials.len() - bounded.len();
    let seconds: f64 = bounded.iter().sum();
    let mut estimate = format!(
        "estimated duration: at least {:.0} s of duration-bounded load",
        seconds
    );
    if unbounded > 0 {
        estimate.push_str(&format!(
            ", plus {unbounded} count-bounded trials whose length depends on the server"
        ));
    }
    println!("{estimate}");
    let urls: Vec<String> = plan
        .cells
        .iter()
        .flat_map(|c| c.spec.endpoint.urls.clone())
        .collect();
    check_servers(&urls).await
}

/// Checks that every distinct server answers.
async fn check_servers(urls: &[String]) -> Result<ExitCode, AppError> {
    let urls: BTreeSet<String> = urls.iter().cloned().collect();
    let mut unreachable = Vec::new();
    for url in &urls {
        if url.starts_with("mock://") {
            println!(
                "server {}: embedded mock server, started for each trial",
                url
            );
            continue;
        }
        match probe(url).await {
            Ok(what) => println!("server {}: {what}", redact_url(url)),
            Err(e) => {
                println!("server {}: does not answer: {e}", redact_url(url));
                unreachable.push(redact_url(url));
            }
        }
    }
    if !unreachable.is_empty() {
        return Err(AppError::unreachable(format!(
            "cannot reach {}; nothing was benchmarked",
            unreachable.join(", ")
        )));
    }
    println!("dry run: nothing was benchmarked");
    Ok(ExitCode::SUCCESS)
}
