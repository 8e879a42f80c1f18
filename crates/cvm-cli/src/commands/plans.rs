//! `cvm plans`: the plan catalog and the tariff engine.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context as _;
use cvm_offers::tables::{read_plans, read_usage};
use cvm_offers::{Plan, bill};
use serde_json::{Value, json};

use crate::output::{Format, Report};

/// Subcommands of `cvm plans`.
#[derive(Debug, clap::Subcommand)]
pub enum PlansCommand {
    /// Price each subscriber-month of a usage file under every plan of a catalog, so the
    /// engine can be checked against the operator's own billing.
    Price(PriceArgs),
}

/// Arguments of `cvm plans price`.
#[derive(Debug, clap::Args)]
pub struct PriceArgs {
    /// Plan catalog in the `plans` format of docs/schema.md.
    #[arg(long)]
    plans: PathBuf,
    /// Monthly usage in the `usage` format of docs/schema.md (at least subscriber_id, month,
    /// voice_min, data_mb, sms).
    #[arg(long)]
    usage: PathBuf,
    /// Only these plans (comma-separated plan ids); all by default.
    #[arg(long, value_delimiter = ',')]
    plan: Vec<String>,
    /// Output format; CSV by default, since the output has a row per usage row and plan.
    #[arg(long, value_enum, default_value = "csv")]
    format: Format,
}

const COLUMNS: [&str; 9] = [
    "subscriber_id",
    "month",
    "plan_id",
    "monthly_fee",
    "voice_overage",
    "data_overage",
    "sms_overage",
    "overage_fee",
    "bill",
];

/// Runs a `cvm plans` subcommand.
pub fn run(command: PlansCommand) -> anyhow::Result<()> {
    match command {
        PlansCommand::Price(args) => price(args),
    }
}

fn price(args: PriceArgs) -> anyhow::Result<()> {
    let mut plans = read_plans(&args.plans)?;
    if !args.plan.is_empty() {
        for id in &args.plan {
            anyhow::ensure!(plans.iter().any(|p| &p.plan_id == id), "{}: no plan {id:?}", args.plans.display());
        }
        plans.retain(|p| args.plan.contains(&p.plan_id));
    }
    let usage = read_usage(&args.usage)?;
    // Amounts are yuan with two decimals as text: exact, where a JSON float might not be.
    let row = |plan: &Plan, u: &cvm_offers::UsageMonth| -> [Value; 9] {
        let b = bill(plan, u);
        [
            json!(u.subscriber_id),
            json!(u.month.to_string()),
            json!(plan.plan_id),
            json!(b.monthly_fee.to_string()),
            json!(b.voice_overage.to_string()),
            json!(b.data_overage.to_string()),
            json!(b.sms_overage.to_string()),
            json!(b.overage_fee().to_string()),
            json!(b.total.to_string()),
        ]
    };
    if args.format == Format::Csv {
        // Streamed: a million subscriber-months under forty plans is too big to hold as a
        // Report; the lines are the same as Report's CSV.
        let stdout = std::io::stdout().lock();
        let mut out = csv::Writer::from_writer(std::io::BufWriter::with_capacity(1 << 20, stdout));
        out.write_record(COLUMNS)?;
        let mut fields: Vec<String> = Vec::with_capacity(COLUMNS.len());
        for u in &usage {
            for plan in &plans {
                let b = bill(plan, u);
                fields.clear();
                fields.push(u.subscriber_id.to_string());
                fields.push(u.month.to_string());
                fields.push(plan.plan_id.clone());
                for amount in [b.monthly_fee, b.voice_overage, b.data_overage, b.sms_overage, b.overage_fee(), b.total]
                {
                    fields.push(amount.to_string());
                }
                out.write_record(&fields)?;
            }
        }
        let mut inner = out.into_inner().map_err(|e| anyhow::anyhow!("writing the prices: {}", e.error()))?;
        inner.flush().context("writing the prices")?;
        return Ok(());
    }
    let mut report = Report::new(COLUMNS);
    for u in &usage {
        for plan in &plans {
            report.push(row(plan, u).to_vec());
        }
    }
    report.print(args.format)?;
    Ok(())
}
