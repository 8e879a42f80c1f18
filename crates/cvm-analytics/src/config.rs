//! What an analyst may set for a run (`cvm run --config run.toml`): the value model, the
//! value tiers and their service strategy, the validity thresholds and the clustering.
//! Every field has a default, so an empty file (or none) is a valid configuration.

use cvm_domain::Fen;
use serde::{Deserialize, Serialize};

/// The configuration of an analytics run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct RunConfig {
    /// How a subscriber's value is computed and tiered.
    pub value: ValueModel,
    /// Thresholds of the segment validity report.
    pub validity: ValidityThresholds,
    /// Data-driven segments.
    pub clustering: Clustering,
    /// Thresholds of the churn warning rules.
    pub warnings: crate::warnings::WarningRules,
    /// Plan, data and device fit, cross-sell rules and the next best offer.
    pub offers: OffersConfig,
    /// How the run goes through the warehouse (not what it computes).
    pub execution: Execution,
}

/// How a run goes through the warehouse.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Execution {
    /// Subscribers computed at a time: the run's memory grows with this, not with the
    /// operator's size. Results do not depend on it (sums of money may differ in the last
    /// digit).
    pub subscribers_per_range: usize,
    /// Ranges computed side by side, each on one thread; 0: one per core. Memory grows with
    /// this too; results do not depend on it.
    pub parallel_ranges: usize,
    /// MiB of the columns pass 2 reads kept in memory from pass 1, range by range in order
    /// until full; the other ranges' columns are read back from their part files. Memory
    /// grows with this; results do not depend on it.
    pub kept_between_passes_mib: usize,
}

impl Default for Execution {
    fn default() -> Execution {
        Execution { subscribers_per_range: 250_000, parallel_ranges: 0, kept_between_passes_mib: 256 }
    }
}

impl Execution {
    /// Ranges computed side by side on this machine (at least 1).
    pub fn ranges_at_once(&self) -> usize {
        match self.parallel_ranges {
            0 => std::thread::available_parallelism().map(usize::from).unwrap_or(1),
            n => n,
        }
    }
}

impl RunConfig {
    /// Reads a configuration from TOML text; `origin` names the file in errors.
    pub fn from_toml(text: &str, origin: &str) -> Result<RunConfig, crate::AnalyticsError> {
        let config: RunConfig = toml::from_str(text)
            .map_err(|e| crate::AnalyticsError::Config { origin: origin.into(), what: e.to_string() })?;
        config.value.check_tiers(origin)?;
        config.offers.check(origin)?;
        Ok(config)
    }
}

/// Customer value (客户价值): `base + potential_weight * potential - cost_weight * cost -
/// risk_weight * risk`, each term an expression over the feature columns (money in yuan a
/// month). By default value is the 3-month average ARPU.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ValueModel {
    /// The base of value.
    pub base: String,
    /// Monthly cost to serve (e.g. device subsidy, handling).
    pub cost: String,
    /// Weight of the cost term.
    pub cost_weight: f64,
    /// Risk (e.g. expected loss from churn or bad debt).
    pub risk: String,
    /// Weight of the risk term.
    pub risk_weight: f64,
    /// Potential (e.g. revenue the subscriber could add).
    pub potential: String,
    /// Weight of the potential term.
    pub potential_weight: f64,
    /// Tiers of the value pyramid, highest first; a subscriber falls in the first tier whose
    /// `min_value` its value reaches; the last tier takes everyone else.
    pub tiers: Vec<ValueTier>,
}

impl Default for ValueModel {
    fn default() -> ValueModel {
        ValueModel {
            base: "arpu_3m_avg".into(),
            cost: "0".into(),
            cost_weight: 0.0,
            risk: "0".into(),
            risk_weight: 0.0,
            potential: "0".into(),
            potential_weight: 0.0,
            tiers: default_tiers(),
        }
    }
}

impl ValueModel {
    /// Tier names must be distinct and thresholds strictly decreasing.
    fn check_tiers(&self, origin: &str) -> Result<(), crate::AnalyticsError> {
        let bad = |what: String| Err(crate::AnalyticsError::Config { origin: origin.into(), what });
        if self.tiers.is_empty() {
            return bad("value.tiers: at least one tier is needed".into());
        }
        for pair in self.tiers.windows(2) {
            if pair[1].min_value >= pair[0].min_value {
                return bad(format!(
                    "value.tiers: `{}` (min_value {}) must have a lower min_value than `{}` ({}): tiers go highest first",
                    pair[1].name, pair[1].min_value, pair[0].name, pair[0].min_value
                ));
            }
        }
        for (i, t) in self.tiers.iter().enumerate() {
            if !is_plain_name(&t.name, 32) {
                return bad(format!("value.tiers: tier name `{}` must be 1-32 of a-z, 0-9 and _", t.name));
            }
            if self.tiers[..i].iter().any(|u| u.name == t.name) {
                return bad(format!("value.tiers: tier `{}` is named twice", t.name));
            }
        }
        Ok(())
    }
}

