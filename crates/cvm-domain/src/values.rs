//! Value types that are valid once they exist: months, dates, money in fen, phone numbers.

use std::fmt;

/// Why a text could not become a domain value. The message is shown to operators as-is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValueError {
    /// The text does not have the expected shape.
    #[error("expected {expected}, found {found:?}")]
    Shape {
        /// What was expected, in words ("a month YYYY-MM").
        expected: &'static str,
        /// The offending text, cut to 40 characters.
        found: String,
    },
    /// The text has the right shape but names something that does not exist (2026-02-30).
    #[error("{0}")]
    Invalid(String),
}

fn shape(expected: &'static str, found: &str) -> ValueError {
    ValueError::Shape { expected, found: found.chars().take(40).collect() }
}

fn parse_digits(s: &str) -> Option<u32> {
    if s.is_empty() || s.len() > 9 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// A calendar month, the unit of billing and of warehouse partitions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Month {
    year: i32,
    month: u32,
}

impl Month {
    /// A month from year and month number (1-12), if it is one of years 1900-2999.
    pub fn new(year: i32, month: u32) -> Result<Month, ValueError> {
        if !(1900..=2999).contains(&year) || !(1..=12).contains(&month) {
            return Err(ValueError::Invalid(format!("{year:04}-{month:02} is not a month of years 1900-2999")));
        }
        Ok(Month { year, month })
    }

    /// Parses `YYYY-MM`.
    pub fn parse(s: &str) -> Result<Month, ValueError> {
        let b = s.as_bytes();
        if b.len() != 7 || b[4] != b'-' {
            return Err(shape("a month YYYY-MM", s));
        }
        let (Some(y), Some(m)) = (parse_digits(&s[..4]), parse_digits(&s[5..])) else {
            return Err(shape("a month YYYY-MM", s));
        };
        Month::new(y as i32, m)
    }

    /// The year.
    pub fn year(self) -> i32 {
        self.year
    }

    /// The month number, 1-12.
    pub fn month(self) -> u32 {
        self.month
    }

    /// The month `n` months later (earlier when negative).
    pub fn plus(self, n: i32) -> Month {
        let idx = self.index() + n;
        Month { year: idx.div_euclid(12), month: (idx.rem_euclid(12) + 1) as u32 }
    }

    /// Months since year 0: a dense, ordered number for arithmetic between months.
    pub fn index(self) -> i32 {
        self.year * 12 + self.month as i32 - 1
    }

    /// Number of months from `earlier` to `self` (negative when `earlier` is later).
    pub fn months_since(self, earlier: Month) -> i32 {
        self.index() - earlier.index()
    }

    /// Number of days in this month.
    pub fn days(self) -> u32 {
        match self.month {
            1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
            4 | 6 | 9 | 11 => 30,
            _ if is_leap(self.year) => 29,
            _ => 28,
        }
    }

    /// The first day of this month.
    pub fn first_day(self) -> Date {
        Date { year: self.year, month: self.month, day: 1 }
    }

    /// The last day of this month.
    pub fn last_day(self) -> Date {
        Date { year: self.year, month: self.month, day: self.days() }
    }
}

impl fmt::Display for Month {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

fn is_leap(y: i32) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

/// A calendar date (no time zone: operators' exports carry local dates).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    year: i32,
    month: u32,
    day: u32,
}

impl Date {
    /// A date from its parts, if it exists in years 1900-2999.
    pub fn new(year: i32, month: u32, day: u32) -> Result<Date, ValueError> {
        let m = Month::new(year, month)?;
        if day == 0 || day > m.days() {
            return Err(ValueError::Invalid(format!("{year:04}-{month:02}-{day:02} is not a date")));
        }
        Ok(Date { year, month, day })
    }

