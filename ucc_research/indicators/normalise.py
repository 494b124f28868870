"""Step 4: normalise (COINr ``Normalise``): bring indicators onto a common scale.

Direction is applied explicitly first, as in COINr: every value is multiplied by the
indicator's ``Direction`` (+1 or -1) and the method is then applied, so that for every method
*higher normalised score = better*. The record lists the direction used for each indicator.

==================  =========================================================================
method              formula (on ``x * direction``)
==================  =========================================================================
``minmax``          ``(x - min) / (max - min) * (hi - lo) + lo`` with ``range = [lo, hi]``
``zscore``          ``(x - mean) / sd * s + m`` with ``m_sd = [m, s]`` (sample sd)
``rank``            ``rank(x, ties = "min")``
``percentile``      ``(rank(x, ties = "min") - 1) / (n - 1)`` (COINr ``n_prank``)
``borda``           ``rank(x, ties = "min") - 1``
``goalposts``       ``(x - l) / (u - l)`` truncated to [0, 1], scaled to ``range``; goalposts
                    ``[l, u]`` in the indicator's own units from iMeta ``goalpost_lower`` /
                    ``goalpost_upper`` or ``gposts``; for direction -1, ``(u - x) / (u - l)``
``dist_to_target``  ``1 - (t - x) / (t - min)`` with iMeta ``Target`` (times direction),
                    capped at 1 when ``cap_max``; scaled to ``range`` if given
``dist_to_max``     ``1 - (max - x) / (max - min)`` (distance to frontier)
``dist_to_ref``     ``1 - (x_ref - x) / (x_ref - min)``, ``ref`` = a uCode (reference unit)
``fracmax``         ``x / max``
``none``            ``x * direction``
==================  =========================================================================

With panel data, ``global_ = True`` (COINr's purse default) uses minima, maxima etc. over all
years so that scores are comparable over time; ``False`` normalises each year separately.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from ucc_research.errors import SpecError, UccWarning

METHODS = (
    "minmax",
    "zscore",
    "rank",
    "percentile",
    "borda",
    "goalposts",
    "dist_to_target",
    "dist_to_max",
    "dist_to_ref",
    "fracmax",
    "none",
)
SETTINGS = ("range", "m_sd", "cap_max", "ref", "gposts", "trunc")


def _rank_min(x: np.ndarray) -> np.ndarray:
    """rank(x, ties = "min", na.last = "keep") column-wise."""
    return pd.DataFrame(x).rank(method="min", na_option="keep").to_numpy(dtype=float, copy=True)


def normalise_array(
    x: np.ndarray,
    method: str,
    *,
    direction: np.ndarray,
    range: tuple[float, float] | list[float] = (0.0, 100.0),  # noqa: A002 - COINr/YAML name
    m_sd: tuple[float, float] | list[float] = (0.0, 1.0),
    cap_max: bool = False,
    ref_row: int | None = None,
    target: np.ndarray | None = None,
    gposts: np.ndarray | None = None,
    trunc: bool = True,
) -> np.ndarray:
    """Normalise the columns of a 2-D array (rows = units); the vectorised core.

    ``direction``, ``target`` and ``gposts`` (shape ``(2, k)``: lower and upper) are per column.
    """
    x = np.asarray(x, dtype=float) * direction
    lo, hi = float(range[0]), float(range[1])
    with np.errstate(invalid="ignore", divide="ignore"):
        if method == "none":
            return x
        if method == "minmax":
            mn, mx = np.nanmin(x, axis=0), np.nanmax(x, axis=0)
            return (x - mn) / (mx - mn) * (hi - lo) + lo
        if method == "zscore":
            mu = np.nanmean(x, axis=0)
            sd = np.nanstd(x, axis=0, ddof=1)
            return (x - mu) / sd * float(m_sd[1]) + float(m_sd[0])
        if method == "rank":
            return _rank_min(x)
        if method == "borda":
            return _rank_min(x) - 1
        if method == "percentile":
            n = (~np.isnan(x)).sum(axis=0)
            return (_rank_min(x) - 1) / (n - 1)
        if method == "fracmax":
            return x / np.nanmax(x, axis=0)
        if method == "dist_to_max":
            mn, mx = np.nanmin(x, axis=0), np.nanmax(x, axis=0)
            return 1 - (mx - x) / (mx - mn)
        if method == "dist_to_ref":
            mn = np.nanmin(x, axis=0)
            xref = x[ref_row]
            y = 1 - (xref - x) / (xref - mn)
            return np.minimum(y, 1) if cap_max else y
        if method == "dist_to_target":
            t = target * direction
            mn = np.nanmin(x, axis=0)
            y = 1 - (t - x) / (t - mn)
            y = np.where(np.isnan(y), y, np.minimum(y, 1)) if cap_max else y
            return y if tuple(range) == (0.0, 1.0) else y * (hi - lo) + lo
        if method == "goalposts":
            gl, gu = gposts[0] * direction, gposts[1] * direction
            # for direction -1 both posts flip sign, so "lower" is -l and the worst value is -u
            low = np.where(direction > 0, gl, gu)
            up = np.where(direction > 0, gu, gl)
            y = (x - low) / (up - low)
            if trunc:
                y = np.clip(y, 0, 1)
            return y * (hi - lo) + lo
    raise SpecError(f"normalise: method {method!r} is not one of {', '.join(METHODS)}")


def normalise(
    data: pd.DataFrame,
    meta: pd.DataFrame,
    *,
    method: str = "minmax",
    indiv: Mapping[str, Mapping[str, Any]] | None = None,
    directions: Mapping[str, float] | None = None,
    global_: bool = True,
    **settings: Any,
) -> tuple[pd.DataFrame, dict]:
    """Normalise every indicator column.

    Parameters
    ----------
    data : DataFrame
        Indicator values; index ``uCode`` or (``uCode``, ``Time``).
    meta : DataFrame
        Validated iMeta: ``Direction``, and ``Target`` / ``goalpost_lower`` /
        ``goalpost_upper`` for the methods that need them.
    method : str
        See the module table.
    indiv : mapping iCode -> dict, optional
        Per-indicator method and settings (COINr ``indiv_specs``).
    directions : mapping iCode -> +1/-1, optional
        Overrides iMeta's ``Direction``.
    global_ : bool
        Panel data: normalise over all years at once (True) or year by year.
    **settings
        ``range`` ([0, 100]), ``m_sd`` ([0, 1]), ``cap_max`` (False), ``ref`` (a uCode, for
        ``dist_to_ref``), ``gposts`` (mapping iCode -> [l, u], overriding iMeta), ``trunc``
        (True: goalposts truncate outside values).

    Returns
    -------
    (DataFrame, dict)
        Normalised data and a record with the method per indicator and the direction used.

    Examples
    --------
    >>> m = pd.DataFrame({"Direction": [1.0, -1.0]}, index=["a", "b"])
    >>> x = pd.DataFrame({"a": [1.0, 2, 3], "b": [1.0, 2, 3]})
    >>> normalise(x, m)[0]["b"].tolist()
    [100.0, 50.0, 0.0]
    """
    unknown = set(settings) - set(SETTINGS)
    if unknown:
        raise SpecError(f"normalise: unknown setting(s) {sorted(unknown)}; known: {SETTINGS}")
    codes = list(data.columns)
    dirs = _directions(codes, meta, directions)
    specs = _specs(codes, method, settings, indiv)
    out = pd.DataFrame(np.nan, index=data.index, columns=codes)
    blocks = (
        [idx for _, idx in data.groupby(level="Time", sort=True).groups.items()]
        if ("Time" in data.index.names and not global_)
        else [data.index]
    )
    undefined: dict[str, int] = {}
    for cols in _same_settings(specs):
        s = specs[cols[0]]
        args = _args(s, cols, meta, data)
        direction = np.array([dirs[c] for c in cols])
        for idx in blocks:
            out.loc[idx, cols] = _normalise_block(
                data.loc[idx, cols], s, direction, args, undefined
            )
    if undefined:
        warnings.warn(
            f"normalise: scores undefined (zero range) for {undefined}; set to NaN",
            UccWarning,
            stacklevel=2,
        )
    record = {
        "method": {c: specs[c]["method"] for c in codes},
        "direction": dirs,
        "settings": {c: {k: v for k, v in specs[c].items() if k != "method"} for c in codes},
        "undefined": undefined,
    }
    return out, record


def _directions(
    codes: list[str], meta: pd.DataFrame, directions: Mapping[str, float] | None
) -> dict[str, float]:
    """Each indicator's direction (+1/-1): ``directions`` over iMeta's ``Direction``."""
    dirs = {}
    for c in codes:
        d = (directions or {}).get(c, meta.at[c, "Direction"] if c in meta.index else np.nan)
        if d not in (-1, 1):
            raise SpecError(f"normalise: direction of {c!r} is {d!r}; must be +1 or -1")
        dirs[c] = float(d)
    return dirs


def _specs(
    codes: list[str],
    method: str,
    settings: Mapping[str, Any],
    indiv: Mapping[str, Mapping[str, Any]] | None,
) -> dict[str, dict]:
    """Each indicator's method and settings: the common ones, overridden by ``indiv``."""
    indiv = dict(indiv or {})
    bad = [c for c in indiv if c not in codes]
    if bad:
        raise SpecError(f"normalise: indiv names {bad}, which are not indicator columns")
    specs = {}
    for c in codes:
        s = {"method": method, **settings, **dict(indiv.get(c, {}))}
        if s["method"] not in METHODS:
            raise SpecError(
                f"normalise: method {s['method']!r} for {c!r} is not one of {', '.join(METHODS)}"
            )
        extra = set(s) - set(SETTINGS) - {"method"}
        if extra:
            raise SpecError(f"normalise: unknown setting(s) {sorted(extra)} for {c!r}")
        specs[c] = s
    return specs


