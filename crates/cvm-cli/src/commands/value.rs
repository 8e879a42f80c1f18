//! `cvm value` and `cvm lifecycle`: the value pyramid with its Pareto curve, and the lifecycle
//! groups, as computed by the last `cvm run` of a month.

use std::path::PathBuf;

use cvm_analytics::store::{files, read_report};
use cvm_analytics::{LifecycleRow, ValueReport};
use cvm_domain::Month;
use serde_json::json;

use crate::output::{Format, Report};

/// Which committed run to read.
#[derive(Debug, clap::Args)]
pub struct RunRef {
    /// Warehouse folder.
    #[arg(long, short)]
    pub warehouse: PathBuf,
    /// Month of the run, `YYYY-MM`.
    #[arg(long, value_parser = super::run::parse_month)]
    pub as_of: Month,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
}

/// Arguments of `cvm value`.
#[derive(Debug, clap::Args)]
pub struct ValueArgs {
    #[command(flatten)]
    pub run: RunRef,
    /// Print the Pareto curve (share of revenue by share of subscribers) instead of the tiers.
    #[arg(long)]
    pub pareto: bool,
}

/// Prints the value pyramid (tiers with their service strategy) or the Pareto curve.
pub fn value(args: ValueArgs) -> anyhow::Result<()> {
    let r = &args.run;
    let report: ValueReport = read_report(&r.warehouse, &r.as_of.to_string(), files::VALUE)?;
    let mut out;
    if args.pareto {
        out = Report::new(["top_subscribers", "revenue_share"]);
        for p in &report.pareto {
            out.push(vec![json!(p.subscriber_share), json!(p.revenue_share)]);
        }
    } else {
        out = Report::new([
            "tier",
            "min_value",
            "subscribers",
            "subscriber_share",
            "revenue",
            "revenue_share",
            "arpu",
            "strategy",
            "strategy_zh",
        ]);
        for t in &report.tiers {
            out.push(vec![
                json!(t.tier),
                json!(t.min_value),
                json!(t.subscribers),
                json!(t.subscriber_share),
                json!(round2(t.revenue)),
                json!(t.revenue_share),
                json!(t.arpu.map(round2)),
                json!(t.strategy),
                json!(t.strategy_zh),
            ]);
        }
    }
    out.print(r.format)?;
    if r.format == Format::Table && !args.pareto {
        let top20 = report.pareto.iter().find(|p| (p.subscriber_share - 0.2).abs() < 1e-9);
        if let Some(p) = top20 {
            println!(
                "{} subscribers, monthly revenue {:.2} yuan; the top 20% by value bring {:.1}% of it (value = {}).",
                report.population,
                report.revenue,
                p.revenue_share * 100.0,
                report.model.base
            );
        }
    }
    Ok(())
}

/// Prints the lifecycle groups.
pub fn lifecycle(args: RunRef) -> anyhow::Result<()> {
    let rows: Vec<LifecycleRow> = read_report(&args.warehouse, &args.as_of.to_string(), files::LIFECYCLE)?;
    let mut out = Report::new([
        "group",
        "subscribers",
        "subscriber_share",
        "revenue",
        "revenue_share",
        "arpu",
        "left_network",
        "churn_rate",
        "churn_driver",
        "emphasis",
    ]);
    for g in &rows {
        out.push(vec![
            json!(g.group),
            json!(g.subscribers),
            json!(g.subscriber_share),
            json!(round2(g.revenue)),
            json!(g.revenue_share),
            json!(g.arpu.map(round2)),
            json!(g.left_network),
            json!(g.churn_rate),
            json!(g.churn_driver),
            json!(g.emphasis),
        ]);
    }
    out.print(args.format)?;
    Ok(())
}

/// Money to the fen.
pub fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}
