//! The three kinds of churn on a generated operator: `cvm churn labels` finds what the
//! generator planted (truth/churn.csv, never read by the product), and `cvm churn train
//! --warehouse --kind K` learns each kind well above chance, records it in the model file and
//! the run's scores.

mod common;

use std::collections::{HashMap, HashSet};
use std::fs;
use std::path::Path;

use common::{arg, cvm_ok, generated_warehouse, leading_json};
use serde_json::Value;

const KINDS: [&str; 3] = ["leave_network", "internal_switch", "revenue_loss"];

/// The label months checked: those of the training and test rows of `--as-of 2026-10
/// --history 3` on 7 months ending 2026-10.
const LABEL_MONTHS: [&str; 4] = ["2026-07", "2026-08", "2026-09", "2026-10"];

/// The planted churners of each kind that churn in `label_month` (truth rows of the month
/// before, whose draw is realised the month after).
fn planted(truth: &Path, label_month: &str) -> HashMap<String, HashSet<i64>> {
    let text = fs::read_to_string(truth).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let at = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let (id, month, churned, kind) = (at("subscriber_id"), at("month"), at("churned_next_month"), at("churn_kind"));
    let (y, m) = label_month.split_once('-').unwrap();
    let (y, m): (i32, i32) = (y.parse().unwrap(), m.parse().unwrap());
    let before = if m == 1 { format!("{}-12", y - 1) } else { format!("{y}-{:02}", m - 1) };
    let mut out: HashMap<String, HashSet<i64>> = HashMap::new();
    for line in lines {
        // The reason column may hold no comma: the generator joins factors with ';'.
        let f: Vec<&str> = line.split(',').collect();
        if f[month] == before && f[churned] == "1" {
            out.entry(f[kind].to_owned()).or_default().insert(f[id].parse().unwrap());
        }
    }
    out
}

/// `cvm churn labels` of `month`, by kind.
fn labelled(w: &Path, month: &str) -> HashMap<String, HashSet<i64>> {
    let out = cvm_ok(&["churn", "labels", "--warehouse", arg(w), "--month", month]);
    let mut by_kind: HashMap<String, HashSet<i64>> = HashMap::new();
    for line in out.lines().skip(1) {
        let (id, kind) = line.split_once(',').unwrap();
        by_kind.entry(kind.to_owned()).or_default().insert(id.parse().unwrap());
    }
    by_kind
}

#[test]
fn each_kind_of_churn_is_labelled_as_planted_and_learnt_above_chance() {
    let dir = tempfile::tempdir().unwrap();
    let (export, w) = generated_warehouse(dir.path(), 60000, 7, 8);
    let truth = export.join("truth/churn.csv");

    // Labels against the planted truth, over the four label months together.
    let empty = HashSet::new();
    let mut figures = HashMap::new();
    for kind in KINDS {
        let (mut planted_n, mut labelled_n, mut both) = (0, 0, 0);
        for month in LABEL_MONTHS {
            let (p, l) = (planted(&truth, month), labelled(&w, month));
            let (p, l) = (p.get(kind).unwrap_or(&empty), l.get(kind).unwrap_or(&empty));
            planted_n += p.len();
            labelled_n += l.len();
            both += p.intersection(l).count();
        }
        let recall = both as f64 / planted_n as f64;
        let precision = both as f64 / labelled_n as f64;
        eprintln!(
            "{kind}: planted {planted_n}, labelled {labelled_n}, both {both}: recall {recall:.3}, precision {precision:.3}"
        );
        assert!(planted_n >= 200, "{kind}: enough planted churners: {planted_n}");
        figures.insert(kind, (recall, precision));
    }
    // Closures are in the warehouse as they are: all found, nothing else.
    assert!(figures["leave_network"].0 > 0.999 && figures["leave_network"].1 > 0.999, "{figures:?}");
    // The warehouse keeps only the current plan, so a switch that cuts the bill to 60% or
    // less reads as a revenue loss (and a mass-brand downgrade as a switch): most, not all.
    assert!(figures["internal_switch"].0 > 0.65 && figures["internal_switch"].1 > 0.8, "{figures:?}");
    assert!(figures["revenue_loss"].0 > 0.8 && figures["revenue_loss"].1 > 0.5, "{figures:?}");

    // A model per kind, trained on 3 months and tested on 2026-09 (labels of 2026-10).
    for kind in KINDS {
        let out = cvm_ok(&[
            "churn",
            "train",
            "--warehouse",
            arg(&w),
            "--as-of",
            "2026-10",
            "--history",
            "3",
            "--kind",
            kind,
            "--planted",
            arg(&truth),
            "--format",
            "json",
        ]);
        let metrics = leading_json(&out);
        let auc = metrics[0]["roc_auc"].as_f64().unwrap();
        let planted_auc = metrics[1]["roc_auc"].as_f64().unwrap();
        eprintln!("{kind}: test AUC {auc:.4} (planted probability of any churn: {planted_auc:.4})");
        let floor = if kind == "leave_network" { 0.75 } else { 0.6 };
        assert!(auc > floor, "{kind}: test AUC {auc} not above {floor}");

        let model: Value = serde_json::from_slice(&fs::read(w.join("models/churn.json")).unwrap()).unwrap();
        assert_eq!(model["kind"], kind);
        let label = model["label"].as_str().unwrap();
        assert_eq!(model["model"]["training"]["label"], label);
        if kind != "leave_network" {
            let features: Vec<&str> =
                model["model"]["features"].as_array().unwrap().iter().map(|f| f["name"].as_str().unwrap()).collect();
            assert!(!features.contains(&"plan_id") && !features.contains(&"brand"), "{kind} reads the snapshot plan");
        }
    }

    // The installed model is the last trained (revenue loss): the run's scores say so.
    cvm_ok(&["run", "--warehouse", arg(&w), "--as-of", "2026-10"]);
    let top =
        cvm_ok(&["churn", "top", "--warehouse", arg(&w), "--as-of", "2026-10", "--limit", "3", "--format", "json"]);
    let top: Vec<Value> = serde_json::from_str(&top).unwrap();
    assert_eq!(top.len(), 3);
    assert!(top.iter().all(|r| r["churn_kind"] == "revenue_loss"), "{top:?}");
}

#[test]
fn an_unknown_kind_is_refused_with_the_kinds_named() {
    let out = common::cvm(&["churn", "train", "--warehouse", "w", "--as-of", "2026-10", "--kind", "moved"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("leave_network, internal_switch, revenue_loss"), "{err}");
}
