//! `cvm run` on the hand-checked export: the features of its 4 subscribers as of 2026-10,
//! worked out by hand from tests/fixtures/export-small, and the run's atomic, reproducible
//! output.
//!
//! Window as of 2026-10: 2026-08 (t = 0, no usage in the fixture), 2026-09 (t = 1),
//! 2026-10 (t = 2). Plans: P188 1000 min / 40960 MB / 200 SMS; P058 200 / 20480 / 50;
//! P018 50 / 1024 / 0 (no SMS allowance, so sms_util is null).

mod common;

use std::fs;
use std::path::Path;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{Decimal128Type, Float64Type, Int64Type};
use common::{arg, cvm_ok, fixtures};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

/// Imports export-small into a fresh warehouse under `dir`.
fn warehouse(dir: &Path) -> std::path::PathBuf {
    let w = dir.join("w");
    let export = fixtures().join("export-small");
    cvm_ok(&["import", arg(&export), "--warehouse", arg(&w), "--as-of", "2026-11-23"]);
    w
}

fn read(path: &Path) -> RecordBatch {
    let file = fs::File::open(path).expect("features.parquet exists");
    let reader = ParquetRecordBatchReaderBuilder::try_new(file).unwrap().build().unwrap();
    let batches: Vec<RecordBatch> = reader.map(Result::unwrap).collect();
    arrow::compute::concat_batches(&batches[0].schema(), &batches).unwrap()
}

/// A feature table row by row: typed cell accessors by column name.
struct Table(RecordBatch);

impl Table {
    fn col(&self, name: &str) -> &dyn Array {
        self.0.column_by_name(name).unwrap_or_else(|| panic!("no column {name}")).as_ref()
    }
    fn f(&self, name: &str, row: usize) -> Option<f64> {
        let c = self.col(name).as_primitive::<Float64Type>();
        c.is_valid(row).then(|| c.value(row))
    }
    fn i(&self, name: &str, row: usize) -> Option<i64> {
        let c = self.col(name).as_primitive::<Int64Type>();
        c.is_valid(row).then(|| c.value(row))
    }
    /// Money in fen.
    fn fen(&self, name: &str, row: usize) -> i128 {
        self.col(name).as_primitive::<Decimal128Type>().value(row)
    }
    fn b(&self, name: &str, row: usize) -> bool {
        self.col(name).as_boolean().value(row)
    }
    fn s(&self, name: &str, row: usize) -> Option<String> {
        let c = self.col(name).as_string::<i32>();
        c.is_valid(row).then(|| c.value(row).to_owned())
    }
}

#[track_caller]
fn close(got: Option<f64>, want: f64) {
    let got = got.expect("a value, not null");
    assert!((got - want).abs() < 1e-9, "got {got}, want {want}");
}

