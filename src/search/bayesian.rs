//! The Bayesian-optimisation planner: Efficient Global Optimisation with egobox. A Gaussian
//! process (Matérn 5/2) models the objective and one more models each SLA constraint; the next
//! point maximises log expected improvement among points the constraint models predict feasible.
//!
//! It starts from a space-filling design (a centred Latin hypercube in the unit cube, so log
//! knobs are spread evenly in their logarithm) and then proposes one point at a time from every
//! point measured so far (ask/tell). egobox has no noise model, so the observation of a point is
//! the mean over its runs, and constraints are told as margins relative to their thresholds
//! (`(observed − threshold) / |threshold|`, ≤ 0 holds) so that every model sees numbers of the
//! same scale. Unmeasurable points (every run failed) are told as clearly worse than anything
//! seen and as breaking every constraint, as the reference does with its sentinels.
//!
//! It stops at the iteration budget, when the best feasible objective has not improved for
//! `patience` points, when the last `plateau_window` objectives vary by less than
//! `plateau_threshold` (coefficient of variation), or when the surrogate proposes a point that
//! was already measured (integer knobs resolved to one step).

use super::space::Dim;
use egobox_doe::{Lhs, LhsKind, SamplingMethod};
use egobox_ego::{CorrelationSpec, EgorServiceBuilder, InfillStrategy, RegressionSpec};
use ndarray::Array2;
use rand_xoshiro::Xoshiro256Plus;
use rand_xoshiro::rand_core::SeedableRng;

/// Planner settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BayesianSettings {
    /// Most points measured.
    pub max_iterations: u32,
    /// Points of the initial space-filling design.
    pub initial_points: u32,
    /// Stop after this many points without a better feasible objective.
    pub patience: u32,
    /// Points in the plateau window.
    pub plateau_window: u32,
    /// Stop when the window's objectives have a coefficient of variation below this.
    pub plateau_threshold: f64,
    /// Seed of the design and of the infill optimisation.
    pub seed: u64,
    /// Whether larger objective values are better.
    pub maximize: bool,
}

/// What was measured at a point.
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    /// Mean objective over the point's successful runs; `None` when unmeasurable.
    pub objective: Option<f64>,
    /// Per constraint, the mean margin relative to the threshold (≤ 0 holds); `None` when the
    /// statistic could not be measured.
    pub margins: Vec<Option<f64>>,
    /// The verdict: every constraint held.
    pub feasible: bool,
}

/// What the planner wants next.
#[derive(Debug, Clone, PartialEq)]
pub enum Proposal {
    /// Measure the knobs at these values (one per dimension).
    Measure(Vec<f64>),
    /// The search is over, for this reason.
    Done(&'static str),
}

/// The planner.
pub struct BayesianPlanner {
    dims: Vec<Dim>,
    constraints: usize,
    settings: BayesianSettings,
    design: Vec<Vec<f64>>,
    seen: Vec<(Vec<f64>, Observation)>,
    pending: Option<Vec<f64>>,
}

impl BayesianPlanner {
    /// A planner at the start of a search over `dims` with `constraints` SLA constraints.
    pub fn new(dims: Vec<Dim>, constraints: usize, settings: BayesianSettings) -> Self {
        let design = initial_design(&dims, settings.initial_points as usize, settings.seed);
        Self {
            dims,
            constraints,
            settings,
            design,
            seen: Vec::new(),
            pending: None,
        }
    }

    /// The next point, or why the search is over.
    pub fn ask(&mut self) -> Proposal {
        if let Some(p) = &self.pending {
            return Proposal::Measure(p.clone());
        }
        if self.seen.len() >= self.settings.max_iterations as usize {
            return Proposal::Done("max_iterations");
        }
        let next = match self.design.iter().find(|p| !self.measured(p)) {
            Some(p) => p.clone(),
            None => {
                if let Some(reason) = self.converged() {
                    return Proposal::Done(reason);
                }
                match self.suggest() {
                    Ok(p) if !self.measured(&p) => p,
                    Ok(_) => match self.refine_boundary() {
                        Some(p) => p,
                        None => return Proposal::Done("converged"),
                    },
                    Err(e) => {
                        tracing::warn!("bayesian planner: {e}");
                        return Proposal::Done("surrogate_failed");
                    }
                }
            }
        };
        self.pending = Some(next.clone());
        Proposal::Measure(next)
    }

