#!/usr/bin/env bash
# Nothing lost: a sweep killed with SIGKILL at random moments (the whole session, as scancel
# would) and resumed each time ends equal to an uninterrupted run; SIGTERM stops it within a
# bound with exit 3; --stop-after likewise; a second job on a file in use is refused; a file of
# another sweep is refused untouched; diverging and poison tasks are recorded as failed.
#   tests/resume.sh path/to/ticketfarm [kills]
set -euo pipefail
TF=$(realpath "$1")
# Without the MNIST that tools/fetch-data fetches the test is skipped (exit 77), not failed.
data=${TICKETFARM_DATA:-data}
[ -d "$data/mnist" ] || { echo "SKIP  $data/mnist is missing (run tools/fetch-data mnist)"; exit 77; }
KILLS=${2:-10}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
export OPENBLAS_NUM_THREADS=1 HDF5_USE_FILE_LOCKING=FALSE
PY=/usr/bin/python3
T=$(mktemp -d)
cleanup() {
  [ -n "${SID:-}" ] && pkill -9 -s "$SID" 2>/dev/null || true
  rm -rf "$T"
}
trap cleanup EXIT
[ -n "${KEEP:-}" ] && trap - EXIT && echo "keeping $T"
pass=0
ok() { pass=$((pass + 1)); echo "ok    $*"; }
die() { echo "FAIL  $*" >&2; exit 1; }

cat >"$T/sweep.yaml" <<'YAML'
name: resume
data: {validation: 1000}
model: {hidden: [96, 48]}
train: {iterations: 400, eval_every: 100}
prune: {rounds: 4, rate: 0.3, output_rate: 0.15}
grid:
  init: [glorot_normal, orthogonal]
  control: [ticket, sign_reinit]
  seed: [1, 2]
YAML

t0=$(date +%s.%N)
mpirun -n 3 "$TF" run "$T/sweep.yaml" -o "$T/ref.h5" -q 2>"$T/ref.log" || die "reference run: $(tail -3 "$T/ref.log")"
t1=$(date +%s.%N)
# Kill delays scale with the machine's speed: each run's progress is about its delay less the
# start-up, so KILLS kills land before the sweep can finish, whatever the machine.
max_delay=$($PY -c "print(round(max(1.5, 1.0 + 2.0 * ($t1 - $t0) / ($KILLS + 2)), 2))")
ok "uninterrupted reference run ($($PY -c "print(round($t1 - $t0, 1))") s; kills at 0.3 to $max_delay s)"

# Kills every process of a session and waits until none is left, as scancel ends a job.
kill_session() {
  pkill -9 -s "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
  for _ in $(seq 100); do
    pgrep -s "$1" >/dev/null || return 0
    sleep 0.1
  done
  die "session $1 survived SIGKILL"
}

# Starts a job in a session of its own; SID is its session (= the setsid process's pid).
start_job() {
  setsid mpirun -n 3 "$TF" run "$T/sweep.yaml" -o "$T/$1" -q --max-attempts 1000 "${@:2}" \
    >"$T/job.out" 2>"$T/job.log" &
  SID=$!
}

file_opens() {
  $PY -c "
import sys, h5py
with h5py.File(sys.argv[1], 'r') as f:
    f['results/status'][:]
" "$1"
}

kills=0 runs=0
while :; do
  runs=$((runs + 1))
  [ $runs -le $((KILLS * 5)) ] || die "no completion after $runs runs"
  start_job killed.h5
  if [ $kills -lt "$KILLS" ]; then
    delay=$($PY -c "import random; print(round(random.uniform(0.3, $max_delay), 2))")
    sleep "$delay"
    if kill -0 "$SID" 2>/dev/null; then
      kill_session "$SID"
      SID=
      kills=$((kills + 1))
      if [ -e "$T/killed.h5" ]; then
        file_opens "$T/killed.h5" 2>/dev/null ||
          $PY -c "import h5py,sys; h5py.File(sys.argv[1],'r')" "$T/killed.h5" 2>/dev/null ||
          echo "      kill $kills at ${delay}s: file not yet created/flushed (restarts afresh)"
      fi
      continue
    fi
  fi
  rc=0
  wait "$SID" || rc=$?
  SID=
  [ $rc = 0 ] || die "resumed run exited $rc: $(tail -3 "$T/job.log")"
  [ $kills -ge "$KILLS" ] && break
  # The sweep outran the kills: equality is checked after the last kill, so start over.
  rm -f "$T/killed.h5"
