"""311 adapters on the real Baltimore and NYC samples."""

import pandas as pd
import pytest

from ucc_research.cleaning.channels import CHANNELS, DIGITAL_CHANNELS
from ucc_research.cleaning.sources.requests_311 import (
    BALTIMORE,
    adapt_baltimore,
    adapt_log,
    adapt_nyc,
)
from ucc_research.cleaning.sources.requests_311 import NYC as NYC_SPEC

BALT = "baltimore_311_sample/311_sample.csv"
NYC = "nyc_311_sample_2025/311.csv"


def _frame(result, table):
    """A table of an adapter's result in memory (``requests`` is a dataset on disk)."""
    t = result.tables[table]
    return t.to_pandas() if hasattr(t, "to_pandas") else t


@pytest.fixture(scope="module")
def baltimore(tmp_path_factory):
    from conftest import RAW

    return adapt_baltimore(RAW)


def test_baltimore_rows_conserved_and_channels_match_readme(baltimore):
    r = baltimore
    assert r.rows_in == {BALT: 10000}
    assert r.conservation_problems() == []
    req = r.tables["requests"].to_pandas()
    assert req["created_at"].dt.tz is not None
    year = req["created_at"].dt.tz_convert("America/New_York").dt.year
    counts = pd.crosstab(year, req["channel_raw"])
    # README.txt: Phone/API/Internal by year
    readme = {2014: (972, 362, 375), 2015: (1013, 447, 363), 2016: (993, 559, 443),
              2017: (851, 569, 442), 2018: (1052, 576, 533)}  # fmt: skip
    for y, (phone, api, internal) in readme.items():
        assert tuple(counts.loc[y, ["Phone", "API", "Internal"]]) == (phone, api, internal)
    assert set(req["channel"]) <= set(CHANNELS)
    assert (req.loc[req["channel_raw"] == "API", "channel"] == "api").all()
    assert (req.loc[req["channel_raw"] == "System", "channel"] == "internal").all()


def test_baltimore_days_to_close_agree_with_daysopen(baltimore):
    from conftest import RAW

    raw = pd.read_csv(RAW / BALT, dtype=str, keep_default_na=False)
    req = baltimore.tables["requests"].to_pandas().set_index("request_id")
    closed = raw[raw["CloseDate"] != ""]
    days = req.loc[closed["ServiceRequestNum"], "days_to_close"].to_numpy()
    daysopen = pd.to_numeric(closed["DaysOpen"]).to_numpy()
    # DaysOpen is whole days to close: our exact span floors to it for nearly every request
    agree = (abs(days.round() - daysopen) <= 1).mean()
    assert agree > 0.97


def test_panel_adds_up_to_the_requests(baltimore):
    req = baltimore.tables["requests"].to_pandas()
    panel = baltimore.tables["service_panel"]
    assert panel["transactions_total"].sum() == len(req)
    digital = [f"transactions_{c}" for c in CHANNELS if c in DIGITAL_CHANNELS]
    assert (panel[digital].sum(axis=1) == panel["transactions_digital"]).all()
    assert panel["transactions_api"].sum() == (req["channel"] == "api").sum()
    share = panel["transactions_digital"] / panel["transactions_total"]
    assert (share - panel["digital_share"]).abs().max() < 1e-12
    one = panel[(panel["service_id"] == "SW-Dirty Alley") & (panel["period"] == "2018-04")]
    local = req["created_at"].dt.tz_convert("America/New_York")
    mask = (req["service_type"] == "SW-Dirty Alley") & (local.dt.strftime("%Y-%m") == "2018-04")
    assert one["transactions_total"].item() == mask.sum()
    assert one["days_to_close_median"].item() == pytest.approx(
        req.loc[mask, "days_to_close"].median()
    )


def test_nyc_maps_channels_and_city():
    from conftest import RAW

    r = adapt_nyc(RAW)
    assert r.rows_in == {NYC: 235} and r.conservation_problems() == []
    counts = r.tables["requests"].to_pandas()["channel"].value_counts().to_dict()
    assert counts == {"web": 107, "phone": 72, "mobile_app": 40, "unknown": 16}  # README counts
    assert set(r.tables["service_panel"]["period"]) == {"2025-03"}
    city = r.tables["cities"].iloc[0]
    assert (city["city_id"], city["country"], bool(city["synthetic"])) == ("US-NYC", "US", False)
    assert "real request-log" in city["note"]


