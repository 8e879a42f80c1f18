#!/usr/bin/env python3
"""Random but correlated product holdings for the basket benchmark (seeded, reproducible).

Writes a one-row-per-customer CSV: `customer_id` and 16 product columns of 0/1. Customers
fall into latent segments (young data users, families, business, seniors) that raise or
lower each product's probability, and some products depend on others (IPTV and fibre on
broadband, data packs on mobile), so the data has real association rules.

Usage: basket_gen.py N OUT.csv [SEED]
"""

import sys

import numpy as np

PRODUCTS = [
    "mobile", "broadband", "fibre", "iptv", "fixed_line", "family_plan", "group_vpn", "data_pack",
    "premium_number", "video_pack", "music_pack", "cloud_storage", "security", "smart_home", "roaming",
    "insurance",
]
# Probability of each product by segment (rows: young, family, business, senior).
BASE = np.array([
    [0.98, 0.35, 0.15, 0.10, 0.05, 0.10, 0.02, 0.55, 0.05, 0.45, 0.40, 0.20, 0.10, 0.05, 0.10, 0.03],
    [0.95, 0.80, 0.45, 0.55, 0.40, 0.60, 0.05, 0.25, 0.05, 0.30, 0.10, 0.25, 0.30, 0.25, 0.08, 0.20],
    [0.99, 0.60, 0.40, 0.15, 0.50, 0.10, 0.60, 0.40, 0.30, 0.10, 0.05, 0.45, 0.40, 0.05, 0.45, 0.15],
    [0.90, 0.45, 0.10, 0.40, 0.70, 0.20, 0.01, 0.05, 0.02, 0.05, 0.02, 0.03, 0.05, 0.02, 0.02, 0.25],
])
SEGMENT_SHARE = [0.35, 0.35, 0.10, 0.20]


def main() -> int:
    n = int(sys.argv[1])
    out = sys.argv[2]
    seed = int(sys.argv[3]) if len(sys.argv) > 3 else 20260101
    rng = np.random.default_rng(seed)
    with open(out, "wb") as f:
        f.write(("customer_id," + ",".join(PRODUCTS) + "\n").encode())
        chunk = 1_000_000
        for start in range(0, n, chunk):
            m = min(chunk, n - start)
            seg = rng.choice(4, size=m, p=SEGMENT_SHARE)
            held = rng.random((m, len(PRODUCTS))) < BASE[seg]
            bb = PRODUCTS.index("broadband")
            held[:, PRODUCTS.index("fibre")] &= held[:, bb]
            held[:, PRODUCTS.index("iptv")] &= held[:, bb] | (rng.random(m) < 0.05)
            held[:, PRODUCTS.index("smart_home")] &= held[:, bb]
            held[:, PRODUCTS.index("data_pack")] &= held[:, PRODUCTS.index("mobile")]
            # Rows as bytes: 10-digit zero-padded id, then ",0" / ",1" per product, newline.
            ids = np.arange(start + 1, start + m + 1, dtype=np.int64)
            digits = (ids[:, None] // (10 ** np.arange(9, -1, -1, dtype=np.int64))) % 10 + ord("0")
            cells = np.empty((m, 2 * len(PRODUCTS)), dtype=np.uint8)
            cells[:, 0::2] = ord(",")
            cells[:, 1::2] = held.astype(np.uint8) + ord("0")
            row = np.concatenate([digits.astype(np.uint8), cells, np.full((m, 1), ord("\n"), np.uint8)], axis=1)
            f.write(row.tobytes())
    return 0


if __name__ == "__main__":
    sys.exit(main())
