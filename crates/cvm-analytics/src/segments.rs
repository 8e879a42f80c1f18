//! Segments (客户细分): analysts' predicates over the feature columns, the built-in schemes,
//! their members, and the validity report (measurable, accessible, substantial,
//! differentiable).

use datafusion::arrow::array::{Array, AsArray, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::common::DFSchema;
use datafusion::logical_expr::{Expr, ExprSchemable};
use datafusion::prelude::{DataFrame, SessionContext, cast, col, lit};
use serde::{Deserialize, Serialize};
use std::ops::Not;
use std::sync::Arc;

use crate::config::{RunConfig, ValidityThresholds};
use crate::expression::{self, CheckedExpr};
use crate::frame::{bool_array, f64_array, i64_array};
use crate::{AnalyticsError, Result};

/// The built-in schemes (China Mobile brands, SK Telecom age groups, lifecycle groups).
pub const BUILTIN_SEGMENTS: &str = include_str!("builtin_segments.toml");

/// Behavioural features whose profile tells segments apart (before campaign responses).
pub const PROFILE_FEATURES: &[&str] =
    &["arpu_3m_avg", "mou_3m_avg", "dou_3m_avg", "sms_3m_avg", "days_active_avg", "tenure_months"];

/// A segments file: `[[segment]]` tables.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct SegmentFile {
    /// The segments, in file order.
    #[serde(rename = "segment", default)]
    pub segments: Vec<SegmentDef>,
}

/// One segment as an analyst defines it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SegmentDef {
    /// Name: 1-64 of `a-z 0-9 _`.
    pub name: String,
    /// Scheme it belongs to (`custom` for an analyst's own).
    #[serde(default = "custom")]
    pub scheme: String,
    /// What the segment is, for people.
    #[serde(default)]
    pub description: String,
    /// The predicate, in SQL WHERE syntax over the feature columns.
    #[serde(rename = "where")]
    pub predicate: String,
}

fn custom() -> String {
    "custom".into()
}

impl SegmentFile {
    /// Reads a segments file from TOML text; `origin` names the file in errors.
    pub fn from_toml(text: &str, origin: &str) -> Result<SegmentFile> {
        toml::from_str(text).map_err(|e| AnalyticsError::Config { origin: origin.into(), what: e.to_string() })
    }
}

/// Every segment of a run: the built-in schemes, one per value tier, then the analyst's.
pub fn all_segments(config: &RunConfig, analyst: &SegmentFile) -> Result<Vec<SegmentDef>> {
    let mut all = SegmentFile::from_toml(BUILTIN_SEGMENTS, "built-in segments")?.segments;
    for tier in &config.value.tiers {
        all.push(SegmentDef {
            name: format!("value_{}", tier.name),
            scheme: "value_tier".into(),
            description: format!("Value tier `{}`: {}", tier.name, tier.strategy),
            // Tier names are checked to be a-z, 0-9 and _ (config.rs): safe inside quotes.
            predicate: format!("value_tier = '{}'", tier.name),
        });
    }
    all.extend(analyst.segments.iter().cloned());
    Ok(all)
}

/// A segment whose predicate passed the checker and typed as a condition.
#[derive(Debug, Clone)]
pub struct CheckedSegment {
    /// The definition.
    pub def: SegmentDef,
    /// The checked predicate.
    pub predicate: CheckedExpr,
    /// The predicate as a DataFusion expression over the features.
    pub expr: Expr,
}

/// Checks names and predicates of `defs` against the feature table's `schema`.
pub fn check_segments(ctx: &SessionContext, schema: &DFSchema, defs: &[SegmentDef]) -> Result<Vec<CheckedSegment>> {
    let mut checked = Vec::with_capacity(defs.len());
    for (i, def) in defs.iter().enumerate() {
        let refuse = |what: String| AnalyticsError::Segment { name: def.name.clone(), what };
        if !crate::config::is_plain_name(&def.name, 64) {
            return Err(refuse("a segment name is 1-64 of a-z, 0-9 and _".into()));
        }
        if defs[..i].iter().any(|d| d.name == def.name) {
            return Err(refuse("the name is used twice (built-in segments count too)".into()));
        }
        let (predicate, expr) =
            expression::to_expr(ctx, schema, &def.predicate).map_err(|e| refuse(format!("where: {e}")))?;
        let kind = expr.get_type(schema).map_err(|e| refuse(format!("where: {e}")))?;
        if kind != DataType::Boolean {
            return Err(refuse(format!("where: not a yes/no condition (it gives {kind})")));
        }
        checked.push(CheckedSegment { def: def.clone(), predicate, expr });
    }
    Ok(checked)
}

