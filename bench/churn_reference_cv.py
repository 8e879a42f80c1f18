#!/usr/bin/env python3
"""Reproduces the reference 5-fold stratified ROC AUC of logistic regression and default
LightGBM on the public data (../shared/data/public), for comparison with `cvm churn cv`.

Setting as in SOURCES.md: one-hot encoding, ID columns dropped, default parameters. The
folds are scikit-learn's StratifiedKFold(shuffle=True) with the given seeds, so the numbers
move by about +-0.003 from seed to seed; `cvm churn cv` uses its own seeded folds.

usage: churn_reference_cv.py [DATA_DIR] [--seeds 0,1,2]
"""
import argparse
import os
import warnings

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

warnings.filterwarnings("ignore")


def prep(df, label, positive, drop):
    y = (df[label].astype(str).str.strip() == positive).astype(int).to_numpy()
    x = df.drop(columns=[label] + drop)
    for c in x.columns:
        if not pd.api.types.is_numeric_dtype(x[c]):
            s = x[c].astype(str).str.strip().replace("", np.nan)
            num = pd.to_numeric(s, errors="coerce")
            if num.notna().sum() == s.notna().sum():
                x[c] = num
    x = pd.get_dummies(x, dtype=float)
    return x, y


def cv(x, y, seed):
    out = {"logistic regression": [], "logistic regression (scaled)": [], "LightGBM defaults": []}
    for tr, te in StratifiedKFold(5, shuffle=True, random_state=seed).split(x, y):
        xtr, xte = x.iloc[tr], x.iloc[te]
        med = xtr.median()
        lr = LogisticRegression(max_iter=5000).fit(xtr.fillna(med), y[tr])
        out["logistic regression"].append(roc_auc_score(y[te], lr.predict_proba(xte.fillna(med))[:, 1]))
        lrs = make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000)).fit(xtr.fillna(med), y[tr])
        out["logistic regression (scaled)"].append(roc_auc_score(y[te], lrs.predict_proba(xte.fillna(med))[:, 1]))
        gb = lgb.LGBMClassifier(verbose=-1).fit(xtr, y[tr])
        out["LightGBM defaults"].append(roc_auc_score(y[te], gb.predict_proba(xte)[:, 1]))
    return {k: np.mean(v) for k, v in out.items()}


def main():
    ap = argparse.ArgumentParser()
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("data_dir", nargs="?", default=os.path.join(here, "..", "..", "shared", "data", "public"))
    ap.add_argument("--seeds", default="0,1,2")
    a = ap.parse_args()
    d = a.data_dir
    ibm = pd.read_csv(os.path.join(d, "ibm-telco-customer-churn.csv"))
    big = pd.concat([pd.read_csv(os.path.join(d, f)) for f in ("bigml-churn-80.csv", "bigml-churn-20.csv")])
    sets = {
        "IBM Telco": prep(ibm, "Churn", "Yes", ["customerID"]),
        "BigML 80+20": prep(big, "Churn", "True", []),
    }
    for name, (x, y) in sets.items():
        for seed in [int(s) for s in a.seeds.split(",")]:
            r = cv(x, y, seed)
            print(f"{name:12s} seed {seed}: " + "  ".join(f"{k} {v:.4f}" for k, v in r.items()))


if __name__ == "__main__":
    main()
