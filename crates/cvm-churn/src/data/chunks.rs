//! Reading a CSV table on every core: the file is cut into chunks of whole records, each
//! chunk is parsed by the `csv` crate on its own thread, and the chunks' columns are joined
//! in file order, so the result is exactly that of reading the file row by row.
//!
//! - **Cutting.** One thread reads the file in blocks of [`CHUNK_BYTES`] and cuts each at the
//!   last record end in it. A newline ends a record only outside a quoted field, so the
//!   cutter follows the quoting the way `csv` does (a quote opens a field only at the field's
//!   start, `""` inside one is a quote, any other quote is text); it jumps from quote to
//!   newline with `memchr`, so a file without quotes costs one pass of newline search.
//! - **Where a chunk starts.** `csv` reports a record at the position where it began reading
//!   it: right after the previous record's newline, or, for `\r\n` endings, at the `\n` it
//!   has not consumed yet; blank lines after a record belong to the next one. A chunk starts
//!   exactly there (after a record's `\n`, or at the `\n` of its `\r\n`), so each chunk's own
//!   reader reports the same lines as one reader over the file, once the newlines of the
//!   chunks before are added.
//! - **Types.** A column is numeric while every value parses (blanks are missing) and
//!   categorical as soon as one value is text, with levels in order of first appearance. A
//!   chunk that meets text after numbers re-parses its own bytes for that column; a chunk
//!   with only numbers in a column that another chunk found text in is read again from the
//!   file for that column alone (rare, as in the row-by-row reader).
//! - **Errors.** Each chunk stops at its first problem (a record of the wrong length, text
//!   that is not UTF-8, a blank label); the first chunk in file order with a problem names
//!   it, with the file's line. A label with more than 50 distinct values can only be found
//!   while joining, where the values are met in file order.

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, mpsc};

use rayon::prelude::*;

use super::{CategoricalBuilder, is_blank, parse_number, push_level, trim};
use crate::{Error, Result};

/// Bytes per chunk: large enough that per-chunk costs (a reader, dictionaries) vanish, small
/// enough that every core gets many.
pub(super) const CHUNK_BYTES: usize = 4 << 20;

/// Distinct label values allowed (a churn label has two).
pub(super) const MAX_LABEL_VALUES: usize = 50;

/// Which columns of the header play which part.
pub(super) struct Layout<'a> {
    /// The header's column names.
    pub header: &'a [String],
    /// Index of the label column.
    pub label: Option<usize>,
    /// Index of the id column.
    pub id: Option<usize>,
    /// Indexes of the feature columns, in output order.
    pub features: &'a [usize],
}

/// A feature column of the whole table.
pub(super) enum Values {
    /// Every value a number or blank (NaN).
    Numeric(Vec<f64>),
    /// Text somewhere: levels in order of first appearance, and codes.
    Categorical(CategoricalBuilder),
}

/// The whole table as read.
pub(super) struct Table {
    /// Data rows.
    pub rows: usize,
    /// One per feature column of the layout.
    pub columns: Vec<Values>,
    /// Distinct label values in order of first appearance.
    pub label_values: Vec<String>,
    /// Per row, the index of its label in `label_values`.
    pub label_codes: Vec<u8>,
    /// The id column's values, when there is one.
    pub ids: Option<Vec<String>>,
}

/// Whole records of one file.
struct Chunk {
    /// Position in the list of chunks (file order).
    index: usize,
    /// Which input file.
    file: usize,
    /// Where the bytes start in the file.
    offset: u64,
    bytes: Vec<u8>,
}

/// A feature column of one chunk.
enum Part {
    Numeric(Vec<f64>),
    Categorical(CategoricalBuilder),
}

/// Why a chunk stopped before its end.
enum Stop {
    /// A problem at a line of the chunk (counted from 1 at its start).
    Problem { line: u64, column: Option<String>, message: String },
    /// The chunk alone has more than [`MAX_LABEL_VALUES`] label values: the read fails at
    /// or before its last one, found while joining.
    LabelValues,
}

/// One chunk, parsed.
struct Parsed {
    file: usize,
    offset: u64,
    len: usize,
    /// `\n` bytes in the chunk: the next chunk's lines start this much further on.
    newlines: u64,
    rows: usize,
    parts: Vec<Part>,
    /// Label values in order of first appearance, with the chunk line that first has each.
    label_values: Vec<(String, u64)>,
    label_codes: Vec<u8>,
    ids: Option<Vec<String>>,
    stop: Option<Stop>,
}

