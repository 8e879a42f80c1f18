//! Plan fit (套餐适配): the last three consecutive months of a subscriber's usage against
//! their plan, and the plan that fits them better.
//!
//! - Each month is flagged for over-use (use beyond an allowance: a warm reminder) and
//!   under-use (voice and data well below what the plan includes: paying for what is unused).
//! - A month-on-month surge or drop in voice or data raises an alert.
//! - A mismatch in the same direction in all three months creates a service task.
//! - The recommended plan is chosen among the plans the subscriber is eligible for (on sale,
//!   same payment type, enough tenure) under one of three policies; the saving for the
//!   customer and the revenue effect for the operator are per month, in fen.
//!
//! Averages are compared through exact three-month totals, never through rounded averages,
//! so a recommendation does not depend on rounding.

use cvm_domain::{Fen, Month};

use crate::tariff::{PaymentType, Plan, PlanStatus, UsageMonth, bill_total};

/// Number of months plan fit looks at.
pub const WINDOW_MONTHS: usize = 3;

/// What plan fit needs to know about a subscriber.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Subscriber {
    /// Subscriber id.
    pub subscriber_id: i64,
    /// Prepaid or postpaid: only plans of the same type are offered.
    pub payment_type: PaymentType,
    /// Whole months since the line was opened.
    pub tenure_months: u32,
}

/// Thresholds of the flags and alerts, in whole percent and units so they are exact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FitThresholds {
    /// A month is under-used when voice and data (each that the plan includes) are below
    /// this percent of the allowance.
    pub under_use_percent: u64,
    /// A surge is a month-on-month rise of at least this percent...
    pub surge_percent: u64,
    /// ... a drop a fall of at least this percent...
    pub drop_percent: u64,
    /// ... and either moves voice by at least this many minutes...
    pub min_voice_change: u64,
    /// ... or data by at least this many MB (so 2 -> 5 minutes is not an alert).
    pub min_data_change_mb: u64,
}

impl Default for FitThresholds {
    /// Under-use below half the allowance; surge at doubling, drop at halving; at least
    /// 30 minutes or 500 MB of change.
    fn default() -> Self {
        FitThresholds {
            under_use_percent: 50,
            surge_percent: 100,
            drop_percent: 50,
            min_voice_change: 30,
            min_data_change_mb: 500,
        }
    }
}

/// How the recommended plan is chosen among the eligible plans.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// The plan with the lowest three-month bill for this usage: best for the customer.
    MinimumBill,
    /// The plan with the lowest monthly fee whose allowances cover the three-month average
    /// usage; when none covers it, the minimum-bill plan.
    CheapestCovering,
    /// Best value to the operator: the covering plan with the highest bill for this usage,
    /// among those that raise the customer's monthly bill by at most `max_customer_increase`
    /// (a negative cap requires a saving of at least that much). When no covering plan is
    /// within the cap, the minimum-bill plan if it is within the cap, else no recommendation.
    OperatorValue {
        /// Largest rise of the customer's average monthly bill allowed (negative: least saving).
        max_customer_increase: Fen,
    },
}

/// Voice or data, the two measures alerts watch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Measure {
    /// Voice minutes.
    Voice,
    /// Data MB.
    Data,
}

/// Which way usage moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// A sudden rise.
    Surge,
    /// A sudden fall.
    Drop,
}

/// A month-on-month surge or drop alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Alert {
    /// The month whose usage moved, compared with the month before.
    pub month: Month,
    /// Voice or data.
    pub measure: Measure,
    /// Surge or drop.
    pub direction: Direction,
    /// Usage the month before.
    pub before: u64,
    /// Usage this month.
    pub after: u64,
}

/// A service task created by a mismatch that lasted the whole window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServiceTask {
    /// Over-use in each of the three months: the plan is too small.
    PersistentOverUse,
    /// Under-use in each of the three months: the customer pays for what they do not use.
    PersistentUnderUse,
}

