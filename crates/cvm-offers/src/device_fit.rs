//! Device fit (终端适配): which handset tier a loyal subscriber should be offered, and which
//! retention handset of their branch's pool they get.
//!
//! The recommended tier follows what the subscriber spends (ARPU thresholds, the value
//! pyramid's), one tier higher after long tenure. A subscriber needs a device offer when
//! they are loyal enough for the retention pool (tenure) and their handset is old or below
//! the recommended tier (or unknown).
//!
//! The pool is finite: [`allocate`] serves subscribers in order of value, highest first,
//! each from their own branch's stock, and never promises more units than a branch holds.

use std::collections::HashMap;
use std::sync::Arc;

use cvm_domain::Fen;
use rayon::slice::ParallelSliceMut;

/// Handset price tier, as the device catalog declares it; ordered entry < flagship.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DeviceTier {
    /// Entry level.
    Entry,
    /// Mid range.
    Mid,
    /// High end.
    High,
    /// Flagship.
    Flagship,
}

impl DeviceTier {
    /// All tiers, lowest first.
    pub const ALL: [DeviceTier; 4] = [DeviceTier::Entry, DeviceTier::Mid, DeviceTier::High, DeviceTier::Flagship];

    /// The catalog's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceTier::Entry => "entry",
            DeviceTier::Mid => "mid",
            DeviceTier::High => "high",
            DeviceTier::Flagship => "flagship",
        }
    }

    /// Reads the catalog's spelling.
    pub fn parse(s: &str) -> Option<DeviceTier> {
        DeviceTier::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// Chinese name, for reasons shown to agents and customers.
    pub fn name_zh(self) -> &'static str {
        match self {
            DeviceTier::Entry => "入门机",
            DeviceTier::Mid => "中端机",
            DeviceTier::High => "高端机",
            DeviceTier::Flagship => "旗舰机",
        }
    }

    fn up(self) -> DeviceTier {
        match self {
            DeviceTier::Entry => DeviceTier::Mid,
            DeviceTier::Mid => DeviceTier::High,
            DeviceTier::High | DeviceTier::Flagship => DeviceTier::Flagship,
        }
    }
}

/// The rules of device fit; money in fen a month, so comparisons are exact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceRules {
    /// Tenure in months a subscriber needs for the retention pool.
    pub min_tenure_months: u32,
    /// A handset this many months old (or older) is due for replacement.
    pub replace_after_months: u32,
    /// Least 3-month average ARPU for a flagship, a high-end and a mid-range handset.
    pub flagship_arpu: Fen,
    /// See `flagship_arpu`.
    pub high_arpu: Fen,
    /// See `flagship_arpu`.
    pub mid_arpu: Fen,
    /// From this tenure on, the recommended tier is one higher.
    pub loyalty_bonus_tenure_months: u32,
}

impl Default for DeviceRules {
    /// One year in the network, handsets of two years, the value pyramid's ARPU thresholds
    /// (300 / 150 / 80 yuan), one tier up after five years.
    fn default() -> Self {
        DeviceRules {
            min_tenure_months: 12,
            replace_after_months: 24,
            flagship_arpu: Fen(30_000),
            high_arpu: Fen(15_000),
            mid_arpu: Fen(8_000),
            loyalty_bonus_tenure_months: 60,
        }
    }
}

/// What device fit needs to know of a subscriber.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceSubscriber {
    /// Subscriber id.
    pub subscriber_id: i64,
    /// Branch that serves them (and holds the pool they draw from).
    pub branch_id: String,
    /// Whole months since the line was opened.
    pub tenure_months: u32,
    /// 3-month average ARPU, in fen.
    pub arpu: Fen,
    /// Tier of the current handset, where known.
    pub current_tier: Option<DeviceTier>,
    /// Months since the current handset was first seen, where known.
    pub device_age_months: Option<u32>,
    /// Customer value: who is served first when stock runs short.
    pub value: f64,
}

/// Why a subscriber needs a device offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceNeed {
    /// The handset is at least `replace_after_months` old.
    OldHandset,
    /// The handset's tier is below what the subscriber's spending supports.
    BelowTier,
    /// The handset is not known.
    Unknown,
}

impl DeviceNeed {
    /// A short code for files.
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceNeed::OldHandset => "old_handset",
            DeviceNeed::BelowTier => "below_tier",
            DeviceNeed::Unknown => "unknown_handset",
        }
    }
}

