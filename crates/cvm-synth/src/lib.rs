//! The synthetic operator (模拟运营商): a Chinese mobile operator's export at any scale, with
//! planted behaviour whose truth is written beside it.
//!
//! [`generate`] writes one file per input table of [`cvm_domain::schema::TABLES`] (CSV with
//! a header, or Parquet typed as the warehouse stores it) and the planted truth under
//! `truth/`. The model, in short (details in the `truth/README.md` it writes):
//!
//! - **Catalog**: 33 plans over the brands 神州行 (mass, mostly prepaid), 动感地带 (youth) and
//!   全球通 (high end, mostly postpaid; VIP plans need tenure), some retired; 60 handsets in
//!   four tiers; 41 offers of every kind; branches (about one per 2000 subscribers) in the
//!   cities, county towns and villages of one province, with staff and agent stores.
//! - **Subscribers**: brand mix 55/25/20, age by brand, demographics with gaps, tenure from
//!   new lines to 25 years, plan by brand and payment type (fees are what make ARPU skewed:
//!   the top 20% bring well over 60% of revenue), device tier following value, products held
//!   together (broadband with IPTV and fibre...), consents, VIP levels and club members.
//! - **Months**: usage relative to the plan's allowances, billed by the exact pricing rule
//!   of [`pricing::bill`]; revenue = bill + data-pack fees + value-added services.
//! - **Churn**: a hidden disengagement state erodes usage and brings complaints, stops and
//!   port-out requests; each month's churn probability is a logistic function of what the
//!   month shows, and the draw decides leave_network (line closed), internal_switch (cheaper
//!   brand, new number) or revenue_loss (stays, pays much less).
//! - **Plan mismatch** and **sales fraud** (bulk activations, handset arbitrage, commission
//!   churn, channel conflict) are planted and written as truth.
//!
//! Every subscriber draws from its own ChaCha8 stream seeded by (seed, index), chunks of
//! subscribers are generated in parallel and written in order, so output is byte-identical
//! for a seed whatever the thread count, and memory stays bounded at any scale.

#![warn(missing_docs)]

pub mod pricing;

mod catalog;
mod sink;
mod subscriber;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use arrow::datatypes::SchemaRef;
use cvm_domain::Month;
use cvm_domain::schema::TABLES;
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;

use crate::catalog::Catalog;
use crate::sink::Rows;
use crate::subscriber::{ChunkOut, Ctx, SUBSCRIBER_TABLES, Scratch, TRUTH_FILES};

/// The last generated month when none is given: a fixed constant, never the clock.
pub const DEFAULT_LAST_MONTH: &str = "2026-10";

/// Rows per Parquet row group.
const ROW_GROUP_ROWS: usize = 256 * 1024;

/// Stream tags, so the catalog, blocks and subscribers never share a random stream.
pub(crate) const TAG_CATALOG: u64 = 1;
pub(crate) const TAG_BLOCK: u64 = 2;
pub(crate) const TAG_SUBSCRIBER: u64 = 3;

/// The 32-byte ChaCha seed of stream (`seed`, `index`, `tag`).
pub(crate) fn seed_bytes(seed: u64, index: u64, tag: u64) -> [u8; 32] {
    let mut b = [0u8; 32];
    b[..8].copy_from_slice(&seed.to_le_bytes());
    b[8..16].copy_from_slice(&index.to_le_bytes());
    b[16..24].copy_from_slice(&tag.to_le_bytes());
    b[24..].copy_from_slice(b"cvmsynth");
    b
}

/// File format of the generated tables (truth files are always CSV).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OutputFormat {
    /// UTF-8 CSV with a header line.
    #[default]
    Csv,
    /// Parquet with the warehouse's Arrow types, Snappy-compressed.
    Parquet,
}

/// What to generate.
#[derive(Debug, Clone)]
pub struct GenerateConfig {
    /// Number of subscribers (lines).
    pub subscribers: u64,
    /// Number of months of usage, ending with `last_month`.
    pub months: u32,
    /// Random seed: the same seed gives byte-identical output.
    pub seed: u64,
    /// The last month generated; no date is after its last day.
    pub last_month: Month,
    /// File format of the tables.
    pub format: OutputFormat,
    /// Worker threads; 0 uses every core. Does not change the output.
    pub threads: usize,
}