/// Follows `csv`'s quoting over a growing buffer to find where records end.
#[derive(Default)]
struct Cutter {
    /// Inside a quoted field at `pos`.
    in_quotes: bool,
    /// Bytes before this are scanned.
    pos: usize,
    /// The last place a chunk may start, if any.
    last_cut: Option<usize>,
}

impl Cutter {
    /// Scans `buf` from where the last call stopped; `eof`: no byte follows `buf`.
    fn scan(&mut self, buf: &[u8], eof: bool) {
        let mut i = self.pos;
        while let Some(k) = memchr::memchr2(b'"', b'\n', &buf[i..]) {
            let p = i + k;
            if buf[p] == b'\n' {
                if !self.in_quotes
                    && let Some(cut) = cut_after(buf, p)
                {
                    self.last_cut = Some(cut);
                }
                i = p + 1;
            } else if self.in_quotes {
                match buf.get(p + 1) {
                    // `""` inside a quoted field is a quote.
                    Some(b'"') => i = p + 2,
                    Some(_) => {
                        self.in_quotes = false;
                        i = p + 1;
                    }
                    None if eof => {
                        self.in_quotes = false;
                        i = p + 1;
                    }
                    // Whether it closes the field depends on the next byte, not read yet.
                    None => {
                        self.pos = p;
                        return;
                    }
                }
            } else {
                // A quote opens a field only at the field's start (the buffer starts right
                // after a record end); elsewhere it is text.
                if p == 0 || matches!(buf[p - 1], b',' | b'\n' | b'\r') {
                    self.in_quotes = true;
                }
                i = p + 1;
            }
        }
        self.pos = buf.len();
    }

    /// The buffer was cut at `at`: positions now count from there.
    fn rebase(&mut self, at: usize) {
        self.pos -= at;
        self.last_cut = None;
    }
}

/// Where a chunk may start after the newline at `p` (outside quotes): right after it, or at
/// it for a `\r\n` ending, where `csv` reports the next record; none when the newline ends a
/// blank line (the blank belongs to the next record's position).
fn cut_after(buf: &[u8], p: usize) -> Option<usize> {
    match p.checked_sub(1).map(|q| buf[q]) {
        None | Some(b'\n') => None,
        Some(b'\r') => match p.checked_sub(2).map(|q| buf[q]) {
            None | Some(b'\n' | b'\r') => None,
            Some(_) => Some(p),
        },
        Some(_) => Some(p + 1),
    }
}

fn io_err(file: &Path, source: std::io::Error) -> Error {
    Error::Io { file: file.display().to_string(), source }
}

/// Where a file's data starts (after the header record) and the line `csv` counts there.
fn data_start(file: &Path) -> Result<(u64, u64)> {
    let f = File::open(file).map_err(|e| io_err(file, e))?;
    let mut r = csv::ReaderBuilder::new().has_headers(true).from_reader(f);
    r.byte_headers().map_err(|e| super::csv_err(file, e))?;
    Ok((r.position().byte(), r.position().line()))
}

/// Reads `file` from its data start into chunks of whole records, handing each to `send`.
fn cut_file(
    file: &Path,
    file_index: usize,
    start: u64,
    chunk_bytes: usize,
    next_index: &mut usize,
    send: &dyn Fn(Chunk) -> bool,
) -> Result<()> {
    let mut f = File::open(file).map_err(|e| io_err(file, e))?;
    f.seek(SeekFrom::Start(start)).map_err(|e| io_err(file, e))?;
    let chunk_bytes = chunk_bytes.max(1);
    let mut buf: Vec<u8> = Vec::with_capacity(2 * chunk_bytes);
    let mut offset = start;
    let mut cutter = Cutter::default();
    loop {
        // A chunk's size more each time (a record longer than a chunk grows the buffer).
        let got = f.by_ref().take(chunk_bytes as u64).read_to_end(&mut buf).map_err(|e| io_err(file, e))?;
        let eof = got < chunk_bytes;
        cutter.scan(&buf, eof);
        if eof {
            if !buf.is_empty() {
                let chunk = Chunk { index: *next_index, file: file_index, offset, bytes: std::mem::take(&mut buf) };
                *next_index += 1;
                if !send(chunk) {
                    return Ok(());
                }
            }
            return Ok(());
        }
        if buf.len() >= chunk_bytes
            && let Some(cut) = cutter.last_cut
        {
            let rest = buf.split_off(cut);
            let bytes = std::mem::replace(&mut buf, rest);
            let chunk = Chunk { index: *next_index, file: file_index, offset, bytes };
            *next_index += 1;
            offset += cut as u64;
            cutter.rebase(cut);
            if !send(chunk) {
                return Ok(());
            }
        }
    }
}

