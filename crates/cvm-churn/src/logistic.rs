//! L2-regularised logistic regression, the transparent baseline beside the trees.
//!
//! Numeric features are standardised with missing values imputed at the mean plus a
//! missing-indicator column; categorical features are one-hot on their most frequent levels.
//! Every design column is standardised, so one L2 penalty treats them alike. The fit is
//! Newton's method (IRLS) with a Cholesky solve and step halving, run to convergence; on big
//! tables it uses a seeded sample of rows, which is plenty for a few hundred coefficients.

use rand::{SeedableRng, seq::SliceRandom};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::data::{Column, Dataset};
use crate::{Error, Result};

/// Parameters of the regression.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LogisticParams {
    /// L2 penalty on the (standardised) coefficients, not on the intercept.
    pub l2: f64,
    /// Newton iterations at most.
    pub max_iter: usize,
    /// Stop when no coefficient moves more than this.
    pub tol: f64,
    /// Rows used at most (a seeded sample beyond).
    pub max_rows: usize,
    /// One-hot columns per categorical feature at most (most frequent levels).
    pub max_levels: usize,
    /// Seed of the row sample.
    pub seed: u64,
}

impl Default for LogisticParams {
    fn default() -> Self {
        LogisticParams { l2: 1.0, max_iter: 100, tol: 1e-7, max_rows: 50_000, max_levels: 50, seed: 7 }
    }
}

/// What a design column is computed from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Input {
    /// The numeric value (mean when missing).
    Value,
    /// 1 when the numeric value is missing.
    Missing,
    /// 1 when the categorical value is this level code.
    Level(u32),
}

/// One design column: its source, standardisation and coefficient.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Term {
    /// Feature index.
    pub feature: usize,
    /// What is read from the feature.
    pub input: Input,
    /// Mean of the raw design value in training.
    pub mean: f64,
    /// Standard deviation of the raw design value in training (1 when constant).
    pub scale: f64,
    /// Coefficient on the standardised value.
    pub coef: f64,
    /// Value used for a missing number (the training mean), for `Value` terms.
    #[serde(default)]
    pub impute: f64,
}

/// A fitted regression.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Logistic {
    /// Log-odds at the mean of every design column.
    pub intercept: f64,
    /// Design columns with coefficients.
    pub terms: Vec<Term>,
    /// Newton iterations used.
    pub iterations: usize,
    /// Whether the fit met the tolerance.
    pub converged: bool,
}

/// Raw design value of `term` for row `i` (before standardisation).
fn raw(term: &Term, ds: &Dataset, i: usize) -> f64 {
    match (&ds.columns[term.feature], &term.input) {
        (Column::Numeric(v), Input::Value) => {
            let x = v[i];
            if x.is_nan() { term.impute } else { x }
        }
        (Column::Numeric(v), Input::Missing) => f64::from(u8::from(v[i].is_nan())),
        (Column::Categorical(c), Input::Level(k)) => f64::from(u8::from(c[i] == *k)),
        _ => 0.0,
    }
}

/// Standardised value of `term` for row `i`; values are capped at 8 standard deviations so a
/// single extreme export value cannot dominate the log-odds.
fn z(term: &Term, ds: &Dataset, i: usize) -> f64 {
    ((raw(term, ds, i) - term.mean) / term.scale).clamp(-8.0, 8.0)
}

