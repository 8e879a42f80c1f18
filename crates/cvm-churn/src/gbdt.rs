//! Histogram gradient-boosted decision trees for the churn log-loss.
//!
//! Design (the LightGBM recipe, kept small):
//! * every feature is cut into at most 255 value bins by quantiles of (a sample of) the
//!   training values, plus bin 0 for missing; categorical levels get one bin each (the 254
//!   most frequent; rarer and unseen levels share bin 0);
//! * the binned training table is kept both column-major and row-major (`u8`); a root's
//!   histogram streams each column past its feature's 256 cells (6 KB, in L1 cache), features
//!   spread over threads; a node's scattered rows are read row by row instead (one cache line
//!   per row, eight rows in flight), blocks of rows on all threads, summed in a fixed order;
//! * after a split only the smaller child's histogram is built; the larger one is the parent's
//!   minus it (histogram subtraction);
//! * trees grow leaf-wise (always split the leaf with the largest gain) up to `max_leaves`;
//! * numeric splits try missing values on both sides and keep the better (the learned default
//!   direction); categorical splits sort levels by gradient/hessian ratio and cut that order;
//! * L2 on leaf values, minimum hessian and row count per child, shrinkage, optional row and
//!   column subsampling from a seeded ChaCha generator, and early stopping on a validation set.
//!
//! Every node keeps its (shrunk) value, so per-row contributions follow the Saabas path method.

use rand::{Rng, SeedableRng, seq::SliceRandom};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::data::{Column, Dataset, UNSEEN};
use crate::{Error, Result};

/// Bins per feature in the histograms (bin 0 is missing, 1..=255 values).
const NB: usize = 256;
/// Below this many row x feature cells a histogram is built on one thread (hand-off costs more).
const PARALLEL_MIN_CELLS: usize = 131_072;

/// Training parameters of the tree ensemble; the defaults are the one configuration for all data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct GbdtParams {
    /// Shrinkage applied to every leaf value.
    pub learning_rate: f64,
    /// Upper bound on the number of trees (early stopping usually stops well before).
    pub max_trees: usize,
    /// Leaves per tree (leaf-wise growth).
    pub max_leaves: usize,
    /// Depth limit, 0 for none.
    pub max_depth: usize,
    /// Minimum rows in a leaf.
    pub min_data_in_leaf: usize,
    /// Minimum hessian sum in a leaf.
    pub min_child_weight: f64,
    /// L2 penalty on leaf values.
    pub lambda_l2: f64,
    /// Minimum loss reduction for a split.
    pub min_split_gain: f64,
    /// Share of rows each tree sees (1 = all).
    pub subsample: f64,
    /// Share of features each tree may split on (1 = all).
    pub colsample: f64,
    /// Value bins per numeric feature (at most 255).
    pub max_bins: usize,
    /// Stop when the validation loss has not improved for this many trees.
    pub early_stopping_rounds: usize,
    /// Rows sampled to find the quantile bin edges.
    pub bin_sample_rows: usize,
    /// Prior weight that pulls a small category's gradient ratio towards zero when ordering levels.
    pub cat_smooth: f64,
    /// Extra L2 on categorical splits (they can fit noise with many levels).
    pub cat_l2: f64,
    /// A level needs this many rows in a node to be grouped on its own; rarer levels stay
    /// on the right (as LightGBM's min_data_per_group: 50 US states of 60 rows are noise).
    pub min_data_per_group: usize,
    /// Seed for subsampling.
    pub seed: u64,
}

impl Default for GbdtParams {
    fn default() -> Self {
        GbdtParams {
            learning_rate: 0.1,
            max_trees: 1000,
            // 15 rather than LightGBM's 31: churn tables are small and noisy, and measured on
            // both public sets 15 leaves generalise better (early stopping adds trees instead).
            max_leaves: 15,
            max_depth: 0,
            min_data_in_leaf: 20,
            min_child_weight: 1e-3,
            lambda_l2: 1.0,
            min_split_gain: 0.0,
            subsample: 1.0,
            colsample: 1.0,
            max_bins: 255,
            // 20: on IBM Telco and BigML (5-fold CV) and the 1M-row generated table, 20 and 50
            // stop at the same best tree; 10 already cuts BigML short. Past the best tree every
            // round is wasted work, a third of a big table's training at 50.
            early_stopping_rounds: 20,
            bin_sample_rows: 200_000,
            cat_smooth: 10.0,
            cat_l2: 10.0,
            min_data_per_group: 100,
            seed: 1,
        }
    }
}

/// How one feature's raw values map to bins.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FeatureBins {
    /// Value `v` goes to bin `1 + #(cuts < v)`; NaN to bin 0.
    Numeric {
        /// Increasing cut points.
        cuts: Vec<f64>,
    },
    /// Level code `k` goes to bin `bin_of_level[k]`; 0 for rare, unseen or missing levels.
    Categorical {
        /// Bin of every level.
        bin_of_level: Vec<u8>,
    },
}

impl FeatureBins {
    fn numeric_bin(cuts: &[f64], v: f64) -> u8 {
        if v.is_nan() { 0 } else { (1 + cuts.partition_point(|&c| c < v)) as u8 }
    }

    fn value_bins(&self) -> usize {
        match self {
            FeatureBins::Numeric { cuts } => cuts.len() + 1,
            FeatureBins::Categorical { bin_of_level } => bin_of_level.iter().copied().max().unwrap_or(0) as usize,
        }
    }
}

/// The rule at an inner node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    /// Left when the value is at most `threshold` (bin at most `bin`); missing goes left if `missing_left`.
    Numeric {
        /// Last bin going left.
        bin: u8,
        /// The raw-value threshold that bin ends at.
        threshold: f64,
        /// Where missing values go.
        missing_left: bool,
    },
    /// Left when the value's bin is in the set (bit `b` of the 256-bit mask).
    Categorical {
        /// Bins going left, as a 256-bit mask.
        left: [u64; 4],
    },
}

