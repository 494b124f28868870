"""Step 5: weights (COINr weight sets, ``get_PCA`` weights, ``get_opt_weights``).

Weights are relative within each aggregation group (children of one aggregate): only their
ratios matter. :func:`effective_weights` gives each code's share of the top-level score under
arithmetic aggregation (the product of its normalised weights up the hierarchy).

=============  ===============================================================================
method         weights
=============  ===============================================================================
``meta``       iMeta ``Weight`` (COINr's default), with ``weights`` overriding single codes
``equal``      1 for every code
``named``      a named set from ``sets`` (``{name: {code: weight}}``), chosen by ``name``;
               codes not in the set keep iMeta's weight
``budget``     budget allocation: ``budget`` gives each expert's points per code (a dict, or a
               list of dicts for several experts); the weight is the mean allocation
``pca``        first principal component of each aggregation group's children (standardised,
               complete rows), sign fixed so the loadings sum to a positive number; weights are
               the squared loadings (``pca_type: squared``, non-negative, sum 1) or the
               loadings themselves (``pca_type: loadings``, as COINr)
``optimise``   weights that make the children's Pearson correlations with their aggregate as
               equal as possible (``optype: balance``, COINr's default) or as large as possible
               in total (``optype: infomax``); Nelder-Mead on a softmax parametrisation from
               equal weights (deterministic)
=============  ===============================================================================

``pca`` and ``optimise`` are data-driven: they are computed level by level from the
normalised data (and the aggregates below, built with the weights just found), for the levels
in ``levels`` (default all); other levels keep the ``meta`` weights.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ucc_research.errors import SpecError
from ucc_research.indicators.aggregate import aggregate_block, aggregate_level, level_methods

METHODS = ("meta", "equal", "named", "budget", "pca", "optimise")
SETTINGS = ("weights", "sets", "name", "budget", "levels", "pca_type", "optype")


def static_weights(
    meta: pd.DataFrame,
    method: str = "meta",
    *,
    weights: Mapping[str, float] | None = None,
    sets: Mapping[str, Mapping[str, float]] | None = None,
    name: str | None = None,
    budget: Mapping[str, float] | Sequence[Mapping[str, float]] | None = None,
) -> pd.Series:
    """Weights of every framework code for the non-data-driven methods.

    Examples
    --------
    Two experts share 100 points between the indicators ``a`` and ``b`` of aggregate ``I``:

    >>> m = pd.DataFrame({"Type": ["Indicator", "Indicator"], "Parent": ["I", "I"],
    ...                   "Weight": [1.0, 1.0]}, index=["a", "b"])
    >>> static_weights(m, "budget", budget=[{"a": 30, "b": 70}, {"a": 50, "b": 50}]).tolist()
    [40.0, 60.0]
    """
    fw = meta[meta["Type"].isin(["Indicator", "Aggregate"])]
    if method not in METHODS:
        raise SpecError(f"weight: method {method!r} is not one of {', '.join(METHODS)}")
    w = fw["Weight"].astype(float).copy()
    if method == "equal":
        w[:] = 1.0
    elif method == "named":
        sets = dict(sets or {})
        if name is None or name not in sets:
            raise SpecError(f"weight: named set {name!r} not found; sets are {sorted(sets)}")
        w = _override(w, sets[name], f"weight set {name!r}")
    elif method == "budget":
        if not budget:
            raise SpecError("weight: method 'budget' needs 'budget' (points per code)")
        experts = [budget] if isinstance(budget, Mapping) else list(budget)
        codes = set().union(*[set(e) for e in experts])
        for i, e in enumerate(experts):
            if set(e) != codes:
                raise SpecError(f"weight: budget of expert {i + 1} misses {sorted(codes - set(e))}")
        mean = {c: float(np.mean([float(e[c]) for e in experts])) for c in codes}
        w = _override(w, mean, "budget")
    if weights:
        w = _override(w, weights, "weights")
    _check(w, fw)
    return w


def _override(w: pd.Series, new: Mapping[str, float], where: str) -> pd.Series:
    w = w.copy()
    for code, v in new.items():
        if code not in w.index:
            raise SpecError(f"weight: {where} names {code!r}, which is not a code of iMeta")
        try:
            w[code] = float(v)
        except (TypeError, ValueError):
            raise SpecError(
                f"weight: {where} gives {code!r} the non-numeric weight {v!r}"
            ) from None
    return w


def _check(w: pd.Series, fw: pd.DataFrame) -> None:
    bad = w.index[~np.isfinite(w.to_numpy()) | (w.to_numpy() < 0)].tolist()
    if bad:
        raise SpecError(f"weight: weights of {bad} are negative or not finite")
    for parent, kids in fw.groupby("Parent").groups.items():
        if w[list(kids)].sum() == 0:
            raise SpecError(f"weight: weights of the children of {parent!r} sum to zero")


def pca_loadings(x: pd.DataFrame) -> pd.Series:
    """PC1 loadings of standardised complete rows, sign fixed so they sum to > 0."""
    z = x.dropna()
    if len(z) < 3 or x.shape[1] < 2:
        return pd.Series(1.0 / np.sqrt(x.shape[1]), index=x.columns)
    sd = z.std(ddof=1).to_numpy()
    if (sd == 0).any():
        raise SpecError(
            f"weight: PCA needs non-constant columns; {x.columns[sd == 0].tolist()} are constant"
        )
    zz = ((z - z.mean()) / sd).to_numpy()
    _, _, vt = np.linalg.svd(zz, full_matrices=False)
    v = vt[0]
    if v.sum() < 0:
        v = -v
    return pd.Series(v, index=x.columns)


def _opt_group(x: np.ndarray, method: str, optype: str, p: float) -> np.ndarray:
    n = x.shape[1]
    x = x[~np.isnan(x).any(axis=1)]
    if n < 2 or len(x) < 3:
        return np.full(n, 1.0 / n)
    sd = x.std(axis=0, ddof=1)
    if (sd == 0).any():
        return np.full(n, 1.0 / n)
    zx = (x - x.mean(axis=0)) / sd

    def weights(theta: np.ndarray) -> np.ndarray:
        w = np.exp(theta - theta.max())
        return w / w.sum()

    def corrs(theta: np.ndarray) -> np.ndarray:
        y = aggregate_block(x, weights(theta), method, p=p)
        zy = (y - y.mean()) / y.std(ddof=1)
        return zx.T @ zy / (len(y) - 1)

    def objective(theta: np.ndarray) -> float:
        c = corrs(theta)
        if optype == "infomax":
            return -float(np.sum(c))
        c = np.clip(c, 1e-12, None)
        return float(np.sum((c / c.sum() - 1.0 / n) ** 2))

    from scipy import optimize  # only data-driven weights need it: kept out of import time

    res = optimize.minimize(
        objective,
        np.zeros(n),
        method="Nelder-Mead",
        options={"xatol": 1e-6, "fatol": 1e-12, "maxiter": 400 * n},
    )
    return weights(res.x)


def data_driven_weights(
    data: pd.DataFrame,
    meta: pd.DataFrame,
    base: pd.Series,
    method: str,
    *,
    levels: Sequence[int] | None = None,
    pca_type: str = "squared",
    optype: str = "balance",
    agg: Mapping[str, Any] | None = None,
) -> tuple[pd.Series, dict]:
    """PCA or optimised weights, level by level (see the module table)."""
    agg = dict(agg or {})
    fw = meta[meta["Type"].isin(["Indicator", "Aggregate"])]
    n_levels = int(fw["Level"].max())
    todo = list(range(2, n_levels + 1)) if levels is None else [int(v) for v in levels]
    bad = [lev for lev in todo if not 2 <= lev <= n_levels]
    if bad:
        raise SpecError(f"weight: levels {bad} out of range 2..{n_levels}")
    if pca_type not in ("squared", "loadings"):
        raise SpecError(f"weight: pca_type must be 'squared' or 'loadings', got {pca_type!r}")
    if optype not in ("balance", "infomax"):
        raise SpecError(f"weight: optype must be 'balance' or 'infomax', got {optype!r}")
    methods = level_methods(agg.get("method", "arith_mean"), n_levels)
    by_code = dict(agg.get("by_code") or {})
    p = float(agg.get("p", 1.0))
    w = base.copy()
    detail: dict[str, Any] = {}
    cur = data.copy()
    for lev in range(2, n_levels + 1):
        if lev in todo:
            for code in fw.index[(fw["Level"] == lev) & (fw["Type"] == "Aggregate")]:
                kids = fw.index[fw["Parent"] == code].tolist()
                if method == "pca":
                    load = pca_loadings(cur[kids])
                    detail[code] = load.to_dict()
                    new = load**2 if pca_type == "squared" else load
                    if (new < 0).any():
                        raise SpecError(
                            f"weight: PCA loadings of {code!r} have mixed signs "
                            f"({load.round(3).to_dict()}); use pca_type 'squared'"
                        )
                    w[kids] = (new / new.sum()).to_numpy()
                else:
                    meth = by_code.get(code, methods[lev])
                    ww = _opt_group(cur[kids].to_numpy(dtype=float), meth, optype, p)
                    w[kids] = ww
                    detail[code] = dict(zip(kids, ww.tolist(), strict=True))
        new_cols = aggregate_level(
            cur,
            meta,
            lev,
            w,
            method=methods[lev],
            by_code=by_code,
            p=p,
            zero_shift=agg.get("zero_shift"),
        )
        cur = pd.concat([cur, new_cols], axis=1)
    return w, {"method": method, "levels": todo, "detail": detail}


def normalised_weights(meta: pd.DataFrame, weights: pd.Series) -> dict[int, pd.Series]:
    """``{level: Series}`` of weights rescaled to sum 1 within each aggregation group."""
    fw = meta[meta["Type"].isin(["Indicator", "Aggregate"])]
    out = {}
    for lev in sorted(fw["Level"].dropna().unique()):
        codes = fw.index[fw["Level"] == lev]
        s = weights[codes].astype(float)
        parents = fw.loc[codes, "Parent"]
        if parents.isna().all():
            s = s / s.sum() if s.sum() else s
        else:
            s = s / s.groupby(parents.to_numpy()).transform("sum").to_numpy()
        out[int(lev)] = s
    return out


def effective_weights(meta: pd.DataFrame, weights: pd.Series) -> pd.Series:
    """Each code's share of its top-level aggregate (products of normalised weights).

    Examples
    --------
    ``a`` and ``b`` share pillar ``A``, ``c`` is alone in ``B``; ``A`` and ``B`` make ``I``:

    >>> m = pd.DataFrame({"Type": ["Indicator"] * 3 + ["Aggregate"] * 3,
    ...                   "Level": [1, 1, 1, 2, 2, 3], "Parent": ["A", "A", "B", "I", "I", None]},
    ...                  index=["a", "b", "c", "A", "B", "I"])
    >>> effective_weights(m, pd.Series(1.0, index=m.index)).to_dict()
    {'a': 0.25, 'b': 0.25, 'c': 0.5, 'A': 0.5, 'B': 0.5, 'I': 1.0}
    """
    fw = meta[meta["Type"].isin(["Indicator", "Aggregate"])]
    norm = pd.concat(normalised_weights(meta, weights).values())
    top = int(fw["Level"].max())
    eff = {}
    for code in fw.index:
        share, c = 1.0, code
        while fw.at[c, "Level"] < top:
            share *= float(norm[c])
            c = fw.at[c, "Parent"]
        eff[code] = share
    return pd.Series(eff, name="effective_weight")
