//! `cvm demo`: a small operator end to end, on the embedded default (no server needed).
//!
//! Each stage is the same command a user would run; the demo only chains them and checks
//! that what was imported reconciles with what the generator says it wrote.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context as _;
use clap::Parser;
use serde_json::Value;

use crate::output::Format;

/// Arguments of `cvm demo`.
#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Subscribers of the synthetic operator.
    #[arg(long, default_value_t = 100_000)]
    pub subscribers: u64,
    /// Months of history.
    #[arg(long, default_value_t = 6)]
    pub months: u32,
    /// Random seed: the same seed gives the same operator.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Folder for the export and the warehouse.
    #[arg(long, default_value = "out/demo")]
    pub out: PathBuf,
}

fn step(title: &str) {
    println!("\n== {title}");
}

/// Runs the demo.
pub fn run(args: DemoArgs) -> anyhow::Result<()> {
    let export = args.out.join("export");
    let warehouse = args.out.join("warehouse");
    let started = Instant::now();

    step(&format!("1. Generate a synthetic operator: {} subscribers x {} months", args.subscribers, args.months));
    let (subscribers, months, seed) = (args.subscribers.to_string(), args.months.to_string(), args.seed.to_string());
    let export_arg = export.to_string_lossy().into_owned();
    crate::run(crate::Cli::try_parse_from([
        "cvm",
        "generate",
        "--subscribers",
        &subscribers,
        "--months",
        &months,
        "--seed",
        &seed,
        "--out",
        &export_arg,
    ])?)?;

    step("2. Import it into the warehouse, checking every row");
    let import_args = super::import::ImportArgs {
        dir: export.clone(),
        warehouse: warehouse.clone(),
        encoding: super::import::EncodingArg::Utf8,
        as_of: None,
        max_reject_rate: 0.01,
        threads: None,
        format: Format::Table,
    };
    let summary = super::import::import(&import_args)?;
    super::import::print_summary(&summary, Format::Table)?;

    step("3. Reconcile with the generator's own totals (truth/totals.json)");
    let totals: Value = serde_json::from_slice(&std::fs::read(export.join("truth/totals.json"))?)?;
    let mut all_match = true;
    for t in &summary.tables {
        let written = totals.pointer(&format!("/{}", t.table)).and_then(value_rows);
        let ok = written == Some(t.accepted);
        all_match &= ok;
        println!(
            "  {:<12} generated {:>10}  imported {:>10}  {}",
            t.table,
            written.map_or("?".into(), |n| n.to_string()),
            t.accepted,
            if ok { "ok" } else { "MISMATCH" }
        );
    }
    if !all_match {
        anyhow::bail!("the warehouse does not hold what the generator wrote; see the lines marked MISMATCH");
    }

    step("4. What the warehouse holds");
    crate::run(crate::Cli::try_parse_from(["cvm", "warehouse", "--warehouse", &warehouse.to_string_lossy()])?)?;

    // The analytics run describes the last month the warehouse has usage for.
    let usage = cvm_domain::schema::table("usage").context("the schema declares usage")?;
    let last_month = cvm_warehouse::store::months(&warehouse, usage).pop().context("the warehouse has no usage")?;
    let w = warehouse.to_string_lossy().into_owned();
    let cvm = |args: &[&str]| -> anyhow::Result<()> {
        let mut argv = vec!["cvm"];
        argv.extend_from_slice(args);
        crate::run(crate::Cli::try_parse_from(argv)?)
    };
    step(&format!("5. Analytics run as of {last_month}: features, value, lifecycle, clusters, segments"));
    cvm(&["run", "--warehouse", &w, "--as-of", &last_month])?;
    step("6. Value pyramid (cvm value) and Pareto curve (cvm value --pareto)");
    cvm(&["value", "--warehouse", &w, "--as-of", &last_month])?;
    cvm(&["value", "--warehouse", &w, "--as-of", &last_month, "--pareto"])?;
    step("7. Lifecycle groups (cvm lifecycle)");
    cvm(&["lifecycle", "--warehouse", &w, "--as-of", &last_month])?;
    step("8. Clusters (cvm clusters)");
    cvm(&["clusters", "--warehouse", &w, "--as-of", &last_month])?;
    step("9. Segment validity (cvm segments validate)");
    cvm(&["segments", "validate", "--warehouse", &w, "--as-of", &last_month])?;
    step("10. Churn warnings by kind and by rule (cvm warnings)");
    cvm(&["warnings", "--warehouse", &w, "--as-of", &last_month])?;
    cvm(&["warnings", "--warehouse", &w, "--as-of", &last_month, "--by", "rule"])?;
    step("11. Offers: plan, data and device fit, next best offer (cvm offers summary)");
    cvm(&["offers", "summary", "--warehouse", &w, "--as-of", &last_month])?;
    step("12. Plan-fit service tasks and next best offers of the first subscribers (cvm offers)");
    cvm(&["offers", "plan-fit", "--warehouse", &w, "--as-of", &last_month, "--only", "any", "--limit", "5"])?;
    cvm(&["offers", "nbo", "--warehouse", &w, "--as-of", &last_month, "--limit", "6"])?;

    println!("\ndemo finished in {:.1} s; warehouse: {}", started.elapsed().as_secs_f64(), warehouse.display());
    Ok(())
}

/// Row count of a table in totals.json: a number, or an object with `rows`.
fn value_rows(v: &Value) -> Option<u64> {
    v.as_u64().or_else(|| v.get("rows").and_then(Value::as_u64))
}
