//! Where a run's results live, and committing them whole: write into a temporary folder,
//! then rename it over the previous run, so a reader or a crash never sees half a run.

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_writer::{ArrowColumnChunk, compute_leaves};
use parquet::basic::{Compression, Encoding};
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::compute::concat_batches;
use datafusion::arrow::datatypes::{DataType, Schema, SchemaRef};

use crate::{AnalyticsError, Result, RunOutput};

/// What `summary.json` of a run records.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSummary {
    /// The as-of month, `YYYY-MM`.
    pub as_of: String,
    /// The window's months, oldest first.
    pub window_months: Vec<String>,
    /// Subscribers with features (rows of features.parquet).
    pub rows: u64,
    /// Columns of features.parquet, `subscriber_id` included.
    pub columns: u64,
    /// Segments computed (built-in and the analyst's).
    pub segments: u64,
    /// Saved version of the analyst's segments file used (`W/segments/vNNNN.toml`), if any.
    pub segments_version: Option<u32>,
    /// Clusters made.
    pub clusters: u64,
    /// Churn rule warnings raised.
    pub warnings: u64,
    /// Subscribers scored by the installed churn model (none without a model).
    pub churn_scored: Option<u64>,
    /// Offers written by the next-best-offer step (one per subscriber and channel).
    pub offers: u64,
    /// Seconds the caller measured for the whole computation.
    pub seconds: f64,
}

/// Files of a committed run.
pub mod files {
    /// One row per subscriber: features, value, tier, lifecycle group, cluster.
    pub const FEATURES: &str = "features.parquet";
    /// (segment, subscriber_id): members of every segment.
    pub const MEMBERS: &str = "segment_members.parquet";
    /// The value pyramid and Pareto curve.
    pub const VALUE: &str = "value.json";
    /// The lifecycle groups.
    pub const LIFECYCLE: &str = "lifecycle.json";
    /// The clusters.
    pub const CLUSTERS: &str = "clusters.json";
    /// The segment validity report.
    pub const SEGMENTS: &str = "segments.json";
    /// The segment validity report, for people.
    pub const VALIDITY_MD: &str = "validity.md";
    /// The configuration used.
    pub const CONFIG: &str = "config.json";
    /// The analyst's segments as used.
    pub const ANALYST_SEGMENTS: &str = "segments.toml";
    /// Churn rule warnings, one row per subscriber and rule.
    pub const WARNINGS: &str = "warnings.parquet";
    /// Their counts by kind, rule and branch.
    pub const WARNING_COUNTS: &str = "warnings.json";
    /// Churn scores by the installed model: probability, decile, reasons.
    pub const CHURN_SCORES: &str = "churn_scores.parquet";
    /// Plan fit: flags, alerts, service task, recommended plan per subscriber.
    pub const PLAN_FIT: &str = "plan_fit.parquet";
    /// Data fit: months over the data allowance, top app, cheapest pack.
    pub const DATA_FIT: &str = "data_fit.parquet";
    /// Device fit: needs in serving order and the pool handset reserved.
    pub const DEVICE_FIT: &str = "device_fit.parquet";
    /// Next best offer: one row per subscriber and channel.
    pub const NBO: &str = "nbo.parquet";
    /// Cross-sell association rules over the products held.
    pub const BASKET_RULES: &str = "basket_rules.json";
    /// Counts of the offers step.
    pub const OFFERS: &str = "offers.json";
    /// The run's summary.
    pub const SUMMARY: &str = "summary.json";
}

/// The folder of the committed run for `as_of` (`YYYY-MM`) in warehouse `root`.
pub fn run_dir(root: &Path, as_of: &str) -> PathBuf {
    root.join("runs").join(as_of)
}

/// Opens file `name` of the committed run `as_of`; a missing run says to run one.
fn open_in_run(root: &Path, as_of: &str, name: &str) -> Result<File> {
    let path = run_dir(root, as_of).join(name);
    File::open(&path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            AnalyticsError::Warehouse { path: path.clone(), what: format!("no run as of {as_of}: run `cvm run` first") }
        } else {
            AnalyticsError::Io { path: path.clone(), source: e }
        }
    })
}

/// Reads report `name` (one of [`files`]) of the committed run `as_of`.
pub fn read_report<T: serde::de::DeserializeOwned>(root: &Path, as_of: &str, name: &str) -> Result<T> {
    Ok(serde_json::from_reader(std::io::BufReader::new(open_in_run(root, as_of, name)?))?)
}

/// A run being written: its tables go into `W/runs/.<as-of>.tmp-<pid>/` while it is
/// computed; [`commit`] adds the reports and renames the folder over the previous run.
/// Dropped without a commit (a failed run), the folder is removed and the previous run stays.
#[derive(Debug)]
pub struct PendingRun {
    /// The temporary folder.
    dir: PathBuf,
}