/// How one subscriber's usage fits their current plan over the window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FitAssessment {
    /// Subscriber id.
    pub subscriber_id: i64,
    /// Current plan.
    pub current_plan_id: String,
    /// The three months, oldest first.
    pub months: [Month; WINDOW_MONTHS],
    /// The bill of each month under the current plan.
    pub current_bills: [Fen; WINDOW_MONTHS],
    /// Over-use (use beyond an allowance) in each month.
    pub over_use: [bool; WINDOW_MONTHS],
    /// Under-use in each month.
    pub under_use: [bool; WINDOW_MONTHS],
    /// Over-use in the latest month: send a warm reminder.
    pub warm_reminder: bool,
    /// Surges and drops between consecutive months of the window.
    pub alerts: Vec<Alert>,
    /// A service task when a mismatch lasted all three months.
    pub service_task: Option<ServiceTask>,
}

/// The plan recommended to one subscriber, with its effect per month.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recommendation {
    /// The recommended plan.
    pub plan_id: String,
    /// The policy it was chosen under.
    pub policy: Policy,
    /// Whether it is the plan the subscriber already has.
    pub is_current: bool,
    /// Three-month bill total under the current plan.
    pub current_total: Fen,
    /// Three-month bill total under the recommended plan.
    pub recommended_total: Fen,
    /// Average monthly saving for the customer (negative: they would pay more), rounded to
    /// the nearest fen.
    pub monthly_saving: Fen,
    /// Average monthly revenue effect for the operator: the negative of the saving.
    pub revenue_effect: Fen,
}

/// The last three consecutive months ending at `as_of` from a subscriber's usage, oldest
/// first; `None` when any of them is missing.
pub fn window(usage: &[UsageMonth], as_of: Month) -> Option<[UsageMonth; WINDOW_MONTHS]> {
    let find = |m: Month| usage.iter().find(|u| u.month == m).copied();
    Some([find(as_of.plus(-2))?, find(as_of.plus(-1))?, find(as_of)?])
}

/// Whether `subscriber` may be moved to `plan`: on sale, same payment type, enough tenure.
pub fn eligible(plan: &Plan, subscriber: &Subscriber) -> bool {
    plan.status == PlanStatus::OnSale
        && plan.payment_type == subscriber.payment_type
        && plan.min_tenure_months <= subscriber.tenure_months
}

/// Three-month bill total under `plan`, exact.
pub fn window_total(plan: &Plan, window: &[UsageMonth; WINDOW_MONTHS]) -> Fen {
    Fen(window.iter().fold(0i64, |sum, u| sum.saturating_add(bill_total(plan, u).0)))
}

/// Whether the plan's allowances cover the window's average usage (exact: allowance x 3 >=
/// total use).
pub fn covers_average(plan: &Plan, window: &[UsageMonth; WINDOW_MONTHS]) -> bool {
    let n = WINDOW_MONTHS as u128;
    let total = |f: fn(&UsageMonth) -> u64| window.iter().map(|u| u128::from(f(u))).sum::<u128>();
    u128::from(plan.voice_min) * n >= total(|u| u.voice_min)
        && u128::from(plan.data_mb) * n >= total(|u| u.data_mb)
        && u128::from(plan.sms) * n >= total(|u| u.sms)
}

fn over_used(plan: &Plan, u: &UsageMonth) -> bool {
    u.voice_min > plan.voice_min || u.data_mb > plan.data_mb || u.sms > plan.sms
}

fn under_used(plan: &Plan, u: &UsageMonth, percent: u64) -> bool {
    // Only the allowances the plan has count; a plan with neither voice nor data included
    // cannot be under-used. SMS is left out: most subscribers leave their SMS unused.
    let below = |used: u64, allowance: u64| u128::from(used) * 100 < u128::from(allowance) * u128::from(percent);
    let parts = [(u.voice_min, plan.voice_min), (u.data_mb, plan.data_mb)];
    let counted: Vec<_> = parts.iter().filter(|(_, allowance)| *allowance > 0).collect();
    !counted.is_empty() && counted.iter().all(|(used, allowance)| below(*used, *allowance))
}

