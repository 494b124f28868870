"""Aggregate a request log (the ``requests`` table) to a monthly ``service_panel``.

One row per city x service type x month of creation (local city time), with

* ``transactions_<channel>`` for every channel of :data:`~ucc_research.cleaning.channels.CHANNELS`
  (0 when none), ``transactions_total`` (all channels, including ``internal`` and ``unknown``),
  ``transactions_digital`` (the channels of
  :data:`~ucc_research.cleaning.channels.DIGITAL_CHANNELS`) and
  ``digital_share = transactions_digital / transactions_total``;
* ``days_to_close_median``: median of ``closed_at - created_at`` in days over the month's
  requests that were closed when the extract was taken (missing when none was closed). Requests
  still open are not in the median, so recent months are biased towards quick closures.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ucc_research.cleaning.channels import CHANNELS, DIGITAL_CHANNELS

#: ``service_id`` of requests whose service type is missing.
UNKNOWN_SERVICE = "(unknown service type)"


def local_month(created_at: pd.Series, timezone: str) -> pd.Series:
    """``"YYYY-MM"`` of each tz-aware timestamp in local time of ``timezone``."""
    local = created_at.dt.tz_convert(timezone)
    year = local.dt.year.astype("Int64").astype("str")
    month = local.dt.month.astype("Int64").astype("str").str.zfill(2)
    return (year + "-" + month).astype("str")


def requests_to_panel(requests: pd.DataFrame, *, timezone: str) -> pd.DataFrame:
    """Monthly service panel of a ``requests`` table (one city or several in one time zone).

    Parameters
    ----------
    requests : validated ``requests`` rows (``city_id``, ``service_type``, ``channel``,
        ``created_at``, ``closed_at``, ``source``).
    timezone : IANA zone whose calendar months define ``period``.

    Returns
    -------
    DataFrame with the ``service_panel`` columns listed in the module docstring, sorted by
    ``city_id``, ``service_id``, ``period``; ``synthetic`` False.

    Examples
    --------
    >>> t = pd.Timestamp("2020-01-31 23:30", tz="America/New_York")
    >>> r = pd.DataFrame({"city_id": "X", "service_type": "pothole", "channel": ["web", "phone"],
    ...                   "created_at": [t, t], "closed_at": [t + pd.Timedelta("2D"), pd.NaT],
    ...                   "source": "s"})
    >>> p = requests_to_panel(r, timezone="America/New_York")
    >>> p[["period", "transactions_total", "digital_share", "days_to_close_median"]].values.tolist()
    [['2020-01', 2.0, 0.5, 2.0]]
    """
    service = requests["service_type"].fillna(UNKNOWN_SERVICE).astype("str")
    period = local_month(requests["created_at"], timezone)
    days = (requests["closed_at"] - requests["created_at"]).dt.total_seconds() / 86400.0
    work = pd.DataFrame(
        {
            "city_id": requests["city_id"].astype("str").to_numpy(),
            "service_id": service.to_numpy(),
            "period": period.to_numpy(),
            "channel": pd.Categorical(requests["channel"], categories=CHANNELS),
            "days": days.to_numpy(dtype="float64"),
        }
    )
    keys = ["city_id", "service_id", "period"]
    counts = (
        work.groupby([*keys, "channel"], observed=False, sort=True)
        .size()
        .unstack("channel", fill_value=0)
        .reindex(columns=list(CHANNELS), fill_value=0)
    )
    present = work.groupby(keys, sort=True).size().index
    counts = counts.reindex(present, fill_value=0).astype("float64")
    counts.columns = [f"transactions_{c}" for c in counts.columns]
    total = counts.sum(axis=1)
    digital = counts[[f"transactions_{c}" for c in CHANNELS if c in DIGITAL_CHANNELS]].sum(axis=1)
    median = work.groupby(keys, sort=True)["days"].median()
    panel = counts.assign(
        transactions_total=total,
        transactions_digital=digital,
        digital_share=np.where(total > 0, digital / total.where(total > 0, 1.0), np.nan),
        days_to_close_median=median.reindex(counts.index),
    ).reset_index()
    panel.insert(3, "service_name", panel["service_id"])
    sources = requests.groupby(requests["city_id"].astype("str"))["source"].first()
    panel["synthetic"] = False
    panel["source"] = panel["city_id"].map(sources).astype("str")
    return panel.sort_values(keys, kind="stable").reset_index(drop=True)
