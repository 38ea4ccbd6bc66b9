//! `aiperf dataset inspect FILE`: what an input file holds, read the way a run reads it.

use crate::dataset::input_file::{IndexRules, InputFile, TurnContent};
use crate::error::AppError;
use crate::exit_code::ExitCode;
use crate::spec::FileFormat;
use crate::spec::dataset::DEFAULT_BLOCK_SIZE;
use std::collections::HashSet;
use std::path::PathBuf;

/// `aiperf dataset ...`.
#[derive(Debug, clap::Subcommand)]
pub enum DatasetCommand {
    /// Check an input file and print what it holds: requests, duration, rate over time,
    /// ISL/OSL distributions and the prefix reuse its hash_ids imply.
    Inspect(InspectArgs),
}

/// Flags of `aiperf dataset inspect`.
#[derive(Debug, clap::Args)]
pub struct InspectArgs {
    /// The JSONL input file.
    pub file: PathBuf,
    /// Its format.
    #[arg(long, value_enum, value_name = "TYPE")]
    pub custom_dataset_type: FileFormat,
    /// Tokens per hash_ids block (default 512).
    #[arg(long, visible_alias = "block-size", value_name = "TOKENS")]
    pub isl_block_size: Option<u32>,
    /// Counts the tokens of literal texts: `builtin`, a tokenizer.json, or a cached model id.
    #[arg(long, default_value = "builtin")]
    pub tokenizer: String,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Windows the rate over time is shown in.
const RATE_WINDOWS: usize = 10;

/// What an input file holds.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Inspection {
    /// The file.
    pub file: String,
    /// Its format.
    pub format: &'static str,
    /// SHA-256 of its bytes.
    pub sha256: String,
    /// Conversations.
    pub conversations: u64,
    /// Requests one pass sends (turns).
    pub requests: u64,
    /// Conversations of more than one turn.
    pub multi_turn_conversations: u64,
    /// First to last timestamp, ms (absent without timestamps).
    pub duration_ms: Option<f64>,
    /// Requests per second over the whole trace.
    pub mean_rate: Option<f64>,
    /// Requests per second in equal windows of the trace.
    pub rate_over_time: Vec<f64>,
    /// Input tokens per request: min, p50, p90, p99, max, mean.
    pub isl: Option<Summary>,
    /// Requested output tokens (`output_length`) per request that has one.
    pub osl: Option<Summary>,
    /// Block size the reuse figures assume.
    pub block_size: u32,
    /// Of all hash_ids blocks, the share whose id appeared earlier in the file (an unbounded
    /// prefix cache would hold them).
    pub block_reuse_ratio: Option<f64>,
    /// The same in tokens, over the input tokens of requests with hash_ids.
    pub token_reuse_ratio: Option<f64>,
}

/// A distribution in a few numbers.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Summary {
    /// Smallest.
    pub min: f64,
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Largest.
    pub max: f64,
    /// Mean.
    pub mean: f64,
}

fn summarize(mut values: Vec<f64>) -> Option<Summary> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let q = |p: f64| crate::support::numbers::quantile(&values, p).unwrap_or(f64::NAN);
    Some(Summary {
        min: values[0],
        p50: q(0.5),
        p90: q(0.9),
        p99: q(0.99),
        max: values[values.len() - 1],
        mean: values.iter().sum::<f64>() / values.len() as f64,
    })
}

