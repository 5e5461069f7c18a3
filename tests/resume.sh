#!/usr/bin/env bash
# Nothing lost: a sweep killed with SIGKILL at random moments (the whole session, as scancel
# would) more often than --max-attempts, its tasks finishing rounds between the kills, and
# resumed each time with the default options ends equal to an uninterrupted run with exit 0;
# SIGTERM stops it within a bound with exit 3; --stop-after likewise; a second job on a file in
# use is refused; a file of another sweep is refused untouched; diverging tasks are recorded as
# failed; a task that really crashes its rank is failed as poison after --max-attempts deaths,
# alone, while the tasks that died beside it finish.
#   tests/resume.sh path/to/ticketfarm [kills]
set -euo pipefail
TF=$(realpath "$1")
# Without the MNIST that tools/fetch-data fetches the test is skipped (exit 77), not failed.
data=${TICKETFARM_DATA:-data}
[ -d "$data/mnist" ] || { echo "SKIP  $data/mnist is missing (run tools/fetch-data mnist)"; exit 77; }
KILLS=${2:-12}
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
model: {hidden: [64, 32]}
train: {iterations: 450, eval_every: 150}
prune: {rounds: 23, rate: 0.15, output_rate: 0.075}
grid:
  init: [glorot_normal, orthogonal]
  control: [ticket, sign_reinit]
  seed: [1, 2]
YAML