/// The tier a subscriber's spending and tenure support.
pub fn recommended_tier(rules: &DeviceRules, tenure_months: u32, arpu: Fen) -> DeviceTier {
    let by_arpu = if arpu >= rules.flagship_arpu {
        DeviceTier::Flagship
    } else if arpu >= rules.high_arpu {
        DeviceTier::High
    } else if arpu >= rules.mid_arpu {
        DeviceTier::Mid
    } else {
        DeviceTier::Entry
    };
    if tenure_months >= rules.loyalty_bonus_tenure_months { by_arpu.up() } else { by_arpu }
}

/// The recommended tier and why, when the subscriber needs a device offer at all.
pub fn device_need(rules: &DeviceRules, s: &DeviceSubscriber) -> Option<(DeviceTier, DeviceNeed)> {
    if s.tenure_months < rules.min_tenure_months {
        return None;
    }
    let tier = recommended_tier(rules, s.tenure_months, s.arpu);
    let need = match (s.current_tier, s.device_age_months) {
        (None, _) => DeviceNeed::Unknown,
        (Some(current), _) if current < tier => DeviceNeed::BelowTier,
        (Some(_), Some(age)) if age >= rules.replace_after_months => DeviceNeed::OldHandset,
        _ => return None,
    };
    Some((tier, need))
}

/// Units of one handset model a branch holds for retention.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolStock {
    /// Branch holding the stock.
    pub branch_id: String,
    /// Handset model.
    pub device_model: String,
    /// Its tier.
    pub tier: DeviceTier,
    /// Units in stock.
    pub stock: u32,
    /// Price offered to a retained subscriber.
    pub retention_price: Fen,
}

/// What one subscriber who needs a device is offered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceAllocation {
    /// Subscriber id.
    pub subscriber_id: i64,
    /// Their branch (shared by all its subscribers' allocations).
    pub branch_id: Arc<str>,
    /// The tier of the handset they use, where known.
    pub current_tier: Option<DeviceTier>,
    /// The tier their spending supports.
    pub recommended_tier: DeviceTier,
    /// Why they need a device.
    pub need: DeviceNeed,
    /// The pool handset reserved for them, with its retention price; `None` when their
    /// branch has no unit left of that tier or of a lower tier that is still an upgrade.
    pub reserved: Option<(String, DeviceTier, Fen)>,
    /// Place in the serving order (1 = served first).
    pub rank: u32,
}

/// The number of `branch` in `branches`, which it joins (with an empty `S`) the first time.
fn branch_number<'a, S: Default>(
    numbers: &mut HashMap<&'a str, u32>,
    branches: &mut Vec<(Arc<str>, S)>,
    branch: &'a str,
) -> u32 {
    *numbers.entry(branch).or_insert_with(|| {
        branches.push((Arc::from(branch), S::default()));
        u32::try_from(branches.len() - 1).unwrap_or(u32::MAX)
    })
}

/// The lowest tier worth reserving: above the current handset when that is below tier, the
/// same tier (or the recommended one, if lower) to replace an old handset.
fn lowest_acceptable(current: Option<DeviceTier>, recommended: DeviceTier, need: DeviceNeed) -> DeviceTier {
    match (need, current) {
        (DeviceNeed::BelowTier, Some(c)) => c.up(),
        (DeviceNeed::OldHandset, Some(c)) => c.min(recommended),
        _ => DeviceTier::Entry,
    }
}

