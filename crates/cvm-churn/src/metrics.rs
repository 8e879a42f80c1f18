//! Evaluation of churn scores: ROC AUC, PR AUC, top-decile lift and capture, Brier, calibration.

use serde::{Deserialize, Serialize};

/// The headline metrics of a set of scores against labels.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    /// Rows evaluated.
    pub rows: usize,
    /// Share of churners.
    pub positive_rate: f64,
    /// Area under the ROC curve (ties count one half).
    pub roc_auc: f64,
    /// Average precision (area under the precision-recall curve, step-wise).
    pub pr_auc: f64,
    /// Churn rate in the top 10% of scores divided by the overall churn rate.
    pub top_decile_lift: f64,
    /// Share of all churners found in the top 10% of scores.
    pub top_decile_capture: f64,
    /// Mean squared error of the probabilities.
    pub brier: f64,
    /// Mean negative log-likelihood of the probabilities.
    pub log_loss: f64,
}

/// One row of the calibration table: a decile of scores, predicted vs observed churn.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CalibrationBin {
    /// 1 = highest scores.
    pub decile: usize,
    /// Rows in the decile.
    pub rows: usize,
    /// Mean predicted probability.
    pub predicted: f64,
    /// Observed churn rate.
    pub observed: f64,
}

/// Row order by descending score; equal scores keep row order so results are reproducible.
fn order_desc(scores: &[f64]) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..scores.len()).collect();
    idx.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(a.cmp(&b)));
    idx
}

/// ROC AUC by the rank-sum (Mann-Whitney) formula; tied scores get their average rank.
/// Returns 0.5 when one class is absent.
pub fn roc_auc(scores: &[f64], labels: &[bool]) -> f64 {
    let n = scores.len().min(labels.len());
    let pos = labels[..n].iter().filter(|&&l| l).count();
    let neg = n - pos;
    if pos == 0 || neg == 0 {
        return 0.5;
    }
    let mut idx: Vec<usize> = (0..n).collect();
    idx.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let mut rank_sum_pos = 0.0;
    let mut i = 0;
    while i < n {
        let mut j = i;
        while j + 1 < n && scores[idx[j + 1]] == scores[idx[i]] {
            j += 1;
        }
        // Ranks i+1 ..= j+1 share their average.
        let avg_rank = (i + j) as f64 / 2.0 + 1.0;
        let pos_here = idx[i..=j].iter().filter(|&&k| labels[k]).count();
        rank_sum_pos += avg_rank * pos_here as f64;
        i = j + 1;
    }
    (rank_sum_pos - (pos * (pos + 1)) as f64 / 2.0) / (pos as f64 * neg as f64)
}

/// Average precision: sum over score thresholds of (recall gained) x precision, tied scores
/// taken as one threshold (as scikit-learn's `average_precision_score`).
pub fn average_precision(scores: &[f64], labels: &[bool]) -> f64 {
    let n = scores.len().min(labels.len());
    let pos = labels[..n].iter().filter(|&&l| l).count();
    if pos == 0 {
        return 0.0;
    }
    let idx = order_desc(&scores[..n]);
    let (mut tp, mut seen, mut ap, mut i) = (0usize, 0usize, 0.0, 0usize);
    while i < n {
        let mut j = i;
        while j + 1 < n && scores[idx[j + 1]] == scores[idx[i]] {
            j += 1;
        }
        let tp_here = idx[i..=j].iter().filter(|&&k| labels[k]).count();
        tp += tp_here;
        seen += j - i + 1;
        if tp_here > 0 {
            ap += (tp_here as f64 / pos as f64) * (tp as f64 / seen as f64);
        }
        i = j + 1;
    }
    ap
}

/// Lift and capture in the top `fraction` of scores (rounded up to whole rows).
pub fn lift_capture(scores: &[f64], labels: &[bool], fraction: f64) -> (f64, f64) {
    let n = scores.len().min(labels.len());
    let pos = labels[..n].iter().filter(|&&l| l).count();
    if n == 0 || pos == 0 {
        return (0.0, 0.0);
    }
    let k = ((n as f64 * fraction).ceil() as usize).clamp(1, n);
    let idx = order_desc(&scores[..n]);
    let hits = idx[..k].iter().filter(|&&i| labels[i]).count();
    let rate_top = hits as f64 / k as f64;
    let rate_all = pos as f64 / n as f64;
    (rate_top / rate_all, hits as f64 / pos as f64)
}

/// Brier score: mean of (probability - outcome)^2.
pub fn brier(probs: &[f64], labels: &[bool]) -> f64 {
    let n = probs.len().min(labels.len());
    if n == 0 {
        return 0.0;
    }
    probs.iter().zip(labels).map(|(&p, &l)| (p - if l { 1.0 } else { 0.0 }).powi(2)).sum::<f64>() / n as f64
}

