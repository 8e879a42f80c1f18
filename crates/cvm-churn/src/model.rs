//! The churn model as a product artefact: training (trees + regression + calibrated blend),
//! scoring with deciles and reasons, the versioned model file, and cross-validation.

use rand::{SeedableRng, seq::SliceRandom};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::data::{Column, Dataset, Feature, FeatureKind, UNSEEN};
use crate::gbdt::{FitLog, Gbdt, GbdtParams, fill_thresholds};
use crate::logistic::{Logistic, LogisticParams, newton};
use crate::metrics::{CalibrationBin, Metrics, calibration};
use crate::{Error, Result};

/// Name written in every model file.
pub const FORMAT: &str = "telco-cvm churn model";
/// Version of the model file layout; readers refuse other versions.
pub const FORMAT_VERSION: u32 = 1;

/// Training configuration: the one default used for every data set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TrainConfig {
    /// Tree ensemble parameters.
    pub gbdt: GbdtParams,
    /// Regression parameters.
    pub logistic: LogisticParams,
    /// Share of training rows held out for early stopping and the blend weights.
    pub validation_fraction: f64,
    /// Refit both learners on all rows when the table has at most this many rows.
    pub refit_max_rows: usize,
    /// Seed of the validation split (and, derived, of the learners).
    pub seed: u64,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            gbdt: GbdtParams::default(),
            logistic: LogisticParams::default(),
            validation_fraction: 0.2,
            refit_max_rows: 200_000,
            seed: 42,
        }
    }
}

/// How the two learners' log-odds combine: p = sigmoid(intercept + a x trees + b x regression).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Blend {
    /// Calibration intercept.
    pub intercept: f64,
    /// Weight of the tree ensemble's log-odds.
    pub trees: f64,
    /// Weight of the regression's log-odds.
    pub regression: f64,
}

/// What the model was trained on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainingData {
    /// Input files.
    pub files: Vec<String>,
    /// Rows.
    pub rows: usize,
    /// Feature columns used.
    pub columns: usize,
    /// Label column.
    pub label: Option<String>,
    /// Label value meaning churn.
    pub positive: Option<String>,
    /// Share of churners.
    pub positive_rate: f64,
    /// Id column named by the user.
    pub id: Option<String>,
    /// Columns dropped automatically.
    pub dropped: Vec<String>,
}

/// Held-out quality of the model, measured on the internal validation split.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelMetrics {
    /// The blended model.
    pub validation: Metrics,
    /// The tree ensemble alone.
    pub validation_trees: Metrics,
    /// The regression alone.
    pub validation_regression: Metrics,
    /// Trees chosen by early stopping.
    pub trees: usize,
    /// Rows in the validation split.
    pub validation_rows: usize,
}

/// A numeric feature's typical value in training (to say "low" or "high").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Profile {
    /// Median of the non-missing training values (numeric features only).
    pub median: Option<f64>,
}

/// A trained churn model and everything needed to reuse and audit it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChurnModel {
    /// Always [`FORMAT`].
    pub format: String,
    /// Always [`FORMAT_VERSION`] for files this build writes.
    pub format_version: u32,
    /// The software that trained it.
    pub created_by: String,
    /// Training data description.
    pub training: TrainingData,
    /// Parameters used.
    pub params: TrainConfig,
    /// Held-out metrics.
    pub metrics: ModelMetrics,
    /// Feature columns, in order, with categorical levels.
    pub features: Vec<Feature>,
    /// Typical values per feature.
    pub profile: Vec<Profile>,
    /// Probability cut points of deciles 1..9 on the training rows (descending).
    pub decile_cuts: Vec<f64>,
    /// Blend of the two learners.
    pub blend: Blend,
    /// The regression.
    pub logistic: Logistic,
    /// The tree ensemble.
    pub gbdt: Gbdt,
}

/// The three probabilities the model produces for a row.
#[derive(Debug, Clone, Default)]
pub struct Predictions {
    /// Tree ensemble alone.
    pub trees: Vec<f64>,
    /// Regression alone.
    pub regression: Vec<f64>,
    /// The blended, calibrated probability (the model's answer).
    pub blend: Vec<f64>,
}

