//! `profile_export_aiperf.csv`, in AIPerf's layout: a table of per-request metrics
//! (`Metric,avg,min,max,sum,p1,...,p99,std`), a blank line, then `Metric,Value` for run-level
//! metrics. Rows are sorted by their label; numbers have two decimals.

use crate::metrics::{MetricId, RunSummary};
use crate::registry::label;

const RECORD_HEADER: [&str; 15] = [
    "Metric", "avg", "min", "max", "sum", "p1", "p5", "p10", "p25", "p50", "p75", "p90", "p95",
    "p99", "std",
];

fn fmt(v: f64) -> String {
    if v.is_finite() {
        format!("{v:.2}")
    } else {
        String::new()
    }
}

/// Renders the CSV.
pub fn export_csv(summary: &RunSummary) -> Result<Vec<u8>, csv::Error> {
    let mut out = csv::WriterBuilder::new()
        .flexible(true)
        .from_writer(Vec::new());
    out.write_record(RECORD_HEADER)?;
    let mut rows: Vec<(String, Vec<String>)> = summary
        .records
        .iter()
        .map(|(id, s)| {
            let p = |key: &str| fmt(s.percentile(key).unwrap_or(f64::NAN));
            let cells = vec![
                fmt(s.avg),
                fmt(s.min),
                fmt(s.max),
                fmt(s.sum),
                p("p1"),
                p("p5"),
                p("p10"),
                p("p25"),
                p("p50"),
                p("p75"),
                p("p90"),
                p("p95"),
                p("p99"),
                fmt(s.std),
            ];
            (label(id.def()), cells)
        })
        .collect();
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    for (name, cells) in rows {
        out.write_record(std::iter::once(name).chain(cells))?;
    }
    // A blank line separates the sections (a csv record of one empty field would be `""`).
    let mut bytes = out
        .into_inner()
        .map_err(|e| csv::Error::from(e.into_error()))?;
    bytes.push(b'\n');
    let mut out = csv::WriterBuilder::new().from_writer(bytes);
    out.write_record(["Metric", "Value"])?;
    let mut scalars: Vec<(String, String)> = summary
        .scalars
        .iter()
        .map(|(id, v)| (scalar_label(*id), fmt(*v)))
        .collect();
    scalars.sort();
    for (name, value) in scalars {
        out.write_record([name, value])?;
    }
    out.into_inner()
        .map_err(|e| csv::Error::from(e.into_error()))
}

/// Scalar labels: counts of requests carry no unit suffix, as in AIPerf's file.
fn scalar_label(id: MetricId) -> String {
    let def = id.def();
    match id {
        MetricId::CompletedRequestCount
        | MetricId::RequestCount
        | MetricId::ErrorRequestCount
        | MetricId::CancelledRequestCount
        | MetricId::GoodRequestCount
        | MetricId::OslMismatchCount
        | MetricId::UsageDiscrepancyCount => def.header.to_string(),
        _ => label(def),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::RunAccumulator;
    use crate::metrics::record_metrics::{Observation, compute};

    #[test]
    fn layout_matches_aiperf() {
        let mut acc = RunAccumulator::new(&Default::default());
        let obs = Observation {
            sent_ns: 0,
            end_ns: 40_000_000,
            streamed: true,
            text_events: vec![(10_000_000, true), (20_000_000, true), (40_000_000, true)],
            input_tokens: 100,
            output_tokens: Some((3, 0)),
            ..Observation::default()
        };
        acc.add_success(&compute(&obs), 0, 40_000_000);
        let text = String::from_utf8(export_csv(&acc.summarize()).unwrap()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "Metric,avg,min,max,sum,p1,p5,p10,p25,p50,p75,p90,p95,p99,std"
        );
        assert!(lines.contains(&"Request Latency (ms),40.00,40.00,40.00,40.00,40.00,40.00,40.00,40.00,40.00,40.00,40.00,40.00,40.00,0.00"));
        let blank = lines.iter().position(|l| l.is_empty()).unwrap();
        assert_eq!(lines[blank + 1], "Metric,Value");
        assert!(lines.contains(&"Request Count,1.00"));
        assert!(lines.contains(&"Benchmark Duration (sec),0.04"));
        let labels: Vec<&str> = lines[1..blank]
            .iter()
            .map(|l| l.split(',').next().unwrap())
            .collect();
        let mut sorted = labels.clone();
        sorted.sort();
        assert_eq!(labels, sorted);
    }
}