/// Penalised logistic fit on a row-major design `x` (n x p, no intercept column).
/// Returns (intercept, coefficients, iterations, converged).
pub fn newton(x: &[f64], p: usize, y: &[bool], l2: f64, max_iter: usize, tol: f64) -> (f64, Vec<f64>, usize, bool) {
    let n = y.len();
    let d = p + 1; // intercept last
    let rate = (y.iter().filter(|&&l| l).count() as f64 / n.max(1) as f64).clamp(1e-6, 1.0 - 1e-6);
    let mut beta = vec![0.0; d];
    beta[p] = (rate / (1.0 - rate)).ln();
    let eta = |beta: &[f64], i: usize| -> f64 {
        let row = &x[i * p..(i + 1) * p];
        beta[p] + row.iter().zip(beta).map(|(a, b)| a * b).sum::<f64>()
    };
    let loss = |beta: &[f64]| -> f64 {
        let data: f64 = (0..n)
            .into_par_iter()
            .map(|i| {
                let s = eta(beta, i);
                let z = if y[i] { -s } else { s };
                z.max(0.0) + (-z.abs()).exp().ln_1p()
            })
            .sum();
        data + 0.5 * l2 * beta[..p].iter().map(|b| b * b).sum::<f64>()
    };
    let mut current = loss(&beta);
    for iter in 1..=max_iter {
        // Gradient and Hessian (lower triangle), summed over row chunks in parallel.
        let (grad, hess) = (0..n)
            .into_par_iter()
            .fold(
                || (vec![0.0; d], vec![0.0; d * d]),
                |(mut g, mut h), i| {
                    let s = eta(&beta, i);
                    let pr = 1.0 / (1.0 + (-s).exp());
                    let r = pr - if y[i] { 1.0 } else { 0.0 };
                    let w = (pr * (1.0 - pr)).max(1e-12);
                    let row = &x[i * p..(i + 1) * p];
                    for a in 0..d {
                        let xa = if a == p { 1.0 } else { row[a] };
                        if xa == 0.0 {
                            continue;
                        }
                        g[a] += r * xa;
                        let wa = w * xa;
                        for b in 0..=a {
                            let xb = if b == p { 1.0 } else { row[b] };
                            h[a * d + b] += wa * xb;
                        }
                    }
                    (g, h)
                },
            )
            .reduce(
                || (vec![0.0; d], vec![0.0; d * d]),
                |(mut g1, mut h1), (g2, h2)| {
                    g1.iter_mut().zip(&g2).for_each(|(a, b)| *a += b);
                    h1.iter_mut().zip(&h2).for_each(|(a, b)| *a += b);
                    (g1, h1)
                },
            );
        let mut g = grad;
        let mut h = hess;
        for a in 0..d {
            for b in 0..a {
                h[b * d + a] = h[a * d + b];
            }
        }
        for a in 0..p {
            g[a] += l2 * beta[a];
            h[a * d + a] += l2;
        }
        // A tiny ridge on the intercept keeps the system solvable when a class is nearly absent.
        h[p * d + p] += 1e-9;
        let Some(step) = cholesky_solve(&h, &g, d) else { return (beta[p], beta[..p].to_vec(), iter, false) };
        let mut t = 1.0;
        let mut accepted = false;
        for _ in 0..30 {
            let cand: Vec<f64> = beta.iter().zip(&step).map(|(b, s)| b - t * s).collect();
            let l = loss(&cand);
            if l <= current + 1e-12 {
                beta = cand;
                current = l;
                accepted = true;
                break;
            }
            t *= 0.5;
        }
        let moved = step.iter().map(|s| (t * s).abs()).fold(0.0, f64::max);
        if !accepted || moved < tol {
            return (beta[p], beta[..p].to_vec(), iter, accepted || moved < tol);
        }
    }
    (beta[p], beta[..p].to_vec(), max_iter, false)
}

/// Solves `a x = b` for symmetric positive definite `a` (d x d, row-major).
fn cholesky_solve(a: &[f64], b: &[f64], d: usize) -> Option<Vec<f64>> {
    let mut l = vec![0.0; d * d];
    for i in 0..d {
        for j in 0..=i {
            let s: f64 = (0..j).map(|k| l[i * d + k] * l[j * d + k]).sum();
            if i == j {
                let v = a[i * d + i] - s;
                if v <= 0.0 || !v.is_finite() {
                    return None;
                }
                l[i * d + i] = v.sqrt();
            } else {
                l[i * d + j] = (a[i * d + j] - s) / l[j * d + j];
            }
        }
    }
    let mut y = vec![0.0; d];
    for i in 0..d {
        let s: f64 = (0..i).map(|k| l[i * d + k] * y[k]).sum();
        y[i] = (b[i] - s) / l[i * d + i];
    }
    let mut x = vec![0.0; d];
    for i in (0..d).rev() {
        let s: f64 = (i + 1..d).map(|k| l[k * d + i] * x[k]).sum();
        x[i] = (y[i] - s) / l[i * d + i];
    }
    Some(x)
}

