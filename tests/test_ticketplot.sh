#!/usr/bin/env bash
# The analysis path: xarray reads a results file with named dimensions; tools/ticketplot draws
# readable figures and the expected ranking from it, also from a sweep killed mid-run, draws
# transfer and instability figures and tables that agree with the file (and none without them),
# and refuses files that are not ticketfarm results with exit 2.
#   tests/test_ticketplot.sh path/to/ticketfarm
set -euo pipefail
TF=$(realpath "$1")
# Without the MNIST that tools/fetch-data fetches the test is skipped (exit 77), not failed.
data=${TICKETFARM_DATA:-data}
[ -d "$data/mnist" ] || { echo "SKIP  $data/mnist is missing (run tools/fetch-data mnist)"; exit 77; }
PLOT=$(realpath "$(dirname "${BASH_SOURCE[0]}")/../tools/ticketplot")
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
export OPENBLAS_NUM_THREADS=1 HDF5_USE_FILE_LOCKING=FALSE
PY=/usr/bin/python3
T=$(mktemp -d)
sid=
cleanup() {
  if [[ -n $sid ]]; then pkill -9 -s "$sid" 2>/dev/null || true; fi
  rm -rf "$T"
}
trap cleanup EXIT
pass=0
ok() { pass=$((pass + 1)); echo "ok    $*"; }
die() { echo "FAIL  $*" >&2; exit 1; }

cat >"$T/tiny.yaml" <<'YAML'
name: plot-test
data: {dataset: mnist, validation: 1000}
model: {hidden: [32]}
train: {iterations: 100, eval_every: 50}
prune: {rounds: 3, rate: 0.5, output_rate: 0.25}
record: {weights: []}
grid:
  init: [glorot_normal, he_normal]
  control: [ticket, reinit]
  seed: [1, 2]
YAML
mpirun -n 2 "$TF" run "$T/tiny.yaml" -o "$T/tiny.h5" -q 2>"$T/run.log" ||
  die "tiny sweep failed: $(tail -3 "$T/run.log")"
ok "a tiny sweep (2 inits x 2 controls x 2 seeds, 3 rounds) runs"

"$TF" summary "$T/tiny.h5" --csv >"$T/summary.csv"
$PY - "$T/tiny.h5" "$T/summary.csv" <<'PY' || die "xarray"
import csv, sys, xarray
ds = xarray.open_dataset(sys.argv[1], engine="h5netcdf", group="results")
assert ds["test_acc_es"].dims == ("task", "round"), ds["test_acc_es"].dims
assert ds["test_acc"].dims == ("task", "round", "eval"), ds["test_acc"].dims
assert ds["remaining"].dims == ("task", "round", "layer"), ds["remaining"].dims
assert ds.sizes["task"] == 8 and ds.sizes["round"] == 4 and ds.sizes["eval"] == 3, dict(ds.sizes)
assert list(ds["eval_iteration"].values[0]) == [0, 50, 100], ds["eval_iteration"].values[0]
rows = list(csv.DictReader(open(sys.argv[2])))
row = next(r for r in rows if r["task"] == "5" and r["round"] == "2")
got = float(ds["test_acc_es"].sel(task=5, round=2))
assert abs(got - float(row["test_acc_es"])) < 1e-5, (got, row["test_acc_es"])
init = ds["init"].values[5]
assert (init.decode() if isinstance(init, bytes) else init) == row["init"] == "he_normal"
print(f"dims {dict(ds.sizes)}; task 5 round 2: test_acc_es {got:.4f} as in summary --csv")
PY
ok "xarray (h5netcdf) opens /results with named dimensions and the summary's values"

"$PLOT" "$T/tiny.h5" -o "$T/plots" >"$T/plot.txt" 2>&1 || die "ticketplot: $(cat "$T/plot.txt")"
grep -q "using 8 tasks with finished rounds, 32 of 32 rounds" "$T/plot.txt" ||
  die "ticketplot does not report the rounds it used: $(head -1 "$T/plot.txt")"
