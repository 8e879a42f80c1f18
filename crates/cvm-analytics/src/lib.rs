//! The monthly analytics run of telco-cvm: from the warehouse to one row of features per
//! subscriber, written to `W/runs/<as-of>/`.
//!
//! A run takes an as-of month and a window of the three months ending there (as-of - 2,
//! as-of - 1, as-of). It registers the warehouse tables in a DataFusion session (snapshots
//! whole; usage for the window months; events up to the as-of month, because a stop that
//! began before the window still counts inside it) and runs one SQL query
//! ([`features::FEATURES_SQL`]) whose joins and group-bys DataFusion plans, so the same
//! plan could later run distributed on Ballista. [`analyse`] runs it range of subscribers
//! by range, so memory stays bounded whatever the operator's size.
//!
//! Every aggregate in that query is exact (integer and decimal sums, counts, minima and
//! maxima); floats are only made from them after the group-by. Float sums would depend
//! on the order in which parallel partial aggregates meet, and the same inputs must give
//! the same bytes.
//!
//! The tables are written in subscriber order into `W/runs/.<as-of>.tmp-<pid>/` as they are
//! made; [`commit`] adds the reports and renames the folder over `W/runs/<as-of>` (the
//! previous run is moved aside first and deleted only once the new one is in place), so a
//! run that dies leaves the previous results intact.
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
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::prelude::{SessionConfig, SessionContext};

pub use clusters::ClusterReport;
pub use config::RunConfig;
/// The Arrow version of the run's tables, for readers of them.
pub use datafusion::arrow;
pub use features::{Features, Window, compute_features};
pub use segments::{SegmentFile, SegmentReport};
pub use store::{RunSummary, commit, run_dir};
pub use value::{LifecycleRow, ValueReport};

/// Everything one run computes: its tables already written into the run's temporary
/// folder, its reports in memory, until [`commit`] puts them in `W/runs/<as-of>/`.
#[derive(Debug)]
pub struct RunOutput {
    /// The window described.
    pub window: Window,
    /// The temporary folder holding the tables.
    pub pending: store::PendingRun,
    /// Rows of features.parquet (subscribers of the run).
    pub rows: u64,
    /// Columns of features.parquet.
    pub columns: u64,
    /// The value pyramid.
    pub value: ValueReport,
    /// The lifecycle groups.
    pub lifecycle: Vec<LifecycleRow>,
    /// The clusters.
    pub clusters: ClusterReport,
    /// Segment validity.
    pub segments: SegmentReport,
    /// Counts of the churn rule warnings by kind, rule and branch.
    pub warning_counts: warnings::WarningCounts,
    /// Subscribers scored by the installed churn model (`W/models/churn.json`), when there is one.
    pub churn_scored: Option<u64>,
    /// Cross-sell rules and counts of the offers step.
    pub offers: fit::FitOutput,
    /// The configuration used.
    pub config: RunConfig,
    /// The analyst's segments file used.
    pub analyst_segments: SegmentFile,
}

/// A step of a run, for progress on the terminal; the two passes go range of subscribers by
/// range (see [`analyse`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Step {
    /// Pass 1: the feature query, value, tier and lifecycle group, plan and data fit.
    Features,
    /// Once: k-means, the value pyramid, the device pool and the cross-sell rules.
    Clusters,
    /// Pass 2: rows written with their cluster, segment members, warnings, churn scores and
    /// the next best offers.
    Segments,
}

impl Step {
    /// What the step does, for people.
    pub fn label(self) -> &'static str {
        match self {
            Step::Features => "pass 1: features, value, lifecycle, plan and data fit",
            Step::Clusters => "clusters, pyramid, device pool, rules",
            Step::Segments => "pass 2: segments, warnings, churn scores, offers",
        }
    }
}

/// Ranges `first..=last` (from 1) of `of`, computed side by side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ranges {
    /// First range of the group.
    pub first: usize,
    /// Last range of the group.
    pub last: usize,
    /// Ranges in the run.
    pub of: usize,
}

