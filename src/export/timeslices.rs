//! AIPerf's timeslice files (`--slice-duration S`): the profiling phase cut into consecutive
//! slices of S seconds from its first request, and each slice's statistics.
//!
//! A request belongs to the slice its send time (`request_start_ns`) falls in, whole: one that
//! crosses a boundary counts in the slice it started in (as AIPerf buckets by request
//! timestamp), so every request is counted exactly once. A slice's throughputs are its
//! completed requests and their output tokens over the slice's length; the last slice ends at
//! the last request's end, so a short tail is not diluted. Built from `profile_export.jsonl`,
//! read back through [`RecordLine`] in two streaming passes: memory is per slice, not per
//! request.

use crate::artifacts::names::{TIMESLICES_CSV, TIMESLICES_JSON};
use crate::artifacts::record_line::RecordLine;
use crate::metrics::accumulator::scale_for;
use crate::metrics::distribution::Distribution;
use crate::registry::MetricId;
use crate::support::csv_text::CsvText;
use serde_json::{Map, json};
use std::io::BufRead;
use std::path::Path;

/// The most slices written; a longer run with a short slice is refused with a warning.
pub const MAX_SLICES: u64 = 100_000;

/// The per-request metrics each slice reports.
const SLICE_METRICS: &[MetricId] = &[
    MetricId::TimeToFirstToken,
    MetricId::TimeToSecondToken,
    MetricId::InterTokenLatency,
    MetricId::RequestLatency,
    MetricId::InputSequenceLength,
    MetricId::OutputSequenceLength,
];

/// The statistics written for each per-request metric.
const SLICE_STATS: &[&str] = &["avg", "min", "max", "std", "p50", "p90", "p95", "p99"];

/// One slice while it is being filled.
struct Slice {
    start_ns: u64,
    end_ns: u64,
    metrics: Vec<Distribution>,
    completed: u64,
    errors: u64,
    output_tokens: f64,
}

/// Which slice a request sent at `sent_ns` belongs to, for slices of `slice_ns` from `t0_ns`.
pub fn slice_of(t0_ns: u64, slice_ns: u64, sent_ns: u64) -> u64 {
    sent_ns.saturating_sub(t0_ns) / slice_ns.max(1)
}

/// The profiling records of a JSONL file, skipping lines that do not parse.
fn records(path: &Path) -> std::io::Result<impl Iterator<Item = RecordLine>> {
    let file = std::io::BufReader::new(std::fs::File::open(path)?);
    Ok(file
        .lines()
        .map_while(Result::ok)
        .filter_map(|line| serde_json::from_str::<RecordLine>(&line).ok())
        .filter(|r| !r.is_warmup()))
}

/// The run's slices from its records, or why there are none.
fn build(jsonl: &Path, slice_seconds: f64) -> Result<Vec<Slice>, String> {
    let slice_ns = (slice_seconds * 1e9) as u64;
    let mut span: Option<(u64, u64)> = None;
    for r in records(jsonl).map_err(|e| format!("cannot read {}: {e}", jsonl.display()))? {
        let (Some(start), end) = (r.metadata.request_start_ns, r.metadata.request_end_ns) else {
            continue;
        };
        let end = end.unwrap_or(start).max(start);
        span = Some(span.map_or((start, end), |(a, b)| (a.min(start), b.max(end))));
    }
    let Some((t0, last_end)) = span else {
        return Err("the run has no profiling records to slice".into());
    };
    let count = slice_of(t0, slice_ns, last_end) + 1;
    if count > MAX_SLICES {
        return Err(format!(
            "--slice-duration {slice_seconds} s would cut this run into {count} slices; at most {MAX_SLICES} are written"
        ));
    }
    let mut slices: Vec<Slice> = (0..count)
        .map(|i| Slice {
            start_ns: t0 + i * slice_ns,
            end_ns: (t0 + (i + 1) * slice_ns).min(last_end.max(t0 + i * slice_ns + 1)),
            metrics: SLICE_METRICS
                .iter()
                .map(|id| Distribution::new(scale_for(id.def().unit)))
                .collect(),
            completed: 0,
            errors: 0,
            output_tokens: 0.0,
        })
        .collect();
    let records = records(jsonl).map_err(|e| format!("cannot read {}: {e}", jsonl.display()))?;
    for r in records {
        let Some(sent) = r.metadata.request_start_ns else {
            continue;
        };
        let Some(slice) = slices.get_mut(slice_of(t0, slice_ns, sent) as usize) else {
            continue;
        };
        if r.error.is_some() {
            slice.errors += 1;
        }
        if !r.succeeded() {
            continue;
        }
        slice.completed += 1;
        slice.output_tokens += r.value(MetricId::OutputSequenceLength.tag()).unwrap_or(0.0);
        for (id, dist) in SLICE_METRICS.iter().zip(&mut slice.metrics) {
            if let Some(v) = r.value(id.tag()) {
                dist.record(v);
            }
        }
    }
    Ok(slices)
}

