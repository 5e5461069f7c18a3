#!/usr/bin/env bash
# Runs each libFuzzer target for a bounded time from its seed corpus; a crash, leak, sanitizer
# report, broken contract or slow input fails it. Ends with "N passed, N failed".
#   tests/fuzz/run.sh BUILD_DIR [SECONDS]
# BUILD_DIR was set up with CC=clang and -Dfuzz=true (see meson_options.txt); SECONDS per target
# defaults to $FUZZ_SECONDS, else 60. A failing input is kept in BUILD_DIR/fuzz-artifacts/DATE/ and
# printed in hex; minimise it with `TARGET -minimize_crash=1 -runs=10000 FILE` and add it to
# tests/fuzz/corpus/TARGET/ as a regression seed once fixed.
set -euo pipefail

if [ "${1:-}" = "-h" ] || [ "${1:-}" = "--help" ] || [ $# -lt 1 ]; then
  sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'
  [ $# -ge 1 ] && exit 0
  exit 2
fi
build=$(realpath "$1")
seconds=${2:-${FUZZ_SECONDS:-60}}
root=$(cd "$(dirname "$0")/../.." && pwd)
here="$root/tests/fuzz"

# Inputs are written to files at every execution: tmpfs keeps that from dominating.
base=/tmp
[ -w /dev/shm ] && base=/dev/shm
T=$(mktemp -d "$base/ticketfarm-fuzz.XXXXXX")
trap 'rm -rf "$T"' EXIT
export TMPDIR="$T"
export ASAN_OPTIONS=halt_on_error=1:print_stacktrace=1:detect_leaks=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
artifacts="$build/fuzz-artifacts/$(date +%Y%m%d-%H%M%S)"
mkdir -p "$artifacts"

passed=0
failed=0
# run NAME SEED_DIR... : fuzzes NAME for $seconds from the seeds, new inputs in a scratch corpus.
run() {
  local name=$1
  shift
  local exe="$build/tests/fuzz/$name" log="$T/$name.log"
  local -a extra=()
  [ -f "$here/$name.dict" ] && extra+=("-dict=$here/$name.dict")
  if [ ! -x "$exe" ]; then
    echo "FAIL  $name: $exe is not built (meson compile -C $build $name)"
    failed=$((failed + 1))
    return
  fi
  mkdir -p "$T/corpus-$name"
  local -a seeds=()
  local d
  for d in "$@"; do [ -d "$d" ] && seeds+=("$d"); done
  local rc=0
  # -timeout: one input may take seconds (a ten-million-task grid is checked task by task).
  "$exe" -max_total_time="$seconds" -timeout=60 -rss_limit_mb=2560 -max_len=8192 \
    -print_final_stats=1 -artifact_prefix="$artifacts/$name-" "${extra[@]}" \
    "$T/corpus-$name" "${seeds[@]}" >"$log" 2>&1 || rc=$?
  local stats
  stats=$(grep -E '^#[0-9]+' "$log" | tail -n 1 |
    sed -E 's/^#([0-9]+)[[:space:]]+[A-Z]+[[:space:]]+/\1 execs, /' || true)
  if [ "$rc" = 0 ] && grep -q '^Done [0-9]* runs' "$log"; then
    echo "ok    $name: ${seconds} s, $stats"
    passed=$((passed + 1))
  else
    echo "FAIL  $name (exit $rc): $stats"
    grep -E 'ERROR|SUMMARY|contract broken|runtime error|Test unit written' "$log" | head -n 20
    local a
    for a in "$artifacts/$name-"*; do
      [ -f "$a" ] || continue
      echo "input $a:"
      head -c 4096 "$a" | od -A d -t x1z | head -n 40
    done
    failed=$((failed + 1))
  fi
}

run fuzz_sweep "$here/corpus/fuzz_sweep" "$root/tests/fixtures/sweeps/good" \
  "$root/tests/fixtures/sweeps/bad" "$root/sweeps"
run fuzz_idx "$here/corpus/fuzz_idx" "$root/tests/fixtures/idx"

rmdir "$artifacts" 2>/dev/null || true
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
