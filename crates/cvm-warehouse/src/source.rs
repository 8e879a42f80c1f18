//! Reading an export file as chunks of whole CSV records, for parallel checking.
//!
//! CSV files are cut at record boundaries (a newline outside quotes) into chunks of a few
//! MB; each chunk remembers the file line it starts at, so every row keeps its line number.
//! Parquet files are turned into the same CSV chunks (each column cast to text), so both
//! formats go through one validator and nothing is checked twice or differently.

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{Array, StringArray};
use arrow::compute::cast;
use arrow::datatypes::DataType;
use cvm_domain::schema::Table;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::ImportError;

/// Text encoding of CSV exports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Encoding {
    /// UTF-8 (a byte-order mark is skipped).
    #[default]
    Utf8,
    /// GBK / GB2312, as many Chinese BSS exports are.
    Gbk,
}

impl Encoding {
    /// Name used in messages.
    pub fn name(self) -> &'static str {
        match self {
            Encoding::Utf8 => "UTF-8",
            Encoding::Gbk => "GBK",
        }
    }
}

/// A file format of an export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileFormat {
    /// Comma-separated text with a header line.
    Csv,
    /// Apache Parquet.
    Parquet,
}

/// A table's export file.
#[derive(Debug, Clone)]
pub struct TableFile {
    /// Path of the file.
    pub path: PathBuf,
    /// Its format.
    pub format: FileFormat,
}

/// A run of whole records from one file.
#[derive(Debug)]
pub struct Chunk {
    /// Position of the chunk in the file, from 0.
    pub index: u64,
    /// Line (CSV) or row (Parquet) number of the first record, counting the header as 1.
    pub first_line: u64,
    /// Whether each record is exactly one line (Parquet rows), so the number of a record is
    /// `first_line + its position` even when a value holds a newline.
    pub one_record_per_line: bool,
    /// CSV bytes of the records, without header.
    pub data: Vec<u8>,
}

/// Where the schema's columns are in a file: `positions[i]` is the file field of schema
/// column `i`, or `None` when the file leaves an optional column out.
#[derive(Debug, Clone)]
pub struct ColumnMap {
    /// File field index per schema column.
    pub positions: Vec<Option<usize>>,
    /// Number of fields in the header.
    pub width: usize,
}

const CHUNK_BYTES: usize = 1 << 20;
/// A quoted field longer than this is taken as a quote left open: the chunk is then cut at
/// the next newline anyway, and the broken record is rejected rather than swallowing the
/// rest of the file.
const MAX_RECORD_BYTES: usize = 1 << 20;

/// Maps a header to the schema: unknown, repeated or missing required columns are errors.
pub fn map_header(table: &Table, header: &[String], file: &Path) -> Result<ColumnMap, ImportError> {
    let mut positions = vec![None; table.columns.len()];
    for (pos, name) in header.iter().enumerate() {
        let Some(idx) = table.column_index(name) else {
            let known: Vec<_> = table.columns.iter().map(|c| c.name).collect();
            return Err(ImportError::Header {
                file: file.to_path_buf(),
                message: format!(
                    "unknown column {name:?} (field {}); {} has {}",
                    pos + 1,
                    table.name,
                    known.join(", ")
                ),
            });
        };
        if positions[idx].is_some() {
            return Err(ImportError::Header {
                file: file.to_path_buf(),
                message: format!("column {name:?} appears twice"),
            });
        }
        positions[idx] = Some(pos);
    }
    let missing: Vec<_> =
        table.columns.iter().zip(&positions).filter(|(c, p)| c.required && p.is_none()).map(|(c, _)| c.name).collect();
    if !missing.is_empty() {
        return Err(ImportError::Header {
            file: file.to_path_buf(),
            message: format!("required columns missing: {}", missing.join(", ")),
        });
    }
    Ok(ColumnMap { positions, width: header.len() })
}

