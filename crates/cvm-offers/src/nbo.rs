//! Next best offer (下一最佳营销): the candidate offers of one subscriber, and one arbitrated
//! offer per contact channel.
//!
//! Candidates come from the fits (plan, data, device), from up-selling a higher version of
//! what the subscriber holds, from cross-selling what customers with the same holdings also
//! hold (association rules), and from the club and partner offers. Each has an acceptance
//! likelihood (a prior per source, scaled by the evidence; to be replaced by measured
//! response rates once campaigns record them), a monthly revenue change and cost for the
//! operator, and whether it retains a subscriber at risk.
//!
//! The expected value of making candidate `c` through channel `ch`:
//!
//! ```text
//! p     = min(1, c.acceptance x response(ch))
//! value = horizon x c.monthly_revenue_change
//!       + (c retains ? churn_risk x save_rate x subscriber_value x horizon : 0)
//! cost  = horizon x c.monthly_cost                    (paid only when accepted)
//! EV    = p x (value - cost) - contact_cost(ch)
//! ```
//!
//! Arbitration keeps, for each channel the subscriber can be reached on, the candidate with
//! the highest positive EV that may be made on it; priority ranks the channels' offers by EV.

use std::borrow::Cow;

use cvm_domain::{Date, Fen};
use rustc_hash::FxHashMap;

use crate::data_fit::AppCategory;

/// A contact channel, as the offers table lists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Channel {
    /// Marketing SMS.
    Sms,
    /// A call by a telemarketer or account manager.
    OutboundCall,
    /// Notification in the operator's app.
    AppPush,
    /// Shown in the online hall when the customer logs in.
    WebHall,
    /// Offered in the voice menu when the customer calls.
    Ivr,
    /// Shown on a self-service terminal.
    SelfServiceTerminal,
    /// Offered at the counter of a business hall.
    BusinessHall,
    /// A visit by branch staff.
    BranchVisit,
}

impl Channel {
    /// Every channel, in a fixed order.
    pub const ALL: [Channel; 8] = [
        Channel::Sms,
        Channel::OutboundCall,
        Channel::AppPush,
        Channel::WebHall,
        Channel::Ivr,
        Channel::SelfServiceTerminal,
        Channel::BusinessHall,
        Channel::BranchVisit,
    ];

    /// The schema's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Sms => "sms",
            Channel::OutboundCall => "outbound_call",
            Channel::AppPush => "app_push",
            Channel::WebHall => "web_hall",
            Channel::Ivr => "ivr",
            Channel::SelfServiceTerminal => "self_service_terminal",
            Channel::BusinessHall => "business_hall",
            Channel::BranchVisit => "branch_visit",
        }
    }

    /// Reads the schema's spelling.
    pub fn parse(s: &str) -> Option<Channel> {
        Channel::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

/// What the subscriber agreed to: marketing contact is only made where they consented.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Consent {
    /// Agrees to marketing SMS.
    pub sms: bool,
    /// Agrees to marketing calls (and visits).
    pub call: bool,
    /// Agrees to app notifications.
    pub app_push: bool,
    /// On the do-not-disturb list: no outbound marketing at all.
    pub do_not_disturb: bool,
}

/// Whether an offer may be made to a subscriber through `channel`. Outbound channels need
/// the channel's consent and no do-not-disturb; inbound ones (the web hall, IVR, terminals,
/// business halls) show the offer only when the customer comes, so they are always allowed.
pub fn reachable(channel: Channel, consent: &Consent) -> bool {
    match channel {
        Channel::Sms => consent.sms && !consent.do_not_disturb,
        Channel::OutboundCall | Channel::BranchVisit => consent.call && !consent.do_not_disturb,
        Channel::AppPush => consent.app_push && !consent.do_not_disturb,
        Channel::WebHall | Channel::Ivr | Channel::SelfServiceTerminal | Channel::BusinessHall => true,
    }
}

/// What an offer offers, as the offers table's `offer_kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OfferKind {
    /// A plan change (from plan fit).
    PlanChange,
    /// A data pack.
    DataPack,
    /// An app-directed data pack.
    DirectedDataPack,
    /// A handset.
    Device,
    /// A convergent bundle (cross-sell).
    Bundle,
    /// A higher version of a held product (up-sell).
    Upgrade,
    /// A club benefit.
    Club,
    /// A partner's benefit.
    Partner,
}

impl OfferKind {
    /// Every kind.
    pub const ALL: [OfferKind; 8] = [
        OfferKind::PlanChange,
        OfferKind::DataPack,
        OfferKind::DirectedDataPack,
        OfferKind::Device,
        OfferKind::Bundle,
        OfferKind::Upgrade,
        OfferKind::Club,
        OfferKind::Partner,
    ];

