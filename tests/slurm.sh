#!/usr/bin/env bash
# The SLURM job scripts for real: a private cluster on localhost (one node, or two) runs jobs/*.sbatch, and the results equal mpirun's.
set -euo pipefail

usage() {
  cat <<'EOF'
usage: tests/slurm.sh path/to/ticketfarm [srun|mpirun|timelimit|array|twonode-srun|twonode-mpirun ...]

Brings up munged, slurmctld and slurmd on localhost with a private configuration in a
temporary directory (tests/slurm/cluster), runs the chosen cases (all six by default), and
stops the daemons it started, by PID, and removes the directory, whatever happens. The first
four cases run on a one-node cluster; the twonode cases on a cluster of two nodes, n1 and n2,
on this one machine (tests/slurm/cluster start --two-nodes: a slurmd each, under its own host
name), brought up after the one-node cluster has been stopped.
  srun       jobs/ticketfarm.sbatch with 2 tasks runs a 2-task x 3-round sweep to completion;
             the file equals a plain mpirun run's (h5diff --exclude-path /runtime).
  mpirun     the same with jobs/ticketfarm-mpirun.sbatch.
  timelimit  jobs/ticketfarm.sbatch with --time=1 (a minute) and an early warning 45 s before
             it, on a sweep that needs longer: the job stops with exit 3, requeues itself, and
             the chain completes with a file equal to an uninterrupted run's.
  array      jobs/ticketfarm-array.sbatch as a 3-element array, one shard each, one element
             stopped by SIGUSR1 and requeued; `ticketfarm merge` of the 3 files equals a plain
             mpirun run's.
  twonode-srun
             jobs/ticketfarm.sbatch with --nodes=2 --ntasks-per-node=2 (srun --mpi=pmix starts 4
             ranks, 2 on each node) runs 8 tasks (4 seeds, each a ticket and its reinit control)
             to completion. Both nodes ran tasks (/runtime/host and /runtime/rank: n1 and n2,
             no rank on both), each node read MNIST once for its 2 ranks (a "read once on node"
             log line from n1 and one from n2; the one-node reference run logs one), and the
             file equals a one-node mpirun -n 2 run's (h5diff --exclude-path /runtime).
  twonode-mpirun
             the same with jobs/ticketfarm-mpirun.sbatch (mpirun inside the 2-node job).
Needs root, slurm-wlm and munge (tools/setup installs them), and for two nodes unshare(1).
Prints "SKIPPED: <reason>" and exits 77 when they are missing, a SLURM daemon already runs
here, or the daemons do not start.
EOF
}

case ${1:-} in
  -h | --help) usage; exit 0 ;;
  "") usage >&2; exit 2 ;;
esac
TF=$(realpath "$1")
shift
cases=("$@")
[ ${#cases[@]} -gt 0 ] || cases=(srun mpirun timelimit array twonode-srun twonode-mpirun)
one_node=() two_nodes=()
for c in "${cases[@]}"; do
  case $c in
    srun | mpirun | timelimit | array) one_node+=("$c") ;;
    twonode-srun | twonode-mpirun) two_nodes+=("$c") ;;
    *) echo "unknown case '$c'" >&2; exit 2 ;;
  esac
done

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
export OPENBLAS_NUM_THREADS=1 HDF5_USE_FILE_LOCKING=FALSE
# The job scripts find the executable under test through this.
export TICKETFARM=$TF
unset TICKETFARM_ARGS TICKETFARM_MAX_RESUBMITS TICKETFARM_SWEEP TICKETFARM_OUTPUT

T=$(mktemp -d /tmp/ticketfarm-slurm.XXXXXX)

# The one-node cluster lives in $T beside the jobs' files, the two-node one in $T/two-nodes.
# A cluster's own stop cancels its jobs first, then stops the daemons by PID. Should this script
# be killed outright, the watcher started with each cluster stops it and removes its directory.
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  [ ! -d "$T/two-nodes" ] || "$root/tests/slurm/cluster" stop "$T/two-nodes" || true
  "$root/tests/slurm/cluster" stop "$T" || true
  rm -rf "$T"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

