//! `cvm warnings`: the churn rule warnings of a run, counted by kind, rule or branch, or
//! listed (optionally for one branch, as branch staff see them).

use cvm_analytics::frame::{i64_column, string_column};
use cvm_analytics::store::{files, read_report, read_table};
use cvm_analytics::warnings::WarningCounts;
use serde_json::json;

use super::value::RunRef;
use crate::output::Report;

/// What to count warnings by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum By {
    /// Kind of churn: leave_network, internal_switch, revenue_loss.
    Kind,
    /// Rule.
    Rule,
    /// Branch.
    Branch,
}

/// Arguments of `cvm warnings`.
#[derive(Debug, clap::Args)]
pub struct WarningsArgs {
    #[command(flatten)]
    pub run: RunRef,
    /// Count by kind, rule or branch.
    #[arg(long, value_enum, default_value = "kind")]
    pub by: By,
    /// List the warnings instead of counting them.
    #[arg(long)]
    pub list: bool,
    /// With --list: only this branch's subscribers.
    #[arg(long)]
    pub branch: Option<String>,
    /// With --list: at most this many rows.
    #[arg(long, default_value_t = 50)]
    pub limit: usize,
}

/// Prints warning counts or the list.
pub fn run(args: WarningsArgs) -> anyhow::Result<()> {
    let r = &args.run;
    let as_of = r.as_of.to_string();
    if args.list {
        let batch = read_table(&r.warehouse, &as_of, files::WARNINGS)?;
        let ids = i64_column(&batch, "subscriber_id")?;
        let cols = ["branch_id", "rule", "kind", "severity", "evidence"]
            .map(|c| string_column(&batch, c))
            .into_iter()
            .collect::<Result<Vec<_>, _>>()?;
        let mut out = Report::new(["subscriber_id", "branch_id", "rule", "kind", "severity", "evidence"]);
        for row in 0..batch.num_rows() {
            if args.branch.as_ref().is_some_and(|b| cols[0][row].as_ref() != Some(b)) {
                continue;
            }
            if out.rows.len() == args.limit {
                break;
            }
            let mut cells = vec![json!(ids[row])];
            cells.extend(cols.iter().map(|c| json!(c[row])));
            out.push(cells);
        }
        out.print(r.format)?;
        return Ok(());
    }
    let counts: WarningCounts = read_report(&r.warehouse, &as_of, files::WARNING_COUNTS)?;
    let (label, map) = match args.by {
        By::Kind => ("kind", &counts.by_kind),
        By::Rule => ("rule", &counts.by_rule),
        By::Branch => ("branch_id", &counts.by_branch),
    };
    let mut out = Report::new([label, "warnings"]);
    for (k, n) in map {
        out.push(vec![json!(k), json!(n)]);
    }
    out.print(r.format)?;
    if r.format == crate::output::Format::Table {
        println!("{} warnings for {} subscribers.", counts.warnings, counts.subscribers);
    }
    Ok(())
}
