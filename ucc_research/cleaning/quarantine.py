"""Quarantine records: one row per problem found in a raw row that was not kept.

Columns are :data:`~ucc_research.cleaning.base.QUARANTINE_COLUMNS` (source, table, file, line,
column, value, reason); ``value`` is the offending raw text (missing values as empty text).
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from ucc_research.cleaning.base import QUARANTINE_COLUMNS, empty_quarantine


def problems_frame(
    *,
    source: str,
    table: str,
    file: str,
    lines: Sequence[int],
    columns: Sequence[str | None],
    values: Sequence[object],
    reasons: Sequence[str] | str,
) -> pd.DataFrame:
    """Build quarantine records for one file (all sequences of equal length).

    Examples
    --------
    >>> q = problems_frame(source="s", table="requests", file="f.csv", lines=[2],
    ...                    columns=["channel"], values=["Fax"], reasons="unknown channel")
    >>> q.loc[0, "file"], int(q.loc[0, "line"]), q.loc[0, "value"]
    ('f.csv', 2, 'Fax')
    """
    n = len(lines)
    if n == 0:
        return empty_quarantine()
    if isinstance(reasons, str):
        reasons = [reasons] * n
    return pd.DataFrame(
        {
            "source": pd.array([source] * n, dtype="string"),
            "table": pd.array([table] * n, dtype="string"),
            "file": pd.array([file] * n, dtype="string"),
            "line": pd.array(list(lines), dtype="Int64"),
            "column": pd.array([None if c is None else str(c) for c in columns], dtype="string"),
            "value": pd.array([_text(v) for v in values], dtype="string"),
            "reason": pd.array(list(reasons), dtype="string"),
        },
        columns=QUARANTINE_COLUMNS,
    )


def reader_problems(detected: dict, *, source: str, table: str, file: str) -> pd.DataFrame:
    """Quarantine records for the records the reader could not split into fields."""
    bad = detected.get("bad_lines") or []
    return problems_frame(
        source=source,
        table=table,
        file=file,
        lines=[b["line"] for b in bad],
        columns=[None] * len(bad),
        values=[""] * len(bad),
        reasons=[f"malformed record: {b['reason']}" for b in bad],
    )


def concat_quarantine(frames: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """Concatenate quarantine frames, keeping the column order and types when all are empty."""
    frames = [f for f in frames if len(f)]
    if not frames:
        return empty_quarantine()
    out = pd.concat(frames, ignore_index=True)[QUARANTINE_COLUMNS]
    return out.astype({"line": "Int64"} | {c: "string" for c in QUARANTINE_COLUMNS if c != "line"})


def file_problems(
    problems: Sequence[tuple[int, str | None, object, str]],
    detected: dict,
    *,
    source: str,
    table: str,
    file: str,
) -> pd.DataFrame:
    """Quarantine records of one file: the reader's malformed records, then ``problems``.

    ``problems`` are ``(line, column, value, reason)`` tuples found by an adapter's checks.
    """
    return concat_quarantine(
        [
            reader_problems(detected, source=source, table=table, file=file),
            problems_frame(
                source=source,
                table=table,
                file=file,
                lines=[p[0] for p in problems],
                columns=[p[1] for p in problems],
                values=[p[2] for p in problems],
                reasons=[p[3] for p in problems],
            ),
        ]
    )


def _text(v: object) -> str:
    if v is None:
        return ""
    try:
        if pd.isna(v):
            return ""
    except (TypeError, ValueError):
        pass
    return str(v)