pass=0
ok() { pass=$((pass + 1)); echo "ok    $*"; }
die() {
  echo "FAIL  $*" >&2
  exit 1
}
# Shows a job's output, the states it went through and the end of the running cluster's logs.
show_log() {
  local f
  for f in "$1" "$T"/job-*.states "$CL/log/slurmctld.log" "$CL"/log/slurmd*.log; do
    [ -f "$f" ] || continue
    echo "      --- ${f#"$T"/} (last 40 lines)" >&2
    tail -n 40 "$f" | sed 's/^/      | /' >&2
  done
}

# Starts a cluster in directory $1 (tests/slurm/cluster start's options follow) and points
# SLURM_CONF (and for two nodes Open MPI's TCP) at it; returns 77 when it was skipped, after
# printing why.
cluster_up() {
  local dir=$1 rc
  shift
  CL=$dir
  set +e
  "$root/tests/slurm/cluster" start "$@" "$dir" $$ >"$T/cluster.log" 2>&1
  rc=$?
  set -e
  if [ $rc = 77 ]; then
    grep '^SKIPPED' "$T/cluster.log" || echo "SKIPPED: the SLURM cluster did not start"
    return 77
  fi
  [ $rc = 0 ] || die "cluster start exited $rc: $(cat "$T/cluster.log")"
  cat "$T/cluster.log"
  # shellcheck disable=SC1091 # written by tests/slurm/cluster
  . "$dir/env"
}
# Requeued jobs and the reference runs read and write here; the jobs run as root with this cwd.
cd "$T"

# Prints "STATE EXITCODE RESTARTS" of a job once it has ended, or fails after $2 seconds.
# Every change of state goes to $T/job-JID.states, shown when a check fails.
wait_job() {
  local jid=$1 limit=$2 start line state reason restarts exitcode seen="" now
  start=$(date +%s)
  while :; do
    line=$(scontrol show job -o "$jid" 2>/dev/null || true)
    state=$(echo "$line" | sed -nE 's/.*JobState=([A-Z_]+).*/\1/p')
    reason=$(echo "$line" | sed -nE 's/.*Reason=([^ ]+).*/\1/p')
    restarts=$(echo "$line" | sed -nE 's/.*Restarts=([0-9]+).*/\1/p')
    exitcode=$(echo "$line" | sed -nE 's/.* ExitCode=([0-9:]+).*/\1/p')
    now="$state $reason restarts=$restarts exit=$exitcode"
    if [ "$now" != "$seen" ]; then
      echo "+$(($(date +%s) - start)) s: $now" >>"$T/job-$jid.states"
      seen=$now
    fi
    case $state in
      COMPLETED | FAILED | CANCELLED | TIMEOUT | NODE_FAIL | OUT_OF_MEMORY | BOOT_FAIL | DEADLINE | PREEMPTED)
        echo "$state $exitcode $restarts"
        return 0
        ;;
      "")
        echo "job $jid is unknown to slurmctld" >&2
        return 1
        ;;
    esac
    if [ $(($(date +%s) - start)) -ge "$limit" ]; then
      echo "job $jid still $state ($reason) after $limit s" >&2
      return 1
    fi
    sleep 0.5
  done
}

# Submits a job and sets JID.
submit() {
  JID=$(sbatch --parsable "$@") || die "sbatch $* failed"
  JID=${JID%%;*}
}

# A tiny network: 2 tasks x 3 rounds, a few seconds.
cat >"$T/small.yaml" <<'YAML'
name: slurm-small
data: {validation: 1000}
model: {hidden: [32]}
train: {iterations: 100, eval_every: 50}
prune: {rounds: 2}
record: {weights: [final]}
grid:
  seed: [1, 2]
YAML

