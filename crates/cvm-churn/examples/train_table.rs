//! Profiling driver: reads a labelled churn table, trains the default model, scores a test table.
//!
//! Prints seconds per phase (read, train, and with `--phases` the learners timed one by one on
//! the same 80/20 split) and the test ROC AUC, so speed work can be measured without the CLI.
//!
//! usage: cargo run --release -p cvm-churn --example train_table -- DIR [--phases]
//! (DIR holds train.csv and test.csv, label `churned`, id `subscriber_id`)

use std::path::PathBuf;
use std::time::Instant;

use cvm_churn::data::{ReadOptions, read_csv, read_csv_with_schema};
use cvm_churn::gbdt::Gbdt;
use cvm_churn::logistic::Logistic;
use cvm_churn::metrics::roc_auc;
use cvm_churn::{ChurnModel, TrainConfig};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let dir = PathBuf::from(args.first().ok_or("usage: train_table DIR [--phases]")?);
    let phases = args.iter().any(|a| a == "--phases");
    let opts = ReadOptions { label: Some("churned".into()), positive: None, id: Some("subscriber_id".into()) };

    let t = Instant::now();
    let ds = read_csv(&[dir.join("train.csv")], &opts)?;
    println!("read        {:7.2}s  ({} rows x {} features)", t.elapsed().as_secs_f64(), ds.rows(), ds.features.len());

    let config = TrainConfig::default();
    if phases {
        let labels = ds.labels_required()?;
        let idx: Vec<usize> = (0..ds.rows()).filter(|i| i % 5 != 0).collect();
        let vdx: Vec<usize> = (0..ds.rows()).filter(|i| i % 5 == 0).collect();
        let (tr, va) = (ds.take(&idx), ds.take(&vdx));
        let (ytr, yva): (Vec<bool>, Vec<bool>) =
            (idx.iter().map(|&i| labels[i]).collect(), vdx.iter().map(|&i| labels[i]).collect());
        let t = Instant::now();
        let (g, log) = Gbdt::fit(&tr, &ytr, Some((&va, &yva)), &config.gbdt, None)?;
        println!("gbdt        {:7.2}s  ({} trees, valid auc {:.4})", t.elapsed().as_secs_f64(), log.trees, {
            roc_auc(&g.predict_raw(&va)?, &yva)
        });
        let t = Instant::now();
        let lr = Logistic::fit(&tr, &ytr, &config.logistic)?;
        println!(
            "logistic    {:7.2}s  ({} iterations, valid auc {:.4})",
            t.elapsed().as_secs_f64(),
            lr.iterations,
            roc_auc(&lr.predict_raw(&va), &yva)
        );
    }

    let t = Instant::now();
    let model = ChurnModel::train(&ds, &config)?;
    println!("train       {:7.2}s  ({} trees)", t.elapsed().as_secs_f64(), model.gbdt.trees.len());

    let t = Instant::now();
    let test = read_csv_with_schema(
        &[dir.join("test.csv")],
        &model.features,
        &ReadOptions { positive: model.training.positive.clone(), ..opts },
    )?;
    let p = model.predict(&test)?;
    let y = test.labels_required()?;
    println!("test        {:7.2}s", t.elapsed().as_secs_f64());
    println!(
        "test auc    blend {:.4}  trees {:.4}  regression {:.4}",
        roc_auc(&p.blend, y),
        roc_auc(&p.trees, y),
        roc_auc(&p.regression, y)
    );
    Ok(())
}
