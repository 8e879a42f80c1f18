//! `import`: an export folder into the warehouse, every row checked, nothing lost.
//!
//! Per table, three stages run at once:
//!
//! ```text
//! reader (1 thread)     file -> chunks of whole records, with line numbers
//! checkers (N threads)  chunk -> typed Arrow batch of valid rows + rejected rows
//! sequencer (caller)    in file order: duplicate keys, references, partition, write
//! ```
//!
//! Duplicates and references are decided in file order so that "the first row of a key
//! wins" does not depend on thread timing: the same export always gives the same warehouse.
//! Nothing reaches its final name before every table is read and within its reject limit.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use arrow::array::{
    Array, ArrayRef, BooleanArray, BooleanBuilder, Date32Array, Date32Builder, Decimal128Builder, Int64Array,
    Int64Builder, RecordBatch, StringArray, StringBuilder, UInt32Array,
};
use arrow::compute::{filter_record_batch, take_record_batch};
use arrow::datatypes::SchemaRef;
use cvm_domain::schema::{Kind, Partitioning, Reference, TABLES, Table};
use cvm_domain::{Date, Month};
use rustc_hash::FxHashSet;
use serde::Serialize;

use crate::ImportError;
use crate::arrow_schema::arrow_schema;
use crate::id_set::{FirstLines, IdSet};
use crate::source::{self, Chunk, ColumnMap, Encoding, FileFormat, TableFile};
use crate::store::{self, FinishedFile, PendingFile};
use crate::validate::{self, Cell, Context, Problem};

/// How to import.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// Encoding of CSV files.
    pub encoding: Encoding,
    /// Dates after this day are refused as future dates.
    pub as_of: Date,
    /// Largest share of rejected rows a table may have before the import fails (0.0-1.0).
    pub max_reject_rate: f64,
    /// Checker threads.
    pub threads: usize,
    /// Name of this import in `W/_imports/`.
    pub import_id: String,
}

/// What one table's import read, accepted and rejected.
#[derive(Debug, Clone, Serialize)]
pub struct TableSummary {
    /// Table name.
    pub table: String,
    /// The export file.
    pub file: String,
    /// Rows read (excluding the header).
    pub read: u64,
    /// Rows written to the warehouse.
    pub accepted: u64,
    /// Rows set aside in the rejects file.
    pub rejected: u64,
    /// Partitions written: `snapshot` or the months.
    pub partitions: BTreeMap<String, u64>,
    /// Rejected rows by `column: kind of problem`.
    pub problems: BTreeMap<String, u64>,
    /// Wall time in seconds.
    pub seconds: f64,
}

/// The outcome of an import, also written as `W/_imports/<id>/summary.json`.
#[derive(Debug, Clone, Serialize)]
pub struct ImportSummary {
    /// Name of the import.
    pub import_id: String,
    /// `committed`, or `failed` when nothing was changed in the warehouse.
    pub status: String,
    /// Why it failed.
    pub message: Option<String>,
    /// The export folder.
    pub source: String,
    /// The as-of date used for future-date checks.
    pub as_of: String,
    /// One entry per table imported, in import order.
    pub tables: Vec<TableSummary>,
    /// Files in the export folder that are not a table (reported, never silently read).
    pub skipped_files: Vec<String>,
    /// Path of the rejects file.
    pub rejects_file: String,
    /// Wall time in seconds.
    pub seconds: f64,
}

impl ImportSummary {
    /// Whether every table reconciles: read = accepted + rejected.
    pub fn reconciles(&self) -> bool {
        self.tables.iter().all(|t| t.read == t.accepted + t.rejected)
    }
}

/// The tables found in an export folder with their files, in import order.
pub type TableFiles = Vec<(&'static Table, TableFile)>;

/// Finds each table's export file in `dir`; other files are returned as skipped.
pub fn find_table_files(dir: &Path) -> Result<(TableFiles, Vec<String>), ImportError> {
    let entries = std::fs::read_dir(dir).map_err(|e| ImportError::Io { path: dir.to_path_buf(), source: e })?;
    let mut found: BTreeMap<&'static str, TableFile> = BTreeMap::new();
    let mut skipped = Vec::new();
    let mut names: Vec<(String, PathBuf)> = entries
        .filter_map(Result::ok)
        // Follows symbolic links: operators often link exports from where the BSS drops them.
        .filter(|e| std::fs::metadata(e.path()).map(|m| m.is_file()).unwrap_or(false))
        .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path()))
        .collect();
    names.sort();
    for (name, path) in names {
        let (stem, format) = match name.rsplit_once('.') {
            Some((stem, ext)) if ext.eq_ignore_ascii_case("csv") => (stem, FileFormat::Csv),
            Some((stem, ext)) if ext.eq_ignore_ascii_case("parquet") => (stem, FileFormat::Parquet),
            _ => {
                skipped.push(name);
                continue;
            }
        };
        match TABLES.iter().find(|t| t.name == stem) {
            Some(t) if found.contains_key(t.name) => return Err(ImportError::TwoFiles { table: t.name }),
            Some(t) => {
                found.insert(t.name, TableFile { path, format });
            }
            None => skipped.push(name),
        }
    }
    let ordered = TABLES.iter().filter_map(|t| found.remove(t.name).map(|f| (t, f))).collect();
    Ok((ordered, skipped))
}