    /// The schema's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            OfferKind::PlanChange => "plan_change",
            OfferKind::DataPack => "data_pack",
            OfferKind::DirectedDataPack => "directed_data_pack",
            OfferKind::Device => "device",
            OfferKind::Bundle => "bundle",
            OfferKind::Upgrade => "upgrade",
            OfferKind::Club => "club",
            OfferKind::Partner => "partner",
        }
    }

    /// Reads the schema's spelling.
    pub fn parse(s: &str) -> Option<OfferKind> {
        OfferKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// The products of the holdings table, in a fixed order (bit `i` of a [`Holdings`] mask).
pub const PRODUCTS: [&str; 9] =
    ["mobile", "broadband", "fibre", "iptv", "fixed_line", "family_plan", "group_vpn", "data_pack", "premium_number"];

/// Chinese names of [`PRODUCTS`], for reasons.
const PRODUCTS_ZH: [&str; 9] = ["手机", "宽带", "光纤", "IPTV", "固话", "家庭套餐", "集团V网", "流量包", "靓号"];

/// Index of a product in [`PRODUCTS`].
pub fn product_index(product: &str) -> Option<usize> {
    PRODUCTS.iter().position(|p| *p == product)
}

/// The products a subscriber holds, one bit per [`PRODUCTS`] entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct Holdings(pub u16);

impl Holdings {
    /// The set of [`PRODUCTS`] held as a number below [`HOLDING_SETS`]: bits beyond the
    /// products are dropped, as no product, rule or count reads them.
    pub fn set(self) -> usize {
        usize::from(self.0) & (HOLDING_SETS - 1)
    }

    /// Whether product `i` is held.
    pub fn has(self, i: usize) -> bool {
        self.0 & (1 << i) != 0
    }

    /// Whether `product` is held (false for a product not in [`PRODUCTS`]).
    pub fn holds(self, product: &str) -> bool {
        product_index(product).is_some_and(|i| self.has(i))
    }
}

/// An offer of the catalog, one row of the `offers` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offer {
    /// Offer code.
    pub offer_id: String,
    /// Name as shown to the subscriber.
    pub offer_name: String,
    /// What is offered.
    pub kind: OfferKind,
    /// Product the offer adds or changes.
    pub product: Option<String>,
    /// What the subscriber pays a month.
    pub monthly_price: Fen,
    /// What it costs the operator a month.
    pub monthly_cost: Fen,
    /// Data it adds a month (packs), MB.
    pub data_mb: u64,
    /// For app-directed packs, the apps it covers.
    pub app_category: Option<AppCategory>,
    /// Channels it may be made through.
    pub channels: Vec<Channel>,
    /// First day it may be made.
    pub valid_from: Date,
    /// Last day it may be made.
    pub valid_to: Date,
}

impl Offer {
    /// Whether the offer may be made on some day from `first` to `last`.
    pub fn valid_between(&self, first: Date, last: Date) -> bool {
        self.valid_from <= last && self.valid_to >= first
    }
}

/// The offers that may be made in the as-of month, with what candidate generation would
/// otherwise look up again for every subscriber (the product of each offer by name, the
/// handset offers by price) worked out once.
#[derive(Debug, Clone, PartialEq)]
pub struct Catalog {
    offers: Vec<Offer>,
    /// Index in [`PRODUCTS`] of each offer's product.
    products: Vec<Option<usize>>,
    /// Indices of the handset offers, by monthly price (ties: catalog order).
    devices: Vec<usize>,
    /// Index of each offer by code (the later of two with one code); looked up for every
    /// candidate, so hashed with Fx rather than SipHash (the codes are the operator's own).
    by_id: FxHashMap<String, usize>,
}

impl Catalog {
    /// The catalog of `offers`, in their order.
    pub fn new(offers: Vec<Offer>) -> Catalog {
        let products = offers.iter().map(|o| o.product.as_deref().and_then(product_index)).collect();
        let mut devices: Vec<usize> = (0..offers.len()).filter(|&i| offers[i].kind == OfferKind::Device).collect();
        devices.sort_by_key(|&i| offers[i].monthly_price);
        let by_id = offers.iter().enumerate().map(|(i, o)| (o.offer_id.clone(), i)).collect();
        Catalog { offers, products, devices, by_id }
    }

    /// The offers, in catalog order.
    pub fn offers(&self) -> &[Offer] {
        &self.offers
    }

    /// The offer of code `offer_id`.
    pub fn offer(&self, offer_id: &str) -> Option<&Offer> {
        self.by_id.get(offer_id).map(|&i| &self.offers[i])
    }

    /// The handset offer whose monthly commitment is the highest at most `arpu` (the last in
    /// the catalog among equals), else the cheapest (the first among equals).
    fn device_offer(&self, arpu: f64) -> Option<&Offer> {
        let fits = self.devices.partition_point(|&i| self.offers[i].monthly_price.as_yuan_f64() <= arpu);
        let pick = if fits > 0 { self.devices[fits - 1] } else { *self.devices.first()? };
        Some(&self.offers[pick])
    }
}

/// A cross-sell rule: customers holding every product of `antecedent` also hold
/// `consequent` with this confidence and lift.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CrossSellRule {
    /// Products held.
    pub antecedent: Holdings,
    /// Index in [`PRODUCTS`] of the product they also hold.
    pub consequent: usize,
    /// Share of antecedent holders who hold the consequent.
    pub confidence: f64,
    /// Confidence over the consequent's share of all customers.
    pub lift: f64,
}

/// How many sets of [`PRODUCTS`] a subscriber may hold ([`Holdings::set`] is below it).
pub const HOLDING_SETS: usize = 1 << PRODUCTS.len();

/// The cross-sell rule backing each (product, products held) pair, worked out once per run:
/// the rules are few, but scanning them for every bundle of every subscriber took a
/// quarter of the offers step.
#[derive(Debug, Clone, PartialEq)]
pub struct CrossSellRules {
    /// At `consequent * HOLDING_SETS + held`: the rule of highest confidence (the last of
    /// equals, in the rules' order) whose antecedent is held and whose lift passes
    /// [`MIN_LIFT`].
    best: Vec<Option<CrossSellRule>>,
}

impl CrossSellRules {
    /// The lookup table of `rules`.
    pub fn new(rules: &[CrossSellRule]) -> CrossSellRules {
        let mut best = Vec::with_capacity(PRODUCTS.len() * HOLDING_SETS);
        for consequent in 0..PRODUCTS.len() {
            for held in 0..HOLDING_SETS as u16 {
                let rule = rules
                    .iter()
                    .filter(|r| {
                        r.consequent == consequent && r.lift > MIN_LIFT && r.antecedent.0 & held == r.antecedent.0
                    })
                    .max_by(|a, b| a.confidence.total_cmp(&b.confidence));
                best.push(rule.copied());
            }
        }
        CrossSellRules { best }
    }

    /// The rule backing `consequent` for a subscriber holding `held`, if any.
    pub fn best(&self, consequent: usize, held: Holdings) -> Option<&CrossSellRule> {
        // Antecedents name only PRODUCTS, so bits beyond them cannot change the answer.
        self.best.get(consequent * HOLDING_SETS + held.set())?.as_ref()
    }
}

