//! Errors of the offers crate. Messages are shown to operators as they are, so each names
//! the file, line and column it is about.

use std::path::PathBuf;

/// Why plans, usage or baskets could not be read or mined.
#[derive(Debug, thiserror::Error)]
pub enum OffersError {
    /// The file could not be opened or read.
    #[error("{file}: {source}")]
    Io {
        /// The file.
        file: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The file is not well-formed CSV (unbalanced quotes, a row of the wrong length, bad UTF-8).
    #[error("{file}, line {line}: not valid CSV: {source}")]
    Csv {
        /// The file.
        file: PathBuf,
        /// 1-based line number.
        line: u64,
        /// The underlying error.
        source: csv::Error,
    },
    /// A column the reader needs is not in the header.
    #[error("{file}: the header has no column `{column}`")]
    MissingColumn {
        /// The file.
        file: PathBuf,
        /// The missing column.
        column: String,
    },
    /// The header names a column the table does not have, or names one twice.
    #[error("{file}: column `{column}` {reason}")]
    BadHeader {
        /// The file.
        file: PathBuf,
        /// The offending column.
        column: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A field does not hold a valid value for its column.
    #[error("{file}, line {line}, column `{column}`: {reason} (value {value:?})")]
    Field {
        /// The file.
        file: PathBuf,
        /// 1-based line number.
        line: u64,
        /// The column.
        column: String,
        /// The value as read, cut to 40 characters.
        value: String,
        /// Why it is refused.
        reason: String,
    },
    /// Two rows share the same key.
    #[error("{file}, line {line}: duplicate key {key} (first seen on line {first_line})")]
    DuplicateKey {
        /// The file.
        file: PathBuf,
        /// 1-based line of the duplicate.
        line: u64,
        /// The first line with this key.
        first_line: u64,
        /// The key, as text.
        key: String,
    },
    /// A parameter of a computation is out of its range.
    #[error("{0}")]
    Parameter(String),
}
