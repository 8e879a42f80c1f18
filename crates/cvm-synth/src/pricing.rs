//! The pricing rule of a month's bill, in exact integer fen.
//!
//! The tariff engine elsewhere in telco-cvm implements the same rule; the generator uses it
//! for every usage row so that an import can be reconciled to the fen:
//!
//! ```text
//! bill = monthly_fee
//!      + max(0, voice_min - plan.voice_min) * voice_overage_per_min
//!      + ceil(max(0, data_mb - plan.data_mb) / data_overage_unit_mb) * data_overage_per_unit
//!      + max(0, sms - plan.sms) * sms_overage_per_msg
//! ```

/// The tariff of a plan: fee, allowances and overage prices (money in fen).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tariff {
    /// Monthly fee, fen.
    pub monthly_fee: i64,
    /// Included voice minutes.
    pub voice_min: i64,
    /// Included data, MB.
    pub data_mb: i64,
    /// Included SMS.
    pub sms: i64,
    /// Price of a minute beyond the allowance, fen.
    pub voice_overage_per_min: i64,
    /// Data beyond the allowance is billed in whole units of this many MB (at least 1).
    pub data_overage_unit_mb: i64,
    /// Price of one unit of data beyond the allowance, fen.
    pub data_overage_per_unit: i64,
    /// Price of an SMS beyond the allowance, fen.
    pub sms_overage_per_msg: i64,
}

/// The bill of a month with this usage, in fen (monthly fee included).
pub fn bill(t: &Tariff, voice_min: i64, data_mb: i64, sms: i64) -> i64 {
    let voice_over = (voice_min - t.voice_min).max(0);
    let data_over = (data_mb - t.data_mb).max(0);
    let unit = t.data_overage_unit_mb.max(1);
    let data_units = (data_over + unit - 1) / unit;
    let sms_over = (sms - t.sms).max(0);
    t.monthly_fee
        + voice_over * t.voice_overage_per_min
        + data_units * t.data_overage_per_unit
        + sms_over * t.sms_overage_per_msg
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 38 yuan: 150 min, 10 GB, no SMS; 0.15/min, 5.00 per GB unit, 0.10/SMS.
    const T38: Tariff = Tariff {
        monthly_fee: 3800,
        voice_min: 150,
        data_mb: 10_240,
        sms: 0,
        voice_overage_per_min: 15,
        data_overage_unit_mb: 1024,
        data_overage_per_unit: 500,
        sms_overage_per_msg: 10,
    };
    /// A retired 15-yuan plan billing data per MB at 0.29.
    const T15: Tariff = Tariff {
        monthly_fee: 1500,
        voice_min: 100,
        data_mb: 30,
        sms: 50,
        voice_overage_per_min: 19,
        data_overage_unit_mb: 1,
        data_overage_per_unit: 29,
        sms_overage_per_msg: 10,
    };

    #[test]
    fn within_allowance_is_the_fee() {
        assert_eq!(bill(&T38, 0, 0, 0), 3800);
        assert_eq!(bill(&T38, 150, 10_240, 0), 3800);
    }

    #[test]
    fn hand_worked_overages() {
        // 20 min over at 0.15 = 3.00; 1 MB over rounds up to one 1024 MB unit = 5.00;
        // 7 SMS at 0.10 = 0.70. 38 + 3 + 5 + 0.70 = 46.70.
        assert_eq!(bill(&T38, 170, 10_241, 7), 4670);
        // 2049 MB over = 3 units = 15.00.
        assert_eq!(bill(&T38, 0, 10_240 + 2049, 0), 3800 + 1500);
        // Exactly two units over = 10.00.
        assert_eq!(bill(&T38, 0, 10_240 + 2048, 0), 3800 + 1000);
        // Per-MB plan: 130 min (30 over x 0.19 = 5.70), 230 MB (200 x 0.29 = 58.00),
        // 60 SMS (10 x 0.10 = 1.00): 15 + 5.70 + 58 + 1 = 79.70.
        assert_eq!(bill(&T15, 130, 230, 60), 7970);
    }
}

/// The generator bills as the operator's own billing system would, independently of the
/// product's tariff engine (`cvm_offers::tariff`); this checks that the two agree to the fen,
/// as an operator checks the engine against its billing.
#[cfg(test)]
mod agrees_with_the_tariff_engine {
    use std::num::NonZeroU64;

    use cvm_domain::{Fen, Month};
    use cvm_offers::tariff::{self, PaymentType, Plan, PlanStatus, UsageMonth};
    use proptest::prelude::*;

    use super::{Tariff, bill};

    proptest! {
        #[test]
        fn same_bill_to_the_fen(
            fee in 0i64..100_000, voice in 0i64..5_000, data in 0i64..200_000, sms in 0i64..1_000,
            voice_price in 0i64..100, unit in prop_oneof![Just(1i64), Just(1024), 1i64..10_240], unit_price in 0i64..2_000,
            sms_price in 0i64..50, used_voice in 0i64..20_000, used_data in 0i64..1_000_000, used_sms in 0i64..5_000,
        ) {
            let t = Tariff {
                monthly_fee: fee, voice_min: voice, data_mb: data, sms,
                voice_overage_per_min: voice_price, data_overage_unit_mb: unit,
                data_overage_per_unit: unit_price, sms_overage_per_msg: sms_price,
            };
            let plan = Plan {
                plan_id: "P".into(), plan_name: "P".into(), brand: "mass".into(),
                payment_type: PaymentType::Prepaid, monthly_fee: Fen(fee),
                voice_min: voice as u64, data_mb: data as u64, sms: sms as u64,
                voice_overage_per_min: Fen(voice_price),
                data_overage_unit_mb: NonZeroU64::new(unit as u64).unwrap_or(NonZeroU64::MIN),
                data_overage_per_unit: Fen(unit_price), sms_overage_per_msg: Fen(sms_price),
                min_tenure_months: 0, vip: false, status: PlanStatus::OnSale,
            };
            let usage = UsageMonth {
                subscriber_id: 1, month: Month::parse("2026-10").unwrap(),
                voice_min: used_voice as u64, data_mb: used_data as u64, sms: used_sms as u64,
            };
            prop_assert_eq!(bill(&t, used_voice, used_data, used_sms), tariff::bill_total(&plan, &usage).0);
        }
    }
}
