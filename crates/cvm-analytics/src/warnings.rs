//! Rule warnings (流失预警规则): each rule reads the run's features and flags subscribers
//! showing one sign of churn, typed by the kind of churn it foretells (leaving the network,
//! switching inside the operator, revenue loss), with a severity and the evidence in words.

use std::collections::BTreeMap;
use std::sync::Arc;

use datafusion::arrow::array::{Int64Array, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::logical_expr::Expr;
use datafusion::prelude::{DataFrame, col, lit};
use serde::{Deserialize, Serialize};

use crate::Result;
use crate::frame::{f64_column, i64_column, string_column};

/// Thresholds of the rules (`[warnings]` of the run configuration).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WarningRules {
    /// A prepaid dual stop (双停) of at least this many days.
    pub dual_stop_days: i64,
    /// A single stop (单停) of at least this many days.
    pub single_stop_days: i64,
    /// Usage drop: last month's minutes or data at most this share of the months before.
    pub usage_drop_ratio: f64,
    /// Usage surge: last month's minutes or data at least this multiple of the months before.
    pub usage_surge_ratio: f64,
    /// ARPU decline: last month's ARPU at most this share of the 3-month average, trend falling.
    pub arpu_decline_ratio: f64,
    /// Complaints in the window.
    pub complaints: i64,
}

impl Default for WarningRules {
    fn default() -> WarningRules {
        WarningRules {
            dual_stop_days: 7,
            single_stop_days: 3,
            usage_drop_ratio: 0.5,
            usage_surge_ratio: 3.0,
            arpu_decline_ratio: 0.7,
            complaints: 2,
        }
    }
}

/// The three kinds of churn of the brief.
pub const KINDS: &[&str] = &["leave_network", "internal_switch", "revenue_loss"];

/// One rule: name, kind of churn, severity, condition over the features, evidence.
struct Rule {
    name: &'static str,
    kind: &'static str,
    severity: &'static str,
    when: Expr,
    /// Feature columns the evidence quotes.
    evidence: &'static [&'static str],
    /// Evidence text from the quoted values.
    words: fn(&[Option<f64>]) -> String,
}

fn num(v: Option<f64>) -> String {
    v.map_or_else(|| "?".into(), |x| if x.fract() == 0.0 { format!("{x:.0}") } else { format!("{x:.2}") })
}

fn pct(v: Option<f64>) -> String {
    v.map_or_else(|| "?".into(), |x| format!("{:.0}%", x * 100.0))
}

fn rules(r: &WarningRules) -> Vec<Rule> {
    let ratio_or = |a: &str, b: &str, f: fn(Expr, Expr) -> Expr, t: f64| f(col(a), lit(t)).or(f(col(b), lit(t)));
    vec![
        Rule {
            name: "dual_stop",
            kind: "leave_network",
            severity: "high",
            when: col("payment_type").eq(lit("prepaid")).and(col("dual_stop_run_days").gt_eq(lit(r.dual_stop_days))),
            evidence: &["dual_stop_run_days"],
            words: |v| format!("prepaid line in dual stop for {} days", num(v[0])),
        },
        Rule {
            name: "port_out_request",
            kind: "leave_network",
            severity: "high",
            when: col("port_out_requests_3m").gt(lit(0_i64)),
            evidence: &["port_out_requests_3m"],
            words: |v| format!("{} port-out request(s) in 3 months", num(v[0])),
        },
        Rule {
            name: "single_stop",
            kind: "leave_network",
            severity: "medium",
            when: col("single_stop_run_days").gt_eq(lit(r.single_stop_days)),
            evidence: &["single_stop_run_days"],
            words: |v| format!("in single stop for {} days", num(v[0])),
        },
        Rule {
            name: "idle_sim",
            kind: "leave_network",
            severity: "medium",
            when: col("days_active_last").eq(lit(0_i64)),
            evidence: &["days_active_last"],
            words: |_| "billed last month with no day of use".into(),
        },
        Rule {
            name: "complaints",
            kind: "leave_network",
            severity: "medium",
            when: col("complaints_3m").gt_eq(lit(r.complaints)),
            evidence: &["complaints_3m"],
            words: |v| format!("{} complaints in 3 months", num(v[0])),
        },
        Rule {
            name: "number_change",
            kind: "internal_switch",
            severity: "medium",
            when: col("number_changes_3m").gt(lit(0_i64)),
            evidence: &["number_changes_3m"],
            words: |v| format!("{} number change(s) in 3 months", num(v[0])),
        },
        Rule {
            name: "plan_downgrade",
            kind: "internal_switch",
            severity: "low",
            when: col("plan_changes_3m").gt(lit(0_i64)).and(col("arpu_last_vs_avg").lt(lit(0.9))),
            evidence: &["plan_changes_3m", "arpu_last_vs_avg"],
            words: |v| format!("{} plan change(s), last ARPU {} of the average", num(v[0]), pct(v[1])),
        },
        Rule {
            name: "arpu_decline",
            kind: "revenue_loss",
            severity: "medium",
            when: col("arpu_last_vs_avg").lt_eq(lit(r.arpu_decline_ratio)).and(col("arpu_trend").lt(lit(0.0))),
            evidence: &["arpu_last_vs_avg", "arpu_trend"],
            words: |v| {
                format!(
                    "last ARPU {} of the 3-month average, falling {} yuan a month",
                    pct(v[0]),
                    num(v[1].map(f64::abs))
                )
            },
        },
        Rule {
            name: "usage_drop",
            kind: "revenue_loss",
            severity: "medium",
            when: ratio_or("mou_last_vs_prev", "dou_last_vs_prev", Expr::lt_eq, r.usage_drop_ratio),
            evidence: &["mou_last_vs_prev", "dou_last_vs_prev"],
            words: |v| format!("usage fell: minutes {} and data {} of own previous months", pct(v[0]), pct(v[1])),
        },
        Rule {
            name: "usage_surge",
            kind: "revenue_loss",
            severity: "low",
            when: ratio_or("mou_last_vs_prev", "dou_last_vs_prev", Expr::gt_eq, r.usage_surge_ratio),
            evidence: &["mou_last_vs_prev", "dou_last_vs_prev"],
            words: |v| {
                format!(
                    "usage surged (bill-shock risk): minutes {} and data {} of own previous months",
                    pct(v[0]),
                    pct(v[1])
                )
            },
        },
    ]
}

