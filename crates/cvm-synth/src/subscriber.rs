//! One subscriber's whole history: profile, holdings, device, every month's usage and bill,
//! status events, sales, and the planted truth about them.
//!
//! Each subscriber draws from its own ChaCha8 stream seeded by (seed, subscriber index), so
//! its rows are the same whichever thread generates it and whatever else is generated.
//! Behaviour that spans subscribers (bulk activations by one agent) is decided per block of
//! 64 consecutive subscribers from a stream seeded by (seed, block index), which every
//! member of the block recomputes on its own.

use cvm_domain::Month;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

use crate::catalog::{AREA, Brand, Catalog, FEATURE_PHONES, Plan};
use crate::pricing::bill;
use crate::sink::{Rows, V, write_fen};
use crate::{TAG_BLOCK, TAG_SUBSCRIBER, seed_bytes};

/// Subscribers per block for block-level planted behaviour.
pub(crate) const BLOCK: u64 = 64;

/// Index of each per-subscriber output table in [`ChunkOut::tables`].
pub(crate) const SUBSCRIBERS: usize = 0;
pub(crate) const HOLDINGS: usize = 1;
pub(crate) const USAGE: usize = 2;
pub(crate) const EVENTS: usize = 3;
pub(crate) const SALES: usize = 4;
/// Names of the per-subscriber tables, in [`ChunkOut::tables`] order.
pub(crate) const SUBSCRIBER_TABLES: [&str; 5] = ["subscribers", "holdings", "usage", "events", "sales"];

/// Index of each truth file in [`ChunkOut::truth`].
pub(crate) const T_CHURN: usize = 0;
pub(crate) const T_DUAL_STOP: usize = 1;
pub(crate) const T_MISMATCH: usize = 2;
pub(crate) const T_FRAUD: usize = 3;
/// Truth file names and headers, in [`ChunkOut::truth`] order.
pub(crate) const TRUTH_FILES: [(&str, &str); 4] = [
    ("churn.csv", "subscriber_id,month,churn_probability,churned_next_month,churn_kind,reason,next_month_in_data"),
    ("dual_stop_churners.csv", "subscriber_id,dual_stop_date,close_date,dual_stop_days,churn_month"),
    (
        "plan_mismatch.csv",
        "subscriber_id,current_plan,best_plan,current_avg_bill,best_avg_bill,current_3m_bill,best_3m_bill,direction,planted",
    ),
    ("fraud.csv", "sale_id,agent_id,fraud_kind"),
];

/// Everything one chunk of subscribers produced.
pub(crate) struct ChunkOut {
    /// Per-subscriber tables, in [`SUBSCRIBER_TABLES`] order.
    pub tables: Vec<Rows>,
    /// Truth files (always CSV), in [`TRUTH_FILES`] order.
    pub truth: Vec<Rows>,
    /// Rows per window month of usage, events and sales.
    pub by_month: [Vec<u64>; 3],
    /// Subscribers generated.
    pub subscribers: u64,
}

/// Read-only context shared by all workers.
pub(crate) struct Ctx<'a> {
    pub cat: &'a Catalog,
    pub seed: u64,
    pub n: u64,
    pub first: Month,
    pub last: Month,
    pub months: usize,
    pub first_day: i32,
    pub last_day: i32,
}

/// The engagement-driven reasons a month's churn probability is raised or lowered.
const BASE_LOGIT: f64 = -4.9;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Leave,
    Switch,
    Loss,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Leave => "leave_network",
            Kind::Switch => "internal_switch",
            Kind::Loss => "revenue_loss",
        }
    }
}

