//! `cvm warehouse`: what the warehouse holds.

use std::path::PathBuf;

use serde_json::json;

use crate::output::{Format, Report};

/// Arguments of `cvm warehouse`.
#[derive(Debug, clap::Args)]
pub struct WarehouseArgs {
    /// Warehouse folder.
    #[arg(long, short)]
    pub warehouse: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
}

/// Lists tables and partitions with their row counts.
pub fn run(args: WarehouseArgs) -> anyhow::Result<()> {
    if !args.warehouse.is_dir() {
        anyhow::bail!("{}: no such warehouse folder", args.warehouse.display());
    }
    let counts = cvm_warehouse::store::row_counts(&args.warehouse)?;
    let mut report = Report::new(["table", "partition", "rows"]);
    for (table, parts) in &counts {
        for (part, rows) in parts {
            report.push(vec![json!(table), json!(part), json!(rows)]);
        }
    }
    report.print(args.format)?;
    Ok(())
}
