//! `cvm basket`: frequent itemsets and association rules over product holdings, for
//! cross-selling convergent bundles (融合业务).
//!
//! The input is a one-row-per-customer CSV with a column per product (yes/no values; other
//! values become `Column=value` items, and values beginning with "No " such as IBM's
//! "No internet service" mean the product is not held), or the long `holdings` table of
//! docs/schema.md. See `cvm_offers::basket` for the exact reading rules.

use std::path::PathBuf;
use std::time::Instant;

use cvm_offers::basket::{FrequentItemsets, Layout, WideColumns, association_rules, fpgrowth, read_baskets};
use serde_json::{Value, json};

use crate::output::{Format, Report};

/// Subcommands of `cvm basket`.
#[derive(Debug, clap::Subcommand)]
pub enum BasketCommand {
    /// Association rules X => Y with support, confidence and lift (FP-growth).
    Rules(RulesArgs),
    /// Frequent itemsets with their support (FP-growth).
    Itemsets(ItemsetsArgs),
}

/// Where the baskets come from and how frequent an itemset must be.
#[derive(Debug, clap::Args)]
pub struct MiningArgs {
    /// Holdings CSV: one row per customer and a column per product, or the `holdings` table.
    #[arg(long, required_unless_present = "warehouse", conflicts_with = "warehouse")]
    input: Option<PathBuf>,
    /// Mine the warehouse's holdings instead: the products each subscriber holds at the end
    /// of the `--as-of` month.
    #[arg(long, requires = "as_of")]
    warehouse: Option<PathBuf>,
    /// With --warehouse: the month whose end the holdings are read at, `YYYY-MM`.
    #[arg(long, value_parser = super::run::parse_month)]
    as_of: Option<cvm_domain::Month>,
    /// Customer id column of a one-row-per-customer file (not an item).
    #[arg(long)]
    id: Option<String>,
    /// Product columns (comma-separated); every column but the id by default.
    #[arg(long, value_delimiter = ',')]
    items: Option<Vec<String>>,
    /// Least share of customers holding an itemset, above 0 and at most 1.
    #[arg(long)]
    min_support: f64,
    /// Largest number of items in an itemset; no limit by default.
    #[arg(long)]
    max_len: Option<usize>,
    /// File layout: `auto` takes a file with `subscriber_id` and `product` columns as the
    /// `holdings` table, any other as one row per customer.
    #[arg(long, value_enum, default_value = "auto")]
    layout: LayoutArg,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum LayoutArg {
    Auto,
    Wide,
    Holdings,
}

/// Arguments of `cvm basket rules`.
#[derive(Debug, clap::Args)]
pub struct RulesArgs {
    #[command(flatten)]
    mining: MiningArgs,
    /// Least confidence of a rule, from 0 to 1.
    #[arg(long)]
    min_confidence: f64,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    format: Format,
}

/// Arguments of `cvm basket itemsets`.
#[derive(Debug, clap::Args)]
pub struct ItemsetsArgs {
    #[command(flatten)]
    mining: MiningArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    format: Format,
}

/// Runs a `cvm basket` subcommand.
pub fn run(command: BasketCommand) -> anyhow::Result<()> {
    match command {
        BasketCommand::Rules(args) => {
            let frequent = mine(&args.mining)?;
            let started = Instant::now();
            let mut rules = association_rules(&frequent, args.min_confidence)?;
            tracing::info!(rules = rules.len(), seconds = started.elapsed().as_secs_f64(), "rules generated");
            let names = |items: &[u32]| frequent.names(items).join(";");
            // Strongest first; names break ties so the output does not depend on hash order.
            let mut keyed: Vec<_> = rules.drain(..).map(|r| (names(&r.antecedent), names(&r.consequent), r)).collect();
            keyed.sort_by(|a, b| {
                b.2.lift
                    .total_cmp(&a.2.lift)
                    .then(b.2.confidence.total_cmp(&a.2.confidence))
                    .then_with(|| a.0.cmp(&b.0))
                    .then_with(|| a.1.cmp(&b.1))
            });
            let mut report = Report::new([
                "antecedents",
                "consequents",
                "antecedent_support",
                "consequent_support",
                "support",
                "confidence",
                "lift",
                "leverage",
                "conviction",
                "count",
            ]);
            for (antecedents, consequents, r) in keyed {
                report.push(vec![
                    json!(antecedents),
                    json!(consequents),
                    json!(r.antecedent_support),
                    json!(r.consequent_support),
                    json!(r.support),
                    json!(r.confidence),
                    json!(r.lift),
                    json!(r.leverage),
                    // Infinite when confidence is 1: JSON has no infinity, so it is left empty.
                    if r.conviction.is_finite() { json!(r.conviction) } else { Value::Null },
                    json!(r.count),
                ]);
            }
            report.print(args.format)?;
        }
        BasketCommand::Itemsets(args) => {
            let frequent = mine(&args.mining)?;
            let mut rows: Vec<_> = frequent.itemsets.iter().map(|s| (frequent.names(&s.items).join(";"), s)).collect();
            rows.sort_by(|a, b| {
                b.1.count.cmp(&a.1.count).then(a.1.items.len().cmp(&b.1.items.len())).then(a.0.cmp(&b.0))
            });
            let mut report = Report::new(["itemset", "length", "support", "count"]);
            for (names, s) in rows {
                report.push(vec![json!(names), json!(s.items.len()), json!(frequent.support(s.count)), json!(s.count)]);
            }
            report.print(args.format)?;
        }
    }
    Ok(())
}

fn mine(args: &MiningArgs) -> anyhow::Result<FrequentItemsets> {
    let layout = match args.layout {
        LayoutArg::Auto => Layout::Auto,
        LayoutArg::Wide => Layout::Wide,
        LayoutArg::Holdings => Layout::Holdings,
    };
    let columns = WideColumns { id: args.id.clone(), items: args.items.clone() };
    let started = Instant::now();
    let baskets = match (&args.input, &args.warehouse, args.as_of) {
        (Some(input), _, _) => read_baskets(input, layout, &columns)?,
        (None, Some(warehouse), Some(as_of)) => super::run::query_runtime()?
            .block_on(cvm_analytics::fit::held_products(warehouse, cvm_analytics::Window::new(as_of)))?,
        _ => anyhow::bail!("give --input FILE, or --warehouse W with --as-of YYYY-MM"),
    };
    tracing::info!(
        baskets = baskets.len(),
        distinct = baskets.distinct_len(),
        items = baskets.item_names().len(),
        seconds = started.elapsed().as_secs_f64(),
        "baskets read"
    );
    let started = Instant::now();
    let frequent = fpgrowth(&baskets, args.min_support, args.max_len)?;
    tracing::info!(itemsets = frequent.itemsets.len(), seconds = started.elapsed().as_secs_f64(), "itemsets mined");
    Ok(frequent)
}