# Runs the small sweep through one job script and compares it with a plain mpirun run.
case_complete() {
  local script=$1 name=$2 jid result
  [ -f "$T/small-ref.h5" ] ||
    timeout --foreground 120 mpirun -n 2 "$TF" run "$T/small.yaml" -o "$T/small-ref.h5" -q 2>"$T/small-ref.log" ||
    die "reference mpirun run failed: $(tail -n 3 "$T/small-ref.log")"
  submit --ntasks=2 --time=5 --job-name="tf-$name" --output="$T/$name-%j.out" \
    "$root/jobs/$script" small.yaml "$name.h5"
  jid=$JID
  result=$(wait_job "$jid" 120) || { show_log "$T/$name-$jid.out"; die "$script: job $jid did not end"; }
  read -r state exitcode restarts <<<"$result"
  [ "$state $exitcode" = "COMPLETED 0:0" ] ||
    { show_log "$T/$name-$jid.out"; die "$script: job $jid ended $state with exit code $exitcode"; }
  if ! grep -q "2 tasks on 2 ranks" "$T/$name-$jid.out" ||
    ! grep -q "ticketfarm exited with code 0" "$T/$name-$jid.out" ||
    ! grep -q "the sweep is complete" "$T/$name-$jid.out"; then
    show_log "$T/$name-$jid.out"
    die "$script: the job output does not show 2 ranks and exit 0"
  fi
  ok "$script: job $jid COMPLETED, 2 ranks, ticketfarm exit 0, $restarts requeues"
  "$TF" status "$T/$name.h5" >"$T/$name-status.txt" 2>&1 || true
  grep -q "2 tasks: 2 done, 0 failed, 0 pending" "$T/$name-status.txt" ||
    die "$script: status: $(cat "$T/$name-status.txt")"
  ok "$script: ticketfarm status: 2 tasks: 2 done, 0 failed, 0 pending"
  h5diff --exclude-path /runtime "$T/small-ref.h5" "$T/$name.h5" >"$T/$name-diff.txt" ||
    die "$script: the file differs from mpirun's: $(head -n 5 "$T/$name-diff.txt")"
  ok "$script: the file equals a plain mpirun run's (h5diff --exclude-path /runtime)"
}

# Writes $T/NAME.yaml: tasks x 8 rounds of 1,000 iterations (about a second each on an idle core).
long_sweep() {
  local name=$1 rounds=$2 tasks=$3
  cat >"$T/$name.yaml" <<YAML
name: slurm-timelimit
data: {validation: 1000}
model: {hidden: [100]}
train: {iterations: 1000, eval_every: 500}
prune: {rounds: $rounds}
record: {weights: [final]}
grid:
  seed: [$(seq -s ', ' "$tasks")]
YAML
}

