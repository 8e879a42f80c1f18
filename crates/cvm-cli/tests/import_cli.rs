//! `cvm import` as an operator runs it: good exports, bad files, re-imports, limits.

mod common;

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

use common::{arg, cvm, cvm_ok, fixtures};
use serde_json::Value;

const AS_OF: &str = "2026-11-23";

fn import(export: &Path, warehouse: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["import", arg(export), "--warehouse", arg(warehouse), "--as-of", AS_OF, "--format", "json"];
    args.extend_from_slice(extra);
    cvm(&args)
}

fn summary(out: &std::process::Output) -> Value {
    assert!(out.status.success(), "import failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("summary is JSON")
}

fn table<'a>(s: &'a Value, name: &str) -> &'a Value {
    s["tables"].as_array().unwrap().iter().find(|t| t["table"] == name).unwrap_or_else(|| panic!("no {name}"))
}

fn reconciles(s: &Value) {
    for t in s["tables"].as_array().unwrap() {
        let (r, a, j) = (t["read"].as_u64().unwrap(), t["accepted"].as_u64().unwrap(), t["rejected"].as_u64().unwrap());
        assert_eq!(r, a + j, "{}: read = accepted + rejected", t["table"]);
    }
}

fn warehouse_with_good_export() -> tempfile::TempDir {
    let w = tempfile::tempdir().unwrap();
    summary(&import(&fixtures().join("export-small"), w.path(), &[]));
    w
}

#[test]
fn good_export_is_imported_whole_and_partitioned_by_month() {
    let w = tempfile::tempdir().unwrap();
    let s = summary(&import(&fixtures().join("export-small"), w.path(), &[]));
    reconciles(&s);
    let expected = [
        ("branches", 2),
        ("staff", 2),
        ("plans", 3),
        ("devices", 2),
        ("device_pool", 2),
        ("offers", 2),
        ("subscribers", 4),
        ("holdings", 7),
        ("usage", 8),
        ("events", 3),
        ("sales", 2),
    ];
    for (name, rows) in expected {
        let t = table(&s, name);
        assert_eq!((t["read"].as_u64(), t["rejected"].as_u64()), (Some(rows), Some(0)), "{name}");
    }
    assert_eq!(table(&s, "usage")["partitions"], serde_json::json!({"2026-09": 4, "2026-10": 4}));
    assert_eq!(table(&s, "sales")["partitions"], serde_json::json!({"2024-08": 1, "2025-10": 1}));
    let listing = cvm_ok(&["warehouse", "--warehouse", arg(w.path()), "--format", "csv"]);
    assert!(listing.contains("usage,2026-09,4"), "{listing}");
    assert!(listing.contains("subscribers,snapshot,4"), "{listing}");
    assert!(w.path().join("usage/month=2026-10/data.parquet").is_file());
}

#[test]
fn reimporting_the_same_export_changes_nothing() {
    let w = warehouse_with_good_export();
    let file = w.path().join("usage/month=2026-09/data.parquet");
    let before = fs::read(&file).unwrap();
    let listing_before = cvm_ok(&["warehouse", "--warehouse", arg(w.path()), "--format", "csv"]);
    summary(&import(&fixtures().join("export-small"), w.path(), &[]));
    assert_eq!(fs::read(&file).unwrap(), before, "same bytes after re-import");
    assert_eq!(cvm_ok(&["warehouse", "--warehouse", arg(w.path()), "--format", "csv"]), listing_before);
}