fn movement(before: u64, after: u64, min_change: u64, t: &FitThresholds) -> Option<Direction> {
    let (b, a) = (u128::from(before), u128::from(after));
    if a >= b + u128::from(min_change) && a * 100 >= b * u128::from(100 + t.surge_percent) {
        Some(Direction::Surge)
    } else if b >= a + u128::from(min_change) && a * 100 <= b * u128::from(100u64.saturating_sub(t.drop_percent)) {
        Some(Direction::Drop)
    } else {
        None
    }
}

/// Flags, alerts and service task for one subscriber's window under their current plan.
pub fn assess(
    subscriber_id: i64,
    current: &Plan,
    window: &[UsageMonth; WINDOW_MONTHS],
    thresholds: &FitThresholds,
) -> FitAssessment {
    let over_use = window.map(|u| over_used(current, &u));
    let under_use = window.map(|u| under_used(current, &u, thresholds.under_use_percent));
    let mut alerts = Vec::new();
    for pair in window.windows(2) {
        let (before, after) = (pair[0], pair[1]);
        let measures = [
            (Measure::Voice, before.voice_min, after.voice_min, thresholds.min_voice_change),
            (Measure::Data, before.data_mb, after.data_mb, thresholds.min_data_change_mb),
        ];
        for (measure, b, a, min_change) in measures {
            if let Some(direction) = movement(b, a, min_change, thresholds) {
                alerts.push(Alert { month: after.month, measure, direction, before: b, after: a });
            }
        }
    }
    // Under-use first: a month can be both only when voice and data sit idle while SMS goes
    // over, and then the plan's main allowances are what the customer pays for in vain.
    let service_task = if under_use.iter().all(|&x| x) {
        Some(ServiceTask::PersistentUnderUse)
    } else if over_use.iter().all(|&x| x) {
        Some(ServiceTask::PersistentOverUse)
    } else {
        None
    };
    FitAssessment {
        subscriber_id,
        current_plan_id: current.plan_id.clone(),
        months: window.map(|u| u.month),
        current_bills: window.map(|u| bill_total(current, &u)),
        over_use,
        under_use,
        warm_reminder: over_use[WINDOW_MONTHS - 1],
        alerts,
        service_task,
    }
}

/// `total / 3` rounded to the nearest fen, halves away from zero.
fn per_month(total: i64) -> Fen {
    let n = WINDOW_MONTHS as i64;
    let q = total / n;
    let r = total % n;
    // |r| is 0, 1 or 2 of thirds: 2/3 rounds away from zero, 1/3 towards it.
    Fen(if 2 * r.abs() >= n { q + r.signum() } else { q })
}

/// A floor under `plan`'s three-month total whatever the usage: each month's bill is at
/// least the fee when no overage price is negative (the schema's ranges); else no floor.
fn fee_floor(plan: &Plan) -> i64 {
    let overage = [plan.voice_overage_per_min, plan.data_overage_per_unit, plan.sms_overage_per_msg];
    if overage.iter().all(|price| price.0 >= 0) {
        plan.monthly_fee.0.saturating_mul(WINDOW_MONTHS as i64)
    } else {
        i64::MIN
    }
}

/// A subscriber's window under their current plan, and the plans of the catalog they are
/// eligible for: what every policy chooses from. A plan is priced only when a policy needs
/// its total, and not at all when its fees alone rule it out, so a catalog listed by
/// ascending fee is priced the least (a 1M-subscriber run, 33 plans: pricing fell from ~3%
/// to ~1% of the run's CPU samples). The minimum bill, which every policy may fall back to,
/// is found once however many policies ask.
#[derive(Debug, Clone)]
pub struct PricedWindow<'a> {
    subscriber: Subscriber,
    current: &'a Plan,
    window: &'a [UsageMonth; WINDOW_MONTHS],
    current_total: Fen,
    catalog: &'a [Plan],
    minimum: std::cell::OnceCell<Option<(&'a Plan, Fen)>>,
}

