//! Offers of telco-cvm: what a subscriber would pay under each plan, which plan fits them,
//! and which products go together.
//!
//! - [`tariff`]: the tariff engine, the one place a month of usage is priced under a plan,
//!   exactly in fen.
//! - [`plan_fit`]: plan fit (套餐适配) over the last three months: over-use and under-use
//!   flags, surge and drop alerts, service tasks, and the recommended plan with the saving
//!   for the customer and the revenue effect for the operator.
//! - [`basket`]: frequent itemsets (FP-growth) and association rules over product holdings,
//!   for cross-selling convergent bundles.
//! - [`data_fit`]: data fit: months over the data allowance, the apps behind them, and the
//!   data pack (general or app-directed) that makes them cheapest.
//! - [`device_fit`]: the handset tier a loyal subscriber should be offered, and the retention
//!   pool shared out by value without promising more units than a branch holds.
//! - [`nbo`]: next best offer: candidates from the fits, up-sell, cross-sell rules and
//!   benefits, their expected value, and one arbitrated offer per channel.
//! - [`tables`]: readers of the `plans` and `usage` CSV files of `docs/schema.md`.
//!
//! The crate works on plain domain structs and files; it knows nothing of the warehouse or
//! of terminals.

pub mod basket;
pub mod data_fit;
pub mod device_fit;
pub mod error;
pub mod nbo;
pub mod plan_fit;
pub mod tables;
pub mod tariff;

pub use error::OffersError;
pub use tariff::{Bill, PaymentType, Plan, PlanStatus, UsageMonth, bill};