/// A name analysts give (segments, tiers): 1 to `max` of `a-z`, `0-9` and `_`, so it can sit
/// in a file name, a column or a quoted literal as it is.
pub fn is_plain_name(name: &str, max: usize) -> bool {
    !name.is_empty()
        && name.len() <= max
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// One tier of the value pyramid (价值金字塔) and the service it gets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValueTier {
    /// Tier name, e.g. `vip`.
    pub name: String,
    /// Lowest value (yuan a month) of the tier; unused for the last tier, which takes
    /// everyone else.
    pub min_value: f64,
    /// Service strategy, in English.
    pub strategy: String,
    /// Service strategy, in Chinese.
    pub strategy_zh: String,
}

/// The default pyramid: VIP / big customer / business / general, with the brief's service
/// strategies (high-end: high investment, high-quality service, high price; mid and low:
/// satisfying service, favourable tariffs). The thresholds follow the high-end brand's
/// ARPU line (100-150 yuan) of the brief.
pub fn default_tiers() -> Vec<ValueTier> {
    let tier = |name: &str, min_value: f64, strategy: &str, strategy_zh: &str| ValueTier {
        name: name.into(),
        min_value,
        strategy: strategy.into(),
        strategy_zh: strategy_zh.into(),
    };
    vec![
        tier(
            "vip",
            300.0,
            "high investment, high-quality service, high price: VIP fast lane, dedicated account manager",
            "高投入、高质量服务、高价格：VIP快速通道，专属客户经理",
        ),
        tier(
            "big",
            150.0,
            "high investment, high-quality service: account manager, priority hotline, club events",
            "高投入、高质量服务：客户经理，优先热线，俱乐部活动",
        ),
        tier(
            "business",
            80.0,
            "satisfying service, favourable tariffs: priority in halls, bundles and upgrades",
            "满意的服务、优惠的资费：营业厅优先，融合套餐与升级",
        ),
        tier(
            "general",
            0.0,
            "satisfying service, favourable tariffs: self-service channels, standard hotline",
            "满意的服务、优惠的资费：自助渠道，标准热线",
        ),
    ]
}

/// Thresholds of the segment validity report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ValidityThresholds {
    /// A segment is substantial when its share of revenue is at least this.
    pub substantial_revenue_share: f64,
    /// A segment is accessible when at least this share can be reached by a consented channel.
    pub accessible_share: f64,
    /// A segment is differentiable (before campaign responses exist) when its profile is at
    /// least this far from the population's: root mean square of standardised mean differences.
    pub differentiable_distance: f64,
}

impl Default for ValidityThresholds {
    fn default() -> ValidityThresholds {
        ValidityThresholds { substantial_revenue_share: 0.02, accessible_share: 0.5, differentiable_distance: 0.2 }
    }
}

/// k-means on standardised behaviour.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Clustering {
    /// Number of clusters; 0 chooses it by silhouette among `k_min..=k_max`.
    pub k: usize,
    /// Smallest k tried when choosing.
    pub k_min: usize,
    /// Largest k tried when choosing.
    pub k_max: usize,
    /// k-means++ restarts; the run with the least inertia is kept.
    pub restarts: usize,
    /// Seed of the initialisation: the same seed and data give the same clusters.
    pub seed: u64,
    /// Subscribers k-means is fitted on (an evenly spread sample); every subscriber is then
    /// assigned to its nearest centre.
    pub sample: usize,
}

impl Default for Clustering {
    fn default() -> Clustering {
        Clustering { k: 0, k_min: 3, k_max: 8, restarts: 3, seed: 42, sample: 20_000 }
    }
}

/// How plan fit chooses the recommended plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlanPolicy {
    /// The plan with the lowest bill for the last 3 months' usage.
    MinimumBill,
    /// The lowest-fee plan whose allowances cover the average usage.
    CheapestCovering,
    /// The covering plan worth most to the operator within `max_customer_increase`.
    OperatorValue,
}

/// Response factor and contact cost of one channel.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelSetting {
    /// Multiplies an offer's acceptance likelihood when made through this channel.
    pub response: f64,
    /// Cost of one contact, yuan.
    pub contact_cost: f64,
}

