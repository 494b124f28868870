"""Small, tested computations behind the report sections (tables the notebooks show).

Each function takes tidy tables (see DESIGN.md) and returns a tidy DataFrame; none plots or
prints, so the numbers in a report can be checked against them directly.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ucc_research.cleaning.schemas import SERVICE_FEATURES
from ucc_research.errors import SpecError

OUTCOMES = [
    "digital_share",
    "satisfaction",
    "completion_rate",
    "transactions_total",
    "cost_per_transaction",
    "days_to_close_median",
]
#: The service features of the ``service_panel`` contract, in its order.

#: Readers' names of the features of the shipped sources (any other: underscores as spaces).
FEATURE_LABELS = {
    "online_sophistication": "online sophistication level",
    "mobile_friendly": "mobile-friendly",
    "eid_login": "eID login",
    "prefilled_forms": "pre-filled forms",
    "proactive": "proactive delivery",
    "status_tracking": "status tracking",
    "feedback_channel": "feedback channel",
    "accessibility": "accessibility",
    "mobile_friendliness": "mobile-friendly",
    "eid": "eID",
    "edocuments": "eDocuments",
    "os_account_registration": "online account registration",
    "os_authentication": "online authentication",
    "os_application": "online application",
    "os_decision": "online decision",
    "os_issuance": "online issuance",
    "os_issue_resolution_feedback": "online issue resolution and feedback",
}


def prose_name(name: str) -> str:
    """An indicator's name for a sentence: its framework numbering left out.

    >>> prose_name("0 Overall eGovernment Benchmark score"), prose_name("1.1 Skills")
    ('Overall eGovernment Benchmark score', 'Skills')
    """
    import re

    return re.sub(r"^\d+(\.\d+)*\s+", "", str(name))


def feature_label(feature: str) -> str:
    """A feature's name for readers (``eid_login`` -> ``eID login``)."""
    return FEATURE_LABELS.get(str(feature), str(feature).replace("_", " "))


def _require(df: pd.DataFrame, columns: list[str], table: str) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise SpecError(f"{table}: missing columns {missing} (has {list(df.columns)})")


#: Months pooled for each service's "latest" outcomes (a year smooths monthly noise).
LATEST_WINDOW = 12


def latest_service_outcomes(panel: pd.DataFrame, window: int = LATEST_WINDOW) -> pd.DataFrame:
    """Each city's services over the city's latest ``window`` months: features, pooled outcomes.

    Digital share pools transactions (digital / all) over the window when the panel has the
    counts; satisfaction and completion are means of the monthly values; days to close is the
    median of the monthly medians; features are those of the latest period.

    Parameters
    ----------
    panel : the ``service_panel`` table.
    window : how many of the latest periods of each city x service to pool.

    Returns
    -------
    DataFrame with ``city_id``, ``service_id``, (``service_name``), ``period`` (the latest),
    ``first_period``, ``n_periods``, the features and outcomes present, one row per city x
    service with data in the window, sorted.
    """
    _require(panel, ["city_id", "service_id", "period"], "service_panel")
    extra = [c for c in ("service_name", "transactions_digital") if c in panel.columns]
    keep = ["city_id", "service_id", "period", *extra] + [
        c for c in [*SERVICE_FEATURES, *OUTCOMES] if c in panel.columns
    ]
    df = panel[keep].sort_values(["city_id", "service_id", "period"])
    # the window is the city's last `window` calendar months, so a sparse service is not pooled
    # over years (its few recent requests are what the city's last year shows)
    month = pd.Series(pd.PeriodIndex(df["period"], freq="M").asi8, index=df.index)
    recent = df[month.groupby(df["city_id"]).transform("max") - month < window]
    g = recent.groupby(["city_id", "service_id"], sort=True)
    out = g.tail(1).set_index(["city_id", "service_id"])
    out["first_period"] = g["period"].first()
    out["n_periods"] = g["period"].size()
    for col in ("satisfaction", "completion_rate", "cost_per_transaction"):
        if col in out:
            out[col] = g[col].mean()
    if "days_to_close_median" in out:
        out["days_to_close_median"] = g["days_to_close_median"].median()
    if {"transactions_digital", "transactions_total"} <= set(out.columns):
        tot = g["transactions_total"].sum(min_count=1)
        out["transactions_total"] = tot
        out["digital_share"] = g["transactions_digital"].sum(min_count=1) / tot.where(tot > 0)
    elif "digital_share" in out:
        out["digital_share"] = g["digital_share"].mean()
    return out.drop(columns=["transactions_digital"], errors="ignore").reset_index()