/// One reason behind a subscriber's score.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Reason {
    /// Feature name.
    pub feature: String,
    /// In words, e.g. "tenure low (3)" or "Contract = Month-to-month".
    pub text: String,
    /// Added log-odds of churn.
    pub contribution: f64,
}

/// A subscriber's score.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Score {
    /// Churn probability.
    pub probability: f64,
    /// 1 = the riskiest tenth (by the training distribution), 10 = the safest.
    pub decile: u8,
    /// Up to three reasons raising the risk, strongest first.
    pub reasons: Vec<Reason>,
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// Stratified split: returns (train, validation) row indexes, each sorted.
fn stratified_split(labels: &[bool], fraction: f64, seed: u64) -> (Vec<usize>, Vec<usize>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let (mut train, mut valid) = (Vec::new(), Vec::new());
    for class in [true, false] {
        let mut idx: Vec<usize> = (0..labels.len()).filter(|&i| labels[i] == class).collect();
        idx.shuffle(&mut rng);
        let k = (idx.len() as f64 * fraction).round() as usize;
        valid.extend_from_slice(&idx[..k]);
        train.extend_from_slice(&idx[k..]);
    }
    train.sort_unstable();
    valid.sort_unstable();
    (train, valid)
}

/// Stratified k-fold assignment: fold of every row.
pub fn stratified_folds(labels: &[bool], folds: usize, seed: u64) -> Vec<usize> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut fold = vec![0usize; labels.len()];
    let mut offset = 0;
    for class in [true, false] {
        let mut idx: Vec<usize> = (0..labels.len()).filter(|&i| labels[i] == class).collect();
        idx.shuffle(&mut rng);
        for (k, &i) in idx.iter().enumerate() {
            fold[i] = (k + offset) % folds;
        }
        // Continue the round-robin so fold sizes stay balanced overall.
        offset = (offset + idx.len()) % folds;
    }
    fold
}

/// Fits the stacker p = sigmoid(a + b z_trees + c z_reg) on held-out log-odds, keeping the
/// weights non-negative (a negative weight would mean the learner is used backwards).
fn fit_blend(zt: &[f64], zr: &[f64], y: &[bool]) -> Blend {
    let n = y.len();
    let two: Vec<f64> = (0..n).flat_map(|i| [zt[i], zr[i]]).collect();
    let (a, w, _, _) = newton(&two, 2, y, 1e-3, 100, 1e-9);
    if w[0] >= 0.0 && w[1] >= 0.0 {
        return Blend { intercept: a, trees: w[0], regression: w[1] };
    }
    // Keep the one learner that is better on its own (by AUC), calibrated alone.
    let (z, use_trees) =
        if crate::metrics::roc_auc(zt, y) >= crate::metrics::roc_auc(zr, y) { (zt, true) } else { (zr, false) };
    let (a, w, _, _) = newton(z, 1, y, 1e-3, 100, 1e-9);
    let w = w[0].max(0.0);
    if use_trees {
        Blend { intercept: a, trees: w, regression: 0.0 }
    } else {
        Blend { intercept: a, trees: 0.0, regression: w }
    }
}