/// Each folder of tests/fixtures/bad holds one table file and `expected.csv` with the
/// (line, column, kind) of every row that must be rejected.
#[test]
fn every_bad_file_gets_its_expected_rejections_and_nothing_is_lost() {
    let mut checked = 0;
    for entry in fs::read_dir(fixtures().join("bad")).unwrap() {
        let case = entry.unwrap().path();
        let name = case.file_name().unwrap().to_string_lossy().into_owned();
        if name == "bad_header" {
            continue; // a file error, tested below
        }
        let w = warehouse_with_good_export();
        let encoding = if name == "gbk_ok" { "gbk" } else { "utf8" };
        let s = summary(&import(&case, w.path(), &["--max-reject-rate", "1", "--encoding", encoding]));
        reconciles(&s);
        let expected: BTreeSet<(u64, String, String)> = csv::Reader::from_path(case.join("expected.csv"))
            .unwrap()
            .records()
            .map(|r| {
                let r = r.unwrap();
                (r[0].parse().unwrap(), r[1].to_owned(), r[2].to_owned())
            })
            .collect();
        let rejects_file = s["rejects_file"].as_str().unwrap();
        let mut rejects = csv::Reader::from_path(rejects_file).unwrap();
        let got: BTreeSet<(u64, String, String)> = rejects
            .records()
            .map(|r| {
                let r = r.unwrap();
                assert!(!r[8].is_empty(), "{name}: the rejected record's text is kept");
                (r[2].parse().unwrap(), r[3].to_owned(), r[6].to_owned())
            })
            .collect();
        assert_eq!(got, expected, "{name}: rejects (line, column, kind)");
        let rejected: u64 = s["tables"].as_array().unwrap().iter().map(|t| t["rejected"].as_u64().unwrap()).sum();
        assert_eq!(rejected as usize, expected.len(), "{name}: one reject per bad row");
        checked += 1;
    }
    assert!(checked >= 12, "all cases ran ({checked})");
}

#[test]
fn an_unknown_column_fails_the_file_with_its_name_and_line() {
    let w = warehouse_with_good_export();
    let out = import(&fixtures().join("bad/bad_header"), w.path(), &[]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("usage.csv, line 1") && err.contains("voice_minutes"), "{err}");
}

#[test]
fn too_many_rejects_fail_the_import_and_leave_the_warehouse_as_it_was() {
    let w = warehouse_with_good_export();
    let listing = cvm_ok(&["warehouse", "--warehouse", arg(w.path()), "--format", "csv"]);
    let before = fs::read(w.path().join("usage/month=2026-09/data.parquet")).unwrap();
    let out = import(&fixtures().join("bad/wrong_types"), w.path(), &[]);
    assert!(!out.status.success(), "7 of 8 rows rejected is above the default 1% limit");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("usage.csv: 7 of 8 rows rejected") && err.contains("--max-reject-rate"), "{err}");
    assert_eq!(cvm_ok(&["warehouse", "--warehouse", arg(w.path()), "--format", "csv"]), listing);
    assert_eq!(fs::read(w.path().join("usage/month=2026-09/data.parquet")).unwrap(), before);
    assert!(!w.path().join("usage/month=2026-07").join("data.parquet").exists(), "the good row was not written either");
    // The failed import still tells what was wrong.
    let imports: Vec<_> = fs::read_dir(w.path().join("_imports")).unwrap().map(|e| e.unwrap().path()).collect();
    let failed = imports
        .iter()
        .map(|d| serde_json::from_slice::<Value>(&fs::read(d.join("summary.json")).unwrap()).unwrap())
        .find(|s| s["status"] == "failed")
        .expect("a failed summary");
    assert_eq!(table(&failed, "usage")["rejected"], 7);
}

#[test]
fn usage_for_a_month_replaces_only_that_month() {
    let w = warehouse_with_good_export();
    let export = tempfile::tempdir().unwrap();
    let header = fs::read_to_string(fixtures().join("export-small/usage.csv")).unwrap();
    let header = header.lines().next().unwrap();
    fs::write(export.path().join("usage.csv"), format!("{header}\n1001,2026-10,188.00,1,1,1,0,0,0,1,0,0,0,0\n"))
        .unwrap();
    let s = summary(&import(export.path(), w.path(), &[]));
    assert_eq!(table(&s, "usage")["partitions"], serde_json::json!({"2026-10": 1}));
    let listing = cvm_ok(&["warehouse", "--warehouse", arg(w.path()), "--format", "csv"]);
    assert!(listing.contains("usage,2026-09,4") && listing.contains("usage,2026-10,1"), "{listing}");
}

#[test]
fn a_table_that_refers_to_nothing_known_is_an_error() {
    let w = tempfile::tempdir().unwrap();
    let out = import(&fixtures().join("bad/duplicate_usage"), w.path(), &[]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("usage refers to subscribers"), "{err}");
}
