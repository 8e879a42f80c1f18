//! The operator's reference data: plans, devices, branches and staff, the retention device
//! pool, offers, and the names and places subscribers are drawn from.
//!
//! Plans, devices and offers are fixed lists written by hand to look like a Chinese
//! provincial operator's catalog (brands 全球通 / 动感地带 / 神州行). Branches and staff
//! scale with the number of subscribers and are drawn from the seed. Every date is an
//! offset from the last generated month, so any `--last-month` gives valid data.

use std::collections::BTreeSet;

use cvm_domain::Month;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::pricing::Tariff;
use crate::sink::{Rows, V};

/// Customer brand, by the segment it serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Brand {
    /// 神州行: mass market, price driven.
    Mass,
    /// 动感地带: youth, driven by new services.
    Youth,
    /// 全球通: high end.
    HighEnd,
}

impl Brand {
    pub fn as_str(self) -> &'static str {
        match self {
            Brand::Mass => "mass",
            Brand::Youth => "youth",
            Brand::HighEnd => "high_end",
        }
    }
}

/// One plan of the catalog.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    pub id: &'static str,
    pub name: &'static str,
    pub brand: Brand,
    pub prepaid: bool,
    pub tariff: Tariff,
    pub min_tenure: i64,
    pub vip: bool,
    pub on_sale: bool,
    /// Relative popularity among new takers of the same brand and payment type.
    pub weight: f64,
}

use Brand::{HighEnd as H, Mass as M, Youth as Y};
const PRE: bool = true;
const POST: bool = false;
/// Data overage in 1024 MB units at 5.00 yuan (current plans).
const GB: (i64, i64) = (1024, 500);
/// Data overage per MB at 0.29 yuan (older plans).
const MB: (i64, i64) = (1, 29);

#[allow(clippy::type_complexity)]
const PLANS: &[(&str, &str, Brand, bool, i64, i64, i64, i64, i64, (i64, i64), i64, bool, bool, f64)] = &[
    // id, name, brand, prepaid, fee yuan, voice min, data MB, sms, voice overage fen/min,
    // data overage (unit MB, fen per unit), min tenure months, vip, on sale, weight
    ("P01", "神州行畅听卡8元", M, PRE, 8, 50, 100, 0, 19, MB, 0, false, true, 24.0),
    ("P02", "神州行家园卡18元", M, PRE, 18, 100, 1024, 50, 19, GB, 0, false, true, 30.0),
    ("P03", "神州行轻松卡28元", M, PRE, 28, 200, 3072, 50, 15, GB, 0, false, true, 15.0),
    ("P04", "神州行流量王38元", M, PRE, 38, 150, 10_240, 0, 15, GB, 0, false, true, 6.0),
    ("P05", "神州行畅享58元", M, PRE, 58, 500, 20_480, 100, 15, GB, 0, false, true, 3.0),
    ("P06", "神州行长辈卡10元", M, PRE, 10, 200, 100, 0, 19, MB, 0, false, true, 10.0),
    ("P07", "神州行大众卡15元", M, PRE, 15, 100, 30, 0, 19, MB, 0, false, false, 6.0),
    ("P08", "神州行畅聊卡28元", M, PRE, 28, 300, 500, 100, 19, MB, 0, false, false, 4.0),
    ("P09", "神州行家庭套餐58元", M, POST, 58, 500, 20_480, 100, 15, GB, 0, false, true, 5.0),
    ("P10", "神州行后付费38元", M, POST, 38, 300, 8192, 100, 15, GB, 0, false, true, 10.0),
    ("P11", "神州行乡村卡12元", M, PRE, 12, 100, 500, 20, 19, MB, 0, false, true, 9.0),
    ("P12", "神州行5G畅享88元", M, POST, 88, 600, 40_960, 100, 15, GB, 0, false, true, 2.0),
    ("Y01", "动感地带校园卡19元", Y, PRE, 19, 100, 10_240, 100, 19, GB, 0, false, true, 20.0),
    ("Y02", "动感地带音乐卡29元", Y, PRE, 29, 100, 15_360, 100, 19, GB, 0, false, true, 14.0),
    ("Y03", "动感地带5G芒果卡39元", Y, PRE, 39, 200, 30_720, 100, 15, GB, 0, false, true, 12.0),
    ("Y04", "动感地带王者卡49元", Y, PRE, 49, 150, 40_960, 50, 15, GB, 0, false, true, 7.0),
    ("Y05", "动感地带潮玩套餐59元", Y, POST, 59, 300, 51_200, 100, 15, GB, 0, false, true, 8.0),
    ("Y06", "动感地带5G潮玩79元", Y, POST, 79, 500, 81_920, 100, 15, GB, 0, false, true, 4.0),
    ("Y07", "动感地带短信套餐15元", Y, PRE, 15, 50, 200, 300, 19, MB, 0, false, false, 4.0),
    ("Y08", "动感地带网聊套餐20元", Y, PRE, 20, 50, 1024, 200, 19, MB, 0, false, false, 4.0),
    ("Y09", "动感地带学生卡9元", Y, PRE, 9, 30, 3072, 50, 19, GB, 0, false, true, 10.0),
    ("Y10", "动感地带5G至尊99元", Y, POST, 99, 600, 102_400, 100, 15, GB, 0, false, true, 2.0),
    ("G01", "全球通88元", H, POST, 88, 500, 20_480, 100, 15, GB, 0, false, true, 12.0),
    ("G02", "全球通128元", H, POST, 128, 800, 40_960, 200, 15, GB, 0, false, true, 16.0),
    ("G03", "全球通商务188元", H, POST, 188, 1500, 61_440, 300, 15, GB, 12, true, true, 18.0),
    ("G04", "全球通尊享288元", H, POST, 288, 2500, 102_400, 500, 15, GB, 24, true, true, 14.0),
    ("G05", "全球通尊享388元", H, POST, 388, 3500, 153_600, 500, 15, GB, 36, true, true, 10.0),
    ("G06", "全球通钻石588元", H, POST, 588, 6000, 307_200, 1000, 15, GB, 60, true, true, 8.0),
    ("G07", "全球通58元", H, POST, 58, 300, 500, 100, 19, MB, 0, false, false, 4.0),
    ("G08", "全球通商旅138元", H, POST, 138, 1000, 5120, 200, 15, GB, 0, false, false, 4.0),
    ("G09", "全球通预付68元", H, PRE, 68, 400, 15_360, 100, 15, GB, 0, false, true, 6.0),
    ("G10", "全球通预付98元", H, PRE, 98, 600, 30_720, 100, 15, GB, 0, false, true, 4.0),
    ("G11", "全球通158元", H, POST, 158, 1000, 51_200, 200, 15, GB, 6, true, true, 14.0),
];