case_timelimit() {
  local jid result state exitcode restarts t0 t1 out tasks
  # The warning comes 2-30 s into a run (measured), so the sweep must need clearly more than
  # 30 s of the job's 2 ranks, or it ends in one run; and no more, or the test is slow. The speed
  # of this machine (and its other load) decides how many tasks that is: a one-task, 3-round
  # calibration run sets it for about 70 s on 2 ranks.
  long_sweep calibrate 2 1
  t0=$(date +%s%N)
  timeout --foreground 120 "$TF" run "$T/calibrate.yaml" -o "$T/calibrate.h5" -q 2>"$T/calibrate.log" ||
    die "calibration run failed: $(tail -n 3 "$T/calibrate.log")"
  t1=$(date +%s%N)
  tasks=$(((2 * 70 * 3 * 1000000000 / (8 * (t1 - t0))) + 1))
  [ "$tasks" -ge 4 ] || tasks=4
  [ "$tasks" -le 48 ] || tasks=48
  echo "      calibration: 3 rounds in $(((t1 - t0) / 1000000)) ms; the sweep has $tasks tasks x 8 rounds"
  long_sweep long 7 "$tasks"

  t0=$(date +%s)
  timeout --foreground 300 mpirun -n 2 "$TF" run "$T/long.yaml" -o "$T/long-ref.h5" -q 2>"$T/long-ref.log" ||
    die "reference mpirun run failed: $(tail -n 3 "$T/long-ref.log")"
  t1=$(date +%s)
  echo "      uninterrupted mpirun run: $((t1 - t0)) s"
  # The limits are given on the command line, as a user would: a requeued job must keep them.
  # SLURM checks time limits about every 30 s, so the warning comes 15-30 s into each run
  # (measured: 19-30 s), which leaves 30 s for the ranks to stop before the limit.
  submit --ntasks=2 --time=1 --signal=B:USR1@45 --job-name=tf-timelimit \
    --output="$T/timelimit-%j.out" "$root/jobs/ticketfarm.sbatch" long.yaml timelimit.h5
  jid=$JID
  out=$T/timelimit-$jid.out
  result=$(wait_job "$jid" 600) || { show_log "$out"; die "timelimit: job $jid did not end"; }
  read -r state exitcode restarts <<<"$result"
  echo "      job $jid: $state, exit code $exitcode, $restarts requeues, $(($(date +%s) - t1)) s"
  [ "$state $exitcode" = "COMPLETED 0:0" ] ||
    { show_log "$out"; die "timelimit: job $jid ended $state with exit code $exitcode after $restarts requeues"; }
  [ "$restarts" -ge 1 ] || { show_log "$out"; die "timelimit: the sweep finished without a requeue"; }
  # In order: a warning, exit 3, a requeue, a second run, and at the end exit 0.
  /usr/bin/python3 - "$out" <<'PY' || { show_log "$out"; die "timelimit: the job output lacks the chain"; }
import re, sys
log = open(sys.argv[1]).read()
steps = [r"got SIGUSR1", r"ticketfarm exited with code 3", r"requeueing job \d+ \(requeue 1 of",
         r"run 2:", r"ticketfarm exited with code 0", r"the sweep is complete"]
pos = 0
for s in steps:
    m = re.compile(s).search(log, pos)
    if m is None:
        sys.exit(f"missing after offset {pos}: {s}")
    pos = m.end()
assert "exited with code 1" not in log and "exited with code 2" not in log
PY
  ok "timelimit: warned, exit 3, requeued $restarts times, completed with exit 0"
  scontrol show job -o "$jid" | grep -q "TimeLimit=00:01:00" ||
    die "timelimit: the requeued job lost its --time=1: $(scontrol show job -o "$jid")"
  ok "timelimit: the requeued job kept its command-line time limit"
  "$TF" status "$T/timelimit.h5" >"$T/timelimit-status.txt" 2>&1 || true
  grep -q "$tasks tasks: $tasks done, 0 failed, 0 pending" "$T/timelimit-status.txt" ||
    die "timelimit: status: $(cat "$T/timelimit-status.txt")"
  ok "timelimit: ticketfarm status: $tasks tasks: $tasks done, 0 failed, 0 pending"
  h5diff --exclude-path /runtime "$T/long-ref.h5" "$T/timelimit.h5" >"$T/timelimit-diff.txt" ||
    die "timelimit: the file differs from an uninterrupted run's: $(head -n 5 "$T/timelimit-diff.txt")"
  ok "timelimit: the file equals an uninterrupted run's (h5diff --exclude-path /runtime)"
}

