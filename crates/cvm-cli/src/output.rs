//! Printing reports as an aligned table, JSON or CSV (`--format table|json|csv`).

use std::io::Write;

use serde_json::Value;

/// Output format every reporting command accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    /// Aligned columns for the terminal.
    #[default]
    Table,
    /// An array of objects, one per row.
    Json,
    /// A header line and one line per row.
    Csv,
}

/// A rectangular report: named columns and rows of JSON values (numbers stay numbers).
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Column names.
    pub columns: Vec<String>,
    /// Rows, each as long as `columns`.
    pub rows: Vec<Vec<Value>>,
}

impl Report {
    /// An empty report with these columns.
    pub fn new<S: Into<String>>(columns: impl IntoIterator<Item = S>) -> Report {
        Report { columns: columns.into_iter().map(Into::into).collect(), rows: Vec::new() }
    }

    /// Adds a row.
    pub fn push(&mut self, row: Vec<Value>) {
        debug_assert_eq!(row.len(), self.columns.len());
        self.rows.push(row);
    }

    /// Writes the report in `format` to `out`.
    pub fn write(&self, format: Format, out: &mut dyn Write) -> std::io::Result<()> {
        match format {
            Format::Table => self.write_table(out),
            Format::Json => {
                let objects: Vec<Value> = self
                    .rows
                    .iter()
                    .map(|r| Value::Object(self.columns.iter().cloned().zip(r.iter().cloned()).collect()))
                    .collect();
                serde_json::to_writer_pretty(&mut *out, &objects)?;
                writeln!(out)
            }
            Format::Csv => {
                let mut w = csv::Writer::from_writer(out);
                w.write_record(&self.columns)?;
                for r in &self.rows {
                    w.write_record(r.iter().map(cell))?;
                }
                w.flush()
            }
        }
    }

    /// Prints the report to standard output.
    pub fn print(&self, format: Format) -> std::io::Result<()> {
        self.write(format, &mut std::io::stdout().lock())
    }

    fn write_table(&self, out: &mut dyn Write) -> std::io::Result<()> {
        let cells: Vec<Vec<String>> = self.rows.iter().map(|r| r.iter().map(table_cell).collect()).collect();
        let widths: Vec<usize> = (0..self.columns.len())
            .map(|i| {
                let body = cells.iter().map(|r| display_width(&r[i])).max().unwrap_or(0);
                body.max(display_width(&self.columns[i]))
            })
            .collect();
        let numeric: Vec<bool> = (0..self.columns.len())
            .map(|i| self.rows.iter().all(|r| matches!(r[i], Value::Number(_) | Value::Null)))
            .collect();
        let line = |out: &mut dyn Write, row: &[String]| -> std::io::Result<()> {
            let mut s = String::new();
            for (i, v) in row.iter().enumerate() {
                let pad = " ".repeat(widths[i] - display_width(v));
                if i > 0 {
                    s.push_str("  ");
                }
                if numeric[i] {
                    s.push_str(&pad);
                    s.push_str(v);
                } else {
                    s.push_str(v);
                    s.push_str(&pad);
                }
            }
            writeln!(out, "{}", s.trim_end())
        };
        line(out, &self.columns)?;
        let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
        line(out, &rule)?;
        for r in &cells {
            line(out, r)?;
        }
        Ok(())
    }
}

/// A cell as text: strings unquoted, null empty.
fn cell(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// A cell for the terminal: like [`cell`], but fractions are shown to 4 decimals (JSON and
/// CSV keep every digit for further processing).
fn table_cell(v: &Value) -> String {
    match v.as_f64() {
        Some(x) if v.is_f64() && x.is_finite() => {
            let s = format!("{x:.4}");
            s.trim_end_matches('0').trim_end_matches('.').to_owned()
        }
        _ => cell(v),
    }
}

/// Terminal columns a text takes: CJK characters take two.
fn display_width(s: &str) -> usize {
    s.chars().map(|c| if ('\u{1100}'..='\u{ffdc}').contains(&c) && !c.is_ascii() { 2 } else { 1 }).sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sample() -> Report {
        let mut r = Report::new(["branch", "orders"]);
        r.push(vec![json!("射阳"), json!(12)]);
        r.push(vec![json!("BR01"), json!(3)]);
        r
    }

    fn render(format: Format) -> String {
        let mut buf = Vec::new();
        sample().write(format, &mut buf).unwrap();
        String::from_utf8(buf).unwrap()
    }

    #[test]
    fn table_aligns_wide_characters_and_numbers() {
        assert_eq!(render(Format::Table), "branch  orders\n------  ------\n射阳        12\nBR01         3\n");
    }

    #[test]
    fn table_rounds_fractions_but_csv_keeps_them() {
        let mut r = Report::new(["lift"]);
        r.push(vec![json!(1.8599364561702685)]);
        r.push(vec![json!(2.5)]);
        let mut table = Vec::new();
        r.write(Format::Table, &mut table).unwrap();
        assert_eq!(String::from_utf8(table).unwrap(), "  lift\n------\n1.8599\n   2.5\n");
        let mut csv = Vec::new();
        r.write(Format::Csv, &mut csv).unwrap();
        assert!(String::from_utf8(csv).unwrap().contains("1.8599364561702685"));
    }

    #[test]
    fn json_and_csv_keep_the_columns() {
        let v: Value = serde_json::from_str(&render(Format::Json)).unwrap();
        assert_eq!(v[1]["orders"], json!(3));
        assert_eq!(render(Format::Csv), "branch,orders\n射阳,12\nBR01,3\n");
    }
}
