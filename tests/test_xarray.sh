#!/usr/bin/env bash
# The README's reading lines, run as written on a grid with string, integer and real axes: xarray
# reads the grid columns as str coordinates, unstacks the sweep into (init, control, seed,
# prune.rate, round) and labels the eval axis with its iterations; its means equal those computed
# with h5py and those pandas computes from `summary --csv`; h5py still reads fixed-length bytes.
#   tests/test_xarray.sh path/to/ticketfarm
set -euo pipefail
TF=$(realpath "$1")
README=$(realpath "$(dirname "${BASH_SOURCE[0]}")/../README.md")
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_mnist
export MPLBACKEND=Agg

cat >"$T/grid.yaml" <<'YAML'
name: xarray-test
data: {dataset: mnist, validation: 1000}
model: {hidden: [16]}
train: {iterations: 100, eval_every: 50}
prune: {rounds: 3, output_rate: 0.25}
record: {weights: []}
grid:
  init: [glorot_normal, he_normal]
  control: [ticket, reinit]
  seed: [1, 2, 3]
  prune.rate: [0.2, 0.5]
YAML
# The README reads the quickstart's file and summary: the same paths, relative to $T.
mkdir "$T/out"
mpirun -n 2 "$TF" run "$T/grid.yaml" -o "$T/out/quickstart.h5" -q 2>"$T/run.log" ||
  die "sweep failed: $(tail -3 "$T/run.log")"
"$TF" summary "$T/out/quickstart.h5" --csv >"$T/out/quickstart.csv"
ok "a grid of 2 inits x 2 controls x 3 seeds x 2 rates (24 tasks, 4 rounds) runs"

sed -n '/<!-- reading:begin -->/,/<!-- reading:end -->/p' "$README" |
  sed -e '1,2d' -e '$d' | sed '$d' >"$T/reading.py"
grep -q 'xr.open_dataset("out/quickstart.h5"' "$T/reading.py" ||
  die "README.md has no reading block between <!-- reading:begin --> and <!-- reading:end -->"

(cd "$T" && $PY - reading.py out/quickstart.h5 <<'PY') || die "the README's reading lines"
import sys, warnings
import h5py, numpy as np

ns = {}
with warnings.catch_warnings():
    # xarray 2023.01's unstack casts NaN into the integer variables it then fills whole.
    warnings.filterwarnings("ignore", "invalid value encountered in cast", RuntimeWarning)
    exec(compile(open(sys.argv[1]).read(), "README.md", "exec"), ns)
ds, sweep, acc, acc_csv = ns["ds"], ns["sweep"], ns["acc"], ns["acc_csv"]

# Independently, with h5py: the columns as bytes, decoded here.
with h5py.File(sys.argv[2], "r") as f:
    r = f["results"]
    for a in ("init", "control"):
        assert r[a].dtype.kind == "S", (a, r[a].dtype)  # h5py reads fixed-length bytes as before
    init = np.char.decode(r["init"][:], "utf-8")
    control = np.char.decode(r["control"][:], "utf-8")
    seed, rate = r["seed"][:], r["prune.rate"][:]
    es = r["test_acc_es"][:].astype(np.float64)
    test_acc0 = r["test_acc"][:, 0, :].astype(np.float64)
    eval_iteration = r["eval_iteration"][:]
    remaining = r["remaining"][0, 3].sum()
    mask_bytes = r["mask"][0, 3]
inits, controls, seeds, rates = ["glorot_normal", "he_normal"], ["ticket", "reinit"], [1, 2, 3], [0.2, 0.5]

# The grid columns are str coordinates of task; density and early_stop_iter coordinates too.
for name in ("init", "control", "seed", "prune.rate", "density", "early_stop_iter"):
    assert name in ds.coords, (name, list(ds.coords))
assert list(ds.init.values) == list(init) and isinstance(ds.init.values[0], str), ds.init.values
assert ds.seed.dtype.kind == "i" and ds["prune.rate"].dtype.kind == "f"

u = sweep.test_acc_es
assert u.dims == ("init", "control", "seed", "prune.rate", "round"), u.dims
assert u.shape == (2, 2, 3, 2, 4), u.shape
assert sorted(u.init.values) == inits and sorted(u.control.values) == sorted(controls)
assert sorted(u.seed.values) == seeds and np.allclose(sorted(u["prune.rate"].values), rates)
assert sweep.density.dims == u.dims and float(sweep.density.sel(round=0).min()) == 1.0
# Every task shares eval_every 50: the eval axis is labelled with iterations.
assert list(ds.eval.values) == [0, 50, 100] == list(eval_iteration[0]), ds.eval.values
assert ns["curve"].dims == ("init", "control", "prune.rate", "eval"), ns["curve"].dims

checked = 0
for i in inits:
    for c in controls:
        for p in rates:
            rows = (init == i) & (control == c) & np.isclose(rate, p)
            assert rows.sum() == 3, (i, c, p, rows.sum())
            for k in range(4):
                want = es[rows, k].mean()
                got = float(acc.sel(init=i, control=c, round=k, **{"prune.rate": p}))
                assert abs(got - want) < 1e-6, (i, c, p, k, got, want)
                got_csv = float(acc_csv.loc[(i, c, p, k)])
                assert abs(got_csv - got) < 2e-6, (i, c, p, k, got_csv, got)
                checked += 1
            want = test_acc0[rows].mean(axis=0)
            got = ns["curve"].sel(init=i, control=c, **{"prune.rate": p}).values
            assert np.allclose(got, want, atol=1e-6), (i, c, p, got, want)
assert len(acc_csv) == acc.size == checked == 32, (len(acc_csv), acc.size, checked)
assert 0.5 < float(acc.min()) and float(acc.max()) < 1, acc.values

he = ns["he_tickets"]
rows = (init == "he_normal") & (control == "ticket")
assert list(he.task.values) == list(np.flatnonzero(rows)), he.task.values
assert np.array_equal(he.values, es[rows].astype(np.float32)), he.values
for i in inits:
    assert np.allclose(ns["by_init"].sel(init=i).values, es[init == i].mean(axis=0), atol=1e-6)
assert np.array_equal(ns["mask"], np.unpackbits(mask_bytes)) and ns["mask"].sum() == remaining
print(f"unstacked {dict(zip(u.dims, u.shape))}; {checked} means over seeds equal h5py's and "
      f"summary --csv's; eval = {list(ds.eval.values)}")
PY
ok "the README's lines: (init, control, seed, prune.rate, round), means equal to h5py and pandas"

# Evaluation intervals that differ between tasks: the eval axis stays an index.
sed '/^  control:/,$d' "$T/grid.yaml" >"$T/mixed.yaml"
echo '  train.eval_every: [25, 50]' >>"$T/mixed.yaml"
mpirun -n 2 "$TF" run "$T/mixed.yaml" -o "$T/mixed.h5" -q 2>"$T/mixed.log" ||
  die "mixed sweep failed: $(tail -3 "$T/mixed.log")"
$PY - "$T/mixed.h5" <<'PY' || die "mixed evaluation intervals"
import sys, h5py, xarray as xr
ds = xr.open_dataset(sys.argv[1], engine="h5netcdf", group="results")
assert list(ds.eval.values) == [0, 1, 2, 3, 4], ds.eval.values
assert "scale_factor" not in h5py.File(sys.argv[1], "r")["results/eval"].attrs
assert list(ds["train.eval_every"].values) == [25, 50, 25, 50], ds["train.eval_every"].values
print("eval stays an index:", list(ds.eval.values))
PY
ok "tasks with different eval_every: the eval axis stays the evaluation index"

echo "test_xarray: $pass checks passed"
