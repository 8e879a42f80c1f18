//! The run's offers step: plan fit, data fit and device fit for every subscriber of the run,
//! cross-sell rules over the products held, and the next best offer per channel.
//!
//! The arithmetic and the rules live in `cvm-offers` (tariff engine, plan fit, data fit,
//! device pool, arbitration); this module feeds them from the warehouse and the run's
//! features and turns their answers into tables:
//!
//! ```text
//! per range of subscribers (OffersRun::fit_range, side by side; add_range, in order)
//!   fit queries  usage rows of the window months (voice, data, SMS, data by app),
//!                the products held at the as-of month end, group members -> slots by id
//!   per batch    plan fit (flags, alerts, service task, recommended and minimum-bill plan),
//!                data fit (months over, top app, cheapest pack), device need        (parallel)
//! once (OffersRun::settle)
//!   device pool  shared out across all subscribers, highest value first
//!   rules        FP-growth over the held products -> cross-sell rules
//! per range again (OffersRun::offers)
//!   per batch    NBO candidates and one arbitrated offer per channel                (parallel)
//! ```
//!
//! Plan fit reads the subscriber's current plan (the warehouse keeps no plan per month) and
//! looks only at lines with usage in all three months and no plan change in them.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use cvm_domain::{Date, Fen, Month};
use cvm_offers::basket::{Baskets, association_rules, fpgrowth};
use cvm_offers::data_fit::{AppCategory, DataFit, DataMonth, DataPack, data_fit};
use cvm_offers::device_fit::{DeviceAllocation, DeviceSubscriber, DeviceTier, PoolStock, allocate, device_need};
use cvm_offers::nbo::{
    self, Channel, Consent, CrossSellRule, DataPackOffer, DeviceOffer, Holdings, NboPolicy, Offer, OfferKind, PRODUCTS,
    PlanFitOffer, Profile, Reason, Standing,
};
use cvm_offers::plan_fit::{self, FitAssessment, Recommendation, ServiceTask, Subscriber};
use cvm_offers::{PaymentType, Plan, PlanStatus, UsageMonth};
use datafusion::arrow::array::{
    Array, ArrayRef, BooleanArray, Decimal128Array, Float64Array, Int64Array, RecordBatch, StringArray, UInt32Array,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::prelude::SessionContext;
use futures::StreamExt;
use rayon::prelude::*;
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

use crate::config::OffersConfig;
use crate::features::{Window, warehouse_context};
use crate::frame::{bool_column, f64_column, fen_column, i64_array, i64_column, string_column, utf8_column};
use crate::store::TableWriter;
use crate::{AnalyticsError, Result};

/// Measures of each window month, in the order of `FitInput::months`.
const MEASURES: [&str; 7] =
    ["voice_min", "data_mb", "sms", "data_video_mb", "data_social_mb", "data_music_mb", "data_gaming_mb"];

/// The fit queries: the window months' usage rows, the products held at the as-of month end
/// (a row per holding, put together as bits by subscriber here: a group-by of 9
/// `MAX(CASE ...)` did the same slower), and the group members. Each row goes to its subscriber's
/// slot by id ([`read_inputs`]): joining the three on `subscriber_id` in the engine copied
/// every column once more. Usage is read as it is stored, one row per subscriber and month
/// (the import refuses a second row of a key): pivoting it to months side by side in the
/// engine (21 `MAX(CASE ...)` in a group-by) made pass 1 of a 1M run on one core 8.3 s
/// instead of 5.7 s.
fn fit_sql(window: Window) -> [String; 3] {
    let months: Vec<String> = window.months().iter().map(Month::to_string).collect();
    [
        format!(
            "SELECT subscriber_id, month, {measures} FROM usage WHERE month >= '{first}' AND month <= '{last}'",
            measures = MEASURES.join(", "),
            first = months[0],
            last = months[months.len() - 1],
        ),
        format!("SELECT subscriber_id, product FROM holdings WHERE {}", held_at_month_end(window)),
        "SELECT subscriber_id FROM subscribers WHERE group_id IS NOT NULL".to_owned(),
    ]
}

/// Holdings held at the end of the as-of month: started by then and not ended by then.
fn held_at_month_end(window: Window) -> String {
    let we = window.end_day();
    format!("CAST(start_date AS INT) < {we} AND (end_date IS NULL OR CAST(end_date AS INT) >= {we})")
}

/// What the fit queries give for one subscriber (u32 is enough for a month's use of one
/// line and halves the memory at 10 million subscribers).
#[derive(Debug, Clone, Copy, Default)]
struct FitInput {
    /// `[month][measure]`, oldest month first; `present` says which months have a usage row.
    months: [[u32; 7]; 3],
    present: [bool; 3],
    holdings: Holdings,
    in_group: bool,
}

impl FitInput {
    fn window(&self, subscriber_id: i64, months: &[Month]) -> Option<[DataMonth; 3]> {
        if !self.present.iter().all(|&p| p) {
            return None;
        }
        Some([0, 1, 2].map(|k| {
            let m = self.months[k];
            DataMonth {
                usage: UsageMonth {
                    subscriber_id,
                    month: months[k],
                    voice_min: u64::from(m[0]),
                    data_mb: u64::from(m[1]),
                    sms: u64::from(m[2]),
                },
                by_app: [m[3], m[4], m[5], m[6]].map(u64::from),
            }
        }))
    }
}

/// The catalogs the step reads from the warehouse.
struct Catalogs {
    plans: Vec<Plan>,
    /// Looked up once or twice per subscriber: Fx rather than SipHash, as nothing hostile
    /// chooses a catalog's keys.
    plan_index: FxHashMap<String, usize>,
    /// Offers valid in the as-of month.
    offers: nbo::Catalog,
    packs: Vec<DataPack>,
    pool: Vec<PoolStock>,
}

fn bad(table: &str, what: String) -> AnalyticsError {
    AnalyticsError::Warehouse { path: table.into(), what }
}

async fn collect(ctx: &SessionContext, sql: &str) -> Result<Vec<RecordBatch>> {
    Ok(ctx.sql(sql).await?.collect().await?)
}

async fn read_catalogs(ctx: &SessionContext, window: Window) -> Result<Catalogs> {
    let mut plans = Vec::new();
    for b in collect(ctx, "SELECT * FROM plans ORDER BY plan_id").await? {
        let id = string_column(&b, "plan_id")?;
        let name = string_column(&b, "plan_name")?;
        let brand = string_column(&b, "brand")?;
        let pay = string_column(&b, "payment_type")?;
        let fee = fen_column(&b, "monthly_fee")?;
        let voice = i64_column(&b, "voice_min")?;
        let data = i64_column(&b, "data_mb")?;
        let sms = i64_column(&b, "sms")?;
        let vo = fen_column(&b, "voice_overage_per_min")?;
        let unit = i64_column(&b, "data_overage_unit_mb")?;
        let dp = fen_column(&b, "data_overage_per_unit")?;
        let so = fen_column(&b, "sms_overage_per_msg")?;
        let tenure = i64_column(&b, "min_tenure_months")?;
        let vip = bool_column(&b, "vip")?;
        let status = string_column(&b, "status")?;
        for i in 0..b.num_rows() {
            let plan_id = id[i].clone().unwrap_or_default();
            let missing = |c: &str| bad("plans", format!("plan {plan_id}: no {c}"));
            let count = |v: Option<i64>, c: &str| v.and_then(|v| u64::try_from(v).ok()).ok_or_else(|| missing(c));
            plans.push(Plan {
                plan_name: name[i].clone().unwrap_or_default(),
                brand: brand[i].clone().unwrap_or_default(),
                payment_type: pay[i].as_deref().and_then(PaymentType::parse).ok_or_else(|| missing("payment_type"))?,
                monthly_fee: Fen(fee[i].ok_or_else(|| missing("monthly_fee"))?),
                voice_min: count(voice[i], "voice_min")?,
                data_mb: count(data[i], "data_mb")?,
                sms: count(sms[i], "sms")?,
                voice_overage_per_min: Fen(vo[i].ok_or_else(|| missing("voice_overage_per_min"))?),
                data_overage_unit_mb: count(unit[i], "data_overage_unit_mb")?
                    .try_into()
                    .map_err(|_| missing("data_overage_unit_mb above 0"))?,
                data_overage_per_unit: Fen(dp[i].ok_or_else(|| missing("data_overage_per_unit"))?),
                sms_overage_per_msg: Fen(so[i].ok_or_else(|| missing("sms_overage_per_msg"))?),
                min_tenure_months: u32::try_from(count(tenure[i], "min_tenure_months")?).unwrap_or(u32::MAX),
                vip: vip[i].unwrap_or(false),
                status: if status[i].as_deref() == Some("on_sale") { PlanStatus::OnSale } else { PlanStatus::Retired },
                plan_id,
            });
        }
    }
    // By ascending fee: pricing a window then rules out the dearer plans by their fees alone.
    plans.sort_by(|a, b| a.monthly_fee.cmp(&b.monthly_fee).then_with(|| a.plan_id.cmp(&b.plan_id)));
    let plan_index = plans.iter().enumerate().map(|(i, p)| (p.plan_id.clone(), i)).collect();

    let (first, last) = (window.as_of.first_day(), window.as_of.last_day());
    let mut offers = Vec::new();
    for b in collect(ctx, "SELECT * FROM offers ORDER BY offer_id").await? {
        let id = string_column(&b, "offer_id")?;
        let name = string_column(&b, "offer_name")?;
        let kind = string_column(&b, "offer_kind")?;
        let product = string_column(&b, "product")?;
        let price = fen_column(&b, "monthly_price")?;
        let cost = fen_column(&b, "monthly_cost")?;
        let data = i64_column(&b, "data_mb")?;
        let app = string_column(&b, "app_category")?;
        let channels = string_column(&b, "channels")?;
        let from = i64_column(&b, "valid_from")?;
        let to = i64_column(&b, "valid_to")?;
        for i in 0..b.num_rows() {
            let offer_id = id[i].clone().unwrap_or_default();
            let missing = |c: &str| bad("offers", format!("offer {offer_id}: no valid {c}"));
            let day = |d: Option<i64>, c: &str| {
                d.and_then(|d| i32::try_from(d).ok()).map(Date::from_days_since_epoch).ok_or_else(|| missing(c))
            };
            let offer = Offer {
                offer_name: name[i].clone().unwrap_or_default(),
                kind: kind[i].as_deref().and_then(OfferKind::parse).ok_or_else(|| missing("offer_kind"))?,
                product: product[i].clone(),
                monthly_price: Fen(price[i].ok_or_else(|| missing("monthly_price"))?),
                monthly_cost: Fen(cost[i].ok_or_else(|| missing("monthly_cost"))?),
                data_mb: data[i].and_then(|v| u64::try_from(v).ok()).unwrap_or(0),
                app_category: app[i].as_deref().and_then(AppCategory::parse),
                channels: channels[i].as_deref().unwrap_or("").split(';').filter_map(Channel::parse).collect(),
                valid_from: day(from[i], "valid_from")?,
                valid_to: day(to[i], "valid_to")?,
                offer_id,
            };
            if offer.valid_between(first, last) {
                offers.push(offer);
            }
        }
    }
    let packs = offers
        .iter()
        .filter(|o| matches!(o.kind, OfferKind::DataPack | OfferKind::DirectedDataPack))
        .map(|o| DataPack {
            offer_id: o.offer_id.clone(),
            name: o.offer_name.clone(),
            monthly_price: o.monthly_price,
            data_mb: o.data_mb,
            app_category: if o.kind == OfferKind::DirectedDataPack { o.app_category } else { None },
        })
        .collect();

    let mut device_tiers = HashMap::new();
    for b in collect(ctx, "SELECT device_model, tier FROM devices").await? {
        let model = string_column(&b, "device_model")?;
        let tier = string_column(&b, "tier")?;
        for (m, t) in model.into_iter().zip(tier) {
            if let (Some(m), Some(t)) = (m, t.as_deref().and_then(DeviceTier::parse)) {
                device_tiers.insert(m, t);
            }
        }
    }
    let mut pool = Vec::new();
    for b in collect(ctx, "SELECT * FROM device_pool ORDER BY branch_id, device_model").await? {
        let branch = string_column(&b, "branch_id")?;
        let model = string_column(&b, "device_model")?;
        let stock = i64_column(&b, "stock")?;
        let price = fen_column(&b, "retention_price")?;
        for i in 0..b.num_rows() {
            let (Some(branch_id), Some(device_model)) = (branch[i].clone(), model[i].clone()) else { continue };
            let Some(&tier) = device_tiers.get(&device_model) else { continue };
            pool.push(PoolStock {
                branch_id,
                device_model,
                tier,
                stock: stock[i].and_then(|s| u32::try_from(s).ok()).unwrap_or(0),
                retention_price: Fen(price[i].unwrap_or(0)),
            });
        }
    }
    Ok(Catalogs { plans, plan_index, offers: nbo::Catalog::new(offers), packs, pool })
}

/// Reads the fit queries into one slot per feature row (`ids` sorted ascending); rows of
/// subscribers outside the features are skipped.
async fn read_inputs(ctx: &SessionContext, window: Window, ids: &[i64]) -> Result<Vec<FitInput>> {
    let mut inputs = vec![FitInput::default(); ids.len()];
    // The warehouse keeps the export's order, subscriber by subscriber: a row's subscriber is
    // most often the last one found or the next, tried before a binary search.
    let mut last_row = 0;
    let mut slot = |id: Option<i64>| {
        let id = id?;
        let near = [last_row, last_row + 1].into_iter().find(|&at| ids.get(at) == Some(&id));
        last_row = near.or_else(|| ids.binary_search(&id).ok())?;
        Some(last_row)
    };
    let months: Vec<String> = window.months().iter().map(Month::to_string).collect();
    let [usage, held, groups] = fit_sql(window);
    let mut stream = ctx.sql(&usage).await?.execute_stream().await?;
    // Usage comes month by month: a row's month is most often the last one's.
    let mut last_month = 0;
    while let Some(batch) = stream.next().await {
        let b = batch?;
        let sid = i64_array(&b, "subscriber_id")?;
        let month = utf8_column(&b, "month")?;
        let measures: Vec<Int64Array> = MEASURES.iter().map(|m| i64_array(&b, m)).collect::<Result<_>>()?;
        for r in 0..b.num_rows() {
            let Some(row) = slot(sid.is_valid(r).then(|| sid.value(r))) else { continue };
            let Some(m) = month.is_valid(r).then(|| month.value(r)) else { continue };
            let Some(k) =
                (months[last_month] == m).then_some(last_month).or_else(|| months.iter().position(|w| w == m))
            else {
                continue;
            };
            last_month = k;
            let input = &mut inputs[row];
            // A month is present when its row has voice minutes; a missing measure reads as u32::MAX.
            input.present[k] = measures[0].is_valid(r);
            for (cell, m) in input.months[k].iter_mut().zip(&measures) {
                *cell = m.is_valid(r).then(|| u32::try_from(m.value(r)).ok()).flatten().unwrap_or(u32::MAX);
            }
        }
    }
    for b in collect(ctx, &held).await? {
        let sid = i64_column(&b, "subscriber_id")?;
        let product = utf8_column(&b, "product")?;
        for (r, id) in sid.into_iter().enumerate() {
            let held = product.is_valid(r).then(|| nbo::product_index(product.value(r))).flatten();
            if let (Some(row), Some(i)) = (slot(id), held) {
                inputs[row].holdings.0 |= 1 << i;
            }
        }
    }
    for b in collect(ctx, &groups).await? {
        for id in i64_column(&b, "subscriber_id")? {
            if let Some(row) = slot(id) {
                inputs[row].in_group = true;
            }
        }
    }
    Ok(inputs)
}

/// Where each batch's rows start among all of them, and how many rows there are.
fn batch_offsets(rows: &[Rows]) -> (Vec<usize>, usize) {
    let mut offsets = Vec::with_capacity(rows.len());
    let mut at = 0;
    for r in rows {
        offsets.push(at);
        at += r.id.len();
    }
    (offsets, at)
}

/// The columns of one features batch that the step reads.
struct Rows {
    id: Vec<Option<i64>>,
    branch: StringArray,
    plan: StringArray,
    payment: StringArray,
    tenure: Vec<Option<i64>>,
    arpu: Vec<Option<f64>>,
    value: Vec<Option<f64>>,
    value_tier: StringArray,
    device_tier: StringArray,
    device_age: Vec<Option<i64>>,
    family_size: Vec<Option<i64>>,
    vip_level: StringArray,
    consent: [Vec<Option<bool>>; 4],
    left: Vec<Option<bool>>,
    plan_changes: Vec<Option<i64>>,
}

impl Rows {
    /// The feature columns [`Rows::read`] reads (pass 2 decodes only these and the other
    /// steps' columns: one missing here fails the run's tests).
    const COLUMNS: [&str; 18] = [
        "subscriber_id",
        "branch_id",
        "plan_id",
        "payment_type",
        "tenure_months",
        "arpu_3m_avg",
        "value",
        "value_tier",
        "device_tier",
        "device_age_months",
        "family_size",
        "vip_level",
        "consent_sms",
        "consent_call",
        "consent_app_push",
        "do_not_disturb",
        "left_network",
        "plan_changes_3m",
    ];

    fn read(b: &RecordBatch) -> Result<Rows> {
        Ok(Rows {
            id: i64_column(b, "subscriber_id")?,
            branch: utf8_column(b, "branch_id")?,
            plan: utf8_column(b, "plan_id")?,
            payment: utf8_column(b, "payment_type")?,
            tenure: i64_column(b, "tenure_months")?,
            arpu: f64_column(b, "arpu_3m_avg")?,
            value: f64_column(b, "value")?,
            value_tier: utf8_column(b, "value_tier")?,
            device_tier: utf8_column(b, "device_tier")?,
            device_age: i64_column(b, "device_age_months")?,
            family_size: i64_column(b, "family_size")?,
            vip_level: utf8_column(b, "vip_level")?,
            consent: [
                bool_column(b, "consent_sms")?,
                bool_column(b, "consent_call")?,
                bool_column(b, "consent_app_push")?,
                bool_column(b, "do_not_disturb")?,
            ],
            left: bool_column(b, "left_network")?,
            plan_changes: i64_column(b, "plan_changes_3m")?,
        })
    }

    fn tenure(&self, i: usize) -> u32 {
        self.tenure[i].and_then(|t| u32::try_from(t).ok()).unwrap_or(0)
    }

    fn premium(&self, i: usize) -> bool {
        text(&self.vip_level, i).is_some_and(|v| v != "none")
            || matches!(text(&self.value_tier, i), Some("vip" | "big"))
    }
}

/// Row `i` of a text column, `None` when null.
fn text(a: &StringArray, i: usize) -> Option<&str> {
    a.is_valid(i).then(|| a.value(i))
}

/// Plan fit of one subscriber: the assessment, the policy's recommendation and the
/// minimum-bill plan.
struct PlanFitRow {
    assessment: FitAssessment,
    chosen: Option<Recommendation>,
    minimum: Option<Recommendation>,
}

/// Everything the first pass finds for one features batch.
struct FirstPass {
    plan_fit: Vec<(usize, PlanFitRow)>,
    data_fit: Vec<(usize, DataFit)>,
    devices: Vec<DeviceSubscriber>,
}

/// A plan change backed by a service task: (row, recommended plan, over-use, monthly saving).
type PlanChange = (usize, String, bool, Fen);
/// A data pack that saves money: (row, pack offer id, months over, top app, monthly saving).
type PackSaving = (usize, String, usize, Option<(AppCategory, u64)>, Fen);

/// What the next-best-offer pass needs of one batch's fits; the fits themselves are turned
/// into their tables at once (at 10 million subscribers the Rust rows would take gigabytes).
struct Fitted {
    plan_fit: RecordBatch,
    data_fit: RecordBatch,
    plan_offers: Vec<PlanChange>,
    pack_offers: Vec<PackSaving>,
    devices: Vec<DeviceSubscriber>,
    /// The batch's share of the plan- and data-fit counts of [`OffersSummary`], in its order.
    counts: [u64; 8],
}

impl Fitted {
    fn new(rows: &Rows, first: FirstPass) -> Result<Fitted> {
        let pf = &first.plan_fit;
        let task = |t: ServiceTask| pf.iter().filter(|(_, p)| p.assessment.service_task == Some(t)).count() as u64;
        let counts = [
            pf.len() as u64,
            task(ServiceTask::PersistentOverUse),
            task(ServiceTask::PersistentUnderUse),
            pf.iter().filter(|(_, p)| p.assessment.warm_reminder).count() as u64,
            pf.iter().map(|(_, p)| p.assessment.alerts.len() as u64).sum(),
            pf.iter().filter(|(_, p)| p.chosen.as_ref().is_some_and(|r| !r.is_current)).count() as u64,
            first.data_fit.len() as u64,
            first.data_fit.iter().filter(|(_, d)| d.best_pack.is_some()).count() as u64,
        ];
        let plan_offers = pf
            .iter()
            .filter_map(|(i, p)| {
                let r = p.chosen.as_ref().filter(|r| !r.is_current)?;
                let task = p.assessment.service_task?;
                Some((*i, r.plan_id.clone(), task == ServiceTask::PersistentOverUse, r.monthly_saving))
            })
            .collect();
        let pack_offers = first
            .data_fit
            .iter()
            .filter_map(|(i, d)| {
                let (pack, _) = d.best_pack.as_ref()?;
                Some((*i, pack.clone(), d.months_over.len(), d.top_app, d.monthly_saving()))
            })
            .collect();
        Ok(Fitted {
            plan_fit: plan_fit_batch(rows, &first.plan_fit)?,
            data_fit: data_fit_batch(rows, &first.data_fit)?,
            plan_offers,
            pack_offers,
            devices: first.devices,
            counts,
        })
    }
}

fn first_pass(rows: &Rows, inputs: &[FitInput], months: &[Month], cat: &Catalogs, cfg: &OffersConfig) -> FirstPass {
    let thresholds = cfg.thresholds();
    let policy = cfg.policy();
    let device_rules = cfg.device_rules();
    // Most rows get a plan and a data fit: sized once for the batch rather than grown by
    // doubling (each doubling copied the rows so far).
    let mut out = FirstPass {
        plan_fit: Vec::with_capacity(inputs.len()),
        data_fit: Vec::with_capacity(inputs.len()),
        devices: Vec::new(),
    };
    for (i, input) in inputs.iter().enumerate() {
        let Some(id) = rows.id[i] else { continue };
        if rows.left[i].unwrap_or(false) {
            continue;
        }
        let branch = text(&rows.branch, i).unwrap_or_default();
        let tenure = rows.tenure(i);
        let arpu = rows.arpu[i].unwrap_or(0.0);
        let current = text(&rows.plan, i).and_then(|p| cat.plan_index.get(p)).map(|&k| &cat.plans[k]);
        if let (Some(plan), Some(window)) = (current, input.window(id, months)) {
            let usage = window.map(|m| m.usage);
            if rows.plan_changes[i].unwrap_or(0) == 0 {
                let payment_type = text(&rows.payment, i).and_then(PaymentType::parse).unwrap_or(plan.payment_type);
                let sub = Subscriber { subscriber_id: id, payment_type, tenure_months: tenure };
                let assessment = plan_fit::assess(id, plan, &usage, &thresholds);
                let priced = plan_fit::price(&sub, plan, &usage, &cat.plans);
                let chosen = priced.recommend(policy);
                // The priced window keeps its minimum bill: no second search, whatever the policy.
                let minimum = priced.recommend(plan_fit::Policy::MinimumBill);
                out.plan_fit.push((i, PlanFitRow { assessment, chosen, minimum }));
            }
            if let Some(fit) = data_fit(plan, &window, &cat.packs) {
                out.data_fit.push((i, fit));
            }
        }
        let device = DeviceSubscriber {
            subscriber_id: id,
            branch_id: String::new(),
            tenure_months: tenure,
            arpu: Fen::from_yuan_f64(arpu),
            current_tier: text(&rows.device_tier, i).and_then(DeviceTier::parse),
            device_age_months: rows.device_age[i].and_then(|a| u32::try_from(a).ok()),
            value: rows.value[i].unwrap_or(0.0),
        };
        // Only those who need a device go on to the pool (and get their branch as text).
        if device_need(&device_rules, &device).is_some() {
            out.devices.push(DeviceSubscriber { branch_id: branch.to_owned(), ..device });
        }
    }
    out
}

/// Cross-sell rules (single-product consequents) and each product's share of subscribers.
fn cross_sell_rules(holdings: &[Holdings], cfg: &OffersConfig) -> Result<(Vec<RuleRow>, Vec<CrossSellRule>, [f64; 9])> {
    let mut baskets = Baskets::new();
    for name in PRODUCTS {
        baskets.item_id(name);
    }
    // Subscribers by the set of products they hold (a few hundred sets for millions of
    // subscribers, counted in an array indexed by set rather than a map), then each set held
    // once, in set order, with its count.
    let mut holders = vec![0u64; nbo::HOLDING_SETS];
    for h in holdings {
        holders[h.set()] += 1;
    }
    let mut counts = [0u64; PRODUCTS.len()];
    for (set, &customers) in holders.iter().enumerate().filter(|(_, c)| **c > 0) {
        let h = Holdings(set as u16);
        let mut items: Vec<u32> = (0..PRODUCTS.len()).filter(|&i| h.has(i)).map(|i| i as u32).collect();
        for &i in &items {
            counts[i as usize] += customers;
        }
        baskets.push_many(&mut items, customers);
    }
    let n = holdings.len().max(1) as f64;
    let base_rates = counts.map(|c| c as f64 / n);
    if holdings.is_empty() {
        return Ok((Vec::new(), Vec::new(), base_rates));
    }
    let offers_err =
        |e: cvm_offers::OffersError| AnalyticsError::Config { origin: "offers".into(), what: e.to_string() };
    let frequent = fpgrowth(&baskets, cfg.rules_min_support, None).map_err(offers_err)?;
    let rules = association_rules(&frequent, cfg.rules_min_confidence).map_err(offers_err)?;
    let names = frequent.item_names.clone();
    let mask = |items: &[u32]| {
        Holdings(items.iter().filter_map(|&i| nbo::product_index(&names[i as usize])).fold(0, |m, i| m | 1 << i))
    };
    let mut rows = Vec::new();
    let mut cross = Vec::new();
    for r in &rules {
        rows.push(RuleRow {
            antecedent: frequent.names(&r.antecedent).into_iter().map(str::to_owned).collect(),
            consequent: frequent.names(&r.consequent).into_iter().map(str::to_owned).collect(),
            support: r.support,
            confidence: r.confidence,
            lift: r.lift,
        });
        if let [c] = r.consequent[..]
            && let Some(p) = nbo::product_index(&names[c as usize])
        {
            cross.push(CrossSellRule {
                antecedent: mask(&r.antecedent),
                consequent: p,
                confidence: r.confidence,
                lift: r.lift,
            });
        }
    }
    rows.sort_by(|a, b| {
        b.lift.total_cmp(&a.lift).then_with(|| (&a.antecedent, &a.consequent).cmp(&(&b.antecedent, &b.consequent)))
    });
    Ok((rows, cross, base_rates))
}

/// The products each subscriber holds at the end of `window`'s as-of month, as baskets for
/// rule mining (`cvm basket rules --warehouse`); subscribers holding nothing are left out.
pub async fn held_products(root: &Path, window: Window) -> Result<Baskets> {
    let ctx = warehouse_context(root, window, None, None, false).await?;
    let sql = format!(
        "SELECT subscriber_id, product FROM holdings WHERE {} ORDER BY subscriber_id, product",
        held_at_month_end(window)
    );
    let mut baskets = Baskets::new();
    let mut current: Option<i64> = None;
    let mut items: Vec<String> = Vec::new();
    for b in collect(&ctx, &sql).await? {
        let ids = i64_column(&b, "subscriber_id")?;
        let products = string_column(&b, "product")?;
        for (id, product) in ids.into_iter().zip(products) {
            if id != current && !items.is_empty() {
                baskets.push_names(&items);
                items.clear();
            }
            current = id;
            items.extend(product);
        }
    }
    if !items.is_empty() {
        baskets.push_names(&items);
    }
    Ok(baskets)
}

/// A cross-sell rule as written to `basket_rules.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleRow {
    /// Products held.
    pub antecedent: Vec<String>,
    /// Products also held.
    pub consequent: Vec<String>,
    /// Share of subscribers holding both.
    pub support: f64,
    /// Share of antecedent holders holding the consequent.
    pub confidence: f64,
    /// Confidence over the consequent's share.
    pub lift: f64,
}