# A 3-element array, one shard each (6 tasks: 3 families of a ticket and its reinit control).
# Element 0 gets the early warning (SIGUSR1 to its batch shell, as --signal=B:USR1 would send)
# while it runs, so it stops, requeues itself and finishes its shard in a second run.
case_array() {
  local a jid result state exitcode restarts k t0 out
  cat >"$T/arr.yaml" <<'YAML'
name: slurm-array
data: {validation: 1000}
model: {hidden: [64]}
train: {iterations: 600, eval_every: 200}
prune: {rounds: 6}
record: {weights: [final]}
grid:
  seed: [1, 2, 3]
  control: [ticket, reinit]
YAML
  t0=$(date +%s)
  timeout --foreground 300 mpirun -n 2 "$TF" run "$T/arr.yaml" -o "$T/arr-ref.h5" -q 2>"$T/arr-ref.log" ||
    die "reference mpirun run failed: $(tail -n 3 "$T/arr-ref.log")"
  echo "      plain mpirun run: $(($(date +%s) - t0)) s"
  submit --array=0-2 --ntasks=1 --time=5 --job-name=tf-array --output="$T/array-%A_%a.out" \
    "$root/jobs/ticketfarm-array.sbatch" arr.yaml arr
  a=$JID
  out=$T/array-${a}_0.out
  for _ in $(seq 600); do
    grep -q "run 1: shard 0/3" "$out" 2>/dev/null && break
    sleep 0.2
  done
  grep -q "run 1: shard 0/3" "$out" || { show_log "$out"; die "array: element 0 did not start"; }
  # The warning comes once the shard has finished a round, with most of its 14 rounds still to
  # run (a fixed delay lets a fast machine finish the shard first).
  /usr/bin/python3 - "$T/arr-0-of-3.h5" <<'PY' || die "array: element 0 finished no round"
import sys, time, h5py
deadline = time.monotonic() + 120
while time.monotonic() < deadline:
    try:
        with h5py.File(sys.argv[1], "r") as f:
            if f["results/rounds_done"][:].sum() >= 1:
                sys.exit(0)
    except (OSError, KeyError):
        pass
    time.sleep(0.05)
sys.exit(1)
PY
  scancel --batch --signal=USR1 "${a}_0" || die "array: scancel --signal=USR1 ${a}_0 failed"
  for k in 0 1 2; do
    jid=${a}_$k
    out=$T/array-${a}_$k.out
    result=$(wait_job "$jid" 600) || { show_log "$out"; die "array: element $k did not end"; }
    read -r state exitcode restarts <<<"$result"
    [ "$state $exitcode" = "COMPLETED 0:0" ] ||
      { show_log "$out"; die "array: element $k ended $state with exit code $exitcode"; }
    grep -q "shard $k/3 is complete: arr-$k-of-3.h5" "$out" ||
      { show_log "$out"; die "array: element $k's output does not show its shard complete"; }
    if [ "$k" = 0 ]; then
      if [ "$restarts" -lt 1 ] || ! grep -q "got SIGUSR1" "$out" ||
        ! grep -q "ticketfarm exited with code 3" "$out"; then
        show_log "$out"
        die "array: element 0 was not stopped and requeued ($restarts requeues)"
      fi
    fi
    "$TF" status "$T/arr-$k-of-3.h5" 2>&1 | grep -q "^2 tasks: 2 done, 0 failed, 0 pending" ||
      die "array: status of shard $k: $("$TF" status "$T/arr-$k-of-3.h5" 2>&1 | tail -n 2)"
    ok "array: element $k COMPLETED, shard $k/3 (2 tasks) done, $restarts requeues"
  done
  "$TF" merge "$T"/arr-*-of-3.h5 -o "$T/arr-merged.h5" 2>"$T/arr-merge.log" ||
    die "array: merge failed: $(cat "$T/arr-merge.log")"
  h5diff --exclude-path /runtime "$T/arr-ref.h5" "$T/arr-merged.h5" >"$T/arr-diff.txt" ||
    die "array: the merged file differs from mpirun's: $(head -n 5 "$T/arr-diff.txt")"
  ok "array: ticketfarm merge of the 3 shards' files equals a plain mpirun run's (h5diff --exclude-path /runtime)"
}

# 8 tasks, 4 families of a ticket and its reinit control: with 4 ranks, each rank gets a family.
cat >"$T/fam.yaml" <<'YAML'
name: slurm-two-nodes
data: {validation: 1000}
model: {hidden: [32]}
train: {iterations: 100, eval_every: 50}
prune: {rounds: 2}
record: {weights: [final]}
grid:
  seed: [1, 2, 3, 4]
  control: [ticket, reinit]
YAML

# Prints "HOST COUNT" for each "MNIST read once on node HOST for its COUNT ranks" line of a log.
node_reads() {
  sed -nE 's/.* mnist: [0-9]+ MiB read once on node ([^ ]+) for its ([0-9]+) ranks?$/\1 \2/p' "$1" |
    sort
}

