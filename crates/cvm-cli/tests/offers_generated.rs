//! The run's offers step on a generated operator: the planted plan mismatches are found and
//! their planted best plan recommended; the retention pool is never over-promised; offers
//! respect consent; cross-sell rules can be mined from the warehouse.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use common::{arg, cvm_ok, generated_warehouse};
use serde_json::Value;

/// Every row of `cvm offers <what>` as JSON objects.
fn offers(w: &Path, what: &str) -> Vec<Value> {
    let out = cvm_ok(&["offers", what, "-w", arg(w), "--as-of", "2026-10", "--limit", "10000000", "--format", "json"]);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

/// A CSV file as maps from column to value.
fn csv_rows(path: &Path) -> Vec<HashMap<String, String>> {
    let mut r = csv::Reader::from_path(path).unwrap();
    let header: Vec<String> = r.headers().unwrap().iter().map(str::to_owned).collect();
    r.records().map(|rec| header.iter().cloned().zip(rec.unwrap().iter().map(str::to_owned)).collect()).collect()
}

#[test]
fn planted_mismatches_get_their_best_plan_and_the_pool_is_never_over_promised() {
    let dir = tempfile::tempdir().unwrap();
    let (export, w) = generated_warehouse(dir.path(), 20000, 4, 11);
    let config = dir.path().join("run.toml");
    std::fs::write(&config, "[offers]\nmax_channels = 3\n").unwrap();
    cvm_ok(&["run", "--warehouse", arg(&w), "--as-of", "2026-10", "--config", arg(&config)]);

    // Plan fit: every line of truth/plan_mismatch.csv (the planted ones and those that meet
    // the rule by chance) has a service task in its direction, and the minimum-bill plan is
    // the planted best plan with the same exact 3-month bill.
    let fits: HashMap<i64, Value> =
        offers(&w, "plan-fit").into_iter().map(|r| (r["subscriber_id"].as_i64().unwrap(), r)).collect();
    let truth = csv_rows(&export.join("truth/plan_mismatch.csv"));
    let planted = truth.iter().filter(|t| t["planted"] == "1").count();
    assert!(truth.len() > 500 && planted > 300, "{} mismatches, {planted} planted", truth.len());
    for t in &truth {
        let id: i64 = t["subscriber_id"].parse().unwrap();
        let fit = fits.get(&id).unwrap_or_else(|| panic!("subscriber {id} not assessed"));
        assert_eq!(fit["service_task"], format!("persistent_{}_use", t["direction"]), "subscriber {id}: {fit}");
        assert_eq!(fit["current_plan"], t["current_plan"].as_str(), "subscriber {id}");
        assert_eq!(fit["min_bill_plan"], t["best_plan"].as_str(), "subscriber {id}: {fit}");
        assert_eq!(fit["recommended_plan"], t["best_plan"].as_str(), "minimum_bill is the default policy");
        let best: f64 = t["best_3m_bill"].parse().unwrap();
        assert!((fit["min_bill_3m"].as_f64().unwrap() - best).abs() < 0.001, "subscriber {id}: {fit} vs {best}");
    }

    // Device fit: reservations per branch and model never exceed the branch's stock, and a
    // branch serves its subscribers in value order (the serving rank).
    let mut stock: HashMap<(String, String), i64> = HashMap::new();
    for p in csv_rows(&export.join("device_pool.csv")) {
        stock.insert((p["branch_id"].clone(), p["device_model"].clone()), p["stock"].parse().unwrap());
    }
    let devices = offers(&w, "devices");
    let mut promised: BTreeMap<(String, String), i64> = BTreeMap::new();
    for d in devices.iter().filter(|d| !d["device_model"].is_null()) {
        let key = (d["branch_id"].as_str().unwrap().to_owned(), d["device_model"].as_str().unwrap().to_owned());
        *promised.entry(key).or_default() += 1;
    }
    assert!(promised.values().sum::<i64>() > 100, "{} reserved", promised.values().sum::<i64>());
    for (key, n) in &promised {
        assert!(*n <= stock[key], "{key:?}: {n} promised, {} held", stock[key]);
    }
    let ranks: Vec<u64> = devices.iter().map(|d| d["serving_rank"].as_u64().unwrap()).collect();
    assert!(ranks.windows(2).all(|p| p[0] < p[1]), "rows in serving order");

    // Next best offer: one offer per subscriber and channel, priorities 1..n, positive
    // expected value, and no outbound channel to a subscriber on do-not-disturb or without
    // that channel's consent.
    let subscribers: HashMap<String, HashMap<String, String>> =
        csv_rows(&export.join("subscribers.csv")).into_iter().map(|s| (s["subscriber_id"].clone(), s)).collect();
    let nbo = offers(&w, "nbo");
    assert!(nbo.len() > 10000, "{} offers", nbo.len());
    let mut per_subscriber: HashMap<i64, Vec<(String, u64)>> = HashMap::new();
    for o in &nbo {
        let id = o["subscriber_id"].as_i64().unwrap();
        let channel = o["channel"].as_str().unwrap().to_owned();
        let s = &subscribers[&id.to_string()];
        let yes = |c: &str| s[c] == "1";
        let allowed = match channel.as_str() {
            "sms" => yes("consent_sms") && !yes("do_not_disturb"),
            "outbound_call" | "branch_visit" => yes("consent_call") && !yes("do_not_disturb"),
            "app_push" => yes("consent_app_push") && !yes("do_not_disturb"),
            _ => true,
        };
        assert!(allowed, "subscriber {id} offered through {channel}: {o}");
        assert!(o["expected_value"].as_f64().unwrap() > 0.0, "{o}");
        assert!(!o["reason_zh"].as_str().unwrap().is_empty() && !o["reason_en"].as_str().unwrap().is_empty());
        per_subscriber.entry(id).or_default().push((channel, o["priority"].as_u64().unwrap()));
    }
    for (id, offers) in &per_subscriber {
        let mut channels: Vec<&str> = offers.iter().map(|o| o.0.as_str()).collect();
        channels.sort();
        channels.dedup();
        assert_eq!(channels.len(), offers.len(), "subscriber {id}: one offer per channel");
        let mut priorities: Vec<u64> = offers.iter().map(|o| o.1).collect();
        priorities.sort();
        assert_eq!(priorities, (1..=offers.len() as u64).collect::<Vec<_>>(), "subscriber {id}");
        assert!(offers.len() <= 3, "at most max_channels = 3");
    }
    // The kinds of offer the catalog allows all come up somewhere.
    let kinds: std::collections::BTreeSet<&str> = nbo.iter().map(|o| o["offer_kind"].as_str().unwrap()).collect();
    assert!(kinds.contains("bundle") && kinds.len() >= 3, "{kinds:?}");

    // Cross-sell rules from the warehouse: the single products' counts are the holdings
    // active at the end of October.
    let out = cvm_ok(&[
        "basket",
        "itemsets",
        "--warehouse",
        arg(&w),
        "--as-of",
        "2026-10",
        "--min-support",
        "0.001",
        "--format",
        "json",
    ]);
    let itemsets: Vec<Value> = serde_json::from_str(&out).unwrap();
    let held = csv_rows(&export.join("holdings.csv"))
        .into_iter()
        .filter(|h| h["product"] == "broadband" && h["start_date"].as_str() <= "2026-10-31")
        .filter(|h| h["end_date"].is_empty() || h["end_date"].as_str() > "2026-10-31")
        .count() as u64;
    let broadband = itemsets.iter().find(|i| i["itemset"] == "broadband").expect("broadband is frequent");
    assert_eq!(broadband["count"].as_u64(), Some(held));
}
