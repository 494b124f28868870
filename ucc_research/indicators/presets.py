"""Built-in frameworks: UserCentriCities dashboard, EU eGovernment Benchmark, a LOSI-style checklist.

=======================  =====================================================================
name                     what
=======================  =====================================================================
``ucc_2022``             UserCentriCities dashboard framework 2022 (39 yes/no indicators,
                         12 sub-pillars, 3 pillars); no city data at indicator level
``ucc_2023``             the same for 2023 (41 indicators)
``ucc_dashboard_2022``   the published "Ranking based on 2022 data" (scored with the 2023
                         sub-pillars): cities' sub-pillar values ``round(yes / n, 2)`` with the
                         dashboard's rule (mean of the 12 sub-pillars); reproduces the published
                         % and ranks (:func:`dashboard_pct`)
``egov_2024``            EU eGovernment Benchmark 2024: 14 indicators, four top-level scores,
                         overall; published weights (user centricity = (6 OA + 1 MF + 2 US) / 9,
                         transparency = mean of 3); country data by biennial period
``egov_2024_pillars``    the four published top-level scores -> overall (their plain mean)
``losi_style``           a LOSI-*style* binary checklist (22 yes/no items in 5 criteria; score =
                         share of items met). Modelled on the structure of the UN Local Online
                         Service Index but **not** the official LOSI questionnaire or data
=======================  =====================================================================

The UserCentriCities and eGovernment frameworks and data come from helper B's source adapters
(:mod:`ucc_research.cleaning.sources.usercentricities`, ``egov_benchmark``); each preset's
``spec`` is the published aggregation rule (scores are already shares or 0-100 scores, so no
normalisation).

Examples
--------
>>> from ucc_research.indicators import build
>>> p = preset("losi_style")
>>> sorted(p.spec)  # doctest: +ELLIPSIS
['aggregate', 'denominate', ...]
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import pandas as pd

from ucc_research.errors import SpecError
from ucc_research.indicators.coin import load_spec

PRESETS = (
    "ucc_2022",
    "ucc_2023",
    "ucc_dashboard_2022",
    "egov_2024",
    "egov_2024_pillars",
    "losi_style",
)
_HERE = Path(__file__).resolve().parent / "presets"

# shares / 0-100 scores aggregated as published: no normalisation, weighted arithmetic mean
_SHARE_SPEC = {"normalise": {"method": "none"}, "aggregate": {"method": "arith_mean"}}

#: LOSI-style levels of the index (the UN LOSI uses the same four bands on its 0-1 score)
LOSI_LEVELS = ((0.75, "very high"), (0.50, "high"), (0.25, "middle"), (0.0, "low"))


@dataclass
class Preset:
    """A framework (iMeta), its build spec and, where published, its data (iData).

    Attributes
    ----------
    name, description : str
    imeta : DataFrame
    spec : dict
        The build spec as run (see :func:`ucc_research.indicators.load_spec`).
    idata : DataFrame or None
        Published data that goes with ``imeta`` (None when only the framework is public).
    source : str
        Where framework and data come from.
    """

    name: str
    description: str
    imeta: pd.DataFrame
    spec: dict[str, Any]
    idata: pd.DataFrame | None = None
    source: str = ""
    notes: dict[str, Any] = field(default_factory=dict)

    def build(self, idata: pd.DataFrame | None = None, **changes: Any):
        """Build the preset on ``idata`` (default: its published data), optionally changed."""
        from ucc_research.indicators.coin import build

        data = self.idata if idata is None else idata
        if data is None:
            raise SpecError(f"preset {self.name!r} has no published data; pass idata")
        coin = build(data, self.imeta, self.spec)
        return coin.rebuild(**changes) if changes else coin


def preset(name: str, raw_dir: str | Path | None = None) -> Preset:
    """One of :data:`PRESETS`.

    Parameters
    ----------
    name : str
    raw_dir : path, optional
        Folder holding ``usercentricities/`` and ``egov_benchmark_2024/`` (default
        ``config.raw_dir()``; the reference copies are in ``config.shared_data_dir()``).
    """
    if name not in PRESETS:
        raise SpecError(f"unknown preset {name!r}; presets are {', '.join(PRESETS)}")
    if name == "losi_style":
        return Preset(
            name=name,
            description=(
                "LOSI-style binary checklist (NOT the official UN LOSI): 22 yes/no items in 5 "
                "criteria; criterion = share of its items met, index = share of all items met"
            ),
            imeta=losi_style_meta(),
            spec=load_spec(_SHARE_SPEC),
            source="ucc_research (modelled on the structure of the UN DESA LOSI)",
        )
    if name.startswith("ucc"):
        from ucc_research.cleaning.sources import usercentricities as ucc

        if name == "ucc_dashboard_2022":
            points = ucc.city_points(raw_dir=_raw(raw_dir))
            return Preset(
                name=name,
                description=(
                    "UserCentriCities dashboard, ranking based on 2022 data (2023 sub-pillars): "
                    "sub-pillar = round(yes/n, 2), score = mean of the 12 sub-pillars"
                ),
                imeta=ucc.framework(
                    ucc.SCORING_FRAMEWORK, level="subpillar", raw_dir=_raw(raw_dir)
                ),
                spec=load_spec(_SHARE_SPEC),
                idata=dashboard_data(ucc.city_data(points)),
                source="usercentricities.eu/ucdashboard (via cleaning.sources.usercentricities)",
                notes={
                    "published": points.drop_duplicates("city")[
                        ["city", "published_rank", "published_overall_pct"]
                    ].reset_index(drop=True)
                },
            )
        year = int(name[-4:])
        return Preset(
            name=name,
            description=f"UserCentriCities dashboard framework {year} (yes/no indicators)",
            imeta=ucc.framework(year, raw_dir=_raw(raw_dir)),
            spec=load_spec(_SHARE_SPEC),
            source="github.com/lisboncouncil/ucdashboard (via cleaning.sources.usercentricities)",
        )
    from ucc_research.cleaning.sources import egov_benchmark as egov

    raw = _raw(raw_dir)
    scores = egov.read_workbook(raw).tables["egov_scores"]
    level = "pillar" if name.endswith("pillars") else "indicator"
    return Preset(
        name=name,
        description=(
            "EU eGovernment Benchmark 2024 "
            + (
                "top-level scores -> overall (plain mean)"
                if level == "pillar"
                else "indicators -> top-level scores (published weights) -> overall"
            )
        ),
        imeta=egov.framework(level),
        spec=load_spec(_SHARE_SPEC),
        idata=egov.country_data(scores, level=level),
        source="EU eGovernment Benchmark 2024 workbook (via cleaning.sources.egov_benchmark)",
    )


def _raw(raw_dir: str | Path | None) -> Path | None:
    return None if raw_dir is None else Path(raw_dir)


def losi_style_meta() -> pd.DataFrame:
    """iMeta of the LOSI-style checklist (``presets/losi_style.csv``).

    Criterion weights are their numbers of items, so the index (arithmetic mean of the
    criteria) equals the share of all items met, as a points-based checklist scores.
    """
    m = pd.read_csv(_HERE / "losi_style.csv")
    kids = m[m["Level"] == 1].groupby("Parent").size()
    agg = m["Level"] == 2
    if not (m.loc[agg, "Weight"].to_numpy() == kids.reindex(m.loc[agg, "iCode"]).to_numpy()).all():
        raise SpecError("presets/losi_style.csv: criterion weights must equal their item counts")
    return m


def losi_level(score: float) -> str:
    """The LOSI-style band of a 0-1 index score (very high >= 0.75, high >= 0.5, middle >= 0.25)."""
    if not 0 <= score <= 1:
        raise SpecError(f"LOSI-style score must be in [0, 1], got {score!r}")
    return next(label for lo, label in LOSI_LEVELS if score >= lo)


def _half_up(x: float | Decimal, digits: int) -> Decimal:
    return Decimal(str(x)).quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP)


def dashboard_data(city_data: pd.DataFrame) -> pd.DataFrame:
    """Sub-pillar values as the dashboard shows them: ``round(yes / n, 2)``, half up (PHP)."""
    out = city_data.copy()
    codes = [c[len("x_yes_") :] for c in out.columns if c.startswith("x_yes_")]
    for c in codes:
        out[c] = [
            float((Decimal(int(y)) / Decimal(int(n))).quantize(Decimal("0.01"), ROUND_HALF_UP))
            for y, n in zip(out[f"x_yes_{c}"], out[f"x_n_{c}"], strict=True)
        ]
    return out


def dashboard_pct(score: pd.Series) -> pd.DataFrame:
    """Published form of dashboard scores: ``round(score, 3)`` then ``round(100 x)``, half up.

    The score is a mean of 2-decimal values, so it is a multiple of 1/1200 up to floating
    noise; it is snapped to 9 decimals before rounding so that noise cannot flip a half.
    Returns ``overall``, ``shown_pct`` and ``rank`` (ties on the shown % share the best rank).
    """
    overall = [float(_half_up(round(float(s), 9), 3)) for s in score]
    shown = [int(_half_up(Decimal(str(o)) * 100, 0)) for o in overall]
    out = pd.DataFrame({"overall": overall, "shown_pct": shown}, index=score.index)
    out["rank"] = out["shown_pct"].rank(method="min", ascending=False).astype(int)
    return out