/// Where a run is: a step beginning, and for the passes, which ranges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// The step beginning.
    pub step: Step,
    /// The ranges the step begins on, for the passes.
    pub ranges: Option<Ranges>,
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
///
/// The run goes through the subscribers range by range (`execution.subscribers_per_range`),
/// twice, so its memory is bounded by a few ranges plus a few numbers per subscriber:
///
/// 1. per range: the feature query over that range of the warehouse, value, tier and
///    lifecycle group, plan and data fit (written at once); the rows are kept in a part
///    file of the run's temporary folder, encoded as features.parquet is; the pyramid,
///    lifecycle and clustering inputs, the device needs and the holdings are kept;
/// 2. once, side by side: k-means (which needs everyone's behaviour to standardise and to
///    sample), the pyramid and its Pareto curve, the device pool shared out in value order
///    across all branches, the cross-sell rules;
/// 3. per range: the part file's column chunks, copied as encoded, and the cluster
///    column make the range's row group of features.parquet; the columns that segments,
///    warnings, churn scores and offers read (kept from pass 1 within
///    `execution.kept_between_passes_mib`, else decoded from the part file) give segment
///    members, warnings, churn scores and the next best offer.
///
/// In each pass, `execution.parallel_ranges` ranges are computed side by side, each on a
/// thread of its own with its share of the cores; what they found is then added to the run
/// in range order. Every table is written in subscriber order, as a single query over
/// everyone would, and sums are added in the same order whatever ran side by side.
pub async fn analyse(
    root: &Path,
    window: Window,
    config: &RunConfig,
    analyst_segments: &SegmentFile,
    progress: &mut dyn FnMut(Progress),
) -> Result<RunOutput> {
    // Refuse a wrong segment before any work: the file is checked against the columns,
    // unqualified, so its expressions apply to every range's rows as they are.
    let defs = segments::all_segments(config, analyst_segments)?;
    let planned = Arc::new(feature_schema(config).await?.as_arrow().clone());
    let columns = datafusion::common::DFSchema::try_from(planned.as_ref().clone())?;
    let checked = segments::check_segments(&SessionContext::new(), &columns, &defs)?;
    // The rows as pass 1 keeps them: every column but the cluster, the last.
    let rows_schema = Arc::new(planned.project(&(0..planned.fields().len() - 1).collect::<Vec<_>>())?);

    let features::SubscriberRanges { ranges, in_id_order, subscribers } =
        features::subscriber_ranges(root, config.execution.subscribers_per_range).await?;
    let at_once = config.execution.ranges_at_once();
    let pending = store::PendingRun::create(root, &window.as_of.to_string())?;
    let mut offers = fit::OffersRun::new(root, window, subscribers).await?;
    let mut plan_fit = pending.table(store::files::PLAN_FIT, fit::plan_fit_schema())?;
    let mut data_fit = pending.table(store::files::DATA_FIT, fit::data_fit_schema())?;
    let mut behaviour = clusters::Matrix::with_capacity(subscribers, clusters::CLUSTER_FEATURES.len());
    let mut tally = value::ValueTally::with_capacity(subscribers);
    let model = churn::installed(root)?;
    // Pass 2 reads back only the columns it uses, and adds the cluster, the last.
    let read = columns_of_pass_two(&rows_schema, &checked, config, model.as_ref());
    let read_schema = Arc::new(planned.project(&[read.as_slice(), &[rows_schema.fields().len()]].concat())?);
    let mut parts: Vec<Part> = Vec::with_capacity(ranges.len());
    let mut room = config.execution.kept_between_passes_mib.saturating_mul(1 << 20);
    let fitter = offers.fitter();
    in_range_order(
        (Step::Features, &mut *progress),
        ranges.len(),
        at_once,
        |k, partitions| {
            let range = (ranges[k], in_id_order, k, partitions);
            first_range(root, window, range, config, &fitter, &pending, &rows_schema, &read)
        },
        |_, found| {
            if let Some(found) = found {
                behaviour.append(&found.behaviour);
                found.valued.iter().try_for_each(|b| tally.add(b))?;
                offers.add_range(found.fit, &mut plan_fit, &mut data_fit)?;
                let first = parts.last().map_or(0, |p| p.rows.end);
                let n: usize = found.valued.iter().map(RecordBatch::num_rows).sum();
                // Kept in range order while they fit: which ranges are kept depends on the
                // sizes alone, and what pass 2 finds not at all.
                let bytes: usize = found.pass_two.iter().map(RecordBatch::get_array_memory_size).sum();
                let kept = (bytes <= room).then(|| {
                    room -= bytes;
                    found.pass_two
                });
                parts.push(Part { path: found.part, rows: first..first + n, kept: std::sync::Mutex::new(kept) });
            }
            Ok(())
        },
    )?;
    // Finished with the other tables: their last rows are encoded beside the clustering.
    let mut closing = vec![plan_fit.close()?, data_fit.close()?];

    progress(Progress { step: Step::Clusters, ranges: None });
    // Clustering, the pyramid and the offers' settling read separate things: side by side.
    // At 10M subscribers 2.8-3.3 s one after another, 2.6-3.0 s so: mostly memory-bound.
    // device_fit.parquet is written once they are done: its writer encodes on the same
    // cores, and a side waiting on it held a core idle (1M: the settling took ~0.25 s, not
    // ~0.03 s, waiting for k-means to free the pool).
    let (clustered, ((value, lifecycle), settled)) = rayon::join(
        || clusters::cluster(&behaviour, &config.clustering),
        || {
            rayon::join(
                || (tally.value_report(&config.value), tally.lifecycle_report()),
                || offers.settle(&config.offers),
            )
        },
    );
    let ((labels, cluster_report), (settled, devices)) = (clustered?, settled?);
    // Encoded beside pass 2, finished with the other tables.
    let mut device_fit = pending.table(store::files::DEVICE_FIT, fit::device_fit_schema())?;
    device_fit.write(&devices)?;
    drop((behaviour, tally, devices));

    let mut features_file = store::FeatureTable::create(&pending.path(store::files::FEATURES), planned.clone())?;
    let mut members = pending.table(store::files::MEMBERS, segments::members_schema())?;
    let mut warning_file = pending.table(store::files::WARNINGS, warnings::warnings_schema())?;
    let mut scores_file: Option<store::TableWriter> = None;
    let mut nbo = pending.table(store::files::NBO, fit::nbo_schema())?;
    let mut segment_tally = segments::SegmentTally::new(defs.len());
    let mut warning_counts = warnings::WarningCounts { rules: config.warnings.clone(), ..Default::default() };
    let (mut offered, mut offered_subscribers, mut expected_value) = (0, 0, 0.0);
    in_range_order(
        (Step::Segments, &mut *progress),
        parts.len(),
        at_once,
        |k, _| {
            let part = &parts[k];
            // Taken, so that a range's columns leave memory once it is done.
            let kept = part.kept.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take();
            second_range(
                (kept, &part.path, &read),
                &read_schema,
                part.rows.start,
                &labels[part.rows.clone()],
                &checked,
                config,
                model.as_ref(),
                &offers,
                &settled,
            )
        },
        |k, found| {
            features_file.append_range(&parts[k].path, &labels[parts[k].rows.clone()])?;
            members.write(&segment_tally.add(&found.segments, &checked)?)?;
            warning_file.write(&found.warnings)?;
            warning_counts.merge(&found.warning_counts);
            if let Some(scores) = found.scores.filter(|s| !s.is_empty()) {
                pending
                    .table_once(&mut scores_file, store::files::CHURN_SCORES, &scores[0].schema())?
                    .write_all(&scores)?;
            }
            nbo.write_all(&found.offers)?;
            offered += found.offers.iter().map(|b| b.num_rows() as u64).sum::<u64>();
            offered_subscribers += found.offered_subscribers;
            // One offer after another, in the table's order: a float sum depends on its order.
            for b in &found.offers {
                expected_value =
                    frame::f64_column(b, "expected_value")?.into_iter().flatten().fold(expected_value, |s, v| s + v);
            }
            Ok(())
        },
    )?;
    let (rows, columns) = (features_file.rows(), features_file.columns() as u64);
    // Every table's last rows handed over before any is waited for: they are encoded and
    // synced side by side (1M subscribers, median of 5 runs: 4.12 -> 4.05 s against one
    // table after another).
    for table in [device_fit, members, warning_file, nbo].into_iter().chain(scores_file) {
        closing.push(table.close()?);
    }
    features_file.finish()?;
    closing.into_iter().try_for_each(store::ClosingTable::finish)?;
    let churn_scored = model.as_ref().map(|_| rows);
    let segments_report = segment_tally.report(&checked, &config.validity);
    let offers = offers.summary(&settled, offered, offered_subscribers, expected_value, &config.offers);

    Ok(RunOutput {
        window,
        pending,
        rows,
        columns,
        value,
        lifecycle,
        clusters: cluster_report,
        segments: segments_report,
        warning_counts,
        churn_scored,
        offers,
        config: config.clone(),
        analyst_segments: analyst_segments.clone(),
    })
}

