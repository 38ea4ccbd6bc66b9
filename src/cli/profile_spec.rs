//! `aiperf profile`'s flags turned into a [`BenchmarkSpec`] (every problem reported together),
//! and the search sweep `--search-recipe` describes.

use super::profile::{ProfileArgs, RateMode, parse_extra, parse_header, sanitize};
use crate::spec::*;
use crate::support::problem::Problems;
use std::collections::BTreeMap;
use std::path::PathBuf;

impl ProfileArgs {
    /// The recipe sweep the search flags describe, if `--search-recipe` is given.
    pub fn recipe_sweep(&self) -> Option<crate::spec::experiment::SweepSpec> {
        use crate::spec::experiment::{KnobOverride, SweepSpec, SweepType};
        let recipe = self.search_recipe.clone()?;
        let mut knobs = BTreeMap::new();
        for (name, lo, hi, steps) in [
            (
                "concurrency",
                self.concurrency_min,
                self.concurrency_max,
                self.concurrency_steps,
            ),
            ("isl", self.isl_min, self.isl_max, self.isl_steps),
            ("osl", self.osl_min, self.osl_max, self.osl_steps),
        ] {
            if lo.is_some() || hi.is_some() || steps.is_some() {
                knobs.insert(
                    name.to_string(),
                    KnobOverride {
                        lo,
                        hi,
                        steps,
                        values: vec![],
                    },
                );
            }
        }
        // AIPerf's SLA flags, named as the recipe names its SLA values: a percentile limit
        // (`ttft_p95_ms`) for the SLA recipes, a per-request limit (`ttft_ms`) for goodput.
        let declared = crate::plan::recipe_catalogue::load(&recipe)
            .map(|r| r.sla_parameters.keys().cloned().collect::<Vec<_>>())
            .unwrap_or_default();
        let mut sla = BTreeMap::new();
        for (names, value) in [
            (&["ttft_p95_ms", "ttft_ms"][..], self.ttft_sla_ms),
            (&["itl_p95_ms", "itl_ms"][..], self.itl_sla_ms),
            (&["e2e_p99_ms", "e2e_ms"][..], self.e2e_sla_ms),
            (
                &["error_rate_pct"][..],
                self.error_rate_sla.map(|f| f * 100.0),
            ),
            (
                &["slo_attainment_fraction"][..],
                self.slo_attainment_fraction,
            ),
        ] {
            if let Some(v) = value {
                let name = names
                    .iter()
                    .find(|n| declared.iter().any(|d| d == *n))
                    .unwrap_or(&names[0]);
                sla.insert(name.to_string(), v);
            }
        }
        Some(SweepSpec {
            sweep_type: SweepType::Grid,
            parameters: Default::default(),
            runs: vec![],
            cooldown_seconds: 0.0,
            recipe: Some(crate::spec::experiment::RecipeRef::Name(recipe)),
            sla,
            knobs,
            search_style: self.search_style,
            max_iterations: self.search_max_iterations,
            initial_points: self.search_initial_points,
            search_seed: self.search_random_seed,
        })
    }

