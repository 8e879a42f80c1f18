//! The warehouse on disk: where each table and partition lives, and writing them so that a
//! reader or a crash never sees half a file (write to a temporary name, then rename).

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::path::{Path, PathBuf};

use arrow::array::{Array, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::SchemaRef;
use cvm_domain::schema::{Partitioning, Table};
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;
use parquet::schema::types::ColumnPath;

use crate::ImportError;

/// Rows per Parquet row group: large enough for fast scans, small enough to bound memory.
const ROW_GROUP_ROWS: usize = 512 * 1024;

/// Where a table's data lives in warehouse `root`.
pub fn table_dir(root: &Path, table: &Table) -> PathBuf {
    root.join(table.name)
}

/// The file of a snapshot table.
pub fn snapshot_path(root: &Path, table: &Table) -> PathBuf {
    table_dir(root, table).join("snapshot.parquet")
}

/// The file of one month's partition.
pub fn partition_path(root: &Path, table: &Table, month: &str) -> PathBuf {
    table_dir(root, table).join(format!("month={month}")).join("data.parquet")
}

/// The months a partitioned table holds, in order.
pub fn months(root: &Path, table: &Table) -> Vec<String> {
    let Ok(entries) = fs::read_dir(table_dir(root, table)) else { return Vec::new() };
    let mut months: Vec<String> = entries
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.strip_prefix("month=")).map(str::to_owned))
        .filter(|m| partition_path(root, table, m).exists())
        .collect();
    months.sort();
    months
}

/// All Parquet files of a table in the warehouse.
pub fn table_files(root: &Path, table: &Table) -> Vec<PathBuf> {
    match table.partitioning {
        Partitioning::Snapshot => Some(snapshot_path(root, table)).filter(|p| p.exists()).into_iter().collect(),
        Partitioning::ByMonth(_) => months(root, table).iter().map(|m| partition_path(root, table, m)).collect(),
    }
}

/// Snappy (as DuckDB and Spark default to), large row groups, and dictionary encoding only
/// for text: codes and enums repeat a lot, while numbers (ids, amounts, minutes) are mostly
/// distinct, where building a dictionary costs time only to be thrown away.
fn writer_properties(schema: &SchemaRef) -> WriterProperties {
    let mut builder = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .set_created_by("telco-cvm".into())
        .set_dictionary_enabled(false);
    for field in schema.fields() {
        if field.data_type() == &arrow::datatypes::DataType::Utf8 {
            builder = builder.set_column_dictionary_enabled(ColumnPath::from(field.name().as_str()), true);
        }
    }
    builder.build()
}

/// A Parquet file being written under a temporary name, renamed into place by `commit`.
pub struct PendingFile {
    final_path: PathBuf,
    temp_path: PathBuf,
    writer: ArrowWriter<File>,
    rows: u64,
}

impl PendingFile {
    /// Starts writing what will become `final_path`.
    pub fn create(final_path: PathBuf, schema: SchemaRef, import_id: &str) -> Result<PendingFile, ImportError> {
        let dir = final_path.parent().unwrap_or(Path::new("."));
        fs::create_dir_all(dir).map_err(|e| ImportError::Io { path: dir.to_path_buf(), source: e })?;
        let temp_path = dir.join(format!(".data.parquet.{import_id}.tmp"));
        let file = File::create(&temp_path).map_err(|e| ImportError::Io { path: temp_path.clone(), source: e })?;
        let writer = ArrowWriter::try_new(file, schema.clone(), Some(writer_properties(&schema)))
            .map_err(|e| ImportError::Parquet { path: temp_path.clone(), message: e.to_string() })?;
        Ok(PendingFile { final_path, temp_path, writer, rows: 0 })
    }

    /// Appends rows.
    pub fn write(&mut self, batch: &RecordBatch) -> Result<(), ImportError> {
        self.rows += batch.num_rows() as u64;
        self.writer
            .write(batch)
            .map_err(|e| ImportError::Parquet { path: self.temp_path.clone(), message: e.to_string() })
    }

    /// Rows written so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Finishes the file and syncs it to disk, still under its temporary name.
    pub fn finish(self) -> Result<FinishedFile, ImportError> {
        let file = self
            .writer
            .into_inner()
            .map_err(|e| ImportError::Parquet { path: self.temp_path.clone(), message: e.to_string() })?;
        file.sync_all().map_err(|e| ImportError::Io { path: self.temp_path.clone(), source: e })?;
        Ok(FinishedFile { final_path: self.final_path, temp_path: self.temp_path })
    }

    /// Abandons the file.
    pub fn abandon(self) {
        drop(self.writer);
        let _ = fs::remove_file(&self.temp_path);
    }
}