impl GenerateConfig {
    /// `subscribers` x `months` from `seed`, CSV, ending with [`DEFAULT_LAST_MONTH`].
    pub fn new(subscribers: u64, months: u32, seed: u64) -> GenerateConfig {
        GenerateConfig {
            subscribers,
            months,
            seed,
            last_month: default_last_month(),
            format: OutputFormat::Csv,
            threads: 0,
        }
    }

    /// The first generated month.
    pub fn first_month(&self) -> Month {
        self.last_month.plus(1 - self.months as i32)
    }
}

/// [`DEFAULT_LAST_MONTH`] as a month.
pub fn default_last_month() -> Month {
    Month::new(2026, 10).unwrap_or_else(|_| unreachable!("2026-10 is a month"))
}

/// What was written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GenerateSummary {
    /// Rows written per input table.
    pub rows: BTreeMap<String, u64>,
    /// Rows per month (`YYYY-MM`) of the monthly tables usage, events and sales.
    pub rows_by_month: BTreeMap<String, BTreeMap<String, u64>>,
    /// Rows written per truth file.
    pub truth_rows: BTreeMap<String, u64>,
}

/// Why generation failed.
#[derive(Debug, thiserror::Error)]
pub enum SynthError {
    /// The configuration cannot be generated.
    #[error("invalid generator configuration: {0}")]
    Config(String),
    /// A file could not be created or written.
    #[error("cannot write {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// Parquet encoding failed.
    #[error("cannot write Parquet {path}: {source}")]
    Parquet {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: parquet::errors::ParquetError,
    },
    /// Building an Arrow batch failed (a bug: rows always match their schema).
    #[error("cannot build Arrow batch for {table}: {source}")]
    Arrow {
        /// The table.
        table: String,
        /// The cause.
        source: arrow::error::ArrowError,
    },
    /// A worker thread panicked.
    #[error("a generator thread panicked")]
    Worker,
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> SynthError + '_ {
    move |source| SynthError::Io { path: path.to_path_buf(), source }
}

/// One output table file.
struct TableFile {
    name: &'static str,
    path: PathBuf,
    schema: SchemaRef,
    out: TableOut,
    rows: u64,
}

enum TableOut {
    Csv(BufWriter<File>),
    Parquet(Box<ArrowWriter<BufWriter<File>>>),
}

impl TableFile {
    fn create(dir: &Path, name: &'static str, format: OutputFormat) -> Result<TableFile, SynthError> {
        let table = cvm_domain::schema::table(name).ok_or_else(|| SynthError::Config(format!("no table {name}")))?;
        let schema = cvm_warehouse::arrow_schema::arrow_schema(table);
        let ext = match format {
            OutputFormat::Csv => "csv",
            OutputFormat::Parquet => "parquet",
        };
        let path = dir.join(format!("{name}.{ext}"));
        let file = BufWriter::with_capacity(1 << 20, File::create(&path).map_err(io_err(&path))?);
        let out = match format {
            OutputFormat::Csv => {
                let mut w = file;
                let header: Vec<&str> = table.columns.iter().map(|c| c.name).collect();
                w.write_all(header.join(",").as_bytes()).map_err(io_err(&path))?;
                w.write_all(b"\n").map_err(io_err(&path))?;
                TableOut::Csv(w)
            }
            OutputFormat::Parquet => {
                let props = WriterProperties::builder()
                    .set_compression(Compression::SNAPPY)
                    .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
                    .build();
                let w = ArrowWriter::try_new(file, schema.clone(), Some(props))
                    .map_err(|source| SynthError::Parquet { path: path.clone(), source })?;
                TableOut::Parquet(Box::new(w))
            }
        };
        Ok(TableFile { name, path, schema, out, rows: 0 })
    }

    fn new_rows(&self) -> Rows {
        match self.out {
            TableOut::Csv(_) => Rows::csv(),
            TableOut::Parquet(_) => Rows::columns(&self.schema),
        }
    }

    fn append(&mut self, rows: &mut Rows) -> Result<(), SynthError> {
        self.rows += rows.count;
        match &mut self.out {
            TableOut::Csv(w) => {
                if let Some(b) = rows.csv_bytes() {
                    w.write_all(b).map_err(io_err(&self.path))?;
                }
            }
            TableOut::Parquet(w) => {
                let batch = rows
                    .take_batch(&self.schema)
                    .map_err(|source| SynthError::Arrow { table: self.name.to_owned(), source })?;
                if let Some(batch) = batch {
                    w.write(&batch).map_err(|source| SynthError::Parquet { path: self.path.clone(), source })?;
                }
            }
        }
        Ok(())
    }

