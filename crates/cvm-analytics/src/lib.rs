//! The monthly analytics run of telco-cvm: from the warehouse to one row of features per
//! subscriber, written to `W/runs/<as-of>/`.
//!
//! A run takes an as-of month and a window of the three months ending there (as-of - 2,
//! as-of - 1, as-of). It registers the warehouse tables in a DataFusion session (snapshots
//! whole; usage for the window months; events up to the as-of month, because a stop that
//! began before the window still counts inside it) and runs one SQL query
//! ([`features::FEATURES_SQL`]) whose joins and group-bys DataFusion plans, so the same
//! plan could later run distributed on Ballista.
//!
//! Every aggregate in that query is exact (integer and decimal sums, counts, minima and
//! maxima); floats are only made from them after the group-by. Float sums would depend
//! on the order in which parallel partial aggregates meet, and the same inputs must give
//! the same bytes.
//!
//! The result is sorted by `subscriber_id` and written by [`commit`]: the whole run goes to
//! `W/runs/.<as-of>.tmp-<pid>/`, which is then renamed over `W/runs/<as-of>` (the previous
//! run is moved aside first and deleted only once the new one is in place), so a run that
//! dies leaves the previous results intact.
//!
//! The library never reads the clock (see ARCHITECTURE.md): the caller times the run and
//! passes the seconds to [`commit`] for the summary.

pub mod churn;
pub mod clusters;
pub mod config;
pub mod expression;
pub mod features;
pub mod fit;
pub mod frame;
pub mod segments;
pub mod store;
pub mod value;
pub mod warnings;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use datafusion::arrow::array::{RecordBatch, UInt32Array};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::prelude::{SessionConfig, SessionContext};

pub use clusters::ClusterReport;
pub use config::RunConfig;
/// The Arrow version of the run's tables, for readers of them.
pub use datafusion::arrow;
pub use features::{Features, Window, compute_features};
pub use segments::{SegmentFile, SegmentReport};
pub use store::{RunSummary, commit, run_dir};
pub use value::{LifecycleRow, ValueReport};

/// Everything one run computes, before it is committed to `W/runs/<as-of>/`.
#[derive(Debug, Clone)]
pub struct RunOutput {
    /// The window described.
    pub window: Window,
    /// One row per subscriber: features, value, value tier, lifecycle group and cluster,
    /// sorted by `subscriber_id`, in batches.
    pub features: Vec<RecordBatch>,
    /// Their columns.
    pub schema: datafusion::arrow::datatypes::SchemaRef,
    /// (segment, subscriber_id) rows: who is in which segment.
    pub memberships: RecordBatch,
    /// The value pyramid.
    pub value: ValueReport,
    /// The lifecycle groups.
    pub lifecycle: Vec<LifecycleRow>,
    /// The clusters.
    pub clusters: ClusterReport,
    /// Segment validity.
    pub segments: SegmentReport,
    /// Churn rule warnings: (subscriber_id, branch_id, rule, kind, severity, evidence).
    pub warnings: RecordBatch,
    /// Their counts by kind, rule and branch.
    pub warning_counts: warnings::WarningCounts,
    /// Churn scores by the installed model (`W/models/churn.json`), when there is one.
    pub churn_scores: Option<Vec<RecordBatch>>,
    pub offers: fit::FitOutput,
    /// The configuration used.
    pub config: RunConfig,
    /// The analyst's segments file used.
    pub analyst_segments: SegmentFile,
}

/// A step of a run, for progress on the terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// The feature query over the warehouse.
    Features,
    /// Value, tiers and lifecycle groups.
    Value,
    /// k-means.
    Clusters,
    /// Segment members and validity.
    Segments,
    /// Churn rule warnings.
    Warnings,
    /// Churn scores by the installed model.
    ChurnScores,
    /// Plan, data and device fit, cross-sell rules, next best offer.
    Offers,
}

