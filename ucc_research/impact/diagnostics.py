"""When to trust a synthetic control, and which adopting city to build one for.

:func:`hull_diagnostic` asks of one treated unit whether any convex mix of donors can reproduce
its pre-treatment path. Plain synthetic control is an interpolation: when the treated unit lies
outside the donors' convex hull (above or below every donor, or in a shape no mix matches), its
weights pile on the nearest donor, its pre-period fit is poor and the post-period gap mixes the
effect with the misfit (Abadie 2021, JEL 59(2), section 4; Ben-Michael, Feller & Rothstein 2021).
The measures:

- ``outside_share``: the share of pre-periods in which the treated outcome is above the donors'
  maximum or below their minimum (no convex mix can reach it there);
- ``hull_rmspe``: root mean squared gap of the best convex fit of the pre-period path (the
  smallest pre-fit error any synthetic control on the outcome can have);
- ``relative_rmspe``: ``hull_rmspe`` over the donors' cross-sectional spread (the standard
  deviation across donors, averaged over pre-periods): how far outside the hull, in units of
  how different cities are;
- ``top_weight`` and ``effective_donors`` (``1 / sum w^2``) of that best fit;
- with an estimate, ``rmspe_to_effect``: the pre-fit error over the size of the effect.

The verdict is ``"ok"``, ``"caution"`` or ``"do not trust"`` with the reasons in words; when it
is not ``"ok"`` the text points to :func:`~ucc_research.impact.augmented_synthetic_control` and
:func:`~ucc_research.impact.synthetic_did`, which extrapolate (ASCM) or absorb level differences
(SDID). The thresholds are stated in :data:`THRESHOLDS`.

:func:`choose_synth_unit` runs the diagnostic for every adopting unit against the never-treated
donors and picks the one with the longest usable pre-period among the best-fitting, instead of the
earliest cohort (which has the shortest pre-period).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ucc_research.errors import SpecError
from ucc_research.impact._checks import (
    check_columns,
    check_frame,
    check_numeric,
    check_unique_rows,
    one_value_per_unit,
    show,
)
from ucc_research.impact.synth import _simplex_qp

__all__ = ["hull_diagnostic", "choose_synth_unit", "HullDiagnostic", "SynthChoice", "THRESHOLDS"]

#: Verdict thresholds: (caution, do not trust) for each measure.
THRESHOLDS = {
    "outside_share": (0.0, 0.5),  # > 0: some pre-period unreachable; >= 0.5: most of them
    "relative_rmspe": (0.2, 0.5),  # best-fit error as a share of the donors' spread
    "rmspe_to_effect": (0.25, 0.5),  # pre-fit error as a share of the estimated effect
    "top_weight": (0.8, 1.01),  # one donor carries the fit (caution only)
}
_ORDER = {"ok": 0, "caution": 1, "do not trust": 2}


@dataclass
class HullDiagnostic:
    """Verdict on a synthetic control for one treated unit.

    Attributes
    ----------
    verdict : {"ok", "caution", "do not trust"}
    reason : str
        The reasons in words (one sentence each) and what to use instead.
    measures : dict
        ``outside_share``, ``n_above``, ``n_below``, ``n_pre``, ``hull_rmspe``, ``spread``,
        ``relative_rmspe``, ``top_weight``, ``effective_donors``, ``rmspe_to_effect``.
    weights : Series
        The best convex fit's donor weights.
    """

    treated: Any
    verdict: str
    reason: str
    measures: dict
    weights: pd.Series

    def tidy(self) -> pd.DataFrame:
        """One row: the unit, the verdict, the reason and every measure."""
        return pd.DataFrame(
            [
                {"unit": self.treated, "verdict": self.verdict, "reason": self.reason}
                | self.measures
            ]  # fmt: skip
        )

    def summary(self) -> str:
        m = self.measures
        return (
            f"Synthetic-control diagnostic for {self.treated!r}: {self.verdict.upper()}\n"
            f"  outside the donors' range in {m['n_above'] + m['n_below']} of {m['n_pre']} "
            f"pre-periods; best convex fit RMSPE {m['hull_rmspe']:.4g} "
            f"({m['relative_rmspe']:.2f} of the donors' spread); top weight "
            f"{m['top_weight']:.2f}\n  {self.reason}"
        )

    def __repr__(self) -> str:
        return self.summary()


def _paths(data, outcome, unit, time):
    check_frame(data)
    check_columns(data, [outcome, unit, time], "column")
    check_numeric(data, [outcome], "outcome")
    check_unique_rows(data, [unit, time])
    return data.pivot(index=time, columns=unit, values=outcome).sort_index()


def _diagnose(y1: np.ndarray, y0: np.ndarray, donors: list, att: float | None):
    """Measures and verdict from the treated pre path ``y1`` (T0) and donors' ``y0`` (T0 x J)."""
    above = int(np.sum(y1 > y0.max(axis=1)))
    below = int(np.sum(y1 < y0.min(axis=1)))
    n_pre = int(y1.size)
    d = y0 - y1[:, None]
    w = _simplex_qp(d.T @ d)
    gap = y1 - y0 @ w
    hull_rmspe = float(np.sqrt(np.mean(gap**2)))
    spread = float(np.mean(np.std(y0, axis=1, ddof=1))) if y0.shape[1] > 1 else np.nan
    rel = hull_rmspe / spread if spread and spread > 0 else np.inf
    top = float(w.max())
    m = {
        "n_pre": n_pre,
        "n_above": above,
        "n_below": below,
        "outside_share": (above + below) / n_pre,
        "hull_rmspe": hull_rmspe,
        "spread": spread,
        "relative_rmspe": float(rel),
        "top_weight": top,
        "effective_donors": float(1 / np.sum(w**2)),
        "rmspe_to_effect": (
            float(hull_rmspe / abs(att)) if att is not None and att != 0 else np.nan
        ),
    }
    reasons: list[tuple[int, str]] = []

    def judge(key: str, text: str) -> None:
        lo, hi = THRESHOLDS[key]
        value = m[key]
        if not np.isfinite(value):
            return
        if value >= hi:
            reasons.append((2, text))
        elif value > lo:
            reasons.append((1, text))

    where = "above" if above >= below else "below"
    judge(
        "outside_share",
        f"the treated outcome is {where} every donor in {above + below} of {n_pre} "
        "pre-periods, where no weighted mix of donors can reach it",
    )
    judge(
        "relative_rmspe",
        f"the best possible pre-period fit misses by {hull_rmspe:.3g} on average, "
        f"{rel:.2f} of the spread between donors",
    )
    judge(
        "rmspe_to_effect",
        f"that misfit is {m['rmspe_to_effect']:.2f} of the estimated effect, so the gap "
        "cannot be told from the misfit",
    )
    lo, _ = THRESHOLDS["top_weight"]
    if top > lo:
        reasons.append((1, f"one donor ({donors[int(w.argmax())]!r}) carries {top:.0%} of the fit"))
    level = max((r[0] for r in reasons), default=0)
    verdict = ["ok", "caution", "do not trust"][level]
    if verdict == "ok":
        text = (
            f"the treated unit lies inside the donors' range in every pre-period and the best "
            f"convex fit misses by {rel:.2f} of the spread between donors"
        )
    else:
        text = "; ".join(r[1] for r in reasons) + (
            ". Plain synthetic control should not be trusted here: use "
            "augmented_synthetic_control (extrapolates beyond the donors) or synthetic_did "
            "(absorbs level differences) and compare."
            if verdict == "do not trust"
            else ". Check the fit; compare with augmented_synthetic_control and synthetic_did."
        )
    return verdict, text[0].upper() + text[1:], m, w