/// A complete file waiting to be renamed into place.
#[derive(Debug)]
pub struct FinishedFile {
    final_path: PathBuf,
    temp_path: PathBuf,
}

impl FinishedFile {
    /// Renames the file into place, atomically replacing any earlier version.
    pub fn commit(self) -> Result<PathBuf, ImportError> {
        fs::rename(&self.temp_path, &self.final_path)
            .map_err(|e| ImportError::Io { path: self.final_path.clone(), source: e })?;
        if let Some(dir) = self.final_path.parent() {
            // Make the rename itself durable.
            let _ = File::open(dir).and_then(|d| d.sync_all());
        }
        Ok(self.final_path)
    }

    /// Removes the temporary file.
    pub fn abandon(self) {
        let _ = fs::remove_file(&self.temp_path);
    }
}

/// Writes `bytes` to `path` through a temporary file and a rename.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), ImportError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(|e| ImportError::Io { path: dir.to_path_buf(), source: e })?;
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let temp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    fs::write(&temp, bytes)
        .and_then(|_| File::open(&temp)?.sync_all())
        .map_err(|e| ImportError::Io { path: temp.clone(), source: e })?;
    fs::rename(&temp, path).map_err(|e| ImportError::Io { path: path.to_path_buf(), source: e })
}

/// Keys of a table already in the warehouse, as text or whole numbers.
pub enum StoredKeys {
    /// Whole-number keys (subscriber ids).
    Ints(Vec<i64>),
    /// Code keys (plan, branch, device codes).
    Codes(Vec<String>),
}

/// Reads the single key column of a table from the warehouse, or `None` if the warehouse
/// does not hold the table.
pub fn read_keys(root: &Path, table: &Table) -> Result<Option<StoredKeys>, ImportError> {
    let files = table_files(root, table);
    if files.is_empty() {
        return Ok(None);
    }
    let key = table.key[0];
    let mut ints = Vec::new();
    let mut codes = Vec::new();
    for path in files {
        let err = |m: String| ImportError::Parquet { path: path.clone(), message: m };
        let file = File::open(&path).map_err(|e| ImportError::Io { path: path.clone(), source: e })?;
        let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| err(e.to_string()))?;
        let idx = builder.schema().index_of(key).map_err(|e| err(e.to_string()))?;
        let mask = parquet::arrow::ProjectionMask::roots(builder.parquet_schema(), [idx]);
        for batch in builder.with_projection(mask).build().map_err(|e| err(e.to_string()))? {
            let batch = batch.map_err(|e| err(e.to_string()))?;
            let col = batch.column(0);
            if let Some(a) = col.as_any().downcast_ref::<Int64Array>() {
                ints.extend(a.iter().flatten());
            } else if let Some(a) = col.as_any().downcast_ref::<StringArray>() {
                codes.extend(a.iter().flatten().map(str::to_owned));
            }
        }
    }
    Ok(Some(if codes.is_empty() { StoredKeys::Ints(ints) } else { StoredKeys::Codes(codes) }))
}

/// Rows of the Parquet file at `path`, from its metadata.
pub fn parquet_rows(path: &Path) -> Result<usize, ImportError> {
    let file = File::open(path).map_err(|e| ImportError::Io { path: path.to_path_buf(), source: e })?;
    let bad = |message: String| ImportError::Parquet { path: path.to_path_buf(), message };
    // The footer alone: no Arrow schema is needed for a count.
    let metadata = parquet::file::metadata::ParquetMetaDataReader::new()
        .parse_and_finish(&file)
        .map_err(|e| bad(e.to_string()))?;
    usize::try_from(metadata.file_metadata().num_rows()).map_err(|_| bad("negative row count".into()))
}

/// Row counts per table (and per month) currently in the warehouse, from Parquet metadata.
pub fn row_counts(root: &Path) -> Result<BTreeMap<String, BTreeMap<String, u64>>, ImportError> {
    let mut out = BTreeMap::new();
    for table in cvm_domain::schema::TABLES {
        let mut per = BTreeMap::new();
        let parts: Vec<(String, PathBuf)> = match table.partitioning {
            Partitioning::Snapshot => {
                table_files(root, table).into_iter().map(|p| ("snapshot".to_owned(), p)).collect()
            }
            Partitioning::ByMonth(_) => {
                months(root, table).into_iter().map(|m| (m.clone(), partition_path(root, table, &m))).collect()
            }
        };
        for (part, path) in parts {
            per.insert(part, parquet_rows(&path)? as u64);
        }
        if !per.is_empty() {
            out.insert(table.name.to_owned(), per);
        }
    }
    Ok(out)
}
