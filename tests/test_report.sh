#!/usr/bin/env bash
# tools/ticketreport's numbers against an independent computation (numpy and the t and binomial
# formulas, from h5py-read arrays): t-intervals over seeds, paired differences to the baseline
# with their intervals, p-values and Holm correction, the controls' contrasts, the sparsest
# matching density and its bootstrap interval; on a real tiny sweep and on a copy with a known
# effect planted, where the report must call he_normal higher than glorot_normal (and rank it first
# by the matching density only with 4 seeds, not 3) and a planted null not distinguishable; an
# unfinished task, a single seed and missing controls are reported as such.
#   tests/test_report.sh path/to/ticketfarm
set -euo pipefail
TF=$(realpath "$1")
REPORT=$(realpath "$(dirname "${BASH_SOURCE[0]}")/../tools/ticketreport")
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_mnist

cat >"$T/tiny.yaml" <<'YAML'
name: report-test
data: {dataset: mnist, validation: 1000}
model: {hidden: [32]}
train: {iterations: 100, eval_every: 25}
prune: {rounds: 3, rate: 0.5, output_rate: 0.25}
record: {weights: []}
grid:
  init: [glorot_normal, he_normal]
  control: [ticket, reinit, sign_reinit, random_mask]
  seed: [1, 2, 3]
YAML
mpirun -n 2 "$TF" run "$T/tiny.yaml" -o "$T/tiny.h5" -q 2>"$T/run.log" ||
  die "tiny sweep failed: $(tail -3 "$T/run.log")"
ok "a tiny sweep (2 inits x 4 controls x 3 seeds, 3 rounds) runs"

# The independent computation: h5py arrays, numpy, and the t distribution's quantile and tail.
cat >"$T/check.py" <<'PY'
"""check.py FILE.h5 DIR BASELINE MARGIN: every number of DIR's CSV tables, recomputed."""
import csv, itertools, math, sys, warnings
import h5py, numpy as np
from scipy.stats import t as student

warnings.simplefilter("ignore", RuntimeWarning)  # nanmean of a round no resampled seed finished

path, out, baseline, margin = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
with h5py.File(path, "r") as f:
    r = f["results"]
    init = np.char.decode(r["init"][:], "utf-8")
    # A sweep without a control axis runs tickets only.
    control = (np.char.decode(r["control"][:], "utf-8") if "control" in r
               else np.full(len(init), "ticket"))
    seed = r["seed"][:]
    acc = 100 * r["test_acc_es"][:].astype(np.float64)
    es = r["early_stop_iter"][:].astype(np.float64)
    density = r["density"][:].astype(np.float64)
    done = r["rounds_done"][:]
for t in range(len(acc)):  # unfinished rounds do not count
    acc[t, done[t]:] = es[t, done[t]:] = density[t, done[t]:] = np.nan
seeds = sorted(set(seed.tolist()))
R = acc.shape[1]

def series(a, i, c):
    """(seed, round) of task metric a for init i and control c, NaN where missing."""
    x = np.full((len(seeds), R), np.nan)
    for t in np.flatnonzero((init == i) & (control == c)):
        x[seeds.index(seed[t])] = a[t]
    return x

def interval(x):
    x = x[np.isfinite(x)]
    n, m = len(x), x.mean()
    h = student.ppf(0.975, n - 1) * x.std(ddof=1) / math.sqrt(n)
    return m, m - h, m + h, n

def paired_t(a, b):
    ok = np.isfinite(a) & np.isfinite(b)
    d = a[ok] - b[ok]
    n, m, s = len(d), d.mean(), d.std(ddof=1)
    if s == 0:  # every seed the same difference: t is 0/0 (p = 1) or infinite (p = 0)
        return m, m, m, 1.0 if m == 0 else 0.0, n
    h = student.ppf(0.975, n - 1) * s / math.sqrt(n)
    p = 2 * student.sf(abs(m) / (s / math.sqrt(n)), n - 1)
    return m, m - h, m + h, p, n

def holm(ps):
    m = len(ps)
    order = sorted(range(m), key=lambda k: ps[k])
    adj, running = [0.0] * m, 0.0
    for rank, k in enumerate(order):
        running = max(running, min(1.0, (m - rank) * ps[k]))
        adj[k] = running
    return adj