def hull_diagnostic(
    data: pd.DataFrame,
    outcome: str,
    unit: str,
    time: str,
    treated: Any,
    treatment_time: Any,
    donors: list | None = None,
    att: float | None = None,
) -> HullDiagnostic:
    """Can any convex mix of donors reproduce the treated unit before treatment?

    Parameters
    ----------
    data : DataFrame
        Long panel.
    outcome, unit, time : str
        Column names.
    treated : scalar
        The treated unit.
    treatment_time : scalar
        Its first treated period; the periods before it are judged.
    donors : list, optional
        Donor pool (default: every other unit).
    att : float, optional
        An estimated effect, to compare the misfit with.

    Returns
    -------
    HullDiagnostic

    Examples
    --------
    A SYNTHETIC treated city below every donor before treatment:

    >>> years = np.arange(2010, 2020)
    >>> df = pd.DataFrame([(c, y, lvl + 0.1 * (y - 2010)) for c, lvl in
    ...                    [("T", 0.0), ("A", 1.0), ("B", 2.0), ("C", 3.0)] for y in years],
    ...                   columns=["city", "year", "y"])
    >>> hull_diagnostic(df, "y", "city", "year", "T", 2016).verdict
    'do not trust'
    """
    y = _paths(data, outcome, unit, time)
    if treated not in y.columns:
        raise SpecError(f"treated unit {treated!r} is not in column {unit!r}")
    pool = [u for u in y.columns if u != treated] if donors is None else list(donors)
    absent = [d for d in pool if d not in y.columns]
    if absent:
        raise SpecError(f"donor(s) {show(absent)} not in column {unit!r}")
    if len(pool) < 2:
        raise SpecError(f"need at least 2 donors, got {len(pool)}")
    pre = y.loc[y.index < treatment_time, [treated] + pool]
    if len(pre) < 2:
        raise SpecError(f"need at least 2 periods before treatment_time={treatment_time!r}")
    if pre.isna().any(axis=None):
        holes = pre.columns[pre.isna().any()].tolist()
        raise SpecError(f"outcome {outcome!r} is missing before treatment for {show(holes)}")
    verdict, reason, m, w = _diagnose(
        pre[treated].to_numpy(float), pre[pool].to_numpy(float), pool, att
    )
    return HullDiagnostic(treated, verdict, reason, m,
                          pd.Series(w, index=pd.Index(pool, name=unit), name="weight"))  # fmt: skip