impl ChurnModel {
    /// Trains the default model on a labelled dataset.
    pub fn train(ds: &Dataset, config: &TrainConfig) -> Result<ChurnModel> {
        let labels = ds.labels_required()?;
        let n = ds.rows();
        let pos = labels.iter().filter(|&&l| l).count();
        if pos < 2 || n - pos < 2 {
            return Err(Error::Data(format!(
                "training needs at least 2 churners and 2 non-churners; the table has {pos} churners in {n} rows"
            )));
        }
        let gbdt_params = GbdtParams { seed: config.seed ^ config.gbdt.seed, ..config.gbdt.clone() };
        let (train_idx, valid_idx) = stratified_split(labels, config.validation_fraction, config.seed);
        let vpos = valid_idx.iter().filter(|&&i| labels[i]).count();
        let usable_validation = vpos >= 5 && valid_idx.len() - vpos >= 5 && train_idx.len() >= 20;

        let (gbdt, logistic, blend, metrics) = if usable_validation {
            let (tr, va) = (ds.take(&train_idx), ds.take(&valid_idx));
            let (ytr, yva): (Vec<bool>, Vec<bool>) =
                (train_idx.iter().map(|&i| labels[i]).collect(), valid_idx.iter().map(|&i| labels[i]).collect());
            let (g, log): (Gbdt, FitLog) = Gbdt::fit(&tr, &ytr, Some((&va, &yva)), &gbdt_params, None)?;
            let lr = Logistic::fit(&tr, &ytr, &config.logistic)?;
            let zt = g.predict_raw(&va)?;
            let zr = lr.predict_raw(&va);
            let blend = fit_blend(&zt, &zr, &yva);
            let pb: Vec<f64> = zt
                .iter()
                .zip(&zr)
                .map(|(a, b)| sigmoid(blend.intercept + blend.trees * a + blend.regression * b))
                .collect();
            let metrics = ModelMetrics {
                validation: Metrics::compute(&pb, &yva),
                validation_trees: Metrics::compute(&zt.iter().map(|&z| sigmoid(z)).collect::<Vec<_>>(), &yva),
                validation_regression: Metrics::compute(&zr.iter().map(|&z| sigmoid(z)).collect::<Vec<_>>(), &yva),
                trees: log.trees,
                validation_rows: valid_idx.len(),
            };
            if n <= config.refit_max_rows {
                // More data beats the held-out fifth once the tree count and weights are known;
                // the 10% extra trees follow the 25% more rows.
                let trees = ((log.trees as f64) * 1.1).ceil() as usize;
                let (g_all, _) = Gbdt::fit(ds, labels, None, &gbdt_params, Some(trees.max(1)))?;
                let lr_all = Logistic::fit(ds, labels, &config.logistic)?;
                (g_all, lr_all, blend, metrics)
            } else {
                (g, lr, blend, metrics)
            }
        } else {
            // Too few rows to hold any out: fixed small ensemble, equal-weight blend.
            let (g, log) = Gbdt::fit(ds, labels, None, &gbdt_params, Some(100))?;
            let lr = Logistic::fit(ds, labels, &config.logistic)?;
            let blend = Blend { intercept: 0.0, trees: 0.5, regression: 0.5 };
            let empty = Metrics::default();
            let metrics = ModelMetrics {
                validation: empty,
                validation_trees: empty,
                validation_regression: empty,
                trees: log.trees,
                validation_rows: 0,
            };
            (g, lr, blend, metrics)
        };
        let mut gbdt = gbdt;
        fill_thresholds(&mut gbdt);

        let profile = ds
            .columns
            .iter()
            .map(|c| match c {
                Column::Numeric(v) => {
                    let mut s: Vec<f64> = v.iter().copied().filter(|x| !x.is_nan()).collect();
                    // The element a full sort would put in the middle, in linear time.
                    let mid = s.len() / 2;
                    Profile { median: (!s.is_empty()).then(|| *s.select_nth_unstable_by(mid, f64::total_cmp).1) }
                }
                Column::Categorical(_) => Profile { median: None },
            })
            .collect();
        let mut model = ChurnModel {
            format: FORMAT.into(),
            format_version: FORMAT_VERSION,
            created_by: format!("cvm-churn {}", env!("CARGO_PKG_VERSION")),
            training: TrainingData {
                files: ds.source.files.clone(),
                rows: n,
                columns: ds.features.len(),
                label: ds.source.label.clone(),
                positive: ds.source.positive.clone(),
                positive_rate: pos as f64 / n as f64,
                id: ds.source.id.clone(),
                dropped: ds.source.dropped.clone(),
            },
            params: config.clone(),
            metrics,
            features: ds.features.clone(),
            profile,
            decile_cuts: Vec::new(),
            blend,
            logistic,
            gbdt,
        };
        // Decile cut points from at most 100k training rows (plenty for nine quantiles).
        let step = n.div_ceil(100_000).max(1);
        let sample: Vec<usize> = (0..n).step_by(step).collect();
        let mut p = if step == 1 { model.predict(ds)?.blend } else { model.predict(&ds.take(&sample))?.blend };
        p.sort_unstable_by(|a, b| b.total_cmp(a));
        let k_rows = p.len();
        model.decile_cuts = (1..10).map(|k| p[(k * k_rows / 10).min(k_rows - 1)]).collect();
        Ok(model)
    }

