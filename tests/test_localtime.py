"""Hour-table time-zone conversions give exactly pandas' results, in every IANA zone."""

import zoneinfo
from fractions import Fraction

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ucc_research.cleaning.localtime import NAT, elapsed_days, localize_strict, to_wall

ZONES = sorted(zoneinfo.available_timezones() - {"Factory", "localtime"})


def _pandas_localize(wall, tz):
    return (
        pd.DatetimeIndex(wall.view("datetime64[ns]"))
        .tz_localize(tz, ambiguous="NaT", nonexistent="NaT")
        .asi8
    )


def _pandas_wall(utc, tz):
    idx = pd.DatetimeIndex(utc.view("datetime64[ns]")).tz_localize("UTC")
    return idx.tz_convert(tz).tz_localize(None).asi8


def _changes(tz: str, start: str, end: str) -> np.ndarray:
    """UTC hours (ns) where the zone's offset changes, found on an hourly UTC grid."""
    utc = pd.date_range(start, end, freq="h", tz="UTC")
    offset = utc.tz_convert(tz).tz_localize(None).asi8 - utc.tz_localize(None).asi8
    return utc.asi8[1:][np.diff(offset) != 0]


@pytest.mark.parametrize("tz", ZONES)
def test_every_zone_exactly_as_pandas_around_its_offset_changes(tz):
    rng = np.random.default_rng(sum(map(ord, tz)))
    minute = 60_000_000_000
    for start in ("1905", "1944", "1975", "2005", "2024"):
        end = str(int(start) + 3)
        lo, hi = pd.Timestamp(start).value, pd.Timestamp(end).value
        changes = _changes(tz, start, end)[:12]
        # every 7 minutes from 3 hours before to 3 hours after each change, plus random times
        near = (changes[:, None] + np.arange(-180, 181, 7) * minute).ravel()
        values = np.concatenate([rng.integers(lo, hi, 2000), near, [NAT]]).astype("int64")
        np.testing.assert_array_equal(localize_strict(values, tz), _pandas_localize(values, tz))
        np.testing.assert_array_equal(to_wall(values, tz), _pandas_wall(values, tz))


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.integers(pd.Timestamp("2015-01-01").value, pd.Timestamp("2026-01-01").value),
            st.just(NAT),
        ),
        max_size=50,
    ),
    st.sampled_from(["America/New_York", "Europe/Paris", "Australia/Lord_Howe", "Asia/Kathmandu"]),
)
def test_dst_hours_exactly_as_pandas(values, tz):
    # whole and half hours near the changes: gaps and folds of 1 hour and 30 minutes
    wall = np.array(values, dtype="int64")
    wall = np.where(wall == NAT, NAT, wall - wall % 1_800_000_000_000)
    np.testing.assert_array_equal(localize_strict(wall, tz), _pandas_localize(wall, tz))
    np.testing.assert_array_equal(to_wall(wall, tz), _pandas_wall(wall, tz))


def test_edges_of_the_nanosecond_range_and_empty_input():
    edge = np.array([pd.Timestamp.min.value + 10, pd.Timestamp.max.value - 10**15, NAT])
    np.testing.assert_array_equal(localize_strict(edge, "UTC"), _pandas_localize(edge, "UTC"))
    assert len(localize_strict(np.array([], dtype="int64"), "Europe/Paris")) == 0
    assert (to_wall(np.array([NAT, NAT]), "Europe/Paris") == NAT).all()


@given(
    st.lists(
        st.tuples(
            st.one_of(st.none(), st.integers(0, 10**18)),
            st.one_of(st.none(), st.integers(0, 10**18)),
        ),
        max_size=30,
    ),
    st.sampled_from(["UTC", "America/New_York", None]),
)
def test_elapsed_days_is_the_exact_duration_correctly_rounded(pairs, tz):
    def series(values):
        s = pd.Series(pd.to_datetime(values, unit="ns"), dtype="datetime64[ns]")
        return s.dt.tz_localize("UTC").dt.tz_convert(tz) if tz else s

    got = elapsed_days(series([p[0] for p in pairs]), series([p[1] for p in pairs]))
    for (a, b), day in zip(pairs, got, strict=True):
        if a is None or b is None:
            assert np.isnan(day)
            continue
        exact = Fraction(b - a, 86_400 * 10**9)
        if abs(b - a) < 2**53:
            assert day == float(exact)  # correctly rounded
        else:
            # the difference is rounded to a float first: twice 2**-53, relative
            assert abs(Fraction(day) - exact) <= abs(exact) * Fraction(1001, 1000 * 2**52)