/// Reads a CSV export of `table`: maps its header, then calls `emit` with each chunk in order.
pub fn read_csv(
    path: &Path,
    encoding: Encoding,
    table: &Table,
    mut emit: impl FnMut(&Arc<ColumnMap>, Chunk) -> Result<(), ImportError>,
) -> Result<(), ImportError> {
    let io_err = |e: io::Error| ImportError::Io { path: path.to_path_buf(), source: e };
    let mut file = File::open(path).map_err(io_err)?;
    let mut buf: Vec<u8> = Vec::with_capacity(CHUNK_BYTES * 2);
    let mut eof = fill(&mut file, &mut buf, CHUNK_BYTES).map_err(io_err)?;
    if buf.starts_with(b"\xEF\xBB\xBF") {
        buf.drain(..3);
    }
    // Header: the first record.
    let header_end = loop {
        if let Some(end) = record_boundary(&buf, 0) {
            break end;
        }
        if eof {
            break buf.len();
        }
        if buf.len() > MAX_RECORD_BYTES {
            return Err(ImportError::Header { file: path.to_path_buf(), message: "no header line found".into() });
        }
        eof = fill(&mut file, &mut buf, CHUNK_BYTES).map_err(io_err)?;
    };
    let header = decode_header(&buf[..header_end], encoding, path)?;
    let map = Arc::new(map_header(table, &header, path)?);
    buf.drain(..header_end);
    let mut next_line = 2u64;
    let mut index = 0u64;
    loop {
        while buf.len() < CHUNK_BYTES && !eof {
            eof = fill(&mut file, &mut buf, CHUNK_BYTES).map_err(io_err)?;
        }
        if buf.is_empty() {
            return Ok(());
        }
        let end = if eof && buf.len() <= CHUNK_BYTES {
            buf.len()
        } else {
            match record_boundary(&buf, CHUNK_BYTES.min(buf.len()) - 1) {
                Some(end) => end,
                None if eof => buf.len(),
                None => {
                    eof = fill(&mut file, &mut buf, CHUNK_BYTES).map_err(io_err)?;
                    continue;
                }
            }
        };
        let rest = buf.split_off(end);
        let data = std::mem::replace(&mut buf, rest);
        let lines = memchr::memchr_iter(b'\n', &data).count() as u64;
        emit(&map, Chunk { index, first_line: next_line, one_record_per_line: false, data })?;
        next_line += lines;
        index += 1;
    }
}