/// Counts of the offers step, for `offers.json` and the terminal.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OffersSummary {
    /// Subscribers assessed by plan fit (3 months of usage, no plan change).
    pub plan_fit_assessed: u64,
    /// Persistent over-use service tasks.
    pub persistent_over_use: u64,
    /// Persistent under-use service tasks.
    pub persistent_under_use: u64,
    /// Warm reminders (over-use in the as-of month).
    pub warm_reminders: u64,
    /// Surge and drop alerts.
    pub alerts: u64,
    /// Subscribers whose recommended plan differs from their own.
    pub plan_changes_recommended: u64,
    /// Subscribers over the data allowance in some window month.
    pub data_over_quota: u64,
    /// Of them, those a data pack would save money.
    pub data_pack_recommended: u64,
    /// Subscribers needing a device offer.
    pub device_needs: u64,
    /// Of them, those a pool handset was reserved for.
    pub devices_reserved: u64,
    /// Units in all branches' pools.
    pub pool_units: u64,
    /// Cross-sell rules mined.
    pub rules: u64,
    /// Arbitrated offers written (one per subscriber and channel, up to `max_channels`).
    pub offers: u64,
    /// Subscribers with at least one offer.
    pub subscribers_with_offer: u64,
    /// Sum of the written offers' expected value, yuan, added one offer after another in the
    /// order of the nbo table (so it does not depend on how the rows were cut into batches).
    pub expected_value: f64,
    /// The plan policy used.
    pub plan_policy: String,
}

