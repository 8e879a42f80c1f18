//! Checking one row of an export against its table's schema: field kinds, then row rules.
//!
//! Pure functions over text fields; the import pipeline calls them from several threads.
//! Duplicate keys and references need the whole import's state and are checked later, in
//! file order (see `crate::import`).

use cvm_domain::schema::{Column, Kind, Table};
use cvm_domain::{Date, Fen, Month, Msisdn};

/// One field's parsed value, borrowing text from the record.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell<'a> {
    /// Empty field of an optional column.
    Null,
    /// Whole number.
    Int(i64),
    /// Money in fen.
    Money(i64),
    /// Text as it appears (codes, enums, lists, months).
    Text(&'a str),
    /// Text that was normalised (an MSISDN without its +86).
    Owned(String),
    /// Days since 1970-01-01.
    Date(i32),
    /// Yes/no flag.
    Bool(bool),
}

impl Cell<'_> {
    /// The text of a text-like cell.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Cell::Text(s) => Some(s),
            Cell::Owned(s) => Some(s),
            _ => None,
        }
    }
}

/// Why a field or row was refused. Each variant is one kind of problem, so the summary can
/// count them; the text says what to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    /// Required column left empty.
    #[error("missing value")]
    Missing,
    /// Not valid text in the file's encoding.
    #[error("not valid {0} text")]
    Encoding(&'static str),
    /// Leading or trailing spaces (refused rather than trimmed, so nothing changes silently).
    #[error("surrounding spaces")]
    Spaces,
    /// Not of the column's type.
    #[error("{0}")]
    Type(String),
    /// Of the right type but outside the allowed range.
    #[error("{0}")]
    Range(String),
    /// Not one of the allowed values.
    #[error("{0}")]
    NotAllowed(String),
    /// A date or month after the import's as-of date.
    #[error("{0} is in the future (as-of {1})")]
    Future(String, String),
    /// The record does not have the header's number of fields.
    #[error("has {found} fields, the header has {expected}")]
    FieldCount {
        /// Fields in the header.
        expected: usize,
        /// Fields in this record.
        found: usize,
    },
    /// A rule between columns of the row is broken.
    #[error("{0}")]
    Rule(&'static str),
    /// Same key as an earlier row.
    #[error("duplicate key: same {0} as line {1}")]
    Duplicate(String, u64),
    /// A reference to a row that does not exist.
    #[error("unknown {0}")]
    UnknownReference(&'static str),
}

impl Problem {
    /// A short stable name of the kind of problem, for counting.
    pub fn category(&self) -> &'static str {
        match self {
            Problem::Missing => "missing",
            Problem::Encoding(_) => "encoding",
            Problem::Spaces => "spaces",
            Problem::Type(_) => "type",
            Problem::Range(_) => "range",
            Problem::NotAllowed(_) => "not_allowed",
            Problem::Future(..) => "future",
            Problem::FieldCount { .. } => "field_count",
            Problem::Rule(_) => "rule",
            Problem::Duplicate(..) => "duplicate",
            Problem::UnknownReference(_) => "unknown_reference",
        }
    }
}

/// What rows are checked against besides the schema.
#[derive(Debug, Clone, Copy)]
pub struct Context {
    /// Dates after this are in the future.
    pub as_of: Date,
}

/// Parses one field of `column`. `raw` is the field's bytes in UTF-8.
pub fn parse_field<'a>(column: &Column, raw: &'a [u8], ctx: &Context) -> Result<Cell<'a>, Problem> {
    if raw.is_empty() {
        return if column.required { Err(Problem::Missing) } else { Ok(Cell::Null) };
    }
    let text = std::str::from_utf8(raw).map_err(|_| Problem::Encoding("UTF-8"))?;
    if text.starts_with(char::is_whitespace) || text.ends_with(char::is_whitespace) {
        return Err(Problem::Spaces);
    }
    match column.kind {
        Kind::Int { min, max } => {
            let v = parse_int(text).ok_or_else(|| Problem::Type(format!("not a whole number: {}", cut(text))))?;
            if v < min || v > max {
                return Err(Problem::Range(range_text(v, min, max)));
            }
            Ok(Cell::Int(v))
        }
        Kind::Money { min_fen, max_fen } => {
            let Fen(v) = Fen::parse_yuan(text).map_err(|e| Problem::Type(e.to_string()))?;
            if v < min_fen || v > max_fen {
                return Err(Problem::Range(format!("{} is outside {} to {} yuan", Fen(v), Fen(min_fen), Fen(max_fen))));
            }
            Ok(Cell::Money(v))
        }
        Kind::Code => {
            let ok = text.len() <= 32 && text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
            if !ok {
                return Err(Problem::Type(format!("not a code of 1-32 letters, digits, _ or -: {}", cut(text))));
            }
            Ok(Cell::Text(text))
        }
        Kind::Text { max_chars } => {
            if text.chars().any(char::is_control) {
                return Err(Problem::Type("contains control characters".into()));
            }
            let n = text.chars().count();
            if n > max_chars {
                return Err(Problem::Range(format!("{n} characters, at most {max_chars} allowed")));
            }
            Ok(Cell::Text(text))
        }
        Kind::Enum(values) => {
            if values.contains(&text) {
                Ok(Cell::Text(text))
            } else {
                Err(Problem::NotAllowed(format!("{} is not one of {}", cut(text), values.join(", "))))
            }
        }
        Kind::EnumList(values) => {
            let mut seen: Vec<&str> = Vec::new();
            for item in text.split(';') {
                if !values.contains(&item) {
                    return Err(Problem::NotAllowed(format!(
                        "list item {} is not one of {}",
                        cut(item),
                        values.join(", ")
                    )));
                }
                if seen.contains(&item) {
                    return Err(Problem::NotAllowed(format!("list item {item} appears twice")));
                }
                seen.push(item);
            }
            Ok(Cell::Text(text))
        }
        Kind::Date { past_only } => {
            let d = Date::parse(text).map_err(|e| Problem::Type(e.to_string()))?;
            if past_only && d > ctx.as_of {
                return Err(Problem::Future(d.to_string(), ctx.as_of.to_string()));
            }
            Ok(Cell::Date(d.days_since_epoch()))
        }
        Kind::Month => {
            let m = Month::parse(text).map_err(|e| Problem::Type(e.to_string()))?;
            if m > ctx.as_of.month() {
                return Err(Problem::Future(m.to_string(), ctx.as_of.to_string()));
            }
            Ok(Cell::Text(text))
        }
        Kind::Bool => parse_bool(text)
            .map(Cell::Bool)
            .ok_or_else(|| Problem::Type(format!("not a yes/no flag (1/0, y/n, yes/no, true/false): {}", cut(text)))),
        Kind::Msisdn => {
            let m = Msisdn::parse(text).map_err(|e| Problem::Type(e.to_string()))?;
            if m.as_str() == text { Ok(Cell::Text(text)) } else { Ok(Cell::Owned(m.as_str().to_owned())) }
        }
    }
}

