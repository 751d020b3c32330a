#!/usr/bin/env bash
# Every benchmark in this directory, one after the other, on one release build, with sizes
# that take about 10 minutes on a 2-core machine; then one summary table of their results
# (Markdown, ready for the README's "Performance" section).
#
#   benches/all.sh
#   BENCH_TIMEOUT=SECONDS   per run of the one-file benchmarks (default 30): a quadratic
#                           build is cut short there instead of running for hours
#
# How to read it: each row is one script's "summary" line: the work, rekey's result, the
# peer measured in the same run, their ratio and the goal (issue 10). Read each script's
# header for what its peer does and does not do.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

export BENCH_TIMEOUT=${BENCH_TIMEOUT:-30}
find_rekey
export REKEY_BIN=$rekey
make_scratch

start=$(date +%s)
# run [NAME=VALUE...] SCRIPT [ARGS...]
run() {
  local settings=()
  while [[ $1 = *=* ]]; do
    settings+=("$1")
    shift
  done
  local script=$1
  shift
  echo "== ${settings[*]:+${settings[*]} }benches/$script $*"
  env "${settings[@]}" "$bench_dir/$script" "$@" 2>&1 | tee "$scratch/out"
  grep '^summary ' "$scratch/out" >>"$scratch/summary" || true
  echo
}
run scan-vs-ripgrep.sh 100000
run check-vs-ripgrep.sh 100000
run BENCH_RUNS=3 rotate-vs-sed.sh 5000
run check-staged.sh 100000
run peak-rss.sh 100000 150000
run sites-per-file.sh 10000 50000 150000
run scale.sh 30000 68000

echo "== summary ($(git -C "$bench_dir" rev-parse --short HEAD), $(nproc) cores, $(($(date +%s) - start)) s)"
echo "| work | rekey | peer | ratio | goal |"
echo "| --- | --- | --- | --- | --- |"
sed 's/^summary /| /; s/$/ |/' "$scratch/summary"