/// Runs `work(k, partitions)` for every range `k` of `0..n` on `at_once` threads, each with a
/// query runtime of its own and an even share of the cores (side by side, one partition each
/// needs no hash repartitioning between its operators), and hands each result to `take` in
/// range order, on this thread, as soon as it and those before it are done. `progress` hears
/// of `step` before each range is waited for: that range and those computed with it.
///
/// A thread goes on to the next range while `take` adds finished ones, so neither a slow range
/// nor the adding holds the cores idle; besides the one being added, at most `at_once` ranges
/// are computing or waiting to be added, so memory stays bounded. The first error stops the
/// ranges not yet begun.
fn in_range_order<R, F, Fut>(
    (step, progress): (Step, &mut dyn FnMut(Progress)),
    n: usize,
    at_once: usize,
    work: F,
    mut take: impl FnMut(usize, R) -> Result<()>,
) -> Result<()>
where
    R: Send,
    F: Fn(usize, usize) -> Fut + Sync,
    Fut: std::future::Future<Output = Result<R>>,
{
    let at_once = at_once.clamp(1, n.max(1));
    let cores = std::thread::available_parallelism().map(usize::from).unwrap_or(1);
    let partitions = (cores / at_once).max(1);
    let turns = Turns::new(n, at_once);
    std::thread::scope(|s| {
        let (done, finished) = std::sync::mpsc::channel::<(usize, Result<R>)>();
        for _ in 0..at_once {
            let (done, work, turns) = (done.clone(), &work, &turns);
            s.spawn(move || {
                let runtime = match tokio::runtime::Builder::new_current_thread().build() {
                    Ok(r) => r,
                    Err(source) => {
                        // The next range fails with the reason; the other threads go on.
                        if let Some(k) = turns.next() {
                            let _ = done.send((k, Err(AnalyticsError::Io { path: "query runtime".into(), source })));
                        }
                        return;
                    }
                };
                while let Some(k) = turns.next() {
                    if done.send((k, runtime.block_on(work(k, partitions)))).is_err() {
                        return;
                    }
                }
            });
        }
        drop(done);
        let mut ready = std::collections::BTreeMap::new();
        let outcome = (0..n).try_for_each(|k| {
            progress(Progress { step, ranges: Some(Ranges { first: k + 1, last: (k + at_once).min(n), of: n }) });
            while !ready.contains_key(&k) {
                // Every thread gone before range k came back: one panicked, and the scope
                // goes on with that panic when it ends.
                let Ok((at, found)) = finished.recv() else {
                    return Err(AnalyticsError::Io {
                        path: "range threads".into(),
                        source: std::io::Error::other("every thread computing ranges stopped"),
                    });
                };
                ready.insert(at, found);
            }
            let found = ready.remove(&k).unwrap_or_else(|| unreachable!("range {k} is ready"));
            // Taken as soon as handed over: a thread begins another range while this one is added.
            turns.taken();
            take(k, found?)?;
            Ok(())
        });
        turns.stop();
        outcome
    })
}