impl Logistic {
    /// Fits on a labelled dataset.
    pub fn fit(ds: &Dataset, labels: &[bool], params: &LogisticParams) -> Result<Logistic> {
        let n = ds.rows();
        if n == 0 || labels.len() != n {
            return Err(Error::Data("no training rows".into()));
        }
        let rows: Vec<usize> = if n > params.max_rows {
            let mut idx: Vec<usize> = (0..n).collect();
            idx.shuffle(&mut ChaCha8Rng::seed_from_u64(params.seed));
            idx.truncate(params.max_rows);
            idx.sort_unstable();
            idx
        } else {
            (0..n).collect()
        };
        // Design columns.
        let mut terms = Vec::new();
        let means = feature_means(ds);
        for (j, c) in ds.columns.iter().enumerate() {
            match c {
                Column::Numeric(v) => {
                    terms.push(Term {
                        feature: j,
                        input: Input::Value,
                        mean: 0.0,
                        scale: 1.0,
                        coef: 0.0,
                        impute: means[j],
                    });
                    if rows.iter().any(|&i| v[i].is_nan()) {
                        terms.push(Term {
                            feature: j,
                            input: Input::Missing,
                            mean: 0.0,
                            scale: 1.0,
                            coef: 0.0,
                            impute: 0.0,
                        });
                    }
                }
                Column::Categorical(codes) => {
                    let mut counts: std::collections::HashMap<u32, usize> = std::collections::HashMap::new();
                    for &i in &rows {
                        *counts.entry(codes[i]).or_default() += 1;
                    }
                    let mut levels: Vec<(u32, usize)> = counts.into_iter().collect();
                    levels.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
                    for (k, _) in levels.into_iter().take(params.max_levels) {
                        terms.push(Term {
                            feature: j,
                            input: Input::Level(k),
                            mean: 0.0,
                            scale: 1.0,
                            coef: 0.0,
                            impute: 0.0,
                        });
                    }
                }
            }
        }
        let p = terms.len();
        let ns = rows.len();
        for t in terms.iter_mut() {
            let (mut s, mut s2) = (0.0, 0.0);
            for &i in &rows {
                let v = raw(t, ds, i);
                s += v;
                s2 += v * v;
            }
            let mean = s / ns as f64;
            let var = (s2 / ns as f64 - mean * mean).max(0.0);
            t.mean = mean;
            t.scale = if var > 1e-12 { var.sqrt() } else { 1.0 };
        }
        let mut x = vec![0.0; ns * p];
        x.par_chunks_mut(p.max(1)).zip(rows.par_iter()).for_each(|(row, &i)| {
            for (a, t) in terms.iter().enumerate() {
                row[a] = z(t, ds, i);
            }
        });
        let y: Vec<bool> = rows.iter().map(|&i| labels[i]).collect();
        let (intercept, coefs, iterations, converged) = newton(&x, p, &y, params.l2, params.max_iter, params.tol);
        for (t, c) in terms.iter_mut().zip(coefs) {
            t.coef = c;
        }
        Ok(Logistic { intercept, terms, iterations, converged })
    }

    /// Log-odds for every row.
    pub fn predict_raw(&self, ds: &Dataset) -> Vec<f64> {
        (0..ds.rows())
            .into_par_iter()
            .map(|i| self.intercept + self.terms.iter().map(|t| t.coef * z(t, ds, i)).sum::<f64>())
            .collect()
    }

    /// Per-feature contributions of row `i` (coefficient x standardised value, summed per
    /// feature); they add up to the log-odds minus the intercept.
    pub fn contributions_row(&self, ds: &Dataset, i: usize) -> Vec<f64> {
        let mut out = vec![0.0; ds.columns.len()];
        for t in &self.terms {
            if t.feature < out.len() {
                out[t.feature] += t.coef * z(t, ds, i);
            }
        }
        out
    }
}

/// Observed mean of every numeric feature (0 for categorical ones).
fn feature_means(ds: &Dataset) -> Vec<f64> {
    ds.columns
        .iter()
        .map(|c| match c {
            Column::Numeric(v) => {
                let (s, k) = v.iter().filter(|x| !x.is_nan()).fold((0.0, 0usize), |(s, k), x| (s + x, k + 1));
                if k == 0 { 0.0 } else { s / k as f64 }
            }
            Column::Categorical(_) => 0.0,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{Feature, FeatureKind};

    #[test]
    fn newton_matches_the_closed_form_of_one_binary_feature() {
        // x = 1: 3 of 4 churn; x = 0: 1 of 4. Unpenalised MLE: intercept ln(1/3), slope ln(9).
        let x = vec![1.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0];
        let y = vec![true, true, true, false, true, false, false, false];
        let (b0, b, _, conv) = newton(&x, 1, &y, 0.0, 100, 1e-12);
        assert!(conv);
        assert!((b0 - (1.0f64 / 3.0).ln()).abs() < 1e-8, "{b0}");
        assert!((b[0] - 9.0f64.ln()).abs() < 1e-8, "{}", b[0]);
    }

    #[test]
    fn fits_standardised_features_with_missing_and_levels() {
        let n = 400;
        let x: Vec<f64> = (0..n).map(|i| if i % 10 == 0 { f64::NAN } else { (i % 20) as f64 }).collect();
        let c: Vec<u32> = (0..n).map(|i| (i % 3) as u32).collect();
        let y: Vec<bool> = (0..n).map(|i| (i % 20) as f64 + if i % 3 == 0 { 6.0 } else { 0.0 } > 12.0).collect();
        let ds = Dataset::new(
            vec![
                Feature { name: "x".into(), kind: FeatureKind::Numeric },
                Feature {
                    name: "c".into(),
                    kind: FeatureKind::Categorical { levels: vec!["a".into(), "b".into(), "c".into()] },
                },
            ],
            vec![Column::Numeric(x), Column::Categorical(c)],
            None,
        )
        .unwrap();
        let m = Logistic::fit(&ds, &y, &LogisticParams::default()).unwrap();
        assert!(m.converged);
        let raw = m.predict_raw(&ds);
        assert!(crate::metrics::roc_auc(&raw, &y) > 0.9);
        let c0 = m.contributions_row(&ds, 5);
        assert!((m.intercept + c0.iter().sum::<f64>() - raw[5]).abs() < 1e-9);
    }
}
