//! Profiling driver: reads a labelled churn table, trains the default model, scores a test table.
//!
//! Prints seconds per phase (read, train, and with `--phases` the learners timed one by one on
//! the same 80/20 split) and the test ROC AUC, so speed work can be measured without the CLI.
//!
//! usage: cargo run --release -p cvm-churn --example train_table -- DIR [--phases | --phases-only]
//!        cargo run --release -p cvm-churn --example train_table -- --cv PUBLIC_DATA_DIR
//! (the second runs `cvm churn cv`'s defaults on IBM Telco and BigML 80 + 20: the quality bars)
//! (DIR holds train.csv and test.csv, label `churned`, id `subscriber_id`)

use std::path::PathBuf;
use std::time::Instant;

use cvm_churn::data::{ReadOptions, read_csv, read_csv_with_schema};
use cvm_churn::gbdt::Gbdt;
use cvm_churn::logistic::Logistic;
use cvm_churn::metrics::roc_auc;
use cvm_churn::{ChurnModel, TrainConfig};

/// CPU seconds (user + system) this process has used, from /proc/self/stat (0 elsewhere); on a
/// shared machine it moves less than the wall clock when other work competes for the cores.
fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else { return 0.0 };
    // Fields after the parenthesised command name; utime and stime are the 12th and 13th.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f.get(11..13).map_or(0.0, |v| v.iter().filter_map(|x| x.parse::<f64>().ok()).sum());
    ticks / 100.0
}

/// Wall and CPU seconds since a starting point.
struct Clock(Instant, f64);

impl Clock {
    fn start() -> Clock {
        Clock(Instant::now(), cpu_seconds())
    }
    fn show(&self) -> String {
        format!("{:7.2}s wall {:7.2}s cpu", self.0.elapsed().as_secs_f64(), cpu_seconds() - self.1)
    }
}

/// The default configuration, with the tree learner's early-stopping patience from
/// `CHURN_PATIENCE` when set (to measure the default's choice, not to tune per data set).
fn config() -> TrainConfig {
    let mut c = TrainConfig::default();
    if let Some(p) = std::env::var("CHURN_PATIENCE").ok().and_then(|v| v.parse().ok()) {
        c.gbdt.early_stopping_rounds = p;
    }
    c
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--cv") {
        return cv(args.get(1).ok_or("usage: train_table --cv PUBLIC_DATA_DIR")?);
    }
    let dir = PathBuf::from(args.first().ok_or("usage: train_table DIR [--phases]")?);
    let only = args.iter().any(|a| a == "--phases-only");
    let phases = only || args.iter().any(|a| a == "--phases");
    let opts = ReadOptions { label: Some("churned".into()), positive: None, id: Some("subscriber_id".into()) };

    let t = Clock::start();
    let ds = read_csv(&[dir.join("train.csv")], &opts)?;
    println!("read        {}  ({} rows x {} features)", t.show(), ds.rows(), ds.features.len());

    let config = config();
    if phases {
        let labels = ds.labels_required()?;
        let idx: Vec<usize> = (0..ds.rows()).filter(|i| i % 5 != 0).collect();
        let vdx: Vec<usize> = (0..ds.rows()).filter(|i| i % 5 == 0).collect();
        let (tr, va) = (ds.take(&idx), ds.take(&vdx));
        let (ytr, yva): (Vec<bool>, Vec<bool>) =
            (idx.iter().map(|&i| labels[i]).collect(), vdx.iter().map(|&i| labels[i]).collect());
        let t = Clock::start();
        let (g, log) = Gbdt::fit(&tr, &ytr, Some((&va, &yva)), &config.gbdt, None)?;
        println!("gbdt        {}  ({} trees, valid auc {:.4})", t.show(), log.trees, {
            roc_auc(&g.predict_raw(&va)?, &yva)
        });
        let t = Clock::start();
        let lr = Logistic::fit(&tr, &ytr, &config.logistic)?;
        println!(
            "logistic    {}  ({} iterations, valid auc {:.4})",
            t.show(),
            lr.iterations,
            roc_auc(&lr.predict_raw(&va), &yva)
        );
        if only {
            return Ok(());
        }
    }

    let t = Clock::start();
    let model = ChurnModel::train(&ds, &config)?;
    println!("train       {}  ({} trees)", t.show(), model.gbdt.trees.len());

    let t = Clock::start();
    let test = read_csv_with_schema(
        &[dir.join("test.csv")],
        &model.features,
        &ReadOptions { positive: model.training.positive.clone(), ..opts },
    )?;
    let p = model.predict(&test)?;
    let y = test.labels_required()?;
    println!("test        {}", t.show());
    println!(
        "test auc    blend {:.4}  trees {:.4}  regression {:.4}",
        roc_auc(&p.blend, y),
        roc_auc(&p.trees, y),
        roc_auc(&p.regression, y)
    );
    Ok(())
}

/// Five-fold cross-validated ROC AUC on the two public sets, as `cvm churn cv` computes it.
fn cv(dir: &str) -> Result<(), Box<dyn std::error::Error>> {
    let dir = PathBuf::from(dir);
    let opts = ReadOptions { label: Some("Churn".into()), ..ReadOptions::default() };
    let sets = [
        ("IBM Telco (bar 0.845)", vec![dir.join("ibm-telco-customer-churn.csv")]),
        ("BigML (bar 0.916)", vec![dir.join("bigml-churn-80.csv"), dir.join("bigml-churn-20.csv")]),
    ];
    for (name, files) in sets {
        let ds = read_csv(&files, &opts)?;
        let t = Clock::start();
        let r = cvm_churn::model::cross_validate(&ds, 5, 42, &config())?;
        let (blend, sd) = r.mean_sd(|f| f.blend.roc_auc);
        let (trees, _) = r.mean_sd(|f| f.trees.roc_auc);
        println!("{name:24} blend {blend:.4} (sd {sd:.4})  trees {trees:.4}  {}", t.show());
    }
    Ok(())
}