    /// Builds the spec; flag-level problems (malformed values) are returned together.
    pub fn to_spec(&self) -> Result<BenchmarkSpec, Problems> {
        let mut problems = Vec::new();
        let mut extra = serde_json::Map::new();
        for item in &self.extra_inputs {
            if let Err(e) = parse_extra(item, &mut extra) {
                problems.push(e);
            }
        }
        let mut headers = BTreeMap::new();
        for item in &self.header {
            match parse_header(item) {
                Ok((k, v)) => {
                    headers.insert(k, v);
                }
                Err(e) => problems.push(e),
            }
        }
        let slos = match &self.goodput {
            Some(text) => parse_goodput(text).unwrap_or_else(|e| {
                problems.push(e.into());
                BTreeMap::new()
            }),
            None => BTreeMap::new(),
        };
        let template = match self.endpoint_template.as_deref() {
            Some(text) => match text.strip_prefix('@') {
                Some(path) => std::fs::read_to_string(path).map(Some).unwrap_or_else(|e| {
                    problems.push(format!("--endpoint-template: cannot read {path}: {e}"));
                    None
                }),
                None => Some(text.to_string()),
            },
            None => None,
        };
        // A comma list sweeps a flag (profile_sweep.rs); the base benchmark takes its first value.
        let request_rate = self.request_rate.first().copied();
        let concurrency_flag = self.concurrency.first().copied();
        let duration = self.benchmark_duration.first().copied();
        self.dataset.check(&mut problems);
        let replay = self.dataset.replay(&mut problems);
        if replay.fixed && request_rate.is_some() {
            problems.push(
                "--request-rate does not apply to a fixed-schedule replay, which sends at the file's timestamps \
                 (--replay-speedup scales them; --no-fixed-schedule sends at a rate instead)"
                    .into(),
            );
        }
        let seq_dist = self.dataset.seq_dist(&mut problems);
        let phase_type = match (request_rate, self.request_rate_mode) {
            _ if replay.fixed => PhaseType::FixedSchedule,
            (None, _) => PhaseType::Concurrency,
            (Some(_), RateMode::Constant) => PhaseType::Constant,
            (Some(_), RateMode::Poisson) => PhaseType::Poisson,
            (Some(_), RateMode::Gamma) => PhaseType::Gamma,
        };
        let concurrency = match phase_type {
            PhaseType::Concurrency => Some(concurrency_flag.unwrap_or(1)),
            _ => concurrency_flag,
        };
        let swept_concurrency = self.concurrency.len() > 1;
        let requests = match (self.request_count.first(), duration) {
            (Some(n), _) => Some(*n),
            (None, Some(_)) => None,
            // Each cell of a concurrency sweep takes AIPerf's default for its own concurrency
            // (PhaseSpec::request_limit).
            (None, None) if swept_concurrency => None,
            // An input file is sent once through (run::workload::request_limit).
            (None, None) if self.dataset.input_file.is_some() => None,
            (None, None) => Some((2 * concurrency.unwrap_or(1) as u64).max(10)),
        };
        // Enough distinct prompts for the largest cell's requests, at most 1000.
        let most_requests = if self.request_count.is_empty() && duration.is_none() {
            self.concurrency
                .iter()
                .map(|c| (2 * u64::from(*c)).max(10))
                .max()
                .or(requests)
        } else {
            self.request_count.iter().copied().max()
        };
        let entries = self
            .num_dataset_entries
            .unwrap_or_else(|| most_requests.map_or(100, |n| n.clamp(1, 1000) as u32));
        let label = |name: &str, values: Vec<String>| match values.len() {
            0 | 1 => format!("{name}{}", values.first().map_or("1", String::as_str)),
            2..=4 => format!("{name}{}", values.join("_")),
            n => format!("{name}{}_to_{}", values[0], values[n - 1]),
        };
        let load_label = match phase_type {
            PhaseType::Concurrency => label(
                "concurrency",
                self.concurrency.iter().map(ToString::to_string).collect(),
            ),
            _ => label(
                "request_rate",
                self.request_rate.iter().map(ToString::to_string).collect(),
            ),
        };
        let dir = self.artifact_dir.clone().unwrap_or_else(|| {
            PathBuf::from("artifacts").join(format!(
                "{}-{}-{load_label}",
                sanitize(&self.model),
                self.endpoint_type.as_str()
            ))
        });
        let warmup_gamma = self.warmup.warmup_arrival_pattern == Some(RateMode::Gamma);
        if self.arrival_smoothness.is_some() && phase_type != PhaseType::Gamma && !warmup_gamma {
            problems.push(
                "--arrival-smoothness (--vllm-burstiness) applies to --arrival-pattern gamma with --request-rate".into(),
            );
        }
        if !self.output_tokens_stddev.is_empty() && self.output_tokens_mean.is_empty() {
            problems.push("--osl-stddev needs --osl (the mean requested output length)".into());
        }
        let smoothness = self
            .arrival_smoothness
            .filter(|_| phase_type == PhaseType::Gamma);
        let cancellation = match (
            self.request_cancellation_rate,
            self.request_cancellation_delay,
        ) {
            (Some(rate), delay) => Some(CancellationSpec {
                rate,
                delay: delay.unwrap_or(0.0),
            }),
            (None, Some(_)) => {
                problems.push(
                    "--request-cancellation-delay needs --request-cancellation-rate (the percentage of requests to cancel)"
                        .into(),
                );
                None
            }
            (None, None) => None,
        };
        let profiling = PhaseSpec {
            name: "profiling".into(),
            kind: PhaseKind::Profiling,
            phase_type,
            requests,
            duration,
            concurrency,
            rate: request_rate,
            smoothness,
            grace_period: self.benchmark_grace_period,
            failed_request_threshold: self.failed_request_threshold,
            cancellation,
            prefill_concurrency: self.prefill_concurrency.first().copied(),
            concurrency_ramp: self.concurrency_ramp_duration,
            prefill_ramp: self.prefill_concurrency_ramp_duration,
            rate_ramp: self.request_rate_ramp_duration,
            auto_offset: replay
                .fixed
                .then_some(self.dataset.fixed_schedule_auto_offset),
            start_offset: self.dataset.fixed_schedule_start_offset,
            end_offset: self.dataset.fixed_schedule_end_offset,
            speedup: self.dataset.replay_speedup,
        };
        let mut phases: Vec<PhaseSpec> = self
            .warmup
            .phase(
                &profiling,
                self.request_rate_mode,
                self.arrival_smoothness,
                &mut problems,
            )
            .into_iter()
            .collect();
        phases.push(profiling);
        if !problems.is_empty() {
            return Err(Problems(problems));
        }
        Ok(BenchmarkSpec {
            models: ModelsSpec {
                items: vec![ModelItem {
                    name: self.model.clone(),
                }],
            },
            endpoint: EndpointSpec {
                urls: self.url.clone(),
                endpoint_type: self.endpoint_type,
                path: self.endpoint.clone(),
                streaming: self.streaming,
                api_key: self
                    .api_key
                    .clone()
                    .filter(|k| !k.is_empty())
                    .map(Secret::new),
                headers,
                extra,
                timeout: self.request_timeout_seconds,
                use_server_token_count: self.use_server_token_count,
                use_legacy_max_tokens: self.use_legacy_max_tokens,
                wait_for_model_timeout: self.wait_for_model_timeout,
                rankings_passages: self.rankings_passages,
                template,
                connection_reuse: self.connection_reuse_strategy,
                per_chunk_usage: self.per_chunk_usage,
            },
            datasets: vec![DatasetSpec {
                name: "main".into(),
                dataset_type: if self.dataset.input_file.is_some() {
                    DatasetType::File
                } else {
                    DatasetType::Synthetic
                },
                entries,
                path: self.dataset.input_file.clone(),
                format: self.dataset.custom_dataset_type,
                sampling: self.dataset.dataset_sampling_strategy.unwrap_or_default(),
                block_size: self.dataset.isl_block_size,
                prompts: PromptsSpec {
                    isl: TokenDistribution {
                        mean: self
                            .synthetic_input_tokens_mean
                            .first()
                            .copied()
                            .unwrap_or(550.0),
                        stddev: self
                            .synthetic_input_tokens_stddev
                            .first()
                            .copied()
                            .unwrap_or(0.0),
                    },
                    osl: self
                        .output_tokens_mean
                        .first()
                        .map(|&mean| TokenDistribution {
                            mean,
                            stddev: self.output_tokens_stddev.first().copied().unwrap_or(0.0),
                        }),
                    prefix_length: self.dataset.prefix_prompt_length,
                    prefix_pool_size: self.dataset.prefix_prompt_pool_size,
                    shared_system_length: self.dataset.shared_system_prompt_length,
                    seq_dist,
                },
            }],
            phases,
            artifacts: ArtifactsSpec {
                dir,
                auto_plot: self.plot.choice(),
                plot_required: self.plot.plot_required,
                slice_duration: self.slice_duration,
            },
            slos,
            thresholds: self.gate.thresholds.clone(),
            tokenizer: TokenizerSpec {
                name: self.tokenizer.clone(),
            },
            runtime: RuntimeSpec {
                ui: self.ui_type,
                record_processors: self.record_processors,
            },
            random_seed: self.random_seed,
            plot: None,
            wandb: self.wandb.to_spec().map_err(|e| vec![e.into()])?,
        })
    }
}
