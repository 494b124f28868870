"""Readers for the files public bodies actually publish.

:func:`read_table` reads a CSV/TSV/TXT, Excel (``.xlsx``/``.xlsm``) or parquet file into a frame of
**strings** (for text files and workbooks), detecting and recording the dialect: encoding (UTF-8
with or without BOM, UTF-16 with BOM, cp1252, latin-1), separator (``,`` ``;`` tab ``|``),
decimal mark, quote character. Every row carries ``_line``: the 1-based physical line where the
record starts (header = line 1, so the first data row is line 2, also when quoted fields contain
newlines), or the sheet row for workbooks, or the row number for parquet.

The ``parse_*`` helpers that turn those strings into numbers, dates or booleans are in
:mod:`ucc_research.cleaning.parsers` (importable from here too).

Examples
--------
>>> from ucc_research import config
>>> df, detected = read_table(config.raw_dir() / "nyc_311_sample_2025" / "311.csv")
>>> detected["separator"], detected["encoding"], len(df)
(',', 'utf-8', 235)
"""

from __future__ import annotations

import codecs
import csv
import io as _io
import re
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from ucc_research import config
from ucc_research.cleaning.parsers import (  # noqa: F401  (the parsers' old home: re-exported)
    NAT,
    US_12H,
    parse_bools,
    parse_datetimes,
    parse_numbers,
)
from ucc_research.errors import DataFileError

#: Name of the column holding each record's line (CSV) / sheet row (Excel) / row number (parquet).
LINE = "_line"

TEXT_SUFFIXES = {".csv", ".tsv", ".txt", ".tab", ""}
EXCEL_SUFFIXES = {".xlsx", ".xlsm"}
PARQUET_SUFFIXES = {".parquet", ".pq"}

_SEPARATORS = (",", ";", "\t", "|")
_CHUNK = 1 << 20
_SAMPLE_CHARS = 1 << 16
_ARROW_BLOCK = 4 << 20  # pyarrow's default 1 MB makes hundreds of chunks per column
_FALLBACK_ENCODINGS = ("cp1252", "latin-1")
#: Reason recorded for the last record of a text file that does not end with a line end.
CUT_OFF = (
    "the file ends inside this record (no line end after it): it may be cut off; "
    "end the file with a line end if the record is complete"
)


# --------------------------------------------------------------------------------------------
# public API


def read_table(
    path: str | Path,
    *,
    sheet: str | int | None = None,
    required_columns: Sequence[str] | None = None,
    usecols: Sequence[str] | None = None,
    encoding: str | None = None,
    sep: str | None = None,
    decimal: str | None = None,
    display_name: str | None = None,
) -> tuple[pd.DataFrame, dict]:
    """Read one table file as strings, detecting and recording its dialect.

    Parameters
    ----------
    path : file to read (``.csv``, ``.tsv``, ``.txt``, ``.xlsx``, ``.xlsm``, ``.parquet``).
    sheet : sheet name (or 0-based index) for workbooks; default: the first sheet.
    required_columns : columns that must be present, else :class:`DataFileError` naming them.
    usecols : read only these columns (faster on wide files); must include the required ones.
    encoding, sep, decimal : force a value instead of detecting it.
    display_name : how the file is named in error messages (default: ``path``).

    Returns
    -------
    df : the records; text and workbook cells as pandas ``str`` (empty cell = missing), plus the
        integer column ``_line``. Records with no value at all are left out and listed in
        ``detected["empty_lines"]``; records with too many fields are left out and listed in
        ``detected["bad_lines"]`` (``[{"line": n, "reason": ...}]``) so the caller can
        quarantine them.
    detected : ``format``, ``encoding``, ``bom``, ``separator``, ``decimal``, ``thousands``,
        ``quotechar``, ``sheet``, ``n_rows`` (data records read, including bad lines),
        ``columns``, ``empty_lines``, ``bad_lines``, ``duplicate_columns``.

    Raises
    ------
    DataFileError
        The file is missing, empty, binary, undecodable, not a table or lacks required columns.
    """
    path = Path(path)
    name = display_name or str(path)
    if not path.exists():
        raise DataFileError(name, "file not found")
    if path.is_dir():
        raise DataFileError(name, "is a folder, not a table file")
    size = path.stat().st_size
    if size == 0:
        raise DataFileError(name, "file is empty (0 bytes)")
    if size > config.max_file_bytes():
        raise DataFileError(
            name,
            f"is {size / (1 << 30):.1f} GB; reading it whole needs about 2.5 times that in memory, "
            f"over the limit of {config.max_file_bytes() / (1 << 30):.1f} GB (a third of this "
            "machine's memory; UCC_MAX_FILE_GB sets it)",
        )
    with open(path, "rb") as fh:
        head = fh.read(8)
    suffix = path.suffix.lower()
    if head.startswith(b"PAR1") or suffix in PARQUET_SUFFIXES:
        df, detected = _read_parquet(path, name)
    elif head.startswith(b"PK\x03\x04") or suffix in EXCEL_SUFFIXES or suffix == ".xls":
        df, detected = _read_excel(path, name, sheet)
    else:
        df, detected = _read_text(
            path,
            name,
            encoding=encoding,
            sep=sep,
            decimal=decimal,
            wanted=[*(required_columns or []), *(usecols or [])],
            usecols=usecols,
        )
    _check_columns(list(df.columns), detected, name, required_columns, usecols)
    if usecols is not None:
        df = df[[*usecols, LINE]]
    return df, detected


