//! `cvm churn`: churn early warning (流失预警) models on a flat table: cross-validate, train,
//! evaluate and score.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use cvm_churn::data::{ReadOptions, read_csv, read_csv_with_schema};
use cvm_churn::metrics::Metrics;
use cvm_churn::model::{ChurnModel, FoldResult, TrainConfig, cross_validate};
use serde_json::{Value, json};

use crate::output::{Format, Report};

/// The churn model commands.
#[derive(Debug, clap::Subcommand)]
pub enum ChurnCommand {
    /// Stratified k-fold cross-validation of the default model on a CSV; last line `auc=0.xxxx`.
    Cv(CvArgs),
    /// Train the default model on a labelled CSV and write the model file.
    Train(TrainArgs),
    /// Evaluate a model file on a labelled CSV (ROC AUC, PR AUC, top-decile lift, Brier, calibration).
    Evaluate(EvaluateArgs),
    /// Score subscribers: churn probability, decile and the top 3 reasons per row.
    Score(ScoreArgs),
}

/// Which table to read and how its label is written.
#[derive(Debug, clap::Args)]
pub struct TableArgs {
    /// Input CSV; repeat or give a comma list to read several files as one table (same header).
    #[arg(long, required = true, value_delimiter = ',')]
    input: Vec<PathBuf>,
    /// The label column (churned or not).
    #[arg(long)]
    label: String,
    /// The label value meaning churn (default: Yes, True or 1).
    #[arg(long)]
    positive: Option<String>,
    /// A subscriber id column, never used as a feature.
    #[arg(long)]
    id: Option<String>,
}

impl TableArgs {
    fn options(&self) -> ReadOptions {
        ReadOptions { label: Some(self.label.clone()), positive: self.positive.clone(), id: self.id.clone() }
    }
}

/// Arguments of `cvm churn cv`.
#[derive(Debug, clap::Args)]
pub struct CvArgs {
    #[command(flatten)]
    table: TableArgs,
    /// Number of folds.
    #[arg(long, default_value_t = 5)]
    folds: usize,
    /// Seed of the fold assignment.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Output format of the summary.
    #[arg(long, value_enum, default_value_t)]
    format: Format,
}

/// Arguments of `cvm churn train`.
#[derive(Debug, clap::Args)]
pub struct TrainArgs {
    #[command(flatten)]
    table: TableArgs,
    /// Where to write the model file (JSON).
    #[arg(long)]
    model: PathBuf,
    /// Seed of the validation split and subsampling.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Output format of the summary.
    #[arg(long, value_enum, default_value_t)]
    format: Format,
}

/// Arguments of `cvm churn evaluate`.
#[derive(Debug, clap::Args)]
pub struct EvaluateArgs {
    /// The model file.
    #[arg(long)]
    model: PathBuf,
    /// Input CSV (repeat or comma list for several files).
    #[arg(long, required = true, value_delimiter = ',')]
    input: Vec<PathBuf>,
    /// The label column (default: the one the model was trained with).
    #[arg(long)]
    label: Option<String>,
    /// The label value meaning churn (default: the model's).
    #[arg(long)]
    positive: Option<String>,
    /// Output format of the reports.
    #[arg(long, value_enum, default_value_t)]
    format: Format,
}

/// Arguments of `cvm churn score`.
#[derive(Debug, clap::Args)]
pub struct ScoreArgs {
    /// The model file.
    #[arg(long)]
    model: PathBuf,
    /// Input CSV (repeat or comma list for several files).
    #[arg(long, required = true, value_delimiter = ',')]
    input: Vec<PathBuf>,
    /// Subscriber id column to print beside each score (default: row number).
    #[arg(long)]
    id: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Csv)]
    format: Format,
}

/// Runs a `cvm churn` command.
pub fn run(cmd: ChurnCommand) -> anyhow::Result<()> {
    match cmd {
        ChurnCommand::Cv(a) => cv(a),
        ChurnCommand::Train(a) => train(a),
        ChurnCommand::Evaluate(a) => evaluate(a),
        ChurnCommand::Score(a) => score(a),
    }
}

fn round4(x: f64) -> Value {
    json!((x * 1e4).round() / 1e4)
}

/// Picks one learner's metrics out of a fold result.
type Pick = fn(&FoldResult) -> &Metrics;

fn cv(a: CvArgs) -> anyhow::Result<()> {
    let ds = read_csv(&a.table.input, &a.table.options())?;
    for d in &ds.source.dropped {
        eprintln!("dropped column {d}");
    }
    let started = Instant::now();
    let report = cross_validate(&ds, a.folds, a.seed, &TrainConfig::default())?;
    let mut out = Report::new([
        "model",
        "folds",
        "roc_auc",
        "roc_auc_sd",
        "pr_auc",
        "pr_auc_sd",
        "top_decile_lift",
        "lift_sd",
        "top_decile_capture",
        "brier",
    ]);
    let learners: [(&str, Pick); 3] = [
        ("logistic regression", |f| &f.regression),
        ("gradient-boosted trees", |f| &f.trees),
        ("blend (default model)", |f| &f.blend),
    ];
    for (name, pick) in learners {
        let (auc, auc_sd) = report.mean_sd(|f| pick(f).roc_auc);
        let (pr, pr_sd) = report.mean_sd(|f| pick(f).pr_auc);
        let (lift, lift_sd) = report.mean_sd(|f| pick(f).top_decile_lift);
        let (cap, _) = report.mean_sd(|f| pick(f).top_decile_capture);
        let (brier, _) = report.mean_sd(|f| pick(f).brier);
        out.push(vec![
            json!(name),
            json!(a.folds),
            round4(auc),
            round4(auc_sd),
            round4(pr),
            round4(pr_sd),
            round4(lift),
            round4(lift_sd),
            round4(cap),
            round4(brier),
        ]);
    }
    eprintln!(
        "{} rows, {} features, churn rate {:.3}, {} folds in {:.1}s",
        ds.rows(),
        ds.features.len(),
        ds.positive_rate().unwrap_or(0.0),
        a.folds,
        started.elapsed().as_secs_f64()
    );
    out.print(a.format)?;
    let (auc, _) = report.mean_sd(|f| f.blend.roc_auc);
    println!("auc={auc:.4}");
    Ok(())
}

