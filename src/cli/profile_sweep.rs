//! `aiperf profile`'s comma lists and repeated-run flags turned into the [`Experiment`] an
//! experiment file would describe: lists become a `grid` (or `zip`) sweep of the bare parameter
//! names a file uses (`concurrency`, `rate`, `isl`, ...), `--num-profile-runs` and its
//! companions become `multi_run`. The flags and the file then share one plan, so directories,
//! aggregates, plots and uploads are the same (tests/profile_sweep.rs compares the two).

use super::profile::{FlagSweepType, ProfileArgs};
use crate::spec::experiment::{ConvergenceSpec, Experiment, MultiRunSpec, SweepSpec, SweepType};
use crate::support::problem::Problems;
use serde_json::{Map, Value};

/// The most runs `--num-profile-runs` takes (AIPerf's bound).
pub const MAX_PROFILE_RUNS: u32 = 10;

/// One flag given a comma list of two or more values: the sweep parameter it becomes.
struct Listed {
    /// The flag as the user wrote it, for messages.
    flag: &'static str,
    /// The parameter name an experiment file would use.
    parameter: &'static str,
    /// Its values.
    values: Vec<Value>,
}

fn numbers<T: Copy + Into<f64>>(values: &[T]) -> Vec<Value> {
    values.iter().map(|v| number((*v).into())).collect()
}

/// A JSON number as a file would write it: `8`, not `8.0`, for whole values.
fn number(v: f64) -> Value {
    if v.fract() == 0.0 && v.abs() < 9.0e15 {
        Value::from(v as i64)
    } else {
        Value::from(v)
    }
}

impl ProfileArgs {
    /// The flags given two or more values, sorted by the path they set (AIPerf sorts grid keys
    /// for a stable order), as sweep parameters.
    fn listed(&self) -> Vec<Listed> {
        let stddev_fixed = |list: &[f64]| list.len() <= 1 && list.iter().all(|s| *s == 0.0);
        // A swept mean keeps a set standard deviation: `isl.mean` changes only the mean, while
        // the bare `isl` (what a file writes for fixed lengths) sets the whole distribution.
        let isl = if stddev_fixed(&self.synthetic_input_tokens_stddev) {
            "isl"
        } else {
            "isl.mean"
        };
        let osl = if stddev_fixed(&self.output_tokens_stddev) {
            "osl"
        } else {
            "osl.mean"
        };
        let counts: Vec<Value> = self.request_count.iter().map(|n| Value::from(*n)).collect();
        let all = [
            ("--concurrency", "concurrency", numbers(&self.concurrency)),
            (
                "--prefill-concurrency",
                "prefill_concurrency",
                numbers(&self.prefill_concurrency),
            ),
            ("--request-rate", "rate", numbers(&self.request_rate)),
            ("--request-count", "requests", counts),
            (
                "--benchmark-duration",
                "duration",
                numbers(&self.benchmark_duration),
            ),
            ("--isl", isl, numbers(&self.synthetic_input_tokens_mean)),
            (
                "--isl-stddev",
                "isl.stddev",
                numbers(&self.synthetic_input_tokens_stddev),
            ),
            ("--osl", osl, numbers(&self.output_tokens_mean)),
            (
                "--osl-stddev",
                "osl.stddev",
                numbers(&self.output_tokens_stddev),
            ),
        ];
        let mut listed: Vec<Listed> = all
            .into_iter()
            .filter(|(_, _, values)| values.len() > 1)
            .map(|(flag, parameter, values)| Listed {
                flag,
                parameter,
                values,
            })
            .collect();
        listed.sort_by_key(|l| crate::spec::paths::canonical_path(l.parameter));
        listed
    }