/// A segment's measures, as the validity report shows them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SegmentValidity {
    /// Segment name.
    pub name: String,
    /// Scheme.
    pub scheme: String,
    /// Description.
    pub description: String,
    /// The predicate.
    #[serde(rename = "where")]
    pub predicate: String,
    /// Members.
    pub subscribers: u64,
    /// Members / population.
    pub subscriber_share: f64,
    /// Monthly revenue of the members (sum of 3-month average ARPU), yuan.
    pub revenue: f64,
    /// Revenue / population revenue.
    pub revenue_share: f64,
    /// Average monthly ARPU of the members, yuan (null when empty).
    pub arpu: Option<f64>,
    /// Share of members reachable through a consented channel (SMS, call or app push) and
    /// not on the do-not-disturb list.
    pub reachable_share: Option<f64>,
    /// Distance of the members' behaviour from the population's: root mean square of the
    /// standardised differences of the means of [`PROFILE_FEATURES`].
    pub profile_distance: Option<f64>,
    /// Size and revenue could be computed (the segment has members).
    pub measurable: bool,
    /// `reachable_share` reaches the threshold.
    pub accessible: bool,
    /// `revenue_share` reaches the threshold.
    pub substantial: bool,
    /// Differs from the population (profile distance, until campaign responses exist).
    pub differentiable: bool,
    /// Churn in the as-of month among the members (left the network), where measurable.
    pub churn_rate: Option<f64>,
}

/// The validity report of a run's segments.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SegmentReport {
    /// Subscribers in the run.
    pub population: u64,
    /// Their monthly revenue, yuan.
    pub population_revenue: f64,
    /// The thresholds used.
    pub thresholds: ValidityThresholds,
    /// How differentiable was judged.
    pub differentiable_basis: String,
    /// One entry per segment, in definition order.
    pub segments: Vec<SegmentValidity>,
}

/// Monthly revenue of a subscriber: 3-month average ARPU, 0 without usage.
pub fn revenue_expr() -> Expr {
    datafusion::functions::expr_fn::coalesce(vec![col("arpu_3m_avg"), lit(0.0)])
}

/// Reachable for marketing: a consented channel and not do-not-disturb.
fn reachable_expr() -> Expr {
    col("do_not_disturb").not().and(col("consent_sms").or(col("consent_call")).or(col("consent_app_push")))
}

/// Count, sum and sum of squares of the non-null values of a measure.
#[derive(Debug, Clone, Copy, Default)]
struct Moments {
    n: u64,
    sum: f64,
    squares: f64,
}

impl Moments {
    fn add(&mut self, v: Option<f64>) {
        if let Some(v) = v {
            self.n += 1;
            self.sum += v;
            self.squares += v * v;
        }
    }

    fn mean(&self) -> Option<f64> {
        (self.n > 0).then(|| self.sum / self.n as f64)
    }

    /// Population standard deviation.
    fn sd(&self) -> Option<f64> {
        let mean = self.mean()?;
        Some((self.squares / self.n as f64 - mean * mean).max(0.0).sqrt())
    }
}

/// What the validity report adds up for the population or one segment.
#[derive(Debug, Clone, Default)]
struct GroupTally {
    n: u64,
    revenue: f64,
    reachable: u64,
    churned: u64,
    profile: [Moments; PROFILE_FEATURES.len()],
}

/// The columns of one batch of [`evaluate`]'s rows that a [`GroupTally`] adds up.
struct Measures {
    revenue: Float64Array,
    reachable: BooleanArray,
    left: BooleanArray,
    /// [`PROFILE_FEATURES`], in order.
    profile: Vec<Float64Array>,
}

