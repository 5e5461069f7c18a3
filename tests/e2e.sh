#!/usr/bin/env bash
# End to end through the CLI: one sweep with 1, 2 and 4 ranks gives equal files; the file holds
# the documented layout and exact prune counts; summary, status and xarray read it; idle ranks do
# not spin; an existing file is never overwritten; a bad sweep exits 2 with file:line.
#   tests/e2e.sh path/to/ticketfarm
set -euo pipefail
TF=$(realpath "$1")
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_mnist

cat >"$T/sweep.yaml" <<'YAML'
name: e2e
data: {dataset: mnist, validation: 1000}
model: {hidden: [64, 32]}
train: {optimizer: adam, lr: 2.0e-3, batch: 50, iterations: 200, eval_every: 100}
prune: {rounds: 2, rate: 0.3, output_rate: 0.15}
grid:
  init: [glorot_normal, he_uniform, orthogonal]
  control: [ticket, reinit]
  seed: [1, 2]
YAML

"$TF" plan "$T/sweep.yaml" >"$T/plan.txt"
grep -q "^tasks: 12 " "$T/plan.txt" || die "plan does not count 12 tasks: $(head -3 "$T/plan.txt")"
ok "plan counts 12 tasks"

for n in 1 2 4; do
  mpirun -n "$n" "$TF" run "$T/sweep.yaml" -o "$T/np$n.h5" -q 2>"$T/np$n.log" ||
    die "run with $n ranks failed: $(tail -3 "$T/np$n.log")"
done
ok "runs with 1, 2 and 4 ranks finish"

# The closing memory line: every rank's peak resident memory includes the MNIST pages it read
# from the node's shared copy (70,000 images of 784 bytes = 52 MiB).
mem=$(grep "memory: peak resident" "$T/np4.log") || die "no memory line: $(tail -3 "$T/np4.log")"
read -r peak least shared < <(sed -E 's/.*resident ([0-9]+) MiB per rank \(smallest ([0-9]+) MiB, over 4 ranks\), of which ([0-9]+) MiB.*/\1 \2 \3/' <<<"$mem")
[ "$shared" = 52 ] && [ "$least" -le "$peak" ] && [ "$least" -gt "$shared" ] ||
  die "memory line: $mem"
ok "the run reports peak memory per rank ($least-$peak MiB, $shared MiB of it shared data)"

for n in 2 4; do
  h5diff --exclude-path /runtime "$T/np1.h5" "$T/np$n.h5" >"$T/diff.txt" ||
    die "1 and $n ranks differ: $(head -5 "$T/diff.txt")"
done
ok "1, 2 and 4 ranks give equal /results (h5diff --exclude-path /runtime)"

# Families: the ticket and reinit of an (init, seed) share one trunk; a sweep of the reinit tasks
# alone (families of one, each retraining its ticket) gives the same rows, bit for bit.
sed -e 's/control: \[ticket, reinit\]/control: [reinit]/' -e 's/^name: e2e/name: e2e-reinit/' \
  "$T/sweep.yaml" >"$T/reinit.yaml"
mpirun -n 2 "$TF" run "$T/reinit.yaml" -o "$T/reinit.h5" -q 2>"$T/reinit.log" ||
  die "reinit-only run failed: $(tail -3 "$T/reinit.log")"
$PY - "$T/np1.h5" "$T/reinit.h5" <<'PY' || die "a reinit task's rows differ between its family and alone"
import sys, h5py, numpy as np
fam, alone = h5py.File(sys.argv[1], "r"), h5py.File(sys.argv[2], "r")
compared = 0
for name, ds in alone["results"].items():
    # every per-task dataset but the task number itself
    if not isinstance(ds, h5py.Dataset) or ds.ndim == 0 or ds.shape[0] != 6 or name == "task":
        continue
    for init in range(3):
        for seed in range(2):
            a = ds[init * 2 + seed]
            b = fam["results"][name][init * 4 + 2 + seed]  # control reinit: index 1 of 2
            assert np.asarray(a).tobytes() == np.asarray(b).tobytes(), (name, init, seed)
            compared += 1
assert compared >= 6 * 8, compared
print(f"      {compared // 6} datasets compared, 6 tasks each")
PY
ok "a reinit task's rows are the same bits in its family (with its ticket) and alone"

