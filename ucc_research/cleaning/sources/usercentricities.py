"""UserCentriCities benchmarking dashboard: framework presets and the cities' published points.

Raw files (``usercentricities/``, see its README.txt):

``ucc_indicators.csv``
    the framework: 12 sub-pillars in 3 pillars, 41 yes/no indicators in the 2023 schema and
    39 in the 2022 schema (no 2.6 Interoperability, plus 3.4 Environmental impact).
``ucc_dashboard_published_scores.csv``
    the 11 legible cities of the dashboard's "Ranking based on 2022 data": points (``yes_``)
    and maximum points (``n_``) per sub-pillar, with the published rank and overall %.
    The ``n_`` columns show that this ranking is scored with the **2023** sub-pillars (2.6
    present with 3 points, no 3.4).

The dashboard's rule (``DashboardController.php`` of github.com/lisboncouncil/ucdashboard):
sub-pillar value = ``round(yes / n, 2)``; city average = ``round(mean of the 12 values, 3)``;
shown and ranked as ``round(average * 100)`` %; cities sorted by average, ties on the shown %
share a rank (1, 1, 3). PHP rounds half away from zero; :func:`dashboard_scores` does the same
in exact rational arithmetic, so no binary-float tie can flip a digit.

Tables: ``iMeta_ucc_2022``, ``iMeta_ucc_2023`` (full presets: indicators Level 1, sub-pillars
Level 2, pillars Level 3, index Level 4), ``iData_ucc_2022`` (cities x sub-pillar ratios
``yes/n``, with the points as ``x_`` columns, which COINr ignores), ``iMeta_ucc_dashboard``
(the 2023 framework cut at the sub-pillar level, the iMeta that goes with ``iData_ucc_2022``)
and ``cities`` rows for the 11 cities.
"""

from __future__ import annotations

import math
from fractions import Fraction
from pathlib import Path

import numpy as np
import pandas as pd

from ucc_research import config
from ucc_research.cleaning.base import SourceResult
from ucc_research.cleaning.quarantine import concat_quarantine, file_problems
from ucc_research.cleaning.readers import LINE, read_table
from ucc_research.errors import DataFileError, SpecError

SOURCE = "usercentricities"
FOLDER = "usercentricities"
INDICATORS_FILE = "ucc_indicators.csv"
SCORES_FILE = "ucc_dashboard_published_scores.csv"
YEARS = (2022, 2023)
#: Data year of the published ranking and the framework it is scored with (see module doc).
DATA_YEAR = 2022
SCORING_FRAMEWORK = 2023

PILLARS = {"Enablers": "P1", "User-Centricity Performance": "P2", "Outcome": "P3"}
INDEX = "UCC"
INDEX_NAME = "UserCentriCities dashboard score"

#: Country (ISO 3166-1 alpha-2) of each city of the published ranking.
CITY_COUNTRY = {
    "Milan": "IT",
    "Rotterdam": "NL",
    "Tallinn": "EE",
    "Ghent": "BE",
    "Madrid": "ES",
    "Utrecht": "NL",
    "Helsinki": "FI",
    "Kyiv": "UA",
    "Porto": "PT",
    "Espoo": "FI",
    "Murcia": "ES",
}

_FRAMEWORK_COLUMNS = [
    "subpillar_key",
    "pillar",
    "subpillar",
    "field_key",
    "indicator_paraphrase",
    "in_2023_schema",
    "in_2022_schema",
]


def subpillar_code(key: str) -> str:
    """iCode of a sub-pillar key (``"2.6"`` -> ``"SP2_6"``)."""
    return "SP" + str(key).replace(".", "_")


def city_code(name: str) -> str:
    """``uCode`` / ``city_id`` of a city name (``"Milan"`` -> ``"ucc_milan"``)."""
    return "ucc_" + "_".join(str(name).lower().split())


def _raw(raw_dir: Path | None) -> Path:
    return Path(raw_dir) if raw_dir is not None else config.raw_dir()


