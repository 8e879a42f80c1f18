//! `cvm run` on a generated operator: the structure the generator planted shows up in the
//! run's value pyramid, lifecycle groups, segments and clusters (cvm-synth's lib.rs and
//! truth/README.md describe what was planted).

mod common;

use std::fs;
use std::path::Path;

use common::{arg, cvm_ok, generated_warehouse, leading_json};
use serde_json::Value;

fn rows(out: &str) -> Vec<Value> {
    serde_json::from_str(out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

fn find<'a>(rows: &'a [Value], key: &str, value: &str) -> &'a Value {
    rows.iter().find(|r| r[key] == value).unwrap_or_else(|| panic!("no {key} = {value}"))
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("{v} is not a number"))
}

#[test]
fn planted_brand_mix_pareto_skew_and_lifecycle_churn_show_up() {
    let dir = tempfile::tempdir().unwrap();
    let (export, w) = generated_warehouse(dir.path(), 40000, 6, 5);
    // The declared brands as analyst segments: the generator plants 55 / 25 / 20.
    let segments = dir.path().join("brands.toml");
    fs::write(
        &segments,
        "[[segment]]\nname = \"brand_mass\"\nwhere = \"brand = 'mass'\"\n\
         [[segment]]\nname = \"brand_youth\"\nwhere = \"brand = 'youth'\"\n\
         [[segment]]\nname = \"brand_high_end\"\nwhere = \"brand = 'high_end'\"\n",
    )
    .unwrap();
    cvm_ok(&["run", "--warehouse", arg(&w), "--as-of", "2026-10", "--segments", arg(&segments)]);
    let show = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend(["--warehouse", arg(&w), "--as-of", "2026-10", "--format", "json"]);
        rows(&cvm_ok(&all))
    };

    let segs = show(&["segments", "list"]);
    let share = |name: &str| f(&find(&segs, "segment", name)["subscriber_share"]);
    assert!((share("brand_mass") - 0.55).abs() < 0.03, "mass {}", share("brand_mass"));
    assert!((share("brand_youth") - 0.25).abs() < 0.03, "youth {}", share("brand_youth"));
    assert!((share("brand_high_end") - 0.20).abs() < 0.03, "high end {}", share("brand_high_end"));
    // The China Mobile scheme splits everyone: high-end and youth exclude each other, mass is
    // the rest.
    let cm = share("cm_high_end") + share("cm_youth") + share("cm_mass");
    assert!((cm - 1.0).abs() < 1e-9, "{cm}");
    // Lifecycle segments partition the population too.
    let life = share("lifecycle_under_6m") + share("lifecycle_6_12m") + share("lifecycle_over_12m");
    assert!((life - 1.0).abs() < 1e-9, "{life}");

    // Pareto skew: the top 20% by value bring well over half of revenue (planted ~63%).
    let pareto = show(&["value", "--pareto"]);
    let top20 = pareto.iter().find(|p| (f(&p["top_subscribers"]) - 0.2).abs() < 1e-9).unwrap();
    let top20 = f(&top20["revenue_share"]);
    assert!((0.5..0.8).contains(&top20), "top 20% bring {top20}");
    // Tiers are ordered: each higher tier has a higher ARPU.
    let tiers = show(&["value"]);
    let arpus: Vec<f64> = tiers.iter().filter(|t| t["subscribers"] != 0).map(|t| f(&t["arpu"])).collect();
    assert!(arpus.windows(2).all(|w| w[0] > w[1]), "{arpus:?}");

    // Lifecycle: the generator's churn hazard is 1.6x for tenure under 12 months, so the
    // youngest group churns more than the oldest.
    let groups = show(&["lifecycle"]);
    let rate = |g: &str| f(&find(&groups, "group", g)["churn_rate"]);
    let left: u64 = groups.iter().map(|g| g["left_network"].as_u64().unwrap()).sum();
    assert!(left > 100, "enough churners to compare: {left}");
    assert!(rate("under_6m") > rate("over_12m"), "under 6m {} vs over 12m {}", rate("under_6m"), rate("over_12m"));

    // Rule warnings: every planted dual-stop churner that closed in the as-of month had its
    // dual stop of 7 days or more flagged, in the run of the month the stop began (when it
    // reached 7 days there) or of the month it closed. Monthly runs: a stop from 20 September
    // that ends with the line on 1 October is September's warning.
    cvm_ok(&["run", "--warehouse", arg(&w), "--as-of", "2026-09"]);
    let truth = fs::read_to_string(export.join("truth/dual_stop_churners.csv")).unwrap();
    let mut header = truth.lines().next().unwrap().split(',');
    let id_at = header.clone().position(|h| h == "subscriber_id").unwrap();
    let month_at = header.position(|h| h == "churn_month").unwrap();
    let planted: Vec<String> = truth
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect::<Vec<_>>())
        .filter(|f| f[month_at] == "2026-10")
        .map(|f| f[id_at].to_owned())
        .collect();
    assert!(planted.len() >= 10, "enough planted dual-stop churners: {}", planted.len());
    let mut flagged = std::collections::HashSet::new();
    for month in ["2026-09", "2026-10"] {
        let list = rows(&cvm_ok(&[
            "warnings",
            "--list",
            "--limit",
            "1000000",
            "--warehouse",
            arg(&w),
            "--as-of",
            month,
            "--format",
            "json",
        ]));
        flagged.extend(list.iter().filter(|w| w["rule"] == "dual_stop").map(|w| w["subscriber_id"].to_string()));
    }
    let missed: Vec<&String> = planted.iter().filter(|id| !flagged.contains(*id)).collect();
    assert!(missed.is_empty(), "{} of {} planted dual-stop churners missed: {missed:?}", missed.len(), planted.len());
    let by_kind = show(&["warnings"]);
    assert_eq!(by_kind.len(), 3, "the three kinds of churn");

    // Clusters: chosen by silhouette, every subscriber in one, described in yuan, minutes, MB.
    let clusters = show(&["clusters"]);
    assert!((3..=8).contains(&clusters.len()), "{}", clusters.len());
    let members: u64 = clusters.iter().map(|c| c["subscribers"].as_u64().unwrap()).sum();
    let population: u64 = show(&["lifecycle"]).iter().map(|g| g["subscribers"].as_u64().unwrap()).sum();
    assert_eq!(members, population);
    let arpus: Vec<f64> = clusters.iter().map(|c| f(&c["arpu"])).collect();
    let (lo, hi) = arpus.iter().fold((f64::MAX, 0.0_f64), |(l, h), a| (l.min(*a), h.max(*a)));
    assert!(hi > 2.0 * lo, "clusters differ in ARPU: {arpus:?}");
}