/// One tree node; inner nodes have a split.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Node {
    /// Shrunk value -G/(H+lambda) x learning rate; the output if this is a leaf.
    pub value: f64,
    /// Hessian sum of the training rows that reached the node.
    pub cover: f64,
    /// The split, for inner nodes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub split: Option<Split>,
}

/// A split: feature, rule and children.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Split {
    /// Feature index.
    pub feature: u32,
    /// The rule sending rows left.
    pub rule: Rule,
    /// Left child node index.
    pub left: u32,
    /// Right child node index.
    pub right: u32,
    /// Loss reduction of the split.
    pub gain: f64,
}

/// A regression tree on the binned features.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tree {
    /// Nodes; 0 is the root.
    pub nodes: Vec<Node>,
}

impl Tree {
    fn goes_left(rule: &Rule, b: u8) -> bool {
        match rule {
            Rule::Numeric { bin, missing_left, .. } => {
                if b == 0 {
                    *missing_left
                } else {
                    b <= *bin
                }
            }
            Rule::Categorical { left } => (left[(b >> 6) as usize] >> (b & 63)) & 1 == 1,
        }
    }

    /// Output for one binned row.
    pub fn predict(&self, row: &[u8]) -> f64 {
        self.predict_with(|f| row[f])
    }

    /// Output for a row whose bin of feature `f` is `bin(f)`.
    fn predict_with(&self, bin: impl Fn(usize) -> u8) -> f64 {
        let mut k = 0usize;
        loop {
            let node = &self.nodes[k];
            match &node.split {
                None => return node.value,
                Some(s) => {
                    k = if Tree::goes_left(&s.rule, bin(s.feature as usize)) { s.left } else { s.right } as usize;
                }
            }
        }
    }

    /// Saabas contributions of one binned row added into `out`; returns the root value.
    fn contribute(&self, row: &[u8], out: &mut [f64]) -> f64 {
        let mut k = 0usize;
        loop {
            let node = &self.nodes[k];
            match &node.split {
                None => return self.nodes[0].value,
                Some(s) => {
                    let next =
                        if Tree::goes_left(&s.rule, row[s.feature as usize]) { s.left } else { s.right } as usize;
                    out[s.feature as usize] += self.nodes[next].value - node.value;
                    k = next;
                }
            }
        }
    }
}

/// A trained ensemble: bins, base score and trees.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Gbdt {
    /// Log-odds before any tree (the training churn rate).
    pub base_score: f64,
    /// Binning of every feature.
    pub bins: Vec<FeatureBins>,
    /// The trees.
    pub trees: Vec<Tree>,
}

/// What training saw: trees kept and the validation loss curve's best point.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FitLog {
    /// Trees kept.
    pub trees: usize,
    /// Validation log loss at that many trees, when there was a validation set.
    pub valid_log_loss: Option<f64>,
}

#[derive(Debug, Clone, Copy, Default)]
struct Cell {
    g: f64,
    h: f64,
    n: f64,
}

impl Cell {
    fn add(&mut self, o: &Cell) {
        self.g += o.g;
        self.h += o.h;
        self.n += o.n;
    }
    fn sub(&self, o: &Cell) -> Cell {
        Cell { g: self.g - o.g, h: self.h - o.h, n: self.n - o.n }
    }
    /// Counts one row with gradient and hessian `[g, h]`.
    #[inline(always)]
    fn add_grad(&mut self, [g, h]: [f32; 2]) {
        self.g += f64::from(g);
        self.h += f64::from(h);
        self.n += 1.0;
    }
}

/// The binned training table: one byte column per feature, and the same bytes row-major.
struct Binned {
    cols: Vec<Vec<u8>>,
    /// The same bins row-major (`m` bytes per row), for histograms of a node's scattered rows.
    rows: Vec<u8>,
    /// Start of each feature's cells in a compact histogram (feature `f` uses bins 0..=nbins[f]).
    offsets: Vec<usize>,
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// Quantile cut points of one numeric column.
fn numeric_cuts(values: &[f64], sample: Option<&[usize]>, max_bins: usize) -> Vec<f64> {
    let mut v: Vec<f64> = match sample {
        Some(s) => s.iter().map(|&i| values[i]).filter(|x| !x.is_nan()).collect(),
        None => values.iter().copied().filter(|x| !x.is_nan()).collect(),
    };
    if v.is_empty() {
        return Vec::new();
    }
    v.sort_unstable_by(f64::total_cmp);
    let mut distinct: Vec<(f64, usize)> = Vec::new();
    for x in v.iter().copied() {
        match distinct.last_mut() {
            Some((d, c)) if *d == x => *c += 1,
            _ => distinct.push((x, 1)),
        }
    }
    let mid = |a: f64, b: f64| {
        let m = a + (b - a) / 2.0;
        if m >= b { a } else { m }
    };
    let max_bins = max_bins.clamp(2, 255);
    if distinct.len() <= max_bins {
        return distinct.windows(2).map(|w| mid(w[0].0, w[1].0)).collect();
    }
    // Equal-frequency cuts over distinct values: a heavy single value gets a bin of its own.
    let total = v.len() as f64;
    let mut cuts = Vec::with_capacity(max_bins - 1);
    let mut acc = 0usize;
    for k in 0..distinct.len() - 1 {
        acc += distinct[k].1;
        let wanted = total * (cuts.len() + 1) as f64 / max_bins as f64;
        if acc as f64 >= wanted && cuts.len() < max_bins - 1 {
            cuts.push(mid(distinct[k].0, distinct[k + 1].0));
        }
    }
    cuts
}

/// Categorical level -> bin, most frequent levels first.
fn categorical_bins(codes: &[u32], levels: usize) -> Vec<u8> {
    let mut counts = vec![0usize; levels];
    for &c in codes {
        if c != UNSEEN && (c as usize) < levels {
            counts[c as usize] += 1;
        }
    }
    let mut order: Vec<usize> = (0..levels).filter(|&k| counts[k] > 0).collect();
    order.sort_by(|&a, &b| counts[b].cmp(&counts[a]).then(a.cmp(&b)));
    let mut bin_of_level = vec![0u8; levels];
    for (rank, &k) in order.iter().take(NB - 2).enumerate() {
        bin_of_level[k] = (rank + 1) as u8;
    }
    bin_of_level
}

/// Finds the bins of every feature from the training rows.
fn make_bins(ds: &Dataset, params: &GbdtParams) -> Vec<FeatureBins> {
    let n = ds.rows();
    let sample: Option<Vec<usize>> = (n > params.bin_sample_rows).then(|| {
        let mut rng = ChaCha8Rng::seed_from_u64(params.seed ^ 0x5eed_b1b5);
        let mut idx: Vec<usize> = (0..n).collect();
        idx.shuffle(&mut rng);
        idx.truncate(params.bin_sample_rows);
        idx
    });
    ds.columns
        .par_iter()
        .map(|c| match c {
            Column::Numeric(v) => FeatureBins::Numeric { cuts: numeric_cuts(v, sample.as_deref(), params.max_bins) },
            Column::Categorical(codes) => {
                let levels = codes.iter().filter(|&&c| c != UNSEEN).map(|&c| c as usize + 1).max().unwrap_or(0);
                FeatureBins::Categorical { bin_of_level: categorical_bins(codes, levels) }
            }
        })
        .collect()
}

impl Gbdt {
    /// Bins a dataset with this model's bins (row-major, one byte per feature).
    pub fn bin(&self, ds: &Dataset) -> Result<Vec<u8>> {
        bin_dataset(&self.bins, ds)
    }

