"""Randomisation inference over adoption timing for staggered difference-in-differences.

With a handful of cities per adoption cohort, the analytic and multiplier-bootstrap standard
errors of :func:`~ucc_research.impact.staggered_did` lean on asymptotics that do not hold: in
simulated 36-city panels (4 cohorts) the chi-squared pre-trend test rejects true parallel trends
72% of the time at the 5% level and the pre-adoption intervals cover 87% (``benchmarks/sim_ri.py``,
1,000 panels); the permutation versions below: 4.3% and 94.8%.
:func:`randomization_inference` replaces them with a design-based reference distribution.

Design. The adoption dates are treated as if assigned to cities at random, keeping the number of
cities per cohort (and the never-adopters) fixed: every permutation of the cohort labels across
cities is an equally likely assignment (Fisher 1935; Imbens & Rubin 2015, ch. 5; for staggered
adoption, Athey & Imbens 2022, "Design-based analysis in difference-in-differences settings with
staggered adoption", J. Econometrics 226(1), and Roth & Sant'Anna 2023 on timing as random). The
estimator is re-run on every sampled permutation. Under the sharp null of no effect and random
timing, the observed statistic is one draw from that permutation distribution, so the tests below
are exact up to Monte Carlo error whatever the number of cities; the price is the assumption
itself (timing as good as random), which the parallel-trends assumption already approximates.

What is computed, from one set of ``n_perm`` permutations:

- **Pre-trend test**: a Wald statistic of the pre-adoption ATT(g, t), with the covariance of
  those cells over the permutations, compared with its permutation distribution (exact size
  under random timing and parallel trends).
- **Pre-adoption and event-study bands**: for each ATT(g, t) and each event time, the pointwise
  band ``estimate +/- q`` with ``q`` the ``1 - alpha`` quantile of the permuted estimates'
  absolute values, and a simultaneous band over event times (the quantile of the largest
  permutation-standardised deviation). For pre-adoption points, whose true value is zero under
  parallel trends, the band covers zero exactly when the permutation test does not reject, so
  its coverage is exact. For post-adoption points the band treats the estimator's error as
  distributed like its null permutation distribution (as the SDID placebo standard error does);
  when effects are large, permuted "controls" carry them, which widens the band (conservative).
- **Aggregated ATT**: the permutation p-value of the simple aggregation and its confidence
  interval by test inversion under a constant additive effect ``tau`` (Imbens & Rubin 2015,
  ch. 5.7): ``tau`` is kept when the permutation test of ``Y - tau D`` does not reject. The DiD
  estimators without covariates are linear in the outcome, so every ``tau`` is tested from the
  same permutations.

The smallest attainable p-value is ``1 / (n_perm + 1)``; with very few cities the number of
distinct assignments (``n_assignments``) can be smaller still, and the result says so.
Only designs without covariates are supported (declared not applicable otherwise): with
covariates, use the analytic or bootstrap inference and state its small-sample caveat.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from math import factorial, prod
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from ucc_research.errors import SpecError
from ucc_research.impact._checks import check_seed
from ucc_research.impact.base import ImpactResult

__all__ = ["randomization_inference", "RandomizationInference"]

_CHUNK = 256  # permutations evaluated at once (bounds memory: chunk x units x cells floats)


@dataclass(repr=False)
class RandomizationInference(ImpactResult):
    """Randomisation inference for a staggered DiD; see :func:`randomization_inference`.

    The headline (``estimate``, ``p_value``, ``conf_int``) is the simple aggregated ATT, its
    two-sided permutation p-value and the test-inversion interval under a constant effect
    (``std_error`` is NaN: permutations give p-values and intervals, not standard errors).
    :meth:`with_inference` draws again with another ``n_perm``, ``seed`` or ``alpha``.

    Attributes
    ----------
    pretest_stat, pretest_df, pretest_p : float, int, float
        Permutation Wald pre-trend test.
    pretest_p_analytic : float
        The chi-squared p-value of the same cells with the analytic covariance (for contrast).
    event_study : DataFrame
        ``event_time``, ``att``, ``p_value``, ``ci_low``/``ci_high`` (pointwise),
        ``band_low``/``band_high`` (simultaneous), ``pre``.
    att_gt : DataFrame
        Every ATT(g, t) cell with its permutation ``p_value`` and pointwise ``ci_low``/``ci_high``.
    n_perm, n_assignments, seed, alpha
        Permutations drawn, distinct assignments possible, seed, level.
    notes : list of str
    """

    overall: tuple[float, float, float, float]  # ATT, p-value, interval low, high
    pretest_stat: float
    pretest_df: int
    pretest_p: float
    pretest_p_analytic: float
    event_study: pd.DataFrame
    att_gt: pd.DataFrame
    n_perm: int
    n_assignments: float
    seed: int
    alpha: float
    n_obs: int
    perm_att: np.ndarray = field(repr=False, default_factory=lambda: np.array([]))
    notes: list[str] = field(default_factory=list)
    result: Any = field(default=None, repr=False)

    title = "Randomisation inference over adoption timing"

    def _tidy(self) -> pd.DataFrame:
        """The aggregated ATT and the event-study path, with permutation p-values and bands."""
        att, p, lo, hi = self.overall
        es = self.event_study
        out = pd.DataFrame(
            {
                "term": ["ATT"] + [f"event_time={e:g}" for e in es["event_time"]],
                "estimate": [att, *es["att"]],
                "p_value": [p, *es["p_value"]],
                "conf_low": [lo, *es["ci_low"]],
                "conf_high": [hi, *es["ci_high"]],
                "event_time": [np.nan, *es["event_time"]],
            }
        )
        out["inference"] = f"randomisation ({self.n_perm} permutations of adoption timing)"
        return out

    def _summary_lines(self) -> list[str]:
        att, p, lo, hi = self.overall
        lines = [
            f"{self.n_perm} permutations, seed {self.seed}; {self.n_assignments:.3g} distinct "
            "assignments",
            f"ATT (simple) = {att:.4f}; permutation p = {p:.4f}; "
            f"{100 * (1 - self.alpha):.0f}% CI by test inversion {lo:.4f} to {hi:.4f}",
            f"pre-trend test ({self.pretest_df} cells): permutation p = {self.pretest_p:.4f} "
            f"(chi-squared p = {self.pretest_p_analytic:.4f}, unreliable with few cities)",
        ]
        return lines + [f"note: {n}" for n in self.notes]

    def with_inference(self, **options: Any) -> RandomizationInference:
        """Permute again: ``n_perm``, ``seed`` and ``alpha`` as in
        :func:`randomization_inference` (the estimates do not change)."""
        unknown = set(options) - {"n_perm", "seed", "alpha"}
        if unknown:
            raise SpecError(f"with_inference takes n_perm, seed and alpha, not {sorted(unknown)}")
        kw = {"n_perm": self.n_perm, "seed": self.seed, "alpha": self.alpha, **options}
        return randomization_inference(self.result, **kw)

    def plot(self, ax: Any = None, **kwargs: Any) -> Any:
        """The event-study path with its pointwise and simultaneous permutation bands."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=kwargs.pop("figsize", (7, 4)))
        es = self.event_study
        e = es["event_time"].to_numpy()
        ax.fill_between(e, es["band_low"], es["band_high"], color="lightgrey", label="simultaneous")
        ax.errorbar(e, es["att"], yerr=[es["att"] - es["ci_low"], es["ci_high"] - es["att"]],
                    fmt="o", capsize=3, label="pointwise", **kwargs)  # fmt: skip
        ax.axhline(0, color="grey", lw=0.8)
        ax.axvline(-0.5, color="grey", ls=":", lw=1)
        ax.set_xlabel("event time")
        ax.set_ylabel("ATT")
        ax.legend()
        return ax