#[test]
fn features_of_export_small_as_of_2026_10() {
    let tmp = tempfile::tempdir().unwrap();
    let w = warehouse(tmp.path());
    let out = cvm_ok(&["run", "--warehouse", arg(&w), "--as-of", "2026-10", "--format", "json"]);
    let summary: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(summary[0]["subscribers"], 4, "{out}");

    // Churn warnings: 1003 is a prepaid line in dual stop for 12 days, and its minutes and
    // data fell to nothing (20 -> 0 minutes, 300 -> 0 MB); no one else crosses a threshold.
    let list = cvm_ok(&["warnings", "--list", "--warehouse", arg(&w), "--as-of", "2026-10", "--format", "json"]);
    let list: Vec<serde_json::Value> = serde_json::from_str(&list).unwrap();
    let got: Vec<(i64, &str, &str, &str)> = list
        .iter()
        .map(|w| {
            let s = |k: &str| w[k].as_str().unwrap();
            (w["subscriber_id"].as_i64().unwrap(), s("rule"), s("kind"), s("evidence"))
        })
        .collect();
    assert_eq!(
        got,
        [
            (1003, "dual_stop", "leave_network", "prepaid line in dual stop for 12 days"),
            (1003, "usage_drop", "revenue_loss", "usage fell: minutes 0% and data 0% of own previous months"),
        ]
    );

    let t = Table(read(&w.join("runs/2026-10/features.parquet")));
    assert_eq!(t.0.num_rows(), 4);
    let ids: Vec<i64> = (0..4).map(|r| t.i("subscriber_id", r).unwrap()).collect();
    assert_eq!(ids, [1001, 1002, 1003, 1004], "sorted by subscriber_id");

    // 1001: revenue 188.00 (09), 203.00 (10).
    let r = 0;
    assert_eq!(t.i("months_with_usage", r), Some(2));
    close(t.f("arpu_3m_avg", r), 195.5); // (188 + 203) / 2
    close(t.f("arpu_last", r), 203.0);
    // slope over t = 1, 2: n = 2, Σt = 3, Σt² = 5, Σy = 391, Σty = 188 + 406 = 594;
    // (2·594 - 3·391) / (2·5 - 3²) = 15.
    close(t.f("arpu_trend", r), 15.0);
    close(t.f("arpu_last_vs_avg", r), 203.0 / 195.5);
    close(t.f("mou_3m_avg", r), 960.0); // (820 + 1100) / 2
    close(t.f("dou_3m_avg", r), 36500.0); // (35000 + 38000) / 2
    close(t.f("sms_3m_avg", r), 50.0); // (40 + 60) / 2
    close(t.f("mou_last_vs_prev", r), 1100.0 / 820.0);
    close(t.f("dou_last_vs_prev", r), 38000.0 / 35000.0);
    assert_eq!(t.fen("recharge_amount_3m", r), 0);
    assert_eq!(t.i("recharge_count_3m", r), Some(0));
    assert_eq!(t.fen("overage_fee_3m", r), 1500); // 15.00 in 2026-10
    assert_eq!(t.i("months_over_quota", r), Some(1));
    close(t.f("days_active_avg", r), 30.5); // (30 + 31) / 2
    close(t.f("voice_util", r), 0.96); // 960 / 1000
    close(t.f("data_util", r), 36500.0 / 40960.0);
    close(t.f("sms_util", r), 0.25); // 50 / 200
    assert_eq!(t.i("single_stop_days", r), Some(0));
    assert_eq!(t.i("dual_stop_days", r), Some(0));
    assert_eq!(t.i("complaints_3m", r), Some(1)); // 2026-10-05
    assert_eq!(t.i("port_out_requests_3m", r), Some(0));
    assert_eq!(t.i("tenure_months", r), Some(139)); // 2015-03 -> 2026-10: 11·12 + 7
    assert!(t.b("has_broadband", r) && t.b("has_iptv", r));
    assert!(
        !t.b("has_fixed_line", r) && !t.b("has_fibre", r) && !t.b("has_family_plan", r) && !t.b("has_group_vpn", r)
    );
    assert_eq!(t.s("device_tier", r).as_deref(), Some("flagship")); // HW-M60
    assert_eq!(t.i("device_age_months", r), Some(12)); // 2025-10 -> 2026-10
    assert_eq!(t.i("age", r), Some(41)); // 2026 - 1985
    assert_eq!(t.s("vip_level", r).as_deref(), Some("gold"));
    assert_eq!(t.s("plan_id", r).as_deref(), Some("P188"));
    assert!(t.b("club_member", r) && t.b("consent_sms", r) && !t.b("do_not_disturb", r));

    // 1002: revenue 68.00, 58.00; recharges 60.00 (2) + 50.00 (1); overage 10.00 in 09.
    let r = 1;
    close(t.f("arpu_3m_avg", r), 63.0);
    close(t.f("arpu_trend", r), -10.0); // (2·(68 + 116) - 3·126) / 1
    close(t.f("arpu_last_vs_avg", r), 58.0 / 63.0);
    close(t.f("mou_3m_avg", r), 135.0); // (150 + 120) / 2
    close(t.f("mou_last_vs_prev", r), 0.8); // 120 / 150
    close(t.f("dou_last_vs_prev", r), 18000.0 / 22000.0);
    assert_eq!(t.fen("recharge_amount_3m", r), 11000);
    assert_eq!(t.i("recharge_count_3m", r), Some(3));
    assert_eq!(t.fen("overage_fee_3m", r), 1000);
    assert_eq!(t.i("months_over_quota", r), Some(1));
    close(t.f("voice_util", r), 0.675); // 135 / 200
    close(t.f("data_util", r), 20000.0 / 20480.0);
    close(t.f("sms_util", r), 0.15); // 7.5 / 50
    assert_eq!(t.i("complaints_3m", r), Some(0)); // its only event is a recharge
    assert_eq!(t.i("tenure_months", r), Some(26)); // 2024-08 -> 2026-10
    assert!(!t.b("has_broadband", r) && !t.b("has_iptv", r));
    assert_eq!(t.s("device_tier", r).as_deref(), Some("entry"));
    assert_eq!(t.i("age", r), Some(23));
    assert!(t.b("consent_sms", r) && !t.b("consent_call", r) && t.b("consent_app_push", r)); // Y, N, yes

    // 1003: dual_stop event on 2026-10-20, and status dual_stop since 2026-10-20 (the same
    // stop, counted once): 2026-10-20..=2026-10-31 = 12 days. No device, no birth year.
    let r = 2;
    close(t.f("arpu_3m_avg", r), 18.0);
    close(t.f("arpu_trend", r), 0.0);
    close(t.f("mou_3m_avg", r), 10.0); // (20 + 0) / 2
    close(t.f("mou_last_vs_prev", r), 0.0); // 0 / 20
    close(t.f("days_active_avg", r), 14.0); // (25 + 3) / 2
    close(t.f("voice_util", r), 0.2); // 10 / 50
    close(t.f("data_util", r), 150.0 / 1024.0);
    assert_eq!(t.f("sms_util", r), None, "P018 has no SMS allowance");
    assert_eq!(t.i("dual_stop_days", r), Some(12));
    assert_eq!(t.i("single_stop_days", r), Some(0));
    assert_eq!(t.i("dual_stop_run_days", r), Some(12), "in dual stop from 2026-10-20 to the end of October");
    assert_eq!(t.i("single_stop_run_days", r), Some(0));
    assert_eq!(t.i("months_over_quota", r), Some(0));
    assert_eq!(t.i("tenure_months", r), Some(89)); // 2019-05 -> 2026-10: 7·12 + 5
    assert_eq!(t.s("device_tier", r), None);
    assert_eq!(t.i("device_age_months", r), None);
    assert_eq!(t.i("age", r), None);
    assert!(t.b("do_not_disturb", r));

    // 1004: revenue 19.90, 18.00; its data_pack holding is not a flagged product.
    let r = 3;
    close(t.f("arpu_3m_avg", r), 18.95);
    close(t.f("arpu_trend", r), -1.9); // (2·(19.9 + 36) - 3·37.9) / 1
    close(t.f("mou_last_vs_prev", r), 0.75); // 45 / 60
    close(t.f("voice_util", r), 1.05); // 52.5 / 50
    assert_eq!(t.fen("overage_fee_3m", r), 190);
    assert_eq!(t.fen("recharge_amount_3m", r), 5000);
    assert_eq!(t.i("months_over_quota", r), Some(1));
    assert_eq!(t.i("tenure_months", r), Some(69)); // 2021-01 -> 2026-10: 5·12 + 9
    assert_eq!(t.i("device_age_months", r), Some(44)); // 2023-02 -> 2026-10: 3·12 + 8
    assert_eq!(t.i("age", r), Some(36));
    assert!(!t.b("has_family_plan", r) && !t.b("has_group_vpn", r));
    assert_eq!(t.s("area_type", r).as_deref(), Some("rural"));
}

