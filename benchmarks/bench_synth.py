"""Benchmark: synthetic control fit times, and the inner donor-weight solver against SLSQP.

Run: ``.venv/bin/python benchmarks/bench_synth.py``. Prints one table from one run:

- the Basque Country case (Synth vignette spec, 17 donors, 14 predictors, 8 starts), with and
  without in-space placebos, and its weights/ATT against the published numbers;
- the SYNTHETIC 38-donor, 19-pre-period problem that ``bench_did.py`` also times (goal < 2 s),
  with synthetic DiD and the augmented synthetic control on the same panel beside the plain
  synthetic control (goal: each under 2 s), and their placebo standard errors;
- the inner quadratic program (donor weights on the simplex for a given ``V``): the warm-started
  active-set solver used by ``synthetic_control`` vs scipy's generic SLSQP, per solve, with the
  largest difference in the objective (both must reach the same optimum).
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
from scipy.optimize import minimize

from ucc_research import config
from ucc_research.impact import augmented_synthetic_control, synthetic_control, synthetic_did
from ucc_research.impact.synth import _simplex_qp

BASQUE = "Basque Country (Pais Vasco)"
SECTORS = [
    "sec.agriculture",
    "sec.energy",
    "sec.industry",
    "sec.construction",
    "sec.services.venta",
    "sec.services.nonventa",
]
VIGNETTE = dict(
    predictors=["school.illit", "school.prim", "school.med", "school.high", "school.post.high"]
    + ["invest"],
    predictor_period=range(1964, 1970),
    special_predictors=[("gdpcap", range(1960, 1970), "mean")]
    + [(c, range(1961, 1970, 2), "mean") for c in SECTORS]
    + [("popdens", [1969], "mean")],
    optimize_period=range(1960, 1970),
)


def timed(fn, *args, **kwargs):
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    return time.perf_counter() - t0, out


def panel_38() -> pd.DataFrame:
    """The SYNTHETIC panel of bench_did.synth_time: 39 units x 1970-2000, treated 1989."""
    rng = np.random.default_rng(3)
    years = np.arange(1970, 2001)
    base = rng.normal(size=(39, 1)) * 10 + 100
    y = base + np.cumsum(rng.normal(size=(39, len(years))), axis=1) - 0.5 * (years - 1970)
    return pd.DataFrame(
        {"unit": np.repeat(np.arange(39), len(years)), "year": np.tile(years, 39), "y": y.ravel()}
    )


def inner_solver_rows(n_problems: int = 200) -> list[tuple[str, str, str]]:
    """Per-solve time of the active-set QP (cold and warm) vs SLSQP on random Synth-like QPs."""
    rng = np.random.default_rng(0)
    k, j = 19, 38
    gaps = rng.normal(size=(k, j)) + rng.normal(size=(k, 1))
    vs = [rng.dirichlet(np.ones(k)) for _ in range(n_problems)]
    # Nelder-Mead moves V a little at a time: a warm start sees a sequence of nearby V.
    walk = [vs[0]]
    for _ in range(n_problems - 1):
        v = np.abs(walk[-1] * np.exp(0.05 * rng.normal(size=k)))
        walk.append(v / v.sum())
    qs = [(gaps * v[:, None]).T @ gaps for v in vs]
    qw = [(gaps * v[:, None]).T @ gaps for v in walk]

    t_cold, w_cold = timed(lambda: [_simplex_qp(q) for q in qs])

    def warm():
        w, out = None, []
        for q in qw:
            w = _simplex_qp(q, w)
            out.append(w)
        return out

    t_warm, _ = timed(warm)
    cons = ({"type": "eq", "fun": lambda w: w.sum() - 1, "jac": lambda w: np.ones_like(w)},)

    def slsqp(q):
        res = minimize(
            lambda w: w @ q @ w,
            np.full(j, 1 / j),
            jac=lambda w: 2 * q @ w,
            bounds=[(0, 1)] * j,
            constraints=cons,
            method="SLSQP",
            options={"ftol": 1e-12, "maxiter": 500},
        )
        return res.x

    t_slsqp, w_slsqp = timed(lambda: [slsqp(q) for q in qs])
    gap = max(
        (a @ q @ a - b @ q @ b) / max(b @ q @ b, 1e-300) for a, b, q in zip(w_cold, w_slsqp, qs)
    )
    us = 1e6 / n_problems
    return [
        ("inner QP, active set (cold start)", f"{t_cold * us:.0f} us/solve", ""),
        ("inner QP, active set (warm start)", f"{t_warm * us:.0f} us/solve", ""),
        (
            "inner QP, scipy SLSQP",
            f"{t_slsqp * us:.0f} us/solve",
            f"{t_slsqp / t_cold:.0f}x slower than active set; active-set loss - SLSQP loss "
            f"<= {gap:.1e} (relative)",
        ),
    ]


def main() -> None:
    basque = pd.read_csv(config.shared_data_dir() / "basque" / "basque.csv")
    args = (basque, "gdpcap", "regionname", "year", BASQUE, 1975)
    synthetic_control(*args, n_starts=1, placebo=False, **VIGNETTE)  # warm-up (imports)

    rows = []
    t, res = timed(synthetic_control, *args, n_starts=2, placebo=False, search="synth", **VIGNETTE)
    w = res.weights
    rows.append(
        (
            "Basque fit, search='synth' (R Synth's starts and optimisers)",
            f"{t:.3f} s",
            f"Cataluna {w['Cataluna']:.4f} (published 0.8508), Madrid "
            f"{w['Madrid (Comunidad De)']:.4f} (0.1492), ATT {res.estimate:.4f} (-0.6996), "
            f"loss_v {res.loss_v:.6f} (R 0.008865)",
        )
    )
    t, res = timed(synthetic_control, *args, n_starts=8, placebo=False, **VIGNETTE)
    top = res.weights[res.weights > 0.01].sort_values(ascending=False).round(4).to_dict()
    rows.append(
        (
            "Basque fit, search='thorough' (default, 8 starts)",
            f"{t:.3f} s",
            f"loss_v {res.loss_v:.6f} (bound {res.loss_bound:.6f}); {top}; ATT {res.estimate:.4f}",
        )
    )
    t, res = timed(synthetic_control, *args, n_starts=8, placebo=True, **VIGNETTE)
    rows.append(
        (
            "Basque fit + 17 placebos (8 starts each, default)",
            f"{t:.3f} s",
            f"placebo p-value {res.placebos.p_value:.4f} (pysyncon 0.1667)",
        )
    )
    t, fast = timed(
        synthetic_control, *args, n_starts=8, placebo=True, placebo_n_starts=1, **VIGNETTE
    )
    rows.append(
        (
            "Basque fit + 17 placebos (placebo_n_starts=1)",
            f"{t:.3f} s",
            f"placebo p-value {fast.placebos.p_value:.4f}",
        )
    )
    t, _ = timed(res.leave_one_out)
    rows.append(("Basque leave-one-out (2 refits)", f"{t:.3f} s", ""))

    d = panel_38()
    kw = dict(treated=0, treatment_time=1989, n_starts=8)
    t, res = timed(synthetic_control, d, "y", "unit", "year", placebo=False, **kw)
    rows.append(
        (
            "SYNTHETIC 38 donors, 19 pre-periods, 8 starts",
            f"{t:.3f} s",
            f"goal < 2 s: {t / 2:.2f} of the budget",
        )
    )
    t, _ = timed(synthetic_control, d, "y", "unit", "year", placebo=True, **kw)
    rows.append(("  same + 38 placebos (8 starts each, default)", f"{t:.3f} s", ""))
    t, _ = timed(synthetic_control, d, "y", "unit", "year", placebo=True, placebo_n_starts=1, **kw)
    rows.append(("  same + 38 placebos (placebo_n_starts=1)", f"{t:.3f} s", ""))
    d["first"] = np.where(d["unit"] == 0, 1989, np.nan)
    sd = ("y", "unit", "year")
    for label, fn, kwargs in [
        ("  synthetic DiD (synthdid defaults)", synthetic_did, {}),
        ("  SC, synthdid's Frank-Wolfe (method='sc')", synthetic_did, {"method": "sc"}),
        ("  augmented SC (ridge, CV-chosen penalty)", augmented_synthetic_control, {}),
    ]:
        t, r = timed(fn, d, *sd, adoption="first", se="none", **kwargs)
        rows.append(
            (label, f"{t:.3f} s", f"ATT {r.estimate:.3f}; goal < 2 s: {t / 2:.2f} of the budget")
        )
    for label, kwargs in [
        ("  synthetic DiD + placebo SE (50 draws)", {}),
        ("  augmented SC + placebo SE (50 draws)", {"method": "ascm"}),
    ]:
        t, r = timed(synthetic_did, d, *sd, adoption="first", n_reps=50, **kwargs)
        rows.append((label, f"{t:.3f} s", f"se {r.std_error:.3f}"))
    rows += inner_solver_rows()

    width = max(len(r[0]) for r in rows)
    print(f"{'case':<{width}}  {'time':>14}  notes")
    for name, value, note in rows:
        print(f"{name:<{width}}  {value:>14}  {note}")


if __name__ == "__main__":
    main()
