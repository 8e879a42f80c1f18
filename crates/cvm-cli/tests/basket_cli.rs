//! `cvm basket` on the IBM Telco holdings equals mlxtend's FP-growth and association rules
//! (expected outputs made by bench/basket_reference.py, committed as fixtures).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

const PRODUCTS: &str = "PhoneService,MultipleLines,InternetService,OnlineSecurity,OnlineBackup,DeviceProtection,TechSupport,StreamingTV,StreamingMovies";
const SUPPORTS: [&str; 3] = ["0.05", "0.1", "0.2"];

fn ibm() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/public/ibm-telco-customer-churn.csv")
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../cvm-offers/tests/fixtures").join(name)
}

fn cvm(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_cvm")).args(args).output().expect("cvm runs");
    assert!(out.status.success(), "cvm {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// Rows of a CSV as maps from column name to value.
fn rows(text: &str) -> Vec<BTreeMap<String, String>> {
    let mut r = csv::Reader::from_reader(text.as_bytes());
    let header = r.headers().unwrap().clone();
    r.records()
        .map(|rec| header.iter().zip(rec.unwrap().iter()).map(|(h, v)| (h.to_owned(), v.to_owned())).collect())
        .collect()
}

fn num(row: &BTreeMap<String, String>, col: &str) -> f64 {
    row[col].parse().unwrap_or_else(|_| panic!("{col}: {:?}", row[col]))
}

/// An itemset as its sorted item names (whatever order the output wrote them in).
fn set(text: &str) -> Vec<String> {
    let mut v: Vec<String> = text.split(';').map(str::to_owned).collect();
    v.sort();
    v
}

#[test]
fn itemsets_equal_mlxtend_at_several_supports() {
    let input = ibm();
    for s in SUPPORTS {
        let got = cvm(&[
            "basket",
            "itemsets",
            "--input",
            input.to_str().unwrap(),
            "--id",
            "customerID",
            "--items",
            PRODUCTS,
            "--min-support",
            s,
            "--format",
            "csv",
        ]);
        let got: BTreeMap<Vec<String>, f64> =
            rows(&got).iter().map(|r| (set(&r["itemset"]), num(r, "support"))).collect();
        let expected = std::fs::read_to_string(fixture(&format!("ibm_itemsets_s{s}.csv"))).unwrap();
        let expected: BTreeMap<Vec<String>, f64> =
            rows(&expected).iter().map(|r| (set(&r["itemset"]), num(r, "support"))).collect();
        assert_eq!(got.keys().collect::<Vec<_>>(), expected.keys().collect::<Vec<_>>(), "itemsets at support {s}");
        for (k, v) in &expected {
            assert!((got[k] - v).abs() < 1e-9, "support of {k:?} at {s}: {} vs {v}", got[k]);
        }
    }
}

#[test]
fn rules_equal_mlxtend_at_several_supports() {
    let input = ibm();
    for s in SUPPORTS {
        let got = cvm(&[
            "basket",
            "rules",
            "--input",
            input.to_str().unwrap(),
            "--id",
            "customerID",
            "--items",
            PRODUCTS,
            "--min-support",
            s,
            "--min-confidence",
            "0.5",
            "--format",
            "csv",
        ]);
        let key = |r: &BTreeMap<String, String>| (set(&r["antecedents"]), set(&r["consequents"]));
        let got: BTreeMap<_, _> = rows(&got).into_iter().map(|r| (key(&r), r)).collect();
        let expected = std::fs::read_to_string(fixture(&format!("ibm_rules_s{s}_c0.5.csv"))).unwrap();
        let expected: BTreeMap<_, _> = rows(&expected).into_iter().map(|r| (key(&r), r)).collect();
        assert_eq!(got.keys().collect::<Vec<_>>(), expected.keys().collect::<Vec<_>>(), "rules at support {s}");
        for (k, e) in &expected {
            for col in ["antecedent_support", "consequent_support", "support", "confidence", "lift"] {
                let (g, e) = (num(&got[k], col), num(e, col));
                assert!((g - e).abs() < 1e-9, "{col} of {k:?} at {s}: {g} vs {e}");
            }
        }
    }
}

#[test]
fn every_format_prints() {
    let input = ibm();
    let base = [
        "basket",
        "rules",
        "--input",
        input.to_str().unwrap(),
        "--id",
        "customerID",
        "--items",
        PRODUCTS,
        "--min-support",
        "0.2",
        "--min-confidence",
        "0.9",
        "--max-len",
        "2",
    ];
    let table = cvm(&[&base[..], &["--format", "table"]].concat());
    assert!(table.starts_with("antecedents"), "{table}");
    let json: serde_json::Value = serde_json::from_str(&cvm(&[&base[..], &["--format", "json"]].concat())).unwrap();
    let rules = json.as_array().unwrap();
    assert!(!rules.is_empty());
    assert!(rules.iter().all(|r| r["confidence"].as_f64().unwrap() >= 0.9));
    assert!(rules.iter().all(|r| r["antecedents"].as_str().unwrap().split(';').count() == 1));
}

#[test]
fn holdings_table_layout_is_read() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("holdings.csv");
    std::fs::write(
        &path,
        "subscriber_id,product,speed_mbps,start_date,end_date\n\
         1,mobile,,2024-01-01,\n1,broadband,100,2024-01-01,\n\
         2,mobile,,2024-01-01,\n2,iptv,,2024-01-01,2025-01-01\n\
         3,mobile,,2024-01-01,\n3,broadband,300,2024-02-01,\n",
    )
    .unwrap();
    let out =
        cvm(&["basket", "itemsets", "--input", path.to_str().unwrap(), "--min-support", "0.5", "--format", "csv"]);
    let got: BTreeMap<String, String> =
        rows(&out).into_iter().map(|r| (r["itemset"].clone(), r["count"].clone())).collect();
    let expected: BTreeMap<String, String> =
        [("mobile", "3"), ("broadband", "2"), ("broadband;mobile", "2")].map(|(a, b)| (a.into(), b.into())).into();
    assert_eq!(got, expected);
}
