"""City-year indicators of the demo user-centricity index, in COINr's iData/iMeta form.

Computed from the panel (random stream 12 for the co-design counts and the missing years).
``use_app`` is a raw count with ``population`` as Denominator, ``exp_codesign`` is heavily
right-skewed (it triggers winsorisation), ``exp_satisf`` and ``exp_codesign`` have missing
city-years (no survey / not reported).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ucc_research.demo.catalogue import rng

#: iCode, iName, Parent, Direction, Unit of the Level-1 indicators.
INDICATORS = [
    ("sup_soph", "Mean online sophistication of services", "SUP", 1, "level 0-4"),
    ("sup_mobile", "Services that are mobile friendly", "SUP", 1, "%"),
    ("sup_eid", "Services with national eID login", "SUP", 1, "%"),
    ("sup_proactive", "Services delivered proactively", "SUP", 1, "%"),
    ("use_digital", "Transactions made digitally", "USE", 1, "%"),
    ("use_app", "Mobile app transactions", "USE", 1, "transactions per year"),
    ("use_inperson", "Transactions made in person", "USE", -1, "%"),
    ("exp_satisf", "Mean user satisfaction", "EXP", 1, "score 0-100"),
    ("exp_complete", "Completion rate of online applications", "EXP", 1, "%"),
    ("exp_days", "Median days to close a request (mean over services)", "EXP", -1, "days"),
    ("exp_codesign", "Co-design sessions held with users", "EXP", 1, "sessions per year"),
    ("inc_gap65", "Digital-share gap, aged 35-64 minus 65+", "INC", -1, "percentage points"),
    ("inc_access", "Services meeting accessibility standards", "INC", 1, "%"),
    ("inc_feedback", "Services with a user feedback channel", "INC", 1, "%"),
]
#: iCode, iName of the pillars (Level 2, parent ``UCI``).
PILLARS = [
    ("SUP", "Online supply"),
    ("USE", "Digital take-up"),
    ("EXP", "User experience"),
    ("INC", "Inclusion"),
]
_IMETA_COLUMNS = [
    "iCode",
    "iName",
    "Level",
    "Parent",
    "Direction",
    "Weight",
    "Type",
    "Denominator",
    "Target",
    "Unit",
]
_GROUPS_AND_DENOMINATOR = [
    # iCode, iName, Type, Unit
    ("Group_country", "Country", "Group", None),
    ("Group_size", "City size class (S < 100k, M < 500k, L)", "Group", None),
    ("population", "Population", "Denominator", "inhabitants"),
]


def make_indicators(
    seed: int, cities: pd.DataFrame, panel: pd.DataFrame, takeup: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The demo's iData (one row per city-year) and iMeta (indicators, pillars, index).

    Examples
    --------
    >>> from ucc_research.demo import generate
    >>> d = generate(seed=2, n_cities=6, n_services=2, years=(2018, 2020))
    >>> d.imeta.loc[d.imeta["Level"] == 2, "iCode"].tolist()
    ['SUP', 'USE', 'EXP', 'INC']
    >>> len(d.idata) == 6 * 3
    True
    """
    ind = _city_year_values(seed, cities, panel, takeup)
    return _idata(ind, cities), _imeta()


