#!/usr/bin/env bash
# Benchmark (not a test): the whole `cvm run` (features, value pyramid, lifecycle, k-means,
# segments and their validity) against DuckDB computing the same feature query alone, on the
# same warehouse Parquet files.
#
#   bench/run_vs_duckdb.sh [SUBSCRIBERS ...]          default: 1000000 10000000
#   MONTHS=3 AS_OF=2026-10 bench/run_vs_duckdb.sh 1000000
#
# The warehouse is made by `cvm import` of a generated export (bench/import_vs_duckdb.sh makes
# the same ones; they are reused when present). DuckDB runs the SQL `cvm run --print-sql`
# prints, with dates compared as days since 1970 written DuckDB's way, over views of the same
# Parquet files, and materialises the result (as cvm does). Prints both times, the ratio and
# peak RSS. DuckDB comes from PyPI in a virtualenv outside the product.
#
# Each size is measured REPEAT times (default 3), cvm and DuckDB taking turns; wall and CPU
# are medians, peak RSS the largest, and the ratio is that of the median walls: on this
# shared 2-core machine one DuckDB run of 10M took anywhere from 29 to 54 s (it holds ~18 GB
# and pushes the warehouse out of the page cache).
set -euo pipefail
cd "$(dirname "$0")/.."
MONTHS="${MONTHS:-3}"
SEED="${SEED:-7}"
AS_OF="${AS_OF:-2026-10}"
REPEAT="${REPEAT:-3}"
BENCH_DIR="${BENCH_DIR:-$HOME/.cache/telco-cvm/bench-data}"
VENV="${VENV:-$HOME/.cache/telco-cvm/venv}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/telco-cvm/target}"
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(1000000 10000000)

. bench/common.sh
ensure_duckdb
cargo build --release -q -p cvm-cli
CVM="$CARGO_TARGET_DIR/release/cvm"
mkdir -p "$BENCH_DIR"

# The DuckDB side, as a script file: it runs once per size and repetition.
cat >"$BENCH_DIR/duckdb-run.py" <<'PY'
import glob, re, sys, time, duckdb
wh, as_of, sql_path = sys.argv[1], sys.argv[2], sys.argv[3]
sql = open(sql_path).read()
# DataFusion compares dates as CAST(d AS INT) (days since 1970); DuckDB subtracts dates.
sql = re.sub(r"CAST\(([\w.]+) AS INT\)", r"(\1 - DATE '1970-01-01')", sql)
y, m = map(int, as_of.split("-"))
window = [f"{(y * 12 + m - 1 - k) // 12:04d}-{(y * 12 + m - 1 - k) % 12 + 1:02d}" for k in (2, 1, 0)]
con = duckdb.connect()
for t in ["subscribers", "plans", "devices", "holdings"]:
    con.execute(f"CREATE VIEW {t} AS SELECT * FROM read_parquet('{wh}/{t}/snapshot.parquet')")
usage = [f"{wh}/usage/month={m}/data.parquet" for m in window]
con.execute(f"CREATE VIEW usage AS SELECT * FROM read_parquet({usage!r})")
events = sorted(p for p in glob.glob(f"{wh}/events/month=*/data.parquet") if p.split("month=")[1][:7] <= as_of)
con.execute(f"CREATE VIEW events AS SELECT * FROM read_parquet({events!r})")
t0 = time.time()
# Materialised as a table, like cvm's result in memory (not written to disk).
con.execute(f"CREATE TABLE features AS {sql}")
rows = con.execute("SELECT count(*) FROM features").fetchone()[0]
print(f"{time.time() - t0:.2f} {rows}")
PY

for n in "${sizes[@]}"; do
  export_dir="$BENCH_DIR/export-$n-$MONTHS"
  wh="$BENCH_DIR/wh-cvm-$n"
  if [ ! -f "$export_dir/truth/totals.json" ]; then
    echo "generating $n subscribers x $MONTHS months into $export_dir"
    "$CVM" generate --subscribers "$n" --months "$MONTHS" --seed "$SEED" --out "$export_dir" >/dev/null
  fi
  if [ ! -d "$wh/subscribers" ]; then
    echo "importing into $wh"
    "$CVM" import "$export_dir" --warehouse "$wh" --format json >/dev/null
  fi
  "$CVM" run --warehouse "$wh" --as-of "$AS_OF" --print-sql >"$BENCH_DIR/features-$AS_OF.sql"
  sync

  load=$(cut -d' ' -f1-3 /proc/loadavg)
  cvm_times=(); duck_times=(); cvm_cpu=(); duck_cpu=(); cvm_files=(); duck_files=()
  for rep in $(seq "$REPEAT"); do
    cvm_files+=("$BENCH_DIR/run-$n-$rep.time"); duck_files+=("$BENCH_DIR/duckdb-run-$n-$rep.time")
    start=$(date +%s.%N)
    /usr/bin/time -v -o "$BENCH_DIR/run-$n-$rep.time" "$CVM" run --warehouse "$wh" --as-of "$AS_OF" --format json >"$BENCH_DIR/run-$n.json" 2>"$BENCH_DIR/run-$n.log"
    cvm_times+=("$(calc "$(date +%s.%N) - $start")"); cvm_cpu+=("$(cpu_s "$BENCH_DIR/run-$n-$rep.time")")
    /usr/bin/time -v -o "$BENCH_DIR/duckdb-run-$n-$rep.time" "$VENV/bin/python" "$BENCH_DIR/duckdb-run.py" "$wh" "$AS_OF" "$BENCH_DIR/features-$AS_OF.sql" >"$BENCH_DIR/duckdb-run-$n.txt"
    read -r duck_s duck_rows <"$BENCH_DIR/duckdb-run-$n.txt"
    duck_times+=("$duck_s"); duck_cpu+=("$(cpu_s "$BENCH_DIR/duckdb-run-$n-$rep.time")")
  done
  cvm_s=$(median "${cvm_times[@]}"); duck_s=$(median "${duck_times[@]}")
  cvm_rows=$("$VENV/bin/python" -c "import json,sys; print(json.load(open(sys.argv[1]))[0]['subscribers'])" "$BENCH_DIR/run-$n.json")
  echo
  echo "== $n subscribers, run as of $AS_OF ($(nproc) cores), median of $REPEAT runs each, taking turns"
  printf '  cvm run (whole run):        %7.2f s wall  (runs: %s)  %6.1f s CPU  peak RSS %s MiB  rows %s\n' "$cvm_s" "${cvm_times[*]}" "$(median "${cvm_cpu[@]}")" "$(peak_rss_mib "${cvm_files[@]}")" "$cvm_rows"
  sed 's/^/    /' "$BENCH_DIR/run-$n.log"
  printf '  duckdb feature query alone: %7.2f s wall  (runs: %s)  %6.1f s CPU  peak RSS %s MiB  rows %s\n' "$duck_s" "${duck_times[*]}" "$(median "${duck_cpu[@]}")" "$(peak_rss_mib "${duck_files[@]}")" "$duck_rows"
  printf '  ratio cvm/duckdb:           %7.2f wall  (below 1 means the whole cvm run is faster than the query alone)\n' "$(calc "$cvm_s / $duck_s")"
  echo "  machine load average before the runs: $load"
done
