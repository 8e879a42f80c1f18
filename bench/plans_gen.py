#!/usr/bin/env python3
"""A plan catalog and monthly usage for the pricing benchmark (seeded, reproducible).

Usage: plans_gen.py PLANS_OUT.csv [N_SUBSCRIBERS USAGE_OUT.csv]
Writes a 40-plan catalog (20 prepaid, 20 postpaid, fees 8-398 yuan) in the `plans` format,
and optionally one month of usage for N subscribers in the `usage` pricing columns.
"""

import sys

import numpy as np

HEADER = ("plan_id,plan_name,brand,payment_type,monthly_fee,voice_min,data_mb,sms,voice_overage_per_min,"
          "data_overage_unit_mb,data_overage_per_unit,sms_overage_per_msg,min_tenure_months,vip,status")


def main() -> int:
    rng = np.random.default_rng(7)
    with open(sys.argv[1], "w") as f:
        f.write(HEADER + "\n")
        for i in range(40):
            pay = "prepaid" if i % 2 == 0 else "postpaid"
            fee = 8 + i * 10
            brand = "high_end" if fee >= 200 else ("youth" if i % 3 == 0 else "mass")
            unit = [1, 100, 1024][i % 3]
            per_unit = ["0.29", "1.00", "5.00"][i % 3]
            f.write(f"P{i:02},plan {i},{brand},{pay},{fee},{30 + i * 50},{512 * (i + 1)},{10 * i},0.{15 + i % 5},"
                    f"{unit},{per_unit},0.10,{0 if fee < 200 else 12},{'yes' if fee >= 300 else 'no'},"
                    f"{'retired' if i % 13 == 12 else 'on_sale'}\n")
    if len(sys.argv) > 3:
        n = int(sys.argv[2])
        with open(sys.argv[3], "w") as f:
            f.write("subscriber_id,month,voice_min,data_mb,sms\n")
            chunk = 1_000_000
            for start in range(0, n, chunk):
                m = min(chunk, n - start)
                ids = np.arange(start + 1, start + m + 1)
                v = rng.integers(0, 1500, m)
                d = rng.integers(0, 60000, m)
                s = rng.integers(0, 200, m)
                f.write("".join(f"{a},2026-03,{b},{c},{e}\n" for a, b, c, e in zip(ids, v, d, s)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