/// Plan, data and device fit, cross-sell rules and the next best offer (money in yuan).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OffersConfig {
    /// How the recommended plan is chosen.
    pub plan_policy: PlanPolicy,
    /// For `operator_value`: the most the customer's monthly bill may rise (negative: the
    /// least saving required).
    pub max_customer_increase: f64,
    /// A month is under-used below this percent of the voice and data allowances.
    pub under_use_percent: u64,
    /// Month-on-month surge alert at this percent rise...
    pub surge_percent: u64,
    /// ... drop alert at this percent fall...
    pub drop_percent: u64,
    /// ... of at least this many minutes...
    pub min_voice_change: u64,
    /// ... or this many MB.
    pub min_data_change_mb: u64,
    /// Tenure needed for the retention device pool.
    pub device_min_tenure_months: u32,
    /// A handset this old is due for replacement.
    pub device_replace_after_months: u32,
    /// Least 3-month ARPU for a flagship handset.
    pub device_flagship_arpu: f64,
    /// Least 3-month ARPU for a high-end handset.
    pub device_high_arpu: f64,
    /// Least 3-month ARPU for a mid-range handset.
    pub device_mid_arpu: f64,
    /// From this tenure the recommended handset is one tier higher.
    pub device_loyalty_tenure_months: u32,
    /// Cross-sell rules: least share of subscribers holding an itemset.
    pub rules_min_support: f64,
    /// Cross-sell rules: least confidence.
    pub rules_min_confidence: f64,
    /// Months over which an offer's revenue and cost count.
    pub horizon_months: f64,
    /// Share of an at-risk subscriber's value an accepted retention offer keeps.
    pub save_rate: f64,
    /// Churn risk from the worst warning when no churn model is installed: high, medium,
    /// low, none.
    pub risk_from_warnings: [f64; 4],
    /// Offers written per subscriber: the best channels by expected value (0 keeps every
    /// channel). One by default: at 10 million subscribers each channel kept holds about
    /// 3 GB of offers and reasons in memory until the run is written.
    pub max_channels: usize,
    /// Prior acceptance likelihoods.
    pub acceptance: cvm_offers::nbo::Acceptance,
    /// Per channel: response factor and contact cost.
    pub channels: std::collections::BTreeMap<String, ChannelSetting>,
}

impl Default for OffersConfig {
    fn default() -> OffersConfig {
        let p = cvm_offers::nbo::NboPolicy::default();
        let d = cvm_offers::device_fit::DeviceRules::default();
        let t = cvm_offers::plan_fit::FitThresholds::default();
        OffersConfig {
            plan_policy: PlanPolicy::MinimumBill,
            max_customer_increase: 0.0,
            under_use_percent: t.under_use_percent,
            surge_percent: t.surge_percent,
            drop_percent: t.drop_percent,
            min_voice_change: t.min_voice_change,
            min_data_change_mb: t.min_data_change_mb,
            device_min_tenure_months: d.min_tenure_months,
            device_replace_after_months: d.replace_after_months,
            device_flagship_arpu: d.flagship_arpu.as_yuan_f64(),
            device_high_arpu: d.high_arpu.as_yuan_f64(),
            device_mid_arpu: d.mid_arpu.as_yuan_f64(),
            device_loyalty_tenure_months: d.loyalty_bonus_tenure_months,
            rules_min_support: 0.01,
            rules_min_confidence: 0.1,
            horizon_months: p.horizon_months,
            save_rate: p.save_rate,
            risk_from_warnings: [0.30, 0.10, 0.05, 0.02],
            max_channels: 1,
            acceptance: cvm_offers::nbo::Acceptance::default(),
            channels: cvm_offers::nbo::Channel::ALL
                .iter()
                .zip(p.channels)
                .map(|(c, (response, contact_cost))| (c.as_str().to_owned(), ChannelSetting { response, contact_cost }))
                .collect(),
        }
    }
}

