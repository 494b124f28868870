"""Statistical coherence of a composite indicator: correlations, Cronbach's alpha, PCA, flags.

Everything works on a plain table (one row per unit, one column per indicator or aggregate code,
optionally a ``uCode`` column) and the hierarchy in COINr's ``iMeta`` form (``iCode``, ``Level``,
``Parent``). Use the normalised (direction-adjusted) data so that a negative correlation means a
real conflict rather than a "lower is better" indicator. A built coin is accepted directly: its
aggregated stage and metadata are used. Rows are pooled: for a panel, pass one year's rows to
study that year alone.

All tables are tidy (one row per pair, aggregate or component) so they plot directly with seaborn,
and every correlation carries its p-value and the number of units it rests on.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

import numpy as np
import pandas as pd
from scipy import stats

from ucc_research.errors import SpecError

__all__ = [
    "CoherenceResult",
    "coherence",
    "pairwise_correlations",
    "within_correlations",
    "across_level_correlations",
    "cronbach_alpha",
    "cronbach_by_aggregate",
    "pca_by_aggregate",
]

METHODS = ("pearson", "spearman")


def _hierarchy(meta: pd.DataFrame) -> pd.DataFrame:
    """``iCode``-indexed ``Level`` and ``Parent`` of the framework codes (indicators, aggregates)."""
    if not isinstance(meta, pd.DataFrame):
        raise SpecError(f"iMeta must be a DataFrame, got {type(meta).__name__}")
    missing = [c for c in ("iCode", "Level", "Parent") if c not in meta.columns]
    if missing:
        raise SpecError(f"iMeta: required column(s) {missing} missing")
    level = pd.to_numeric(meta["Level"], errors="coerce")
    h = pd.DataFrame(
        {
            "Level": level.to_numpy(),
            "Parent": [None if pd.isna(p) or p == "" else str(p) for p in meta["Parent"]],
        },
        index=pd.Index(meta["iCode"].astype(str).to_numpy(), name="iCode"),
    )
    h = h[h["Level"].notna()]
    h["Level"] = h["Level"].astype(int)
    return h


def _as_frame(data, meta):
    """(data indexed by unit code, meta) from a DataFrame or a built coin."""
    if hasattr(data, "stages") and hasattr(data, "meta"):
        meta = data.meta if meta is None else meta
        data = data.stages["aggregated"]
    if not isinstance(data, pd.DataFrame):
        raise SpecError(f"data must be a DataFrame or a built coin, got {type(data).__name__}")
    if "uCode" in data.columns:
        data = data.set_index("uCode")
    return data, meta


def _columns(data: pd.DataFrame, codes) -> pd.DataFrame:
    codes = list(codes)
    missing = [c for c in codes if c not in data.columns]
    if missing:
        raise SpecError(f"code(s) {missing} not found among the data columns")
    out = data[codes].apply(pd.to_numeric, errors="coerce")
    for c in codes:
        bad = out[c].isna() & data[c].notna()
        if bad.any():
            raise SpecError(
                f"column {c!r} has non-numeric value {data[c][bad].iloc[0]!r} "
                f"(unit {data.index[bad][0]!r})"
            )
    return out.astype(float)


def _corr(x: np.ndarray, y: np.ndarray, method: str) -> tuple[float, float, int]:
    ok = ~(np.isnan(x) | np.isnan(y))
    n = int(ok.sum())
    if n < 3 or np.ptp(x[ok]) == 0 or np.ptp(y[ok]) == 0:
        return np.nan, np.nan, n  # undefined: fewer than 3 pairs or a constant column
    fn = stats.pearsonr if method == "pearson" else stats.spearmanr
    res = fn(x[ok], y[ok])
    return float(res.statistic), float(res.pvalue), n


def _check_method(method: str) -> str:
    if method not in METHODS:
        raise SpecError(f"correlation method {method!r} is not one of {list(METHODS)}")
    return method


def pairwise_correlations(
    data: pd.DataFrame, x, y=None, *, method: str = "pearson"
) -> pd.DataFrame:
    """Correlation, two-sided p-value and number of units for pairs of columns.

    Parameters
    ----------
    data : DataFrame
        One row per unit.
    x : list of str
        Column codes.
    y : list of str, optional
        Second set of codes: every ``x`` x ``y`` pair. Default: every unordered pair within ``x``.
    method : {"pearson", "spearman"}
        Units missing either value are left out of that pair only (pairwise complete). P-values
        are two-sided, from the t distribution with ``n - 2`` degrees of freedom (Pearson: as R's
        ``cor.test``, used by COINr's ``get_pvals``; Spearman: the usual large-sample
        approximation, where R's ``cor.test`` would use an exact test for small ``n``).

    Returns
    -------
    pandas.DataFrame
        ``var_1, var_2, r, p_value, n``. ``r`` is NaN when fewer than 3 complete pairs or a
        constant column make it undefined.

    Examples
    --------
    >>> df = pd.DataFrame({"a": [1.0, 2, 3, 4], "b": [2.0, 4, 6, 8.5], "c": [4.0, 3, 2, 1]})
    >>> pairwise_correlations(df, ["a", "b", "c"], method="spearman")["r"].tolist()
    [1.0, -1.0, -1.0]
    """
    _check_method(method)
    data, _ = _as_frame(data, None)
    x = list(x)
    pairs = list(combinations(x, 2)) if y is None else [(a, b) for a in x for b in y if a != b]
    cols = _columns(data, dict.fromkeys([*x, *(y or [])]))
    rows = [(a, b, *_corr(cols[a].to_numpy(), cols[b].to_numpy(), method)) for a, b in pairs]
    return pd.DataFrame(rows, columns=["var_1", "var_2", "r", "p_value", "n"])


def within_correlations(
    data, meta: pd.DataFrame | None = None, *, level: int = 1, method: str = "pearson",
    redundant: float = 0.9,
) -> pd.DataFrame:  # fmt: skip
    """Correlations between the children of each aggregate, with coherence flags.

    Parameters
    ----------
    data : DataFrame or Coin
        Normalised (or aggregated) data, one column per code.
    meta : DataFrame
        ``iMeta`` (``iCode``, ``Level``, ``Parent``); taken from the coin when ``data`` is one.
    level : int
        Level of the children (1 = indicators within each pillar).
    method : {"pearson", "spearman"}
    redundant : float
        ``|r|`` above which two siblings are flagged as (possibly) redundant.

    Returns
    -------
    pandas.DataFrame
        ``parent, level, var_1, var_2, r, p_value, n, negative, redundant``: ``negative`` flags a
        sibling pair pulling in opposite directions (``r < 0``), ``redundant`` a pair with
        ``|r| > redundant`` (one may add nothing but double weight).
    """
    data, meta = _as_frame(data, meta)
    h = _hierarchy(meta)
    frames = []
    for parent in h.index[h["Level"] == level + 1]:
        kids = h.index[(h["Parent"] == parent) & (h["Level"] == level)].tolist()
        if len(kids) < 2:
            continue
        t = pairwise_correlations(data, kids, method=method)
        t.insert(0, "level", level)
        t.insert(0, "parent", parent)
        frames.append(t)
    if not frames:
        raise SpecError(f"no aggregate at Level {level + 1} has two or more children")
    out = pd.concat(frames, ignore_index=True)
    out["negative"] = out["r"] < 0
    out["redundant"] = out["r"].abs() > redundant
    return out


def across_level_correlations(
    data, meta: pd.DataFrame | None = None, *, level: int = 1, other_level: int = 2,
    method: str = "pearson",
) -> pd.DataFrame:  # fmt: skip
    """Correlations of every code at ``level`` with every code at ``other_level``.

    Returns
    -------
    pandas.DataFrame
        ``var_1, level_1, var_2, level_2, r, p_value, n, is_ancestor``; ``is_ancestor`` marks the
        pairs where ``var_2`` is the aggregate that ``var_1`` feeds into (directly or not), the
        correlations a well-built framework expects to be clearly positive.
    """
    data, meta = _as_frame(data, meta)
    h = _hierarchy(meta)
    xs = h.index[h["Level"] == level].tolist()
    ys = h.index[h["Level"] == other_level].tolist()
    if not xs or not ys:
        raise SpecError(f"no codes at Level {level if not xs else other_level} in iMeta")
    out = pairwise_correlations(data, xs, ys, method=method)
    out.insert(1, "level_1", level)
    out.insert(3, "level_2", other_level)

    def ancestor(code: str, target_level: int) -> str | None:
        while code is not None and h.at[code, "Level"] < target_level:
            code = h.at[code, "Parent"]
        return code

    out["is_ancestor"] = [
        ancestor(a, other_level) == b if other_level > level else ancestor(b, level) == a
        for a, b in zip(out["var_1"], out["var_2"], strict=True)
    ]
    return out


def cronbach_alpha(items: pd.DataFrame | np.ndarray, *, use: str = "pairwise") -> float:
    """Cronbach's alpha of a set of items (columns).

    ``alpha = k / (k - 1) * (1 - trace(C) / sum(C))`` with ``C`` the items' covariance matrix,
    which equals ``k / (k - 1) * (1 - sum(var(item)) / var(sum of items))`` on complete data.

    Parameters
    ----------
    items : DataFrame or array, shape (n_units, k)
    use : {"pairwise", "complete"}
        ``"pairwise"`` (default, as COINr's ``get_cronbach``) computes each covariance on the units
        having both items; ``"complete"`` keeps only units with every item.

    Examples
    --------
    >>> x = np.array([[1.0, 2.0], [2.0, 3.0], [3.0, 4.0]])  # parallel items
    >>> round(cronbach_alpha(x), 12)
    1.0
    """
    if use not in ("pairwise", "complete"):
        raise SpecError(f"use must be 'pairwise' or 'complete', got {use!r}")
    x = pd.DataFrame(np.asarray(items, dtype=float))
    if x.ndim != 2 or x.shape[1] < 2:
        raise SpecError(f"Cronbach's alpha needs at least two items (columns), got shape {x.shape}")
    if use == "complete":
        x = x.dropna()
    cov = x.cov(ddof=1).to_numpy()  # pairwise complete, like R's cov(use = "pairwise")
    if np.isnan(cov).any():
        raise SpecError("Cronbach's alpha: some pair of items has fewer than two units in common")
    k = x.shape[1]
    total = cov.sum()
    if total == 0:
        return np.nan
    return float(k / (k - 1) * (1 - np.trace(cov) / total))


def cronbach_by_aggregate(
    data, meta: pd.DataFrame | None = None, *, level: int = 1, use: str = "pairwise"
) -> pd.DataFrame:
    """Cronbach's alpha of the children (at ``level``) of every aggregate one level up.

    Returns
    -------
    pandas.DataFrame
        ``parent, level, n_items, n_units, alpha`` (``n_units``: units with every child present;
        ``use`` as in :func:`cronbach_alpha`).
    """
    data, meta = _as_frame(data, meta)
    h = _hierarchy(meta)
    rows = []
    for parent in h.index[h["Level"] == level + 1]:
        kids = h.index[h["Parent"] == parent].tolist()
        x = _columns(data, kids)
        n_units = int(x.notna().all(axis=1).sum())
        alpha = cronbach_alpha(x, use=use) if len(kids) > 1 and n_units > 1 else np.nan
        rows.append((parent, level, len(kids), n_units, alpha))
    return pd.DataFrame(rows, columns=["parent", "level", "n_items", "n_units", "alpha"])


def pca_by_aggregate(
    data, meta: pd.DataFrame | None = None, *, level: int = 1
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Principal components of the children of each aggregate (correlation-matrix PCA).

    Children are standardised (PCA of the correlation matrix, as ``prcomp(scale. = TRUE)``) on
    the units with every child present.

    Returns
    -------
    variance : pandas.DataFrame
        ``parent, component, eigenvalue, variance_explained, cumulative, n_units``: a first
        component explaining most of the variance supports aggregating the children into one score.
    loadings : pandas.DataFrame
        ``parent, component, iCode, loading`` (eigenvector entries; sign fixed so that the
        loadings of each component sum to a non-negative number).
    """
    data, meta = _as_frame(data, meta)
    h = _hierarchy(meta)
    var_rows, load_rows = [], []
    for parent in h.index[h["Level"] == level + 1]:
        kids = h.index[h["Parent"] == parent].tolist()
        x = _columns(data, kids).dropna().to_numpy()
        if len(kids) < 2 or x.shape[0] < 3:
            continue
        sd = x.std(axis=0, ddof=1)
        if (sd == 0).any():
            const = [k for k, s in zip(kids, sd, strict=True) if s == 0]
            raise SpecError(f"PCA of {parent!r}: child column(s) {const} are constant")
        corr = np.corrcoef(x, rowvar=False)
        eigval, eigvec = np.linalg.eigh(corr)
        order = np.argsort(eigval)[::-1]
        eigval, eigvec = np.clip(eigval[order], 0, None), eigvec[:, order]
        eigvec = eigvec * np.where(eigvec.sum(axis=0) < 0, -1.0, 1.0)
        share = eigval / eigval.sum()
        for j in range(len(kids)):
            var_rows.append((parent, j + 1, eigval[j], share[j], share[: j + 1].sum(), len(x)))
            load_rows.extend((parent, j + 1, k, eigvec[i, j]) for i, k in enumerate(kids))
    variance = pd.DataFrame(
        var_rows,
        columns=[
            "parent",
            "component",
            "eigenvalue",
            "variance_explained",
            "cumulative",
            "n_units",
        ],
    )
    loadings = pd.DataFrame(load_rows, columns=["parent", "component", "iCode", "loading"])
    return variance, loadings


@dataclass(frozen=True)
class CoherenceResult:
    """Coherence tables of one framework level (see :func:`coherence`)."""

    within: pd.DataFrame
    across: pd.DataFrame
    alpha: pd.DataFrame
    pca: pd.DataFrame
    loadings: pd.DataFrame
    flags: pd.DataFrame


def coherence(
    data, meta: pd.DataFrame | None = None, *, level: int = 1, method: str = "pearson",
    redundant: float = 0.9,
) -> CoherenceResult:  # fmt: skip
    """All coherence checks of the children at ``level``, in one call.

    Parameters
    ----------
    data : DataFrame or Coin
        Normalised/aggregated scores, one column per code (and ``uCode``), or a built coin.
    meta : DataFrame, optional
        ``iMeta``; taken from the coin when ``data`` is one.
    level : int
        Children level: 1 checks indicators within pillars, 2 pillars within sub-indices, ...
    method : {"pearson", "spearman"}
    redundant : float
        ``|r|`` threshold of the redundancy flag (default 0.9).

    Returns
    -------
    CoherenceResult
        ``within`` (sibling correlations with flags), ``across`` (each child against each
        aggregate one level up, ``is_ancestor`` marking its own parent), ``alpha`` (Cronbach's
        alpha per aggregate), ``pca`` and ``loadings`` (per aggregate), and ``flags``: one row per
        flagged pair with a readable ``reason``; ``flag`` is ``negative`` (siblings with
        ``r < 0``), ``redundant`` (siblings with ``|r| >`` the threshold) or
        ``negative_with_parent`` (a child with ``r < 0`` against its own parent).

    Examples
    --------
    >>> meta = pd.DataFrame({"iCode": ["a", "b", "c", "P"], "Level": [1, 1, 1, 2],
    ...                      "Parent": ["P", "P", "P", None]})
    >>> df = pd.DataFrame({"uCode": list("uvwxy"), "a": [1.0, 2, 3, 4, 5],
    ...                    "b": [1.1, 2, 3.2, 4, 5], "c": [5.0, 3, 4, 1, 2]})
    >>> df["P"] = df[["a", "b", "c"]].mean(axis=1)
    >>> coherence(df, meta).flags[["var_1", "var_2", "flag"]].values.tolist()  # doctest: +NORMALIZE_WHITESPACE
    [['a', 'b', 'redundant'], ['a', 'c', 'negative'], ['b', 'c', 'negative'],
     ['c', 'P', 'negative_with_parent']]
    """
    data, meta = _as_frame(data, meta)
    within = within_correlations(data, meta, level=level, method=method, redundant=redundant)
    across = across_level_correlations(
        data, meta, level=level, other_level=level + 1, method=method
    )
    alpha = cronbach_by_aggregate(data, meta, level=level)
    pca, loadings = pca_by_aggregate(data, meta, level=level)
    flag_rows = []
    for row in within.itertuples(index=False):
        sig = f"{method} r = {row.r:.3f}, p = {row.p_value:.3g}, n = {row.n}"
        if row.negative:
            flag_rows.append((row.parent, row.var_1, row.var_2, row.r, row.p_value, "negative",
                              f"siblings under {row.parent} are negatively correlated ({sig})"))  # fmt: skip
        if row.redundant:
            flag_rows.append((row.parent, row.var_1, row.var_2, row.r, row.p_value, "redundant",
                              f"|r| > {redundant} under {row.parent}: possibly redundant ({sig})"))  # fmt: skip
    for row in across[across["is_ancestor"] & (across["r"] < 0)].itertuples(index=False):
        sig = f"{method} r = {row.r:.3f}, p = {row.p_value:.3g}, n = {row.n}"
        flag_rows.append((row.var_2, row.var_1, row.var_2, row.r, row.p_value,
                          "negative_with_parent",
                          f"{row.var_1} is negatively correlated with its parent {row.var_2} ({sig})"))  # fmt: skip
    flags = pd.DataFrame(
        flag_rows, columns=["parent", "var_1", "var_2", "r", "p_value", "flag", "reason"]
    )
    return CoherenceResult(within, across, alpha, pca, loadings, flags)