$PY - "$T/np4.h5" <<'PY' || die "file contents"
import sys, h5py, numpy as np
f = h5py.File(sys.argv[1], "r")
r = f["results"]
assert (r["status"][:] == 1).all(), r["status"][:]
assert (r["rounds_done"][:] == 3).all()
# exact layerwise counts: 30% of hidden layers, 15% of the output layer, rounded half up
sizes = np.array([784 * 64, 64 * 32, 32 * 10])
expect = [sizes]
for k in range(2):
    prev = expect[-1]
    rate = np.array([0.3, 0.3, 0.15])
    expect.append(prev - np.floor(rate * prev + 0.5).astype(int))
rem = r["remaining"][:]
for k in range(3):
    assert (rem[:, k, :3] == expect[k]).all(), (k, rem[:, k], expect[k])
    np.testing.assert_allclose(r["density"][:, k], expect[k].sum() / sizes.sum())
# masks: bits set = remaining; reinit tasks train on the ticket's masks (same init and seed)
masks = np.unpackbits(r["mask"][:], axis=2)[:, :, : sizes.sum()]
assert (masks.sum(axis=2) == rem.sum(axis=2)).all()
control = [c.decode() if isinstance(c, bytes) else c for c in r["control"][:]]
init = r["init"][:]
seed = r["seed"][:]
for t in range(len(control)):
    if control[t] != "reinit":
        continue
    twin = [u for u in range(len(control)) if control[u] == "ticket" and init[u] == init[t] and seed[u] == seed[t]]
    assert len(twin) == 1
    assert (r["mask"][t] == r["mask"][twin[0]]).all(), t
    # round 0 is the same dense training for both
    assert (r["weights_final"][t, 0] == r["weights_final"][twin[0], 0]).all()
# pruned weights are exactly zero in every stored final snapshot
w = r["weights_final"][:]
offs, o = [], 0
for l, (i, j) in enumerate([(784, 64), (64, 32), (32, 10)]):
    offs.append((o, o + i * j)); o += i * j + j
wmask = np.concatenate([w[:, :, a:b] for a, b in offs], axis=2)
assert (wmask[masks == 0] == 0).all()
assert (wmask[masks == 1] != 0).mean() > 0.999
# the stored rewind point is the initialisation (rewind 0), bit for bit
assert (r["weights_rewind"][:] == r["weights_init"][:]).all()
acc = r["test_acc_es"][:]
assert ((acc > 0.8) & (acc <= 1)).all(), acc
es = r["early_stop_iter"][:]
assert np.isin(es, [0, 100, 200]).all()
print("contents ok")
PY
ok "file holds exact counts, ticket masks for reinit, zeros where pruned"

"$TF" summary "$T/np2.h5" --csv >"$T/summary.csv"
head -n 1 "$T/summary.csv" | grep -q '^task,init,control,seed,round,density,early_stop_iter,val_loss,test_acc_es,test_acc_final,wall_s' ||
  die "summary header: $(head -n 1 "$T/summary.csv")"
[ "$(tail -n +2 "$T/summary.csv" | wc -l)" = 36 ] || die "summary rows: $(wc -l <"$T/summary.csv")"
ok "summary --csv has the documented columns and 12 x 3 rows"

"$TF" status "$T/np2.h5" >"$T/status.txt"
grep -q "12 done" "$T/status.txt" || die "status: $(cat "$T/status.txt")"
ok "status reports 12 done"

h5dump -A -g /results "$T/np1.h5" >"$T/attrs.txt"
grep -q 'ATTRIBUTE "sweep"' "$T/attrs.txt" && grep -q "name: e2e" "$T/attrs.txt" || die "no sweep attribute"
ok "h5dump shows the stored sweep"

$PY - "$T/np1.h5" <<'PY' || die "xarray"
import sys, xarray
ds = xarray.open_dataset(sys.argv[1], engine="h5netcdf", group="results")
for d in ("task", "round", "eval", "layer"):
    assert d in ds.dims, (d, ds.dims)
assert ds["test_acc"].dims == ("task", "round", "eval"), ds["test_acc"].dims
assert ds.sizes["task"] == 12 and ds.sizes["round"] == 3
print(sorted(ds.dims))
PY
ok "xarray opens /results with named dimensions"