/// The plan catalog, in plan id order.
pub(crate) fn plans() -> Vec<Plan> {
    PLANS
        .iter()
        .map(
            |&(
                id,
                name,
                brand,
                prepaid,
                fee,
                voice,
                data,
                sms,
                vover,
                (unit, per_unit),
                min_tenure,
                vip,
                on_sale,
                weight,
            )| {
                Plan {
                    id,
                    name,
                    brand,
                    prepaid,
                    tariff: Tariff {
                        monthly_fee: fee * 100,
                        voice_min: voice,
                        data_mb: data,
                        sms,
                        voice_overage_per_min: vover,
                        data_overage_unit_mb: unit,
                        data_overage_per_unit: per_unit,
                        sms_overage_per_msg: 10,
                    },
                    min_tenure,
                    vip,
                    on_sale,
                    weight,
                }
            },
        )
        .collect()
}

/// Handset tier, low to high (index into `DEVICE_TIERS`).
pub(crate) const TIERS: [&str; 4] = ["entry", "mid", "high", "flagship"];

/// One handset model.
#[derive(Debug, Clone)]
pub(crate) struct Device {
    pub model: &'static str,
    pub maker: &'static str,
    pub tier: usize,
    /// List price, fen.
    pub price: i64,
    /// Release, in months before the last generated month.
    pub age_months: i32,
    pub five_g: bool,
}

