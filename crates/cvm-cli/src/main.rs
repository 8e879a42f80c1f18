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
    // Each command group adds its variant here, and its arm in `run` below.
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Schema(args) => commands::schema::run(args),
    }
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("CVM_LOG").unwrap_or_else(|_| "warn".into()),
        )
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