# Progress within a task: one rank, one task of 4 rounds; the ETA counts finished rounds, and
# the closing state is printed once.
cat >"$T/rounds.yaml" <<'YAML'
name: progress
data: {validation: 1000}
model: {hidden: [64, 32]}
train: {iterations: 300, eval_every: 100}
prune: {rounds: 3}
YAML
"$TF" run "$T/rounds.yaml" -o "$T/rounds.h5" -p 0.05 2>"$T/rounds.log" ||
  die "progress run: $(tail -3 "$T/rounds.log")"
grep -Eq "0/1 tasks done, 1 running, 0 failed, [0-9]+s elapsed, ETA [0-9]+s" "$T/rounds.log" ||
  die "no progress with an ETA while the task runs: $(cat "$T/rounds.log")"
[ "$(grep -c "1/1 tasks done, 0 running" "$T/rounds.log")" = 1 ] ||
  die "the closing progress line is not printed once: $(cat "$T/rounds.log")"
ok "progress lines during a one-rank task carry an ETA; the last one is printed once"

# Idle ranks sleep: a one-task sweep on 3 ranks uses about one core, not three.
cat >"$T/one.yaml" <<'YAML'
name: one-task
data: {validation: 1000}
model: {hidden: [300, 100]}
train: {iterations: 1500, eval_every: 500}
prune: {rounds: 1}
YAML
TIMEFORMAT='%U %S %R'
{ time mpirun -n 3 "$TF" run "$T/one.yaml" -o "$T/one.h5" -q 2>"$T/one.log"; } 2>"$T/time.txt"
read -r user sys real <"$T/time.txt"
$PY -c "
u, s, r = $user, $sys, $real
print(f'cpu {u + s:.1f} s over {r:.1f} s wall with 3 ranks')
assert u + s < 1.5 * r, 'idle ranks spin'
" || die "idle ranks use CPU: $(cat "$T/time.txt")"
ok "idle ranks do not spin (cpu $user+$sys s, wall $real s)"

cp "$T/np1.h5" "$T/keep.h5"
"$TF" run "$T/sweep.yaml" -o "$T/np1.h5" -q 2>"$T/again.log" || die "rerun of a complete sweep: $(cat "$T/again.log")"
grep -q "12 of 12 tasks done before" "$T/again.log" || die "rerun log: $(cat "$T/again.log")"
h5diff --exclude-path /runtime "$T/np1.h5" "$T/keep.h5" >/dev/null || die "rerun changed /results"
ok "running a complete sweep again reruns nothing (exit 0, /results unchanged)"

printf 'name: bad\ntrain:\n  optimizer: adma\n' >"$T/bad.yaml"
set +e
"$TF" plan "$T/bad.yaml" >"$T/bad.log" 2>&1
rc=$?
set -e
[ $rc = 2 ] && grep -q "bad.yaml:3:" "$T/bad.log" && grep -q "adam" "$T/bad.log" ||
  die "bad sweep: exit $rc, $(cat "$T/bad.log")"
ok "a bad sweep exits 2 naming file:line and the likely fix"

# Layerwise counts are exact: the 64-10 net's output layer at 0.5 goes 640, 320, ..., 5, 2, 1
# and is held at one weight from round 10; excluded, it never is.
printf 'name: floor\nmodel: {hidden: [64]}\nprune: {rounds: 30, output_rate: 0.5}\ngrid:\n  prune.exclude: [[], [output]]\n' >"$T/floor.yaml"
"$TF" plan "$T/floor.yaml" >"$T/floor.out" 2>"$T/floor.log" || die "plan of a flooring sweep: $(cat "$T/floor.log")"
grep -q "warning: task 0: layer 1 (output) reaches one weight at round 10 of 30" "$T/floor.log" &&
  grep -q "warning: 1 of 2 tasks reach a layer's one-weight floor" "$T/floor.log" &&
  ! grep -q "task 1:" "$T/floor.log" || die "plan floor warning: $(cat "$T/floor.log")"
ok "plan warns at the round a layer reaches its last weight, and counts the tasks"

echo "e2e: $pass checks passed"
