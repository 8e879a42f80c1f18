//! Whole-run tests: determinism, every field against the schema, the planted shapes and the
//! truth files recomputed from the generated tables.
//!
//! The real importer is written elsewhere; the checker here reads the schema's kinds itself.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use cvm_domain::schema::{Kind, TABLES, Table};
use cvm_domain::{Date, Fen, Month, Msisdn};

use crate::pricing::{Tariff, bill};
use crate::{GenerateConfig, GenerateSummary, OutputFormat, generate};

/// A generated CSV export kept for the whole test run.
struct Export {
    path: PathBuf,
    summary: GenerateSummary,
    config: GenerateConfig,
}

/// Folders of the export are named by this prefix and the id of the test process.
const EXPORT_PREFIX: &str = "cvm-synth-tests-";

fn export() -> &'static Export {
    static E: OnceLock<Export> = OnceLock::new();
    E.get_or_init(|| {
        // A static is never dropped, so a temporary folder held here would outlive the process
        // (20 MB a test process under nextest). The folder is named by process id instead, and
        // those of processes that have ended are removed first.
        let base = std::env::temp_dir();
        remove_exports_of_ended_processes(&base);
        let path = base.join(format!("{EXPORT_PREFIX}{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        let config = GenerateConfig::new(20_000, 6, 42);
        let summary = generate(&config, &path, &mut |_| {}).expect("generate");
        Export { path, summary, config }
    })
}

/// Removes the export folders in `base` of test processes no longer running (where the
/// system lists its processes under /proc).
fn remove_exports_of_ended_processes(base: &Path) {
    let proc = Path::new("/proc");
    if !proc.join("self").exists() {
        return;
    }
    for entry in std::fs::read_dir(base).into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = name.strip_prefix(EXPORT_PREFIX) else { continue };
        if pid.parse::<u32>().is_ok() && !proc.join(pid).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// A CSV file as header and rows of fields (generated text is never quoted).
struct Csv {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Csv {
    fn read(path: &Path) -> Csv {
        let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let mut lines = text.lines();
        let header = lines.next().expect("header").split(',').map(str::to_owned).collect();
        let rows = lines.map(|l| l.split(',').map(str::to_owned).collect()).collect();
        Csv { header, rows }
    }

    fn col(&self, name: &str) -> usize {
        self.header.iter().position(|h| h == name).unwrap_or_else(|| panic!("no column {name}"))
    }
}

fn table_csv(name: &str) -> Csv {
    Csv::read(&export().path.join(format!("{name}.csv")))
}

fn truth_csv(name: &str) -> Csv {
    Csv::read(&export().path.join("truth").join(name))
}

fn is_code(s: &str) -> bool {
    (1..=32).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Checks one field against its column kind; returns why not.
fn check_field(kind: Kind, v: &str, last: Month) -> Result<(), String> {
    let last_day = last.last_day();
    match kind {
        Kind::Int { min, max } => {
            let x: i64 = v.parse().map_err(|_| format!("not an integer: {v}"))?;
            if x < min || x > max {
                return Err(format!("{x} outside {min}..={max}"));
            }
        }
        Kind::Money { min_fen, max_fen } => {
            let b = v.as_bytes();
            if b.len() < 4 || b[b.len() - 3] != b'.' {
                return Err(format!("money without two decimals: {v}"));
            }
            let f = Fen::parse_yuan(v).map_err(|e| e.to_string())?;
            if f.0 < min_fen || f.0 > max_fen {
                return Err(format!("{v} outside money range"));
            }
        }
        Kind::Code => {
            if !is_code(v) {
                return Err(format!("bad code {v}"));
            }
        }
        Kind::Text { max_chars } => {
            if v.chars().count() > max_chars || v.trim() != v {
                return Err(format!("bad text {v}"));
            }
        }
        Kind::Enum(list) => {
            if !list.contains(&v) {
                return Err(format!("{v} not in {list:?}"));
            }
        }
        Kind::EnumList(list) => {
            for x in v.split(';') {
                if !list.contains(&x) {
                    return Err(format!("{x} not in {list:?}"));
                }
            }
        }
        Kind::Date { past_only } => {
            let d = Date::parse(v).map_err(|e| e.to_string())?;
            if past_only && d > last_day {
                return Err(format!("{v} after {last_day}"));
            }
        }
        Kind::Month => {
            let m = Month::parse(v).map_err(|e| e.to_string())?;
            if m > last {
                return Err(format!("{v} after {last}"));
            }
        }
        Kind::Bool => {
            if v != "1" && v != "0" {
                return Err(format!("flag {v} is not 1/0"));
            }
        }
        Kind::Msisdn => {
            let m = Msisdn::parse(v).map_err(|e| e.to_string())?;
            if m.as_str() != v {
                return Err(format!("msisdn {v} not as 11 digits"));
            }
        }
    }
    Ok(())
}

fn check_table(t: &Table, csv: &Csv, last: Month) {
    let names: Vec<&str> = t.columns.iter().map(|c| c.name).collect();
    assert_eq!(csv.header, names, "{}: header", t.name);
    let key_idx: Vec<usize> = t.key.iter().map(|k| csv.col(k)).collect();
    let mut keys = BTreeSet::new();
    for (n, row) in csv.rows.iter().enumerate() {
        assert_eq!(row.len(), t.columns.len(), "{} line {}: field count", t.name, n + 2);
        for (c, v) in t.columns.iter().zip(row) {
            if v.is_empty() {
                assert!(!c.required, "{} line {}: {} is required", t.name, n + 2, c.name);
                continue;
            }
            if let Err(e) = check_field(c.kind, v, last) {
                panic!("{} line {} column {}: {e}", t.name, n + 2, c.name);
            }
        }
        let key: Vec<&str> = key_idx.iter().map(|&i| row[i].as_str()).collect();
        assert!(keys.insert(key.join("|")), "{} line {}: duplicate key {key:?}", t.name, n + 2);
    }
}

#[test]
fn every_table_is_written_and_every_field_fits_the_schema() {
    let e = export();
    let last = e.config.last_month;
    let mut keys: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for t in TABLES {
        let csv = table_csv(t.name);
        assert!(!csv.rows.is_empty(), "{} is empty", t.name);
        check_table(t, &csv, last);
        assert_eq!(e.summary.rows[t.name], csv.rows.len() as u64, "{} count", t.name);
        for r in t.references {
            let i = csv.col(r.column);
            let known = &keys[r.table];
            for row in &csv.rows {
                assert!(row[i].is_empty() || known.contains(&row[i]), "{}.{} = {} unknown", t.name, r.column, row[i]);
            }
        }
        if t.key.len() == 1 {
            let i = csv.col(t.key[0]);
            keys.insert(t.name, csv.rows.iter().map(|r| r[i].clone()).collect());
        }
    }
}

#[test]
fn row_rules_hold() {
    let subs = table_csv("subscribers");
    let (join, since, by, dev_since, msisdn) = (
        subs.col("join_date"),
        subs.col("status_since"),
        subs.col("birth_year"),
        subs.col("device_since"),
        subs.col("msisdn"),
    );
    let mut numbers = BTreeSet::new();
    for r in &subs.rows {
        assert!(r[since] >= r[join], "status_since before join_date: {r:?}");
        if !r[by].is_empty() {
            assert!(r[by].as_str() <= &r[join][..4], "birth after join: {r:?}");
        }
        if !r[dev_since].is_empty() {
            assert!(r[dev_since].as_str() >= "1990-01-01");
            assert!(r[dev_since] >= r[join]);
        }
        assert!(numbers.insert(r[msisdn].clone()), "duplicate msisdn {}", r[msisdn]);
    }
    let h = table_csv("holdings");
    let (prod, speed, start, end) = (h.col("product"), h.col("speed_mbps"), h.col("start_date"), h.col("end_date"));
    let mut mobiles = 0;
    for r in &h.rows {
        assert!(r[end].is_empty() || r[end] >= r[start]);
        assert_eq!(!r[speed].is_empty(), r[prod] == "broadband" || r[prod] == "fibre", "{r:?}");
        mobiles += usize::from(r[prod] == "mobile");
    }
    assert_eq!(mobiles, subs.rows.len(), "every subscriber holds mobile");
    let u = table_csv("usage");
    let (month, days, data) = (u.col("month"), u.col("days_active"), u.col("data_mb"));
    for r in &u.rows {
        let m = Month::parse(&r[month]).unwrap();
        assert!(r[days].parse::<u32>().unwrap() <= m.days());
        let apps: i64 = ["data_video_mb", "data_social_mb", "data_music_mb", "data_gaming_mb"]
            .iter()
            .map(|c| r[u.col(c)].parse::<i64>().unwrap())
            .sum();
        assert!(apps <= r[data].parse::<i64>().unwrap(), "{r:?}");
    }
    let o = table_csv("offers");
    for r in &o.rows {
        assert!(r[o.col("valid_to")] >= r[o.col("valid_from")]);
        assert_eq!(r[o.col("offer_kind")] == "directed_data_pack", !r[o.col("app_category")].is_empty());
    }
    let s = table_csv("sales");
    for r in &s.rows {
        if r[s.col("sale_type")] == "handset_sale" {
            assert!(!r[s.col("device_model")].is_empty());
        }
    }
}

fn tariffs() -> BTreeMap<String, (Tariff, bool, bool, i64)> {
    let p = table_csv("plans");
    let fen = |r: &Vec<String>, c: &str| Fen::parse_yuan(&r[p.col(c)]).unwrap().0;
    let int = |r: &Vec<String>, c: &str| r[p.col(c)].parse::<i64>().unwrap();
    p.rows
        .iter()
        .map(|r| {
            let t = Tariff {
                monthly_fee: fen(r, "monthly_fee"),
                voice_min: int(r, "voice_min"),
                data_mb: int(r, "data_mb"),
                sms: int(r, "sms"),
                voice_overage_per_min: fen(r, "voice_overage_per_min"),
                data_overage_unit_mb: int(r, "data_overage_unit_mb"),
                data_overage_per_unit: fen(r, "data_overage_per_unit"),
                sms_overage_per_msg: fen(r, "sms_overage_per_msg"),
            };
            let on_sale = r[p.col("status")] == "on_sale";
            let prepaid = r[p.col("payment_type")] == "prepaid";
            (r[0].clone(), (t, on_sale, prepaid, int(r, "min_tenure_months")))
        })
        .collect()
}

/// Plan of each (subscriber, month) where the input states it: after the month's last plan
/// change, else the activation plan, else the current plan when the line never changed.
fn plans_by_month() -> BTreeMap<(String, String), String> {
    let subs = table_csv("subscribers");
    let ev = table_csv("events");
    let sales = table_csv("sales");
    let mut changes: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    for r in &ev.rows {
        if r[ev.col("event_type")] == "plan_change" {
            changes.entry(r[1].clone()).or_default().push((r[2][..7].to_owned(), r[4].clone()));
        }
    }
    let mut activation: BTreeMap<String, String> = BTreeMap::new();
    for r in &sales.rows {
        if r[sales.col("sale_type")] == "activation" {
            activation.entry(r[2].clone()).or_insert_with(|| r[sales.col("plan_id")].clone());
        }
    }
    let u = table_csv("usage");
    let current: BTreeMap<&str, &str> =
        subs.rows.iter().map(|r| (r[0].as_str(), r[subs.col("plan_id")].as_str())).collect();
    let mut out = BTreeMap::new();
    for r in &u.rows {
        let (id, m) = (&r[0], &r[1]);
        let ch = changes.get(id);
        let plan = match ch {
            None => Some(current[id.as_str()].to_owned()),
            Some(list) => {
                // Events are in date order per subscriber.
                match list.iter().rev().find(|(em, _)| em <= m) {
                    Some((_, p)) => Some(p.clone()),
                    None => activation.get(id).cloned(),
                }
            }
        };
        if let Some(p) = plan {
            out.insert((id.clone(), m.clone()), p);
        }
    }
    out
}

#[test]
fn every_bill_follows_the_pricing_rule_to_the_fen() {
    let plans = tariffs();
    let by_month = plans_by_month();
    let u = table_csv("usage");
    let (rev, voice, data, sms, over) =
        (u.col("revenue"), u.col("voice_min"), u.col("data_mb"), u.col("sms"), u.col("overage_fee"));
    let mut checked = 0;
    for r in &u.rows {
        let Some(p) = by_month.get(&(r[0].clone(), r[1].clone())) else { continue };
        let t = &plans[p].0;
        let b = bill(t, r[voice].parse().unwrap(), r[data].parse().unwrap(), r[sms].parse().unwrap());
        assert_eq!(Fen::parse_yuan(&r[over]).unwrap().0, b - t.monthly_fee, "overage {r:?} on {p}");
        assert!(Fen::parse_yuan(&r[rev]).unwrap().0 >= b, "revenue below bill {r:?}");
        checked += 1;
    }
    assert!(checked as f64 > 0.97 * u.rows.len() as f64, "checked {checked} of {}", u.rows.len());
}

#[test]
fn recharges_reconcile_with_events() {
    let u = table_csv("usage");
    let ev = table_csv("events");
    let mut counts: BTreeMap<(String, String), (i64, i64)> = BTreeMap::new();
    for r in &ev.rows {
        if r[3] == "recharge" {
            let e = counts.entry((r[1].clone(), r[2][..7].to_owned())).or_default();
            e.0 += 1;
            e.1 += Fen::parse_yuan(&r[4]).unwrap().0;
        }
    }
    let (amt, cnt) = (u.col("recharge_amount"), u.col("recharge_count"));
    let mut total = 0;
    for r in &u.rows {
        let (c, a) = counts.get(&(r[0].clone(), r[1].clone())).copied().unwrap_or((0, 0));
        assert_eq!(r[cnt].parse::<i64>().unwrap(), c, "{r:?}");
        assert_eq!(Fen::parse_yuan(&r[amt]).unwrap().0, a, "{r:?}");
        total += c;
    }
    assert_eq!(total, counts.values().map(|x| x.0).sum::<i64>(), "recharge events outside usage months");
}

#[test]
fn brand_mix_payment_and_pareto_shape() {
    let subs = table_csv("subscribers");
    let n = subs.rows.len() as f64;
    let (brand, pay, by, id) = (subs.col("brand"), subs.col("payment_type"), subs.col("birth_year"), 0);
    let share = |b: &str| subs.rows.iter().filter(|r| r[brand] == b).count() as f64 / n;
    // Brands drift a little through internal switches to mass; the draw is 55/25/20.
    assert!((0.53..0.62).contains(&share("mass")), "mass {}", share("mass"));
    assert!((0.21..0.27).contains(&share("youth")), "youth {}", share("youth"));
    assert!((0.16..0.22).contains(&share("high_end")), "high_end {}", share("high_end"));
    let prepaid_share = |b: &str| {
        let of: Vec<_> = subs.rows.iter().filter(|r| r[brand] == b).collect();
        of.iter().filter(|r| r[pay] == "prepaid").count() as f64 / of.len() as f64
    };
    assert!(prepaid_share("mass") > 0.75);
    assert!(prepaid_share("high_end") < 0.2);
    let mean_birth = |b: &str| {
        let ys: Vec<f64> = subs
            .rows
            .iter()
            .filter(|r| r[brand] == b && !r[by].is_empty())
            .map(|r| r[by].parse::<f64>().unwrap())
            .collect();
        ys.iter().sum::<f64>() / ys.len() as f64
    };
    assert!(mean_birth("youth") > mean_birth("mass") + 10.0, "youth brand is young");

    // ARPU per subscriber = mean revenue over its months; the top 20% bring most revenue.
    let u = table_csv("usage");
    let mut sums: BTreeMap<&str, (i64, i64)> = BTreeMap::new();
    for r in &u.rows {
        let e = sums.entry(r[id].as_str()).or_default();
        e.0 += Fen::parse_yuan(&r[2]).unwrap().0;
        e.1 += 1;
    }
    let mut arpu: Vec<f64> = sums.values().map(|(s, c)| *s as f64 / *c as f64).collect();
    arpu.sort_by(|a, b| b.total_cmp(a));
    let total: f64 = arpu.iter().sum();
    let top: f64 = arpu[..arpu.len() / 5].iter().sum();
    assert!(top / total > 0.6, "top 20% bring {:.3} of revenue", top / total);
}

#[test]
fn churn_truth_matches_the_data() {
    let e = export();
    let churn = truth_csv("churn.csv");
    let u = table_csv("usage");
    assert_eq!(churn.rows.len(), u.rows.len(), "one truth row per subscriber-month");
    let usage_keys: BTreeSet<(String, String)> = u.rows.iter().map(|r| (r[0].clone(), r[1].clone())).collect();
    let subs = table_csv("subscribers");
    let status: BTreeMap<&str, &str> =
        subs.rows.iter().map(|r| (r[0].as_str(), r[subs.col("status")].as_str())).collect();
    let (p, churned, kind, in_data) = (
        churn.col("churn_probability"),
        churn.col("churned_next_month"),
        churn.col("churn_kind"),
        churn.col("next_month_in_data"),
    );
    let (mut sum_p, mut n, mut events, mut kinds) = (0.0, 0.0, 0.0, BTreeMap::<String, u32>::new());
    for r in &churn.rows {
        assert!(usage_keys.contains(&(r[0].clone(), r[1].clone())));
        let next = Month::parse(&r[1]).unwrap().plus(1).to_string();
        assert_eq!(r[churned] == "1", !r[kind].is_empty());
        if r[in_data] == "1" {
            sum_p += r[p].parse::<f64>().unwrap();
            n += 1.0;
            events += f64::from(u8::from(r[churned] == "1"));
            if r[kind] == "leave_network" {
                assert!(!usage_keys.contains(&(r[0].clone(), next)), "usage after leaving: {r:?}");
                assert_eq!(status[r[0].as_str()], "closed");
            }
            if r[churned] == "1" {
                *kinds.entry(r[kind].clone()).or_default() += 1;
            }
        } else {
            assert_eq!(r[1], e.config.last_month.to_string());
        }
    }
    let rate = events / n;
    assert!((0.008..0.06).contains(&rate), "monthly churn {rate}");
    // Calibration: the planted probabilities predict the planted outcomes.
    assert!((sum_p / n - rate).abs() < 0.2 * rate, "mean p {} vs rate {rate}", sum_p / n);
    for k in ["leave_network", "internal_switch", "revenue_loss"] {
        assert!(kinds.get(k).copied().unwrap_or(0) > 20, "{k}: {kinds:?}");
    }
    let closed = status.values().filter(|s| **s == "closed").count();
    assert_eq!(closed as u32, kinds["leave_network"], "every closed line left through a planted churn");

    let ds = truth_csv("dual_stop_churners.csv");
    assert!(ds.rows.len() > 10);
    let ev = table_csv("events");
    let dual: BTreeSet<(String, String)> =
        ev.rows.iter().filter(|r| r[3] == "dual_stop").map(|r| (r[1].clone(), r[2].clone())).collect();
    for r in &ds.rows {
        assert!(r[3].parse::<i64>().unwrap() >= 7);
        assert!(dual.contains(&(r[0].clone(), r[1].clone())), "no dual_stop event for {r:?}");
        assert_eq!(status[r[0].as_str()], "closed");
        let days = Date::parse(&r[2]).unwrap().days_since_epoch() - Date::parse(&r[1]).unwrap().days_since_epoch();
        assert_eq!(days.to_string(), r[3]);
    }
}

#[test]
fn plan_mismatch_truth_is_recomputable() {
    let plans = tariffs();
    let mm = truth_csv("plan_mismatch.csv");
    let subs = table_csv("subscribers");
    let share = mm.rows.len() as f64 / subs.rows.len() as f64;
    assert!((0.04..0.16).contains(&share), "mismatch share {share}");
    let join: BTreeMap<&str, &str> =
        subs.rows.iter().map(|r| (r[0].as_str(), r[subs.col("join_date")].as_str())).collect();
    let u = table_csv("usage");
    let last = export().config.last_month;
    let last3: BTreeSet<String> = (0..3).map(|k| last.plus(-k).to_string()).collect();
    let mut usage: BTreeMap<&str, Vec<(i64, i64, i64)>> = BTreeMap::new();
    for r in &u.rows {
        if last3.contains(&r[1]) {
            usage.entry(r[0].as_str()).or_default().push((
                r[3].parse().unwrap(),
                r[4].parse().unwrap(),
                r[5].parse().unwrap(),
            ));
        }
    }
    for r in &mm.rows {
        let months = &usage[r[0].as_str()];
        assert_eq!(months.len(), 3);
        let tenure = last.months_since(Date::parse(join[r[0].as_str()]).unwrap().month()) as i64;
        let cur = &plans[&r[1]];
        let sum = |t: &Tariff| months.iter().map(|&(v, d, s)| bill(t, v, d, s)).sum::<i64>();
        let mut best: Option<(i64, &String)> = None;
        for (id, (t, on_sale, prepaid, min_t)) in &plans {
            if *on_sale && *prepaid == cur.2 && *min_t <= tenure {
                let b = sum(t);
                if best.is_none_or(|(bb, _)| b < bb) {
                    best = Some((b, id));
                }
            }
        }
        let (b, id) = best.unwrap();
        assert_eq!(&r[2], id, "{r:?}");
        assert_eq!(Fen::parse_yuan(&r[6]).unwrap().0, b);
        assert_eq!(Fen::parse_yuan(&r[5]).unwrap().0, sum(&cur.0));
    }
}

#[test]
fn fraud_truth_matches_sales_and_usage() {
    let fraud = truth_csv("fraud.csv");
    let sales = table_csv("sales");
    let sale_by_id: BTreeMap<&str, &Vec<String>> = sales.rows.iter().map(|r| (r[0].as_str(), r)).collect();
    let u = table_csv("usage");
    let mut traffic: BTreeMap<&str, i64> = BTreeMap::new();
    for r in &u.rows {
        *traffic.entry(r[0].as_str()).or_default() += r[3].parse::<i64>().unwrap() + r[4].parse::<i64>().unwrap();
    }
    let mut kinds: BTreeMap<&str, usize> = BTreeMap::new();
    let mut bulk_agents: BTreeMap<&str, usize> = BTreeMap::new();
    for r in &fraud.rows {
        let s = sale_by_id[r[0].as_str()];
        assert_eq!(s[3], r[1], "agent of {r:?}");
        *kinds.entry(r[2].as_str()).or_default() += 1;
        match r[2].as_str() {
            "bulk_activation" | "handset_arbitrage" => assert_eq!(traffic[s[2].as_str()], 0, "{r:?} carried traffic"),
            _ => {}
        }
        if r[2] == "bulk_activation" {
            *bulk_agents.entry(r[1].as_str()).or_default() += 1;
        }
    }
    for k in ["bulk_activation", "handset_arbitrage", "commission_churn", "channel_conflict"] {
        assert!(kinds.get(k).copied().unwrap_or(0) > 0, "{k}: {kinds:?}");
    }
    assert!(bulk_agents.values().all(|&n| n >= 12), "bulk agents open many SIMs: {bulk_agents:?}");
}

#[test]
fn totals_reconcile_with_the_files() {
    let e = export();
    let totals: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(e.path.join("truth/totals.json")).unwrap()).unwrap();
    for t in TABLES {
        let csv = table_csv(t.name);
        assert_eq!(totals[t.name]["rows"], csv.rows.len() as u64, "{}", t.name);
    }
    for (t, col) in [("usage", 1), ("events", 2), ("sales", 1)] {
        let csv = table_csv(t);
        let mut per: BTreeMap<String, u64> = BTreeMap::new();
        for r in &csv.rows {
            *per.entry(r[col][..7].to_owned()).or_default() += 1;
        }
        for (m, n) in per {
            assert_eq!(totals[t]["by_month"][&m], n, "{t} {m}");
        }
    }
    assert!(e.path.join("truth/README.md").exists());
}

fn read_all(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    for sub in [dir.to_path_buf(), dir.join("truth")] {
        for entry in std::fs::read_dir(&sub).unwrap() {
            let p = entry.unwrap().path();
            if p.is_file() {
                out.insert(p.strip_prefix(dir).unwrap().to_path_buf(), std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

#[test]
fn same_seed_gives_identical_bytes_whatever_the_threads() {
    for format in [OutputFormat::Csv, OutputFormat::Parquet] {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let mut c = GenerateConfig::new(1500, 4, 7);
        c.format = format;
        c.threads = 1;
        generate(&c, a.path(), &mut |_| {}).unwrap();
        c.threads = 3;
        generate(&c, b.path(), &mut |_| {}).unwrap();
        let (fa, fb) = (read_all(a.path()), read_all(b.path()));
        assert_eq!(fa.len(), TABLES.len() + 6);
        assert_eq!(fa.keys().collect::<Vec<_>>(), fb.keys().collect::<Vec<_>>());
        for (k, v) in &fa {
            assert!(v == &fb[k], "{} differs between runs", k.display());
        }
        let c2 = GenerateConfig::new(1500, 4, 8);
        let d = tempfile::tempdir().unwrap();
        generate(&c2, d.path(), &mut |_| {}).unwrap();
        if format == OutputFormat::Csv {
            assert_ne!(fa[Path::new("usage.csv")], std::fs::read(d.path().join("usage.csv")).unwrap());
        }
    }
}

#[test]
fn parquet_files_carry_the_warehouse_types_and_the_same_rows() {
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    let dir = tempfile::tempdir().unwrap();
    let csv_dir = tempfile::tempdir().unwrap();
    let mut c = GenerateConfig::new(1200, 3, 11);
    let csv_summary = generate(&c, csv_dir.path(), &mut |_| {}).unwrap();
    c.format = OutputFormat::Parquet;
    let summary = generate(&c, dir.path(), &mut |_| {}).unwrap();
    assert_eq!(summary, csv_summary);
    for t in TABLES {
        let f = std::fs::File::open(dir.path().join(format!("{}.parquet", t.name))).unwrap();
        let reader = ParquetRecordBatchReaderBuilder::try_new(f).unwrap();
        let expected = cvm_warehouse::arrow_schema::arrow_schema(t);
        assert_eq!(reader.schema().fields(), expected.fields(), "{}", t.name);
        let rows: usize = reader.build().unwrap().map(|b| b.unwrap().num_rows()).sum();
        assert_eq!(rows as u64, summary.rows[t.name], "{}", t.name);
    }
    // Truth files do not depend on the format.
    for f in ["churn.csv", "plan_mismatch.csv", "fraud.csv", "totals.json"] {
        let a = std::fs::read(dir.path().join("truth").join(f)).unwrap();
        let b = std::fs::read(csv_dir.path().join("truth").join(f)).unwrap();
        if f == "totals.json" {
            assert_eq!(String::from_utf8(a).unwrap().replace("parquet", "csv"), String::from_utf8(b).unwrap());
        } else {
            assert_eq!(a, b, "{f}");
        }
    }
}

#[test]
fn a_short_window_and_another_last_month_stay_valid() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = GenerateConfig::new(700, 1, 3);
    c.last_month = Month::parse("2024-02").unwrap();
    generate(&c, dir.path(), &mut |_| {}).unwrap();
    for t in TABLES {
        let csv = Csv::read(&dir.path().join(format!("{}.csv", t.name)));
        check_table(t, &csv, c.last_month);
    }
    let mm = Csv::read(&dir.path().join("truth/plan_mismatch.csv"));
    assert!(mm.rows.is_empty(), "no mismatch truth without 3 months");
}

#[test]
fn bad_configs_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    assert!(generate(&GenerateConfig::new(0, 6, 1), dir.path(), &mut |_| {}).is_err());
    assert!(generate(&GenerateConfig::new(10, 0, 1), dir.path(), &mut |_| {}).is_err());
}
