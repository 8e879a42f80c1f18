//! The input tables: every column with its type, unit, allowed values and rules.
//!
//! This is the one declaration of what an operator's export must look like. The generator
//! writes files in this shape, the importer checks each row against it, and
//! `docs/schema.md` is rendered from it (`cvm schema --format markdown`), with a test that
//! keeps the committed file equal to the rendering.

/// What values a column holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A whole number within `min..=max`.
    Int { min: i64, max: i64 },
    /// Money in yuan with at most two decimals, stored exactly in fen; within `min..=max` fen.
    Money { min_fen: i64, max_fen: i64 },
    /// An identifier: 1-32 characters of `A-Z a-z 0-9 _ -`.
    Code,
    /// Free text up to `max_chars` characters.
    Text { max_chars: usize },
    /// One of a fixed list of values (lower case, as written).
    Enum(&'static [&'static str]),
    /// A `;`-separated list of values from a fixed list; may be empty.
    EnumList(&'static [&'static str]),
    /// A date `YYYY-MM-DD`; with `past_only`, not after the import's as-of date.
    Date { past_only: bool },
    /// A month `YYYY-MM`, not after the import's as-of month.
    Month,
    /// A yes/no flag: `1/0`, `y/n`, `yes/no`, `true/false` (any case).
    Bool,
    /// A mainland mobile number, 11 digits starting with 1 (`+86` accepted).
    Msisdn,
}

/// One column of an input table.
#[derive(Debug, Clone, Copy)]
pub struct Column {
    /// Column name as it appears in the file header.
    pub name: &'static str,
    /// Allowed values.
    pub kind: Kind,
    /// Whether an empty value is refused.
    pub required: bool,
    /// Unit of measure (`yuan`, `minutes`, `MB`), empty when none.
    pub unit: &'static str,
    /// Personal data that is masked for roles that do not need it.
    pub personal: bool,
    /// What the column means, in the operator's words.
    pub doc: &'static str,
}

/// How a table is stored in the warehouse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Partitioning {
    /// The whole table is one current snapshot, replaced by each import that brings it.
    Snapshot,
    /// One partition per month of this column (a `Month` or a `Date` column); importing a
    /// month replaces that month's partition.
    ByMonth(&'static str),
}

/// A column whose values must exist as the key of another table.
#[derive(Debug, Clone, Copy)]
pub struct Reference {
    /// The referring column of this table.
    pub column: &'static str,
    /// The referenced table (its single-column key).
    pub table: &'static str,
}

/// One input table.
#[derive(Debug, Clone, Copy)]
pub struct Table {
    /// Table name; the export file is `<name>.csv` or `<name>.parquet`.
    pub name: &'static str,
    /// What a row is.
    pub doc: &'static str,
    /// Columns that identify a row; two rows with the same key are duplicates.
    pub key: &'static [&'static str],
    /// Warehouse storage.
    pub partitioning: Partitioning,
    /// Foreign keys checked on import.
    pub references: &'static [Reference],
    /// Rules between columns of a row, in words (the importer implements each).
    pub row_rules: &'static [&'static str],
    /// Columns in file order.
    pub columns: &'static [Column],
}

impl Table {
    /// The column named `name`.
    pub fn column(&self, name: &str) -> Option<&'static Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// Position of column `name` in file order.
    pub fn column_index(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == name)
    }
}

/// The table named `name`.
pub fn table(name: &str) -> Option<&'static Table> {
    TABLES.iter().find(|t| t.name == name)
}

/// Brands (品牌): China Mobile's three customer brands, by the segment they serve.
pub const BRANDS: &[&str] = &["high_end", "youth", "mass"];
/// Payment types.
pub const PAYMENT_TYPES: &[&str] = &["prepaid", "postpaid"];
/// Area types of a region or branch.
pub const AREA_TYPES: &[&str] = &["city", "county", "rural"];
/// Subscriber line status: single-stop (单停) bars outgoing service, dual-stop (双停) both.
pub const LINE_STATUSES: &[&str] = &["active", "single_stop", "dual_stop", "closed"];
/// Handset tiers, low to high.
pub const DEVICE_TIERS: &[&str] = &["entry", "mid", "high", "flagship"];
/// Contact channels (渠道).
pub const CHANNELS: &[&str] =
    &["sms", "outbound_call", "app_push", "web_hall", "ivr", "self_service_terminal", "business_hall", "branch_visit"];