def service_comparison(
    mine: pd.DataFrame, latest: pd.DataFrame, *, min_n: int = 30, min_cities: int = 3
) -> pd.DataFrame:
    """One city's services against the other cities offering each: what a reader can trust.

    A share behind fewer than ``min_n`` transactions is withheld (NaN), and so is a band
    (25th-75th percentile of the other cities' shares) behind fewer than ``min_cities`` other
    cities with enough transactions. Shares are in %, satisfaction on 0-100, days in days.

    Returns
    -------
    DataFrame: ``service``, ``months``, ``transactions``, ``digital share %``, ``others p25``,
    ``others p75``, ``other cities``, and ``satisfaction`` / ``days to close`` where present.
    """
    _require(mine, ["city_id", "service_id"], "services_latest")
    city = str(mine["city_id"].iloc[0])
    has_n = "transactions_total" in latest.columns
    enough = latest["transactions_total"] >= min_n if has_n else pd.Series(True, latest.index)
    others = latest[(latest["city_id"].astype(str) != city) & enough]
    rows = []
    for _, r in mine.sort_values("service_id").iterrows():
        n = r.get("transactions_total", np.nan) if has_n else np.nan
        ok = (not has_n) or (pd.notna(n) and n >= min_n)
        peers = others.loc[others["service_id"] == r["service_id"], "digital_share"].dropna()
        banded = len(peers) >= min_cities
        row = {
            "service": r.get("service_name")
            if pd.notna(r.get("service_name", np.nan))
            else r["service_id"],
            "months": f"{r['first_period']} to {r['period']}"
            if "first_period" in r
            else r["period"],
            "transactions": n,
            "digital share %": 100 * r["digital_share"] if ok and "digital_share" in r else np.nan,
            "others p25": 100 * peers.quantile(0.25) if banded else np.nan,
            "others p75": 100 * peers.quantile(0.75) if banded else np.nan,
            "other cities": len(peers),
        }
        if "satisfaction" in r and pd.notna(r["satisfaction"]):
            row["satisfaction"] = r["satisfaction"]
        if "days_to_close_median" in r and pd.notna(r["days_to_close_median"]):
            row["days to close"] = r["days_to_close_median"] if ok else np.nan
        rows.append(row)
    return pd.DataFrame(rows)


def city_trend(panel: pd.DataFrame) -> pd.DataFrame:
    """Each city's digital share and mean satisfaction per period, across its services.

    Digital share is pooled over transactions (sum of digital / sum of total transactions) when
    the panel has the counts, so large services weigh more; otherwise the mean over services.
    """
    _require(panel, ["city_id", "period"], "service_panel")
    g = panel.groupby(["city_id", "period"], sort=True)
    out = pd.DataFrame(index=g.size().index)
    if {"transactions_digital", "transactions_total"} <= set(panel.columns):
        dig = g["transactions_digital"].sum(min_count=1)
        tot = g["transactions_total"].sum(min_count=1)
        out["digital_share"] = (dig / tot.where(tot > 0)).astype(float)
    elif "digital_share" in panel.columns:
        out["digital_share"] = g["digital_share"].mean()
    if "satisfaction" in panel.columns:
        out["satisfaction"] = g["satisfaction"].mean()
    out["n_services"] = g["service_id"].nunique() if "service_id" in panel.columns else np.nan
    if "transactions_total" in panel.columns:
        out["transactions_total"] = g["transactions_total"].sum(min_count=1)
    return out.reset_index()


def transferred_services(panel: pd.DataFrame) -> list[str]:
    """Services in which at least one city adopted a good practice transferred from another."""
    if "adopted_period" not in panel.columns:
        return []
    adopted = panel.loc[panel["adopted_period"].notna(), "service_id"]
    return sorted(adopted.astype(str).unique())