impl OffersConfig {
    fn check(&self, origin: &str) -> Result<(), crate::AnalyticsError> {
        let bad = |what: String| Err(crate::AnalyticsError::Config { origin: origin.into(), what });
        for name in self.channels.keys() {
            if cvm_offers::nbo::Channel::parse(name).is_none() {
                return bad(format!("offers.channels: `{name}` is not a channel of docs/schema.md"));
            }
        }
        let a = &self.acceptance;
        let shares = [
            ("rules_min_support", self.rules_min_support),
            ("rules_min_confidence", self.rules_min_confidence),
            ("save_rate", self.save_rate),
            ("acceptance.plan_fit", a.plan_fit),
            ("acceptance.data_pack", a.data_pack),
            ("acceptance.device", a.device),
            ("acceptance.upgrade", a.upgrade),
            ("acceptance.cross_sell", a.cross_sell),
            ("acceptance.club", a.club),
            ("acceptance.partner", a.partner),
        ];
        for (name, v) in shares.into_iter().chain(self.risk_from_warnings.iter().map(|&r| ("risk_from_warnings", r))) {
            if !(0.0..=1.0).contains(&v) {
                return bad(format!("offers.{name}: {v} is not a share from 0 to 1"));
            }
        }
        if self.rules_min_support <= 0.0 {
            return bad("offers.rules_min_support must be above 0".into());
        }
        // NaN is refused too.
        if self.horizon_months.is_nan() || self.horizon_months <= 0.0 {
            return bad("offers.horizon_months must be above 0".into());
        }
        Ok(())
    }

    /// The plan-fit flag and alert thresholds.
    pub fn thresholds(&self) -> cvm_offers::plan_fit::FitThresholds {
        cvm_offers::plan_fit::FitThresholds {
            under_use_percent: self.under_use_percent,
            surge_percent: self.surge_percent,
            drop_percent: self.drop_percent,
            min_voice_change: self.min_voice_change,
            min_data_change_mb: self.min_data_change_mb,
        }
    }

    /// The recommendation policy.
    pub fn policy(&self) -> cvm_offers::plan_fit::Policy {
        use cvm_offers::plan_fit::Policy;
        match self.plan_policy {
            PlanPolicy::MinimumBill => Policy::MinimumBill,
            PlanPolicy::CheapestCovering => Policy::CheapestCovering,
            PlanPolicy::OperatorValue => {
                Policy::OperatorValue { max_customer_increase: Fen::from_yuan_f64(self.max_customer_increase) }
            }
        }
    }

    /// The device fit rules.
    pub fn device_rules(&self) -> cvm_offers::device_fit::DeviceRules {
        cvm_offers::device_fit::DeviceRules {
            min_tenure_months: self.device_min_tenure_months,
            replace_after_months: self.device_replace_after_months,
            flagship_arpu: Fen::from_yuan_f64(self.device_flagship_arpu),
            high_arpu: Fen::from_yuan_f64(self.device_high_arpu),
            mid_arpu: Fen::from_yuan_f64(self.device_mid_arpu),
            loyalty_bonus_tenure_months: self.device_loyalty_tenure_months,
        }
    }

    /// The next-best-offer policy; channels the file leaves out keep their defaults.
    pub fn nbo_policy(&self) -> cvm_offers::nbo::NboPolicy {
        let mut p = cvm_offers::nbo::NboPolicy::default();
        for (i, c) in cvm_offers::nbo::Channel::ALL.iter().enumerate() {
            if let Some(s) = self.channels.get(c.as_str()) {
                p.channels[i] = (s.response, s.contact_cost);
            }
        }
        cvm_offers::nbo::NboPolicy {
            horizon_months: self.horizon_months,
            save_rate: self.save_rate,
            acceptance: self.acceptance.clone(),
            ..p
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// docs/run-config.toml lists every setting with its default: it must stay true.
    #[test]
    fn the_documented_defaults_are_the_defaults() {
        let text = include_str!("../../../docs/run-config.toml");
        assert_eq!(RunConfig::from_toml(text, "docs/run-config.toml").unwrap(), RunConfig::default());
    }

    #[test]
    fn refuses_tiers_out_of_order_or_badly_named() {
        let e = RunConfig::from_toml(
            "[[value.tiers]]\nname='a'\nmin_value=10\nstrategy=''\nstrategy_zh=''\n\
             [[value.tiers]]\nname='b'\nmin_value=20\nstrategy=''\nstrategy_zh=''\n",
            "t.toml",
        )
        .unwrap_err();
        assert!(e.to_string().contains("highest first"), "{e}");
        let e =
            RunConfig::from_toml("[[value.tiers]]\nname='V I P'\nmin_value=1\nstrategy=''\nstrategy_zh=''\n", "t.toml")
                .unwrap_err();
        assert!(e.to_string().contains("a-z, 0-9"), "{e}");
        let e = RunConfig::from_toml("[value]\nbse = 'arpu_3m_avg'\n", "t.toml").unwrap_err();
        assert!(e.to_string().contains("t.toml") && e.to_string().contains("bse"), "{e}");
    }
}