# Rounds of 100 iterations all stop at their last evaluation: no early-stop figure, and why.
[ ! -e "$T/plots/mnist-early_stop_iter.png" ] &&
  grep -q "mnist: no early-stop figure: all 32 rounds stopped at their last evaluation" "$T/plot.txt" ||
  die "an early-stop figure of rounds that all stopped at their last evaluation: $(cat "$T/plot.txt")"
# The same file with some rounds' minimum earlier (early_stop_iter rewritten): the figure is drawn.
cp "$T/tiny.h5" "$T/early.h5"
$PY - "$T/early.h5" <<'PY'
import sys, h5py
with h5py.File(sys.argv[1], "r+") as f:
    es = f["results/early_stop_iter"]
    es[0::2, 1:] = 50
PY
"$PLOT" "$T/early.h5" -o "$T/plots" >"$T/plot2.txt" 2>&1 || die "ticketplot: $(cat "$T/plot2.txt")"
$PY - "$T/plots" <<'PY' || die "figures"
import os, struct, sys
for name in ("mnist-test_acc_es.png", "mnist-early_stop_iter.png"):
    path = os.path.join(sys.argv[1], name)
    head = open(path, "rb").read(24)
    assert head[:8] == b"\x89PNG\r\n\x1a\n", (name, head[:8])
    w, h = struct.unpack(">II", head[16:24])
    size = os.path.getsize(path)
    assert w >= 800 and h >= 500 and size > 20000, (name, w, h, size)
    print(f"{name}: {w}x{h}, {size} bytes")
PY
ok "ticketplot draws both figures as PNGs of useful size (the early-stop one only where a round stopped before its end)"

$PY - "$T/tiny.h5" "$T/plots/ranking.csv" <<'PY' || die "ranking"
import csv, sys, h5py, numpy as np
rows = list(csv.DictReader(open(sys.argv[2])))
assert len(rows) == 4, rows
assert {(r["init"], r["control"]) for r in rows} == {
    (i, c) for i in ("glorot_normal", "he_normal") for c in ("ticket", "reinit")}
for c in ("ticket", "reinit"):
    assert sorted(r["rank"] for r in rows if r["control"] == c) == ["1", "2"]
r = h5py.File(sys.argv[1], "r")["results"]
init = np.array([v.decode() for v in r["init"][:]])
for row in rows:
    dense = 100 * r["test_acc_es"][init == row["init"], 0].mean()
    assert abs(float(row["dense_acc_pct"]) - dense) < 1e-3, (row, dense)
    assert row["dataset"] == "mnist" and row["seeds"] == "2" and row["rounds"] == "3", row
    if row["round"]:
        assert float(row["acc_pct"]) >= float(row["dense_acc_pct"]) - 0.5 - 1e-9, row
print("ranking rows:", [(r["control"], r["rank"], r["init"], r["min_density_pct"]) for r in rows])
PY
[ -s "$T/plots/ranking.md" ] || die "no ranking.md"
ok "ranking.csv has one row per initialiser and control, dense means from round 0"

# A sweep killed mid-run (SIGKILL to the whole session, as scancel would): ticketplot uses the
# finished rounds and says so.
sed -e 's/rounds: 3/rounds: 8/' -e 's/iterations: 100/iterations: 200/' "$T/tiny.yaml" \
  >"$T/long.yaml"
setsid mpirun -n 2 "$TF" run "$T/long.yaml" -o "$T/long.h5" -q 2>"$T/long.log" &
pid=$!
sid=$(ps -o sid= -p "$pid" | tr -d ' ')
[[ -n $sid ]] || die "no session for the background sweep"
finished=0
for _ in $(seq 600); do
  if [[ -f $T/long.h5 ]]; then
    finished=$("$TF" status "$T/long.h5" 2>/dev/null | sed -n 's/^rounds: *\([0-9]*\) of.*/\1/p')
    finished=${finished:-0}
    ((finished >= 6)) && break
  fi
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.2
done
pkill -9 -s "$sid" || true
wait "$pid" 2>/dev/null || true
sid=
((finished >= 6)) || die "the long sweep never reached 6 finished rounds ($finished)"
"$PLOT" "$T/long.h5" -o "$T/partial" >"$T/partial.txt" 2>&1 ||
  die "ticketplot on a killed sweep: $(cat "$T/partial.txt")"
