//! Where a run's results live, and committing them whole: write into a temporary folder,
//! then rename it over the previous run, so a reader or a crash never sees half a run.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;
use serde::{Deserialize, Serialize};

use datafusion::arrow::array::RecordBatch;

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

/// Writes the run's files to `W/runs/<as-of>/`, replacing a previous run of that month only
/// once the new one is complete; `segments_version` is the saved version of the analyst's
/// segments file the run used. Returns the summary written.
pub fn commit(root: &Path, run: &RunOutput, segments_version: Option<u32>, seconds: f64) -> Result<RunSummary> {
    let as_of = run.window.as_of.to_string();
    let runs = root.join("runs");
    fs::create_dir_all(&runs).map_err(io(&runs))?;
    let pid = std::process::id();
    let temp = runs.join(format!(".{as_of}.tmp-{pid}"));
    if temp.exists() {
        // Left by a dead process that had our pid: nothing else can be writing it.
        fs::remove_dir_all(&temp).map_err(io(&temp))?;
    }
    fs::create_dir(&temp).map_err(io(&temp))?;

    write_parquet(&temp.join(files::FEATURES), &run.schema, &run.features)?;
    write_parquet(&temp.join(files::MEMBERS), &run.memberships.schema(), std::slice::from_ref(&run.memberships))?;
    write_json(&temp.join(files::VALUE), &run.value)?;
    write_json(&temp.join(files::LIFECYCLE), &run.lifecycle)?;
    write_json(&temp.join(files::CLUSTERS), &run.clusters)?;
    write_json(&temp.join(files::SEGMENTS), &run.segments)?;
    write_json(&temp.join(files::CONFIG), &run.config)?;
    write_parquet(&temp.join(files::WARNINGS), &run.warnings.schema(), std::slice::from_ref(&run.warnings))?;
    write_json(&temp.join(files::WARNING_COUNTS), &run.warning_counts)?;
    if let Some(scores) = run.churn_scores.as_ref().filter(|s| !s.is_empty()) {
        write_parquet(&temp.join(files::CHURN_SCORES), &scores[0].schema(), scores)?;
    }
    let offers = &run.offers;
    write_parquet(&temp.join(files::PLAN_FIT), &crate::fit::plan_fit_schema(), &offers.plan_fit)?;
    write_parquet(&temp.join(files::DATA_FIT), &crate::fit::data_fit_schema(), &offers.data_fit)?;
    write_parquet(
        &temp.join(files::DEVICE_FIT),
        &offers.device_fit.schema(),
        std::slice::from_ref(&offers.device_fit),
    )?;
    write_parquet(&temp.join(files::NBO), &crate::fit::nbo_schema(), &offers.nbo)?;
    write_json(&temp.join(files::BASKET_RULES), &offers.rules)?;
    write_json(&temp.join(files::OFFERS), &offers.summary)?;
    let analyst = toml::to_string(&run.analyst_segments)
        .map_err(|e| AnalyticsError::Config { origin: "segments".into(), what: e.to_string() })?;
    write_text(&temp.join(files::ANALYST_SEGMENTS), &analyst)?;
    write_text(&temp.join(files::VALIDITY_MD), &crate::segments::report_markdown(&run.segments, &as_of))?;
    let summary = RunSummary {
        as_of: as_of.clone(),
        window_months: run.window.months().iter().map(ToString::to_string).collect(),
        rows: run.features.iter().map(|b| b.num_rows() as u64).sum(),
        columns: run.schema.fields().len() as u64,
        segments: run.segments.segments.len() as u64,
        segments_version,
        clusters: run.clusters.k as u64,
        warnings: run.warning_counts.warnings,
        churn_scored: run.churn_scores.as_ref().map(|s| s.iter().map(|b| b.num_rows() as u64).sum()),
        offers: run.offers.summary.offers,
        seconds,
    };
    write_json(&temp.join(files::SUMMARY), &summary)?;

    // Move the old run aside rather than deleting it first: if we die between the two
    // renames, the previous results still exist (as .<as-of>.old-<pid>).
    let target = run_dir(root, &as_of);
    let old = runs.join(format!(".{as_of}.old-{pid}"));
    let had_old = target.exists();
    if had_old {
        if old.exists() {
            fs::remove_dir_all(&old).map_err(io(&old))?;
        }
        fs::rename(&target, &old).map_err(io(&target))?;
    }
    if let Err(e) = fs::rename(&temp, &target) {
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
    Ok(datafusion::arrow::compute::concat_batches(&schema, &batches)?)
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
/// pages do not depend on how the engine happened to split the rows.
const WRITE_ROWS: usize = 65_536;

/// Writes `batches` as one Parquet file with fixed properties, so the same rows give the same
/// bytes.
fn write_parquet(path: &Path, schema: &datafusion::arrow::datatypes::SchemaRef, batches: &[RecordBatch]) -> Result<()> {
    let props =
        WriterProperties::builder().set_compression(Compression::SNAPPY).set_created_by("telco-cvm".into()).build();
    let file = File::create(path).map_err(io(path))?;
    let mut writer = ArrowWriter::try_new(file, schema.clone(), Some(props))?;
    let mut pending: Vec<RecordBatch> = Vec::new();
    let mut pending_rows = 0;
    for batch in batches {
        let mut start = 0;
        while start < batch.num_rows() {
            let take = (WRITE_ROWS - pending_rows).min(batch.num_rows() - start);
            pending.push(batch.slice(start, take));
            pending_rows += take;
            start += take;
            if pending_rows == WRITE_ROWS {
                writer.write(&datafusion::arrow::compute::concat_batches(schema, &pending)?)?;
                pending.clear();
                pending_rows = 0;
            }
        }
    }
    if pending_rows > 0 || batches.iter().all(|b| b.num_rows() == 0) {
        writer.write(&datafusion::arrow::compute::concat_batches(schema, &pending)?)?;
    }
    let file = writer.into_inner()?;
    file.sync_all().map_err(io(path))?;
    Ok(())
}

/// Attaches `path` to an I/O error.
fn io(path: &Path) -> impl Fn(std::io::Error) -> AnalyticsError + '_ {
    move |source| AnalyticsError::Io { path: path.to_path_buf(), source }
}
