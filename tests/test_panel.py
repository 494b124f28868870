"""The monthly service panel equals a plain, slow groupby over the requests."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ucc_research.cleaning.channels import CHANNELS, DIGITAL_CHANNELS
from ucc_research.cleaning.panel import UNKNOWN_SERVICE, requests_to_panel


def reference_panel(req: pd.DataFrame, timezone: str) -> pd.DataFrame:
    period = req["created_at"].dt.tz_convert(timezone).dt.strftime("%Y-%m")
    service = req["service_type"].astype(object).where(req["service_type"].notna(), UNKNOWN_SERVICE)
    days = (req["closed_at"] - req["created_at"]).dt.total_seconds() / 86400.0
    source = {c: g.dropna().iloc[0] if g.notna().any() else None
              for c, g in req["source"].astype(object).groupby(req["city_id"].astype(object))}  # fmt: skip
    rows = []
    keys = [req["city_id"].astype(object), service, period]
    for (city, svc, month), g in req.groupby(keys, sort=True):
        row = {"city_id": city, "service_id": svc, "period": month, "service_name": svc}
        for ch in CHANNELS:
            row[f"transactions_{ch}"] = float((g["channel"] == ch).sum())
        total = sum(row[f"transactions_{ch}"] for ch in CHANNELS)
        digital = sum(row[f"transactions_{ch}"] for ch in CHANNELS if ch in DIGITAL_CHANNELS)
        row.update(
            transactions_total=total,
            transactions_digital=digital,
            digital_share=digital / total if total else np.nan,
            days_to_close_median=days.loc[g.index].median(),
            synthetic=False,
            source=source[city],
        )
        rows.append(row)
    return pd.DataFrame(rows)


@st.composite
def request_logs(draw):
    n = draw(st.integers(1, 60))
    # late October to January: a DST change, and month ends that differ between zones
    base = pd.Timestamp("2023-10-25", tz="UTC")
    created = pd.DatetimeIndex(
        [
            base
            + pd.Timedelta(days=draw(st.integers(0, 90)), hours=draw(st.integers(0, 23)))
            + pd.Timedelta(seconds=draw(st.integers(0, 3599)))
            for _ in range(n)
        ]
    )
    days = [draw(st.one_of(st.none(), st.floats(0, 30))) for _ in range(n)]
    closed = created + pd.to_timedelta([np.nan if d is None else d for d in days], unit="D")
    pick = lambda options: [draw(st.sampled_from(options)) for _ in range(n)]  # noqa: E731
    return pd.DataFrame(
        {
            "city_id": pd.Series(pick(["B", "A", "é"]), dtype="str"),
            "service_type": pd.Series(
                pick(["pothole", "Noise", None, UNKNOWN_SERVICE]), dtype="str"
            ),
            "channel": pd.Series(pick(list(CHANNELS)), dtype="str"),
            "created_at": created,
            "closed_at": closed,
            "source": pd.Series(pick(["s1", "s2", None]), dtype="str"),
        }
    )


@settings(max_examples=60, deadline=None)
@given(request_logs(), st.sampled_from(["America/New_York", "Europe/Paris", "UTC"]))
def test_panel_is_the_plain_groupby(req, timezone):
    got = requests_to_panel(req, timezone=timezone)
    ref = reference_panel(req, timezone)
    text = {c: "str" for c in ("city_id", "service_id", "service_name", "period", "source")}
    pd.testing.assert_frame_equal(
        got.astype(text),
        ref[got.columns].astype(text),
        check_dtype=False,
        rtol=1e-12,
    )
    # text read as categoricals (the year files' dictionary columns), with categories in any
    # order and some that no row has: the same panel
    cat = {
        c: pd.CategoricalDtype(["zz-unused", *sorted(req[c].dropna().unique(), reverse=True)])
        for c in ("city_id", "service_type", "channel", "source")
    }
    pd.testing.assert_frame_equal(requests_to_panel(req.astype(cat), timezone=timezone), got)


def test_empty_log_gives_an_empty_panel_with_every_column():
    req = pd.DataFrame(
        {c: pd.Series([], dtype="str") for c in ("city_id", "service_type", "channel", "source")}
        | {c: pd.Series([], dtype="datetime64[ns, UTC]") for c in ("created_at", "closed_at")}
    )
    got = requests_to_panel(req, timezone="UTC")
    assert len(got) == 0
    assert "transactions_total" in got and "days_to_close_median" in got


def test_a_request_without_creation_time_is_refused_not_guessed():
    t = pd.Timestamp("2024-01-05", tz="UTC")
    req = pd.DataFrame(
        {"city_id": "X", "service_type": "a", "channel": "web", "source": "s",
         "created_at": [t, pd.NaT], "closed_at": [t, t]}
    )  # fmt: skip
    with pytest.raises(ValueError, match="1 requests without created_at"):
        requests_to_panel(req, timezone="UTC")


def test_categorical_columns_without_any_value_give_the_text_panel():
    # a year file whose source or service type is missing on every row (found by hypothesis)
    t = pd.Timestamp("2024-01-05", tz="UTC")
    req = pd.DataFrame(
        {"city_id": "X", "service_type": pd.Series([None, None], dtype="str"),
         "channel": ["web", "phone"], "source": pd.Series([None, None], dtype="str"),
         "created_at": [t, t], "closed_at": [t, pd.NaT]}
    )  # fmt: skip
    cat = {c: pd.CategoricalDtype(["b", "a"]) for c in ("city_id", "service_type", "source")}
    cat["city_id"] = pd.CategoricalDtype(["Y", "X"])
    got = requests_to_panel(req.astype(cat), timezone="UTC")
    pd.testing.assert_frame_equal(got, requests_to_panel(req, timezone="UTC"))
    assert got["service_id"].tolist() == [UNKNOWN_SERVICE] and got["source"].isna().all()
