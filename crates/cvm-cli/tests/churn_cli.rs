//! `cvm churn` through the real binary on the public data (/work/shared/data/public, beside
//! the checkout in CI): the ROC AUC bars of the issue, train -> score reproducibility, errors.

use std::path::PathBuf;
use std::process::Command;

fn public(file: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/public").join(file)
}

fn cvm(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_cvm")).args(args).output().expect("run cvm");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn last_auc(stdout: &str) -> f64 {
    let last = stdout.lines().last().expect("output");
    last.strip_prefix("auc=").unwrap_or_else(|| panic!("last line {last:?}")).parse().expect("number")
}

#[test]
fn cv_reaches_the_bar_on_ibm_telco() {
    let f = public("ibm-telco-customer-churn.csv");
    let (ok, out, err) = cvm(&["churn", "cv", "--input", f.to_str().unwrap(), "--label", "Churn", "--folds", "5"]);
    assert!(ok, "{err}");
    assert!(err.contains("customerID"), "the id column is dropped automatically: {err}");
    let auc = last_auc(&out);
    assert!(auc >= 0.845, "IBM Telco ROC AUC {auc}\n{out}");
}

#[test]
fn cv_reaches_the_bar_on_bigml_80_plus_20() {
    let (a, b) = (public("bigml-churn-80.csv"), public("bigml-churn-20.csv"));
    let both = format!("{},{}", a.display(), b.display());
    let (ok, out, err) = cvm(&["churn", "cv", "--input", &both, "--label", "Churn"]);
    assert!(ok, "{err}");
    assert!(err.contains("3333 rows"), "80 + 20 files read as one table: {err}");
    let auc = last_auc(&out);
    assert!(auc >= 0.916, "BigML ROC AUC {auc}\n{out}");
}

#[test]
fn train_evaluate_score_round_trip() {
    let dir = std::env::temp_dir().join(format!("cvm-churn-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let model = dir.join("model.json");
    let data = public("ibm-telco-customer-churn.csv");
    let data = data.to_str().unwrap();
    let (ok, out, err) = cvm(&[
        "churn",
        "train",
        "--input",
        data,
        "--label",
        "Churn",
        "--id",
        "customerID",
        "--model",
        model.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    assert!(last_auc(&out) > 0.8);
    let text = std::fs::read_to_string(&model).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["format_version"], 1);
    assert_eq!(v["training"]["rows"], 7043);
    assert_eq!(v["training"]["label"], "Churn");
    assert!(v["metrics"]["validation"]["roc_auc"].as_f64().unwrap() > 0.8);

    let (ok, out, err) = cvm(&["churn", "evaluate", "--model", model.to_str().unwrap(), "--input", data]);
    assert!(ok, "{err}");
    assert!(out.contains("observed_churn_rate"));
    assert!(last_auc(&out) > 0.85, "in-sample AUC");

    let score = || {
        cvm(&[
            "churn",
            "score",
            "--model",
            model.to_str().unwrap(),
            "--input",
            data,
            "--id",
            "customerID",
            "--format",
            "csv",
        ])
    };
    let (ok, out, err) = score();
    assert!(ok, "{err}");
    let mut lines = out.lines();
    assert_eq!(lines.next().unwrap(), "customerID,probability,decile,reason_1,reason_2,reason_3");
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), 7043);
    assert!(rows[0].starts_with("7590-VHVEG,"));
    // Scoring twice gives identical probabilities; reasons are words, e.g. "tenure low (1)".
    let (_, again, _) = score();
    assert_eq!(out, again);
    assert!(out.contains("tenure low ("), "{}", &out[..500]);
    assert!(out.contains("Contract = Month-to-month"));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn bad_input_is_a_clear_error_not_a_panic() {
    let dir = std::env::temp_dir().join(format!("cvm-churn-cli-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.csv");
    std::fs::write(&bad, "a,b,Churn\n1,x,Yes\n2,y\n").unwrap();
    let (ok, _, err) = cvm(&["churn", "cv", "--input", bad.to_str().unwrap(), "--label", "Churn"]);
    assert!(!ok);
    assert!(err.contains("bad.csv, line 3"), "{err}");
    assert!(!err.contains("panicked"));
    let (ok, _, err) = cvm(&["churn", "cv", "--input", bad.to_str().unwrap(), "--label", "Nope"]);
    assert!(!ok && err.contains("Nope"), "{err}");
    let (ok, _, err) = cvm(&["churn", "score", "--model", bad.to_str().unwrap(), "--input", bad.to_str().unwrap()]);
    assert!(!ok && err.contains("model"), "{err}");
    std::fs::remove_dir_all(&dir).ok();
}