/// Calls `f(line, fields)` for each record of `bytes` (lines count from 1 at its start);
/// stops at the first problem, which it returns.
fn each_record(bytes: &[u8], layout: &Layout, mut f: impl FnMut(u64, &[&str]) -> Option<Stop>) -> Option<Stop> {
    let mut rdr = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(bytes);
    let mut rec = csv::ByteRecord::new();
    loop {
        match rdr.read_byte_record(&mut rec) {
            Ok(false) => return None,
            Ok(true) => {}
            // Reading from memory fails only on the record length, which flexible allows.
            Err(e) => {
                let line = e.position().map(|p| p.line()).unwrap_or(0);
                return Some(Stop::Problem { line, column: None, message: format!("{:?}", e.kind()) });
            }
        }
        let line = rec.position().map(|p| p.line()).unwrap_or(0);
        if rec.len() != layout.header.len() {
            // The row-by-row reader's words for csv's own length check.
            let message = format!("{} fields, the header has {}", rec.len(), layout.header.len());
            return Some(Stop::Problem { line, column: None, message });
        }
        // csv checks the whole record at once (all ASCII is the common case), then names
        // the first field that is not UTF-8.
        let text = match csv::StringRecord::from_byte_record(std::mem::take(&mut rec)) {
            Ok(text) => text,
            Err(e) => {
                let field = e.utf8_error().field();
                return Some(Stop::Problem {
                    line,
                    column: Some(format!("#{}", field + 1)),
                    message: "not valid UTF-8 (save the export as UTF-8)".into(),
                });
            }
        };
        let fields: Vec<&str> = text.iter().map(trim).collect();
        if let Some(stop) = f(line, &fields) {
            return Some(stop);
        }
        drop(fields);
        rec = text.into_byte_record();
    }
}

/// A chunk's column while it is parsed.
enum Reading {
    Numeric(Vec<f64>),
    Categorical(CategoricalBuilder),
    /// Text after numbers in this chunk: parsed again from the chunk's bytes.
    Again,
}

fn new_builder() -> CategoricalBuilder {
    (HashMap::new(), Vec::new(), Vec::new())
}

/// The categorical values of the feature columns `which` (positions in the layout's
/// features) over every record of `bytes`, which parsed cleanly before.
fn categorical(bytes: &[u8], layout: &Layout, which: &[usize]) -> Vec<CategoricalBuilder> {
    let mut out: Vec<CategoricalBuilder> = which.iter().map(|_| new_builder()).collect();
    if which.is_empty() {
        return out;
    }
    each_record(bytes, layout, |_, rec| {
        for (b, &k) in out.iter_mut().zip(which) {
            push_level(b, rec[layout.features[k]]);
        }
        None
    });
    out
}

/// Parses one chunk (see the module doc).
fn parse(chunk: Chunk, layout: &Layout) -> Parsed {
    let mut cols: Vec<Reading> = layout.features.iter().map(|_| Reading::Numeric(Vec::new())).collect();
    let mut label_values: Vec<(String, u64)> = Vec::new();
    let mut label_codes: Vec<u8> = Vec::new();
    let mut ids = layout.id.map(|_| Vec::new());
    let mut rows = 0usize;
    let stop = each_record(&chunk.bytes, layout, |line, rec| {
        for (col, &j) in cols.iter_mut().zip(layout.features) {
            let v = rec[j];
            match col {
                Reading::Numeric(values) => {
                    if is_blank(v) {
                        values.push(f64::NAN);
                    } else if let Some(x) = parse_number(v) {
                        values.push(x);
                    } else if rows == 0 {
                        let mut b = new_builder();
                        push_level(&mut b, v);
                        *col = Reading::Categorical(b);
                    } else {
                        *col = Reading::Again;
                    }
                }
                Reading::Categorical(b) => push_level(b, v),
                Reading::Again => {}
            }
        }
        if let Some(li) = layout.label {
            let v = rec[li];
            if is_blank(v) {
                return Some(Stop::Problem {
                    line,
                    column: Some(layout.header[li].clone()),
                    message: "blank label".into(),
                });
            }
            let code = match label_values.iter().position(|(x, _)| x == v) {
                Some(c) => c,
                None => {
                    label_values.push((v.to_string(), line));
                    if label_values.len() > MAX_LABEL_VALUES {
                        return Some(Stop::LabelValues);
                    }
                    label_values.len() - 1
                }
            };
            label_codes.push(code as u8);
        }
        if let (Some(ids), Some(ii)) = (ids.as_mut(), layout.id) {
            ids.push(rec[ii].to_string());
        }
        rows += 1;
        None
    });
    let again: Vec<usize> =
        if stop.is_none() { (0..cols.len()).filter(|&k| matches!(cols[k], Reading::Again)).collect() } else { vec![] };
    let mut rebuilt = categorical(&chunk.bytes, layout, &again).into_iter();
    let parts = cols
        .into_iter()
        .map(|c| match c {
            Reading::Numeric(v) => Part::Numeric(v),
            Reading::Categorical(b) => Part::Categorical(b),
            // A stopped chunk is never joined; its columns do not matter.
            Reading::Again => Part::Categorical(rebuilt.next().unwrap_or_else(new_builder)),
        })
        .collect();
    Parsed {
        file: chunk.file,
        offset: chunk.offset,
        len: chunk.bytes.len(),
        newlines: memchr::memchr_iter(b'\n', &chunk.bytes).count() as u64,
        rows,
        parts,
        label_values,
        label_codes,
        ids,
        stop,
    }
}

