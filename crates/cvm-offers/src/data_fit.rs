//! Data fit (流量适配): for a subscriber who went over their plan's data allowance in the
//! window, the months it happened, which app categories used the data, and the data pack
//! that makes the three months cheapest for them (general packs and app-directed packs),
//! priced by the tariff engine.

use cvm_domain::{Fen, Month};

use crate::plan_fit::WINDOW_MONTHS;
use crate::tariff::{Plan, UsageMonth, bill_total};

/// App category of data use, as the usage table splits it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AppCategory {
    /// Video apps.
    Video,
    /// Social apps.
    Social,
    /// Music apps.
    Music,
    /// Games.
    Gaming,
}

impl AppCategory {
    /// All categories, in the usage table's column order.
    pub const ALL: [AppCategory; 4] =
        [AppCategory::Video, AppCategory::Social, AppCategory::Music, AppCategory::Gaming];

    /// The schema's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            AppCategory::Video => "video",
            AppCategory::Social => "social",
            AppCategory::Music => "music",
            AppCategory::Gaming => "gaming",
        }
    }

    /// Reads the schema's spelling.
    pub fn parse(s: &str) -> Option<AppCategory> {
        AppCategory::ALL.into_iter().find(|c| c.as_str() == s)
    }

    /// Chinese name.
    pub fn name_zh(self) -> &'static str {
        match self {
            AppCategory::Video => "视频",
            AppCategory::Social => "社交",
            AppCategory::Music => "音乐",
            AppCategory::Gaming => "游戏",
        }
    }
}

/// A data pack of the offer catalog, bought for a month.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataPack {
    /// Offer code.
    pub offer_id: String,
    /// Name as sold.
    pub name: String,
    /// Price a month.
    pub monthly_price: Fen,
    /// Data it adds a month, MB.
    pub data_mb: u64,
    /// For an app-directed pack, the apps whose data it covers.
    pub app_category: Option<AppCategory>,
}

/// One month of a subscriber's usage with its data split by app category.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataMonth {
    /// The month's usage.
    pub usage: UsageMonth,
    /// Data by app category, MB, in [`AppCategory::ALL`] order.
    pub by_app: [u64; 4],
}

/// The data fit of one subscriber who went over the data allowance in the window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataFit {
    /// The months data went over the allowance, oldest first.
    pub months_over: Vec<Month>,
    /// MB beyond the allowance over the window.
    pub excess_mb: u64,
    /// Data overage fees paid over the window (the bills' data part).
    pub data_overage: Fen,
    /// The app category that used the most data over the window, and its share of all data
    /// in percent (rounded down); `None` when no data was attributed to an app.
    pub top_app: Option<(AppCategory, u64)>,
    /// The window's bills under the current plan, without a pack.
    pub total_without_pack: Fen,
    /// The pack that makes the window cheapest, with the window's bills plus its price
    /// each month; `None` when no pack makes it cheaper.
    pub best_pack: Option<(String, Fen)>,
}

impl DataFit {
    /// Average monthly saving of the best pack, rounded down to the fen (0 without one).
    pub fn monthly_saving(&self) -> Fen {
        self.best_pack
            .as_ref()
            .map_or(Fen(0), |(_, with)| Fen((self.total_without_pack.0 - with.0) / WINDOW_MONTHS as i64))
    }
}

/// The month's usage as the plan sees it with `pack` bought: a general pack adds its data to
/// the allowance, an app-directed one takes its apps' data (up to its size) off the count.
fn with_pack(month: &DataMonth, pack: &DataPack) -> UsageMonth {
    let covered = match pack.app_category {
        None => pack.data_mb,
        Some(c) => month.by_app[c as usize].min(pack.data_mb),
    };
    UsageMonth { data_mb: month.usage.data_mb.saturating_sub(covered), ..month.usage }
}

/// Window total when `pack` is bought every month.
fn total_with_pack(plan: &Plan, window: &[DataMonth; WINDOW_MONTHS], pack: &DataPack) -> Fen {
    Fen(window
        .iter()
        .map(|m| bill_total(plan, &with_pack(m, pack)).0.saturating_add(pack.monthly_price.0))
        .fold(0i64, i64::saturating_add))
}