    /// Probabilities of every row (trees, regression, blend).
    pub fn predict(&self, ds: &Dataset) -> Result<Predictions> {
        self.check(ds)?;
        let zt = self.gbdt.predict_raw(ds)?;
        let zr = self.logistic.predict_raw(ds);
        let b = self.blend;
        Ok(Predictions {
            blend: zt.iter().zip(&zr).map(|(t, r)| sigmoid(b.intercept + b.trees * t + b.regression * r)).collect(),
            trees: zt.into_iter().map(sigmoid).collect(),
            regression: zr.into_iter().map(sigmoid).collect(),
        })
    }

    /// The decile of a probability: 1 for the riskiest tenth of training subscribers.
    pub fn decile(&self, p: f64) -> u8 {
        1 + self.decile_cuts.iter().filter(|&&c| p < c).count() as u8
    }

    /// Probability, decile and top-3 reasons for every row.
    pub fn score(&self, ds: &Dataset) -> Result<Vec<Score>> {
        use rayon::prelude::*;
        let probs = self.predict(ds)?.blend;
        let bins = self.gbdt.bin(ds)?;
        let m = self.features.len();
        Ok((0..ds.rows())
            .into_par_iter()
            .map(|i| {
                let (_, tree_c) = self.gbdt.contributions_row(&bins[i * m..(i + 1) * m]);
                let reg_c = self.logistic.contributions_row(ds, i);
                let mut total: Vec<(usize, f64)> =
                    (0..m).map(|j| (j, self.blend.trees * tree_c[j] + self.blend.regression * reg_c[j])).collect();
                total.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
                let reasons = total
                    .iter()
                    .filter(|(_, c)| *c > 1e-6)
                    .take(3)
                    .map(|&(j, c)| Reason {
                        feature: self.features[j].name.clone(),
                        text: self.describe(ds, i, j),
                        contribution: c,
                    })
                    .collect();
                Score { probability: probs[i], decile: self.decile(probs[i]), reasons }
            })
            .collect())
    }

    /// A feature's value for row `i` in words an agent understands.
    fn describe(&self, ds: &Dataset, i: usize, j: usize) -> String {
        let name = &self.features[j].name;
        match (&ds.columns[j], &self.features[j].kind) {
            (Column::Numeric(v), _) => {
                let x = v[i];
                if x.is_nan() {
                    return format!("{name} missing");
                }
                let shown = number(x);
                match self.profile.get(j).and_then(|p| p.median) {
                    Some(med) if x < med => format!("{name} low ({shown})"),
                    Some(med) if x > med => format!("{name} high ({shown})"),
                    _ => format!("{name} typical ({shown})"),
                }
            }
            (Column::Categorical(c), FeatureKind::Categorical { levels }) => match c[i] {
                UNSEEN => format!("{name} = a value not seen in training"),
                k => format!("{name} = {}", levels.get(k as usize).map(String::as_str).unwrap_or("?")),
            },
            _ => name.clone(),
        }
    }

    /// Checks that a dataset has this model's features in order.
    fn check(&self, ds: &Dataset) -> Result<()> {
        if ds.features.len() != self.features.len()
            || ds.features.iter().zip(&self.features).any(|(a, b)| a.name != b.name)
        {
            return Err(Error::Model("the data's feature columns differ from the model's".into()));
        }
        Ok(())
    }

    /// Calibration table of the model on labelled data.
    pub fn calibration(&self, ds: &Dataset) -> Result<Vec<CalibrationBin>> {
        let p = self.predict(ds)?.blend;
        Ok(calibration(&p, ds.labels_required()?))
    }

    /// The model file (pretty JSON).
    pub fn to_json(&self) -> Result<String> {
        serde_json::to_string_pretty(self).map_err(|e| Error::Model(e.to_string()))
    }

    /// Reads a model file, refusing other formats and versions and inconsistent contents.
    pub fn from_json(text: &str) -> Result<ChurnModel> {
        let v: serde_json::Value = serde_json::from_str(text).map_err(|e| Error::Model(format!("not JSON: {e}")))?;
        if v.get("format").and_then(|f| f.as_str()) != Some(FORMAT) {
            return Err(Error::Model(format!("not a {FORMAT} file")));
        }
        let version = v.get("format_version").and_then(|f| f.as_u64());
        if version != Some(u64::from(FORMAT_VERSION)) {
            return Err(Error::Model(format!("format version {version:?}; this build reads version {FORMAT_VERSION}")));
        }
        let model: ChurnModel = serde_json::from_value(v).map_err(|e| Error::Model(e.to_string()))?;
        model.validate()?;
        Ok(model)
    }