pattern='s/.*finished rounds, \([0-9]*\) of \([0-9]*\) rounds.*/\1 \2/p'
read -r used total < <(sed -n "$pattern" "$T/partial.txt")
[[ -n ${used:-} && $total = 72 && $used -ge 6 && $used -lt 72 ]] ||
  die "partial file: expected 6 to 71 of 72 rounds used: $(head -1 "$T/partial.txt")"
for f in mnist-test_acc_es.png ranking.csv; do
  [ -s "$T/partial/$f" ] || die "partial file: no $f"
done
[ -s "$T/partial/mnist-early_stop_iter.png" ] || grep -q "no early-stop figure" "$T/partial.txt" ||
  die "partial file: neither an early-stop figure nor the reason there is none"
ok "a killed sweep's file: ticketplot uses $used of $total rounds and still draws"

# A file without transfers or instability draws none of their figures.
for f in "$T/plots/transfer"* "$T/plots/"*-instability.png "$T/plots/"*-path.png \
  "$T/plots/instability.csv"; do
  [ ! -e "$f" ] || die "a file without transfers or instability drew $f"
done
ok "a file without transfers or instability draws no transfer or instability figure"

# Transfer and instability: tickets (and reinit) found on MNIST and on Fashion-MNIST, each
# trained on both, every round with a 5-point linear path between two copies.
if [ -d "$data/fashion-mnist" ]; then
  cat >"$T/transfer.yaml" <<'YAML'
name: plot-transfer
data: {validation: 1000}
model: {hidden: [64, 32]}
train: {optimizer: adam, lr: 2.0e-3, batch: 50, iterations: 200, eval_every: 50}
prune: {rounds: 2, rate: 0.5, output_rate: 0.25}
analysis: {instability: 5}
record: {weights: []}
grid:
  data.dataset: [mnist, fashion-mnist]
  transfer.dataset: [mnist, fashion-mnist]
  control: [ticket, reinit]
  seed: [1, 2]
YAML
  mpirun -n 2 "$TF" run "$T/transfer.yaml" -o "$T/transfer.h5" -q 2>"$T/transfer.log" ||
    die "transfer sweep failed: $(tail -3 "$T/transfer.log")"
  "$PLOT" "$T/transfer.h5" -o "$T/tplots" >"$T/tplot.txt" 2>&1 ||
    die "ticketplot on transfers: $(cat "$T/tplot.txt")"
  $PY - "$T/transfer.h5" "$T/tplots" <<'PY' || die "transfer and instability outputs"
import csv, os, struct, sys, h5py, numpy as np
r = h5py.File(sys.argv[1], "r")["results"]
out = sys.argv[2]
def png(name, min_size=20000):
    path = os.path.join(out, name)
    head = open(path, "rb").read(24)
    assert head[:8] == b"\x89PNG\r\n\x1a\n", (name, head[:8])
    w, h = struct.unpack(">II", head[16:24])
    assert w >= 800 and h >= 500 and os.path.getsize(path) > min_size, (name, w, h)
data = ("mnist", "fashion-mnist")
for d in data:
    for name in (f"{d}-test_acc_es.png", f"transfer-{d}-test_acc_es.png",
                 f"{d}-instability.png", f"{d}-path.png"):
        png(name)
s = lambda k: np.array([v.decode() for v in r[k][:]])
src, tgt, ctl, seed = s("source"), s("target"), s("control"), r["seed"][:]
acc, inst, dens = r["test_acc_es"][:], r["instability"][:], r["density"][:]
own = src == tgt
assert own.sum() == 8 and (~own).sum() == 8, (src, tgt)

