//! Row sinks: CSV bytes written directly, or Arrow column builders for Parquet.
//!
//! The generator emits every row once as a slice of typed values ([`V`]); the sink decides
//! how it is stored. CSV text is produced with `itoa` and hand-written date/money digits, so
//! no field allocates. Column builders produce the Arrow types of
//! `cvm_warehouse::arrow_schema`, so the Parquet files carry the warehouse's own types.

use std::sync::Arc;

use arrow::array::{ArrayRef, BooleanBuilder, Date32Builder, Decimal128Builder, Int64Builder, StringBuilder};
use arrow::datatypes::{DataType, SchemaRef};
use arrow::record_batch::RecordBatch;
use cvm_domain::{Date, Month};

/// One field value, typed as the schema column it fills.
#[derive(Debug, Clone, Copy)]
pub(crate) enum V<'a> {
    /// A whole number.
    Int(i64),
    /// Money in fen, written as yuan with two decimals.
    Fen(i64),
    /// A date as days since 1970-01-01 (what the generator computes with).
    Date(i32),
    /// A month, written `YYYY-MM`.
    Month(Month),
    /// Text, a code or an enum value. Never contains `,`, `"` or a line break.
    Str(&'a str),
    /// A flag, written `1`/`0`.
    Bool(bool),
    /// A missing optional value: an empty field.
    Null,
}

/// An Arrow column being built.
enum Col {
    Int(Int64Builder),
    Money(Decimal128Builder),
    Date(Date32Builder),
    Bool(BooleanBuilder),
    Str(StringBuilder),
}

enum Store {
    Csv(Vec<u8>),
    Cols(Vec<Col>),
}

/// The rows of one table produced by one chunk of subscribers (or by a catalog).
pub(crate) struct Rows {
    /// Rows pushed so far.
    pub count: u64,
    store: Store,
}

impl Rows {
    /// Rows kept as CSV bytes (no header: the writer adds it once per file).
    pub fn csv() -> Rows {
        Rows { count: 0, store: Store::Csv(Vec::with_capacity(1 << 16)) }
    }

    /// Rows kept as Arrow columns of `schema`.
    pub fn columns(schema: &SchemaRef) -> Rows {
        let cols = schema
            .fields()
            .iter()
            .map(|f| match f.data_type() {
                DataType::Int64 => Col::Int(Int64Builder::new()),
                DataType::Decimal128(p, s) => Col::Money(
                    // Precision and scale come from the warehouse mapping and are valid there.
                    Decimal128Builder::new().with_precision_and_scale(*p, *s).unwrap_or_default(),
                ),
                DataType::Date32 => Col::Date(Date32Builder::new()),
                DataType::Boolean => Col::Bool(BooleanBuilder::new()),
                _ => Col::Str(StringBuilder::new()),
            })
            .collect();
        Rows { count: 0, store: Store::Cols(cols) }
    }

