//! Readers of the `plans` and `usage` CSV files, in the format of `docs/schema.md`.
//!
//! Every field is checked against the column's declaration in [`cvm_domain::schema`] (the
//! same ranges the importer enforces), and the first invalid field stops the read with an
//! error naming the file, line and column: a price computed from a half-read catalog would
//! be wrong without anyone noticing.
//!
//! The `plans` file must carry every column of the table. The `usage` file must carry the
//! columns pricing needs (`subscriber_id`, `month`, `voice_min`, `data_mb`, `sms`); the other
//! columns of the `usage` table may be present and are checked but not used. Columns the
//! table does not have are refused, as the importer refuses them.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::fs::File;
use std::io::Read;
use std::num::NonZeroU64;
use std::path::{Path, PathBuf};

use cvm_domain::schema::{self, Column, Kind, Table};
use cvm_domain::{Fen, Month};

use crate::error::OffersError;
use crate::tariff::{PaymentType, Plan, PlanStatus, UsageMonth};

/// Columns of the `usage` table that pricing needs.
pub const USAGE_PRICING_COLUMNS: &[&str] = &["subscriber_id", "month", "voice_min", "data_mb", "sms"];

/// Reads a plan catalog (`plans.csv`). Plan ids must be unique.
pub fn read_plans(path: &Path) -> Result<Vec<Plan>, OffersError> {
    let file = File::open(path).map_err(|source| OffersError::Io { file: path.to_owned(), source })?;
    read_plans_from(path, file)
}

/// Reads a plan catalog from `input`; `path` names it in errors.
pub fn read_plans_from(path: &Path, input: impl Read) -> Result<Vec<Plan>, OffersError> {
    let table = table("plans");
    let all: Vec<&str> = table.columns.iter().map(|c| c.name).collect();
    let mut reader = TableReader::new(path, input, table, &all)?;
    let mut plans = Vec::new();
    let mut seen: HashMap<String, u64> = HashMap::new();
    while let Some(row) = reader.next_row()? {
        let plan = Plan {
            plan_id: row.text("plan_id")?.to_owned(),
            plan_name: row.text("plan_name")?.to_owned(),
            brand: row.text("brand")?.to_owned(),
            payment_type: payment_type(row.text("payment_type")?),
            monthly_fee: row.money("monthly_fee")?,
            voice_min: row.count("voice_min")?,
            data_mb: row.count("data_mb")?,
            sms: row.count("sms")?,
            voice_overage_per_min: row.money("voice_overage_per_min")?,
            data_overage_unit_mb: NonZeroU64::new(row.count("data_overage_unit_mb")?)
                .ok_or_else(|| row.field_error("data_overage_unit_mb", "must be at least 1".into()))?,
            data_overage_per_unit: row.money("data_overage_per_unit")?,
            sms_overage_per_msg: row.money("sms_overage_per_msg")?,
            min_tenure_months: u32::try_from(row.count("min_tenure_months")?)
                .map_err(|_| row.field_error("min_tenure_months", "too large".into()))?,
            vip: row.flag("vip")?,
            status: if row.text("status")? == "on_sale" { PlanStatus::OnSale } else { PlanStatus::Retired },
        };
        match seen.entry(plan.plan_id.clone()) {
            Entry::Occupied(first) => {
                return Err(OffersError::DuplicateKey {
                    file: path.to_owned(),
                    line: row.line,
                    first_line: *first.get(),
                    key: format!("plan_id={}", plan.plan_id),
                });
            }
            Entry::Vacant(v) => {
                v.insert(row.line);
            }
        }
        plans.push(plan);
    }
    Ok(plans)
}

/// Reads monthly usage (`usage.csv`). A subscriber has at most one row per month.
pub fn read_usage(path: &Path) -> Result<Vec<UsageMonth>, OffersError> {
    let file = File::open(path).map_err(|source| OffersError::Io { file: path.to_owned(), source })?;
    read_usage_from(path, file)
}

