#!/usr/bin/env python3
"""Synthetic 'stand-in' churn feature table for the cvm-vs-LightGBM benchmark.

STAND-IN: this table is NOT the warehouse feature table. It exists only until the synthetic
operator generator + analytics run can produce the real one. It imitates its shape: one row per
subscriber, ~40 features (numeric with blanks, string categories), an ID column and a Yes/No
`churned` label with a known, planted nonlinear signal (thresholds and interactions).

usage: make_synthetic_churn.py OUT_DIR [--rows 1000000] [--test-rows 200000] [--seed 42]
writes OUT_DIR/train.csv and OUT_DIR/test.csv (same generator, disjoint rows).
"""
import argparse
import os

import numpy as np
import pandas as pd


def make(n, rng, start_id):
    d = {}
    d["subscriber_id"] = np.char.add("S", (np.arange(n) + start_id).astype(str))
    region = rng.choice([f"R{i:02d}" for i in range(12)], n)
    plan_type = rng.choice(["prepaid", "postpaid"], n, p=[0.6, 0.4])
    contract = rng.choice(["month-to-month", "one-year", "two-year"], n, p=[0.55, 0.25, 0.2])
    device_tier = rng.choice(["none", "low", "mid", "high"], n, p=[0.1, 0.4, 0.35, 0.15])
    payment = rng.choice(["cash", "bank", "card", "wallet"], n)
    channel = rng.choice(["hall", "online", "agent", "telesales", "partner"], n)
    tenure = rng.gamma(1.5, 18, n).clip(0, 180).round()
    arpu = rng.lognormal(3.7, 0.5, n).round(2)
    mou = (arpu * rng.lognormal(1.5, 0.6, n)).round(1)
    dou = rng.lognormal(7.5, 1.0, n).round(0)
    sms = rng.poisson(20, n).astype(float)
    recharge = rng.poisson(3, n).astype(float)
    complaints = rng.poisson(0.3, n).astype(float)
    cs_calls = rng.poisson(1.2, n).astype(float)
    dual_stop = np.where(rng.random(n) < 0.08, rng.integers(1, 30, n), 0).astype(float)
    arpu_chg = rng.normal(0, 0.25, n).round(3)
    mou_chg = (0.6 * arpu_chg + rng.normal(0, 0.25, n)).round(3)
    dou_chg = rng.normal(0, 0.3, n).round(3)
    age = rng.integers(16, 80, n).astype(float)
    handset_age = rng.gamma(2, 9, n).round()
    family = rng.poisson(1, n).astype(float)
    overage = np.maximum(0, rng.normal(-5, 10, n)).round(2)
    roaming = rng.exponential(2, n).round(2)
    port_out_req = (rng.random(n) < 0.02).astype(float)
    logit = (
        -2.4
        + 1.3 * (tenure < 6) + 0.5 * (tenure < 12) - 0.006 * tenure
        + 0.9 * (contract == "month-to-month") - 0.6 * (contract == "two-year")
        + 1.4 * np.tanh(-3 * arpu_chg)
        + 0.9 * ((complaints >= 2) & (cs_calls >= 3))
        + 1.6 * (dual_stop >= 7)
        + 0.7 * ((plan_type == "prepaid") & (arpu < 30))
        + 2.0 * port_out_req
        + 0.5 * np.sin(age / 8.0)
        + 0.4 * (device_tier == "none") - 0.3 * (device_tier == "high")
        + 0.3 * (handset_age > 30) * (overage > 5)
        + 0.25 * np.isin(region, ["R03", "R07", "R11"])
        - 0.2 * np.log1p(recharge)
    )
    churn = rng.random(n) < 1 / (1 + np.exp(-logit))
    cols = {
        "region": region, "plan_type": plan_type, "contract": contract,
        "device_tier": device_tier, "payment_method": payment, "sales_channel": channel,
        "tenure_months": tenure, "arpu": arpu, "mou": mou, "dou_mb": dou, "sms_count": sms,
        "recharge_count": recharge, "complaints_90d": complaints, "service_calls_90d": cs_calls,
        "dual_stop_days": dual_stop, "arpu_change_3m": arpu_chg, "mou_change_3m": mou_chg,
        "dou_change_3m": dou_chg, "age": age, "handset_age_months": handset_age,
        "family_members": family, "overage_yuan": overage, "roaming_yuan": roaming,
        "port_out_request": port_out_req,
    }
    d.update(cols)
    # Noise features with no signal (a real feature table has many of these).
    for i in range(16):
        d[f"usage_ratio_{i:02d}"] = rng.normal(0, 1, n).round(3)
    df = pd.DataFrame(d)
    # Blanks in numeric columns, as operators' exports have them.
    for c in ["arpu_change_3m", "mou_change_3m", "dou_change_3m", "age", "handset_age_months"]:
        df.loc[rng.random(n) < 0.05, c] = np.nan
    df["churned"] = np.where(churn, "Yes", "No")
    return df


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out_dir")
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--test-rows", type=int, default=200_000)
    ap.add_argument("--seed", type=int, default=42)
    a = ap.parse_args()
    os.makedirs(a.out_dir, exist_ok=True)
    rng = np.random.default_rng(a.seed)
    make(a.rows, rng, 0).to_csv(os.path.join(a.out_dir, "train.csv"), index=False)
    make(a.test_rows, rng, a.rows).to_csv(os.path.join(a.out_dir, "test.csv"), index=False)


if __name__ == "__main__":
    main()
