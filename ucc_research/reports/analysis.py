"""Small, tested computations behind the report sections (tables the notebooks show).

Each function takes tidy tables (see DESIGN.md) and returns a tidy DataFrame; none plots or
prints, so the numbers in a report can be checked against them directly.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ucc_research.errors import SpecError

OUTCOMES = [
    "digital_share",
    "satisfaction",
    "completion_rate",
    "transactions_total",
    "cost_per_transaction",
    "days_to_close_median",
]
FEATURES = [
    "online_sophistication",
    "mobile_friendly",
    "eid_login",
    "prefilled_forms",
    "proactive",
    "status_tracking",
    "feedback_channel",
    "accessibility",
]


def _require(df: pd.DataFrame, columns: list[str], table: str) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise SpecError(f"{table}: missing columns {missing} (has {list(df.columns)})")


def latest_service_outcomes(panel: pd.DataFrame) -> pd.DataFrame:
    """Each city's services in the latest period it reports them: features and outcomes.

    Parameters
    ----------
    panel : the ``service_panel`` table.

    Returns
    -------
    DataFrame with ``city_id``, ``service_id``, ``period`` and the features and outcomes present,
    one row per city x service, sorted.
    """
    _require(panel, ["city_id", "service_id", "period"], "service_panel")
    keep = ["city_id", "service_id", "period"] + [
        c for c in FEATURES + OUTCOMES if c in panel.columns
    ]
    df = panel[keep].sort_values(["city_id", "service_id", "period"])
    latest = df.groupby(["city_id", "service_id"], sort=True).tail(1)
    return latest.reset_index(drop=True)


def service_summary(latest: pd.DataFrame) -> pd.DataFrame:
    """Per service: how many cities offer it and the spread of digital share and satisfaction.

    Returns one row per ``service_id`` with ``n_cities`` and the 25th, 50th and 75th percentiles
    (``<outcome>_p25`` ...) of ``digital_share`` and ``satisfaction`` across cities.
    """
    _require(latest, ["city_id", "service_id"], "services_latest")
    g = latest.groupby("service_id", sort=True)
    out = g["city_id"].nunique().rename("n_cities").to_frame()
    for col in ("digital_share", "satisfaction"):
        if col in latest.columns:
            for q in (25, 50, 75):
                out[f"{col}_p{q}"] = g[col].quantile(q / 100)
    return out.reset_index()


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
    return out.reset_index()


def rank_in_group(
    values: pd.Series, unit: str, *, higher_is_better: bool = True
) -> tuple[int, int]:
    """Competition rank ("1224") of ``unit`` within ``values`` (indexed by unit) and group size."""
    if unit not in values.index:
        raise SpecError(f"unit {unit!r} is not among {list(values.index)[:10]}")
    v = values.dropna()
    r = v.rank(method="min", ascending=not higher_is_better)
    return int(r[unit]), int(len(v))