impl PendingRun {
    /// Makes the temporary folder of the run `as_of` in warehouse `root`.
    pub fn create(root: &Path, as_of: &str) -> Result<PendingRun> {
        let runs = root.join("runs");
        fs::create_dir_all(&runs).map_err(io(&runs))?;
        let dir = runs.join(format!(".{as_of}.tmp-{}", std::process::id()));
        if dir.exists() {
            // Left by a dead process that had our pid: nothing else can be writing it.
            fs::remove_dir_all(&dir).map_err(io(&dir))?;
        }
        fs::create_dir(&dir).map_err(io(&dir))?;
        Ok(PendingRun { dir })
    }

    /// Path of file `name` in the run being written.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// A Parquet table of the run, written batch by batch.
    pub fn table(&self, name: &str, schema: SchemaRef) -> Result<TableWriter> {
        TableWriter::create(&self.path(name), schema)
    }

    /// The table in `slot`, made with `schema` the first time: for tables whose columns are
    /// known only once the first rows exist.
    pub fn table_once<'a>(
        &self,
        slot: &'a mut Option<TableWriter>,
        name: &str,
        schema: &SchemaRef,
    ) -> Result<&'a mut TableWriter> {
        let table = match slot.take() {
            Some(t) => t,
            None => self.table(name, schema.clone())?,
        };
        Ok(slot.insert(table))
    }

    /// Writes range `k`'s features (not empty) to a part file of the run, encoded as
    /// features.parquet keeps them (one Parquet file of `schema`, the run's properties), for
    /// [`read_range_features`] and [`FeatureTable::append_range`]; returns its path.
    pub(crate) fn write_range_features(&self, k: usize, schema: SchemaRef, batches: &[RecordBatch]) -> Result<PathBuf> {
        let path = self.path(&format!(".range-{k:05}.parquet"));
        // Not synced: a part file lives only while the run does.
        let mut part = TableWriter::open(&path, schema, false)?;
        part.write_all(batches)?;
        part.finish()?;
        Ok(path)
    }
}

