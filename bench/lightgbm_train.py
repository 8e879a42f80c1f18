#!/usr/bin/env python3
"""LightGBM side of bench/churn_vs_lightgbm.sh: default LGBMClassifier on the same CSVs.

Categorical string columns become pandas categories (LightGBM's native categorical handling),
the id column is dropped, blanks stay missing. Prints one line:
  lightgbm read_s=.. train_s=.. cpu_s=.. auc=..
usage: lightgbm_train.py TRAIN.csv TEST.csv LABEL POSITIVE ID
"""
import sys
import time

import lightgbm as lgb
import pandas as pd
from sklearn.metrics import roc_auc_score


def load(path, label, positive, id_col, cats=None):
    df = pd.read_csv(path)
    y = (df[label].astype(str) == positive).astype(int).to_numpy()
    x = df.drop(columns=[label, id_col])
    cats = cats or {c: sorted(x[c].dropna().unique()) for c in x.columns if not pd.api.types.is_numeric_dtype(x[c])}
    for c, levels in cats.items():
        x[c] = pd.Categorical(x[c], categories=levels)
    return x, y, cats


def main():
    train, test, label, positive, id_col = sys.argv[1:6]
    t0 = time.perf_counter()
    x, y, cats = load(train, label, positive, id_col)
    t1 = time.perf_counter()
    c0 = time.process_time()
    model = lgb.LGBMClassifier(verbose=-1).fit(x, y)
    t2 = time.perf_counter()
    c1 = time.process_time()
    xt, yt, _ = load(test, label, positive, id_col, cats)
    auc = roc_auc_score(yt, model.predict_proba(xt)[:, 1])
    print(f"lightgbm read_s={t1 - t0:.2f} train_s={t2 - t1:.2f} cpu_s={c1 - c0:.2f} auc={auc:.4f}")


if __name__ == "__main__":
    main()