def _city_year_values(
    seed: int, cities: pd.DataFrame, panel: pd.DataFrame, takeup: pd.DataFrame
) -> pd.DataFrame:
    """One row per city-year and one column per indicator (iCode)."""
    r = rng(seed, 12)
    p = panel.assign(year=panel["period"].str.slice(0, 4).astype("int64"))
    g = p.groupby(["city_id", "year"], sort=True)
    feat = g[
        [
            "online_sophistication",
            "mobile_friendly",
            "eid_login",
            "proactive",
            "accessibility",
            "feedback_channel",
        ]
    ].mean()
    sums = g[
        [
            "transactions_total",
            "transactions_digital",
            "transactions_mobile_app",
            "transactions_in_person",
        ]
    ].sum()
    means = g[["satisfaction", "completion_rate", "days_to_close_median"]].mean()
    ind = pd.DataFrame(index=feat.index)
    ind["sup_soph"] = feat["online_sophistication"].round(3)
    ind["sup_mobile"] = (100 * feat["mobile_friendly"]).round(2)
    ind["sup_eid"] = (100 * feat["eid_login"]).round(2)
    ind["sup_proactive"] = (100 * feat["proactive"]).round(2)
    ind["use_digital"] = (100 * sums["transactions_digital"] / sums["transactions_total"]).round(3)
    ind["use_app"] = sums["transactions_mobile_app"].astype(float)
    ind["use_inperson"] = (100 * sums["transactions_in_person"] / sums["transactions_total"]).round(
        3
    )
    ind["exp_satisf"] = means["satisfaction"].round(2)
    ind["exp_complete"] = (100 * means["completion_rate"]).round(2)
    ind["exp_days"] = means["days_to_close_median"].round(2)
    years = np.sort(ind.index.get_level_values("year").unique())
    base = np.exp(r.normal(1.0, 1.1, cities.shape[0]))  # co-design intensity: heavy right tail
    lam = base[:, None] * (1 + 0.15 * np.arange(len(years)))[None, :]
    ind["exp_codesign"] = r.poisson(lam).ravel().astype(float)
    ind["inc_gap65"] = _gap_65plus(takeup).reindex(ind.index).round(3)
    ind["inc_access"] = (100 * feat["accessibility"]).round(2)
    ind["inc_feedback"] = (100 * feat["feedback_channel"]).round(2)
    # missing survey / reporting years, at random
    ind.loc[r.random(len(ind)) < 0.08, "exp_satisf"] = np.nan
    ind.loc[r.random(len(ind)) < 0.10, "exp_codesign"] = np.nan
    return ind.reset_index()


def _gap_65plus(takeup: pd.DataFrame) -> pd.Series:
    """Digital share of the 35-64 minus that of the 65+, percentage points, by city-year."""
    tk = takeup[takeup["age_group"].isin(["35-64", "65+"])]
    tk = tk.groupby(["city_id", "year", "age_group"], sort=True)[
        ["digital_users", "population_in_group"]
    ].sum()
    tk_share = (tk["digital_users"] / tk["population_in_group"]).unstack("age_group")
    return (tk_share["35-64"] - tk_share["65+"]) * 100


def _idata(ind: pd.DataFrame, cities: pd.DataFrame) -> pd.DataFrame:
    """iData: unit code and name, time, groups, denominator, then the indicators."""
    c = cities.set_index("city_id")
    idata = pd.DataFrame(
        {
            "uCode": ind["city_id"].astype("str"),
            "uName": c.loc[ind["city_id"], "name"].to_numpy(),
            "Time": ind["year"].astype("int64"),
            "Group_country": c.loc[ind["city_id"], "country"].to_numpy(),
            "Group_size": c.loc[ind["city_id"], "size_class"].to_numpy(),
            "population": c.loc[ind["city_id"], "population"].to_numpy().astype(float),
        }
    )
    for code, *_ in INDICATORS:
        idata[code] = ind[code].to_numpy()
    for col in ["uName", "Group_country", "Group_size"]:
        idata[col] = idata[col].astype("str")
    return idata


def _imeta() -> pd.DataFrame:
    """iMeta: indicators (Level 1), pillars (2), the index (3), groups and the denominator."""
    rows = [
        (code, name, 1, parent, direction, 1.0, "Indicator", _denominator(code), None, unit)
        for code, name, parent, direction, unit in INDICATORS
    ]
    rows += [
        (code, name, 2, "UCI", 1, 1.0, "Aggregate", None, None, "score") for code, name in PILLARS
    ]
    index_name = "Demo user-centricity index (SYNTHETIC)"
    rows.append(("UCI", index_name, 3, None, 1, 1.0, "Aggregate", None, None, "score"))
    rows += [
        (code, name, None, None, None, None, kind, None, None, unit)
        for code, name, kind, unit in _GROUPS_AND_DENOMINATOR
    ]
    imeta = pd.DataFrame(rows, columns=_IMETA_COLUMNS)
    imeta["Level"] = imeta["Level"].astype("Int64")
    imeta["Direction"] = imeta["Direction"].astype("Int64")
    imeta["Weight"] = imeta["Weight"].astype("Float64")
    imeta["Target"] = imeta["Target"].astype("Float64")
    for col in ["iCode", "iName", "Parent", "Type", "Denominator", "Unit"]:
        imeta[col] = imeta[col].astype("str")
    return imeta


def _denominator(code: str) -> str | None:
    """``use_app`` is a count, divided by ``population``; the others are already ratios."""
    return "population" if code == "use_app" else None