# transfer.csv: every (target, source, control, round) line, mean and std (ddof 1) over seeds.
rows = list(csv.DictReader(open(os.path.join(out, "transfer.csv"))))
assert len(rows) == 2 * 2 * 2 * 3, len(rows)
for row in rows:
    sel = (tgt == row["target"]) & (src == row["source"]) & (ctl == row["control"])
    k = int(row["round"])
    v = 100 * acc[sel, k].astype(float)
    assert sel.sum() == 2 and row["seeds"] == "2" and row["init"] == "glorot_normal", row
    assert abs(float(row["test_acc_es_mean_pct"]) - v.mean()) < 1e-3, (row, v)
    assert abs(float(row["test_acc_es_std_pct"]) - v.std(ddof=1)) < 1e-3, (row, v)
    assert abs(float(row["density_pct"]) - 100 * dens[sel, k].mean()) < 1e-3, row
md = open(os.path.join(out, "transfer.md")).read()
assert "| fashion-mnist | from mnist | 1 | 50.2 |" in md, md
assert "| mnist | from fashion-mnist |" in md, md

# instability.csv: in percentage points, with the seeds' rounds at or above 2 pp.
rows = list(csv.DictReader(open(os.path.join(out, "instability.csv"))))
assert len(rows) == 2 * 2 * 2 * 3, len(rows)
for row in rows:
    sel = (tgt == row["dataset"]) & (src == row["source"]) & (ctl == row["control"])
    v = 100 * inst[sel, int(row["round"])].astype(float)
    assert len(v) == 2 and row["seeds"] == "2", row
    assert abs(float(row["instability_mean_pp"]) - v.mean()) < 1e-3, (row, v)
    assert abs(float(row["instability_std_pp"]) - v.std(ddof=1)) < 1e-3, (row, v)
    assert int(row["at_or_above_2pp"]) == int((v >= 2).sum()), (row, v)

# The ranking: each dataset's own tasks only (its dense mean from them alone).
rows = list(csv.DictReader(open(os.path.join(out, "ranking.csv"))))
assert "transfer.dataset" not in rows[0], rows[0]
assert sorted((w["dataset"], w["control"]) for w in rows) == sorted(
    (d, c) for d in data for c in ("ticket", "reinit")), rows
for w in rows:
    dense = 100 * acc[own & (tgt == w["dataset"]), 0].mean()
    assert abs(float(w["dense_acc_pct"]) - dense) < 1e-3, (w, dense)
    assert w["seeds"] == "2", w
print("transfer.csv, instability.csv and ranking.csv agree with the file")
PY
  grep -q "mnist-path.png" "$T/tplot.txt" && grep -q "transfer.csv" "$T/tplot.txt" ||
    die "ticketplot does not list the new outputs: $(tail -1 "$T/tplot.txt")"
  ok "transfer and instability: figures per target and dataset, CSVs equal to the file's means;" \
    "own-ticket figures and the ranking from non-transfers only"
else
  echo "SKIP  transfer case: $data/fashion-mnist is missing (run tools/fetch-data fashion-mnist)"
fi

$PY -c "import h5py; h5py.File('$T/other.h5', 'w').create_dataset('x', data=[1, 2])"
echo "not hdf5" >"$T/text.h5"
for f in other.h5 text.h5 missing.h5; do
  set +e
  "$PLOT" "$T/$f" -o "$T/bad" >"$T/bad.txt" 2>&1
  rc=$?
  set -e
  if [ $rc != 2 ] || ! grep -q "ticketplot: .*$f" "$T/bad.txt"; then
    die "$f: exit $rc, $(cat "$T/bad.txt")"
  fi
done
grep -q "not a ticketfarm results file" <("$PLOT" "$T/other.h5" -o "$T/bad" 2>&1) ||
  die "other.h5: message does not say what is wrong"
ok "files that are not ticketfarm results exit 2 with the reason"

echo "test_ticketplot: $pass checks passed"