    /// What was measured at the pending point.
    pub fn tell(&mut self, point: Vec<f64>, observation: Observation) {
        self.pending = None;
        self.seen.push((point, observation));
    }

    fn measured(&self, p: &[f64]) -> bool {
        self.seen.iter().any(|(q, _)| q.as_slice() == p)
    }

    /// When the surrogate proposes a point already measured, the search has not necessarily
    /// converged: a constraint whose margin saturates on the feasible side (a fraction of good
    /// requests stuck at 1.0) makes the constraint model place the boundary right next to the
    /// last feasible point. The best feasible point then sits on an unresolved boundary, so
    /// bisect (in the unit cube) towards the nearest infeasible point. `None` once that midpoint
    /// is itself measured, or the two points are within 1% of the cube: the boundary is resolved
    /// to the knobs' resolution.
    fn refine_boundary(&self) -> Option<Vec<f64>> {
        let unit = |p: &[f64]| -> Vec<f64> {
            self.dims
                .iter()
                .zip(p)
                .map(|(d, x)| d.to_unit(*x))
                .collect()
        };
        let best = self
            .seen
            .iter()
            .filter(|(_, o)| o.feasible)
            .filter_map(|(p, o)| Some((p, self.loss(o.objective?))))
            .min_by(|a, b| a.1.total_cmp(&b.1))?
            .0;
        let b = unit(best);
        let distance = |p: &[f64]| -> f64 {
            unit(p)
                .iter()
                .zip(&b)
                .map(|(x, y)| (x - y).powi(2))
                .sum::<f64>()
        };
        let nearest = self
            .seen
            .iter()
            .filter(|(_, o)| !o.feasible)
            .map(|(p, _)| p)
            .min_by(|x, y| distance(x).total_cmp(&distance(y)))?;
        // Real knobs never round onto a measured point: stop within 1% of the unit cube.
        if distance(nearest).sqrt() < 0.01 {
            return None;
        }
        let mid: Vec<f64> = self
            .dims
            .iter()
            .zip(b.iter().zip(unit(nearest)))
            .map(|(d, (u, v))| d.from_unit((u + v) / 2.0))
            .collect();
        (!self.measured(&mid)).then_some(mid)
    }

    /// The objective as a value to minimise.
    fn loss(&self, objective: f64) -> f64 {
        if self.settings.maximize {
            -objective
        } else {
            objective
        }
    }

    /// Patience or plateau, once the initial design is measured.
    fn converged(&self) -> Option<&'static str> {
        let s = &self.settings;
        let mut best = f64::INFINITY;
        let mut since = 0u32;
        for (_, o) in &self.seen {
            match o.objective.filter(|_| o.feasible).map(|v| self.loss(v)) {
                Some(l) if l < best - 1e-9 * best.abs().max(1.0) => {
                    best = l;
                    since = 0;
                }
                _ => since += 1,
            }
        }
        if best.is_finite() && since >= s.patience {
            return Some("improvement_patience");
        }
        let window = s.plateau_window as usize;
        if window >= 2 && self.seen.len() >= window {
            let last: Vec<f64> = self.seen[self.seen.len() - window..]
                .iter()
                .filter_map(|(_, o)| o.objective)
                .collect();
            if last.len() == window {
                let mean = last.iter().sum::<f64>() / window as f64;
                let var =
                    last.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (window as f64 - 1.0);
                if mean.abs() > 1e-12 && var.sqrt() / mean.abs() < s.plateau_threshold {
                    return Some("plateau");
                }
            }
        }
        None
    }