impl Drop for PendingRun {
    fn drop(&mut self) {
        // After a commit the folder has been renamed away and this finds nothing.
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// Adds the run's reports to its folder and renames it to `W/runs/<as-of>/`, replacing a
/// previous run of that month only once the new one is complete; `segments_version` is the
/// saved version of the analyst's segments file the run used. Returns the summary written.
pub fn commit(root: &Path, run: &RunOutput, segments_version: Option<u32>, seconds: f64) -> Result<RunSummary> {
    let as_of = run.window.as_of.to_string();
    let temp = &run.pending.dir;
    write_json(&temp.join(files::VALUE), &run.value)?;
    write_json(&temp.join(files::LIFECYCLE), &run.lifecycle)?;
    write_json(&temp.join(files::CLUSTERS), &run.clusters)?;
    write_json(&temp.join(files::SEGMENTS), &run.segments)?;
    write_json(&temp.join(files::CONFIG), &run.config)?;
    write_json(&temp.join(files::WARNING_COUNTS), &run.warning_counts)?;
    write_json(&temp.join(files::BASKET_RULES), &run.offers.rules)?;
    write_json(&temp.join(files::OFFERS), &run.offers.summary)?;
    let analyst = toml::to_string(&run.analyst_segments)
        .map_err(|e| AnalyticsError::Config { origin: "segments".into(), what: e.to_string() })?;
    write_text(&temp.join(files::ANALYST_SEGMENTS), &analyst)?;
    write_text(&temp.join(files::VALIDITY_MD), &crate::segments::report_markdown(&run.segments, &as_of))?;
    let summary = RunSummary {
        as_of: as_of.clone(),
        window_months: run.window.months().iter().map(ToString::to_string).collect(),
        rows: run.rows,
        columns: run.columns,
        segments: run.segments.segments.len() as u64,
        segments_version,
        clusters: run.clusters.k as u64,
        warnings: run.warning_counts.warnings,
        churn_scored: run.churn_scored,
        offers: run.offers.summary.offers,
        seconds,
    };
    write_json(&temp.join(files::SUMMARY), &summary)?;

    // Move the old run aside rather than deleting it first: if we die between the two
    // renames, the previous results still exist (as .<as-of>.old-<pid>).
    let runs = root.join("runs");
    let pid = std::process::id();
    let target = run_dir(root, &as_of);
    let old = runs.join(format!(".{as_of}.old-{pid}"));
    let had_old = target.exists();
    if had_old {
        if old.exists() {
            fs::remove_dir_all(&old).map_err(io(&old))?;
        }
        fs::rename(&target, &old).map_err(io(&target))?;
    }
    if let Err(e) = fs::rename(temp, &target) {
        if had_old {
            // Put the previous run back; the error below is what the caller needs to see.
            let _ = fs::rename(&old, &target);
        }
        return Err(AnalyticsError::Io { path: target, source: e });
    }
    if had_old {
        fs::remove_dir_all(&old).map_err(io(&old))?;
    }
    Ok(summary)
}

/// Reads Parquet file `name` (one of [`files`]) of the committed run `as_of` as one batch.
pub fn read_table(root: &Path, as_of: &str, name: &str) -> Result<RecordBatch> {
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    let builder = ParquetRecordBatchReaderBuilder::try_new(open_in_run(root, as_of, name)?)?;
    let schema = builder.schema().clone();
    let batches = builder.build()?.collect::<std::result::Result<Vec<_>, _>>()?;
    Ok(concat_batches(&schema, &batches)?)
}

/// Members of segment `name` in the committed run `as_of`: their subscriber ids, in order,
/// at most `limit`, and how many there are in all.
pub fn segment_members(root: &Path, as_of: &str, name: &str, limit: usize) -> Result<(Vec<i64>, u64)> {
    let batch = read_table(root, as_of, files::MEMBERS)?;
    let segments = crate::frame::string_column(&batch, "segment")?;
    let subscribers = crate::frame::i64_column(&batch, "subscriber_id")?;
    let members: Vec<i64> =
        segments.iter().zip(subscribers).filter(|(s, _)| s.as_deref() == Some(name)).filter_map(|(_, id)| id).collect();
    let total = members.len() as u64;
    Ok((members.into_iter().take(limit).collect(), total))
}

/// Folder of the saved versions of the analyst's segments file.
fn segments_dir(root: &Path) -> PathBuf {
    root.join("segments")
}

/// The latest saved version of the analyst's segments file: (version, text).
pub fn latest_segments(root: &Path) -> Result<Option<(u32, String)>> {
    let dir = segments_dir(root);
    let Ok(entries) = fs::read_dir(&dir) else { return Ok(None) };
    let mut latest: Option<(u32, PathBuf)> = None;
    for entry in entries {
        let path = entry.map_err(io(&dir))?.path();
        let version = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_prefix('v')?.strip_suffix(".toml")?.parse::<u32>().ok());
        if let Some(v) = version
            && latest.as_ref().is_none_or(|(l, _)| v > *l)
        {
            latest = Some((v, path));
        }
    }
    latest.map(|(v, path)| fs::read_to_string(&path).map(|t| (v, t)).map_err(io(&path))).transpose()
}

/// Saves `text` (an already checked segments file) as the next version, unless it equals the
/// latest; returns the version that holds it.
pub fn save_segments(root: &Path, text: &str) -> Result<u32> {
    let latest = latest_segments(root)?;
    if let Some((v, t)) = &latest
        && t == text
    {
        return Ok(*v);
    }
    let version = latest.map_or(1, |(v, _)| v + 1);
    cvm_warehouse::store::write_atomically(&segments_dir(root).join(format!("v{version:04}.toml")), text.as_bytes())?;
    Ok(version)
}

/// Writes `value` as pretty JSON with a final newline.
fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let mut text = serde_json::to_string_pretty(value)?;
    text.push('\n');
    write_text(path, &text)
}

/// Writes `text` and syncs it.
fn write_text(path: &Path, text: &str) -> Result<()> {
    let mut f = File::create(path).map_err(io(path))?;
    f.write_all(text.as_bytes()).map_err(io(path))?;
    f.sync_all().map_err(io(path))
}

/// Rows handed to the Parquet writer at a time: batches are re-cut to this size so the file's
/// pages do not depend on how the engine or the run's ranges happened to split the rows.
const WRITE_ROWS: usize = 65_536;