fn parse_int(s: &str) -> Option<i64> {
    let digits = s.strip_prefix('-').unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn parse_bool(s: &str) -> Option<bool> {
    const TRUE: &[&str] = &["1", "y", "yes", "true"];
    const FALSE: &[&str] = &["0", "n", "no", "false"];
    if TRUE.iter().any(|t| t.eq_ignore_ascii_case(s)) {
        Some(true)
    } else if FALSE.iter().any(|f| f.eq_ignore_ascii_case(s)) {
        Some(false)
    } else {
        None
    }
}

fn range_text(v: i64, min: i64, max: i64) -> String {
    if v < min { format!("{v} is below the minimum {min}") } else { format!("{v} is above the maximum {max}") }
}

/// At most 40 characters of a value, for messages.
pub fn cut(s: &str) -> String {
    let mut out: String = s.chars().take(40).collect();
    if out.len() < s.len() {
        out.push('…');
    }
    out
}

/// The rules between columns of a row (`Table::row_rules`), with the columns they read
/// resolved to positions once per table rather than looked up by name on every row.
#[derive(Debug, Clone, Copy)]
pub enum RowRules {
    /// The table has no row rules.
    None,
    /// Subscribers: status and device dates, birth year.
    Subscribers { status_since: usize, join_date: usize, birth_year: usize, device_since: usize },
    /// Holdings: date order, speed for broadband.
    Holdings { start_date: usize, end_date: usize, speed_mbps: usize, product: usize },
    /// Usage: active days within the month, app data within the total.
    Usage { month: usize, days_active: usize, data_mb: usize, apps: [usize; 4] },
    /// Offers: validity order, app category for directed packs.
    Offers { valid_from: usize, valid_to: usize, offer_kind: usize, app_category: usize },
    /// Sales: handset sales name the handset.
    Sales { sale_type: usize, device_model: usize },
}

/// A cell by position; a position past the row (a column the schema lacks) reads as empty.
fn at<'c, 'a>(cells: &'c [Cell<'a>], i: usize) -> &'c Cell<'a> {
    cells.get(i).unwrap_or(&Cell::Null)
}

fn not_before(later: &Cell<'_>, earlier: &Cell<'_>) -> bool {
    match (later, earlier) {
        (Cell::Date(l), Cell::Date(e)) => l >= e,
        _ => true,
    }
}

