#!/usr/bin/env bash
# Rewriting: `rekey rotate --write` against `find ... | xargs sed -i` replacing the token, on
# generated delegate manifests (half Kubernetes YAML with the token in a container's env and
# in a Secret, half Helm values with the UI form), each side on a fresh copy of the tree
# for every run (the copy is made and synced before the clock starts).
#
#   benches/rotate-vs-sed.sh [FILES]       (default 5000 manifests, every one holding the token)
#
# sed substitutes two strings (the hex and its base64 form) blindly and does not fsync;
# rekey parses every file, plans each edit, re-parses and re-scans the result, writes a
# synced temp file and renames it, all or nothing. Both end with the same bytes (checked
# once, with diff -r, after the timing).
#
# How to read it: "wall ratio" is rekey's median wall time over sed's (goal: <= 1.0).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

files=${1:-5000}
need time python3
find_rekey
make_scratch
eval "$(generate tokens)"
generate manifests "$scratch/pristine" "$files"
cd "$scratch"

prepare() {
  rm -rf work
  cp -a pristine work
  sync
}
export NEW_TOKEN=$NEW
rekey_rotate=("$rekey" rotate --new-token-env NEW_TOKEN --write --format json work)
sed_rotate=(sh -c "find work -type f -name '*.yaml' -print0 |
  xargs -0 sed -i -e 's|$OLD|$NEW|g' -e 's|$OLD_B64|$NEW_B64|g'")
race rekey_rotate sed_rotate

prepare
"${sed_rotate[@]}"
mv work by-sed
prepare
"${rekey_rotate[@]}" >/dev/null
same=yes
diff -r -q by-sed work >/dev/null || same="NO: the two rotations differ"
left=$(grep -rlF -e "$OLD" -e "$OLD_B64" work | wc -l || true)

echo "tree: $files manifests; same bytes after rekey and sed: $same; files still holding the old token: $left"
echo "rekey rotate --write: $(wall_ms rekey_rotate) ms wall, $(user_s rekey_rotate) s user, $(rss_mib rekey_rotate) MiB peak (medians of $runs)"
echo "find | xargs sed -i:  $(wall_ms sed_rotate) ms wall, $(user_s sed_rotate) s user, $(rss_mib sed_rotate) MiB peak"
wall=$(ratio "$(median rekey_rotate 1)" "$(median sed_rotate 1)")
echo "wall ratio rekey/sed: $wall (goal <= 1.0)"
summary "rotate --write, $files manifests" "$(wall_ms rekey_rotate) ms" "sed -i $(wall_ms sed_rotate) ms" "$wall" "<= 1.0"