@dataclass
class SynthChoice:
    """The unit chosen for a synthetic control, and every candidate with its reasons.

    Attributes
    ----------
    unit : scalar or None
        The chosen unit (None when no candidate qualifies; ``reason`` says why).
    reason : str
    table : DataFrame
        One row per adopting unit: ``unit``, ``cohort``, ``n_pre``, ``n_post``, ``verdict``,
        ``relative_rmspe``, ``outside_share``, ``hull_rmspe``, ``top_weight``, ``eligible``,
        ``reason`` and ``rank`` (1 = chosen).
    """

    unit: Any
    reason: str
    table: pd.DataFrame

    def tidy(self) -> pd.DataFrame:
        return self.table

    def summary(self) -> str:
        return f"Synthetic-control unit: {self.unit!r}. {self.reason}"

    def __repr__(self) -> str:
        return self.summary()


def choose_synth_unit(
    data: pd.DataFrame,
    outcome: str,
    unit: str,
    time: str,
    cohort: str,
    min_pre: int = 4,
    min_post: int = 1,
    candidates: list | None = None,
) -> SynthChoice:
    """Choose the adopting unit whose synthetic control can be trusted most.

    Each adopter (a unit with a first treated period in ``cohort`` inside the panel) is checked
    against the never-treated units (``cohort`` empty, NaN or 0) by :func:`hull_diagnostic` over
    its own pre-period. Adopters with fewer than ``min_pre`` pre-periods or ``min_post`` post
    periods are not eligible. Among the eligible the best verdict wins, then the closer fit
    (``relative_rmspe``, rounded to 0.05 so noise does not decide), then the longer pre-period.

    Parameters
    ----------
    data, outcome, unit, time : DataFrame, str
        The long panel and its outcome, unit and period columns.
    cohort : str
        Column of each unit's first treated period.
    min_pre, min_post : int
        Least pre- and post-periods for a candidate.
    candidates : list, optional
        Restrict the choice to these adopters.

    Returns
    -------
    SynthChoice

    Examples
    --------
    >>> years = np.arange(2010, 2020)
    >>> rows = [(c, y, lvl + 0.1 * (y - 2010), g) for c, lvl, g in
    ...         [("low", -1.0, 2016), ("mid", 1.5, 2016), ("early", 1.5, 2012),
    ...          ("A", 1.0, np.nan), ("B", 2.0, np.nan), ("C", 3.0, np.nan)] for y in years]
    >>> df = pd.DataFrame(rows, columns=["city", "year", "y", "first"])
    >>> choose_synth_unit(df, "y", "city", "year", "first").unit
    'mid'
    """
    y = _paths(data, outcome, unit, time)
    g, never = _first_periods(data, y, unit, time, cohort)
    adopters = [u for u in y.columns if u not in never]
    if candidates is not None:
        unknown = [c for c in candidates if c not in adopters]
        if unknown:
            raise SpecError(f"candidate(s) {show(unknown)} are not adopters in {cohort!r}")
        adopters = list(candidates)
    if len(never) < 2:
        raise SpecError(
            f"need at least 2 never-treated units as donors, found {len(never)}: no "
            "synthetic control can be built"
        )
    table = _rank(pd.DataFrame([_candidate(y, u, g[u], never, min_pre, min_post)
                                for u in adopters]))  # fmt: skip
    if not table["eligible"].any():
        return SynthChoice(
            None,
            f"no adopter has {min_pre} pre-periods and {min_post} post-periods with a complete "
            "outcome; no synthetic control is shown",
            table,
        )
    best = table.iloc[0]
    reason = (
        f"chosen among {int(table['eligible'].sum())} eligible adopters for its verdict "
        f"({best['verdict']}), its pre-period fit ({best['relative_rmspe']:.2f} of the donors' "
        f"spread) and its {best['n_pre']} pre-periods"
    )
    return SynthChoice(best["unit"], reason, table)


