//! The tariff engine: the one place a month of usage is priced under a plan.
//!
//! The rule (the synthetic generator bills with exactly the same one):
//!
//! ```text
//! bill = monthly_fee
//!      + max(0, voice_min - plan.voice_min) * voice_overage_per_min
//!      + ceil(max(0, data_mb - plan.data_mb) / data_overage_unit_mb) * data_overage_per_unit
//!      + max(0, sms - plan.sms) * sms_overage_per_msg
//! ```
//!
//! Everything is integer fen, so a bill is exact. Voice minutes in the usage are already
//! rounded up per call by the switch, so the engine prices whole minutes; data beyond the
//! allowance is rounded up to whole units once per month, as the plan declares.

use std::num::NonZeroU64;

use cvm_domain::{Fen, Month};

/// Prepaid or postpaid: a subscriber is only offered plans of their own payment type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PaymentType {
    /// Pays in advance by top-ups.
    Prepaid,
    /// Billed at the end of the month.
    Postpaid,
}

impl PaymentType {
    /// The schema's spelling: `prepaid` or `postpaid`.
    pub fn as_str(self) -> &'static str {
        match self {
            PaymentType::Prepaid => "prepaid",
            PaymentType::Postpaid => "postpaid",
        }
    }

    /// Reads the schema's spelling.
    pub fn parse(s: &str) -> Option<PaymentType> {
        [PaymentType::Prepaid, PaymentType::Postpaid].into_iter().find(|p| p.as_str() == s)
    }
}

/// Whether a plan can still be sold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PlanStatus {
    /// On sale: may be recommended.
    OnSale,
    /// Retired: kept by existing users, never recommended.
    Retired,
}

/// A tariff plan (套餐) of the catalog, one row of the `plans` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Plan code.
    pub plan_id: String,
    /// Plan name as sold.
    pub plan_name: String,
    /// Brand the plan is sold under (`high_end`, `youth`, `mass`).
    pub brand: String,
    /// Prepaid or postpaid.
    pub payment_type: PaymentType,
    /// Monthly fee.
    pub monthly_fee: Fen,
    /// Included voice minutes a month.
    pub voice_min: u64,
    /// Included data a month, MB.
    pub data_mb: u64,
    /// Included SMS a month.
    pub sms: u64,
    /// Price of a minute beyond the allowance.
    pub voice_overage_per_min: Fen,
    /// Data beyond the allowance is billed in whole units of this many MB (never zero).
    pub data_overage_unit_mb: NonZeroU64,
    /// Price of one unit of data beyond the allowance.
    pub data_overage_per_unit: Fen,
    /// Price of an SMS beyond the allowance.
    pub sms_overage_per_msg: Fen,
    /// Tenure in months a subscriber needs to be eligible.
    pub min_tenure_months: u32,
    /// A VIP plan (high-end service level).
    pub vip: bool,
    /// On sale or retired.
    pub status: PlanStatus,
}

/// One subscriber's usage in one month, as the `usage` table records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct UsageMonth {
    /// Subscriber id.
    pub subscriber_id: i64,
    /// Billing month.
    pub month: Month,
    /// Voice minutes, each call already rounded up to whole minutes.
    pub voice_min: u64,
    /// Mobile data, MB.
    pub data_mb: u64,
    /// SMS sent.
    pub sms: u64,
}

/// A month's bill under one plan, by component; `total` is their sum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Bill {
    /// The plan's monthly fee.
    pub monthly_fee: Fen,
    /// Minutes beyond the allowance times the per-minute price.
    pub voice_overage: Fen,
    /// Whole data units beyond the allowance times the per-unit price.
    pub data_overage: Fen,
    /// SMS beyond the allowance times the per-message price.
    pub sms_overage: Fen,
    /// What the subscriber pays for the month.
    pub total: Fen,
}

impl Bill {
    /// Fees for use beyond the allowances (the `overage_fee` of the usage table).
    pub fn overage_fee(&self) -> Fen {
        Fen(self.voice_overage.0.saturating_add(self.data_overage.0).saturating_add(self.sms_overage.0))
    }
}

/// Whole units of `excess` at `price` each. Saturates instead of wrapping: within the schema's
/// ranges (usage up to 10^9, prices up to 10^8 fen) the product is below 10^17 and never
/// saturates; beyond them a saturated bill is still the largest, so no cheaper plan is hidden.
fn units_times(units: u64, price: Fen) -> i64 {
    i64::try_from(units).unwrap_or(i64::MAX).saturating_mul(price.0)
}

/// Prices one month of usage under `plan`.
pub fn bill(plan: &Plan, usage: &UsageMonth) -> Bill {
    let extra_minutes = usage.voice_min.saturating_sub(plan.voice_min);
    let extra_mb = usage.data_mb.saturating_sub(plan.data_mb);
    let extra_sms = usage.sms.saturating_sub(plan.sms);
    // Data is rounded up per month, not per session: one partial unit a month at most.
    let data_units = extra_mb.div_ceil(plan.data_overage_unit_mb.get());
    let voice_overage = units_times(extra_minutes, plan.voice_overage_per_min);
    let data_overage = units_times(data_units, plan.data_overage_per_unit);
    let sms_overage = units_times(extra_sms, plan.sms_overage_per_msg);
    let total =
        plan.monthly_fee.0.saturating_add(voice_overage).saturating_add(data_overage).saturating_add(sms_overage);
    Bill {
        monthly_fee: plan.monthly_fee,
        voice_overage: Fen(voice_overage),
        data_overage: Fen(data_overage),
        sms_overage: Fen(sms_overage),
        total: Fen(total),
    }
}

/// The total of a month's bill under `plan` (the hot path of plan fit and pricing runs).
pub fn bill_total(plan: &Plan, usage: &UsageMonth) -> Fen {
    bill(plan, usage).total
}

