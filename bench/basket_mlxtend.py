#!/usr/bin/env python3
"""mlxtend's side of bench/basket_vs_mlxtend.sh: read a 0/1 holdings CSV, FP-growth, rules.

Prints one line: seconds to read, seconds for fpgrowth, seconds for association_rules,
and the numbers of itemsets and rules (to check both sides found the same).

Usage: basket_mlxtend.py FILE.csv ID_COLUMN MIN_SUPPORT MIN_CONFIDENCE
"""

import sys
import time

import pandas as pd
from mlxtend.frequent_patterns import association_rules, fpgrowth


def main() -> int:
    path, id_col, s, c = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
    t0 = time.perf_counter()
    df = pd.read_csv(path).drop(columns=[id_col]).astype(bool)
    t1 = time.perf_counter()
    fi = fpgrowth(df, min_support=s, use_colnames=True)
    t2 = time.perf_counter()
    rules = association_rules(fi, num_itemsets=len(df), metric="confidence", min_threshold=c)
    t3 = time.perf_counter()
    print(
        f"mlxtend: read {t1 - t0:.2f} s, fpgrowth {t2 - t1:.2f} s, rules {t3 - t2:.2f} s; "
        f"{len(fi)} itemsets, {len(rules)} rules"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