def close(got, want, what, tol=1e-4):
    got = float(got)
    assert abs(got - want) <= tol * max(1, abs(want)), f"{what}: report {got}, independent {want}"

def rows(name):
    return list(csv.DictReader(open(f"{out}/{name}.csv")))

checked = 0
for row in rows("curves"):
    i, c, k = row["init"], row["control"], int(row["round"])
    a, e = series(acc, i, c)[:, k], series(es, i, c)[:, k]
    m, lo, hi, n = interval(a)
    assert int(row["n"]) == n, (row, n)
    close(row["test_acc_es_mean"], m, f"{i}/{c}/{k} mean")
    close(row["test_acc_es_lo"], lo, f"{i}/{c}/{k} t-interval low")
    close(row["test_acc_es_hi"], hi, f"{i}/{c}/{k} t-interval high")
    m, lo, hi, n = interval(e)
    close(row["early_stop_iter_mean"], m, f"{i}/{c}/{k} early stop")
    if row["early_stop_iter_lo"]:
        close(row["early_stop_iter_lo"], lo, f"{i}/{c}/{k} early stop low")
    checked += 1

base = rows("baseline")
assert base and all(r["baseline"] == baseline for r in base), base[:1]
ps = []
for row in base:
    k = int(row["round"])
    want = paired_t(series(acc, row["init"], "ticket")[:, k], series(acc, baseline, "ticket")[:, k])
    for col, w in zip(("diff_pp", "diff_lo", "diff_hi", "p"), want):
        close(row[col], w, f"{row['init']} - {baseline} at round {k}: {col}")
    ps.append(want[3])
    checked += 1
for row, want in zip(base, holm(ps)):
    close(row["p_holm"], want, f"{row['init']} at round {row['round']}: Holm")
    verdict = "not distinguishable" if want >= 0.05 else (
        "higher" if float(row["diff_pp"]) > 0 else "lower")
    assert row["verdict"] == verdict, (row, want)

kept = rows("kept")
ps = []
for row in kept:
    a, b = row["contrast"].split("-")
    k = int(row["round"])
    want = paired_t(series(acc, row["init"], a)[:, k], series(acc, row["init"], b)[:, k])
    for col, w in zip(("diff_pp", "diff_lo", "diff_hi", "p"), want):
        close(row[col], w, f"{row['init']} {a} - {b} at round {k}: {col}")
    ps.append(want[3])
    checked += 1
for row, want in zip(kept, holm(ps)):
    close(row["p_holm"], want, f"{row['init']} {row['contrast']} round {row['round']}: Holm")
if len(set(control)) == 4:
    assert {r["contrast"] for r in kept} == {"ticket-sign_reinit", "sign_reinit-reinit",
                                             "reinit-random_mask"}, {r["contrast"] for r in kept}

# The sparsest matching density of the mean over seeds, and every resample of the seeds. With 3
# seeds each of the 27 resamples has probability 1/27 > 2.5%, so the 95% percentile interval is
# exactly [smallest, largest] over them (9999 resamples miss that by 6 standard errors).
dens = np.nanmean(density, axis=0)
def sparsest(x):
    d = np.nanmean(x[:, 1:] - x[:, :1], axis=0)
    k = 0
    while k < len(d) and d[k] >= -margin - 1e-9:
        k += 1
    return 1.0 if k == 0 else dens[k]
for row in rows("matching"):
    x = series(acc, row["init"], "ticket")
    x = x[np.isfinite(x[:, 0])]
    close(row["sparsest_density"], sparsest(x), f"{row['init']} sparsest matching density")
    every = [sparsest(x[list(idx)]) for idx in itertools.product(range(len(x)), repeat=len(x))]
    lo, hi = float(row["sparsest_density_lo"]), float(row["sparsest_density_hi"])
    if len(x) == 3:
        close(row["sparsest_density_lo"], min(every), f"{row['init']} bootstrap low", 1e-5)
        close(row["sparsest_density_hi"], max(every), f"{row['init']} bootstrap high", 1e-5)
    else:
        assert min(every) * (1 - 1e-5) <= lo <= hi <= max(every) * (1 + 1e-5), (row, every)
    print(f"{row['init']}: matches down to {100 * sparsest(x):.3g}% "
          f"[{100 * lo:.3g}%, {100 * hi:.3g}%], resamples span "
          f"[{100 * min(every):.3g}%, {100 * max(every):.3g}%]")
    checked += 1