    /// Parses `YYYY-MM-DD`.
    pub fn parse(s: &str) -> Result<Date, ValueError> {
        let b = s.as_bytes();
        if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
            return Err(shape("a date YYYY-MM-DD", s));
        }
        match (parse_digits(&s[..4]), parse_digits(&s[5..7]), parse_digits(&s[8..])) {
            (Some(y), Some(m), Some(d)) => Date::new(y as i32, m, d),
            _ => Err(shape("a date YYYY-MM-DD", s)),
        }
    }

    /// The date `days_since_epoch` days after 1970-01-01 (Arrow's Date32).
    pub fn from_days_since_epoch(days: i32) -> Date {
        // Howard Hinnant's civil_from_days.
        let z = days as i64 + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        let year = (yoe + era * 400 + i64::from(month <= 2)) as i32;
        Date { year, month, day }
    }

    /// Days since 1970-01-01 (Arrow's Date32).
    pub fn days_since_epoch(self) -> i32 {
        // Howard Hinnant's days_from_civil.
        let y = self.year as i64 - i64::from(self.month <= 2);
        let era = y.div_euclid(400);
        let yoe = y.rem_euclid(400);
        let m = self.month as i64;
        let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + self.day as i64 - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        (era * 146_097 + doe - 719_468) as i32
    }

    /// The month this date falls in.
    pub fn month(self) -> Month {
        Month { year: self.year, month: self.month }
    }

    /// Day of the month, 1-31.
    pub fn day(self) -> u32 {
        self.day
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

/// An amount of money in fen (1/100 yuan), exact: all pricing is integer arithmetic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Fen(pub i64);

/// The largest amount accepted from input: 10 billion yuan, far above any bill, and far
/// below where sums of many rows could overflow an i64.
const MAX_ABS_FEN: i64 = 1_000_000_000_000;

impl Fen {
    /// Parses a yuan amount with at most two decimals: `58`, `58.5`, `-3.20`.
    pub fn parse_yuan(s: &str) -> Result<Fen, ValueError> {
        const WHAT: &str = "an amount in yuan with at most 2 decimals";
        let (neg, body) = match s.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, s),
        };
        let (int_part, frac_part) = match body.split_once('.') {
            Some((i, f)) => (i, f),
            None => (body, ""),
        };
        if int_part.is_empty() || int_part.len() > 11 || !int_part.bytes().all(|b| b.is_ascii_digit()) {
            return Err(shape(WHAT, s));
        }
        if body.contains('.') && (frac_part.is_empty() || frac_part.len() > 2) {
            return Err(shape(WHAT, s));
        }
        if !frac_part.bytes().all(|b| b.is_ascii_digit()) {
            return Err(shape(WHAT, s));
        }
        let int: i64 = int_part.parse().map_err(|_| shape(WHAT, s))?;
        let frac: i64 = match frac_part.len() {
            0 => 0,
            1 => frac_part.parse::<i64>().map_err(|_| shape(WHAT, s))? * 10,
            _ => frac_part.parse().map_err(|_| shape(WHAT, s))?,
        };
        let fen = int * 100 + frac;
        if fen > MAX_ABS_FEN {
            return Err(ValueError::Invalid(format!("{s} yuan is beyond the accepted 10 billion")));
        }
        Ok(Fen(if neg { -fen } else { fen }))
    }

    /// The amount in yuan as a float, for statistics only (never for pricing).
    pub fn as_yuan_f64(self) -> f64 {
        self.0 as f64 / 100.0
    }

    /// The nearest amount in fen to `yuan` (settings and statistics given as floats).
    pub fn from_yuan_f64(yuan: f64) -> Fen {
        Fen((yuan * 100.0).round() as i64)
    }
}

impl fmt::Display for Fen {
    /// Formats as yuan with two decimals: `58.00`, `-0.05`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let a = self.0.unsigned_abs();
        write!(f, "{sign}{}.{:02}", a / 100, a % 100)
    }
}

/// A mobile number (MSISDN) of mainland China: 11 digits starting with 1.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Msisdn(String);