/// How the run's tables of `schema` are written: Snappy, and min/max statistics (with the
/// page index) only for `subscriber_id`. Every table is in subscriber order, so only that
/// column's ranges let a reader skip row groups and pages; the other columns' statistics took
/// a sixth of the encoding time (features.parquet, 1M rows: 1.15 -> 0.95 s on one core) and
/// pruned nothing.
///
/// No dictionary for `subscriber_id`, nor for the measures in floating point or money: their
/// values repeat little, so a dictionary is built for each page only to be dropped
/// (segment_members, 3.7M rows: 0.097 -> 0.080 s; features.parquet, 1M rows: ~1.03 -> ~0.85 s
/// on one core, 64 -> 81 MB; nbo.parquet 0.27 -> 0.23 s, 16 -> 21 MB).
///
/// `subscriber_id` ascends through every table, so it is stored as deltas
/// (DELTA_BINARY_PACKED): a few bits a row instead of eight bytes for Snappy to squeeze
/// (1M-subscriber run re-encoded on one core: segment_members 0.118 -> 0.072 s, 14.7 -> 1.7 MB;
/// features.parquet 81.3 -> 77.4 MB; nbo.parquet 0.215 -> 0.208 s, 21.6 -> 17.7 MB).
fn run_file_properties(schema: &Schema) -> WriterProperties {
    let plain = schema.fields().iter().filter(|f| {
        f.name() == "subscriber_id" || matches!(f.data_type(), DataType::Float64 | DataType::Decimal128(..))
    });
    plain
        .fold(WriterProperties::builder(), |props, f| {
            props.set_column_dictionary_enabled(ColumnPath::from(f.name().as_str()), false)
        })
        .set_column_encoding(ColumnPath::from("subscriber_id"), Encoding::DELTA_BINARY_PACKED)
        .set_compression(Compression::SNAPPY)
        .set_created_by("telco-cvm".into())
        .set_statistics_enabled(EnabledStatistics::None)
        .set_column_statistics_enabled(ColumnPath::from("subscriber_id"), EnabledStatistics::Page)
        .build()
}

/// One Parquet file written batch by batch with fixed properties, so the same rows give the
/// same bytes however they arrive. Re-cutting, encoding and compression run on a thread of
/// their own, beside the run's computing.
pub struct TableWriter {
    path: PathBuf,
    schema: SchemaRef,
    pending: Vec<RecordBatch>,
    pending_rows: usize,
    rows: u64,
    /// The slices of one [`WRITE_ROWS`] batch at a time, concatenated by the writing thread.
    to_writer: Option<std::sync::mpsc::SyncSender<Vec<RecordBatch>>>,
    writer: Option<std::thread::JoinHandle<Result<()>>>,
}

impl TableWriter {
    /// Creates the file at `path` for rows of `schema`.
    pub fn create(path: &Path, schema: SchemaRef) -> Result<TableWriter> {
        TableWriter::open(path, schema, true)
    }

    /// Creates the file at `path` for rows of `schema`, synced once finished if `sync`.
    fn open(path: &Path, schema: SchemaRef, sync: bool) -> Result<TableWriter> {
        let file = create_buffered(path)?;
        let writer = ArrowWriter::try_new(file, schema.clone(), Some(run_file_properties(&schema)))?;
        // Two batches in flight at most: the computing side waits rather than piling up rows.
        let (to_writer, pieces) = std::sync::mpsc::sync_channel::<Vec<RecordBatch>>(2);
        let at = path.to_path_buf();
        let file_schema = schema.clone();
        let writer = std::thread::spawn(move || -> Result<()> {
            // Concatenated here rather than by the caller: the copy is allocated and freed on
            // this thread, so its memory is reused batch after batch instead of being freed
            // across threads (at 10M subscribers the caller's concat was 15% of the run's
            // page faults).
            let batches = pieces.into_iter().map(|slices| Ok(concat_batches(&file_schema, &slices)?));
            finish_file(encode_by_column(writer, &file_schema, batches)?, &at, sync)
        });
        Ok(TableWriter {
            path: path.to_path_buf(),
            schema,
            pending: Vec::new(),
            pending_rows: 0,
            rows: 0,
            to_writer: Some(to_writer),
            writer: Some(writer),
        })
    }

