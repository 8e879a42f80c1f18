//! The churn model on the warehouse's history, and scoring a run with it.
//!
//! Training rows are the feature query's rows as of several months t (subscribers still on
//! the network at the end of t), labelled by whether the line left the network in t + 1
//! (status `closed` since a day of t + 1). The split is by time: the model is fitted on the
//! earlier months and tested on the latest one, as it will be used: trained on the past,
//! scoring a month whose outcome is not known yet.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use cvm_churn::data::{Column, Dataset, Feature, FeatureKind, UNSEEN};
use cvm_churn::metrics::Metrics;
use cvm_churn::model::{ChurnModel, TrainConfig};
use cvm_domain::Month;
use datafusion::arrow::array::{
    ArrayRef, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray, UInt8Array,
};
use datafusion::arrow::compute::concat_batches;
use datafusion::arrow::compute::filter_record_batch;
use datafusion::arrow::compute::kernels::boolean::not;
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use serde::{Deserialize, Serialize};

use crate::features::{Window, compute_features};
use crate::frame::{f64_column, i64_column, string_column};
use crate::{AnalyticsError, Result};

/// Columns of the features that are never model inputs: the key, and the as-of month's own
/// outcome.
pub const NOT_FEATURES: &[&str] = &["subscriber_id", "left_network"];

/// Level standing for a missing categorical value (as the CSV reader of cvm-churn names it).
const BLANK: &str = "(blank)";

/// A churn model trained on the warehouse, with where it came from and how it tested.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WarehouseModel {
    /// What the label is.
    pub label: String,
    /// As-of months of the training rows.
    pub train_months: Vec<String>,
    /// As-of month of the test rows (label: left in the month after).
    pub test_month: String,
    /// Test rows.
    pub test_rows: usize,
    /// Share of churners among them.
    pub test_positive_rate: f64,
    /// Quality on the test month.
    pub test: Metrics,
    /// The model.
    pub model: ChurnModel,
}

/// Where the installed model lives: `W/models/churn.json`.
pub fn model_path(root: &Path) -> PathBuf {
    root.join("models").join("churn.json")
}

/// Turns feature rows into a churn dataset. With `schema` (a trained model's features), the
/// columns and categorical levels are the model's (unknown levels become unseen); without,
/// every feature column is used and levels are the sorted values seen.
pub fn dataset(batch: &RecordBatch, schema: Option<&[Feature]>, labels: Option<Vec<bool>>) -> Result<Dataset> {
    let data_err = |e: cvm_churn::Error| AnalyticsError::Churn(e.to_string());
    let names: Vec<String> = match schema {
        Some(s) => s.iter().map(|f| f.name.clone()).collect(),
        None => batch
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .filter(|n| !NOT_FEATURES.contains(&n.as_str()))
            .collect(),
    };
    let mut features = Vec::with_capacity(names.len());
    let mut columns = Vec::with_capacity(names.len());
    for (i, name) in names.iter().enumerate() {
        let array = batch.column_by_name(name).ok_or_else(|| {
            AnalyticsError::Churn(format!("the model needs feature `{name}`, which the run does not have"))
        })?;
        let text = matches!(array.data_type(), DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View);
        if text {
            let values: Vec<String> =
                string_column(batch, name)?.into_iter().map(|v| v.unwrap_or_else(|| BLANK.into())).collect();
            let levels = match schema.map(|s| &s[i].kind) {
                Some(FeatureKind::Categorical { levels }) => levels.clone(),
                Some(FeatureKind::Numeric) => {
                    return Err(AnalyticsError::Churn(format!(
                        "feature `{name}` is text now but numeric in the model"
                    )));
                }
                None => {
                    let mut l: Vec<String> = values.iter().cloned().collect::<HashSet<_>>().into_iter().collect();
                    l.sort();
                    l
                }
            };
            let codes =
                values.iter().map(|v| levels.binary_search(v).map_or(UNSEEN, |k| k as u32)).collect::<Vec<u32>>();
            // Levels are kept sorted so a code is a binary search; a model's levels are too.
            features.push(Feature { name: name.clone(), kind: FeatureKind::Categorical { levels } });
            columns.push(Column::Categorical(codes));
        } else {
            // Flags read as 1 and 0 (the cast); missing values as NaN.
            let values: Vec<f64> = f64_column(batch, name)?.into_iter().map(|v| v.unwrap_or(f64::NAN)).collect();
            features.push(Feature { name: name.clone(), kind: FeatureKind::Numeric });
            columns.push(Column::Numeric(values));
        }
    }
    Dataset::new(features, columns, labels).map_err(data_err)
}

