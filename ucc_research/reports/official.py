"""Official figures first: the scores and ranks a source publishes, reproduced by its rule.

Where a source publishes scores (the UserCentriCities dashboard, the EU eGovernment Benchmark),
a report's headline is the published score and rank; a rebuilt index appears beside it with the
difference explained (:data:`DIFFERENCES`).

``published_scores(study, source)`` returns one row per unit of the study: ``uCode``, ``name``,
``published_score`` (on the published scale), ``published_rank`` (as published; ``None`` where
the source publishes no rank), ``reproduced_score`` and ``reproduced_rank`` (the published rule
applied by this package to the published inputs), ``scale``, ``rank_among`` (how many units the
published rank is among), ``period`` and ``source``.
"""

from __future__ import annotations

import pandas as pd

from ucc_research.errors import SpecError

#: ``framework.official`` values a study may name.
SOURCES = ("ucc_dashboard_2022", "egov_2024")

#: Why a rebuilt index may differ from the published figures, per source.
DIFFERENCES = {
    "ucc_dashboard_2022": (
        "The dashboard rounds each sub-pillar share to two decimals, averages the 12 "
        "sub-pillars and shows the result as a whole percentage; its ranks are among all the "
        "cities of the published ranking, tied cities sharing the better rank. The study's own "
        "build uses the unrounded shares and ranks only the 11 cities whose points are legible."
    ),
    "egov_2024": (
        "The Benchmark's overall score is the published 2022-23 biennial average of its four "
        "top-level scores, each built from the national service assessments. The study's own "
        "build aggregates the published indicator scores of the latest year in the indicator "
        "table, so it can differ by a point or more, and its ranks can differ with it."
    ),
}


def published_scores(study, source: str) -> pd.DataFrame:
    """The published headline figures for the study's units (see module doc)."""
    if source not in SOURCES:
        raise SpecError(
            f"study {study.name!r}: framework.official must be one of {SOURCES}, got {source!r}"
        )
    if source == "ucc_dashboard_2022":
        return _ucc_dashboard()
    scores = study.read_table("egov_scores")
    names = study.unit_names()
    return _egov_overall(scores, names)


def _ucc_dashboard() -> pd.DataFrame:
    """Published % and rank of the 2022 dashboard, with the published rule reproduced."""
    from ucc_research.indicators.presets import dashboard_pct, preset

    p = preset("ucc_dashboard_2022")
    coin = p.build()
    top = coin.framework.codes(coin.framework.n_levels)[0]
    rule = dashboard_pct(coin.scores.set_index("uCode")[top])
    names = p.idata.set_index("uCode")["uName"].astype(str)
    published = p.notes["published"].set_index("city")
    rows = []
    for code, r in rule.iterrows():
        name = names[code]
        pub = published.loc[name]
        rows.append(
            {
                "uCode": str(code),
                "name": name,
                "published_score": float(pub["published_overall_pct"]),
                "published_rank": int(pub["published_rank"]),
                "reproduced_score": float(r["shown_pct"]),
                "reproduced_rank": int(r["rank"]),
                "scale": "% of the dashboard's maximum",
                "rank_among": "among all cities of the published ranking",
                "period": "2022 data",
                "source": "UserCentriCities dashboard, ranking based on 2022 data",
            }
        )
    return pd.DataFrame(rows).sort_values(["published_rank", "name"]).reset_index(drop=True)


def _egov_overall(scores: pd.DataFrame, names: dict[str, str]) -> pd.DataFrame:
    """The Benchmark's published overall score (indicator ``0``), latest biennial average."""
    need = {"country_code", "unit_type", "indicator_code", "period_type", "scope", "value"}
    missing = need - set(scores.columns)
    if missing:
        raise SpecError(f"egov_scores: missing columns {sorted(missing)}")
    o = scores[
        (scores["indicator_code"].astype(str) == "0")
        & (scores["period_type"] == "biennial_average")
        & (scores["scope"] == "all")
        & (scores["unit_type"] == "country")
    ]
    if o.empty:
        raise SpecError("egov_scores: no published overall (indicator 0) biennial averages")
    last = o["year_end"].max()
    o = o[o["year_end"] == last].copy()
    first = int(o["year_start"].iloc[0])
    # The workbook publishes scores, not ranks: the rank is the order of the published score
    # among the countries assessed (ties share the better rank), said so in every table.
    o["rank"] = o["value"].rank(method="min", ascending=False).astype(int)
    rebuilt = _egov_rule(int(last)).reindex(o["country_code"].astype(str))
    o["reproduced"] = rebuilt.to_numpy()
    out = pd.DataFrame(
        {
            "uCode": o["country_code"].astype(str),
            "name": [names.get(str(c), str(c)) for c in o["country_code"]],
            "published_score": o["value"].astype(float),
            "published_rank": o["rank"].astype(int),
            "reproduced_score": o["reproduced"].astype(float),
            "reproduced_rank": o["reproduced"].rank(method="min", ascending=False).astype("Int64"),
            "scale": "0-100",
            "rank_among": f"of {len(o)} countries, ordered by the published score",
            "period": f"{first}-{str(int(last))[-2:]}",
            "source": "EU eGovernment Benchmark 2024 (overall score)",
        }
    )
    return out.sort_values(["published_rank", "name"]).reset_index(drop=True)


def _egov_rule(year_end: int) -> pd.Series:
    """Overall = plain mean of the four published top-level scores (preset ``egov_2024_pillars``)."""
    from ucc_research import config
    from ucc_research.indicators.presets import preset

    coin = preset("egov_2024_pillars", raw_dir=config.raw_dir()).build()
    top = coin.framework.codes(coin.framework.n_levels)[0]
    s = coin.scores[coin.scores["Time"] == year_end]
    return s.set_index(s["uCode"].astype(str))[top].astype(float)