#[test]
fn a_second_run_replaces_the_first_with_identical_features() {
    let tmp = tempfile::tempdir().unwrap();
    let w = warehouse(tmp.path());
    let run = |w: &Path| cvm_ok(&["run", "--warehouse", arg(w), "--as-of", "2026-10"]);
    run(&w);
    let dir = w.join("runs/2026-10");
    let first = fs::read(dir.join("features.parquet")).unwrap();
    // A file only the first run's folder has: gone after the second run, as the whole
    // folder is replaced.
    fs::write(dir.join("marker"), "first run").unwrap();
    run(&w);
    let second = fs::read(dir.join("features.parquet")).unwrap();
    assert!(first == second, "same inputs, same bytes");
    assert!(!dir.join("marker").exists(), "the second run replaced the folder");
    let summary: serde_json::Value = serde_json::from_slice(&fs::read(dir.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["rows"], 4);
    assert_eq!(summary["as_of"], "2026-10");
    assert_eq!(summary["window_months"], serde_json::json!(["2026-08", "2026-09", "2026-10"]));
    let left: Vec<String> =
        fs::read_dir(w.join("runs")).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert_eq!(left, ["2026-10"], "no temporary or old folders left");
}

/// A run configuration with tiers the four fixture subscribers spread over.
const CONFIG: &str = r#"
[[value.tiers]]
name = "vip"
min_value = 190
strategy = "dedicated account manager"
strategy_zh = "专属客户经理"

[[value.tiers]]
name = "business"
min_value = 60
strategy = "bundles"
strategy_zh = "融合套餐"

[[value.tiers]]
name = "general"
min_value = 0
strategy = "self-service"
strategy_zh = "自助渠道"
"#;

/// An analyst's segments: 1001 and 1002 use over 15 GB a month on average; 1003 was in
/// dual stop for 12 days of October.
const SEGMENTS: &str = r#"
[[segment]]
name = "heavy_data"
description = "Over 15000 MB a month"
where = "dou_3m_avg > 15000"

[[segment]]
name = "stopped"
where = "dual_stop_days >= 7"
"#;

/// Runs export-small as of 2026-10 with [`CONFIG`] and [`SEGMENTS`].
fn configured_run(dir: &Path) -> std::path::PathBuf {
    let w = warehouse(dir);
    fs::write(dir.join("run.toml"), CONFIG).unwrap();
    fs::write(dir.join("segments.toml"), SEGMENTS).unwrap();
    let config = dir.join("run.toml");
    let segments = dir.join("segments.toml");
    cvm_ok(&[
        "run",
        "--warehouse",
        arg(&w),
        "--as-of",
        "2026-10",
        "--config",
        arg(&config),
        "--segments",
        arg(&segments),
    ]);
    w
}

fn json_rows(out: &str) -> Vec<serde_json::Value> {
    serde_json::from_str(out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

fn find<'a>(rows: &'a [serde_json::Value], key: &str, value: &str) -> &'a serde_json::Value {
    rows.iter().find(|r| r[key] == value).unwrap_or_else(|| panic!("no row with {key} = {value}"))
}

#[track_caller]
fn near(v: &serde_json::Value, want: f64) {
    let got = v.as_f64().unwrap_or_else(|| panic!("{v} is not a number"));
    assert!((got - want).abs() < 1e-9, "got {got}, want {want}");
}

#[test]
fn value_pyramid_and_lifecycle_of_export_small() {
    let tmp = tempfile::tempdir().unwrap();
    let w = configured_run(tmp.path());
    let run = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend(["--warehouse", arg(&w), "--as-of", "2026-10", "--format", "json"]);
        json_rows(&cvm_ok(&all))
    };
    // Value = 3-month average ARPU: 195.50, 63.00, 18.00, 18.95; total 295.45.
    let total = 295.45;
    let tiers = run(&["value"]);
    assert_eq!(tiers.len(), 3);
    let vip = find(&tiers, "tier", "vip");
    assert_eq!(vip["subscribers"], 1); // 1001
    near(&vip["revenue_share"], 195.5 / total);
    let business = find(&tiers, "tier", "business");
    assert_eq!(business["subscribers"], 1); // 1002
    near(&business["revenue"], 63.0);
    let general = find(&tiers, "tier", "general");
    assert_eq!(general["subscribers"], 2); // 1003, 1004
    near(&general["arpu"], 18.48); // (18 + 18.95) / 2 = 18.475, shown to the fen
    assert_eq!(general["min_value"], serde_json::Value::Null, "the last tier takes everyone else");

    // Pareto over 4 subscribers, highest value first: 195.50, 63.00, 18.95, 18.00.
    let pareto = run(&["value", "--pareto"]);
    let at = |s: f64| pareto.iter().find(|p| (p["top_subscribers"].as_f64().unwrap() - s).abs() < 1e-9).unwrap();
    near(&at(0.1)["revenue_share"], 0.0); // round(0.4) = 0 subscribers
    near(&at(0.2)["revenue_share"], 195.5 / total); // 1 subscriber
    near(&at(0.5)["revenue_share"], 258.5 / total); // 2
    near(&at(0.7)["revenue_share"], 277.45 / total); // 3
    near(&at(1.0)["revenue_share"], 1.0);

    // Tenures 139, 26, 89, 69 months: all over 12; nobody left the network in October.
    let groups = run(&["lifecycle"]);
    assert_eq!(groups.len(), 3);
    let over = find(&groups, "group", "over_12m");
    assert_eq!(over["subscribers"], 4);
    near(&over["revenue"], total);
    assert_eq!(over["left_network"], 0);
    near(&over["churn_rate"], 0.0);
    assert_eq!(find(&groups, "group", "under_6m")["subscribers"], 0);
    assert_eq!(find(&groups, "group", "under_6m")["churn_rate"], serde_json::Value::Null);

    let features = Table(read(&w.join("runs/2026-10/features.parquet")));
    let tiers: Vec<Option<String>> = (0..4).map(|r| features.s("value_tier", r)).collect();
    assert_eq!(tiers, [Some("vip".into()), Some("business".into()), Some("general".into()), Some("general".into())]);
    close(features.f("value", 3), 18.95);
    assert!(!features.b("left_network", 0) && features.b("plan_vip", 0) && !features.b("plan_vip", 1));
}