/// The reports of the offers step (its tables are written as the run goes).
#[derive(Debug, Clone)]
pub struct FitOutput {
    /// Cross-sell rules over the products held.
    pub rules: Vec<RuleRow>,
    /// Counts.
    pub summary: OffersSummary,
}

fn money(values: Vec<Option<i64>>) -> Result<ArrayRef> {
    Ok(Arc::new(
        Decimal128Array::from(values.into_iter().map(|v| v.map(i128::from)).collect::<Vec<_>>())
            .with_precision_and_scale(18, 2)?,
    ))
}

fn money_field(name: &str, nullable: bool) -> Field {
    Field::new(name, DataType::Decimal128(18, 2), nullable)
}

pub(crate) fn plan_fit_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("subscriber_id", DataType::Int64, false),
        Field::new("branch_id", DataType::Utf8, true),
        Field::new("current_plan", DataType::Utf8, false),
        Field::new("over_use_months", DataType::Int64, false),
        Field::new("under_use_months", DataType::Int64, false),
        Field::new("warm_reminder", DataType::Boolean, false),
        Field::new("alerts", DataType::Utf8, true),
        Field::new("service_task", DataType::Utf8, true),
        money_field("current_3m_bill", false),
        Field::new("recommended_plan", DataType::Utf8, true),
        money_field("monthly_saving", true),
        money_field("revenue_effect", true),
        Field::new("min_bill_plan", DataType::Utf8, true),
        money_field("min_bill_3m", true),
    ]))
}