#: Canonical names of the panel columns the transfer analysis reads (``study.panel`` maps them).
PANEL_COLUMNS = {
    "unit": "city_id",
    "time": "period",
    "service": "service_id",
    "adoption": "adopted_period",
    "origin": "transferred_from",
}


def canonical_panel(study) -> pd.DataFrame:
    """The study's staggered-adoption panel with the canonical column names.

    ``impact.panel`` in the study maps a researcher's own columns (``unit``, ``time``,
    ``adoption``, optionally ``service`` and ``origin``) to the ``service_panel`` names the
    analyses use; a panel without a service column is one practice (``service_id`` "all"),
    one without an origin column has no origin city to leave out.
    """
    from ucc_research.reports.shared import NotApplicable

    mapping = study.panel
    table = study.read_table(mapping["table"])
    if mapping.get("adoption") and mapping["adoption"] not in table.columns:
        raise NotApplicable(f"the {mapping['table']} table records no adoption of a practice")
    # the default service_panel columns are optional (a 311 panel has no origin); a column the
    # study names explicitly must exist (the study check refuses it before any run)
    renames = {
        mapping[k]: v
        for k, v in PANEL_COLUMNS.items()
        if mapping.get(k) and mapping[k] in table.columns
    }
    missing = [mapping[k] for k in ("unit", "time") if mapping[k] not in table.columns]
    if missing:
        raise SpecError(f"{mapping['table']}: impact.panel names missing columns {missing}")
    out = table.rename(columns=renames)
    if "service_id" not in out:
        out["service_id"] = "all"
    if "transferred_from" not in out:
        out["transferred_from"] = None
    return out


def _year(values: pd.Series) -> pd.Series:
    """The year of a period: an integer year as it is, ``"2021-03"`` or a date by its year."""
    if pd.api.types.is_numeric_dtype(values):
        return values.astype("Float64").round().astype("Int64")
    text = values.astype("string")
    return text.str.slice(0, 4).astype("Float64").astype("Int64")


def transfer_panel(panel: pd.DataFrame, service_id: str) -> pd.DataFrame:
    """One transferred practice as a city x year panel for :func:`impact.staggered_did`.

    Outcomes (every numeric column) are the means of the values in the year. ``cohort`` is the
    year of adoption (0 for cities that never adopt); the origin city (``transferred_from``),
    where there is one, adopted before any comparison period and is left out, as in
    :func:`ucc_research.demo.transfer_panel`. ``attrs["origin"]`` names it (None without).
    """
    _require(panel, ["city_id", "service_id", "period", "adopted_period"], "service_panel")
    sp = panel[panel["service_id"] == service_id]
    if sp.empty:
        raise SpecError(f"service_panel: no rows for service {service_id!r}")
    origins = (
        sp["transferred_from"].dropna().astype(str).unique() if "transferred_from" in sp else []
    )
    if len(origins) > 1:
        raise SpecError(f"service {service_id!r}: expected one origin city, got {list(origins)}")
    origin = origins[0] if len(origins) else None
    if origin is not None:
        sp = sp[sp["city_id"] != origin]
    skip = {
        "city_id",
        "service_id",
        "period",
        "adopted_period",
        "transferred_from",
        "year",
        "cohort",
        *SERVICE_FEATURES,
    }
    cols = [
        c
        for c in sp.columns
        if c not in skip
        and pd.api.types.is_numeric_dtype(sp[c])
        and not pd.api.types.is_bool_dtype(sp[c])
    ]
    df = pd.DataFrame(
        {
            "city_id": sp["city_id"].astype(str).to_numpy(),
            "year": _year(sp["period"]).to_numpy(),
            "cohort": _year(sp["adopted_period"]).fillna(0).to_numpy(),
        }
    )
    for c in cols:
        df[c] = sp[c].to_numpy(dtype=float, na_value=np.nan)
    df["year"] = df["year"].astype("int64")
    df["cohort"] = df["cohort"].astype("int64")
    out = df.groupby(["city_id", "year", "cohort"], sort=True, as_index=False)[cols].mean()
    out.attrs["origin"] = origin
    return out


