"""Randomisation inference for staggered DiD with few cities: size and coverage (SYNTHETIC).

The design of ``sim_pretest_size.py``: parallel trends by construction (unit and period effects,
a random-walk error unrelated to adoption), six periods, cohorts adopting in periods 3-6 and about
40% never adopting, cohorts drawn at random (so adoption timing is random, the design that
justifies the permutation test). A constant effect ``--effect`` is added from adoption on.

For each number of cities, prints over ``--reps`` panels:

- the pre-trend test's rejection rate at 5% (chi-squared Wald of ``staggered_did`` vs the
  permutation Wald of ``randomization_inference``): the goal is 3-7%;
- the coverage of zero by the pre-adoption intervals, per ATT(g, t) cell and per event time
  (analytic 95% intervals vs pointwise permutation bands): the goal is >= 93%;
- the coverage of the true effect by the aggregated ATT's interval (analytic vs test inversion)
  and by the post-adoption event-time bands.

    .venv/bin/python benchmarks/sim_ri.py [--units 36 11] [--reps 500] [--perms 199]
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import pandas as pd

from ucc_research.errors import SpecError
from ucc_research.impact import randomization_inference, staggered_did

PERIODS = 6
COHORTS = np.array([0, 3, 4, 5, 6])
SHARES = [0.4, 0.15, 0.15, 0.15, 0.15]


def panel(n_units: int, seed: int, effect: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    cohort = rng.choice(COHORTS, n_units, p=SHARES)
    unit_fe, period_fe = rng.normal(size=n_units), rng.normal(size=PERIODS)
    walk = 0.3 * np.cumsum(rng.normal(scale=0.5, size=(n_units, PERIODS)), axis=1)
    y = unit_fe[:, None] + period_fe[None, :] + walk + rng.normal(size=(n_units, PERIODS))
    periods = np.arange(1, PERIODS + 1)
    treated = (cohort[:, None] > 0) & (periods[None, :] >= cohort[:, None])
    y = y + effect * treated
    return pd.DataFrame(
        {
            "unit": np.repeat(np.arange(n_units), PERIODS),
            "time": np.tile(periods, n_units),
            "cohort": np.repeat(cohort, PERIODS),
            "y": y.ravel(),
        }
    )


def run(n_units: int, reps: int, perms: int, effect: float) -> dict:
    keys = ["chi2", "ri_pre", "cell_an", "cell_ri", "ev_an", "ev_ri", "att_an", "att_ri",
            "post_ri", "post_band", "no_chi2"]  # fmt: skip
    hits = {k: [] for k in keys}
    skipped = 0
    for seed in range(reps):
        try:
            res = staggered_did(panel(n_units, seed, effect), "y", "unit", "time", "cohort")
        except SpecError:  # a draw in which no cell can be estimated: not counted
            skipped += 1
            continue
        ri = randomization_inference(res, n_perm=perms, seed=seed)
        try:
            hits["chi2"].append(res.pretest().p < 0.05)
        except SpecError:  # singular covariance (a cohort of one city): no chi-squared test
            hits["no_chi2"].append(True)
        if np.isfinite(ri.pretest_p):
            hits["ri_pre"].append(ri.pretest_p < 0.05)
        cells = res.att_gt.assign(p_low=ri.att_gt["ci_low"], p_high=ri.att_gt["ci_high"])
        pre = cells[(cells["cohort"] > cells["time"])]
        hits["cell_an"] += ((pre["ci_low"] <= 0) & (0 <= pre["ci_high"])).tolist()
        hits["cell_ri"] += ((pre["p_low"] <= 0) & (0 <= pre["p_high"])).tolist()
        dyn = res.aggregate("dynamic").table
        es = ri.event_study
        pre_an = dyn[dyn["event_time"] < 0]
        hits["ev_an"] += ((pre_an["ci_low"] <= 0) & (0 <= pre_an["ci_high"])).tolist()
        pre_ri = es[es["pre"]]
        hits["ev_ri"] += ((pre_ri["ci_low"] <= 0) & (0 <= pre_ri["ci_high"])).tolist()
        post_ri = es[~es["pre"]]
        hits["post_ri"] += ((post_ri["ci_low"] <= effect) & (effect <= post_ri["ci_high"])).tolist()
        hits["post_band"].append(
            bool(((post_ri["band_low"] <= effect) & (effect <= post_ri["band_high"])).all())
        )
        simple = res.aggregate("simple")
        lo, hi = simple.conf_int
        hits["att_an"].append(lo <= effect <= hi)
        hits["att_ri"].append(ri.conf_int[0] <= effect <= ri.conf_int[1])
    out = {k: float(np.mean(v)) if v else np.nan for k, v in hits.items()}
    out["runs"] = reps - skipped
    out["no_chi2"] = len(hits["no_chi2"])
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--units", type=int, nargs="+", default=[36, 11])
    ap.add_argument("--reps", type=int, default=500)
    ap.add_argument("--perms", type=int, default=199)
    ap.add_argument("--effect", type=float, default=0.5)
    args = ap.parse_args()
    warnings.filterwarnings("ignore")  # R did's notes on small groups, repeated every draw
    print(f"SYNTHETIC panels, {PERIODS} periods, cohorts 3-6 + never, effect {args.effect}, "
          f"{args.perms} permutations each")  # fmt: skip
    head = (
        f"{'units':>5} {'runs':>5} | {'pre-test size':^17} | {'pre cells cover 0':^17} | "
        f"{'pre events cover 0':^18} | {'ATT covers truth':^17} | {'post events':^17} | secs"
    )
    print(head)
    print(f"{'':>11} | {'chi2':>8}{'perm':>9} | {'analytic':>8}{'perm':>9} | {'analytic':>8}"
          f"{'perm':>10} | {'analytic':>8}{'perm':>9} | {'pointw.':>8}{'simult.':>9} |")  # fmt: skip
    for n in args.units:
        t0 = time.perf_counter()
        r = run(n, args.reps, args.perms, args.effect)
        secs = time.perf_counter() - t0
        print(
            f"{n:>5} {r['runs']:>5} | {r['chi2']:>8.3f}{r['ri_pre']:>9.3f} | "
            f"{r['cell_an']:>8.3f}{r['cell_ri']:>9.3f} | {r['ev_an']:>8.3f}{r['ev_ri']:>10.3f} | "
            f"{r['att_an']:>8.3f}{r['att_ri']:>9.3f} | {r['post_ri']:>8.3f}"
            f"{r['post_band']:>9.3f} | {secs:.0f}"
        )
        if r["no_chi2"]:
            print(f"{'':>11}   (no chi-squared test in {r['no_chi2']} runs: singular covariance)")


if __name__ == "__main__":
    main()