fn plan_fit_batch(rows: &Rows, fits: &[(usize, PlanFitRow)]) -> Result<RecordBatch> {
    let mut alerts = Vec::with_capacity(fits.len());
    for (_, f) in fits {
        let a = &f.assessment;
        alerts.push((!a.alerts.is_empty()).then(|| {
            a.alerts
                .iter()
                .map(|x| {
                    let measure = match x.measure {
                        plan_fit::Measure::Voice => "voice",
                        plan_fit::Measure::Data => "data",
                    };
                    let way = match x.direction {
                        plan_fit::Direction::Surge => "surge",
                        plan_fit::Direction::Drop => "drop",
                    };
                    format!("{} {measure} {way} {}->{}", x.month, x.before, x.after)
                })
                .collect::<Vec<_>>()
                .join("; ")
        }));
    }
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from_iter_values(fits.iter().map(|(i, _)| rows.id[*i].unwrap_or(0)))),
        Arc::new(StringArray::from_iter(fits.iter().map(|(i, _)| text(&rows.branch, *i)))),
        Arc::new(StringArray::from_iter_values(fits.iter().map(|(_, f)| f.assessment.current_plan_id.as_str()))),
        Arc::new(Int64Array::from_iter_values(
            fits.iter().map(|(_, f)| f.assessment.over_use.iter().filter(|&&x| x).count() as i64),
        )),
        Arc::new(Int64Array::from_iter_values(
            fits.iter().map(|(_, f)| f.assessment.under_use.iter().filter(|&&x| x).count() as i64),
        )),
        Arc::new(BooleanArray::from_iter(fits.iter().map(|(_, f)| Some(f.assessment.warm_reminder)))),
        Arc::new(StringArray::from(alerts)),
        Arc::new(StringArray::from_iter(fits.iter().map(|(_, f)| {
            f.assessment.service_task.map(|t| match t {
                ServiceTask::PersistentOverUse => "persistent_over_use",
                ServiceTask::PersistentUnderUse => "persistent_under_use",
            })
        }))),
        money(fits.iter().map(|(_, f)| Some(f.assessment.current_bills.iter().map(|b| b.0).sum())).collect())?,
        Arc::new(StringArray::from_iter(fits.iter().map(|(_, f)| f.chosen.as_ref().map(|r| r.plan_id.as_str())))),
        money(fits.iter().map(|(_, f)| f.chosen.as_ref().map(|r| r.monthly_saving.0)).collect())?,
        money(fits.iter().map(|(_, f)| f.chosen.as_ref().map(|r| r.revenue_effect.0)).collect())?,
        Arc::new(StringArray::from_iter(fits.iter().map(|(_, f)| f.minimum.as_ref().map(|r| r.plan_id.as_str())))),
        money(fits.iter().map(|(_, f)| f.minimum.as_ref().map(|r| r.recommended_total.0)).collect())?,
    ];
    Ok(RecordBatch::try_new(plan_fit_schema(), columns)?)
}

