//! The churn model on the warehouse's history, and scoring a run with it.
//!
//! Training rows are the feature query's rows as of several months t (subscribers still on
//! the network at the end of t), labelled by whether the line showed the chosen kind of
//! churn ([`ChurnKind`]) in t + 1. The split is by time: the model is fitted on the earlier
//! months and tested on the latest one, as it will be used: trained on the past, scoring a
//! month whose outcome is not known yet.
//!
//! # The labels
//!
//! Each is computed from the warehouse alone (an operator's own data), never from the
//! generator's truth. A row as of t has at most one kind:
//!
//! 1. **leave_network** (外部离网): the line closed in t + 1 (status `closed` since a day of
//!    t + 1).
//! 2. **internal_switch** (内部转网): not closed, and in t + 1 the line took a new number (a
//!    `number_change` event), or moved (a `plan_change` event) to a plan of the mass brand
//!    (神州行, the operator's cheapest) whose monthly fee is below the line's mean monthly
//!    revenue of t - 2 ..= t, unless that move is a revenue loss (3).
//! 3. **revenue_loss** (收入流失): not closed, no new number, and in t + 1 the line moved to a
//!    plan whose monthly fee is below its mean monthly revenue of t - 2 ..= t, and its
//!    revenue of t + 1 is at most 60% ([`REVENUE_LOSS_SHARE`]) of that mean.
//!
//! Why these choices: the warehouse keeps only each line's current plan, not the plan it
//! held each month, so the brand a line moves *from* is unknown; the mean revenue of the
//! window stands in for "what the line paid before", and a move to a cheaper mass plan is
//! a switch to the cheaper brand. Where such a move also cuts the bill to 60% or less, it
//! counts as revenue loss: a mass-brand line that downgrades inside its brand looks exactly
//! like that, and the lost revenue is what the operator acts on. A revenue loss needs a
//! move to a cheaper plan, not only a thin month: a lower plan fee lasts, while a month of
//! low use (a stop, a holiday) is mostly back the month after, and the rule warnings
//! (`arpu_decline`, `usage_drop`) already flag those.
//!
//! For the two kinds that are plan changes, the features that describe the line's current
//! plan ([`PLAN_SNAPSHOT_FEATURES`]) are left out of the model: the subscribers table is a
//! snapshot of the last import, so in the training months a churner's row already shows the
//! plan it moved to — a leak from the future that a model scoring this month never has
//! (with those features, on 120k generated subscribers, both models tested at AUC 0.98,
//! far above the 0.63-0.68 of the generator's own planted probability).

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
use crate::frame::{bool_column, f64_column, i64_column, string_column};
use crate::{AnalyticsError, Result};

/// Columns of the features that are never model inputs: the key, and the as-of month's own
/// outcome.
pub const NOT_FEATURES: &[&str] = &["subscriber_id", "left_network"];

/// Feature columns read from the current plan of the subscribers snapshot, left out of the
/// models of the kinds whose label is itself a plan change (see the module doc).
pub const PLAN_SNAPSHOT_FEATURES: &[&str] = &["brand", "plan_id", "plan_vip", "voice_util", "data_util", "sms_util"];

/// A revenue loss is a bill of t + 1 at most this share (numerator, denominator) of the mean
/// bill of t - 2 ..= t: 60%, a cut of 40% or more.
pub const REVENUE_LOSS_SHARE: (i64, i64) = (6, 10);

/// The brand a move to which is an internal switch: the operator's cheapest (神州行).
pub const CHEAPEST_BRAND: &str = "mass";

/// The three kinds of churn of the product brief; a model learns one of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChurnKind {
    /// The line closed (外部离网).
    #[default]
    LeaveNetwork,
    /// A new number, or a move to a cheaper plan of the cheapest brand (内部转网).
    InternalSwitch,
    /// A move to a cheaper plan with the bill cut to 60% or less (收入流失).
    RevenueLoss,
}

impl ChurnKind {
    /// Every kind, in the order of the brief.
    pub const ALL: [ChurnKind; 3] = [ChurnKind::LeaveNetwork, ChurnKind::InternalSwitch, ChurnKind::RevenueLoss];