fn metrics_report(rows: &[(&str, &Metrics)]) -> Report {
    let mut out = Report::new([
        "model",
        "rows",
        "churn_rate",
        "roc_auc",
        "pr_auc",
        "top_decile_lift",
        "top_decile_capture",
        "brier",
        "log_loss",
    ]);
    for (name, m) in rows {
        out.push(vec![
            json!(name),
            json!(m.rows),
            round4(m.positive_rate),
            round4(m.roc_auc),
            round4(m.pr_auc),
            round4(m.top_decile_lift),
            round4(m.top_decile_capture),
            round4(m.brier),
            round4(m.log_loss),
        ]);
    }
    out
}

fn train(a: TrainArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let ds = read_csv(&a.table.input, &a.table.options())?;
    let read_s = started.elapsed().as_secs_f64();
    for d in &ds.source.dropped {
        eprintln!("dropped column {d}");
    }
    let config = TrainConfig { seed: a.seed, ..TrainConfig::default() };
    let model = ChurnModel::train(&ds, &config)?;
    let train_s = started.elapsed().as_secs_f64() - read_s;
    let text = model.to_json()?;
    std::fs::write(&a.model, text).with_context(|| format!("writing {}", a.model.display()))?;
    eprintln!(
        "trained on {} rows x {} features (churn rate {:.3}): {} trees, blend trees {:.3} + regression {:.3}; \
         read {read_s:.2}s, train {train_s:.2}s; model written to {}",
        model.training.rows,
        model.training.columns,
        model.training.positive_rate,
        model.gbdt.trees.len(),
        model.blend.trees,
        model.blend.regression,
        a.model.display()
    );
    let m = &model.metrics;
    metrics_report(&[
        ("validation: logistic regression", &m.validation_regression),
        ("validation: gradient-boosted trees", &m.validation_trees),
        ("validation: blend (default model)", &m.validation),
    ])
    .print(a.format)?;
    println!("auc={:.4}", m.validation.roc_auc);
    Ok(())
}

fn load_model(path: &PathBuf) -> anyhow::Result<ChurnModel> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading model {}", path.display()))?;
    ChurnModel::from_json(&text).with_context(|| format!("model {}", path.display()))
}

fn evaluate(a: EvaluateArgs) -> anyhow::Result<()> {
    let model = load_model(&a.model)?;
    let label = a
        .label
        .or_else(|| model.training.label.clone())
        .context("the model does not record its label column; pass --label")?;
    let opts =
        ReadOptions { label: Some(label), positive: a.positive.or_else(|| model.training.positive.clone()), id: None };
    let ds = read_csv_with_schema(&a.input, &model.features, &opts)?;
    let y = ds.labels_required()?;
    let p = model.predict(&ds)?;
    let (mr, mt, mb) =
        (Metrics::compute(&p.regression, y), Metrics::compute(&p.trees, y), Metrics::compute(&p.blend, y));
    metrics_report(&[("logistic regression", &mr), ("gradient-boosted trees", &mt), ("blend (default model)", &mb)])
        .print(a.format)?;
    println!();
    let mut cal = Report::new(["decile", "rows", "mean_predicted", "observed_churn_rate"]);
    for b in model.calibration(&ds)? {
        cal.push(vec![json!(b.decile), json!(b.rows), round4(b.predicted), round4(b.observed)]);
    }
    cal.print(a.format)?;
    println!("auc={:.4}", mb.roc_auc);
    Ok(())
}

fn score(a: ScoreArgs) -> anyhow::Result<()> {
    let model = load_model(&a.model)?;
    let opts = ReadOptions { label: None, positive: None, id: a.id.clone() };
    let ds = read_csv_with_schema(&a.input, &model.features, &opts)?;
    let scores = model.score(&ds)?;
    let id_name = a.id.clone().unwrap_or_else(|| "row".into());
    let mut out = Report::new([id_name.as_str(), "probability", "decile", "reason_1", "reason_2", "reason_3"]);
    for (i, s) in scores.iter().enumerate() {
        let id = match &ds.ids {
            Some(ids) => json!(ids[i]),
            None => json!(i + 1),
        };
        let mut row = vec![id, json!(s.probability), json!(s.decile)];
        for k in 0..3 {
            row.push(json!(s.reasons.get(k).map(|r| r.text.as_str()).unwrap_or("")));
        }
        out.push(row);
    }
    out.print(a.format)?;
    Ok(())
}