    /// Raw log-odds for every row.
    pub fn predict_raw(&self, ds: &Dataset) -> Result<Vec<f64>> {
        let m = self.bins.len();
        let data = self.bin(ds)?;
        Ok(data.par_chunks(m.max(1)).map(|row| self.predict_row(row)).collect())
    }

    /// Raw log-odds of one binned row.
    pub fn predict_row(&self, row: &[u8]) -> f64 {
        self.base_score + self.trees.iter().map(|t| t.predict(row)).sum::<f64>()
    }

    /// Saabas contributions of one binned row: (bias, per-feature), summing to the log-odds.
    pub fn contributions_row(&self, row: &[u8]) -> (f64, Vec<f64>) {
        let mut out = vec![0.0; self.bins.len()];
        let mut bias = self.base_score;
        for t in &self.trees {
            bias += t.contribute(row, &mut out);
        }
        (bias, out)
    }

    /// Trains on `train`; with `valid`, stops early on its log loss; `trees` fixes the count.
    pub fn fit(
        train: &Dataset,
        labels: &[bool],
        valid: Option<(&Dataset, &[bool])>,
        params: &GbdtParams,
        trees: Option<usize>,
    ) -> Result<(Gbdt, FitLog)> {
        let n = train.rows();
        if n == 0 || labels.len() != n {
            return Err(Error::Data("no training rows".into()));
        }
        let pos = labels.iter().filter(|&&l| l).count();
        if pos == 0 || pos == n {
            return Err(Error::Data("the training rows are all one class; churn and non-churn are both needed".into()));
        }
        let rate = pos as f64 / n as f64;
        let base_score = (rate / (1.0 - rate)).ln();
        let bins = make_bins(train, params);
        let m = bins.len();
        let cols = bin_columns(&bins, train)?;
        let offsets: Vec<usize> = std::iter::once(0)
            .chain(bins.iter().scan(0, |acc, b| {
                *acc += b.value_bins() + 1;
                Some(*acc)
            }))
            .collect();
        let binned = Binned { rows: row_major(&cols, n), cols, offsets };
        let nbins: Vec<usize> = bins.iter().map(FeatureBins::value_bins).collect();
        let is_cat: Vec<bool> = bins.iter().map(|b| matches!(b, FeatureBins::Categorical { .. })).collect();

        let valid_data = match valid {
            Some((v, l)) => Some((bin_dataset(&bins, v)?, l)),
            None => None,
        };
        let mut valid_score: Vec<f64> = valid_data.as_ref().map(|(_, l)| vec![base_score; l.len()]).unwrap_or_default();
        let y: Vec<f64> = labels.iter().map(|&l| if l { 1.0 } else { 0.0 }).collect();
        let mut score = vec![base_score; n];
        let mut gh: Vec<[f32; 2]> = vec![[0.0; 2]; n];
        let mut model = Gbdt { base_score, bins: bins.clone(), trees: Vec::new() };
        let mut rng = ChaCha8Rng::seed_from_u64(params.seed);
        let max_trees = trees.unwrap_or(params.max_trees);
        let (mut best_loss, mut best_iter) = (f64::INFINITY, 0usize);
        let mut rows_buf: Vec<u32> = Vec::with_capacity(n);
        let mut grower = Grower::new(params, &nbins, &is_cat);

        for iter in 0..max_trees {
            gh.par_iter_mut().zip(score.par_iter()).zip(y.par_iter()).for_each(|((gh, &s), &y)| {
                let p = sigmoid(s);
                *gh = [(p - y) as f32, (p * (1.0 - p)).max(1e-16) as f32];
            });
            rows_buf.clear();
            if params.subsample < 1.0 {
                rows_buf.extend((0..n as u32).filter(|_| rng.random::<f64>() < params.subsample));
            } else {
                rows_buf.extend(0..n as u32);
            }
            let allowed: Vec<bool> = if params.colsample < 1.0 {
                let k = ((m as f64 * params.colsample).ceil() as usize).clamp(1, m);
                let mut idx: Vec<usize> = (0..m).collect();
                idx.shuffle(&mut rng);
                let mut a = vec![false; m];
                for &j in &idx[..k] {
                    a[j] = true;
                }
                a
            } else {
                vec![true; m]
            };
            let (tree, leaves) = grower.grow(&binned, &gh, &mut rows_buf, &allowed);
            if tree.nodes.len() <= 1 {
                // Nothing left to learn: no split improves the loss.
                break;
            }
            if params.subsample < 1.0 {
                score.par_iter_mut().enumerate().for_each(|(i, s)| *s += tree.predict_with(|f| binned.cols[f][i]));
            } else {
                for (node, start, end) in leaves {
                    let v = tree.nodes[node].value;
                    for &i in &rows_buf[start..end] {
                        score[i as usize] += v;
                    }
                }
            }
            if let Some((vd, vl)) = &valid_data {
                valid_score.par_iter_mut().enumerate().for_each(|(i, s)| *s += tree.predict(&vd[i * m..(i + 1) * m]));
                let loss = valid_score
                    .iter()
                    .zip(vl.iter())
                    .map(|(&s, &l)| {
                        // log(1 + e^-s) for churners, log(1 + e^s) otherwise, computed stably.
                        let z = if l { -s } else { s };
                        z.max(0.0) + (-z.abs()).exp().ln_1p()
                    })
                    .sum::<f64>()
                    / vl.len().max(1) as f64;
                model.trees.push(tree);
                if loss < best_loss - 1e-12 {
                    best_loss = loss;
                    best_iter = iter + 1;
                } else if iter + 1 - best_iter >= params.early_stopping_rounds {
                    break;
                }
            } else {
                model.trees.push(tree);
            }
        }
        if valid_data.is_some() {
            model.trees.truncate(best_iter.max(1).min(model.trees.len()));
        }
        let log = FitLog { trees: model.trees.len(), valid_log_loss: valid_data.map(|_| best_loss) };
        Ok((model, log))
    }
}

/// Bins every row of `ds` (row-major).
fn bin_dataset(bins: &[FeatureBins], ds: &Dataset) -> Result<Vec<u8>> {
    Ok(row_major(&bin_columns(bins, ds)?, ds.rows()))
}

/// Binned columns (each `n` long) as one row-major matrix.
fn row_major(cols: &[Vec<u8>], n: usize) -> Vec<u8> {
    let m = cols.len();
    let mut data = vec![0u8; n * m];
    data.par_chunks_mut(m.max(1)).enumerate().for_each(|(i, row)| {
        for (j, c) in cols.iter().enumerate() {
            row[j] = c[i];
        }
    });
    data
}

/// Bins every feature of `ds` (column-major), features in parallel.
fn bin_columns(bins: &[FeatureBins], ds: &Dataset) -> Result<Vec<Vec<u8>>> {
    let m = bins.len();
    if ds.columns.len() != m {
        return Err(Error::Model(format!("the model has {m} features, the data {}", ds.columns.len())));
    }
    bins.par_iter()
        .zip(ds.columns.par_iter())
        .map(|(b, c)| match (b, c) {
            (FeatureBins::Numeric { cuts }, Column::Numeric(v)) => {
                Ok(v.iter().map(|&x| FeatureBins::numeric_bin(cuts, x)).collect())
            }
            (FeatureBins::Categorical { bin_of_level }, Column::Categorical(codes)) => {
                Ok(codes.iter().map(|&k| bin_of_level.get(k as usize).copied().unwrap_or(0)).collect())
            }
            _ => Err(Error::Model("a feature's kind differs between model and data".into())),
        })
        .collect::<Result<_>>()
}

/// Rows per block of a row-wise histogram; fixed (not per thread) so the sums, and so the
/// model, do not depend on the number of cores.
const ROW_BLOCK: usize = 16_384;

/// Histogram of `rows` read row by row: each row's bytes are one cache line and its
/// gradient is read once, so a node's scattered rows cost one memory access each instead of
/// one per feature. Blocks of rows are summed in parallel into compact histograms (each
/// feature only as many cells as it has bins, so they stay in cache), then added in block order.
fn histogram_rows(x: &Binned, gh: &[[f32; 2]], rows: &[u32]) -> Vec<Cell> {
    let m = x.cols.len();
    let cells = x.offsets[m];
    let block = |rows: &[u32]| -> Vec<Cell> {
        let mut hist = vec![Cell::default(); cells];
        let row = |i: u32| &x.rows[i as usize * m..(i as usize + 1) * m];
        // Eight rows at a time: their cache misses overlap instead of coming one after another.
        let mut groups = rows.chunks_exact(8);
        for q in &mut groups {
            let r: [&[u8]; 8] = std::array::from_fn(|k| row(q[k]));
            let v: [[f32; 2]; 8] = std::array::from_fn(|k| gh[q[k] as usize]);
            for (f, &off) in x.offsets[..m].iter().enumerate() {
                for k in 0..8 {
                    hist[off + r[k][f] as usize].add_grad(v[k]);
                }
            }
        }
        for &i in groups.remainder() {
            for (&off, &b) in x.offsets.iter().zip(row(i)) {
                hist[off + b as usize].add_grad(gh[i as usize]);
            }
        }
        hist
    };
    let compact = if rows.len() <= ROW_BLOCK {
        block(rows)
    } else {
        let parts: Vec<Vec<Cell>> = rows.par_chunks(ROW_BLOCK).map(block).collect();
        let mut parts = parts.into_iter();
        let mut hist = parts.next().unwrap_or_else(|| vec![Cell::default(); cells]);
        for p in parts {
            hist.iter_mut().zip(&p).for_each(|(a, b)| a.add(b));
        }
        hist
    };
    let mut hist = vec![Cell::default(); m * NB];
    for f in 0..m {
        let w = x.offsets[f + 1] - x.offsets[f];
        hist[f * NB..f * NB + w].copy_from_slice(&compact[x.offsets[f]..x.offsets[f + 1]]);
    }
    hist
}

/// Below this many rows a leaf is partitioned on one thread.
const PARALLEL_MIN_ROWS: usize = 65_536;

/// Moves the rows going left by `rule` (on binned column `col`) to the front of `rows`, both
/// sides keeping their order; returns how many go left. Big leaves are split in blocks on all
/// threads and the blocks' sides concatenated in order, so the result is the same.
fn partition(rows: &mut [u32], col: &[u8], rule: &Rule, scratch: &mut Vec<u32>) -> usize {
    let split = |rows: &mut [u32], right: &mut Vec<u32>| -> usize {
        right.clear();
        let mut w = 0usize;
        for r in 0..rows.len() {
            let i = rows[r];
            if Tree::goes_left(rule, col[i as usize]) {
                rows[w] = i;
                w += 1;
            } else {
                right.push(i);
            }
        }
        rows[w..].copy_from_slice(right);
        w
    };
    if rows.len() < PARALLEL_MIN_ROWS {
        return split(rows, scratch);
    }
    let block = rows.len().div_ceil(rayon::current_num_threads().max(1) * 2).max(PARALLEL_MIN_ROWS / 4);
    let lefts: Vec<usize> = rows.par_chunks_mut(block).map(|c| split(c, &mut Vec::new())).collect();
    // Each block is now [its left | its right]; gather all lefts, then all rights.
    scratch.clear();
    scratch.extend_from_slice(rows);
    let mut w = 0usize;
    for (c, &l) in scratch.chunks(block).zip(&lefts) {
        rows[w..w + l].copy_from_slice(&c[..l]);
        w += l;
    }
    let mut r = w;
    for (c, &l) in scratch.chunks(block).zip(&lefts) {
        rows[r..r + c.len() - l].copy_from_slice(&c[l..]);
        r += c.len() - l;
    }
    w
}

/// A split found for a leaf, with the statistics of both sides.
#[derive(Debug, Clone)]
struct Candidate {
    gain: f64,
    feature: usize,
    rule: Rule,
    left: Cell,
    right: Cell,
}

/// A leaf waiting to be split.
struct Leaf {
    node: usize,
    start: usize,
    end: usize,
    depth: usize,
    hist: Vec<Cell>,
    best: Option<Candidate>,
}

/// Grows one tree at a time; owns the scratch buffers.
struct Grower<'p> {
    params: &'p GbdtParams,
    nbins: &'p [usize],
    is_cat: &'p [bool],
    scratch: Vec<u32>,
}

