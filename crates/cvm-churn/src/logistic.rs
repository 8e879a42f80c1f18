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

/// A design matrix stored as a constant row plus each row's sparse deviations from it.
///
/// Row `i` is `base + u_i` where `u_i` has few non-zero entries. Standardised one-hot columns
/// are dense (a 0 becomes `-mean/scale`) but only two-valued, so writing them as `base` plus a
/// sparse jump keeps the Hessian's cost at (non-zeros per row)^2 instead of (columns)^2.
struct Design {
    /// Columns (without the intercept).
    p: usize,
    /// The value every row has where it lists no entry.
    base: Vec<f64>,
    /// Row `i`'s entries are `cols[starts[i]..starts[i + 1]]`, increasing.
    starts: Vec<usize>,
    /// Column of each entry.
    cols: Vec<u32>,
    /// Deviation from `base` of each entry.
    vals: Vec<f64>,
}

impl Design {
    /// A dense row-major matrix (n x p) as a design with zero base.
    fn dense(x: &[f64], p: usize) -> Design {
        let n = x.len().checked_div(p).unwrap_or(0);
        Design {
            p,
            base: vec![0.0; p],
            starts: (0..=n).map(|i| i * p).collect(),
            cols: (0..n).flat_map(|_| 0..p as u32).collect(),
            vals: x.to_vec(),
        }
    }

    fn entries(&self, i: usize) -> (&[u32], &[f64]) {
        let r = self.starts[i]..self.starts[i + 1];
        (&self.cols[r.clone()], &self.vals[r])
    }

    /// Linear predictor of row `i` given `beta` (intercept last) and `beta_base` = base . beta.
    fn eta(&self, beta: &[f64], beta_base: f64, i: usize) -> f64 {
        let (c, v) = self.entries(i);
        beta[self.p] + beta_base + c.iter().zip(v).map(|(&a, x)| beta[a as usize] * x).sum::<f64>()
    }
}

/// Penalised logistic fit on a row-major design `x` (n x p, no intercept column).
/// Returns (intercept, coefficients, iterations, converged).
pub fn newton(x: &[f64], p: usize, y: &[bool], l2: f64, max_iter: usize, tol: f64) -> (f64, Vec<f64>, usize, bool) {
    newton_design(&Design::dense(x, p), y, l2, max_iter, tol)
}

/// Sums over one block of rows for the Newton step: with d = p + 1 (intercept last, base 1),
/// residual sums, weight sums, weighted deviation sums and the deviations' weighted Gram matrix.
struct Sums {
    /// Sum of r u (per column; the intercept has no deviation).
    ru: Vec<f64>,
    /// Sum of r.
    r: f64,
    /// Sum of w u.
    wu: Vec<f64>,
    /// Sum of w.
    w: f64,
    /// Lower triangle (row-major d x d) of the sum of w u u'.
    uu: Vec<f64>,
}

impl Sums {
    fn new(d: usize) -> Sums {
        Sums { ru: vec![0.0; d], r: 0.0, wu: vec![0.0; d], w: 0.0, uu: vec![0.0; d * d] }
    }

    fn merge(mut self, o: Sums) -> Sums {
        self.ru.iter_mut().zip(&o.ru).for_each(|(a, b)| *a += b);
        self.wu.iter_mut().zip(&o.wu).for_each(|(a, b)| *a += b);
        self.uu.iter_mut().zip(&o.uu).for_each(|(a, b)| *a += b);
        self.r += o.r;
        self.w += o.w;
        self
    }
}

/// Row blocks for parallel sums: a few per thread so uneven blocks still balance.
fn blocks(n: usize) -> Vec<std::ops::Range<usize>> {
    let k = (rayon::current_num_threads() * 4).clamp(1, n.max(1));
    let size = n.div_ceil(k).max(1);
    (0..n).step_by(size).map(|s| s..(s + size).min(n)).collect()
}