print(f"{checked} rows of the report's tables equal the independent computation")
PY

"$REPORT" "$T/tiny.h5" -o "$T/report" >"$T/report.txt" 2>&1 || die "ticketreport: $(cat "$T/report.txt")"
$PY "$T/check.py" "$T/tiny.h5" "$T/report" glorot_normal 0.5 || die "the report's numbers"
ok "t-intervals, paired differences, p-values, Holm and matching densities equal numpy's"

for f in mnist-accuracy mnist-early_stop mnist-ranking mnist-kept; do
  for ext in png pdf; do
    [ "$(stat -c %s "$T/report/$f.$ext")" -gt 10000 ] || die "$f.$ext missing or tiny"
  done
  grep -q "($f.png)" "$T/report/report.md" || die "report.md does not show $f.png"
done
grep -q "^| initialiser | dense accuracy (%) | sparsest matching density" "$T/report/report.md" ||
  die "report.md has no matching table"
grep -q "The file has none: no \`transfer" "$T/report/report.md" ||
  die "report.md does not say the file has no transfer or instability data"
ok "report.md shows four figures (PNG and PDF each) and its tables"

# A known effect, planted in a copy: he_normal's tickets 2 pp above glorot_normal's in every
# pruned round (plus a little noise per seed), glorot_normal's falling 1 pp below its dense
# network from the second pruned round; the dense rounds equal.
cp "$T/tiny.h5" "$T/planted.h5"
$PY - "$T/planted.h5" <<'PY'
import sys, h5py, numpy as np
with h5py.File(sys.argv[1], "r+") as f:
    r = f["results"]
    init = np.char.decode(r["init"][:], "utf-8")
    control = np.char.decode(r["control"][:], "utf-8")
    seed = r["seed"][:]
    acc = r["test_acc_es"][:]
    noise = {1: 0.001, 2: -0.0007, 3: 0.0002}
    for t in range(len(acc)):
        s = seed[t]
        acc[t] = 0.95 + 0.002 * s  # the dense network of seed s, every control
        if init[t] == "glorot_normal":
            acc[t, 2:] -= 0.01
        if init[t] == "he_normal" and control[t] == "ticket":
            acc[t, 1:] += 0.02 + noise[s]
        if init[t] == "glorot_normal" and control[t] == "ticket":
            acc[t, 1:] += noise[s] * np.array([1, -1, 1]) * 0.1
    r["test_acc_es"][:] = acc
    # An instability measurement per task and round (the name the report looks for, a fraction
    # as ticketfarm stores it): 1 pp plus the seed's tenth of a point, so the tickets' mean is
    # 1.2 [0.95, 1.45] pp in every round.
    inst = r.create_dataset("instability", data=(1.0 + 0.1 * seed[:, None] + 0 * acc) / 100)
    inst.dims[0].attach_scale(r["task"])
    inst.dims[1].attach_scale(r["round"])
PY
"$REPORT" "$T/planted.h5" -o "$T/planted" >"$T/planted.txt" 2>&1 ||
  die "ticketreport on the planted file: $(cat "$T/planted.txt")"
$PY "$T/check.py" "$T/planted.h5" "$T/planted" glorot_normal 0.5 || die "planted: the numbers"
$PY - "$T/planted" <<'PY' || die "planted: the decisions"
import csv, sys
out = sys.argv[1]
base = {r["round"]: r for r in csv.DictReader(open(f"{out}/baseline.csv"))}
assert set(base) == {"0", "1", "2"}, sorted(base)  # dense, 50.3% (~51.3), 25.3% (~21.1); 12.7% > 7 x 1.35
assert base["0"]["verdict"] == "not distinguishable", base["0"]
for k, effect in (("1", 2.0), ("2", 3.0)):  # glorot_normal's drop adds 1 pp from round 2
    assert base[k]["verdict"] == "higher" and float(base[k]["p_holm"]) < 0.05, base[k]
    assert abs(float(base[k]["diff_pp"]) - effect) < 0.2, base[k]