/// Reads monthly usage from `input`; `path` names it in errors.
pub fn read_usage_from(path: &Path, input: impl Read) -> Result<Vec<UsageMonth>, OffersError> {
    let mut reader = TableReader::new(path, input, table("usage"), USAGE_PRICING_COLUMNS)?;
    let mut rows = Vec::new();
    let mut seen: HashMap<(i64, Month), u64> = HashMap::new();
    while let Some(row) = reader.next_row()? {
        let usage = UsageMonth {
            subscriber_id: row.int("subscriber_id")?,
            month: row.month("month")?,
            voice_min: row.count("voice_min")?,
            data_mb: row.count("data_mb")?,
            sms: row.count("sms")?,
        };
        match seen.entry((usage.subscriber_id, usage.month)) {
            Entry::Occupied(first) => {
                return Err(OffersError::DuplicateKey {
                    file: path.to_owned(),
                    line: row.line,
                    first_line: *first.get(),
                    key: format!("subscriber_id={} month={}", usage.subscriber_id, usage.month),
                });
            }
            Entry::Vacant(v) => {
                v.insert(row.line);
            }
        }
        rows.push(usage);
    }
    Ok(rows)
}

fn table(name: &str) -> &'static Table {
    // The names are this module's own constants; the schema declares both tables.
    schema::table(name).unwrap_or_else(|| unreachable!("the schema declares table {name}"))
}

fn payment_type(s: &str) -> PaymentType {
    // The field was checked against the schema's enum before this is called.
    PaymentType::parse(s).unwrap_or(PaymentType::Postpaid)
}

/// A CSV reader that maps header names to the table's columns and checks each field.
struct TableReader<R: Read> {
    file: PathBuf,
    reader: csv::Reader<R>,
    /// For each column of the file, the schema column it is.
    columns: Vec<&'static Column>,
    /// Position in the file of each schema column present.
    position: HashMap<&'static str, usize>,
    record: csv::StringRecord,
}

impl<R: Read> TableReader<R> {
    fn new(path: &Path, input: R, table: &'static Table, required: &[&str]) -> Result<Self, OffersError> {
        let file = path.to_owned();
        let mut reader = csv::ReaderBuilder::new().has_headers(true).flexible(false).from_reader(input);
        let headers =
            reader.headers().map_err(|source| OffersError::Csv { file: file.clone(), line: 1, source })?.clone();
        let mut columns = Vec::with_capacity(headers.len());
        let mut position = HashMap::new();
        for (i, name) in headers.iter().enumerate() {
            // A UTF-8 byte-order mark is allowed before the first column name.
            let name = if i == 0 { name.trim_start_matches('\u{feff}') } else { name };
            let Some(column) = table.column(name) else {
                let known: Vec<&str> = table.columns.iter().map(|c| c.name).collect();
                return Err(OffersError::BadHeader {
                    file,
                    column: name.to_owned(),
                    reason: format!("is not a column of table `{}` ({})", table.name, known.join(", ")),
                });
            };
            if position.insert(column.name, i).is_some() {
                return Err(OffersError::BadHeader { file, column: name.to_owned(), reason: "appears twice".into() });
            }
            columns.push(column);
        }
        for name in required {
            if !position.contains_key(name) {
                return Err(OffersError::MissingColumn { file, column: (*name).to_owned() });
            }
        }
        Ok(TableReader { file, reader, columns, position, record: csv::StringRecord::new() })
    }

    /// The next row, with every field checked against its column; `None` at the end.
    fn next_row(&mut self) -> Result<Option<Row<'_>>, OffersError> {
        match self.reader.read_record(&mut self.record) {
            Ok(false) => return Ok(None),
            Ok(true) => {}
            Err(source) => {
                let line = source.position().map_or(0, |p| p.line());
                return Err(OffersError::Csv { file: self.file.clone(), line, source });
            }
        }
        let line = self.record.position().map_or(0, |p| p.line());
        let row = Row { file: &self.file, line, record: &self.record, position: &self.position };
        for (i, column) in self.columns.iter().enumerate() {
            let value = self.record.get(i).unwrap_or("");
            if let Err(reason) = check(column, value) {
                return Err(row.field_error(column.name, reason));
            }
        }
        Ok(Some(row))
    }
}

