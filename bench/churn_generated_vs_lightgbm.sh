#!/usr/bin/env bash
# Benchmark (not a test): the churn model on the generator's real features.
#
#   bench/churn_generated_vs_lightgbm.sh [SUBSCRIBERS]        default 1000000
#
# 1. Generates SUBSCRIBERS x 6 months (2026-05..2026-10), imports it, and trains
#    `cvm churn train --warehouse` on history (features as of 07 and 08, labels: left the network
#    the month after), tested on features as of 09 (label: left in 10), beside the AUC of the
#    generator's planted churn probability on the same rows (the best any model can do).
# 2. Writes the run's feature tables as of 08 (train) and 09 (test) with their labels to CSV
#    and runs bench/churn_vs_lightgbm.sh on them: `cvm churn train` against LightGBM defaults
#    on the same rows.
set -euo pipefail
N=${1:-1000000}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
CACHE=$HOME/.cache/telco-cvm
VENV=$CACHE/venv
BENCH_DIR=${CVM_BENCH_DIR:-$CACHE/bench-data}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$CACHE/target}
(cd "$ROOT" && cargo build --release -q -p cvm-cli)
CVM=$CARGO_TARGET_DIR/release/cvm
EXPORT=$BENCH_DIR/export-$N-6
WH=$BENCH_DIR/wh-churn-$N-6
TABLE=$BENCH_DIR/churn-table-$N
[ -f "$EXPORT/truth/totals.json" ] || "$CVM" generate --subscribers "$N" --months 6 --seed 21 --out "$EXPORT" >/dev/null
[ -d "$WH/subscribers" ] || "$CVM" import "$EXPORT" --warehouse "$WH" >/dev/null

echo "== cvm churn train --warehouse ($N subscribers; machine load $(cut -d' ' -f1-3 /proc/loadavg))"
/usr/bin/time -f "wall %e s, peak RSS %M KiB" "$CVM" churn train --warehouse "$WH" --as-of 2026-10 --planted "$EXPORT/truth/churn.csv"

echo
echo "== the same features as CSV: cvm churn train vs LightGBM"
mkdir -p "$TABLE"
for m in 2026-08 2026-09; do "$CVM" run --warehouse "$WH" --as-of "$m" --format json >/dev/null 2>&1; done
"$VENV/bin/python" - "$WH" "$TABLE" <<'PY'
import sys, duckdb
wh, out = sys.argv[1], sys.argv[2]
con = duckdb.connect()
for name, month, nxt in [("train", "2026-08", "2026-09"), ("test", "2026-09", "2026-10")]:
    con.execute(f"""
      COPY (
        SELECT f.* EXCLUDE (left_network, value, value_tier, lifecycle_group, cluster),
               CASE WHEN s.status = 'closed' AND strftime(s.status_since, '%Y-%m') = '{nxt}'
                    THEN 'Yes' ELSE 'No' END AS churned
        FROM read_parquet('{wh}/runs/{month}/features.parquet') f
        JOIN read_parquet('{wh}/subscribers/snapshot.parquet') s USING (subscriber_id)
        WHERE NOT f.left_network
      ) TO '{out}/{name}.csv' (HEADER)""")
    n, pos = con.execute(f"SELECT count(*), sum(CASE WHEN churned = 'Yes' THEN 1 ELSE 0 END) FROM read_csv('{out}/{name}.csv')").fetchone()
    print(f"{name}.csv: {n} rows, {pos} churners, features as of {month}, label: left in {nxt}")
PY
CHURN_TABLE_DIR=$TABLE "$HERE/churn_vs_lightgbm.sh"
