#!/usr/bin/env python3
"""Reference frequent itemsets and association rules for `cvm basket` (mlxtend FP-growth).

Builds the product-holdings basket of the IBM Telco sample with pandas, mines it with
mlxtend's fpgrowth + association_rules at several minimum supports, and writes the expected
outputs that crates/cvm-cli/tests/basket_cli.rs compares `cvm basket` against:

    crates/cvm-offers/tests/fixtures/ibm_itemsets_s{S}.csv   itemset;support;count
    crates/cvm-offers/tests/fixtures/ibm_rules_s{S}_c{C}.csv antecedents,consequents,...

The basket is built here independently of the Rust reader, with the same documented rules
(cvm_offers::basket):
  - "Yes" -> the item named after the column (StreamingTV);
  - "No", "No internet service", "No phone service" -> no item (the product is not held);
  - InternetService "DSL" / "Fiber optic" -> items "InternetService=DSL",
    "InternetService=Fiber optic"; its "No" -> no item.
Itemsets are written as item names sorted and joined with ";".

Usage: $HOME/.cache/telco-cvm/venv/bin/python bench/basket_reference.py
(venv: python3 -m venv ...; pip install mlxtend pandas)
"""

import os
import sys

import mlxtend
import pandas as pd
from mlxtend.frequent_patterns import association_rules, fpgrowth

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
IBM = os.path.join(ROOT, "..", "shared", "data", "public", "ibm-telco-customer-churn.csv")
OUT = os.path.join(ROOT, "crates", "cvm-offers", "tests", "fixtures")

PRODUCTS = [
    "PhoneService",
    "MultipleLines",
    "InternetService",
    "OnlineSecurity",
    "OnlineBackup",
    "DeviceProtection",
    "TechSupport",
    "StreamingTV",
    "StreamingMovies",
]
SUPPORTS = [0.05, 0.1, 0.2]
MIN_CONFIDENCE = 0.5


def one_hot(df: pd.DataFrame, columns) -> pd.DataFrame:
    """One boolean column per item, by the rules in the module docstring."""
    items = {}
    for col in columns:
        values = df[col].astype(str)
        lower = values.str.lower()
        yes = lower.isin(["yes", "y", "true", "1"])
        no = lower.isin(["no", "n", "false", "0", ""]) | lower.str.startswith("no ")
        if yes.any():
            items[col] = yes
        for variant in sorted(values[~yes & ~no].unique()):
            items[f"{col}={variant}"] = values == variant
    return pd.DataFrame(items).astype(bool)


def names(itemset) -> str:
    return ";".join(sorted(itemset))


def main() -> int:
    df = pd.read_csv(IBM, dtype=str, keep_default_na=False)
    basket = one_hot(df, PRODUCTS)
    n = len(basket)
    print(f"mlxtend {mlxtend.__version__}, pandas {pd.__version__}: {n} baskets, items {list(basket.columns)}")
    os.makedirs(OUT, exist_ok=True)
    for s in SUPPORTS:
        fi = fpgrowth(basket, min_support=s, use_colnames=True)
        itemsets = pd.DataFrame(
            {
                "itemset": fi["itemsets"].map(names),
                "support": fi["support"],
                "count": (fi["support"] * n).round().astype(int),
            }
        ).sort_values(["itemset"])
        itemsets.to_csv(os.path.join(OUT, f"ibm_itemsets_s{s}.csv"), index=False, float_format="%.17g")
        rules = association_rules(fi, num_itemsets=n, metric="confidence", min_threshold=MIN_CONFIDENCE)
        out = pd.DataFrame(
            {
                "antecedents": rules["antecedents"].map(names),
                "consequents": rules["consequents"].map(names),
                "antecedent_support": rules["antecedent support"],
                "consequent_support": rules["consequent support"],
                "support": rules["support"],
                "confidence": rules["confidence"],
                "lift": rules["lift"],
            }
        ).sort_values(["antecedents", "consequents"])
        out.to_csv(
            os.path.join(OUT, f"ibm_rules_s{s}_c{MIN_CONFIDENCE}.csv"), index=False, float_format="%.17g"
        )
        print(f"min_support {s}: {len(itemsets)} itemsets, {len(out)} rules with confidence >= {MIN_CONFIDENCE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
