//! The flat churn table ([`Dataset`]) and reading it from operators' CSV exports.
//!
//! Column types are inferred: a column is numeric when every non-blank value parses as a
//! number (blanks become missing), otherwise categorical. Non-numeric columns whose values are
//! unique per row are identifiers and are dropped. Types and values come in one pass, in
//! chunks of whole records parsed on every core (module `chunks`), so a 1M-row export is never
//! held as strings and reads in about half the time of one core.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

mod chunks;

/// Code of a categorical value never seen in training (scored as missing).
pub const UNSEEN: u32 = u32::MAX;

/// How a feature is stored and split.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FeatureKind {
    /// Numbers; missing values are NaN.
    Numeric,
    /// String levels; the column holds indexes into `levels`.
    Categorical {
        /// The levels in code order ("(blank)" for an empty cell).
        levels: Vec<String>,
    },
}

/// A named feature column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Feature {
    /// Column name as in the input header.
    pub name: String,
    /// Numeric or categorical.
    pub kind: FeatureKind,
}

/// The values of one feature column.
#[derive(Debug, Clone, PartialEq)]
pub enum Column {
    /// Numbers, NaN for missing.
    Numeric(Vec<f64>),
    /// Level codes (index into the feature's levels; [`UNSEEN`] for an unknown level).
    Categorical(Vec<u32>),
}

impl Column {
    fn len(&self) -> usize {
        match self {
            Column::Numeric(v) => v.len(),
            Column::Categorical(v) => v.len(),
        }
    }

    fn take(&self, rows: &[usize]) -> Column {
        match self {
            Column::Numeric(v) => Column::Numeric(rows.iter().map(|&i| v[i]).collect()),
            Column::Categorical(v) => Column::Categorical(rows.iter().map(|&i| v[i]).collect()),
        }
    }
}

/// Where a dataset came from, recorded in the model file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Source {
    /// Input files, in reading order.
    pub files: Vec<String>,
    /// Label column name, if any.
    pub label: Option<String>,
    /// The label value counted as churn.
    pub positive: Option<String>,
    /// Identifier column named by the user, if any.
    pub id: Option<String>,
    /// Columns dropped automatically (unique non-numeric identifiers), with the reason.
    pub dropped: Vec<String>,
}

/// A flat table of subscribers: feature columns, an optional 0/1 label and optional ids.
#[derive(Debug, Clone)]
pub struct Dataset {
    /// Feature descriptions, one per column.
    pub features: Vec<Feature>,
    /// Feature values, parallel to `features`.
    pub columns: Vec<Column>,
    /// Churned (true) or not, one per row, when the table is labelled.
    pub labels: Option<Vec<bool>>,
    /// Subscriber identifiers, when an id column was named.
    pub ids: Option<Vec<String>>,
    /// Provenance.
    pub source: Source,
    rows: usize,
}