/// Products a subscriber can hold.
pub const PRODUCTS: &[&str] =
    &["mobile", "broadband", "fibre", "iptv", "fixed_line", "family_plan", "group_vpn", "data_pack", "premium_number"];
/// Status events.
pub const EVENT_TYPES: &[&str] = &[
    "single_stop",
    "dual_stop",
    "resume",
    "plan_change",
    "number_change",
    "port_out_request",
    "complaint",
    "recharge",
];
/// Staff roles at a branch or centre.
pub const STAFF_ROLES: &[&str] =
    &["line_worker", "marketer", "account_manager", "telemarketer", "vip_service", "hall_agent"];
/// Sales channels.
pub const SALES_CHANNELS: &[&str] = &["business_hall", "agent_store", "online", "telemarketing", "branch_visit"];
/// Kinds of sale.
pub const SALE_TYPES: &[&str] = &["activation", "handset_sale", "plan_change"];
/// Kinds of offer.
pub const OFFER_KINDS: &[&str] =
    &["plan_change", "data_pack", "directed_data_pack", "device", "bundle", "upgrade", "club", "partner"];
/// App categories of data use.
pub const APP_CATEGORIES: &[&str] = &["video", "social", "music", "gaming"];

const GENDERS: &[&str] = &["male", "female", "unknown"];
const OCCUPATIONS: &[&str] =
    &["student", "office_worker", "worker", "farmer", "self_employed", "civil_servant", "retired", "other", "unknown"];
const INCOME_BANDS: &[&str] = &["low", "lower_middle", "middle", "upper_middle", "high", "unknown"];
const VIP_LEVELS: &[&str] = &["none", "silver", "gold", "platinum", "diamond"];
const LIFESTYLE_TAGS: &[&str] = &["video", "gaming", "music", "social", "travel", "sports", "shopping", "business"];
const PLAN_STATUSES: &[&str] = &["on_sale", "retired"];
const NETWORKS: &[&str] = &["4g", "5g"];

const MAX_FEN: i64 = 100_000_000; // one million yuan: far above any monthly figure
const BIG: i64 = 1_000_000_000;

const fn col(name: &'static str, kind: Kind, required: bool, unit: &'static str, doc: &'static str) -> Column {
    Column { name, kind, required, unit, personal: false, doc }
}
const fn req(name: &'static str, kind: Kind, doc: &'static str) -> Column {
    col(name, kind, true, "", doc)
}
const fn opt(name: &'static str, kind: Kind, doc: &'static str) -> Column {
    col(name, kind, false, "", doc)
}
const fn money(name: &'static str, doc: &'static str) -> Column {
    col(name, Kind::Money { min_fen: 0, max_fen: MAX_FEN }, true, "yuan", doc)
}
const fn count(name: &'static str, max: i64, unit: &'static str, doc: &'static str) -> Column {
    col(name, Kind::Int { min: 0, max }, true, unit, doc)
}
const fn personal(c: Column) -> Column {
    Column { personal: true, ..c }
}

const TEXT: Kind = Kind::Text { max_chars: 64 };
const PAST: Kind = Kind::Date { past_only: true };
const ANY_DATE: Kind = Kind::Date { past_only: false };