    /// Structural checks so a damaged file errors instead of panicking while scoring.
    fn validate(&self) -> Result<()> {
        let m = self.features.len();
        if self.gbdt.bins.len() != m || self.profile.len() != m {
            return Err(Error::Model("feature count differs between sections".into()));
        }
        if self.logistic.terms.iter().any(|t| t.feature >= m) {
            return Err(Error::Model("a regression term names a feature that does not exist".into()));
        }
        for t in &self.gbdt.trees {
            if t.nodes.is_empty() {
                return Err(Error::Model("empty tree".into()));
            }
            for (k, node) in t.nodes.iter().enumerate() {
                if let Some(s) = &node.split {
                    let (l, r) = (s.left as usize, s.right as usize);
                    // Children come after their parent, so walking a tree always ends.
                    if s.feature as usize >= m || l <= k || r <= k || l >= t.nodes.len() || r >= t.nodes.len() {
                        return Err(Error::Model("a tree node points outside its tree".into()));
                    }
                }
            }
        }
        Ok(())
    }
}

/// A number as an agent would write it: no trailing zeros, at most 2 decimals.
fn number(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{x:.0}")
    } else {
        let s = format!("{x:.2}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// Metrics of the three learners on one fold.
#[derive(Debug, Clone, Serialize)]
pub struct FoldResult {
    /// Fold number, 1-based.
    pub fold: usize,
    /// Test rows in the fold.
    pub rows: usize,
    /// Tree ensemble alone.
    pub trees: Metrics,
    /// Regression alone.
    pub regression: Metrics,
    /// The default (blended) model.
    pub blend: Metrics,
}

/// Cross-validation results.
#[derive(Debug, Clone, Serialize)]
pub struct CvReport {
    /// Per fold.
    pub folds: Vec<FoldResult>,
}

impl CvReport {
    /// Mean and sample standard deviation of a metric over folds.
    pub fn mean_sd(&self, f: impl Fn(&FoldResult) -> f64) -> (f64, f64) {
        let v: Vec<f64> = self.folds.iter().map(f).collect();
        let n = v.len().max(1) as f64;
        let mean = v.iter().sum::<f64>() / n;
        let var = if v.len() > 1 { v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0) } else { 0.0 };
        (mean, var.sqrt())
    }
}

/// Stratified k-fold cross-validation of the default model (and its two learners).
pub fn cross_validate(ds: &Dataset, folds: usize, seed: u64, config: &TrainConfig) -> Result<CvReport> {
    let labels = ds.labels_required()?;
    let pos = labels.iter().filter(|&&l| l).count();
    if folds < 2 {
        return Err(Error::Data("cross-validation needs at least 2 folds".into()));
    }
    if pos < folds || labels.len() - pos < folds {
        return Err(Error::Data(format!("{folds} folds need at least {folds} churners and {folds} non-churners")));
    }
    let assign = stratified_folds(labels, folds, seed);
    let mut out = Vec::new();
    for k in 0..folds {
        let train: Vec<usize> = (0..labels.len()).filter(|&i| assign[i] != k).collect();
        let test: Vec<usize> = (0..labels.len()).filter(|&i| assign[i] == k).collect();
        let (tr, te) = (ds.take(&train), ds.take(&test));
        let cfg = TrainConfig { seed: config.seed.wrapping_add(k as u64), ..config.clone() };
        let model = ChurnModel::train(&tr, &cfg)?;
        let p = model.predict(&te)?;
        let y = te.labels_required()?;
        out.push(FoldResult {
            fold: k + 1,
            rows: test.len(),
            trees: Metrics::compute(&p.trees, y),
            regression: Metrics::compute(&p.regression, y),
            blend: Metrics::compute(&p.blend, y),
        });
    }
    Ok(CvReport { folds: out })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toy(n: usize) -> Dataset {
        let tenure: Vec<f64> = (0..n).map(|i| ((i * 37) % 72) as f64).collect();
        let contract: Vec<u32> = (0..n).map(|i| ((i * 13) % 3) as u32).collect();
        let charges: Vec<f64> =
            (0..n).map(|i| if i % 17 == 0 { f64::NAN } else { 20.0 + ((i * 53) % 100) as f64 }).collect();
        let y: Vec<bool> = (0..n)
            .map(|i| {
                let risk = (tenure[i] < 12.0) as u8 + (contract[i] == 0) as u8 + (charges[i] > 80.0) as u8;
                risk >= 2 || (risk == 1 && i % 5 == 0)
            })
            .collect();
        let mut ds = Dataset::new(
            vec![
                Feature { name: "tenure".into(), kind: FeatureKind::Numeric },
                Feature {
                    name: "Contract".into(),
                    kind: FeatureKind::Categorical {
                        levels: vec!["Month-to-month".into(), "One year".into(), "Two year".into()],
                    },
                },
                Feature { name: "MonthlyCharges".into(), kind: FeatureKind::Numeric },
            ],
            vec![Column::Numeric(tenure), Column::Categorical(contract), Column::Numeric(charges)],
            Some(y),
        )
        .unwrap();
        ds.source.label = Some("Churn".into());
        ds
    }

    #[test]
    fn folds_are_stratified_and_balanced() {
        let labels: Vec<bool> = (0..103).map(|i| i % 4 == 0).collect();
        let f = stratified_folds(&labels, 5, 3);
        for k in 0..5 {
            let size = f.iter().filter(|&&x| x == k).count();
            let pos = (0..103).filter(|&i| f[i] == k && labels[i]).count();
            assert!((20..=21).contains(&size), "{size}");
            assert!((5..=6).contains(&pos), "{pos}");
        }
    }

    #[test]
    fn train_save_load_score_reproduces_probabilities_and_reasons() {
        let ds = toy(1500);
        let model = ChurnModel::train(&ds, &TrainConfig::default()).unwrap();
        assert!(model.metrics.validation.roc_auc > 0.9, "{:?}", model.metrics.validation);
        let back = ChurnModel::from_json(&model.to_json().unwrap()).unwrap();
        let (a, b) = (model.predict(&ds).unwrap().blend, back.predict(&ds).unwrap().blend);
        assert!(a.iter().zip(&b).all(|(x, y)| x.to_bits() == y.to_bits()));
        let scores = back.score(&ds).unwrap();
        let risky = scores.iter().position(|s| s.decile == 1).unwrap();
        assert!(!scores[risky].reasons.is_empty());
        let deciles: Vec<u8> = scores.iter().map(|s| s.decile).collect();
        assert!(deciles.contains(&1) && deciles.contains(&10));
        // Reason text is in the operator's words.
        let texts: Vec<&str> = scores.iter().flat_map(|s| s.reasons.iter().map(|r| r.text.as_str())).collect();
        assert!(texts.iter().any(|t| t.starts_with("tenure low (")), "{:?}", &texts[..10]);
        assert!(texts.contains(&"Contract = Month-to-month"));
    }

    #[test]
    fn refuses_other_versions_and_broken_trees() {
        let model = ChurnModel::train(&toy(300), &TrainConfig::default()).unwrap();
        let mut v: serde_json::Value = serde_json::from_str(&model.to_json().unwrap()).unwrap();
        v["format_version"] = 99.into();
        assert!(ChurnModel::from_json(&v.to_string()).unwrap_err().to_string().contains("version"));
        v["format_version"] = 1.into();
        v["gbdt"]["trees"][0]["nodes"][0]["split"]["left"] = 0.into();
        assert!(ChurnModel::from_json(&v.to_string()).is_err());
        assert!(ChurnModel::from_json("{").is_err());
    }

    #[test]
    fn cross_validation_reports_every_fold() {
        let r = cross_validate(&toy(600), 3, 1, &TrainConfig::default()).unwrap();
        assert_eq!(r.folds.len(), 3);
        let (auc, sd) = r.mean_sd(|f| f.blend.roc_auc);
        assert!(auc > 0.85 && sd >= 0.0);
    }

    #[test]
    fn numbers_read_like_an_agent_writes_them() {
        assert_eq!(number(3.0), "3");
        assert_eq!(number(29.85), "29.85");
        assert_eq!(number(0.5), "0.5");
    }
}