#[test]
fn segment_members_and_validity_of_export_small() {
    let tmp = tempfile::tempdir().unwrap();
    let w = configured_run(tmp.path());
    let members = |name: &str| -> String {
        let out = cvm_ok(&["segments", "show", name, "--warehouse", arg(&w), "--as-of", "2026-10", "--format", "json"]);
        let rows = json_rows(&out);
        find(&rows, "field", "members")["value"].as_str().unwrap().to_owned()
    };
    // Worked out by hand from subscribers.csv (ages as of 2026: 41, 23, unknown, 36).
    assert_eq!(members("heavy_data"), "1001 1002");
    assert_eq!(members("stopped"), "1003");
    assert_eq!(members("cm_high_end"), "1001"); // 195.50 yuan, gold card, VIP plan
    assert_eq!(members("cm_youth"), "1002"); // 23, not high-end
    assert_eq!(members("cm_mass"), "1003 1004"); // age unknown; 36
    assert_eq!(members("skt_students"), "1002");
    assert_eq!(members("skt_office_workers"), ""); // 1004 is 36
    assert_eq!(members("skt_married_women"), ""); // 1002 is 23, household unknown
    assert_eq!(members("lifecycle_over_12m"), "1001 1002 1003 1004");
    assert_eq!(members("value_vip"), "1001");
    assert_eq!(members("value_general"), "1003 1004");

    let out = cvm_ok(&["segments", "validate", "--warehouse", arg(&w), "--as-of", "2026-10", "--format", "json"]);
    let rows = json_rows(&out);
    let heavy = find(&rows, "segment", "heavy_data");
    assert_eq!(heavy["subscribers"], 2);
    near(&heavy["revenue_share"], 258.5 / 295.45);
    near(&heavy["reachable_share"], 1.0); // both consent to something and are not do-not-disturb
    assert_eq!(heavy["accessible"], true);
    assert_eq!(heavy["substantial"], true);
    let stopped = find(&rows, "segment", "stopped");
    near(&stopped["reachable_share"], 0.0); // 1003 is on the do-not-disturb list
    assert_eq!(stopped["accessible"], false);
    let teens = find(&rows, "segment", "skt_teens");
    assert_eq!(teens["measurable"], false);
    assert_eq!(teens["subscribers"], 0);
    let md = fs::read_to_string(w.join("runs/2026-10/validity.md")).unwrap();
    assert!(md.contains("| heavy_data | custom | 2 | 50.0% |"), "{md}");

    // The analyst's file was saved as version 1 of the warehouse's segments.
    assert_eq!(fs::read_to_string(w.join("segments/v0001.toml")).unwrap(), SEGMENTS);
    let summary: serde_json::Value =
        serde_json::from_slice(&fs::read(w.join("runs/2026-10/summary.json")).unwrap()).unwrap();
    assert_eq!(summary["segments_version"], 1);
}