    /// The experiment these flags describe: the benchmark, plus a sweep for comma lists or
    /// `--search-recipe`, plus repeated runs. A single run has neither.
    pub fn to_experiment(&self) -> Result<Experiment, Problems> {
        let mut problems = Vec::new();
        let benchmark = self.to_spec().map_err(|p| {
            problems.extend(p.0);
        });
        let listed = self.listed();
        let sweep = match (self.recipe_sweep(), listed.is_empty()) {
            (Some(_), false) => {
                let flags: Vec<&str> = listed.iter().map(|l| l.flag).collect();
                problems.push(format!(
                    "comma lists ({}) and --search-recipe both choose the points to measure; use one of them",
                    flags.join(", ")
                ));
                None
            }
            (Some(recipe), true) => Some(recipe),
            (None, false) => Some(list_sweep(self, &listed)),
            (None, true) => None,
        };
        if listed.is_empty() {
            for (flag, set) in [
                ("--sweep-type", self.sweep_type.is_some()),
                (
                    "--parameter-sweep-mode",
                    self.parameter_sweep_mode.is_some(),
                ),
                (
                    "--parameter-sweep-cooldown-seconds",
                    self.parameter_sweep_cooldown_seconds.is_some(),
                ),
            ] {
                if set {
                    problems.push(format!(
                        "{flag} applies to a sweep: give a flag a comma list, e.g. --concurrency 10,20,30"
                    ));
                }
            }
        }
        if let Some(c) = self.parameter_sweep_cooldown_seconds
            && let Some(m) =
                crate::spec::validate::check_seconds("--parameter-sweep-cooldown-seconds", c, false)
        {
            problems.push(m);
        }
        let multi_run = self.multi_run(&mut problems);
        match benchmark {
            Ok(benchmark) if problems.is_empty() => Ok(Experiment {
                schema_version: None,
                benchmark,
                sweep,
                multi_run,
                variables: Default::default(),
                random_seed: None,
                compare: None,
            }),
            _ => Err(Problems(problems)),
        }
    }

    /// `multi_run` from `--num-profile-runs` and its companions, which need two or more runs.
    fn multi_run(&self, problems: &mut Vec<String>) -> MultiRunSpec {
        let mut multi_run = MultiRunSpec::default();
        let runs = self.num_profile_runs.unwrap_or(1);
        if !(1..=MAX_PROFILE_RUNS).contains(&runs) {
            problems.push(format!(
                "--num-profile-runs must be from 1 to {MAX_PROFILE_RUNS}, got {runs}"
            ));
        }
        multi_run.num_runs = runs.clamp(1, MAX_PROFILE_RUNS);
        let needs_runs = [
            (
                "--profile-run-cooldown-seconds",
                self.profile_run_cooldown_seconds.is_some(),
            ),
            ("--confidence-level", self.confidence_level.is_some()),
            ("--convergence-metric", self.convergence_metric.is_some()),
        ];
        for (flag, set) in needs_runs {
            if set && runs < 2 {
                problems.push(format!(
                    "{flag} applies to repeated runs: add --num-profile-runs N (2 to {MAX_PROFILE_RUNS})"
                ));
            }
        }
        if let Some(c) = self.profile_run_cooldown_seconds {
            match crate::spec::validate::check_seconds("--profile-run-cooldown-seconds", c, false) {
                Some(m) => problems.push(m),
                None => multi_run.cooldown_seconds = c,
            }
        }
        if let Some(level) = self.confidence_level {
            if level > 0.0 && level < 1.0 {
                multi_run.confidence_level = level;
            } else {
                problems.push(format!(
                    "--confidence-level must be between 0 and 1 (exclusive), e.g. 0.95, got {level}"
                ));
            }
        }
        if let Some(order) = self.parameter_sweep_mode {
            multi_run.iteration_order = order;
        }
        if let Some(metric) = &self.convergence_metric {
            match self.convergence_threshold {
                Some(threshold) => {
                    multi_run.convergence = Some(ConvergenceSpec {
                        metric: metric.clone(),
                        stat: self.convergence_stat.clone().unwrap_or_else(|| "avg".into()),
                        mode: self.convergence_mode.unwrap_or_default(),
                        threshold,
                        min_runs: 2,
                    })
                }
                None => problems.push(
                    "--convergence-metric needs --convergence-threshold (a fraction in (0, 1), e.g. 0.05)".into(),
                ),
            }
        }
        multi_run
    }
}