const DEVICES: &[(&str, &str, i64, i32, bool)] = &[
    // model, maker, list price yuan, released months before the last month, 5G
    ("iPhone16-Pro-Max", "Apple", 9999, 25, true),
    ("iPhone16", "Apple", 5999, 25, true),
    ("iPhone15-Pro", "Apple", 7999, 37, true),
    ("iPhone15", "Apple", 5399, 37, true),
    ("iPhone14", "Apple", 4599, 49, true),
    ("iPhone13", "Apple", 3999, 61, true),
    ("iPhone12", "Apple", 2999, 72, true),
    ("iPhone11", "Apple", 2499, 85, false),
    ("iPhoneSE3", "Apple", 3499, 55, true),
    ("HUAWEI-Mate70-Pro", "华为", 6499, 11, true),
    ("HUAWEI-Mate60-Pro", "华为", 6999, 26, true),
    ("HUAWEI-Pura70-Ultra", "华为", 9999, 18, true),
    ("HUAWEI-MateX5", "华为", 12_999, 26, true),
    ("HUAWEI-nova12", "华为", 2999, 22, true),
    ("HUAWEI-nova11", "华为", 2499, 34, false),
    ("HUAWEI-Enjoy70", "华为", 1199, 20, false),
    ("HUAWEI-Enjoy60", "华为", 999, 30, false),
    ("HUAWEI-P40", "华为", 4488, 78, true),
    ("HONOR-Magic6-Pro", "荣耀", 5699, 20, true),
    ("HONOR-90", "荣耀", 2499, 28, true),
    ("HONOR-X50", "荣耀", 1399, 28, true),
    ("HONOR-Play8T", "荣耀", 999, 18, true),
    ("HONOR-X40i", "荣耀", 1299, 40, true),
    ("Xiaomi-15-Ultra", "小米", 6499, 8, true),
    ("Xiaomi-14", "小米", 3999, 24, true),
    ("Xiaomi-13", "小米", 3999, 36, true),
    ("Redmi-K70", "小米", 2499, 23, true),
    ("Redmi-Note13", "小米", 1099, 25, true),
    ("Redmi-13C", "小米", 699, 23, true),
    ("Redmi-12C", "小米", 549, 44, false),
    ("Redmi-Note11", "小米", 1199, 56, true),
    ("OPPO-FindX8-Pro", "OPPO", 5299, 12, true),
    ("OPPO-Reno12", "OPPO", 2699, 17, true),
    ("OPPO-Reno10", "OPPO", 2499, 40, true),
    ("OPPO-A3", "OPPO", 1299, 15, true),
    ("OPPO-A58", "OPPO", 999, 38, true),
    ("vivo-X200-Pro", "vivo", 5299, 12, true),
    ("vivo-X100", "vivo", 3999, 24, true),
    ("vivo-S19", "vivo", 2499, 16, true),
    ("vivo-Y37", "vivo", 1199, 15, true),
    ("vivo-Y36", "vivo", 999, 30, true),
    ("iQOO-12", "vivo", 3999, 23, true),
    ("Galaxy-S24-Ultra", "三星", 9699, 21, true),
    ("Galaxy-S23", "三星", 4999, 33, true),
    ("Galaxy-A55", "三星", 2799, 20, true),
    ("Galaxy-A15", "三星", 1299, 22, false),
    ("OnePlus-12", "一加", 4299, 22, true),
    ("OnePlus-Ace3", "一加", 2599, 22, true),
    ("realme-GT6", "realme", 2799, 17, true),
    ("realme-C67", "realme", 899, 22, false),
    ("ZTE-Axon60", "中兴", 1599, 14, true),
    ("nubia-Z60-Ultra", "努比亚", 4299, 20, true),
    ("ZTE-Blade-V50", "中兴", 999, 24, true),
    ("CMCC-A75", "中国移动", 699, 24, true),
    ("CMCC-N5", "中国移动", 399, 70, false),
    ("CMCC-M3", "中国移动", 199, 60, false),
    ("Koobee-F1", "酷比", 199, 50, false),
    ("Philips-E6", "飞利浦", 299, 48, false),
    ("Nokia-105-4G", "诺基亚", 199, 36, false),
    ("Meizu-21", "魅族", 3399, 22, true),
];

/// Index of the feature phones elderly subscribers favour (the last entry models).
pub(crate) const FEATURE_PHONES: &[&str] = &["CMCC-M3", "Koobee-F1", "Philips-E6", "Nokia-105-4G"];

/// The device catalog.
pub(crate) fn devices() -> Vec<Device> {
    DEVICES
        .iter()
        .map(|&(model, maker, price, age_months, five_g)| Device {
            model,
            maker,
            tier: match price {
                ..1000 => 0,
                1000..2500 => 1,
                2500..5000 => 2,
                _ => 3,
            },
            price: price * 100,
            age_months,
            five_g,
        })
        .collect()
}

/// One offer of the catalog.
pub(crate) struct Offer {
    pub id: &'static str,
    pub name: &'static str,
    pub kind: &'static str,
    pub product: &'static str,
    pub price_yuan: i64,
    pub cost_yuan: i64,
    pub data_mb: i64,
    pub app: &'static str,
    pub channels: &'static str,
    /// First valid month, months before the last month.
    pub from_ago: i32,
    /// Last valid month, months after the last month (negative: already expired).
    pub to_ahead: i32,
}

macro_rules! offer {
    ($id:expr, $name:expr, $kind:expr, $product:expr, $price:expr, $cost:expr, $mb:expr, $app:expr, $ch:expr, $from:expr, $to:expr) => {
        Offer {
            id: $id,
            name: $name,
            kind: $kind,
            product: $product,
            price_yuan: $price,
            cost_yuan: $cost,
            data_mb: $mb,
            app: $app,
            channels: $ch,
            from_ago: $from,
            to_ahead: $to,
        }
    };
}