/// One checked row.
struct Row<'a> {
    file: &'a Path,
    line: u64,
    record: &'a csv::StringRecord,
    position: &'a HashMap<&'static str, usize>,
}

impl Row<'_> {
    fn field_error(&self, column: &str, reason: String) -> OffersError {
        let value = self.position.get(column).and_then(|&i| self.record.get(i)).unwrap_or("");
        OffersError::Field {
            file: self.file.to_owned(),
            line: self.line,
            column: column.to_owned(),
            value: value.chars().take(40).collect(),
            reason,
        }
    }

    fn text(&self, column: &str) -> Result<&str, OffersError> {
        self.position
            .get(column)
            .and_then(|&i| self.record.get(i))
            .ok_or_else(|| self.field_error(column, "missing".into()))
    }

    fn int(&self, column: &str) -> Result<i64, OffersError> {
        self.text(column)?.parse().map_err(|_| self.field_error(column, "expected a whole number".into()))
    }

    fn count(&self, column: &str) -> Result<u64, OffersError> {
        u64::try_from(self.int(column)?).map_err(|_| self.field_error(column, "must not be negative".into()))
    }

    fn money(&self, column: &str) -> Result<Fen, OffersError> {
        Fen::parse_yuan(self.text(column)?).map_err(|e| self.field_error(column, e.to_string()))
    }

    fn month(&self, column: &str) -> Result<Month, OffersError> {
        Month::parse(self.text(column)?).map_err(|e| self.field_error(column, e.to_string()))
    }

    fn flag(&self, column: &str) -> Result<bool, OffersError> {
        parse_flag(self.text(column)?).ok_or_else(|| self.field_error(column, "expected yes or no".into()))
    }
}

/// A yes/no flag as the schema accepts it: `1/0`, `y/n`, `yes/no`, `true/false`, any case.
pub fn parse_flag(s: &str) -> Option<bool> {
    match s.to_ascii_lowercase().as_str() {
        "1" | "y" | "yes" | "true" => Some(true),
        "0" | "n" | "no" | "false" => Some(false),
        _ => None,
    }
}

