"""Tables for people without Python: one CSV per table and one Excel workbook holding them all.

Used by :meth:`ucc_research.indicators.Coin.export` and by ``ucc run`` (``outputs/<study>/tables``).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from ucc_research import io

#: Rows an Excel sheet holds (the header takes one).
EXCEL_MAX_ROWS = 1_048_575
_BAD_SHEET_CHARS = re.compile(r"[\[\]:*?/\\]")


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
    the workbook's content does not depend on when it was written.

    Returns
    -------
    Path
    """
    sheets = _sheet_names(list(frames))
    notes = []
    with io.atomic_path(path) as tmp:
        with pd.ExcelWriter(tmp, engine="openpyxl") as writer:
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
    return Path(path)


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