    /// The surrogate's next point, from every point measured so far.
    fn suggest(&self) -> Result<Vec<f64>, String> {
        let n = self.seen.len();
        let d = self.dims.len();
        let losses: Vec<f64> = self
            .seen
            .iter()
            .filter_map(|(_, o)| o.objective.map(|v| self.loss(v)))
            .collect();
        // Failed points: worse than the worst seen by a tenth of its size (at least 1).
        let worst = losses.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let failed_loss = if worst.is_finite() {
            worst + (0.1 * worst.abs()).max(1.0)
        } else {
            1.0
        };
        let worst_margin = self
            .seen
            .iter()
            .flat_map(|(_, o)| o.margins.iter().flatten().copied())
            .fold(0.0f64, f64::max);
        let mut x = Array2::<f64>::zeros((n, d));
        let mut y = Array2::<f64>::zeros((n, 1 + self.constraints));
        for (i, (p, o)) in self.seen.iter().enumerate() {
            for (j, dim) in self.dims.iter().enumerate() {
                x[[i, j]] = dim.to_unit(p[j]);
            }
            y[[i, 0]] = o.objective.map_or(failed_loss, |v| self.loss(v));
            for c in 0..self.constraints {
                y[[i, 1 + c]] = o
                    .margins
                    .get(c)
                    .copied()
                    .flatten()
                    .unwrap_or(worst_margin + 1.0);
            }
        }
        let mut limits = Array2::<f64>::zeros((d, 2));
        limits.column_mut(1).fill(1.0);
        let seed = self.settings.seed.wrapping_add(n as u64);
        let egor = EgorServiceBuilder::optimize()
            .configure(|c| {
                c.n_cstr(self.constraints)
                    .configure_gp(|gp| {
                        gp.regression_spec(RegressionSpec::CONSTANT)
                            .correlation_spec(CorrelationSpec::MATERN52)
                    })
                    .infill_strategy(InfillStrategy::LogEI)
                    .seed(seed)
            })
            .min_within(&limits)
            .map_err(|e| e.to_string())?;
        // egobox panics on degenerate data in some corners; a failed suggestion ends the search
        // with a reason instead of taking the benchmark down.
        let suggested =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| egor.suggest(&x, &y)))
                .map_err(|_| "the surrogate model could not be fitted".to_string())?;
        let row = suggested.row(0);
        if row.len() != d || row.iter().any(|v| !v.is_finite()) {
            return Err("the surrogate proposed no valid point".into());
        }
        Ok(self
            .dims
            .iter()
            .zip(row.iter())
            .map(|(dim, u)| dim.from_unit(*u))
            .collect())
    }
}