m = {r["init"]: r for r in csv.DictReader(open(f"{out}/matching.csv"))}
assert m["glorot_normal"]["rounds_matched"] == "1" and m["glorot_normal"]["last_round"] == "0"
assert m["he_normal"]["rounds_matched"] == "3" and m["he_normal"]["last_round"] == "1"
# Disjoint bootstrap intervals, but 3 seeds: even a complete separation has rank-sum p = 0.10.
assert float(m["he_normal"]["sparsest_density_hi"]) < float(m["glorot_normal"]["sparsest_density_lo"])
assert all(r["rank_best"] == "1" and r["rank_worst"] == "2" for r in m.values()), m
md = open(f"{out}/report.md").read()
assert "With 3 seeds no ranking by the sparsest matching density is claimed" in md
assert "- he_normal: higher than glorot_normal at 50.3% (+2.0" in md, "no verdict line"
assert "Table: mnist: tickets' instability in percentage points (stable below 2" in md
inst = list(csv.DictReader(open(f"{out}/instability.csv")))
assert len(inst) == 8 and all(abs(float(r["mean_pp"]) - 1.2) < 1e-9 and r["n"] == "3"
                              for r in inst), inst
assert "| 12.9% | 1.20 [0.95, 1.45] | 1.20 [0.95, 1.45] |" in md, "no instability table"
print("planted: he_normal +2 pp higher (Holm p < 0.05); dense not distinguishable; 3 seeds rank nothing")
PY
ok "a planted +2 pp effect: 'higher' with Holm p < 0.05, the dense tie not; no rank from 3 seeds; an instability variable gets its table"

"$REPORT" "$T/planted.h5" -o "$T/flipped" --baseline he_normal --margin 1.5 >"$T/flipped.txt" 2>&1 ||
  die "--baseline he_normal: $(cat "$T/flipped.txt")"
$PY "$T/check.py" "$T/planted.h5" "$T/flipped" he_normal 1.5 || die "--baseline he_normal"
$PY - "$T/flipped" <<'PY' || die "flipped baseline"
import csv, sys
base = {r["round"]: r for r in csv.DictReader(open(f"{sys.argv[1]}/baseline.csv"))}
assert all(r["init"] == "glorot_normal" for r in base.values())
assert base["1"]["verdict"] == "lower" and float(base["1"]["diff_pp"]) < -1.8, base["1"]
m = {r["init"]: r for r in csv.DictReader(open(f"{sys.argv[1]}/matching.csv"))}
# A 1.5 pp margin forgives glorot_normal's 1 pp drop: both match to the end, tied by the sweep.
assert m["glorot_normal"]["rounds_matched"] == m["he_normal"]["rounds_matched"] == "3", m
assert m["glorot_normal"]["sparsest_density"] == m["he_normal"]["sparsest_density"]
assert m["glorot_normal"]["rank_best"] == "1" and m["glorot_normal"]["rank_worst"] == "2"
md = open(f"{sys.argv[1]}/report.md").read()
assert "; † marks initialisers tied by the sweep's last round." in md
print("baseline he_normal: glorot_normal lower; margin 1.5 pp: both tied at the last round")
PY
ok "--baseline he_normal flips the differences; --margin 1.5 ties both at the sweep's end"

# A null effect: he_normal's tickets equal glorot_normal's up to noise of either sign.
cp "$T/tiny.h5" "$T/null.h5"
$PY - "$T/null.h5" <<'PY'
import sys, h5py, numpy as np
with h5py.File(sys.argv[1], "r+") as f:
    r = f["results"]
    init = np.char.decode(r["init"][:], "utf-8")
    seed = r["seed"][:]
    acc = r["test_acc_es"][:]
    noise = {1: 0.002, 2: -0.003, 3: 0.0015}
    for t in range(len(acc)):
        acc[t] = 0.95 + 0.002 * seed[t]
        if init[t] == "he_normal":
            acc[t, 1:] += noise[seed[t]]
    r["test_acc_es"][:] = acc
    # An unfinished task: he_normal ticket seed 3 stopped after round 1.
    t = int(np.flatnonzero((init == "he_normal") & (seed == 3))[0])
    r["rounds_done"][t] = 2
    r["status"][t] = 0
