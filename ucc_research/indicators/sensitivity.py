"""Variance-based sensitivity analysis: Saltelli design, Sobol' indices, rank statistics.

The estimators are those of COINr's ``SA_estimate`` (R package COINr 1.1, ``R/sensitivity.R``), so
that a COINr user gets the same numbers from the same model runs:

* first-order index (Saltelli et al. 2010, eq. (b) of table 2)
  ``S_i = mean(y_B * (y_{A_B^i} - y_A)) / V``
* total-order index (Jansen 1999)
  ``ST_i = sum((y_A - y_{A_B^i})^2) / (2 N V)``

where ``V`` is the sample variance (``ddof=1``) of ``y_A`` and ``y_B`` pooled. The model runs are
laid out as in COINr: the ``N`` rows of ``A``, the ``N`` rows of ``B``, then the ``d`` blocks
``A_B^i`` (``A`` with its ``i``-th input, or input group, taken from ``B``), ``N (d + 2)`` runs in
all. For a composite indicator the scalar output of each run is the mean absolute rank shift of the
units against their nominal ranks (:func:`mean_abs_rank_shift`), as in COINr's
``get_sensitivity``.

References
----------
Saltelli A. et al. (2010) Variance based sensitivity analysis of model output. Design and estimator
for the total sensitivity index. Computer Physics Communications 181, 259-270.
Jansen M.J.W. (1999) Analysis of variance designs for model output. Computer Physics
Communications 117, 35-43.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy.stats import qmc, rankdata

from ucc_research.errors import SpecError

__all__ = [
    "rank_desc",
    "mean_abs_rank_shift",
    "rank_stats",
    "saltelli_design",
    "sobol_unit_sample",
    "sensitivity_indices",
]


#: Most replications an analysis runs: far beyond where rank intervals settle, and a bound on
#: memory (the sample and the scores grow with it).
MAX_RUNS = 100_000


def check_runs(n: object, what: str = "n") -> int:
    """``n`` as an int in ``1..MAX_RUNS``, else a :class:`SpecError` naming ``what``."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer, float)) or int(n) != n:
        raise SpecError(f"{what} must be a positive integer, got {n!r}")
    if not 1 <= n <= MAX_RUNS:
        raise SpecError(f"{what} must be between 1 and {MAX_RUNS:,}, got {int(n):,}")
    return int(n)


def sobol_unit_sample(n: int, d: int, seed: int | None) -> np.ndarray:
    """``n`` points of a scrambled Sobol' sequence in ``[0, 1)^d``, seeded.

    A power of two for ``n`` keeps the sequence's balance properties; other ``n`` are allowed (the
    first ``n`` points are used) because users choose ``n`` for their run budget.
    """
    check_runs(n, "the number of sample points")
    if int(d) != d or d < 1:
        raise SpecError(f"the sample dimension must be a positive integer, got {d!r}")
    sampler = qmc.Sobol(int(d), scramble=True, rng=seed)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*balance properties.*", category=UserWarning)
        return sampler.random(int(n))


def saltelli_design(
    n: int, d: int, *, groups: Sequence[int] | None = None, seed: int | None = None
) -> np.ndarray:
    """Input sample for the Saltelli / Jansen estimators, in COINr's layout.

    Parameters
    ----------
    n : int
        Base sample size ``N`` (a power of two is best for the Sobol' sequence).
    d : int
        Number of columns (uniform ``[0, 1)`` coordinates).
    groups : sequence of int, optional
        Sizes of consecutive column groups that form one uncertain input each (for example all the
        weight perturbations of one "Weights" input); ``A_B^i`` then takes the whole group ``i``
        from ``B``, which gives group (closed) indices. Default: every column is its own input.
    seed : int, optional
        Seed of the scrambled Sobol' sequence; the same seed gives the same design.

    Returns
    -------
    numpy.ndarray
        Shape ``(n * (k + 2), d)`` where ``k`` is the number of groups: ``A``, ``B``, then the ``k``
        blocks ``A_B^i``.

    Examples
    --------
    >>> X = saltelli_design(8, 3, seed=1)
    >>> X.shape
    (40, 3)
    >>> bool((X[16:24, 1:] == X[:8, 1:]).all() and (X[16:24, 0] == X[8:16, 0]).all())
    True
    """
    sizes = _group_sizes(d, groups)
    base = sobol_unit_sample(n, 2 * d, seed)
    a, b = base[:, :d], base[:, d:]
    blocks = [a, b]
    start = 0
    for size in sizes:
        ab = a.copy()
        ab[:, start : start + size] = b[:, start : start + size]
        blocks.append(ab)
        start += size
    return np.vstack(blocks)


