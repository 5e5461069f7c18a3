#!/usr/bin/env bash
# One sweep in 3 shards (1, 2 and 3 ranks; the 3-rank job killed with SIGKILL of its session and
# resumed) merges into a file equal to a one-job run; families stay whole; a shard's file is
# resumed only as that shard; a merge of some shards is resumed by a plain run; overlapping,
# foreign, whole-sweep or locked parts and an existing output are refused, every file left untouched;
# status and summary read several files.
#   tests/shard.sh path/to/ticketfarm
set -euo pipefail
TF=$(realpath "$1")
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_mnist
cleanup() {
  [ -n "${SID:-}" ] && pkill -9 -s "$SID" 2>/dev/null || true
  rm -rf "$T"
}
trap cleanup EXIT

# 12 tasks in 6 families (model.hidden x seed; control tells a family's members apart) of two
# sizes, so that balancing has something to do.
cat >"$T/sweep.yaml" <<'YAML'
name: shard
data: {validation: 1000}
model: {hidden: [32]}
train: {iterations: 300, eval_every: 100}
prune: {rounds: 3}
record: {weights: [final]}
grid:
  model.hidden: [[24], [48]]
  seed: [1, 2, 3]
  control: [ticket, reinit]
YAML

t0=$(date +%s.%N)
mpirun -n 2 "$TF" run "$T/sweep.yaml" -o "$T/ref.h5" -q 2>"$T/ref.log" || die "reference run: $(tail -3 "$T/ref.log")"
ok "one-job reference run ($($PY -c "print(round($(date +%s.%N) - $t0, 1))") s)"

"$TF" plan "$T/sweep.yaml" --shards 3 >"$T/plan.txt" || die "plan --shards 3 failed"
$PY - "$T/plan.txt" <<'PY' || die "plan --shards 3: $(tail -5 "$T/plan.txt")"
import re, sys
rows = [l.split() for l in open(sys.argv[1]).read().split("shards: 3")[1].splitlines()[2:] if l.strip()]
assert [r[0] for r in rows] == ["0", "1", "2"], rows
ids = []
for r in rows:
    for part in r[3].split(","):
        a, _, b = part.partition("-")
        ids += range(int(a), int(b or a) + 1)
    assert int(r[1]) == 4, r  # three families of two sizes: one large and one small each
assert sorted(ids) == list(range(12)), ids
work = [float(r[2]) for r in rows]
assert max(work) - min(work) < 1e-6 * max(work), work
PY
ok "plan --shards 3: every task in one shard, 4 tasks and equal planned work each"

# Shard 0 on one rank, shard 1 on two.
"$TF" run "$T/sweep.yaml" -o "$T/p0.h5" -q --shard 0/3 2>"$T/p0.log" || die "shard 0: $(tail -3 "$T/p0.log")"
mpirun -n 2 "$TF" run "$T/sweep.yaml" -o "$T/p1.h5" -q --shard 1/3 2>"$T/p1.log" ||
  die "shard 1: $(tail -3 "$T/p1.log")"
grep -q "4 tasks: 4 done, 0 failed, 0 left" "$T/p1.log" || die "shard 1 log: $(tail -3 "$T/p1.log")"
ok "shards 0 (1 rank) and 1 (2 ranks) ran their 4 tasks each, exit 0"

# Shard 2 on three ranks, killed (the whole session, as scancel would) once a task has finished
# a round and not every task is done (its two families finish their members together), then
# resumed.
setsid mpirun -n 3 "$TF" run "$T/sweep.yaml" -o "$T/p2.h5" -q --shard 2/3 >/dev/null 2>"$T/p2.log" &
SID=$!
kill_session_when "$T/p2.h5" "^4 tasks: [0-3] done, 0 failed, [1-4] pending \([1-4] running/partial"
"$TF" status "$T/p2.h5" >"$T/p2-status.txt" || die "status after the kill failed"
grep -qE "^4 tasks: [0-3] done, 0 failed, [1-4] pending" "$T/p2-status.txt" ||
  die "the kill did not land mid-shard: $(tail -1 "$T/p2-status.txt")"
ok "shard 2 (3 ranks) killed with SIGKILL: $(tail -1 "$T/p2-status.txt")"

# Resuming a shard's file as another shard, or as the whole sweep, is refused untouched.
sum_p2=$(md5sum <"$T/p2.h5")
for args in "" "--shard 1/3" "--shard 2/4"; do
  rc=0
  # shellcheck disable=SC2086 # $args is words on purpose
  "$TF" run "$T/sweep.yaml" -o "$T/p2.h5" -q $args 2>"$T/wrong.log" || rc=$?
  [ $rc = 2 ] || die "resuming shard 2's file with '$args' exited $rc, not 2"
  grep -q "p2.h5 holds shard 2/3 of the sweep" "$T/wrong.log" || die "message: $(cat "$T/wrong.log")"
