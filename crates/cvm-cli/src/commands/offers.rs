//! `cvm offers`: what a run's offers step found: plan fit, data fit, device fit and the next
//! best offers, as counts or as rows (one subscriber, one branch, one channel).

use cvm_analytics::arrow::array::{Array, AsArray};
use cvm_analytics::arrow::datatypes::{DataType, Decimal128Type, Float64Type, Int64Type, UInt32Type};
use cvm_analytics::fit::OffersSummary;
use cvm_analytics::store::{files, read_report, read_table};
use serde_json::{Value, json};

use super::value::RunRef;
use crate::output::Report;

/// Subcommands of `cvm offers`.
#[derive(Debug, clap::Subcommand)]
pub enum OffersCommand {
    /// Counts of the offers step: service tasks, packs, devices reserved, offers made.
    Summary(RunRef),
    /// Plan fit rows: flags, alerts, service task, recommended plan and saving.
    PlanFit(ListArgs),
    /// Data fit rows: months over the allowance, top app, cheapest pack.
    DataFit(ListArgs),
    /// Device fit rows in serving order: need, recommended tier, handset reserved.
    Devices(ListArgs),
    /// Next best offers: one per subscriber and channel, with expected value and reasons.
    Nbo(ListArgs),
}

/// Which rows to list.
#[derive(Debug, clap::Args)]
pub struct ListArgs {
    #[command(flatten)]
    run: RunRef,
    /// Only this subscriber.
    #[arg(long)]
    subscriber: Option<i64>,
    /// Only this branch's subscribers.
    #[arg(long)]
    branch: Option<String>,
    /// Plan fit: only rows with a service task; next best offer: only this channel.
    #[arg(long)]
    only: Option<String>,
    /// At most this many rows.
    #[arg(long, default_value_t = 50)]
    limit: usize,
}

/// Runs a `cvm offers` subcommand.
pub fn run(command: OffersCommand) -> anyhow::Result<()> {
    let (args, file, filter_column) = match command {
        OffersCommand::Summary(run) => return summary(&run),
        OffersCommand::PlanFit(a) => (a, files::PLAN_FIT, "service_task"),
        OffersCommand::DataFit(a) => (a, files::DATA_FIT, "best_pack"),
        OffersCommand::Devices(a) => (a, files::DEVICE_FIT, "need"),
        OffersCommand::Nbo(a) => (a, files::NBO, "channel"),
    };
    let r = &args.run;
    let batch = read_table(&r.warehouse, &r.as_of.to_string(), file)?;
    let names: Vec<String> = batch.schema().fields().iter().map(|f| f.name().clone()).collect();
    let mut out = Report::new(names.iter().map(String::as_str));
    let col = |name: &str| batch.column_by_name(name).map(|c| c.as_ref());
    for row in 0..batch.num_rows() {
        if out.rows.len() == args.limit {
            break;
        }
        if args.subscriber.is_some_and(|s| col("subscriber_id").map(|c| cell(c, row)) != Some(json!(s))) {
            continue;
        }
        if args.branch.as_ref().is_some_and(|b| col("branch_id").map(|c| cell(c, row)) != Some(json!(b))) {
            continue;
        }
        if let Some(only) = &args.only {
            let v = col(filter_column).map(|c| cell(c, row)).unwrap_or(Value::Null);
            // `--only any` keeps rows where the column is set; otherwise it must match.
            if v.is_null() || (only != "any" && v != json!(only)) {
                continue;
            }
        }
        out.push((0..batch.num_columns()).map(|c| cell(batch.column(c).as_ref(), row)).collect());
    }
    out.print(r.format)?;
    Ok(())
}

/// One value of an offers table as JSON: numbers as numbers, money as yuan.
fn cell(array: &dyn Array, row: usize) -> Value {
    if array.is_null(row) {
        return Value::Null;
    }
    match array.data_type() {
        DataType::Int64 => json!(array.as_primitive::<Int64Type>().value(row)),
        DataType::UInt32 => json!(array.as_primitive::<UInt32Type>().value(row)),
        DataType::Float64 => json!((array.as_primitive::<Float64Type>().value(row) * 1e4).round() / 1e4),
        DataType::Decimal128(_, 2) => {
            let fen = array.as_primitive::<Decimal128Type>().value(row);
            json!(i64::try_from(fen).map_or(f64::NAN, |f| f as f64 / 100.0))
        }
        DataType::Boolean => json!(array.as_boolean().value(row)),
        DataType::Utf8 => json!(array.as_string::<i32>().value(row)),
        _ => json!(cvm_analytics::arrow::util::display::array_value_to_string(array, row).unwrap_or_default()),
    }
}

fn summary(r: &RunRef) -> anyhow::Result<()> {
    let s: OffersSummary = read_report(&r.warehouse, &r.as_of.to_string(), files::OFFERS)?;
    let mut out = Report::new(["measure", "count"]);
    let rows: [(&str, Value); 16] = [
        ("plan fit: subscribers assessed", json!(s.plan_fit_assessed)),
        ("plan fit: persistent over-use tasks", json!(s.persistent_over_use)),
        ("plan fit: persistent under-use tasks", json!(s.persistent_under_use)),
        ("plan fit: warm reminders", json!(s.warm_reminders)),
        ("plan fit: surge and drop alerts", json!(s.alerts)),
        ("plan fit: plan changes recommended", json!(s.plan_changes_recommended)),
        ("plan fit: policy", json!(s.plan_policy)),
        ("data fit: over the data allowance", json!(s.data_over_quota)),
        ("data fit: a pack saves money", json!(s.data_pack_recommended)),
        ("device fit: subscribers needing a device", json!(s.device_needs)),
        ("device fit: handsets reserved", json!(s.devices_reserved)),
        ("device fit: units in the pools", json!(s.pool_units)),
        ("cross-sell rules", json!(s.rules)),
        ("next best offers", json!(s.offers)),
        ("subscribers with an offer", json!(s.subscribers_with_offer)),
        ("expected value of the offers, yuan", json!((s.expected_value * 100.0).round() / 100.0)),
    ];
    for (k, v) in rows {
        out.push(vec![json!(k), v]);
    }
    out.print(r.format)?;
    Ok(())
}
