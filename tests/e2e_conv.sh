#!/usr/bin/env bash
# End to end with convolution layers: a small conv sweep (one pruned round on the sparse conv
# kernels) with 1 and 2 ranks, stopped and resumed, and killed and resumed, gives equal files, with exact per-layer
# prune counts for the convolution, hidden and output layers; plan, summary and the LeNet-5
# preset's shape read it.
#   tests/e2e_conv.sh path/to/ticketfarm
set -euo pipefail
TF=$(realpath "$1")
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_mnist

# conv 4@3x3 same (28 x 28), pool (14), conv 6@3x3 same, pool (7): 294 features -> 16 -> 10.
# Round 1 keeps half of each convolution and of the hidden layer, below train.sparse_below: the
# sparse conv kernels, and feature-major dense layers after them.
cat >"$T/sweep.yaml" <<'YAML'
name: e2e-conv
data: {dataset: mnist, validation: 500}
model: {conv: [4, pool, 6, pool], kernel: 3, hidden: [16]}
train: {optimizer: adam, lr: 2.0e-3, batch: 32, iterations: 60, eval_every: 30, sparse_below: 0.6}
prune: {rounds: 1, conv_rate: 0.5, rate: 0.5, output_rate: 0.1}
grid:
  control: [ticket, sign_reinit]
YAML

"$TF" plan "$T/sweep.yaml" >"$T/plan.txt"
grep -q "^tasks: 2 " "$T/plan.txt" || die "plan does not count 2 tasks: $(head -3 "$T/plan.txt")"
ok "plan counts 2 tasks"

for n in 1 2; do
  mpirun -n "$n" "$TF" run "$T/sweep.yaml" -o "$T/np$n.h5" -q 2>"$T/np$n.log" ||
    die "run with $n ranks failed: $(tail -3 "$T/np$n.log")"
done
ok "runs with 1 and 2 ranks finish"

h5diff --exclude-path /runtime "$T/np1.h5" "$T/np2.h5" >"$T/diff.txt" ||
  die "1 and 2 ranks differ: $(head -5 "$T/diff.txt")"
ok "1 and 2 ranks give equal /results"

# Stopped part way (wherever --stop-after finds it: a task at a later round resumes from its
# stored mask and recomputed theta_k) and resumed, the file equals the uninterrupted one.
set +e
mpirun -n 2 "$TF" run "$T/sweep.yaml" -o "$T/resumed.h5" -q --stop-after 10s >"$T/stop.log" 2>&1
rc=$?
set -e
[ "$rc" = 3 ] || [ "$rc" = 0 ] || die "stopped run exited $rc: $(tail -3 "$T/stop.log")"
mpirun -n 2 "$TF" run "$T/sweep.yaml" -o "$T/resumed.h5" -q 2>"$T/resume.log" ||
  die "resume failed: $(tail -3 "$T/resume.log")"
h5diff --exclude-path /runtime "$T/np1.h5" "$T/resumed.h5" >"$T/diff.txt" ||
  die "stopped and resumed differs: $(head -5 "$T/diff.txt")"
ok "a run stopped by --stop-after and resumed gives the same /results"

# Killed with SIGKILL of the whole job (as scancel ends it) once a round is in the file, with most
# of the sweep still to run, and resumed: the same file as an uninterrupted run.
sed 's/rounds: 1,/rounds: 3,/; s/control: \[ticket, sign_reinit\]/control: [ticket, sign_reinit, reinit, random_mask]/' \
  "$T/sweep.yaml" >"$T/kill.yaml"
mpirun -n 2 "$TF" run "$T/kill.yaml" -o "$T/kill-ref.h5" -q 2>"$T/kill-ref.log" ||
  die "uninterrupted 4-task run failed: $(tail -3 "$T/kill-ref.log")"
setsid mpirun -n 2 "$TF" run "$T/kill.yaml" -o "$T/killed.h5" -q >/dev/null 2>"$T/killed.log" &
sid=$!
$PY - "$T/killed.h5" <<'PY' || die "the killed job finished no round"
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
pkill -9 -s "$sid" 2>/dev/null || true
wait "$sid" 2>/dev/null || true
done_rounds=$($PY -c "
import sys, h5py
print(int(h5py.File(sys.argv[1], 'r')['results/rounds_done'][:].sum()))" "$T/killed.h5")
[ "$done_rounds" -lt 16 ] || die "the kill came after the whole sweep ($done_rounds of 16 rounds)"
mpirun -n 2 "$TF" run "$T/kill.yaml" -o "$T/killed.h5" -q 2>"$T/killed2.log" ||
  die "resume after SIGKILL failed: $(tail -3 "$T/killed2.log")"
h5diff --exclude-path /runtime "$T/kill-ref.h5" "$T/killed.h5" >"$T/diff.txt" ||
  die "killed and resumed differs: $(head -5 "$T/diff.txt")"
ok "SIGKILL of the whole job after $done_rounds of 16 rounds, then a resume: the same /results"

$PY - "$T/np2.h5" <<'PY' || die "file contents"
import sys, h5py, numpy as np
r = h5py.File(sys.argv[1], "r")["results"]
assert (r["status"][:] == 1).all(), r["status"][:]
# 3x3 same convolutions: 4 x (1*9), then 6 x (4*9); dense 294 -> 16 -> 10
sizes = np.array([4 * 9, 6 * 36, 16 * 6 * 7 * 7, 10 * 16])
assert (r["layer_size"][:] == sizes).all(), r["layer_size"][:]
rate = np.array([0.5, 0.5, 0.5, 0.1])
after = sizes - np.floor(rate * sizes + 0.5).astype(int)
rem = r["remaining"][:]
assert (rem[:, 0, :] == sizes).all() and (rem[:, 1, :] == after).all(), rem
masks = np.unpackbits(r["mask"][:], axis=2)[:, :, : sizes.sum()]
assert (masks.sum(axis=2) == rem.sum(axis=2)).all()
# pruned weights are zero in the final weights of round 1; accuracies are above chance
w = r["weights_final"][:, 1, :]
off = np.concatenate([[0], np.cumsum(sizes + np.array([4, 6, 16, 10]))])
for t in range(2):
    for l, n in enumerate(sizes):
        bits = masks[t, 1, sizes[:l].sum(): sizes[:l].sum() + n]
        wl = w[t, off[l]: off[l] + n]
        assert (wl[bits == 0] == 0).all()
assert (r["test_acc_final"][:] > 0.3).all(), r["test_acc_final"][:]
PY
ok "per-layer prune counts, masks and zero pruned weights of the conv layers"

"$TF" summary "$T/np2.h5" >"$T/summary.txt" || die "summary failed"
grep -q "sign_reinit" "$T/summary.txt" || die "summary: $(head -3 "$T/summary.txt")"
ok "summary reads the conv sweep"

cat >"$T/lenet5.yaml" <<'YAML'
data: {dataset: mnist}
model: {preset: lenet5}
prune: {rounds: 2}
YAML
"$TF" plan "$T/lenet5.yaml" >"$T/plan5.txt" || die "plan lenet5: $(cat "$T/plan5.txt")"
grep -q " 61470 " "$T/plan5.txt" || die "LeNet-5 has not 61470 weights: $(cat "$T/plan5.txt")"
ok "plan shows LeNet-5's 61,470 weights"

echo "e2e_conv: $pass checks passed"
