//! Customer value (客户价值), the value pyramid (价值金字塔) with its Pareto curve, and the
//! lifecycle groups (生命周期) by tenure.

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::DataType;
use datafusion::logical_expr::Expr;
use datafusion::prelude::{DataFrame, SessionContext, cast, col, lit, when};
use rayon::slice::ParallelSliceMut;
use serde::{Deserialize, Serialize};

use crate::config::ValueModel;
use crate::expression;
use crate::frame::{bool_column, f64_column, utf8_column};
use crate::{AnalyticsError, Result};

/// Lifecycle groups by tenure: name, description, churn driver, marketing emphasis.
pub const LIFECYCLE_GROUPS: &[(&str, &str, &str, &str)] = &[
    ("under_6m", "tenure under 6 months", "front-line service quality", "win and settle: onboarding care"),
    ("6_12m", "tenure 6 to 12 months", "functional experience", "grow: upgrades and bundles"),
    ("over_12m", "tenure over 12 months", "sustained experience", "retain and reward loyalty"),
];

/// Adds `value` (yuan a month, 0 without usage), `value_tier` and `lifecycle_group` to the
/// features.
pub fn with_value_and_lifecycle(ctx: &SessionContext, features: DataFrame, model: &ValueModel) -> Result<DataFrame> {
    let schema = features.schema().clone();
    let term = |field: &str, text: &str| -> Result<Expr> {
        let (_, expr) = expression::to_expr(ctx, &schema, text)
            .map_err(|what| AnalyticsError::Config { origin: format!("value.{field}"), what })?;
        Ok(cast(expr, DataType::Float64))
    };
    let value = term("base", &model.base)? + lit(model.potential_weight) * term("potential", &model.potential)?
        - lit(model.cost_weight) * term("cost", &model.cost)?
        - lit(model.risk_weight) * term("risk", &model.risk)?;
    let value = datafusion::functions::expr_fn::coalesce(vec![value, lit(0.0)]);
    let df = features.with_column("value", value)?;

    let (last, higher) = model.tiers.split_last().ok_or_else(|| AnalyticsError::Config {
        origin: "value.tiers".into(),
        what: "at least one tier is needed".into(),
    })?;
    let tier = match higher.split_first() {
        None => lit(last.name.clone()),
        Some((first, rest)) => {
            let mut case = when(col("value").gt_eq(lit(first.min_value)), lit(first.name.clone()));
            for t in rest {
                case = case.when(col("value").gt_eq(lit(t.min_value)), lit(t.name.clone()));
            }
            case.otherwise(lit(last.name.clone()))?
        }
    };
    let lifecycle = when(col("tenure_months").lt(lit(6_i64)), lit(LIFECYCLE_GROUPS[0].0))
        .when(col("tenure_months").lt_eq(lit(12_i64)), lit(LIFECYCLE_GROUPS[1].0))
        .otherwise(lit(LIFECYCLE_GROUPS[2].0))?;
    Ok(df.with_column("value_tier", tier)?.with_column("lifecycle_group", lifecycle)?)
}

/// One tier of the pyramid as measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TierRow {
    /// Tier name.
    pub tier: String,
    /// Lowest value of the tier, yuan a month (null for the last tier: everyone else).
    pub min_value: Option<f64>,
    /// Subscribers in the tier.
    pub subscribers: u64,
    /// Their share of the population.
    pub subscriber_share: f64,
    /// Their monthly revenue, yuan.
    pub revenue: f64,
    /// Their share of revenue.
    pub revenue_share: f64,
    /// Average monthly ARPU, yuan (null when empty).
    pub arpu: Option<f64>,
    /// Service strategy.
    pub strategy: String,
    /// Service strategy, Chinese.
    pub strategy_zh: String,
}

/// A point of the Pareto curve: the top `subscriber_share` of subscribers by value bring
/// `revenue_share` of revenue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParetoPoint {
    /// Share of subscribers, highest value first.
    pub subscriber_share: f64,
    /// Share of revenue they bring.
    pub revenue_share: f64,
}