done
[ "$(md5sum <"$T/p2.h5")" = "$sum_p2" ] || die "a refused resume changed p2.h5"
rc=0
"$TF" run "$T/sweep.yaml" -o "$T/ref.h5" -q --shard 0/3 2>"$T/wrong.log" || rc=$?
if [ $rc != 2 ] || ! grep -q "ref.h5 holds the whole sweep" "$T/wrong.log"; then
  die "a whole sweep's file resumed as a shard: exit $rc: $(cat "$T/wrong.log")"
fi
ok "a shard's file resumed without --shard or as another shard, and a whole file as a shard: exit 2, untouched"

rc=0
mpirun -n 3 "$TF" run "$T/sweep.yaml" -o "$T/p2.h5" -q --shard 2/3 2>"$T/p2.log" || rc=$?
[ $rc = 0 ] || die "resumed shard 2 exited $rc: $(tail -3 "$T/p2.log")"
"$TF" status "$T/p2.h5" | grep -q "^runs:    2" || die "shard 2's file does not count 2 runs"
ok "shard 2 resumed to completion (2 runs)"

# Families whole, shards disjoint and together the sweep.
$PY - "$T/p0.h5" "$T/p1.h5" "$T/p2.h5" <<'PY' || die "the shards' tasks"
import sys, h5py
held = []
for k, path in enumerate(sys.argv[1:]):
    with h5py.File(path, "r") as f:
        assert f["runtime"].attrs["shard"] == k and f["runtime"].attrs["shards"] == 3
        done = set(int(t) for t in f["results/task"][:][f["results/status"][:] == 1])
        pending = set(int(t) for t in f["results/task"][:][f["results/status"][:] == 0])
        assert len(done) == 4 and len(pending) == 8, (path, done)
        hidden = f["results/model.hidden"][:]
        seed = f["results/seed"][:]
        fams = {(hidden[t], seed[t]) for t in done}
        assert len(fams) == 2, fams  # two families of two tasks
        held.append(done)
assert set().union(*held) == set(range(12)) and sum(map(len, held)) == 12, held
PY
ok "the 3 shards hold disjoint tasks that cover the sweep, each family (tasks differing only in control) whole"

# Several files for status and summary: the shards' rows are the reference's.
"$TF" status "$T/p0.h5" "$T/p1.h5" "$T/p2.h5" >"$T/status3.txt" || die "status of 3 files failed"
[ "$(grep -c "^4 tasks: 4 done, 0 failed, 0 pending" "$T/status3.txt")" = 3 ] ||
  die "status of 3 files: $(cat "$T/status3.txt")"
"$TF" summary --csv "$T/p0.h5" "$T/p1.h5" "$T/p2.h5" >"$T/sum3.csv" || die "summary of 3 files failed"
"$TF" summary --csv "$T/ref.h5" >"$T/sumref.csv" || die "summary of the reference failed"
"$TF" summary "$T/p0.h5" "$T/p1.h5" "$T/p2.h5" >"$T/sum3.txt" || die "summary table of 3 files failed"
$PY - "$T/sum3.csv" "$T/sumref.csv" "$T/sum3.txt" <<'PY' || die "summary of 3 files differs from the reference's"
import csv, sys
def rows(p):
    r = list(csv.reader(open(p)))
    w = r[0].index("wall_s")
    return r[0], sorted((x[:w] + x[w + 1:] for x in r[1:]), key=lambda x: (int(x[0]), int(x[4])))
h3, r3 = rows(sys.argv[1]); hr, rr = rows(sys.argv[2])
assert h3 == hr and r3 == rr and len(r3) == 48, (len(r3), len(rr))
table = open(sys.argv[3]).read().splitlines()
assert table[0].split()[0] == "task" and len(table) == 49 and len({len(l) for l in table}) == 1
PY
ok "status of 3 files: 4 of 4 done each; summary of 3 files: one header, the reference's 48 rows"

# The merge: no MPI launcher; equal to the one-job run; /runtime keeps each part's facts.
sums=$(md5sum "$T"/p[012].h5)
"$TF" merge "$T/p2.h5" "$T/p0.h5" "$T/p1.h5" -o "$T/all.h5" 2>"$T/merge.log" || die "merge: $(cat "$T/merge.log")"
grep -q "12 tasks, 12 from the files (12 done), 0 pending" "$T/merge.log" || die "merge log: $(cat "$T/merge.log")"
h5diff --exclude-path /runtime "$T/ref.h5" "$T/all.h5" >"$T/diff.txt" ||
  die "merged file differs from the one-job run: $(head -5 "$T/diff.txt")"
[ "$(md5sum "$T"/p[012].h5)" = "$sums" ] || die "merge changed its inputs"
$PY - "$T/all.h5" "$T/p0.h5" "$T/p1.h5" "$T/p2.h5" <<'PY' || die "the merged file's /runtime"
import sys, h5py, numpy as np
m = h5py.File(sys.argv[1], "r")
parts = m["runtime/parts"]
assert sorted(parts) == ["part0", "part1", "part2"], list(parts)
for name, k, ranks, runs in [("part0", 2, 3, 2), ("part1", 0, 1, 1), ("part2", 1, 2, 1)]:
    a = parts[name].attrs
    assert (a["shard"], a["shards"], a["ranks"], a["runs"], a["tasks"], a["done"]) == (k, 3, ranks, runs, 4, 4), (name, dict(a))
    assert a["file"].decode().endswith("p%d.h5" % k)