impl Dataset {
    /// Builds a dataset from columns (the entry point for the warehouse feature table).
    pub fn new(features: Vec<Feature>, columns: Vec<Column>, labels: Option<Vec<bool>>) -> Result<Dataset> {
        if features.len() != columns.len() {
            return Err(Error::Data(format!("{} features but {} columns", features.len(), columns.len())));
        }
        let rows = columns.first().map(Column::len).or(labels.as_ref().map(Vec::len)).unwrap_or(0);
        for (f, c) in features.iter().zip(&columns) {
            if c.len() != rows {
                return Err(Error::Data(format!("column {:?} has {} rows, expected {rows}", f.name, c.len())));
            }
            match (&f.kind, c) {
                (FeatureKind::Numeric, Column::Numeric(_)) => {}
                (FeatureKind::Categorical { levels }, Column::Categorical(codes)) => {
                    if codes.iter().any(|&k| k != UNSEEN && k as usize >= levels.len()) {
                        return Err(Error::Data(format!("column {:?} has a code outside its levels", f.name)));
                    }
                }
                _ => return Err(Error::Data(format!("column {:?} does not match its declared kind", f.name))),
            }
        }
        if let Some(l) = &labels
            && l.len() != rows
        {
            return Err(Error::Data(format!("{} labels for {rows} rows", l.len())));
        }
        Ok(Dataset { features, columns, labels, ids: None, source: Source::default(), rows })
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// The rows listed, in that order (for cross-validation folds and splits).
    pub fn take(&self, rows: &[usize]) -> Dataset {
        Dataset {
            features: self.features.clone(),
            columns: self.columns.iter().map(|c| c.take(rows)).collect(),
            labels: self.labels.as_ref().map(|l| rows.iter().map(|&i| l[i]).collect()),
            ids: self.ids.as_ref().map(|v| rows.iter().map(|&i| v[i].clone()).collect()),
            source: self.source.clone(),
            rows: rows.len(),
        }
    }

    /// The labels, or an error saying the table has none.
    pub fn labels_required(&self) -> Result<&[bool]> {
        self.labels.as_deref().ok_or_else(|| Error::Data("the table has no label column".into()))
    }

    /// Share of churners among the labelled rows.
    pub fn positive_rate(&self) -> Option<f64> {
        let l = self.labels.as_ref()?;
        (!l.is_empty()).then(|| l.iter().filter(|&&b| b).count() as f64 / l.len() as f64)
    }
}

/// What to read from the CSV files besides the features.
#[derive(Debug, Clone, Default)]
pub struct ReadOptions {
    /// The label column (required for training and evaluation).
    pub label: Option<String>,
    /// The label value meaning churn; inferred from Yes/No, True/False, 1/0 when absent.
    pub positive: Option<String>,
    /// The subscriber id column: kept as ids, never a feature.
    pub id: Option<String>,
}

/// Values that mean "no value" in operators' exports.
fn is_blank(s: &str) -> bool {
    matches!(s, "" | "NA" | "N/A" | "n/a" | "NaN" | "nan" | "null" | "NULL" | "None" | "?")
}

/// `s.trim()`, without decoding characters when both ends are plain ASCII (the usual case:
/// the standard trim walks chars from each end, a cost paid for every cell).
fn trim(s: &str) -> &str {
    let plain = |b: u8| b > b' ' && b < 0x7f;
    match (s.as_bytes().first(), s.as_bytes().last()) {
        (Some(&a), Some(&z)) if plain(a) && plain(z) => s,
        _ => s.trim(),
    }
}

/// Parses a trimmed cell as a finite number.
fn parse_number(s: &str) -> Option<f64> {
    s.parse::<f64>().ok().filter(|v| v.is_finite())
}

fn io_err(file: &Path, source: std::io::Error) -> Error {
    Error::Io { file: file.display().to_string(), source }
}

fn csv_err(file: &Path, e: csv::Error) -> Error {
    let line = e.position().map(|p| p.line()).unwrap_or(0);
    match e.into_kind() {
        csv::ErrorKind::Io(io) => io_err(file, io),
        csv::ErrorKind::UnequalLengths { expected_len, len, .. } => Error::Input {
            file: file.display().to_string(),
            line,
            column: None,
            message: format!("{len} fields, the header has {expected_len}"),
        },
        other => Error::Input { file: file.display().to_string(), line, column: None, message: format!("{other:?}") },
    }
}

fn open(file: &Path) -> Result<csv::Reader<std::fs::File>> {
    let f = std::fs::File::open(file).map_err(|e| io_err(file, e))?;
    Ok(csv::ReaderBuilder::new().has_headers(true).from_reader(f))
}

/// Reads the header of every file and checks they agree (the BigML 80 + 20 files are one table).
fn headers(files: &[PathBuf]) -> Result<Vec<String>> {
    let mut first: Option<Vec<String>> = None;
    for file in files {
        let mut r = open(file)?;
        let h: Vec<String> = r
            .headers()
            .map_err(|e| csv_err(file, e))?
            .iter()
            .enumerate()
            .map(
                |(i, s)| {
                    if i == 0 { s.trim_start_matches('\u{feff}').trim().to_string() } else { s.trim().to_string() }
                },
            )
            .collect();
        if h.is_empty() || h.iter().all(String::is_empty) {
            return Err(Error::Input {
                file: file.display().to_string(),
                line: 1,
                column: None,
                message: "empty header".into(),
            });
        }
        let mut seen = HashMap::new();
        for name in &h {
            if seen.insert(name.as_str(), ()).is_some() {
                return Err(Error::Input {
                    file: file.display().to_string(),
                    line: 1,
                    column: Some(name.clone()),
                    message: "column name appears twice".into(),
                });
            }
        }
        match &first {
            None => first = Some(h),
            Some(f) if *f != h => {
                return Err(Error::Input {
                    file: file.display().to_string(),
                    line: 1,
                    column: None,
                    message: format!("header differs from the first file's ({})", files[0].display()),
                });
            }
            Some(_) => {}
        }
    }
    first.ok_or_else(|| Error::Data("no input files".into()))
}

fn column_index(header: &[String], name: &str, file: &Path) -> Result<usize> {
    header.iter().position(|h| h == name).ok_or_else(|| Error::Input {
        file: file.display().to_string(),
        line: 1,
        column: Some(name.to_string()),
        message: format!("no such column; the columns are {}", header.join(", ")),
    })
}

/// Calls `f(file, line, record)` for every data row of every file, fields trimmed.
fn for_each_row(files: &[PathBuf], mut f: impl FnMut(&Path, u64, &[&str]) -> Result<()>) -> Result<()> {
    let mut rec = csv::ByteRecord::new();
    for file in files {
        let mut r = open(file)?;
        loop {
            match r.read_byte_record(&mut rec) {
                Ok(false) => break,
                Ok(true) => {}
                Err(e) => return Err(csv_err(file, e)),
            }
            let line = rec.position().map(|p| p.line()).unwrap_or(0);
            let fields = rec
                .iter()
                .enumerate()
                .map(|(i, b)| {
                    std::str::from_utf8(b).map(trim).map_err(|_| Error::Input {
                        file: file.display().to_string(),
                        line,
                        column: Some(format!("#{}", i + 1)),
                        message: "not valid UTF-8 (save the export as UTF-8)".into(),
                    })
                })
                .collect::<Result<Vec<&str>>>()?;
            f(file, line, &fields)?;
        }
    }
    Ok(())
}

/// Maps raw label strings to churned / not churned.
fn label_rule(values: &[String], positive: Option<&str>, label: &str) -> Result<(String, Vec<String>)> {
    if let Some(p) = positive {
        if !values.iter().any(|v| v == p) {
            return Err(Error::Data(format!(
                "label column {label:?} never has the positive value {p:?}; its values are {}",
                values.join(", ")
            )));
        }
        return Ok((p.to_string(), values.to_vec()));
    }
    let lower: Vec<String> = values.iter().map(|v| v.to_ascii_lowercase()).collect();
    let pairs: [(&[&str], &[&str]); 4] = [
        (&["yes", "y"], &["no", "n"]),
        (&["true", "t"], &["false", "f"]),
        (&["1", "1.0"], &["0", "0.0"]),
        (&["churn", "churned"], &["no churn", "not churned", "stay", "stayed"]),
    ];
    for (pos, neg) in pairs {
        if lower.iter().all(|v| pos.contains(&v.as_str()) || neg.contains(&v.as_str()))
            && let Some(i) = lower.iter().position(|v| pos.contains(&v.as_str()))
        {
            return Ok((values[i].clone(), values.to_vec()));
        }
    }
    Err(Error::Data(format!(
        "cannot tell which value of label column {label:?} means churn (values: {}); pass --positive VALUE",
        values.iter().take(10).cloned().collect::<Vec<_>>().join(", ")
    )))
}

fn is_positive(value: &str, positive: &str) -> bool {
    value == positive || value.eq_ignore_ascii_case(positive)
}

/// A categorical column being read: level dictionary, levels in code order, codes.
type CategoricalBuilder = (HashMap<String, u32>, Vec<String>, Vec<u32>);

/// Adds one categorical cell to a column being built; blank cells are the level "(blank)".
fn push_level((dict, levels, codes): &mut CategoricalBuilder, v: &str) {
    let key = if v.is_empty() { "(blank)" } else { v };
    let code = match dict.get(key) {
        Some(&c) => c,
        None => {
            let c = levels.len() as u32;
            dict.insert(key.to_string(), c);
            levels.push(key.to_string());
            c
        }
    };
    codes.push(code);
}

/// Reads CSV files (one table, same header) inferring the feature types.
///
/// A column stays numeric while every value parses (blanks are missing) and becomes
/// categorical at its first text value, with levels in order of first appearance. The
/// files are read on every core (module `chunks`), with the same result and the same first
/// error (file, line, column) as reading them row by row.
pub fn read_csv(files: &[PathBuf], opts: &ReadOptions) -> Result<Dataset> {
    read_csv_chunked(files, opts, chunks::CHUNK_BYTES)
}

/// [`read_csv`] in chunks of about `chunk_bytes` (tests cut small files many times).
fn read_csv_chunked(files: &[PathBuf], opts: &ReadOptions, chunk_bytes: usize) -> Result<Dataset> {
    let header = headers(files)?;
    let (label_idx, id_idx, feature_idx) = roles(&header, files, opts)?;
    let layout = chunks::Layout { header: &header, label: label_idx, id: id_idx, features: &feature_idx };
    let table = chunks::read(files, &layout, chunk_bytes)?;
    dataset_of(files, opts, &header, &feature_idx, table)
}

/// The label, id and feature columns of `header`.
fn roles(
    header: &[String],
    files: &[PathBuf],
    opts: &ReadOptions,
) -> Result<(Option<usize>, Option<usize>, Vec<usize>)> {
    let label_idx = opts.label.as_deref().map(|l| column_index(header, l, &files[0])).transpose()?;
    let id_idx = opts.id.as_deref().map(|l| column_index(header, l, &files[0])).transpose()?;
    let feature_idx: Vec<usize> = (0..header.len()).filter(|&j| Some(j) != label_idx && Some(j) != id_idx).collect();
    Ok((label_idx, id_idx, feature_idx))
}

/// The dataset of a table as read: labels by the label rule, identifier columns dropped.
fn dataset_of(
    files: &[PathBuf],
    opts: &ReadOptions,
    header: &[String],
    feature_idx: &[usize],
    table: chunks::Table,
) -> Result<Dataset> {
    let chunks::Table { rows, columns: cols, label_values, label_codes, ids } = table;
    if rows == 0 {
        return Err(Error::Data(format!("{}: no data rows", files[0].display())));
    }
    let positive = opts
        .label
        .as_deref()
        .map(|l| label_rule(&label_values, opts.positive.as_deref(), l).map(|r| r.0))
        .transpose()?;
    let labels = positive.as_deref().map(|p| {
        let is_churn: Vec<bool> = label_values.iter().map(|v| is_positive(v, p)).collect();
        label_codes.iter().map(|&c| is_churn[c as usize]).collect::<Vec<bool>>()
    });

    let mut features = Vec::new();
    let mut columns = Vec::new();
    let mut dropped = Vec::new();
    for (col, &j) in cols.into_iter().zip(feature_idx) {
        let name = header[j].clone();
        match col {
            chunks::Values::Numeric(values) => {
                features.push(Feature { name, kind: FeatureKind::Numeric });
                columns.push(Column::Numeric(values));
            }
            chunks::Values::Categorical((_, levels, codes)) => {
                // A text column with a different value on every row is an identifier, not a feature.
                if rows > 1 && levels.len() == rows {
                    dropped.push(format!("{name} (unique per row: an identifier)"));
                    continue;
                }
                features.push(Feature { name, kind: FeatureKind::Categorical { levels } });
                columns.push(Column::Categorical(codes));
            }
        }
    }
    if features.is_empty() {
        return Err(Error::Data("no feature columns left after removing label, id and identifier columns".into()));
    }
    let mut ds = Dataset::new(features, columns, labels)?;
    ds.ids = ids;
    ds.source = Source {
        files: files.iter().map(|f| f.display().to_string()).collect(),
        label: opts.label.clone(),
        positive,
        id: opts.id.clone(),
        dropped,
    };
    Ok(ds)
}

/// Reads CSV files with the feature columns a model was trained on (types are not inferred).
///
/// Extra columns are ignored; a missing feature column or a non-number in a numeric column is
/// an error naming file, line and column. Unknown categorical levels are scored as missing.
pub fn read_csv_with_schema(files: &[PathBuf], schema: &[Feature], opts: &ReadOptions) -> Result<Dataset> {
    let header = headers(files)?;
    let file0 = &files[0];
    let label_idx = opts.label.as_deref().map(|l| column_index(&header, l, file0)).transpose()?;
    let id_idx = opts.id.as_deref().map(|l| column_index(&header, l, file0)).transpose()?;
    let idx: Vec<usize> = schema.iter().map(|f| column_index(&header, &f.name, file0)).collect::<Result<_>>()?;
    let dicts: Vec<Option<HashMap<&str, u32>>> = schema
        .iter()
        .map(|f| match &f.kind {
            FeatureKind::Numeric => None,
            FeatureKind::Categorical { levels } => {
                Some(levels.iter().enumerate().map(|(i, l)| (l.as_str(), i as u32)).collect())
            }
        })
        .collect();
    let mut num_cols: Vec<Vec<f64>> = schema.iter().map(|_| Vec::new()).collect();
    let mut cat_cols: Vec<Vec<u32>> = schema.iter().map(|_| Vec::new()).collect();
    let mut raw_labels: Vec<String> = Vec::new();
    let mut ids = id_idx.map(|_| Vec::new());
    for_each_row(files, |file, line, rec| {
        for (k, &j) in idx.iter().enumerate() {
            let v = rec[j];
            match &dicts[k] {
                None => {
                    let x = if is_blank(v) {
                        f64::NAN
                    } else {
                        parse_number(v).ok_or_else(|| Error::Input {
                            file: file.display().to_string(),
                            line,
                            column: Some(header[j].clone()),
                            message: format!("{v:?} is not a number (the model was trained with this column numeric)"),
                        })?
                    };
                    num_cols[k].push(x);
                }
                Some(d) => {
                    let key = if v.is_empty() { "(blank)" } else { v };
                    cat_cols[k].push(d.get(key).copied().unwrap_or(UNSEEN));
                }
            }
        }
        if let Some(li) = label_idx {
            if is_blank(rec[li]) {
                return Err(Error::Input {
                    file: file.display().to_string(),
                    line,
                    column: Some(header[li].clone()),
                    message: "blank label".into(),
                });
            }
            raw_labels.push(rec[li].to_string());
        }
        if let (Some(ids), Some(ii)) = (ids.as_mut(), id_idx) {
            ids.push(rec[ii].to_string());
        }
        Ok(())
    })?;
    let columns: Vec<Column> = schema
        .iter()
        .enumerate()
        .map(|(k, f)| match f.kind {
            FeatureKind::Numeric => Column::Numeric(std::mem::take(&mut num_cols[k])),
            FeatureKind::Categorical { .. } => Column::Categorical(std::mem::take(&mut cat_cols[k])),
        })
        .collect();
    let mut positive = None;
    let labels = match (&opts.label, label_idx) {
        (Some(l), Some(_)) => {
            let mut distinct: Vec<String> = Vec::new();
            for v in &raw_labels {
                if !distinct.contains(v) {
                    distinct.push(v.clone());
                }
            }
            // When the model knows its positive value, use it even if this file has one class.
            let p = match opts.positive.as_deref() {
                Some(p) => p.to_string(),
                None => label_rule(&distinct, None, l)?.0,
            };
            let out = raw_labels.iter().map(|v| is_positive(v, &p)).collect();
            positive = Some(p);
            Some(out)
        }
        _ => None,
    };
    let mut ds = Dataset::new(schema.to_vec(), columns, labels)?;
    if ds.rows() == 0 {
        return Err(Error::Data(format!("{}: no data rows", file0.display())));
    }
    ds.ids = ids;
    ds.source = Source {
        files: files.iter().map(|f| f.display().to_string()).collect(),
        label: opts.label.clone(),
        positive,
        id: opts.id.clone(),
        dropped: Vec::new(),
    };
    Ok(ds)
}

/// The row-by-row reader that [`read_csv`] replaced, kept as the reference its parallel
/// reading must equal.
#[cfg(test)]
fn read_csv_serial(files: &[PathBuf], opts: &ReadOptions) -> Result<Dataset> {
    enum Reading {
        Numeric(Vec<f64>),
        Categorical(CategoricalBuilder),
        Reread,
    }
    let header = headers(files)?;
    let (label_idx, id_idx, feature_idx) = roles(&header, files, opts)?;
    let mut cols: Vec<Reading> = feature_idx.iter().map(|_| Reading::Numeric(Vec::new())).collect();
    let mut label_values: Vec<String> = Vec::new();
    let mut label_codes: Vec<u8> = Vec::new();
    let mut ids = id_idx.map(|_| Vec::new());
    let mut rows = 0usize;
    for_each_row(files, |file, line, rec| {
        for (col, &j) in cols.iter_mut().zip(&feature_idx) {
            let v = rec[j];
            match col {
                Reading::Numeric(values) => {
                    if is_blank(v) {
                        values.push(f64::NAN);
                    } else if let Some(x) = parse_number(v) {
                        values.push(x);
                    } else if rows == 0 {
                        let mut b: CategoricalBuilder = (HashMap::new(), Vec::new(), Vec::new());
                        push_level(&mut b, v);
                        *col = Reading::Categorical(b);
                    } else {
                        *col = Reading::Reread;
                    }
                }
                Reading::Categorical(b) => push_level(b, v),
                Reading::Reread => {}
            }
        }
        if let Some(li) = label_idx {
            let v = rec[li];
            let at = |message: &str| Error::Input {
                file: file.display().to_string(),
                line,
                column: Some(header[li].clone()),
                message: message.into(),
            };
            if is_blank(v) {
                return Err(at("blank label"));
            }
            let code = match label_values.iter().position(|x| x == v) {
                Some(c) => c,
                None if label_values.len() >= 50 => {
                    return Err(at("label has more than 50 distinct values; a churn label has two"));
                }
                None => {
                    label_values.push(v.to_string());
                    label_values.len() - 1
                }
            };
            label_codes.push(code as u8);
        }
        if let (Some(ids), Some(ii)) = (ids.as_mut(), id_idx) {
            ids.push(rec[ii].to_string());
        }
        rows += 1;
        Ok(())
    })?;
    if cols.iter().any(|c| matches!(c, Reading::Reread)) {
        let mut again: Vec<Option<CategoricalBuilder>> = cols
            .iter()
            .map(|c| matches!(c, Reading::Reread).then(|| (HashMap::new(), Vec::new(), Vec::new())))
            .collect();
        for_each_row(files, |_, _, rec| {
            for (b, &j) in again.iter_mut().zip(&feature_idx) {
                if let Some(b) = b {
                    push_level(b, rec[j]);
                }
            }
            Ok(())
        })?;
        for (col, b) in cols.iter_mut().zip(again) {
            if let Some(b) = b {
                *col = Reading::Categorical(b);
            }
        }
    }
    let columns = cols
        .into_iter()
        .map(|c| match c {
            Reading::Numeric(v) => chunks::Values::Numeric(v),
            Reading::Categorical(b) => chunks::Values::Categorical(b),
            Reading::Reread => unreachable!("every reread column was read again"),
        })
        .collect();
    let table = chunks::Table { rows, columns, label_values, label_codes, ids };
    dataset_of(files, opts, &header, &feature_idx, table)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join(name);
        let mut f = std::fs::File::create(&p).unwrap();
        f.write_all(text.as_bytes()).unwrap();
        p
    }

