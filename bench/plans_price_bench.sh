#!/usr/bin/env bash
# Tariff engine benchmark: prices N subscribers under a 40-plan catalog.
#  1. in memory (crates/cvm-offers/examples/price_bench.rs): N x 40 bills, then plan fit
#     (minimum bill over 3 months) for N subscribers;
#  2. end to end: `cvm plans price` reading a usage CSV of N rows and writing N x 40 CSV
#     lines to /dev/null.
# Usage: bench/plans_price_bench.sh [N_MEMORY] [N_CLI]   (defaults 10000000 and 1000000)
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-$HOME/.cache/telco-cvm/venv}
DATA=${DATA:-$HOME/.cache/telco-cvm/bench}
TARGET=${CARGO_TARGET_DIR:-target}
N_MEM=${1:-10000000}
N_CLI=${2:-1000000}
mkdir -p "$DATA"
[ -s "$DATA/usage_$N_CLI.csv" ] || "$VENV/bin/python" bench/plans_gen.py "$DATA/plans40.csv" "$N_CLI" "$DATA/usage_$N_CLI.csv"
cargo build --release -p cvm-cli -p cvm-offers --example price_bench >&2
"$TARGET/release/examples/price_bench" "$N_MEM" "$DATA/plans40.csv"
start=$(date +%s.%N)
"$TARGET/release/cvm" plans price --plans "$DATA/plans40.csv" --usage "$DATA/usage_$N_CLI.csv" > /dev/null
end=$(date +%s.%N)
echo "cvm plans price: $N_CLI usage rows x 40 plans = $((N_CLI * 40)) CSV lines in $(echo "$end - $start" | bc) s"