pub(crate) fn data_fit_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("subscriber_id", DataType::Int64, false),
        Field::new("branch_id", DataType::Utf8, true),
        Field::new("months_over", DataType::Utf8, false),
        Field::new("excess_mb", DataType::Int64, false),
        money_field("data_overage_3m", false),
        Field::new("top_app", DataType::Utf8, true),
        Field::new("top_app_share_percent", DataType::Int64, true),
        Field::new("best_pack", DataType::Utf8, true),
        money_field("monthly_saving", false),
    ]))
}

fn data_fit_batch(rows: &Rows, fits: &[(usize, DataFit)]) -> Result<RecordBatch> {
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from_iter_values(fits.iter().map(|(i, _)| rows.id[*i].unwrap_or(0)))),
        Arc::new(StringArray::from_iter(fits.iter().map(|(i, _)| text(&rows.branch, *i)))),
        Arc::new(StringArray::from_iter_values(
            fits.iter().map(|(_, f)| f.months_over.iter().map(Month::to_string).collect::<Vec<_>>().join(";")),
        )),
        Arc::new(Int64Array::from_iter_values(
            fits.iter().map(|(_, f)| i64::try_from(f.excess_mb).unwrap_or(i64::MAX)),
        )),
        money(fits.iter().map(|(_, f)| Some(f.data_overage.0)).collect())?,
        Arc::new(StringArray::from_iter(fits.iter().map(|(_, f)| f.top_app.map(|(c, _)| c.as_str())))),
        Arc::new(Int64Array::from_iter(fits.iter().map(|(_, f)| f.top_app.map(|(_, s)| s as i64)))),
        Arc::new(StringArray::from_iter(fits.iter().map(|(_, f)| f.best_pack.as_ref().map(|(id, _)| id.as_str())))),
        money(fits.iter().map(|(_, f)| Some(f.monthly_saving().0)).collect())?,
    ];
    Ok(RecordBatch::try_new(data_fit_schema(), columns)?)
}