    /// A folder of its own for one test, removed when the returned guard drops.
    fn tmpdir(tag: &str) -> tempfile::TempDir {
        tempfile::Builder::new().prefix(&format!("cvm-churn-test-{tag}-")).tempdir().unwrap()
    }

    #[test]
    fn infers_types_blanks_ids_and_yes_no_labels() {
        let dir = tmpdir("infer");
        let d = dir.path();
        let p = write(
            d,
            "a.csv",
            "\u{feff}customerID,tenure,Contract,TotalCharges,Churn\nA1,1,Month, ,Yes\nA2,34,One year,1889.5,No\nA3,2,Month,108.15,Yes\n",
        );
        let ds = read_csv(&[p], &ReadOptions { label: Some("Churn".into()), ..Default::default() }).unwrap();
        let names: Vec<_> = ds.features.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["tenure", "Contract", "TotalCharges"]);
        assert_eq!(ds.labels.as_deref(), Some(&[true, false, true][..]));
        match &ds.columns[2] {
            Column::Numeric(v) => assert!(v[0].is_nan() && v[1] == 1889.5),
            other => panic!("{other:?}"),
        }
        assert!(matches!(ds.features[1].kind, FeatureKind::Categorical { .. }));
        assert_eq!(ds.source.dropped.len(), 1);
    }

    #[test]
    fn concatenates_files_and_rejects_bad_rows_with_location() {
        let dir = tmpdir("concat");
        let d = dir.path();
        let a = write(d, "a.csv", "x,y,Churn\n1,a,True\n2,b,False\n");
        let b = write(d, "b.csv", "x,y,Churn\n3,a,False\n");
        let ds = read_csv(&[a.clone(), b], &ReadOptions { label: Some("Churn".into()), ..Default::default() }).unwrap();
        assert_eq!(ds.rows(), 3);
        let bad = write(d, "bad.csv", "x,y,Churn\n1,a,True\n2,b\n");
        let e = read_csv(&[bad], &ReadOptions { label: Some("Churn".into()), ..Default::default() }).unwrap_err();
        assert!(e.to_string().contains("bad.csv, line 3"), "{e}");
        let schema = ds.features.clone();
        let c = write(d, "c.csv", "x,y,Churn\n1,a,True\nabc,b,False\n");
        let e = read_csv_with_schema(&[c], &schema, &ReadOptions::default()).unwrap_err();
        assert!(e.to_string().contains("line 3, column \"x\""), "{e}");
        let e = read_csv(&[a], &ReadOptions { label: Some("nope".into()), ..Default::default() }).unwrap_err();
        assert!(e.to_string().contains("nope"), "{e}");
    }

    #[test]
    fn text_after_numeric_looking_rows_is_read_again_as_levels() {
        let dir = tmpdir("late");
        let d = dir.path();
        // y: blanks first, text from row 3; z: text from row 1, a number later; x numeric.
        let p = write(d, "a.csv", "x,y,z,Churn\n1,,a,Yes\n2,NA,b,No\n3,c,4,No\n4,,a,No\n");
        let ds = read_csv(&[p], &ReadOptions { label: Some("Churn".into()), ..Default::default() }).unwrap();
        let levels = |j: usize| match &ds.features[j].kind {
            FeatureKind::Categorical { levels } => levels.clone(),
            FeatureKind::Numeric => panic!("{} is numeric", ds.features[j].name),
        };
        assert_eq!(ds.features[0].kind, FeatureKind::Numeric);
        assert_eq!(levels(1), ["(blank)", "NA", "c"]);
        assert_eq!(ds.columns[1], Column::Categorical(vec![0, 1, 2, 0]));
        assert_eq!(levels(2), ["a", "b", "4"]);
        assert_eq!(ds.columns[2], Column::Categorical(vec![0, 1, 2, 0]));
        assert_eq!(ds.labels.as_deref(), Some(&[true, false, false, false][..]));
    }

    /// A dataset as comparable values: NaN equals NaN (bit patterns).
    fn shape(ds: &Dataset) -> String {
        let columns: Vec<String> = ds
            .columns
            .iter()
            .map(|c| match c {
                Column::Numeric(v) => format!("{:?}", v.iter().map(|x| x.to_bits()).collect::<Vec<_>>()),
                Column::Categorical(v) => format!("{v:?}"),
            })
            .collect();
        format!("{:?} {columns:?} {:?} {:?} {:?} {}", ds.features, ds.labels, ds.ids, ds.source, ds.rows())
    }

    /// One cell of a generated column: `kind` picks what the column looks like.
    fn cell(kind: u8, row: usize, rows: usize, pick: u32) -> String {
        let n = (pick % 1000) as f64 / 8.0;
        match kind {
            // Numbers with blanks of every spelling.
            0 => ["", " ", "NA", "null", "?"].get(pick as usize % 9).map_or(format!("{n}"), |b| b.to_string()),
            // Numbers, then text in the last rows only: categorical, read again.
            1 if row + 2 >= rows => format!("late{}", pick % 3),
            1 => format!("{}", pick % 7),
            // Text quoted with commas, newlines, escaped quotes; some plain.
            2 => {
                ["\"a,b\"", "\"line\nbreak\"", "\"say \"\"hi\"\"\"", "plain", "\"\"", "5'10\"", "x\"y", "\"q\"\"\n,z\""]
                    [pick as usize % 8]
                    .to_string()
            }
            // Text from the first row, numbers among it.
            3 => ["Month", "One year", "12", "", "NA"][pick as usize % 5].to_string(),
            // Unique per row: an identifier, dropped.
            _ => format!("id{row}"),
        }
    }

    /// A generated CSV with a label and an id column, LF or CRLF, maybe blank lines and one
    /// planted fault (`fault`: 0 none, 1 short row, 2 blank label, 3 bad UTF-8, 4 a label
    /// with many values).
    fn generated(kinds: &[u8], picks: &[u32], rows: usize, crlf: bool, blank_lines: bool, fault: u8) -> Vec<u8> {
        let nl = if crlf { "\r\n" } else { "\n" };
        let mut out = Vec::new();
        let names: Vec<String> = (0..kinds.len()).map(|j| format!("c{j}")).collect();
        out.extend(format!("id,{},Churn{nl}", names.join(",")).bytes());
        let fault_row = rows / 2;
        for r in 0..rows {
            let pick = |j: usize| picks[(r * 7 + j * 13) % picks.len()].wrapping_add(r as u32 * 31 + j as u32);
            let mut line: Vec<u8> = format!("s{r}").into_bytes();
            for (j, &k) in kinds.iter().enumerate() {
                line.push(b',');
                line.extend(cell(k, r, rows, pick(j)).bytes());
            }
            let label = match (fault, r >= fault_row) {
                (2, true) if r == fault_row => String::new(),
                (4, true) => format!("v{r}"),
                _ => (if pick(99) % 4 == 0 { "Yes" } else { "No" }).to_string(),
            };
            line.push(b',');
            line.extend(label.bytes());
            if r == fault_row {
                match fault {
                    1 => line.truncate(line.iter().rposition(|&b| b == b',').unwrap_or(0)),
                    3 => line[0] = 0xff,
                    _ => {}
                }
            }
            out.extend(line);
            out.extend(nl.bytes());
            if blank_lines && pick(50) % 5 == 0 {
                out.extend(nl.bytes());
            }
        }
        out
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(96))]

        /// Reading in chunks of any size gives the row-by-row reader's dataset, or its error.
        #[test]
        fn chunked_read_equals_the_row_by_row_read(
            kinds in proptest::collection::vec(0u8..5, 1..6),
            picks in proptest::collection::vec(proptest::prelude::any::<u32>(), 1..40),
            rows in 1usize..120,
            crlf in proptest::prelude::any::<bool>(),
            blank_lines in proptest::prelude::any::<bool>(),
            fault in 0u8..5,
            chunk in 1usize..400,
            two_files in proptest::prelude::any::<bool>(),
        ) {
            let dir = tmpdir("prop");
            let d = dir.path();
            let bytes = generated(&kinds, &picks, rows, crlf, blank_lines, fault);
            let a = d.join(format!("a-{chunk}-{rows}.csv"));
            std::fs::write(&a, &bytes).unwrap();
            let mut files = vec![a];
            if two_files {
                let b = d.join(format!("b-{chunk}-{rows}.csv"));
                std::fs::write(&b, generated(&kinds, &picks, rows / 2 + 1, crlf, false, 0)).unwrap();
                files.push(b);
            }
            let opts = ReadOptions { label: Some("Churn".into()), id: Some("id".into()), ..Default::default() };
            let serial = read_csv_serial(&files, &opts).map(|ds| shape(&ds)).map_err(|e| e.to_string());
            let chunked = read_csv_chunked(&files, &opts, chunk).map(|ds| shape(&ds)).map_err(|e| e.to_string());
            proptest::prop_assert_eq!(&chunked, &serial);
            let whole = read_csv(&files, &opts).map(|ds| shape(&ds)).map_err(|e| e.to_string());
            proptest::prop_assert_eq!(whole, serial);
        }
    }

    proptest::proptest! {
        /// The quick trim is the standard one, whatever the ends hold.
        #[test]
        fn quick_trim_is_str_trim(s in "[ \t\u{b}\u{c}\r\n\u{85}\u{a0}\u{3000}a-z0-9.\u{7f}\u{4e2d}]{0,6}") {
            proptest::prop_assert_eq!(trim(&s), s.trim());
        }
    }

    #[test]
    fn label_needs_a_known_pair_or_positive() {
        let vals = vec!["stay".to_string(), "gone".to_string()];
        assert!(label_rule(&vals, None, "s").is_err());
        assert_eq!(label_rule(&vals, Some("gone"), "s").unwrap().0, "gone");
        let tf = vec!["False".to_string(), "True".to_string()];
        assert_eq!(label_rule(&tf, None, "s").unwrap().0, "True");
    }
}