fn rule(ok: bool, column: &'static str, text: &'static str) -> Result<(), (&'static str, Problem)> {
    if ok { Ok(()) } else { Err((column, Problem::Rule(text))) }
}

impl RowRules {
    /// The rules of `table`.
    pub fn for_table(table: &Table) -> RowRules {
        let ix = |name: &str| table.column_index(name).unwrap_or(usize::MAX);
        match table.name {
            "subscribers" => RowRules::Subscribers {
                status_since: ix("status_since"),
                join_date: ix("join_date"),
                birth_year: ix("birth_year"),
                device_since: ix("device_since"),
            },
            "holdings" => RowRules::Holdings {
                start_date: ix("start_date"),
                end_date: ix("end_date"),
                speed_mbps: ix("speed_mbps"),
                product: ix("product"),
            },
            "usage" => RowRules::Usage {
                month: ix("month"),
                days_active: ix("days_active"),
                data_mb: ix("data_mb"),
                apps: [ix("data_video_mb"), ix("data_social_mb"), ix("data_music_mb"), ix("data_gaming_mb")],
            },
            "offers" => RowRules::Offers {
                valid_from: ix("valid_from"),
                valid_to: ix("valid_to"),
                offer_kind: ix("offer_kind"),
                app_category: ix("app_category"),
            },
            "sales" => RowRules::Sales { sale_type: ix("sale_type"), device_model: ix("device_model") },
            _ => RowRules::None,
        }
    }