/// Columns of device_fit.parquet.
pub(crate) fn device_fit_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("subscriber_id", DataType::Int64, false),
        Field::new("branch_id", DataType::Utf8, false),
        Field::new("serving_rank", DataType::UInt32, false),
        Field::new("need", DataType::Utf8, false),
        Field::new("current_tier", DataType::Utf8, true),
        Field::new("recommended_tier", DataType::Utf8, false),
        Field::new("device_model", DataType::Utf8, true),
        Field::new("device_tier", DataType::Utf8, true),
        money_field("retention_price", true),
    ]))
}

fn device_fit_batch(allocations: &[DeviceAllocation]) -> Result<RecordBatch> {
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from_iter_values(allocations.iter().map(|a| a.subscriber_id))),
        Arc::new(StringArray::from_iter_values(allocations.iter().map(|a| &*a.branch_id))),
        Arc::new(UInt32Array::from_iter_values(allocations.iter().map(|a| a.rank))),
        Arc::new(StringArray::from_iter_values(allocations.iter().map(|a| a.need.as_str()))),
        Arc::new(StringArray::from_iter(allocations.iter().map(|a| a.current_tier.map(DeviceTier::as_str)))),
        Arc::new(StringArray::from_iter_values(allocations.iter().map(|a| a.recommended_tier.as_str()))),
        Arc::new(StringArray::from_iter(allocations.iter().map(|a| a.reserved.as_ref().map(|r| r.0.as_str())))),
        Arc::new(StringArray::from_iter(allocations.iter().map(|a| a.reserved.as_ref().map(|r| r.1.as_str())))),
        money(allocations.iter().map(|a| a.reserved.as_ref().map(|r| r.2.0)).collect())?,
    ];
    Ok(RecordBatch::try_new(device_fit_schema(), columns)?)
}

/// A reason's text, Chinese and English.
fn written(r: &Reason) -> (Arc<str>, Arc<str>) {
    (r.zh().into(), r.en().into())
}

/// One written offer: the row, what is offered and why, and its arbitration.
struct NboRow {
    row: usize,
    offer_id: String,
    kind: OfferKind,
    product: Option<String>,
    reason_zh: Arc<str>,
    reason_en: Arc<str>,
    arbitrated: nbo::Arbitrated,
}

pub(crate) fn nbo_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("subscriber_id", DataType::Int64, false),
        Field::new("branch_id", DataType::Utf8, true),
        Field::new("channel", DataType::Utf8, false),
        Field::new("priority", DataType::UInt32, false),
        Field::new("offer_id", DataType::Utf8, false),
        Field::new("offer_kind", DataType::Utf8, false),
        Field::new("product", DataType::Utf8, true),
        Field::new("acceptance", DataType::Float64, false),
        Field::new("value", DataType::Float64, false),
        Field::new("cost", DataType::Float64, false),
        Field::new("expected_value", DataType::Float64, false),
        Field::new("reason_zh", DataType::Utf8, false),
        Field::new("reason_en", DataType::Utf8, false),
    ]))
}

fn nbo_batch(rows: &Rows, offers: &[NboRow]) -> Result<RecordBatch> {
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from_iter_values(offers.iter().map(|o| rows.id[o.row].unwrap_or(0)))),
        Arc::new(StringArray::from_iter(offers.iter().map(|o| text(&rows.branch, o.row)))),
        Arc::new(StringArray::from_iter_values(offers.iter().map(|o| o.arbitrated.channel.as_str()))),
        Arc::new(UInt32Array::from_iter_values(offers.iter().map(|o| o.arbitrated.priority))),
        Arc::new(StringArray::from_iter_values(offers.iter().map(|o| o.offer_id.as_str()))),
        Arc::new(StringArray::from_iter_values(offers.iter().map(|o| o.kind.as_str()))),
        Arc::new(StringArray::from_iter(offers.iter().map(|o| o.product.as_deref()))),
        Arc::new(Float64Array::from_iter_values(offers.iter().map(|o| o.arbitrated.acceptance))),
        Arc::new(Float64Array::from_iter_values(offers.iter().map(|o| o.arbitrated.value))),
        Arc::new(Float64Array::from_iter_values(offers.iter().map(|o| o.arbitrated.cost))),
        Arc::new(Float64Array::from_iter_values(offers.iter().map(|o| o.arbitrated.expected_value))),
        Arc::new(StringArray::from_iter_values(offers.iter().map(|o| &*o.reason_zh))),
        Arc::new(StringArray::from_iter_values(offers.iter().map(|o| &*o.reason_en))),
    ];
    Ok(RecordBatch::try_new(nbo_schema(), columns)?)
}

/// The offers step across the subscriber ranges of a run: [`OffersRun::fit_range`] on each
/// range and [`OffersRun::add_range`] in range order (plan and data fit written at once,
/// device needs and holdings kept), then
/// [`OffersRun::settle`] once (the pool shared out across all branches in value order, the
/// cross-sell rules mined over everyone), then [`OffersRun::offers`] on each range.
pub(crate) struct OffersRun {
    fitter: RangeFitter,
    /// Plan changes backed by a service task, by row of the run.
    plan_offers: Vec<PlanChange>,
    /// Data packs that save money, by row of the run.
    pack_offers: Vec<PackSaving>,
    /// Subscribers who need a device.
    devices: Vec<DeviceSubscriber>,
    /// Per row of the run: products held at the as-of month end, group member, left.
    holdings: Vec<Holdings>,
    in_group: Vec<bool>,
    left: Vec<bool>,
    /// The plan- and data-fit counts of [`OffersSummary`], in its order.
    counts: [u64; 8],
}

