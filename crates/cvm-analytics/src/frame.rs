//! Reading columns of query results by name, whatever numeric type the engine chose.

use datafusion::arrow::array::{Array, AsArray, BooleanArray, Float64Array, Int64Array, RecordBatch};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Float64Type, Int64Type};

use crate::{AnalyticsError, Result};

fn column<'a>(batch: &'a RecordBatch, name: &str) -> Result<&'a dyn Array> {
    batch.column_by_name(name).map(|c| c.as_ref()).ok_or_else(|| AnalyticsError::Warehouse {
        path: "features".into(),
        what: format!("a result lacks column `{name}`"),
    })
}

/// Column `name` as floats (nulls kept).
pub fn f64_column(batch: &RecordBatch, name: &str) -> Result<Vec<Option<f64>>> {
    Ok(f64_array(batch, name)?.iter().collect())
}

/// Column `name` as a floating-point array (no copy when the engine gave Float64 already).
pub fn f64_array(batch: &RecordBatch, name: &str) -> Result<Float64Array> {
    let c = cast(column(batch, name)?, &DataType::Float64)?;
    Ok(c.as_primitive::<Float64Type>().clone())
}

/// Column `name` as a true/false array (no copy when it is one already).
pub fn bool_array(batch: &RecordBatch, name: &str) -> Result<BooleanArray> {
    let c = cast(column(batch, name)?, &DataType::Boolean)?;
    Ok(c.as_boolean().clone())
}

/// Column `name` as whole numbers (nulls kept).
pub fn i64_column(batch: &RecordBatch, name: &str) -> Result<Vec<Option<i64>>> {
    Ok(i64_array(batch, name)?.iter().collect())
}

/// Column `name` as a whole-number array (no copy when the engine gave Int64 already).
pub fn i64_array(batch: &RecordBatch, name: &str) -> Result<Int64Array> {
    let c = cast(column(batch, name)?, &DataType::Int64)?;
    Ok(c.as_primitive::<Int64Type>().clone())
}

/// Column `name` as text (nulls kept).
pub fn string_column(batch: &RecordBatch, name: &str) -> Result<Vec<Option<String>>> {
    Ok(utf8_column(batch, name)?.iter().map(|v| v.map(str::to_owned)).collect())
}

/// Column `name` as money in fen (nulls kept): the warehouse's Decimal128(18,2) read exactly.
pub fn fen_column(batch: &RecordBatch, name: &str) -> Result<Vec<Option<i64>>> {
    let c = cast(column(batch, name)?, &DataType::Decimal128(18, 2))?;
    Ok(c.as_primitive::<datafusion::arrow::datatypes::Decimal128Type>()
        .iter()
        .map(|v| v.and_then(|v| i64::try_from(v).ok()))
        .collect())
}

/// Column `name` as flags (nulls kept).
pub fn bool_column(batch: &RecordBatch, name: &str) -> Result<Vec<Option<bool>>> {
    Ok(bool_array(batch, name)?.iter().collect())
}

/// Column `name` as a text array (borrowing rows from it avoids a String per row).
pub fn utf8_column(batch: &RecordBatch, name: &str) -> Result<datafusion::arrow::array::StringArray> {
    let c = cast(column(batch, name)?, &DataType::Utf8)?;
    Ok(c.as_string::<i32>().clone())
}