/// Warning counts by kind, rule and branch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct WarningCounts {
    /// The thresholds used.
    pub rules: WarningRules,
    /// Warnings in all.
    pub warnings: u64,
    /// Subscribers with at least one warning.
    pub subscribers: u64,
    /// Warnings by kind of churn.
    pub by_kind: BTreeMap<String, u64>,
    /// Warnings by rule.
    pub by_rule: BTreeMap<String, u64>,
    /// Warnings by branch.
    pub by_branch: BTreeMap<String, u64>,
}

/// Columns of warnings.parquet.
pub fn warnings_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("subscriber_id", DataType::Int64, false),
        Field::new("branch_id", DataType::Utf8, false),
        Field::new("rule", DataType::Utf8, false),
        Field::new("kind", DataType::Utf8, false),
        Field::new("severity", DataType::Utf8, false),
        Field::new("evidence", DataType::Utf8, false),
    ]))
}

impl WarningCounts {
    /// Adds the counts of another range of subscribers (ranges never share a subscriber).
    pub fn merge(&mut self, other: &WarningCounts) {
        self.warnings += other.warnings;
        self.subscribers += other.subscribers;
        for (mine, theirs) in [
            (&mut self.by_kind, &other.by_kind),
            (&mut self.by_rule, &other.by_rule),
            (&mut self.by_branch, &other.by_branch),
        ] {
            for (k, n) in theirs {
                *mine.entry(k.clone()).or_default() += n;
            }
        }
    }
}

/// The feature columns [`warnings`] reads under `thresholds` (a column may come more than once).
pub fn columns_read(thresholds: &WarningRules) -> Vec<String> {
    let mut names: Vec<String> = ["subscriber_id", "branch_id"].map(String::from).into();
    for rule in rules(thresholds) {
        names.extend(rule.when.column_refs().into_iter().map(|c| c.name.clone()));
        names.extend(rule.evidence.iter().map(|c| (*c).to_owned()));
    }
    names
}

/// Applies every rule to the features; returns the warnings (subscriber_id, branch_id, rule,
/// kind, severity, evidence; by subscriber then rule order) and their counts.
pub async fn warnings(features: &DataFrame, thresholds: &WarningRules) -> Result<(RecordBatch, WarningCounts)> {
    let mut found: Vec<(i64, usize, String, String)> = Vec::new();
    let all = rules(thresholds);
    for (i, rule) in all.iter().enumerate() {
        let mut select = vec![col("subscriber_id"), col("branch_id")];
        select.extend(rule.evidence.iter().map(|c| col(*c)));
        let batches = features.clone().filter(rule.when.clone())?.select(select)?.collect().await?;
        for b in &batches {
            let ids = i64_column(b, "subscriber_id")?;
            let branches = string_column(b, "branch_id")?;
            let values = rule.evidence.iter().map(|c| f64_column(b, c)).collect::<Result<Vec<_>>>()?;
            for r in 0..b.num_rows() {
                let Some(id) = ids[r] else { continue };
                let v: Vec<Option<f64>> = values.iter().map(|c| c[r]).collect();
                found.push((id, i, branches[r].clone().unwrap_or_default(), (rule.words)(&v)));
            }
        }
    }
    found.sort_by_key(|(id, i, _, _)| (*id, *i));
    let mut counts = WarningCounts { rules: thresholds.clone(), warnings: found.len() as u64, ..Default::default() };
    for k in KINDS {
        counts.by_kind.insert((*k).into(), 0);
    }
    for r in &all {
        counts.by_rule.insert(r.name.into(), 0);
    }
    let mut last = None;
    for (id, i, branch, _) in &found {
        *counts.by_kind.entry(all[*i].kind.into()).or_default() += 1;
        *counts.by_rule.entry(all[*i].name.into()).or_default() += 1;
        *counts.by_branch.entry(branch.clone()).or_default() += 1;
        if last != Some(*id) {
            counts.subscribers += 1;
            last = Some(*id);
        }
    }
    let batch = RecordBatch::try_new(
        warnings_schema(),
        vec![
            Arc::new(Int64Array::from_iter_values(found.iter().map(|f| f.0))),
            Arc::new(StringArray::from_iter_values(found.iter().map(|f| f.2.as_str()))),
            Arc::new(StringArray::from_iter_values(found.iter().map(|f| all[f.1].name))),
            Arc::new(StringArray::from_iter_values(found.iter().map(|f| all[f.1].kind))),
            Arc::new(StringArray::from_iter_values(found.iter().map(|f| all[f.1].severity))),
            Arc::new(StringArray::from_iter_values(found.iter().map(|f| f.3.as_str()))),
        ],
    )?;
    Ok((batch, counts))
}