/// Prior acceptance likelihoods per candidate source, until campaigns measure responses; an
/// analyst sets them in the run configuration (`[offers.acceptance]`).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Acceptance {
    /// A plan-fit recommendation after a persistent mismatch.
    pub plan_fit: f64,
    /// The cheapest data pack, for over-quota in all three months (scaled by the share of
    /// months over).
    pub data_pack: f64,
    /// A reserved retention handset.
    pub device: f64,
    /// An up-sell of a held product.
    pub upgrade: f64,
    /// Scale of a cross-sell rule's confidence (or of the product's base rate without a rule).
    pub cross_sell: f64,
    /// A club benefit for a VIP or big-value subscriber.
    pub club: f64,
    /// A partner benefit.
    pub partner: f64,
}

impl Default for Acceptance {
    fn default() -> Self {
        Acceptance {
            plan_fit: 0.30,
            data_pack: 0.30,
            device: 0.20,
            upgrade: 0.05,
            cross_sell: 0.30,
            club: 0.20,
            partner: 0.03,
        }
    }
}

/// The horizon, retention, acceptance priors, and channel response and contact cost.
#[derive(Debug, Clone, PartialEq)]
pub struct NboPolicy {
    /// Months over which revenue and cost are counted.
    pub horizon_months: f64,
    /// Share of an at-risk subscriber's value an accepted retention offer keeps.
    pub save_rate: f64,
    /// Prior acceptance likelihoods per candidate source.
    pub acceptance: Acceptance,
    /// Per channel ([`Channel::ALL`] order): response factor and contact cost in yuan.
    pub channels: [(f64, f64); 8],
    /// Channels a plan-fit recommendation may be made through.
    pub plan_fit_channels: Vec<Channel>,
}

impl Default for NboPolicy {
    /// Priors until campaigns measure response (see docs/run-config.toml for their reasons).
    fn default() -> Self {
        NboPolicy {
            horizon_months: 12.0,
            save_rate: 0.3,
            acceptance: Acceptance::default(),
            channels: [
                (0.3, 0.05), // sms
                (1.0, 3.0),  // outbound_call
                (0.4, 0.01), // app_push
                (0.3, 0.0),  // web_hall
                (0.2, 0.1),  // ivr
                (0.2, 0.0),  // self_service_terminal
                (0.8, 0.0),  // business_hall
                (1.2, 20.0), // branch_visit
            ],
            plan_fit_channels: vec![
                Channel::Sms,
                Channel::OutboundCall,
                Channel::AppPush,
                Channel::WebHall,
                Channel::BusinessHall,
            ],
        }
    }
}

/// One offer that could be made to a subscriber, before arbitration. It borrows from the
/// catalog and the fits, and renders its reason only when asked: most candidates lose.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate<'a> {
    /// Offer code (`PLAN:<plan_id>` for a plan-fit recommendation).
    pub offer_id: Cow<'a, str>,
    /// What it offers.
    pub kind: OfferKind,
    /// Product it adds or changes.
    pub product: Option<&'a str>,
    /// Channels it may be made through.
    pub channels: &'a [Channel],
    /// Acceptance likelihood before the channel's response factor.
    pub acceptance: f64,
    /// Change of the subscriber's monthly revenue if accepted, yuan.
    pub monthly_revenue_change: f64,
    /// Monthly cost to the operator if accepted, yuan.
    pub monthly_cost: f64,
    /// Whether it also keeps a subscriber at risk.
    pub retains: bool,
    /// Why it is offered.
    pub reason: Reason<'a>,
}

/// Why a candidate is offered, with what the sentence needs.
#[derive(Debug, Clone, PartialEq)]
pub enum Reason<'a> {
    /// A persistent plan mismatch.
    PlanFit {
        /// The recommended plan's name.
        plan_name: &'a str,
        /// Over-use (true) or under-use.
        over_use: bool,
        /// Average monthly saving (negative: pays more).
        saving: Fen,
    },
    /// Over the data allowance.
    DataPack {
        /// The pack's name.
        offer_name: &'a str,
        /// Months over in the window.
        months_over: usize,
        /// Top app category and its share in percent.
        top_app: Option<(AppCategory, u64)>,
        /// Average monthly saving.
        saving: Fen,
    },
    /// A retention handset reserved.
    Device {
        /// The handset offer's name.
        offer_name: &'a str,
        /// Handset model.
        model: &'a str,
        /// Its tier in Chinese.
        tier_zh: &'static str,
        /// Retention price.
        price: Fen,
        /// Tenure in months.
        tenure_months: u32,
    },
    /// A higher version of a held product.
    Upgrade {
        /// The offer's name.
        offer_name: &'a str,
        /// Index in [`PRODUCTS`] of what is held.
        held: usize,
        /// Its monthly price.
        price: Fen,
    },
    /// Customers with the same holdings hold the product (an association rule).
    CrossSell {
        /// The offer's name.
        offer_name: &'a str,
        /// The rule.
        rule: CrossSellRule,
    },
    /// No rule applies: the product's share of customers.
    BaseRate {
        /// The offer's name.
        offer_name: &'a str,
        /// Index in [`PRODUCTS`].
        product: usize,
        /// Share of customers holding it.
        rate: f64,
    },
    /// A club benefit.
    Club(&'a str),
    /// A partner benefit.
    Partner(&'a str),
}

fn names(h: Holdings, table: &[&str; 9]) -> String {
    (0..PRODUCTS.len()).filter(|&i| h.has(i)).map(|i| table[i]).collect::<Vec<_>>().join("+")
}

/// What the text of a reason that reads the same for every subscriber depends on (see
/// [`Reason::shared_key`]).
pub type SharedReasonKey<'a> = (u8, &'a str, u64, u64, u64);