/// Reads the table of `files` (same header, checked by the caller) with every core, in
/// chunks of about `chunk_bytes` ([`CHUNK_BYTES`]; tests use tiny ones).
pub(super) fn read(files: &[PathBuf], layout: &Layout, chunk_bytes: usize) -> Result<Table> {
    let workers = rayon::current_num_threads().max(1);
    let (tx, rx) = mpsc::sync_channel::<Chunk>(2 * workers);
    let rx = Mutex::new(rx);
    let done: Mutex<Vec<Option<Parsed>>> = Mutex::new(Vec::new());
    // A chunk with a problem makes later chunks pointless: the reader stops early.
    let failed = std::sync::atomic::AtomicBool::new(false);
    let mut read_error = None;
    let mut bases = Vec::with_capacity(files.len());
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| {
                loop {
                    // The lock is held only to take the next chunk.
                    let next = rx.lock().map(|r| r.recv());
                    let Ok(Ok(chunk)) = next else { break };
                    let index = chunk.index;
                    let parsed = parse(chunk, layout);
                    if parsed.stop.is_some() {
                        failed.store(true, std::sync::atomic::Ordering::Relaxed);
                    }
                    if let Ok(mut d) = done.lock() {
                        if d.len() <= index {
                            d.resize_with(index + 1, || None);
                        }
                        d[index] = Some(parsed);
                    }
                }
            });
        }
        let send = |c: Chunk| !failed.load(std::sync::atomic::Ordering::Relaxed) && tx.send(c).is_ok();
        let mut next_index = 0;
        for (k, file) in files.iter().enumerate() {
            match data_start(file).and_then(|(start, line)| {
                bases.push(line);
                cut_file(file, k, start, chunk_bytes, &mut next_index, &send)
            }) {
                Ok(()) => {}
                Err(e) => {
                    read_error = Some(e);
                    break;
                }
            }
            if failed.load(std::sync::atomic::Ordering::Relaxed) {
                break;
            }
        }
        drop(tx);
    });
    let parsed = done.into_inner().map_err(|_| Error::Data("a CSV reader thread failed".into()))?;
    join(files, layout, &bases, parsed, read_error)
}

