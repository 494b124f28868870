"""Step 3: treat outliers (COINr ``Treat``), column by column and ``Time`` by ``Time``.

The default is COINr's two-stage process: an indicator *fails* when ``|skew| >= skew_thresh``
and ``kurt >= kurt_thresh`` (sample-adjusted, :func:`~ucc_research.indicators.stats.skew`).
A failing indicator is winsorised one extreme value at a time (the maximum when skew >= 0,
else the minimum; tied extremes move together) until it passes or ``winmax`` points have
been moved. If it still fails, the winsorisation is undone and the fallback ``f2`` is applied
to the original values (``log_CT``: ``log(x - min + 0.01 (max - min))``), unless
``combine_treat`` asks to apply it to the winsorised values.

Per-indicator overrides (``indiv``) take ``"none"`` (never treat) or a dict of settings that
replace the global ones for that indicator, e.g. ``{"winmax": 2}`` or ``{"force_win": True}``.
``force_win`` winsorises exactly ``winmax`` points whatever the skew and kurtosis (COINr only
honours it for indicators that fail the first check; here it always applies, which is what a
user who forces treatment means).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from ucc_research.errors import SpecError
from ucc_research.indicators.stats import kurt, skew

METHODS = ("none", "winsorise", "boxcox", "log_CT", "log_CT_orig")
FALLBACKS = ("log_CT", "log_CT_orig", "boxcox", "none")
SETTINGS = {
    "winmax": 5,
    "skew_thresh": 2.0,
    "kurt_thresh": 3.5,
    "f2": "log_CT",
    "lambda": 1.0,
    "force_win": False,
    "combine_treat": False,
}


def check_skew_kurt(x: np.ndarray, skew_thresh: float = 2.0, kurt_thresh: float = 3.5):
    """COINr ``check_SkewKurt``: pass if ``|skew| < skew_thresh`` or ``kurt < kurt_thresh``.

    Returns ``(passes, skew, kurt)``; ``passes`` is ``None`` when skew or kurtosis is undefined
    (constant column or fewer than 4 values).
    """
    ok = x[~np.isnan(x)]
    if ok.size < 4:
        return None, float("nan"), float("nan")
    sk, kt = skew(ok), kurt(ok)
    if np.isnan(sk) or np.isnan(kt):
        return None, sk, kt
    return bool((abs(sk) < skew_thresh) or (kt < kurt_thresh)), sk, kt


def winsorise(
    x: np.ndarray,
    winmax: int | None = 5,
    skew_thresh: float = 2.0,
    kurt_thresh: float = 3.5,
    force_win: bool = False,
) -> tuple[np.ndarray, int, np.ndarray]:
    """COINr ``winsorise``: move extreme values inward until skew/kurtosis pass.

    Returns the treated vector, the number of points moved and a per-point flag array
    (``"winhi"``, ``"winlo"`` or ``""``).

    Examples
    --------
    Moving the 100 down to the next largest value (30) is enough here: the skew falls from
    3.06 to 1.71, below the threshold of 2, so only one point is moved.

    >>> x = np.array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 30, 100.0])
    >>> xw, n, flags = winsorise(x, winmax=2)
    >>> xw[-2:].tolist(), n, flags[-2:].tolist()
    ([30.0, 30.0], 1, ['', 'winhi'])
    """
    x = np.array(x, dtype=float)
    passing = check_skew_kurt(x, skew_thresh, kurt_thresh)[0]
    nwin = 0
    imax = np.array([], dtype=int)
    imin = np.array([], dtype=int)
    if (passing is False) or force_win:
        below = winmax is None or nwin < winmax
        while ((passing is False) or force_win) and below:
            if skew(x) >= 0:
                imax = np.flatnonzero(x == np.nanmax(x))
                rest = np.delete(x, imax)
                if np.all(np.isnan(rest)):
                    break
                x[imax] = np.nanmax(rest)
            else:
                imin = np.flatnonzero(x == np.nanmin(x))
                rest = np.delete(x, imin)
                if np.all(np.isnan(rest)):
                    break
                x[imin] = np.nanmin(rest)
            nwin = imax.size + imin.size
            below = winmax is None or nwin < winmax
            passing = check_skew_kurt(x, skew_thresh, kurt_thresh)[0]
            if passing is None:
                break
    flags = np.full(x.size, "", dtype=object)
    flags[imax] = "winhi"
    flags[imin] = "winlo"
    return x, nwin, flags


def log_ct(x: np.ndarray) -> np.ndarray:
    """COINr ``log_CT``: ``log(x - min(x) + 0.01 * (max(x) - min(x)))``."""
    mn, mx = np.nanmin(x), np.nanmax(x)
    return np.log(x - mn + 0.01 * (mx - mn))


def log_ct_orig(x: np.ndarray) -> np.ndarray:
    """COINr ``log_CT_orig``: ``log(x - min(x) + 1)``."""
    return np.log(x - np.nanmin(x) + 1)


def boxcox(x: np.ndarray, lmbda: float, makepos: bool = True) -> np.ndarray:
    """COINr ``boxcox`` with a fixed lambda (shifted to start at 1 when ``makepos``)."""
    if makepos:
        x = x - np.nanmin(x) + 1
    if lmbda == 0:
        return np.log(x)
    return (x**lmbda - 1) / lmbda


def _transform(name: str, x: np.ndarray, s: Mapping[str, Any]) -> np.ndarray:
    if name == "log_CT":
        return log_ct(x)
    if name == "log_CT_orig":
        return log_ct_orig(x)
    if name == "boxcox":
        return boxcox(x, float(s["lambda"]))
    raise SpecError(f"treat: unknown transformation {name!r}")


def treat_vector(x: np.ndarray, method: str, s: Mapping[str, Any]) -> tuple[np.ndarray, dict]:
    """Treat one column (COINr ``Treat.numeric``); returns values and a record dict."""
    x = np.asarray(x, dtype=float)
    pass0, sk0, kt0 = check_skew_kurt(x, s["skew_thresh"], s["kurt_thresh"])
    rec: dict[str, Any] = {
        "skew_before": sk0,
        "kurt_before": kt0,
        "pass_before": pass0,
        "n_winsorised": 0,
        "n_low": 0,
        "n_high": 0,
        "transform": "",
        "flags": np.full(x.size, "", dtype=object),
    }
    out = x
    if method == "none" or (pass0 is None and not s["force_win"]):
        rec.update(skew_after=sk0, kurt_after=kt0, pass_after=pass0, treatment="None")
        return out, rec
    need = (pass0 is False) or (method == "winsorise" and s["force_win"])
    if need and method == "winsorise":
        out, nwin, flags = winsorise(
            x, s["winmax"], s["skew_thresh"], s["kurt_thresh"], s["force_win"]
        )
        rec.update(
            n_winsorised=nwin,
            n_low=int((flags == "winlo").sum()),
            n_high=int((flags == "winhi").sum()),
            flags=flags,
        )
        pass1 = check_skew_kurt(out, s["skew_thresh"], s["kurt_thresh"])[0]
        if pass1 is False and s["f2"] != "none":
            base = out if s["combine_treat"] else x
            out = _transform(s["f2"], base, s)
            rec["transform"] = s["f2"]
            if not s["combine_treat"]:
                rec.update(n_low=0, n_high=0, flags=np.full(x.size, "", dtype=object))
            rec["flags"] = np.array(
                [f"{f}+{s['f2']}" if f else s["f2"] for f in rec["flags"]], dtype=object
            )
    elif need:
        out = _transform(method, x, s)
        rec["transform"] = method
        rec["flags"] = np.full(x.size, method, dtype=object)
    pass2, sk2, kt2 = check_skew_kurt(out, s["skew_thresh"], s["kurt_thresh"])
    parts = []
    if rec["n_low"] + rec["n_high"]:
        parts.append(f"Winsorised {rec['n_low'] + rec['n_high']} points")
    if rec["transform"]:
        parts.append(f"{rec['transform']} transformation")
    rec.update(
        skew_after=sk2, kurt_after=kt2, pass_after=pass2, treatment=" + ".join(parts) or "None"
    )
    return out, rec


def treat(
    data: pd.DataFrame,
    meta: pd.DataFrame | None = None,
    *,
    method: str = "winsorise",
    indiv: Mapping[str, Any] | None = None,
    **settings: Any,
) -> tuple[pd.DataFrame, dict]:
    """Treat outliers in every indicator column, separately for each ``Time``.

    Parameters
    ----------
    data : DataFrame
        Indicator values; index ``uCode`` or (``uCode``, ``Time``).
    meta : DataFrame, optional
        Unused (kept for the common step signature).
    method : {"winsorise", "boxcox", "log_CT", "log_CT_orig", "none"}
        First treatment applied to failing indicators.
    indiv : mapping iCode -> "none" | dict, optional
        Per-indicator overrides of ``method`` and settings.
    **settings
        ``winmax`` (5), ``skew_thresh`` (2), ``kurt_thresh`` (3.5), ``f2`` fallback
        (``"log_CT"``), ``lambda`` for Box-Cox (1), ``force_win`` (False),
        ``combine_treat`` (False).

    Returns
    -------
    (DataFrame, dict)
        Treated data and a record: ``summary`` (one row per indicator [and Time]: skew/kurt
        before and after, points winsorised low/high, transformation, treatment text) and
        ``flags`` (same shape as ``data``: ``"winhi"``, ``"winlo"``, the transformation or "").

    Examples
    --------
    >>> x = pd.DataFrame({"a": [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 30, 100.0]})
    >>> treated, rec = treat(x, winmax=2)
    >>> treated["a"].tolist()[-2:], rec["flags"]["a"].tolist()[-2:]
    ([30.0, 30.0], ['', 'winhi'])
    >>> row = rec["summary"].iloc[0]
    >>> row["iCode"], int(row["n_high"]), row["treatment"]
    ('a', 1, 'Winsorised 1 points')
    >>> print(f"skew {row['skew_before']:.2f} -> {row['skew_after']:.2f}")
    skew 3.06 -> 1.71
    """
    unknown = set(settings) - set(SETTINGS)
    if unknown:
        raise SpecError(f"treat: unknown setting(s) {sorted(unknown)}; known: {sorted(SETTINGS)}")
    base = {**SETTINGS, **settings}
    _check_settings("treat", method, base)
    indiv = dict(indiv or {})
    bad = [c for c in indiv if c not in data.columns]
    if bad:
        raise SpecError(f"treat: indiv names {bad}, which are not indicator columns")
    out = data.copy()
    flags = pd.DataFrame("", index=data.index, columns=data.columns, dtype=object)
    rows = []
    blocks = (
        list(data.groupby(level="Time", sort=True).groups.items())
        if "Time" in data.index.names
        else [(None, data.index)]
    )
    for code in data.columns:
        m, s = _indicator_method(code, indiv.get(code), method, base)
        for t, idx in blocks:
            x = data.loc[idx, code].to_numpy(dtype=float)
            xt, rec = treat_vector(x, m, s)
            out.loc[idx, code] = xt
            flags.loc[idx, code] = rec.pop("flags")
            rows.append({"iCode": code, **({"Time": t} if t is not None else {}), **rec})
    summary = pd.DataFrame(rows)
    return out, {"summary": summary, "flags": flags}


def _indicator_method(
    code: str, spec: Any, method: str, base: dict[str, Any]
) -> tuple[str, dict[str, Any]]:
    """The method and settings of one indicator: ``indiv``'s "none" or dict over the common."""
    if spec is None:
        return method, base
    if isinstance(spec, str):
        if spec != "none":
            raise SpecError(f"treat: indiv setting of {code!r} must be 'none' or a dict")
        return "none", base
    if not isinstance(spec, Mapping):
        raise SpecError(f"treat: indiv setting of {code!r} must be 'none' or a dict")
    extra = {k: v for k, v in spec.items() if k != "method"}
    bad = set(extra) - set(SETTINGS)
    if bad:
        raise SpecError(f"treat: unknown setting(s) {sorted(bad)} for {code!r}")
    m, s = spec.get("method", method), {**base, **extra}
    _check_settings(f"treat ({code})", m, s)
    return m, s


def _check_settings(where: str, method: str, s: Mapping[str, Any]) -> None:
    if method not in METHODS:
        raise SpecError(f"{where}: method {method!r} is not one of {', '.join(METHODS)}")
    if s["f2"] not in FALLBACKS:
        raise SpecError(f"{where}: f2 {s['f2']!r} is not one of {', '.join(FALLBACKS)}")
    if s["winmax"] is not None and (int(s["winmax"]) != s["winmax"] or s["winmax"] < 0):
        raise SpecError(f"{where}: winmax must be a whole number >= 0, got {s['winmax']!r}")
    if s["force_win"] and s["winmax"] is None:
        raise SpecError(f"{where}: force_win needs a finite winmax (the number of points to move)")
    for k in ("skew_thresh", "kurt_thresh", "lambda"):
        if not isinstance(s[k], (int, float)) or isinstance(s[k], bool):
            raise SpecError(f"{where}: {k} must be a number, got {s[k]!r}")
