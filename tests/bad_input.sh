#!/usr/bin/env bash
# Bad input is refused cleanly: every malformed sweep (tests/fixtures/sweeps/bad, first line
# "# expect: LINE:COL: message") makes `ticketfarm plan` and `mpirun -n 2 ticketfarm run` exit 2
# with PATH:LINE:COL: message; every broken dataset (tests/fixtures/idx/*, made by make.sh) makes
# `run` exit 2 with a message naming the file; nothing crashes or trips a sanitizer, and a
# refused run leaves nothing behind. An output path that cannot be created fails with a message
# naming it; a missing results file (status, summary) or an output that is a directory is bad
# input (exit 2, one line naming it). A sweep whose largest task cannot be allocated is refused
# (exit 2) with the memory it needs, before any file exists. A truncated or damaged results file
# is refused by run, status and summary, saying what is wrong, that it stays untouched, and what
# to do, and it stays byte for byte the same. With --full-disk instead: a run whose file outgrows a
# 2 MiB tmpfs exits 1 with a clear message, without hanging, and leaves a file h5dump reads
# with every finished row intact.
#   tests/bad_input.sh [--full-disk] path/to/ticketfarm
# JOBS (default 4) refusals run at once: each is mostly mpirun start-up.
set -euo pipefail

usage() { sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; }
mode=refusals
case "${1:-}" in
  -h | --help) usage; exit 0 ;;
  --full-disk) mode=full_disk; shift ;;
esac
[ $# = 1 ] || { usage >&2; exit 2; }
TF=$(realpath "$1")
here=$(cd "$(dirname "$0")" && pwd)
JOBS=${JOBS:-4}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
export OPENBLAS_NUM_THREADS=1 HDF5_USE_FILE_LOCKING=FALSE
T=$(mktemp -d)
mounted=
cleanup() {
  [ -n "$mounted" ] && umount -l "$mounted" 2>/dev/null
  rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# What a crash or a sanitizer leaves in the output.
crash_marks='Sanitizer|runtime error:|on signal|Segmentation fault|core dumped|Aborted'

# refuse LABEL DIR EXPECT WANT CMD...: runs CMD in the empty directory DIR and records in
# $T/results/LABEL whether it exited with a code in WANT ("2", "1 2"), printed EXPECT (a fixed
# string), showed no crash, and left DIR empty.
refuse() {
  local label=$1 dir=$2 expect=$3 want=$4 log="$T/logs/$1.log" rc=0 why=
  shift 4
  mkdir -p "$dir"
  (cd "$dir" && exec "$@") >"$log" 2>&1 || rc=$?
  case " $want " in *" $rc "*) ;; *) why="exit $rc, expected ${want// / or }" ;; esac
  if [ -z "$why" ] && ! grep -qF -- "$expect" "$log"; then why="no '$expect' in the output"; fi
  if [ -z "$why" ] && grep -qE "$crash_marks" "$log"; then
    why="crash or sanitizer report: $(grep -m1 -E "$crash_marks" "$log")"
  fi
  if [ -z "$why" ] && [ -n "$(find "$dir" -mindepth 1 -maxdepth 1)" ]; then
    why="left files behind: $(find "$dir" -mindepth 1 -maxdepth 1 -printf '%f ' | head -c 300)"
  fi
  if [ -z "$why" ]; then
    echo "ok    $label" >"$T/results/$label"
  else
    { echo "FAIL  $label: $why"; echo "      \$ ${*}"; sed 's/^/      | /' "$log" | head -15; } \
      >"$T/results/$label"
  fi
}

# spawn CMD...: runs CMD in the background, at most JOBS at once.
spawn() {
  while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do wait -n || true; done
  "$@" &
}

