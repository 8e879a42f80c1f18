//! `cvm segments` and `cvm clusters`: the segments of a run (built-in schemes, value tiers,
//! the analyst's own), their members and validity; checking a segments file before a run;
//! the data-driven clusters.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Subcommand;
use cvm_analytics::store::{files, read_report, segment_members};
use cvm_analytics::{ClusterReport, SegmentReport};
use serde_json::json;

use super::value::{RunRef, round2};
use crate::output::{Format, Report};

/// `cvm segments` subcommands.
#[derive(Debug, Subcommand)]
pub enum SegmentsCommand {
    /// List the segments of a run with their size and revenue.
    List(RunRef),
    /// Show one segment: definition, measures and its first members.
    Show {
        /// Segment name.
        name: String,
        #[command(flatten)]
        run: RunRef,
        /// Members to list.
        #[arg(long, default_value_t = 20)]
        members: usize,
    },
    /// The validity report: measurable, accessible, substantial, differentiable.
    Validate(RunRef),
    /// Check a segments file's names and predicates without running.
    Check {
        /// Segments file (TOML, `[[segment]]` tables with name, description, where).
        file: PathBuf,
        /// Run configuration (value tiers make segments too).
        #[arg(long)]
        config: Option<PathBuf>,
        /// Output format.
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
    },
    /// The columns a predicate may use, with their types.
    Columns {
        /// Output format.
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
    },
}

/// Runs a `cvm segments` subcommand.
pub fn run(command: SegmentsCommand) -> anyhow::Result<()> {
    match command {
        SegmentsCommand::List(r) => {
            let report = segment_report(&r)?;
            let mut out =
                Report::new(["segment", "scheme", "subscribers", "subscriber_share", "revenue_share", "description"]);
            for s in &report.segments {
                out.push(vec![
                    json!(s.name),
                    json!(s.scheme),
                    json!(s.subscribers),
                    json!(s.subscriber_share),
                    json!(s.revenue_share),
                    json!(s.description),
                ]);
            }
            out.print(r.format)?;
        }
        SegmentsCommand::Show { name, run: r, members } => {
            let report = segment_report(&r)?;
            let s = report
                .segments
                .iter()
                .find(|s| s.name == name)
                .with_context(|| format!("no segment `{name}` in the run as of {}", r.as_of))?;
            let (ids, total) = segment_members(&r.warehouse, &r.as_of.to_string(), &name, members)?;
            let mut out = Report::new(["field", "value"]);
            let fields = [
                ("segment", json!(s.name)),
                ("scheme", json!(s.scheme)),
                ("description", json!(s.description)),
                ("where", json!(s.predicate)),
                ("subscribers", json!(s.subscribers)),
                ("subscriber_share", json!(s.subscriber_share)),
                ("revenue", json!(round2(s.revenue))),
                ("revenue_share", json!(s.revenue_share)),
                ("arpu", json!(s.arpu.map(round2))),
                ("reachable_share", json!(s.reachable_share)),
                ("profile_distance", json!(s.profile_distance)),
                ("churn_rate", json!(s.churn_rate)),
                ("members_listed", json!(format!("{} of {total}", ids.len()))),
                ("members", json!(ids.iter().map(i64::to_string).collect::<Vec<_>>().join(" "))),
            ];
            for (k, v) in fields {
                out.push(vec![json!(k), v]);
            }
            out.print(r.format)?;
        }
        SegmentsCommand::Validate(r) => {
            let report = segment_report(&r)?;
            let mut out = Report::new([
                "segment",
                "subscribers",
                "revenue_share",
                "reachable_share",
                "profile_distance",
                "measurable",
                "accessible",
                "substantial",
                "differentiable",
            ]);
            for s in &report.segments {
                out.push(vec![
                    json!(s.name),
                    json!(s.subscribers),
                    json!(s.revenue_share),
                    json!(s.reachable_share),
                    json!(s.profile_distance),
                    json!(s.measurable),
                    json!(s.accessible),
                    json!(s.substantial),
                    json!(s.differentiable),
                ]);
            }
            out.print(r.format)?;
            if r.format == Format::Table {
                let md = cvm_analytics::run_dir(&r.warehouse, &r.as_of.to_string()).join(files::VALIDITY_MD);
                println!("Differentiable: {}. Markdown report: {}", report.differentiable_basis, md.display());
            }
        }
        SegmentsCommand::Check { file, config, format } => {
            let config = super::run::read_config(config.as_deref())?;
            let (_, analyst) = super::run::read_segments(&file)?;
            let runtime = super::run::query_runtime()?;
            let checked = runtime
                .block_on(cvm_analytics::check_segments(&config, &analyst))
                .with_context(|| format!("{}", file.display()))?;
            let mut out = Report::new(["segment", "scheme", "columns", "where"]);
            for c in checked.iter().filter(|c| analyst.segments.iter().any(|d| d.name == c.def.name)) {
                out.push(vec![
                    json!(c.def.name),
                    json!(c.def.scheme),
                    json!(c.predicate.columns.join(" ")),
                    json!(c.def.predicate),
                ]);
            }
            out.print(format)?;
        }
        SegmentsCommand::Columns { format } => {
            let runtime = super::run::query_runtime()?;
            let schema = runtime.block_on(cvm_analytics::feature_schema(&cvm_analytics::RunConfig::default()))?;
            let mut out = Report::new(["column", "type"]);
            for f in schema.fields() {
                out.push(vec![json!(f.name()), json!(f.data_type().to_string())]);
            }
            out.print(format)?;
        }
    }
    Ok(())
}

fn segment_report(r: &RunRef) -> anyhow::Result<SegmentReport> {
    Ok(read_report(&r.warehouse, &r.as_of.to_string(), files::SEGMENTS)?)
}

/// Prints the clusters of a run in the operator's units.
pub fn clusters(r: RunRef) -> anyhow::Result<()> {
    let report: ClusterReport = read_report(&r.warehouse, &r.as_of.to_string(), files::CLUSTERS)?;
    let mut out = Report::new([
        "cluster",
        "subscribers",
        "subscriber_share",
        "revenue_share",
        "arpu",
        "mou",
        "dou_mb",
        "sms",
        "days_active",
        "tenure_months",
        "description",
    ]);
    for c in &report.clusters {
        out.push(vec![
            json!(c.cluster),
            json!(c.subscribers),
            json!(c.subscriber_share),
            json!(c.revenue_share),
            json!(round2(c.arpu)),
            json!(round2(c.mou)),
            json!(round2(c.dou)),
            json!(round2(c.sms)),
            json!(round2(c.days_active)),
            json!(round2(c.tenure_months)),
            json!(c.description),
        ]);
    }
    out.print(r.format)?;
    if r.format == Format::Table {
        let tried: Vec<String> = report.silhouette.iter().map(|(k, s)| format!("k={k}: {s:.3}")).collect();
        println!(
            "k = {} ({}{}), fitted on {} subscribers; features: {}",
            report.k,
            report.chosen_by,
            if tried.is_empty() { String::new() } else { format!("; silhouette {}", tried.join(", ")) },
            report.fitted_on,
            report.features.join(", ")
        );
    }
    Ok(())
}