# --------------------------------------------------------------------------------------------
# text files


def _dialect(sample: str, sep: str | None, *, truncated: bool) -> tuple[str, list[str]]:
    """Separator (given or sniffed) and header fields of a text sample."""
    sep = sep or _sniff_separator(sample, truncated=truncated)
    return sep, next(csv.reader(_io.StringIO(sample, newline=""), delimiter=sep, quotechar='"'), [])


def _raw_usecols(header: list[str], usecols: Sequence[str] | None) -> list[str] | None:
    """The header fields, as written (spaces kept), of the stripped column names ``usecols``."""
    raw_names = {h.strip(): h for h in header}
    return None if usecols is None else [raw_names[c] for c in usecols]


def _read_text(
    path: Path,
    name: str,
    *,
    encoding: str | None,
    sep: str | None,
    decimal: str | None,
    wanted: list[str],
    usecols: Sequence[str] | None,
    block_bytes: int | None = None,
):
    """The records of a text file and what was detected; with ``block_bytes``, an iterator of
    blocks of records instead of one frame (see :func:`read_table_blocks`)."""
    d = _text_dialect(path, name, encoding=encoding, sep=sep, decimal=decimal)
    detected_cols = d.detected["columns"]
    _check_columns(
        detected_cols,
        {"columns": detected_cols, "separator": d.sep, "duplicate_columns": []},
        name,
        wanted,
        None,
    )
    if usecols is not None:
        d.read_kw["usecols"] = _raw_usecols(d.header, usecols)
    physical = d.n_newlines + (0 if d.ends_with_newline else 1)
    if block_bytes is not None:
        if not d.regular:
            raise NotStreamable(f"{name}: not a regular UTF-8 file with LF or CRLF line ends")
        _check_columns(detected_cols, d.detected, name, None, None)
        blocks = _arrow_blocks(
            path, d.sep, d.header, d.read_kw.get("usecols"), usecols, block_bytes,
            physical - d.header_lines, d.ends_with_newline, d.detected,
        )  # fmt: skip
        return blocks, d.detected
    return _read_text_whole(path, name, d, usecols, physical)


class _TextDialect(NamedTuple):
    sep: str
    header: list[str]
    header_lines: int
    n_newlines: int
    ends_with_newline: bool
    term: str  # the character that ends a line ("\r" for CR-only files, else "\n")
    regular: bool  # UTF-8 without BOM, LF or CRLF, a one-line header: pyarrow can read it
    read_kw: dict  # pandas.read_csv's arguments
    detected: dict


def _text_dialect(
    path: Path, name: str, *, encoding: str | None, sep: str | None, decimal: str | None
) -> _TextDialect:
    """Scan a text file (:func:`_scan_text`) and detect its dialect; refuse what is no table."""
    enc, bom, sample, n_newlines, ends_with_newline, terminator = _scan_text(path, name, encoding)
    body = sample.lstrip("\ufeff")
    if not body.strip():
        raise DataFileError(name, "file is empty (no header line)")
    lower = body.lstrip()[:200].lower()
    if lower.startswith(("<!doctype html", "<html", "<?xml")):
        raise DataFileError(name, "looks like an HTML/XML page, not a table")
    if lower.startswith(("{", "[")) and sep is None and '","' not in body.split("\n", 1)[0]:
        raise DataFileError(name, "looks like JSON, not a table")
    sep, header = _dialect(body, sep, truncated=len(sample) >= _SAMPLE_CHARS)
    decimal_d, thousands = _sniff_decimal(body, sep)
    read_kw = dict(
        sep=sep,
        encoding="utf-8-sig" if enc == "utf-8" and bom else enc,
        dtype="str",
        keep_default_na=False,
        na_values=[""],
        skip_blank_lines=False,
        on_bad_lines="warn",
        quotechar='"',
        engine="c",
        lineterminator="\r" if terminator == "\r" else None,
    )
    detected_cols = [h.strip() for h in header]
    term = "\r" if terminator == "\r" else "\n"
    header_lines = 1 + sum(h.count(term) for h in header)
    detected = {
        "format": "csv",
        "reader": "pyarrow",
        "encoding": enc,
        "bom": bom,
        "separator": sep,
        "decimal": decimal or decimal_d,
        "thousands": thousands,
        "quotechar": '"',
        "line_terminator": {"\r\n": "CRLF", "\n": "LF", "\r": "CR"}[terminator],
        "sheet": None,
        "n_rows": 0,
        "columns": detected_cols,
        "empty_lines": [],
        "bad_lines": [],
        "duplicate_columns": sorted({c for c in detected_cols if detected_cols.count(c) > 1}),
    }
    regular = enc == "utf-8" and not bom and terminator != "\r" and header_lines == 1
    return _TextDialect(
        sep, header, header_lines, n_newlines, ends_with_newline, term, regular, read_kw, detected
    )


