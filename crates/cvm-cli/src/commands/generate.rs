//! `cvm generate`: write a synthetic operator's export with its planted truth (cvm-synth).

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use cvm_domain::Month;
use cvm_synth::{GenerateConfig, OutputFormat};

/// Arguments of `cvm generate`.
#[derive(Debug, clap::Args)]
pub struct GenerateArgs {
    /// Number of subscribers (lines).
    #[arg(long, default_value_t = 10_000)]
    pub subscribers: u64,
    /// Months of usage, ending with --last-month.
    #[arg(long, default_value_t = 6)]
    pub months: u32,
    /// Random seed: the same seed gives byte-identical files.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Output folder: one file per table, and the planted truth under truth/.
    #[arg(long)]
    pub out: PathBuf,
    /// File format of the tables.
    #[arg(long, value_enum, default_value = "csv")]
    pub format: FormatArg,
    /// Last generated month, YYYY-MM (a fixed default, never today's date).
    #[arg(long, default_value = cvm_synth::DEFAULT_LAST_MONTH, value_parser = parse_month)]
    pub last_month: Month,
    /// Worker threads (default: every core); the output does not depend on it.
    #[arg(long)]
    pub threads: Option<usize>,
}

/// Table file format.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum FormatArg {
    /// CSV with a header line.
    Csv,
    /// Parquet typed as the warehouse stores it.
    Parquet,
}

fn parse_month(s: &str) -> Result<Month, String> {
    Month::parse(s).map_err(|e| e.to_string())
}

/// Runs `cvm generate`.
pub fn run(args: GenerateArgs) -> anyhow::Result<()> {
    let mut config = GenerateConfig::new(args.subscribers, args.months, args.seed);
    config.last_month = args.last_month;
    config.format = match args.format {
        FormatArg::Csv => OutputFormat::Csv,
        FormatArg::Parquet => OutputFormat::Parquet,
    };
    config.threads = args.threads.unwrap_or(0);
    let started = Instant::now();
    let total = args.subscribers;
    let mut last_shown = 0u64;
    let mut progress = |done: u64| {
        // A progress line on stderr about every 5%, for long runs only.
        if total >= 200_000 && (done - last_shown) * 20 >= total {
            last_shown = done;
            eprint!("\r  {done} / {total} subscribers");
            let _ = std::io::stderr().flush();
        }
    };
    let summary = cvm_synth::generate(&config, &args.out, &mut progress)?;
    if total >= 200_000 {
        eprintln!();
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "generated {} subscribers x {} months ({} to {}) into {} in {secs:.1} s",
        args.subscribers,
        args.months,
        config.first_month(),
        config.last_month,
        args.out.display()
    );
    for (table, rows) in &summary.rows {
        println!("  {table:<12} {rows:>12}");
    }
    let truth: Vec<String> = summary.truth_rows.iter().map(|(f, n)| format!("{f} {n}")).collect();
    println!("  truth/: {}", truth.join(", "));
    Ok(())
}