/// Whether the plan's allowances cover this much use in a month, with no overage.
pub fn covers(plan: &Plan, voice_min: u64, data_mb: u64, sms: u64) -> bool {
    plan.voice_min >= voice_min && plan.data_mb >= data_mb && plan.sms >= sms
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A plan for tests: fee and allowances as given, typical overage prices.
    pub(crate) fn plan(id: &str, fee_fen: i64, voice: u64, data: u64, sms: u64) -> Plan {
        Plan {
            plan_id: id.to_owned(),
            plan_name: format!("plan {id}"),
            brand: "mass".into(),
            payment_type: PaymentType::Postpaid,
            monthly_fee: Fen(fee_fen),
            voice_min: voice,
            data_mb: data,
            sms,
            voice_overage_per_min: Fen(15),
            data_overage_unit_mb: NonZeroU64::MIN.saturating_add(1023),
            data_overage_per_unit: Fen(500),
            sms_overage_per_msg: Fen(10),
            min_tenure_months: 0,
            vip: false,
            status: PlanStatus::OnSale,
        }
    }

    pub(crate) fn usage(voice: u64, data: u64, sms: u64) -> UsageMonth {
        UsageMonth { subscriber_id: 1, month: Month::new(2026, 1).unwrap(), voice_min: voice, data_mb: data, sms }
    }

    #[test]
    fn within_allowance_pays_the_fee_only() {
        let p = plan("P58", 5800, 300, 10_240, 100);
        let b = bill(&p, &usage(300, 10_240, 100));
        assert_eq!(b.total, Fen(5800));
        assert_eq!(b.overage_fee(), Fen(0));
    }

    #[test]
    fn data_is_rounded_up_per_unit_per_month() {
        let p = plan("P58", 5800, 300, 10_240, 100);
        // 1 MB over: one whole 1 GB unit (5.00 yuan).
        assert_eq!(bill(&p, &usage(0, 10_241, 0)).data_overage, Fen(500));
        // exactly one unit over: still one unit.
        assert_eq!(bill(&p, &usage(0, 11_264, 0)).data_overage, Fen(500));
        assert_eq!(bill(&p, &usage(0, 11_265, 0)).data_overage, Fen(1000));
    }

    #[test]
    fn hand_worked_bill() {
        // 58 yuan + 20 min x 0.15 + ceil(1500/1024)=2 units x 5.00 + 5 SMS x 0.10 = 71.50
        let p = plan("P58", 5800, 300, 10_240, 100);
        let b = bill(&p, &usage(320, 11_740, 105));
        assert_eq!((b.voice_overage, b.data_overage, b.sms_overage), (Fen(300), Fen(1000), Fen(50)));
        assert_eq!(b.total, Fen(7150));
    }

    /// Any plan within the schema's ranges.
    pub(crate) fn any_plan() -> impl Strategy<Value = Plan> {
        (
            (0i64..=100_000_000, 0u64..=100_000, 0u64..=10_000_000, 0u64..=100_000),
            (0i64..=100_000_000, 1u64..=10_240, 0i64..=100_000_000, 0i64..=100_000_000),
        )
            .prop_map(|((fee, voice, data, sms), (vp, unit, dp, sp))| Plan {
                monthly_fee: Fen(fee),
                voice_overage_per_min: Fen(vp),
                data_overage_unit_mb: NonZeroU64::new(unit).unwrap_or(NonZeroU64::MIN),
                data_overage_per_unit: Fen(dp),
                sms_overage_per_msg: Fen(sp),
                ..plan("X", 0, voice, data, sms)
            })
    }

    const BIG: u64 = 1_000_000_000;

    proptest! {
        #[test]
        fn bill_is_at_least_the_fee_and_adds_up(p in any_plan(), v in 0..=BIG, d in 0..=BIG, s in 0..=BIG) {
            let b = bill(&p, &usage(v, d, s));
            prop_assert!(b.total >= p.monthly_fee);
            // No saturation within schema ranges: the parts add up exactly.
            let sum = b.monthly_fee.0 as i128 + b.voice_overage.0 as i128 + b.data_overage.0 as i128
                + b.sms_overage.0 as i128;
            prop_assert_eq!(sum, b.total.0 as i128);
            prop_assert!(b.total.0 < i64::MAX / 4);
            // Independent computation in i128.
            let extra = |u: u64, a: u64| (u.saturating_sub(a)) as i128;
            let unit = p.data_overage_unit_mb.get() as i128;
            let expected = p.monthly_fee.0 as i128
                + extra(v, p.voice_min) * p.voice_overage_per_min.0 as i128
                + (extra(d, p.data_mb) + unit - 1) / unit * p.data_overage_per_unit.0 as i128
                + extra(s, p.sms) * p.sms_overage_per_msg.0 as i128;
            prop_assert_eq!(expected, b.total.0 as i128);
        }

        #[test]
        fn bill_is_monotone_in_usage(
            p in any_plan(), v in 0..=BIG, d in 0..=BIG, s in 0..=BIG,
            dv in 0..=1_000u64, dd in 0..=100_000u64, ds in 0..=1_000u64,
        ) {
            let low = bill(&p, &usage(v, d, s)).total;
            let high = bill(&p, &usage(v + dv, d + dd, s + ds)).total;
            prop_assert!(high >= low);
        }

        #[test]
        fn covered_usage_pays_the_fee_exactly(p in any_plan(), v in 0..=BIG, d in 0..=BIG, s in 0..=BIG) {
            if covers(&p, v, d, s) {
                prop_assert_eq!(bill(&p, &usage(v, d, s)).total, p.monthly_fee);
            }
        }
    }
}