/// Checks one field against its column's declaration; the reason when it is refused.
fn check(column: &Column, value: &str) -> Result<(), String> {
    if value.is_empty() {
        return if column.required { Err("a value is required".into()) } else { Ok(()) };
    }
    if value.trim() != value {
        return Err("surrounding spaces are refused".into());
    }
    match column.kind {
        Kind::Int { min, max } => match value.parse::<i64>() {
            Ok(n) if (min..=max).contains(&n) => Ok(()),
            Ok(_) => Err(format!("expected a whole number from {min} to {max}")),
            Err(_) => Err("expected a whole number".into()),
        },
        Kind::Money { min_fen, max_fen } => {
            let fen = Fen::parse_yuan(value).map_err(|e| e.to_string())?;
            if (min_fen..=max_fen).contains(&fen.0) {
                Ok(())
            } else {
                Err(format!("expected an amount from {} to {} yuan", Fen(min_fen), Fen(max_fen)))
            }
        }
        Kind::Code => {
            let ok = value.len() <= 32 && value.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
            if ok { Ok(()) } else { Err("expected a code of 1-32 characters A-Z a-z 0-9 _ -".into()) }
        }
        Kind::Text { max_chars } => {
            if value.chars().count() <= max_chars {
                Ok(())
            } else {
                Err(format!("longer than {max_chars} characters"))
            }
        }
        Kind::Enum(values) => {
            if values.contains(&value) {
                Ok(())
            } else {
                Err(format!("expected one of {}", values.join(", ")))
            }
        }
        Kind::EnumList(values) => match value.split(';').find(|v| !values.contains(v)) {
            None => Ok(()),
            Some(bad) => Err(format!("{bad:?} is not one of {}", values.join(", "))),
        },
        Kind::Bool => parse_flag(value).map(|_| ()).ok_or_else(|| "expected yes or no".into()),
        Kind::Month => Month::parse(value).map(|_| ()).map_err(|e| e.to_string()),
        Kind::Date { .. } => cvm_domain::Date::parse(value).map(|_| ()).map_err(|e| e.to_string()),
        Kind::Msisdn => cvm_domain::Msisdn::parse(value).map(|_| ()).map_err(|e| e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PLANS_HEADER: &str = "plan_id,plan_name,brand,payment_type,monthly_fee,voice_min,data_mb,sms,voice_overage_per_min,data_overage_unit_mb,data_overage_per_unit,sms_overage_per_msg,min_tenure_months,vip,status";

    fn plans(body: &str) -> Result<Vec<Plan>, OffersError> {
        read_plans_from(Path::new("plans.csv"), format!("{PLANS_HEADER}\n{body}").as_bytes())
    }

    #[test]
    fn reads_a_plan() {
        let p = plans("P58,畅享58,mass,postpaid,58,300,10240,100,0.15,1024,5,0.1,0,no,on_sale\n").unwrap();
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].monthly_fee, Fen(5800));
        assert_eq!(p[0].sms_overage_per_msg, Fen(10));
        assert_eq!(p[0].data_overage_unit_mb.get(), 1024);
        assert_eq!(p[0].status, PlanStatus::OnSale);
    }

    #[test]
    fn errors_name_file_line_and_column() {
        let err = plans(
            "P58,a,mass,postpaid,58,300,10240,100,0.15,1024,5,0.1,0,no,on_sale\nP88,b,mass,postpaid,88,300,0,100,0.15,1024,5,0.105,0,no,on_sale\n",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("plans.csv, line 3, column `sms_overage_per_msg`"), "{err}");
        let err = plans("P58,a,mass,postpaid,58,300,10240,100,0.15,0,5,0.1,0,no,on_sale\n").unwrap_err().to_string();
        assert!(err.contains("line 2, column `data_overage_unit_mb`"), "{err}");
        let err = plans("P58,a,mass,weekly,58,300,10240,100,0.15,1,5,0.1,0,no,on_sale\n").unwrap_err().to_string();
        assert!(err.contains("column `payment_type`"), "{err}");
        let row = "P58,a,mass,postpaid,58,300,10240,100,0.15,1,5,0.1,0,no,on_sale\n";
        let err = plans(&format!("{row}{row}")).unwrap_err().to_string();
        assert!(err.contains("line 3: duplicate key plan_id=P58 (first seen on line 2)"), "{err}");
    }

    #[test]
    fn usage_needs_the_pricing_columns_and_refuses_unknown_ones() {
        let read = |s: &str| read_usage_from(Path::new("usage.csv"), s.as_bytes());
        let ok = read("\u{feff}subscriber_id,month,voice_min,data_mb,sms,revenue\n7,2026-01,10,20,3,58.00\n").unwrap();
        assert_eq!(ok[0].data_mb, 20);
        let err = read("subscriber_id,month,voice_min,data_mb\n7,2026-01,10,20\n").unwrap_err().to_string();
        assert!(err.contains("no column `sms`"), "{err}");
        let err = read("subscriber_id,month,voice_min,data_mb,sms,foo\n").unwrap_err().to_string();
        assert!(err.contains("`foo` is not a column of table `usage`"), "{err}");
        let err = read("subscriber_id,month,voice_min,data_mb,sms\n7,2026-13,10,20,3\n").unwrap_err().to_string();
        assert!(err.contains("usage.csv, line 2, column `month`"), "{err}");
        let err = read("subscriber_id,month,voice_min,data_mb,sms\n7,2026-01,-1,20,3\n").unwrap_err().to_string();
        assert!(err.contains("column `voice_min`"), "{err}");
    }
}