/// A centred Latin hypercube of `n` points, mapped to knob values, duplicates (after integer
/// rounding) removed. One dimension gets the midpoints of `n` equal strata.
fn initial_design(dims: &[Dim], n: usize, seed: u64) -> Vec<Vec<f64>> {
    if n == 0 || dims.is_empty() {
        return vec![];
    }
    let unit = Array2::from_shape_fn((dims.len(), 2), |(_, j)| j as f64);
    let sample = Lhs::new(&unit)
        .kind(LhsKind::CenteredMaximin)
        .with_rng(Xoshiro256Plus::seed_from_u64(seed))
        .sample(n);
    let mut out: Vec<Vec<f64>> = Vec::new();
    for row in sample.rows() {
        let p: Vec<f64> = dims
            .iter()
            .zip(row.iter())
            .map(|(dim, u)| dim.from_unit(*u))
            .collect();
        if !out.contains(&p) {
            out.push(p);
        }
    }
    // Keep a one-dimensional design in knob order, so the log reads as a sweep.
    if dims.len() == 1 {
        out.sort_by(|a, b| a[0].total_cmp(&b[0]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn concurrency(lo: f64, hi: f64) -> Dim {
        Dim {
            path: "phases.profiling.concurrency".into(),
            leaf: "concurrency".into(),
            lo,
            hi,
            integer: true,
            log: true,
        }
    }

    fn settings(max_iterations: u32) -> BayesianSettings {
        BayesianSettings {
            max_iterations,
            initial_points: 5,
            patience: 10,
            plateau_window: 8,
            plateau_threshold: 0.01,
            seed: 7,
            maximize: true,
        }
    }

    /// The mock's shape: throughput grows with concurrency up to the slots, TTFT jumps above them.
    fn oracle(c: f64, slots: f64) -> Observation {
        let throughput = 100.0 * c.min(slots);
        let ttft = if c <= slots {
            10.0
        } else {
            10.0 + 90.0 * (c / slots)
        };
        let margin = (ttft - 50.0) / 50.0;
        Observation {
            objective: Some(throughput),
            margins: vec![Some(margin)],
            feasible: margin < 0.0,
        }
    }

    /// Goodput's shape: the fraction of good requests is 1 up to the slots and falls as
    /// slots / c above them; the constraint asks for 0.97, so its margin saturates below.
    fn goodput_oracle(c: f64, slots: f64, noise: u64) -> Observation {
        let good = (slots / c).min(1.0);
        let margin = (0.97 - good) / 0.97;
        // A few percent of deterministic measurement noise, different for every value and seed.
        let jitter = ((c as u64 * 2654435761 + noise * 40503) % 1000) as f64 / 1000.0 - 0.5;
        Observation {
            objective: Some(10.0 * c.min(slots) * good * (1.0 + 0.08 * jitter)),
            margins: vec![Some(margin)],
            feasible: margin <= 0.0,
        }
    }

    fn run(
        planner: &mut BayesianPlanner,
        oracle: impl Fn(f64) -> Observation,
    ) -> (Vec<f64>, &'static str) {
        let mut asked = Vec::new();
        loop {
            match planner.ask() {
                Proposal::Measure(p) => {
                    asked.push(p[0]);
                    planner.tell(p.clone(), oracle(p[0]));
                }
                Proposal::Done(reason) => return (asked, reason),
            }
        }
    }

    #[test]
    fn a_saturated_constraint_does_not_stop_the_search_short_of_the_boundary() {
        for seed in 0..12 {
            let mut s = settings(12);
            s.seed = seed;
            let mut planner = BayesianPlanner::new(vec![concurrency(1.0, 64.0)], 1, s);
            let (asked, _) = run(&mut planner, |c| goodput_oracle(c, 12.0, seed));
            let best = asked
                .iter()
                .copied()
                .filter(|c| goodput_oracle(*c, 12.0, seed).feasible)
                .fold(0.0, f64::max);
            assert_eq!(best, 12.0, "seed {seed}: {asked:?}");
        }
    }

    #[test]
    fn the_initial_design_spreads_over_the_logarithm() {
        let design = initial_design(&[concurrency(1.0, 1000.0)], 5, 1);
        let values: Vec<f64> = design.iter().map(|p| p[0]).collect();
        // Midpoints of five equal strata of log10 in [0, 3]: 10^0.3, 10^0.9, ...
        assert_eq!(values, [2.0, 8.0, 32.0, 126.0, 501.0]);
    }

    #[test]
    fn finds_the_best_feasible_concurrency_on_a_cliff() {
        let mut planner = BayesianPlanner::new(vec![concurrency(1.0, 64.0)], 1, settings(14));
        let (asked, _) = run(&mut planner, |c| oracle(c, 12.0));
        let best = asked
            .iter()
            .copied()
            .filter(|c| oracle(*c, 12.0).feasible)
            .fold(0.0, f64::max);
        assert!((11.0..=12.0).contains(&best), "best {best} from {asked:?}");
        assert!(asked.len() <= 14, "{asked:?}");
    }

    #[test]
    fn real_log_knobs_converge_near_the_boundary() {
        let rate = Dim {
            path: "phases.profiling.rate".into(),
            leaf: "rate".into(),
            lo: 0.5,
            hi: 50.0,
            integer: false,
            log: true,
        };
        let mut planner = BayesianPlanner::new(vec![rate], 1, settings(30));
        let observe = |x: f64| {
            let margin = (x - 7.3) / 7.3;
            Observation {
                objective: Some(x),
                margins: vec![Some(margin)],
                feasible: margin <= 0.0,
            }
        };
        let (asked, reason) = run(&mut planner, observe);
        let best = asked
            .iter()
            .copied()
            .filter(|x| *x <= 7.3)
            .fold(0.0, f64::max);
        assert!(best > 7.3 * 0.95, "best {best} from {asked:?}");
        assert_ne!(reason, "max_iterations", "{asked:?}");
    }

    #[test]
    fn the_budget_and_failed_points_are_respected() {
        let mut planner = BayesianPlanner::new(vec![concurrency(1.0, 64.0)], 1, settings(6));
        let mut n = 0;
        while let Proposal::Measure(p) = planner.ask() {
            n += 1;
            // Every point fails to measure: the planner keeps going on sentinels.
            planner.tell(
                p,
                Observation {
                    objective: None,
                    margins: vec![None],
                    feasible: false,
                },
            );
        }
        assert_eq!(n, 6);
        assert_eq!(planner.ask(), Proposal::Done("max_iterations"));
    }

    #[test]
    fn a_pending_point_is_asked_again_until_told() {
        let mut planner = BayesianPlanner::new(vec![concurrency(1.0, 64.0)], 0, settings(10));
        let first = planner.ask();
        assert_eq!(planner.ask(), first);
    }
}