/// Every input table, in import order: a table comes after the tables it references.
pub const TABLES: &[Table] = &[
    Table {
        name: "branches",
        doc: "A branch (支局/区局) that serves the subscribers of an area and receives work orders.",
        key: &["branch_id"],
        partitioning: Partitioning::Snapshot,
        references: &[],
        row_rules: &[],
        columns: &[
            req("branch_id", Kind::Code, "Branch code."),
            req("branch_name", TEXT, "Branch name."),
            req("region", TEXT, "City or county the branch belongs to."),
            req("area_type", Kind::Enum(AREA_TYPES), "City, county town or rural area."),
        ],
    },
    Table {
        name: "staff",
        doc: "A staff member who works retention orders, calls or serves VIPs.",
        key: &["staff_id"],
        partitioning: Partitioning::Snapshot,
        references: &[Reference { column: "branch_id", table: "branches" }],
        row_rules: &[],
        columns: &[
            req("staff_id", Kind::Code, "Staff code."),
            personal(req("staff_name", TEXT, "Name.")),
            req("branch_id", Kind::Code, "Branch the person works for."),
            req("role", Kind::Enum(STAFF_ROLES), "What the person does."),
        ],
    },
    Table {
        name: "plans",
        doc: "A tariff plan (套餐) of the catalog: monthly fee, allowances and overage prices.",
        key: &["plan_id"],
        partitioning: Partitioning::Snapshot,
        references: &[],
        row_rules: &[],
        columns: &[
            req("plan_id", Kind::Code, "Plan code."),
            req("plan_name", TEXT, "Plan name as sold."),
            req("brand", Kind::Enum(BRANDS), "Brand the plan is sold under."),
            req("payment_type", Kind::Enum(PAYMENT_TYPES), "Prepaid or postpaid."),
            money("monthly_fee", "Monthly fee."),
            count("voice_min", 100_000, "minutes", "Included voice minutes a month."),
            count("data_mb", 10_000_000, "MB", "Included data a month."),
            count("sms", 100_000, "messages", "Included SMS a month."),
            money("voice_overage_per_min", "Price of a minute beyond the allowance."),
            col(
                "data_overage_unit_mb",
                Kind::Int { min: 1, max: 10_240 },
                true,
                "MB",
                "Data beyond the allowance is billed in whole units of this many MB, rounded up per month.",
            ),
            money("data_overage_per_unit", "Price of one unit of data beyond the allowance."),
            money("sms_overage_per_msg", "Price of an SMS beyond the allowance."),
            col("min_tenure_months", Kind::Int { min: 0, max: 600 }, true, "months", "Tenure needed to be eligible."),
            req("vip", Kind::Bool, "A VIP plan (high-end service level)."),
            req("status", Kind::Enum(PLAN_STATUSES), "Still on sale, or retired (kept by existing users only)."),
        ],
    },
    Table {
        name: "devices",
        doc: "A handset model (终端) of the device catalog.",
        key: &["device_model"],
        partitioning: Partitioning::Snapshot,
        references: &[],
        row_rules: &[],
        columns: &[
            req("device_model", Kind::Code, "Model code."),
            req("manufacturer", TEXT, "Maker."),
            req("tier", Kind::Enum(DEVICE_TIERS), "Price tier."),
            money("list_price", "Retail price."),
            req("release_month", Kind::Month, "Month the model came out."),
            req("network", Kind::Enum(NETWORKS), "Best network it supports."),
        ],
    },
    Table {
        name: "device_pool",
        doc: "Retention device pool: handsets a branch holds for loyal subscribers.",
        key: &["branch_id", "device_model"],
        partitioning: Partitioning::Snapshot,
        references: &[
            Reference { column: "branch_id", table: "branches" },
            Reference { column: "device_model", table: "devices" },
        ],
        row_rules: &[],
        columns: &[
            req("branch_id", Kind::Code, "Branch holding the stock."),
            req("device_model", Kind::Code, "Model."),
            count("stock", 100_000, "units", "Units in stock."),
            money("retention_price", "Price offered to a retained subscriber."),
        ],
    },
    Table {
        name: "offers",
        doc: "An offer that campaigns and next-best-offer can make.",
        key: &["offer_id"],
        partitioning: Partitioning::Snapshot,
        references: &[],
        row_rules: &["valid_to is not before valid_from", "app_category is given exactly for directed_data_pack"],
        columns: &[
            req("offer_id", Kind::Code, "Offer code."),
            req("offer_name", TEXT, "Name as shown to the subscriber."),
            req("offer_kind", Kind::Enum(OFFER_KINDS), "What is offered."),
            opt("product", Kind::Enum(PRODUCTS), "Product the offer adds or changes."),
            money("monthly_price", "What the subscriber pays a month."),
            money("monthly_cost", "What it costs the operator a month (subsidy, partner fee)."),
            count("data_mb", 10_000_000, "MB", "Data the offer adds a month (packs)."),
            opt("app_category", Kind::Enum(APP_CATEGORIES), "For app-directed packs: the apps it covers."),
            req("channels", Kind::EnumList(CHANNELS), "Channels the offer may be made through."),
            req("valid_from", ANY_DATE, "First day the offer may be made."),
            req("valid_to", ANY_DATE, "Last day the offer may be made."),
        ],
    },
    Table {
        name: "subscribers",
        doc: "A subscriber (one mobile line) with profile, plan, device, status and consents.",
        key: &["subscriber_id"],
        partitioning: Partitioning::Snapshot,
        references: &[
            Reference { column: "branch_id", table: "branches" },
            Reference { column: "plan_id", table: "plans" },
            Reference { column: "device_model", table: "devices" },
        ],
        row_rules: &[
            "status_since is not before join_date",
            "birth_year is not after the year of join_date",
            "device_since is not before 1990",
        ],
        columns: &[
            req("subscriber_id", Kind::Int { min: 1, max: i64::MAX }, "Subscriber (user) id."),
            personal(req("msisdn", Kind::Msisdn, "Mobile number.")),
            personal(opt("customer_name", TEXT, "Name of the customer.")),
            req("gender", Kind::Enum(GENDERS), "Gender."),
            opt("birth_year", Kind::Int { min: 1900, max: 2100 }, "Year of birth."),
            req("occupation", Kind::Enum(OCCUPATIONS), "Occupation."),
            req("income_band", Kind::Enum(INCOME_BANDS), "Household income band."),
            opt("family_size", Kind::Int { min: 1, max: 20 }, "People in the household."),
            opt("lifestyle_tags", Kind::EnumList(LIFESTYLE_TAGS), "Psychographic tags where known."),
            req("region", TEXT, "City or county of residence."),
            req("area_type", Kind::Enum(AREA_TYPES), "City, county town or rural."),
            req("branch_id", Kind::Code, "Branch that serves the subscriber."),
            req("join_date", PAST, "Date the line was opened."),
            req("payment_type", Kind::Enum(PAYMENT_TYPES), "Prepaid or postpaid."),
            req("brand", Kind::Enum(BRANDS), "Customer brand."),
            req("plan_id", Kind::Code, "Current plan."),
            opt("device_model", Kind::Code, "Current handset, where known."),
            opt("device_since", PAST, "Date the current handset was first seen."),
            req("status", Kind::Enum(LINE_STATUSES), "Line status."),
            req("status_since", PAST, "Date the status began."),
            req("consent_sms", Kind::Bool, "Agrees to marketing SMS."),
            req("consent_call", Kind::Bool, "Agrees to marketing calls."),
            req("consent_app_push", Kind::Bool, "Agrees to app notifications."),
            req("do_not_disturb", Kind::Bool, "On the do-not-disturb list: no marketing contact at all."),
            req("vip_level", Kind::Enum(VIP_LEVELS), "VIP card level."),
            req("club_member", Kind::Bool, "Member of the customer club."),
            opt("family_id", Kind::Code, "Family account the line belongs to."),
            opt("group_id", Kind::Code, "Corporate group (集团) the line belongs to."),
        ],
    },
    Table {
        name: "holdings",
        doc: "A product a subscriber holds or held (mobile, broadband, IPTV...).",
        key: &["subscriber_id", "product", "start_date"],
        partitioning: Partitioning::Snapshot,
        references: &[Reference { column: "subscriber_id", table: "subscribers" }],
        row_rules: &["end_date is not before start_date", "speed_mbps is given for broadband and fibre only"],
        columns: &[
            req("subscriber_id", Kind::Int { min: 1, max: i64::MAX }, "Subscriber."),
            req("product", Kind::Enum(PRODUCTS), "Product held."),
            col("speed_mbps", Kind::Int { min: 1, max: 10_000 }, false, "Mbit/s", "Broadband speed."),
            req("start_date", PAST, "Date the product was taken."),
            opt("end_date", PAST, "Date it ended; empty while held."),
        ],
    },
    Table {
        name: "usage",
        doc: "One subscriber's usage and bill for one month (月度使用与账单).",
        key: &["subscriber_id", "month"],
        partitioning: Partitioning::ByMonth("month"),
        references: &[Reference { column: "subscriber_id", table: "subscribers" }],
        row_rules: &[
            "days_active is at most the number of days in the month",
            "data by app category adds up to at most data_mb",
        ],
        columns: &[
            req("subscriber_id", Kind::Int { min: 1, max: i64::MAX }, "Subscriber."),
            req("month", Kind::Month, "Billing month."),
            money("revenue", "Billed revenue of the month (ARPU contribution)."),
            count("voice_min", BIG, "minutes", "Voice minutes used (MOU), calls rounded up per minute."),
            count("data_mb", BIG, "MB", "Mobile data used (DOU)."),
            count("sms", BIG, "messages", "SMS sent."),
            money("recharge_amount", "Top-ups paid in the month (prepaid)."),
            count("recharge_count", 10_000, "top-ups", "Number of top-ups."),
            money("overage_fee", "Fees for use beyond the plan's allowances."),
            count("days_active", 31, "days", "Days with any usage."),
            count("data_video_mb", BIG, "MB", "Data used by video apps."),
            count("data_social_mb", BIG, "MB", "Data used by social apps."),
            count("data_music_mb", BIG, "MB", "Data used by music apps."),
            count("data_gaming_mb", BIG, "MB", "Data used by games."),
        ],
    },
    Table {
        name: "events",
        doc: "A status event of a line: stops, resumes, plan and number changes, port-out requests, complaints, recharges.",
        key: &["event_id"],
        partitioning: Partitioning::ByMonth("event_date"),
        references: &[Reference { column: "subscriber_id", table: "subscribers" }],
        row_rules: &[],
        columns: &[
            req("event_id", Kind::Int { min: 1, max: i64::MAX }, "Event id."),
            req("subscriber_id", Kind::Int { min: 1, max: i64::MAX }, "Subscriber."),
            req("event_date", PAST, "Date of the event."),
            req("event_type", Kind::Enum(EVENT_TYPES), "What happened."),
            opt("detail", TEXT, "New plan, complaint topic, recharge amount..."),
        ],
    },
    Table {
        name: "sales",
        doc: "A sale by an agent through a channel: activation, handset sale or plan change.",
        key: &["sale_id"],
        partitioning: Partitioning::ByMonth("sale_date"),
        references: &[
            Reference { column: "subscriber_id", table: "subscribers" },
            Reference { column: "plan_id", table: "plans" },
            Reference { column: "device_model", table: "devices" },
        ],
        row_rules: &["device_model is given for handset sales"],
        columns: &[
            req("sale_id", Kind::Int { min: 1, max: i64::MAX }, "Sale id."),
            req("sale_date", PAST, "Date of the sale."),
            req("subscriber_id", Kind::Int { min: 1, max: i64::MAX }, "Subscriber sold to."),
            req("agent_id", Kind::Code, "Agent or staff who made the sale."),
            req("channel", Kind::Enum(SALES_CHANNELS), "Sales channel."),
            req("sale_type", Kind::Enum(SALE_TYPES), "What was sold."),
            opt("plan_id", Kind::Code, "Plan activated or changed to."),
            opt("device_model", Kind::Code, "Handset sold."),
            money("commission", "Commission paid to the agent."),
            money("subsidy", "Handset subsidy given."),
        ],
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_references_and_partitions_name_real_columns() {
        for t in TABLES {
            for k in t.key {
                assert!(t.column(k).is_some(), "{}: key {k}", t.name);
            }
            if let Partitioning::ByMonth(c) = t.partitioning {
                let kind = t.column(c).map(|c| c.kind);
                assert!(matches!(kind, Some(Kind::Month | Kind::Date { .. })), "{}: partition {c}", t.name);
            }
            for r in t.references {
                assert!(t.column(r.column).is_some(), "{}: reference {}", t.name, r.column);
                let target = table(r.table).expect("referenced table exists");
                assert_eq!(target.key.len(), 1, "{} is referenced by a single-column key", r.table);
                let pos = |n: &str| TABLES.iter().position(|t| t.name == n);
                assert!(pos(r.table) < pos(t.name), "{} is imported before {}", r.table, t.name);
            }
        }
    }

    #[test]
    fn column_names_are_unique_per_table() {
        for t in TABLES {
            let mut names: Vec<_> = t.columns.iter().map(|c| c.name).collect();
            names.sort_unstable();
            names.dedup();
            assert_eq!(names.len(), t.columns.len(), "{}", t.name);
        }
    }
}