/// The data fit of a subscriber on `plan` over `window`; `None` when data never went over
/// the allowance. The best pack has the lowest window total (ties: lower offer code) and
/// must beat going without one.
pub fn data_fit(plan: &Plan, window: &[DataMonth; WINDOW_MONTHS], packs: &[DataPack]) -> Option<DataFit> {
    let months_over: Vec<Month> =
        window.iter().filter(|m| m.usage.data_mb > plan.data_mb).map(|m| m.usage.month).collect();
    if months_over.is_empty() {
        return None;
    }
    let excess_mb = window.iter().map(|m| m.usage.data_mb.saturating_sub(plan.data_mb)).sum();
    let data_overage = Fen(window.iter().map(|m| crate::tariff::bill(plan, &m.usage).data_overage.0).sum());
    let mut by_app = [0u64; 4];
    for m in window {
        for (total, v) in by_app.iter_mut().zip(m.by_app) {
            *total += v;
        }
    }
    let all_data: u64 = window.iter().map(|m| m.usage.data_mb).sum();
    let top_app = AppCategory::ALL
        .into_iter()
        .zip(by_app)
        .filter(|(_, v)| *v > 0)
        .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)))
        .map(|(c, v)| (c, (u128::from(v) * 100 / u128::from(all_data.max(1))) as u64));
    let total_without_pack = Fen(window.iter().map(|m| bill_total(plan, &m.usage).0).fold(0i64, i64::saturating_add));
    let best_pack = packs
        .iter()
        .map(|p| (p, total_with_pack(plan, window, p)))
        .filter(|(_, total)| *total < total_without_pack)
        .min_by(|a, b| a.1.cmp(&b.1).then_with(|| a.0.offer_id.cmp(&b.0.offer_id)))
        .map(|(p, total)| (p.offer_id.clone(), total));
    Some(DataFit { months_over, excess_mb, data_overage, top_app, total_without_pack, best_pack })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tariff::tests::{any_plan, plan};
    use proptest::prelude::*;

    fn month(i: u32, data_mb: u64, by_app: [u64; 4]) -> DataMonth {
        DataMonth {
            usage: UsageMonth {
                subscriber_id: 1,
                month: Month::new(2026, 8 + i).unwrap(),
                voice_min: 0,
                data_mb,
                sms: 0,
            },
            by_app,
        }
    }

    fn pack(id: &str, yuan: i64, mb: u64, app: Option<AppCategory>) -> DataPack {
        DataPack {
            offer_id: id.into(),
            name: id.into(),
            monthly_price: Fen(yuan * 100),
            data_mb: mb,
            app_category: app,
        }
    }

    /// A 58-yuan plan with 10 GB; data beyond it costs 10 yuan per started GB.
    fn ten_gb_plan() -> Plan {
        let mut p = plan("P58", 5800, 500, 10_240, 0);
        p.data_overage_unit_mb = std::num::NonZeroU64::new(1024).unwrap();
        p.data_overage_per_unit = Fen(1000);
        p
    }

    #[test]
    fn hand_worked_video_user() {
        // 12 GB, 15 GB and 9 GB; video takes 8, 11 and 6 GB.
        let w = [
            month(0, 12_288, [8192, 1024, 0, 0]),
            month(1, 15_360, [11_264, 1024, 0, 0]),
            month(2, 9216, [6144, 512, 0, 0]),
        ];
        let packs = [
            pack("G3", 10, 3072, None),
            pack("G10", 20, 10_240, None),
            pack("V10", 9, 10_240, Some(AppCategory::Video)),
        ];
        let fit = data_fit(&ten_gb_plan(), &w, &packs).expect("over in two months");
        assert_eq!(fit.months_over, vec![w[0].usage.month, w[1].usage.month]);
        assert_eq!(fit.excess_mb, 2048 + 5120);
        // 2 GB over = 2 units = 20 yuan; 5 GB over = 5 units = 50 yuan.
        assert_eq!(fit.data_overage, Fen(7000));
        assert_eq!(fit.total_without_pack, Fen(3 * 5800 + 7000));
        // Video: 25 600 of 36 864 MB = 69%.
        assert_eq!(fit.top_app, Some((AppCategory::Video, 69)));
        // G3: the 15 GB month is still 2 GB over (20 yuan): 3*58 + 20 + 3*10 = 224.
        // G10: 3*58 + 3*20 = 234. V10: video is off the count, nothing over: 3*58 + 3*9 = 201,
        // the cheapest; (244 - 201) / 3 = 14.33 a month.
        assert_eq!(fit.best_pack, Some(("V10".into(), Fen(20_100))));
        assert_eq!(fit.monthly_saving(), Fen(1433));
    }

    #[test]
    fn no_fit_without_excess_and_no_pack_when_none_is_cheaper() {
        let p = ten_gb_plan();
        assert_eq!(data_fit(&p, &[month(0, 100, [0; 4]), month(1, 10_240, [0; 4]), month(2, 0, [0; 4])], &[]), None);
        // 1 MB over once: 3 yuan of overage, cheaper than any pack.
        let fit = data_fit(
            &p,
            &[month(0, 10_241, [0; 4]), month(1, 0, [0; 4]), month(2, 0, [0; 4])],
            &[pack("G3", 10, 3072, None)],
        );
        assert_eq!(fit.map(|f| f.best_pack), Some(None));
    }

    proptest! {
        #[test]
        fn the_best_pack_is_the_brute_force_minimum(
            p in any_plan().prop_map(|p| Plan { data_mb: p.data_mb % 20_000, ..p }),
            months in proptest::collection::vec((0u64..40_000, 0u64..10_000, 0u64..10_000), 3),
            packs in proptest::collection::vec((0i64..5000, 0u64..20_000, proptest::option::of(0usize..4)), 0..6),
        ) {
            let w = [0, 1, 2].map(|i| {
                let (d, v, s) = months[i];
                let video = v.min(d);
                let social = s.min(d - video);
                month(i as u32, d, [video, social, 0, 0])
            });
            let packs: Vec<DataPack> = packs
                .iter()
                .enumerate()
                .map(|(i, &(price, mb, app))| DataPack { monthly_price: Fen(price), ..pack(&format!("O{i}"), 0, mb, app.map(|a| AppCategory::ALL[a])) })
                .collect();
            if let Some(fit) = data_fit(&p, &w, &packs) {
                // Brute force: bill every month by hand under every pack.
                let mut best: Option<(i64, String)> = None;
                for pk in &packs {
                    let mut total = 0i64;
                    for m in &w {
                        let covered = pk.app_category.map_or(pk.data_mb, |c| m.by_app[c as usize].min(pk.data_mb));
                        let u = UsageMonth { data_mb: m.usage.data_mb.saturating_sub(covered), ..m.usage };
                        total += bill_total(&p, &u).0 + pk.monthly_price.0;
                    }
                    if total < fit.total_without_pack.0 && best.as_ref().is_none_or(|(b, id)| total < *b || (total == *b && pk.offer_id < *id)) {
                        best = Some((total, pk.offer_id.clone()));
                    }
                }
                prop_assert_eq!(fit.best_pack.map(|(id, t)| (t.0, id)), best);
            } else {
                prop_assert!(w.iter().all(|m| m.usage.data_mb <= p.data_mb));
            }
        }
    }
}
