//! The console results: AIPerf's metrics table (avg, min, max, p99, p90, p50, std), the error
//! summary when there are errors, and warnings that change how to read the numbers.

use crate::metrics::{RunSummary, Stats};
use crate::registry::{CONSOLE_METRICS, label};
use comfy_table::{Cell, CellAlignment, ContentArrangement, Table, presets::UTF8_FULL_CONDENSED};

/// Formats a number with thousands separators and two decimals ("12,345.68").
pub fn fmt_number(v: f64) -> String {
    if !v.is_finite() {
        return "N/A".into();
    }
    let text = format!("{:.2}", v.abs());
    let (int, frac) = text.split_once('.').unwrap_or((&text, "00"));
    let mut grouped = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    format!("{}{grouped}.{frac}", if v < 0.0 { "-" } else { "" })
}

fn stat_cells(s: &Stats) -> Vec<String> {
    let p = |k: &str| fmt_number(s.percentile(k).unwrap_or(f64::NAN));
    vec![
        fmt_number(s.avg),
        fmt_number(s.min),
        fmt_number(s.max),
        p("p99"),
        p("p90"),
        p("p50"),
        fmt_number(s.std),
    ]
}

/// The metrics table.
pub fn metrics_table(summary: &RunSummary, title: &str) -> String {
    let mut table = Table::new();
    table
        .load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Disabled);
    table.set_header(["Metric", "avg", "min", "max", "p99", "p90", "p50", "std"]);
    for &id in CONSOLE_METRICS {
        let cells = if let Some(s) = summary.records.get(&id) {
            stat_cells(s)
        } else if let Some(&v) = summary.scalars.get(&id) {
            if id == crate::metrics::MetricId::CancelledRequestCount && v == 0.0 {
                continue;
            }
            let mut cells = vec![fmt_number(v)];
            cells.extend(std::iter::repeat_n("N/A".to_string(), 6));
            cells
        } else {
            continue;
        };
        let mut row = vec![Cell::new(label(id.def()))];
        row.extend(
            cells
                .into_iter()
                .map(|c| Cell::new(c).set_alignment(CellAlignment::Right)),
        );
        table.add_row(row);
    }
    format!("{title}\n{table}")
}

/// The error summary table, or `None` when there were no errors.
pub fn error_table(summary: &RunSummary) -> Option<String> {
    if summary.error_groups.is_empty() {
        return None;
    }
    let mut table = Table::new();
    table
        .load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_width(120);
    table.set_header(["Code", "Type", "Message", "Count"]);
    for g in summary.error_groups.iter().take(20) {
        table.add_row(vec![
            Cell::new(g.code.map(|c| c.to_string()).unwrap_or_else(|| "-".into())),
            Cell::new(g.kind),
            Cell::new(&g.message),
            Cell::new(g.count).set_alignment(CellAlignment::Right),
        ]);
    }
    let more = summary.error_groups.len().saturating_sub(20);
    let tail = if more > 0 {
        format!("\n... and {more} more kinds of error (see error_summary in the JSON export)")
    } else {
        String::new()
    };
    Some(format!(
        "Errors ({} of {} requests)\n{table}{tail}",
        summary.errors,
        summary.sent()
    ))
}

#[cfg(test)]
mod tests {
    #[test]
    fn numbers_are_grouped() {
        assert_eq!(super::fmt_number(1234567.891), "1,234,567.89");
        assert_eq!(super::fmt_number(-12.5), "-12.50");
        assert_eq!(super::fmt_number(999.999), "1,000.00");
        assert_eq!(super::fmt_number(f64::NAN), "N/A");
    }
}
