//! Domain types of telco-cvm: the operator's vocabulary as Rust types, and the schema of
//! every input table.
//!
//! This crate does no I/O and knows nothing of CSV, Parquet, HTTP or terminals. Values are
//! parsed at the edge into the types here ("parse, don't validate"): a [`Month`], a
//! [`Fen`] amount or an [`Msisdn`] that exists is valid.
//!
//! [`schema`] is the single declaration of the input tables: the generator writes it, the
//! importer validates against it, and `docs/schema.md` is rendered from it.

pub mod schema;
pub mod values;

pub use values::{Date, Fen, Month, Msisdn, ValueError};