impl Msisdn {
    /// Parses an 11-digit number beginning with `1`; `+86` or `86` prefixes are removed.
    pub fn parse(s: &str) -> Result<Msisdn, ValueError> {
        let digits = s.strip_prefix("+86").or_else(|| s.strip_prefix("86").filter(|r| r.len() == 11)).unwrap_or(s);
        let b = digits.as_bytes();
        if b.len() != 11 || b[0] != b'1' || !b.iter().all(u8::is_ascii_digit) {
            return Err(shape("an 11-digit mobile number starting with 1", s));
        }
        Ok(Msisdn(digits.to_owned()))
    }

    /// The number as digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The number with its middle four digits hidden (`138****1234`), for roles that do not
    /// need to see it.
    pub fn masked(&self) -> String {
        format!("{}****{}", &self.0[..3], &self.0[7..])
    }
}

impl fmt::Display for Msisdn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn months_parse_and_step() {
        let m = Month::parse("2026-01").unwrap();
        assert_eq!(m.plus(-1).to_string(), "2025-12");
        assert_eq!(m.plus(13).to_string(), "2027-02");
        assert_eq!(Month::parse("2024-02").unwrap().days(), 29);
        assert_eq!(Month::parse("2100-02").unwrap().days(), 28);
        for bad in ["2026-13", "2026-00", "2026-1", "26-01", "2026/01", "", "２０２６-01"] {
            assert!(Month::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn dates_reject_impossible_days() {
        assert!(Date::parse("2026-02-29").is_err());
        assert!(Date::parse("2024-02-29").is_ok());
        assert!(Date::parse("2026-04-31").is_err());
        assert_eq!(Date::parse("1970-01-01").unwrap().days_since_epoch(), 0);
        assert_eq!(Date::parse("2000-03-01").unwrap().days_since_epoch(), 11_017);
    }

    #[test]
    fn yuan_amounts_are_exact() {
        assert_eq!(Fen::parse_yuan("58").unwrap(), Fen(5800));
        assert_eq!(Fen::parse_yuan("58.5").unwrap(), Fen(5850));
        assert_eq!(Fen::parse_yuan("-0.05").unwrap(), Fen(-5));
        assert_eq!(Fen(-5).to_string(), "-0.05");
        for bad in ["58.505", "1e3", "", "-", "5.", ".5", "12,50", "NaN", "99999999999999"] {
            assert!(Fen::parse_yuan(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn msisdn_masks_the_middle() {
        let m = Msisdn::parse("+8613812345678").unwrap();
        assert_eq!(m.as_str(), "13812345678");
        assert_eq!(m.masked(), "138****5678");
        assert!(Msisdn::parse("23812345678").is_err());
        assert!(Msisdn::parse("1381234567").is_err());
    }

    proptest! {
        #[test]
        fn date_epoch_roundtrip(days in -25_567i32..376_000) {
            let d = Date::from_days_since_epoch(days);
            prop_assert_eq!(d.days_since_epoch(), days);
            prop_assert_eq!(Date::parse(&d.to_string()).unwrap(), d);
        }

        #[test]
        fn fen_display_parse_roundtrip(fen in -MAX_ABS_FEN..=MAX_ABS_FEN) {
            prop_assert_eq!(Fen::parse_yuan(&Fen(fen).to_string()).unwrap(), Fen(fen));
        }

        #[test]
        fn month_plus_is_inverse(y in 1950i32..2900, m in 1u32..=12, n in -500i32..500) {
            let month = Month::new(y, m).unwrap();
            prop_assert_eq!(month.plus(n).plus(-n), month);
            prop_assert_eq!(month.plus(n).months_since(month), n);
        }

        #[test]
        fn parsers_never_panic(s in "\\PC{0,30}") {
            let _ = Month::parse(&s);
            let _ = Date::parse(&s);
            let _ = Fen::parse_yuan(&s);
            let _ = Msisdn::parse(&s);
        }
    }
}
