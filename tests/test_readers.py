"""Readers: dialect detection, line numbers, parsers that flag what they cannot parse."""

import codecs

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ucc_research.cleaning.readers import (
    LINE,
    US_12H,
    parse_bools,
    parse_datetimes,
    parse_numbers,
    read_table,
)
from ucc_research.errors import DataFileError

# --------------------------------------------------------------------------- round trips

_text = st.text(
    alphabet=st.sampled_from(list("abcxyzéèüßøçÅ Ö-_'.,;\t\"\n")), min_size=1, max_size=8
).filter(lambda s: s.strip() != "")


@st.composite
def tables(draw):
    n = draw(st.integers(1, 6))
    names = draw(st.lists(st.sampled_from(["ville", "Größe", "code", "x y", "note"]),
                          min_size=1, max_size=3, unique=True))  # fmt: skip
    labels = draw(st.lists(_text, min_size=n, max_size=n))
    values = draw(st.lists(st.floats(-1e6, 1e6, allow_nan=False).map(lambda v: round(v, 3)),
                           min_size=n, max_size=n))  # fmt: skip
    cols = {names[0]: labels}
    if len(names) > 1:
        cols[names[1]] = values
    for extra in names[2:]:
        cols[extra] = draw(st.lists(_text, min_size=n, max_size=n))
    return pd.DataFrame(cols)


def _write(df, path, sep, decimal, encoding, bom):
    text = df.to_csv(sep=sep, decimal=decimal, index=False, lineterminator="\n")
    data = text.encode(encoding)
    if bom:
        data = codecs.BOM_UTF8 + data
    path.write_bytes(data)
    return text


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    df=tables(),
    sep=st.sampled_from([",", ";", "\t"]),
    decimal=st.sampled_from([".", ","]),
    encoding=st.sampled_from(["utf-8", "cp1252"]),
    bom=st.booleans(),
)
def test_round_trip_every_dialect(tmp_path, df, sep, decimal, encoding, bom):
    if sep == decimal:
        decimal = "."
    bom = bom and encoding == "utf-8"
    path = tmp_path / "t.csv"
    text = _write(df, path, sep, decimal, encoding, bom)
    got, det = read_table(path, sep=sep if df.shape[1] == 1 else None)
    assert det["separator"] == sep
    assert det["bom"] is bom
    # the detected encoding reads the file's bytes back to the text written (for cp1252 with
    # accents that is cp1252 itself; plain ASCII is read as well by utf-8)
    raw = path.read_bytes()[3 if bom else 0 :]
    assert raw.decode(det["encoding"]) == raw.decode(encoding)
    if encoding == "utf-8":
        assert det["encoding"] == "utf-8"
    assert det["n_rows"] == len(df)
    assert list(got.columns[:-1]) == list(df.columns)
    # text columns come back exactly, including quoted separators and newlines
    for c in df.columns:
        if df[c].dtype != "float64":
            assert got[c].str.strip().tolist() == df[c].str.strip().tolist()
    # numbers parse back with the detected decimal mark
    for c in df.columns:
        if df[c].dtype == "float64":
            dec = det["decimal"] if (df[c] % 1 != 0).any() else decimal
            values, bad = parse_numbers(got[c], decimal=dec)
            assert not bad.any()
            np.testing.assert_allclose(values, df[c])
    # _line is the physical line where each record starts
    starts = [2]
    for i in range(len(df) - 1):
        starts.append(starts[-1] + 1 + sum(str(v).count("\n") for v in df.iloc[i]))
    assert got["_line"].tolist() == starts
    assert text.count("\n") == starts[-1] + sum(str(v).count("\n") for v in df.iloc[-1])