/// Joins the parsed chunks in file order: the first problem wins; columns and label values
/// are concatenated; categorical levels are merged in order of first appearance.
fn join(
    files: &[PathBuf],
    layout: &Layout,
    bases: &[u64],
    parsed: Vec<Option<Parsed>>,
    read_error: Option<Error>,
) -> Result<Table> {
    let problem = |file: usize, line: u64, column: Option<String>, message: String| Error::Input {
        file: files[file].display().to_string(),
        line,
        column,
        message,
    };
    let mut chunks = Vec::with_capacity(parsed.len());
    let mut label_values: Vec<String> = Vec::new();
    let mut label_codes: Vec<u8> = Vec::new();
    let mut ids = layout.id.map(|_| Vec::new());
    let mut rows = 0usize;
    let (mut file, mut first_line) = (usize::MAX, 0u64);
    for p in parsed {
        // Only chunks after one with a problem go unread, and that problem ended the join.
        let Some(mut p) = p else { return Err(Error::Data("a CSV chunk was lost before its end".into())) };
        if p.file != file {
            (file, first_line) = (p.file, bases.get(p.file).copied().unwrap_or(1));
        }
        let global = |line: u64| line + first_line - 1;
        let mut remap = Vec::with_capacity(p.label_values.len());
        for (v, line) in &p.label_values {
            let code = match label_values.iter().position(|x| x == v) {
                Some(c) => c,
                None if label_values.len() >= MAX_LABEL_VALUES => {
                    let column = layout.label.map(|li| layout.header[li].clone());
                    let message = "label has more than 50 distinct values; a churn label has two".into();
                    // Earlier lines of the chunk came before any stop it had.
                    return Err(problem(p.file, global(*line), column, message));
                }
                None => {
                    label_values.push(v.clone());
                    label_values.len() - 1
                }
            };
            remap.push(code as u8);
        }
        match p.stop.take() {
            Some(Stop::Problem { line, column, message }) => {
                return Err(problem(p.file, global(line), column, message));
            }
            Some(Stop::LabelValues) => {
                return Err(Error::Data("label values: a chunk found more than the table has".into()));
            }
            None => {}
        }
        label_codes.extend(p.label_codes.iter().map(|&c| remap[c as usize]));
        if let (Some(all), Some(mine)) = (ids.as_mut(), p.ids.take()) {
            all.extend(mine);
        }
        rows += p.rows;
        first_line += p.newlines;
        chunks.push(p);
    }
    if let Some(e) = read_error {
        return Err(e);
    }
    // Columns one by one, on every core: take each chunk's part of the column.
    let mut by_column: Vec<Vec<Part>> = (0..layout.features.len()).map(|_| Vec::with_capacity(chunks.len())).collect();
    let mut places = Vec::with_capacity(chunks.len());
    for c in &mut chunks {
        for (k, part) in c.parts.drain(..).enumerate() {
            by_column[k].push(part);
        }
        places.push((c.file, c.offset, c.len));
    }
    let columns = by_column
        .into_par_iter()
        .enumerate()
        .map(|(k, parts)| join_column(files, layout, k, parts, &places, rows))
        .collect::<Result<Vec<Values>>>()?;
    Ok(Table { rows, columns, label_values, label_codes, ids })
}

/// One feature column from its chunks' parts: numeric if every part is, else categorical,
/// reading again from the file the chunks that saw only numbers in it.
fn join_column(
    files: &[PathBuf],
    layout: &Layout,
    k: usize,
    parts: Vec<Part>,
    places: &[(usize, u64, usize)],
    rows: usize,
) -> Result<Values> {
    if parts.iter().all(|p| matches!(p, Part::Numeric(_))) {
        let mut out = Vec::with_capacity(rows);
        for p in parts {
            if let Part::Numeric(v) = p {
                out.extend_from_slice(&v);
            }
        }
        return Ok(Values::Numeric(out));
    }
    let (mut dict, mut levels, mut codes): CategoricalBuilder = (HashMap::new(), Vec::new(), Vec::with_capacity(rows));
    for (part, &(file, offset, len)) in parts.into_iter().zip(places) {
        let (_, local_levels, local_codes) = match part {
            Part::Categorical(b) => b,
            Part::Numeric(_) => {
                let path = &files[file];
                let mut f = File::open(path).map_err(|e| io_err(path, e))?;
                f.seek(SeekFrom::Start(offset)).map_err(|e| io_err(path, e))?;
                let mut bytes = vec![0u8; len];
                f.read_exact(&mut bytes).map_err(|e| io_err(path, e))?;
                categorical(&bytes, layout, &[k]).pop().unwrap_or_else(new_builder)
            }
        };
        let remap: Vec<u32> = local_levels
            .into_iter()
            .map(|l| match dict.get(&l) {
                Some(&c) => c,
                None => {
                    let c = levels.len() as u32;
                    levels.push(l.clone());
                    dict.insert(l, c);
                    c
                }
            })
            .collect();
        codes.extend(local_codes.iter().map(|&c| remap[c as usize]));
    }
    Ok(Values::Categorical((dict, levels, codes)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cuts(text: &[u8]) -> Vec<usize> {
        let mut c = Cutter::default();
        let mut out = Vec::new();
        // Byte by byte, as if every read returned one byte: the hardest case for lookahead.
        for end in 1..=text.len() {
            c.scan(&text[..end], end == text.len());
            if let Some(cut) = c.last_cut
                && out.last() != Some(&cut)
            {
                out.push(cut);
            }
        }
        out
    }

    #[test]
    fn cuts_only_at_record_ends_outside_quotes() {
        assert_eq!(cuts(b"1,2\n3,4\n"), [4, 8]);
        // A newline inside quotes, an escaped quote, a stray quote in an unquoted field.
        assert_eq!(cuts(b"\"a\nb\",2\n\"x\"\"\n\",3\n5'10\",4\n"), [8, 17, 25]);
        // \r\n endings cut at the \n; blank lines never start a chunk.
        assert_eq!(cuts(b"1,2\r\n\r\n3,4\r\n"), [4, 11]);
        assert_eq!(cuts(b"1,2\n\n\n3,4\n"), [4, 10]);
    }
}
