#!/usr/bin/env bash
# Scale: `rekey scan`, `rekey check` and a `rekey rotate --all` dry run (the new token read
# from a file) on a tree where most files hold a site: PLAIN files without a key name (as
# in gen.py tree: source, config, docs, binaries, .gitignored build output, checksum lists)
# and SITES files that each hold at least one site (Kubernetes, Helm values, docker run
# scripts, ECS JSON, hidden .env files, Terraform, legacy manifests), interleaved over the
# same folders (benches/gen.py scale).
#
#   benches/scale.sh [PLAIN] [SITES]     (default 30000 68000)
#
# How to read it: each command must judge every file: scan lists a site in each of the
# SITES files, check counts every file rg lists (the policy file aside) and finds no file
# it could not judge, the dry run plans a change in each of the SITES files. Then peak RSS
# (goal: under 96 MiB each) and wall time, and scan's wall time over `rg -l -F` searching
# the key names on the same tree (goal: <= 1.0): rg only lists the files holding a name,
# rekey parses each of them.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

plain=${1:-30000}
sites=${2:-68000}
runs=${BENCH_RUNS:-3}
need rg time python3
find_rekey
make_scratch
tree=$scratch/tree
generate scale "$tree" "$plain" "$sites"
cd "$tree"
eval "$(generate tokens)"
printf '%s\n' "$NEW" >"$scratch/new-token.txt"

rekey_scan=("$rekey" scan --format json .)
rg_scan=("${rg_walk[@]}" -l -F "${key_args[@]}" .)
rekey_check=("$rekey" check --format json .)
rekey_rotate=("$rekey" rotate --all --new-token-file "$scratch/new-token.txt" .)

# Every file judged, by each command, before anything is timed.
listed=$("${rg_walk[@]}" --files . | grep -cv '^\./\.rekey\.toml$')
with_sites=$("${rekey_scan[@]}" | python3 -c '
import json, sys
scan = json.load(sys.stdin)
assert not scan["errors"] and not scan["skipped"], "scan could not judge every file"
print(len({site["path"] for site in scan["sites"]}))')
checked=$("${rekey_check[@]}" | python3 -c '
import json, sys
check = json.load(sys.stdin)
assert not [f for f in check["findings"] if f["rule"] == "unchecked-file"], "check left files unjudged"
print(check["files_checked"])') || true
rotated=$("${rekey_rotate[@]}" --stat | sed -n 's/^Would rotate .* in \([0-9]*\) files.*/\1/p')
echo "tree: $plain plain files + $sites with sites; rg lists $listed files"
echo "judged: scan found sites in $with_sites files, check checked $checked, rotate plans $rotated"
judged=yes
[ "$with_sites" = "$sites" ] && [ "$checked" = "$listed" ] && [ "$rotated" = "$sites" ] || judged=no
echo "every file judged: $judged"

race rekey_scan rg_scan
for label in rekey_check rekey_rotate; do
  rm -f "$scratch/$label.samples"
  declare -n command=$label
  "${command[@]}" >/dev/null 2>&1 || true
  for _ in $(seq "$runs"); do measure "$label" "${command[@]}"; done
  warn_cold "$label"
  unset -n command
done

row() { printf '%-46s %10s   %s\n' "$1" "$2" "$3"; }
echo "peak RSS and wall (medians of $runs):"
row "rekey scan --format json" "$(rss_mib rekey_scan) MiB" "$(wall_ms rekey_scan) ms"
row "rg -l -F (7 key names)" "$(rss_mib rg_scan) MiB" "$(wall_ms rg_scan) ms"
row "rekey check --format json" "$(rss_mib rekey_check) MiB" "$(wall_ms rekey_check) ms"
row "rekey rotate --all (dry run)" "$(rss_mib rekey_rotate) MiB" "$(wall_ms rekey_rotate) ms"
files=$((plain + sites))
report_race rekey_scan rg_scan "rekey scan --format json" "rg -l -F (7 key names)" \
  "scan --format json, $files files ($sites with sites)" "rg -l -F" "<= 1.0"
for label in rekey_scan rekey_check rekey_rotate; do
  summary "peak RSS, ${label#rekey_}, $files files ($sites with sites), judged: $judged" \
    "$(rss_mib "$label") MiB ($(wall_ms "$label") ms)" "-" "-" "< 96 MiB"
done