/// Prices `window` under `current`, and makes ready to price it under every plan of
/// `catalog` (in any order; ascending fee is fastest) the subscriber is eligible for.
pub fn price<'a>(
    subscriber: &Subscriber,
    current: &'a Plan,
    window: &'a [UsageMonth; WINDOW_MONTHS],
    catalog: &'a [Plan],
) -> PricedWindow<'a> {
    PricedWindow {
        subscriber: *subscriber,
        current,
        window,
        current_total: window_total(current, window),
        catalog,
        minimum: std::cell::OnceCell::new(),
    }
}

impl<'a> PricedWindow<'a> {
    fn eligible(&self) -> impl Iterator<Item = &'a Plan> + '_ {
        self.catalog.iter().filter(|p| eligible(p, &self.subscriber))
    }

    /// The eligible plan with the lowest three-month total (ties: lowest plan id).
    fn minimum_bill(&self) -> Option<(&'a Plan, Fen)> {
        *self.minimum.get_or_init(|| self.find_minimum_bill())
    }

    fn find_minimum_bill(&self) -> Option<(&'a Plan, Fen)> {
        let mut best: Option<(&'a Plan, Fen)> = None;
        for plan in self.eligible() {
            // Fees alone above the best total: the plan can neither win nor tie.
            if best.is_some_and(|(_, total)| fee_floor(plan) > total.0) {
                continue;
            }
            let total = window_total(plan, self.window);
            if best.is_none_or(|(b, t)| (total, &plan.plan_id) < (t, &b.plan_id)) {
                best = Some((plan, total));
            }
        }
        best
    }

    /// The recommended plan under `policy`, with the monthly saving; `None` when no plan of
    /// the catalog is eligible (or, for [`Policy::OperatorValue`], none is within the cap).
    pub fn recommend(&self, policy: Policy) -> Option<Recommendation> {
        let (window, current_total) = (self.window, self.current_total);
        let chosen = match policy {
            Policy::MinimumBill => self.minimum_bill(),
            Policy::CheapestCovering => self
                .eligible()
                .filter(|p| covers_average(p, window))
                .min_by(|a, b| a.monthly_fee.cmp(&b.monthly_fee).then_with(|| a.plan_id.cmp(&b.plan_id)))
                .map(|p| (p, window_total(p, window)))
                .or_else(|| self.minimum_bill()),
            Policy::OperatorValue { max_customer_increase } => {
                // Compare exact totals: the average rises by at most the cap when the total rises
                // by at most three times the cap.
                let limit =
                    current_total.0.saturating_add(max_customer_increase.0.saturating_mul(WINDOW_MONTHS as i64));
                self.eligible()
                    .filter(|p| fee_floor(p) <= limit && covers_average(p, window))
                    .map(|p| (p, window_total(p, window)))
                    .filter(|(_, total)| total.0 <= limit)
                    .max_by(|a, b| a.1.cmp(&b.1).then_with(|| b.0.plan_id.cmp(&a.0.plan_id)))
                    .or_else(|| self.minimum_bill().filter(|(_, total)| total.0 <= limit))
            }
        }?;
        let (plan, recommended_total) = chosen;
        let monthly_saving = per_month(current_total.0.saturating_sub(recommended_total.0));
        Some(Recommendation {
            plan_id: plan.plan_id.clone(),
            policy,
            is_current: plan.plan_id == self.current.plan_id,
            current_total,
            recommended_total,
            monthly_saving,
            revenue_effect: Fen(-monthly_saving.0),
        })
    }
}

/// The recommended plan for a subscriber's window under `policy` (see [`PricedWindow::recommend`]).
pub fn recommend(
    subscriber: &Subscriber,
    current: &Plan,
    window: &[UsageMonth; WINDOW_MONTHS],
    catalog: &[Plan],
    policy: Policy,
) -> Option<Recommendation> {
    price(subscriber, current, window, catalog).recommend(policy)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tariff::tests::{any_plan, plan};
    use proptest::prelude::*;

    fn months(uses: [(u64, u64, u64); 3]) -> [UsageMonth; 3] {
        let start = Month::new(2026, 1).unwrap();
        let mut i = 0;
        uses.map(|(v, d, s)| {
            let u = UsageMonth { subscriber_id: 1, month: start.plus(i), voice_min: v, data_mb: d, sms: s };
            i += 1;
            u
        })
    }

    fn sub() -> Subscriber {
        Subscriber { subscriber_id: 1, payment_type: PaymentType::Postpaid, tenure_months: 24 }
    }

    fn catalog() -> Vec<Plan> {
        vec![
            plan("P18", 1800, 50, 1_024, 0),
            plan("P38", 3800, 150, 5_120, 50),
            plan("P58", 5800, 300, 10_240, 100),
            plan("P88", 8800, 500, 30_720, 100),
            plan("P128", 12800, 1000, 61_440, 200),
        ]
    }

    #[test]
    fn window_needs_three_consecutive_months() {
        let w = months([(1, 1, 1), (2, 2, 2), (3, 3, 3)]);
        let as_of = Month::new(2026, 3).unwrap();
        assert_eq!(window(&w, as_of).map(|x| x[2].voice_min), Some(3));
        assert!(window(&[w[0], w[2]], as_of).is_none());
        assert!(window(&w, as_of.plus(1)).is_none());
    }

    #[test]
    fn persistent_over_use_creates_a_task_and_the_minimum_bill_plan_is_bigger() {
        let cat = catalog();
        let w = months([(200, 4_000, 10), (220, 6_000, 10), (260, 9_000, 10)]);
        let fit = assess(1, &cat[0], &w, &FitThresholds::default());
        assert_eq!(fit.over_use, [true; 3]);
        assert!(fit.warm_reminder);
        assert_eq!(fit.service_task, Some(ServiceTask::PersistentOverUse));
        // Under P18: 18 + 150 min x 0.15 + ceil(2976/1024)=3 units x 5 + 10 SMS x 0.10 = 56.50.
        assert_eq!(fit.current_bills[0], Fen(5650));
        // P38 with some overage (17350 fen over three months) beats P58's flat 17400.
        let rec = recommend(&sub(), &cat[0], &w, &cat, Policy::MinimumBill).unwrap();
        assert_eq!((rec.plan_id.as_str(), rec.recommended_total), ("P38", Fen(17_350)));
        assert!(rec.monthly_saving > Fen(0));
        assert_eq!(rec.revenue_effect, Fen(-rec.monthly_saving.0));
        // Average use 226.7 min, 6333 MB, 10 SMS: P58 is the cheapest that covers it.
        let rec = recommend(&sub(), &cat[0], &w, &cat, Policy::CheapestCovering).unwrap();
        assert_eq!(rec.plan_id, "P58");
    }

    #[test]
    fn persistent_under_use_and_the_operator_value_cap() {
        let cat = catalog();
        let w = months([(100, 2_000, 0), (90, 3_000, 0), (120, 2_500, 0)]);
        let fit = assess(1, &cat[3], &w, &FitThresholds::default());
        assert_eq!(fit.under_use, [true; 3]);
        assert_eq!(fit.service_task, Some(ServiceTask::PersistentUnderUse));
        assert!(!fit.warm_reminder);
        let cheapest = recommend(&sub(), &cat[3], &w, &cat, Policy::CheapestCovering).unwrap();
        assert_eq!((cheapest.plan_id.as_str(), cheapest.monthly_saving), ("P38", Fen(5000)));
        // The operator keeps the most revenue while giving at least 20 yuan a month back.
        let policy = Policy::OperatorValue { max_customer_increase: Fen(-2000) };
        let rec = recommend(&sub(), &cat[3], &w, &cat, policy).unwrap();
        assert_eq!((rec.plan_id.as_str(), rec.monthly_saving), ("P58", Fen(3000)));
        // With no saving required the current plan is the best value to the operator.
        let policy = Policy::OperatorValue { max_customer_increase: Fen(0) };
        let rec = recommend(&sub(), &cat[3], &w, &cat, policy).unwrap();
        assert!(rec.is_current);
    }

    #[test]
    fn idle_voice_and_data_with_sms_over_is_under_use() {
        // P88 gives 100 SMS: 150 a month is over-use, but voice and data sit below half.
        let cat = catalog();
        let fit = assess(1, &cat[3], &months([(100, 2_000, 150); 3]), &FitThresholds::default());
        assert_eq!((fit.over_use, fit.under_use), ([true; 3], [true; 3]));
        assert_eq!(fit.service_task, Some(ServiceTask::PersistentUnderUse));
        assert!(fit.warm_reminder);
    }

    #[test]
    fn surges_and_drops_are_alerted() {
        let cat = catalog();
        let w = months([(100, 5_000, 0), (250, 5_100, 0), (240, 1_000, 0)]);
        let fit = assess(1, &cat[2], &w, &FitThresholds::default());
        let kinds: Vec<_> = fit.alerts.iter().map(|a| (a.month.month(), a.measure, a.direction)).collect();
        assert_eq!(kinds, vec![(2, Measure::Voice, Direction::Surge), (3, Measure::Data, Direction::Drop)]);
        // Small numbers do not alert: 2 -> 6 minutes is a tripling but only 4 minutes.
        let w = months([(2, 0, 0), (6, 0, 0), (6, 0, 0)]);
        assert!(assess(1, &cat[2], &w, &FitThresholds::default()).alerts.is_empty());
    }

    #[test]
    fn eligibility_checks_status_payment_type_and_tenure() {
        let mut cat = catalog();
        cat[1].status = PlanStatus::Retired;
        cat[2].payment_type = PaymentType::Prepaid;
        cat[3].min_tenure_months = 36;
        let ok: Vec<_> = cat.iter().filter(|p| eligible(p, &sub())).map(|p| p.plan_id.as_str()).collect();
        assert_eq!(ok, ["P18", "P128"]);
    }

    #[test]
    fn per_month_rounds_half_away_from_zero() {
        assert_eq!(per_month(300), Fen(100));
        assert_eq!(per_month(301), Fen(100));
        assert_eq!(per_month(302), Fen(101));
        assert_eq!(per_month(-301), Fen(-100));
        assert_eq!(per_month(-302), Fen(-101));
    }

    fn any_subscriber() -> impl Strategy<Value = Subscriber> {
        (any::<bool>(), 0u32..=120).prop_map(|(pre, tenure)| Subscriber {
            subscriber_id: 1,
            payment_type: if pre { PaymentType::Prepaid } else { PaymentType::Postpaid },
            tenure_months: tenure,
        })
    }

    fn any_catalog() -> impl Strategy<Value = Vec<Plan>> {
        proptest::collection::vec((any_plan(), any::<bool>(), any::<bool>(), 0u32..=60), 1..12).prop_map(|plans| {
            plans
                .into_iter()
                .enumerate()
                .map(|(i, (mut p, prepaid, retired, tenure))| {
                    p.plan_id = format!("P{:02}", i);
                    p.payment_type = if prepaid { PaymentType::Prepaid } else { PaymentType::Postpaid };
                    p.status = if retired { PlanStatus::Retired } else { PlanStatus::OnSale };
                    p.min_tenure_months = tenure;
                    p
                })
                .collect()
        })
    }

    fn any_window() -> impl Strategy<Value = [UsageMonth; 3]> {
        let one = || (0u64..=3_000, 0u64..=100_000, 0u64..=500);
        (one(), one(), one()).prop_map(|(a, b, c)| months([a, b, c]))
    }

    /// Brute force: the three-month total of every eligible plan, bill by bill.
    fn brute_force(sub: &Subscriber, w: &[UsageMonth; 3], cat: &[Plan]) -> Vec<(String, i128, bool)> {
        cat.iter()
            .filter(|p| p.status == PlanStatus::OnSale)
            .filter(|p| p.payment_type == sub.payment_type && p.min_tenure_months <= sub.tenure_months)
            .map(|p| {
                let total = w.iter().map(|u| crate::tariff::bill(p, u).total.0 as i128).sum::<i128>();
                let avg_ok = |allow: u64, f: fn(&UsageMonth) -> u64| {
                    allow as i128 * 3 >= w.iter().map(|u| f(u) as i128).sum::<i128>()
                };
                let covers = avg_ok(p.voice_min, |u| u.voice_min)
                    && avg_ok(p.data_mb, |u| u.data_mb)
                    && avg_ok(p.sms, |u| u.sms);
                (p.plan_id.clone(), total, covers)
            })
            .collect()
    }

    proptest! {
        #[test]
        fn minimum_bill_is_the_brute_force_minimum(
            sub in any_subscriber(), cat in any_catalog(), w in any_window(), current in 0usize..12,
        ) {
            let current = &cat[current % cat.len()];
            let brute = brute_force(&sub, &w, &cat);
            let rec = recommend(&sub, current, &w, &cat, Policy::MinimumBill);
            match brute.iter().min_by(|a, b| a.1.cmp(&b.1).then(a.0.cmp(&b.0))) {
                None => prop_assert!(rec.is_none()),
                Some((id, total, _)) => {
                    let rec = rec.unwrap();
                    prop_assert_eq!(&rec.plan_id, id);
                    prop_assert_eq!(rec.recommended_total.0 as i128, *total);
                    // No eligible plan is cheaper for this usage.
                    prop_assert!(brute.iter().all(|b| b.1 >= *total));
                }
            }
        }

        #[test]
        fn cheapest_covering_is_the_brute_force_choice(
            sub in any_subscriber(), cat in any_catalog(), w in any_window(), current in 0usize..12,
        ) {
            let current = &cat[current % cat.len()];
            let brute = brute_force(&sub, &w, &cat);
            let fee = |id: &str| cat.iter().find(|p| p.plan_id == id).map(|p| p.monthly_fee);
            let expected = brute
                .iter()
                .filter(|b| b.2)
                .min_by(|a, b| fee(&a.0).cmp(&fee(&b.0)).then(a.0.cmp(&b.0)))
                .or_else(|| brute.iter().min_by(|a, b| a.1.cmp(&b.1).then(a.0.cmp(&b.0))))
                .map(|b| b.0.clone());
            let rec = recommend(&sub, current, &w, &cat, Policy::CheapestCovering).map(|r| r.plan_id);
            prop_assert_eq!(rec, expected);
        }

        #[test]
        fn operator_value_respects_the_cap_and_maximises_revenue(
            sub in any_subscriber(), cat in any_catalog(), w in any_window(), current in 0usize..12,
            cap in -20_000i64..20_000,
        ) {
            let current = &cat[current % cat.len()];
            let policy = Policy::OperatorValue { max_customer_increase: Fen(cap) };
            let current_total = w.iter().map(|u| crate::tariff::bill(current, u).total.0 as i128).sum::<i128>();
            let brute = brute_force(&sub, &w, &cat);
            let within: Vec<_> = brute.iter().filter(|b| b.1 <= current_total + 3 * cap as i128).collect();
            match recommend(&sub, current, &w, &cat, policy) {
                None => {
                    let none_covers = within.iter().all(|b| !b.2);
                    let minimum_outside = within.iter().all(|b| brute.iter().any(|m| m.1 < b.1 || (m.1 == b.1 && m.0 < b.0)));
                    prop_assert!(none_covers && minimum_outside);
                }
                Some(rec) => {
                    prop_assert!(rec.recommended_total.0 as i128 <= current_total + 3 * cap as i128);
                    let best_covering = within.iter().filter(|b| b.2).map(|b| b.1).max();
                    if let Some(best) = best_covering {
                        prop_assert_eq!(rec.recommended_total.0 as i128, best);
                    }
                }
            }
        }

        #[test]
        fn saving_is_the_rounded_average_difference(
            sub in any_subscriber(), cat in any_catalog(), w in any_window(), current in 0usize..12,
        ) {
            let current = &cat[current % cat.len()];
            if let Some(rec) = recommend(&sub, current, &w, &cat, Policy::MinimumBill) {
                let diff = (rec.current_total.0 - rec.recommended_total.0) as f64 / 3.0;
                prop_assert!((rec.monthly_saving.0 as f64 - diff).abs() <= 0.5 + 1e-9);
            }
        }
    }
}
