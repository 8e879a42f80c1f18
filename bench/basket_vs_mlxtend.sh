#!/usr/bin/env bash
# Association-rule mining: `cvm basket rules` (release build) vs mlxtend FP-growth on the
# same CSV of N random-but-correlated baskets (bench/basket_gen.py, seeded).
#
# Usage: bench/basket_vs_mlxtend.sh [N ...]            (default: 1000000 10000000)
# Env:   MIN_SUPPORT (0.05), MIN_CONFIDENCE (0.5), MLXTEND_TIMEOUT seconds (3600),
#        VENV ($HOME/.cache/telco-cvm/venv, with mlxtend and pandas),
#        DATA ($HOME/.cache/telco-cvm/bench), CARGO_TARGET_DIR (./target).
# Prints, per N: wall time and peak memory of each side, the ratio, and the itemset/rule
# counts of both (which must agree).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-$HOME/.cache/telco-cvm/venv}
DATA=${DATA:-$HOME/.cache/telco-cvm/bench}
S=${MIN_SUPPORT:-0.05}
C=${MIN_CONFIDENCE:-0.5}
TIMEOUT=${MLXTEND_TIMEOUT:-3600}
TARGET=${CARGO_TARGET_DIR:-target}
SIZES=("$@")
[ ${#SIZES[@]} -eq 0 ] && SIZES=(1000000 10000000)
mkdir -p "$DATA"
cargo build --release -p cvm-cli >&2
CVM="$TARGET/release/cvm"

now() { date +%s.%N; }
for N in "${SIZES[@]}"; do
  CSV="$DATA/baskets_$N.csv"
  [ -s "$CSV" ] || "$VENV/bin/python" bench/basket_gen.py "$N" "$CSV"
  echo "== $N baskets ($(du -h "$CSV" | cut -f1)), min support $S, min confidence $C"

  t0=$(now)
  CVM_LOG=cvm=info /usr/bin/time -f "%M" -o "$DATA/cvm.rss" "$CVM" basket rules --input "$CSV" --id customer_id \
    --min-support "$S" --min-confidence "$C" --format csv > "$DATA/cvm_rules.csv" 2> "$DATA/cvm.log"
  t1=$(now)
  cvm_s=$(echo "$t1 - $t0" | bc)
  cvm_rules=$(( $(wc -l < "$DATA/cvm_rules.csv") - 1 ))
  # The log may carry colour codes; strip them before looking for the counts.
  cvm_itemsets=$(sed 's/\x1b\[[0-9;]*m//g' "$DATA/cvm.log" | grep -o 'itemsets=[0-9]*' | head -1 | cut -d= -f2 || true)
  echo "cvm:     ${cvm_s} s, peak $(( $(cat "$DATA/cvm.rss") / 1024 )) MiB; ${cvm_itemsets} itemsets, ${cvm_rules} rules"

  t0=$(now)
  if timeout "$TIMEOUT" /usr/bin/time -f "%M" -o "$DATA/py.rss" "$VENV/bin/python" bench/basket_mlxtend.py "$CSV" customer_id "$S" "$C" \
      > "$DATA/py.log" 2>&1; then
    t1=$(now)
    py_s=$(echo "$t1 - $t0" | bc)
    echo "$(cat "$DATA/py.log"), peak $(( $(cat "$DATA/py.rss") / 1024 )) MiB"
    echo "mlxtend total: ${py_s} s"
    echo "ratio mlxtend/cvm: $(echo "scale=1; $py_s / $cvm_s" | bc)x"
  else
    rc=$?
    echo "mlxtend did not finish (exit $rc; 124 = timeout after ${TIMEOUT} s): $(tail -3 "$DATA/py.log" | tr '\n' ' ')"
  fi
done