_MEASURES = ("relative_rmspe", "outside_share", "hull_rmspe", "top_weight")


def _first_periods(data, y, unit, time, cohort) -> tuple[dict, list]:
    """Each unit's first treated period (None if never), and the never-treated units."""
    check_columns(data, [cohort], "column")
    first = one_value_per_unit(data, unit, cohort, "cohort column")
    g = {u: (v[0] if v and v[0] not in (0, "", "0") else None) for u, v in first.items()}
    try:
        never = [u for u in y.columns if g.get(u) is None or g[u] > y.index.max()]
    except TypeError as err:
        raise SpecError(
            f"cohort column {cohort!r} holds values that cannot be compared with the periods of "
            f"{time!r} (e.g. {y.index.max()!r})"
        ) from err
    return g, never


def _candidate(y, u, g_u, never, min_pre, min_post) -> dict:
    """One adopter's row: eligibility and, if eligible, the hull diagnostic's verdict."""
    n_pre, n_post = int(np.sum(y.index < g_u)), int(np.sum(y.index >= g_u))
    row = {"unit": u, "cohort": g_u, "n_pre": n_pre, "n_post": n_post}
    if n_pre < max(min_pre, 2) or n_post < min_post:
        why = f"{n_pre} pre / {n_post} post periods (needs {min_pre} / {min_post})"
        return row | {"verdict": "not eligible", "eligible": False, "reason": why}
    pre = y.loc[y.index < g_u, [u] + never]
    missing = pre.columns[pre.isna().any()].tolist()
    if missing:
        why = f"outcome missing before adoption for {show(missing)}"
        return row | {"verdict": "not eligible", "eligible": False, "reason": why}
    verdict, reason, m, _ = _diagnose(pre[u].to_numpy(float), pre[never].to_numpy(float),
                                      never, None)  # fmt: skip
    return (
        row
        | {"verdict": verdict, "eligible": True, "reason": reason}
        | {k: m[k] for k in _MEASURES}
    )


def _rank(table: pd.DataFrame) -> pd.DataFrame:
    """Best verdict first, then the closer fit (to 0.05), then the longer pre-period."""
    for col in _MEASURES:
        if col not in table:
            table[col] = np.nan
    table["_v"] = table["verdict"].map(_ORDER).fillna(9)
    table["_fit"] = (table["relative_rmspe"] / 0.05).round()
    table = table.sort_values(["_v", "_fit", "n_pre"], ascending=[True, True, False], kind="stable")
    table = table.drop(columns=["_v", "_fit"]).reset_index(drop=True)
    table["rank"] = np.where(table["eligible"], np.arange(1, len(table) + 1), 0)
    return table
