"""Tables for people without Python: one CSV per table and one Excel workbook holding them all.

Used by :meth:`ucc_research.indicators.Coin.export` and by ``ucc run`` (``outputs/<study>/tables``).
"""

from __future__ import annotations

import datetime as dt
import re
import zipfile
from collections.abc import Mapping
from io import BytesIO
from pathlib import Path

import pandas as pd

from ucc_research import io

#: Rows an Excel sheet holds (the header takes one).
EXCEL_MAX_ROWS = 1_048_575
_BAD_SHEET_CHARS = re.compile(r"[\[\]:*?/\\]")
_MODIFIED = re.compile(rb"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)")


def _sheet_names(names: list[str]) -> dict[str, str]:
    """Excel sheet names: at most 31 characters, none of ``[]:*?/\\``, unique ignoring case."""
    out: dict[str, str] = {}
    taken: set[str] = set()
    for name in names:
        base = _BAD_SHEET_CHARS.sub("_", name)[:31] or "sheet"
        sheet, i = base, 1
        while sheet.lower() in taken:
            i += 1
            suffix = f"~{i}"
            sheet = base[: 31 - len(suffix)] + suffix
        taken.add(sheet.lower())
        out[name] = sheet
    return out


def _excel_ready(df: pd.DataFrame) -> pd.DataFrame:
    """Excel has no time zones: aware datetimes are written as UTC wall-clock times."""
    df = df.copy()
    for col in df.columns:
        if isinstance(df[col].dtype, pd.DatetimeTZDtype):
            df[col] = df[col].dt.tz_convert("UTC").dt.tz_localize(None)
    df.columns = [str(c) for c in df.columns]
    return df


def write_workbook(path: str | Path, frames: Mapping[str, pd.DataFrame]) -> Path:
    """Write ``frames`` as one ``.xlsx`` workbook, one sheet per table, atomically.

    A table longer than an Excel sheet is not cut: its sheet is left out and the ``notes``
    sheet says so (its CSV holds every row). Document properties carry a fixed date so that
    the same tables give the same bytes whenever they are written.

    Returns
    -------
    Path
    """
    sheets = _sheet_names(list(frames))
    notes = []
    buffer = BytesIO()
    with pd.ExcelWriter(buffer, engine="openpyxl") as writer:
        for name, df in frames.items():
            if len(df) > EXCEL_MAX_ROWS:
                notes.append(
                    f"{name}: {len(df):,} rows, more than an Excel sheet holds; see {name}.csv"
                )
                continue
            _excel_ready(df).to_excel(writer, sheet_name=sheets[name], index=False)
        if notes or not frames:
            pd.DataFrame({"note": notes or ["no tables"]}).to_excel(
                writer, sheet_name="notes", index=False
            )
        fixed = dt.datetime(2000, 1, 1)
        writer.book.properties.created = fixed
        writer.book.properties.modified = fixed
    with io.atomic_path(path) as tmp:
        _fixed_zip(buffer.getvalue(), tmp)
    return Path(path)


def _fixed_zip(data: bytes, target: Path) -> None:
    """Copy a zip (an .xlsx) with every member's date fixed, so equal tables give equal bytes."""
    with zipfile.ZipFile(BytesIO(data)) as src, zipfile.ZipFile(target, "w") as dst:
        for info in src.infolist():
            member = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
            member.compress_type = zipfile.ZIP_DEFLATED
            member.external_attr = info.external_attr
            content = src.read(info.filename)
            if info.filename == "docProps/core.xml":  # openpyxl stamps the time of saving
                content = _MODIFIED.sub(rb"\g<1>2000-01-01T00:00:00Z\g<2>", content)
            dst.writestr(member, content)


def write_tables(
    folder: str | Path, frames: Mapping[str, pd.DataFrame], workbook: str
) -> list[Path]:
    """``folder/<name>.csv`` for each table (UTF-8 with BOM) and ``folder/<workbook>.xlsx``."""
    folder = Path(folder)
    written = [
        io.write_csv(folder / f"{name}.csv", df, encoding="utf-8-sig")
        for name, df in frames.items()
    ]
    written.append(write_workbook(folder / f"{workbook}.xlsx", frames))
    return written
