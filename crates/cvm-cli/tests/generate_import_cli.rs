//! The synthetic operator through the real import: counts reconcile with the generator's own
//! totals, CSV and Parquet exports give the same warehouse, and a killed import changes nothing.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::{arg, cvm, cvm_ok};
use serde_json::Value;

fn generate(out: &Path, subscribers: u32, seed: u32, format: &str) -> Value {
    let n = subscribers.to_string();
    let s = seed.to_string();
    cvm_ok(&["generate", "--subscribers", &n, "--months", "4", "--seed", &s, "--out", arg(out), "--format", format]);
    serde_json::from_slice(&fs::read(out.join("truth/totals.json")).unwrap()).unwrap()
}

fn import(export: &Path, warehouse: &Path) -> Value {
    let out = cvm_ok(&["import", arg(export), "--warehouse", arg(warehouse), "--format", "json"]);
    serde_json::from_str(&out).unwrap()
}

/// Every Parquet file of a warehouse (not the import records), with its bytes.
fn warehouse_files(root: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut files = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(d) = dirs.pop() {
        for e in fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() && !p.ends_with("_imports") {
                dirs.push(p);
            } else if p.extension().is_some_and(|x| x == "parquet") {
                files.push((p.strip_prefix(root).unwrap().to_path_buf(), fs::read(&p).unwrap()));
            }
        }
    }
    files.sort();
    files
}

#[test]
fn imported_counts_reconcile_with_the_generators_totals() {
    let dir = tempfile::tempdir().unwrap();
    let totals = generate(&dir.path().join("export"), 3000, 11, "csv");
    let s = import(&dir.path().join("export"), &dir.path().join("w"));
    let tables = s["tables"].as_array().unwrap();
    assert_eq!(tables.len(), 11, "every table of the schema was exported and imported");
    for t in tables {
        let name = t["table"].as_str().unwrap();
        assert_eq!(t["rejected"], 0, "{name}: generated data is valid");
        assert_eq!(t["accepted"], totals[name]["rows"], "{name}");
        if let Some(by_month) = totals[name].get("by_month") {
            assert_eq!(&t["partitions"], by_month, "{name} partitions");
        }
    }
}

#[test]
fn csv_and_parquet_exports_give_the_same_warehouse() {
    let dir = tempfile::tempdir().unwrap();
    generate(&dir.path().join("csv"), 1500, 5, "csv");
    generate(&dir.path().join("parquet"), 1500, 5, "parquet");
    import(&dir.path().join("csv"), &dir.path().join("w-csv"));
    import(&dir.path().join("parquet"), &dir.path().join("w-parquet"));
    let a = warehouse_files(&dir.path().join("w-csv"));
    let b = warehouse_files(&dir.path().join("w-parquet"));
    assert_eq!(a.len(), b.len());
    for ((pa, ba), (pb, bb)) in a.iter().zip(&b) {
        assert_eq!(pa, pb);
        assert!(ba == bb, "{} differs between CSV and Parquet imports", pa.display());
    }
}

#[test]
fn the_same_seed_gives_the_same_export_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    generate(&dir.path().join("a"), 800, 3, "csv");
    generate(&dir.path().join("b"), 800, 3, "csv");
    for table in ["subscribers", "usage", "events", "sales", "holdings", "plans"] {
        let f = format!("{table}.csv");
        assert!(
            fs::read(dir.path().join("a").join(&f)).unwrap() == fs::read(dir.path().join("b").join(&f)).unwrap(),
            "{f}"
        );
    }
    assert_eq!(
        fs::read(dir.path().join("a/truth/churn.csv")).unwrap(),
        fs::read(dir.path().join("b/truth/churn.csv")).unwrap()
    );
}

#[test]
fn a_killed_import_leaves_the_last_good_warehouse_intact() {
    let dir = tempfile::tempdir().unwrap();
    let w = dir.path().join("w");
    generate(&dir.path().join("first"), 2000, 1, "csv");
    import(&dir.path().join("first"), &w);
    let before = warehouse_files(&w);
    // A different, larger operator, killed part-way through its import.
    generate(&dir.path().join("second"), 40_000, 2, "csv");
    let mut child = Command::new(env!("CARGO_BIN_EXE_cvm"))
        .args(["import", arg(&dir.path().join("second")), "--warehouse", arg(&w)])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(400));
    let finished_first = child.try_wait().unwrap().is_some();
    let _ = child.kill();
    let _ = child.wait();
    if finished_first {
        eprintln!("the import finished before it could be killed; nothing to check");
        return;
    }
    assert_eq!(warehouse_files(&w), before, "no final file changed");
    // The lock of the dead import is reported, with what to do.
    let out = cvm(&["import", arg(&dir.path().join("second")), "--warehouse", arg(&w)]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("remove that file"));
    fs::remove_file(w.join(".import.lock")).unwrap();
    // The next import succeeds and clears the dead one's temporary files.
    import(&dir.path().join("second"), &w);
    let leftovers: Vec<_> = walk(&w).into_iter().filter(|p| p.to_string_lossy().ends_with(".tmp")).collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

fn walk(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(d) = dirs.pop() {
        for e in fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                dirs.push(p.clone());
            }
            out.push(p);
        }
    }
    out
}