done
[ $kills -ge "$KILLS" ] || die "only $kills kills landed"
file_opens "$T/killed.h5" || die "final file does not open"
h5diff --exclude-path /runtime "$T/ref.h5" "$T/killed.h5" >"$T/diff.txt" ||
  die "killed-and-resumed file differs: $(head -5 "$T/diff.txt")"
ok "$kills SIGKILLs of the whole job at random moments, $runs runs: equal to the uninterrupted run"

$PY - "$T/killed.h5" <<'PY' || die "no task resumed from a finished round"
import sys, h5py
f = h5py.File(sys.argv[1], "r")
start = f["runtime/start_round"][:]
att = f["runtime/attempts"][:]
print(f"      start_round {list(start)}, attempts {list(att)}")
assert (start > 0).any() or (att > 1).any()
PY
ok "/runtime records resumed tasks (start_round, attempts)"

# SIGTERM as srun delivers it at a time limit: to every task of the step. (Sent to mpirun
# itself, Open MPI forwards it but mpirun then exits 1 whatever the ranks return; SIGUSR1 to
# mpirun is forwarded and its exit code kept, which is what jobs/ uses.)
for how in term-ranks usr1-mpirun; do
  rm -f "$T/term.h5"
  start_job term.h5
  sleep 4
  t0=$(date +%s.%N)
  if [ $how = term-ranks ]; then pkill -TERM -s "$SID" -x ticketfarm || true; else kill -USR1 "$SID"; fi
  rc=0
  wait "$SID" || rc=$?
  t1=$(date +%s.%N)
  SID=
  took=$($PY -c "print(round($t1 - $t0, 2))")
  [ $rc = 3 ] || die "$how: exit $rc (want 3): $(tail -5 "$T/job.log")"
  $PY -c "assert $took <= 10, $took" || die "$how took ${took}s"
  file_opens "$T/term.h5" || die "file after $how"
  [ ! -e "$T/term.h5.lock" ] || die "lock left after a clean stop"
  mpirun -n 3 "$TF" run "$T/sweep.yaml" -o "$T/term.h5" -q 2>"$T/term2.log" || die "resume after $how: $(tail -3 "$T/term2.log")"
  h5diff --exclude-path /runtime "$T/ref.h5" "$T/term.h5" >/dev/null || die "resumed after $how differs"
  ok "$how: exit 3 after ${took}s, file readable, resume equal"
done

# A budget instead of a signal; tasks resume at their last finished round. Short rounds, and a
# budget doubled until some task has stopped after a finished round, whatever the machine's speed.
cat >"$T/rounds.yaml" <<'YAML'
name: short-rounds
data: {validation: 1000}
model: {hidden: [64]}
train: {iterations: 100, eval_every: 100}
prune: {rounds: 10, rate: 0.3}
grid:
  control: [ticket, reinit]
  seed: [1, 2, 3]
