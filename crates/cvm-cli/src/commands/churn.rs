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
use cvm_analytics::churn::ChurnKind;

/// Parses `--kind`, naming the kinds on a mistake.
fn parse_kind(s: &str) -> Result<ChurnKind, String> {
    s.parse().map_err(|e: cvm_analytics::AnalyticsError| e.to_string())
}

/// The churn model commands.
#[derive(Debug, clap::Subcommand)]
pub enum ChurnCommand {
    /// Stratified k-fold cross-validation of the default model on a CSV; last line `auc=0.xxxx`.
    Cv(CvArgs),
    /// Train the default model on a labelled CSV, or on the warehouse's history (--warehouse).
    Train(TrainArgs),
    /// Evaluate a model file on a labelled CSV (ROC AUC, PR AUC, top-decile lift, Brier, calibration).
    Evaluate(EvaluateArgs),
    /// Score subscribers: churn probability, decile and the top 3 reasons per row.
    Score(ScoreArgs),
    /// The riskiest subscribers of a run, as scored by the installed model, with reasons.
    Top(TopArgs),
    /// The lines that churned in a month, by kind, as the warehouse shows them: the labels
    /// `train --warehouse` learns from.
    Labels(LabelsArgs),
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

/// Arguments of `cvm churn train`: on a labelled CSV, or on the warehouse's history.
#[derive(Debug, clap::Args)]
pub struct TrainArgs {
    /// Input CSV; repeat or give a comma list to read several files as one table (same header).
    #[arg(long, value_delimiter = ',', required_unless_present = "warehouse", conflicts_with = "warehouse")]
    input: Vec<PathBuf>,
    /// The label column (churned or not) of the CSV.
    #[arg(long, required_unless_present = "warehouse")]
    label: Option<String>,
    /// The label value meaning churn (default: Yes, True or 1).
    #[arg(long)]
    positive: Option<String>,
    /// A subscriber id column, never used as a feature.
    #[arg(long)]
    id: Option<String>,
    /// Train on this warehouse's history instead: features as of each month, label = churn of
    /// --kind the month after; the model is installed for `cvm run`.
    #[arg(long, requires = "as_of")]
    warehouse: Option<PathBuf>,
    /// With --warehouse: the kind of churn to learn: leave_network (the line closed),
    /// internal_switch (new number, or a cheaper plan of the mass brand) or revenue_loss (a
    /// cheaper plan and the bill at most 60% of the 3-month mean).
    #[arg(long, default_value = "leave_network", value_parser = parse_kind, requires = "warehouse")]
    kind: ChurnKind,
    /// With --warehouse: test on features as of the month before this one (label: churn in this
    /// month), train on the --history months before that.
    #[arg(long, value_parser = super::run::parse_month)]
    as_of: Option<cvm_domain::Month>,
    /// With --warehouse: training months.
    #[arg(long, default_value_t = 2)]
    history: usize,
    /// With --warehouse: the generator's truth/churn.csv, to compare the model's test AUC with
    /// the AUC of the planted churn probability itself (the best any model can do; it is the
    /// probability of any kind of churn, so the comparison is meant for leave_network).
    #[arg(long)]
    planted: Option<PathBuf>,
    /// Where to write the model file (JSON); required with --input.
    #[arg(long, required_unless_present = "warehouse")]
    model: Option<PathBuf>,
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

/// Arguments of `cvm churn top`.
#[derive(Debug, clap::Args)]
pub struct TopArgs {
    #[command(flatten)]
    run: super::value::RunRef,
    /// Only this branch's subscribers.
    #[arg(long)]
    branch: Option<String>,
    /// Rows to list.
    #[arg(long, default_value_t = 20)]
    limit: usize,
}

/// Arguments of `cvm churn labels`.
#[derive(Debug, clap::Args)]
pub struct LabelsArgs {
    /// Warehouse folder.
    #[arg(long)]
    warehouse: PathBuf,
    /// The month the churn happened in, `YYYY-MM` (the label of the rows as of the month before).
    #[arg(long, value_parser = super::run::parse_month)]
    month: cvm_domain::Month,
    /// Only this kind of churn.
    #[arg(long, value_parser = parse_kind)]
    kind: Option<ChurnKind>,
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
        ChurnCommand::Top(a) => top(a),
        ChurnCommand::Labels(a) => labels(a),
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
    if let Some(w) = &a.warehouse {
        return train_on_history(&a, w);
    }
    let (Some(label), Some(model_path)) = (a.label.clone(), a.model.clone()) else {
        anyhow::bail!("--input needs --label and --model");
    };
    let started = Instant::now();
    let opts = ReadOptions { label: Some(label), positive: a.positive.clone(), id: a.id.clone() };
    let ds = read_csv(&a.input, &opts)?;
    let read_s = started.elapsed().as_secs_f64();
    for d in &ds.source.dropped {
        eprintln!("dropped column {d}");
    }
    let config = TrainConfig { seed: a.seed, ..TrainConfig::default() };
    let model = ChurnModel::train(&ds, &config)?;
    let train_s = started.elapsed().as_secs_f64() - read_s;
    let text = model.to_json()?;
    std::fs::write(&model_path, text).with_context(|| format!("writing {}", model_path.display()))?;
    eprintln!(
        "trained on {} rows x {} features (churn rate {:.3}): {} trees, blend trees {:.3} + regression {:.3}; \
         read {read_s:.2}s, train {train_s:.2}s; model written to {}",
        model.training.rows,
        model.training.columns,
        model.training.positive_rate,
        model.gbdt.trees.len(),
        model.blend.trees,
        model.blend.regression,
        model_path.display()
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

/// `cvm churn train --warehouse`: time-split training on the warehouse, installed for `cvm run`.
fn train_on_history(a: &TrainArgs, warehouse: &std::path::Path) -> anyhow::Result<()> {
    let as_of = a.as_of.context("--warehouse needs --as-of")?;
    let config = TrainConfig { seed: a.seed, ..TrainConfig::default() };
    let runtime = super::run::query_runtime()?;
    let started = Instant::now();
    let mut progress = |what: &str| eprintln!("[{:>7.1}s] {what}", started.elapsed().as_secs_f64());
    let (trained, scored) = runtime.block_on(cvm_analytics::churn::train_on_history(
        warehouse,
        as_of,
        a.history,
        a.kind,
        &config,
        &mut progress,
    ))?;
    let path = cvm_analytics::churn::install(warehouse, &trained)?;
    eprintln!(
        "label: {} ({}); trained on {} rows (as of {}), {} features, {} trees; tested on {} rows as of {} \
         (churn rate {:.4}); installed as {}",
        trained.label,
        trained.kind,
        trained.model.training.rows,
        trained.train_months.join(", "),
        trained.model.training.columns,
        trained.model.gbdt.trees.len(),
        trained.test_rows,
        trained.test_month,
        trained.test_positive_rate,
        path.display()
    );
    let mut rows = vec![(format!("test {}: model", trained.test_month), trained.test)];
    if let Some(planted) = &a.planted {
        let p = planted_probabilities(planted, &trained.test_month)?;
        let missing = scored.ids.iter().filter(|id| !p.contains_key(id)).count();
        anyhow::ensure!(
            missing == 0,
            "{missing} test subscribers have no planted probability in {}",
            planted.display()
        );
        let planted_scores: Vec<f64> = scored.ids.iter().map(|id| p[id]).collect();
        rows.push((
            format!("test {}: planted probability", trained.test_month),
            Metrics::compute(&planted_scores, &scored.labels),
        ));
    }
    let named: Vec<(&str, &Metrics)> = rows.iter().map(|(n, m)| (n.as_str(), m)).collect();
    metrics_report(&named).print(a.format)?;
    if rows.len() == 2 {
        println!("planted_auc={:.4} gap={:.4}", rows[1].1.roc_auc, rows[1].1.roc_auc - rows[0].1.roc_auc);
    }
    println!("auc={:.4}", trained.test.roc_auc);
    Ok(())
}

/// The generator's planted churn probability of each subscriber in `month` (truth/churn.csv).
fn planted_probabilities(path: &std::path::Path, month: &str) -> anyhow::Result<std::collections::HashMap<i64, f64>> {
    let mut reader = csv::Reader::from_path(path).with_context(|| format!("reading {}", path.display()))?;
    let headers = reader.headers()?.clone();
    let at = |name: &str| {
        headers.iter().position(|h| h == name).with_context(|| format!("{}: no column {name}", path.display()))
    };
    let (id_at, month_at, p_at) = (at("subscriber_id")?, at("month")?, at("churn_probability")?);
    let mut out = std::collections::HashMap::new();
    for (line, record) in reader.records().enumerate() {
        let record = record?;
        if &record[month_at] != month {
            continue;
        }
        let bad = || format!("{}: line {}: bad number", path.display(), line + 2);
        out.insert(record[id_at].parse().with_context(bad)?, record[p_at].parse().with_context(bad)?);
    }
    Ok(out)
}

/// `cvm churn labels`: the month's churners by kind, with counts on the terminal.
fn labels(a: LabelsArgs) -> anyhow::Result<()> {
    let runtime = super::run::query_runtime()?;
    let churned = runtime.block_on(cvm_analytics::churn::churn_in(&a.warehouse, a.month))?;
    for kind in ChurnKind::ALL {
        let n = churned.iter().filter(|(_, k)| *k == kind).count();
        eprintln!("{kind}: {n} lines in {}", a.month);
    }
    let mut out = Report::new(["subscriber_id", "churn_kind"]);
    for (id, kind) in churned.into_iter().filter(|(_, k)| a.kind.is_none_or(|want| want == *k)) {
        out.push(vec![json!(id), json!(kind.as_str())]);
    }
    out.print(a.format)?;
    Ok(())
}

/// `cvm churn top`: a run's churn scores, riskiest first.
fn top(a: TopArgs) -> anyhow::Result<()> {
    use cvm_analytics::frame::{f64_column, i64_column, string_column};
    let r = &a.run;
    let batch =
        cvm_analytics::store::read_table(&r.warehouse, &r.as_of.to_string(), cvm_analytics::store::files::CHURN_SCORES)
            .context("no churn scores in this run: train a model (`cvm churn train --warehouse`) and run again")?;
    let ids = i64_column(&batch, "subscriber_id")?;
    let p = f64_column(&batch, "probability")?;
    let decile = i64_column(&batch, "decile")?;
    let text = ["branch_id", "reason_1", "reason_2", "reason_3"]
        .map(|c| string_column(&batch, c))
        .into_iter()
        .collect::<Result<Vec<_>, _>>()?;
    // Runs scored before models had a kind have no such column: their models learnt leaving.
    let kinds = match batch.column_by_name("churn_kind") {
        Some(_) => string_column(&batch, "churn_kind")?,
        None => vec![Some(ChurnKind::LeaveNetwork.as_str().to_owned()); batch.num_rows()],
    };
    if let Some(kind) = kinds.first().cloned().flatten().and_then(|k| k.parse::<ChurnKind>().ok()) {
        eprintln!("churn kind: {kind}: {}", kind.label());
    }
    let mut order: Vec<usize> =
        (0..batch.num_rows()).filter(|&i| a.branch.is_none() || text[0][i] == a.branch).collect();
    order.sort_by(|&x, &y| p[y].unwrap_or(0.0).total_cmp(&p[x].unwrap_or(0.0)).then(ids[x].cmp(&ids[y])));
    let mut out = Report::new([
        "subscriber_id",
        "branch_id",
        "churn_kind",
        "probability",
        "decile",
        "reason_1",
        "reason_2",
        "reason_3",
    ]);
    for &i in order.iter().take(a.limit) {
        let mut row = vec![json!(ids[i]), json!(text[0][i]), json!(kinds[i]), json!(p[i]), json!(decile[i])];
        row.extend(text[1..].iter().map(|c| json!(c[i])));
        out.push(row);
    }
    out.print(r.format)?;
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