/// The offers campaigns and next-best-offer can make: every offer kind, over channels.
pub(crate) const OFFERS: &[Offer] = &[
    offer!(
        "OF001",
        "神州行升档38元流量王",
        "plan_change",
        "mobile",
        38,
        0,
        0,
        "",
        "sms;outbound_call;business_hall",
        18,
        12
    ),
    offer!("OF002", "动感地带升档5G芒果卡", "plan_change", "mobile", 39, 0, 0, "", "app_push;sms;web_hall", 12, 12),
    offer!("OF003", "全球通128升188商务", "plan_change", "mobile", 188, 0, 0, "", "outbound_call;branch_visit", 24, 6),
    offer!("OF004", "降档挽留58元套餐", "plan_change", "mobile", 58, 0, 0, "", "outbound_call;business_hall", 10, 6),
    offer!("OF005", "老用户专享88元套餐", "plan_change", "mobile", 88, 10, 0, "", "sms;outbound_call;app_push", 6, 3),
    offer!("OF006", "1GB流量日包", "data_pack", "data_pack", 5, 1, 1024, "", "sms;app_push;ivr", 30, 12),
    offer!("OF007", "3GB月包", "data_pack", "data_pack", 10, 2, 3072, "", "sms;app_push;web_hall;ivr", 30, 12),
    offer!("OF008", "10GB月包", "data_pack", "data_pack", 20, 4, 10_240, "", "sms;app_push;web_hall", 24, 12),
    offer!("OF009", "30GB季包", "data_pack", "data_pack", 30, 6, 30_720, "", "app_push;web_hall", 12, 12),
    offer!("OF010", "夜间闲时流量包", "data_pack", "data_pack", 8, 1, 20_480, "", "sms;app_push", 20, 6),
    offer!(
        "OF011",
        "5G加速包",
        "data_pack",
        "data_pack",
        15,
        3,
        5120,
        "",
        "app_push;web_hall;self_service_terminal",
        8,
        12
    ),
    offer!(
        "OF012",
        "腾讯视频定向流量包",
        "directed_data_pack",
        "data_pack",
        9,
        3,
        30_720,
        "video",
        "sms;app_push;web_hall",
        18,
        12
    ),
    offer!(
        "OF013",
        "抖音快手定向流量包",
        "directed_data_pack",
        "data_pack",
        9,
        3,
        30_720,
        "video",
        "app_push;sms",
        12,
        12
    ),
    offer!(
        "OF014",
        "微信QQ定向流量包",
        "directed_data_pack",
        "data_pack",
        6,
        2,
        20_480,
        "social",
        "sms;app_push",
        24,
        12
    ),
    offer!("OF015", "微博定向流量包", "directed_data_pack", "data_pack", 3, 1, 10_240, "social", "app_push", 24, -2),
    offer!(
        "OF016",
        "咪咕音乐定向流量包",
        "directed_data_pack",
        "data_pack",
        6,
        2,
        15_360,
        "music",
        "sms;app_push;web_hall",
        18,
        12
    ),
    offer!(
        "OF017",
        "王者荣耀游戏加速包",
        "directed_data_pack",
        "data_pack",
        9,
        3,
        20_480,
        "gaming",
        "app_push;web_hall",
        10,
        12
    ),
    offer!(
        "OF018",
        "存费送机千元5G手机",
        "device",
        "mobile",
        59,
        25,
        0,
        "",
        "business_hall;branch_visit;outbound_call",
        12,
        6
    ),
    offer!("OF019", "全球通旗舰机换机礼", "device", "mobile", 188, 80, 0, "", "business_hall;outbound_call", 12, 6),
    offer!("OF020", "老用户保有换机", "device", "mobile", 88, 40, 0, "", "branch_visit;business_hall", 18, 12),
    offer!("OF021", "长辈机关怀专享", "device", "mobile", 18, 8, 0, "", "business_hall;branch_visit", 24, 12),
    offer!("OF022", "学生5G换机季", "device", "mobile", 39, 15, 0, "", "app_push;web_hall;business_hall", 3, 2),
    offer!(
        "OF023",
        "宽带+手机融合套餐",
        "bundle",
        "broadband",
        99,
        20,
        0,
        "",
        "outbound_call;business_hall;branch_visit",
        36,
        12
    ),
    offer!("OF024", "宽带+IPTV看家套餐", "bundle", "iptv", 128, 30, 0, "", "outbound_call;branch_visit", 36, 12),
    offer!(
        "OF025",
        "全家享融合套餐",
        "bundle",
        "family_plan",
        169,
        35,
        0,
        "",
        "outbound_call;business_hall;web_hall",
        24,
        12
    ),
    offer!("OF026", "固话+宽带商企套餐", "bundle", "fixed_line", 139, 30, 0, "", "branch_visit;outbound_call", 24, 12),
    offer!("OF027", "集团V网融合", "bundle", "group_vpn", 30, 5, 0, "", "branch_visit", 48, 12),
    offer!(
        "OF028",
        "千兆光纤融合套餐",
        "bundle",
        "fibre",
        199,
        45,
        0,
        "",
        "outbound_call;business_hall;app_push",
        12,
        12
    ),
    offer!("OF029", "宽带提速至500M", "upgrade", "broadband", 20, 5, 0, "", "sms;outbound_call;app_push", 18, 12),
    offer!("OF030", "光纤升级千兆", "upgrade", "fibre", 30, 10, 0, "", "outbound_call;branch_visit", 12, 12),
    offer!("OF031", "吉祥靓号升级", "upgrade", "premium_number", 50, 0, 0, "", "business_hall;web_hall", 36, 12),
    offer!("OF032", "IPTV高清升级4K", "upgrade", "iptv", 10, 2, 0, "", "sms;app_push;ivr", 18, 12),
    offer!("OF033", "副卡加装", "upgrade", "family_plan", 10, 1, 0, "", "sms;app_push;web_hall;business_hall", 24, 12),
    offer!("OF034", "全球通俱乐部会员日", "club", "", 0, 5, 0, "", "sms;app_push;outbound_call", 12, 12),
    offer!("OF035", "VIP机场贵宾厅", "club", "", 0, 60, 0, "", "sms;outbound_call", 24, 12),
    offer!("OF036", "动感地带音乐节门票", "club", "", 0, 20, 0, "", "app_push;sms", 4, 1),
    offer!("OF037", "视频会员联名权益", "partner", "", 15, 10, 0, "", "app_push;web_hall;sms", 12, 12),
    offer!("OF038", "外卖红包权益", "partner", "", 10, 6, 0, "", "app_push;sms", 6, 6),
    offer!("OF039", "加油优惠合作", "partner", "", 0, 3, 0, "", "sms;outbound_call", 18, -1),
    offer!("OF040", "银行信用卡联名", "partner", "", 0, 15, 0, "", "business_hall;outbound_call;web_hall", 24, 12),
    offer!("OF041", "话费充值赠费", "partner", "", 50, 5, 0, "", "sms;ivr;self_service_terminal;app_push", 9, 3),
];