/// A slice's values: (metric, unit, stat, value) in the CSV's order.
fn values(slice: &Slice) -> Vec<(MetricId, &'static str, f64)> {
    let mut out = Vec::new();
    for (id, dist) in SLICE_METRICS.iter().zip(&slice.metrics) {
        if let Some(stats) = dist.stats() {
            for stat in SLICE_STATS {
                if let Some(v) = stats.get(stat) {
                    out.push((*id, *stat, v));
                }
            }
        }
    }
    let seconds = (slice.end_ns - slice.start_ns) as f64 / 1e9;
    out.push((MetricId::RequestCount, "avg", slice.completed as f64));
    out.push((MetricId::ErrorRequestCount, "avg", slice.errors as f64));
    out.push((
        MetricId::RequestThroughput,
        "avg",
        slice.completed as f64 / seconds,
    ));
    out.push((
        MetricId::OutputTokenThroughput,
        "avg",
        slice.output_tokens / seconds,
    ));
    out
}

/// Writes `profile_export_aiperf_timeslices.csv` and `.json` into `dir` from its records.
/// Returns a warning instead when there is nothing to slice or too much.
pub fn write(dir: &Path, slice_seconds: f64) -> Result<Result<(), String>, std::io::Error> {
    let jsonl = dir.join(crate::artifacts::names::PROFILE_EXPORT_JSONL);
    let slices = match build(&jsonl, slice_seconds) {
        Ok(slices) => slices,
        Err(warning) => return Ok(Err(warning)),
    };
    let mut csv = CsvText::new();
    csv.row([
        "Timeslice",
        "Start_NS",
        "End_NS",
        "Metric",
        "Unit",
        "Stat",
        "Value",
    ]);
    let mut json_slices = Vec::new();
    for (i, slice) in slices.iter().enumerate() {
        let mut metrics = Map::new();
        for (id, stat, value) in values(slice) {
            let def = id.def();
            csv.row([
                i.to_string(),
                slice.start_ns.to_string(),
                slice.end_ns.to_string(),
                def.header.to_string(),
                def.unit.as_str().to_string(),
                stat.to_string(),
                format!("{value:.6}"),
            ]);
            let entry = metrics
                .entry(def.tag)
                .or_insert_with(|| json!({"unit": def.unit.as_str()}));
            entry[stat] = json!(value);
        }
        json_slices.push(json!({
            "timeslice_index": i,
            "start_ns": slice.start_ns,
            "end_ns": slice.end_ns,
            "metrics": metrics,
        }));
    }
    crate::artifacts::io::write_atomic(&dir.join(TIMESLICES_CSV), csv.finish().as_bytes())?;
    let doc = json!({
        "slice_duration_seconds": slice_seconds,
        "num_timeslices": slices.len(),
        "timeslices": json_slices,
    });
    crate::artifacts::io::write_atomic(
        &dir.join(TIMESLICES_JSON),
        &crate::artifacts::io::to_pretty_json(&doc),
    )?;
    Ok(Ok(()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    #[test]
    fn a_request_belongs_to_the_slice_it_was_sent_in() {
        let s = 1_000_000_000; // 1 s slices from t0 = 5 s
        let t0 = 5 * s;
        assert_eq!(slice_of(t0, s, t0), 0);
        assert_eq!(
            slice_of(t0, s, t0 + s - 1),
            0,
            "sent just before the boundary"
        );
        assert_eq!(
            slice_of(t0, s, t0 + s),
            1,
            "sent on the boundary: the next slice"
        );
        assert_eq!(slice_of(t0, s, t0 + 7 * s / 2), 3);
        assert_eq!(slice_of(t0, s, t0 - 1), 0, "never before the first");
        assert_eq!(
            slice_of(t0, 0, t0 + 3),
            3,
            "a zero slice cannot divide by zero"
        );
    }

    #[test]
    fn requests_crossing_a_boundary_count_once_where_they_started() {
        let dir = tempfile::tempdir().unwrap();
        let line = |start_ms: u64, end_ms: u64, ttft: f64| {
            format!(
                r#"{{"metadata":{{"request_start_ns":{},"request_end_ns":{},"phase_kind":"profiling","was_cancelled":false}},"metrics":{{"time_to_first_token":{{"value":{ttft},"unit":"ms"}},"output_sequence_length":{{"value":10,"unit":"tokens"}}}},"error":null}}"#,
                start_ms * 1_000_000,
                end_ms * 1_000_000
            )
        };
        // 100 ms slices from 1000 ms: two requests in slice 0 (one running into slice 2),
        // one in slice 1, one failed in slice 2.
        let lines = [
            line(1000, 1050, 10.0),
            line(1090, 1250, 30.0),
            line(1100, 1150, 20.0),
            r#"{"metadata":{"request_start_ns":1210000000,"request_end_ns":1260000000,"phase_kind":"profiling"},"metrics":{},"error":{"code":500,"type":"http_status","message":"x"}}"#.to_string(),
            r#"{"metadata":{"request_start_ns":1,"phase_kind":"warmup"},"metrics":{}}"#.to_string(),
        ];
        std::fs::write(
            dir.path().join("profile_export.jsonl"),
            lines.join("\n") + "\n",
        )
        .unwrap();
        write(dir.path(), 0.1).unwrap().unwrap();
        let doc: Value = serde_json::from_str(
            &std::fs::read_to_string(dir.path().join(TIMESLICES_JSON)).unwrap(),
        )
        .unwrap();
        let slices = doc["timeslices"].as_array().unwrap();
        assert_eq!(slices.len(), 3, "the warmup line is not sliced");
        let ttft = |i: usize| &slices[i]["metrics"]["time_to_first_token"];
        assert_eq!(
            (ttft(0)["avg"].as_f64(), ttft(0)["max"].as_f64()),
            (Some(20.0), Some(30.0))
        );
        assert_eq!(ttft(1)["avg"], 20.0);
        assert!(ttft(2).is_null(), "slice 2 has only the failed request");
        assert_eq!(slices[2]["metrics"]["error_request_count"]["avg"], 1.0);
        // Slice 0 is 100 ms long with 2 completed requests: 20 req/s; the last ends at 1260 ms.
        assert_eq!(slices[0]["metrics"]["request_throughput"]["avg"], 20.0);
        assert_eq!(slices[2]["end_ns"], 1_260_000_000u64);
        let csv = std::fs::read_to_string(dir.path().join(TIMESLICES_CSV)).unwrap();
        assert!(csv.starts_with("Timeslice,Start_NS,End_NS,Metric,Unit,Stat,Value\n"));
        assert!(
            csv.contains("\n0,1000000000,1100000000,Time to First Token,ms,avg,20.000000\n"),
            "{csv}"
        );
    }

    #[test]
    fn too_many_slices_or_no_records_is_a_warning_not_an_error() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("profile_export.jsonl"), "").unwrap();
        assert!(write(dir.path(), 1.0).unwrap().is_err());
        std::fs::write(
            dir.path().join("profile_export.jsonl"),
            r#"{"metadata":{"request_start_ns":0,"request_end_ns":1000000000000,"phase_kind":"profiling"},"metrics":{}}"#,
        )
        .unwrap();
        let warning = write(dir.path(), 0.001).unwrap().unwrap_err();
        assert!(warning.contains("at most 100000"), "{warning}");
    }
}