    /// Appends the rows of `batch`. Not from a task on rayon's pool: the call may wait for
    /// the encoder, which encodes on that pool, so a task waiting holds one of its cores.
    pub fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        debug_assert!(rayon::current_thread_index().is_none(), "TableWriter::write on rayon's pool");
        // A batch whose fields differ only in nullability is taken as the file's schema; a
        // real mismatch is an error.
        let batch = if batch.schema() == self.schema {
            batch.clone()
        } else {
            RecordBatch::try_new(self.schema.clone(), batch.columns().to_vec())?
        };
        self.rows += batch.num_rows() as u64;
        let mut start = 0;
        while start < batch.num_rows() {
            let take = (WRITE_ROWS - self.pending_rows).min(batch.num_rows() - start);
            self.pending.push(batch.slice(start, take));
            self.pending_rows += take;
            start += take;
            if self.pending_rows == WRITE_ROWS {
                self.flush()?;
            }
        }
        Ok(())
    }

    /// Appends every batch of `batches`.
    pub fn write_all(&mut self, batches: &[RecordBatch]) -> Result<()> {
        batches.iter().try_for_each(|b| self.write(b))
    }

    /// Rows written so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Columns of the table.
    pub fn columns(&self) -> usize {
        self.schema.fields().len()
    }

    fn flush(&mut self) -> Result<()> {
        let slices = std::mem::take(&mut self.pending);
        self.pending_rows = 0;
        let sent = self.to_writer.as_ref().is_some_and(|w| w.send(slices).is_ok());
        if !sent {
            // The writing thread stopped: its error says why.
            return self.join();
        }
        Ok(())
    }

    /// Waits for the writing thread to finish the file.
    fn join(&mut self) -> Result<()> {
        self.to_writer = None;
        self.writer.take().map_or(Ok(()), |w| join_writer(&self.path, w))
    }

    /// Hands over what is pending and leaves the writing thread to close and sync the file
    /// on its own, so that several tables finish side by side: the table can then only be
    /// waited for ([`ClosingTable::finish`]), no row written to it.
    pub fn close(mut self) -> Result<ClosingTable> {
        if self.pending_rows > 0 || self.rows == 0 {
            self.flush()?;
        }
        // The sender goes with `self`: the thread sees the end of the rows.
        Ok(ClosingTable { path: std::mem::take(&mut self.path), writer: self.writer.take() })
    }

    /// Writes what is pending, closes the file and syncs it.
    pub fn finish(self) -> Result<()> {
        self.close()?.finish()
    }
}

/// A [`TableWriter`] closed: its writing thread finishing the file.
pub struct ClosingTable {
    path: PathBuf,
    writer: Option<std::thread::JoinHandle<Result<()>>>,
}

impl ClosingTable {
    /// Waits for the file to be closed and synced.
    pub fn finish(self) -> Result<()> {
        self.writer.map_or(Ok(()), |w| join_writer(&self.path, w))
    }
}

/// The outcome of the thread writing the file at `path`.
fn join_writer(path: &Path, writer: std::thread::JoinHandle<Result<()>>) -> Result<()> {
    writer.join().unwrap_or_else(|_| {
        Err(AnalyticsError::Io {
            path: path.to_path_buf(),
            source: std::io::Error::other("the thread writing the file panicked"),
        })
    })
}

/// Writes `batches` through `writer`'s file, its columns encoded on every core, and returns
/// the file; a batch that is an error stops it with that error. The bytes are those `writer.write` would give batch by batch (same column
/// writers fed the same slices, row groups cut at the same row counts; the run's properties
/// set no byte limit on row groups, which this does not follow); only the work is
/// shared out: one thread encoding the 60-odd columns of features.parquet was the slowest
/// step of pass 2.
fn encode_by_column<W: Write + Send>(
    writer: ArrowWriter<W>,
    schema: &Schema,
    batches: impl IntoIterator<Item = Result<RecordBatch>>,
) -> Result<W> {
    let (mut file, columns) = writer.into_serialized_writer()?;
    let max_rows = file.properties().max_row_group_row_count().unwrap_or(usize::MAX);
    let mut group = None;
    let mut buffered = 0;
    for batch in batches {
        let batch = batch?;
        let mut start = 0;
        while start < batch.num_rows() {
            let writers = match &mut group {
                Some(writers) => writers,
                None => group.insert(columns.create_column_writers(file.flushed_row_groups().len())?),
            };
            let take = (max_rows - buffered).min(batch.num_rows() - start);
            let slice = batch.slice(start, take);
            let mut leaves = Vec::with_capacity(writers.len());
            for (field, column) in schema.fields().iter().zip(slice.columns()) {
                leaves.extend(compute_leaves(field, column)?);
            }
            writers.par_iter_mut().zip(leaves.par_iter()).try_for_each(|(w, leaf)| w.write(leaf))?;
            (start, buffered) = (start + take, buffered + take);
            if buffered == max_rows {
                close_row_group(&mut file, group.take())?;
                buffered = 0;
            }
        }
    }
    close_row_group(&mut file, group)?;
    Ok(file.into_inner()?)
}

/// Closes the column writers of a row group on every core and appends their chunks in order.
fn close_row_group<W: Write + Send>(
    file: &mut parquet::file::writer::SerializedFileWriter<W>,
    writers: Option<Vec<parquet::arrow::arrow_writer::ArrowColumnWriter>>,
) -> Result<()> {
    let Some(writers) = writers else { return Ok(()) };
    let chunks: Vec<ArrowColumnChunk> =
        writers.into_par_iter().map(|w| w.close()).collect::<parquet::errors::Result<_>>()?;
    let mut row_group = file.next_row_group()?;
    for chunk in chunks {
        chunk.append_to_row_group(&mut row_group)?;
    }
    row_group.close()?;
    Ok(())
}

/// Rows read back at a time from a part file: the engine's batch size, as the rows had.
const READ_ROWS: usize = 8192;