def adoption_status(panel: pd.DataFrame, services: list[str]) -> pd.DataFrame:
    """For every city and transferred service: does the city offer it, and when it adopted."""
    cities = sorted(panel["city_id"].astype(str).unique())
    sp = panel[panel["service_id"].isin(services)]
    first = sp.groupby(["city_id", "service_id"])["adopted_period"].agg(
        lambda s: s.dropna().min() if s.notna().any() else None
    )
    origin = sp.groupby("service_id")["transferred_from"].agg(
        lambda s: s.dropna().iloc[0] if s.notna().any() else None
    )
    rows = []
    for c in cities:
        for s in services:
            offered = (c, s) in first.index
            adopted = first.get((c, s)) if offered else None
            rows.append(
                {
                    "city_id": c,
                    "service_id": s,
                    "offered": offered,
                    "adopted_period": adopted,
                    "is_origin": c == origin.get(s),
                }
            )
    return pd.DataFrame(rows)


def inclusion_gaps(takeup: pd.DataFrame) -> pd.DataFrame:
    """Digital take-up gaps per city and year, pooled over services.

    A group's share is its digital users over its population (pooled over the city's
    services). Returns ``city_id``, ``year``, the share of each age group and gender
    (``share_age_<group>``, ``share_gender_<group>``), ``gap_65_vs_35_64`` (aged 65+ minus aged
    35-64) and ``gap_female_vs_male``, both in share points (x 100 = percentage points).
    """
    need = ["city_id", "year", "age_group", "gender", "population_in_group", "digital_users"]
    _require(takeup, need, "takeup_by_group")
    out = None
    for dim in ("age_group", "gender"):
        g = takeup.groupby(["city_id", "year", dim], sort=True)[
            ["digital_users", "population_in_group"]
        ].sum()
        share = g["digital_users"] / g["population_in_group"].where(g["population_in_group"] > 0)
        wide = share.unstack(dim)
        prefix = "share_age_" if dim == "age_group" else "share_gender_"
        wide.columns = [f"{prefix}{c}" for c in wide.columns]
        out = wide if out is None else out.join(wide)
    out = out.astype(float)
    if {"share_age_65+", "share_age_35-64"} <= set(out.columns):
        out["gap_65_vs_35_64"] = out["share_age_65+"] - out["share_age_35-64"]
    if {"share_gender_female", "share_gender_male"} <= set(out.columns):
        out["gap_female_vs_male"] = out["share_gender_female"] - out["share_gender_male"]
    return out.reset_index()


#: Below this many units in the smallest adopting cohort the Wald pre-test is read with caution.
PRETEST_MIN_COHORT = 30


def pretrend_check(res) -> dict:
    """The Wald pre-test of parallel trends of a staggered DiD, with what it can be trusted for.

    The test estimates the covariance of all pre-treatment ATT(g, t) from the units. With few
    units per cohort that covariance is noisy and the chi-squared reference rejects true parallel
    trends far more often than its nominal level (``benchmarks/sim_pretest_size.py``: with 36
    units, 4 cohorts and 10 pre-treatment cells, 72% of the time at 5%; with 150 units, 14%).
    ``caution`` is True
    when the smallest adopting cohort has fewer than :data:`PRETEST_MIN_COHORT` units.

    Parameters
    ----------
    res : StaggeredDiDResult

    Returns
    -------
    dict with ``W``, ``df``, ``p`` (None when there is no pre-treatment cell), ``n_units``,
    ``smallest_cohort`` (units), ``caution`` and ``reason`` (why there is no test, or None).
    """
    att = res.att_gt
    smallest = int(att.groupby("cohort")["n_treated"].max().min()) if len(att) else 0
    out = {
        "W": None,
        "df": None,
        "p": None,
        "n_units": int(res.n_units),
        "smallest_cohort": smallest,
        "caution": smallest < PRETEST_MIN_COHORT,
        "reason": None,
    }
    if not (att["cohort"] > att["time"]).any():
        out["reason"] = "no adopting cohort has a period before adoption to test"
        return out
    try:
        pt = res.pretest()
    except SpecError as exc:
        out["reason"] = str(exc)
        return out
    out.update(W=float(pt.W), df=int(pt.df), p=float(pt.p))
    return out
