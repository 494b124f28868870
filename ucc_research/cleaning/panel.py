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
    # Group on integer codes (factorising each text column once): grouping on the text columns
    # themselves costs seconds on a million requests.
    service = requests["service_type"].fillna(UNKNOWN_SERVICE).astype("str")
    local = requests["created_at"].dt.tz_convert(timezone)
    month = (local.dt.year * 100 + local.dt.month).to_numpy(dtype="int64")
    city_code, cities = pd.factorize(requests["city_id"].astype("str"), sort=True)
    service_code, services = pd.factorize(service, sort=True)
    month_code, months = pd.factorize(month, sort=True)
    periods = np.array([f"{m // 100:04d}-{m % 100:02d}" for m in months], dtype=object)
    channel_code = pd.Categorical(requests["channel"], categories=CHANNELS).codes
    days = (requests["closed_at"] - requests["created_at"]).dt.total_seconds() / 86400.0
    work = pd.DataFrame(
        {"c": city_code, "s": service_code, "p": month_code, "ch": channel_code,
         "days": days.to_numpy(dtype="float64")}
    )  # fmt: skip
    codes = ["c", "s", "p"]
    counts = (
        work[work["ch"] >= 0]
        .groupby([*codes, "ch"], sort=True)
        .size()
        .unstack("ch", fill_value=0)
        .reindex(columns=range(len(CHANNELS)), fill_value=0)
    )
    groups = work.groupby(codes, sort=True)
    present = groups.size().index
    counts = counts.reindex(present, fill_value=0).astype("float64")
    counts.columns = [f"transactions_{c}" for c in CHANNELS]
    median = groups["days"].median()
    c, sv, pr = (present.get_level_values(k).to_numpy() for k in codes)
    keys = ["city_id", "service_id", "period"]
    counts.index = pd.MultiIndex.from_arrays(
        [cities.to_numpy(dtype=object)[c], services.to_numpy(dtype=object)[sv], periods[pr]],
        names=keys,
    )
    median.index = counts.index
    total = counts.sum(axis=1)
    digital = counts[[f"transactions_{c}" for c in CHANNELS if c in DIGITAL_CHANNELS]].sum(axis=1)
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