/// Subscribers whose line closed in `month` (status `closed` since a day of it).
pub async fn closed_in(root: &Path, month: Month) -> Result<HashSet<i64>> {
    use datafusion::prelude::{ParquetReadOptions, SessionContext, cast, col, lit};
    let t = cvm_domain::schema::table("subscribers")
        .ok_or_else(|| AnalyticsError::Churn("the schema has no subscribers table".into()))?;
    let path = crate::features::path_text(&cvm_warehouse::store::snapshot_path(root, t))?;
    let ctx = SessionContext::new();
    let day = cast(col("status_since"), DataType::Int32);
    let df = ctx
        .read_parquet(path, ParquetReadOptions::default())
        .await?
        .filter(
            col("status")
                .eq(lit("closed"))
                .and(day.clone().gt_eq(lit(month.first_day().days_since_epoch())))
                .and(day.lt_eq(lit(month.last_day().days_since_epoch()))),
        )?
        .select(vec![col("subscriber_id")])?;
    let mut ids = HashSet::new();
    for b in df.collect().await? {
        ids.extend(i64_column(&b, "subscriber_id")?.into_iter().flatten());
    }
    Ok(ids)
}

/// Rows as of `t` still on the network at its end, with their label (left in t + 1).
async fn labelled_rows(root: &Path, t: Month) -> Result<(RecordBatch, Vec<bool>)> {
    let features = compute_features(root, Window::new(t)).await?;
    let mut staying = Vec::with_capacity(features.batches.len());
    for batch in &features.batches {
        let left_now = batch
            .column_by_name("left_network")
            .and_then(|c| c.as_any().downcast_ref::<BooleanArray>())
            .ok_or_else(|| AnalyticsError::Churn("the features lack the left_network flag".into()))?;
        // Never null: status and status_since are required columns.
        staying.push(filter_record_batch(batch, &not(left_now)?)?);
    }
    let rows = concat_batches(&features.schema, &staying)?;
    let leaving = closed_in(root, t.plus(1)).await?;
    let labels =
        i64_column(&rows, "subscriber_id")?.into_iter().map(|id| id.is_some_and(|id| leaving.contains(&id))).collect();
    Ok((rows, labels))
}

/// The test month's rows as the model scored them, for comparing with another scorer (e.g.
/// the generator's planted probabilities).
#[derive(Debug, Clone)]
pub struct TestScores {
    /// Subscriber of each row.
    pub ids: Vec<i64>,
    /// The model's churn probability.
    pub probabilities: Vec<f64>,
    /// Whether the line left the network the month after.
    pub labels: Vec<bool>,
}

