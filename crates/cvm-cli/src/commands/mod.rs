//! One module per command group; each exposes its clap arguments and a `run` function.

pub mod basket;
pub mod churn;
pub mod demo;
pub mod generate;
pub mod import;
pub mod offers;
pub mod plans;
pub mod run;
pub mod schema;
pub mod segments;
pub mod value;
pub mod warehouse;
pub mod warnings;
