//! Temporary experiment driver: cv with a JSON TrainConfig override.
use cvm_churn::data::{ReadOptions, read_csv};
use cvm_churn::model::{TrainConfig, cross_validate};
fn main() {
    let a: Vec<String> = std::env::args().collect();
    let files: Vec<std::path::PathBuf> = a[1].split(',').map(Into::into).collect();
    let cfg: TrainConfig = serde_json::from_str(a.get(2).map(String::as_str).unwrap_or("{}")).unwrap();
    let ds = read_csv(&files, &ReadOptions { label: Some("Churn".into()), ..Default::default() }).unwrap();
    for seed in [42u64, 1, 2] {
        let r = cross_validate(&ds, 5, seed, &cfg).unwrap();
        let (t, _) = r.mean_sd(|f| f.trees.roc_auc);
        let (b, _) = r.mean_sd(|f| f.blend.roc_auc);
        let (l, _) = r.mean_sd(|f| f.regression.roc_auc);
        print!("seed{seed}: lr={l:.4} trees={t:.4} blend={b:.4}  ");
    }
    println!();
}