    /// Appends one row; `vals` is in the table's column order.
    pub fn push(&mut self, vals: &[V<'_>]) {
        self.count += 1;
        match &mut self.store {
            Store::Csv(buf) => {
                for (i, v) in vals.iter().enumerate() {
                    if i > 0 {
                        buf.push(b',');
                    }
                    write_csv_value(buf, *v);
                }
                buf.push(b'\n');
            }
            Store::Cols(cols) => {
                debug_assert_eq!(cols.len(), vals.len());
                for (c, v) in cols.iter_mut().zip(vals) {
                    push_col(c, *v);
                }
            }
        }
    }

    /// The CSV bytes, when kept as CSV.
    pub fn csv_bytes(&self) -> Option<&[u8]> {
        match &self.store {
            Store::Csv(b) => Some(b),
            Store::Cols(_) => None,
        }
    }

    /// The rows as one record batch of `schema` (emptying the builders), when kept as
    /// columns and not empty.
    pub fn take_batch(&mut self, schema: &SchemaRef) -> Result<Option<RecordBatch>, arrow::error::ArrowError> {
        let Store::Cols(cols) = &mut self.store else { return Ok(None) };
        if self.count == 0 {
            return Ok(None);
        }
        let arrays: Vec<ArrayRef> = cols
            .iter_mut()
            .map(|c| -> ArrayRef {
                match c {
                    Col::Int(b) => Arc::new(b.finish()),
                    Col::Money(b) => Arc::new(b.finish()),
                    Col::Date(b) => Arc::new(b.finish()),
                    Col::Bool(b) => Arc::new(b.finish()),
                    Col::Str(b) => Arc::new(b.finish()),
                }
            })
            .collect();
        RecordBatch::try_new(schema.clone(), arrays).map(Some)
    }
}

fn push_col(c: &mut Col, v: V<'_>) {
    match (c, v) {
        (Col::Int(b), V::Int(x)) => b.append_value(x),
        (Col::Money(b), V::Fen(x)) => b.append_value(i128::from(x)),
        (Col::Date(b), V::Date(d)) => b.append_value(d),
        (Col::Bool(b), V::Bool(x)) => b.append_value(x),
        (Col::Str(b), V::Str(s)) => b.append_value(s),
        (Col::Str(b), V::Month(m)) => {
            let y = m.year() as u32;
            let mo = m.month();
            let d = |x: u32| b'0' + (x % 10) as u8;
            let tmp = [d(y / 1000), d(y / 100), d(y / 10), d(y), b'-', d(mo / 10), d(mo)];
            // Month digits are ASCII.
            b.append_value(std::str::from_utf8(&tmp).unwrap_or_default());
        }
        (Col::Int(b), V::Null) => b.append_null(),
        (Col::Money(b), V::Null) => b.append_null(),
        (Col::Date(b), V::Null) => b.append_null(),
        (Col::Bool(b), V::Null) => b.append_null(),
        (Col::Str(b), V::Null) => b.append_null(),
        (_, v) => unreachable!("value {v:?} does not fit its column type"),
    }
}

/// Writes one CSV field.
pub(crate) fn write_csv_value(buf: &mut Vec<u8>, v: V<'_>) {
    match v {
        V::Int(x) => buf.extend_from_slice(itoa::Buffer::new().format(x).as_bytes()),
        V::Fen(x) => write_fen(buf, x),
        V::Date(d) => write_date(buf, d),
        V::Month(m) => write_month(buf, m),
        V::Str(s) => {
            debug_assert!(!s.contains([',', '"', '\n', '\r']), "unquotable text {s:?}");
            buf.extend_from_slice(s.as_bytes());
        }
        V::Bool(b) => buf.push(if b { b'1' } else { b'0' }),
        V::Null => {}
    }
}

/// Yuan with two decimals: 5850 fen -> `58.50`.
pub(crate) fn write_fen(buf: &mut Vec<u8>, fen: i64) {
    if fen < 0 {
        buf.push(b'-');
    }
    let a = fen.unsigned_abs();
    buf.extend_from_slice(itoa::Buffer::new().format(a / 100).as_bytes());
    buf.push(b'.');
    push2(buf, (a % 100) as u32);
}

fn push2(buf: &mut Vec<u8>, n: u32) {
    buf.push(b'0' + (n / 10 % 10) as u8);
    buf.push(b'0' + (n % 10) as u8);
}

fn push4(buf: &mut Vec<u8>, n: u32) {
    push2(buf, n / 100);
    push2(buf, n % 100);
}

/// `YYYY-MM-DD` of a day number.
pub(crate) fn write_date(buf: &mut Vec<u8>, days: i32) {
    let d = Date::from_days_since_epoch(days);
    let m = d.month();
    push4(buf, m.year() as u32);
    buf.push(b'-');
    push2(buf, m.month());
    buf.push(b'-');
    push2(buf, d.day());
}

/// `YYYY-MM`.
pub(crate) fn write_month(buf: &mut Vec<u8>, m: Month) {
    push4(buf, m.year() as u32);
    buf.push(b'-');
    push2(buf, m.month());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_formatted_like_the_schema_wants() {
        let mut r = Rows::csv();
        let d = Date::parse("2026-02-03").unwrap().days_since_epoch();
        r.push(&[
            V::Int(-12),
            V::Fen(5),
            V::Fen(58_800),
            V::Date(d),
            V::Month(Month::parse("2026-10").unwrap()),
            V::Str("王小明"),
            V::Bool(true),
            V::Null,
        ]);
        assert_eq!(
            std::str::from_utf8(r.csv_bytes().unwrap()).unwrap(),
            "-12,0.05,588.00,2026-02-03,2026-10,王小明,1,\n"
        );
        assert_eq!(r.count, 1);
    }
}