impl<'p> Grower<'p> {
    fn new(params: &'p GbdtParams, nbins: &'p [usize], is_cat: &'p [bool]) -> Self {
        Grower { params, nbins, is_cat, scratch: Vec::new() }
    }

    fn leaf_value(&self, c: &Cell) -> f64 {
        -c.g / (c.h + self.params.lambda_l2) * self.params.learning_rate
    }

    /// Histogram of `rows` (`all` when they are every row in order).
    ///
    /// Every row in order (a root) is read column by column, features in parallel: each
    /// feature's 256 cells stay in L1 while its bytes stream past. A node's scattered rows are
    /// read row by row instead ([`histogram_rows`]): one cache line per row rather than one per
    /// row and feature.
    fn histogram(&self, x: &Binned, gh: &[[f32; 2]], rows: &[u32], all: bool, allowed: &[bool]) -> Vec<Cell> {
        if !all {
            return histogram_rows(x, gh, rows);
        }
        let m = x.cols.len();
        let mut hist = vec![Cell::default(); m * NB];
        let work = |(f, h): (usize, &mut [Cell])| {
            if !allowed[f] {
                return;
            }
            // Four interleaved copies: consecutive rows often share a bin (flags, zero counts),
            // and one copy would make every add wait for the previous one's store.
            let mut sub = [[Cell::default(); NB]; 4];
            let [s0, s1, s2, s3] = &mut sub;
            let mut bc = x.cols[f].chunks_exact(4);
            let mut vc = gh.chunks_exact(4);
            for (b, v) in (&mut bc).zip(&mut vc) {
                s0[b[0] as usize].add_grad(v[0]);
                s1[b[1] as usize].add_grad(v[1]);
                s2[b[2] as usize].add_grad(v[2]);
                s3[b[3] as usize].add_grad(v[3]);
            }
            for (&b, &v) in bc.remainder().iter().zip(vc.remainder()) {
                s0[b as usize].add_grad(v);
            }
            for (b, c) in h.iter_mut().enumerate() {
                c.add(&s0[b]);
                c.add(&s1[b]);
                c.add(&s2[b]);
                c.add(&s3[b]);
            }
        };
        if rows.len() * m >= PARALLEL_MIN_CELLS {
            hist.par_chunks_mut(NB).enumerate().for_each(work);
        } else {
            hist.chunks_mut(NB).enumerate().for_each(work);
        }
        hist
    }