assert "shard" not in m["runtime"].attrs  # the merged file holds the whole sweep
for k, path in enumerate(sys.argv[2:]):
    p = h5py.File(path, "r")
    mine = p["results/status"][:] == 1
    for d in ["rank", "host", "started", "finished", "attempts", "start_round", "wall_s"]:
        assert np.array_equal(m["runtime/" + d][:][mine], p["runtime/" + d][:][mine], equal_nan=d in ("started", "finished", "wall_s")), d
    if k == 0:
        assert set(m["runtime/rank"][:][mine]) == {0}  # shard 0 ran on one rank
PY
ok "merge (no launcher) of the 3 shards equals the one-job run (h5diff --exclude-path /runtime); inputs untouched; /runtime has each part's rows and facts"

# A merge of some shards leaves the rest pending, and a plain run resumes it.
"$TF" merge "$T/p0.h5" "$T/p1.h5" -o "$T/some.h5" 2>"$T/merge.log" || die "merge of 2: $(cat "$T/merge.log")"
"$TF" status "$T/some.h5" | grep -q "^12 tasks: 8 done, 0 failed, 4 pending" ||
  die "merge of 2 shards: $("$TF" status "$T/some.h5" | tail -1)"
mpirun -n 2 "$TF" run "$T/sweep.yaml" -o "$T/some.h5" -q 2>"$T/some.log" || die "resuming the merge: $(tail -3 "$T/some.log")"
grep -q "resuming: 8 of 12 tasks done before" "$T/some.log" || die "the resume of the merge: $(cat "$T/some.log")"
h5diff --exclude-path /runtime "$T/ref.h5" "$T/some.h5" >"$T/diff.txt" ||
  die "merge of 2 shards resumed differs: $(head -5 "$T/diff.txt")"
ok "merge of 2 of 3 shards: 4 tasks pending; 'run' resumes it to a file equal to the one-job run"

# Refusals: exit 2 with the files named, nothing written, every input unchanged.
sed 's/iterations: 300/iterations: 200/' "$T/sweep.yaml" >"$T/other.yaml"
"$TF" run "$T/other.yaml" -o "$T/other.h5" -q --shard 2/3 2>/dev/null || die "other sweep's shard failed"
refuse() {
  local want=$1 rc=0
  shift
  local before
  before=$(md5sum "$T"/*.h5)
  "$TF" merge "$@" -o "$T/bad.h5" 2>"$T/refuse.log" || rc=$?
  [ $rc = 2 ] || die "merge $* exited $rc, not 2: $(cat "$T/refuse.log")"
  grep -q "$want" "$T/refuse.log" || die "merge $*: message '$(cat "$T/refuse.log")' lacks '$want'"
  [ ! -e "$T/bad.h5" ] || die "merge $* left bad.h5 behind"
  [ "$(md5sum "$T"/*.h5)" = "$before" ] || die "merge $* changed a file"
}
refuse "p1.h5 and .*p1.h5 both hold shard 1/3" "$T/p0.h5" "$T/p1.h5" "$T/p1.h5"
refuse "p0.h5 (shard 0/3) and .*ref.h5 (the whole sweep) both hold task" "$T/p0.h5" "$T/ref.h5"
refuse "p0.h5 and .*other.h5 hold different sweeps (task 0: train.iterations: 300 vs 200" \
  "$T/p0.h5" "$T/p1.h5" "$T/other.h5"
refuse "sweep.yaml: not a ticketfarm results file" "$T/p0.h5" "$T/sweep.yaml"
# A file a job still writes (its lock names a live process on this host) is not merged.
printf 'host %s\npid %s\nstarted 0\nslurm_job -\n' "$(hostname)" $$ >"$T/p1.h5.lock"
refuse "p1.h5 is in use by another job" "$T/p0.h5" "$T/p1.h5" "$T/p2.h5"
[ "$(cd "$T" && echo *.lock)" = "p1.h5.lock" ] || die "a refused merge left locks: $(cd "$T" && echo *.lock)"
rm "$T/p1.h5.lock"
before=$(md5sum "$T"/*.h5)
rc=0
"$TF" merge "$T/p0.h5" "$T/p1.h5" "$T/p2.h5" -o "$T/all.h5" 2>"$T/refuse.log" || rc=$?
if [ $rc != 2 ] || ! grep -q "all.h5 exists" "$T/refuse.log"; then
  die "merge onto an existing file: exit $rc: $(cat "$T/refuse.log")"
fi
[ "$(md5sum "$T"/*.h5)" = "$before" ] || die "a merge onto an existing file changed a file"
[ "$(cd "$T" && echo *.lock)" = "*.lock" ] || die "locks left behind: $(cd "$T" && echo *.lock)"
ok "overlapping shards, a whole file, another sweep's shard, a non-results file, a file in use and an existing output: exit 2 naming them, no file written or changed, no lock left"

echo "shard: $pass checks passed"