/// Plan and data fit of one range, not yet added to the run.
pub(crate) struct RangeFit {
    fitted: Vec<Fitted>,
    /// Where each features batch's rows start within the range.
    offsets: Vec<usize>,
    left: Vec<bool>,
    holdings: Vec<Holdings>,
    in_group: Vec<bool>,
}

/// What the offers of every range share: the pool's reservations and the rules.
pub(crate) struct Settled {
    reserved: HashMap<i64, DeviceAllocation>,
    device_needs: u64,
    rules: Vec<RuleRow>,
    cross: nbo::CrossSellRules,
    base_rates: [f64; 9],
    policy: NboPolicy,
}

/// The catalogs and the window's months: all that fitting one range reads.
#[derive(Clone)]
pub(crate) struct RangeFitter {
    cat: Arc<Catalogs>,
    months: Vec<Month>,
}

impl RangeFitter {
    /// Plan and data fit of one range's features (sorted by subscriber, carrying value and
    /// tier); `ctx` holds that range of the warehouse. Nothing of the run changes: ranges
    /// may be fitted side by side, and [`OffersRun::add_range`] adds them in order.
    pub(crate) async fn fit_range(
        &self,
        ctx: &SessionContext,
        window: Window,
        features: &[RecordBatch],
        cfg: &OffersConfig,
    ) -> Result<RangeFit> {
        let rows: Vec<Rows> = features.par_iter().map(Rows::read).collect::<Result<_>>()?;
        let ids: Vec<i64> = rows.iter().flat_map(|r| r.id.iter().map(|v| v.unwrap_or(i64::MIN))).collect();
        if ids.windows(2).any(|w| w[0] >= w[1]) {
            return Err(bad("features", "rows are not sorted by subscriber_id".into()));
        }
        let inputs = read_inputs(ctx, window, &ids).await?;
        let (offsets, _) = batch_offsets(&rows);
        let (cat, months) = (&self.cat, &self.months);
        let fitted: Vec<Fitted> = rows
            .par_iter()
            .zip(offsets.par_iter())
            .map(|(r, &o)| Fitted::new(r, first_pass(r, &inputs[o..o + r.id.len()], months, cat, cfg)))
            .collect::<Result<_>>()?;
        Ok(RangeFit {
            fitted,
            offsets,
            left: rows.iter().flat_map(|r| r.left.iter().map(|l| l.unwrap_or(false))).collect(),
            holdings: inputs.iter().map(|i| i.holdings).collect(),
            in_group: inputs.iter().map(|i| i.in_group).collect(),
        })
    }
}

impl OffersRun {
    /// Reads the catalogs (plans, offers valid in the window, devices, pools) of warehouse
    /// `root`, with room for what is kept of `subscribers` rows.
    pub(crate) async fn new(root: &Path, window: Window, subscribers: usize) -> Result<OffersRun> {
        let ctx = warehouse_context(root, window, None, None, false).await?;
        Ok(OffersRun {
            fitter: RangeFitter { cat: Arc::new(read_catalogs(&ctx, window).await?), months: window.months() },
            plan_offers: Vec::new(),
            pack_offers: Vec::new(),
            devices: Vec::new(),
            holdings: Vec::with_capacity(subscribers),
            in_group: Vec::with_capacity(subscribers),
            left: Vec::with_capacity(subscribers),
            counts: [0; 8],
        })
    }

    /// What fitting a range needs, for the threads computing ranges while the run adds
    /// those before.
    pub(crate) fn fitter(&self) -> RangeFitter {
        self.fitter.clone()
    }

    /// Adds a range's fit, whose rows follow those of the ranges added before: the fit tables
    /// go to `plan_fit` and `data_fit`, what the offers need is kept.
    pub(crate) fn add_range(
        &mut self,
        fit: RangeFit,
        plan_fit: &mut TableWriter,
        data_fit: &mut TableWriter,
    ) -> Result<()> {
        let base = self.holdings.len();
        for (f, &o) in fit.fitted.into_iter().zip(&fit.offsets) {
            plan_fit.write(&f.plan_fit)?;
            data_fit.write(&f.data_fit)?;
            for (s, c) in self.counts.iter_mut().zip(f.counts) {
                *s += c;
            }
            let global = base + o;
            self.plan_offers
                .extend(f.plan_offers.into_iter().map(|(i, p, over, saving)| (global + i, p, over, saving)));
            self.pack_offers
                .extend(f.pack_offers.into_iter().map(|(i, p, m, app, saving)| (global + i, p, m, app, saving)));
            self.devices.extend(f.devices);
        }
        self.left.extend(fit.left);
        self.holdings.extend(fit.holdings);
        self.in_group.extend(fit.in_group);
        Ok(())
    }

    /// Shares the pool out across all branches' subscribers at once, in value order (the
    /// rows of device_fit.parquet, returned beside), and mines the cross-sell rules over
    /// everyone still on the network.
    pub(crate) fn settle(&mut self, cfg: &OffersConfig) -> Result<(Settled, RecordBatch)> {
        // The pool and the rules share nothing: each on a core of its own.
        let (allocations, mined) = rayon::join(
            || allocate(&cfg.device_rules(), &self.fitter.cat.pool, &self.devices),
            || {
                let population: Vec<Holdings> =
                    self.holdings.iter().zip(&self.left).filter(|(_, left)| !**left).map(|(h, _)| *h).collect();
                cross_sell_rules(&population, cfg)
            },
        );
        let device_fit = device_fit_batch(&allocations)?;
        let device_needs = allocations.len() as u64;
        let reserved: HashMap<i64, DeviceAllocation> =
            allocations.into_iter().filter(|a| a.reserved.is_some()).map(|a| (a.subscriber_id, a)).collect();
        self.devices = Vec::new();
        let (rules, cross, base_rates) = mined?;
        let cross = nbo::CrossSellRules::new(&cross);
        Ok((Settled { reserved, device_needs, rules, cross, base_rates, policy: cfg.nbo_policy() }, device_fit))
    }