    fn total(&self, hist: &[Cell], allowed: &[bool]) -> Cell {
        // Every row is in exactly one bin of any (built) feature.
        let f = allowed.iter().position(|&a| a).unwrap_or(0);
        let mut t = Cell::default();
        for c in &hist[f * NB..(f + 1) * NB] {
            t.add(c);
        }
        t
    }

    fn score(&self, c: &Cell, extra_l2: f64) -> f64 {
        c.g * c.g / (c.h + self.params.lambda_l2 + extra_l2)
    }

    fn valid(&self, c: &Cell) -> bool {
        c.n >= self.params.min_data_in_leaf as f64 && c.h >= self.params.min_child_weight
    }

    /// Best split of a leaf with histogram `hist`, or None.
    fn best_split(&self, hist: &[Cell], allowed: &[bool]) -> Option<Candidate> {
        let total = self.total(hist, allowed);
        if total.n < 2.0 * self.params.min_data_in_leaf as f64 {
            return None;
        }
        let mut best: Option<Candidate> = None;
        let mut consider = |cand: Candidate| {
            if cand.gain > self.params.min_split_gain.max(1e-12) && best.as_ref().is_none_or(|b| cand.gain > b.gain) {
                best = Some(cand);
            }
        };
        for f in 0..self.nbins.len() {
            if !allowed[f] {
                continue;
            }
            let cells = &hist[f * NB..(f + 1) * NB];
            let k = self.nbins[f];
            if self.is_cat[f] {
                let extra = self.params.cat_l2;
                let parent = self.score(&total, extra);
                let min_group = self.params.min_data_per_group as f64;
                let mut present: Vec<(usize, Cell)> =
                    (0..=k).filter(|&b| cells[b].n >= min_group.max(1.0)).map(|b| (b, cells[b])).collect();
                if present.is_empty() {
                    continue;
                }
                let smooth = self.params.cat_smooth;
                present.sort_by(|a, b| (a.1.g / (a.1.h + smooth)).total_cmp(&(b.1.g / (b.1.h + smooth))));
                let mut left = Cell::default();
                let mut best_here: Option<(f64, usize, Cell)> = None;
                // Rare levels are never in the left set, so every prefix of the order is a candidate.
                let scan = if present.iter().map(|p| p.1.n).sum::<f64>() < total.n {
                    present.len()
                } else {
                    present.len() - 1
                };
                for (idx, (_, c)) in present.iter().enumerate().take(scan) {
                    left.add(c);
                    let right = total.sub(&left);
                    if !self.valid(&left) || !self.valid(&right) {
                        continue;
                    }
                    let gain = self.score(&left, extra) + self.score(&right, extra) - parent;
                    if best_here.as_ref().is_none_or(|b| gain > b.0) {
                        best_here = Some((gain, idx, left));
                    }
                }
                if let Some((gain, idx, left)) = best_here {
                    let mut mask = [0u64; 4];
                    for (b, _) in &present[..=idx] {
                        mask[b >> 6] |= 1u64 << (b & 63);
                    }
                    consider(Candidate {
                        gain,
                        feature: f,
                        rule: Rule::Categorical { left: mask },
                        left,
                        right: total.sub(&left),
                    });
                }
            } else {
                let parent = self.score(&total, 0.0);
                let miss = cells[0];
                let mut acc = Cell::default();
                for (s, cell) in cells.iter().enumerate().take(k).skip(1) {
                    acc.add(cell);
                    // Missing to the right.
                    let right = total.sub(&acc);
                    if self.valid(&acc) && self.valid(&right) {
                        let gain = self.score(&acc, 0.0) + self.score(&right, 0.0) - parent;
                        // With no missing values here, send future ones to the larger side.
                        let missing_left = miss.n == 0.0 && acc.n >= right.n;
                        consider(Candidate {
                            gain,
                            feature: f,
                            rule: Rule::Numeric { bin: s as u8, threshold: f64::NAN, missing_left },
                            left: acc,
                            right,
                        });
                    }
                    if miss.n > 0.0 {
                        let mut left = acc;
                        left.add(&miss);
                        let right = total.sub(&left);
                        if self.valid(&left) && self.valid(&right) {
                            let gain = self.score(&left, 0.0) + self.score(&right, 0.0) - parent;
                            consider(Candidate {
                                gain,
                                feature: f,
                                rule: Rule::Numeric { bin: s as u8, threshold: f64::NAN, missing_left: true },
                                left,
                                right,
                            });
                        }
                    }
                }
            }
        }
        best
    }