impl<'a> Reason<'a> {
    /// For a reason whose text is the same for everyone given it (up-sell, cross-sell, base
    /// rate, benefits: the offer and the rule, nothing of the subscriber's), the values its
    /// text is made of, so that it can be written once and shared; `None` for reasons with
    /// the subscriber's own figures.
    pub fn shared_key(&self) -> Option<SharedReasonKey<'a>> {
        match *self {
            Reason::Upgrade { offer_name, held, price } => Some((0, offer_name, held as u64, price.0 as u64, 0)),
            Reason::CrossSell { offer_name, rule } => Some((
                1,
                offer_name,
                u64::from(rule.antecedent.0) | (rule.consequent as u64) << 16,
                rule.confidence.to_bits(),
                rule.lift.to_bits(),
            )),
            Reason::BaseRate { offer_name, product, rate } => Some((2, offer_name, product as u64, rate.to_bits(), 0)),
            Reason::Club(name) => Some((3, name, 0, 0, 0)),
            Reason::Partner(name) => Some((4, name, 0, 0, 0)),
            Reason::PlanFit { .. } | Reason::DataPack { .. } | Reason::Device { .. } => None,
        }
    }

    /// The reason in Chinese, for agents and customers.
    pub fn zh(&self) -> String {
        match *self {
            Reason::PlanFit { plan_name, over_use, saving } => {
                let used = if over_use { "超出" } else { "远低于" };
                let money = if saving.0 >= 0 {
                    format!("每月可省{saving}元")
                } else {
                    format!("每月多付{}元、用量更足", Fen(-saving.0))
                };
                format!("近3个月用量均{used}套餐，改用「{plan_name}」{money}")
            }
            Reason::DataPack { offer_name, months_over, top_app, saving } => {
                let app = top_app.map_or(String::new(), |(c, share)| format!("，主要用于{}（{share}%）", c.name_zh()));
                format!("近3个月有{months_over}个月流量超出套餐{app}，办理「{offer_name}」每月可省{saving}元")
            }
            Reason::Device { offer_name, model, tier_zh, price, tenure_months } => {
                format!(
                    "在网{tenure_months}个月的老客户，已为您预留{tier_zh}「{model}」，保有价{price}元（{offer_name}）"
                )
            }
            Reason::Upgrade { offer_name, held, price } => {
                format!("您已有{}，「{offer_name}」每月{price}元", PRODUCTS_ZH[held])
            }
            Reason::CrossSell { offer_name, rule } => format!(
                "持有{}的客户中{:.0}%也办理了{}（提升度{:.1}），推荐「{offer_name}」",
                names(rule.antecedent, &PRODUCTS_ZH),
                rule.confidence * 100.0,
                PRODUCTS_ZH[rule.consequent],
                rule.lift
            ),
            Reason::BaseRate { offer_name, product, rate } => {
                format!("{:.0}%的客户办理了{}，推荐「{offer_name}」", rate * 100.0, PRODUCTS_ZH[product])
            }
            Reason::Club(name) => format!("尊享客户关怀：「{name}」"),
            Reason::Partner(name) => format!("合作权益：「{name}」"),
        }
    }

    /// The reason in English.
    pub fn en(&self) -> String {
        match *self {
            Reason::PlanFit { plan_name, over_use, saving } => {
                let used = if over_use { "above" } else { "well below" };
                let money = if saving.0 >= 0 {
                    format!("saves {saving} yuan a month")
                } else {
                    format!("costs {} yuan a month more and covers the use", Fen(-saving.0))
                };
                format!("use was {used} the plan in each of the last 3 months; {plan_name} {money}")
            }
            Reason::DataPack { offer_name, months_over, top_app, saving } => {
                let app =
                    top_app.map_or(String::new(), |(c, share)| format!(", mostly {} apps ({share}%)", c.as_str()));
                format!(
                    "data went over the allowance in {months_over} of the last 3 months{app}; {offer_name} saves {saving} yuan a month"
                )
            }
            Reason::Device { offer_name, model, price, tenure_months, .. } => format!(
                "{tenure_months} months with us: handset {model} reserved at the retention price of {price} yuan ({offer_name})"
            ),
            Reason::Upgrade { offer_name, held, price } => {
                format!("holds {}: {offer_name} for {price} yuan a month", PRODUCTS[held])
            }
            Reason::CrossSell { offer_name, rule } => format!(
                "{:.0}% of customers holding {} also hold {} (lift {:.1}): {offer_name}",
                rule.confidence * 100.0,
                names(rule.antecedent, &PRODUCTS),
                PRODUCTS[rule.consequent],
                rule.lift
            ),
            Reason::BaseRate { offer_name, product, rate } => {
                format!("{:.0}% of customers hold {}: {offer_name}", rate * 100.0, PRODUCTS[product])
            }
            Reason::Club(name) => format!("care for a valued customer: {name}"),
            Reason::Partner(name) => format!("partner benefit: {name}"),
        }
    }
}

/// The offer chosen for one channel.
#[derive(Debug, Clone, PartialEq)]
pub struct Arbitrated {
    /// The channel.
    pub channel: Channel,
    /// Index of the chosen candidate.
    pub candidate: usize,
    /// Acceptance likelihood on this channel.
    pub acceptance: f64,
    /// Value to the operator over the horizon if accepted, yuan.
    pub value: f64,
    /// Cost over the horizon if accepted, yuan.
    pub cost: f64,
    /// Expected value, yuan.
    pub expected_value: f64,
    /// 1 for the subscriber's best offer across channels, 2 for the next...
    pub priority: u32,
}

/// What arbitration knows of the subscriber.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Standing {
    /// Consents.
    pub consent: Consent,
    /// Likelihood of churning soon (the churn model's, or from warnings).
    pub churn_risk: f64,
    /// Customer value a month, yuan.
    pub value: f64,
}

/// Expected value of making `c` through `channel`: (acceptance, value, cost, EV).
pub fn expected_value(policy: &NboPolicy, c: &Candidate, channel: Channel, s: &Standing) -> (f64, f64, f64, f64) {
    let (response, contact_cost) = policy.channels[channel as usize];
    let p = (c.acceptance * response).clamp(0.0, 1.0);
    let h = policy.horizon_months;
    let retained = if c.retains { s.churn_risk * policy.save_rate * s.value.max(0.0) * h } else { 0.0 };
    let value = h * c.monthly_revenue_change + retained;
    let cost = h * c.monthly_cost;
    (p, value, cost, p * (value - cost) - contact_cost)
}