    /// The kind's name, as the warnings and the truth files write it.
    pub fn as_str(self) -> &'static str {
        match self {
            ChurnKind::LeaveNetwork => "leave_network",
            ChurnKind::InternalSwitch => "internal_switch",
            ChurnKind::RevenueLoss => "revenue_loss",
        }
    }

    /// The label in words, as the model file and the terminal show it.
    pub fn label(self) -> &'static str {
        match self {
            ChurnKind::LeaveNetwork => "left the network in the following month",
            ChurnKind::InternalSwitch => {
                "switched inside the operator in the following month (new number, or a cheaper plan of the mass brand)"
            }
            ChurnKind::RevenueLoss => {
                "revenue loss in the following month (a cheaper plan and the bill at most 60% of the 3-month mean)"
            }
        }
    }

    /// Feature columns this kind's model must not read (see the module doc).
    pub fn excluded_features(self) -> &'static [&'static str] {
        match self {
            ChurnKind::LeaveNetwork => &[],
            ChurnKind::InternalSwitch | ChurnKind::RevenueLoss => PLAN_SNAPSHOT_FEATURES,
        }
    }
}

impl std::fmt::Display for ChurnKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for ChurnKind {
    type Err = AnalyticsError;

    fn from_str(s: &str) -> Result<Self> {
        ChurnKind::ALL.into_iter().find(|k| k.as_str() == s).ok_or_else(|| {
            AnalyticsError::Churn(format!(
                "unknown churn kind `{s}`: one of {}",
                ChurnKind::ALL.map(ChurnKind::as_str).join(", ")
            ))
        })
    }
}

/// Level standing for a missing categorical value (as the CSV reader of cvm-churn names it).
const BLANK: &str = "(blank)";

/// A churn model trained on the warehouse, with where it came from and how it tested.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WarehouseModel {
    /// What the label is, in words.
    pub label: String,
    /// The kind of churn the label is (files written before kinds existed learnt leaving).
    #[serde(default)]
    pub kind: ChurnKind,
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
    build_dataset(batch, schema, labels, &[])
}

/// The dataset of a new model of `kind`: every feature column but those `kind` leaves out.
pub fn training_dataset(batch: &RecordBatch, kind: ChurnKind, labels: Vec<bool>) -> Result<Dataset> {
    build_dataset(batch, None, Some(labels), kind.excluded_features())
}