def test_bad_rows_are_quarantined_with_raw_column_names(tmp_path):
    from conftest import RAW

    lines = (RAW / BALT).read_text().splitlines()
    header = lines[0].split(",")
    rows = lines[1:6]
    ci, cl, mi = (
        header.index("CreatedDate"),
        header.index("CloseDate"),
        header.index("MethodReceived"),
    )

    def edit(line, i, value):
        import csv
        import io

        f = next(csv.reader(io.StringIO(line)))
        f[i] = value
        out = io.StringIO()
        csv.writer(out, lineterminator="").writerow(f)
        return out.getvalue()

    rows[0] = edit(rows[0], ci, "31/12/2018 10:00:00 AM")  # bad date
    rows[1] = edit(rows[1], cl, "01/01/2000 10:00:00 AM")  # closed before created
    rows[2] = edit(rows[2], mi, "Carrier pigeon")  # unknown channel: kept as unknown
    rows[3] = rows[4]  # duplicate request id
    f = tmp_path / "311.csv"
    f.write_text("\n".join([lines[0], *rows]) + "\n")
    r = adapt_log(tmp_path, BALTIMORE, path=f)
    q = r.quarantine
    assert r.conservation_problems() == []
    assert r.rows_in == {"311.csv": 5} and r.rows_kept == {"311.csv": 1}
    got = set(zip(q["line"], q["column"], q["reason"].str.split(";").str[0], strict=True))
    assert (2, "CreatedDate", "not a date/time in the format %m/%d/%Y %I:%M:%S %p") in got
    assert (3, "CloseDate", "closed_at is before created_at") in got
    assert {g[0] for g in got if g[2] == "duplicate key (city_id, request_id)"} == {5, 6}
    kept = r.tables["requests"].to_pandas()
    assert kept["channel"].tolist() == ["unknown"] and kept["channel_raw"].tolist() == [
        "Carrier pigeon"
    ]
    assert any("Carrier pigeon" in n for n in r.notes)


def _spoil_baltimore(raw):
    """Bad dates, a close before creation, an id repeated far away, a cut-off last record."""
    f = raw / "baltimore_311_sample" / "311_sample.csv"
    lines = f.read_text().splitlines(keepends=True)
    fields = lines[4].split(",")
    fields[4] = "04/22/2O14 01:07:39 PM"  # line 5: not a date
    lines[4] = ",".join(fields)
    lines[9] = lines[9].replace("Phone", "Fax", 1)  # line 10: a label outside the mapping
    first_id = lines[2].split(",")[1]
    far = lines[8000].split(",")
    far[1] = first_id  # line 8001 repeats line 3's ServiceRequestNum: another block
    lines[8000] = ",".join(far)
    created = lines[20].split(",")[4]
    lines[20] = lines[20].replace(lines[20].split(",")[8], created.replace("20", "19", 1), 1)
    f.write_text("".join(lines)[:-40])  # the last record loses its end and line end
    return f


@pytest.mark.slow
@pytest.mark.parametrize("block_bytes", [1 << 12])  # 732 blocks of the Baltimore log, 39 of NYC's
def test_blocks_give_the_tables_quarantine_and_lines_of_one_block(raw_311, block_bytes):
    # issue 12: the shipped logs, in blocks small enough to span hundreds of them
    _spoil_baltimore(raw_311)
    quarantine = {}
    for spec in (BALTIMORE, NYC_SPEC):
        whole = adapt_log(raw_311, spec, block_bytes=None)
        blocks = adapt_log(raw_311, spec, block_bytes=block_bytes)
        quarantine[spec is BALTIMORE] = blocks.quarantine
        for name in whole.tables:
            pd.testing.assert_frame_equal(_frame(blocks, name), _frame(whole, name), obj=name)
        pd.testing.assert_frame_equal(blocks.quarantine, whole.quarantine)
        assert (blocks.rows_in, blocks.rows_kept) == (whole.rows_in, whole.rows_kept)
        assert blocks.detected == whole.detected and blocks.notes == whole.notes
    q = quarantine[True]  # Baltimore's, read in blocks
    reasons = q.groupby("line")["reason"].agg(" / ".join).to_dict()
    assert "not a date/time" in reasons[5]
    assert reasons[3] == reasons[8001] == "duplicate key (city_id, request_id); first on line 3"
    assert reasons[21] == "closed_at is before created_at / must not be negative"
    assert max(q["line"]) == 10001 and "cut off" in reasons[10001]


def test_a_log_that_is_not_regular_is_read_whole(raw_311):
    # a quoted newline (records are not lines): the block reader declines, the result is the same
    f = raw_311 / "nyc_311_sample_2025" / "311.csv"
    lines = f.read_text().splitlines(keepends=True)
    head = lines[0].split(",")
    col = head.index("Complaint Type")
    fields = lines[5].split(",")
    fields[col] = '"Noise\nResidential"'
    lines[5] = ",".join(fields)
    f.write_text("".join(lines))
    whole = adapt_log(raw_311, NYC_SPEC, block_bytes=None)
    blocks = adapt_log(raw_311, NYC_SPEC, block_bytes=1 << 12)
    pd.testing.assert_frame_equal(_frame(blocks, "requests"), _frame(whole, "requests"))
    assert blocks.detected == whole.detected
    assert whole.detected[NYC]["reader"] == "pandas"
    assert (_frame(whole, "requests")["service_type"] == "Noise\nResidential").sum() == 1