    /// Grows one tree on `rows` (reordered in place); returns it and its leaves' row ranges.
    fn grow(
        &mut self,
        x: &Binned,
        gh: &[[f32; 2]],
        rows: &mut [u32],
        allowed: &[bool],
    ) -> (Tree, Vec<(usize, usize, usize)>) {
        let all =
            rows.len() == x.cols.first().map_or(0, Vec::len) && rows.iter().enumerate().all(|(k, &i)| k == i as usize);
        let root_hist = self.histogram(x, gh, rows, all, allowed);
        let root_total = self.total(&root_hist, allowed);
        let mut nodes = vec![Node { value: self.leaf_value(&root_total), cover: root_total.h, split: None }];
        let best = self.best_split(&root_hist, allowed);
        let mut leaves = vec![Leaf { node: 0, start: 0, end: rows.len(), depth: 0, hist: root_hist, best }];
        let max_leaves = self.params.max_leaves.max(2);
        while leaves.len() < max_leaves {
            let pick = leaves
                .iter()
                .enumerate()
                .filter_map(|(i, l)| l.best.as_ref().map(|b| (i, b.gain)))
                .max_by(|a, b| a.1.total_cmp(&b.1));
            let Some((li, _)) = pick else { break };
            let leaf = leaves.swap_remove(li);
            let Some(cand) = leaf.best else { break };
            // Partition the leaf's rows, keeping their order (sequential memory access later).
            let w = partition(&mut rows[leaf.start..leaf.end], &x.cols[cand.feature], &cand.rule, &mut self.scratch);
            let mid = leaf.start + w;
            let (li_node, ri_node) = (nodes.len(), nodes.len() + 1);
            nodes.push(Node { value: self.leaf_value(&cand.left), cover: cand.left.h, split: None });
            nodes.push(Node { value: self.leaf_value(&cand.right), cover: cand.right.h, split: None });
            let rule = match cand.rule {
                Rule::Numeric { bin, missing_left, .. } => Rule::Numeric { bin, threshold: f64::NAN, missing_left },
                r => r,
            };
            nodes[leaf.node].split = Some(Split {
                feature: cand.feature as u32,
                rule,
                left: li_node as u32,
                right: ri_node as u32,
                gain: cand.gain,
            });
            let depth = leaf.depth + 1;
            let can_split = self.params.max_depth == 0 || depth < self.params.max_depth;
            // The children's histograms are only needed if either can be split later.
            let (lh, rh) = if !can_split || leaves.len() + 2 >= max_leaves {
                (Vec::new(), Vec::new())
            } else {
                let (left_small, small_range) =
                    if w <= leaf.end - mid { (true, (leaf.start, mid)) } else { (false, (mid, leaf.end)) };
                let small_hist = self.histogram(x, gh, &rows[small_range.0..small_range.1], false, allowed);
                let mut big_hist = leaf.hist;
                big_hist.iter_mut().zip(&small_hist).for_each(|(b, s)| *b = b.sub(s));
                if left_small { (small_hist, big_hist) } else { (big_hist, small_hist) }
            };
            let lbest = if lh.is_empty() { None } else { self.best_split(&lh, allowed) };
            let rbest = if rh.is_empty() { None } else { self.best_split(&rh, allowed) };
            leaves.push(Leaf { node: li_node, start: leaf.start, end: mid, depth, hist: lh, best: lbest });
            leaves.push(Leaf { node: ri_node, start: mid, end: leaf.end, depth, hist: rh, best: rbest });
        }
        let ranges = leaves.iter().map(|l| (l.node, l.start, l.end)).collect();
        (Tree { nodes }, ranges)
    }
}