impl Step {
    /// What the step does, for people.
    pub fn label(self) -> &'static str {
        match self {
            Step::Features => "features from the warehouse",
            Step::Value => "value pyramid and lifecycle",
            Step::Clusters => "clustering",
            Step::Segments => "segments and validity",
            Step::Warnings => "churn warning rules",
            Step::ChurnScores => "churn scores",
            Step::Offers => "plan, data and device fit, next best offer",
        }
    }
}

/// The columns of a run's per-subscriber table (features, value, tiers, lifecycle group,
/// cluster) with their types, planned over empty tables: what segment predicates may use.
pub async fn feature_schema(config: &RunConfig) -> Result<datafusion::common::DFSchema> {
    let ctx = SessionContext::new();
    for name in ["subscribers", "plans", "devices", "holdings", "usage", "events"] {
        features::register_empty(&ctx, name)?;
    }
    let df = ctx.sql(&features::feature_sql(Window::new(cvm_domain::Month::parse("2000-01")?))).await?;
    let df = value::with_value_and_lifecycle(&ctx, df, &config.value)?;
    let df = df.with_column("cluster", datafusion::prelude::lit(0_u32))?;
    Ok(df.schema().clone())
}

/// Checks an analyst's segments file (with the built-in segments) without running.
pub async fn check_segments(config: &RunConfig, analyst: &SegmentFile) -> Result<Vec<segments::CheckedSegment>> {
    let schema = feature_schema(config).await?;
    let defs = segments::all_segments(config, analyst)?;
    segments::check_segments(&SessionContext::new(), &schema, &defs)
}

/// Runs the analytics of `window` over warehouse `root`; `progress` hears each step begin.
pub async fn analyse(
    root: &Path,
    window: Window,
    config: &RunConfig,
    analyst_segments: &SegmentFile,
    progress: &mut dyn FnMut(Step),
) -> Result<RunOutput> {
    progress(Step::Features);
    let features = compute_features(root, window).await?;

    progress(Step::Value);
    // One partition: the derived columns keep the row order, and the report sums add up in
    // the same order every time, so the same inputs give the same bytes.
    let ctx = SessionContext::new_with_config(SessionConfig::new().with_target_partitions(1));
    let df = ctx.read_batches(features.batches)?;
    let df = value::with_value_and_lifecycle(&ctx, df, &config.value)?;
    let valued_schema = df.schema().as_arrow().clone();
    let valued = df.collect().await?;

    progress(Step::Clusters);
    let raw = clusters::behaviour(&valued)?;
    let (labels, cluster_report) = clusters::cluster(&raw, &config.clustering)?;
    let mut fields: Vec<Field> = valued_schema.fields().iter().map(|f| f.as_ref().clone()).collect();
    fields.push(Field::new("cluster", DataType::UInt32, false));
    let schema = Arc::new(Schema::new(fields));
    let mut full = Vec::with_capacity(valued.len());
    let mut offset = 0;
    for batch in valued {
        let mut columns = batch.columns().to_vec();
        columns.push(Arc::new(UInt32Array::from(labels[offset..offset + batch.num_rows()].to_vec())));
        offset += batch.num_rows();
        full.push(RecordBatch::try_new(schema.clone(), columns)?);
    }

    let df = ctx.read_batches(full.clone())?;
    let value = value::value_report(&df, &config.value).await?;
    let lifecycle = value::lifecycle_report(&df).await?;

    progress(Step::Segments);
    let defs = segments::all_segments(config, analyst_segments)?;
    let checked = segments::check_segments(&ctx, df.schema(), &defs)?;
    let (memberships, segment_report) = segments::evaluate(&df, &checked, &config.validity).await?;

    progress(Step::Warnings);
    let (warnings, warning_counts) = warnings::warnings(&df, &config.warnings).await?;

    let churn_scores = match churn::installed(root)? {
        Some(model) => {
            progress(Step::ChurnScores);
            Some(full.iter().map(|b| churn::score(&model, b)).collect::<Result<Vec<_>>>()?)
        }
        None => None,
    };

    progress(Step::Offers);
    let risk = churn_risk(&full, churn_scores.as_deref(), &warnings, &config.offers)?;
    let offers = fit::fit(root, window, &full, &risk, &config.offers).await?;

    Ok(RunOutput {
        window,
        features: full,
        schema,
        memberships,
        value,
        lifecycle,
        clusters: cluster_report,
        segments: segment_report,
        warnings,
        warning_counts,
        churn_scores,
        offers,
        config: config.clone(),
        analyst_segments: analyst_segments.clone(),
    })
}