def _read_text_whole(
    path: Path, name: str, d: _TextDialect, usecols: Sequence[str] | None, physical: int
) -> tuple[pd.DataFrame, dict]:
    """The whole file in one frame: pyarrow when the file is regular, else pandas, which
    numbers and reports malformed records; quoted newlines counted into the lines."""
    read_kw, header_lines, detected = d.read_kw, d.header_lines, d.detected
    df = None
    if d.regular:
        df = _arrow_read(path, d.sep, d.header, read_kw.get("usecols"))
        if df is not None and len(df) != physical - header_lines:
            df = None  # a quoted newline or a blank line: records are not lines
    reader = "pyarrow" if df is not None else "pandas"
    if df is not None:
        bad_records = []
    else:
        df, caught = _pandas_read(path, name, d.sep, read_kw)
        bad_records = _bad_records(caught)
    df.columns = [str(c).strip() for c in df.columns]
    if physical == header_lines + len(df) + len(bad_records):
        extra = None  # no quoted newlines anywhere: record k starts on line header_lines + 1 + k
    else:
        if usecols is not None:
            # quoted newlines (possibly in columns not read) or malformed records: read all
            df, caught = _pandas_read(path, name, d.sep, {**read_kw, "usecols": None})
            bad_records = _bad_records(caught)
            df.columns = [str(c).strip() for c in df.columns]
        extra = sum(df[c].str.count(d.term).fillna(0).to_numpy(dtype="int64") for c in df)
        if usecols is not None:
            df = df[list(usecols)]
    lines, bad_lines = _record_lines(len(df), header_lines, extra, bad_records)
    df[LINE] = lines
    if not d.ends_with_newline and len(df) and all(b["line"] < lines[-1] for b in bad_lines):
        # a file cut off mid-record (an interrupted download or copy) still parses: the last
        # record may have lost fields or digits ("0.01725" -> "0.017"). Nothing says where a
        # complete file ends but its last line end, so a last record without one is kept out.
        df = df.iloc[:-1].copy()
        bad_lines.append({"line": int(lines[-1]), "reason": CUT_OFF})
    # a record without any value is a blank line (unknowable when only some columns are read)
    empty = df.drop(columns=LINE).isna().all(axis=1) & (usecols is None)
    empty_lines = df.loc[empty, LINE].tolist()
    if empty.any():
        df = df.loc[~empty].reset_index(drop=True)
    detected.update(
        reader=reader,
        n_rows=len(df) + len(bad_lines),
        empty_lines=empty_lines,
        bad_lines=bad_lines,
    )
    return df, detected


class NotStreamable(Exception):
    """A file :func:`read_table_blocks` cannot read block by block (read it whole instead).

    Raised before the first block, or while iterating when the file turns out irregular (a
    quoted newline, a blank line, a malformed record): the blocks already given must then be
    discarded.
    """


def read_table_blocks(
    path: str | Path,
    *,
    usecols: Sequence[str] | None = None,
    block_bytes: int = 64 << 20,
    display_name: str | None = None,
):
    """Read a regular UTF-8 CSV block by block, as :func:`read_table` reads it whole.

    The blocks, concatenated, are the frame :func:`read_table` returns (same text, same
    ``_line``); memory holds one block of about ``block_bytes`` of the file at a time.

    Parameters
    ----------
    path : a CSV/TSV/TXT file.
    usecols : read only these columns.
    block_bytes : bytes of the file parsed per block.
    display_name : how the file is named in error messages.

    Returns
    -------
    blocks : iterator of frames of strings with ``_line``.
    detected : as :func:`read_table`'s; ``n_rows`` and ``bad_lines`` (a last record cut off)
        are complete once ``blocks`` is exhausted.

    Raises
    ------
    NotStreamable
        The file is not UTF-8 without BOM with LF/CRLF line ends and a one-line header, or
        (while iterating) holds a quoted newline, a blank line or a malformed record.
    DataFileError
        As :func:`read_table`.

    Examples
    --------
    >>> from ucc_research import config
    >>> log = config.raw_dir() / "nyc_311_sample_2025" / "311.csv"
    >>> blocks, detected = read_table_blocks(log, usecols=["Unique Key"])
    >>> len(pd.concat(list(blocks), ignore_index=True))
    235
    """
    path = Path(path)
    name = display_name or str(path)
    if not path.is_file() or path.stat().st_size == 0:
        raise NotStreamable(f"{name}: not a non-empty file")
    if path.stat().st_size > config.max_file_bytes():
        read_table(path, display_name=name)  # its one-line refusal
    with open(path, "rb") as fh:
        head = fh.read(8)
    suffix = path.suffix.lower()
    if head.startswith((b"PAR1", b"PK\x03\x04")) or suffix not in TEXT_SUFFIXES:
        raise NotStreamable(f"{name}: not a text table")
    if not isinstance(block_bytes, int) or block_bytes < 1:
        raise ValueError(f"block_bytes must be a whole number >= 1, got {block_bytes!r}")
    return _read_text(
        path, name, encoding=None, sep=None, decimal=None, wanted=list(usecols or []),
        usecols=usecols, block_bytes=block_bytes,
    )  # fmt: skip


