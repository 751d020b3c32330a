#!/usr/bin/env bash
# Memory: peak resident set size (GNU `/usr/bin/time -v`, "Maximum resident set size") of
# `rekey scan` and `rekey check` on the generated monorepo-like tree, next to rg's on the
# same tree, of `rekey rotate --write` on one file holding SITES sites (.env, YAML,
# minified JSON: the files sites-per-file.sh builds), and of hostile trees that would add
# up without rekey's memory budget: six such YAML files (refused: more than a run holds),
# 30 files of 7.5 MB holding one site each, twelve md5 lists of 160,000 distinct 32-hex
# strings (strays past the budget: not judged, check fails).
#
#   benches/peak-rss.sh [FILES] [SITES]    (default 100000 files, 150000 sites)
#   BENCH_TIMEOUT=SECONDS                  per rotate run (default 600); a run killed at
#                                           the limit reports the peak it had reached (>=)
#
# Tree commands run BENCH_RUNS alternating rounds (default 3) and report medians; each
# rotate runs once on a fresh copy.
#
# How to read it: rekey holds every candidate file's sites, the token sweep's findings and
# its output in memory, rg streams; the goal is <= 64 MiB for scan and check at 1M files.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

files=${1:-100000}
sites=${2:-150000}
limit=${BENCH_TIMEOUT:-600}
runs=${BENCH_RUNS:-3}
keep_going=1
setup_tree "$files"
eval "$(generate tokens)"
export NEW_TOKEN=$NEW

rekey_scan=("$rekey" scan --format json .)
rg_scan=("${rg_walk[@]}" -l -F "${key_args[@]}" .)
rekey_check=("$rekey" check --format json .)
rg_check=("${rg_walk[@]}" -l -e '[0-9a-fA-F]{32}' "${key_args[@]}" .)
race rekey_scan rg_scan
race rekey_check rg_check

cd "$scratch"
declare -A file=([env]=sites.env [yaml]=sites.yaml [json]=sites.json)
declare -A outcome=() rss=() hostile_status=()
for form in env yaml json; do
  mkdir -p "pristine-$form"
  generate sites "pristine-$form/${file[$form]}" "$form" "$sites"
  rm -rf work
  cp -a "pristine-$form" work
  sync
  measure "rotate_$form" timeout "$limit" "$rekey" rotate --new-token-env NEW_TOKEN --write --format json work
  rss[$form]="$(rss_mib "rotate_$form") MiB"
  case $last_status in
    0) outcome[$form]="$(wall_ms "rotate_$form") ms" ;;
    124) outcome[$form]="killed at $limit s" rss[$form]=">= ${rss[$form]}" ;;
    *) outcome[$form]="failed (exit $last_status)" rss[$form]="-" ;;
  esac
done

# Hostile trees: the peak, and the exit status (2: refused; 1: check failed closed).
mkdir -p hostile-multi hostile-padded hostile-md5
for i in 1 2 3 4 5 6; do cp "pristine-yaml/${file[yaml]}" "hostile-multi/sites-$i.yaml"; done
for i in $(seq 1 30); do generate sites "hostile-padded/large-$i.env" padded 130000; done
for i in $(seq 1 12); do generate sites "hostile-md5/list-$i.md5" md5 160000; done
declare -A hostile=([multi]="rotate --new-token-env NEW_TOKEN --write --format json"
  [padded]="rotate --new-token-env NEW_TOKEN --format json" [md5]="check --format json")
for case in multi padded md5; do
  rm -rf work
  cp -a "hostile-$case" work
  # shellcheck disable=SC2086 # the command's words
  measure "hostile_$case" timeout "$limit" "$rekey" ${hostile[$case]} work
  hostile_status[$case]=$last_status
done

row() { printf '%-50s %10s   %s\n' "$1" "$2" "$3"; }
echo "peak RSS (medians of $runs for the tree; one run per rotate):"
row "rekey scan --format json, $files files" "$(rss_mib rekey_scan) MiB" "$(wall_ms rekey_scan) ms"
row "rg -l -F (7 key names), same tree" "$(rss_mib rg_scan) MiB" "$(wall_ms rg_scan) ms"
row "rekey check --format json, same tree" "$(rss_mib rekey_check) MiB" "$(wall_ms rekey_check) ms"
row "rg -l (hex regex + names), same tree" "$(rss_mib rg_check) MiB" "$(wall_ms rg_check) ms"
for form in env yaml json; do
  row "rekey rotate --write, one $form file, $sites sites" "${rss[$form]}" "${outcome[$form]}"
done
for case in multi padded md5; do
  row "rekey ${hostile[$case]%% *}, hostile $case tree" "$(rss_mib "hostile_$case") MiB" \
    "exit ${hostile_status[$case]}, $(wall_ms "hostile_$case") ms"
done
summary "peak RSS, scan of $files files" "$(rss_mib rekey_scan) MiB" "rg $(rss_mib rg_scan) MiB" \
  "$(ratio "$(median rekey_scan 4)" "$(median rg_scan 4)")" "<= 64 MiB at 1M files"
summary "peak RSS, check of $files files" "$(rss_mib rekey_check) MiB" "rg $(rss_mib rg_check) MiB" \
  "$(ratio "$(median rekey_check 4)" "$(median rg_check 4)")" "<= 64 MiB at 1M files"
for form in env yaml json; do
  summary "peak RSS, rotate --write, one $form file of $sites sites" \
    "${rss[$form]} (${outcome[$form]})" "-" "-" "<= 256 MiB"
done
summary "peak RSS, rotate --write, six YAML files of $sites sites" \
  "$(rss_mib hostile_multi) MiB (exit ${hostile_status[multi]})" "-" "-" "<= 256 MiB"
summary "peak RSS, rotate, 30 files of 7.5 MB with a site each" \
  "$(rss_mib hostile_padded) MiB (exit ${hostile_status[padded]})" "-" "-" "<= 256 MiB"
summary "peak RSS, check, twelve md5 lists of 160000 strings" \
  "$(rss_mib hostile_md5) MiB (exit ${hostile_status[md5]})" "-" "-" "<= 256 MiB"