report() {
  wait
  local pass fail
  cat "$T"/results/*
  pass=$(cat "$T"/results/* | grep -c '^ok' || true)
  fail=$(cat "$T"/results/* | grep -c '^FAIL' || true)
  echo "bad input: $pass passed, $fail failed"
  [ "$fail" = 0 ] && [ "$pass" -gt 0 ]
}

refusals() {
  mkdir -p "$T/results" "$T/logs" "$T/work"

  # Sweeps: plan and run both refuse, naming PATH:LINE:COL.
  local f name expect n_sweeps=0
  for f in "$here"/fixtures/sweeps/bad/*.yaml; do
    name=$(basename "$f" .yaml)
    expect=$(head -n 1 "$f")
    case $expect in
      "# expect: "*) expect="$f:${expect#\# expect: }" ;;
      *)
        echo "FAIL  sweep $name: first line is not '# expect: ...'" >"$T/results/sweep-$name"
        continue
        ;;
    esac
    spawn refuse "sweep-plan-$name" "$T/work/plan-$name" "$expect" 2 "$TF" plan "$f"
    spawn refuse "sweep-run-$name" "$T/work/run-$name" "$expect" 2 \
      mpirun -n 2 "$TF" run "$f" -o "$T/work/run-$name/out.h5" -q
    n_sweeps=$((n_sweeps + 1))
  done

  # Datasets: the small cases kept in the tree must be what make.sh makes, then the large ones
  # are made here.
  "$here/fixtures/idx/make.sh" --small "$T/idx-small"
  local diffs
  if diffs=$(diff -r --exclude=make.sh --exclude=tiny.yaml "$here/fixtures/idx" "$T/idx-small" \
    2>&1); then
    echo "ok    idx-corpus-matches-make.sh" >"$T/results/idx-corpus"
  else
    { echo "FAIL  idx corpus differs from make.sh's output (rerun tests/fixtures/idx/make.sh):"
      echo "$diffs" | head -10; } >"$T/results/idx-corpus"
  fi
  "$here/fixtures/idx/make.sh" --large "$T/idx-large"
  local root c n_idx=0
  for root in "$here/fixtures/idx" "$T/idx-large"; do
    for c in "$root"/*/; do
      c=${c%/}
      [ -f "$c/expect" ] || continue
      name=$(basename "$c")
      expect=$(sed "s|\\\$DATA|$c|g" "$c/expect")
      spawn refuse "idx-$name" "$T/work/idx-$name" "$expect" 2 \
        env TICKETFARM_DATA="$c" mpirun -n 2 "$TF" run "$here/fixtures/idx/tiny.yaml" \
        -o "$T/work/idx-$name/out.h5" -q
      n_idx=$((n_idx + 1))
    done
  done

  # Output paths that cannot be created, with a dataset that loads. Root passes permission
  # checks, so a read-only directory is only tried for other users; /proc refuses everyone.
  local valid="$T/idx-large/valid" o n=0
  : >"$T/work/a-file"
  local -a outs=("$T/work/a-file/out.h5" "$T/work/no-such-dir/sub/out.h5" "/proc/out.h5")
  if [ "$(id -u)" != 0 ]; then
    mkdir -p "$T/work/read-only"
    chmod 555 "$T/work/read-only"
    outs+=("$T/work/read-only/out.h5")
  fi
  for o in "${outs[@]}"; do
    n=$((n + 1))
    spawn refuse "output-path-$n" "$T/work/out-$n" "$o" "1 2" \
      env TICKETFARM_DATA="$valid" mpirun -n 2 "$TF" run "$here/fixtures/idx/tiny.yaml" -o "$o" -q
  done

  # Sweep and results files that are missing or are directories are bad input, refused with one line
  # naming them (not HDF5's error stack); so is a resume into a directory, and an empty
  # --progress.
  local tiny="$here/fixtures/idx/tiny.yaml" w="$T/work"
  mkdir -p "$w/a-dir"
  spawn refuse status-missing-file "$w/status-missing" "$w/missing.h5: cannot open" 2 \
    "$TF" status "$w/missing.h5"
  spawn refuse summary-missing-file "$w/summary-missing" "$w/missing.h5: cannot open" 2 \
    "$TF" summary "$w/missing.h5" --csv
  spawn refuse plan-missing-sweep "$w/plan-missing" "$w/missing.yaml: cannot open" 2 \
    "$TF" plan "$w/missing.yaml"
  spawn refuse run-missing-sweep "$w/run-missing" "$w/missing.yaml: cannot open" 2 \
    env TICKETFARM_DATA="$valid" mpirun -n 2 "$TF" run "$w/missing.yaml" -o "$w/run-missing.h5" -q
  spawn refuse status-directory "$w/status-dir" "$w/a-dir: cannot open: is a directory" 2 \
    "$TF" status "$w/a-dir"
  spawn refuse run-output-directory "$w/run-dir" "$w/a-dir: cannot resume: is a directory" 2 \
    env TICKETFARM_DATA="$valid" mpirun -n 2 "$TF" run "$tiny" -o "$w/a-dir" -q
  spawn refuse progress-empty "$w/progress-empty" "--progress takes seconds >= 0, not ''" 2 \
    "$TF" run "$tiny" -o "$w/progress-empty/out.h5" -p ''
  spawn refuse output-empty "$w/output-empty" "run needs an output file" 2 \
    "$TF" run "$tiny" -o ''
  # A network that cannot fit in memory: the figure in the message, nothing created (its layers
  # stay below 2^31 weights each, which the sweep check refuses on its own).
  cat >"$w/huge.yaml" <<'YAML'
name: huge
model: {hidden: [40000, 40000, 40000, 40000]}
train: {iterations: 100, eval_every: 100}
prune: {rounds: 1}
YAML
  spawn refuse run-task-too-large "$w/huge" "task 0 needs about 278.2 GiB of memory on its rank" 2 \
    env TICKETFARM_DATA="$valid" mpirun -n 2 "$TF" run "$w/huge.yaml" -o "$w/huge/out.h5" -q
  spawn refuse plan-task-too-large "$w/huge-plan" "278.2 GiB per rank for the largest task" 0 \
    "$TF" plan "$w/huge.yaml"

  # A results file cut short, and one with bytes of an object header overwritten.
  local d="$T/damaged"
  mkdir -p "$d"
  env TICKETFARM_DATA="$valid" mpirun -n 2 "$TF" run "$tiny" -o "$d/good.h5" -q \
    >"$T/logs/damaged-good.log" 2>&1 || echo "FAIL  damaged: the good run failed" >"$T/results/damaged"
  local size
  size=$(stat -c %s "$d/good.h5")
  head -c $((size / 2)) "$d/good.h5" >"$d/cut.h5"
  /usr/bin/python3 - "$d/good.h5" "$d/header.h5" <<'PY'
import shutil, sys, h5py
with h5py.File(sys.argv[1], "r") as f:
    addr = h5py.h5o.get_info(f["results"].id).addr
shutil.copy(sys.argv[1], sys.argv[2])
with open(sys.argv[2], "r+b") as out:
    out.seek(addr)
    head = bytearray(out.read(16))
    out.seek(addr)
    out.write(bytes(b ^ 0x5A for b in head))
PY
  cp "$d/cut.h5" "$d/cut.before"
  cp "$d/header.h5" "$d/header.before"
  local cut_msg="is damaged: truncated: " header_msg="is damaged: damaged object header"
  local keep="will not overwrite it: restore it from a copy, or move it away"
  for what in cut header; do
    local msg=$cut_msg
    [ $what = header ] && msg=$header_msg
    spawn refuse "damaged-$what-run" "$w/damaged-$what-run" "$d/$what.h5 $msg" 1 \
      env TICKETFARM_DATA="$valid" mpirun -n 2 "$TF" run "$tiny" -o "$d/$what.h5" -q
    spawn refuse "damaged-$what-status" "$w/damaged-$what-status" "$keep" 1 \
      "$TF" status "$d/$what.h5"
    spawn refuse "damaged-$what-summary" "$w/damaged-$what-summary" "$d/$what.h5 $msg" 1 \
      "$TF" summary "$d/$what.h5"
  done
  wait
  local want_cut="($((size / 2)) of $size bytes"
  grep -qF "$want_cut" "$T/logs/damaged-cut-status.log" ||
    echo "FAIL  damaged-cut-size: no '$want_cut' in $(cat "$T/logs/damaged-cut-status.log")" \
      >"$T/results/damaged-cut-size"
  for what in cut header; do
    cmp -s "$d/$what.h5" "$d/$what.before" ||
      echo "FAIL  damaged-$what-untouched: the refused file was modified" \
        >"$T/results/damaged-$what-untouched"
    [ -e "$d/$what.h5.lock" ] && echo "FAIL  damaged-$what: left $d/$what.h5.lock" \
      >"$T/results/damaged-$what-lock"
  done
  [ -e "$w/huge/out.h5.lock" ] && echo "FAIL  run-task-too-large: left a lock" \
    >"$T/results/run-task-too-large-lock"

  local label
  for label in status-missing-file summary-missing-file status-directory plan-missing-sweep; do
    [ "$(wc -l <"$T/logs/$label.log")" = 1 ] ||
      echo "FAIL  $label-one-line: $(wc -l <"$T/logs/$label.log") lines" \
        >"$T/results/$label-one-line"
  done
  [ -e "$w/a-dir.lock" ] && echo "FAIL  run-output-directory: left $w/a-dir.lock" \
    >"$T/results/run-output-directory-lock"
  [ -e "$T/work/no-such-dir" ] && echo "FAIL  output-path: run created $T/work/no-such-dir" \
    >"$T/results/output-path-mkdir"
  echo "$n_sweeps bad sweeps (plan and run), $n_idx broken datasets, ${#outs[@]} output paths"
  report
}