def test_lines_with_blank_lines_and_malformed_records(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text('a,b\n1,2\n\n"x\ny",3\n4,5,6\n7,8\n')
    df, det = read_table(path)
    assert df["_line"].tolist() == [2, 4, 7]
    assert df["a"].tolist() == ["1", "x\ny", "7"]
    assert det["empty_lines"] == [3]
    assert det["bad_lines"] == [{"line": 6, "reason": "expected 2 fields, saw 3"}]
    assert det["n_rows"] == 4
    # reading only some columns gives the same lines
    sub, det2 = read_table(path, usecols=["b"])
    assert sub.loc[sub["b"].notna(), "_line"].tolist() == [2, 4, 7]
    assert det2["bad_lines"] == det["bad_lines"]


def test_utf16_and_crlf_and_values_kept_as_text(tmp_path):
    path = tmp_path / "t.txt"
    path.write_bytes("code\tvalue\r\n007\t1,5\r\nNA\t\r\n".encode("utf-16"))
    df, det = read_table(path)
    assert (det["encoding"], det["separator"], det["line_terminator"]) == ("utf-16", "\t", "CRLF")
    assert df["code"].tolist() == ["007", "NA"]  # no leading-zero loss, "NA" is not missing
    assert df["value"].isna().tolist() == [False, True]


def test_excel_rows_and_parquet(tmp_path):
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Data"
    ws["A3"], ws["B3"] = "a", "b"  # header on sheet row 3
    ws["A4"], ws["B4"] = 1, 2.5
    ws["A6"] = "x"
    wb.save(tmp_path / "t.xlsx")
    df, det = read_table(tmp_path / "t.xlsx", sheet="Data")
    assert df["_line"].tolist() == [4, 6]
    assert df["a"].tolist() == ["1", "x"] and df["b"].tolist()[0] == "2.5"
    assert det["empty_lines"] == [5] and det["header_row"] == 3
    pd.DataFrame({"v": [1.5, 2.0]}).to_parquet(tmp_path / "t.parquet")
    df, det = read_table(tmp_path / "t.parquet")
    assert det["format"] == "parquet" and df["v"].dtype == "float64"
    assert df["_line"].tolist() == [1, 2]


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "file is empty"),
        (b"\n\n", "file is empty"),
        (b"a,b\x00\x01\x02", "NUL bytes"),
        (b"<html><body>404</body></html>", "HTML"),
        (b'{"a": 1}', "JSON"),
    ],
)
def test_unreadable_files(tmp_path, content, message):
    path = tmp_path / "t.csv"
    path.write_bytes(content)
    with pytest.raises(DataFileError, match=message) as exc:
        read_table(path)
    assert str(path) in str(exc.value)


def test_missing_columns_hint_at_separator(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("a|b\n1|2\n")
    with pytest.raises(DataFileError, match="missing required column"):
        read_table(path, required_columns=["a", "c"])
    with pytest.raises(DataFileError, match="cannot be decoded: not valid utf-8"):
        path.write_bytes("a,b\nÄ,1\n".encode("latin-1"))
        read_table(path, encoding="utf-8")
    path.write_bytes("a,b\nÄ,1\n".encode("latin-1"))
    df, det = read_table(path)
    assert det["encoding"] == "cp1252" and df["a"].tolist() == ["Ä"]


# --------------------------------------------------------------------------- parsers


def test_parse_numbers_formats_and_flags():
    v, bad = parse_numbers(pd.Series(["1.234,5", "12,0", "1,2,3", "", None, " 7 "]), ",", ".")
    assert v.tolist()[:2] == [1234.5, 12.0] and v.tolist()[5] == 7.0
    assert bad.tolist() == [False, False, True, False, False, False]
    v, bad = parse_numbers(pd.Series(["1 234,5", "2\u00a0000"]), ",", " ")
    assert v.tolist() == [1234.5, 2000.0] and not bad.any()
    v, bad = parse_numbers(pd.Series(["1.5", "1,5"]), decimal=",")
    assert bad.tolist() == [True, False]  # a dot in a decimal-comma file is not silently read


def test_parse_bools():
    v, bad = parse_bools(pd.Series(["Yes", "n", "1", "", "maybe"]))
    assert v.tolist()[:3] == [True, False, True] and bad.tolist() == [False] * 4 + [True]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.datetimes(min_value=pd.Timestamp("1800-01-01").to_pydatetime(),
                             max_value=pd.Timestamp("2200-01-01").to_pydatetime()),
                min_size=1, max_size=30),
       st.lists(st.sampled_from([
           "02/30/2019 01:00:00 AM", "13/01/2019 01:00:00 PM", "1/2/2019 1:02:03 PM",
           "01/02/2019 00:10:00 AM", "x", "", None, "02/29/2020 12:00:00 AM",
           "02/29/2019 12:00:00 AM", "02/29/1900 12:00:00 PM", "02/29/2000 12:00:00 PM",
           "12/31/2020 12:59:59 PM", "01/01/2020 12:00:60 AM", "01/01/2020 01:60:00 AM",
           "01/01/2020 01:00:00 XM", "01/01/2020 01:00:00 AN", " 1/01/2020 01:00:00 AM",
           "01/01/2020 01:00:00 AM ", "0a/01/2020 01:00:00 AM", "04/31/2020 01:00:00 PM",
           "00/10/2020 01:00:00 PM", "10/00/2020 01:00:00 PM", "10-10-2020 01:00:00 PM",
           "12/31/2261 11:59:59 PM", "01/01/1678 12:00:00 AM", "01/01/2020T01:00:00 AM"]),
                max_size=8))  # fmt: skip
