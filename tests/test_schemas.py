"""Schemas: every rule quarantines the right line/column, and the pandera export agrees with the engine."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ucc_research.cleaning.schemas import pandera_schema, validate_frame
from ucc_research.errors import DataFileError


def _panel(n=6):
    return pd.DataFrame(
        {
            "city_id": ["C1"] * n,
            "service_id": ["S1"] * n,
            "period": [f"2024-{m:02d}" for m in range(1, n + 1)],
            "transactions_total": ["100"] * n,
            "transactions_web": ["30"] * n,
            "transactions_digital": ["40"] * n,
            "digital_share": ["0.4"] * n,
            "completion_rate": ["0.9"] * n,
            "satisfaction": ["70"] * n,
            "mobile_friendly": ["1"] * n,
            "online_sophistication": ["3"] * n,
            "adopted_period": [None] * n,
            "synthetic": ["true"] * n,
            "source": ["demo"] * n,
        }
    )


CORRUPTIONS = [
    ("digital_share", "1.5", "must be between 0 and 1"),
    ("completion_rate", "-0.1", "must be between 0 and 1"),
    ("transactions_total", "-1", "must not be negative"),
    ("transactions_web", "-2", "must not be negative"),
    ("transactions_digital", "101", "transactions_digital is greater than transactions_total"),
    ("satisfaction", "101", "must be between 0 and 100"),
    ("mobile_friendly", "0.5", "must be 0 or 1"),
    ("online_sophistication", "5", "must be between 0 and 4"),
    ("period", "2024-13", 'not a period ("YYYY-MM" or "YYYY")'),
    ("adopted_period", "May 2024", 'not a period ("YYYY-MM" or "YYYY")'),
    ("transactions_total", "lots", "not a number"),
    ("synthetic", "perhaps", "not a yes/no value"),
    ("city_id", None, "missing value"),
]


@pytest.mark.parametrize("column, value, reason", CORRUPTIONS)
def test_each_panel_rule(column, value, reason):
    df = _panel()
    df.loc[2, column] = value
    kept, q = validate_frame(df, "service_panel", file="p.csv", source="t")
    assert len(kept) == 5
    assert [3, column, reason] in q[["line", "column", "reason"]].values.tolist()
    assert set(q["line"]) == {3}


def test_duplicate_keys_quarantine_every_copy():
    df = _panel(3)
    df.loc[2, "period"] = "2024-01"
    kept, q = validate_frame(df, "service_panel", file="p.csv", source="t")
    assert kept["period"].tolist() == ["2024-02"]
    assert q["line"].tolist() == [1, 3]
    assert set(q["reason"]) == {"duplicate key (city_id, service_id, period); first on line 1"}


def test_missing_column_is_a_file_error():
    with pytest.raises(DataFileError, match=r"p.csv: not a service_panel table: missing column"):
        validate_frame(_panel().drop(columns="period"), "service_panel", file="p.csv", source="t")


def test_imeta_rules():
    meta = pd.DataFrame(
        {
            "iCode": ["a", "b", "c", "Index", "d"],
            "iName": ["A", "B", "C", "Index", "D"],
            "Level": ["1", "1", "0", "2", "1.5"],
            "Parent": ["Index", "Index", "Index", None, "Index"],
            "Direction": ["1", "0", "1", None, "-1"],
            "Weight": ["1", "1", "-1", "1", "1"],
            "Type": ["Indicator", "Indicator", "Indicator", "Aggregate", "Indicator"],
        }
    )
    kept, q = validate_frame(meta, "iMeta", file="m.csv", source="t")
    assert kept["iCode"].tolist() == ["a", "Index"]
    assert sorted(zip(q["line"], q["column"], strict=True)) == [
        (2, "Direction"), (3, "Level"), (3, "Weight"), (5, "Level"), (5, "Level")
    ]  # fmt: skip


def test_idata_indicator_columns_must_be_numeric():
    data = pd.DataFrame({"uCode": ["A", "B", "A"], "Time": ["2022", "2022", "2023"],
                         "Group_size": ["big", "small", "big"], "x1": ["1,5", "n/a", "3"]})  # fmt: skip
    kept, q = validate_frame(data, "iData", file="d.csv", source="t", decimal=",")
    assert kept["x1"].tolist() == [1.5, 3.0] and kept["Group_size"].tolist() == ["big", "big"]
    assert q[["line", "column", "value"]].values.tolist() == [[2, "x1", "n/a"]]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5), st.sampled_from(range(len(CORRUPTIONS)))), max_size=6))
def test_what_the_engine_keeps_passes_the_pandera_export(edits):
    # one engine; the pandera schema is the same declaration exported, and must agree with it
    df = _panel()
    for row, k in edits:
        column, value, _ = CORRUPTIONS[k]
        df.loc[row, column] = value
    kept, q = validate_frame(df, "service_panel", file="p.csv", source="t")
    assert len(kept) + q["line"].nunique() == len(df)
    pandera_schema("service_panel", list(kept.columns)).validate(kept)


def test_pandera_schema_accepts_typed_output():
    kept, _ = validate_frame(_panel(), "service_panel", file="p.csv", source="t")
    schema = pandera_schema("service_panel", list(kept.columns))
    assert len(schema.validate(kept)) == 6
    assert np.isclose(kept["digital_share"].sum(), 2.4)


def test_map_channels_counts_unmapped_labels_after_stripping():
    from ucc_research.cleaning.channels import BALTIMORE_CHANNELS, map_channels

    raw = pd.Series(["Phone", " phone", "Fax", " Fax ", None, "", "API", "web "], name="m")
    channel, unmapped = map_channels(raw, BALTIMORE_CHANNELS)
    assert channel.tolist() == ["phone", "phone", "unknown", "unknown", "unknown", "unknown",
                                "api", "web"]  # fmt: skip
    assert channel.name == "m"
    assert unmapped == {"": 2, "Fax": 2}  # missing and blank both counted as ""