t0=$(date +%s.%N)
mpirun -n 3 "$TF" run "$T/sweep.yaml" -o "$T/ref.h5" -q 2>"$T/ref.log" || die "reference run: $(tail -3 "$T/ref.log")"
t1=$(date +%s.%N)
# Kill moments scale with the machine's speed, which start-up on a loaded machine varies too
# much for fixed delays: each job is watched until every task it started has finished a new
# round, then killed at a random moment within the next half of a typical round (measured in
# the reference run). So every kill comes after progress, and KILLS kills land before the sweep
# can finish.
round=$($PY -c "
import sys, h5py, numpy as np
print(round(float(np.nanmedian(h5py.File(sys.argv[1], 'r')['runtime/wall_s'][:])), 2))" "$T/ref.h5")
ok "uninterrupted reference run ($($PY -c "print(round($t1 - $t0, 1))") s, rounds of ${round} s)"

# wait_progress FILE BEFORE: waits (at most 120 s) until FILE has more finished rounds than
# BEFORE and every task this job started (its attempts grew since the job started: tasks left
# open by a killed job and still queued do not count) has finished a round in it, then for a
# random part of half a round; prints the rounds finished when the wait ended.
wait_progress() {
  $PY - "$1" "$2" "$round" "${3:-}" <<'PY'
import random, sys, time, h5py, numpy as np
path, before, round_s = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
started = [int(a) for a in sys.argv[4].split()] if sys.argv[4] else None
deadline = time.monotonic() + 120
done = before
while time.monotonic() < deadline:
    try:
        with h5py.File(path, "r") as f:
            done_t = f["results/rounds_done"][:]
            status = f["results/status"][:]
            rt = f["runtime"]
            running = (rt["open_attempt"][:] == 1) & (status == 0)
            if started is not None:
                running &= rt["attempts"][:] > np.array(started)
            moved = done_t[running] > rt["start_round"][:][running]
            done = int(done_t.sum())
            if done > before and moved.all():
                break
    except (OSError, KeyError):
        pass
    time.sleep(0.05)
time.sleep(random.uniform(0, 0.5 * round_s))
print(done)
PY
}

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
  setsid mpirun -n 3 "$TF" run "$T/sweep.yaml" -o "$T/$1" -q "${@:2}" \
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

# kills counts the kills of the job writing the current file: a run that outruns them (the
# machine got faster) starts the file over. Each kill is checked to land after progress, so the
# resumed tasks must never be failed as poison.
# Rounds finished in a file, 0 when it does not open.
rounds_in() {
  $PY -c "
import sys, h5py
try:
    with h5py.File(sys.argv[1], 'r') as f:
        print(int(f['results/rounds_done'][:].sum()))
except (OSError, KeyError):
    print(0)
" "$1"
}

# Every task's attempts in a file, blank when it does not open.
attempts_in() {
  $PY -c "
import sys, h5py
try:
    with h5py.File(sys.argv[1], 'r') as f:
        print(' '.join(str(int(a)) for a in f['runtime/attempts'][:]))
except (OSError, KeyError):
    print('')
" "$1"
}

kills=0 runs=0 progressed=0 before=0
: >"$T/jobs.log"
while :; do
  runs=$((runs + 1))
  [ $runs -le $((KILLS * 5)) ] || die "no completion after $runs runs"
  attempts=$(attempts_in "$T/killed.h5")
  start_job killed.h5
  if [ $kills -lt "$KILLS" ]; then
    after=$(wait_progress "$T/killed.h5" "$before" "$attempts")
    if kill -0 "$SID" 2>/dev/null; then
      kill_session "$SID"
      SID=
      cat "$T/job.log" >>"$T/jobs.log"
      kills=$((kills + 1))
      if [ "$after" -gt "$before" ]; then
        progressed=$((progressed + 1))
      else
        echo "      kill $kills: no new finished round in 120 s ($before rounds)"
      fi
      before=$(rounds_in "$T/killed.h5")
      continue
    fi
  fi
  rc=0
  wait "$SID" || rc=$?
  SID=
  cat "$T/job.log" >>"$T/jobs.log"
  [ $rc = 0 ] || die "resumed run exited $rc: $(tail -3 "$T/job.log")"
  [ $kills -ge "$KILLS" ] && break
  # The sweep outran the kills: equality is checked after KILLS kills of one file, so start over.
  echo "      the sweep finished after $kills kills: starting the file over"
  rm -f "$T/killed.h5"
  kills=0 progressed=0 before=0
done
[ $kills -ge "$KILLS" ] || die "only $kills kills landed"
[ "$progressed" = "$kills" ] || die "only $progressed of $kills kills came after a new finished round"
! grep -q ": poison task" "$T/jobs.log" || die "a task that progressed between kills was failed: $(grep ": poison task" "$T/jobs.log" | head -3)"
file_opens "$T/killed.h5" || die "final file does not open"
h5diff --exclude-path /runtime "$T/ref.h5" "$T/killed.h5" >"$T/diff.txt" ||
  die "killed-and-resumed file differs: $(head -5 "$T/diff.txt")"
ok "$kills SIGKILLs of the whole job at random moments after new finished rounds, default --max-attempts, $runs runs: exit 0, no task failed, equal to the uninterrupted run"

# Kills that came after finished rounds leave resumed tasks: a task continued from a finished
# round keeps start_round > 0 in its last attempt.
$PY - "$T/killed.h5" <<'PY' || die "no task resumed from a finished round"
import sys, h5py
f = h5py.File(sys.argv[1], "r")
start = f["runtime/start_round"][:]
att = f["runtime/attempts"][:]
print(f"      start_round {list(start)}, attempts {list(att)}, stalls {list(f['runtime/stalls'][:])}")
assert (start > 0).any() or (att > 1).any()
assert (f["results/status"][:] == 1).all()
PY
ok "/runtime records resumed tasks (start_round, attempts)"

# SIGTERM as srun delivers it at a time limit: to every task of the step. (Sent to mpirun
# itself, Open MPI forwards it but mpirun then exits 1 whatever the ranks return; SIGUSR1 to
# mpirun is forwarded and its exit code kept, which is what jobs/ uses.)
for how in term-ranks usr1-mpirun; do
  rm -f "$T/term.h5"
  start_job term.h5
  # Stopped once tasks have finished rounds, long before the sweep can end (a fixed delay lets a
  # fast machine finish first).
  wait_progress "$T/term.h5" 0 >/dev/null
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
wait_progress "$T/busy.h5" 0 >/dev/null
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

# The poison rule on the file: a task whose job died twice in a row while it ran without a new
# finished round, and died so a third time, is failed with that basis; one that finished a round
# in its last attempt is not, whatever its count.
$PY - "$T/ref.h5" "$T/poison.h5" <<'PY'
import shutil, sys, h5py
shutil.copy(sys.argv[1], sys.argv[2])
with h5py.File(sys.argv[2], "r+") as f:
    for t, done, start in ((3, 2, 2), (5, 11, 10)):
        f["results/status"][t] = 0
        f["results/rounds_done"][t] = done
        f["runtime/attempts"][t] = 7
        f["runtime/start_round"][t] = start
        f["runtime/open_attempt"][t] = 1
        f["runtime/stalls"][t] = 2
PY
"$TF" status "$T/poison.h5" >"$T/poison.status"
grep -q "task 3: 2 job deaths in a row" "$T/poison.status" || die "status does not show the stalls: $(cat "$T/poison.status")"
rc=0
"$TF" run "$T/sweep.yaml" -o "$T/poison.h5" -q 2>"$T/poison.log" || rc=$?
[ $rc = 1 ] && grep -q "task 3: poison task: the job died 3 times in a row" "$T/poison.log" ||
  die "poison task: exit $rc: $(cat "$T/poison.log")"
! grep -q "task 5: poison" "$T/poison.log" || die "a task that finished a round was failed as poison"
"$TF" status "$T/poison.h5" >"$T/poison.status"
grep -q "task 3: poison task" "$T/poison.status" && grep -q "7 done, 1 failed" "$T/poison.status" ||
  die "status after the poison task: $(cat "$T/poison.status")"
$PY - "$T/poison.h5" <<'PY' || die "/runtime does not record the verdicts"
import sys, h5py
f = h5py.File(sys.argv[1], "r")
rt = f["runtime"]
assert list(rt["stalls"][[3, 5]]) == [3, 0], list(rt["stalls"][:])
assert not rt["open_attempt"][:].any(), list(rt["open_attempt"][:])
PY
ok "a task whose job died 3 times in a row without a new finished round is failed as poison; one that progressed is not"

# A task that really crashes its rank (SIGSEGV after a finished round, by the test-only
# trigger), in a sweep run with 3 ranks and resumed: each death is recorded in OUT.h5.crashes
# and counted against it alone, so it is failed as poison after --max-attempts (3) deaths
# although it finished rounds, and every task that ran beside it finishes.
cat >"$T/crash.yaml" <<'YAML'
name: crash
data: {validation: 1000}
model: {hidden: [32]}
train: {iterations: 100, eval_every: 50}
prune: {rounds: 5, rate: 0.3}
grid:
  seed: [1, 2, 3, 4, 5, 6]
YAML
crash_runs=0
for i in 1 2 3 4 5 6; do
  crash_runs=$i
  rc=0
  TICKETFARM_TEST_CRASH_TASK=1 mpirun -n 3 "$TF" run "$T/crash.yaml" -o "$T/crash.h5" -q \
    >"$T/crash.out" 2>"$T/crash.log" || rc=$?
  cat "$T/crash.log" >>"$T/crashes.log"
  if [ $i -le 3 ]; then
    # mpirun's own exit code for a rank killed by a signal varies (139, or 1 once it has
    # ended the other ranks): the record of the crash is what counts.
    [ $rc != 0 ] || die "run $i with a crashing task: exit 0"
    grep -q "^task 1 signal 11$" "$T/crash.h5.crashes" ||
      die "run $i: no crash record of task 1: $(cat "$T/crash.h5.crashes" 2>&1)"
    ! grep -qv "^task 1 signal 11$" "$T/crash.h5.crashes" ||
      die "run $i: a crash recorded for another task: $(cat "$T/crash.h5.crashes")"
  else
    [ $rc = 1 ] || die "run $i after the poison task: exit $rc (want 1): $(tail -3 "$T/crash.log")"
    break
  fi
done
[ ! -e "$T/crash.h5.crashes" ] || die "crash records left after they were counted"
grep -q "task 1: poison task: the job died 3 times in a row while it ran: 3 recorded crashes of its rank (SIGSEGV)" "$T/crashes.log" ||
  die "no poison verdict for the crashing task: $(grep -i poison "$T/crashes.log")"
[ "$(grep -c ': poison task' "$T/crashes.log")" = 1 ] || die "more than one task failed as poison"
"$TF" status "$T/crash.h5" >"$T/crash.status"
grep -q "6 tasks: 5 done, 1 failed, 0 pending" "$T/crash.status" &&
  grep -q "task 1: poison task.*SIGSEGV" "$T/crash.status" && grep -q "crashes: 3 recorded" "$T/crash.status" ||
  die "status after the crashing task: $(cat "$T/crash.status")"
$PY - "$T/crash.h5" <<'PY' || die "/runtime after the crashing task"
import sys, h5py
f = h5py.File(sys.argv[1], "r")
st, rt = f["results/status"][:], f["runtime"]
assert list(st) == [1, 2, 1, 1, 1, 1], list(st)
assert list(rt["crashes"][:]) == [0, 3, 0, 0, 0, 0], list(rt["crashes"][:])
assert rt["stalls"][:].max() == 3 and rt["stalls"][1] == 3, list(rt["stalls"][:])
PY
ok "a task crashing its rank (SIGSEGV) is failed as poison after 3 deaths ($crash_runs runs), alone; the 5 beside it finish"

echo "resume: $pass checks passed"
