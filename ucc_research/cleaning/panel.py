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
    # Everything is grouped on integer codes: each text column is factorised once, a
    # (city, service, month) cell gets one integer, and counts are bincounts. Grouping on the
    # text columns themselves costs seconds on a million requests.
    n = len(requests)
    city_code, cities = _text_codes(requests["city_id"], sort=True)
    service_code, services = _service_codes(requests["service_type"])
    first_month, month_code, n_months = _month_codes(requests["created_at"], timezone)
    channel_code, channel_labels = _text_codes(requests["channel"], sort=False)
    to_vocab = np.array([CHANNELS.index(c) if c in CHANNELS else -1 for c in channel_labels], int)
    channel_code = np.append(to_vocab, -1)[channel_code]  # -1: missing or outside the vocabulary
    cell = (city_code.astype("int64") * len(services) + service_code) * n_months + month_code
    n_cells = len(cities) * len(services) * n_months
    if n_cells <= 4 * n + 1_000_000:  # dense numbering of the cells present, in sorted order
        present = np.bincount(cell, minlength=n_cells) > 0
        cells = np.flatnonzero(present)
        group = (np.cumsum(present) - 1)[cell]
    else:
        cells, group = np.unique(cell, return_inverse=True)
    k = len(CHANNELS)
    known = channel_code >= 0
    counts = np.bincount(group[known] * k + channel_code[known], minlength=len(cells) * k)
    days = (requests["closed_at"] - requests["created_at"]) / pd.Timedelta(days=1)
    # grouped on the cell numbers as they are (categorical codes: no second factorisation)
    cell_of_row = pd.Categorical.from_codes(group, categories=pd.RangeIndex(len(cells)))
    median = pd.Series(days.to_numpy()).groupby(cell_of_row, observed=False)
    median = median.median().to_numpy()  # NaN where nothing was closed
    c, rest = np.divmod(cells, len(services) * n_months)
    sv, pr = np.divmod(rest, n_months)
    panel = _panel_frame(
        cities.to_numpy(dtype=object)[c],
        services.to_numpy(dtype=object)[sv],
        (first_month + pr).astype("datetime64[M]").astype("str"),  # "YYYY-MM"
        counts.reshape(len(cells), k),
        median,
    )
    panel["synthetic"] = False
    panel["source"] = pd.Series(_city_sources(requests, city_code, len(cities))[c], dtype="str")
    return panel


def _text_codes(values: pd.Series, *, sort: bool) -> tuple[np.ndarray, pd.Index]:
    """``pd.factorize`` of a text column (missing: -1). A categorical column (what the year
    files' dictionary-encoded columns read as) is coded from its categories, without a string
    per row."""
    if not isinstance(values.dtype, pd.CategoricalDtype):
        return pd.factorize(values.astype("str"), sort=sort)
    codes, labels = values.cat.codes.to_numpy(np.intp), values.cat.categories.astype("str")
    present = np.bincount(codes[codes >= 0], minlength=len(labels)) > 0
    if not present.all():  # categories no row has are not among the distinct values
        codes = np.append(np.cumsum(present) - 1, -1)[codes]  # code -1 (missing) stays -1
        labels = labels[present]
    if sort:
        order = np.argsort(labels.to_numpy(dtype=object), kind="stable")
        rank = np.empty_like(order)
        rank[order] = np.arange(len(order))
        codes, labels = np.append(rank, -1)[codes], labels[order]
    return codes, labels


def _service_codes(service_type: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """Sorted codes of the service types; a missing one is :data:`UNKNOWN_SERVICE`, sorted in."""
    service_code, services = _text_codes(service_type, sort=True)
    if (service_code < 0).any():
        if UNKNOWN_SERVICE not in services:
            services = pd.Index([*services, UNKNOWN_SERVICE], dtype="str")
        unknown = services.get_loc(UNKNOWN_SERVICE)
        service_code = np.where(service_code < 0, unknown, service_code)
        order = np.argsort(services.to_numpy(dtype=object), kind="stable")
        service_code = np.argsort(order)[service_code]
        services = services[order]
    return service_code, services


def _month_codes(created: pd.Series, timezone: str) -> tuple[int, np.ndarray, int]:
    """Calendar month of creation in local time: (first month as months since 1970-01, each
    request's month counted from it, number of months spanned)."""
    n = len(created)
    if created.isna().any():
        raise ValueError(
            f"{int(created.isna().sum())} requests without created_at: validate the requests "
            "table before building the panel"
        )
    if not isinstance(created.dtype, pd.DatetimeTZDtype):
        created = created.dt.tz_localize("UTC")  # naive times are UTC
    wall = created.dt.tz_convert(timezone).dt.tz_localize(None)
    # each day's month from a table over the days spanned (numpy's month unit is slow)
    day = wall.to_numpy(dtype="datetime64[ns]").view("int64") // 86_400_000_000_000
    first_day = int(day.min()) if n else 0
    days_spanned = np.arange(first_day, int(day.max()) + 1 if n else 0)
    month = days_spanned.astype("datetime64[D]").astype("datetime64[M]").astype("int64")
    month = month[day - first_day]
    first_month = int(month.min()) if n else 0
    month_code = month - first_month
    return first_month, month_code, int(month_code.max()) + 1 if n else 0


def _panel_frame(
    city: np.ndarray, service: np.ndarray, period: np.ndarray, counts: np.ndarray, median
) -> pd.DataFrame:
    """The panel's columns from each cell's city, service, month, channel counts, median
    (built as one frame: a column at a time cost several ms per call, a year file each)."""
    counts = counts.astype("float64")
    digital_cols = [j for j, c in enumerate(CHANNELS) if c in DIGITAL_CHANNELS]
    total, digital = counts.sum(axis=1), counts[:, digital_cols].sum(axis=1)
    columns = {"city_id": city, "service_id": service, "period": period.astype(object)}
    columns["service_name"] = service
    columns |= {f"transactions_{ch}": counts[:, j] for j, ch in enumerate(CHANNELS)}
    columns |= {
        "transactions_total": total,
        "transactions_digital": digital,
        "digital_share": np.where(total > 0, digital / np.where(total > 0, total, 1.0), np.nan),
        "days_to_close_median": median,
    }
    return pd.DataFrame(columns)


def _city_sources(requests: pd.DataFrame, city_code: np.ndarray, n_cities: int) -> np.ndarray:
    """Each city's source: its first request's with a source (None when none has one)."""
    n = len(requests)
    has_source = np.flatnonzero(requests["source"].notna().to_numpy())
    first = np.full(n_cities, n)
    np.minimum.at(first, city_code[has_source], has_source)
    found = first < n
    source = np.full(n_cities, None, dtype=object)
    source[found] = requests["source"].iloc[first[found]].astype("str").to_numpy(dtype=object)
    return source
