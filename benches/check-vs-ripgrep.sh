#!/usr/bin/env bash
# The CI gate: `rekey check --format json` against rg doing the comparable search, on the
# same generated monorepo-like tree (the one scan-vs-ripgrep.sh uses, with its .rekey.toml:
# one token in force, one revoked) in the same run.
#
#   benches/check-vs-ripgrep.sh [FILES]    (default 100000 files)
#
# check parses every file holding a key name and also sweeps every text file for
# token-shaped strings (32 hex digits, or their base64 forms), judging each against the
# policy. The peer is `rg -l -e '[0-9a-fA-F]{32}' -e DELEGATE_TOKEN ...` (the key names and
# a 32-hex regex, hidden files included): it lists the files that hold either, and neither
# decodes base64 nor judges anything, so it is a floor for the same reading work.
#
# How to read it: "wall ratio" is rekey's median wall time over rg's (goal: <= 1.2). The
# finding counts show the run did real work; check exits 1 here by design (revoked tokens
# and legacy keys are planted).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

files=${1:-100000}
setup_tree "$files"

rekey_check=("$rekey" check --format json .)
rg_check=("${rg_walk[@]}" -l -e '[0-9a-fA-F]{32}' "${key_args[@]}" .)
race rekey_check rg_check

findings=$("${rekey_check[@]}" | python3 -c '
import collections, json, sys
rules = collections.Counter(f["rule"] for f in json.load(sys.stdin)["findings"])
print(", ".join(f"{n} {rule}" for rule, n in sorted(rules.items())) or "none")') || true
matched=$("${rg_check[@]}" | wc -l)
echo "tree: $files files, $matched holding a key name or 32 hex digits; check findings: $findings"
report_race rekey_check rg_check "rekey check --format json" "rg -l (hex regex + names)" \
  "check --format json, $files files" "rg -l hex+names" "<= 1.2"