/// One offer per reachable channel: the candidate with the highest positive expected value
/// among those that may be made on it (ties: lower offer code), ranked by expected value.
pub fn arbitrate(policy: &NboPolicy, candidates: &[Candidate], s: &Standing) -> Vec<Arbitrated> {
    // One pass over the candidates, each weighed on its own channels: per channel, the same
    // comparisons in the same order as channel by channel over every candidate.
    let open = Channel::ALL.map(|ch| reachable(ch, &s.consent));
    let mut best: [Option<Arbitrated>; Channel::ALL.len()] = std::array::from_fn(|_| None);
    for i in 0..candidates.len() {
        for &channel in candidates[i].channels.iter().filter(|ch| open[**ch as usize]) {
            let slot = &mut best[channel as usize];
            let weighed = weigh(policy, candidates, i, channel, s);
            if beats(&weighed, slot.as_ref(), candidates) {
                *slot = Some(weighed);
            }
        }
    }
    rank(best.into_iter().flatten().collect())
}

/// Candidate `i` weighed on `channel`, not ranked yet.
fn weigh(policy: &NboPolicy, candidates: &[Candidate], i: usize, channel: Channel, s: &Standing) -> Arbitrated {
    let (acceptance, value, cost, expected_value) = expected_value(policy, &candidates[i], channel, s);
    Arbitrated { channel, candidate: i, acceptance, value, cost, expected_value, priority: 0 }
}

/// Whether `a` (positive) takes the channel from `best`: a higher expected value, or the same
/// and a lower offer code.
fn beats(a: &Arbitrated, best: Option<&Arbitrated>, candidates: &[Candidate]) -> bool {
    a.expected_value > 0.0
        && best.is_none_or(|b| {
            a.expected_value > b.expected_value
                || (a.expected_value == b.expected_value
                    && candidates[a.candidate].offer_id < candidates[b.candidate].offer_id)
        })
}

/// `chosen` with priorities: 1 for the highest expected value (ties: the earlier channel).
fn rank(mut chosen: Vec<Arbitrated>) -> Vec<Arbitrated> {
    let mut order: Vec<usize> = (0..chosen.len()).collect();
    order.sort_by(|&a, &b| chosen[b].expected_value.total_cmp(&chosen[a].expected_value).then(a.cmp(&b)));
    for (rank, i) in order.into_iter().enumerate() {
        chosen[i].priority = u32::try_from(rank + 1).unwrap_or(u32::MAX);
    }
    chosen
}

/// What candidate generation knows of one subscriber.
#[derive(Debug, Clone, PartialEq)]
pub struct Profile {
    /// 3-month average ARPU, yuan.
    pub arpu: f64,
    /// Products held at the as-of month.
    pub holdings: Holdings,
    /// People in the household, where known.
    pub family_size: Option<i64>,
    /// Belongs to a corporate group.
    pub in_group: bool,
    /// A VIP card holder or in a top value tier (club benefits).
    pub premium: bool,
}

/// A plan-fit recommendation worth offering: a persistent mismatch and another plan.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanFitOffer<'a> {
    /// Offer code: `PLAN:<plan_id>`.
    pub offer_id: String,
    /// The recommended plan's name.
    pub plan_name: &'a str,
    /// Over-use (true) or under-use (false) in all three months.
    pub over_use: bool,
    /// Average monthly saving for the customer (negative: they pay more).
    pub monthly_saving: Fen,
}

/// A data pack worth offering, from data fit.
#[derive(Debug, Clone, PartialEq)]
pub struct DataPackOffer<'a> {
    /// The pack.
    pub offer: &'a Offer,
    /// Months over the allowance in the window (1-3).
    pub months_over: usize,
    /// Top app category and its share in percent.
    pub top_app: Option<(AppCategory, u64)>,
    /// Average monthly saving for the customer.
    pub monthly_saving: Fen,
}

/// A reserved retention handset, from device fit.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceOffer<'a> {
    /// Handset model.
    pub device_model: &'a str,
    /// Its tier, in Chinese.
    pub tier_zh: &'static str,
    /// Retention price.
    pub retention_price: Fen,
    /// Tenure in months.
    pub tenure_months: u32,
}