PY
"$REPORT" "$T/null.h5" -o "$T/null" >"$T/null.txt" 2>&1 || die "null: $(cat "$T/null.txt")"
$PY "$T/check.py" "$T/null.h5" "$T/null" glorot_normal 0.5 || die "null: the numbers"
$PY - "$T/null" <<'PY' || die "null: the decisions"
import csv, sys
base = list(csv.DictReader(open(f"{sys.argv[1]}/baseline.csv")))
assert all(r["verdict"] == "not distinguishable" for r in base), base
assert [r["n"] for r in base] == ["3", "3", "2"], [r["n"] for r in base]
md = open(f"{sys.argv[1]}/report.md").read()
assert "- he_normal: not distinguishable from glorot_normal at any of these densities." in md
assert "**1 of 24 tasks are incomplete**" in md, "the unfinished task is not reported"
print("null: not distinguishable at every density; the unfinished task leaves 2 seeds at round 2")
PY
ok "a null effect is 'not distinguishable'; an unfinished task is counted and its rounds used"

# Four seeds, tickets only, the same planted effect: now the matching density ranks.
sed -e '/control:/d' -e 's/seed: \[1, 2, 3\]/seed: [1, 2, 3, 4]/' "$T/tiny.yaml" >"$T/four.yaml"
mpirun -n 2 "$TF" run "$T/four.yaml" -o "$T/four.h5" -q 2>"$T/four.log" ||
  die "four-seed sweep failed: $(tail -3 "$T/four.log")"
$PY - "$T/four.h5" <<'PY'
import sys, h5py, numpy as np
with h5py.File(sys.argv[1], "r+") as f:
    r = f["results"]
    init = np.char.decode(r["init"][:], "utf-8")
    seed = r["seed"][:]
    acc = r["test_acc_es"][:]
    for t in range(len(acc)):
        acc[t] = 0.95 + 0.002 * seed[t] + 0.001 * np.arange(4) * (seed[t] % 2)
        if init[t] == "glorot_normal":
            acc[t, 2:] -= 0.01
        else:
            acc[t, 1:] += 0.02
    r["test_acc_es"][:] = acc
PY
"$REPORT" "$T/four.h5" -o "$T/four" >"$T/four.txt" 2>&1 || die "four seeds: $(cat "$T/four.txt")"
$PY "$T/check.py" "$T/four.h5" "$T/four" glorot_normal 0.5 || die "four seeds: the numbers"
$PY - "$T/four" <<'PY' || die "four seeds: the ranking"
import csv, sys
m = {r["init"]: r for r in csv.DictReader(open(f"{sys.argv[1]}/matching.csv"))}
assert m["he_normal"]["rank_best"] == m["he_normal"]["rank_worst"] == "1", m["he_normal"]
assert m["glorot_normal"]["rank_best"] == m["glorot_normal"]["rank_worst"] == "2", m
assert "distinguishable: he_normal > glorot_normal." in open(f"{sys.argv[1]}/report.md").read()
print("four seeds: he_normal ranked first by the sparsest matching density")
PY
ok "four seeds with disjoint bootstrap intervals: the sparsest matching density ranks them"

# One seed and only the ticket control: values without intervals, said so; no contrasts.
sed -e '/control:/d' -e 's/seed: \[1, 2, 3\]/seed: [4]/' "$T/tiny.yaml" >"$T/one.yaml"
mpirun -n 2 "$TF" run "$T/one.yaml" -o "$T/one.h5" -q 2>"$T/one.log" ||
  die "one-seed sweep failed: $(tail -3 "$T/one.log")"
"$REPORT" "$T/one.h5" -o "$T/one" >"$T/one.txt" 2>&1 || die "one seed: $(cat "$T/one.txt")"
grep -q "One seed: no interval, test or ranking" "$T/one/report.md" || die "one seed not said"
grep -q "The file lacks the controls for ticket − sign_reinit" "$T/one/report.md" ||
  die "missing controls not said"
$PY - "$T/one" <<'PY' || die "one seed: intervals"
import csv, sys
rows = list(csv.DictReader(open(f"{sys.argv[1]}/curves.csv")))
assert rows and all(r["n"] == "1" and r["test_acc_es_lo"] == "" for r in rows), rows[:2]
PY
ok "one seed: single values, no interval, and the missing controls named"

set +e
"$REPORT" "$T/tiny.h5" -o "$T/bad" --baseline lecun_normal >"$T/bad.txt" 2>&1
rc=$?
set -e
[[ $rc = 2 ]] && grep -q "not an initialiser of .*glorot_normal, he_normal" "$T/bad.txt" ||
  die "an absent baseline: exit $rc, $(cat "$T/bad.txt")"
ok "a baseline absent from the file exits 2 naming the initialisers it has"

echo "test_report: $pass checks passed"