impl GroupTally {
    /// Adds rows `rows` (in order) of `m`.
    fn add(&mut self, m: &Measures, rows: impl Iterator<Item = usize>) {
        let value = |a: &Float64Array, r: usize| a.is_valid(r).then(|| a.value(r));
        let flag = |a: &BooleanArray, r: usize| a.is_valid(r) && a.value(r);
        for r in rows {
            self.n += 1;
            self.revenue += value(&m.revenue, r).unwrap_or(0.0);
            self.reachable += u64::from(flag(&m.reachable, r));
            self.churned += u64::from(flag(&m.left, r));
            for (moments, column) in self.profile.iter_mut().zip(&m.profile) {
                moments.add(value(column, r));
            }
        }
    }
}

/// Columns of segment_members.parquet.
pub fn members_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("segment", DataType::Utf8, false),
        Field::new("subscriber_id", DataType::Int64, false),
    ]))
}

/// The segments' members and validity measures, added up range by range of a run.
#[derive(Debug, Clone)]
pub struct SegmentTally {
    population: GroupTally,
    segments: Vec<GroupTally>,
}

/// Name of the column holding segment `i`'s membership flags in [`evaluate`]'s rows.
fn member(i: usize) -> String {
    format!("member_{i}")
}

/// What the validity tally reads of one range's `features`: revenue, reachability, churn,
/// the profile features and each segment's membership flag. One projection evaluates every
/// predicate once; a null predicate (a missing feature) counts as not a member, as in a WHERE.
pub async fn evaluate(features: &DataFrame, segments: &[CheckedSegment]) -> Result<Vec<RecordBatch>> {
    Ok(features.clone().select(evaluated(segments))?.collect().await?)
}

/// What [`evaluate`] computes for each subscriber.
fn evaluated(segments: &[CheckedSegment]) -> Vec<Expr> {
    let mut inputs = vec![
        col("subscriber_id"),
        revenue_expr().alias("revenue"),
        reachable_expr().alias("reachable"),
        col("left_network"),
    ];
    inputs.extend(PROFILE_FEATURES.iter().map(|f| cast(col(*f), DataType::Float64).alias(*f)));
    inputs.extend(segments.iter().enumerate().map(|(i, seg)| seg.expr.clone().alias(member(i))));
    inputs
}

/// The feature columns [`evaluate`] reads for `segments` (a column may come more than once).
pub fn columns_read(segments: &[CheckedSegment]) -> Vec<String> {
    evaluated(segments).iter().flat_map(|e| e.column_refs().into_iter().map(|c| c.name.clone())).collect()
}

impl SegmentTally {
    /// An empty tally for `segments` segments.
    pub fn new(segments: usize) -> SegmentTally {
        SegmentTally { population: GroupTally::default(), segments: vec![GroupTally::default(); segments] }
    }

    /// Adds the subscribers of one range, as [`evaluate`] found them; returns their
    /// memberships as (segment, subscriber_id) rows sorted by segment order then subscriber.
    /// Ranges are added in order, so the sums do not depend on how ranges were computed.
    pub fn add(&mut self, batches: &[RecordBatch], segments: &[CheckedSegment]) -> Result<RecordBatch> {
        let mut rows: Vec<Vec<i64>> = vec![Vec::new(); segments.len()];
        for b in batches {
            let ids = i64_array(b, "subscriber_id")?;
            let measures = Measures {
                revenue: f64_array(b, "revenue")?,
                reachable: bool_array(b, "reachable")?,
                left: bool_array(b, "left_network")?,
                profile: PROFILE_FEATURES.iter().map(|f| f64_array(b, f)).collect::<Result<Vec<_>>>()?,
            };
            // Group by group, each over its rows in order: the sums are those of a row by row
            // pass, and a segment's members are found from its flags' set bits.
            self.population.add(&measures, 0..b.num_rows());
            for (i, (segment, tally)) in segments.iter().zip(&mut self.segments).enumerate() {
                let flags = b.column_by_name(&member(i)).map(|c| c.as_boolean()).ok_or_else(|| {
                    AnalyticsError::Segment { name: segment.def.name.clone(), what: "no member flags".into() }
                })?;
                // A null flag (a missing feature) is not a member, as in a WHERE.
                let members: Vec<usize> = flags.values().set_indices().filter(|&r| flags.is_valid(r)).collect();
                tally.add(&measures, members.iter().copied());
                rows[i].extend(members.iter().filter(|&&r| ids.is_valid(r)).map(|&r| ids.value(r)));
            }
        }
        let names: Vec<&str> = rows
            .iter()
            .enumerate()
            .flat_map(|(i, ids)| ids.iter().map(move |_| segments[i].def.name.as_str()))
            .collect();
        let names = StringArray::from(names);
        let ids = Int64Array::from(rows.concat());
        Ok(RecordBatch::try_new(members_schema(), vec![Arc::new(names), Arc::new(ids)])?)
    }