/// The grid (or zip) sweep of the listed flags.
fn list_sweep(args: &ProfileArgs, listed: &[Listed]) -> SweepSpec {
    let mut parameters = Map::new();
    for l in listed {
        parameters.insert(l.parameter.to_string(), Value::Array(l.values.clone()));
    }
    SweepSpec {
        sweep_type: match args.sweep_type {
            Some(FlagSweepType::Zip) => SweepType::Zip,
            Some(FlagSweepType::Grid) | None => SweepType::Grid,
        },
        parameters,
        runs: vec![],
        cooldown_seconds: args.parameter_sweep_cooldown_seconds.unwrap_or(0.0),
        recipe: None,
        sla: Default::default(),
        knobs: Default::default(),
        search_style: None,
        max_iterations: None,
        initial_points: None,
        search_seed: None,
    }
}

#[cfg(test)]
mod tests {
    use crate::cli::{Cli, Command};
    use clap::Parser;
    use serde_json::json;

    fn experiment(args: &[&str]) -> Result<crate::spec::experiment::Experiment, String> {
        let cli = Cli::try_parse_from(["aiperf", "profile", "-m", "m"].iter().chain(args))
            .map_err(|e| e.to_string())?;
        let Command::Profile(p) = cli.command else {
            panic!()
        };
        p.to_experiment().map_err(|p| p.0.join("\n"))
    }

    #[test]
    fn comma_lists_become_a_sorted_grid_with_repeated_runs() {
        let e = experiment(&[
            "--concurrency",
            "10,20,30",
            "--isl",
            "100,200",
            "--num-profile-runs",
            "3",
            "--confidence-level",
            "0.9",
            "--parameter-sweep-mode",
            "independent",
        ])
        .unwrap();
        let sweep = e.sweep.unwrap();
        assert_eq!(sweep.sweep_type, crate::spec::experiment::SweepType::Grid);
        // datasets.main.prompts.isl sorts before phases.profiling.concurrency.
        assert_eq!(
            serde_json::Value::Object(sweep.parameters),
            json!({"isl": [100, 200], "concurrency": [10, 20, 30]})
        );
        assert_eq!(e.multi_run.num_runs, 3);
        assert_eq!(e.multi_run.confidence_level, 0.9);
        assert_eq!(
            e.multi_run.iteration_order,
            crate::spec::experiment::IterationOrder::Independent
        );
        // Each cell gets AIPerf's default count for its own concurrency.
        assert_eq!(e.benchmark.profiling_phase().requests, None);
        assert_eq!(e.benchmark.profiling_phase().request_limit(), Some(20));
    }

    #[test]
    fn a_swept_mean_keeps_its_standard_deviation() {
        let e = experiment(&["--isl", "100,200", "--isl-stddev", "10"]).unwrap();
        let keys: Vec<String> = e.sweep.unwrap().parameters.keys().cloned().collect();
        assert_eq!(keys, ["isl.mean"]);
        assert_eq!(e.benchmark.dataset().prompts.isl.stddev, 10.0);
    }

    #[test]
    fn single_values_make_no_sweep() {
        let e = experiment(&["--concurrency", "4"]).unwrap();
        assert!(e.sweep.is_none());
        assert_eq!(e.multi_run.num_runs, 1);
        assert_eq!(e.benchmark.profiling_phase().concurrency, Some(4));
    }

    #[test]
    fn impossible_combinations_are_named() {
        for (args, expect) in [
            (&["--num-profile-runs", "0"][..], "from 1 to 10, got 0"),
            (&["--num-profile-runs", "11"][..], "from 1 to 10, got 11"),
            (&["--confidence-level", "0.9"][..], "add --num-profile-runs"),
            (
                &["--num-profile-runs", "2", "--confidence-level", "1.5"][..],
                "between 0 and 1",
            ),
            (&["--sweep-type", "zip"][..], "applies to a sweep"),
            (
                &["--parameter-sweep-mode", "repeated"][..],
                "applies to a sweep",
            ),
            (
                &["--concurrency", "1,2", "--search-recipe", "max-throughput"][..],
                "use one of them",
            ),
            (
                &[
                    "--num-profile-runs",
                    "3",
                    "--convergence-metric",
                    "time_to_first_token",
                ][..],
                "needs --convergence-threshold",
            ),
        ] {
            let err = experiment(args).unwrap_err();
            assert!(err.contains(expect), "{args:?}: {err}");
        }
    }
}