    fn finish(self) -> Result<u64, SynthError> {
        match self.out {
            TableOut::Csv(mut w) => w.flush().map_err(io_err(&self.path))?,
            TableOut::Parquet(w) => {
                let mut inner =
                    w.into_inner().map_err(|source| SynthError::Parquet { path: self.path.clone(), source })?;
                inner.flush().map_err(io_err(&self.path))?;
            }
        }
        Ok(self.rows)
    }
}

/// Subscribers per chunk: a multiple of the planting block, small enough to keep memory low.
#[cfg(not(test))]
const CHUNK: u64 = 8 * 1024;
/// Small chunks in tests, so small runs still cross chunk boundaries.
#[cfg(test)]
const CHUNK: u64 = 512;

/// Generates the operator export into `out` (created if missing), calling `progress` with
/// the number of subscribers written so far.
pub fn generate(
    config: &GenerateConfig,
    out: &Path,
    progress: &mut dyn FnMut(u64),
) -> Result<GenerateSummary, SynthError> {
    if config.subscribers == 0 || config.subscribers > 500_000_000 {
        return Err(SynthError::Config("subscribers must be within 1..=500000000".into()));
    }
    if !(1..=120).contains(&config.months) {
        return Err(SynthError::Config("months must be within 1..=120".into()));
    }
    let first = config.first_month();
    if first.year() < 2000 || config.last_month.year() > 2900 {
        return Err(SynthError::Config("the generated months must lie within 2000..2900".into()));
    }
    let truth_dir = out.join("truth");
    std::fs::create_dir_all(&truth_dir).map_err(io_err(&truth_dir))?;

    let cat = Catalog::build(config.seed, config.subscribers);
    let ctx = Ctx {
        cat: &cat,
        seed: config.seed,
        n: config.subscribers,
        first,
        last: config.last_month,
        months: config.months as usize,
        first_day: first.first_day().days_since_epoch(),
        last_day: config.last_month.last_day().days_since_epoch(),
    };
    let mut summary = GenerateSummary::default();

    // Catalog tables first, each complete in one go.
    for t in TABLES.iter().filter(|t| !SUBSCRIBER_TABLES.contains(&t.name)) {
        let mut f = TableFile::create(out, t.name, config.format)?;
        let mut rows = f.new_rows();
        cat.write(t.name, &mut rows, config.last_month);
        f.append(&mut rows)?;
        summary.rows.insert(t.name.to_owned(), f.finish()?);
    }

    // Per-subscriber tables and truth, streamed chunk by chunk.
    let mut files: Vec<TableFile> = Vec::new();
    for name in SUBSCRIBER_TABLES {
        let t = TABLES.iter().find(|t| t.name == name).ok_or_else(|| SynthError::Config(format!("no table {name}")))?;
        files.push(TableFile::create(out, t.name, config.format)?);
    }
    let mut truth: Vec<(PathBuf, BufWriter<File>, u64)> = Vec::new();
    for (name, header) in TRUTH_FILES {
        let path = truth_dir.join(name);
        let mut w = BufWriter::with_capacity(1 << 20, File::create(&path).map_err(io_err(&path))?);
        writeln!(w, "{header}").map_err(io_err(&path))?;
        truth.push((path, w, 0));
    }
    let mut by_month = [vec![0u64; ctx.months], vec![0u64; ctx.months], vec![0u64; ctx.months]];

    let threads =
        if config.threads == 0 { std::thread::available_parallelism().map_or(2, |n| n.get()) } else { config.threads };
    let n_chunks = config.subscribers.div_ceil(CHUNK);
    let templates: Vec<bool> = files.iter().map(|f| matches!(f.out, TableOut::Parquet(_))).collect();
    let schemas: Vec<SchemaRef> = files.iter().map(|f| f.schema.clone()).collect();
    let make_out = |c: u64| -> ChunkOut {
        let tables =
            templates.iter().zip(&schemas).map(|(&pq, s)| if pq { Rows::columns(s) } else { Rows::csv() }).collect();
        let mut o = ChunkOut {
            tables,
            truth: (0..TRUTH_FILES.len()).map(|_| Rows::csv()).collect(),
            by_month: [vec![0; ctx.months], vec![0; ctx.months], vec![0; ctx.months]],
            subscribers: 0,
        };
        let mut scratch = Scratch::default();
        let end = ((c + 1) * CHUNK).min(config.subscribers);
        for i in c * CHUNK..end {
            subscriber::generate_one(&ctx, i, &mut o, &mut scratch);
        }
        o
    };

    let mut done = 0u64;
    let mut write_batch = |batch: Vec<ChunkOut>| -> Result<(), SynthError> {
        for mut o in batch {
            for (f, rows) in files.iter_mut().zip(o.tables.iter_mut()) {
                f.append(rows)?;
            }
            for ((path, w, n), rows) in truth.iter_mut().zip(&o.truth) {
                if let Some(b) = rows.csv_bytes() {
                    w.write_all(b).map_err(io_err(path))?;
                }
                *n += rows.count;
            }
            for (acc, add) in by_month.iter_mut().zip(&o.by_month) {
                for (a, b) in acc.iter_mut().zip(add) {
                    *a += b;
                }
            }
            done += o.subscribers;
            progress(done);
        }
        Ok(())
    };

    // Two stages overlap: workers generate batch b while this thread writes batch b-1.
    let mut pending: Option<Vec<ChunkOut>> = None;
    let mut next = 0u64;
    while next < n_chunks || pending.is_some() {
        let batch = next..(next + threads as u64).min(n_chunks);
        next = batch.end;
        let prev = pending.take();
        let (written, generated) = std::thread::scope(|s| {
            let handles: Vec<_> = batch.map(|c| s.spawn(move || make_out(c))).collect();
            let written = match prev {
                Some(p) => write_batch(p),
                None => Ok(()),
            };
            let generated: Result<Vec<ChunkOut>, SynthError> =
                handles.into_iter().map(|h| h.join().map_err(|_| SynthError::Worker)).collect();
            (written, generated)
        });
        written?;
        let generated = generated?;
        if !generated.is_empty() {
            pending = Some(generated);
        }
    }

    for f in files {
        let name = f.name;
        summary.rows.insert(name.to_owned(), f.finish()?);
    }
    for ((path, mut w, n), (name, _)) in truth.into_iter().zip(TRUTH_FILES) {
        w.flush().map_err(io_err(&path))?;
        summary.truth_rows.insert(name.to_owned(), n);
    }
    for (t, counts) in ["usage", "events", "sales"].into_iter().zip(&by_month) {
        let m: BTreeMap<String, u64> =
            counts.iter().enumerate().map(|(k, &c)| (first.plus(k as i32).to_string(), c)).collect();
        summary.rows_by_month.insert(t.to_owned(), m);
    }
    write_totals(config, &truth_dir, &summary)?;
    let readme = truth_dir.join("README.md");
    std::fs::write(&readme, truth_readme(config)).map_err(io_err(&readme))?;
    Ok(summary)
}

