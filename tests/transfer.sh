#!/usr/bin/env bash
# Ticket transfer and instability analysis through the CLI: a sweep of tickets and reinits found
# on MNIST, on MNIST and transferred to Fashion-MNIST, each round with its linear path. 1 and 3
# ranks give equal files, and so does a 2-rank job killed with SIGKILL mid-sweep and resumed; the
# file says each task's source and target; transferred rounds train the source ticket's mask;
# the path's first point is the round's own test error; summary and ticketplot read it.
#   tests/transfer.sh path/to/ticketfarm
set -euo pipefail
TF=$(realpath "$1")
TOOLS=$(dirname "$(realpath "${BASH_SOURCE[0]}")")/../tools
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_mnist
data=${TICKETFARM_DATA:-data}
[ -d "$data/fashion-mnist" ] ||
  { echo "SKIP  $data/fashion-mnist is missing (run tools/fetch-data fashion-mnist)"; exit 77; }
SID=
trap '[ -n "${SID:-}" ] && pkill -9 -s "$SID" 2>/dev/null || true; rm -rf "$T"' EXIT

cat >"$T/sweep.yaml" <<'YAML'
name: transfer-e2e
data: {dataset: mnist, validation: 1000}
model: {hidden: [64, 32]}
train: {optimizer: adam, lr: 2.0e-3, batch: 50, iterations: 400, eval_every: 100}
prune: {rounds: 3, rate: 0.3, output_rate: 0.15}
analysis: {instability: 5}
grid:
  control: [ticket, reinit]
  transfer.dataset: [none, fashion-mnist]
  seed: [1, 2]
YAML

"$TF" plan "$T/sweep.yaml" >"$T/plan.txt"
grep -q "^tasks: 8 (control: 2 x transfer.dataset: 2 x seed: 2)" "$T/plan.txt" ||
  die "plan: $(head -3 "$T/plan.txt")"
ok "plan counts 8 tasks in 2 families"

mpirun -n 1 "$TF" run "$T/sweep.yaml" -o "$T/np1.h5" -q 2>"$T/np1.log" ||
  die "1 rank: $(tail -3 "$T/np1.log")"
grep -q "fashion-mnist: 52 MiB read once" "$T/np1.log" || die "the target was not loaded: $(cat "$T/np1.log")"
mpirun -n 3 "$TF" run "$T/sweep.yaml" -o "$T/np3.h5" -q 2>"$T/np3.log" ||
  die "3 ranks: $(tail -3 "$T/np3.log")"
h5diff --exclude-path /runtime "$T/np1.h5" "$T/np3.h5" >"$T/diff.txt" ||
  die "1 and 3 ranks differ: $(head -5 "$T/diff.txt")"
ok "1 and 3 ranks give equal /results, transfers and paths included"

# Killed (the whole session, as scancel would) once a round is stored and before the end.
setsid mpirun -n 2 "$TF" run "$T/sweep.yaml" -o "$T/kill.h5" -q >/dev/null 2>"$T/kill.log" &
SID=$!
kill_session_when "$T/kill.h5" "^8 tasks: [0-7] done, 0 failed, [1-8] pending \([1-8] running/partial"
"$TF" status "$T/kill.h5" >"$T/kill-status.txt" || die "status after the kill failed"
grep -qE "^8 tasks: [0-7] done, 0 failed, [1-8] pending" "$T/kill-status.txt" ||
  die "the kill did not land mid-sweep: $(tail -1 "$T/kill-status.txt")"
mpirun -n 2 "$TF" run "$T/sweep.yaml" -o "$T/kill.h5" -q 2>"$T/resume.log" ||
  die "resume: $(tail -3 "$T/resume.log")"
h5diff --exclude-path /runtime "$T/np1.h5" "$T/kill.h5" >"$T/diff.txt" ||
  die "killed and resumed differs: $(head -5 "$T/diff.txt")"
ok "killed with SIGKILL ($(tail -1 "$T/kill-status.txt")), resumed: equal /results"

$PY - "$T/np1.h5" <<'PY' || die "file contents"
import sys, h5py, numpy as np
f = h5py.File(sys.argv[1], "r")
r = f["results"]
assert (r["status"][:] == 1).all(), r["status"][:]
src = [s.decode() for s in r["source"][:]]
tgt = [s.decode() for s in r["target"][:]]
td = [s.decode() for s in r["transfer.dataset"][:]]
ctl = [s.decode() for s in r["control"][:]]
seed = r["seed"][:]
assert src == ["mnist"] * 8, src
assert tgt == ["mnist" if t == "none" else t for t in td], (tgt, td)
mask, acc = r["mask"][:], r["test_acc_final"][:]
path, inst = r["path_error"][:], r["instability"][:]
assert path.shape == (8, 4, 5), path.shape
def task(c, t, s):
    return [i for i in range(8) if ctl[i] == c and td[i] == t and seed[i] == s][0]
for s in (1, 2):
    ticket = task("ticket", "none", s)
    for c in ("ticket", "reinit"):
        moved = task(c, "fashion-mnist", s)
        # round 0 of a transfer: the dense net on the target; later: the source ticket's mask
        assert (mask[moved, 0] == 255).all()
        for k in range(1, 4):
            assert (mask[moved, k] == mask[ticket, k]).all(), (c, s, k)
        # Fashion-MNIST is harder: its accuracies are below MNIST's
        assert (acc[moved] < acc[ticket]).all(), (acc[moved], acc[ticket])
# the path: alpha = 0 is the round's own test error, the instability its max minus the ends' mean
assert (path[:, :, 0] == np.float32(1) - acc).all()
want = path.max(axis=2) - np.float32(0.5) * (path[:, :, 0] + path[:, :, -1])
assert np.allclose(inst, want, rtol=0, atol=1e-7), (inst, want)
assert (inst >= 0).all() and (inst < 0.5).all(), inst
print(f"      instability of the MNIST tickets by round: {inst[task('ticket', 'none', 1)].round(4)}")
PY
ok "source and target per task; transferred rounds train the source ticket's masks; path ends"

"$TF" summary "$T/np1.h5" --csv >"$T/summary.csv"
head -1 "$T/summary.csv" | grep -q "^task,control,transfer.dataset,seed,round," ||
  die "summary --csv header: $(head -1 "$T/summary.csv")"
[ "$(grep -c ',fashion-mnist,' "$T/summary.csv")" = 16 ] || die "summary rows: $(head -3 "$T/summary.csv")"
ok "summary --csv has transfer.dataset as a grid column"
