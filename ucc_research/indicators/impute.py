"""Step 2: impute missing values (COINr ``Impute`` and ``impute_panel``).

Cross-sectional methods work within each ``Time`` separately, as COINr does for each coin of a
purse; the panel methods (``latest``, ``constant``, ``linear``) use the unit's other years.

=================  ==========================================================================
method             what fills a missing value
=================  ==========================================================================
``none``           nothing
``mean``           the indicator's mean over units (``i_mean``)
``median``         the indicator's median (``i_median``)
``group_mean``     the indicator's mean within the unit's group (``i_mean_grp``, ``group``)
``group_median``   the indicator's median within the unit's group (``i_median_grp``)
``within_pillar``  the unit's mean over the other indicators of the same aggregate at
                   ``group_level`` (default 2), computed on min-max scaled values (with
                   direction) and scaled back (COINr ``impute_by = "row"``,
                   ``normalise_first = TRUE``)
``latest``         the unit's latest earlier value, up to ``max_time`` years back
``constant``       nearest observed value of the unit (earlier, or later at the start)
``linear``         linear interpolation in time; constant beyond the observed range
=================  ==========================================================================
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ucc_research.errors import SpecError

METHODS = (
    "none",
    "mean",
    "median",
    "group_mean",
    "group_median",
    "within_pillar",
    "latest",
    "constant",
    "linear",
)


def _by_time(data: pd.DataFrame):
    if "Time" in data.index.names:
        return [idx for _, idx in data.groupby(level="Time", sort=True).groups.items()]
    return [data.index]


def impute(
    data: pd.DataFrame,
    meta: pd.DataFrame,
    *,
    method: str = "none",
    group: str | None = None,
    groups: pd.DataFrame | None = None,
    group_level: int = 2,
    max_time: int | None = None,
) -> tuple[pd.DataFrame, dict]:
    """Fill missing indicator values.

    Parameters
    ----------
    data : DataFrame
        Indicator values; index ``uCode`` or (``uCode``, ``Time``).
    meta : DataFrame
        Validated iMeta (directions and parents for ``within_pillar``).
    method : str
        See the module table.
    group : str, optional
        Group column (required for ``group_mean``/``group_median``).
    groups : DataFrame, optional
        Unit attributes holding ``group`` (same index as ``data``).
    group_level : int
        Level of the aggregates whose members are averaged by ``within_pillar``.
    max_time : int, optional
        Years to look back for ``latest``.

    Returns
    -------
    (DataFrame, dict)
        Imputed data and a record: ``imputed`` (long table uCode[, Time], iCode, value) and
        ``n_imputed``/``n_remaining``.

    Examples
    --------
    >>> m = pd.DataFrame({"Direction": [1.0]}, index=["a"])
    >>> x = pd.DataFrame({"a": [1.0, None, 3.0]}, index=pd.Index(["u", "v", "w"], name="uCode"))
    >>> impute(x, m, method="mean")[0]["a"].tolist()
    [1.0, 2.0, 3.0]
    """
    if method not in METHODS:
        raise SpecError(f"impute: method {method!r} is not one of {', '.join(METHODS)}")
    out = data.copy()
    if method == "none":
        return out, _record(data, out, method)
    if method in ("group_mean", "group_median"):
        if group is None:
            raise SpecError(f"impute: method {method!r} needs a 'group' column")
        if groups is None or group not in groups.columns:
            raise SpecError(f"impute: group column {group!r} does not exist in iData")
        f = groups[group].reindex(data.index)
        for idx in _by_time(data):
            block = data.loc[idx]
            fill = block.groupby(f.loc[idx].to_numpy(), dropna=True).transform(
                _stable_mean if method == "group_mean" else "median"
            )
            out.loc[idx] = block.fillna(fill)
    elif method in ("mean", "median"):
        for idx in _by_time(data):
            block = data.loc[idx]
            fill = block.apply(_stable_mean) if method == "mean" else block.median()
            out.loc[idx] = block.fillna(fill)
    elif method == "within_pillar":
        out = _impute_rows(data, meta, group_level)
    else:
        if "Time" not in data.index.names:
            raise SpecError(f"impute: method {method!r} needs panel data (several Time values)")
        out = _impute_panel(data, method, max_time)
    return out, _record(data, out, method)


def _stable_mean(values: pd.Series) -> float:
    """Mean of the non-missing values, the same for any order of the units.

    Summed in sorted order (pairwise summation otherwise rounds differently as missing values
    move), and kept within [min, max]: rounding must not turn a constant column into one with a
    tiny range that min-max normalisation would stretch to 0-100.
    """
    x = np.sort(values.to_numpy(dtype=float))
    x = x[~np.isnan(x)]
    if x.size == 0:
        return float("nan")
    return float(min(max(x.mean(), x[0]), x[-1]))


def _impute_rows(data: pd.DataFrame, meta: pd.DataFrame, group_level: int) -> pd.DataFrame:
    parents = {}
    for code in data.columns:
        c = code
        while c is not None and meta.at[c, "Level"] < group_level:
            c = meta.at[c, "Parent"]
        if c is None:
            raise SpecError(f"impute: group_level {group_level} is above the top of the framework")
        parents[code] = c
    out = data.copy()
    direction = meta.loc[list(data.columns), "Direction"].to_numpy(dtype=float)
    for idx in _by_time(data):
        x = data.loc[idx].to_numpy(dtype=float) * direction
        mn, mx = np.nanmin(x, axis=0), np.nanmax(x, axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            xn = (x - mn) / (mx - mn)
        filled = xn.copy()
        for p in dict.fromkeys(parents.values()):
            cols = [i for i, c in enumerate(data.columns) if parents[c] == p]
            block = xn[:, cols]
            with np.errstate(invalid="ignore"):
                rowmean = np.nanmean(block, axis=1) if block.size else block
            fill = np.where(np.isnan(block), rowmean[:, None], block)
            filled[:, cols] = fill
        back = (filled * (mx - mn) + mn) * direction
        x0 = data.loc[idx].to_numpy(dtype=float)
        out.loc[idx] = np.where(np.isnan(x0), back, x0)
    return out


def _impute_panel(data: pd.DataFrame, method: str, max_time: int | None) -> pd.DataFrame:
    out = data.copy()
    all_times = np.sort(data.index.get_level_values("Time").unique().to_numpy(dtype=float))
    for _, block in data.groupby(level="uCode", sort=False):
        block = block.sort_index(level="Time")
        t = block.index.get_level_values("Time").to_numpy(dtype=float)
        vals = block.to_numpy(dtype=float).copy()
        for j in range(vals.shape[1]):
            y = vals[:, j]
            na = np.isnan(y)
            if not na.any() or na.all():
                continue
            if method == "latest":
                # as impute_panel: look back over the panel's years, at most max_time of them
                for i in np.flatnonzero(na):
                    back = all_times[all_times < t[i]][::-1]
                    if max_time is not None:
                        back = back[:max_time]
                    for yr in back:
                        k = np.flatnonzero((t == yr) & ~na)
                        if k.size:
                            y[i] = y[k[0]]
                            break
            else:
                obs = ~na
                if method == "linear":
                    y[na] = np.interp(t[na], t[obs], y[obs])
                else:  # "constant": last observation carried forward, first one carried back
                    pos = np.searchsorted(t[obs], t[na], side="right") - 1
                    y[na] = y[obs][np.clip(pos, 0, obs.sum() - 1)]
            vals[:, j] = y
        out.loc[block.index] = vals
    return out


def _record(before: pd.DataFrame, after: pd.DataFrame, method: str) -> dict:
    was = before.isna().to_numpy()
    now = after.isna().to_numpy()
    filled = was & ~now
    rows, cols = np.nonzero(filled)
    table = pd.DataFrame(
        {
            **{name: before.index.get_level_values(name)[rows] for name in before.index.names},
            "iCode": before.columns[cols],
            "value": after.to_numpy()[rows, cols],
        }
    )
    return {
        "method": method,
        "n_imputed": int(filled.sum()),
        "n_remaining": int(now.sum()),
        "imputed": table,
    }