/// Serves every subscriber that needs a device, highest value first (ties: lower id), from
/// their branch's pool: a unit of the recommended tier, else of the highest lower tier that
/// is still an upgrade of a below-tier handset (or, for an old one, no lower than it); within a tier the model with the lowest retention
/// price (then model code). A unit is promised once: the stock of every model bounds the
/// reservations made of it.
pub fn allocate<'a>(
    rules: &DeviceRules,
    pool: &'a [PoolStock],
    subscribers: &'a [DeviceSubscriber],
) -> Vec<DeviceAllocation> {
    // Remaining stock per branch, per tier, cheapest model first: (price, model, units left),
    // and the first model with a unit left (stock only goes down, so it only moves on: a
    // branch's sold-out models are not looked at again for each of its subscribers).
    type Shelf<'s> = [(Vec<(Fen, &'s str, u32)>, usize); 4];
    // Every branch once, by number: the pool's, then those of subscribers without a pool.
    let mut numbers: HashMap<&'a str, u32> = HashMap::new();
    let mut branches: Vec<(Arc<str>, Shelf<'a>)> = Vec::new();
    for p in pool.iter().filter(|p| p.stock > 0) {
        let b = branch_number(&mut numbers, &mut branches, &p.branch_id);
        branches[b as usize].1[p.tier as usize].0.push((p.retention_price, p.device_model.as_str(), p.stock));
    }
    for (_, tiers) in &mut branches {
        for (models, _) in tiers.iter_mut() {
            models.sort();
        }
    }
    // (value, id, branch, tier, need, current tier): what serving needs, beside the sort keys,
    // so that millions of needs are sorted and served without going back to `subscribers`.
    let mut needing: Vec<(f64, i64, u32, DeviceTier, DeviceNeed, Option<DeviceTier>)> = subscribers
        .iter()
        .filter_map(|s| {
            let (tier, need) = device_need(rules, s)?;
            let b = branch_number(&mut numbers, &mut branches, &s.branch_id);
            Some((s.value, s.subscriber_id, b, tier, need, s.current_tier))
        })
        .collect();
    // On every core. The order is total (ids are unique), so neither the cores nor an
    // unstable sort change it.
    needing.par_sort_unstable_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    let mut out = Vec::with_capacity(needing.len());
    for (rank, (_, subscriber_id, b, tier, need, current_tier)) in needing.into_iter().enumerate() {
        let (branch_id, shelf) = &mut branches[b as usize];
        let mut reserved = None;
        for t in (lowest_acceptable(current_tier, tier, need) as usize..=tier as usize).rev() {
            let (models, first_left) = &mut shelf[t];
            if let Some(slot) = models.get_mut(*first_left) {
                slot.2 -= 1;
                reserved = Some((slot.1.to_owned(), DeviceTier::ALL[t], slot.0));
                if slot.2 == 0 {
                    *first_left += 1;
                }
                break;
            }
        }
        out.push(DeviceAllocation {
            subscriber_id,
            branch_id: branch_id.clone(),
            current_tier,
            recommended_tier: tier,
            need,
            reserved,
            rank: u32::try_from(rank + 1).unwrap_or(u32::MAX),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sub(
        id: i64,
        branch: &str,
        tenure: u32,
        arpu_yuan: i64,
        tier: Option<DeviceTier>,
        age: u32,
        value: f64,
    ) -> DeviceSubscriber {
        DeviceSubscriber {
            subscriber_id: id,
            branch_id: branch.into(),
            tenure_months: tenure,
            arpu: Fen(arpu_yuan * 100),
            current_tier: tier,
            device_age_months: Some(age),
            value,
        }
    }

    fn stock(branch: &str, model: &str, tier: DeviceTier, n: u32, price_yuan: i64) -> PoolStock {
        PoolStock {
            branch_id: branch.into(),
            device_model: model.into(),
            tier,
            stock: n,
            retention_price: Fen(price_yuan * 100),
        }
    }

    #[test]
    fn tier_follows_arpu_and_long_tenure_adds_one() {
        let r = DeviceRules::default();
        assert_eq!(recommended_tier(&r, 24, Fen(29_999)), DeviceTier::High);
        assert_eq!(recommended_tier(&r, 24, Fen(30_000)), DeviceTier::Flagship);
        assert_eq!(recommended_tier(&r, 24, Fen(7_999)), DeviceTier::Entry);
        assert_eq!(recommended_tier(&r, 60, Fen(8_000)), DeviceTier::High);
        assert_eq!(recommended_tier(&r, 80, Fen(40_000)), DeviceTier::Flagship);
    }

    #[test]
    fn who_needs_a_device() {
        let r = DeviceRules::default();
        // New line: not yet loyal enough for the pool.
        assert_eq!(device_need(&r, &sub(1, "B", 11, 400, Some(DeviceTier::Entry), 40, 1.0)), None);
        // Spending supports high, holds mid: below tier.
        assert_eq!(
            device_need(&r, &sub(2, "B", 20, 160, Some(DeviceTier::Mid), 3, 1.0)),
            Some((DeviceTier::High, DeviceNeed::BelowTier))
        );
        // Right tier but 2 years old.
        assert_eq!(
            device_need(&r, &sub(3, "B", 20, 160, Some(DeviceTier::High), 24, 1.0)),
            Some((DeviceTier::High, DeviceNeed::OldHandset))
        );
        // Right tier, recent: nothing to offer.
        assert_eq!(device_need(&r, &sub(4, "B", 20, 160, Some(DeviceTier::Flagship), 23, 1.0)), None);
    }

    #[test]
    fn the_most_valuable_are_served_first_and_stock_is_never_exceeded() {
        let r = DeviceRules::default();
        let pool = vec![
            stock("B1", "H-cheap", DeviceTier::High, 1, 999),
            stock("B1", "H-dear", DeviceTier::High, 1, 1999),
            stock("B1", "M", DeviceTier::Mid, 1, 499),
            stock("B2", "H", DeviceTier::High, 5, 999),
        ];
        let subs = vec![
            sub(10, "B1", 30, 200, Some(DeviceTier::Entry), 30, 200.0),
            sub(11, "B1", 30, 200, Some(DeviceTier::Entry), 30, 250.0),
            sub(12, "B1", 30, 200, Some(DeviceTier::Entry), 30, 210.0),
            sub(13, "B1", 30, 200, Some(DeviceTier::Entry), 30, 150.0),
            sub(14, "B1", 30, 200, Some(DeviceTier::Mid), 30, 100.0),
            sub(15, "B3", 30, 200, Some(DeviceTier::Entry), 30, 900.0),
        ];
        let got = allocate(&r, &pool, &subs);
        let by_id: HashMap<i64, &DeviceAllocation> = got.iter().map(|a| (a.subscriber_id, a)).collect();
        let model = |id: i64| by_id[&id].reserved.as_ref().map(|r| r.0.as_str());
        // 11 (250) gets the cheapest high, 12 (210) the other high, 10 (200) falls back to mid.
        assert_eq!(model(11), Some("H-cheap"));
        assert_eq!(model(12), Some("H-dear"));
        assert_eq!(model(10), Some("M"));
        // 13 finds nothing left; 14 already holds mid, so mid would not be an upgrade anyway.
        assert_eq!(model(13), None);
        assert_eq!(model(14), None);
        // Branch B3 has no pool.
        assert_eq!(model(15), None);
        assert_eq!(by_id[&15].rank, 1);
    }

    fn any_tier() -> impl Strategy<Value = DeviceTier> {
        (0usize..4).prop_map(|i| DeviceTier::ALL[i])
    }

    proptest! {
        #[test]
        fn never_more_than_the_stock_and_value_order_holds(
            pool in proptest::collection::vec((0u8..3, 0u8..4, any_tier(), 0u32..4, 0i64..3000), 0..12),
            subs in proptest::collection::vec((0u8..3, 0u32..100, 0i64..500, proptest::option::of(any_tier()), 0u32..50, 0.0f64..500.0), 0..60),
        ) {
            let r = DeviceRules::default();
            let pool: Vec<PoolStock> = pool
                .into_iter()
                .enumerate()
                .map(|(i, (b, m, t, n, p))| stock(&format!("B{b}"), &format!("M{m}-{i}"), t, n, p))
                .collect();
            let subs: Vec<DeviceSubscriber> = subs
                .into_iter()
                .enumerate()
                .map(|(i, (b, tenure, arpu, tier, age, value))| sub(i as i64, &format!("B{b}"), tenure, arpu, tier, age, value))
                .collect();
            let got = allocate(&r, &pool, &subs);
            // Stock bounds reservations, per branch and model.
            let mut used: HashMap<(String, String), u32> = HashMap::new();
            for a in &got {
                if let Some((model, tier, _)) = &a.reserved {
                    *used.entry((a.branch_id.to_string(), model.clone())).or_default() += 1;
                    prop_assert!(*tier <= a.recommended_tier);
                    let current = subs.iter().find(|s| s.subscriber_id == a.subscriber_id).and_then(|s| s.current_tier);
                    if a.need == DeviceNeed::BelowTier {
                        prop_assert!(current.is_some_and(|c| c < *tier));
                    }
                }
            }
            for ((branch, model), n) in used {
                let held: u32 = pool.iter().filter(|p| p.branch_id == branch && p.device_model == model).map(|p| p.stock).sum();
                prop_assert!(n <= held, "{branch}/{model}: {n} promised, {held} held");
            }
            // Served in value order: ranks follow value, highest first.
            for pair in got.windows(2) {
                let v = |a: &DeviceAllocation| subs.iter().find(|s| s.subscriber_id == a.subscriber_id).map_or(0.0, |s| s.value);
                prop_assert!(v(&pair[0]) >= v(&pair[1]));
            }
        }
    }
}