def _read_indicators(raw_dir: Path) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """The framework rows that pass the checks, their quarantine and the reader's detection."""
    rel = f"{FOLDER}/{INDICATORS_FILE}"
    df, detected = read_table(raw_dir / rel, required_columns=_FRAMEWORK_COLUMNS, display_name=rel)
    problems: list[tuple[int, str, object, str]] = []
    for col in ("subpillar_key", "pillar", "subpillar", "field_key"):
        for line, v in zip(df[LINE], df[col], strict=True):
            if pd.isna(v) or not str(v).strip():
                problems.append((line, col, v, "empty"))
    for line, v in zip(df[LINE], df["pillar"], strict=True):
        if pd.notna(v) and v not in PILLARS:
            problems.append((line, "pillar", v, f"unknown pillar (known: {', '.join(PILLARS)})"))
    for col in ("in_2023_schema", "in_2022_schema"):
        for line, v in zip(df[LINE], df[col], strict=True):
            if v not in ("0", "1"):
                problems.append((line, col, v, "schema flag must be 0 or 1"))
    for line, a, b in zip(df[LINE], df["in_2023_schema"], df["in_2022_schema"], strict=True):
        if a == "0" and b == "0":
            problems.append((line, "in_2023_schema", a, "indicator in neither schema"))
    dup = df["field_key"].duplicated(keep="first")
    for line, v in zip(df.loc[dup, LINE], df.loc[dup, "field_key"], strict=True):
        problems.append((line, "field_key", v, "duplicated field key"))
    quarantine = file_problems(problems, detected, source=SOURCE, table="iMeta_ucc_2023", file=rel)
    bad = set(quarantine["line"].dropna().astype(int))
    kept = df[~df[LINE].isin(bad)].reset_index(drop=True)
    return kept, quarantine, detected


def framework(year: int, *, level: str = "indicator", raw_dir: Path | None = None) -> pd.DataFrame:
    """The dashboard framework of ``year`` as a COINr ``iMeta``.

    Parameters
    ----------
    year : 2022 (39 indicators: no 2.6, with 3.4) or 2023 (41 indicators).
    level : ``"indicator"`` (yes/no indicators Level 1, sub-pillars 2, pillars 3, index 4) or
        ``"subpillar"`` (sub-pillars Level 1, pillars 2, index 3: the level at which city
        points are published; use with :func:`city_data`, whose ``x_yes_*`` / ``x_n_*``
        points columns it lists with Type ``Other``).
    raw_dir : raw data folder (default ``config.raw_dir()``).

    Returns
    -------
    DataFrame
        ``iCode, iName, Level, Parent, Direction, Weight, Type, Denominator, Target``.
        Indicators and sub-pillars have weight 1 (a sub-pillar is the share of yes answers);
        each pillar's weight is its number of sub-pillars, so the arithmetic mean up the tree
        equals the dashboard's plain mean of the 12 sub-pillars. (The dashboard also rounds
        each sub-pillar to 2 decimals; :func:`dashboard_scores` reproduces that exactly.)

    Raises
    ------
    SpecError
        Unknown ``year`` or ``level``.

    Examples
    --------
    >>> m = framework(2023)  # from the shipped data/raw/usercentricities
    >>> m.groupby("Level").size().tolist()  # indicators, sub-pillars, pillars, index
    [41, 12, 3, 1]
    """
    if year not in YEARS:
        raise SpecError(f"UserCentriCities framework year must be one of {YEARS}, got {year!r}")
    if level not in ("indicator", "subpillar"):
        raise SpecError(f"level must be 'indicator' or 'subpillar', got {level!r}")
    rows, _, _ = _read_indicators(_raw(raw_dir))
    rows = rows[rows[f"in_{year}_schema"] == "1"]
    subs = rows.drop_duplicates("subpillar_key")
    meta = _framework_rows(rows, subs, level)
    out = pd.DataFrame(meta, columns=["iCode", "iName", "Level", "Parent", "Weight"])
    out["Type"] = np.where(out["Level"] == 1, "Indicator", "Aggregate")
    out["Direction"] = 1.0
    out["Denominator"] = pd.array([None] * len(out), dtype="string")
    out["Target"] = np.nan
    if level == "subpillar":
        out = pd.concat([out, _points_columns(subs)], ignore_index=True)
    out["Level"] = out["Level"].astype("Int64")
    out["Parent"] = out["Parent"].astype("string")
    cols = ["iCode", "iName", "Level", "Parent", "Direction", "Weight", "Type"]
    return out[[*cols, "Denominator", "Target"]]


