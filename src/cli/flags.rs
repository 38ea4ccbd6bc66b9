//! Flag groups several commands share: auto-plot and Weights & Biases (AIPerf's names).

use crate::spec::WandbSpec;

crate::sentence_error!(
    /// A flag combination that cannot be used.
    FlagError
);

/// The plot flags `aiperf profile` and `aiperf run` share.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct PlotFlags {
    /// Draw plots into <artifact dir>/plots when the run ends.
    #[arg(long, overrides_with = "no_auto_plot", help_heading = "Plots")]
    pub auto_plot: bool,
    /// Do not draw plots, even where the recipe or a `plot:` block would.
    #[arg(long, overrides_with = "auto_plot", help_heading = "Plots")]
    pub no_auto_plot: bool,
    /// Exit with code 6 when auto-plot fails (default: a warning, exit code unchanged). Has no
    /// effect when auto-plot is off.
    #[arg(long, help_heading = "Plots")]
    pub plot_required: bool,
}

impl PlotFlags {
    /// `Some(true)` for --auto-plot, `Some(false)` for --no-auto-plot, `None` for neither.
    pub fn choice(&self) -> Option<bool> {
        match (self.auto_plot, self.no_auto_plot) {
            (true, _) => Some(true),
            (_, true) => Some(false),
            _ => None,
        }
    }
}

/// The flags `aiperf profile` and `aiperf run` share (AIPerf's names).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct WandbFlags {
    /// Upload the results to this Weights & Biases project (enables the export).
    #[arg(long, help_heading = "Weights & Biases")]
    pub wandb_project: Option<String>,
    /// W&B entity (user or team); default: the API key's default entity.
    #[arg(long, help_heading = "Weights & Biases")]
    pub wandb_entity: Option<String>,
    /// W&B run name (default: aiperf-<benchmark id>).
    #[arg(long, help_heading = "Weights & Biases")]
    pub wandb_run_name: Option<String>,
    /// W&B tag (repeatable), added to aiperf-<version> and benchmark-<id>.
    #[arg(long, help_heading = "Weights & Biases")]
    pub wandb_tag: Vec<String>,
    /// W&B group (default for experiments: the experiment directory's name).
    #[arg(long, help_heading = "Weights & Biases")]
    pub wandb_group: Option<String>,
    /// Exit with code 7 when the upload fails (default: a warning, exit code unchanged).
    #[arg(long, help_heading = "Weights & Biases")]
    pub wandb_required: bool,
}

impl WandbFlags {
    /// The spec the flags describe alone (for `aiperf profile`).
    pub fn to_spec(&self) -> Result<WandbSpec, FlagError> {
        self.over(&WandbSpec::default())
    }

    /// `base` with the flags applied over it; secondary flags need a project from either.
    pub fn over(&self, base: &WandbSpec) -> Result<WandbSpec, FlagError> {
        if self
            .wandb_project
            .as_deref()
            .is_some_and(|p| p.trim().is_empty())
        {
            return Err("--wandb-project cannot be empty.".into());
        }
        if self
            .wandb_entity
            .as_deref()
            .is_some_and(|e| e.trim().is_empty())
        {
            return Err("--wandb-entity cannot be empty when set.".into());
        }
        let secondary = self.wandb_entity.is_some()
            || self.wandb_run_name.is_some()
            || !self.wandb_tag.is_empty()
            || self.wandb_group.is_some()
            || self.wandb_required;
        if secondary && self.wandb_project.is_none() && base.project.is_none() {
            return Err("--wandb-entity, --wandb-run-name, and --wandb-tag require --wandb-project to be set.".into());
        }
        let mut spec = base.clone();
        if let Some(p) = &self.wandb_project {
            spec.project = Some(p.clone());
        }
        if let Some(e) = &self.wandb_entity {
            spec.entity = Some(e.clone());
        }
        if let Some(n) = &self.wandb_run_name {
            spec.run_name = Some(n.clone());
        }
        if let Some(g) = &self.wandb_group {
            spec.group = Some(g.clone());
        }
        for tag in &self.wandb_tag {
            if !spec.tags.contains(tag) {
                spec.tags.push(tag.clone());
            }
        }
        spec.required |= self.wandb_required;
        Ok(spec)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secondary_flags_need_a_project() {
        let flags = WandbFlags {
            wandb_entity: Some("e".into()),
            ..Default::default()
        };
        assert_eq!(
            flags.to_spec().unwrap_err().0,
            "--wandb-entity, --wandb-run-name, and --wandb-tag require --wandb-project to be set."
        );
        let yaml = WandbSpec {
            project: Some("from-yaml".into()),
            ..Default::default()
        };
        assert_eq!(flags.over(&yaml).unwrap().entity.as_deref(), Some("e"));
        let empty = WandbFlags {
            wandb_project: Some(" ".into()),
            ..Default::default()
        };
        assert_eq!(
            empty.to_spec().unwrap_err().0,
            "--wandb-project cannot be empty."
        );
    }
}

/// The CI gate flags `aiperf profile` and `aiperf run` share.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct GateFlags {
    /// A pass/fail rule on the results, e.g. 'time_to_first_token.p99 < 200' (ms, as
    /// displayed), 'request_error_rate < 1' (percent), 'output_token_throughput > 900'; append
    /// 'with 95% confidence' to judge repeated trials by their confidence bound. Repeatable;
    /// added to the experiment's `benchmark.thresholds`. A failed rule exits 9 (docs/ci.md).
    #[arg(
        long = "threshold",
        value_name = "RULE",
        value_parser = parse_threshold,
        help_heading = "CI gate"
    )]
    pub thresholds: Vec<crate::spec::thresholds::MetricThreshold>,
}

