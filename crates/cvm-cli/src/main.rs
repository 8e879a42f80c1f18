//! `cvm`: the command line of telco-cvm. Glue only: parse arguments, call the library
//! crates, print results. The only crate that knows about terminals and output formats.

mod commands;
mod output;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// telco-cvm: customer value management for telecom operators.
#[derive(Debug, Parser)]
#[command(name = "cvm", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print the input table schema (the contents of docs/schema.md).
    Schema(commands::schema::SchemaArgs),
    /// Generate a synthetic operator's export (every input table) with its planted truth.
    Generate(commands::generate::GenerateArgs),
    /// Import an operator export folder into the warehouse, checking every row.
    Import(commands::import::ImportArgs),
    /// Show the tables and partitions of a warehouse with their row counts.
    Warehouse(commands::warehouse::WarehouseArgs),
    /// Generate a small operator, import it, and show what each stage made.
    Demo(commands::demo::DemoArgs),
    /// Plan catalog and tariff engine: price usage under every plan.
    Plans {
        #[command(subcommand)]
        command: commands::plans::PlansCommand,
    },
    /// Product baskets: frequent itemsets and association rules for cross-selling.
    Basket {
        #[command(subcommand)]
        command: commands::basket::BasketCommand,
    },
    /// Churn early warning: cross-validate, train, evaluate and score churn models.
    Churn {
        #[command(subcommand)]
        command: commands::churn::ChurnCommand,
    },
    /// Run the monthly analytics: features, value pyramid, lifecycle, clusters, segments.
    Run(commands::run::RunArgs),
    /// The value pyramid of a run: tiers, their service strategy, the Pareto curve.
    Value(commands::value::ValueArgs),
    /// The lifecycle groups of a run: tenure bands with their revenue and churn.
    Lifecycle(commands::value::RunRef),
    /// Segments of a run: list, show, validity report; check a segments file.
    Segments {
        #[command(subcommand)]
        command: commands::segments::SegmentsCommand,
    },
    /// The data-driven clusters of a run, in the operator's units.
    Clusters(commands::value::RunRef),
    /// Churn rule warnings of a run: counts by kind, rule or branch, or the list.
    Warnings(commands::warnings::WarningsArgs),
    /// Offers of a run: plan, data and device fit, next best offer per channel.
    Offers {
        #[command(subcommand)]
        command: commands::offers::OffersCommand,
    },
    // Each command group adds its variant here, and its arm in `run` below.
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Schema(args) => commands::schema::run(args),
        Command::Generate(args) => commands::generate::run(args),
        Command::Import(args) => commands::import::run(args),
        Command::Warehouse(args) => commands::warehouse::run(args),
        Command::Demo(args) => commands::demo::run(args),
        Command::Churn { command } => commands::churn::run(command),
        Command::Plans { command } => commands::plans::run(command),
        Command::Basket { command } => commands::basket::run(command),
        Command::Run(args) => commands::run::run(args),
        Command::Value(args) => commands::value::value(args),
        Command::Lifecycle(args) => commands::value::lifecycle(args),
        Command::Segments { command } => commands::segments::run(command),
        Command::Clusters(args) => commands::segments::clusters(args),
        Command::Warnings(args) => commands::warnings::run(args),
        Command::Offers { command } => commands::offers::run(command),
    }
}

/// Arrow buffers come and go by the million in a run; mimalloc serves them faster than glibc.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `mi_option_purge_delay`: option 15 in both its v2 and v3 headers (the sys crate
/// names no constant for it).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Milliseconds freed memory stays with the process for reuse before it goes back to the
/// system (mimalloc's default: 1000). A run frees and takes again hundreds of MB a range,
/// a few seconds apart; given back each time, every page is faulted in and zeroed anew.
/// Measured on 10M subscribers (2026-12, a shared machine): 3000 ms 42.7-50.0 s, peak
/// 2.9-3.1 GiB; 5000 ms 40.4-45.9 s, 3.0-3.5 GiB; 10 000 ms 40.8-49.6 s and 3.3-3.8 GiB,
/// too near the 4 GiB a 10M run may take; never purged, 41.3 s and 3.7 GiB.
const PURGE_DELAY_MS: std::ffi::c_long = 5_000;

/// Sets the allocator's purge delay, unless the operator set `MIMALLOC_PURGE_DELAY` (read by
/// mimalloc itself when the process loads).
fn keep_freed_memory() {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        // SAFETY: sets one integer option of mimalloc; called first in `main`, before any
        // other thread exists (mimalloc's option setters are not thread-safe).
        unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, PURGE_DELAY_MS) }
    }
}

fn main() -> ExitCode {
    keep_freed_memory();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("CVM_LOG").unwrap_or_else(|_| "warn".into()))
        .with_writer(std::io::stderr)
        .init();
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::MI_OPTION_PURGE_DELAY;

    /// Run by [`option_15_is_the_purge_delay`] in a process of its own, whose environment
    /// sets the delay by name.
    #[test]
    #[ignore = "run by option_15_is_the_purge_delay with MIMALLOC_PURGE_DELAY set"]
    fn purge_delay_read_from_the_environment() {
        let expected: std::ffi::c_long = std::env::var("MIMALLOC_PURGE_DELAY").unwrap().parse().unwrap();
        // SAFETY: reads one integer option.
        assert_eq!(unsafe { libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) }, expected);
    }

    #[test]
    fn option_15_is_the_purge_delay() {
        // mimalloc reads MIMALLOC_PURGE_DELAY by name when the process loads: the option
        // number then holds that value only if it is the purge delay.
        let status = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--ignored", "--exact", "tests::purge_delay_read_from_the_environment"])
            .env("MIMALLOC_PURGE_DELAY", "4321")
            .status()
            .unwrap();
        assert!(status.success());
    }
}
