#!/usr/bin/env bash
# Discovery: `rekey scan --format json` against `rg -l -F` searching the seven key names, on
# the same generated monorepo-like tree in the same run.
#
#   benches/scan-vs-ripgrep.sh [FILES]     (default 100000 files)
#
# The tree (benches/gen.py tree): about 6% of the files hold a key name (Kubernetes
# manifests, Helm values, docker run scripts, ECS task definitions, hidden .env files,
# Terraform, legacy FirstGen manifests, prose mentions), the rest is source, config and docs,
# with 1% binaries, 1% .gitignored build output and a few checksum lists. rg runs with
# --hidden --no-require-git so it reads the files rekey reads.
#
# How to read it: rg only lists the files holding a name; rekey also parses each of them,
# classifies every site and sweeps every text file for token-shaped strings. "wall ratio"
# is rekey's median wall time over rg's (goal: <= 1.0); "user ratio" compares CPU time.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

files=${1:-100000}
setup_tree "$files"

rekey_scan=("$rekey" scan --format json .)
rg_scan=("${rg_walk[@]}" -l -F "${key_args[@]}" .)
race rekey_scan rg_scan

sites=$("${rekey_scan[@]}" | python3 -c 'import json, sys; print(len(json.load(sys.stdin)["sites"]))')
candidates=$("${rg_scan[@]}" | wc -l)
echo "tree: $files files, $candidates holding a key name; rekey found $sites sites"
report_race rekey_scan rg_scan "rekey scan --format json" "rg -l -F (7 key names)" \
  "scan --format json, $files files" "rg -l -F" "<= 1.0"