/// Reads up to `want` more bytes; returns true at end of file.
fn fill(file: &mut File, buf: &mut Vec<u8>, want: usize) -> io::Result<bool> {
    let start = buf.len();
    buf.resize(start + want, 0);
    let mut filled = start;
    while filled < buf.len() {
        match file.read(&mut buf[filled..]) {
            Ok(0) => {
                buf.truncate(filled);
                return Ok(true);
            }
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(false)
}

/// The end (after the newline) of the first record that ends at or after `from`, counting
/// quotes from the start of `buf` so a newline inside a quoted field is not a boundary.
fn record_boundary(buf: &[u8], from: usize) -> Option<usize> {
    let mut in_quotes = false;
    let mut quote_open_at = 0usize;
    for i in memchr::memchr2_iter(b'"', b'\n', buf) {
        if buf[i] == b'"' {
            in_quotes = !in_quotes;
            quote_open_at = i;
        } else if i >= from && (!in_quotes || i - quote_open_at > MAX_RECORD_BYTES) {
            return Some(i + 1);
        }
    }
    None
}

fn decode_header(bytes: &[u8], encoding: Encoding, path: &Path) -> Result<Vec<String>, ImportError> {
    let text: String = match encoding {
        Encoding::Utf8 => std::str::from_utf8(bytes)
            .map_err(|_| ImportError::Header {
                file: path.to_path_buf(),
                message: "header is not valid UTF-8 (for a GBK export use --encoding gbk)".into(),
            })?
            .to_owned(),
        Encoding::Gbk => encoding_rs::GBK
            .decode_without_bom_handling_and_without_replacement(bytes)
            .ok_or_else(|| ImportError::Header { file: path.to_path_buf(), message: "header is not valid GBK".into() })?
            .into_owned(),
    };
    let mut reader = csv::ReaderBuilder::new().has_headers(false).from_reader(text.as_bytes());
    let mut record = csv::StringRecord::new();
    match reader.read_record(&mut record) {
        Ok(true) => Ok(record.iter().map(str::to_owned).collect()),
        Ok(false) => Err(ImportError::Header { file: path.to_path_buf(), message: "the file is empty".into() }),
        Err(e) => Err(ImportError::Header { file: path.to_path_buf(), message: e.to_string() }),
    }
}

/// Reads a Parquet export of `table`: maps its columns, then calls `emit` with chunks of its
/// rows as CSV text.
pub fn read_parquet(
    path: &Path,
    table: &Table,
    mut emit: impl FnMut(&Arc<ColumnMap>, Chunk) -> Result<(), ImportError>,
) -> Result<(), ImportError> {
    let parquet_err =
        |e: parquet::errors::ParquetError| ImportError::Parquet { path: path.to_path_buf(), message: e.to_string() };
    let file = File::open(path).map_err(|e| ImportError::Io { path: path.to_path_buf(), source: e })?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(parquet_err)?;
    let names: Vec<String> = builder.schema().fields().iter().map(|f| f.name().clone()).collect();
    let map = Arc::new(map_header(table, &names, path)?);
    let reader = builder.with_batch_size(32 * 1024).build().map_err(parquet_err)?;
    let mut next_row = 2u64; // the header is "line 1", as in CSV
    for (index, batch) in reader.enumerate() {
        let batch = batch.map_err(|e| ImportError::Parquet { path: path.to_path_buf(), message: e.to_string() })?;
        let columns: Vec<StringArray> = batch
            .columns()
            .iter()
            .map(|c| {
                let text = cast(c, &DataType::Utf8)
                    .map_err(|e| ImportError::Parquet { path: path.to_path_buf(), message: e.to_string() })?;
                Ok(text
                    .as_any()
                    .downcast_ref::<StringArray>()
                    .cloned()
                    .unwrap_or_else(|| StringArray::from(Vec::<&str>::new())))
            })
            .collect::<Result<_, ImportError>>()?;
        let mut writer = csv::WriterBuilder::new().has_headers(false).from_writer(Vec::new());
        for row in 0..batch.num_rows() {
            let fields = columns.iter().map(|c| if c.is_null(row) { "" } else { c.value(row) });
            writer
                .write_record(fields)
                .map_err(|e| ImportError::Parquet { path: path.to_path_buf(), message: e.to_string() })?;
        }
        let data = writer
            .into_inner()
            .map_err(|e| ImportError::Parquet { path: path.to_path_buf(), message: e.to_string() })?;
        emit(&map, Chunk { index: index as u64, first_line: next_row, one_record_per_line: true, data })?;
        next_row += batch.num_rows() as u64;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boundaries_skip_quoted_newlines() {
        let buf = b"a,\"x\ny\",b\nc,d\n";
        assert_eq!(record_boundary(buf, 0), Some(10));
        assert_eq!(record_boundary(buf, 10), Some(14));
        assert_eq!(record_boundary(b"a,b", 0), None);
    }

    #[test]
    fn chunks_keep_line_numbers_and_every_byte() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.csv");
        let table = cvm_domain::schema::table("branches").unwrap();
        let mut text = String::from("branch_id,branch_name\n");
        for i in 0..400_000 {
            text.push_str(&format!("{i},\"v\n{i}\"\n"));
        }
        std::fs::write(&path, &text).unwrap();
        let mut chunks = Vec::new();
        let err = read_csv(&path, Encoding::Utf8, table, |_, c| {
            chunks.push(c);
            Ok(())
        });
        assert!(matches!(err, Err(ImportError::Header { .. })), "region and area_type are required");
        std::fs::write(&path, text.replace("branch_id,branch_name", "branch_id,branch_name,region,area_type")).unwrap();
        read_csv(&path, Encoding::Utf8, table, |map, c| {
            assert_eq!(map.width, 4);
            chunks.push(c);
            Ok(())
        })
        .unwrap();
        assert!(chunks.len() > 1);
        let total: usize = chunks.iter().map(|c| c.data.len()).sum();
        assert_eq!(total, text.len() - "branch_id,branch_name\n".len());
        for c in &chunks {
            let first = String::from_utf8_lossy(&c.data[..c.data.iter().position(|&b| b == b',').unwrap()]).to_string();
            let i: u64 = first.parse().unwrap();
            assert_eq!(c.first_line, 2 + 2 * i, "each record spans two lines");
        }
    }
}