def _group_sizes(d: int, groups: Sequence[int] | None) -> list[int]:
    if groups is None:
        return [1] * int(d)
    sizes = [int(g) for g in groups]
    if any(g < 1 for g in sizes) or sum(sizes) != d:
        raise SpecError(f"group sizes {sizes} must be positive and add up to d = {d}")
    return sizes


def rank_desc(scores: np.ndarray, axis: int = 0) -> np.ndarray:
    """Ranks with 1 = highest score, ties get the smallest rank, NaN stays NaN.

    This is R's ``rank(-x, ties.method = "min", na.last = "keep")`` as used by COINr, applied along
    ``axis`` of a batch of score vectors.
    """
    x = np.moveaxis(np.asarray(scores, dtype=float), axis, -1)
    nan = np.isnan(x)
    # NaN scores are ranked after every finite one and then blanked, so they shift no rank.
    ranks = rankdata(np.where(nan, np.inf, -x), method="min", axis=-1).astype(float)
    ranks[nan] = np.nan
    return np.moveaxis(ranks, -1, axis)


def mean_abs_rank_shift(ranks: np.ndarray, nominal: np.ndarray) -> np.ndarray:
    """COINr's scalar SA output: per run, the mean over units of ``|rank - nominal rank|``.

    Parameters
    ----------
    ranks : array, shape (n_units, n_runs)
    nominal : array, shape (n_units,)

    Returns
    -------
    numpy.ndarray, shape (n_runs,)
        NaN ranks (a failed run, a unit without a score) are left out of the mean, as in COINr.
    """
    ranks = np.asarray(ranks, dtype=float)
    nominal = np.asarray(nominal, dtype=float)
    if ranks.ndim != 2 or nominal.shape != (ranks.shape[0],):
        raise SpecError(
            f"ranks must be (units, runs) and nominal (units,), got {ranks.shape} and "
            f"{nominal.shape}"
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN run gives NaN, on purpose
        return np.nanmean(np.abs(ranks - nominal[:, None]), axis=0)


def rank_stats(
    ranks: pd.DataFrame | np.ndarray,
    nominal: Sequence[float] | np.ndarray,
    units: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Per-unit rank summary over runs: nominal, mean, median, 5% and 95% quantiles.

    Quantiles are R's default (type 7, linear interpolation), which is numpy's default, so the
    numbers equal COINr's ``RankStats``. NaN ranks of failed runs are left out.

    Parameters
    ----------
    ranks : DataFrame or array, shape (n_units, n_runs)
        A DataFrame's index gives the unit codes when ``units`` is not given.
    nominal : array-like, shape (n_units,)
    units : sequence of str, optional

    Returns
    -------
    pandas.DataFrame
        Columns ``uCode, nominal_rank, mean_rank, median_rank, q05, q95``.
    """
    if units is None:
        units = list(ranks.index) if isinstance(ranks, pd.DataFrame) else range(1, len(nominal) + 1)
    r = np.asarray(ranks, dtype=float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        out = pd.DataFrame(
            {
                "uCode": list(units),
                "nominal_rank": np.asarray(nominal, dtype=float),
                "mean_rank": np.nanmean(r, axis=1),
                "median_rank": np.nanmedian(r, axis=1),
                "q05": np.nanquantile(r, 0.05, axis=1),
                "q95": np.nanquantile(r, 0.95, axis=1),
            }
        )
    return out


def sensitivity_indices(
    y: Sequence[float] | np.ndarray,
    n: int,
    d: int,
    *,
    names: Sequence[str] | None = None,
    n_boot: int | None = None,
    seed: int | None = None,
    quantiles: tuple[float, float] = (0.05, 0.95),
) -> pd.DataFrame:
    """First-order and total Sobol' indices from outputs of a :func:`saltelli_design` run.

    Parameters
    ----------
    y : array-like, shape (n * (d + 2),)
        Model output of each run, in the design's row order (``A``, ``B``, ``A_B^1`` ...).
    n : int
        Base sample size ``N``.
    d : int
        Number of uncertain inputs (groups).
    names : sequence of str, optional
        Input names (default ``V1 ... Vd`` as in COINr).
    n_boot : int, optional
        Number of bootstrap resamples for the intervals; none when not given.
    seed : int, optional
        Seed of the bootstrap (the intervals are then reproducible).
    quantiles : (float, float)
        Bootstrap quantiles reported (default 5% and 95%, as COINr).

    Returns
    -------
    pandas.DataFrame
        ``Variable, Si, STi`` and with ``n_boot`` also ``Si_q5, Si_q95, STi_q5, STi_q95``
        (column names follow COINr whatever ``quantiles`` is). The output variance is in
        ``df.attrs["variance"]``.

    Notes
    -----
    The bootstrap resamples the ``N`` base points jointly (the same rows of ``A``, ``B`` and every
    ``A_B^i``) and recomputes the variance in each resample. COINr resamples each index's terms
    separately with the variance held fixed; the point estimates are identical, the intervals are
    Monte Carlo quantities either way.

    Examples
    --------
    Linear additive model ``y = x1 + 2 x2`` with uniform inputs: ``S1 = ST1 = 1/5``.

    >>> X = saltelli_design(1024, 2, seed=3)
    >>> y = X[:, 0] + 2 * X[:, 1]
    >>> si = sensitivity_indices(y, 1024, 2)
    >>> [round(v, 2) for v in si["STi"]]
    [0.2, 0.8]
    """
    n, d = int(n), int(d)
    y, names = _check_outputs(y, n, d, names)
    ya, yb = y[:n], y[n : 2 * n]
    if np.var(np.concatenate([ya, yb])) == 0:
        raise SpecError("the model output does not vary across runs A and B: indices undefined")
    yab = y[2 * n :].reshape(d, n).T  # column i = runs of block A_B^i
    si, sti, var = _indices(ya, yb, yab)
    out = pd.DataFrame({"Variable": list(names), "Si": si, "STi": sti})
    if n_boot:
        rng = np.random.default_rng(seed)
        idx = rng.integers(0, n, size=(int(n_boot), n))
        si_b, sti_b, _ = _indices(ya[idx], yb[idx], yab[idx])  # (n_boot, d)
        lo, hi = quantiles
        out["Si_q5"] = np.quantile(si_b, lo, axis=0)
        out["Si_q95"] = np.quantile(si_b, hi, axis=0)
        out["STi_q5"] = np.quantile(sti_b, lo, axis=0)
        out["STi_q95"] = np.quantile(sti_b, hi, axis=0)
    out.attrs["variance"] = float(var)
    return out


def _check_outputs(
    y: Sequence[float] | np.ndarray, n: int, d: int, names: Sequence[str] | None
) -> tuple[np.ndarray, list[str]]:
    """The outputs as a float array of the design's size, without NaN, and the input names."""
    y = np.asarray(y, dtype=float)
    if y.ndim != 1 or y.size != n * (d + 2):
        raise SpecError(
            f"expected N (d + 2) = {n} x {d + 2} = {n * (d + 2)} model outputs, got {y.size}"
        )
    if np.isnan(y).any():
        bad = np.flatnonzero(np.isnan(y))[:10] + 1
        raise SpecError(f"model output is NaN in runs {bad.tolist()} (1-based); cannot estimate")
    names = [f"V{i}" for i in range(1, d + 1)] if names is None else list(names)
    if len(names) != d:
        raise SpecError(f"{len(names)} names given for {d} inputs")
    return y, names


def _indices(ya: np.ndarray, yb: np.ndarray, yab: np.ndarray):
    """Estimators on the last two axes: ``ya``, ``yb`` (..., N) and ``yab`` (..., N, d)."""
    n = ya.shape[-1]
    var = np.var(np.concatenate([ya, yb], axis=-1), axis=-1, ddof=1)
    var_ = np.asarray(var)[..., None]
    si = np.mean(yb[..., None] * (yab - ya[..., None]), axis=-2) / var_
    sti = np.sum((ya[..., None] - yab) ** 2, axis=-2) / (2 * n * var_)
    return si, sti, var