#[derive(Clone, Copy)]
enum Detail {
    Text(&'static str),
    Fen(i64),
}

#[derive(Clone, Copy)]
struct Ev {
    day: i32,
    kind: &'static str,
    detail: Detail,
}

#[derive(Clone)]
struct Sale<'a> {
    day: i32,
    agent: &'a str,
    channel: &'static str,
    kind: &'static str,
    plan: Option<&'static str>,
    device: Option<&'static str>,
    commission: i64,
    subsidy: i64,
    fraud: [Option<&'static str>; 2],
}

#[derive(Clone, Copy)]
struct Holding {
    product: &'static str,
    speed: Option<i64>,
    start: i32,
    end: Option<i32>,
    /// Monthly fee of a data pack, fen (counts in revenue while held).
    pack_fee: i64,
}

/// Scratch buffers reused across the subscribers of a chunk.
#[derive(Default)]
pub(crate) struct Scratch<'a> {
    events: Vec<Ev>,
    sales: Vec<Sale<'a>>,
    holdings: Vec<Holding>,
    text: Vec<u8>,
    tags: String,
    name: String,
    bulk: Option<(u64, Option<(u64, Bulk<'a>)>)>,
}

/// 20 prefixes of China Mobile number ranges.
const PREFIXES: [u64; 20] =
    [134, 135, 136, 137, 138, 139, 147, 150, 151, 152, 157, 158, 159, 172, 178, 182, 183, 184, 187, 188];

/// The `g`-th mobile number: a bijection from `0..2e9` to 11-digit numbers, so numbers never
/// repeat (original numbers use `g = index`, changed numbers `g = n + index`).
pub(crate) fn msisdn(g: u64) -> [u8; 11] {
    let p = g % 20;
    let prefix = PREFIXES[p as usize];
    // Within one prefix, q -> q * 73_939_133 + offset is a bijection modulo 10^8 (the
    // multiplier is odd and not a multiple of 5), so numbers look scattered yet never repeat.
    let q = (g / 20) % 100_000_000;
    let body = (q * 73_939_133 + 12_345_678 + p * 7_654_321) % 100_000_000;
    let n = prefix * 100_000_000 + body;
    let mut out = [b'0'; 11];
    let mut x = n;
    for i in (0..11).rev() {
        out[i] = b'0' + (x % 10) as u8;
        x /= 10;
    }
    out
}

fn normal<R: Rng>(rng: &mut R) -> f64 {
    rng.sample::<f64, _>(StandardNormal)
}

fn day_in<R: Rng>(rng: &mut R, lo: i32, hi: i32) -> i32 {
    if hi <= lo { lo } else { rng.random_range(lo..=hi) }
}

fn month_of(day: i32) -> Month {
    cvm_domain::Date::from_days_since_epoch(day).month()
}

const COMPLAINT_TOPICS: &[&str] = &[
    "网络信号差",
    "资费争议",
    "流量扣费疑问",
    "营业厅服务态度",
    "宽带故障",
    "营销短信骚扰",
    "话费账单异议",
    "套餐变更未生效",
];
const LIFESTYLE: [&str; 8] = ["video", "gaming", "music", "social", "travel", "sports", "shopping", "business"];
const DENOMS: [i64; 6] = [1000, 2000, 3000, 5000, 10_000, 20_000];

/// One month's planted churn factors: name and contribution to the log-odds.
struct Factors {
    items: [(&'static str, f64); 16],
    len: usize,
}

impl Factors {
    fn new() -> Factors {
        Factors { items: [("", 0.0); 16], len: 0 }
    }
    fn add(&mut self, on: bool, name: &'static str, w: f64) {
        if on {
            self.items[self.len] = (name, w);
            self.len += 1;
        }
    }
    fn logit(&self) -> f64 {
        BASE_LOGIT + self.items[..self.len].iter().map(|x| x.1).sum::<f64>()
    }
    /// The up to three largest positive factors, largest first, `;`-separated.
    fn reason(&mut self, out: &mut Vec<u8>) {
        let items = &mut self.items[..self.len];
        items.sort_by(|a, b| b.1.total_cmp(&a.1));
        for (n, (name, w)) in items.iter().enumerate() {
            if *w <= 0.0 || n == 3 {
                break;
            }
            if n > 0 {
                out.push(b';');
            }
            out.extend_from_slice(name.as_bytes());
        }
    }
}

/// Planted bulk activation of a block: one agent opens many SIMs on one day.
#[derive(Clone, Copy)]
struct Bulk<'a> {
    day: i32,
    branch: usize,
    agent: &'a str,
}

impl<'a> Ctx<'a> {
    /// The bulk activation that subscriber `i` is part of, if any; `cache` keeps the
    /// decision of the last block seen (consecutive subscribers share a block).
    fn bulk_of(&self, i: u64, cache: &mut Option<(u64, Option<(u64, Bulk<'a>)>)>) -> Option<Bulk<'a>> {
        let b = i / BLOCK;
        if cache.as_ref().is_none_or(|c| c.0 != b) {
            let mut rng = ChaCha8Rng::from_seed(seed_bytes(self.seed, b, TAG_BLOCK));
            let planted = if rng.random_bool(0.004) {
                let size = rng.random_range(12..=40);
                let branch = self.pick_branch(&mut rng);
                let stores = &self.cat.branches[branch].stores;
                let agent = stores[rng.random_range(0..stores.len())].as_str();
                let day = day_in(&mut rng, self.first_day, self.last_day);
                Some((size, Bulk { day, branch, agent }))
            } else {
                None
            };
            *cache = Some((b, planted));
        }
        match cache {
            Some((_, Some((size, bulk)))) if i % BLOCK < *size => Some(*bulk),
            _ => None,
        }
    }

    fn pick_branch<R: Rng>(&self, rng: &mut R) -> usize {
        let cum = &self.cat.branch_cum;
        let total = cum[cum.len() - 1];
        let u = rng.random::<f64>() * total;
        cum.partition_point(|&c| c <= u).min(cum.len() - 1)
    }

    fn pick_agent<R: Rng>(&self, rng: &mut R, branch: usize, channel: &'static str) -> &'a str {
        let b = &self.cat.branches[branch];
        let staff = |v: &Vec<usize>, rng: &mut R| -> Option<&'a str> {
            if v.is_empty() { None } else { Some(self.cat.staff[v[rng.random_range(0..v.len())]].id.as_str()) }
        };
        let fallback = self.cat.staff[b.account_managers[0]].id.as_str();
        match channel {
            "business_hall" => staff(&b.hall_agents, rng).unwrap_or(fallback),
            "agent_store" => b.stores[rng.random_range(0..b.stores.len())].as_str(),
            "online" => {
                if rng.random_bool(0.6) {
                    "EC-APP"
                } else {
                    "EC-WEB"
                }
            }
            "telemarketing" => staff(&self.cat.telemarketers, rng).unwrap_or(fallback),
            _ => staff(&b.marketers, rng).unwrap_or(fallback),
        }
    }

    fn plan(&self, id: &str) -> &'a Plan {
        // The catalog is small and ids are known: a linear scan is fast enough.
        self.cat.plans.iter().find(|p| p.id == id).unwrap_or(&self.cat.plans[0])
    }
}

/// Generates subscriber `i` (0-based; subscriber_id = i + 1) into `out`.
pub(crate) fn generate_one<'a>(ctx: &Ctx<'a>, i: u64, out: &mut ChunkOut, s: &mut Scratch<'a>) {
    let cat = ctx.cat;
    let id = i as i64 + 1;
    let mut rng = ChaCha8Rng::from_seed(seed_bytes(ctx.seed, i, TAG_SUBSCRIBER));
    s.events.clear();
    s.sales.clear();
    s.holdings.clear();
    let months = ctx.months as i32;
    let last_year = ctx.last.year();
    let bulk = ctx.bulk_of(i, &mut s.bulk);

    // ---- Profile -------------------------------------------------------------------
    let mut brand = if bulk.is_some() {
        Brand::Mass
    } else {
        match rng.random::<f64>() {
            x if x < 0.55 => Brand::Mass,
            x if x < 0.80 => Brand::Youth,
            _ => Brand::HighEnd,
        }
    };
    let z = normal(&mut rng);
    let age: i32 = match brand {
        Brand::Youth => (19.0 + 4.5 * z).clamp(13.0, 35.0),
        Brand::Mass => (43.0 + 15.0 * z).clamp(16.0, 85.0),
        Brand::HighEnd => (42.0 + 9.0 * z).clamp(24.0, 70.0),
    } as i32;
    let branch = match &bulk {
        Some(b) => b.branch,
        None => ctx.pick_branch(&mut rng),
    };
    let area = cat.branches[branch].area;
    let new_share = (0.012 * months as f64).min(0.3);
    let first_idx = ctx.first;
    let joined_in_window = bulk.is_some() || rng.random_bool(new_share);
    let join: i32 = if let Some(b) = &bulk {
        b.day
    } else if joined_in_window {
        let m = first_idx.plus(rng.random_range(0..months));
        let d = day_in(&mut rng, m.first_day().days_since_epoch(), m.last_day().days_since_epoch());
        d.min(ctx.last_day)
    } else {
        // Tenure before the window: many short, a long middle, a tail of 10-25 years; the
        // high-end brand holds the longest-standing customers.
        let u = rng.random::<f64>();
        let (short, mid) = if brand == Brand::HighEnd { (0.2, 0.6) } else { (0.35, 0.75) };
        let mb = if u < short {
            rng.random_range(0..36)
        } else if u < mid {
            rng.random_range(36..120)
        } else {
            rng.random_range(120..300)
        };
        let cap = ((age - 15).max(0) * 12).max(0);
        let m = first_idx.plus(-1 - mb.min(cap));
        day_in(&mut rng, m.first_day().days_since_epoch(), m.last_day().days_since_epoch())
    };
    let join_month = month_of(join);
    let tenure_at_first = first_idx.months_since(join_month).max(0) as i64;
    let prepaid = bulk.is_some()
        || rng.random_bool(match brand {
            Brand::Mass => 0.88,
            Brand::Youth => 0.80,
            Brand::HighEnd => 0.10,
        });

    // Fraud roles of a new line (planted; see the README of truth/).
    let arbitrage = bulk.is_none() && joined_in_window && rng.random_bool(0.003);
    let idle = bulk.is_some() || arbitrage;
    let commission_agent = !idle && joined_in_window && rng.random_bool(0.02);
    let conflict = !idle && joined_in_window && rng.random_bool(0.006);

    // Plan: weighted among the brand's plans of this payment type the tenure allows;
    // long-tenured lines sometimes still sit on a retired plan.
    let old = tenure_at_first >= 60;
    let want_retired = old && rng.random_bool(0.2);
    let eligible = |p: &Plan, retired: bool| {
        p.brand == brand && p.prepaid == prepaid && p.on_sale != retired && p.min_tenure <= tenure_at_first
    };
    let retired_ok = want_retired && cat.plans.iter().any(|p| eligible(p, true));
    let plan_weight = |p: &Plan| -> f64 {
        if !eligible(p, retired_ok) {
            return 0.0;
        }
        let mut w = p.weight;
        if age >= 65 && p.id == "P06" {
            w *= 5.0;
        }
        if area == 2 && p.id == "P11" {
            w *= 3.0;
        }
        w
    };
    let mut plan: &Plan = if bulk.is_some() {
        ctx.plan(if i.is_multiple_of(2) { "P01" } else { "P02" })
    } else {
        let k = crate::catalog::pick_weighted(&mut rng, cat.plans.iter().map(plan_weight));
        &cat.plans[k]
    };
    let initial_plan = plan.id;

    let male = rng.random_bool(0.53);
    let gender = if rng.random_bool(0.03) {
        "unknown"
    } else if male {
        "male"
    } else {
        "female"
    };
    s.name.clear();
    let has_name = rng.random_bool(0.98);
    if has_name {
        s.name.push_str(&crate::catalog::chinese_name(&mut rng, male));
    }
    let birth_year = if rng.random_bool(0.96) { Some(last_year - age) } else { None };
    let occupation = if rng.random_bool(0.07) {
        "unknown"
    } else if age < 23 && rng.random_bool(0.75) {
        "student"
    } else if age >= 60 && rng.random_bool(0.6) {
        "retired"
    } else if area == 2 && rng.random_bool(0.45) {
        "farmer"
    } else {
        let opts: &[(&str, f64)] = match brand {
            Brand::HighEnd => &[
                ("office_worker", 4.0),
                ("civil_servant", 2.0),
                ("self_employed", 3.0),
                ("worker", 1.0),
                ("other", 0.5),
            ],
            _ => &[
                ("office_worker", 2.5),
                ("worker", 3.0),
                ("self_employed", 1.5),
                ("civil_servant", 0.5),
                ("other", 1.0),
            ],
        };
        opts[crate::catalog::pick_weighted(&mut rng, opts.iter().map(|o| o.1))].0
    };
    let income = if rng.random_bool(0.06) {
        "unknown"
    } else {
        let w: [f64; 5] = match brand {
            Brand::HighEnd => [0.2, 1.0, 3.0, 3.0, 2.0],
            Brand::Youth => [3.0, 3.0, 2.0, 0.7, 0.2],
            Brand::Mass => [3.5, 3.0, 2.0, 0.6, 0.1],
        };
        ["low", "lower_middle", "middle", "upper_middle", "high"]
            [crate::catalog::pick_weighted(&mut rng, w.into_iter())]
    };
    let family_size =
        if rng.random_bool(0.25) { None } else { Some(1 + rng.random_range(0..3) + rng.random_range(0..3)) };
    s.tags.clear();
    if rng.random_bool(0.6) {
        let w: [f64; 8] = match brand {
            Brand::Youth => [4.0, 4.0, 3.0, 4.0, 1.0, 1.5, 2.0, 0.2],
            Brand::HighEnd => [1.5, 0.5, 1.0, 2.0, 3.0, 1.5, 2.0, 4.0],
            Brand::Mass => [3.0, 1.0, 1.5, 3.0, 0.7, 0.7, 2.5, 0.5],
        };
        let k = rng.random_range(1..=3);
        let mut picked = [false; 8];
        for _ in 0..k {
            picked[crate::catalog::pick_weighted(&mut rng, w.into_iter())] = true;
        }
        for (t, on) in LIFESTYLE.iter().zip(picked) {
            if on {
                if !s.tags.is_empty() {
                    s.tags.push(';');
                }
                s.tags.push_str(t);
            }
        }
    }
    let consent_sms = rng.random_bool(0.75);
    let consent_call = rng.random_bool(0.45);
    let consent_app = rng.random_bool(if brand == Brand::Youth { 0.75 } else { 0.5 });
    let dnd = rng.random_bool(0.06);
    let fee_yuan = plan.tariff.monthly_fee / 100;
    let vip_level = if idle {
        "none"
    } else if brand == Brand::HighEnd && fee_yuan >= 388 && tenure_at_first >= 60 {
        "diamond"
    } else if fee_yuan >= 288 || (fee_yuan >= 188 && tenure_at_first >= 60) {
        "platinum"
    } else if fee_yuan >= 158 || (fee_yuan >= 88 && tenure_at_first >= 120) {
        "gold"
    } else if fee_yuan >= 88 || (fee_yuan >= 58 && tenure_at_first >= 36) {
        "silver"
    } else {
        "none"
    };
    let vip_gold = matches!(vip_level, "gold" | "platinum" | "diamond");
    let club = rng.random_bool(match vip_level {
        "none" => 0.02,
        "silver" => 0.15,
        _ => 0.4,
    });

    // ---- Holdings (every line holds `mobile`) ----------------------------------------
    let end_bound = ctx.last_day;
    s.holdings.push(Holding { product: "mobile", speed: None, start: join, end: None, pack_fee: 0 });
    // Products taken after joining: mostly before the window for old lines.
    let product_start = |rng: &mut ChaCha8Rng| -> i32 {
        if join < ctx.first_day && rng.random_bool(0.85) {
            day_in(rng, join, ctx.first_day - 1)
        } else {
            day_in(rng, join.max(ctx.first_day), end_bound)
        }
    };
    let mut has_bb = false;
    if !idle {
        let mut p_bb: f64 = [0.32, 0.24, 0.14][area] * if brand == Brand::HighEnd { 1.5 } else { 1.0 };
        if family_size.is_some_and(|f| f >= 3) {
            p_bb *= 1.3;
        }
        if rng.random_bool(p_bb.min(0.9)) {
            has_bb = true;
            let start = product_start(&mut rng);
            let speed = [100, 200, 300, 500][rng.random_range(0..4)];
            if rng.random_bool(0.35) && start < end_bound - 30 {
                // Upgraded to fibre later: the broadband row ends the day fibre starts.
                let fs = day_in(&mut rng, start + 30, end_bound);
                s.holdings.push(Holding {
                    product: "broadband",
                    speed: Some(speed),
                    start,
                    end: Some(fs),
                    pack_fee: 0,
                });
                let fspeed = if rng.random_bool(0.5) { 500 } else { 1000 };
                s.holdings.push(Holding { product: "fibre", speed: Some(fspeed), start: fs, end: None, pack_fee: 0 });
            } else {
                s.holdings.push(Holding { product: "broadband", speed: Some(speed), start, end: None, pack_fee: 0 });
            }
            if rng.random_bool(0.65) {
                let st = day_in(&mut rng, start, end_bound);
                s.holdings.push(Holding { product: "iptv", speed: None, start: st, end: None, pack_fee: 0 });
            }
        }
        if rng.random_bool(if has_bb { 0.3 } else { 0.06 }) {
            let st = product_start(&mut rng);
            s.holdings.push(Holding { product: "fixed_line", speed: None, start: st, end: None, pack_fee: 0 });
        }
    }
    let family = !idle && rng.random_bool(if family_size.is_some_and(|f| f >= 3) { 0.3 } else { 0.08 });
    if family {
        let st = product_start(&mut rng);
        s.holdings.push(Holding { product: "family_plan", speed: None, start: st, end: None, pack_fee: 0 });
    }
    let vpn =
        !idle && rng.random_bool(if matches!(occupation, "office_worker" | "civil_servant") { 0.3 } else { 0.04 });
    if vpn {
        let st = product_start(&mut rng);
        s.holdings.push(Holding { product: "group_vpn", speed: None, start: st, end: None, pack_fee: 0 });
    }
    if !idle && rng.random_bool(if brand == Brand::Youth { 0.35 } else { 0.15 }) {
        let st = product_start(&mut rng);
        let fee = [1000, 2000, 3000][rng.random_range(0..3)];
        let end =
            if rng.random_bool(0.3) && st + 30 < end_bound { Some(day_in(&mut rng, st + 30, end_bound)) } else { None };
        s.holdings.push(Holding { product: "data_pack", speed: None, start: st, end, pack_fee: fee });
    }
    if !idle && rng.random_bool(if brand == Brand::HighEnd { 0.1 } else { 0.01 }) {
        let st = product_start(&mut rng);
        s.holdings.push(Holding { product: "premium_number", speed: None, start: st, end: None, pack_fee: 0 });
    }
    let group_id = if vpn || (!idle && rng.random_bool(0.02)) {
        Some(1 + rng.random_range(0..(ctx.n / 200).max(10)))
    } else {
        None
    };

    // ---- Device --------------------------------------------------------------------
    let mut device: Option<usize> = None;
    let mut device_since = 0;
    if !idle && rng.random_bool(0.96) {
        let d = if age >= 65 && rng.random_bool(0.6) {
            let f = FEATURE_PHONES[rng.random_range(0..FEATURE_PHONES.len())];
            cat.devices.iter().position(|x| x.model == f).unwrap_or(0)
        } else {
            let w: [f64; 4] = match fee_yuan {
                188.. => [0.02, 0.1, 0.3, 0.58],
                88.. => [0.05, 0.2, 0.4, 0.35],
                38.. => [0.15, 0.4, 0.3, 0.15],
                _ => [0.45, 0.35, 0.15, 0.05],
            };
            let tier = crate::catalog::pick_weighted(&mut rng, w.into_iter());
            let n_t = cat.devices.iter().filter(|x| x.tier == tier).count();
            let k = rng.random_range(0..n_t);
            cat.devices.iter().enumerate().filter(|x| x.1.tier == tier).nth(k).map_or(0, |x| x.0)
        };
        let release = ctx.last.plus(-cat.devices[d].age_months).first_day().days_since_epoch();
        device = Some(d);
        device_since = day_in(&mut rng, release.max(join), end_bound);
    }

    // ---- Usage propensities ---------------------------------------------------------
    let lognorm = |rng: &mut ChaCha8Rng, median: f64, sigma: f64| median * (sigma * normal(rng)).exp();
    let mut r_voice = lognorm(&mut rng, 0.6, 0.35).clamp(0.02, 1.3);
    let mut r_data = lognorm(&mut rng, 0.6, 0.35).clamp(0.02, 1.3);
    let sms_base = lognorm(&mut rng, if brand == Brand::Youth { 12.0 } else { 8.0 }, 0.8).min(400.0);
    // Value-added services (彩铃, news, roaming, video memberships...) grow with the brand.
    let (p_vas, vas_median) = match brand {
        Brand::HighEnd => (0.7, 2500.0),
        Brand::Youth => (0.45, 600.0),
        Brand::Mass => (0.25, 300.0),
    };
    let mut vas =
        if rng.random_bool(p_vas) { lognorm(&mut rng, vas_median, 0.8).clamp(100.0, 20_000.0) as i64 } else { 0 };
    let base_days = if prepaid { rng.random_range(12..=31) } else { rng.random_range(26..=31) };
    // Planted plan mismatch: persistently over or under the plan in the last 3 months.
    let mismatch: Option<bool> =
        if !idle && months >= 3 && rng.random_bool(0.08) { Some(rng.random_bool(0.55)) } else { None };
    let (mm_voice, mm_data) = match mismatch {
        Some(true) => match rng.random_range(0..4) {
            0 => (rng.random_range(1.5..2.5), r_data),
            1 => (r_voice, rng.random_range(1.6..3.0)),
            _ => (rng.random_range(1.5..2.5), rng.random_range(1.6..3.0)),
        },
        Some(false) => (rng.random_range(0.03..0.22), rng.random_range(0.03..0.22)),
        None => (r_voice, r_data),
    };
    let mm_from = months - 3;
    let app_w: [f64; 4] = {
        let t = s.tags.as_str();
        let b = |tag: &str, w: f64| if t.contains(tag) { w } else { 1.0 };
        [2.5 * b("video", 1.6), 2.0 * b("social", 1.4), 0.6 * b("music", 2.0), 0.8 * b("gaming", 2.5)]
    };
    let app_total: f64 = app_w.iter().sum();
    let app_share_of_data = rng.random_range(0.55..0.9);
    let mut balance: i64 = if prepaid { rng.random_range(0..=2 * plan.tariff.monthly_fee.max(1000)) } else { 0 };

    // ---- Sales at joining -----------------------------------------------------------
    let act_channel: &'static str = if bulk.is_some() || arbitrage || commission_agent {
        "agent_store"
    } else {
        ["business_hall", "agent_store", "online", "telemarketing", "branch_visit"]
            [crate::catalog::pick_weighted(&mut rng, [35.0, 35.0, 15.0, 5.0, 10.0].into_iter())]
    };
    let act_agent: &str = if let Some(b) = &bulk {
        b.agent
    } else if arbitrage {
        &cat.arbitrage_agents[rng.random_range(0..cat.arbitrage_agents.len())]
    } else if commission_agent {
        &cat.commission_agents[rng.random_range(0..cat.commission_agents.len())]
    } else {
        ctx.pick_agent(&mut rng, branch, act_channel)
    };
    let act_commission = match act_channel {
        "agent_store" => rng.random_range(40..=120) * 100,
        "online" => rng.random_range(0..=10) * 100,
        _ => rng.random_range(10..=50) * 100,
    };
    let arb_device = if arbitrage {
        let hi: Vec<usize> = (0..cat.devices.len()).filter(|&d| cat.devices[d].tier >= 2).collect();
        Some(hi[rng.random_range(0..hi.len())])
    } else {
        None
    };

    // ---- Months ---------------------------------------------------------------------
    let mut closed: Option<i32> = None;
    let mut status = "active";
    let mut status_since = join;
    let mut msisdn_g = i;
    let mut pending: Option<(Kind, bool)> = None; // (kind, also change number)
    let mut carry_stop: Option<(bool, i32)> = None; // (dual, since) stop not resumed at month end
    let mut dis = false;
    let mut dis_k = 0;
    let mut engage = 1.0f64;
    let mut loss_factor = 1.0f64;
    let mut hist_rev: [i64; 2] = [-1, -1];
    let mut hist_use: [f64; 2] = [-1.0, -1.0];
    let mut churn_months: Vec<i32> = Vec::new(); // month index (k) when a churn was realised
    let mut plan_by_k: [Option<&Plan>; 3] = [None; 3];
    let mut use_by_k: [(i64, i64, i64); 3] = [(0, 0, 0); 3];
    let mut plan_changed_late = false;
    let mut dual_truth: Option<(i32, i32)> = None;
    for k in 0..months {
        let m = ctx.first.plus(k);
        let m_first = m.first_day().days_since_epoch();
        let m_last = m.last_day().days_since_epoch();
        let dim = m.days() as i32;
        if m_last < join {
            continue;
        }
        if closed.is_some() {
            break;
        }
        let start_day = join.max(m_first);
        let in_service = m_last - start_day + 1;
        let mut stopped_days = 0;
        let mut plan_changed_this_month = false;
        let tenure_m = m.months_since(join_month) as i64;

        // Effects of last month's churn decision, early this month.
        if let Some((kind, new_number)) = pending.take() {
            let d = day_in(&mut rng, start_day, (start_day + 9).min(m_last));
            let target = match kind {
                Kind::Switch => switch_target(cat, plan, tenure_m, &mut rng),
                _ => loss_target(cat, plan, tenure_m, &mut rng),
            };
            if let Some(t) = target {
                plan = t;
                brand = t.brand;
                s.events.push(Ev { day: d, kind: "plan_change", detail: Detail::Text(t.id) });
                plan_changed_this_month = true;
            }
            if new_number {
                msisdn_g = ctx.n + i;
                s.events.push(Ev { day: d, kind: "number_change", detail: Detail::Text("改号") });
            }
            match kind {
                Kind::Switch => {
                    r_voice *= 0.8;
                    r_data *= 0.8;
                    vas = 0;
                }
                _ => {
                    loss_factor *= 0.35;
                    vas = 0;
                    for h in s.holdings.iter_mut() {
                        if h.product == "data_pack" && h.end.is_none() && h.start <= d {
                            h.end = Some(d);
                        }
                    }
                }
            }
            dis = false;
            dis_k = 0;
            engage = 1.0;
        }
        // A stop carried over from last month is resumed early this month (复机).
        if let Some((_dual, _since)) = carry_stop.take() {
            let d = day_in(&mut rng, m_first, (m_first + 4).min(m_last));
            stopped_days += d - m_first;
            if prepaid {
                let amt = DENOMS[rng.random_range(1..5)];
                balance += amt;
                s.events.push(Ev { day: d, kind: "recharge", detail: Detail::Fen(amt) });
            }
            s.events.push(Ev { day: d, kind: "resume", detail: Detail::Text("缴费复机") });
            status = "active";
            status_since = d;
        }

        // Disengagement: a hidden state that erodes usage and raises stop/complaint odds.
        let held = |p: &str| {
            s.holdings.iter().any(|h| h.product == p && h.start <= m_last && h.end.is_none_or(|e| e >= m_first))
        };
        let convergent = held("broadband") || held("fibre");
        if !idle {
            if dis {
                if rng.random_bool(0.12) {
                    dis = false;
                    dis_k = 0;
                    engage = (engage + 0.5).min(1.0);
                } else {
                    dis_k += 1;
                    engage *= rng.random_range(0.6..0.85);
                }
            } else {
                let mut h = 0.018;
                if prepaid {
                    h *= 1.4;
                }
                if tenure_m < 12 {
                    h *= 1.6;
                }
                if plan.tariff.monthly_fee < 2000 {
                    h *= 1.3;
                }
                if vip_gold {
                    h *= 0.5;
                }
                if convergent {
                    h *= 0.6;
                }
                if rng.random_bool(h) {
                    dis = true;
                    dis_k = 0;
                    engage *= rng.random_range(0.6..0.85);
                }
            }
        }

        // Organic upsell (plan upgrade sold by an agent), billed from this month.
        let in_mm_window = mismatch.is_some() && k >= mm_from;
        if !idle
            && !dis
            && !plan_changed_this_month
            && !in_mm_window
            && rng.random_bool(0.005)
            && let Some(t) = upgrade_target(cat, plan, tenure_m, age, &mut rng)
        {
            let d = day_in(&mut rng, start_day, m_last);
            plan = t;
            brand = t.brand;
            plan_changed_this_month = true;
            s.events.push(Ev { day: d, kind: "plan_change", detail: Detail::Text(t.id) });
            let channel = ["telemarketing", "business_hall", "branch_visit", "online"]
                [crate::catalog::pick_weighted(&mut rng, [4.0, 3.0, 2.0, 1.0].into_iter())];
            let agent = ctx.pick_agent(&mut rng, branch, channel);
            s.sales.push(Sale {
                day: d,
                agent,
                channel,
                kind: "plan_change",
                plan: Some(t.id),
                device: None,
                commission: rng.random_range(10..=60) * 100,
                subsidy: 0,
                fraud: [None, None],
            });
        }
        if k >= mm_from && plan_changed_this_month {
            plan_changed_late = true;
        }

        // Precursors of churn.
        let complaint = !idle
            && rng.random_bool(
                0.008 + if dis { 0.10 } else { 0.0 } + if in_mm_window && mismatch == Some(true) { 0.04 } else { 0.0 },
            );
        if complaint {
            let d = day_in(&mut rng, start_day, m_last);
            let t = COMPLAINT_TOPICS[rng.random_range(0..COMPLAINT_TOPICS.len())];
            s.events.push(Ev { day: d, kind: "complaint", detail: Detail::Text(t) });
        }
        let mut single_stop = false;
        let mut dual_stop_day: Option<i32> = None;
        if prepaid && !idle {
            let p_dual = 0.0015
                + if dis && dis_k >= 2 {
                    0.30
                } else if dis && dis_k == 1 {
                    0.15
                } else {
                    0.0
                };
            if rng.random_bool(p_dual) && m_last - start_day >= 8 {
                let d1 = day_in(&mut rng, start_day, m_last - 8);
                let d2 = day_in(&mut rng, d1 + 3, (d1 + 10).min(m_last));
                s.events.push(Ev { day: d1, kind: "single_stop", detail: Detail::Text("余额不足") });
                s.events.push(Ev { day: d2, kind: "dual_stop", detail: Detail::Text("欠费双停") });
                single_stop = true;
                dual_stop_day = Some(d2);
                stopped_days += m_last - d1 + 1;
                status = "dual_stop";
                status_since = d2;
                carry_stop = Some((true, d2));
            } else if rng.random_bool(0.02 + if dis { 0.12 } else { 0.0 }) {
                let d1 = day_in(&mut rng, start_day, m_last);
                single_stop = true;
                s.events.push(Ev { day: d1, kind: "single_stop", detail: Detail::Text("余额不足") });
                let r = d1 + rng.random_range(1..=5);
                if r <= m_last {
                    stopped_days += r - d1;
                    let amt = DENOMS[rng.random_range(1..5)];
                    balance += amt;
                    s.events.push(Ev { day: r, kind: "recharge", detail: Detail::Fen(amt) });
                    s.events.push(Ev { day: r, kind: "resume", detail: Detail::Text("缴费复机") });
                    status = "active";
                    status_since = r;
                } else {
                    stopped_days += m_last - d1 + 1;
                    status = "single_stop";
                    status_since = d1;
                    carry_stop = Some((false, d1));
                }
            }
        }
        let port_out = !idle && rng.random_bool(0.0008 + if dis && dis_k >= 1 { 0.05 } else { 0.0 });
        if port_out {
            let d = day_in(&mut rng, start_day, m_last);
            s.events.push(Ev { day: d, kind: "port_out_request", detail: Detail::Text("携号转网授权码申请") });
        }

        // Usage and bill.
        let service_days = (in_service - stopped_days).max(0);
        let scale = engage * loss_factor * service_days as f64 / dim as f64;
        let (rv, rd) = if in_mm_window { (mm_voice, mm_data) } else { (r_voice, r_data) };
        let noise = |rng: &mut ChaCha8Rng| (0.12 * normal(rng)).exp();
        let t = &plan.tariff;
        let (voice, data, sms, days_active) = if idle {
            (0, 0, 0, 0)
        } else {
            let voice = (t.voice_min as f64 * rv * scale * noise(&mut rng)).round() as i64;
            let data = (t.data_mb as f64 * rd * scale * noise(&mut rng)).round() as i64;
            let sms_b = if in_mm_window && mismatch == Some(false) { 1.0 } else { sms_base };
            let sms = (sms_b * scale * noise(&mut rng)).round() as i64;
            let da = ((base_days as f64 * engage.sqrt() * service_days as f64 / dim as f64).round() as i32)
                .clamp(if service_days > 0 { 1 } else { 0 }, service_days.min(dim));
            (voice, data, sms, da as i64)
        };
        let mut apps = [0i64; 4];
        if data > 0 {
            for (a, w) in apps.iter_mut().zip(app_w) {
                let share = app_share_of_data * w / app_total * (0.15 * normal(&mut rng)).exp().min(1.2);
                *a = (data as f64 * share.min(0.95)).floor() as i64;
            }
            // Guarantee the split never exceeds the total, whatever the noise did.
            let mut sum: i64 = apps.iter().sum();
            let mut j = 0;
            while sum > data {
                let cut = (sum - data).min(apps[j]);
                apps[j] -= cut;
                sum -= cut;
                j += 1;
            }
        }
        let bill_fen = bill(t, voice, data, sms);
        let overage = bill_fen - t.monthly_fee;
        let packs: i64 = s
            .holdings
            .iter()
            .filter(|h| h.pack_fee > 0 && h.start <= m_last && h.end.is_none_or(|e| e >= m_first))
            .map(|h| h.pack_fee)
            .sum();
        let extras = if idle { 0 } else { packs + (vas as f64 * engage.min(1.0)) as i64 };
        let revenue = bill_fen + extras;

        // Prepaid top-ups: enough to cover the month plus a margin, unless stopped.
        let mut topups = 0;
        if prepaid && !idle && dual_stop_day.is_none() {
            let target = revenue + (revenue as f64 * rng.random_range(0.0..0.6)) as i64;
            while balance < target && topups < 6 {
                let need = target - balance;
                let mut amt = DENOMS.iter().copied().find(|&d| d >= need).unwrap_or(DENOMS[5]);
                if rng.random_bool(0.3) {
                    amt = DENOMS[rng.random_range(0..3)];
                }
                balance += amt;
                topups += 1;
                let d = day_in(&mut rng, start_day, m_last);
                s.events.push(Ev { day: d, kind: "recharge", detail: Detail::Fen(amt) });
            }
        }
        // The month's figures count every recharge event of the month, including the
        // top-ups that resumed a stopped line, so usage and events reconcile.
        let (mut rc_amount, mut rc_count) = (0i64, 0i64);
        for e in s.events.iter().filter(|e| e.kind == "recharge" && e.day >= m_first && e.day <= m_last) {
            if let Detail::Fen(a) = e.detail {
                rc_amount += a;
                rc_count += 1;
            }
        }
        if prepaid {
            balance -= revenue;
        }

        // Planted churn probability for next month, from this month's observables.
        let use_now = voice as f64 + data as f64 / 100.0;
        let mean_of = |xs: [f64; 2]| {
            let (sum, n) = xs.iter().filter(|&&x| x >= 0.0).fold((0.0, 0.0), |(s, n), &x| (s + x, n + 1.0));
            if n > 0.0 { Some(sum / n) } else { None }
        };
        let arpu_decline = mean_of(hist_rev.map(|r| r as f64)).is_some_and(|m| (revenue as f64) < 0.7 * m);
        let usage_drop = mean_of(hist_use).is_some_and(|m| use_now < 0.6 * m);
        let mut f = Factors::new();
        f.add(tenure_m < 6, "short_tenure", 1.0);
        f.add((6..12).contains(&tenure_m), "tenure_6_12", 0.5);
        f.add(prepaid, "prepaid", 0.5);
        f.add(arpu_decline, "arpu_decline", 0.9);
        f.add(usage_drop, "usage_drop", 0.7);
        f.add(complaint, "complaint", 0.9);
        f.add(single_stop && dual_stop_day.is_none(), "single_stop", 0.8);
        f.add(dual_stop_day.is_some(), "dual_stop", 2.4);
        f.add(port_out, "port_out_request", 2.8);
        f.add(revenue < 2000 && !idle, "low_value", 0.4);
        f.add(idle, "idle_sim", 1.5);
        f.add(commission_agent && tenure_m <= 1, "commission_agent", 3.0);
        f.add(convergent, "convergent", -0.6);
        f.add(held("family_plan"), "family_plan", -0.3);
        f.add(held("group_vpn"), "group_vpn", -0.3);
        f.add(vip_gold, "vip", -0.6);
        f.add(club, "club", -0.3);
        let p = 1.0 / (1.0 + (-f.logit()).exp());
        let churn = rng.random::<f64>() < p;
        let kind = if churn {
            Some(choose_kind(cat, plan, brand, prepaid, idle, dual_stop_day.is_some() || port_out, tenure_m, &mut rng))
        } else {
            None
        };
        let next_in_data = k + 1 < months;

        // Rows of the month.
        out.tables[USAGE].push(&[
            V::Int(id),
            V::Month(m),
            V::Fen(revenue),
            V::Int(voice),
            V::Int(data),
            V::Int(sms),
            V::Fen(rc_amount),
            V::Int(rc_count),
            V::Fen(overage),
            V::Int(days_active),
            V::Int(apps[0]),
            V::Int(apps[1]),
            V::Int(apps[2]),
            V::Int(apps[3]),
        ]);
        out.by_month[0][k as usize] += 1;
        s.text.clear();
        f.reason(&mut s.text);
        let reason = std::str::from_utf8(&s.text).unwrap_or("");
        let tr = &mut out.truth[T_CHURN];
        tr.push(&[
            V::Int(id),
            V::Month(m),
            V::Str(prob_text(p, &mut [0u8; 8])),
            V::Bool(churn),
            kind.map_or(V::Null, |k| V::Str(k.as_str())),
            V::Str(reason),
            V::Bool(next_in_data),
        ]);

        if k >= mm_from {
            let j = (k - mm_from) as usize;
            plan_by_k[j] = Some(plan);
            use_by_k[j] = (voice, data, sms);
        }
        hist_rev = [hist_rev[1], revenue];
        hist_use = [hist_use[1], use_now];

        // Carry the decision into next month.
        if let (Some(kind), true) = (kind, next_in_data) {
            churn_months.push(k + 1);
            let nm = m.plus(1);
            let (nf, nl) = (nm.first_day().days_since_epoch(), nm.last_day().days_since_epoch());
            match kind {
                Kind::Leave => {
                    let close = match dual_stop_day {
                        Some(d2) => day_in(&mut rng, (d2 + 7).max(nf), (d2 + 7).max(nf) + 12).min(nl),
                        None => day_in(&mut rng, nf, nf + 19),
                    };
                    if let Some(d2) = dual_stop_day {
                        dual_truth = Some((d2, close));
                    }
                    closed = Some(close);
                    status = "closed";
                    status_since = close;
                    carry_stop = None;
                }
                Kind::Switch => pending = Some((kind, rng.random_bool(0.5))),
                Kind::Loss => pending = Some((kind, false)),
            }
        }
    }

    // ---- After the months: truncate to closure, write the line's rows ---------------
    let line_end = closed.unwrap_or(ctx.last_day);
    if let Some(c) = closed {
        s.holdings.retain(|h| h.start <= c);
        for h in s.holdings.iter_mut() {
            if h.end.is_none_or(|e| e > c) {
                h.end = Some(c);
            }
        }
        if device.is_some() && device_since > c {
            let d = device.unwrap_or(0);
            let release = ctx.last.plus(-cat.devices[d].age_months).first_day().days_since_epoch();
            if release.max(join) <= c {
                device_since = day_in(&mut rng, release.max(join), c);
            } else {
                device = None;
            }
        }
    }

    // Sales: activation (and planted duplicates/handsets), handset purchases, upsells.
    if joined_in_window {
        let fraud0 = if bulk.is_some() {
            Some("bulk_activation")
        } else if arbitrage {
            Some("handset_arbitrage")
        } else if conflict {
            Some("channel_conflict")
        } else {
            None
        };
        s.sales.push(Sale {
            day: join,
            agent: act_agent,
            channel: act_channel,
            kind: "activation",
            plan: Some(initial_plan),
            device: None,
            commission: act_commission,
            subsidy: 0,
            fraud: [fraud0, None],
        });
        if conflict {
            let other = ["business_hall", "agent_store", "online", "telemarketing", "branch_visit"]
                .into_iter()
                .filter(|c| *c != act_channel)
                .nth(rng.random_range(0..4))
                .unwrap_or("online");
            let agent = ctx.pick_agent(&mut rng, branch, other);
            let day = day_in(&mut rng, join, (join + 5).min(line_end));
            let first_plan = s.sales[s.sales.len() - 1].plan;
            s.sales.push(Sale {
                day,
                agent,
                channel: other,
                kind: "activation",
                plan: first_plan,
                device: None,
                commission: rng.random_range(20..=80) * 100,
                subsidy: 0,
                fraud: [Some("channel_conflict"), None],
            });
        }
        if let Some(d) = arb_device {
            let price = cat.devices[d].price;
            s.sales.push(Sale {
                day: join,
                agent: act_agent,
                channel: act_channel,
                kind: "handset_sale",
                plan: Some(plan.id),
                device: Some(cat.devices[d].model),
                commission: rng.random_range(50..=150) * 100,
                subsidy: price * rng.random_range(30..=50) / 100 / 100 * 100,
                fraud: [Some("handset_arbitrage"), None],
            });
        }
    }
    if let Some(d) = device
        && device_since >= ctx.first_day
        && device_since <= line_end
        && rng.random_bool(0.35)
    {
        let channel = ["business_hall", "agent_store", "online"]
            [crate::catalog::pick_weighted(&mut rng, [5.0, 3.0, 2.0].into_iter())];
        let agent = ctx.pick_agent(&mut rng, branch, channel);
        let price = cat.devices[d].price;
        let subsidy = if prepaid { 0 } else { price * rng.random_range(10..=30) / 100 / 100 * 100 };
        s.sales.push(Sale {
            day: device_since,
            agent,
            channel,
            kind: "handset_sale",
            plan: None,
            device: Some(cat.devices[d].model),
            commission: rng.random_range(20..=100) * 100,
            subsidy,
            fraud: [None, None],
        });
    }
    // Commission churn: an activation or plan change followed by churn within 2 months.
    for sale in s.sales.iter_mut() {
        if sale.kind == "handset_sale" {
            continue;
        }
        let sk = month_of(sale.day).months_since(ctx.first);
        if churn_months.iter().any(|&c| (1..=2).contains(&(c - sk))) {
            let slot = if sale.fraud[0].is_none() { 0 } else { 1 };
            sale.fraud[slot] = Some("commission_churn");
        }
    }
    s.sales.sort_by_key(|x| x.day);
    for (seq, sale) in s.sales.iter().enumerate().take(100) {
        let sale_id = id * 100 + seq as i64;
        out.tables[SALES].push(&[
            V::Int(sale_id),
            V::Date(sale.day),
            V::Int(id),
            V::Str(sale.agent),
            V::Str(sale.channel),
            V::Str(sale.kind),
            sale.plan.map_or(V::Null, V::Str),
            sale.device.map_or(V::Null, V::Str),
            V::Fen(sale.commission),
            V::Fen(sale.subsidy),
        ]);
        out.by_month[2][month_of(sale.day).months_since(ctx.first) as usize] += 1;
        for fk in sale.fraud.iter().flatten() {
            out.truth[T_FRAUD].push(&[V::Int(sale_id), V::Str(sale.agent), V::Str(fk)]);
        }
    }

    // Events in date order; ids follow that order.
    s.events.sort_by_key(|e| e.day);
    for (seq, e) in s.events.iter().enumerate() {
        if e.day > line_end {
            continue;
        }
        s.text.clear();
        let detail = match e.detail {
            Detail::Text(t) => V::Str(t),
            Detail::Fen(f) => {
                write_fen(&mut s.text, f);
                V::Str(std::str::from_utf8(&s.text).unwrap_or(""))
            }
        };
        out.tables[EVENTS].push(&[
            V::Int(id * 10_000 + seq as i64),
            V::Int(id),
            V::Date(e.day),
            V::Str(e.kind),
            detail,
        ]);
        out.by_month[1][month_of(e.day).months_since(ctx.first) as usize] += 1;
    }

    // Snapshot row.
    let num = msisdn(msisdn_g);
    let num = std::str::from_utf8(&num).unwrap_or("");
    let payment = if plan.prepaid { "prepaid" } else { "postpaid" };
    let mut fam = [0u8; 24];
    let mut grp = [0u8; 24];
    out.tables[SUBSCRIBERS].push(&[
        V::Int(id),
        V::Str(num),
        if has_name { V::Str(&s.name) } else { V::Null },
        V::Str(gender),
        birth_year.map_or(V::Null, |y| V::Int(i64::from(y))),
        V::Str(occupation),
        V::Str(income),
        family_size.map_or(V::Null, V::Int),
        if s.tags.is_empty() { V::Null } else { V::Str(&s.tags) },
        V::Str(cat.branches[branch].region),
        V::Str(AREA[area]),
        V::Str(&cat.branches[branch].id),
        V::Date(join),
        V::Str(payment),
        V::Str(brand.as_str()),
        V::Str(plan.id),
        device.map_or(V::Null, |d| V::Str(cat.devices[d].model)),
        if device.is_some() { V::Date(device_since) } else { V::Null },
        V::Str(status),
        V::Date(status_since),
        V::Bool(consent_sms),
        V::Bool(consent_call),
        V::Bool(consent_app),
        V::Bool(dnd),
        V::Str(vip_level),
        V::Bool(club),
        if family { V::Str(code(&mut fam, "FAM", i / 4 + 1)) } else { V::Null },
        group_id.map_or(V::Null, |g| V::Str(code(&mut grp, "GRP", g))),
    ]);
    for h in &s.holdings {
        out.tables[HOLDINGS].push(&[
            V::Int(id),
            V::Str(h.product),
            h.speed.map_or(V::Null, V::Int),
            V::Date(h.start),
            h.end.map_or(V::Null, V::Date),
        ]);
    }

    // Truth: dual-stop churners and plan mismatch.
    if let (Some((d2, close)), Some(_)) = (dual_truth, closed) {
        out.truth[T_DUAL_STOP].push(&[
            V::Int(id),
            V::Date(d2),
            V::Date(close),
            V::Int(i64::from(close - d2)),
            V::Month(month_of(close)),
        ]);
    }
    if months >= 3
        && !plan_changed_late
        && closed.is_none()
        && plan_by_k.iter().all(|p| p.is_some_and(|p| p.id == plan.id))
    {
        let t = &plan.tariff;
        let over = use_by_k.iter().all(|&(v, d, _)| v * 10 > t.voice_min * 12 || d * 10 > t.data_mb * 12);
        let under = use_by_k.iter().all(|&(v, d, _)| v * 10 <= t.voice_min * 3 && d * 10 <= t.data_mb * 3);
        if over || under {
            let tenure = ctx.last.months_since(join_month) as i64;
            let sum = |p: &Plan| use_by_k.iter().map(|&(v, d, sm)| bill(&p.tariff, v, d, sm)).sum::<i64>();
            let cur = sum(plan);
            let mut best: Option<(i64, &Plan)> = None;
            for p in &cat.plans {
                if !p.on_sale || p.prepaid != plan.prepaid || p.min_tenure > tenure {
                    continue;
                }
                let b = sum(p);
                if best.is_none_or(|(bb, bp)| b < bb || (b == bb && p.id < bp.id)) {
                    best = Some((b, p));
                }
            }
            if let Some((b, bp)) = best
                && bp.id != plan.id
            {
                out.truth[T_MISMATCH].push(&[
                    V::Int(id),
                    V::Str(plan.id),
                    V::Str(bp.id),
                    V::Fen(div3(cur)),
                    V::Fen(div3(b)),
                    V::Fen(cur),
                    V::Fen(b),
                    V::Str(if over { "over" } else { "under" }),
                    V::Bool(mismatch.is_some()),
                ]);
            }
        }
    }
    out.subscribers += 1;
}

/// Average of three months rounded to the nearest fen (halves up).
fn div3(x: i64) -> i64 {
    (2 * x + 3) / 6
}

/// `PREFIX` followed by the number, in `buf`.
fn code<'b>(buf: &'b mut [u8; 24], prefix: &str, n: u64) -> &'b str {
    let mut len = prefix.len();
    buf[..len].copy_from_slice(prefix.as_bytes());
    let mut b = itoa::Buffer::new();
    let digits = b.format(n).as_bytes();
    buf[len..len + digits.len()].copy_from_slice(digits);
    len += digits.len();
    std::str::from_utf8(&buf[..len]).unwrap_or("")
}

/// A probability with six decimals, `0.012345`.
fn prob_text(p: f64, buf: &mut [u8; 8]) -> &str {
    let micro = (p * 1e6).round().clamp(0.0, 1e6) as u32;
    buf[0] = b'0' + (micro / 1_000_000) as u8;
    buf[1] = b'.';
    let mut x = micro % 1_000_000;
    for j in (2..8).rev() {
        buf[j] = b'0' + (x % 10) as u8;
        x /= 10;
    }
    std::str::from_utf8(&buf[..]).unwrap_or("0")
}

/// Cheaper plan of the mass brand for an internal switch (内部转网), if there is one.
fn switch_target<'a>(cat: &'a Catalog, cur: &Plan, tenure: i64, rng: &mut ChaCha8Rng) -> Option<&'a Plan> {
    let c: Vec<&Plan> = cat
        .plans
        .iter()
        .filter(|p| {
            p.on_sale
                && p.brand == Brand::Mass
                && p.min_tenure <= tenure
                && p.tariff.monthly_fee < cur.tariff.monthly_fee
                && p.prepaid == cur.prepaid
                && p.id != cur.id
        })
        .collect();
    if c.is_empty() { None } else { Some(c[rng.random_range(0..c.len())]) }
}