/// Why an analytics run failed.
/// Each feature row's likelihood of churning: the churn model's probability where a model
/// scored the run, else the configured risk of the subscriber's worst warning.
fn churn_risk(
    features: &[RecordBatch],
    scores: Option<&[RecordBatch]>,
    warnings: &RecordBatch,
    cfg: &config::OffersConfig,
) -> Result<Vec<f64>> {
    if let Some(scores) = scores {
        let mut risk = Vec::new();
        for b in scores {
            risk.extend(frame::f64_column(b, "probability")?.into_iter().map(|p| p.unwrap_or(0.0)));
        }
        let rows: usize = features.iter().map(RecordBatch::num_rows).sum();
        if risk.len() != rows {
            return Err(AnalyticsError::Churn(format!("{} scores for {rows} subscribers", risk.len())));
        }
        return Ok(risk);
    }
    let [high, medium, low, none] = cfg.risk_from_warnings;
    let mut worst: std::collections::HashMap<i64, f64> = std::collections::HashMap::new();
    let ids = frame::i64_column(warnings, "subscriber_id")?;
    let severity = frame::string_column(warnings, "severity")?;
    for (id, s) in ids.into_iter().zip(severity) {
        let r = match s.as_deref() {
            Some("high") => high,
            Some("medium") => medium,
            _ => low,
        };
        if let Some(id) = id {
            let w = worst.entry(id).or_insert(r);
            *w = w.max(r);
        }
    }
    let mut risk = Vec::new();
    for b in features {
        risk.extend(
            frame::i64_column(b, "subscriber_id")?
                .into_iter()
                .map(|id| id.and_then(|id| worst.get(&id).copied()).unwrap_or(none)),
        );
    }
    Ok(risk)
}

#[derive(Debug, thiserror::Error)]
pub enum AnalyticsError {
    /// The warehouse folder does not exist or lacks a table every run needs.
    #[error("{path}: {what}")]
    Warehouse {
        /// The folder or file in question.
        path: PathBuf,
        /// What is wrong with it.
        what: String,
    },
    /// The as-of month is not a month.
    #[error("as-of month: {0}")]
    AsOf(#[from] cvm_domain::ValueError),
    /// DataFusion could not plan or execute the feature query.
    #[error("query: {0}")]
    Query(#[from] datafusion::error::DataFusionError),
    /// Arrow could not assemble the result.
    #[error("result: {0}")]
    Arrow(#[from] datafusion::arrow::error::ArrowError),
    /// The Parquet writer failed.
    #[error("writing features: {0}")]
    Parquet(#[from] parquet::errors::ParquetError),
    /// Reading or writing a file or folder of the run failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A report could not be serialised or read.
    #[error("report: {0}")]
    Json(#[from] serde_json::Error),
    /// A configuration or segments file is wrong.
    #[error("{origin}: {what}")]
    Config {
        /// The file or setting.
        origin: String,
        /// What is wrong.
        what: String,
    },
    /// A segment's definition is wrong.
    #[error("segment `{name}`: {what}")]
    Segment {
        /// The segment.
        name: String,
        /// What is wrong.
        what: String,
    },
    /// k-means failed.
    #[error("clustering: {0}")]
    Clustering(String),
    /// A file could not be written into the warehouse.
    #[error("{0}")]
    Store(#[from] cvm_warehouse::ImportError),
    /// The churn model could not be trained or applied.
    #[error("churn model: {0}")]
    Churn(String),
}

/// Result of the analytics library.
pub type Result<T> = std::result::Result<T, AnalyticsError>;