/// A city or county the operator serves.
struct RegionDef {
    name: &'static str,
    county: bool,
    weight: f64,
}

const REGIONS: &[(&str, bool, f64)] = &[
    ("南京市", false, 9.0),
    ("苏州市", false, 10.0),
    ("无锡市", false, 6.0),
    ("常州市", false, 5.0),
    ("南通市", false, 5.0),
    ("徐州市", false, 6.0),
    ("盐城市", false, 4.0),
    ("扬州市", false, 3.0),
    ("泰州市", false, 3.0),
    ("镇江市", false, 3.0),
    ("淮安市", false, 3.0),
    ("连云港市", false, 3.0),
    ("宿迁市", false, 3.0),
    ("射阳县", true, 2.0),
    ("滨海县", true, 2.0),
    ("阜宁县", true, 2.0),
    ("建湖县", true, 1.5),
    ("响水县", true, 1.0),
    ("东台市", true, 2.0),
    ("沛县", true, 2.5),
    ("丰县", true, 2.0),
    ("睢宁县", true, 2.5),
    ("邳州市", true, 3.0),
    ("新沂市", true, 2.0),
    ("如东县", true, 2.0),
    ("海安市", true, 2.0),
    ("启东市", true, 2.0),
    ("如皋市", true, 2.5),
    ("宝应县", true, 1.5),
    ("高邮市", true, 1.5),
    ("沭阳县", true, 3.5),
    ("泗阳县", true, 2.0),
    ("泗洪县", true, 2.0),
    ("灌云县", true, 1.5),
    ("灌南县", true, 1.5),
    ("东海县", true, 2.0),
    ("涟水县", true, 2.0),
    ("盱眙县", true, 1.5),
    ("金湖县", true, 1.0),
    ("溧阳市", true, 2.0),
    ("宜兴市", true, 3.0),
    ("江阴市", true, 4.0),
    ("常熟市", true, 4.0),
    ("张家港市", true, 3.5),
    ("昆山市", true, 4.5),
    ("太仓市", true, 2.0),
    ("句容市", true, 1.5),
    ("丹阳市", true, 2.0),
    ("扬中市", true, 1.0),
    ("兴化市", true, 2.5),
    ("靖江市", true, 1.5),
    ("泰兴市", true, 2.0),
];

const CITY_PARTS: &[&str] = &[
    "城东",
    "城西",
    "城南",
    "城北",
    "中心",
    "经开",
    "高新",
    "新城",
    "老城",
    "湖滨",
    "站前",
    "大学城",
    "工业园",
    "滨江",
];
const COUNTY_PARTS: &[&str] = &["城东", "城西", "城南", "城北", "中心", "开发区"];
const TOWN_HEADS: &[&str] = &[
    "新", "黄", "王", "李", "张", "陈", "大", "小", "东", "西", "南", "北", "长", "高", "白", "石", "三", "五", "双",
    "永", "安", "和", "兴", "富", "洋", "海", "合", "四", "千", "临",
];
const TOWN_TAILS: &[&str] = &["庄", "集", "港", "桥", "河", "湖", "沟", "店", "营", "圩", "墩", "口", "湾", "坝"];

/// Area type of a branch.
pub(crate) const AREA: [&str; 3] = ["city", "county", "rural"];

/// One branch (支局/区局).
pub(crate) struct Branch {
    pub id: String,
    pub name: String,
    pub region: &'static str,
    pub area: usize,
    /// Agent stores (代理店) that sell for this branch.
    pub stores: Vec<String>,
    /// Staff indexes working here, by role.
    pub hall_agents: Vec<usize>,
    pub marketers: Vec<usize>,
    pub account_managers: Vec<usize>,
}

/// One staff member.
pub(crate) struct Staff {
    pub id: String,
    pub name: String,
    pub branch: usize,
    pub role: &'static str,
}

