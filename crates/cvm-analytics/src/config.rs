//! What an analyst may set for a run (`cvm run --config run.toml`): the value model, the
//! value tiers and their service strategy, the validity thresholds and the clustering.
//! Every field has a default, so an empty file (or none) is a valid configuration.

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
}

impl RunConfig {
    /// Reads a configuration from TOML text; `origin` names the file in errors.
    pub fn from_toml(text: &str, origin: &str) -> Result<RunConfig, crate::AnalyticsError> {
        let config: RunConfig = toml::from_str(text)
            .map_err(|e| crate::AnalyticsError::Config { origin: origin.into(), what: e.to_string() })?;
        config.value.check_tiers(origin)?;
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