def _arrow_blocks(
    path: Path,
    sep: str,
    header: list[str],
    raw_cols: list[str] | None,
    usecols: Sequence[str] | None,
    block_bytes: int,
    n_records: int,
    ends_with_newline: bool,
    detected: dict,
):
    """Blocks of :func:`_arrow_read`'s frame with ``_line``; fills ``detected`` at the end."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    names = list(header)
    if len(set(names)) != len(names) or any(not h.strip() for h in names) or len(names) < 2:
        raise NotStreamable("irregular header")
    wanted = set(raw_cols) if raw_cols is not None else set(names)
    cols = [h for h in names if h in wanted]
    # one thread: the blocks are parsed on a read-ahead thread while the cleaning uses the other
    # core, and arrow's own threads only add their overhead (0.46-0.62 against 0.37 CPU s per
    # million rows of the benchmark's log)
    options = dict(
        read_options=pacsv.ReadOptions(
            use_threads=False, block_size=_ARROW_BLOCK, column_names=names
        ),
        parse_options=pacsv.ParseOptions(
            delimiter=sep, quote_char='"', double_quote=True,
            newlines_in_values=False, ignore_empty_lines=False,
        ),
        convert_options=pacsv.ConvertOptions(
            include_columns=cols,
            column_types={c: pa.large_string() for c in cols},
            strings_can_be_null=True, quoted_strings_can_be_null=True, null_values=[""],
        ),
    )  # fmt: skip
    start, held, empty_lines = 2, None, []  # the first record is on line 2
    # the last block is held back for a look (a record cut off, blank lines) only when needed
    hold = usecols is None or not ends_with_newline
    for chunk in _line_chunks(path, block_bytes):
        try:
            df = pacsv.read_csv(pa.BufferReader(chunk), **options).to_pandas()
        except (pa.ArrowInvalid, pa.ArrowKeyError, UnicodeDecodeError) as exc:
            raise NotStreamable(str(exc)) from exc
        if list(df.columns) != cols or any(str(t) != "str" for t in df.dtypes):
            raise NotStreamable("columns or types differ from the whole-file read")
        df.columns = [str(c).strip() for c in df.columns]
        if usecols is not None:
            df = df[list(usecols)]
        df[LINE] = np.arange(start, start + len(df), dtype="int64")
        start += len(df)
        if held is not None:
            yield held
            held = None
        if hold:
            held = df
        else:
            yield df
    if start - 2 != n_records:
        raise NotStreamable("records are not lines (a quoted newline or a blank line)")
    bad_lines = []
    if held is not None:
        if not ends_with_newline and len(held):
            bad_lines.append({"line": int(held[LINE].iloc[-1]), "reason": CUT_OFF})
            held = held.iloc[:-1].copy()
        if usecols is None:
            empty = held.drop(columns=LINE).isna().all(axis=1)
            empty_lines += held.loc[empty, LINE].tolist()
            held = held.loc[~empty].reset_index(drop=True)
        yield held
    detected.update(
        n_rows=n_records - len(empty_lines), empty_lines=empty_lines, bad_lines=bad_lines
    )


def _line_chunks(path: Path, block_bytes: int):
    """The file after its header line in pieces of about ``block_bytes``, each ending at a line
    end (the last where the file ends).

    Read here rather than by pyarrow's streaming reader, which reads ahead of the blocks
    consumed (seen holding most of a 2M-row file while the first block was being cleaned):
    memory is one piece and its parsed columns.
    """
    # One buffer, reused: a fresh block of bytes per read costs its page faults, about as much
    # as the read. A piece is only parsed (copied out) before the next one is read.
    buf = bytearray(block_bytes)
    held = 0  # bytes of a last, unfinished line kept at the start of ``buf``
    # The first piece is an eighth of a block: its cleaning (and the reading ahead of the next
    # piece) starts sooner. Pieces of any size give the same records.
    stop = max(1, block_bytes // 8)
    with open(path, "rb") as fh:
        fh.readline()  # the header (its length is bounded by the scan's line limit)
        while True:
            if held == len(buf):  # a line longer than the buffer: a bigger one
                buf = buf + bytearray(block_bytes)
            k = fh.readinto(memoryview(buf)[held : max(stop, held + 1)])
            stop = len(buf)
            end = held + k
            if not k:
                if held:
                    yield memoryview(buf)[:held]
                return
            cut = buf.rfind(b"\n", 0, end) + 1
            if cut == 0:  # no line end yet: read on
                held = end
                continue
            yield memoryview(buf)[:cut]
            held = end - cut
            buf[:held] = buf[cut:end]  # same-size slice assignment: the buffer is not resized


def _arrow_read(
    path: Path, sep: str, header: list[str], usecols: list[str] | None
) -> pd.DataFrame | None:
    """The common case, fast: a regular UTF-8 file read by pyarrow's multithreaded CSV reader.

    Returns what ``pandas.read_csv(dtype="str", na_values=[""])`` returns, or None whenever the
    file is not regular (duplicate or blank header names, a record with the wrong number of
    fields, a quoted newline, a blank line, invalid UTF-8 in a column read): the pandas reader,
    which numbers and reports such records, then reads it. The caller checks that the number
    of records read equals the number of physical lines after the header.
    """
    names = list(header)
    if len(set(names)) != len(names) or any(not h.strip() for h in names) or len(names) < 2:
        return None
    import pyarrow as pa
    import pyarrow.csv as pacsv

    wanted = set(usecols) if usecols is not None else set(names)
    cols = [h for h in names if h in wanted]  # file order, as pandas' usecols gives
    try:
        table = pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(use_threads=True, block_size=_ARROW_BLOCK),
            parse_options=pacsv.ParseOptions(
                delimiter=sep,
                quote_char='"',
                double_quote=True,
                newlines_in_values=False,
                ignore_empty_lines=False,
            ),
            convert_options=pacsv.ConvertOptions(
                include_columns=cols,
                column_types={c: pa.large_string() for c in cols},  # what pandas keeps
                strings_can_be_null=True,
                quoted_strings_can_be_null=True,
                null_values=[""],
            ),
        )
    except (pa.ArrowInvalid, pa.ArrowKeyError, UnicodeDecodeError):
        return None
    if table.column_names != cols:
        return None
    df = table.to_pandas()
    if any(str(t) != "str" for t in df.dtypes):  # only a pandas with the pyarrow string type
        return None
    return df


def _pandas_read(path: Path, name: str, sep: str, read_kw: dict) -> tuple[pd.DataFrame, list]:
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", pd.errors.ParserWarning)
            df = pd.read_csv(path, **read_kw)
    except pd.errors.EmptyDataError as exc:
        raise DataFileError(name, "file is empty (no header line)") from exc
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        m = re.search(r"EOF inside string starting at row (\d+)", str(exc))
        if m:  # pandas counts records from 0, the header being record 0
            raise DataFileError(
                name,
                f"the file ends inside a quoted field of record {int(m.group(1)) + 1} (the header "
                "is record 1): it is cut off, or a quote is never closed",
            ) from exc
        raise DataFileError(name, f"cannot be parsed as a {_sep_name(sep)}table: {exc}") from exc
    return df, caught


def _bad_records(caught: list) -> list[tuple[int, str]]:
    """(record number, reason) of the records pandas skipped, from its ParserWarnings."""
    out = []
    for w in caught:
        m = re.search(r"line (\d+): (.*)", str(w.message))
        if m:
            out.append((int(m.group(1)), m.group(2).strip()))
    return out


def _record_lines(
    n_good: int, header_lines: int, extra: np.ndarray | None, bad_records: list[tuple[int, str]]
) -> tuple[np.ndarray, list[dict]]:
    """Start line of each good record and of each bad record (pandas numbers records, not lines).

    pandas reports a skipped record as ``line r`` with r the record's ordinal counting the header
    as 1; bad records are assumed to hold no quoted newline (their fields are not available).
    """
    n_total = n_good + len(bad_records)
    is_bad = np.zeros(n_total, dtype=bool)
    for r, _ in bad_records:
        is_bad[r - 2] = True
    width = np.ones(n_total, dtype="int64")
    if extra is not None:
        width[~is_bad] += extra
    starts = header_lines + 1 + np.concatenate([[0], np.cumsum(width)[:-1]])
    bad_lines = [
        {"line": int(starts[r - 2]), "reason": reason} for r, reason in sorted(bad_records)
    ]
    return starts[~is_bad], bad_lines


def _scan_text(
    path: Path, name: str, encoding: str | None
) -> tuple[str, bool, str, int, bool, str]:
    """Detect the encoding by decoding the whole file in chunks; count line terminators.

    Refuses, naming the line, what no reader should be given: NUL bytes (padding or binary
    data), a line longer than :func:`ucc_research.config.max_record_bytes`, and mixed line
    ends (lines ending in a lone CR beside lines ending in LF), which make "line" ambiguous.

    Returns (encoding, bom, sample text, number of terminators, ends with terminator,
    terminator).
    """
    with open(path, "rb") as fh:
        first = fh.read(_CHUNK)
    bom = False
    if encoding is None:
        if first.startswith(codecs.BOM_UTF8):
            encoding, bom = "utf-8", True
        elif first.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            encoding, bom = "utf-16", True
        elif b"\x00" in first[:8192]:
            raise DataFileError(
                name, "contains NUL bytes: a binary file (or UTF-16 text without BOM), not a table"
            )
        candidates = [encoding] if encoding else ["utf-8", *_FALLBACK_ENCODINGS]
    else:
        bom = first.startswith(codecs.BOM_UTF8) and encoding.lower().replace("_", "-") in (
            "utf-8",
            "utf8",
            "utf-8-sig",
        )
        candidates = [encoding]
    errors = []
    for enc in candidates:
        try:
            scan = _decode_all(path, name, enc)
        except UnicodeDecodeError as exc:
            errors.append(f"not valid {enc} ({exc.reason} at byte {exc.start})")
            continue
        except LookupError as exc:
            raise DataFileError(name, f"unknown encoding {enc!r}") from exc
        sample = scan.sample
        control = len(_CONTROL_CHARS.findall(sample))
        if control > max(10, len(sample) // 100):
            raise DataFileError(
                name, f"decodes as {enc} but is full of control characters: not a text table"
            )
        lone_cr, lone_lf = scan.n_cr - scan.n_crlf, scan.n_lf - scan.n_crlf
        if lone_cr and scan.n_lf:
            ends = f"{lone_lf} in LF" if lone_lf else f"{scan.n_crlf} in CRLF"
            raise DataFileError(
                name,
                f"mixed line ends: {lone_cr} line(s) end in a lone CR (the first is line "
                f"{_first_lone_cr_line(path, enc)}) and {ends}; save the file with one kind of "
                "line end",
            )
        if scan.n_crlf and scan.n_crlf >= lone_lf:
            terminator = "\r\n"
        elif lone_cr:
            terminator = "\r"
        else:
            terminator = "\n"
        count = scan.n_cr if terminator == "\r" else scan.n_lf
        return enc, bom, sample, count, scan.last == terminator[-1], terminator
    raise DataFileError(name, "cannot be decoded: " + "; ".join(errors))


class _Scan(NamedTuple):
    sample: str
    n_lf: int
    n_cr: int
    n_crlf: int
    last: str


def _decode_all(path: Path, name: str, enc: str) -> _Scan:
    """Decode the whole file block by block (checking the encoding) and count line ends.

    Stops with :class:`DataFileError` at the first NUL or at a line longer than
    :func:`ucc_research.config.max_record_bytes`: memory stays one block whatever the file.
    """
    dec_enc = "utf-8-sig" if enc.lower().replace("_", "-") in ("utf-8", "utf8") else enc
    decoder = codecs.getincrementaldecoder(dec_enc)("strict")
    # In ASCII-compatible encodings CR, LF and NUL are single bytes that never occur inside a
    # multi-byte character: count them on the bytes, and skip decoding blocks that are pure
    # ASCII (valid in all of these) when no character is pending from the previous block.
    on_bytes = not dec_enc.lower().replace("_", "-").startswith(("utf-16", "utf-32"))
    limit = config.max_record_bytes()
    sample_parts: list[str] = []
    sample_len = 0
    n_lf = n_cr = n_crlf = 0
    prev_cr = False
    last = ""
    run = 0  # bytes (or characters) since the last line end
    offset = 0  # of the block in the file (bytes, or characters for UTF-16/32)
    # one reusable buffer: a fresh megabyte per block costs page faults on every block
    buf = bytearray(_CHUNK)
    with open(path, "rb", buffering=0) as fh:
        while True:
            k = fh.readinto(buf)
            block = buf if k == _CHUNK else bytes(buf[:k])
            final = not block
            if on_bytes and block and block.isascii() and decoder.getstate()[0] == b"":
                text = None
                if sample_len < _SAMPLE_CHARS:
                    text = block[: _SAMPLE_CHARS - sample_len].decode("ascii")
            else:
                text = decoder.decode(block, final=final)
            units = block if on_bytes else text  # where CR, LF and NUL are counted
            lf, cr, nul = (b"\n", b"\r", b"\x00") if on_bytes else ("\n", "\r", "\x00")
            if units:
                at = units.find(nul)
                if at >= 0:
                    line = 1 + n_lf + (n_cr - n_crlf) + units.count(lf, 0, at)
                    line += units.count(cr, 0, at) - units.count(cr + lf, 0, at)
                    raise DataFileError(
                        name,
                        f"line {line}: NUL byte at byte {offset + at} (padding or binary data); "
                        "not a text table",
                    )
                ends_before = n_lf + n_cr - n_crlf  # line ends before this block
                n_lf += _count_lf(units)
                c = units.count(cr) if units.find(cr) >= 0 else 0  # most files: one memchr
                if c:
                    n_cr += c
                    n_crlf += units.count(cr + lf)
                n_crlf += prev_cr and units[:1] == lf
                prev_cr = c > 0 and units[-1:] == cr
                # first and last line end of the block (searches that stop early)
                end = max(units.rfind(lf), units.rfind(cr) if c else -1)
                if end < 0:
                    run += len(units)
                    too_long = ends_before if run > limit else None
                else:
                    first_end = min(
                        i for i in (units.find(lf), units.find(cr) if c else -1) if i >= 0
                    )
                    too_long = ends_before if run + first_end > limit else None
                    run = len(units) - end - 1
                    if too_long is None and run > limit:  # only when limit < one block
                        too_long = n_lf + n_cr - n_crlf
                if too_long is not None:
                    raise DataFileError(
                        name,
                        f"line {1 + too_long} has more than {limit:,} bytes without a line end: "
                        "not a table (UCC_MAX_RECORD_MB raises the limit)",
                    )
                last = chr(units[-1]) if on_bytes else units[-1]
                offset += len(units)
            if text and sample_len < _SAMPLE_CHARS:
                sample_parts.append(text[: _SAMPLE_CHARS - sample_len])
                sample_len += len(sample_parts[-1])
            if final:
                break
    return _Scan("".join(sample_parts), n_lf, n_cr, n_crlf, last)


def _count_lf(units: bytes | bytearray | str) -> int:
    """Line feeds in a block of bytes (numpy: 3x faster than ``bytes.count``) or of text."""
    if isinstance(units, str):
        return units.count("\n")
    return int(np.count_nonzero(np.frombuffer(units, np.uint8) == 10))


def _first_lone_cr_line(path: Path, enc: str) -> int:
    """Line of the first line end that is a CR not followed by LF (an error path: re-reads)."""
    with open(path, encoding=enc, newline="") as fh:  # newline="": no translation
        text_lines = iter(fh)
        for i, line in enumerate(text_lines, start=1):
            if line.endswith("\r"):
                return i
    return 0


def _sniff_separator(text: str, *, truncated: bool) -> str:
    """The candidate that splits the header into most fields, consistently over the sample."""
    best, best_score = ",", (0.0, 1)
    for cand in _SEPARATORS:
        try:
            rows = list(csv.reader(_io.StringIO(text, newline=""), delimiter=cand, quotechar='"'))
        except csv.Error:
            continue
        if truncated and len(rows) > 1:
            rows = rows[:-1]
        rows = [r for r in rows if r][:200]
        if not rows:
            continue
        width = len(rows[0])
        if width < 2:
            continue
        body = rows[1:] or rows
        consistent = sum(len(r) == width for r in body) / len(body)
        score = (round(consistent, 2), width)
        if score > best_score:
            best, best_score = cand, score
    return best


#: Control characters a text table should not hold (all below 32 but tab, LF, FF and CR).
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0e-\x1f]")
_COMMA_DEC = re.compile(r"^-?\d{1,3}(\.\d{3})*,\d+$|^-?\d+,\d+$")
_DOT_DEC = re.compile(r"^-?\d{1,3}(,\d{3})*\.\d+$|^-?\d+\.\d+$")
_DOT_THOUSANDS = re.compile(r"^-?\d{1,3}(\.\d{3})+,\d+$")
_SPACE_THOUSANDS = re.compile(r"^-?\d{1,3}([ \u00a0\u202f]\d{3})+(,\d+)?$")


def _sniff_decimal(text: str, sep: str) -> tuple[str, str | None]:
    """Decimal mark and thousands separator seen in the sample's numeric-looking fields."""
    rows = list(csv.reader(_io.StringIO(text, newline=""), delimiter=sep, quotechar='"'))[1:200]
    fields = [f.strip() for r in rows for f in r]
    comma = sum(bool(_COMMA_DEC.match(f)) for f in fields)
    dot = sum(bool(_DOT_DEC.match(f)) for f in fields)
    if comma > dot:
        if any(_DOT_THOUSANDS.match(f) for f in fields):
            return ",", "."
        if any(_SPACE_THOUSANDS.match(f) for f in fields):
            return ",", " "
        return ",", None
    return ".", None