def _same_settings(specs: dict[str, dict]) -> list[list[str]]:
    """Columns sharing the same settings (goalposts aside), normalised together (vectorised)."""
    groups: dict[str, list[str]] = {}
    for c, s in specs.items():
        key = repr(sorted((k, repr(v)) for k, v in s.items() if k != "gposts"))
        groups.setdefault(key, []).append(c)
    return list(groups.values())


def _normalise_block(
    block: pd.DataFrame, s: dict, direction: np.ndarray, args: dict, undefined: dict[str, int]
) -> np.ndarray:
    """Normalise the columns of ``block`` that share the settings ``s``.

    A zero range (constant column, reference at the minimum, ...) leaves a score undefined:
    NaN, counted per column in ``undefined`` rather than propagated as inf.
    """
    ref_row = _ref_row(block, s.get("ref")) if s["method"] == "dist_to_ref" else None
    raw = block.to_numpy(dtype=float)
    values = normalise_array(raw, s["method"], direction=direction, ref_row=ref_row, **args)
    values[~np.isfinite(values)] = np.nan
    lost = np.isnan(values) & ~np.isnan(raw)
    for j in np.flatnonzero(lost.any(axis=0)):
        undefined.setdefault(block.columns[j], 0)
        undefined[block.columns[j]] += int(lost[:, j].sum())
    return values