# Runs the family sweep through a job script on both nodes, 2 ranks each, and checks where the
# ranks ran, that each node read the dataset once, and the file against a one-node run's.
case_two_nodes() {
  local script=$1 name=$2 jid result state exitcode restarts out t0 reads
  if [ ! -f "$T/fam-ref.h5" ]; then
    timeout --foreground 120 mpirun -n 2 "$TF" run "$T/fam.yaml" -o "$T/fam-ref.h5" -q 2>"$T/fam-ref.log" ||
      die "reference mpirun run failed: $(tail -n 3 "$T/fam-ref.log")"
    reads=$(node_reads "$T/fam-ref.log")
    [ "$reads" = "$(hostname) 2" ] ||
      die "the one-node run's reads of MNIST: '$reads', not one for 2 ranks: $(cat "$T/fam-ref.log")"
  fi
  t0=$(date +%s)
  submit --nodes=2 --ntasks-per-node=2 --ntasks=4 --time=5 --job-name="tf-$name" \
    --output="$T/$name-%j.out" "$root/jobs/$script" fam.yaml "$name.h5"
  jid=$JID
  out=$T/$name-$jid.out
  result=$(wait_job "$jid" 90) || { show_log "$out"; die "$script: job $jid did not end"; }
  read -r state exitcode restarts <<<"$result"
  [ "$state $exitcode" = "COMPLETED 0:0" ] ||
    { show_log "$out"; die "$script: job $jid ended $state with exit code $exitcode"; }
  if ! grep -q ": 4 ranks on n\[1-2\]: " "$out" || ! grep -q "8 tasks on 4 ranks" "$out" ||
    ! grep -q "ticketfarm exited with code 0" "$out" || ! grep -q "the sweep is complete" "$out"; then
    show_log "$out"
    die "$script: the job output does not show 4 ranks on n[1-2] and exit 0"
  fi
  ok "$script on 2 nodes: job $jid COMPLETED in $(($(date +%s) - t0)) s, 4 ranks on n[1-2], ticketfarm exit 0"
  reads=$(node_reads "$out")
  [ "$reads" = "$(printf 'n1 2\nn2 2')" ] ||
    { show_log "$out"; die "$script: the nodes' reads of MNIST: '$reads', not one on n1 and one on n2 for 2 ranks each"; }
  ok "$script on 2 nodes: MNIST read once on n1 and once on n2, each for its 2 ranks"
  /usr/bin/python3 - "$T/$name.h5" <<'PY' || die "$script: /runtime does not show tasks run on both nodes"
import sys
from collections import defaultdict
import h5py
with h5py.File(sys.argv[1], "r") as f:
    hosts = [h.decode() for h in f["runtime/host"][:]]
    ranks = [int(r) for r in f["runtime/rank"][:]]
by_host = defaultdict(set)
tasks = defaultdict(int)
for h, r in zip(hosts, ranks):
    by_host[h].add(r)
    tasks[h] += 1
print("      " + "; ".join(f"{h}: ranks {sorted(by_host[h])} ran {tasks[h]} tasks" for h in sorted(by_host)))
assert sorted(by_host) == ["n1", "n2"], f"hosts {sorted(by_host)}"
assert not by_host["n1"] & by_host["n2"], "a rank on both nodes"
assert by_host["n1"] | by_host["n2"] <= {0, 1, 2, 3}, f"ranks {by_host}"
PY
  ok "$script on 2 nodes: /runtime/host and /runtime/rank: tasks ran on n1 and n2, no rank on both"
  "$TF" status "$T/$name.h5" >"$T/$name-status.txt" 2>&1 || true
  grep -q "8 tasks: 8 done, 0 failed, 0 pending" "$T/$name-status.txt" ||
    die "$script: status: $(cat "$T/$name-status.txt")"
  if ! h5diff --exclude-path /runtime "$T/fam-ref.h5" "$T/$name.h5" >"$T/$name-diff.txt" 2>&1 ||
    [ -s "$T/$name-diff.txt" ]; then
    die "$script: the file differs from a one-node mpirun -n 2 run's: $(head -n 5 "$T/$name-diff.txt")"
  fi
  ok "$script on 2 nodes: 8 tasks done; the file equals a one-node mpirun -n 2 run's (h5diff --exclude-path /runtime)"
}

skipped=0
if [ ${#one_node[@]} -gt 0 ]; then
  if cluster_up "$T"; then
    for c in "${one_node[@]}"; do
      case $c in
        array) case_array ;;
        srun) case_complete ticketfarm.sbatch srun ;;
        mpirun) case_complete ticketfarm-mpirun.sbatch mpirun ;;
        timelimit) case_timelimit ;;
      esac
    done
  else
    skipped=1
  fi
  # One slurmctld per machine: the two-node cluster needs its port.
  "$root/tests/slurm/cluster" stop "$T"
fi
if [ ${#two_nodes[@]} -gt 0 ]; then
  if cluster_up "$T/two-nodes" --two-nodes; then
    for c in "${two_nodes[@]}"; do
      case $c in
        twonode-srun) case_two_nodes ticketfarm.sbatch twonode-srun ;;
        twonode-mpirun) case_two_nodes ticketfarm-mpirun.sbatch twonode-mpirun ;;
      esac
    done
  else
    skipped=1
  fi
fi
[ "$pass" -gt 0 ] || [ "$skipped" = 0 ] || exit 77
echo "slurm: $pass checks passed"
