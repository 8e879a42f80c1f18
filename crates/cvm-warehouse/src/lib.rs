//! The customer database (客户数据库): operator exports in, a Parquet warehouse out.
//!
//! `import` reads each table's CSV (UTF-8 or GBK) or Parquet export, checks every row
//! against [`cvm_domain::schema`], sets rejected rows aside with file, line, column, value
//! and reason, and writes accepted rows to the warehouse:
//!
//! ```text
//! W/<table>/snapshot.parquet               snapshot tables (subscribers, plans, ...)
//! W/<table>/month=YYYY-MM/data.parquet     month-partitioned tables (usage, events, sales)
//! W/_imports/<import-id>/summary.json      what each import read, accepted and rejected
//! W/_imports/<import-id>/rejects.csv       every rejected row with its reason
//! ```
//!
//! Every file is written to a temporary name and renamed into place once complete, so a
//! reader or a crash never sees half a file.

pub mod arrow_schema;
pub mod id_set;
pub mod import;
pub mod source;
pub mod store;
pub mod validate;

use std::path::PathBuf;

pub use import::{ImportOptions, ImportSummary, TableSummary, import};
pub use source::Encoding;

/// Why an import (or a warehouse read) could not go on. Row problems are not errors: they
/// become rejects. These are problems with whole files or the warehouse.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// A Parquet file could not be read or written.
    #[error("{path}: {message}")]
    Parquet {
        /// The file.
        path: PathBuf,
        /// What the Parquet library said.
        message: String,
    },
    /// The header line does not fit the table.
    #[error("{file}, line 1: {message}")]
    Header {
        /// The file.
        file: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// The folder holds no table file.
    #[error("{dir}: no table files found (expected files like subscribers.csv or usage.parquet)")]
    NoTables {
        /// The folder.
        dir: PathBuf,
    },
    /// A table has both a CSV and a Parquet file.
    #[error("table {table} has both a .csv and a .parquet file; keep one")]
    TwoFiles {
        /// The table.
        table: &'static str,
    },
    /// A referenced table is neither in the import nor in the warehouse.
    #[error(
        "{table} refers to {referenced}, which is neither in this import nor in the warehouse; import {referenced} first"
    )]
    MissingReference {
        /// The referring table.
        table: &'static str,
        /// The table it needs.
        referenced: &'static str,
    },
    /// Too many rows of a file were rejected.
    #[error(
        "{file}: {rejected} of {read} rows rejected ({:.2}%), above the limit of {:.2}% (--max-reject-rate); \
         nothing was written to the warehouse",
        100.0 * *rejected as f64 / (*read).max(1) as f64,
        100.0 * limit
    )]
    RejectRate {
        /// The file.
        file: String,
        /// Rows rejected.
        rejected: u64,
        /// Rows read.
        read: u64,
        /// The limit, as a share.
        limit: f64,
    },
    /// Another import holds the warehouse.
    #[error(
        "another import is writing this warehouse ({path} held by process {holder}); if none is running, remove that file"
    )]
    Locked {
        /// The lock file.
        path: PathBuf,
        /// Process id written in it.
        holder: String,
    },
    /// A bug: an invariant of the importer did not hold.
    #[error("internal error (a bug, please report): {0}")]
    Internal(String),
}