#[test]
fn the_same_warehouse_gives_the_same_run_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let (_, w) = generated_warehouse(dir.path(), 3000, 3, 9);
    let files = |w: &Path| -> Vec<(String, Vec<u8>)> {
        let dir = w.join("runs/2026-10");
        let mut out: Vec<(String, Vec<u8>)> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            // The summary records the seconds the run took.
            .filter(|p| !p.ends_with("summary.json"))
            .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), fs::read(&p).unwrap()))
            .collect();
        out.sort();
        out
    };
    cvm_ok(&["run", "--warehouse", arg(&w), "--as-of", "2026-10"]);
    let first = files(&w);
    cvm_ok(&["run", "--warehouse", arg(&w), "--as-of", "2026-10"]);
    let second = files(&w);
    assert_eq!(first.len(), 17);
    for ((name, a), (_, b)) in first.iter().zip(&second) {
        assert!(a == b, "{name} differs between two runs of the same inputs");
    }
}

#[test]
fn small_ranges_give_the_same_results_as_one_range() {
    // 3000 subscribers in ranges of 256 (12 ranges) against the default (one range): the
    // run goes range by range, and the pyramid, clusters, pool and rules are made over
    // everyone, so nothing may depend on where the ranges fall.
    let dir = tempfile::tempdir().unwrap();
    let (_, w) = generated_warehouse(dir.path(), 3000, 3, 11);
    let config = dir.path().join("small.toml");
    fs::write(&config, "[execution]\nsubscribers_per_range = 256\n").unwrap();
    let run = |extra: &[&str]| -> std::collections::BTreeMap<String, Vec<u8>> {
        let mut args = vec!["run", "--warehouse", arg(&w), "--as-of", "2026-10"];
        args.extend_from_slice(extra);
        let out = cvm_ok(&args);
        assert!(!out.is_empty());
        fs::read_dir(w.join("runs/2026-10"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), fs::read(&p).unwrap()))
            .collect()
    };
    let table = |name: &str| cvm_analytics::store::read_table(&w, "2026-10", name).unwrap();
    let whole = run(&[]);
    let (members_whole, features_whole) = (table("segment_members.parquet"), table("features.parquet"));
    let ranged = run(&["--config", arg(&config)]);
    let (members_ranged, features_ranged) = (table("segment_members.parquet"), table("features.parquet"));
    // features.parquet has a row group per range (its columns are copied as pass 1 encoded
    // them): the same rows, in other row groups.
    assert!(features_whole.num_rows() > 2000);
    assert!(features_whole == features_ranged, "features differ when the run goes in ranges of 256");
    for name in [
        "plan_fit.parquet",
        "data_fit.parquet",
        "device_fit.parquet",
        "nbo.parquet",
        "warnings.parquet",
        "value.json",
        "lifecycle.json",
        "clusters.json",
        "warnings.json",
        "basket_rules.json",
    ] {
        assert!(whole[name] == ranged[name], "{name} differs when the run goes in ranges of 256");
    }
    // Memberships come range by range (segment order within each): the same pairs.
    let pairs = |b: &cvm_analytics::arrow::array::RecordBatch| {
        let segments = cvm_analytics::frame::string_column(b, "segment").unwrap();
        let ids = cvm_analytics::frame::i64_column(b, "subscriber_id").unwrap();
        let mut p: Vec<(Option<String>, Option<i64>)> = segments.into_iter().zip(ids).collect();
        p.sort();
        p
    };
    assert!(members_whole.num_rows() > 3000);
    assert_eq!(pairs(&members_whole), pairs(&members_ranged));
    // Sums of money may differ in the last digit; counts may not.
    let segments = |files: &std::collections::BTreeMap<String, Vec<u8>>| -> Value {
        serde_json::from_slice(&files["segments.json"]).unwrap()
    };
    let (a, b) = (segments(&whole), segments(&ranged));
    assert_eq!(a["population"], b["population"]);
    for (x, y) in a["segments"].as_array().unwrap().iter().zip(b["segments"].as_array().unwrap()) {
        assert_eq!(x["subscribers"], y["subscribers"]);
        assert!((f(&x["revenue"]) - f(&y["revenue"])).abs() < 1e-6 * f(&x["revenue"]).max(1.0));
    }
    // The same ranges one at a time and five side by side (the last group shorter): ranges
    // are added to the run in order, so every file is the same, byte for byte. One at a
    // time, pass 2 reads every range back from its part file; side by side, it finds them
    // all kept in memory from pass 1.
    let one_by_one = dir.path().join("one.toml");
    let one = "[execution]\nsubscribers_per_range = 256\nparallel_ranges = 1\nkept_between_passes_mib = 0\n";
    fs::write(&one_by_one, one).unwrap();
    let five = dir.path().join("five.toml");
    fs::write(&five, "[execution]\nsubscribers_per_range = 256\nparallel_ranges = 5\n").unwrap();
    let (mut serial, mut side_by_side) = (run(&["--config", arg(&one_by_one)]), run(&["--config", arg(&five)]));
    for files in [&mut serial, &mut side_by_side] {
        // The seconds taken, and the configuration's own setting, differ.
        files.remove("summary.json");
        files.remove("config.json");
    }
    assert_eq!(serial.keys().collect::<Vec<_>>(), side_by_side.keys().collect::<Vec<_>>());
    for (name, bytes) in &serial {
        assert!(*bytes == side_by_side[name], "{name} differs when 5 ranges run side by side");
    }
}