def _framework_rows(rows: pd.DataFrame, subs: pd.DataFrame, level: str) -> list[tuple]:
    """(iCode, iName, Level, Parent, Weight) of the indicators (at ``level="indicator"``),
    sub-pillars, pillars (weight = number of sub-pillars) and the index."""
    base = 1 if level == "indicator" else 0
    meta = []
    if level == "indicator":
        for r in rows.itertuples():
            meta.append(
                (r.field_key, r.indicator_paraphrase, 1, subpillar_code(r.subpillar_key), 1.0)
            )
    for r in subs.itertuples():
        code = subpillar_code(r.subpillar_key)
        meta.append((code, f"{r.subpillar_key} {r.subpillar}", base + 1, PILLARS[r.pillar], 1.0))
    n_subs = subs.groupby("pillar")["subpillar_key"].size()
    for name, code in PILLARS.items():
        meta.append((code, name, base + 2, INDEX, float(n_subs.get(name, 0))))
    meta.append((INDEX, INDEX_NAME, base + 3, None, 1.0))
    return meta


def _points_columns(subs: pd.DataFrame) -> pd.DataFrame:
    """The points columns of :func:`city_data`: carried along, not aggregated (Type Other)."""
    other = [
        (f"x_{kind}_{subpillar_code(k)}", f"{label} of sub-pillar {k}")
        for kind, label in (("yes", "points"), ("n", "maximum points"))
        for k in subs["subpillar_key"]
    ]
    return pd.DataFrame(
        {
            "iCode": [o[0] for o in other],
            "iName": [o[1] for o in other],
            "Level": None,
            "Type": "Other",
            "Direction": np.nan,
            "Weight": np.nan,
        }
    )


def _read_points(raw_dir: Path, subpillar_n: dict[str, int]):
    rel = f"{FOLDER}/{SCORES_FILE}"
    keys = list(subpillar_n)
    required = [
        "city",
        "published_rank",
        "published_overall_pct",
        *[f"yes_{k}" for k in keys],
        *[f"n_{k}" for k in keys],
    ]
    df, detected = read_table(raw_dir / rel, required_columns=required, display_name=rel)
    problems: list[tuple[int, str, object, str]] = []
    for line, v in zip(df[LINE], df["city"], strict=True):
        if pd.isna(v) or not str(v).strip():
            problems.append((line, "city", v, "empty city name"))
        elif str(v).strip() not in CITY_COUNTRY:
            problems.append((line, "city", v, "city has no country in CITY_COUNTRY"))
    dup = df["city"].duplicated(keep="first")
    for line, v in zip(df.loc[dup, LINE], df.loc[dup, "city"], strict=True):
        problems.append((line, "city", v, "duplicated city"))
    for k in keys:
        for line, y, n in zip(df[LINE], df[f"yes_{k}"], df[f"n_{k}"], strict=True):
            if not str(n).strip().isdigit() or int(n) != subpillar_n[k]:
                problems.append(
                    (
                        line,
                        f"n_{k}",
                        n,
                        f"max points must be {subpillar_n[k]} (indicators of "
                        f"sub-pillar {k} in the {SCORING_FRAMEWORK} framework)",
                    )
                )
            elif not str(y).strip().isdigit() or int(y) > int(n):
                problems.append((line, f"yes_{k}", y, f"points must be a whole number 0..{n}"))
    for col in ("published_rank", "published_overall_pct"):
        for line, v in zip(df[LINE], df[col], strict=True):
            if not str(v).strip().isdigit():
                problems.append((line, col, v, "must be a whole number"))
    quarantine = file_problems(problems, detected, source=SOURCE, table="iData_ucc_2022", file=rel)
    bad = set(quarantine["line"].dropna().astype(int))
    kept = df[~df[LINE].isin(bad)].reset_index(drop=True)
    return kept, quarantine, detected


def _subpillar_sizes(raw_dir: Path) -> dict[str, int]:
    rows, _, _ = _read_indicators(raw_dir)
    rows = rows[rows[f"in_{SCORING_FRAMEWORK}_schema"] == "1"]
    return rows.groupby("subpillar_key", sort=False).size().astype(int).to_dict()


def city_points(raw_dir: Path | None = None) -> pd.DataFrame:
    """The published points, long: one row per city x sub-pillar.

    Returns
    -------
    DataFrame
        ``city``, ``subpillar`` (key, e.g. ``"1.1"``), ``yes`` (points), ``n`` (max points),
        ``published_rank``, ``published_overall_pct``. Rows that fail the checks are left out
        (see :func:`adapt` for their quarantine).
    """
    raw_dir = _raw(raw_dir)
    sizes = _subpillar_sizes(raw_dir)
    kept, _, _ = _read_points(raw_dir, sizes)
    return _points_long(kept, list(sizes))