/// Penalised logistic fit by Newton's method with step halving on a [`Design`].
fn newton_design(x: &Design, y: &[bool], l2: f64, max_iter: usize, tol: f64) -> (f64, Vec<f64>, usize, bool) {
    let n = y.len();
    let p = x.p;
    let d = p + 1; // intercept last
    let rate = (y.iter().filter(|&&l| l).count() as f64 / n.max(1) as f64).clamp(1e-6, 1.0 - 1e-6);
    let mut beta = vec![0.0; d];
    beta[p] = (rate / (1.0 - rate)).ln();
    let base_dot = |beta: &[f64]| x.base.iter().zip(beta).map(|(a, b)| a * b).sum::<f64>();
    let row_blocks = blocks(n);
    let loss = |beta: &[f64]| -> f64 {
        let bb = base_dot(beta);
        let data: f64 = row_blocks
            .par_iter()
            .map(|r| {
                r.clone()
                    .map(|i| {
                        let s = x.eta(beta, bb, i);
                        let z = if y[i] { -s } else { s };
                        z.max(0.0) + (-z.abs()).exp().ln_1p()
                    })
                    .sum::<f64>()
            })
            .sum();
        data + 0.5 * l2 * beta[..p].iter().map(|b| b * b).sum::<f64>()
    };
    let mut current = loss(&beta);
    for iter in 1..=max_iter {
        let bb = base_dot(&beta);
        let sums = row_blocks
            .par_iter()
            .map(|range| {
                let mut s = Sums::new(d);
                for i in range.clone() {
                    let pr = 1.0 / (1.0 + (-x.eta(&beta, bb, i)).exp());
                    let r = pr - if y[i] { 1.0 } else { 0.0 };
                    let w = (pr * (1.0 - pr)).max(1e-12);
                    s.r += r;
                    s.w += w;
                    let (cols, vals) = x.entries(i);
                    for (k, (&a, &va)) in cols.iter().zip(vals).enumerate() {
                        let a = a as usize;
                        s.ru[a] += r * va;
                        s.wu[a] += w * va;
                        let wa = w * va;
                        let row = &mut s.uu[a * d..a * d + d];
                        for (&b, &vb) in cols[..=k].iter().zip(&vals[..=k]) {
                            row[b as usize] += wa * vb;
                        }
                    }
                }
                s
            })
            .reduce(|| Sums::new(d), Sums::merge);
        // Row = base + u with base_p = 1 for the intercept:
        // g = base * sum(r) + sum(r u);  H = sum(w) base base' + base wu' + wu base' + sum(w u u').
        let mut base = x.base.clone();
        base.push(1.0);
        let mut g: Vec<f64> = (0..d).map(|a| base[a] * sums.r + sums.ru[a]).collect();
        let mut h = sums.uu;
        for a in 0..d {
            for b in 0..a {
                h[b * d + a] = h[a * d + b];
            }
        }
        for a in 0..d {
            for b in 0..d {
                h[a * d + b] += sums.w * base[a] * base[b] + base[a] * sums.wu[b] + sums.wu[a] * base[b];
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
        let x = design(&terms, ds, &rows);
        let y: Vec<bool> = rows.iter().map(|&i| labels[i]).collect();
        let (intercept, coefs, iterations, converged) = newton_design(&x, &y, params.l2, params.max_iter, params.tol);
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

/// The standardised design of `rows`: value terms are listed on every row; indicator terms
/// take two values, so the "off" value goes into the base and only "on" rows list an entry.
fn design(terms: &[Term], ds: &Dataset, rows: &[usize]) -> Design {
    let indicator = |t: &Term| !matches!(t.input, Input::Value);
    let clamp = |v: f64| v.clamp(-8.0, 8.0);
    let base: Vec<f64> = terms.iter().map(|t| if indicator(t) { clamp(-t.mean / t.scale) } else { 0.0 }).collect();
    let jump: Vec<f64> = terms
        .iter()
        .zip(&base)
        .map(|(t, b)| if indicator(t) { clamp((1.0 - t.mean) / t.scale) - b } else { 0.0 })
        .collect();
    let mut x =
        Design { p: terms.len(), base, starts: Vec::with_capacity(rows.len() + 1), cols: Vec::new(), vals: Vec::new() };
    x.starts.push(0);
    for &i in rows {
        for (a, t) in terms.iter().enumerate() {
            if !indicator(t) {
                x.cols.push(a as u32);
                x.vals.push(z(t, ds, i));
            } else if raw(t, ds, i) != 0.0 {
                x.cols.push(a as u32);
                x.vals.push(jump[a]);
            }
        }
        x.starts.push(x.cols.len());
    }
    x
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

    /// A numeric column `x` (NaN missing) and a categorical `c` with levels a, b, c.
    fn numeric_and_levels(x: Vec<f64>, c: Vec<u32>) -> Dataset {
        Dataset::new(
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
        .unwrap()
    }

    #[test]
    fn sparse_design_equals_the_dense_standardised_matrix() {
        // A rare level (1 in 200) has its "on" value clamped at 8 standard deviations.
        let n = 400;
        let x: Vec<f64> = (0..n).map(|i| if i % 10 == 0 { f64::NAN } else { (i % 20) as f64 }).collect();
        let c: Vec<u32> = (0..n).map(|i| if i % 200 == 7 { 2 } else { (i % 2) as u32 }).collect();
        let y: Vec<bool> = (0..n).map(|i| (i % 20) as f64 + if i % 2 == 0 { 6.0 } else { 0.0 } > 12.0).collect();
        let ds = numeric_and_levels(x, c);
        let m = Logistic::fit(&ds, &y, &LogisticParams::default()).unwrap();
        let p = m.terms.len();
        let rows: Vec<usize> = (0..n).collect();
        let sparse = design(&m.terms, &ds, &rows);
        let dense: Vec<f64> =
            rows.iter().flat_map(|&i| m.terms.iter().map(|t| z(t, &ds, i)).collect::<Vec<_>>()).collect();
        assert!(dense.contains(&8.0), "the rare level is clamped");
        for i in 0..n {
            let mut row = sparse.base.clone();
            let (cols, vals) = sparse.entries(i);
            for (&a, &v) in cols.iter().zip(vals) {
                row[a as usize] += v;
            }
            for a in 0..p {
                assert!((row[a] - dense[i * p + a]).abs() < 1e-12, "row {i} column {a}");
            }
        }
        let (b0, b, it, _) = newton(&dense, p, &y, 1.0, 100, 1e-10);
        let (s0, s, is, _) = newton_design(&sparse, &y, 1.0, 100, 1e-10);
        assert_eq!(it, is);
        assert!((b0 - s0).abs() < 1e-8);
        assert!(b.iter().zip(&s).all(|(u, v)| (u - v).abs() < 1e-8), "{b:?} {s:?}");
    }

    #[test]
    fn fits_standardised_features_with_missing_and_levels() {
        let n = 400;
        let x: Vec<f64> = (0..n).map(|i| if i % 10 == 0 { f64::NAN } else { (i % 20) as f64 }).collect();
        let c: Vec<u32> = (0..n).map(|i| (i % 3) as u32).collect();
        let y: Vec<bool> = (0..n).map(|i| (i % 20) as f64 + if i % 3 == 0 { 6.0 } else { 0.0 } > 12.0).collect();
        let ds = numeric_and_levels(x, c);
        let m = Logistic::fit(&ds, &y, &LogisticParams::default()).unwrap();
        assert!(m.converged);
        let raw = m.predict_raw(&ds);
        assert!(crate::metrics::roc_auc(&raw, &y) > 0.9);
        let c0 = m.contributions_row(&ds, 5);
        assert!((m.intercept + c0.iter().sum::<f64>() - raw[5]).abs() < 1e-9);
    }
}