def test_us_12h_fast_path_matches_strptime(times, odd):
    # the fixed-width byte parser (22-character entries) and the strptime path for the rest
    # must together give exactly what pandas' strptime gives
    text = pd.Series([t.replace(microsecond=0).strftime(US_12H) for t in times] + odd, dtype="str")
    got, bad, _ = parse_datetimes(text, US_12H)
    # surrounding spaces are ignored, as everywhere in the readers
    ref = pd.to_datetime(text.str.strip(), format=US_12H, errors="coerce").astype("datetime64[ns]")
    pd.testing.assert_series_equal(got, ref, check_names=False)
    assert bad.tolist() == (ref.isna() & text.notna() & (text.str.strip() != "")).tolist()


def test_dst_rules_are_explicit_and_counted():
    text = pd.Series(["11/03/2024 01:30:00 AM", "03/10/2024 02:30:00 AM", "07/01/2024 12:00:00 PM"])
    got, bad, dst = parse_datetimes(text, US_12H, tz="America/New_York")
    assert dst == {"ambiguous": 1, "nonexistent": 1}
    assert not bad.any()
    assert got.iloc[0] == pd.Timestamp("2024-11-03 05:30", tz="UTC")  # first (EDT) occurrence
    assert got.iloc[1] == pd.Timestamp("2024-03-10 03:00", tz="America/New_York")
    got, _, _ = parse_datetimes(text, US_12H, tz="America/New_York", ambiguous="latest")
    assert got.iloc[0] == pd.Timestamp("2024-11-03 06:30", tz="UTC")
    # text with an offset is converted, not re-localised
    got, _, _ = parse_datetimes(pd.Series(["2024-07-01T12:00:00+02:00"]), tz="America/New_York")
    assert got.iloc[0] == pd.Timestamp("2024-07-01 10:00", tz="UTC")


def test_dates_outside_the_nanosecond_range_are_unparseable_not_a_crash():
    # pandas keeps year 18 or 3000 in a coarser unit; converting it raised OutOfBoundsDatetime
    text = pd.Series(["04/12/18 11:11:26 AM", "04/12/0018 11:11:26 AM", "04/12/2018 11:11:26 PM"])
    got, bad, _ = parse_datetimes(text, US_12H)
    assert bad.tolist() == [True, True, False]
    assert got.iloc[2] == pd.Timestamp("2018-04-12 23:11:26")
    got, bad, _ = parse_datetimes(pd.Series(["0018-04-12", "3000-01-01", "2018-04-12"]))
    assert bad.tolist() == [True, True, False] and got.isna().tolist() == [True, True, False]


REGULAR = {
    "quotes and separators": 'id;name;note;amount\n1;"Café ""Ré""";"a;b";1,5\n2;;" x ";\n3;Zoë;"";-2\n',
    "blank line": "id,note\n1,x\n\n2,y\n",
}
IRREGULAR = {  # left to the pandas reader, which numbers and reports such records
    "quoted newline": 'id,note\n1,"two\nlines"\n2,x\n',
    "ragged record": "id,note\n1,x,extra\n2,y\n",
    "short record": "id,note,more\n1,x\n2,y,z\n",
    "duplicate header": "id,id,x\n1,2,3\n",
}


def _outcome(path, cols):
    try:
        return read_table(path, usecols=cols)
    except DataFileError as exc:
        return str(exc)