/// Which range a thread of [`in_range_order`] begins next, and when it may.
struct Turns {
    /// (ranges begun, ranges taken, stopped).
    state: std::sync::Mutex<(usize, usize, bool)>,
    changed: std::sync::Condvar,
    ranges: usize,
    at_once: usize,
}

impl Turns {
    fn new(ranges: usize, at_once: usize) -> Turns {
        Turns { state: std::sync::Mutex::new((0, 0, false)), changed: std::sync::Condvar::new(), ranges, at_once }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (usize, usize, bool)> {
        // The state is three counters, whole after any panic.
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The next range to begin, once fewer than `at_once` are begun and not taken; `None`
    /// when none is left or the run stopped.
    fn next(&self) -> Option<usize> {
        let mut s = self.lock();
        while !s.2 && s.0 < self.ranges && s.0 >= s.1 + self.at_once {
            s = self.changed.wait(s).unwrap_or_else(std::sync::PoisonError::into_inner);
        }
        if s.2 || s.0 >= self.ranges {
            return None;
        }
        s.0 += 1;
        Some(s.0 - 1)
    }

    /// One more range taken: a thread may begin another.
    fn taken(&self) {
        self.lock().1 += 1;
        self.changed.notify_all();
    }

    /// No more range begins.
    fn stop(&self) {
        self.lock().2 = true;
        self.changed.notify_all();
    }
}

/// What pass 1 found in one range, before it is added to the run.
struct FirstRange {
    /// The rows with value, tier and lifecycle group.
    valued: Vec<RecordBatch>,
    /// Their columns that pass 2 reads.
    pass_two: Vec<RecordBatch>,
    behaviour: clusters::Matrix,
    fit: fit::RangeFit,
    /// Where the rows wait for their cluster, encoded as features.parquet keeps them.
    part: PathBuf,
}

/// A range between the passes.
struct Part {
    /// Its part file.
    path: PathBuf,
    /// Its rows among the run's.
    rows: std::ops::Range<usize>,
    /// The columns pass 2 reads, when they fitted in `execution.kept_between_passes_mib`
    /// (reading them back from the part file cost ~5% of a 1M run's CPU).
    kept: std::sync::Mutex<Option<Vec<RecordBatch>>>,
}

/// Pass 1 over range `k` (`in_id_order`: the subscribers file is sorted by id) with
/// `partitions` per query: features, value, clustering inputs, plan and data fit; the rows
/// go to a part file of `rows_schema`, and columns `read` (by position) are kept for pass 2.
/// `None` when the range has no subscriber of the run.
#[allow(clippy::too_many_arguments)]
async fn first_range(
    root: &Path,
    window: Window,
    (range, in_id_order, k, partitions): (features::IdRange, bool, usize, usize),
    config: &RunConfig,
    fitter: &fit::RangeFitter,
    pending: &store::PendingRun,
    rows_schema: &SchemaRef,
    read: &[usize],
) -> Result<Option<FirstRange>> {
    let warehouse = features::warehouse_context(root, window, Some(range), Some(partitions), in_id_order).await?;
    let found = features::features_in(&warehouse, window).await?;
    if found.batches.iter().all(|b| b.num_rows() == 0) {
        return Ok(None);
    }
    // One partition: the derived columns keep the row order, so the same inputs give the
    // same bytes.
    let ctx = SessionContext::new_with_config(SessionConfig::new().with_target_partitions(1));
    let valued =
        value::with_value_and_lifecycle(&ctx, ctx.read_batches(found.batches)?, &config.value)?.collect().await?;
    let behaviour = clusters::behaviour(&valued)?;
    let fit = fitter.fit_range(&warehouse, window, &valued, &config.offers).await?;
    let part = pending.write_range_features(k, rows_schema.clone(), &valued)?;
    let pass_two = valued.iter().map(|b| b.project(read)).collect::<std::result::Result<_, _>>()?;
    Ok(Some(FirstRange { valued, pass_two, behaviour, fit, part }))
}

/// Positions among `rows` (pass 1's columns) of those pass 2 reads: the segments', the
/// warning rules', the offers' and the churn model's. Reading back all of them took twice as
/// long (1M subscribers: ~0.5 -> ~0.25 s in all).
fn columns_of_pass_two(
    rows: &datafusion::arrow::datatypes::Schema,
    checked: &[segments::CheckedSegment],
    config: &RunConfig,
    model: Option<&churn::WarehouseModel>,
) -> Vec<usize> {
    let mut read: std::collections::BTreeSet<String> = segments::columns_read(checked).into_iter().collect();
    read.extend(warnings::columns_read(&config.warnings));
    read.extend(fit::OffersRun::columns_read().iter().map(|c| (*c).to_owned()));
    read.extend(model.map(churn::columns_read).unwrap_or_default());
    (0..rows.fields().len()).filter(|&i| read.contains(rows.field(i).name())).collect()
}

/// What pass 2 found in one range, before it is written in range order.
struct SecondRange {
    /// What the segment tally reads ([`segments::evaluate`]).
    segments: Vec<RecordBatch>,
    warnings: RecordBatch,
    warning_counts: warnings::WarningCounts,
    scores: Option<Vec<RecordBatch>>,
    offers: Vec<RecordBatch>,
    offered_subscribers: u64,
}

/// Pass 2 over the columns it reads of one range (`kept` from pass 1, else columns `read`,
/// by position, of its part file; rows `first_row..` of the run, `labels` their clusters,
/// `schema` those columns with the cluster): segment flags, warnings, churn scores, next
/// best offers.
#[allow(clippy::too_many_arguments)]
async fn second_range(
    (kept, part, read): (Option<Vec<RecordBatch>>, &Path, &[usize]),
    schema: &SchemaRef,
    first_row: usize,
    labels: &[u32],
    checked: &[segments::CheckedSegment],
    config: &RunConfig,
    model: Option<&churn::WarehouseModel>,
    offers: &fit::OffersRun,
    settled: &fit::Settled,
) -> Result<SecondRange> {
    let valued = match kept {
        Some(batches) => batches,
        None => store::read_range_features(part, read)?,
    };
    let mut features = Vec::with_capacity(valued.len());
    let mut row = 0;
    for batch in valued {
        let n = batch.num_rows();
        let mut columns = batch.columns().to_vec();
        columns.push(Arc::new(UInt32Array::from(labels[row..row + n].to_vec())));
        features.push(RecordBatch::try_new(schema.clone(), columns)?);
        row += n;
    }
    let ctx = SessionContext::new_with_config(SessionConfig::new().with_target_partitions(1));
    let df = ctx.read_batches(features.clone())?;
    let segments = segments::evaluate(&df, checked).await?;
    let (warnings, warning_counts) = warnings::warnings(&df, &config.warnings).await?;
    let scores = model.map(|m| features.iter().map(|b| churn::score(m, b)).collect::<Result<Vec<_>>>()).transpose()?;
    let risk = churn_risk(&features, scores.as_deref(), &warnings, &config.offers)?;
    let (offers, offered_subscribers) = offers.offers(settled, &features, first_row, &risk, &config.offers)?;
    Ok(SecondRange { segments, warnings, warning_counts, scores, offers, offered_subscribers })
}

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
    let mut worst: rustc_hash::FxHashMap<i64, f64> = rustc_hash::FxHashMap::default();
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

/// Why an analytics run failed.
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

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use super::*;

    #[test]
    fn ranges_are_taken_in_order_however_they_finish() {
        let (running, most) = (AtomicUsize::new(0), AtomicUsize::new(0));
        let mut taken = Vec::new();
        in_range_order(
            (Step::Features, &mut |_| {}),
            9,
            3,
            |k, _| {
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                // Early ranges are the slow ones: later ones finish first and wait.
                std::thread::sleep(Duration::from_millis(((9 - k) * 4) as u64));
                running.fetch_sub(1, Ordering::SeqCst);
                std::future::ready(Ok(k * 10))
            },
            |k, found| {
                taken.push((k, found));
                Ok(())
            },
        )
        .expect("every range");
        assert_eq!(taken, (0..9).map(|k| (k, k * 10)).collect::<Vec<_>>());
        assert!(most.load(Ordering::SeqCst) <= 3, "at most 3 ranges computed at once");
    }

    #[test]
    fn a_failing_range_stops_the_run_with_its_error() {
        let begun = AtomicUsize::new(0);
        let mut taken = Vec::new();
        let outcome = in_range_order(
            (Step::Features, &mut |_| {}),
            50,
            2,
            |k, _| {
                begun.fetch_add(1, Ordering::SeqCst);
                std::future::ready(if k == 3 {
                    Err(AnalyticsError::Clustering(format!("range {k} failed")))
                } else {
                    Ok(k)
                })
            },
            |k, _| {
                taken.push(k);
                Ok(())
            },
        );
        assert!(matches!(outcome, Err(AnalyticsError::Clustering(ref m)) if m == "range 3 failed"), "{outcome:?}");
        assert_eq!(taken, vec![0, 1, 2]);
        assert!(begun.load(Ordering::SeqCst) < 10, "ranges after the failure are not begun");
    }

    #[test]
    fn no_range_takes_nothing() {
        in_range_order(
            (Step::Features, &mut |_| {}),
            0,
            2,
            |_, _| std::future::ready(Ok(())),
            |k, _| panic!("range {k} taken"),
        )
        .expect("nothing to do");
    }
}