    /// The feature columns [`OffersRun::offers`] reads.
    pub(crate) fn columns_read() -> &'static [&'static str] {
        &Rows::COLUMNS
    }

    /// The arbitrated offers of one range's features (whose first row is row `first_row` of
    /// the run; `churn_risk`: one likelihood per row of the range): the nbo table's batches and
    /// the subscribers offered something.
    pub(crate) fn offers(
        &self,
        settled: &Settled,
        features: &[RecordBatch],
        first_row: usize,
        churn_risk: &[f64],
        cfg: &OffersConfig,
    ) -> Result<(Vec<RecordBatch>, u64)> {
        let rows: Vec<Rows> = features.par_iter().map(Rows::read).collect::<Result<_>>()?;
        let (offsets, at) = batch_offsets(&rows);
        if first_row + at > self.holdings.len() || churn_risk.len() != at {
            return Err(bad("features", "the second pass does not match the first".into()));
        }
        let batches: Vec<(RecordBatch, u64)> = rows
            .par_iter()
            .zip(offsets.par_iter())
            .map(|(r, &o)| {
                let start = first_row + o;
                let end = start + r.id.len();
                let plans = &self.plan_offers[self.plan_offers.partition_point(|p| p.0 < start)
                    ..self.plan_offers.partition_point(|p| p.0 < end)];
                let packs = &self.pack_offers[self.pack_offers.partition_point(|p| p.0 < start)
                    ..self.pack_offers.partition_point(|p| p.0 < end)];
                let written = offers_of_batch(
                    r,
                    start,
                    &self.holdings[start..end],
                    &self.in_group[start..end],
                    &churn_risk[o..o + r.id.len()],
                    plans,
                    packs,
                    &self.fitter.cat,
                    settled,
                    cfg,
                );
                // A subscriber's offers are written one after another.
                let subscribers = written.chunk_by(|a, b| a.row == b.row).count() as u64;
                Ok((nbo_batch(r, &written)?, subscribers))
            })
            .collect::<Result<_>>()?;
        let subscribers = batches.iter().map(|b| b.1).sum();
        Ok((batches.into_iter().map(|b| b.0).collect(), subscribers))
    }

    /// The step's counts, once every range has its offers: `offers`, `subscribers` and
    /// `expected_value` are their totals.
    pub(crate) fn summary(
        &self,
        settled: &Settled,
        offers: u64,
        subscribers: u64,
        expected_value: f64,
        cfg: &OffersConfig,
    ) -> FitOutput {
        let c = self.counts;
        let summary = OffersSummary {
            plan_fit_assessed: c[0],
            persistent_over_use: c[1],
            persistent_under_use: c[2],
            warm_reminders: c[3],
            alerts: c[4],
            plan_changes_recommended: c[5],
            data_over_quota: c[6],
            data_pack_recommended: c[7],
            device_needs: settled.device_needs,
            devices_reserved: settled.reserved.len() as u64,
            pool_units: self.fitter.cat.pool.iter().map(|p| u64::from(p.stock)).sum(),
            rules: settled.rules.len() as u64,
            offers,
            subscribers_with_offer: subscribers,
            expected_value,
            plan_policy: format!("{:?}", cfg.plan_policy),
        };
        FitOutput { rules: settled.rules.clone(), summary }
    }
}

/// Candidates and arbitration for every subscriber of one features batch, whose first row
/// is row `first_row` of the run (`plan_offers` and `pack_offers` are the batch's, by row of
/// the run).
#[allow(clippy::too_many_arguments)]
fn offers_of_batch(
    rows: &Rows,
    first_row: usize,
    holdings: &[Holdings],
    in_group: &[bool],
    churn_risk: &[f64],
    plan_offers: &[PlanChange],
    pack_offers: &[PackSaving],
    cat: &Catalogs,
    settled: &Settled,
    cfg: &OffersConfig,
) -> Vec<NboRow> {
    let n = rows.id.len();
    let mut plan_offer: Vec<Option<PlanFitOffer>> = vec![None; n];
    for (i, plan_id, over_use, monthly_saving) in plan_offers {
        plan_offer[*i - first_row] = Some(PlanFitOffer {
            offer_id: format!("PLAN:{plan_id}"),
            plan_name: cat.plan_index.get(plan_id).map_or(plan_id.as_str(), |&k| cat.plans[k].plan_name.as_str()),
            over_use: *over_use,
            monthly_saving: *monthly_saving,
        });
    }
    let mut pack_offer: Vec<Option<DataPackOffer>> = vec![None; n];
    for (i, pack, months_over, top_app, monthly_saving) in pack_offers {
        if let Some(offer) = cat.offers.offer(pack) {
            pack_offer[*i - first_row] = Some(DataPackOffer {
                offer,
                months_over: *months_over,
                top_app: *top_app,
                monthly_saving: *monthly_saving,
            });
        }
    }
    let mut out = Vec::new();
    let mut candidates = Vec::new();
    let mut shared: FxHashMap<nbo::SharedReasonKey, (Arc<str>, Arc<str>)> = FxHashMap::default();
    for i in 0..n {
        let Some(id) = rows.id[i] else { continue };
        if rows.left[i].unwrap_or(false) {
            continue;
        }
        let device_offer = settled.reserved.get(&id).and_then(|a| {
            let (model, tier, price) = a.reserved.as_ref()?;
            Some(DeviceOffer {
                device_model: model.as_str(),
                tier_zh: tier.name_zh(),
                retention_price: *price,
                tenure_months: rows.tenure(i),
            })
        });
        let profile = Profile {
            arpu: rows.arpu[i].unwrap_or(0.0),
            holdings: holdings[i],
            family_size: rows.family_size[i],
            in_group: in_group[i],
            premium: rows.premium(i),
        };
        nbo::candidates(
            &settled.policy,
            &profile,
            &cat.offers,
            &settled.cross,
            &settled.base_rates,
            plan_offer[i].as_ref(),
            pack_offer[i].as_ref(),
            device_offer.as_ref(),
            &mut candidates,
        );
        let c = &rows.consent;
        let standing = Standing {
            consent: Consent {
                sms: c[0][i].unwrap_or(false),
                call: c[1][i].unwrap_or(false),
                app_push: c[2][i].unwrap_or(false),
                do_not_disturb: c[3][i].unwrap_or(true),
            },
            churn_risk: churn_risk[i],
            value: rows.value[i].unwrap_or(0.0),
        };
        let mut chosen = nbo::arbitrate(&settled.policy, &candidates, &standing);
        chosen.sort_by_key(|a| a.priority);
        if cfg.max_channels > 0 {
            chosen.truncate(cfg.max_channels);
        }
        // The same offer often wins several channels: its reasons are written once. Most
        // reasons read the same for everyone given them: those are written once a batch.
        let mut reasons: Vec<(usize, Arc<str>, Arc<str>)> = Vec::new();
        for a in chosen {
            let c = &candidates[a.candidate];
            let (zh, en) = match (c.reason.shared_key(), reasons.iter().find(|r| r.0 == a.candidate)) {
                (Some(key), _) => shared.entry(key).or_insert_with(|| written(&c.reason)).clone(),
                (None, Some(r)) => (r.1.clone(), r.2.clone()),
                (None, None) => {
                    let (zh, en) = written(&c.reason);
                    reasons.push((a.candidate, zh.clone(), en.clone()));
                    (zh, en)
                }
            };
            out.push(NboRow {
                row: i,
                offer_id: c.offer_id.to_string(),
                kind: c.kind,
                product: c.product.map(str::to_owned),
                reason_zh: zh,
                reason_en: en,
                arbitrated: a,
            });
        }
    }
    out
}