/// Trains on the as-of months `as_of - 1 - history ..= as_of - 2` and tests on `as_of - 1`
/// (labels: left the network in the month after each). `progress` hears each month.
pub async fn train_on_history(
    root: &Path,
    as_of: Month,
    history: usize,
    config: &TrainConfig,
    progress: &mut dyn FnMut(&str),
) -> Result<(WarehouseModel, TestScores)> {
    let test_month = as_of.plus(-1);
    let history = history.max(1) as i32;
    let mut train_batches = Vec::new();
    let mut train_labels = Vec::new();
    let mut train_months = Vec::new();
    for k in (1..=history).rev() {
        let t = test_month.plus(-k);
        progress(&format!("features as of {t}, label: left in {}", t.plus(1)));
        let (rows, labels) = labelled_rows(root, t).await?;
        train_batches.push(rows);
        train_labels.extend(labels);
        train_months.push(t.to_string());
    }
    let schema = train_batches
        .first()
        .map(RecordBatch::schema)
        .ok_or_else(|| AnalyticsError::Churn("no training months".into()))?;
    let train = concat_batches(&schema, &train_batches)?;
    drop(train_batches);
    if !train_labels.iter().any(|&l| l) {
        return Err(AnalyticsError::Churn(format!(
            "no line left the network in the months after {}: nothing to learn from",
            train_months.join(", ")
        )));
    }
    progress(&format!("training on {} rows", train.num_rows()));
    let ds = dataset(&train, None, Some(train_labels))?;
    let mut model = ChurnModel::train(&ds, config).map_err(|e| AnalyticsError::Churn(e.to_string()))?;
    model.training.files = train_months.iter().map(|m| format!("{} as of {m}", root.display())).collect();
    model.training.label = Some("left the network in the following month".into());

    progress(&format!("testing on features as of {test_month}, label: left in {as_of}"));
    let (test_rows, test_labels) = labelled_rows(root, test_month).await?;
    let test_ds = dataset(&test_rows, Some(&model.features), Some(test_labels.clone()))?;
    let predicted = model.predict(&test_ds).map_err(|e| AnalyticsError::Churn(e.to_string()))?;
    let test = Metrics::compute(&predicted.blend, &test_labels);
    let positives = test_labels.iter().filter(|&&l| l).count();
    let trained = WarehouseModel {
        label: "left the network in the following month".into(),
        train_months,
        test_month: test_month.to_string(),
        test_rows: test_labels.len(),
        test_positive_rate: positives as f64 / test_labels.len().max(1) as f64,
        test,
        model,
    };
    let ids = i64_column(&test_rows, "subscriber_id")?.into_iter().map(|v| v.unwrap_or_default()).collect();
    Ok((trained, TestScores { ids, probabilities: predicted.blend, labels: test_labels }))
}

/// Writes the model to `W/models/churn.json` (through a temporary file).
pub fn install(root: &Path, model: &WarehouseModel) -> Result<PathBuf> {
    let path = model_path(root);
    let mut text = serde_json::to_string_pretty(model)?;
    text.push('\n');
    cvm_warehouse::store::write_atomically(&path, text.as_bytes())?;
    Ok(path)
}

/// The installed model, if there is one.
pub fn installed(root: &Path) -> Result<Option<WarehouseModel>> {
    let path = model_path(root);
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok(Some(serde_json::from_str(&text)?)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(AnalyticsError::Io { path, source: e }),
    }
}

/// Scores every row of a run: subscriber_id, branch_id, probability, decile (1 = riskiest
/// tenth) and up to three reasons in words.
pub fn score(model: &WarehouseModel, features: &RecordBatch) -> Result<RecordBatch> {
    let ds = dataset(features, Some(&model.model.features), None)?;
    let scores = model.model.score(&ds).map_err(|e| AnalyticsError::Churn(e.to_string()))?;
    let ids: ArrayRef = Arc::new(Int64Array::from(i64_column(features, "subscriber_id")?));
    let branches: ArrayRef = Arc::new(StringArray::from(string_column(features, "branch_id")?));
    let probability: ArrayRef = Arc::new(Float64Array::from_iter_values(scores.iter().map(|s| s.probability)));
    let decile: ArrayRef = Arc::new(UInt8Array::from_iter_values(scores.iter().map(|s| s.decile)));
    let reason = |k: usize| -> ArrayRef {
        Arc::new(StringArray::from(scores.iter().map(|s| s.reasons.get(k).map(|r| r.text.clone())).collect::<Vec<_>>()))
    };
    let schema = Arc::new(Schema::new(vec![
        Field::new("subscriber_id", DataType::Int64, true),
        Field::new("branch_id", DataType::Utf8, true),
        Field::new("probability", DataType::Float64, false),
        Field::new("decile", DataType::UInt8, false),
        Field::new("reason_1", DataType::Utf8, true),
        Field::new("reason_2", DataType::Utf8, true),
        Field::new("reason_3", DataType::Utf8, true),
    ]));
    Ok(RecordBatch::try_new(schema, vec![ids, branches, probability, decile, reason(0), reason(1), reason(2)])?)
}
