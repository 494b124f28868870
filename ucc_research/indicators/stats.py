"""Data checks and screening, as COINr's ``get_stats`` and ``Screen``.

Skewness and kurtosis are the sample-adjusted estimators of COINr (``skew``/``kurt``, the
same as ``e1071::skewness``/``kurtosis`` with ``type = 2`` and Excel's SKEW/KURT), so the
outlier flags and the treatment loop decide exactly as COINr does.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ucc_research.errors import SpecError


def _deviations(x: np.ndarray | Sequence[float]) -> np.ndarray:
    """Deviations from the mean over the largest of them (moment ratios do not change).

    Sorted first, so sums run in the same order whatever the order of the units; scaled, so
    tiny or huge values neither underflow nor overflow when raised to the fourth power.
    """
    v = np.asarray(x, dtype=float)
    v = np.sort(v[~np.isnan(v)])
    d = v - v.mean() if v.size else v
    scale = np.max(np.abs(d)) if d.size else 0.0
    return d / scale if scale > 0 else np.zeros_like(d)


def _centred(
    x: np.ndarray | Sequence[float], need: int, what: str
) -> tuple[np.ndarray, int, float]:
    """Scaled deviations from the mean, their number (at least ``need``) and sum of squares."""
    d = _deviations(x)
    n = d.size
    if n < need:
        raise SpecError(f"{what} needs at least {need} non-missing values, got {n}")
    return d, n, np.sum(d**2)


def skew(x: np.ndarray | Sequence[float]) -> float:
    """Sample-adjusted skewness (COINr ``skew``, Excel ``SKEW``); NaNs are dropped.

    Parameters
    ----------
    x : array-like
        Values; at least 3 non-missing.

    Returns
    -------
    float

    Examples
    --------
    >>> round(skew([1, 2, 3, 10]), 4)
    1.7636
    """
    d, n, s2 = _centred(x, 3, "skewness")
    if s2 == 0:
        return float("nan")
    y = np.sqrt(n) * np.sum(d**3) / s2**1.5
    return float(y * np.sqrt(n * (n - 1)) / (n - 2))


def kurt(x: np.ndarray | Sequence[float]) -> float:
    """Sample-adjusted excess kurtosis (COINr ``kurt``, Excel ``KURT``); NaNs are dropped.

    Examples
    --------
    >>> round(kurt([1, 2, 3, 10]), 4)
    3.228
    """
    d, n, s2 = _centred(x, 4, "kurtosis")
    if s2 == 0:
        return float("nan")
    r = n * np.sum(d**4) / s2**2
    return float(((n + 1) * (r - 3) + 6) * (n - 1) / ((n - 2) * (n - 3)))


def get_stats(
    data: pd.DataFrame,
    *,
    t_skew: float = 2.0,
    t_kurt: float = 3.5,
    t_avail: float = 0.65,
    t_zero: float = 0.5,
    t_unq: float = 0.5,
) -> pd.DataFrame:
    """Statistics and flags per indicator (COINr ``get_stats``, unrounded).

    Parameters
    ----------
    data : DataFrame
        Numeric indicator columns only (rows = units).
    t_skew, t_kurt : float
        ``Flag.SkewKurt`` is ``"OUT"`` when ``|skew| > t_skew`` and ``kurt > t_kurt``.
    t_avail, t_zero, t_unq : float
        Availability, non-zero and unique-value shares below which a column is flagged ``"LOW"``.

    Returns
    -------
    DataFrame
        One row per indicator: Min, Max, Mean, Median, Std, Skew, Kurt, N.Avail, N.NonZero,
        N.Unique, N.Same, Frc.* and Flag.* columns, as COINr.

    Examples
    --------
    >>> df = pd.DataFrame({"a": [1.0, 2, 3, 4, 100], "b": [0.0, 0, 0, 1, None]})
    >>> get_stats(df).loc["a", "Flag.SkewKurt"]
    'OUT'
    """
    rows = {}
    n = len(data)
    for col in data.columns:
        x = pd.to_numeric(data[col], errors="raise").to_numpy(dtype=float)
        ok = x[~np.isnan(x)]
        n_avail = ok.size
        sk = skew(ok) if n_avail >= 3 else float("nan")
        kt = kurt(ok) if n_avail >= 4 else float("nan")
        nzero = int(np.sum(ok != 0))
        nunq = int(np.unique(ok).size)
        nsame = int(pd.Series(ok).value_counts().max()) if n_avail else 0
        rows[col] = {
            "Min": ok.min() if n_avail else np.nan,
            "Max": ok.max() if n_avail else np.nan,
            "Mean": ok.mean() if n_avail else np.nan,
            "Median": np.median(ok) if n_avail else np.nan,
            "Std": ok.std(ddof=1) if n_avail > 1 else np.nan,
            "Skew": sk,
            "Kurt": kt,
            "N.Avail": n_avail,
            "N.NonZero": nzero,
            "N.Unique": nunq,
            "N.Same": nsame,
            "Frc.Avail": n_avail / n if n else np.nan,
            "Frc.NonZero": nzero / n_avail if n_avail else np.nan,
            "Frc.Unique": nunq / n_avail if n_avail else np.nan,
            "Frc.Same": nsame / n_avail if n_avail else np.nan,
            "Flag.Avail": "ok" if n and n_avail / n >= t_avail else "LOW",
            "Flag.NonZero": "ok" if n and nzero / n >= t_zero else "LOW",
            "Flag.Unique": "ok" if n and nunq / n >= t_unq else "LOW",
            "Flag.SkewKurt": "OUT" if (abs(sk) > t_skew) and (kt > t_kurt) else "ok",
        }
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.index.name = "iCode"
    return out


def unit_availability(data: pd.DataFrame) -> pd.DataFrame:
    """Per unit (row): number and share of available and of non-zero indicator values.

    Examples
    --------
    >>> unit_availability(pd.DataFrame({"a": [1.0, None], "b": [0.0, 2.0]}))["Dat_Avail"].tolist()
    [1.0, 0.5]
    """
    x = data.to_numpy(dtype=float)
    n = x.shape[1]
    avail = (~np.isnan(x)).sum(axis=1)
    nonzero = ((x != 0) & ~np.isnan(x)).sum(axis=1)
    return pd.DataFrame(
        {
            "N_missing": n - avail,
            "N_zero": avail - nonzero,
            "Dat_Avail": avail / n,
            "Frc_Zero": (avail - nonzero) / n,
        },
        index=data.index,
    )


def screen_units(
    data: pd.DataFrame,
    *,
    dat_thresh: float = 0.66,
    zero_thresh: float = 1.0,
    unit_screen: str = "byNA",
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
) -> tuple[pd.DataFrame, dict]:
    """Drop units with too little data (COINr ``Screen``), with manual include/exclude.

    Parameters
    ----------
    data : DataFrame
        Indicator columns; index ``uCode`` or (``uCode``, ``Time``).
    dat_thresh : float
        Keep units whose share of available values is at least this.
    zero_thresh : float
        Keep units whose share of zeros is at most this (used by ``byzeros``).
    unit_screen : {"byNA", "byzeros", "byNAandzeros", "none"}
    include, exclude : sequence of str
        uCodes always kept / always removed (``Force`` in COINr); unknown codes are an error.

    Returns
    -------
    (DataFrame, dict)
        The kept rows and a record: availability table and the removed units.
    """
    if unit_screen not in {"byNA", "byzeros", "byNAandzeros", "none"}:
        raise SpecError(
            f"screen: unit_screen {unit_screen!r} is not one of byNA, byzeros, byNAandzeros, none"
        )
    codes = data.index.get_level_values("uCode")
    for code in [*include, *exclude]:
        if code not in set(codes):
            raise SpecError(f"screen: unit {code!r} in include/exclude is not a uCode of iData")
    both = set(include) & set(exclude)
    if both:
        raise SpecError(f"screen: units {sorted(both)} are both included and excluded")
    av = unit_availability(data)
    keep = np.ones(len(data), dtype=bool)
    if unit_screen in {"byNA", "byNAandzeros"}:
        keep &= av["Dat_Avail"].to_numpy() >= dat_thresh
    if unit_screen in {"byzeros", "byNAandzeros"}:
        keep &= av["Frc_Zero"].to_numpy() <= zero_thresh
    keep |= np.isin(codes, list(include))
    keep &= ~np.isin(codes, list(exclude))
    removed = sorted({str(c) for c in codes[~keep]})
    av = av.assign(Included=keep)
    return data[keep], {"availability": av, "removed_units": removed}