/// Every candidate offer of one subscriber: plan fit, data fit and device fit (when given),
/// up-sells of held products, cross-sells backed by `rules` (or the product's base rate),
/// club and partner benefits. `catalog` holds the offers valid in the as-of month.
#[allow(clippy::too_many_arguments)]
pub fn candidates<'a>(
    policy: &'a NboPolicy,
    profile: &Profile,
    catalog: &'a Catalog,
    rules: &CrossSellRules,
    base_rates: &[f64; PRODUCTS.len()],
    plan_fit: Option<&PlanFitOffer<'a>>,
    data_pack: Option<&DataPackOffer<'a>>,
    device: Option<&DeviceOffer<'a>>,
    out: &mut Vec<Candidate<'a>>,
) {
    out.clear();
    if let Some(p) = plan_fit {
        out.push(Candidate {
            offer_id: Cow::Owned(p.offer_id.clone()),
            kind: OfferKind::PlanChange,
            product: Some("mobile"),
            channels: &policy.plan_fit_channels,
            acceptance: policy.acceptance.plan_fit,
            monthly_revenue_change: -p.monthly_saving.as_yuan_f64(),
            monthly_cost: 0.0,
            retains: true,
            reason: Reason::PlanFit { plan_name: p.plan_name, over_use: p.over_use, saving: p.monthly_saving },
        });
    }
    if let Some(d) = data_pack {
        out.push(Candidate {
            offer_id: Cow::Borrowed(d.offer.offer_id.as_str()),
            kind: d.offer.kind,
            product: d.offer.product.as_deref(),
            channels: &d.offer.channels,
            acceptance: policy.acceptance.data_pack * d.months_over as f64 / 3.0,
            monthly_revenue_change: -d.monthly_saving.as_yuan_f64(),
            monthly_cost: d.offer.monthly_cost.as_yuan_f64(),
            retains: true,
            reason: Reason::DataPack {
                offer_name: &d.offer.offer_name,
                months_over: d.months_over,
                top_app: d.top_app,
                saving: d.monthly_saving,
            },
        });
    }
    if let Some(d) = device {
        // The handset offer whose monthly commitment is the highest the subscriber already pays.
        if let Some(o) = catalog.device_offer(profile.arpu) {
            out.push(Candidate {
                offer_id: Cow::Borrowed(o.offer_id.as_str()),
                kind: OfferKind::Device,
                product: o.product.as_deref(),
                channels: &o.channels,
                acceptance: policy.acceptance.device,
                monthly_revenue_change: (o.monthly_price.as_yuan_f64() - profile.arpu).max(0.0),
                monthly_cost: o.monthly_cost.as_yuan_f64(),
                retains: true,
                reason: Reason::Device {
                    offer_name: &o.offer_name,
                    model: d.device_model,
                    tier_zh: d.tier_zh,
                    price: d.retention_price,
                    tenure_months: d.tenure_months,
                },
            });
        }
    }
    let h = profile.holdings;
    for (o, &product) in catalog.offers.iter().zip(&catalog.products) {
        let base = |acceptance: f64, retains: bool, reason: Reason<'a>| Candidate {
            offer_id: Cow::Borrowed(o.offer_id.as_str()),
            kind: o.kind,
            product: o.product.as_deref(),
            channels: &o.channels,
            acceptance,
            monthly_revenue_change: o.monthly_price.as_yuan_f64(),
            monthly_cost: o.monthly_cost.as_yuan_f64(),
            retains,
            reason,
        };
        let name = o.offer_name.as_str();
        match (o.kind, product) {
            (OfferKind::Upgrade, Some(p)) if upgrade_eligible(p, profile) => {
                let held = match PRODUCTS[p] {
                    "fibre" => 1, // broadband moves up to fibre
                    "family_plan" => 0,
                    _ => p,
                };
                out.push(base(
                    policy.acceptance.upgrade,
                    false,
                    Reason::Upgrade { offer_name: name, held, price: o.monthly_price },
                ));
            }
            (OfferKind::Bundle, Some(p)) if !h.has(p) && (PRODUCTS[p] != "group_vpn" || profile.in_group) => {
                let (acceptance, reason) = match rules.best(p, h) {
                    Some(r) => {
                        (policy.acceptance.cross_sell * r.confidence, Reason::CrossSell { offer_name: name, rule: *r })
                    }
                    None => (
                        policy.acceptance.cross_sell * base_rates[p],
                        Reason::BaseRate { offer_name: name, product: p, rate: base_rates[p] },
                    ),
                };
                // A convergent bundle takes the mobile line in: only what it adds to the bill counts.
                let monthly_revenue_change = (o.monthly_price.as_yuan_f64() - profile.arpu).max(0.0);
                out.push(Candidate { monthly_revenue_change, ..base(acceptance, true, reason) });
            }
            (OfferKind::Club, _) if profile.premium => out.push(base(policy.acceptance.club, true, Reason::Club(name))),
            (OfferKind::Partner, _) => out.push(base(policy.acceptance.partner, true, Reason::Partner(name))),
            _ => {}
        }
    }
}

/// A cross-sell rule must raise the product's likelihood by at least this factor to back an offer.
const MIN_LIFT: f64 = 1.1;