    /// Checks a row whose `cells` are in the table's column order. Returns the column to
    /// blame and the broken rule.
    pub fn check(&self, cells: &[Cell<'_>]) -> Result<(), (&'static str, Problem)> {
        match *self {
            RowRules::None => Ok(()),
            RowRules::Subscribers { status_since, join_date, birth_year, device_since } => {
                let (since, join) = (at(cells, status_since), at(cells, join_date));
                rule(not_before(since, join), "status_since", "status_since is before join_date")?;
                if let (Cell::Int(birth), Cell::Date(join)) = (at(cells, birth_year), join) {
                    let join_year = i64::from(Date::from_days_since_epoch(*join).month().year());
                    rule(*birth <= join_year, "birth_year", "birth_year is after the year of join_date")?;
                }
                if let Cell::Date(d) = at(cells, device_since) {
                    let y1990 = Date::new(1990, 1, 1).map(Date::days_since_epoch).unwrap_or(0);
                    rule(*d >= y1990, "device_since", "device_since is before 1990")?;
                }
                Ok(())
            }
            RowRules::Holdings { start_date, end_date, speed_mbps, product } => {
                rule(
                    not_before(at(cells, end_date), at(cells, start_date)),
                    "end_date",
                    "end_date is before start_date",
                )?;
                let has_speed = !matches!(at(cells, speed_mbps), Cell::Null);
                let needs_speed = matches!(at(cells, product).as_str(), Some("broadband" | "fibre"));
                rule(
                    has_speed == needs_speed,
                    "speed_mbps",
                    "speed_mbps is given for broadband and fibre only, and always for them",
                )
            }
            RowRules::Usage { month, days_active, data_mb, apps } => {
                if let (Some(m), Cell::Int(days)) = (at(cells, month).as_str(), at(cells, days_active)) {
                    let in_month = Month::parse(m).map(|m| i64::from(m.days())).unwrap_or(31);
                    rule(*days <= in_month, "days_active", "days_active is more than the days in the month")?;
                }
                let int = |i: usize| if let Cell::Int(v) = at(cells, i) { *v } else { 0 };
                let app_total: i64 = apps.iter().map(|i| int(*i)).sum();
                rule(app_total <= int(data_mb), "data_mb", "data by app category adds up to more than data_mb")
            }
            RowRules::Offers { valid_from, valid_to, offer_kind, app_category } => {
                rule(
                    not_before(at(cells, valid_to), at(cells, valid_from)),
                    "valid_to",
                    "valid_to is before valid_from",
                )?;
                let directed = at(cells, offer_kind).as_str() == Some("directed_data_pack");
                let has_app = !matches!(at(cells, app_category), Cell::Null);
                rule(directed == has_app, "app_category", "app_category is given exactly for directed_data_pack offers")
            }
            RowRules::Sales { sale_type, device_model } => {
                let handset = at(cells, sale_type).as_str() == Some("handset_sale");
                let has_device = !matches!(at(cells, device_model), Cell::Null);
                rule(!handset || has_device, "device_model", "device_model is missing for a handset sale")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cvm_domain::schema::{TABLES, table};
    use proptest::prelude::*;

    fn ctx() -> Context {
        Context { as_of: Date::parse("2026-11-23").unwrap() }
    }

    fn field(table_name: &str, column: &str, raw: &str) -> Result<String, Problem> {
        let col = table(table_name).unwrap().column(column).unwrap();
        parse_field(col, raw.as_bytes(), &ctx()).map(|c| format!("{c:?}"))
    }

    #[test]
    fn fields_are_checked_by_kind() {
        assert_eq!(field("usage", "voice_min", "120").unwrap(), "Int(120)");
        assert!(matches!(field("usage", "voice_min", "-5"), Err(Problem::Range(_))));
        assert!(matches!(field("usage", "voice_min", "12.5"), Err(Problem::Type(_))));
        assert!(matches!(field("usage", "voice_min", ""), Err(Problem::Missing)));
        assert!(matches!(field("usage", "voice_min", " 12"), Err(Problem::Spaces)));
        assert_eq!(field("usage", "revenue", "58.5").unwrap(), "Money(5850)");
        assert!(matches!(field("usage", "revenue", "-1"), Err(Problem::Range(_))));
        assert!(matches!(field("usage", "month", "2026-12"), Err(Problem::Future(..))));
        assert!(matches!(field("subscribers", "join_date", "2026-11-24"), Err(Problem::Future(..))));
        assert!(field("offers", "valid_to", "2027-12-31").is_ok());
        assert_eq!(field("subscribers", "do_not_disturb", "YES").unwrap(), "Bool(true)");
        assert!(matches!(field("subscribers", "brand", "gold"), Err(Problem::NotAllowed(_))));
        assert!(matches!(field("subscribers", "lifestyle_tags", "video;video"), Err(Problem::NotAllowed(_))));
        assert!(field("subscribers", "lifestyle_tags", "video;travel").is_ok());
        assert_eq!(field("subscribers", "msisdn", "+8613812345678").unwrap(), "Owned(\"13812345678\")");
        assert!(field("subscribers", "device_model", "").is_ok());
        assert!(matches!(field("branches", "branch_id", "BR 01"), Err(Problem::Type(_))));
        assert!(matches!(field("branches", "branch_name", &"射".repeat(65)), Err(Problem::Range(_))));
        let gbk_bytes = [0xc9u8, 0xe4, 0xd1, 0xf4];
        let col = table("branches").unwrap().column("branch_name").unwrap();
        assert_eq!(parse_field(col, &gbk_bytes, &ctx()), Err(Problem::Encoding("UTF-8")));
    }

    #[test]
    fn usage_rules_catch_impossible_months() {
        let t = table("usage").unwrap();
        let mut cells: Vec<Cell> = t.columns.iter().map(|_| Cell::Int(0)).collect();
        cells[t.column_index("month").unwrap()] = Cell::Text("2026-02");
        cells[t.column_index("days_active").unwrap()] = Cell::Int(29);
        assert_eq!(RowRules::for_table(t).check(&cells).unwrap_err().0, "days_active");
        cells[t.column_index("days_active").unwrap()] = Cell::Int(28);
        cells[t.column_index("data_mb").unwrap()] = Cell::Int(100);
        cells[t.column_index("data_video_mb").unwrap()] = Cell::Int(101);
        assert_eq!(RowRules::for_table(t).check(&cells).unwrap_err().0, "data_mb");
        cells[t.column_index("data_video_mb").unwrap()] = Cell::Int(100);
        assert!(RowRules::for_table(t).check(&cells).is_ok());
    }

    proptest! {
        #[test]
        fn no_field_panics_on_any_bytes(raw in proptest::collection::vec(any::<u8>(), 0..80)) {
            for t in TABLES {
                for c in t.columns {
                    let _ = parse_field(c, &raw, &ctx());
                }
            }
        }

        #[test]
        fn accepted_ints_are_in_range(v in any::<i64>()) {
            let col = table("usage").unwrap().column("days_active").unwrap();
            match parse_field(col, v.to_string().as_bytes(), &ctx()) {
                Ok(Cell::Int(x)) => prop_assert!((0..=31).contains(&x) && x == v),
                Ok(other) => prop_assert!(false, "unexpected {:?}", other),
                Err(_) => prop_assert!(!(0..=31).contains(&v)),
            }
        }

        #[test]
        fn money_roundtrips_exactly(fen in 0i64..=100_000_000) {
            let col = table("usage").unwrap().column("revenue").unwrap();
            let text = Fen(fen).to_string();
            prop_assert_eq!(parse_field(col, text.as_bytes(), &ctx()), Ok(Cell::Money(fen)));
        }
    }
}