    /// The validity report of `segments` (in the order the tally was made for).
    pub fn report(&self, segments: &[CheckedSegment], thresholds: &ValidityThresholds) -> SegmentReport {
        let pop = &self.population;
        let report = segments
            .iter()
            .zip(&self.segments)
            .map(|(seg, g)| {
                let n = g.n;
                // Root mean square of standardised mean differences over the features both have.
                let squares: Vec<f64> = pop
                    .profile
                    .iter()
                    .zip(&g.profile)
                    .filter_map(|(p, m)| {
                        let (pm, sd, m) = (p.mean()?, p.sd()?, m.mean()?);
                        (sd > 0.0).then(|| ((m - pm) / sd).powi(2))
                    })
                    .collect();
                let profile_distance =
                    (!squares.is_empty()).then(|| (squares.iter().sum::<f64>() / squares.len() as f64).sqrt());
                let revenue_share = if pop.revenue > 0.0 { g.revenue / pop.revenue } else { 0.0 };
                let reachable_share = (n > 0).then(|| g.reachable as f64 / n as f64);
                SegmentValidity {
                    name: seg.def.name.clone(),
                    scheme: seg.def.scheme.clone(),
                    description: seg.def.description.clone(),
                    predicate: seg.def.predicate.clone(),
                    subscribers: n,
                    subscriber_share: if pop.n > 0 { n as f64 / pop.n as f64 } else { 0.0 },
                    revenue: g.revenue,
                    revenue_share,
                    arpu: (n > 0).then(|| g.revenue / n as f64),
                    reachable_share,
                    profile_distance,
                    measurable: n > 0,
                    accessible: reachable_share.is_some_and(|s| s >= thresholds.accessible_share),
                    substantial: revenue_share >= thresholds.substantial_revenue_share,
                    differentiable: profile_distance.is_some_and(|d| d >= thresholds.differentiable_distance),
                    churn_rate: (n > 0).then(|| g.churned as f64 / n as f64),
                }
            })
            .collect();
        SegmentReport {
            population: pop.n,
            population_revenue: pop.revenue,
            thresholds: thresholds.clone(),
            differentiable_basis: "profile distance from the population (no campaign responses in the warehouse yet)"
                .into(),
            segments: report,
        }
    }
}

/// The validity report as Markdown, for `validity.md`.
pub fn report_markdown(report: &SegmentReport, as_of: &str) -> String {
    let mut md = format!(
        "# Segment validity, run {as_of}\n\nPopulation: {} subscribers, monthly revenue {:.2} yuan.\n\
         Thresholds: substantial when revenue share >= {:.1}%; accessible when >= {:.0}% reachable by a consented \
         channel; differentiable when {}, distance >= {}.\n\n\
         | segment | scheme | subscribers | share | revenue share | ARPU | reachable | distance | churn | measurable | accessible | substantial | differentiable |\n\
         |---|---|---|---|---|---|---|---|---|---|---|---|---|\n",
        report.population,
        report.population_revenue,
        report.thresholds.substantial_revenue_share * 100.0,
        report.thresholds.accessible_share * 100.0,
        report.differentiable_basis,
        report.thresholds.differentiable_distance,
    );
    let pct = |x: Option<f64>| x.map(|v| format!("{:.1}%", v * 100.0)).unwrap_or_else(|| "-".into());
    let num = |x: Option<f64>| x.map(|v| format!("{v:.2}")).unwrap_or_else(|| "-".into());
    let yes = |b: bool| if b { "yes" } else { "no" };
    for s in &report.segments {
        md.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
            s.name,
            s.scheme,
            s.subscribers,
            pct(Some(s.subscriber_share)),
            pct(Some(s.revenue_share)),
            num(s.arpu),
            pct(s.reachable_share),
            num(s.profile_distance),
            pct(s.churn_rate),
            yes(s.measurable),
            yes(s.accessible),
            yes(s.substantial),
            yes(s.differentiable),
        ));
    }
    md
}