def _n_assignments(cohort: np.ndarray) -> float:
    _, counts = np.unique(cohort, return_counts=True)
    return float(factorial(len(cohort)) // prod(factorial(int(c)) for c in counts))


def _fitted(result: Any, args: tuple, did_kwargs: dict) -> Any:
    """The staggered DiD to permute: the result given, or fitted on the data given."""
    from ucc_research.impact.did import StaggeredDiDResult, staggered_did

    if isinstance(result, pd.DataFrame):
        result = staggered_did(result, *args, **did_kwargs)
    elif args or did_kwargs:
        raise SpecError("extra arguments are for staggered_did and need data, not a result")
    if not isinstance(result, StaggeredDiDResult):
        raise SpecError(
            f"result must be a staggered_did result or a DataFrame, got {type(result).__name__}"
        )
    if result._panel.x is not None:
        raise SpecError(
            "randomisation inference is implemented for staggered_did without covariates "
            f"(this fit uses {result._panel.x_names}); use the analytic or bootstrap inference"
        )
    return result


class _Linear(NamedTuple):
    """Each ATT(g, t) as a linear function of the units' outcome changes: ``att = sum dy*coef``."""

    dy: np.ndarray  # (n, cells) outcome change of each cell
    dd: np.ndarray  # (n, cells) change of the post-adoption indicator
    coef: np.ndarray  # (n, cells) the cell's weights (treated mean minus control mean)
    w_simple: np.ndarray  # (cells,) weights of the simple aggregation
    w_event: np.ndarray  # (event times, cells) weights of the event-study aggregation
    e_values: np.ndarray
    normalised: np.ndarray
    pre: np.ndarray  # pre-adoption cells (not normalised)


def _linear(result: Any) -> _Linear:
    """The cells' label masks and aggregation weights (as ``aggregate`` without max_e)."""
    from ucc_research.impact.did._estimate import control_mask

    panel, s, table = result._panel, result.settings, result.att_gt
    periods, g_unit = panel.periods, panel.cohort
    idx = {p: i for i, p in enumerate(periods)}
    cur = np.array([idx[t] for t in table["time"]])
    base = np.array([idx[b] for b in table["base_period"]])
    g_c = table["cohort"].to_numpy()
    normalised = result._normalised
    # Fixed label masks: permuting the rows of the outcome is permuting the labels.
    cutoff = np.maximum(periods[cur], periods[base]) + s["anticipation"]
    treated, ctrl = control_mask(g_unit, g_c, cutoff, s["control"], normalised)
    with np.errstate(invalid="ignore", divide="ignore"):
        coef = treated / treated.sum(axis=0) - ctrl / ctrl.sum(axis=0)
    coef[:, normalised] = 0.0
    d_ind = (periods[None, :] >= g_unit[:, None]).astype(float)  # post-adoption indicator
    cohorts = np.unique(g_c)
    pg = np.array([np.mean(g_unit == g) for g in cohorts])[np.searchsorted(cohorts, g_c)]
    w_simple = np.where(g_c <= periods[cur], pg, 0.0)
    event = periods[cur] - g_c
    e_values = np.unique(event)
    w_event = np.zeros((len(e_values), len(g_c)))
    for i, e in enumerate(e_values):
        keep = event == e
        w_event[i, keep] = pg[keep] / pg[keep].sum()
    return _Linear(panel.y[:, cur] - panel.y[:, base], d_ind[:, cur] - d_ind[:, base],
                   np.nan_to_num(coef), w_simple / w_simple.sum(), w_event, e_values, normalised,
                   (g_c > periods[cur]) & ~normalised)  # fmt: skip


def _permute(lin: _Linear, n_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Cell estimates and the aggregated treatment change under ``n_perm`` permutations."""
    rng = np.random.default_rng(seed)
    n = lin.dy.shape[0]
    perm_cells = np.empty((n_perm, lin.dy.shape[1]))
    perm_d = np.empty(n_perm)
    for start in range(0, n_perm, _CHUNK):
        b = min(_CHUNK, n_perm - start)
        perms = np.array([rng.permutation(n) for _ in range(b)])
        perm_cells[start : start + b] = np.einsum("bnk,nk->bk", lin.dy[perms], lin.coef)
        perm_d[start : start + b] = np.einsum("bnk,nk->bk", lin.dd[perms], lin.coef) @ lin.w_simple
    return perm_cells, perm_d


def _pval(obs: np.ndarray, draws: np.ndarray, n_perm: int) -> np.ndarray:
    """Two-sided permutation p-value, the observed assignment counted as one of the draws."""
    hits = np.sum(np.abs(draws) >= np.abs(obs) - 1e-12 * np.abs(obs), axis=0)
    return (1 + hits) / (n_perm + 1)


def _tables(result, lin, att_obs, perm_cells, n_perm, alpha) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Cells and event times: p-values, pointwise bands (|permuted estimate| quantiles) and the
    event study's simultaneous band (max-t over event times)."""
    q, nm = 1 - alpha, lin.normalised
    perm_event = perm_cells @ lin.w_event.T
    ev = att_obs @ lin.w_event.T
    cell_q = np.quantile(np.abs(perm_cells), q, axis=0, method="higher")
    ev_q = np.quantile(np.abs(perm_event), q, axis=0, method="higher")
    sd = perm_event.std(axis=0, ddof=1)
    sd = np.where(sd > 0, sd, np.nan)
    crit = float(np.quantile(np.nanmax(np.abs(perm_event) / sd, axis=1), q, method="higher"))
    cells = result.att_gt[["cohort", "time", "event_time", "att"]].copy()
    cells["p_value"] = np.where(nm, np.nan, _pval(att_obs, perm_cells, n_perm))
    cells["ci_low"] = np.where(nm, np.nan, att_obs - cell_q)
    cells["ci_high"] = np.where(nm, np.nan, att_obs + cell_q)
    es = pd.DataFrame(
        {
            "event_time": lin.e_values.astype(float),
            "att": ev,
            "p_value": _pval(ev, perm_event, n_perm),
            "ci_low": ev - ev_q,
            "ci_high": ev + ev_q,
            "band_low": ev - crit * sd,
            "band_high": ev + crit * sd,
            "pre": lin.e_values < 0,
        }
    )
    return cells, es


def _pretest(result, lin, att_obs, perm_cells, n_perm, notes) -> tuple[float, int, float, float]:
    """Wald pre-trend test with the permutation covariance of the pre-adoption cells."""
    pre = lin.pre
    if not pre.any():
        notes.append("no pre-adoption ATT(g, t): the pre-trend test is not applicable")
        return np.nan, 0, np.nan, np.nan
    # The observed assignment is one of the draws: its cells enter the covariance too, so
    # the statistic treats all n_perm + 1 assignments alike (exactness of the test).
    every = np.vstack([att_obs[pre][None, :], perm_cells[:, pre]])
    vinv = np.linalg.pinv(np.atleast_2d(np.cov(every, rowvar=False)))
    a = att_obs[pre]
    w_obs = float(a @ vinv @ a)
    w_perm = np.einsum("bk,kl,bl->b", perm_cells[:, pre], vinv, perm_cells[:, pre])
    pre_p = float((1 + np.sum(w_perm >= w_obs * (1 - 1e-12))) / (n_perm + 1))
    try:
        pre_analytic = result.pretest().p
    except SpecError as err:
        pre_analytic = np.nan
        notes.append(f"no chi-squared pre-test to contrast: {err}")
    return w_obs, int(pre.sum()), pre_p, float(pre_analytic)


def _assignment_notes(n_assign: float, alpha: float, n_perm: int) -> list[str]:
    if n_assign < 1 / alpha:
        return [
            f"only {n_assign:.0f} distinct assignments of adoption timing: no test at level "
            f"{alpha} is possible with these cities (smallest p-value {1 / n_assign:.3f})"
        ]
    if n_assign < n_perm:
        return [
            f"{n_assign:.0f} distinct assignments, fewer than {n_perm} permutations: some repeat"
        ]
    return []


def randomization_inference(
    result: Any,
    *args: Any,
    n_perm: int = 999,
    seed: int = 0,
    alpha: float = 0.05,
    **did_kwargs: Any,
) -> RandomizationInference:
    """Randomisation inference over adoption timing for a staggered DiD.

    Parameters
    ----------
    result : StaggeredDiDResult or DataFrame
        A fitted :func:`~ucc_research.impact.staggered_did` result, or the data: then ``args``
        and ``did_kwargs`` are passed to ``staggered_did`` first.
    n_perm : int
        Permutations of the cohort labels across units (at least 99).
    seed : int
        Seed of the permutations.
    alpha : float
        1 - level of the intervals and bands.

    Returns
    -------
    RandomizationInference

    Examples
    --------
    >>> from ucc_research import demo
    >>> from ucc_research.impact import staggered_did
    >>> d = demo.generate(seed=1, n_cities=16, n_services=2, years=(2017, 2022))  # SYNTHETIC
    >>> res = staggered_did(demo.transfer_panel(d), "digital_share", "unit", "time", "cohort")
    >>> ri = randomization_inference(res, n_perm=199, seed=0)
    >>> ri.event_study["event_time"].tolist()
    [-2.0, -1.0, 0.0, 1.0, 2.0, 3.0]
    >>> bool(ri.conf_int[0] < ri.estimate < ri.conf_int[1])
    True
    >>> ri.with_inference(n_perm=499).n_perm
    499
    """
    result = _fitted(result, args, did_kwargs)
    seed = check_seed(seed)
    if isinstance(n_perm, bool) or not isinstance(n_perm, int | np.integer) or n_perm < 99:
        raise SpecError(f"n_perm must be an integer of at least 99, got {n_perm!r}")
    if not (isinstance(alpha, float | int) and 0 < alpha < 1):
        raise SpecError(f"alpha must be in (0, 1), got {alpha!r}")
    lin = _linear(result)
    att_obs = np.einsum("nk,nk->k", lin.dy, lin.coef)
    check = result.att_gt["att"].to_numpy()
    if not np.allclose(att_obs, check, rtol=1e-9, atol=1e-12 * max(1.0, np.abs(check).max())):
        raise RuntimeError(  # a bug, not bad input: the two estimators must agree exactly
            "randomisation inference: cell estimates disagree with staggered_did"
        )
    perm_cells, perm_d = _permute(lin, n_perm, seed)
    perm_att = perm_cells @ lin.w_simple
    att = float(att_obs @ lin.w_simple)
    cells, es = _tables(result, lin, att_obs, perm_cells, n_perm, alpha)
    notes: list[str] = []
    w_obs, df, pre_p, pre_analytic = _pretest(result, lin, att_obs, perm_cells, n_perm, notes)
    # Aggregated ATT: invert the permutation test of Y - tau D over a grid of tau.
    ci_low, ci_high = _invert(att, perm_att, perm_d, alpha, n_perm)
    n_assign = _n_assignments(result._panel.cohort)
    notes += _assignment_notes(n_assign, alpha, n_perm)
    p_att = float(_pval(np.array([att]), perm_att[:, None], n_perm)[0])
    return RandomizationInference(
        overall=(att, p_att, ci_low, ci_high), pretest_stat=w_obs, pretest_df=df,
        pretest_p=pre_p, pretest_p_analytic=pre_analytic, event_study=es, att_gt=cells,
        n_perm=n_perm, n_assignments=n_assign, seed=seed, alpha=float(alpha),
        n_obs=result.n_obs, perm_att=perm_att, notes=notes, result=result,
    )  # fmt: skip


def _invert(
    att: float, perm_att: np.ndarray, perm_d: np.ndarray, alpha: float, n_perm: int
) -> tuple[float, float]:
    """Interval of ``tau`` whose permutation test of ``Y - tau D`` keeps ``p > alpha``.

    For the linear estimator, the statistic under ``tau`` is ``|att - tau|`` for the observed
    assignment (the estimator recovers ``D`` exactly there) and ``|A_b - tau d_b|`` for
    permutation ``b``.
    """
    scale = float(np.std(perm_att, ddof=1)) or 1.0
    grid = att + scale * np.linspace(-8, 8, 3201)
    keep = np.empty(grid.size, dtype=bool)
    for i in range(0, grid.size, 400):
        tau = grid[i : i + 400]
        obs = np.abs(att - tau)
        draws = np.abs(perm_att[:, None] - tau[None, :] * perm_d[:, None])
        p = (1 + np.sum(draws >= obs[None, :] - 1e-12 * np.abs(obs), axis=0)) / (n_perm + 1)
        keep[i : i + 400] = p > alpha
    if not keep.any():
        return np.nan, np.nan
    inside = grid[keep]
    # An acceptance set reaching the grid's edge is unbounded on that side (it happens when the
    # permuted treatment indicator d_b is often as large as 1: too few distinct assignments).
    low = -np.inf if keep[0] else float(inside.min())
    high = np.inf if keep[-1] else float(inside.max())
    return low, high