/// Mean log loss, probabilities clipped to [1e-15, 1 - 1e-15].
pub fn log_loss(probs: &[f64], labels: &[bool]) -> f64 {
    let n = probs.len().min(labels.len());
    if n == 0 {
        return 0.0;
    }
    probs
        .iter()
        .zip(labels)
        .map(|(&p, &l)| {
            let p = p.clamp(1e-15, 1.0 - 1e-15);
            if l { -p.ln() } else { -(1.0 - p).ln() }
        })
        .sum::<f64>()
        / n as f64
}

/// Calibration by score decile (decile 1 = the highest 10% of scores).
pub fn calibration(probs: &[f64], labels: &[bool]) -> Vec<CalibrationBin> {
    let n = probs.len().min(labels.len());
    let idx = order_desc(&probs[..n]);
    (0..10)
        .filter_map(|d| {
            let (lo, hi) = (d * n / 10, (d + 1) * n / 10);
            (hi > lo).then(|| {
                let rows = hi - lo;
                let predicted = idx[lo..hi].iter().map(|&i| probs[i]).sum::<f64>() / rows as f64;
                let observed = idx[lo..hi].iter().filter(|&&i| labels[i]).count() as f64 / rows as f64;
                CalibrationBin { decile: d + 1, rows, predicted, observed }
            })
        })
        .collect()
}

impl Metrics {
    /// All headline metrics of probabilities `probs` against `labels`.
    pub fn compute(probs: &[f64], labels: &[bool]) -> Metrics {
        let n = probs.len().min(labels.len());
        let (lift, capture) = lift_capture(probs, labels, 0.1);
        Metrics {
            rows: n,
            positive_rate: if n == 0 { 0.0 } else { labels[..n].iter().filter(|&&l| l).count() as f64 / n as f64 },
            roc_auc: roc_auc(probs, labels),
            pr_auc: average_precision(probs, labels),
            top_decile_lift: lift,
            top_decile_capture: capture,
            brier: brier(probs, labels),
            log_loss: log_loss(probs, labels),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EPS: f64 = 1e-12;

    #[test]
    fn auc_of_a_tiny_hand_computed_case() {
        // Positives scored 0.8, 0.4; negatives 0.6, 0.2. Pairs (pos > neg): (0.8,0.6) (0.8,0.2)
        // (0.4,0.2) win, (0.4,0.6) loses: 3 of 4.
        let s = [0.8, 0.6, 0.4, 0.2];
        let l = [true, false, true, false];
        assert!((roc_auc(&s, &l) - 0.75).abs() < EPS);
    }

    #[test]
    fn auc_counts_ties_as_half() {
        // One positive and one negative tied at 0.5, another negative below: (1 + 0.5) / 2.
        let s = [0.5, 0.5, 0.1];
        let l = [true, false, false];
        assert!((roc_auc(&s, &l) - 0.75).abs() < EPS);
        assert!((roc_auc(&[0.3, 0.3], &[true, false]) - 0.5).abs() < EPS);
        assert!((roc_auc(&[0.3, 0.3], &[true, true]) - 0.5).abs() < EPS);
    }

    #[test]
    fn average_precision_by_hand() {
        // Order 0.9(+) 0.8(-) 0.7(+) 0.1(-): precision at the two hits 1 and 2/3 -> (1 + 2/3)/2.
        let s = [0.9, 0.8, 0.7, 0.1];
        let l = [true, false, true, false];
        assert!((average_precision(&s, &l) - (1.0 + 2.0 / 3.0) / 2.0).abs() < EPS);
    }

    #[test]
    fn lift_capture_brier_and_calibration_by_hand() {
        // 20 rows, 4 churners; the top 10% (2 rows) are both churners: lift 1.0/0.2 = 5, capture 2/4.
        let mut s: Vec<f64> = (0..20).map(|i| 1.0 - i as f64 / 20.0).collect();
        s[0] = 0.99;
        let l: Vec<bool> = (0..20).map(|i| i < 2 || i == 10 || i == 15).collect();
        let (lift, cap) = lift_capture(&s, &l, 0.1);
        assert!((lift - 5.0).abs() < EPS && (cap - 0.5).abs() < EPS);
        assert!((brier(&[1.0, 0.0, 0.5], &[true, true, false]) - (0.0 + 1.0 + 0.25) / 3.0).abs() < EPS);
        let cal = calibration(&s, &l);
        assert_eq!(cal.len(), 10);
        assert_eq!(cal[0].rows, 2);
        assert!((cal[0].observed - 1.0).abs() < EPS);
        assert!((log_loss(&[0.5], &[true]) - std::f64::consts::LN_2).abs() < EPS);
    }
}