/// Reads the file once to check it, and again to measure it.
pub fn inspect(args: &InspectArgs) -> Result<Inspection, AppError> {
    let block_size = args.isl_block_size.unwrap_or(DEFAULT_BLOCK_SIZE);
    if block_size == 0 {
        return Err(AppError::config("--isl-block-size must be at least 1"));
    }
    let (tokenizer, _) = crate::dataset::tokenizer::resolve(Some(&args.tokenizer), "")
        .map_err(|e| AppError::config(format!("{e:#}")))?;
    let rules = IndexRules {
        block_size,
        chat: true,
    };
    let file = InputFile::index(&args.file, args.custom_dataset_type, rules)
        .map_err(|e| AppError::config(e.to_string()))?;
    let mut reader = file
        .reader()
        .map_err(|e| AppError::failure(format!("{}: {e}", args.file.display())))?;
    let (mut isl, mut osl, mut times) = (Vec::new(), Vec::new(), Vec::new());
    let (mut blocks, mut reused_blocks, mut hashed_tokens, mut reused_tokens) =
        (0u64, 0u64, 0u64, 0u64);
    let mut seen: HashSet<u32> = HashSet::new();
    let mut multi_turn = 0;
    for n in 0..file.conversation_count() {
        let conversation = file
            .read(&mut reader, n, rules)
            .map_err(|e| AppError::failure(e.to_string()))?;
        multi_turn += u64::from(conversation.turns.len() > 1);
        for turn in &conversation.turns {
            if let Some(t) = turn.timestamp_ms {
                times.push(t);
            }
            if let Some(o) = turn.output_length {
                osl.push(f64::from(o));
            }
            let tokens = match &turn.content {
                TurnContent::Text(text) => tokenizer.count(text) as u64,
                TurnContent::Synthetic {
                    input_length,
                    hash_ids,
                } => {
                    let length = u64::from(*input_length);
                    hashed_tokens += if hash_ids.is_empty() { 0 } else { length };
                    for (k, id) in hash_ids.iter().enumerate() {
                        // The last block holds what the full blocks before it leave.
                        let block_tokens = if k + 1 == hash_ids.len() {
                            length.saturating_sub(k as u64 * u64::from(block_size))
                        } else {
                            u64::from(block_size)
                        };
                        blocks += 1;
                        if !seen.insert(*id) {
                            reused_blocks += 1;
                            reused_tokens += block_tokens;
                        }
                    }
                    length
                }
                TurnContent::Messages { messages, .. } => messages
                    .iter()
                    .filter_map(|m| m["content"].as_str())
                    .map(|t| tokenizer.count(t) as u64)
                    .sum(),
                TurnContent::Payload(body) => body
                    .get("messages")
                    .and_then(|m| m.as_array())
                    .map(|m| {
                        m.iter()
                            .filter_map(|m| m["content"].as_str())
                            .map(|t| tokenizer.count(t) as u64)
                            .sum()
                    })
                    .unwrap_or(0),
            };
            isl.push(tokens as f64);
        }
    }
    let duration_ms = match (file.stats.first_timestamp_ms, file.stats.last_timestamp_ms) {
        (Some(first), Some(last)) => Some(last - first),
        _ => None,
    };
    let mean_rate = duration_ms
        .filter(|&d| d > 0.0)
        .map(|d| times.len() as f64 / (d / 1e3));
    let rate_over_time = match (duration_ms, file.stats.first_timestamp_ms) {
        (Some(d), Some(first)) if d > 0.0 => {
            let width = d / RATE_WINDOWS as f64;
            let mut counts = [0u64; RATE_WINDOWS];
            for t in &times {
                let w = (((t - first) / width) as usize).min(RATE_WINDOWS - 1);
                counts[w] += 1;
            }
            counts.iter().map(|&c| c as f64 / (width / 1e3)).collect()
        }
        _ => Vec::new(),
    };
    Ok(Inspection {
        file: args.file.display().to_string(),
        format: args.custom_dataset_type.as_str(),
        sha256: file.sha256.clone(),
        conversations: file.conversation_count() as u64,
        requests: file.stats.turns,
        multi_turn_conversations: multi_turn,
        duration_ms,
        mean_rate,
        rate_over_time,
        isl: summarize(isl),
        osl: summarize(osl),
        block_size,
        block_reuse_ratio: (blocks > 0).then(|| reused_blocks as f64 / blocks as f64),
        token_reuse_ratio: (hashed_tokens > 0).then(|| reused_tokens as f64 / hashed_tokens as f64),
    })
}

fn show_summary(name: &str, s: &Option<Summary>) -> String {
    match s {
        Some(s) => format!(
            "{name:<22} min {:.0}, p50 {:.0}, p90 {:.0}, p99 {:.0}, max {:.0}, mean {:.1}",
            s.min, s.p50, s.p90, s.p99, s.max, s.mean
        ),
        None => format!("{name:<22} not given"),
    }
}

/// `aiperf dataset ...`.
pub fn run(command: &DatasetCommand) -> Result<ExitCode, AppError> {
    let DatasetCommand::Inspect(args) = command;
    let report = inspect(args)?;
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).map_err(|e| AppError::failure(e.to_string()))?
        );
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{} ({}), sha256 {}",
        report.file, report.format, report.sha256
    );
    println!(
        "{:<22} {} in {} conversations ({} of several turns)",
        "requests", report.requests, report.conversations, report.multi_turn_conversations
    );
    match (report.duration_ms, report.mean_rate) {
        (Some(d), Some(rate)) => {
            println!(
                "{:<22} {:.3} s, {rate:.2} req/s on average",
                "duration",
                d / 1e3
            );
            let rates: Vec<String> = report
                .rate_over_time
                .iter()
                .map(|r| format!("{r:.2}"))
                .collect();
            println!(
                "{:<22} {} (req/s in {} equal windows)",
                "rate over time",
                rates.join(" "),
                rates.len()
            );
        }
        (Some(d), None) => println!("{:<22} {d} ms", "duration"),
        _ => println!(
            "{:<22} no timestamps (replayed by concurrency or rate)",
            "duration"
        ),
    }
    println!("{}", show_summary("input tokens (ISL)", &report.isl));
    println!("{}", show_summary("output tokens (OSL)", &report.osl));
    match (report.block_reuse_ratio, report.token_reuse_ratio) {
        (Some(blocks), Some(tokens)) => println!(
            "{:<22} {:.1}% of hash_ids blocks ({:.1}% of their tokens) repeat an earlier id at block size {}",
            "prefix reuse",
            blocks * 100.0,
            tokens * 100.0,
            report.block_size
        ),
        _ => println!("{:<22} no hash_ids", "prefix reuse"),
    }
    Ok(ExitCode::SUCCESS)
}
