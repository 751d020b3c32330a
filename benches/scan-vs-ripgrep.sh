#!/usr/bin/env bash
# Times `rekey scan` on a generated monorepo-like tree (YAML, shell, JSON, .env, Terraform) against `rg -l -F` searching the same
# key names, in the same script on the same tree, and prints the ratio. rg only lists
# candidate files; rekey also parses every candidate and classifies every site, so the ratio
# says what the parsing costs on top of the fastest possible literal search.
#
#   benches/scan-vs-ripgrep.sh [FILES]   (default 5000 files, about 10% holding a token key)
set -euo pipefail
cd "$(dirname "$0")/.."

files=${1:-5000}
runs=5

if ! command -v rg >/dev/null; then
  echo "installing ripgrep from Debian packages" >&2
  apt-get update -qq >/dev/null && apt-get install -y -qq ripgrep >/dev/null
fi
cargo build --release --quiet
rekey=$PWD/target/release/rekey

tree=$(mktemp -d)
trap 'rm -rf "$tree"' EXIT
python3 - "$tree" "$files" <<'PY'
import os, sys
root, count = sys.argv[1], int(sys.argv[2])
token = "a1b2c3d4e5f60718293a4b5c6d7e8f90"  # made up
filler = "".join(f"  key{i}: value number {i} with some text\n" for i in range(60))
# One file in ten holds a token, in the formats an infra monorepo mixes.
holders = [
    ("yaml", f"kind: Secret\nmetadata:\n  name: d\nstringData:\n  DELEGATE_TOKEN: {token}\ndata:\n{filler}"),
    ("sh", f"#!/bin/sh\ndocker run -d \\\n  -e DELEGATE_TOKEN={token} \\\n  harness/delegate\n" + "echo step\n" * 60),
    ("json", '{"containerDefinitions":[{"environment":[{"name":"DELEGATE_TOKEN","value":"' + token + '"}]}]}\n'),
    ("env", f"DELEGATE_TOKEN={token}\n" + "".join(f"VAR{i}=value{i}\n" for i in range(60))),
    ("tf", f'module "d" {{\n  delegate_token = "{token}"\n}}\n'),
]
for i in range(count):
    folder = os.path.join(root, f"team{i % 40}", f"app{i % 300}")
    os.makedirs(folder, exist_ok=True)
    if i % 10 == 0:
        extension, body = holders[(i // 10) % len(holders)]
        name = f"delegate-{i}.{extension}"
    elif i % 3 == 0:
        body = f"apiVersion: v1\nkind: ConfigMap\ndata:\n{filler}"
        name = f"config-{i}.yaml"
    else:
        body = "".join(f"fn f{j}() {{ println!(\"{j}\"); }}\n" for j in range(60))
        name = f"src-{i}.rs"
    with open(os.path.join(folder, name), "w") as f:
        f.write(body)
PY

median_ns() {
  local samples=()
  for _ in $(seq "$runs"); do
    local start end
    start=$(date +%s%N)
    "$@" >/dev/null
    end=$(date +%s%N)
    samples+=($((end - start)))
  done
  printf '%s\n' "${samples[@]}" | sort -n | sed -n "$(((runs + 1) / 2))p"
}

keys=(-e DELEGATE_TOKEN -e UPGRADER_TOKEN -e ACCOUNT_SECRET -e delegateToken -e accountSecret -e delegate_token -e account_secret)
# Warm the page cache so neither side pays for the first read.
rg -l -F "${keys[@]}" "$tree" >/dev/null
rekey_ns=$(median_ns "$rekey" scan "$tree" --format json)
rg_ns=$(median_ns rg -l -F "${keys[@]}" "$tree")

sites=$("$rekey" scan "$tree" --format json | grep -c '"path"')
candidates=$(rg -l -F "${keys[@]}" "$tree" | wc -l)
echo "tree: $files files, $candidates holding a key name; rekey found $sites sites"
echo "rekey scan:  $((rekey_ns / 1000000)) ms (median of $runs)"
echo "rg -l -F:    $((rg_ns / 1000000)) ms (median of $runs)"
awk -v a="$rekey_ns" -v b="$rg_ns" 'BEGIN { printf "ratio rekey/rg: %.2f\n", a / b }'
