#!/usr/bin/env bash
# Benchmark (not a test): `cvm import` against DuckDB on the same generated CSV export.
#
#   bench/import_vs_duckdb.sh [SUBSCRIBERS ...]      default: 1000000 10000000
#   MONTHS=3 SEED=7 BENCH_DIR=... bench/import_vs_duckdb.sh 1000000
#
# Both read every table's CSV and write Parquet (Snappy), month-partitioned tables by month.
# cvm also checks every row (types, ranges, enums, dates, keys, duplicates, references, row
# rules) and keeps rejects; DuckDB only parses with its own type detection. Prints both
# times, the ratio, throughput and peak RSS. DuckDB comes from PyPI in a virtualenv outside
# the product.
set -euo pipefail
cd "$(dirname "$0")/.."
MONTHS="${MONTHS:-3}"
SEED="${SEED:-7}"
BENCH_DIR="${BENCH_DIR:-$HOME/.cache/telco-cvm/bench-data}"
VENV="${VENV:-$HOME/.cache/telco-cvm/venv}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/telco-cvm/target}"
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(1000000 10000000)

. bench/common.sh
ensure_duckdb
cargo build --release -q -p cvm-cli
CVM="$CARGO_TARGET_DIR/release/cvm"


for n in "${sizes[@]}"; do
  export_dir="$BENCH_DIR/export-$n-$MONTHS"
  if [ ! -f "$export_dir/truth/totals.json" ]; then
    echo "generating $n subscribers x $MONTHS months into $export_dir"
    /usr/bin/time -v -o "$BENCH_DIR/generate-$n.time" "$CVM" generate --subscribers "$n" --months "$MONTHS" --seed "$SEED" --out "$export_dir" >/dev/null
    echo "  generate: $(awk '/Elapsed/ {print $NF}' "$BENCH_DIR/generate-$n.time") wall, peak RSS $(peak_rss_mib "$BENCH_DIR/generate-$n.time") MiB"
  fi
  csv_bytes=$(du -cb "$export_dir"/*.csv | tail -1 | cut -f1)
  sync

  load=$(cut -d' ' -f1-3 /proc/loadavg)
  rm -rf "$BENCH_DIR/wh-cvm-$n"
  start=$(date +%s.%N)
  /usr/bin/time -v -o "$BENCH_DIR/import-$n.time" "$CVM" import "$export_dir" --warehouse "$BENCH_DIR/wh-cvm-$n" --format json >"$BENCH_DIR/import-$n.json"
  cvm_s=$(calc "$(date +%s.%N) - $start")

  rm -rf "$BENCH_DIR/wh-duckdb-$n"
  /usr/bin/time -v -o "$BENCH_DIR/duckdb-$n.time" "$VENV/bin/python" - "$export_dir" "$BENCH_DIR/wh-duckdb-$n" <<'PY' >"$BENCH_DIR/duckdb-$n.txt"
import sys, os, time, duckdb
src, dst = sys.argv[1], sys.argv[2]
os.makedirs(dst)
con = duckdb.connect()
partition = {"usage": "month", "events": "strftime(event_date, '%Y-%m')", "sales": "strftime(sale_date, '%Y-%m')"}
t0 = time.time()
for f in sorted(os.listdir(src)):
    if not f.endswith(".csv"):
        continue
    table = f[:-4]
    rel = f"read_csv('{src}/{f}', header = true)"
    if table in partition:
        expr = partition[table]
        con.execute(f"COPY (SELECT *, {expr} AS part_month FROM {rel}) TO '{dst}/{table}' "
                    f"(FORMAT parquet, COMPRESSION snappy, PARTITION_BY (part_month))")
    else:
        con.execute(f"COPY (SELECT * FROM {rel}) TO '{dst}/{table}.parquet' (FORMAT parquet, COMPRESSION snappy)")
print(f"{time.time() - t0:.2f}")
PY
  duck_s=$(cat "$BENCH_DIR/duckdb-$n.txt")
  rows=$("$VENV/bin/python" -c "import json,sys; s=json.load(open(sys.argv[1])); print(sum(t['read'] for t in s['tables']))" "$BENCH_DIR/import-$n.json")
  rejected=$("$VENV/bin/python" -c "import json,sys; s=json.load(open(sys.argv[1])); print(sum(t['rejected'] for t in s['tables']))" "$BENCH_DIR/import-$n.json")
  echo
  echo "== $n subscribers x $MONTHS months: $rows rows, $((csv_bytes / 1048576)) MiB of CSV ($(nproc) cores)"
  printf '  cvm import (validating): %7.2f s wall  %6.1f s CPU  %6.0f MiB/s  peak RSS %s MiB  rejected %s\n' "$cvm_s" "$(cpu_s "$BENCH_DIR/import-$n.time")" "$(calc "$csv_bytes / 1048576 / $cvm_s")" "$(peak_rss_mib "$BENCH_DIR/import-$n.time")" "$rejected"
  printf '  duckdb CSV -> Parquet:   %7.2f s wall  %6.1f s CPU  %6.0f MiB/s  peak RSS %s MiB\n' "$duck_s" "$(cpu_s "$BENCH_DIR/duckdb-$n.time")" "$(calc "$csv_bytes / 1048576 / $duck_s")" "$(peak_rss_mib "$BENCH_DIR/duckdb-$n.time")"
  printf '  ratio cvm/duckdb:        %7.2f wall  %6.2f CPU  (below 1 means cvm is faster)\n' "$(calc "$cvm_s / $duck_s")" "$(calc "$(cpu_s "$BENCH_DIR/import-$n.time") / $(cpu_s "$BENCH_DIR/duckdb-$n.time")")"
  echo "  machine load average before the run: $load"
done
