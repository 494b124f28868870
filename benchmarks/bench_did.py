"""Benchmark: Callaway & Sant'Anna on a SYNTHETIC 5,000-unit x 20-period panel, ucc_research vs
csdid 0.4.3 (the Python port of R did), plus the synthetic-control fit time.

Run: ``.venv/bin/python benchmarks/bench_did.py`` (needs the ``bench`` extra: csdid==0.4.3).
Prints one table: wall time of ATT(g,t) with analytic SEs and all four aggregations, the speed-up,
and the largest absolute differences of the estimates and standard errors. Not part of the tests.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import time
import warnings

import numpy as np
import pandas as pd


def synthetic_panel(n_units: int, n_periods: int, n_cohorts: int, seed: int = 1) -> pd.DataFrame:
    """SYNTHETIC staggered panel: unit and time effects, a covariate-dependent trend and a
    dynamic effect; cohorts evenly spread over periods 3..n_periods, a quarter never treated."""
    rng = np.random.default_rng(seed)
    cohorts = np.linspace(3, n_periods, n_cohorts).round()
    g = np.where(rng.random(n_units) < 0.25, 0.0, rng.choice(cohorts, size=n_units))
    x = rng.normal(size=n_units)
    t = np.arange(1, n_periods + 1)
    e = t[None, :] - g[:, None]
    effect = np.where((g[:, None] > 0) & (e >= 0), 1.0 + 0.1 * e, 0.0)
    y = (
        rng.normal(size=n_units)[:, None]
        + 0.1 * t[None, :]
        + 0.05 * x[:, None] * t[None, :]
        + effect
        + rng.normal(size=(n_units, n_periods))
    )
    return pd.DataFrame(
        {
            "id": np.repeat(np.arange(1, n_units + 1), n_periods),
            "period": np.tile(t, n_units),
            "cohort": np.repeat(g, n_periods),
            "x": np.repeat(x, n_periods),
            "y": y.ravel(),
        }
    )


KINDS = ("simple", "group", "dynamic", "calendar")


def run_ours(d: pd.DataFrame, covariates: str | None):
    from ucc_research.impact.did import staggered_did

    t0 = time.perf_counter()
    res = staggered_did(d, "y", "id", "period", "cohort", covariates=covariates)
    aggs = {k: res.aggregate(k) for k in KINDS}
    return time.perf_counter() - t0, res, aggs


def run_csdid(d: pd.DataFrame, covariates: str | None):
    from csdid.att_gt import ATTgt

    t0 = time.perf_counter()
    # csdid prints every summary; keep the benchmark's table readable
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        m = ATTgt(
            yname="y",
            tname="period",
            idname="id",
            gname="cohort",
            data=d,
            control_group="nevertreated",
            xformla=covariates,
        ).fit(est_method="dr", bstrap=False)
        aggs = {}
        for k in KINDS:
            aggs[k] = dict(m.aggte(typec=k, bstrap=False, cband=False).atte)
    return time.perf_counter() - t0, m, aggs


def compare(res, aggs, m, caggs) -> tuple[float, float]:
    att_d = np.max(np.abs(res.att_gt["att"].to_numpy() - np.asarray(m.results["att"], float)))
    se_d = np.max(np.abs(res.att_gt["se"].to_numpy() - np.asarray(m.results["se"], float)))
    for k in KINDS:
        a, c = aggs[k], caggs[k]
        att_d = max(att_d, abs(a.estimate - float(np.ravel(c["overall_att"])[0])))
        se_d = max(se_d, abs(a.std_error - float(np.ravel(c["overall_se"])[0])))
        if k != "simple":
            att_d = max(att_d, np.max(np.abs(a.table["att"] - np.asarray(c["att_egt"], float))))
            se_d = max(se_d, np.max(np.abs(a.table["se"] - np.asarray(c["se_egt"], float))))
    return att_d, se_d


def synth_time() -> float | None:
    """Fit time of D2's synthetic_control: 38 donors, 19 pre-periods, 8 starts, no placebos."""
    try:
        from ucc_research.impact import synthetic_control
    except (ImportError, AttributeError):
        return None
    rng = np.random.default_rng(3)
    years = np.arange(1970, 2001)
    base = rng.normal(size=(39, 1)) * 10 + 100
    y = base + np.cumsum(rng.normal(size=(39, len(years))), axis=1) - 0.5 * (years - 1970)
    d = pd.DataFrame(
        {"unit": np.repeat(np.arange(39), len(years)), "year": np.tile(years, 39), "y": y.ravel()}
    )
    t0 = time.perf_counter()
    synthetic_control(
        d, "y", "unit", "year", treated=0, treatment_time=1989, n_starts=8, placebo=False
    )
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--units", type=int, default=5000)
    ap.add_argument("--periods", type=int, default=20)
    ap.add_argument("--cohorts", type=int, default=8)
    ap.add_argument("--repeat", type=int, default=3, help="runs per estimator; the fastest counts")
    args = ap.parse_args()
    d = synthetic_panel(args.units, args.periods, args.cohorts)
    # import both packages before timing (import time is not estimation time)
    import csdid.att_gt  # noqa: F401

    import ucc_research.impact.did  # noqa: F401

    print(
        f"SYNTHETIC panel: {args.units} units x {args.periods} periods, {args.cohorts} cohorts; "
        "doubly robust, never-treated controls, analytic SEs, ATT(g,t) + 4 aggregations"
    )
    # warm both up on a small panel (first calls pay one-off costs), then best of --repeat runs
    small = synthetic_panel(200, 6, 2)
    run_ours(small, "~x")
    run_csdid(small, "~x")
    rows = []
    for cov in (None, "~x"):
        t_ours, res, aggs = min((run_ours(d, cov) for _ in range(args.repeat)), key=lambda r: r[0])
        t_cs, m, caggs = min((run_csdid(d, cov) for _ in range(args.repeat)), key=lambda r: r[0])
        att_d, se_d = compare(res, aggs, m, caggs)
        rows.append(
            {
                "covariates": cov or "none",
                "cells": len(res.att_gt),
                "runs": args.repeat,
                "ucc_research_s": round(t_ours, 3),
                "csdid_0.4.3_s": round(t_cs, 3),
                "speed-up": round(t_cs / t_ours, 1),
                "max|diff| estimates": f"{att_d:.1e}",
                "max|diff| SEs": f"{se_d:.1e}",
            }
        )
    print(pd.DataFrame(rows).to_string(index=False))
    ts = synth_time()
    if ts is None:
        print("synthetic_control: not available (ucc_research.impact.synth missing)")
    else:
        print(
            f"synthetic_control fit (38 donors, 19 pre-periods, 8 starts): {ts:.3f} s (goal < 2 s)"
        )


if __name__ == "__main__":
    main()
