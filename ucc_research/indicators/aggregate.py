"""Step 6: aggregate (COINr ``Aggregate``), level by level up the hierarchy.

==============  ===========================================================================
method          score of an aggregate from its children's scores ``x`` and weights ``w``
==============  ===========================================================================
``arith_mean``  ``sum(w x) / sum(w)`` over available children (``a_amean``)
``geom_mean``   ``exp(sum(w log x) / sum(w))`` (``a_gmean``); needs ``x > 0``
``harm_mean``   ``sum(w) / sum(w / x)`` (``a_hmean``); needs ``x != 0``
``gen_mean``    ``(sum(w x^p) / sum(w))^(1/p)`` with ``p`` (``p = 1`` arithmetic); needs
                ``x > 0`` when ``p <= 0`` or ``p`` not whole
``median``      weighted median is not defined in COINr: plain median of available children
``copeland``    Copeland score from the weighted outranking matrix of the units (``a_copeland``;
                units compared within each ``Time``)
==============  ===========================================================================

Missing children are skipped (weights renormalised over the available ones), as in COINr; with
``dat_thresh`` a unit whose share of available children is below the threshold gets NaN.

Zeros and negatives: geometric and harmonic means (and ``gen_mean`` with ``p <= 0``) raise a
:class:`~ucc_research.errors.SpecError` naming the aggregate, the child and the unit, unless
``zero_shift = c`` is given, in which case the mean is taken of ``x + c`` and ``c`` is
subtracted again (a documented, monotone shift). The usual alternative is to normalise onto
``[1, 100]`` instead of ``[0, 100]``.

Methods may differ by level (``method`` a list, one per level from 2 up, or a dict
``{level: method}``) and by aggregate within a level (``by_code = {code: method}``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from ucc_research.errors import SpecError
from ucc_research.indicators.meta import show

METHODS = ("arith_mean", "geom_mean", "harm_mean", "gen_mean", "median", "copeland")


def _positive_needed(method: str, p: float) -> str | None:
    if method == "geom_mean":
        return "positive"
    if method == "harm_mean":
        return "nonzero"
    if method == "gen_mean" and (p <= 0 or p != round(p)):
        return "positive"
    return None


def aggregate_block(
    x: np.ndarray,
    w: np.ndarray,
    method: str,
    *,
    p: float = 1.0,
    dat_thresh: float | None = None,
    zero_shift: float | None = None,
) -> np.ndarray:
    """Aggregate the columns of ``x`` (rows = units) into one score per row (vectorised)."""
    x = np.asarray(x, dtype=float)
    w = np.asarray(w, dtype=float)
    avail = ~np.isnan(x)
    if method == "copeland":
        y = copeland(x, w)
    else:
        if zero_shift is not None:
            x = x + zero_shift
        ww = np.where(avail, w, 0.0)
        sw = ww.sum(axis=1)
        xz = np.where(avail, x, 0.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            if method == "arith_mean":
                y = (ww * xz).sum(axis=1) / sw
            elif method == "geom_mean":
                y = np.exp((ww * np.log(np.where(avail, x, 1.0))).sum(axis=1) / sw)
            elif method == "harm_mean":
                y = sw / (ww / np.where(avail, x, 1.0)).sum(axis=1)
            elif method == "gen_mean":
                if p == 0:
                    y = np.exp((ww * np.log(np.where(avail, x, 1.0))).sum(axis=1) / sw)
                else:
                    y = ((ww * np.where(avail, x, 1.0) ** p).sum(axis=1) / sw) ** (1.0 / p)
            elif method == "median":
                y = np.nanmedian(np.where(avail, x, np.nan), axis=1) if x.shape[1] else x
            else:
                raise SpecError(f"aggregate: method {method!r} is not one of {', '.join(METHODS)}")
        y = np.where(sw > 0, y, np.nan) if method != "median" else y
        if zero_shift is not None:
            y = y - zero_shift
    if dat_thresh is not None and method != "copeland":
        share = avail.sum(axis=1) / x.shape[1]
        y = np.where(share < dat_thresh, np.nan, y)
    return y


def copeland(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """COINr ``a_copeland``: row sums of the weighted outranking matrix.

    ``orm[i, j] = sum(w[x_i > x_j]) + sum(w[x_i == x_j]) / 2`` for ``i < j`` (weights
    normalised to sum 1; missing comparisons count zero) and ``orm[j, i] = 1 - orm[i, j]``.
    """
    w = np.asarray(w, dtype=float)
    w = w / np.nansum(w)
    gt = (x[:, None, :] > x[None, :, :]).astype(float) @ w
    eq = (x[:, None, :] == x[None, :, :]).astype(float) @ w
    orm = gt + eq / 2
    upper = np.triu(orm, 1)
    full = upper + np.tril(1 - upper.T, -1)
    return full.sum(axis=1)


def level_methods(method: str | Sequence[str] | Mapping[int, str], n_levels: int) -> dict[int, str]:
    """Expand ``method`` to ``{level: method}`` for levels 2..n_levels."""
    levels = list(range(2, n_levels + 1))
    if isinstance(method, str):
        out = dict.fromkeys(levels, method)
    elif isinstance(method, Mapping):
        out = {int(k): v for k, v in method.items()}
        extra = set(out) - set(levels)
        if extra:
            raise SpecError(
                f"aggregate: method given for level(s) {sorted(extra)}; levels are {levels}"
            )
        out = {lev: out.get(lev, "arith_mean") for lev in levels}
    else:
        method = list(method)
        if len(method) == 1:
            method = method * len(levels)
        if len(method) != len(levels):
            raise SpecError(
                f"aggregate: method needs 1 or {len(levels)} entries (levels {levels}), "
                f"got {len(method)}"
            )
        out = dict(zip(levels, method, strict=True))
    for lev, m in out.items():
        if m not in METHODS:
            raise SpecError(
                f"aggregate: method {m!r} (level {lev}) is not one of {', '.join(METHODS)}"
            )
    return out


def aggregate_level(
    data: pd.DataFrame,
    meta: pd.DataFrame,
    level: int,
    weights: Mapping[str, float] | pd.Series,
    *,
    method: str = "arith_mean",
    by_code: Mapping[str, str] | None = None,
    p: float = 1.0,
    dat_thresh: float | None = None,
    zero_shift: float | None = None,
) -> pd.DataFrame:
    """Scores of every aggregate at ``level`` from its children's columns in ``data``."""
    by_code = dict(by_code or {})
    m = meta[(meta["Level"] == level) & (meta["Type"] == "Aggregate")]
    out = {}
    for code in m.index:
        kids = meta.index[meta["Parent"] == code].tolist()
        meth = by_code.get(code, method)
        if meth not in METHODS:
            raise SpecError(
                f"aggregate: method {meth!r} for {code!r} is not one of {', '.join(METHODS)}"
            )
        w = np.array([float(weights[k]) for k in kids])
        if not np.isfinite(w).all() or (w < 0).any():
            raise SpecError(
                f"aggregate: weights of the children of {code!r} must be finite and >= 0"
            )
        if w.sum() == 0:
            raise SpecError(f"aggregate: weights of the children of {code!r} ({kids}) sum to zero")
        x = data[kids].to_numpy(dtype=float)
        need = _positive_needed(meth, p)
        if need:
            xs = x + (zero_shift or 0.0)
            bad = (xs <= 0) if need == "positive" else (xs == 0)
            if np.any(bad & ~np.isnan(xs)):
                i, j = (int(v[0]) for v in np.nonzero(bad & ~np.isnan(xs)))
                raise SpecError(
                    f"aggregate: {meth} of {code!r} needs {need} values but {kids[j]!r} is "
                    f"{show(x[i, j])} for unit {data.index[i]!r}; normalise onto e.g. [1, 100] "
                    "or set zero_shift"
                )
        if meth == "copeland" and "Time" in data.index.names:
            y = np.full(len(data), np.nan)
            for _, idx in data.groupby(level="Time", sort=True).indices.items():
                y[idx] = aggregate_block(x[idx], w, meth)
        else:
            y = aggregate_block(x, w, meth, p=p, dat_thresh=dat_thresh, zero_shift=zero_shift)
        out[code] = y
    return pd.DataFrame(out, index=data.index)