def _points_long(kept: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    parts = [
        pd.DataFrame(
            {
                "city": kept["city"].str.strip(),
                "subpillar": k,
                "yes": kept[f"yes_{k}"].astype("int64"),
                "n": kept[f"n_{k}"].astype("int64"),
                "published_rank": kept["published_rank"].astype("int64"),
                "published_overall_pct": kept["published_overall_pct"].astype("int64"),
            }
        )
        for k in keys
    ]
    out = pd.concat(parts, ignore_index=True)
    order = {c: i for i, c in enumerate(kept["city"].str.strip())}
    out["_o"] = out["city"].map(order)
    out = out.sort_values(["_o"], kind="stable").drop(columns="_o")
    return out.reset_index(drop=True)


def _round_half_up(x: Fraction, digits: int) -> Fraction:
    """PHP ``round``: half away from zero, exact (``x`` >= 0 here)."""
    q = 10**digits
    return Fraction(math.floor(x * q + Fraction(1, 2)), q)


def dashboard_scores(points: pd.DataFrame) -> pd.DataFrame:
    """Reproduce the dashboard's city scores and ranking from sub-pillar points.

    Parameters
    ----------
    points : long table with columns ``city``, ``subpillar``, ``yes``, ``n`` (as returned by
        :func:`city_points`), or an ``iData`` with ``x_yes_<iCode>`` / ``x_n_<iCode>`` points
        columns (as returned by :func:`city_data`; cities are then named by ``uName``).
        Every city must have the same sub-pillars.

    Returns
    -------
    DataFrame
        One row per city, best first: ``city``, ``overall`` (``round(mean of round(yes/n, 2),
        3)``), ``overall_pct`` (``overall * 100``, as the README's recomputed column),
        ``shown_pct`` (``round(overall * 100)``, the % on the dashboard) and ``rank``
        (ties on ``shown_pct`` share the best rank: 1, 1, 3).

    Raises
    ------
    SpecError
        Missing columns, ``n <= 0``, ``yes`` outside ``0..n``, or cities with different
        sub-pillars.

    Examples
    --------
    >>> pts = pd.DataFrame({"city": ["A", "A", "B", "B"], "subpillar": ["1", "2", "1", "2"],
    ...                     "yes": [1, 2, 2, 1], "n": [2, 3, 2, 3]})
    >>> dashboard_scores(pts)[["city", "overall", "shown_pct", "rank"]].values.tolist()
    [['B', 0.665, 67, 1], ['A', 0.585, 59, 2]]
    """
    if "uCode" in points.columns:
        points = _points_from_idata(points)
    missing = [c for c in ("city", "subpillar", "yes", "n") if c not in points.columns]
    if missing:
        raise SpecError(f"points: missing column(s) {missing}")
    bad_n = points[~(points["n"] > 0)]
    if len(bad_n):
        r = bad_n.iloc[0]
        raise SpecError(
            f"points: n must be > 0 (city {r['city']!r}, sub-pillar {r['subpillar']!r})"
        )
    bad_y = points[(points["yes"] < 0) | (points["yes"] > points["n"])]
    if len(bad_y):
        r = bad_y.iloc[0]
        raise SpecError(
            f"points: yes={r['yes']} outside 0..{r['n']} (city {r['city']!r}, "
            f"sub-pillar {r['subpillar']!r})"
        )
    sets = points.groupby("city", sort=False)["subpillar"].apply(frozenset)
    if sets.nunique() > 1:
        raise SpecError("points: cities do not all have the same sub-pillars")
    rows = []
    for city, g in points.groupby("city", sort=False):
        values = [
            _round_half_up(Fraction(int(y), int(n)), 2)
            for y, n in zip(g["yes"], g["n"], strict=True)
        ]
        overall = _round_half_up(sum(values, Fraction(0)) / len(values), 3)
        rows.append((city, overall))
    rows.sort(key=lambda r: r[1], reverse=True)
    out, prev, rank = [], None, 0
    for i, (city, overall) in enumerate(rows):
        shown = int(_round_half_up(overall * 100, 0))
        if shown != prev:
            rank = i + 1
        prev = shown
        out.append((city, float(overall), float(overall * 100), shown, rank))
    return pd.DataFrame(out, columns=["city", "overall", "overall_pct", "shown_pct", "rank"])


def _points_from_idata(idata: pd.DataFrame) -> pd.DataFrame:
    codes = [c[len("x_yes_") :] for c in idata.columns if c.startswith("x_yes_")]
    absent = [f"x_n_{c}" for c in codes if f"x_n_{c}" not in idata.columns]
    if not codes or absent:
        raise SpecError(
            "iData: needs x_yes_<iCode> and x_n_<iCode> points columns"
            + (f"; missing {absent}" if absent else "")
        )
    names = idata["uName"] if "uName" in idata.columns else idata["uCode"]
    return pd.concat(
        [
            pd.DataFrame(
                {"city": names, "subpillar": c, "yes": idata[f"x_yes_{c}"], "n": idata[f"x_n_{c}"]}
            )
            for c in codes
        ],
        ignore_index=True,
    )


def city_data(points: pd.DataFrame, *, time: int = DATA_YEAR) -> pd.DataFrame:
    """``iData`` of the cities at sub-pillar level (COINr format).

    ``uCode`` (:func:`city_code`), ``uName``, ``Time``, one column per sub-pillar iCode with the
    unrounded share ``yes / n``, and the points themselves as ``x_yes_<iCode>`` and
    ``x_n_<iCode>`` (``x_`` columns are ignored by COINr). Pair it with
    ``framework(2023, level="subpillar")``.
    """
    wide = points.assign(
        code=points["subpillar"].map(subpillar_code), ratio=points["yes"] / points["n"]
    )
    cities = list(dict.fromkeys(wide["city"]))
    ratio = wide.pivot(index="city", columns="code", values="ratio").reindex(cities)
    yes = wide.pivot(index="city", columns="code", values="yes").reindex(cities)
    n = wide.pivot(index="city", columns="code", values="n").reindex(cities)
    codes = list(dict.fromkeys(wide["code"]))
    out = pd.DataFrame({"uCode": [city_code(c) for c in cities], "uName": cities, "Time": time})
    out = pd.concat(
        [
            out,
            ratio[codes].reset_index(drop=True),
            yes[codes].add_prefix("x_yes_").reset_index(drop=True).astype("int64"),
            n[codes].add_prefix("x_n_").reset_index(drop=True).astype("int64"),
        ],
        axis=1,
    )
    out.columns.name = None
    return out


def adapt(raw_dir: Path) -> SourceResult:
    """Read the framework and the published points: presets, ``iData_ucc_2022``, ``cities``."""
    raw_dir = Path(raw_dir)
    ind_rows, q_ind, det_ind = _read_indicators(raw_dir)
    sizes = (
        ind_rows[ind_rows[f"in_{SCORING_FRAMEWORK}_schema"] == "1"]
        .groupby("subpillar_key", sort=False)
        .size()
        .astype(int)
        .to_dict()
    )
    if len(sizes) != 12:
        raise DataFileError(
            f"{FOLDER}/{INDICATORS_FILE}",
            f"the {SCORING_FRAMEWORK} framework has {len(sizes)} sub-pillars, expected 12",
        )
    pts_rows, q_pts, det_pts = _read_points(raw_dir, sizes)
    points = _points_long(pts_rows, list(sizes))
    cities = list(dict.fromkeys(points["city"]))
    rel_ind, rel_pts = f"{FOLDER}/{INDICATORS_FILE}", f"{FOLDER}/{SCORES_FILE}"
    tables = {
        "iMeta_ucc_2022": framework(2022, raw_dir=raw_dir),
        "iMeta_ucc_2023": framework(2023, raw_dir=raw_dir),
        "iMeta_ucc_dashboard": framework(SCORING_FRAMEWORK, level="subpillar", raw_dir=raw_dir),
        "iData_ucc_2022": city_data(points),
        "cities": pd.DataFrame(
            {
                "city_id": [city_code(c) for c in cities],
                "name": cities,
                "country": [CITY_COUNTRY[c] for c in cities],
                "population": np.nan,
                "synthetic": False,
                "unit_type": "city",
                "source": SOURCE,
            }
        ),
    }
    return SourceResult(
        source=SOURCE,
        tables=tables,
        quarantine=concat_quarantine([q_ind, q_pts]),
        rows_in={rel_ind: det_ind["n_rows"], rel_pts: det_pts["n_rows"]},
        rows_kept={rel_ind: len(ind_rows), rel_pts: len(pts_rows)},
        detected={rel_ind: det_ind, rel_pts: det_pts},
        notes=[
            "usercentricities: the published 'Ranking based on 2022 data' is scored with the "
            "2023 sub-pillars (2.6 Interoperability, no 3.4), as its n_ columns show; "
            "iData_ucc_2022 goes with iMeta_ucc_dashboard (sub-pillar level).",
            "usercentricities: only the 11 legible cities of the published ranking; published "
            "ranks are ranks among all participating cities.",
        ],
    )