fn build_dataset(
    batch: &RecordBatch,
    schema: Option<&[Feature]>,
    labels: Option<Vec<bool>>,
    excluded: &[&str],
) -> Result<Dataset> {
    let data_err = |e: cvm_churn::Error| AnalyticsError::Churn(e.to_string());
    let names: Vec<String> = match schema {
        Some(s) => s.iter().map(|f| f.name.clone()).collect(),
        None => batch
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .filter(|n| !NOT_FEATURES.contains(&n.as_str()) && !excluded.contains(&n.as_str()))
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

/// Lines that moved plan or number in `t + 1`, by kind: internal switches and revenue
/// losses as the module doc defines them (closures not yet taken out).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlanMoves {
    /// Internal switches (内部转网).
    pub switches: HashSet<i64>,
    /// Revenue losses (收入流失).
    pub losses: HashSet<i64>,
}

/// Per line with a plan or number change in t + 1: whether it took a new number, whether it
/// moved to a plan cheaper than its mean bill of the window (of the cheapest brand, or of
/// any), and whether the bill of t + 1 fell to the revenue-loss share of that mean. Money
/// stays decimal, so the comparisons are exact: "fee < sum / n" is "fee * n < sum".
const PLAN_MOVES_SQL: &str = r#"
WITH window_bills AS (
  SELECT subscriber_id, SUM(revenue) AS bill_sum, COUNT(*) AS bills FROM usage_window GROUP BY subscriber_id
),
moves AS (
  SELECT e.subscriber_id,
    MAX(CASE WHEN e.event_type = 'number_change' THEN 1 ELSE 0 END) AS new_number,
    MIN(p.monthly_fee) AS cheapest_fee,
    MIN(CASE WHEN p.brand = '{brand}' THEN p.monthly_fee END) AS cheapest_brand_fee
  FROM events_next e
  LEFT JOIN plans p ON e.event_type = 'plan_change' AND p.plan_id = e.detail
  WHERE e.event_type IN ('plan_change', 'number_change')
  GROUP BY e.subscriber_id
)
SELECT m.subscriber_id,
  m.new_number = 1 AS new_number,
  COALESCE(m.cheapest_fee * w.bills < w.bill_sum, false) AS cheaper_plan,
  COALESCE(m.cheapest_brand_fee * w.bills < w.bill_sum, false) AS cheaper_brand_plan,
  COALESCE(n.revenue * w.bills * {den} <= w.bill_sum * {num}, false) AS bill_cut
FROM moves m
LEFT JOIN window_bills w ON w.subscriber_id = m.subscriber_id
LEFT JOIN usage_next n ON n.subscriber_id = m.subscriber_id
"#;

/// The internal switches and revenue losses of `t + 1` among lines seen in `t`, from the
/// events of t + 1, the plan catalog and the bills of t - 2 ..= t + 1.
pub async fn plan_moves(root: &Path, t: Month) -> Result<PlanMoves> {
    use crate::features::{register_as, table};
    use cvm_warehouse::store::{partition_path, table_files};
    let (usage, events, plans) = (table("usage")?, table("events")?, table("plans")?);
    let ctx = datafusion::prelude::SessionContext::new();
    let month = |table, k: i32| partition_path(root, table, &t.plus(k).to_string());
    let window: Vec<PathBuf> = (-2..=0).map(|k| month(usage, k)).collect();
    register_as(&ctx, "usage_window", usage, &window, None).await?;
    register_as(&ctx, "usage_next", usage, &[month(usage, 1)], None).await?;
    register_as(&ctx, "events_next", events, &[month(events, 1)], None).await?;
    register_as(&ctx, "plans", plans, &table_files(root, plans), None).await?;
    let (num, den) = REVENUE_LOSS_SHARE;
    let sql = PLAN_MOVES_SQL
        .replace("{brand}", CHEAPEST_BRAND)
        .replace("{num}", &num.to_string())
        .replace("{den}", &den.to_string());
    let mut moves = PlanMoves::default();
    for b in ctx.sql(&sql).await?.collect().await? {
        let ids = i64_column(&b, "subscriber_id")?;
        let [new_number, cheaper, cheaper_brand, cut] =
            ["new_number", "cheaper_plan", "cheaper_brand_plan", "bill_cut"].map(|name| bool_column(&b, name));
        let (new_number, cheaper, cheaper_brand, cut) = (new_number?, cheaper?, cheaper_brand?, cut?);
        for (i, id) in ids.into_iter().enumerate() {
            let Some(id) = id else { continue };
            let on = |flags: &[Option<bool>]| flags[i] == Some(true);
            let loss = !on(&new_number) && on(&cheaper) && on(&cut);
            if loss {
                moves.losses.insert(id);
            } else if on(&new_number) || on(&cheaper_brand) {
                moves.switches.insert(id);
            }
        }
    }
    Ok(moves)
}

/// The lines of month `t` that show churn of `kind` in `t + 1` (see the module doc): a
/// line that closed is neither a switch nor a loss.
pub async fn churned_after(root: &Path, t: Month, kind: ChurnKind) -> Result<HashSet<i64>> {
    let closed = closed_in(root, t.plus(1)).await?;
    if kind == ChurnKind::LeaveNetwork {
        return Ok(closed);
    }
    let moves = plan_moves(root, t).await?;
    let set = if kind == ChurnKind::InternalSwitch { moves.switches } else { moves.losses };
    Ok(set.into_iter().filter(|id| !closed.contains(id)).collect())
}

/// Every line that churned in `month`, with its kind (one per line, by the module doc's
/// order), sorted by subscriber: the labels of the rows as of the month before.
pub async fn churn_in(root: &Path, month: Month) -> Result<Vec<(i64, ChurnKind)>> {
    let closed = closed_in(root, month).await?;
    let moves = plan_moves(root, month.plus(-1)).await?;
    let mut out: Vec<(i64, ChurnKind)> = closed.iter().map(|&id| (id, ChurnKind::LeaveNetwork)).collect();
    let others = [(moves.switches, ChurnKind::InternalSwitch), (moves.losses, ChurnKind::RevenueLoss)];
    for (ids, kind) in others {
        out.extend(ids.into_iter().filter(|id| !closed.contains(id)).map(|id| (id, kind)));
    }
    out.sort_unstable();
    Ok(out)
}

/// Rows as of `t` still on the network at its end, with their label (churn of `kind` in
/// t + 1).
async fn labelled_rows(root: &Path, t: Month, kind: ChurnKind) -> Result<(RecordBatch, Vec<bool>)> {
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
    let churned = churned_after(root, t, kind).await?;
    let labels =
        i64_column(&rows, "subscriber_id")?.into_iter().map(|id| id.is_some_and(|id| churned.contains(&id))).collect();
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
    /// Whether the line showed the model's kind of churn the month after.
    pub labels: Vec<bool>,
}

/// Trains on the as-of months `as_of - 1 - history ..= as_of - 2` and tests on `as_of - 1`
/// (labels: churn of `kind` in the month after each). `progress` hears each month.
pub async fn train_on_history(
    root: &Path,
    as_of: Month,
    history: usize,
    kind: ChurnKind,
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
        progress(&format!("features as of {t}, label: {kind} in {}", t.plus(1)));
        let (rows, labels) = labelled_rows(root, t, kind).await?;
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
            "no line showed {kind} in the months after {}: nothing to learn from",
            train_months.join(", ")
        )));
    }
    progress(&format!("training on {} rows", train.num_rows()));
    let ds = training_dataset(&train, kind, train_labels)?;
    let mut model = ChurnModel::train(&ds, config).map_err(|e| AnalyticsError::Churn(e.to_string()))?;
    model.training.files = train_months.iter().map(|m| format!("{} as of {m}", root.display())).collect();
    model.training.label = Some(kind.label().into());

    progress(&format!("testing on features as of {test_month}, label: {kind} in {as_of}"));
    let (test_rows, test_labels) = labelled_rows(root, test_month, kind).await?;
    let test_ds = dataset(&test_rows, Some(&model.features), Some(test_labels.clone()))?;
    let predicted = model.predict(&test_ds).map_err(|e| AnalyticsError::Churn(e.to_string()))?;
    let test = Metrics::compute(&predicted.blend, &test_labels);
    let positives = test_labels.iter().filter(|&&l| l).count();
    let trained = WarehouseModel {
        label: kind.label().into(),
        kind,
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

/// The feature columns [`score`] reads for `model`.
pub fn columns_read(model: &WarehouseModel) -> Vec<String> {
    let mut names: Vec<String> = model.model.features.iter().map(|f| f.name.clone()).collect();
    names.extend(["subscriber_id", "branch_id"].map(String::from));
    names
}

/// Scores every row of a run: subscriber_id, branch_id, probability, decile (1 = riskiest
/// tenth), up to three reasons in words, and the kind of churn the probability is of.
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
        Field::new("churn_kind", DataType::Utf8, false),
    ]));
    // The kind on every row, so a run's scores say what they predict even after another
    // model is installed.
    let kind: ArrayRef = Arc::new(StringArray::from_iter_values(std::iter::repeat_n(model.kind.as_str(), ds.rows())));
    Ok(RecordBatch::try_new(schema, vec![ids, branches, probability, decile, reason(0), reason(1), reason(2), kind])?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_are_named_as_the_warnings_name_them_and_parse_back() {
        let names: Vec<&str> = ChurnKind::ALL.iter().map(|k| k.as_str()).collect();
        assert_eq!(names, crate::warnings::KINDS);
        for k in ChurnKind::ALL {
            assert_eq!(k.as_str().parse::<ChurnKind>().ok(), Some(k));
            assert_eq!(serde_json::to_string(&k).ok(), Some(format!("\"{k}\"")));
        }
        let err = "moved".parse::<ChurnKind>().err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err.contains("leave_network, internal_switch, revenue_loss"), "{err}");
    }

    #[test]
    fn only_the_plan_change_kinds_leave_out_the_snapshot_plan() {
        assert!(ChurnKind::LeaveNetwork.excluded_features().is_empty());
        for k in [ChurnKind::InternalSwitch, ChurnKind::RevenueLoss] {
            assert!(k.excluded_features().contains(&"plan_id") && k.excluded_features().contains(&"brand"));
        }
    }
}
