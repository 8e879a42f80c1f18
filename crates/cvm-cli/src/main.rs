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

fn main() -> ExitCode {
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