YAML
mpirun -n 2 "$TF" run "$T/rounds.yaml" -o "$T/rounds-ref.h5" -q 2>"$T/stop.log" || die "short-rounds reference"
partial=0
for budget in 1 2 4 8 16; do
  rm -f "$T/stop.h5"
  rc=0
  mpirun -n 2 "$TF" run "$T/rounds.yaml" -o "$T/stop.h5" -q --stop-after ${budget}s 2>"$T/stop.log" || rc=$?
  [ $rc = 3 ] || [ $rc = 0 ] || die "--stop-after: exit $rc: $(tail -3 "$T/stop.log")"
  [ $rc = 3 ] || continue
  partial=$($PY -c "
import sys, h5py
r = h5py.File(sys.argv[1], 'r')['results']
print(sum(1 for s, d in zip(r['status'][:], r['rounds_done'][:]) if s == 0 and d > 0))
" "$T/stop.h5")
  [ "$partial" -gt 0 ] && break
done
[ "$partial" -gt 0 ] || die "no budget stopped a task after a finished round"
mpirun -n 2 "$TF" run "$T/rounds.yaml" -o "$T/stop.h5" -q 2>>"$T/stop.log" || die "resume after --stop-after"
grep -q "continue from a finished round" "$T/stop.log" || die "no resume message"
$PY - "$T/stop.h5" <<'PY' || die "start_round does not show the resumed rounds"
import sys, h5py
f = h5py.File(sys.argv[1], "r")
start = f["runtime/start_round"][:]
print(f"      start_round after --stop-after and resume: {list(start)}")
assert (start > 0).any()
PY
h5diff --exclude-path /runtime "$T/rounds-ref.h5" "$T/stop.h5" >/dev/null || die "resumed after --stop-after differs"
ok "--stop-after ${budget}s: exit 3; $partial tasks resumed at their last finished round; equal to uninterrupted"

# One writer per file.
rm -f "$T/busy.h5"
start_job busy.h5
sleep 2
rc=0
"$TF" run "$T/sweep.yaml" -o "$T/busy.h5" -q 2>"$T/busy.log" || rc=$?
kill_session "$SID"
SID=
[ $rc = 2 ] && grep -q "in use" "$T/busy.log" || die "second writer: exit $rc: $(cat "$T/busy.log")"
ok "a second job on a file in use is refused (exit 2)"

# A different sweep is refused and the file stays byte for byte the same.
sed 's/seed: \[1, 2\]/seed: [1, 3]/' "$T/sweep.yaml" >"$T/other.yaml"
cp "$T/ref.h5" "$T/keep.h5"
rc=0
"$TF" run "$T/other.yaml" -o "$T/ref.h5" -q 2>"$T/other.log" || rc=$?
[ $rc = 2 ] && grep -q "different sweep" "$T/other.log" && grep -q "seed" "$T/other.log" ||
  die "different sweep: exit $rc: $(cat "$T/other.log")"
cmp -s "$T/ref.h5" "$T/keep.h5" || die "the refused file was modified"
ok "a different sweep is refused naming what differs, file untouched"

# A file left unreadable by a job killed before creating its datasets starts afresh;
# an unreadable file without such a lock is not ours to overwrite.
printf 'partial' >"$T/early.h5"
rc=0
"$TF" run "$T/sweep.yaml" -o "$T/early.h5" -q 2>"$T/early.log" || rc=$?
[ $rc = 2 ] || die "unreadable file without lock: exit $rc"
printf 'host %s\npid 999999\nstarted 0\nslurm_job -\n' "$(hostname)" >"$T/early.h5.lock"
mpirun -n 2 "$TF" run "$T/sweep.yaml" -o "$T/early.h5" -q 2>"$T/early.log" || die "restart afresh: $(tail -3 "$T/early.log")"
grep -q "afresh" "$T/early.log" || die "no 'afresh' in the log"
h5diff --exclude-path /runtime "$T/ref.h5" "$T/early.h5" >/dev/null || die "afresh run differs"
ok "a file killed before its datasets existed starts afresh; a foreign unreadable file is refused"

# Diverging tasks fail with their reason and the sweep goes on (exit 1); a task started too
# often without finishing is failed as poison.
cat >"$T/nan.yaml" <<'YAML'
name: diverge
data: {validation: 1000}
model: {hidden: []}
train: {optimizer: sgd, iterations: 200, eval_every: 100}
prune: {rounds: 1}
grid:
  train.lr: [0.05, 1.0e+37]
YAML
rc=0
mpirun -n 2 "$TF" run "$T/nan.yaml" -o "$T/nan.h5" -q 2>"$T/nan.log" || rc=$?
[ $rc = 1 ] || die "diverging task: exit $rc"
"$TF" status "$T/nan.h5" >"$T/nan.status"
grep -q "1 done, 1 failed" "$T/nan.status" && grep -qi "iteration" "$T/nan.status" ||
  die "status of a diverged task: $(cat "$T/nan.status")"
rc=0
mpirun -n 2 "$TF" run "$T/nan.yaml" -o "$T/nan.h5" -q --retry-failed 2>"$T/nan2.log" || rc=$?
[ $rc = 1 ] && grep -q "failed" "$T/nan2.log" || die "--retry-failed: exit $rc"
ok "a diverging task is failed with its reason and iteration, the sweep goes on (exit 1)"

$PY - "$T/ref.h5" "$T/poison.h5" <<'PY'
import shutil, sys, h5py
shutil.copy(sys.argv[1], sys.argv[2])
with h5py.File(sys.argv[2], "r+") as f:
    f["results/status"][3] = 0
    f["results/rounds_done"][3] = 0
    f["runtime/attempts"][3] = 3
PY
rc=0
"$TF" run "$T/sweep.yaml" -o "$T/poison.h5" -q 2>"$T/poison.log" || rc=$?
[ $rc = 1 ] && grep -q "poison" "$T/poison.log" || die "poison task: exit $rc: $(cat "$T/poison.log")"
"$TF" status "$T/poison.h5" | grep -q "poison" || die "status does not show the poison task"
ok "a task started 3 times without finishing is failed as poison"

echo "resume: $pass checks passed"
