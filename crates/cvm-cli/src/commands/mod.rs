//! One module per command group; each exposes its clap arguments and a `run` function.

pub mod demo;
pub mod generate;
pub mod import;
pub mod schema;
pub mod warehouse;
pub mod churn;
pub mod plans;
pub mod basket;