/// The value pyramid of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ValueReport {
    /// The value model used.
    pub model: ValueModel,
    /// Subscribers in the run.
    pub population: u64,
    /// Their monthly revenue, yuan.
    pub revenue: f64,
    /// Tiers, highest first.
    pub tiers: Vec<TierRow>,
    /// The Pareto curve at fixed subscriber shares.
    pub pareto: Vec<ParetoPoint>,
}

/// Subscriber shares at which the Pareto curve is reported.
pub const PARETO_SHARES: &[f64] = &[0.01, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0];

/// The pyramid and the lifecycle groups, added up range by range over features that carry
/// `value`, `value_tier` and `lifecycle_group`.
#[derive(Debug, Clone, Default)]
pub struct ValueTally {
    /// (subscribers, revenue) by value tier.
    tiers: Vec<(String, (u64, f64))>,
    /// (subscribers, revenue, left the network) by lifecycle group.
    lifecycle: Vec<(String, (u64, f64, u64))>,
    /// (value, revenue) of every subscriber, in id order, for the Pareto curve.
    values: Vec<(f64, f64)>,
}

impl ValueTally {
    /// A tally with room for `subscribers` rows.
    pub fn with_capacity(subscribers: usize) -> ValueTally {
        ValueTally { values: Vec::with_capacity(subscribers), ..ValueTally::default() }
    }

    /// Adds the subscribers of `batch`.
    pub fn add(&mut self, batch: &RecordBatch) -> Result<()> {
        let tier = utf8_column(batch, "value_tier")?;
        let group = utf8_column(batch, "lifecycle_group")?;
        let value = f64_column(batch, "value")?;
        let revenue = f64_column(batch, "arpu_3m_avg")?;
        let left = bool_column(batch, "left_network")?;
        for i in 0..batch.num_rows() {
            // Revenue as `segments::revenue_expr`: the 3-month average, 0 without usage.
            let rev = revenue[i].unwrap_or(0.0);
            let t = group_of(&mut self.tiers, tier.value(i));
            t.0 += 1;
            t.1 += rev;
            let g = group_of(&mut self.lifecycle, group.value(i));
            g.0 += 1;
            g.1 += rev;
            g.2 += u64::from(left[i].unwrap_or(false));
            self.values.push((value[i].unwrap_or(0.0), rev));
        }
        Ok(())
    }

    /// The value pyramid of `model`'s tiers.
    pub fn value_report(&mut self, model: &ValueModel) -> ValueReport {
        let population: u64 = self.tiers.iter().map(|(_, t)| t.0).sum();
        let revenue = sum_in_key_order(self.tiers.iter().map(|(k, t)| (k, t.1)));
        let last = model.tiers.len().saturating_sub(1);
        let tiers = model
            .tiers
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let (subscribers, rev) = totals_of(&self.tiers, &t.name);
                TierRow {
                    tier: t.name.clone(),
                    min_value: (i < last).then_some(t.min_value),
                    subscribers,
                    subscriber_share: share(subscribers as f64, population as f64),
                    revenue: rev,
                    revenue_share: share(rev, revenue),
                    arpu: (subscribers > 0).then(|| rev / subscribers as f64),
                    strategy: t.strategy.clone(),
                    strategy_zh: t.strategy_zh.clone(),
                }
            })
            .collect();
        // Highest value first; a stable sort keeps ties in id order, for a stable curve.
        self.values.par_sort_by(|a, b| b.0.total_cmp(&a.0));
        let revenues: Vec<f64> = self.values.iter().map(|v| v.1).collect();
        ValueReport { model: model.clone(), population, revenue, tiers, pareto: pareto(&revenues) }
    }

    /// The lifecycle groups.
    pub fn lifecycle_report(&self) -> Vec<LifecycleRow> {
        let population: u64 = self.lifecycle.iter().map(|(_, g)| g.0).sum();
        let revenue = sum_in_key_order(self.lifecycle.iter().map(|(k, g)| (k, g.1)));
        LIFECYCLE_GROUPS
            .iter()
            .map(|(name, description, driver, emphasis)| {
                let (subscribers, rev, left) = totals_of(&self.lifecycle, name);
                LifecycleRow {
                    group: (*name).into(),
                    description: (*description).into(),
                    subscribers,
                    subscriber_share: share(subscribers as f64, population as f64),
                    revenue: rev,
                    revenue_share: share(rev, revenue),
                    arpu: (subscribers > 0).then(|| rev / subscribers as f64),
                    left_network: left,
                    churn_rate: (subscribers > 0).then(|| left as f64 / subscribers as f64),
                    churn_driver: (*driver).into(),
                    emphasis: (*emphasis).into(),
                }
            })
            .collect()
    }
}