#[test]
fn a_refused_predicate_stops_the_run_and_keeps_the_last_results() {
    let tmp = tempfile::tempdir().unwrap();
    let w = configured_run(tmp.path());
    let before = fs::read(w.join("runs/2026-10/features.parquet")).unwrap();
    let bad = tmp.path().join("bad.toml");
    fs::write(
        &bad,
        "[[segment]]\nname = \"x\"\nwhere = \"arpu_3m_avg > 1 AND 1 IN (SELECT subscriber_id FROM subscribers)\"\n",
    )
    .unwrap();
    let out = common::cvm(&["run", "--warehouse", arg(&w), "--as-of", "2026-10", "--segments", arg(&bad)]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("segment `x`") && err.contains("subqueries are not allowed"), "{err}");
    assert!(err.contains("column 21"), "points at the subquery: {err}");
    assert_eq!(fs::read(w.join("runs/2026-10/features.parquet")).unwrap(), before, "last good results intact");
    assert!(!w.join("segments/v0002.toml").exists(), "a refused file is not saved as a version");

    // The same file through `cvm segments check`, before any run.
    let out = common::cvm(&["segments", "check", arg(&bad)]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("subqueries are not allowed"));
    let good = tmp.path().join("segments.toml");
    let out = cvm_ok(&["segments", "check", arg(&good), "--format", "json"]);
    let rows = json_rows(&out);
    assert_eq!(rows.len(), 2);
    assert_eq!(find(&rows, "segment", "heavy_data")["columns"], "dou_3m_avg");
}