/// Reads back columns `columns` (by position) of the rows of a part file written by
/// [`PendingRun::write_range_features`].
pub(crate) fn read_range_features(path: &Path, columns: &[usize]) -> Result<Vec<RecordBatch>> {
    use parquet::arrow::ProjectionMask;
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    let file = File::open(path).map_err(io(path))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file)?;
    let mask = ProjectionMask::roots(builder.parquet_schema(), columns.iter().copied());
    let reader = builder.with_projection(mask).with_batch_size(READ_ROWS).build()?;
    Ok(reader.collect::<std::result::Result<Vec<_>, _>>()?)
}

/// features.parquet put together range by range: the column chunks of each range's part
/// file are copied as they were encoded in pass 1 (the rows are not encoded twice, nor kept
/// raw on disk between the passes) and the cluster column, known only in pass 2, is encoded
/// beside them. One row group per row group of a part file.
pub struct FeatureTable {
    path: PathBuf,
    schema: SchemaRef,
    file: parquet::file::writer::SerializedFileWriter<BufWriter<File>>,
    columns: parquet::arrow::arrow_writer::ArrowRowGroupWriterFactory,
    rows: u64,
}

impl FeatureTable {
    /// Creates the file at `path` for rows of `schema`: a part file's columns, then the
    /// cluster column.
    pub fn create(path: &Path, schema: SchemaRef) -> Result<FeatureTable> {
        let file = create_buffered(path)?;
        let (file, columns) =
            ArrowWriter::try_new(file, schema.clone(), Some(run_file_properties(&schema)))?.into_serialized_writer()?;
        Ok(FeatureTable { path: path.to_path_buf(), schema, file, columns, rows: 0 })
    }

    /// Appends the rows of part file `part` with `clusters` (one per row, in order) as the
    /// last column, then removes the part file.
    pub fn append_range(&mut self, part: &Path, clusters: &[u32]) -> Result<()> {
        use datafusion::arrow::array::{ArrayRef, UInt32Array};
        use parquet::column::writer::ColumnCloseResult;
        use parquet::file::metadata::{PageIndexPolicy, ParquetMetaDataReader};
        let input = File::open(part).map_err(io(part))?;
        let metadata =
            ParquetMetaDataReader::new().with_page_index_policy(PageIndexPolicy::Optional).parse_and_finish(&input)?;
        let cluster_field = self.schema.fields().last().cloned().ok_or_else(|| self.error("no columns"))?;
        let mut first = 0;
        for (g, group) in metadata.row_groups().iter().enumerate() {
            let n = usize::try_from(group.num_rows()).map_err(|_| self.error("negative row count"))?;
            let labels = clusters.get(first..first + n).ok_or_else(|| self.error("fewer clusters than rows"))?;
            // The factory makes a writer for every column; only the cluster's, the last, is
            // used: the others' chunks are copied.
            let mut writers = self.columns.create_column_writers(self.file.flushed_row_groups().len())?;
            let mut cluster = writers.pop().ok_or_else(|| self.error("no columns"))?;
            let array: ArrayRef = Arc::new(UInt32Array::from(labels.to_vec()));
            for leaf in compute_leaves(&cluster_field, &array)? {
                cluster.write(&leaf)?;
            }
            let mut out = self.file.next_row_group()?;
            for (c, chunk) in group.columns().iter().enumerate() {
                // The descriptor is checked against this file's column: a part file of other
                // columns is refused, not copied.
                out.append_column(
                    &input,
                    ColumnCloseResult {
                        bytes_written: chunk.compressed_size() as u64,
                        rows_written: n as u64,
                        metadata: chunk.clone(),
                        bloom_filter: None,
                        column_index: metadata.column_index().and_then(|i| i.get(g)?.get(c).cloned()),
                        offset_index: metadata.offset_index().and_then(|i| i.get(g)?.get(c).cloned()),
                    },
                )?;
            }
            cluster.close()?.append_to_row_group(&mut out)?;
            out.close()?;
            first += n;
        }
        if first != clusters.len() {
            return Err(self.error("more clusters than rows"));
        }
        self.rows += first as u64;
        fs::remove_file(part).map_err(io(part))
    }

    /// Rows written so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Columns of the table.
    pub fn columns(&self) -> usize {
        self.schema.fields().len()
    }

    /// Closes the file and syncs it.
    pub fn finish(self) -> Result<()> {
        finish_file(self.file.into_inner()?, &self.path, true)
    }

    fn error(&self, what: &str) -> AnalyticsError {
        AnalyticsError::Io { path: self.path.clone(), source: std::io::Error::other(what.to_string()) }
    }
}