/// Fills the raw-value thresholds of numeric splits (for people reading the model file).
pub fn fill_thresholds(model: &mut Gbdt) {
    for t in &mut model.trees {
        for node in &mut t.nodes {
            if let Some(Split { feature, rule: Rule::Numeric { bin, threshold, .. }, .. }) = &mut node.split
                && let Some(FeatureBins::Numeric { cuts }) = model.bins.get(*feature as usize)
            {
                *threshold = cuts.get(*bin as usize - 1).copied().unwrap_or(f64::INFINITY);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{Feature, FeatureKind};

    fn numeric_ds(cols: Vec<Vec<f64>>) -> Dataset {
        let features = (0..cols.len()).map(|j| Feature { name: format!("x{j}"), kind: FeatureKind::Numeric }).collect();
        Dataset::new(features, cols.into_iter().map(Column::Numeric).collect(), None).unwrap()
    }

    /// A binned table of `n` rows over features with 2, 5 and 256 bins, and gradients.
    fn binned_table(n: usize) -> (Binned, Vec<[f32; 2]>) {
        let widths = [3usize, 6, 256];
        let cols: Vec<Vec<u8>> = widths
            .iter()
            .enumerate()
            .map(|(f, &w)| (0..n).map(|i| ((i * (7 + 13 * f) + i / 3) % w) as u8).collect())
            .collect();
        let offsets = std::iter::once(0)
            .chain(widths.iter().scan(0, |a, &w| {
                *a += w;
                Some(*a)
            }))
            .collect();
        let gh = (0..n).map(|i| [((i % 11) as f32 - 5.0) / 7.0, 0.05 + (i % 5) as f32 / 10.0]).collect();
        (Binned { rows: row_major(&cols, n), cols, offsets }, gh)
    }

    /// The histogram by definition: one row at a time, in order, in f64.
    fn naive_histogram(x: &Binned, gh: &[[f32; 2]], rows: &[u32]) -> Vec<Cell> {
        let mut h = vec![Cell::default(); x.cols.len() * NB];
        for &i in rows {
            for (f, col) in x.cols.iter().enumerate() {
                h[f * NB + col[i as usize] as usize].add_grad(gh[i as usize]);
            }
        }
        h
    }

    fn assert_same(a: &[Cell], b: &[Cell]) {
        assert_eq!(a.len(), b.len());
        for (k, (p, q)) in a.iter().zip(b).enumerate() {
            assert_eq!(p.n, q.n, "cell {k}");
            assert!((p.g - q.g).abs() < 1e-9 && (p.h - q.h).abs() < 1e-9, "cell {k}: {p:?} vs {q:?}");
        }
    }

    #[test]
    fn parallel_histograms_equal_the_serial_definition() {
        // Several row blocks, a remainder of fewer than eight rows, scattered node rows.
        let n = 3 * ROW_BLOCK + 5;
        let (x, gh) = binned_table(n);
        let params = GbdtParams::default();
        let (nbins, is_cat) = (vec![2, 5, 255], vec![false; 3]);
        let grower = Grower::new(&params, &nbins, &is_cat);
        let all: Vec<u32> = (0..n as u32).collect();
        let allowed = vec![true; 3];
        assert_same(&grower.histogram(&x, &gh, &all, true, &allowed), &naive_histogram(&x, &gh, &all));
        assert_same(&histogram_rows(&x, &gh, &all), &naive_histogram(&x, &gh, &all));
        let some: Vec<u32> = (0..n as u32).filter(|i| i % 3 != 1).collect();
        assert_same(&grower.histogram(&x, &gh, &some, false, &allowed), &naive_histogram(&x, &gh, &some));
        let few: Vec<u32> = vec![4, 9, 10, 500];
        assert_same(&histogram_rows(&x, &gh, &few), &naive_histogram(&x, &gh, &few));
    }

    #[test]
    fn parallel_partition_is_the_stable_serial_one() {
        let col: Vec<u8> = (0..300_000).map(|i| ((i * 31 + i / 7) % 9) as u8).collect();
        let rule = Rule::Numeric { bin: 4, threshold: f64::NAN, missing_left: true };
        for n in [10usize, PARALLEL_MIN_ROWS - 1, 300_000] {
            let mut rows: Vec<u32> = (0..n as u32).map(|i| i * (300_000 / n as u32).max(1)).collect();
            rows.retain(|&i| (i as usize) < col.len());
            let left: Vec<u32> = rows.iter().copied().filter(|&i| Tree::goes_left(&rule, col[i as usize])).collect();
            let right: Vec<u32> = rows.iter().copied().filter(|&i| !Tree::goes_left(&rule, col[i as usize])).collect();
            let w = partition(&mut rows, &col, &rule, &mut Vec::new());
            assert_eq!(w, left.len());
            assert_eq!(&rows[..w], &left[..]);
            assert_eq!(&rows[w..], &right[..]);
        }
    }

    #[test]
    fn cuts_are_midpoints_and_bins_respect_them() {
        let cuts = numeric_cuts(&[1.0, 2.0, 2.0, 4.0, f64::NAN], None, 255);
        assert_eq!(cuts, vec![1.5, 3.0]);
        assert_eq!(FeatureBins::numeric_bin(&cuts, f64::NAN), 0);
        assert_eq!(FeatureBins::numeric_bin(&cuts, 1.0), 1);
        assert_eq!(FeatureBins::numeric_bin(&cuts, 1.5), 1);
        assert_eq!(FeatureBins::numeric_bin(&cuts, 2.0), 2);
        assert_eq!(FeatureBins::numeric_bin(&cuts, 9.0), 3);
        let many: Vec<f64> = (0..10_000).map(|i| i as f64).collect();
        let c = numeric_cuts(&many, None, 255);
        assert_eq!(c.len(), 254);
        assert!(c.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn a_stump_finds_the_threshold_and_the_leaf_values_by_hand() {
        // x < 5 never churns, x >= 5 always: one split at the cut between 4 and 5.
        let x: Vec<f64> = (0..100).map(|i| (i % 10) as f64).collect();
        let y: Vec<bool> = x.iter().map(|&v| v >= 5.0).collect();
        let ds = numeric_ds(vec![x]);
        let params =
            GbdtParams { max_trees: 1, max_leaves: 2, min_data_in_leaf: 1, learning_rate: 1.0, ..Default::default() };
        let (mut m, _) = Gbdt::fit(&ds, &y, None, &params, None).unwrap();
        fill_thresholds(&mut m);
        let root = &m.trees[0].nodes[0];
        let split = root.split.as_ref().unwrap();
        match split.rule {
            Rule::Numeric { threshold, .. } => assert_eq!(threshold, 4.5),
            _ => panic!(),
        }
        // Base score 0 (rate 0.5): p = 0.5, g = -0.5 for churners, h = 0.25.
        // Left leaf (50 non-churners): -G/(H+1) = -(25)/(12.5+1) = -1.85185...
        let left = &m.trees[0].nodes[split.left as usize];
        assert!((left.value - (-25.0 / 13.5)).abs() < 1e-6, "{}", left.value);
        let pred = m.predict_raw(&ds).unwrap();
        assert!(pred[9] > 0.0 && pred[0] < 0.0);
    }

    #[test]
    fn missing_values_learn_a_direction_and_contributions_add_up() {
        // Missing x behaves like large x (churn).
        let x: Vec<f64> = (0..400).map(|i| if i % 4 == 0 { f64::NAN } else { (i % 7) as f64 }).collect();
        let z: Vec<f64> = (0..400).map(|i| ((i * 31) % 11) as f64).collect();
        let y: Vec<bool> = x.iter().map(|&v| v.is_nan() || v >= 4.0).collect();
        let ds = numeric_ds(vec![x, z]);
        let (m, _) = Gbdt::fit(&ds, &y, None, &GbdtParams { max_trees: 30, ..Default::default() }, None).unwrap();
        let p = m.predict_raw(&ds).unwrap();
        assert!(p[0] > 0.0 && p[1] < 0.0);
        let bins = m.bin(&ds).unwrap();
        let (bias, c) = m.contributions_row(&bins[0..2]);
        assert!((bias + c.iter().sum::<f64>() - p[0]).abs() < 1e-9);
        assert!(c[0] > c[1].abs());
    }

    #[test]
    fn categorical_splits_group_levels() {
        let levels = vec!["a".to_string(), "b".into(), "c".into(), "d".into()];
        let codes: Vec<u32> = (0..400).map(|i| (i % 4) as u32).collect();
        let y: Vec<bool> = codes.iter().map(|&c| c == 1 || c == 3).collect();
        let ds = Dataset::new(
            vec![Feature { name: "plan".into(), kind: FeatureKind::Categorical { levels } }],
            vec![Column::Categorical(codes)],
            None,
        )
        .unwrap();
        let (m, _) = Gbdt::fit(&ds, &y, None, &GbdtParams { max_trees: 20, ..Default::default() }, None).unwrap();
        let p = m.predict_raw(&ds).unwrap();
        assert!(p[1] > 0.0 && p[3] > 0.0 && p[0] < 0.0 && p[2] < 0.0);
        assert_eq!(m.trees[0].nodes.len(), 3, "one split separates {{b,d}} from {{a,c}}");
    }

    #[test]
    fn early_stopping_keeps_the_best_iteration() {
        let n = 2000;
        let x: Vec<f64> = (0..n).map(|i| ((i * 7919) % 1000) as f64 / 1000.0).collect();
        let noise: Vec<f64> = (0..n).map(|i| ((i * 104_729) % 997) as f64).collect();
        let y: Vec<bool> = (0..n).map(|i| x[i] + (noise[i] / 997.0 - 0.5) > 0.5).collect();
        let ds = numeric_ds(vec![x, noise]);
        let tr: Vec<usize> = (0..1500).collect();
        let va: Vec<usize> = (1500..n).collect();
        let (a, b) = (ds.take(&tr), ds.take(&va));
        let (ya, yb): (Vec<bool>, Vec<bool>) = (tr.iter().map(|&i| y[i]).collect(), va.iter().map(|&i| y[i]).collect());
        let (m, log) = Gbdt::fit(&a, &ya, Some((&b, &yb)), &GbdtParams::default(), None).unwrap();
        assert_eq!(m.trees.len(), log.trees);
        assert!(log.trees < 1000);
        assert!(log.valid_log_loss.unwrap() < 0.69);
    }
}