def _sep_name(sep: str) -> str:
    return {",": "comma-separated ", ";": "semicolon-separated ", "\t": "tab-separated "}.get(
        sep, ""
    )


# --------------------------------------------------------------------------------------------
# workbooks and parquet


def _read_excel(path: Path, name: str, sheet: str | int | None) -> tuple[pd.DataFrame, dict]:
    if path.suffix.lower() == ".xls":
        raise DataFileError(name, "old binary .xls workbooks are not supported; save as .xlsx")
    try:
        book = pd.ExcelFile(path, engine="openpyxl")
    except Exception as exc:  # openpyxl raises many types for a non-workbook
        raise DataFileError(name, f"not a readable Excel workbook ({exc})") from exc
    with book:
        names = book.sheet_names
        if sheet is None:
            sheet = names[0]
        elif isinstance(sheet, int):
            if not 0 <= sheet < len(names):
                raise DataFileError(name, f"has no sheet number {sheet}; sheets: {names}")
            sheet = names[sheet]
        elif sheet not in names:
            raise DataFileError(name, f"has no sheet {sheet!r}; sheets: {', '.join(names)}")
        raw = pd.read_excel(book, sheet_name=sheet, header=None, dtype=object)
    # pandas keeps leading blank rows: the header is the first non-blank row (sheet rows 1-based)
    raw.index = np.arange(1, len(raw) + 1)
    filled = raw.notna().any(axis=1)
    if not filled.any():
        raise DataFileError(name, f"sheet {sheet!r} is empty")
    raw = raw.loc[filled.idxmax() :]
    header_row = int(raw.index[0])
    header = [_cell_text(v) for v in raw.iloc[0].tolist()]
    keep = [i for i, h in enumerate(header) if h is not None]
    body = raw.iloc[1:, keep]
    body.columns = [header[i].strip() for i in keep]
    df = pd.DataFrame(
        {c: _cells_to_str(body.iloc[:, j]) for j, c in enumerate(body.columns)},
        index=body.index,
    )
    df[LINE] = body.index.to_numpy(dtype="int64")
    empty = df.drop(columns=LINE).isna().all(axis=1)
    empty_lines = df.loc[empty, LINE].tolist()
    df = df.loc[~empty].reset_index(drop=True)
    detected = _table_detected(
        "xlsx",
        df,
        sheet=sheet,
        header_row=header_row,
        empty_lines=empty_lines,
        duplicate_columns=sorted({c for c in body.columns if list(body.columns).count(c) > 1}),
    )
    return df, detected