/// Everything the subscribers refer to, built once per run.
pub(crate) struct Catalog {
    pub plans: Vec<Plan>,
    pub devices: Vec<Device>,
    pub branches: Vec<Branch>,
    /// Cumulative subscriber weight of branches, for drawing a subscriber's branch.
    pub branch_cum: Vec<f64>,
    pub staff: Vec<Staff>,
    /// Telemarketers of the call centre.
    pub telemarketers: Vec<usize>,
    /// Agent stores planted to sell subsidised handsets with SIMs that are never used.
    pub arbitrage_agents: Vec<String>,
    /// Agents planted to earn commission on lines that churn soon after.
    pub commission_agents: Vec<String>,
    /// Retention device pool: (branch, device, stock, retention price fen).
    pub pool: Vec<(usize, usize, i64, i64)>,
}

/// How many branches serve `n` subscribers: about one per 2000, within 20..=3000.
pub(crate) fn branch_count(n: u64) -> usize {
    (n / 2000).clamp(20, 3000) as usize
}

impl Catalog {
    /// Builds the catalog for `n` subscribers from `seed`.
    pub fn build(seed: u64, n: u64) -> Catalog {
        let mut rng = ChaCha8Rng::from_seed(crate::seed_bytes(seed, 0, crate::TAG_CATALOG));
        let regions: Vec<RegionDef> =
            REGIONS.iter().map(|&(name, county, weight)| RegionDef { name, county, weight }).collect();
        let nb = branch_count(n);
        let mut used_names = BTreeSet::new();
        let mut branches = Vec::with_capacity(nb);
        let mut staff: Vec<Staff> = Vec::new();
        let mut telemarketers = Vec::new();
        let mut branch_weight = Vec::with_capacity(nb);
        let mut first_of_region = BTreeSet::new();
        for b in 0..nb {
            // 40% city district branches, 30% county-town, 30% rural (smaller).
            let area = match b % 10 {
                0..=3 => 0,
                4..=6 => 1,
                _ => 2,
            };
            let pool: Vec<&RegionDef> = regions.iter().filter(|r| r.county == (area != 0)).collect();
            let region = pool[pick_weighted(&mut rng, pool.iter().map(|r| r.weight))];
            let base = match area {
                0 => format!("{}{}区局", short(region.name), CITY_PARTS[rng.random_range(0..CITY_PARTS.len())]),
                1 => format!("{}{}支局", region.name, COUNTY_PARTS[rng.random_range(0..COUNTY_PARTS.len())]),
                _ => format!(
                    "{}{}{}镇支局",
                    region.name,
                    TOWN_HEADS[rng.random_range(0..TOWN_HEADS.len())],
                    TOWN_TAILS[rng.random_range(0..TOWN_TAILS.len())]
                ),
            };
            let mut name = base.clone();
            let mut k = 2;
            while !used_names.insert(name.clone()) {
                name = format!("{base}{k}");
                k += 1;
            }
            branch_weight.push(
                match area {
                    0 => 1.4,
                    1 => 1.0,
                    _ => 0.6,
                } * rng.random_range(0.6..1.4),
            );
            let id = format!("BR{:04}", b + 1);
            let stores = (0..1 + rng.random_range(0..4)).map(|k| format!("AG{:04}{:02}", b + 1, k + 1)).collect();
            let mut br = Branch {
                id,
                name,
                region: region.name,
                area,
                stores,
                hall_agents: Vec::new(),
                marketers: Vec::new(),
                account_managers: Vec::new(),
            };
            let add = |role: &'static str, rng: &mut ChaCha8Rng, staff: &mut Vec<Staff>| {
                let i = staff.len();
                let male = rng.random_bool(0.5);
                let name = chinese_name(rng, male);
                staff.push(Staff { id: format!("ST{:06}", i + 1), name, branch: b, role });
                i
            };
            for _ in 0..rng.random_range(1..=2) {
                add("line_worker", &mut rng, &mut staff);
            }
            for _ in 0..rng.random_range(1..=2) {
                let s = add("marketer", &mut rng, &mut staff);
                br.marketers.push(s);
            }
            let s = add("account_manager", &mut rng, &mut staff);
            br.account_managers.push(s);
            if area != 2 {
                for _ in 0..rng.random_range(1..=3) {
                    let s = add("hall_agent", &mut rng, &mut staff);
                    br.hall_agents.push(s);
                }
            }
            // The first branch of each region hosts the call centre and VIP service room.
            if first_of_region.insert(region.name) {
                for _ in 0..rng.random_range(2..=4) {
                    let s = add("telemarketer", &mut rng, &mut staff);
                    telemarketers.push(s);
                }
                for _ in 0..rng.random_range(1..=2) {
                    add("vip_service", &mut rng, &mut staff);
                }
            }
            branches.push(br);
        }
        let mut acc = 0.0;
        let branch_cum = branch_weight
            .iter()
            .map(|w| {
                acc += w;
                acc
            })
            .collect();
        // A few agent stores are planted as fraudsters; never the same store for both kinds.
        let all_stores: Vec<&String> = branches.iter().flat_map(|b| b.stores.iter()).collect();
        let n_bad = (all_stores.len() / 150).max(2);
        let mut arbitrage_agents = Vec::new();
        let mut commission_agents = Vec::new();
        let mut taken = BTreeSet::new();
        while arbitrage_agents.len() + commission_agents.len() < 2 * n_bad && taken.len() < all_stores.len() {
            let s = rng.random_range(0..all_stores.len());
            if !taken.insert(s) {
                continue;
            }
            if arbitrage_agents.len() < n_bad {
                arbitrage_agents.push(all_stores[s].clone());
            } else {
                commission_agents.push(all_stores[s].clone());
            }
        }
        let devices = devices();
        // Retention pool: recent mid/high/flagship models, 5-12 per branch.
        let candidates: Vec<usize> =
            (0..devices.len()).filter(|&d| devices[d].tier >= 1 && devices[d].age_months <= 40).collect();
        let mut pool = Vec::new();
        for b in 0..nb {
            let k = rng.random_range(5..=12).min(candidates.len());
            let mut chosen = BTreeSet::new();
            while chosen.len() < k {
                chosen.insert(candidates[rng.random_range(0..candidates.len())]);
            }
            for d in chosen {
                let stock = if rng.random_bool(0.15) { 0 } else { rng.random_range(1..=40) };
                // Retention price: 60-85% of list, whole yuan.
                let price = devices[d].price / 100 * rng.random_range(60..=85) / 100 * 100;
                pool.push((b, d, stock, price));
            }
        }
        Catalog {
            plans: plans(),
            devices,
            branches,
            branch_cum,
            staff,
            telemarketers,
            arbitrage_agents,
            commission_agents,
            pool,
        }
    }

    /// The rows of table `name` when it is a catalog table.
    pub fn write(&self, name: &str, rows: &mut Rows, last: Month) {
        match name {
            "branches" => {
                for b in &self.branches {
                    rows.push(&[V::Str(&b.id), V::Str(&b.name), V::Str(b.region), V::Str(AREA[b.area])]);
                }
            }
            "staff" => {
                for s in &self.staff {
                    rows.push(&[V::Str(&s.id), V::Str(&s.name), V::Str(&self.branches[s.branch].id), V::Str(s.role)]);
                }
            }
            "plans" => {
                for p in &self.plans {
                    let t = &p.tariff;
                    rows.push(&[
                        V::Str(p.id),
                        V::Str(p.name),
                        V::Str(p.brand.as_str()),
                        V::Str(if p.prepaid { "prepaid" } else { "postpaid" }),
                        V::Fen(t.monthly_fee),
                        V::Int(t.voice_min),
                        V::Int(t.data_mb),
                        V::Int(t.sms),
                        V::Fen(t.voice_overage_per_min),
                        V::Int(t.data_overage_unit_mb),
                        V::Fen(t.data_overage_per_unit),
                        V::Fen(t.sms_overage_per_msg),
                        V::Int(p.min_tenure),
                        V::Bool(p.vip),
                        V::Str(if p.on_sale { "on_sale" } else { "retired" }),
                    ]);
                }
            }
            "devices" => {
                for d in &self.devices {
                    rows.push(&[
                        V::Str(d.model),
                        V::Str(d.maker),
                        V::Str(TIERS[d.tier]),
                        V::Fen(d.price),
                        V::Month(last.plus(-d.age_months)),
                        V::Str(if d.five_g { "5g" } else { "4g" }),
                    ]);
                }
            }
            "device_pool" => {
                for &(b, d, stock, price) in &self.pool {
                    rows.push(&[
                        V::Str(&self.branches[b].id),
                        V::Str(self.devices[d].model),
                        V::Int(stock),
                        V::Fen(price),
                    ]);
                }
            }
            "offers" => {
                for o in OFFERS {
                    let from = last.plus(-o.from_ago).first_day().days_since_epoch();
                    let to = last.plus(o.to_ahead).last_day().days_since_epoch();
                    rows.push(&[
                        V::Str(o.id),
                        V::Str(o.name),
                        V::Str(o.kind),
                        if o.product.is_empty() { V::Null } else { V::Str(o.product) },
                        V::Fen(o.price_yuan * 100),
                        V::Fen(o.cost_yuan * 100),
                        V::Int(o.data_mb),
                        if o.app.is_empty() { V::Null } else { V::Str(o.app) },
                        V::Str(o.channels),
                        V::Date(from),
                        V::Date(to),
                    ]);
                }
            }
            _ => {}
        }
    }
}