#[test]
fn an_export_out_of_id_order_gives_the_same_run() {
    // The run declares the subscribers file sorted to the engine only when it is: with the
    // rows of subscribers.csv in reverse, the engine must sort, and every table is the same.
    let dir = tempfile::tempdir().unwrap();
    let (export, w) = generated_warehouse(dir.path(), 1500, 3, 5);
    let text = fs::read_to_string(export.join("subscribers.csv")).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    lines[1..].reverse();
    fs::write(export.join("subscribers.csv"), lines.join("\n") + "\n").unwrap();
    let reversed = dir.path().join("w-reversed");
    cvm_ok(&["import", arg(&export), "--warehouse", arg(&reversed)]);
    for warehouse in [&w, &reversed] {
        cvm_ok(&["run", "--warehouse", arg(warehouse), "--as-of", "2026-10"]);
    }
    for name in ["features.parquet", "plan_fit.parquet", "device_fit.parquet", "nbo.parquet", "warnings.parquet"] {
        let read = |root: &Path| fs::read(root.join("runs/2026-10").join(name)).unwrap();
        assert!(read(&w) == read(&reversed), "{name} differs when the subscribers come in reverse");
    }
}

#[test]
fn a_churn_model_trained_on_history_scores_the_run_close_to_the_planted_probability() {
    let dir = tempfile::tempdir().unwrap();
    let (export, w) = generated_warehouse(dir.path(), 40000, 6, 8);
    // Train on features as of 2026-07 and 2026-08 (labels: left in 08, 09), test on 2026-09
    // (label: left in 10), against the generator's planted probability of 2026-09.
    let planted = export.join("truth/churn.csv");
    let out = cvm_ok(&[
        "churn",
        "train",
        "--warehouse",
        arg(&w),
        "--as-of",
        "2026-10",
        "--planted",
        arg(&planted),
        "--format",
        "json",
    ]);
    let metrics = leading_json(&out);
    let model_auc = f(&metrics[0]["roc_auc"]);
    let planted_auc = f(&metrics[1]["roc_auc"]);
    assert!(planted_auc > 0.7, "the planted probability ranks churners: {planted_auc}");
    assert!(model_auc > planted_auc - 0.03, "model {model_auc} vs planted {planted_auc}");
    assert!(w.join("models/churn.json").exists());

    // The run now scores every subscriber with the installed model.
    cvm_ok(&["run", "--warehouse", arg(&w), "--as-of", "2026-10"]);
    let summary: Value = serde_json::from_slice(&fs::read(w.join("runs/2026-10/summary.json")).unwrap()).unwrap();
    assert_eq!(summary["churn_scored"], summary["rows"]);
    let top = rows(&cvm_ok(&[
        "churn",
        "top",
        "--warehouse",
        arg(&w),
        "--as-of",
        "2026-10",
        "--limit",
        "5",
        "--format",
        "json",
    ]));
    assert_eq!(top.len(), 5);
    let p: Vec<f64> = top.iter().map(|r| f(&r["probability"])).collect();
    assert!(p.windows(2).all(|w| w[0] >= w[1]), "riskiest first: {p:?}");
    assert_eq!(top[0]["decile"], 1);
    assert!(top[0]["reason_1"].as_str().is_some_and(|r| !r.is_empty()), "a reason in words: {}", top[0]);
}