/// Bytes a run file's writes gather before they go to the file. Parquet's own buffer is 8 KiB,
/// and features.parquet's chunks were copied through it 8 KiB at a time, each write beginning
/// a file block the kernel first zeroes: as much work as the copy itself, on the thread that
/// hands out pass 2's ranges (1M subscribers: the copy took 3.4% of the run's CPU, 0.7% so).
const WRITE_BUFFER: usize = 1 << 20;

/// Creates the file at `path` behind a [`WRITE_BUFFER`].
fn create_buffered(path: &Path) -> Result<BufWriter<File>> {
    Ok(BufWriter::with_capacity(WRITE_BUFFER, File::create(path).map_err(io(path))?))
}

/// Writes out what `writer` (of `path`) still buffers, then syncs the file if `sync`.
fn finish_file(writer: BufWriter<File>, path: &Path, sync: bool) -> Result<()> {
    let file = writer.into_inner().map_err(|e| io(path)(e.into_error()))?;
    if sync { file.sync_all().map_err(io(path)) } else { Ok(()) }
}

/// Attaches `path` to an I/O error.
fn io(path: &Path) -> impl Fn(std::io::Error) -> AnalyticsError + '_ {
    move |source| AnalyticsError::Io { path: path.to_path_buf(), source }
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::array::{ArrayRef, Float64Array, Int64Array, StringArray};
    use datafusion::arrow::datatypes::{DataType, Field};

    use super::*;

    /// Batches of three columns (numbers, text, nulls among them) cut unevenly.
    fn batches() -> (SchemaRef, Vec<RecordBatch>) {
        let schema = Arc::new(Schema::new(vec![
            Field::new("subscriber_id", DataType::Int64, false),
            Field::new("branch", DataType::Utf8, true),
            Field::new("arpu", DataType::Float64, true),
        ]));
        let mut out = Vec::new();
        let mut id = 0_i64;
        for n in [7, 1000, 0, 2500, 3, 1200] {
            let ids: Vec<i64> = (id..id + n).collect();
            id += n;
            let columns: Vec<ArrayRef> = vec![
                Arc::new(Int64Array::from(ids.clone())),
                Arc::new(StringArray::from_iter(ids.iter().map(|i| (i % 5 != 0).then(|| format!("B{}", i % 13))))),
                Arc::new(Float64Array::from_iter(ids.iter().map(|&i| (i % 7 != 0).then_some(i as f64 * 0.37)))),
            ];
            out.push(RecordBatch::try_new(schema.clone(), columns).expect("batch"));
        }
        (schema, out)
    }

    fn props(max_rows: usize) -> WriterProperties {
        WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .set_max_row_group_row_count(Some(max_rows))
            .set_data_page_row_count_limit(300)
            .set_write_batch_size(128)
            .build()
    }

    #[test]
    fn columns_encoded_on_every_core_give_the_bytes_of_the_plain_writer() {
        let (schema, batches) = batches();
        for max_rows in [1000, 1024, 4710, 1 << 20] {
            let mut plain = ArrowWriter::try_new(Vec::new(), schema.clone(), Some(props(max_rows))).expect("writer");
            for b in &batches {
                plain.write(b).expect("write");
            }
            let plain = plain.into_inner().expect("close");
            let writer = ArrowWriter::try_new(Vec::new(), schema.clone(), Some(props(max_rows))).expect("writer");
            let by_column = encode_by_column(writer, &schema, batches.iter().cloned().map(Ok)).expect("encode");
            assert!(plain.len() > 1000);
            assert_eq!(by_column, plain, "max {max_rows} rows a row group");
        }
    }

    #[test]
    fn run_tables_keep_statistics_for_the_subscriber_id_only() {
        use parquet::file::reader::{FileReader, SerializedFileReader};
        let (schema, batches) = batches();
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("t.parquet");
        let mut table = TableWriter::create(&path, schema).expect("create");
        table.write_all(&batches).expect("write");
        table.finish().expect("finish");
        let reader = SerializedFileReader::new(File::open(&path).expect("open")).expect("read");
        let group = reader.metadata().row_group(0);
        let id = group.column(0).statistics().expect("subscriber_id statistics");
        assert_eq!(id.min_bytes_opt(), Some(&0_i64.to_le_bytes()[..]));
        assert!(group.column(1).statistics().is_none() && group.column(2).statistics().is_none());
        // The page index that lets a reader skip pages within a row group, for the id alone.
        assert!(group.column(0).column_index_length().is_some());
        assert!(group.column(1).column_index_length().is_none());
    }

    /// `schema` and the cluster column after it, as features.parquet has them.
    fn with_cluster(schema: &SchemaRef) -> SchemaRef {
        let mut fields: Vec<Field> = schema.fields().iter().map(|f| f.as_ref().clone()).collect();
        fields.push(Field::new("cluster", DataType::UInt32, false));
        Arc::new(Schema::new(fields))
    }

    #[test]
    fn features_put_together_from_part_files_read_back_as_written_with_their_clusters() {
        use datafusion::arrow::array::UInt32Array;
        let (schema, batches) = batches();
        let root = tempfile::tempdir().expect("dir");
        let run = PendingRun::create(root.path(), "2026-10").expect("run");
        // Two ranges, then the clusters of everyone known at once.
        let parts = [
            run.write_range_features(0, schema.clone(), &batches[..2]).expect("part 0"),
            run.write_range_features(1, schema.clone(), &batches[2..]).expect("part 1"),
        ];
        let concat = |schema: &SchemaRef, b: &[RecordBatch]| {
            datafusion::arrow::compute::concat_batches(schema, b).expect("concat")
        };
        assert_eq!(
            concat(&schema, &read_range_features(&parts[1], &[0, 1, 2]).expect("read part")),
            concat(&schema, &batches[2..])
        );
        // Only the columns asked for, in the file's order.
        let some = Arc::new(schema.project(&[0, 2]).expect("project"));
        assert_eq!(
            concat(&some, &read_range_features(&parts[1], &[0, 2]).expect("read part")),
            concat(&schema, &batches[2..]).project(&[0, 2]).expect("project")
        );
        let with_cluster = with_cluster(&schema);
        let total: usize = batches.iter().map(RecordBatch::num_rows).sum();
        let clusters: Vec<u32> = (0..total as u32).map(|i| i % 4).collect();
        let path = run.path(files::FEATURES);
        let mut table = FeatureTable::create(&path, with_cluster.clone()).expect("create");
        table.append_range(&parts[0], &clusters[..1007]).expect("append 0");
        table.append_range(&parts[1], &clusters[1007..]).expect("append 1");
        assert_eq!((table.rows(), table.columns()), (total as u64, 4));
        table.finish().expect("finish");
        assert!(parts.iter().all(|p| !p.exists()), "part files are removed once copied");

        let rows = concat(&with_cluster, &read_range_features(&path, &[0, 1, 2, 3]).expect("read"));
        let written = concat(&schema, &batches);
        for c in 0..3 {
            assert_eq!(rows.column(c), written.column(c), "column {c}");
        }
        assert_eq!(rows.column(3).as_ref(), &UInt32Array::from(clusters) as &dyn datafusion::arrow::array::Array);
        // One row group per range, the id's statistics and page index kept through the copy.
        use parquet::file::reader::{FileReader, SerializedFileReader};
        let reader = SerializedFileReader::new(File::open(&path).expect("open")).expect("reader");
        assert_eq!(reader.metadata().num_row_groups(), 2);
        let second = reader.metadata().row_group(1);
        assert_eq!(second.column(0).statistics().and_then(|s| s.min_bytes_opt()), Some(&1007_i64.to_le_bytes()[..]));
        assert!(second.column(0).column_index_length().is_some());
    }

    #[test]
    fn a_part_file_of_other_columns_or_other_rows_is_refused() {
        let (schema, batches) = batches();
        let root = tempfile::tempdir().expect("dir");
        let run = PendingRun::create(root.path(), "2026-10").expect("run");
        let part = run.write_range_features(0, schema.clone(), &batches[..2]).expect("part");
        let mut table = FeatureTable::create(&run.path("a.parquet"), with_cluster(&schema)).expect("create");
        assert!(table.append_range(&part, &[0; 1006]).is_err(), "a row without its cluster");
        assert!(table.append_range(&part, &[0; 1008]).is_err(), "a cluster without its row");
        // Columns in another order: the copied chunks would land under the wrong names.
        let swapped = Arc::new(Schema::new(vec![
            schema.field(0).clone(),
            schema.field(2).clone(),
            schema.field(1).clone(),
            Field::new("cluster", DataType::UInt32, false),
        ]));
        let mut other = FeatureTable::create(&run.path("b.parquet"), swapped).expect("create");
        assert!(other.append_range(&part, &[0; 1007]).is_err());
    }

    #[test]
    fn no_rows_give_the_plain_writer_empty_file() {
        let (schema, _) = batches();
        let plain =
            ArrowWriter::try_new(Vec::new(), schema.clone(), None).expect("writer").into_inner().expect("close");
        let writer = ArrowWriter::try_new(Vec::new(), schema.clone(), None).expect("writer");
        let empty = RecordBatch::new_empty(schema.clone());
        assert_eq!(encode_by_column(writer, &schema, [Ok(empty)]).expect("encode"), plain);
    }
}