/// A city's short name for branch names ("南京" of "南京市").
fn short(name: &str) -> &str {
    name.strip_suffix('市').unwrap_or(name)
}

/// Index drawn with probability proportional to `weights`.
pub(crate) fn pick_weighted<R: Rng>(rng: &mut R, weights: impl Iterator<Item = f64> + Clone) -> usize {
    let total: f64 = weights.clone().sum();
    let mut u = rng.random::<f64>() * total;
    let mut last = 0;
    for (i, w) in weights.enumerate() {
        if u < w {
            return i;
        }
        u -= w;
        last = i;
    }
    last
}

/// Common surnames, most frequent first (drawn with decreasing weight).
const SURNAMES: &[&str] = &[
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡", "郭", "何", "高", "林",
    "罗", "郑", "梁", "谢", "宋", "唐", "许", "韩", "冯", "邓", "曹", "彭", "曾", "肖", "田", "董", "袁", "潘", "于",
    "蒋", "蔡", "余", "杜", "叶", "程", "苏", "魏", "吕", "丁", "任", "沈", "姚", "卢", "姜", "崔", "钟", "谭", "陆",
    "汪", "范", "金", "石", "廖", "贾", "夏", "韦", "方", "白", "邹", "孟", "熊", "秦", "邱", "江", "尹", "薛", "段",
    "雷", "侯", "龙", "史",
];
const GIVEN_MALE: &[&str] = &[
    "伟", "强", "磊", "军", "勇", "杰", "涛", "斌", "超", "明", "刚", "平", "辉", "鹏", "华", "飞", "鑫", "波", "宇",
    "浩", "凯", "健", "俊", "帆", "旭", "宁", "龙", "林", "阳", "建", "国", "志", "文", "博", "海", "东", "峰", "亮",
    "成", "庆",
];
const GIVEN_FEMALE: &[&str] = &[
    "芳", "娜", "敏", "静", "丽", "艳", "娟", "霞", "燕", "玲", "英", "秀", "兰", "萍", "红", "琳", "洁", "梅", "莉",
    "婷", "雪", "慧", "颖", "倩", "晶", "月", "琴", "佳", "欣", "怡", "悦", "蕾", "思", "雨", "晓", "丹", "露", "薇",
    "翠", "凤",
];