def aggregate(
    data: pd.DataFrame,
    meta: pd.DataFrame,
    *,
    weights: Mapping[str, float] | pd.Series | None = None,
    method: str | Sequence[str] | Mapping[int, str] = "arith_mean",
    by_code: Mapping[str, str] | None = None,
    p: float = 1.0,
    dat_thresh: float | Sequence[float] | None = None,
    zero_shift: float | None = None,
) -> tuple[pd.DataFrame, dict]:
    """Aggregate normalised indicators up every level of the framework.

    Parameters
    ----------
    data : DataFrame
        Normalised indicator columns; index ``uCode`` or (``uCode``, ``Time``).
    meta : DataFrame
        Validated iMeta (hierarchy).
    weights : mapping code -> weight, optional
        Relative weights of every indicator and aggregate (default: iMeta ``Weight``).
    method : str, list or dict
        One method for all levels, one per level from level 2 up, or ``{level: method}``.
    by_code : mapping aggregate code -> method, optional
        Overrides for single aggregates (a different method per group within a level).
    p : float
        Exponent of ``gen_mean``.
    dat_thresh : float or list, optional
        Minimum share of available children (one value, or one per level from 2 up).
    zero_shift : float, optional
        See the module docstring.

    Returns
    -------
    (DataFrame, dict)
        ``data`` with one column per aggregate appended (level order) and a record of the
        method per aggregate.

    Examples
    --------
    >>> m = pd.DataFrame(
    ...     {"Level": [1, 1, 2], "Parent": ["I", "I", None], "Type": ["Indicator"] * 2 + ["Aggregate"],
    ...      "Weight": [1.0, 3.0, 1.0]}, index=["a", "b", "I"])
    >>> aggregate(pd.DataFrame({"a": [0.0, 40.0], "b": [100.0, 80.0]}), m)[0]["I"].tolist()
    [75.0, 70.0]
    """
    fw = meta[meta["Type"].isin(["Indicator", "Aggregate"])]
    n_levels = int(fw["Level"].max())
    if weights is None:
        weights = fw["Weight"]
    weights = pd.Series(weights, dtype=float)
    missing = [c for c in fw.index if c not in weights.index and fw.at[c, "Level"] < n_levels]
    if missing:
        raise SpecError(f"aggregate: no weight for {missing}")
    methods = level_methods(method, n_levels)
    by_code = dict(by_code or {})
    unknown = [c for c in by_code if c not in fw.index or fw.at[c, "Type"] != "Aggregate"]
    if unknown:
        raise SpecError(f"aggregate: by_code names {unknown}, which are not aggregate codes")
    threshs = _level_thresholds(dat_thresh, list(methods))
    out = data.copy()
    for lev in range(2, n_levels + 1):
        new = aggregate_level(
            out, meta, lev, weights, method=methods[lev], by_code=by_code, p=p,
            dat_thresh=threshs[lev], zero_shift=zero_shift,
        )  # fmt: skip
        out = pd.concat([out, new], axis=1)
    used = {c: by_code.get(c, methods[int(fw.at[c, "Level"])]) for c in fw.index[fw["Level"] > 1]}
    return out, {"method": used, "dat_thresh": threshs, "p": p, "zero_shift": zero_shift}


def _level_thresholds(
    dat_thresh: float | Sequence[float] | None, levels: list[int]
) -> dict[int, float | None]:
    """``dat_thresh`` per level: one value for all, or one per level from 2 up, each in [0, 1]."""
    if dat_thresh is None or isinstance(dat_thresh, (int, float)):
        threshs = dict.fromkeys(levels, dat_thresh)
    else:
        dat_thresh = list(dat_thresh)
        if len(dat_thresh) != len(levels):
            raise SpecError(f"aggregate: dat_thresh needs 1 or {len(levels)} values")
        threshs = dict(zip(levels, dat_thresh, strict=True))
    for t in threshs.values():
        if t is not None and not 0 <= t <= 1:
            raise SpecError(f"aggregate: dat_thresh must be between 0 and 1, got {t!r}")
    return threshs
