//! How schema column kinds are stored in Arrow and Parquet.

use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use cvm_domain::schema::{Kind, Table};

/// Money is stored as exact decimals with two places (yuan and fen).
pub const MONEY: DataType = DataType::Decimal128(18, 2);

/// The Arrow type a column of `kind` is stored as.
pub fn data_type(kind: Kind) -> DataType {
    match kind {
        Kind::Int { .. } => DataType::Int64,
        Kind::Money { .. } => MONEY,
        Kind::Date { .. } => DataType::Date32,
        Kind::Bool => DataType::Boolean,
        // Months stay `YYYY-MM` text: ordered as text, readable, and the partition name.
        Kind::Month | Kind::Code | Kind::Text { .. } | Kind::Enum(_) | Kind::EnumList(_) | Kind::Msisdn => {
            DataType::Utf8
        }
    }
}

/// The Arrow schema of a table, columns in file order; optional columns are nullable.
pub fn arrow_schema(table: &Table) -> SchemaRef {
    let fields: Vec<Field> = table.columns.iter().map(|c| Field::new(c.name, data_type(c.kind), !c.required)).collect();
    Arc::new(Schema::new(fields))
}
