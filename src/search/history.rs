//! How a search's verdicts and constraints are stored in `search_history.json` (the file's types
//! are `crate::artifacts::search_history`).

use super::verdict::{Breach, Sla, Verdict};
use crate::artifacts::search_history::{BreachRecord, SlaFilter};

pub use crate::artifacts::search_history::{Iteration, SearchHistory};

/// A breach as stored in the history.
pub fn breach_record(breach: &Option<Breach>) -> Option<BreachRecord> {
    breach.as_ref().map(|b| BreachRecord {
        metric: b.sla.metric.clone(),
        stat: b.sla.stat.clone(),
        op: b.sla.op,
        threshold: b.sla.threshold,
        observed: Some(b.observed).filter(|v| v.is_finite()),
    })
}

/// The constraints as stored in the history.
pub fn sla_filters(slas: &[Sla]) -> Vec<SlaFilter> {
    slas.iter()
        .map(|s| SlaFilter {
            metric: s.metric.clone(),
            stat: s.stat.clone(),
            op: s.op,
            threshold: s.threshold,
        })
        .collect()
}

/// Whether a verdict is feasible.
pub fn feasible(v: Verdict) -> bool {
    v == Verdict::Pass
}
