#!/usr/bin/env bash
# Benchmark: `cvm churn train` (release build) vs LightGBM defaults on the same 1M-row x 40
# feature churn table and the same train/test split; prints times, AUCs and the ratio.
#
# The table is a seeded synthetic stand-in (bench/make_synthetic_churn.py) unless
# CHURN_TABLE_DIR names a folder with train.csv and test.csv (label `churned`, id
# `subscriber_id`), as bench/churn_generated_vs_lightgbm.sh makes from the generator's
# warehouse.
#
# usage: bench/churn_vs_lightgbm.sh [ROWS]   (default 1000000; test set is ROWS/5)
# env:   CVM_BENCH_DIR (data, default ~/.cache/telco-cvm/bench-data), CHURN_TABLE_DIR, CARGO_TARGET_DIR
set -euo pipefail
ROWS=${1:-1000000}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
CACHE=${HOME}/.cache/telco-cvm
VENV=$CACHE/venv
DATA=${CHURN_TABLE_DIR:-${CVM_BENCH_DIR:-$CACHE/bench-data}/synth-$ROWS}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$CACHE/target}

if ! "$VENV/bin/python" -c "import lightgbm, sklearn, numpy, pandas" 2>/dev/null; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet lightgbm scikit-learn numpy pandas
fi
if [[ ! -f $DATA/train.csv ]]; then
  echo "generating synthetic stand-in table ($ROWS rows) in $DATA" >&2
  "$VENV/bin/python" "$HERE/make_synthetic_churn.py" "$DATA" --rows "$ROWS" --test-rows $((ROWS / 5))
fi
(cd "$ROOT" && cargo build --release -q -p cvm-cli)
CVM=$CARGO_TARGET_DIR/release/cvm
MODEL=$(mktemp --suffix .json)
trap 'rm -f "$MODEL"' EXIT

echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
start=$(date +%s.%N)
# `train` reports read/train seconds on stderr; keep them.
cvm_log=$( { /usr/bin/time -f "cpu_s=%U" "$CVM" churn train --input "$DATA/train.csv" --label churned \
  --id subscriber_id --model "$MODEL" --format csv >/dev/null; } 2>&1 )
end=$(date +%s.%N)
cvm_auc=$("$CVM" churn evaluate --model "$MODEL" --input "$DATA/test.csv" --format csv | tail -n 1 | cut -d= -f2)
cvm_read=$(grep -o 'read [0-9.]*s' <<<"$cvm_log" | tr -dc '0-9.')
cvm_train=$(grep -o 'train [0-9.]*s' <<<"$cvm_log" | tr -dc '0-9.')
cvm_cpu=$(grep -o 'cpu_s=[0-9.]*' <<<"$cvm_log" | cut -d= -f2)
cvm_wall=$(echo "$end - $start" | bc)
lgb=$("$VENV/bin/python" "$HERE/lightgbm_train.py" "$DATA/train.csv" "$DATA/test.csv" churned Yes subscriber_id)
lgb_read=$(grep -o 'read_s=[0-9.]*' <<<"$lgb" | cut -d= -f2)
lgb_train=$(grep -o 'train_s=[0-9.]*' <<<"$lgb" | cut -d= -f2)
lgb_cpu=$(grep -o 'cpu_s=[0-9.]*' <<<"$lgb" | cut -d= -f2)
lgb_auc=$(grep -o 'auc=[0-9.]*' <<<"$lgb" | cut -d= -f2)

printf '%-22s %8s %9s %12s %9s\n' engine read_s train_s process_cpu test_auc
printf '%-22s %8s %9s %12s %9s\n' "cvm churn train" "$cvm_read" "$cvm_train" "$cvm_cpu" "$cvm_auc"
printf '%-22s %8s %9s %12s %9s\n' "LightGBM defaults" "$lgb_read" "$lgb_train" "$lgb_cpu" "$lgb_auc"
echo "cvm end-to-end wall (read + train + write model): ${cvm_wall}s"
echo "train time ratio LightGBM/cvm: $(echo "scale=2; $lgb_train / $cvm_train" | bc)x;  AUC difference cvm-LightGBM: $(echo "$cvm_auc - $lgb_auc" | bc)"