def _table_detected(fmt: str, df: pd.DataFrame, **found) -> dict:
    """What is recorded of a workbook or parquet file (it has no text dialect to detect)."""
    detected = dict(
        format=fmt, encoding=None, bom=False, separator=None, decimal=".", thousands=None,
        quotechar=None, sheet=None, n_rows=len(df), columns=[c for c in df.columns if c != LINE],
        empty_lines=[], bad_lines=[], duplicate_columns=[],
    )  # fmt: skip
    return {**detected, **found}


def _cell_text(v: object) -> str | None:
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return None
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if isinstance(v, pd.Timestamp):
        return v.isoformat()
    return str(v)


def _cells_to_str(col: pd.Series) -> pd.Series:
    """Workbook cells to text: whole floats without '.0', dates in ISO 8601, blanks missing."""
    return pd.Series([_cell_text(v) for v in col.tolist()], index=col.index, dtype="str")


def _read_parquet(path: Path, name: str) -> tuple[pd.DataFrame, dict]:
    try:
        df = pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises several types for a broken file
        raise DataFileError(name, f"not a readable parquet file ({exc})") from exc
    df = df.reset_index(drop=True)
    df[LINE] = np.arange(1, len(df) + 1, dtype="int64")
    return df, _table_detected("parquet", df)


def _check_columns(
    present: Sequence[str],
    detected: dict,
    name: str,
    required: Sequence[str] | None,
    usecols: Sequence[str] | None,
) -> None:
    wanted = list(dict.fromkeys([*(required or []), *(usecols or [])]))
    missing = [c for c in wanted if c not in present]
    if missing:
        found = ", ".join(repr(c) for c in detected["columns"][:12])
        more = " ..." if len(detected["columns"]) > 12 else ""
        hint = ""
        if len(detected["columns"]) == 1 and detected.get("separator"):
            hint = f" (one column found: wrong separator? detected {detected['separator']!r})"
        raise DataFileError(
            name,
            f"missing required column(s) {', '.join(repr(c) for c in missing)}; "
            f"found {found}{more}{hint}",
        )
    dup = detected["duplicate_columns"]
    if dup:
        where = "; ".join(
            f"{c!r} is column "
            + " and ".join(str(i + 1) for i, h in enumerate(detected["columns"]) if h == c)
            for c in dup
        )
        raise DataFileError(
            name, f"the header names a column more than once ({where}): which one is meant?"
        )