fn parse_threshold(text: &str) -> Result<crate::spec::thresholds::MetricThreshold, String> {
    crate::spec::thresholds::MetricThreshold::parse(text).map_err(|e| e.0)
}

/// The one-step comparison flags `aiperf profile` and `aiperf run` share.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct BaselineFlags {
    /// Compare the results with this baseline when the run ends (as `aiperf compare BASELINE
    /// RESULTS`): a result directory, or `wandb:ENTITY/PROJECT/RUN_ID`, a W&B run aiperf
    /// uploaded, downloaded before the run starts. A regression exits 10 after every file is
    /// written.
    #[arg(
        long,
        visible_alias = "baseline-from",
        value_name = "DIR|wandb:ENTITY/PROJECT/RUN",
        help_heading = "CI gate"
    )]
    pub baseline: Option<String>,
    /// The margin of that comparison: `5%`, or `TAG.STAT=10%` for one metric. Repeatable.
    #[arg(
        long,
        value_name = "PCT",
        allow_hyphen_values = true,
        help_heading = "CI gate"
    )]
    pub max_regression: Vec<String>,
    /// A metric of that comparison (`time_to_first_token.p99`). Repeatable; default as
    /// `aiperf compare`.
    #[arg(
        long = "compare-metric",
        value_name = "TAG.STAT",
        help_heading = "CI gate"
    )]
    pub compare_metrics: Vec<String>,
}

impl BaselineFlags {
    /// The comparison to make after the run, flags over the experiment's `compare:` block;
    /// `None` when neither names a baseline. Checked before anything runs: the options, and
    /// that a baseline directory holds a result (a W&B baseline is checked when fetched).
    pub fn comparison(
        &self,
        file: Option<&crate::spec::experiment::CompareSpec>,
    ) -> Result<
        Option<(
            crate::after_run::baseline::BaselineSource,
            crate::gate::comparison::CompareOptions,
        )>,
        String,
    > {
        let Some(baseline) = self
            .baseline
            .clone()
            .or_else(|| file.map(|f| f.baseline.to_string_lossy().into_owned()))
        else {
            if !self.max_regression.is_empty() || !self.compare_metrics.is_empty() {
                return Err("--max-regression and --compare-metric need --baseline DIR".into());
            }
            return Ok(None);
        };
        let mut options = crate::gate::comparison::CompareOptions::default();
        if let Some(f) = file {
            if !f.max_regression.is_empty() {
                options.max_regression = f.max_regression.clone();
            }
            options.metrics = f.metrics.clone();
            options.confidence_level = f.confidence_level.unwrap_or(options.confidence_level);
            options.allow_different = f.allow_different;
        }
        if !self.max_regression.is_empty() {
            options.max_regression = self.max_regression.clone();
        }
        if !self.compare_metrics.is_empty() {
            options.metrics = self.compare_metrics.clone();
        }
        options.check().map_err(|e| e.0)?;
        let source = crate::after_run::baseline::BaselineSource::parse(&baseline)
            .map_err(|e| format!("the baseline: {e}"))?;
        source.check().map_err(|e| format!("the baseline: {e}"))?;
        Ok(Some((source, options)))
    }
}
