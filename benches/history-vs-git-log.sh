#!/usr/bin/env bash
# History: `rekey history --format json` against `git log --all -p -U0 | rg` for
# token-shaped strings (32 hex), on the same generated repository in the same run, and
# against `gitleaks git` where it is installed.
#
#   benches/history-vs-git-log.sh [COMMITS] [FILES]     (default 20000 commits, 2000 files)
#
# The repository (benches/gen_history.py): each commit changes two source files; every
# 1,000th rotates the token in a Secret and an .env file; release branches and tags every
# 5,000. How to read it: the pipeline only prints every added or removed line holding 32
# hex characters; rekey also parses each file with a key, resolves every ref, first-added
# and removed-in commit and the policy state. Goal: wall ratio <= 0.5.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

commits=${1:-20000}
files=${2:-2000}
need rg time python3 git
find_rekey
make_scratch
repo=$scratch/repo
git init -q -b main "$repo"
python3 "$bench_dir/gen_history.py" "$commits" "$files" | git -C "$repo" fast-import --quiet
git -C "$repo" reset -q --hard main
cd "$repo"

rekey_history=("$rekey" history --format json)
git_log_rg=(sh -c 'git log --all -p -U0 | rg -c "[0-9a-f]{32}"')
race rekey_history git_log_rg

tokens=$("${rekey_history[@]}" | python3 -c 'import json, sys; print(len(json.load(sys.stdin)["tokens"]))')
echo "repository: $commits commits, $files files; rekey found $tokens tokens"
report_race rekey_history git_log_rg "rekey history --format json" "git log --all -p -U0 | rg" \
  "history, $commits commits" "git log -p | rg" "<= 0.5"
if command -v gitleaks >/dev/null; then
  gitleaks_git=(gitleaks git --no-banner --exit-code 0 .)
  race rekey_history gitleaks_git
  report_race rekey_history gitleaks_git "rekey history --format json" "gitleaks git" \
    "history, $commits commits" "gitleaks git" "(for reference)"
else
  echo "gitleaks is not installed: the comparison with it was skipped"
fi
