# Shared by the benchmark scripts: measurement helpers over `/usr/bin/time -v` output and the
# reference tools' virtualenv. Source it; it defines functions only.

# Peak resident set size in MiB from `/usr/bin/time -v` output files (the largest of them).
peak_rss_mib() { awk '/Maximum resident set size/ {if ($NF > m) m = $NF} END {printf "%.0f", m/1024}' "$@"; }
# Median of the numbers given.
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
# CPU seconds (user + system): steadier than wall time on a shared machine.
cpu_s() { awk -F': ' '/User time|System time/ {s += $2} END {printf "%.1f", s}' "$1"; }
# Arithmetic to two decimals.
calc() { python3 -c "print(f'{$1:.2f}')"; }
# Makes the virtualenv $VENV with DuckDB, outside the product's dependencies.
ensure_duckdb() {
  [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
  "$VENV/bin/python" -c 'import duckdb' 2>/dev/null || "$VENV/bin/pip" install -q duckdb
}