/// Same-brand plan at most 60% of the current fee, for revenue loss (收入流失).
fn loss_target<'a>(cat: &'a Catalog, cur: &Plan, tenure: i64, rng: &mut ChaCha8Rng) -> Option<&'a Plan> {
    let c: Vec<&Plan> = cat
        .plans
        .iter()
        .filter(|p| {
            p.on_sale
                && p.brand == cur.brand
                && p.prepaid == cur.prepaid
                && p.min_tenure <= tenure
                && p.tariff.monthly_fee * 10 <= cur.tariff.monthly_fee * 6
        })
        .collect();
    if c.is_empty() { None } else { Some(c[rng.random_range(0..c.len())]) }
}

/// A dearer plan for an upsell: same brand and payment type, or youth to high end.
fn upgrade_target<'a>(cat: &'a Catalog, cur: &Plan, tenure: i64, age: i32, rng: &mut ChaCha8Rng) -> Option<&'a Plan> {
    let to_high = cur.brand == Brand::Youth && age >= 26;
    let c: Vec<&Plan> = cat
        .plans
        .iter()
        .filter(|p| {
            p.on_sale
                && (p.brand == cur.brand || (to_high && p.brand == Brand::HighEnd))
                && p.prepaid == cur.prepaid
                && p.min_tenure <= tenure
                && p.tariff.monthly_fee > cur.tariff.monthly_fee
                && p.tariff.monthly_fee <= cur.tariff.monthly_fee * 2 + 3000
        })
        .collect();
    if c.is_empty() { None } else { Some(c[rng.random_range(0..c.len())]) }
}

