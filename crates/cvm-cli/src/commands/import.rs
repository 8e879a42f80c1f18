//! `cvm import`: an export folder into the warehouse, with a reconciled summary.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use cvm_domain::Date;
use cvm_warehouse::{Encoding, ImportOptions, ImportSummary};
use serde_json::json;

use crate::output::{Format, Report};

/// Arguments of `cvm import`.
#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// Folder with one export file per table (`subscribers.csv`, `usage.parquet`, ...).
    pub dir: PathBuf,
    /// Warehouse folder (created if missing).
    #[arg(long, short)]
    pub warehouse: PathBuf,
    /// Text encoding of the CSV files.
    #[arg(long, value_enum, default_value = "utf8")]
    pub encoding: EncodingArg,
    /// Dates after this day are refused as future dates (default: today).
    #[arg(long, value_parser = parse_date)]
    pub as_of: Option<Date>,
    /// Fail the import, changing nothing, if a table rejects more than this share of rows.
    #[arg(long, default_value_t = 0.01)]
    pub max_reject_rate: f64,
    /// Checker threads (default: the machine's cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Summary format.
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
}

/// CSV encodings.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum EncodingArg {
    /// UTF-8.
    Utf8,
    /// GBK (GB2312 is a subset).
    Gbk,
}

/// Parses a `YYYY-MM-DD` argument.
pub fn parse_date(s: &str) -> Result<Date, String> {
    Date::parse(s).map_err(|e| e.to_string())
}

/// Today's date in UTC.
pub fn today() -> Date {
    let secs = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    Date::from_days_since_epoch((secs / 86_400) as i32)
}

/// A sortable name for an import: `YYYYMMDDTHHMMSSZ-<pid>`.
fn import_id() -> String {
    let secs = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let day = Date::from_days_since_epoch((secs / 86_400) as i32).to_string().replace('-', "");
    let t = secs % 86_400;
    format!("{day}T{:02}{:02}{:02}Z-{}", t / 3600, t / 60 % 60, t % 60, std::process::id())
}

/// Runs `cvm import` and returns its summary.
pub fn import(args: &ImportArgs) -> anyhow::Result<ImportSummary> {
    if !(0.0..=1.0).contains(&args.max_reject_rate) {
        anyhow::bail!("--max-reject-rate must be between 0 and 1, got {}", args.max_reject_rate);
    }
    let opts = ImportOptions {
        encoding: match args.encoding {
            EncodingArg::Utf8 => Encoding::Utf8,
            EncodingArg::Gbk => Encoding::Gbk,
        },
        as_of: args.as_of.unwrap_or_else(today),
        max_reject_rate: args.max_reject_rate,
        threads: args.threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get())),
        import_id: import_id(),
    };
    let last_report = Mutex::new((String::new(), Instant::now()));
    let on_terminal = std::io::stderr().is_terminal();
    let progress = |table: &str, rows: u64| {
        if !on_terminal {
            return;
        }
        let Ok(mut last) = last_report.lock() else { return };
        if last.0 != table || last.1.elapsed().as_secs_f64() > 1.0 {
            eprint!("\r  {table}: {rows} rows read   ");
            let _ = std::io::stderr().flush();
            *last = (table.to_owned(), Instant::now());
        }
    };
    let result = cvm_warehouse::import(&args.dir, &args.warehouse, &opts, &progress);
    if on_terminal {
        eprint!("\r{}\r", " ".repeat(60));
    }
    result.with_context(|| format!("import of {} into {} failed", args.dir.display(), args.warehouse.display()))
}

/// Runs `cvm import` and prints the summary.
pub fn run(args: ImportArgs) -> anyhow::Result<()> {
    let summary = import(&args)?;
    print_summary(&summary, args.format)
}

/// Prints an import summary: one line per table, then where the rejects are.
pub fn print_summary(summary: &ImportSummary, format: Format) -> anyhow::Result<()> {
    if format == Format::Json {
        println!("{}", serde_json::to_string_pretty(summary)?);
        return Ok(());
    }
    let mut report = Report::new(["table", "file", "read", "accepted", "rejected", "partitions", "top problem"]);
    for t in &summary.tables {
        let top = t.problems.iter().max_by_key(|(_, n)| **n).map(|(p, n)| format!("{p} ({n})")).unwrap_or_default();
        let parts = match t.partitions.len() {
            0 => String::new(),
            1 => t.partitions.keys().next().cloned().unwrap_or_default(),
            n => format!("{n} months"),
        };
        report.push(vec![
            json!(t.table),
            json!(t.file),
            json!(t.read),
            json!(t.accepted),
            json!(t.rejected),
            json!(parts),
            json!(top),
        ]);
    }
    report.print(format)?;
    if format == Format::Table {
        let read: u64 = summary.tables.iter().map(|t| t.read).sum();
        let rejected: u64 = summary.tables.iter().map(|t| t.rejected).sum();
        println!();
        println!(
            "import {}: {} rows read, {} accepted, {} rejected in {:.1} s; read = accepted + rejected: {}",
            summary.import_id,
            read,
            read - rejected,
            rejected,
            summary.seconds,
            if summary.reconciles() { "yes" } else { "NO" }
        );
        if rejected > 0 {
            println!("rejected rows with file, line, column and reason: {}", summary.rejects_file);
        }
        for f in &summary.skipped_files {
            println!("skipped (not a table file): {f}");
        }
    }
    Ok(())
}
