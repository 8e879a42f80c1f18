//! One module per command group; each exposes its clap arguments and a `run` function.

pub mod schema;
