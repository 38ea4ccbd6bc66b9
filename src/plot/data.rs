//! Reading what plots are made from: per-request records (`profile_export.jsonl`), run summaries
//! (`profile_export_aiperf.json`) and AIPerf's timeslice CSV. Reading only; nothing is drawn here.

use crate::artifacts::record_line::RecordLine;
use anyhow::{Context, Result};
use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::Path;

/// The per-request metrics every single-run plot may use.
pub const STANDARD_COLUMNS: &[&str] = &[
    "time_to_first_token",
    "inter_token_latency",
    "request_latency",
    "output_sequence_length",
];

/// The profiling-phase requests of one run, ordered by send time, as columns.
#[derive(Debug, Clone, Default)]
pub struct Records {
    /// Seconds from the first request's send to this request's send.
    pub start_s: Vec<f64>,
    /// Seconds from the first request's send to when the schedule wanted it sent (negative
    /// when the first request itself went late); the send time when the record has none.
    pub intended_s: Vec<f64>,
    /// Seconds from the first request's send to this request's end.
    pub end_s: Vec<f64>,
    /// Whether the request succeeded.
    pub ok: Vec<bool>,
    /// Metric tag → value per request (display units), `None` where the request has none.
    pub columns: BTreeMap<String, Vec<Option<f64>>>,
    /// Lines that were not valid records (for example a line cut short by a crash).
    pub unreadable_lines: usize,
}

impl Records {
    /// Number of requests.
    pub fn len(&self) -> usize {
        self.start_s.len()
    }

    /// Whether there are no requests.
    pub fn is_empty(&self) -> bool {
        self.start_s.is_empty()
    }

    /// The values of `tag`, `None` where a request has none (empty when the tag is unknown).
    pub fn column(&self, tag: &str) -> &[Option<f64>] {
        self.columns.get(tag).map(Vec::as_slice).unwrap_or(&[])
    }

    /// `(request index, value)` for every request that has `tag`.
    pub fn present(&self, tag: &str) -> Vec<(usize, f64)> {
        self.column(tag)
            .iter()
            .enumerate()
            .filter_map(|(i, v)| v.filter(|v| v.is_finite()).map(|v| (i, v)))
            .collect()
    }
}

struct Raw {
    start_ns: u64,
    intended_ns: u64,
    end_ns: u64,
    ok: bool,
    values: Vec<Option<f64>>,
}

/// Reads the profiling-phase records of `path` with the standard columns plus `extra` tags.
pub fn read_records(path: &Path, extra: &[String]) -> Result<Records> {
    let file =
        std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut tags: Vec<String> = STANDARD_COLUMNS.iter().map(|t| t.to_string()).collect();
    for t in extra {
        if !tags.contains(t) {
            tags.push(t.clone());
        }
    }
    let mut raw = Vec::new();
    let mut unreadable = 0;
    for line in std::io::BufReader::new(file).lines() {
        let line = line.with_context(|| format!("cannot read {}", path.display()))?;
        if line.trim().is_empty() {
            continue;
        }
        let Ok(record) = serde_json::from_str::<RecordLine>(&line) else {
            unreadable += 1;
            continue;
        };
        if record.is_warmup() {
            continue;
        }
        let (Some(start_ns), Some(end_ns)) = (
            record.metadata.request_start_ns,
            record.metadata.request_end_ns,
        ) else {
            unreadable += 1;
            continue;
        };
        let values = tags.iter().map(|t| record.value(t)).collect();
        raw.push(Raw {
            start_ns,
            intended_ns: record.metadata.credit_issued_ns.unwrap_or(start_ns),
            end_ns: end_ns.max(start_ns),
            ok: record.succeeded(),
            values,
        });
    }
    raw.sort_by_key(|r| r.start_ns);
    let origin = raw.first().map_or(0, |r| r.start_ns);
    let seconds = |ns: u64| (ns - origin) as f64 / 1e9;
    let signed_seconds = |ns: u64| (ns as f64 - origin as f64) / 1e9;
    let mut records = Records {
        start_s: raw.iter().map(|r| seconds(r.start_ns)).collect(),
        intended_s: raw.iter().map(|r| signed_seconds(r.intended_ns)).collect(),
        end_s: raw.iter().map(|r| seconds(r.end_ns)).collect(),
        ok: raw.iter().map(|r| r.ok).collect(),
        columns: BTreeMap::new(),
        unreadable_lines: unreadable,
    };
    for (i, tag) in tags.into_iter().enumerate() {
        records
            .columns
            .insert(tag, raw.iter().map(|r| r.values[i]).collect());
    }
    Ok(records)
}

/// A run's `profile_export_aiperf.json`.
pub use crate::artifacts::summary::RunSummaryFile as Summary;

/// One value of AIPerf's timeslice CSV.
#[derive(Debug, Clone, PartialEq)]
pub struct Timeslice {
    /// Slice index.
    pub index: usize,
    /// Display name of the metric ("Time to First Token").
    pub metric: String,
    /// Unit.
    pub unit: String,
    /// Statistic ("avg").
    pub stat: String,
    /// The value.
    pub value: f64,
}

/// Reads `Timeslice,Start_NS,End_NS,Metric,Unit,Stat,Value` rows; unparsable rows are skipped.
pub fn read_timeslices(path: &Path) -> Result<Vec<Timeslice>> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_path(path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    let mut out = Vec::new();
    for row in reader.records().flatten() {
        let field = |i: usize| row.get(i).unwrap_or("").trim();
        let (Ok(index), Ok(value)) = (field(0).parse::<usize>(), field(6).parse::<f64>()) else {
            continue;
        };
        out.push(Timeslice {
            index,
            metric: field(3).to_string(),
            unit: field(4).to_string(),
            stat: field(5).to_string(),
            value,
        });
    }
    Ok(out)
}

pub use crate::support::numbers::quantile;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_skip_warmup_and_broken_lines_and_sort_by_send_time() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.jsonl");
        let line = |start: u64, phase: &str, ttft: f64| {
            format!(
                r#"{{"metadata":{{"request_start_ns":{start},"request_end_ns":{},"phase_kind":"{phase}"}},"metrics":{{"time_to_first_token":{{"value":{ttft},"unit":"ms"}}}},"error":null}}"#,
                start + 2_000_000_000
            )
        };
        let text = [
            line(3_000_000_000, "profiling", 30.0),
            line(1_000_000_000, "warmup", 99.0),
            line(2_000_000_000, "profiling", 20.0),
            "{\"metadata\":".to_string(),
        ]
        .join("\n");
        std::fs::write(&path, text).unwrap();
        let r = read_records(&path, &[]).unwrap();
        assert_eq!(r.len(), 2);
        assert_eq!(r.start_s, vec![0.0, 1.0]);
        assert_eq!(r.end_s, vec![2.0, 3.0]);
        assert_eq!(r.column("time_to_first_token"), &[Some(20.0), Some(30.0)]);
        assert_eq!(r.column("inter_token_latency"), &[None, None]);
        assert_eq!(r.unreadable_lines, 1);
    }
}