/// Imports every table file of `dir` into warehouse `root`.
///
/// On success all tables are committed together at the end; on any error or a reject rate
/// over the limit nothing in the warehouse changes, and the summary and rejects are still
/// written to `W/_imports/<id>/` so the operator can see why.
pub fn import(
    dir: &Path,
    root: &Path,
    opts: &ImportOptions,
    progress: &(dyn Fn(&str, u64) + Sync),
) -> Result<ImportSummary, ImportError> {
    let started = Instant::now();
    let (files, skipped_files) = find_table_files(dir)?;
    if files.is_empty() {
        return Err(ImportError::NoTables { dir: dir.to_path_buf() });
    }
    std::fs::create_dir_all(root).map_err(|e| ImportError::Io { path: root.to_path_buf(), source: e })?;
    let _lock = ImportLock::take(root)?;
    remove_stale_temp_files(root);

    let run_dir = root.join("_imports").join(&opts.import_id);
    std::fs::create_dir_all(&run_dir).map_err(|e| ImportError::Io { path: run_dir.clone(), source: e })?;
    let mut refs = ReferenceSets::default();
    let mut finished: Vec<FinishedFile> = Vec::new();
    let mut tables = Vec::new();
    let mut reject_parts = Vec::new();
    let mut failure: Option<ImportError> = None;

    // Tables of one level refer only to tables of earlier levels, so they are imported side
    // by side, each with its own pipeline; levels follow each other.
    for level in levels(&files) {
        if let Err(e) = level.iter().try_for_each(|(table, _)| refs.load_missing(root, table, &files)) {
            failure = Some(e);
            break;
        }
        let outcomes: Vec<Result<TableOutcome, ImportError>> = std::thread::scope(|scope| {
            let refs = &refs;
            // The level's checker threads are shared out by file size, so tables that run
            // side by side do not start more threads than there are cores to run them.
            let sizes: Vec<u64> =
                level.iter().map(|(_, f)| std::fs::metadata(&f.path).map_or(1, |m| m.len().max(1))).collect();
            let total: u64 = sizes.iter().sum();
            let handles: Vec<_> = level
                .iter()
                .zip(&sizes)
                .map(|((table, file), size)| {
                    let part = run_dir.join(format!(".rejects.{}.tmp", table.name));
                    reject_parts.push(part.clone());
                    let share = (opts.threads as u64 * size).div_ceil(total.max(1)) as usize;
                    let opts = ImportOptions { threads: share.clamp(1, opts.threads.max(1)), ..opts.clone() };
                    scope.spawn(move || import_table(table, file, root, &opts, refs, &part, progress))
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|_| Err(ImportError::Internal("table import panicked".into()))))
                .collect()
        });
        for outcome in outcomes {
            match outcome {
                Ok(done) => {
                    finished.extend(done.files);
                    refs.insert(done.table, done.own_keys);
                    let t = &done.summary;
                    if failure.is_none() && t.read > 0 && t.rejected as f64 / t.read as f64 > opts.max_reject_rate {
                        failure = Some(ImportError::RejectRate {
                            file: t.file.clone(),
                            rejected: t.rejected,
                            read: t.read,
                            limit: opts.max_reject_rate,
                        });
                    }
                    tables.push(done.summary);
                }
                Err(e) => {
                    failure.get_or_insert(e);
                }
            }
        }
        if failure.is_some() {
            break;
        }
    }

    let rejects_path = run_dir.join("rejects.csv");
    let rejects_written = join_rejects(&rejects_path, &reject_parts);
    let mut summary = ImportSummary {
        import_id: opts.import_id.clone(),
        status: "committed".into(),
        message: None,
        source: dir.display().to_string(),
        as_of: opts.as_of.to_string(),
        tables,
        skipped_files,
        rejects_file: rejects_path.display().to_string(),
        seconds: 0.0,
    };
    let failure = failure.or(rejects_written.err());
    if let Some(err) = failure {
        finished.into_iter().for_each(FinishedFile::abandon);
        summary.status = "failed".into();
        summary.message = Some(err.to_string());
        summary.seconds = started.elapsed().as_secs_f64();
        write_summary(&run_dir, &summary)?;
        return Err(err);
    }
    // Commit: every file is complete; renaming them into place is quick and each rename is
    // atomic, so a crash here leaves each partition either old or new, never half-written.
    for f in finished {
        f.commit()?;
    }
    summary.seconds = started.elapsed().as_secs_f64();
    write_summary(&run_dir, &summary)?;
    Ok(summary)
}