@pytest.mark.parametrize("case", [*REGULAR, *IRREGULAR])
@pytest.mark.parametrize("usecols", [None, "last two"])
def test_arrow_fast_path_reads_exactly_what_the_pandas_path_reads(
    tmp_path, monkeypatch, case, usecols
):
    from ucc_research.cleaning import readers

    text = REGULAR.get(case) or IRREGULAR[case]
    path = tmp_path / "f.csv"
    path.write_text(text, encoding="utf-8")
    header = text.split("\n", 1)[0].replace(";", ",").split(",")
    cols = None if usecols is None else header[-2:]
    fast = _outcome(path, cols)
    monkeypatch.setattr(readers, "_arrow_read", lambda *a: None)
    slow = _outcome(path, cols)
    if isinstance(slow, str):
        assert fast == slow  # the same error
    else:
        pd.testing.assert_frame_equal(fast[0], slow[0])
        assert slow[1].pop("reader") == "pandas"
        # the fast path took the regular files, and only those
        assert fast[1].pop("reader") == ("pyarrow" if case in REGULAR else "pandas")
        assert fast[1] == slow[1]


@pytest.mark.parametrize(
    "tail, reader, encoding",
    [
        (b"caf\xe9,2\n", "pandas", "cp1252"),  # cp1252 after a first block that is plain ASCII
        (b'"two\nlines",2\n', "pandas", "utf-8"),  # a quoted newline after the first block
        ("caf\u00e9,2\n".encode(), "pyarrow", "utf-8"),
    ],
)
def test_pyarrow_reads_only_files_the_whole_file_scan_finds_regular(
    tmp_path, tail, reader, encoding
):
    # a late cp1252 byte or quoted newline, past the first block, sends the file to pandas
    from ucc_research.cleaning import readers

    rows = (readers._CHUNK // 8) + 100  # "x00001,1\n" lines: past the first block
    body = b"".join(b"x%05d,1\n" % (i % 100000) for i in range(rows))
    path = tmp_path / "big.csv"
    path.write_bytes(b"name,n\n" + body + tail + b"last,3\n")
    df, det = read_table(path)
    assert (det["reader"], det["encoding"]) == (reader, encoding)
    assert len(df) == rows + 2
    assert df["name"].iloc[-2] in ("café", "two\nlines")
    assert df[LINE].iloc[-1] == rows + 3 + (tail.count(b"\n") - 1)


@pytest.mark.parametrize(
    "block_bytes", [pytest.param(1 << 10, marks=pytest.mark.slow), 1 << 14, 64 << 20]
)
def test_blocks_concatenate_to_the_whole_file_read(tmp_path, block_bytes):
    from pathlib import Path

    from ucc_research.cleaning.readers import NotStreamable, read_table_blocks

    raw = Path(__file__).resolve().parents[1] / "data" / "raw"
    cut = tmp_path / "cut.csv"
    cut.write_bytes((raw / "nyc_311_sample_2025" / "311.csv").read_bytes()[:-25])
    empty_record = tmp_path / "empty_record.csv"
    empty_record.write_text("a,b\n1,2\n,\n3,4\n")
    for path, usecols in [
        (raw / "nyc_311_sample_2025" / "311.csv", ["Unique Key", "Created Date"]),
        (raw / "baltimore_311_sample" / "311_sample.csv", None),
        (cut, None),
        (empty_record, None),
    ]:
        whole, d_whole = read_table(path, usecols=usecols)
        blocks, d_blocks = read_table_blocks(path, usecols=usecols, block_bytes=block_bytes)
        parts = list(blocks)
        pd.testing.assert_frame_equal(pd.concat(parts, ignore_index=True), whole)
        assert d_blocks == d_whole
        if block_bytes == 1 << 10 and path.stat().st_size > 1 << 12:
            assert len(parts) > 3
    # a file the blocks cannot number (CR-only line ends, cp1252, a quoted newline): declined
    (tmp_path / "cr.csv").write_bytes(b"a,b\r1,2\r")
    (tmp_path / "cp.csv").write_bytes(b"a,b\ncaf\xe9,2\n")
    (tmp_path / "nl.csv").write_bytes(b'a,b\n"x\ny",2\n3,4\n')
    for name in ("cr.csv", "cp.csv", "nl.csv"):
        with pytest.raises(NotStreamable):
            blocks, _ = read_table_blocks(tmp_path / name, block_bytes=block_bytes)
            list(blocks)
