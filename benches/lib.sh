# Helpers sourced by the benchmark scripts in this directory (not a benchmark itself).
#
# Every comparison follows the same protocol, so that a busy machine slows both sides alike
# instead of faking a ratio: one untimed run of each command first (warms the page cache),
# then BENCH_RUNS rounds alternating the two commands (A B, then B A, ...), each run under
# GNU time for its user time and peak RSS, and the median of each side reported.
#
# Environment: REKEY_BIN   use this rekey binary instead of building target/release/rekey
#              BENCH_RUNS  rounds per comparison (default 5)

bench_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
runs=${BENCH_RUNS:-5}

# Installs the Debian packages providing the commands the script needs, when missing.
need() {
  local missing=() command
  for command in "$@"; do
    case $command in
      rg) command -v rg >/dev/null || missing+=(ripgrep) ;;
      time) [ -x /usr/bin/time ] || missing+=(time) ;;
      *) command -v "$command" >/dev/null || missing+=("$command") ;;
    esac
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "installing ${missing[*]} from Debian packages" >&2
    apt-get update -qq >/dev/null && apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

# Sets $rekey: REKEY_BIN, or a release build of this checkout.
find_rekey() {
  if [ -n "${REKEY_BIN:-}" ]; then
    rekey=$REKEY_BIN
  else
    (cd "$bench_dir/.." && cargo build --release --quiet)
    rekey=$bench_dir/../target/release/rekey
  fi
}

# Sets $scratch: a temp dir removed when the script exits, however it exits.
make_scratch() {
  scratch=$(mktemp -d "${TMPDIR:-/tmp}/rekey-bench.XXXXXX")
  trap 'rm -rf "$scratch"' EXIT
}

generate() {
  python3 "$bench_dir/gen.py" "$@"
}

# setup_tree FILES: rekey, rg, a scratch dir, and in it the generated monorepo-like tree of
# FILES files ($tree), made the current directory.
setup_tree() {
  need rg time python3
  find_rekey
  make_scratch
  tree=$scratch/tree
  generate tree "$tree" "$1"
  cd "$tree"
}

# The names rekey's prefilter searches for, as rg arguments.
key_args=(-e DELEGATE_TOKEN -e UPGRADER_TOKEN -e ACCOUNT_SECRET -e delegateToken
  -e accountSecret -e delegate_token -e account_secret)
# rg searching what rekey searches: hidden files too (.env files are), and .gitignore
# honoured outside a git repository, as rekey does.
rg_walk=(rg --hidden --no-require-git)

# Runs before every run of a command, untimed (rotate benchmarks copy a fresh tree here).
prepare() { :; }

# measure LABEL COMMAND...: runs COMMAND once, stdout discarded, and appends
# "wall_ns user_s sys_s maxrss_kib exit disk_reads" to $scratch/LABEL.samples; sets
# $last_status. Exit 0 and 1 are results (rg finding nothing, check finding violations),
# 124 is `timeout` expiring; any other stops the script with the command's stderr, unless
# $keep_going is set (then the failure is shown and recorded, and the caller decides).
keep_going=
measure() {
  local label=$1 start end status=0
  shift
  start=$(date +%s%N)
  /usr/bin/time -v -o "$scratch/.time" "$@" >/dev/null 2>"$scratch/.stderr" || status=$?
  end=$(date +%s%N)
  if [ "$status" -gt 1 ] && [ "$status" -ne 124 ]; then
    echo "$label: exit $status from: $*" >&2
    grep -v '^ *[0-9]*: \|^note: \|^stack backtrace\|^$' "$scratch/.stderr" | head -3 >&2 || true  # head closing the pipe early is fine
    [ -n "$keep_going" ] || exit 1
  fi
  awk -v wall=$((end - start)) -v status="$status" -F': ' '
    /User time/ { user = $2 } /System time/ { sys = $2 } /Maximum resident set size/ { rss = $2 }
    /File system inputs/ { reads = $2 }
    END { print wall, user, sys, rss, status, reads }' "$scratch/.time" >>"$scratch/$label.samples"
  last_status=$status
}

# race LABEL_A LABEL_B: the arrays named LABEL_A and LABEL_B hold two commands; one
# untimed run of each, then $runs alternating rounds of measure.
race() {
  local -n command_a=$1 command_b=$2
  local round
  rm -f "$scratch/$1.samples" "$scratch/$2.samples"
  prepare
  "${command_a[@]}" >/dev/null 2>&1 || true
  prepare
  "${command_b[@]}" >/dev/null 2>&1 || true
  for round in $(seq "$runs"); do
    if ((round % 2)); then
      prepare
      measure "$1" "${command_a[@]}"
      prepare
      measure "$2" "${command_b[@]}"
    else
      prepare
      measure "$2" "${command_b[@]}"
      prepare
      measure "$1" "${command_a[@]}"
    fi
  done
  warn_cold "$1"
  warn_cold "$2"
}

# warn_cold LABEL: says so when a timed run read from disk (over 1,000 512-byte blocks):
# the page cache did not hold the tree, and that run measured the disk.
warn_cold() {
  awk -v label="$1" '$6 > 1000 { n++ } END { if (n) printf "warning: %s: %d timed runs read from disk\n", label, n > "/dev/stderr" }' \
    "$scratch/$1.samples"
}

# median LABEL COLUMN: the median of one column (1 wall ns, 2 user s, 3 sys s, 4 rss KiB).
median() {
  awk -v c="$2" '{ print $c }' "$scratch/$1.samples" | sort -g |
    awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}
wall_ms() { awk -v ns="$(median "$1" 1)" 'BEGIN { printf "%.0f", ns / 1e6 }'; }
user_s() { median "$1" 2; }
rss_mib() { awk -v k="$(median "$1" 4)" 'BEGIN { printf "%.1f", k / 1024 }'; }
# describe LABEL: its medians, in words.
describe() { echo "$(wall_ms "$1") ms wall, $(user_s "$1") s user, $(rss_mib "$1") MiB peak"; }

# report_race A B A_NAME B_NAME WORK PEER GOAL: after `race A B`, both medians, the wall
# and user ratios, and the summary row for WORK against PEER.
report_race() {
  local wall
  echo "$3: $(describe "$1") (medians of $runs)"
  echo "$4: $(describe "$2")"
  wall=$(ratio "$(median "$1" 1)" "$(median "$2" 1)")
  echo "wall ratio: $wall (goal $7); user ratio: $(ratio "$(user_s "$1")" "$(user_s "$2")")"
  summary "$5" "$(wall_ms "$1") ms" "$6 $(wall_ms "$2") ms" "$wall" "$7"
}
# ratio X Y: X / Y with two decimals.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

# One line per result, in the form benches/all.sh collects into its table:
# summary WORK | REKEY | PEER | RATIO | GOAL
summary() {
  printf 'summary %s | %s | %s | %s | %s\n' "$@"
}