/// The tables of an import grouped by level: a table's level is one more than the highest
/// level of the tables it refers to within the import, so each level needs only earlier ones.
fn levels<'f>(files: &'f [(&'static Table, TableFile)]) -> Vec<Vec<&'f (&'static Table, TableFile)>> {
    let mut level_of: BTreeMap<&str, usize> = BTreeMap::new();
    let mut levels: Vec<Vec<&(&'static Table, TableFile)>> = Vec::new();
    // `files` is in schema order, where every table follows the tables it refers to.
    for entry in files {
        let level = entry.0.references.iter().filter_map(|r| level_of.get(r.table).map(|l| l + 1)).max().unwrap_or(0);
        level_of.insert(entry.0.name, level);
        if levels.len() <= level {
            levels.resize_with(level + 1, Vec::new);
        }
        levels[level].push(entry);
    }
    levels
}

fn write_summary(run_dir: &Path, summary: &ImportSummary) -> Result<(), ImportError> {
    let json = serde_json::to_vec_pretty(summary)
        .map_err(|e| ImportError::Io { path: run_dir.join("summary.json"), source: std::io::Error::other(e) })?;
    store::write_atomically(&run_dir.join("summary.json"), &json)
}

/// Removes temporary files a crashed import may have left behind (in table folders,
/// partitions and import records). Only called while holding the import lock.
fn remove_stale_temp_files(root: &Path) {
    let remove_temp_files_in = |dir: &Path| {
        for e in std::fs::read_dir(dir).into_iter().flatten().filter_map(Result::ok) {
            if e.file_name().to_string_lossy().ends_with(".tmp") && e.path().is_file() {
                let _ = std::fs::remove_file(e.path());
            }
        }
    };
    let tops = TABLES.iter().map(|t| store::table_dir(root, t)).chain([root.join("_imports")]);
    for top in tops {
        remove_temp_files_in(&top);
        // Partitions and import records are one level below their folder.
        for e in std::fs::read_dir(&top).into_iter().flatten().filter_map(Result::ok) {
            if e.path().is_dir() {
                remove_temp_files_in(&e.path());
            }
        }
    }
}

/// Only one import may write a warehouse at a time.
struct ImportLock(PathBuf);

impl ImportLock {
    fn take(root: &Path) -> Result<ImportLock, ImportError> {
        let path = root.join(".import.lock");
        match std::fs::OpenOptions::new().write(true).create_new(true).open(&path) {
            Ok(mut f) => {
                use std::io::Write;
                let _ = writeln!(f, "{}", std::process::id());
                Ok(ImportLock(path))
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let holder = std::fs::read_to_string(&path).unwrap_or_default();
                Err(ImportError::Locked { path, holder: holder.trim().to_owned() })
            }
            Err(e) => Err(ImportError::Io { path, source: e }),
        }
    }
}

impl Drop for ImportLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Keys of referenced tables (branches, plans, devices, subscribers), from this import or
/// from the warehouse.
#[derive(Default)]
struct ReferenceSets {
    ints: BTreeMap<&'static str, IdSet>,
    codes: BTreeMap<&'static str, FxHashSet<String>>,
}

impl ReferenceSets {
    fn has(&self, table: &str) -> bool {
        self.ints.contains_key(table) || self.codes.contains_key(table)
    }

    /// Loads from the warehouse the tables `table` references that this import does not bring.
    fn load_missing(
        &mut self,
        root: &Path,
        table: &Table,
        files: &[(&'static Table, TableFile)],
    ) -> Result<(), ImportError> {
        for r in table.references {
            if self.has(r.table) || files.iter().any(|(t, _)| t.name == r.table) {
                continue;
            }
            let target = cvm_domain::schema::table(r.table)
                .ok_or(ImportError::MissingReference { table: table.name, referenced: r.table })?;
            match store::read_keys(root, target)? {
                Some(store::StoredKeys::Ints(v)) => {
                    self.ints.insert(target.name, IdSet::from_ids(&v));
                }
                Some(store::StoredKeys::Codes(v)) => {
                    self.codes.insert(target.name, v.into_iter().collect());
                }
                None => return Err(ImportError::MissingReference { table: table.name, referenced: r.table }),
            }
        }
        Ok(())
    }

    /// Whether `cell` names an existing row of table `target` (an empty cell refers to nothing).
    fn contains(&self, target: &str, cell: &Cell<'_>) -> bool {
        match cell {
            Cell::Null => true,
            Cell::Int(v) => self.ints.get(target).is_some_and(|s| s.contains(*v)),
            other => match other.as_str() {
                Some(code) => self.codes.get(target).is_some_and(|s| s.contains(code)),
                None => false,
            },
        }
    }

    /// Adds the keys gathered while importing `table`.
    fn insert(&mut self, table: &'static str, keys: OwnKeys) {
        if !keys.ints.is_empty() {
            self.ints.insert(table, IdSet::from_ids(&keys.ints));
        }
        if !keys.codes.is_empty() {
            self.codes.insert(table, keys.codes);
        }
    }
}

/// Keys of a referenced table gathered while it is imported.
#[derive(Default)]
struct OwnKeys {
    ints: Vec<i64>,
    codes: FxHashSet<String>,
}

impl OwnKeys {
    /// Records the keys of accepted rows.
    fn add(&mut self, table: &'static Table, batch: &RecordBatch) {
        let Some(idx) = table.column_index(table.key[0]) else { return };
        let col = batch.column(idx);
        if let Some(a) = col.as_any().downcast_ref::<Int64Array>() {
            self.ints.extend(a.iter().flatten());
        } else if let Some(a) = col.as_any().downcast_ref::<StringArray>() {
            self.codes.extend(a.iter().flatten().map(str::to_owned));
        }
    }
}

/// Whether some table references `table`, so its keys must be remembered.
fn is_referenced(table: &Table) -> bool {
    TABLES.iter().any(|t| t.references.iter().any(|r| r.table == table.name))
}

/// A row set aside, with where it was and why.
struct Reject {
    line: u64,
    column: &'static str,
    value: String,
    problem: Problem,
    other_problems: usize,
    record: String,
}

/// One table's rejected rows, written to a part file while the table is imported.
struct RejectsFile {
    path: PathBuf,
    writer: csv::Writer<std::io::BufWriter<std::fs::File>>,
}

const REJECTS_HEADER: &str = "table,file,line,column,value,reason,kind,other_problems,record\n";

impl RejectsFile {
    fn create(path: &Path) -> Result<RejectsFile, ImportError> {
        let file = std::fs::File::create(path).map_err(|e| ImportError::Io { path: path.to_path_buf(), source: e })?;
        Ok(RejectsFile { path: path.to_path_buf(), writer: csv::Writer::from_writer(std::io::BufWriter::new(file)) })
    }

    fn write(&mut self, table: &str, file: &str, r: &Reject) -> Result<(), ImportError> {
        self.writer
            .write_record([
                table,
                file,
                &r.line.to_string(),
                r.column,
                &r.value,
                &r.problem.to_string(),
                r.problem.category(),
                &r.other_problems.to_string(),
                &r.record,
            ])
            .map_err(|e| csv_io(&self.path, e))
    }

    fn close(self) -> Result<(), ImportError> {
        self.writer
            .into_inner()
            .map(drop)
            .map_err(|e| ImportError::Io { path: self.path.clone(), source: e.into_error() })
    }
}

/// Joins the tables' reject parts, in table order, into the import's one rejects file.
fn join_rejects(path: &Path, parts: &[PathBuf]) -> Result<(), ImportError> {
    use std::io::Write;
    fn io(p: &Path) -> impl Fn(std::io::Error) -> ImportError + '_ {
        move |e| ImportError::Io { path: p.to_path_buf(), source: e }
    }
    let temp = path.with_file_name(".rejects.csv.tmp");
    let mut out = std::io::BufWriter::new(std::fs::File::create(&temp).map_err(io(&temp))?);
    out.write_all(REJECTS_HEADER.as_bytes()).map_err(io(&temp))?;
    for part in parts.iter().filter(|p| p.exists()) {
        std::io::copy(&mut std::fs::File::open(part).map_err(io(part))?, &mut out).map_err(io(&temp))?;
        let _ = std::fs::remove_file(part);
    }
    let file = out.into_inner().map_err(|e| ImportError::Io { path: temp.clone(), source: e.into_error() })?;
    file.sync_all().map_err(io(&temp))?;
    std::fs::rename(&temp, path).map_err(io(path))
}

fn csv_io(path: &Path, e: csv::Error) -> ImportError {
    ImportError::Io { path: path.to_path_buf(), source: std::io::Error::other(e) }
}

/// The checked rows of one chunk.
struct CheckedChunk {
    index: u64,
    read: u64,
    batch: RecordBatch,
    lines: Vec<u64>,
    spans: Vec<(usize, usize)>,
    data: Vec<u8>,
    encoding: Encoding,
    rejects: Vec<Reject>,
}

impl CheckedChunk {
    fn record_text(&self, row: usize) -> String {
        let (start, end) = self.spans[row];
        record_text(&self.data[start..end], self.encoding)
    }
}

/// A record's text for the rejects file: UTF-8, without its line end.
fn record_text(bytes: &[u8], encoding: Encoding) -> String {
    let text = match encoding {
        Encoding::Utf8 => String::from_utf8_lossy(bytes).into_owned(),
        Encoding::Gbk => encoding_rs::GBK.decode_without_bom_handling(bytes).0.into_owned(),
    };
    text.trim_end_matches(['\n', '\r']).to_owned()
}

/// What importing one table produced, for the caller to commit or abandon.
struct TableOutcome {
    table: &'static str,
    summary: TableSummary,
    files: Vec<FinishedFile>,
    own_keys: OwnKeys,
}

/// The state of one table's import in the sequencer.
struct TableImport {
    table: &'static Table,
    file_name: String,
    keys: KeyCheck,
    own_keys: Option<OwnKeys>,
    rejects: RejectsFile,
    to_writer: crossbeam_channel::Sender<(String, RecordBatch)>,
    summary: TableSummary,
}

impl TableImport {
    /// Decides duplicate keys for a chunk's valid rows, in file order, records rejects, and
    /// sends the accepted rows to the writer by partition.
    fn accept(&mut self, chunk: CheckedChunk) -> Result<(), ImportError> {
        let table = self.table;
        self.summary.read += chunk.read;
        let mut keep = Vec::with_capacity(chunk.batch.num_rows());
        let mut all_rejects = Vec::new();
        let duplicates = self.keys.check_batch(&chunk.batch, &chunk.lines);
        for (row, duplicate_of) in duplicates.into_iter().enumerate() {
            keep.push(duplicate_of.is_none());
            if let Some(first_line) = duplicate_of {
                let column = table.key[0];
                let idx = table.column_index(column).unwrap_or(0);
                let value =
                    arrow::util::display::array_value_to_string(chunk.batch.column(idx), row).unwrap_or_default();
                all_rejects.push(Reject {
                    line: chunk.lines[row],
                    column,
                    value,
                    problem: Problem::Duplicate(table.key.join(" + "), first_line),
                    other_problems: 0,
                    record: chunk.record_text(row),
                });
            }
        }
        let CheckedChunk { batch, rejects: early, .. } = chunk;
        all_rejects.extend(early);
        all_rejects.sort_by_key(|r| r.line);
        for r in &all_rejects {
            self.rejects.write(table.name, &self.file_name, r)?;
            let column = if r.column.is_empty() { "record" } else { r.column };
            *self.summary.problems.entry(format!("{column}: {}", r.problem.category())).or_default() += 1;
        }
        self.summary.rejected += all_rejects.len() as u64;
        let accepted = if keep.iter().all(|k| *k) {
            batch
        } else {
            filter_record_batch(&batch, &BooleanArray::from(keep)).map_err(|e| ImportError::Internal(e.to_string()))?
        };
        self.summary.accepted += accepted.num_rows() as u64;
        if let Some(keys) = &mut self.own_keys {
            keys.add(table, &accepted);
        }
        if accepted.num_rows() == 0 {
            return Ok(());
        }
        for part in split_by_partition(table, accepted)? {
            // The writer stops only on an error of its own, which it reports.
            if self.to_writer.send(part).is_err() {
                break;
            }
        }
        Ok(())
    }
}

/// Writes a table's partitions as batches arrive, each to its pending file; returns them
/// unfinished so the caller finishes or abandons them together. Runs on its own thread.
fn write_partitions(
    table: &'static Table,
    root: &Path,
    schema: &SchemaRef,
    import_id: &str,
    batches: crossbeam_channel::Receiver<(String, RecordBatch)>,
) -> Result<BTreeMap<String, PendingFile>, ImportError> {
    let mut writers: BTreeMap<String, PendingFile> = BTreeMap::new();
    let write = |part: String, batch: &RecordBatch, writers: &mut BTreeMap<String, PendingFile>| {
        if !writers.contains_key(&part) {
            let path = match table.partitioning {
                Partitioning::Snapshot => store::snapshot_path(root, table),
                Partitioning::ByMonth(_) => store::partition_path(root, table, &part),
            };
            writers.insert(part.clone(), PendingFile::create(path, schema.clone(), import_id)?);
        }
        match writers.get_mut(&part) {
            Some(w) => w.write(batch),
            None => Err(ImportError::Internal("partition writer vanished".into())),
        }
    };
    for (part, batch) in batches {
        if let Err(e) = write(part, &batch, &mut writers) {
            writers.into_values().for_each(PendingFile::abandon);
            return Err(e);
        }
    }
    // A snapshot table with no accepted row is still replaced: the export says it is empty.
    if table.partitioning == Partitioning::Snapshot && writers.is_empty() {
        let empty = RecordBatch::new_empty(schema.clone());
        write("snapshot".into(), &empty, &mut writers)?;
    }
    Ok(writers)
}

/// Imports one table: reader, checkers, sequencer and writer threads.
fn import_table(
    table: &'static Table,
    file: &TableFile,
    root: &Path,
    opts: &ImportOptions,
    refs: &ReferenceSets,
    rejects_part: &Path,
    progress: &(dyn Fn(&str, u64) + Sync),
) -> Result<TableOutcome, ImportError> {
    let started = Instant::now();
    let schema = arrow_schema(table);
    let ctx = Context { as_of: opts.as_of };
    let file_name = file.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let encoding = if file.format == FileFormat::Parquet { Encoding::Utf8 } else { opts.encoding };
    let threads = opts.threads.max(1);
    let (work_tx, work_rx) = crossbeam_channel::bounded::<(Arc<ColumnMap>, Chunk)>(threads * 2);
    let (done_tx, done_rx) = crossbeam_channel::bounded::<CheckedChunk>(threads * 2);
    let (write_tx, write_rx) = crossbeam_channel::bounded::<(String, RecordBatch)>(4);
    let mut state = TableImport {
        table,
        file_name: file_name.clone(),
        keys: KeyCheck::new(table, refs),
        own_keys: is_referenced(table).then(OwnKeys::default),
        rejects: RejectsFile::create(rejects_part)?,
        to_writer: write_tx,
        summary: TableSummary {
            table: table.name.into(),
            file: file_name,
            read: 0,
            accepted: 0,
            rejected: 0,
            partitions: BTreeMap::new(),
            problems: BTreeMap::new(),
            seconds: 0.0,
        },
    };

    let (sequenced, written) = std::thread::scope(|scope| {
        let reader = scope.spawn(move || read_file(table, file, encoding, work_tx));
        for _ in 0..threads {
            let (work_rx, done_tx, schema) = (work_rx.clone(), done_tx.clone(), schema.clone());
            // References point only to tables of earlier levels, which no thread changes now.
            scope.spawn(move || {
                for (map, chunk) in work_rx {
                    let checked = check_chunk(table, &map, chunk, &ctx, encoding, &schema, refs);
                    if done_tx.send(checked).is_err() {
                        return;
                    }
                }
            });
        }
        let writer_schema = schema.clone();
        let writer = scope.spawn(move || write_partitions(table, root, &writer_schema, &opts.import_id, write_rx));
        drop(done_tx);
        drop(work_rx);

        // Sequencer: take chunks in file order. After a failure the remaining chunks are
        // drained so the other threads can finish.
        let mut waiting: BTreeMap<u64, CheckedChunk> = BTreeMap::new();
        let mut next = 0u64;
        let mut failed: Option<ImportError> = None;
        for chunk in &done_rx {
            waiting.insert(chunk.index, chunk);
            while let Some(chunk) = waiting.remove(&next) {
                next += 1;
                if failed.is_none() {
                    failed = state.accept(chunk).err();
                    progress(table.name, state.summary.read);
                }
            }
        }
        // Closing the channel tells the writer that no more batches come.
        let (no_more, _) = crossbeam_channel::bounded(0);
        drop(std::mem::replace(&mut state.to_writer, no_more));
        let read = reader.join().unwrap_or_else(|_| Err(ImportError::Internal("reader thread panicked".into())));
        let written = writer.join().unwrap_or_else(|_| Err(ImportError::Internal("writer thread panicked".into())));
        (read.and(failed.map_or(Ok(()), Err)), written)
    });
    let closed = state.rejects.close();
    let writers = match (sequenced.and(closed), written) {
        (Ok(()), Ok(writers)) => writers,
        (Err(e), Ok(writers)) => {
            writers.into_values().for_each(PendingFile::abandon);
            return Err(e);
        }
        (_, Err(e)) => return Err(e),
    };
    let mut files = Vec::new();
    for (part, w) in writers {
        state.summary.partitions.insert(part, w.rows());
        files.push(w.finish()?);
    }
    state.summary.seconds = started.elapsed().as_secs_f64();
    Ok(TableOutcome { table: table.name, summary: state.summary, files, own_keys: state.own_keys.unwrap_or_default() })
}

/// Reads `file` and sends its chunks, each with the header's column map, to the checkers.
fn read_file(
    table: &'static Table,
    file: &TableFile,
    encoding: Encoding,
    work_tx: crossbeam_channel::Sender<(Arc<ColumnMap>, Chunk)>,
) -> Result<(), ImportError> {
    // A send fails only when the checkers stopped early; the error that stopped them is
    // the one reported.
    let emit = |map: &Arc<ColumnMap>, chunk: Chunk| {
        let _ = work_tx.send((map.clone(), chunk));
        Ok(())
    };
    match file.format {
        FileFormat::Csv => source::read_csv(&file.path, encoding, table, emit),
        FileFormat::Parquet => source::read_parquet(&file.path, table, emit),
    }
}

/// An Arrow column being built from checked cells.
enum ColumnBuilder {
    Int(Int64Builder),
    Money(Decimal128Builder),
    Text(StringBuilder),
    Date(Date32Builder),
    Bool(BooleanBuilder),
}

impl ColumnBuilder {
    fn new(kind: Kind) -> ColumnBuilder {
        match kind {
            Kind::Int { .. } => ColumnBuilder::Int(Int64Builder::new()),
            Kind::Money { .. } => {
                ColumnBuilder::Money(Decimal128Builder::new().with_data_type(crate::arrow_schema::MONEY))
            }
            Kind::Date { .. } => ColumnBuilder::Date(Date32Builder::new()),
            Kind::Bool => ColumnBuilder::Bool(BooleanBuilder::new()),
            Kind::Month | Kind::Code | Kind::Text { .. } | Kind::Enum(_) | Kind::EnumList(_) | Kind::Msisdn => {
                ColumnBuilder::Text(StringBuilder::new())
            }
        }
    }

    fn append(&mut self, cell: &Cell<'_>) {
        match (self, cell) {
            (ColumnBuilder::Int(b), Cell::Int(v)) => b.append_value(*v),
            (ColumnBuilder::Money(b), Cell::Money(v)) => b.append_value(i128::from(*v)),
            (ColumnBuilder::Date(b), Cell::Date(v)) => b.append_value(*v),
            (ColumnBuilder::Bool(b), Cell::Bool(v)) => b.append_value(*v),
            (ColumnBuilder::Text(b), Cell::Text(s)) => b.append_value(s),
            (ColumnBuilder::Text(b), Cell::Owned(s)) => b.append_value(s),
            (ColumnBuilder::Int(b), _) => b.append_null(),
            (ColumnBuilder::Money(b), _) => b.append_null(),
            (ColumnBuilder::Date(b), _) => b.append_null(),
            (ColumnBuilder::Bool(b), _) => b.append_null(),
            (ColumnBuilder::Text(b), _) => b.append_null(),
        }
    }

    fn finish(self) -> ArrayRef {
        match self {
            ColumnBuilder::Int(mut b) => Arc::new(b.finish()),
            ColumnBuilder::Money(mut b) => Arc::new(b.finish()),
            ColumnBuilder::Text(mut b) => Arc::new(b.finish()),
            ColumnBuilder::Date(mut b) => Arc::new(b.finish()),
            ColumnBuilder::Bool(mut b) => Arc::new(b.finish()),
        }
    }
}

/// Checks every record of a chunk field by field and against the row rules: valid rows
/// become an Arrow batch, the others rejects. Runs on a checker thread.
fn check_chunk(
    table: &Table,
    map: &ColumnMap,
    chunk: Chunk,
    ctx: &Context,
    encoding: Encoding,
    schema: &SchemaRef,
    refs: &ReferenceSets,
) -> CheckedChunk {
    let mut builders: Vec<ColumnBuilder> = table.columns.iter().map(|c| ColumnBuilder::new(c.kind)).collect();
    let rules = validate::RowRules::for_table(table);
    let references: Vec<(usize, &Reference)> =
        table.references.iter().filter_map(|r| table.column_index(r.column).map(|i| (i, r))).collect();
    let mut lines = Vec::new();
    let mut spans = Vec::new();
    let mut rejects = Vec::new();
    let mut read = 0u64;
    let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(&chunk.data[..]);
    let mut record = csv::ByteRecord::new();
    let mut decoded = csv::ByteRecord::new();
    // Reused between records: the cells borrow the record, so the buffer is emptied into a
    // fresh lifetime each time (an in-place collect that keeps the allocation).
    let mut cell_buffer: Vec<Cell<'static>> = Vec::with_capacity(table.columns.len());
    loop {
        let start = reader.position().byte() as usize;
        let start_line = reader.position().line();
        let more = match reader.read_byte_record(&mut record) {
            Ok(more) => more,
            Err(e) => {
                // The csv reader reads bytes and only fails on I/O, which a slice has none of;
                // should it ever fail, the rest of the chunk is rejected, not lost.
                let rest = &chunk.data[start..];
                read += 1;
                rejects.push(Reject {
                    line: chunk.first_line + start_line.saturating_sub(1),
                    column: "",
                    value: String::new(),
                    problem: Problem::Type(format!("unreadable CSV: {e}")),
                    other_problems: 0,
                    record: record_text(rest, encoding),
                });
                break;
            }
        };
        if !more {
            break;
        }
        let end = reader.position().byte() as usize;
        read += 1;
        let index_in_chunk = read - 1;
        let line = if chunk.one_record_per_line {
            chunk.first_line + index_in_chunk
        } else {
            chunk.first_line + record.position().map_or(start_line, |p| p.line()).saturating_sub(1)
        };
        let reject = |column: &'static str, value: &[u8], problem: Problem, others: usize| Reject {
            line,
            column,
            value: validate::cut(&record_text(value, encoding)),
            problem,
            other_problems: others,
            record: record_text(&chunk.data[start..end], encoding),
        };
        if record.len() != map.width {
            rejects.push(reject("", b"", Problem::FieldCount { expected: map.width, found: record.len() }, 0));
            continue;
        }
        let fields: &csv::ByteRecord = match encoding {
            Encoding::Utf8 => &record,
            Encoding::Gbk => match decode_gbk(&record, &mut decoded) {
                Ok(()) => &decoded,
                Err(pos) => {
                    let column = table
                        .columns
                        .iter()
                        .zip(&map.positions)
                        .find(|(_, p)| **p == Some(pos))
                        .map_or("", |(c, _)| c.name);
                    rejects.push(reject(column, &record[pos], Problem::Encoding("GBK"), 0));
                    continue;
                }
            },
        };
        let mut cells: Vec<Cell<'_>> = std::mem::take(&mut cell_buffer).into_iter().map(|_| Cell::Null).collect();
        cells.clear();
        let mut first_problem: Option<(&'static str, &[u8], Problem)> = None;
        let mut others = 0usize;
        for (column, pos) in table.columns.iter().zip(&map.positions) {
            let raw: &[u8] = pos.and_then(|p| fields.get(p)).unwrap_or(b"");
            match validate::parse_field(column, raw, ctx) {
                Ok(cell) => cells.push(cell),
                Err(problem) => {
                    cells.push(Cell::Null);
                    if first_problem.is_none() {
                        first_problem = Some((column.name, raw, problem));
                    } else {
                        others += 1;
                    }
                }
            }
        }
        if let Some((column, raw, problem)) = first_problem {
            let r = reject(column, raw, problem, others);
            rejects.push(r);
            continue;
        }
        if let Err((column, problem)) = rules.check(&cells) {
            let raw =
                table.column_index(column).and_then(|i| map.positions[i]).and_then(|p| fields.get(p)).unwrap_or(b"");
            let r = reject(column, raw, problem, 0);
            rejects.push(r);
            continue;
        }
        let unknown = references.iter().find(|(i, r)| !refs.contains(r.table, &cells[*i]));
        if let Some((i, r)) = unknown {
            let raw = map.positions[*i].and_then(|p| fields.get(p)).unwrap_or(b"");
            let rej = reject(r.column, raw, Problem::UnknownReference(r.table), 0);
            rejects.push(rej);
            continue;
        }
        for (b, cell) in builders.iter_mut().zip(&cells) {
            b.append(cell);
        }
        cells.clear();
        cell_buffer = cells.into_iter().map(|_| Cell::Null).collect();
        lines.push(line);
        spans.push((start, end));
    }
    let columns: Vec<ArrayRef> = builders.into_iter().map(ColumnBuilder::finish).collect();
    let batch =
        RecordBatch::try_new(schema.clone(), columns).unwrap_or_else(|_| RecordBatch::new_empty(schema.clone()));
    CheckedChunk { index: chunk.index, read, batch, lines, spans, data: chunk.data, encoding, rejects }
}

/// Decodes a GBK record into UTF-8 `out`; on failure returns the field that is not GBK.
fn decode_gbk(record: &csv::ByteRecord, out: &mut csv::ByteRecord) -> Result<(), usize> {
    out.clear();
    for (i, field) in record.iter().enumerate() {
        if field.is_ascii() {
            out.push_field(field);
        } else {
            let text = encoding_rs::GBK.decode_without_bom_handling_and_without_replacement(field).ok_or(i)?;
            out.push_field(text.as_bytes());
        }
    }
    Ok(())
}

/// Remembers the keys seen so far in a table, to refuse duplicates.
///
/// Keys made of numbers, dates, months and enum values are packed into one `u128`; other
/// keys are kept as text. A subscriber-month key (usage) whose subscribers have dense ids
/// uses one array per month indexed by id instead: usage is the largest table (10M x 6 keys
/// at the large end), and an array lookup avoids a cache miss per row and gigabytes of hash
/// table.
struct KeyCheck {
    columns: Vec<(usize, Kind)>,
    packed: Option<rustc_hash::FxHashMap<u128, u64>>,
    text: rustc_hash::FxHashMap<String, u64>,
    per_month: Option<PerMonthIds>,
    /// Single whole-number keys (event ids, sale ids, subscriber ids).
    single_int: Option<FirstLines>,
    /// Keys of a dense id plus dates and enum values (holdings), packed into 64 bits.
    narrow: Option<NarrowKeys>,
}

/// Keys whose first column is an id of a dense set (a subscriber) and whose other columns are
/// dates, months or enum values: the id becomes its 32-bit position in the set's range, the
/// rest fits the other 32 bits, and the first line is kept as 32 bits. Half the memory of a
/// general packed key, which for 23M holdings at 10M subscribers is most of the import's.
struct NarrowKeys {
    ids: IdSet,
    seen: rustc_hash::FxHashMap<u64, u32>,
}

/// The ids of the table that the key's first column refers to, when they are dense (a
/// bitmap over their range): then a key's id can be stood for by its position in the range.
fn dense_ids_of_first_key<'r>(table: &Table, refs: &'r ReferenceSets) -> Option<&'r IdSet> {
    let r = table.references.iter().find(|r| r.column == table.key[0])?;
    refs.ints.get(r.table).filter(|ids| ids.range_len().is_some())
}

/// Bits for the non-id part of a narrow key, or `None` if a column does not fit.
fn narrow_bits(kind: &Kind) -> Option<u32> {
    match kind {
        // Days since 1900-01-01 up to year 2999 fit 19 bits.
        Kind::Date { .. } => Some(19),
        Kind::Month => Some(16),
        Kind::Enum(values) if values.len() <= 256 => Some(8),
        _ => None,
    }
}

/// Days from 1900-01-01 (the earliest date the schema accepts) to 1970-01-01.
const DAYS_1900_TO_EPOCH: i64 = 25_567;

/// First lines of (id, month) keys: for each month, an array over the dense id range.
struct PerMonthIds {
    ids: IdSet,
    range: usize,
    /// Month index -> first line of each id offset (0 = not seen; saturates at u32::MAX).
    months: BTreeMap<i32, Vec<u32>>,
}

impl KeyCheck {
    fn new(table: &Table, refs: &ReferenceSets) -> KeyCheck {
        let columns: Vec<(usize, Kind)> =
            table.key.iter().filter_map(|k| table.column_index(k).map(|i| (i, table.columns[i].kind))).collect();
        let bits: u32 = columns
            .iter()
            .map(|(_, kind)| match kind {
                Kind::Int { .. } => 64,
                Kind::Date { .. } => 32,
                Kind::Month => 16,
                Kind::Enum(_) => 8,
                _ => 1000,
            })
            .sum();
        let per_month = match columns.as_slice() {
            [(_, Kind::Int { .. }), (_, Kind::Month)] => dense_ids_of_first_key(table, refs).and_then(|ids| {
                Some(PerMonthIds { ids: ids.clone(), range: ids.range_len()?, months: BTreeMap::new() })
            }),
            _ => None,
        };
        let single_int = matches!(columns.as_slice(), [(_, Kind::Int { .. })]).then(FirstLines::default);
        let narrow = match columns.split_first() {
            Some(((_, Kind::Int { .. }), rest))
                if per_month.is_none()
                    && !rest.is_empty()
                    && rest.iter().map(|(_, k)| narrow_bits(k)).sum::<Option<u32>>().is_some_and(|b| b <= 32) =>
            {
                dense_ids_of_first_key(table, refs)
                    .filter(|ids| ids.range_len().is_some_and(|n| n <= u32::MAX as usize))
                    .map(|ids| NarrowKeys { ids: ids.clone(), seen: Default::default() })
            }
            _ => None,
        };
        KeyCheck {
            columns,
            packed: (bits <= 128).then(Default::default),
            text: Default::default(),
            per_month,
            single_int,
            narrow,
        }
    }

    /// For each row of `batch` in order: `None` if its key is new (it is remembered with its
    /// line), or the line of the row that had the key first.
    fn check_batch(&mut self, batch: &RecordBatch, lines: &[u64]) -> Vec<Option<u64>> {
        if let Some(per_month) = &mut self.per_month {
            let ids = batch.column(self.columns[0].0).as_any().downcast_ref::<Int64Array>();
            let months = batch.column(self.columns[1].0).as_any().downcast_ref::<StringArray>();
            if let (Some(ids), Some(months)) = (ids, months) {
                return (0..batch.num_rows())
                    .map(|row| {
                        let month = Month::parse(months.value(row)).map_or(0, Month::index);
                        // Rows reach here only after their reference check, so the id is in range.
                        let offset = per_month.ids.offset(ids.value(row))?;
                        let range = per_month.range;
                        let first = &mut per_month.months.entry(month).or_insert_with(|| vec![0; range])[offset];
                        if *first == 0 {
                            *first = u32::try_from(lines[row]).unwrap_or(u32::MAX);
                            None
                        } else {
                            Some(u64::from(*first))
                        }
                    })
                    .collect();
            }
        }
        if let Some(narrow) = &mut self.narrow
            && let Some(keys) = narrow_keys(&self.columns, &narrow.ids, batch)
        {
            return keys
                .into_iter()
                .zip(lines)
                .map(|(key, line)| {
                    // Rows reach here only after their reference check, so the id is in range.
                    let key = key?;
                    match narrow.seen.entry(key) {
                        std::collections::hash_map::Entry::Occupied(e) => Some(u64::from(*e.get())),
                        std::collections::hash_map::Entry::Vacant(e) => {
                            e.insert(u32::try_from(*line).unwrap_or(u32::MAX));
                            None
                        }
                    }
                })
                .collect();
        }
        if let Some(seen) = &mut self.single_int
            && let Some(ids) = batch.column(self.columns[0].0).as_any().downcast_ref::<Int64Array>()
        {
            return ids.values().iter().zip(lines).map(|(id, line)| seen.first_seen(*id, *line)).collect();
        }
        let Some(seen) = &mut self.packed else {
            return (0..batch.num_rows())
                .map(|row| {
                    let key: Vec<String> = self
                        .columns
                        .iter()
                        .map(|(i, _)| {
                            arrow::util::display::array_value_to_string(batch.column(*i), row).unwrap_or_default()
                        })
                        .collect();
                    first_seen(&mut self.text, key.join("\u{1f}"), lines[row])
                })
                .collect();
        };
        // Each key column as numbers with its width in bits, packed left to right.
        let parts: Vec<(u32, Vec<u128>)> = self
            .columns
            .iter()
            .map(|(i, kind)| {
                let col = batch.column(*i).as_any();
                match kind {
                    Kind::Int { .. } => (
                        64,
                        col.downcast_ref::<Int64Array>()
                            .map_or(Vec::new(), |a| a.values().iter().map(|v| *v as u64 as u128).collect()),
                    ),
                    Kind::Date { .. } => (
                        32,
                        col.downcast_ref::<Date32Array>()
                            .map_or(Vec::new(), |a| a.values().iter().map(|v| *v as u32 as u128).collect()),
                    ),
                    Kind::Month => (
                        16,
                        col.downcast_ref::<StringArray>().map_or(Vec::new(), |a| {
                            a.iter()
                                .map(|v| v.and_then(|m| Month::parse(m).ok()).map_or(0, |m| m.index() as u16 as u128))
                                .collect()
                        }),
                    ),
                    Kind::Enum(values) => (
                        8,
                        col.downcast_ref::<StringArray>().map_or(Vec::new(), |a| {
                            a.iter()
                                .map(|v| values.iter().position(|x| Some(*x) == v).map_or(0, |p| p as u128))
                                .collect()
                        }),
                    ),
                    _ => (0, Vec::new()),
                }
            })
            .collect();
        (0..batch.num_rows())
            .map(|row| {
                let key = parts
                    .iter()
                    .fold(0u128, |key, (bits, values)| (key << bits) | values.get(row).copied().unwrap_or(0));
                first_seen(seen, key, lines[row])
            })
            .collect()
    }
}

/// The narrow key of each row (see [`NarrowKeys`]), `None` for an id outside the set's range.
fn narrow_keys(columns: &[(usize, Kind)], ids: &IdSet, batch: &RecordBatch) -> Option<Vec<Option<u64>>> {
    let (first, rest) = columns.split_first()?;
    let id_col = batch.column(first.0).as_any().downcast_ref::<Int64Array>()?;
    let mut keys: Vec<Option<u64>> =
        id_col.values().iter().map(|id| ids.offset(*id).map(|o| (o as u64) << 32)).collect();
    let mut shift = 32u32;
    for (i, kind) in rest {
        let bits = narrow_bits(kind)?;
        shift -= bits;
        let col = batch.column(*i).as_any();
        let values: Vec<u64> = match kind {
            Kind::Date { .. } => col
                .downcast_ref::<Date32Array>()?
                .values()
                .iter()
                .map(|d| (i64::from(*d) + DAYS_1900_TO_EPOCH).clamp(0, (1 << 19) - 1) as u64)
                .collect(),
            Kind::Month => col
                .downcast_ref::<StringArray>()?
                .iter()
                .map(|m| m.and_then(|m| Month::parse(m).ok()).map_or(0, |m| m.index() as u16 as u64))
                .collect(),
            Kind::Enum(values) => col
                .downcast_ref::<StringArray>()?
                .iter()
                .map(|v| values.iter().position(|x| Some(*x) == v).map_or(0, |p| p as u64))
                .collect(),
            _ => return None,
        };
        for (key, v) in keys.iter_mut().zip(values) {
            if let Some(k) = key {
                *k |= v << shift;
            }
        }
    }
    Some(keys)
}

/// `None` if `key` is new (remembering `line`), else the line that had it first.
fn first_seen<K: std::hash::Hash + Eq>(seen: &mut rustc_hash::FxHashMap<K, u64>, key: K, line: u64) -> Option<u64> {
    match seen.entry(key) {
        std::collections::hash_map::Entry::Occupied(e) => Some(*e.get()),
        std::collections::hash_map::Entry::Vacant(e) => {
            e.insert(line);
            None
        }
    }
}

/// Splits accepted rows by warehouse partition: one `snapshot`, or one batch per month.
fn split_by_partition(table: &Table, batch: RecordBatch) -> Result<Vec<(String, RecordBatch)>, ImportError> {
    let Partitioning::ByMonth(column) = table.partitioning else {
        return Ok(vec![("snapshot".into(), batch)]);
    };
    let idx = table.column_index(column).ok_or_else(|| ImportError::Internal(format!("no column {column}")))?;
    let col = batch.column(idx);
    // Month of each row as a number (months since year 0); checked rows always have one.
    let months: Vec<i32> = if let Some(a) = col.as_any().downcast_ref::<StringArray>() {
        a.iter().map(|v| v.and_then(|m| Month::parse(m).ok()).map_or(0, Month::index)).collect()
    } else if let Some(a) = col.as_any().downcast_ref::<Date32Array>() {
        a.values().iter().map(|d| Date::from_days_since_epoch(*d).month().index()).collect()
    } else {
        return Err(ImportError::Internal(format!("partition column {column} is neither a month nor a date")));
    };
    let name = |index: i32| Month::new(index.div_euclid(12), index.rem_euclid(12) as u32 + 1).map(|m| m.to_string());
    let name = |index: i32| name(index).map_err(|e| ImportError::Internal(e.to_string()));
    if months.windows(2).all(|w| w[0] == w[1]) {
        return Ok(vec![(name(months.first().copied().unwrap_or(0))?, batch)]);
    }
    let mut rows: BTreeMap<i32, Vec<u32>> = BTreeMap::new();
    for (i, m) in months.iter().enumerate() {
        rows.entry(*m).or_default().push(i as u32);
    }
    rows.into_iter()
        .map(|(m, idx)| {
            let part =
                take_record_batch(&batch, &UInt32Array::from(idx)).map_err(|e| ImportError::Internal(e.to_string()))?;
            Ok((name(m)?, part))
        })
        .collect()
}