fn write_totals(config: &GenerateConfig, dir: &Path, s: &GenerateSummary) -> Result<(), SynthError> {
    // Tables are top-level keys (`/usage/rows`), so a reader finds a table by its name alone.
    let mut top = serde_json::Map::new();
    top.insert(
        "config".into(),
        serde_json::json!({
            "seed": config.seed,
            "subscribers": config.subscribers,
            "months": config.months,
            "first_month": config.first_month().to_string(),
            "last_month": config.last_month.to_string(),
            "format": match config.format { OutputFormat::Csv => "csv", OutputFormat::Parquet => "parquet" },
        }),
    );
    for t in TABLES {
        let mut o = serde_json::Map::new();
        o.insert("rows".into(), s.rows.get(t.name).copied().unwrap_or(0).into());
        if let Some(m) = s.rows_by_month.get(t.name) {
            o.insert("by_month".into(), serde_json::to_value(m).unwrap_or_default());
        }
        top.insert(t.name.into(), o.into());
    }
    top.insert("truth".into(), serde_json::to_value(&s.truth_rows).unwrap_or_default());
    let path = dir.join("totals.json");
    let mut text = serde_json::to_string_pretty(&serde_json::Value::Object(top)).unwrap_or_default();
    text.push('\n');
    std::fs::write(&path, text).map_err(io_err(&path))
}

fn truth_readme(config: &GenerateConfig) -> String {
    include_str!("truth_readme.md")
        .replace("{seed}", &config.seed.to_string())
        .replace("{subscribers}", &config.subscribers.to_string())
        .replace("{first}", &config.first_month().to_string())
        .replace("{last}", &config.last_month.to_string())
}