/// Up-sell eligibility: a higher version of what the subscriber holds (broadband speed,
/// broadband to fibre, IPTV), a card added for a household of two or more, a premium number
/// for a premium subscriber.
fn upgrade_eligible(product: usize, p: &Profile) -> bool {
    let h = p.holdings;
    match PRODUCTS[product] {
        "broadband" | "iptv" | "fixed_line" | "group_vpn" | "mobile" => h.has(product),
        "fibre" => h.holds("broadband") && !h.holds("fibre"),
        "family_plan" => p.family_size.is_some_and(|n| n >= 2),
        "premium_number" => p.premium && !h.has(product),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn cand<'a>(id: &str, channels: &'a [Channel], acceptance: f64, revenue: f64, cost: f64) -> Candidate<'a> {
        Candidate {
            offer_id: Cow::Owned(id.into()),
            kind: OfferKind::Upgrade,
            product: None,
            channels,
            acceptance,
            monthly_revenue_change: revenue,
            monthly_cost: cost,
            retains: false,
            reason: Reason::Partner(""),
        }
    }

    const ALL_CONSENT: Consent = Consent { sms: true, call: true, app_push: true, do_not_disturb: false };

    #[test]
    fn expected_value_by_hand() {
        let policy = NboPolicy::default();
        // 20 yuan a month for 12 months, cost 5: value 240, cost 60; accepted 0.05 x 1.0 on a
        // call costing 3: EV = 0.05 x 180 - 3 = 6.
        let c = cand("A", &[Channel::OutboundCall], 0.05, 20.0, 5.0);
        let s = Standing { consent: ALL_CONSENT, churn_risk: 0.0, value: 100.0 };
        let (p, v, cost, ev) = expected_value(&policy, &c, Channel::OutboundCall, &s);
        assert_eq!((p, v, cost), (0.05, 240.0, 60.0));
        assert!((ev - 6.0).abs() < 1e-9);
        // A retention offer to a subscriber at 10% risk worth 100 a month adds
        // 0.1 x 0.3 x 100 x 12 = 36 of value.
        let r = Candidate { retains: true, ..c };
        let (_, v, _, _) = expected_value(&policy, &r, Channel::OutboundCall, &Standing { churn_risk: 0.1, ..s });
        assert!((v - 276.0).abs() < 1e-9);
    }

    #[test]
    fn do_not_disturb_leaves_only_inbound_channels() {
        let policy = NboPolicy::default();
        let all = Channel::ALL;
        let c = cand("A", &all, 0.5, 50.0, 0.0);
        let s = Standing { consent: Consent { do_not_disturb: true, ..ALL_CONSENT }, churn_risk: 0.0, value: 0.0 };
        let got: Vec<Channel> = arbitrate(&policy, &[c], &s).iter().map(|a| a.channel).collect();
        assert_eq!(got, vec![Channel::WebHall, Channel::Ivr, Channel::SelfServiceTerminal, Channel::BusinessHall]);
    }

    /// An offer of 30 yuan a month by SMS, valid on 2026-01-01.
    fn offer(id: &str, kind: OfferKind, product: &str) -> Offer {
        let date = Date::new(2026, 1, 1).unwrap();
        Offer {
            offer_id: id.into(),
            offer_name: id.into(),
            kind,
            product: Some(product.into()),
            monthly_price: Fen(3000),
            monthly_cost: Fen(500),
            data_mb: 0,
            app_category: None,
            channels: vec![Channel::Sms],
            valid_from: date,
            valid_to: date,
        }
    }

    #[test]
    fn fibre_upgrade_needs_broadband_and_a_bundle_follows_its_rule() {
        let policy = NboPolicy::default();
        let catalog =
            Catalog::new(vec![offer("FIB", OfferKind::Upgrade, "fibre"), offer("TV", OfferKind::Bundle, "iptv")]);
        let broadband = Holdings(0b11);
        let rule = CrossSellRule { antecedent: broadband, consequent: 3, confidence: 0.4, lift: 2.0 };
        let profile = Profile { arpu: 80.0, holdings: broadband, family_size: None, in_group: false, premium: false };
        let rules = CrossSellRules::new(&[rule]);
        let mut got = Vec::new();
        candidates(&policy, &profile, &catalog, &rules, &[0.1; 9], None, None, None, &mut got);
        let ids: Vec<&str> = got.iter().map(|c| c.offer_id.as_ref()).collect();
        assert_eq!(ids, ["FIB", "TV"]);
        assert!((got[1].acceptance - 0.12).abs() < 1e-12, "0.3 x confidence 0.4");
        assert_eq!(got[1].reason.en(), "40% of customers holding mobile+broadband also hold iptv (lift 2.0): TV");
        assert_eq!(got[1].reason.zh(), "持有手机+宽带的客户中40%也办理了IPTV（提升度2.0），推荐「TV」");
        // Without broadband: no fibre upgrade, and the bundle falls back to iptv's base rate.
        let mobile_only = Profile { holdings: Holdings(0b1), ..profile };
        candidates(&policy, &mobile_only, &catalog, &rules, &[0.1; 9], None, None, None, &mut got);
        assert_eq!(got.len(), 1);
        assert!((got[0].acceptance - 0.03).abs() < 1e-12);
    }

    /// Arbitration as first written, channel by channel over every candidate: the oracle of
    /// the one-pass [`arbitrate`] (same weighing, comparison and ranking; another order).
    fn arbitrate_channel_by_channel(policy: &NboPolicy, candidates: &[Candidate], s: &Standing) -> Vec<Arbitrated> {
        let mut chosen: Vec<Arbitrated> = Vec::new();
        for channel in Channel::ALL.into_iter().filter(|ch| reachable(*ch, &s.consent)) {
            let mut best: Option<Arbitrated> = None;
            for i in (0..candidates.len()).filter(|&i| candidates[i].channels.contains(&channel)) {
                let weighed = weigh(policy, candidates, i, channel, s);
                if beats(&weighed, best.as_ref(), candidates) {
                    best = Some(weighed);
                }
            }
            chosen.extend(best);
        }
        rank(chosen)
    }

    #[test]
    fn a_shared_reason_key_tells_apart_every_text() {
        let rule = CrossSellRule { antecedent: Holdings(0b11), consequent: 3, confidence: 0.4, lift: 2.0 };
        let reasons = [
            Reason::CrossSell { offer_name: "TV", rule },
            Reason::CrossSell { offer_name: "TV", rule: CrossSellRule { confidence: 0.41, ..rule } },
            Reason::CrossSell { offer_name: "TV", rule: CrossSellRule { lift: 2.1, ..rule } },
            Reason::CrossSell { offer_name: "TV", rule: CrossSellRule { antecedent: Holdings(0b1), ..rule } },
            Reason::CrossSell { offer_name: "TV", rule: CrossSellRule { consequent: 2, ..rule } },
            Reason::CrossSell { offer_name: "TV2", rule },
            Reason::BaseRate { offer_name: "TV", product: 3, rate: 0.1 },
            Reason::BaseRate { offer_name: "TV", product: 3, rate: 0.2 },
            Reason::BaseRate { offer_name: "TV", product: 2, rate: 0.1 },
            Reason::Upgrade { offer_name: "FIB", held: 1, price: Fen(3000) },
            Reason::Upgrade { offer_name: "FIB", held: 1, price: Fen(3100) },
            Reason::Upgrade { offer_name: "FIB", held: 0, price: Fen(3000) },
            Reason::Club("FIB"),
            Reason::Partner("FIB"),
        ];
        for (i, a) in reasons.iter().enumerate() {
            for b in &reasons[i..] {
                let same_key = a.shared_key() == b.shared_key();
                assert_eq!(same_key, a == b, "{a:?} / {b:?}");
                if same_key {
                    assert_eq!((a.zh(), a.en()), (b.zh(), b.en()));
                }
            }
        }
        let saving = Fen(500);
        assert_eq!(Reason::PlanFit { plan_name: "P", over_use: true, saving }.shared_key(), None);
    }

    #[test]
    fn channels_index_the_policy_in_their_listed_order() {
        assert!(Channel::ALL.iter().enumerate().all(|(i, c)| *c as usize == i));
    }

    fn handset(id: &str, price: i64) -> Offer {
        Offer { monthly_price: Fen(price), ..offer(id, OfferKind::Device, "mobile") }
    }

    #[test]
    fn the_handset_offer_is_the_dearest_within_the_bill_else_the_cheapest() {
        let catalog = Catalog::new(vec![
            handset("D3", 9_900),
            offer("TV", OfferKind::Bundle, "iptv"),
            handset("D1", 3_900),
            handset("D2", 5_900),
            handset("D2b", 5_900),
            handset("D1b", 3_900),
        ]);
        let pick = |arpu: f64| catalog.device_offer(arpu).map(|o| o.offer_id.as_str());
        // As `max_by_key` and `min_by_key` over the catalog: the last of equals, the first of equals.
        assert_eq!(pick(60.0), Some("D2b"));
        assert_eq!(pick(58.99), Some("D1b"));
        // The search as first written, over the catalog in order.
        let devices = || catalog.offers().iter().filter(|o| o.kind == OfferKind::Device);
        for arpu in [0.0, 38.99, 39.0, 39.01, 58.99, 59.0, 99.0, 99.5, 1e9, -1.0, f64::NAN] {
            let fitting = devices().filter(|o| o.monthly_price.as_yuan_f64() <= arpu).max_by_key(|o| o.monthly_price);
            let first_written = fitting.or_else(|| devices().min_by_key(|o| o.monthly_price));
            assert_eq!(catalog.device_offer(arpu), first_written, "arpu {arpu}");
        }
        assert_eq!(pick(10.0), Some("D1"));
        assert_eq!(pick(f64::NAN), Some("D1"));
        assert_eq!(pick(1000.0), Some("D3"));
        assert_eq!(Catalog::new(vec![offer("TV", OfferKind::Bundle, "iptv")]).device_offer(50.0), None);
    }

    fn any_channels() -> impl Strategy<Value = Vec<Channel>> {
        proptest::sample::subsequence(Channel::ALL.to_vec(), 0..=8)
    }

    proptest! {
        #[test]
        fn rule_table_answers_as_a_scan_of_the_rules(
            // Few confidences and lifts around MIN_LIFT, so that ties and refusals happen.
            rules in proptest::collection::vec((0..512u16, 0..9usize, 0..4u32, 0..3u32), 0..12),
            held in 0..1024u16,
            consequent in 0..9usize,
        ) {
            let rules: Vec<CrossSellRule> = rules
                .iter()
                .map(|(a, c, conf, lift)| CrossSellRule {
                    antecedent: Holdings(*a),
                    consequent: *c,
                    confidence: f64::from(*conf) / 4.0,
                    lift: 1.0 + f64::from(*lift) / 10.0,
                })
                .collect();
            let scanned = rules
                .iter()
                .filter(|r| r.consequent == consequent && r.lift > MIN_LIFT && r.antecedent.0 & held == r.antecedent.0)
                .max_by(|a, b| a.confidence.total_cmp(&b.confidence));
            let table = CrossSellRules::new(&rules);
            prop_assert_eq!(table.best(consequent, Holdings(held)), scanned);
        }

        #[test]
        fn one_pass_arbitration_is_channel_by_channel_arbitration(
            // Few codes and few prices, so that ties of value and of code happen.
            cands in proptest::collection::vec(
                (any_channels(), 0..3usize, 1..4u32, 0..3u32, 0..2u32, any::<bool>()), 0..10),
            consent in (any::<bool>(), any::<bool>(), any::<bool>(), any::<bool>()),
        ) {
            let policy = NboPolicy::default();
            let cands: Vec<Candidate> = cands
                .iter()
                .map(|(ch, id, a, r, c, retains)| Candidate {
                    retains: *retains,
                    ..cand(&format!("O{id}"), ch, f64::from(*a) / 4.0, f64::from(*r) * 10.0, f64::from(*c))
                })
                .collect();
            let s = Standing {
                consent: Consent { sms: consent.0, call: consent.1, app_push: consent.2, do_not_disturb: consent.3 },
                churn_risk: 0.5,
                value: 100.0,
            };
            prop_assert_eq!(arbitrate(&policy, &cands, &s), arbitrate_channel_by_channel(&policy, &cands, &s));
        }

        #[test]
        fn each_channel_gets_its_best_allowed_offer(
            cands in proptest::collection::vec((any_channels(), 0.0f64..1.0, -50.0f64..200.0, 0.0f64..50.0, any::<bool>()), 0..8),
            consent in (any::<bool>(), any::<bool>(), any::<bool>(), any::<bool>()),
            risk in 0.0f64..1.0,
        ) {
            let policy = NboPolicy::default();
            let cands: Vec<Candidate> = cands
                .iter()
                .enumerate()
                .map(|(i, (ch, a, r, c, retains))| Candidate { retains: *retains, ..cand(&format!("O{i}"), ch, *a, *r, *c) })
                .collect();
            let s = Standing {
                consent: Consent { sms: consent.0, call: consent.1, app_push: consent.2, do_not_disturb: consent.3 },
                churn_risk: risk,
                value: 100.0,
            };
            let got = arbitrate(&policy, &cands, &s);
            let mut priorities: Vec<u32> = got.iter().map(|a| a.priority).collect();
            priorities.sort();
            prop_assert_eq!(priorities, (1..=got.len() as u32).collect::<Vec<_>>());
            for ch in Channel::ALL {
                let best = cands
                    .iter()
                    .filter(|c| c.channels.contains(&ch))
                    .map(|c| expected_value(&policy, c, ch, &s).3)
                    .fold(f64::NEG_INFINITY, f64::max);
                match got.iter().find(|a| a.channel == ch) {
                    Some(a) => {
                        prop_assert!(reachable(ch, &s.consent));
                        prop_assert!(cands[a.candidate].channels.contains(&ch));
                        prop_assert!(a.expected_value > 0.0 && a.expected_value == best);
                    }
                    None => prop_assert!(!reachable(ch, &s.consent) || best <= 0.0),
                }
            }
        }
    }
}
