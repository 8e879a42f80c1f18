//! `cvm plans price` against hand-worked bills, and its errors.

use std::path::{Path, PathBuf};
use std::process::Command;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../cvm-offers/tests/fixtures/pricing")
}

fn cvm(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_cvm")).args(args).output().expect("cvm runs")
}

#[test]
fn price_reproduces_the_hand_worked_bills() {
    let dir = fixtures();
    let plans = dir.join("plans.csv");
    let usage = dir.join("usage.csv");
    let out = cvm(&["plans", "price", "--plans", plans.to_str().unwrap(), "--usage", usage.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let expected = std::fs::read_to_string(dir.join("expected_bills.csv")).unwrap();
    assert_eq!(String::from_utf8(out.stdout).unwrap(), expected);
}

#[test]
fn price_json_and_plan_filter() {
    let dir = fixtures();
    let plans = dir.join("plans.csv");
    let usage = dir.join("usage.csv");
    let out = cvm(&[
        "plans",
        "price",
        "--plans",
        plans.to_str().unwrap(),
        "--usage",
        usage.to_str().unwrap(),
        "--plan",
        "YOUTH38",
        "--format",
        "json",
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 5);
    assert!(rows.iter().all(|r| r["plan_id"] == "YOUTH38"));
    assert_eq!(rows[3]["bill"], "426.76");
}

#[test]
fn bad_usage_names_file_line_and_column() {
    let tmp = tempfile::tempdir().unwrap();
    let usage = tmp.path().join("usage.csv");
    std::fs::write(&usage, "subscriber_id,month,voice_min,data_mb,sms\n1,2026-01,10,20,3\n2,2026-01,ten,20,3\n")
        .unwrap();
    let plans = fixtures().join("plans.csv");
    let out = cvm(&["plans", "price", "--plans", plans.to_str().unwrap(), "--usage", usage.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("usage.csv, line 3, column `voice_min`"), "{err}");
}