/// A Chinese personal name: a surname and one or two given-name characters.
pub(crate) fn chinese_name<R: Rng>(rng: &mut R, male: bool) -> String {
    // Surname frequency falls off steeply: take the minimum of two uniform draws.
    let s = rng.random_range(0..SURNAMES.len()).min(rng.random_range(0..SURNAMES.len()));
    let given = if male { GIVEN_MALE } else { GIVEN_FEMALE };
    let mut name = String::with_capacity(9);
    name.push_str(SURNAMES[s]);
    name.push_str(given[rng.random_range(0..given.len())]);
    if rng.random_bool(0.65) {
        name.push_str(given[rng.random_range(0..given.len())]);
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_catalog_has_the_promised_shape() {
        let plans = plans();
        assert!(plans.len() >= 30);
        let ids: BTreeSet<_> = plans.iter().map(|p| p.id).collect();
        assert_eq!(ids.len(), plans.len());
        for p in &plans {
            let fee = p.tariff.monthly_fee;
            assert!((800..=58_800).contains(&fee), "{}", p.id);
            assert!((15..=19).contains(&p.tariff.voice_overage_per_min), "{}", p.id);
            assert!(matches!((p.tariff.data_overage_unit_mb, p.tariff.data_overage_per_unit), (1024, 500) | (1, 29)));
        }
        assert!(plans.iter().any(|p| !p.on_sale));
        assert!(plans.iter().any(|p| p.vip && p.min_tenure > 0));
        for brand in [Brand::Mass, Brand::Youth, Brand::HighEnd] {
            for prepaid in [true, false] {
                assert!(plans.iter().any(|p| p.brand == brand && p.prepaid == prepaid && p.on_sale));
            }
        }
    }

    #[test]
    fn device_catalog_spans_the_tiers() {
        let d = devices();
        assert!((55..=65).contains(&d.len()));
        for t in 0..4 {
            assert!(d.iter().filter(|x| x.tier == t).count() >= 8, "tier {t}");
        }
        let models: BTreeSet<_> = d.iter().map(|x| x.model).collect();
        assert_eq!(models.len(), d.len());
        for f in FEATURE_PHONES {
            assert!(models.contains(f));
        }
    }

    #[test]
    fn offers_cover_every_kind() {
        assert!(OFFERS.len() >= 40);
        for k in cvm_domain::schema::OFFER_KINDS {
            assert!(OFFERS.iter().any(|o| o.kind == *k), "{k}");
        }
        for app in cvm_domain::schema::APP_CATEGORIES {
            assert!(OFFERS.iter().any(|o| o.kind == "directed_data_pack" && o.app == *app), "{app}");
        }
        assert!(OFFERS.iter().all(|o| (o.kind == "directed_data_pack") != o.app.is_empty()));
    }

    #[test]
    fn branches_scale_and_have_staff() {
        assert_eq!(branch_count(1000), 20);
        assert_eq!(branch_count(1_000_000), 500);
        assert_eq!(branch_count(100_000_000), 3000);
        let c = Catalog::build(7, 100_000);
        assert_eq!(c.branches.len(), 50);
        assert!(c.branches.iter().all(|b| !b.marketers.is_empty() && !b.account_managers.is_empty()));
        assert!(!c.telemarketers.is_empty());
        assert!(!c.arbitrage_agents.is_empty() && !c.commission_agents.is_empty());
    }
}