/// The totals of group `key`, made empty the first time (a String only then, not per row;
/// there are a handful of groups, so a list beats hashing).
fn group_of<'a, V: Default>(groups: &'a mut Vec<(String, V)>, key: &str) -> &'a mut V {
    let k = match groups.iter().position(|(g, _)| g == key) {
        Some(k) => k,
        None => {
            groups.push((key.to_owned(), V::default()));
            groups.len() - 1
        }
    };
    &mut groups[k].1
}

/// The totals of group `key`, zero when no subscriber fell in it.
fn totals_of<V: Default + Copy>(groups: &[(String, V)], key: &str) -> V {
    groups.iter().find(|(g, _)| g == key).map(|(_, v)| *v).unwrap_or_default()
}

/// Sum of group totals added in key order, so the same groups give the same float.
fn sum_in_key_order<'a>(totals: impl Iterator<Item = (&'a String, f64)>) -> f64 {
    let mut totals: Vec<(&String, f64)> = totals.collect();
    totals.sort_by(|a, b| a.0.cmp(b.0));
    totals.iter().map(|t| t.1).sum()
}

/// The Pareto curve of revenues listed highest value first.
pub fn pareto(revenues: &[f64]) -> Vec<ParetoPoint> {
    let total: f64 = revenues.iter().sum();
    let n = revenues.len();
    let mut points = Vec::with_capacity(PARETO_SHARES.len());
    let mut cumulative = 0.0;
    let mut taken = 0;
    for &s in PARETO_SHARES {
        let upto = ((s * n as f64).round() as usize).min(n);
        cumulative += revenues[taken..upto].iter().sum::<f64>();
        taken = upto;
        points.push(ParetoPoint { subscriber_share: s, revenue_share: share(cumulative, total) });
    }
    points
}

/// A lifecycle group as measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LifecycleRow {
    /// Group name.
    pub group: String,
    /// What the group is.
    pub description: String,
    /// Subscribers.
    pub subscribers: u64,
    /// Share of the population.
    pub subscriber_share: f64,
    /// Monthly revenue, yuan.
    pub revenue: f64,
    /// Share of revenue.
    pub revenue_share: f64,
    /// Average monthly ARPU, yuan.
    pub arpu: Option<f64>,
    /// Members who left the network in the as-of month.
    pub left_network: u64,
    /// `left_network / subscribers`.
    pub churn_rate: Option<f64>,
    /// What drives their churn (the brief).
    pub churn_driver: String,
    /// Where marketing puts its weight.
    pub emphasis: String,
}

/// `part / whole`, 0 when the whole is 0.
fn share(part: f64, whole: f64) -> f64 {
    if whole > 0.0 { part / whole } else { 0.0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pareto_of_a_hand_worked_list() {
        // 10 subscribers: one brings 50, one 20, eight 3.75 each: total 100.
        let mut r = vec![50.0, 20.0];
        r.extend([3.75; 8]);
        let p = pareto(&r);
        let at = |s: f64| p.iter().find(|x| (x.subscriber_share - s).abs() < 1e-12).unwrap().revenue_share;
        assert!((at(0.1) - 0.5).abs() < 1e-12);
        assert!((at(0.2) - 0.7).abs() < 1e-12);
        assert!((at(0.5) - (70.0 + 3.0 * 3.75) / 100.0).abs() < 1e-12);
        assert!((at(1.0) - 1.0).abs() < 1e-12);
    }
}
