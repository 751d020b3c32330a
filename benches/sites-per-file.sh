#!/usr/bin/env bash
# Linearity: one generated file holding 10,000 / 50,000 / 150,000 sites of one token, as a
# .env file, a multi-document YAML stream and one line of minified JSON; `rekey scan
# --format json` and `rekey rotate --write` (on a fresh copy each run) timed on each.
# Also `check` of one checksum list with as many distinct 32-hex strings (token-shaped, not
# sites: the sweep decodes and remembers each one; `scan` does not sweep).
#
#   benches/sites-per-file.sh [SIZES...]   (default 10000 50000 150000; the largest file
#                                           must stay under rekey's 8 MiB parse limit)
#   BENCH_TIMEOUT=SECONDS                  per run (default 120): a run that exceeds it
#                                           is reported as "> SECONDS s" and the larger
#                                           sizes of that row are not tried
#
# Rounds alternate the sizes and commands; medians of BENCH_RUNS rounds (default 3). A run
# over 10 s is not repeated: noise is small against it.
#
# How to read it: "µs/site" is wall time over sites; the ratio of the largest size's
# per-site time to the smallest's must stay near 1 (linear; below 1 as process start-up
# spreads out). A ratio that grows with the size range (about 15 for 150k/10k) is quadratic.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

if [ $# -gt 0 ]; then sizes=("$@"); else sizes=(10000 50000 150000); fi
limit=${BENCH_TIMEOUT:-120}
runs=${BENCH_RUNS:-3}
need time python3
find_rekey
make_scratch
eval "$(generate tokens)"
export NEW_TOKEN=$NEW
cd "$scratch"

forms=(env yaml json md5)
declare -A file=([env]=sites.env [yaml]=sites.yaml [json]=sites.json [md5]=checksums.md5)
for form in "${forms[@]}"; do
  for n in "${sizes[@]}"; do
    mkdir -p "pristine/$form-$n"
    generate sites "pristine/$form-$n/${file[$form]}" "$form" "$n"
  done
done

source_dir=
prepare() {
  rm -rf work
  cp -a "$source_dir" work
  sync
}

# done[LABEL]: "slow" (measured once, over 10 s), "timeout" (over the limit) or
# "failed (exit N)" (a crash: reported in the table, the other sizes still measured).
keep_going=1
declare -A done=()
# run_size FORM COMMAND N: one measured run of a row's size unless that size is done.
run_size() {
  local form=$1 command=$2 n=$3 label="${1}_${2}_${3}" m
  [ -z "${done[$label]:-}" ] || return 0
  source_dir=pristine/$form-$n
  if [ "$command" = scan ]; then
    # The checksum list holds no site: `check` is what sweeps it.
    local listing=scan
    [ "$form" != md5 ] || listing=check
    measure "$label" timeout "$limit" "$rekey" "$listing" --format json "$source_dir"
  else
    prepare
    measure "$label" timeout "$limit" "$rekey" rotate --new-token-env NEW_TOKEN --write --format json work
    if [ ! -e "$scratch/$label.checked" ] && [ "$last_status" -eq 0 ]; then
      touch "$scratch/$label.checked"
      local rotated
      rotated=$(grep -o "$NEW" "work/${file[$form]}" | wc -l)
      [ "$rotated" -eq "$n" ] || echo "warning: $form $n: rotate wrote $rotated of $n sites" >&2
    fi
  fi
  if [ "$last_status" -gt 1 ] && [ "$last_status" -ne 124 ]; then
    done[$label]="failed (exit $last_status)"
  elif [ "$last_status" -eq 124 ]; then
    # Larger sizes of this row would only take longer.
    for m in "${sizes[@]}"; do
      [ "$m" -lt "$n" ] || done[${form}_${command}_$m]=timeout
    done
  elif [ "$(tail -1 "$scratch/$label.samples" | cut -d' ' -f1)" -gt 10000000000 ]; then
    done[$label]=slow
  fi
}

for round in $(seq "$runs"); do
  for form in "${forms[@]}"; do
    for n in "${sizes[@]}"; do
      run_size "$form" scan "$n"
      [ "$form" = md5 ] || run_size "$form" rotate "$n"
    done
  done
done

# cell LABEL N: "ms wall (µs/site)", or "> limit" for a row that timed out at this size.
cell() {
  if [ "${done[$1]:-}" = timeout ]; then
    echo "> $limit s"
  elif [[ ${done[$1]:-} = failed* ]]; then
    echo "${done[$1]}"
  else
    awk -v ns="$(median "$1" 1)" -v n="$2" 'BEGIN { printf "%.0f ms (%.1f µs/site)", ns / 1e6, ns / 1e3 / n }'
  fi
}
per_site_ns() { awk -v ns="$(median "$1" 1)" -v n="$2" 'BEGIN { print ns / n }'; }

smallest=${sizes[0]} largest=${sizes[-1]}
printf '%-5s %8s  %-28s %-28s\n' format sites "scan (md5: check) --format json" "rotate --write"
for form in "${forms[@]}"; do
  for n in "${sizes[@]}"; do
    rotate_cell="-"
    [ "$form" = md5 ] || rotate_cell=$(cell "${form}_rotate_$n" "$n")
    printf '%-5s %8s  %-28s %-28s\n' "$form" "$n" "$(cell "${form}_scan_$n" "$n")" "$rotate_cell"
  done
done
for form in "${forms[@]}"; do
  commands=(scan rotate)
  [ "$form" != md5 ] || commands=(scan)
  for command in "${commands[@]}"; do
    small=${form}_${command}_$smallest big=${form}_${command}_$largest
    if [[ ${done[$small]:-} = failed* || ${done[$big]:-} = failed* ]]; then
      growth="n/a (a run failed)"
    elif [ "${done[$small]:-}" = timeout ]; then
      growth="n/a (the smallest size timed out)"
    elif [ "${done[$big]:-}" = timeout ]; then
      # A lower bound, from the first size that timed out.
      for n in "${sizes[@]}"; do
        [ "${done[${form}_${command}_$n]:-}" != timeout ] || break
      done
      growth="> $(awk -v a="$limit" -v n="$n" -v b="$(per_site_ns "$small" "$smallest")" 'BEGIN { printf "%.1f", a * 1e9 / n / b }') (at $n)"
    else
      growth=$(ratio "$(per_site_ns "$big" "$largest")" "$(per_site_ns "$small" "$smallest")")
    fi
    what="sites"
    [ "$form" != md5 ] || what="distinct 32-hex strings"
    shown=$command
    [ "$form" != md5 ] || shown=check
    echo "$form $shown: per-site time at $largest over $smallest $what: $growth (linear: near 1)"
    summary "$shown, one $form file, $smallest → $largest $what" "$(cell "$big" "$largest")" \
      "$(cell "$small" "$smallest")" "$growth" "≈ 1 (linear)"
  done
done