full_disk() {
  mkdir -p "$T/results" "$T/logs" "$T/full"
  local why
  if ! why=$(mount -t tmpfs -o size=2M ticketfarm-test "$T/full" 2>&1); then
    echo "SKIPPED full disk: cannot mount a 2 MiB tmpfs here: $why"
    exit 77
  fi
  mounted="$T/full"
  "$here/fixtures/idx/make.sh" --large "$T/idx" >/dev/null
  export TICKETFARM_DATA="$T/idx/valid"
  # About 0.8 MiB per task, 9.5 MiB in all: the 2 MiB disk fills after a few tasks.
  cat >"$T/sweep.yaml" <<'YAML'
name: full-disk
data: {validation: 100}
model: {hidden: [64]}
train: {batch: 10, iterations: 20, eval_every: 10}
prune: {rounds: 1}
grid:
  seed: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]
YAML
  mpirun -n 2 "$TF" run "$T/sweep.yaml" -o "$T/ref.h5" -q >"$T/logs/ref.log" 2>&1 ||
    { echo "FAIL  the reference run on a roomy disk failed:"; tail -5 "$T/logs/ref.log"; exit 1; }

  local rc=0 start=$SECONDS
  timeout -k 10 300 mpirun -n 2 "$TF" run "$T/sweep.yaml" -o "$T/full/out.h5" -q \
    >"$T/logs/full.log" 2>&1 || rc=$?
  local took=$((SECONDS - start)) log="$T/logs/full.log"
  echo "full disk: exit $rc after ${took} s; its errors:"
  grep -i -m 4 'error' "$log" | sed 's/^/  | /' || true
  if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
    echo "FAIL  full-disk-no-hang: still running after 300 s" >"$T/results/no-hang"
  else
    echo "ok    full-disk-no-hang (${took} s)" >"$T/results/no-hang"
  fi
  if [ "$rc" = 1 ]; then
    echo "ok    full-disk-exit-1" >"$T/results/exit"
  else
    echo "FAIL  full-disk-exit-1: exit $rc" >"$T/results/exit"
  fi
  if grep -qiE 'no space left|disk.*full|ENOSPC' "$log" && grep -qF "$T/full/out.h5" "$log"; then
    echo "ok    full-disk-message-names-file-and-cause" >"$T/results/message"
  else
    echo "FAIL  full-disk-message: no message naming $T/full/out.h5 and 'no space left'" \
      >"$T/results/message"
  fi
  if grep -qE "$crash_marks" "$log"; then
    echo "FAIL  full-disk-no-crash: $(grep -m1 -E "$crash_marks" "$log")" >"$T/results/crash"
  else
    echo "ok    full-disk-no-crash" >"$T/results/crash"
  fi
  if h5dump -H "$T/full/out.h5" >"$T/logs/h5dump.txt" 2>&1; then
    echo "ok    full-disk-file-readable-by-h5dump" >"$T/results/h5dump"
  else
    { echo "FAIL  full-disk-file-readable-by-h5dump:"; head -5 "$T/logs/h5dump.txt"; } \
      >"$T/results/h5dump"
  fi
  # Every task the file marks done has the same rows as in the reference run.
  if out=$(/usr/bin/python3 - "$T/ref.h5" "$T/full/out.h5" 2>&1 <<'PY'
import sys, h5py, numpy as np
ref, full = h5py.File(sys.argv[1], "r"), h5py.File(sys.argv[2], "r")
status = full["results/status"][:]
tasks = len(status)
done = np.flatnonzero(status == 1)
assert 0 < len(done) < tasks, f"{len(done)} of {tasks} tasks done: the disk did not fill mid-run"
compared = []
def visit(name, obj):
    if isinstance(obj, h5py.Dataset) and obj.shape[:1] == (tasks,) and name != "status":
        a, b = full["results"][name][done], ref["results"][name][done]
        assert np.array_equal(a, b, equal_nan=a.dtype.kind == "f"), f"/results/{name} differs"
        compared.append(name)
full["results"].visititems(visit)
assert compared, "no per-task dataset under /results"
print(f"{len(done)} of {tasks} tasks done, their rows equal to a full run's in "
      f"{len(compared)} datasets")
PY
  ); then
    echo "ok    full-disk-finished-rows-intact: $out" >"$T/results/rows"
  else
    { echo "FAIL  full-disk-finished-rows-intact:"; echo "$out" | tail -3; } >"$T/results/rows"
  fi
  report
}

"$mode"