/// Which kind of churn a churner shows, given what is feasible for its plan.
#[allow(clippy::too_many_arguments)]
fn choose_kind(
    cat: &Catalog,
    plan: &Plan,
    brand: Brand,
    prepaid: bool,
    idle: bool,
    leaving_signs: bool,
    tenure: i64,
    rng: &mut ChaCha8Rng,
) -> Kind {
    if idle {
        return Kind::Leave;
    }
    let (mut wl, mut ws, mut wr) = if leaving_signs { (0.92, 0.05, 0.03) } else { (0.55, 0.25, 0.20) };
    if brand == Brand::HighEnd {
        ws *= 1.6;
        wr *= 1.6;
    }
    if prepaid && brand == Brand::Mass {
        wl *= 1.3;
    }
    if cat.plans.iter().all(|p| {
        !(p.on_sale
            && p.brand == Brand::Mass
            && p.min_tenure <= tenure
            && p.tariff.monthly_fee < plan.tariff.monthly_fee
            && p.prepaid == plan.prepaid)
    }) {
        ws = 0.0;
    }
    if cat.plans.iter().all(|p| {
        !(p.on_sale
            && p.brand == plan.brand
            && p.prepaid == plan.prepaid
            && p.min_tenure <= tenure
            && p.tariff.monthly_fee * 10 <= plan.tariff.monthly_fee * 6)
    }) {
        wr = 0.0;
    }
    match crate::catalog::pick_weighted(rng, [wl, ws, wr].into_iter()) {
        0 => Kind::Leave,
        1 => Kind::Switch,
        _ => Kind::Loss,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn msisdns_are_unique_and_well_formed() {
        let mut seen = BTreeSet::new();
        for g in (0..200_000u64).chain(1_000_000_000..1_000_100_000) {
            let m = msisdn(g);
            assert_eq!(m[0], b'1');
            let s = std::str::from_utf8(&m).unwrap().to_owned();
            assert!(cvm_domain::Msisdn::parse(&s).is_ok());
            assert!(seen.insert(s));
        }
    }

    #[test]
    fn probabilities_and_codes_format() {
        assert_eq!(prob_text(0.0123456, &mut [0; 8]), "0.012346");
        assert_eq!(prob_text(1.0, &mut [0; 8]), "1.000000");
        assert_eq!(code(&mut [0; 24], "FAM", 42), "FAM42");
        assert_eq!(div3(100), 33);
        assert_eq!(div3(101), 34);
    }
}
