#!/usr/bin/env bash
# The pre-commit hook: `rekey check --staged` (every staged blob read from the git index)
# against `rekey check` of the working tree, on the generated monorepo-like tree committed
# to a git repository (`git add -A && git commit`), in the same run; then again after
# `git repack -a -d` (loose objects are what a fresh `git add` leaves; a clone holds packs,
# whose deltas cost more to inflate).
#
#   benches/check-staged.sh [FILES]        (default 100000 files)
#
# How to read it: "ratio" is the staged check's median wall time over the working-tree
# check's (goal: <= 1.5), with each side's peak RSS (goal: <= 64 MiB). Both exit 1 here by
# design: the tree holds revoked tokens and legacy keys.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

files=${1:-100000}
need time python3 git
find_rekey
make_scratch
repo=$scratch/repo
generate tree "$repo" "$files"
cd "$repo"
start=$(date +%s)
git init -q .
git add -A
git -c user.name=bench -c user.email=bench@example.invalid commit -q -m "generated tree"
blobs=$(git ls-files | wc -l)
echo "repository: $blobs files committed in $(($(date +%s) - start)) s"

staged=("$rekey" check --staged --format json)
worktree=("$rekey" check --format json)
for objects in loose packed; do
  if [ "$objects" = packed ]; then
    start=$(date +%s)
    git repack -a -d -q
    git prune-packed
    echo "repacked in $(($(date +%s) - start)) s: $(du -sh .git/objects/pack | cut -f1) of packs"
  fi
  race staged worktree
  r=$(ratio "$(median staged 1)" "$(median worktree 1)")
  echo "$objects objects: check --staged $(wall_ms staged) ms, $(rss_mib staged) MiB peak;" \
    "check (working tree) $(wall_ms worktree) ms, $(rss_mib worktree) MiB peak;" \
    "ratio $r (goal <= 1.5; medians of $runs)"
  summary "check --staged, $blobs files, $objects objects" "$(wall_ms staged) ms, $(rss_mib staged) MiB" \
    "working tree $(wall_ms worktree) ms, $(rss_mib worktree) MiB" "$r" "<= 1.5, <= 64 MiB"
done