def _ref_row(block: pd.DataFrame, ref: Any) -> int:
    if ref is None:
        raise SpecError(
            "normalise: method 'dist_to_ref' needs 'ref', the uCode of the reference unit"
        )
    codes = block.index.get_level_values("uCode")
    hit = np.flatnonzero(codes == str(ref))
    if hit.size != 1:
        raise SpecError(f"normalise: reference unit {ref!r} is not a uCode of the data")
    return int(hit[0])


def _args(s: Mapping[str, Any], cols: list[str], meta: pd.DataFrame, data: pd.DataFrame) -> dict:
    rng = s.get("range", (0.0, 100.0) if s["method"] != "dist_to_target" else (0.0, 1.0))
    if len(rng) != 2 or not all(isinstance(v, (int, float)) for v in rng) or rng[0] == rng[1]:
        raise SpecError(f"normalise: range must be two different numbers [lo, hi], got {rng!r}")
    m_sd = s.get("m_sd", (0.0, 1.0))
    if len(m_sd) != 2 or not m_sd[1] > 0:
        raise SpecError(f"normalise: m_sd must be [mean, sd] with sd > 0, got {m_sd!r}")
    args: dict[str, Any] = {
        "range": rng,
        "m_sd": m_sd,
        "cap_max": bool(s.get("cap_max", False)),
        "trunc": bool(s.get("trunc", True)),
    }
    if s["method"] == "dist_to_target":
        if "Target" not in meta.columns:
            raise SpecError("normalise: 'dist_to_target' needs a Target column in iMeta")
        t = meta.loc[cols, "Target"].to_numpy(dtype=float)
        missing = [c for c, v in zip(cols, t, strict=True) if np.isnan(v)]
        if missing:
            raise SpecError(f"normalise: no Target in iMeta for {missing}")
        args["target"] = t
    if s["method"] == "goalposts":
        given = dict(s.get("gposts") or {})
        gp = np.full((2, len(cols)), np.nan)
        for j, c in enumerate(cols):
            if c in given:
                gp[:, j] = [float(given[c][0]), float(given[c][1])]
            elif {"goalpost_lower", "goalpost_upper"} <= set(meta.columns):
                gp[:, j] = meta.loc[c, ["goalpost_lower", "goalpost_upper"]].to_numpy(float)
            if np.isnan(gp[:, j]).any() or gp[0, j] >= gp[1, j]:
                raise SpecError(
                    f"normalise: goalposts of {c!r} missing or not lower < upper "
                    "(iMeta goalpost_lower/goalpost_upper or gposts)"
                )
        args["gposts"] = gp
    return args
