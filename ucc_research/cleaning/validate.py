"""``ucc validate``: check one file against a tidy-table schema, writing nothing.

Examples
--------
On a prepared tree (``ucc prepare``)::

    report = validate_file("data/processed/cities.parquet", "cities")
    report.ok, report.rows, report.problems.head()
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ucc_research.cleaning.base import empty_quarantine
from ucc_research.cleaning.quarantine import concat_quarantine, problems_frame, reader_problems
from ucc_research.cleaning.readers import read_table
from ucc_research.cleaning.schemas import get_spec, validate_frame


@dataclass
class ValidationReport:
    """Outcome of :func:`validate_file`.

    Attributes
    ----------
    file, kind : what was checked.
    rows : data rows read.
    rows_with_problems : distinct rows with at least one problem.
    problems : one row per problem (file, line, column, value, reason, ...).
    detected : what the reader detected (encoding, separator, decimal, sheet, ...).
    """

    file: str
    kind: str
    rows: int
    rows_with_problems: int
    problems: pd.DataFrame
    detected: dict

    @property
    def ok(self) -> bool:
        return len(self.problems) == 0

    def format(self, max_problems: int = 50) -> str:
        """The human-readable report printed by ``ucc validate``."""
        d = self.detected
        dialect = ", ".join(
            f"{k} {d[k]!r}"
            for k in ("format", "encoding", "separator", "decimal", "sheet")
            if d.get(k) is not None
        )
        head = f"{self.file}: {self.kind}, {self.rows} rows ({dialect})"
        if self.ok:
            return f"{head}\nOK: every row passes the {self.kind} schema"
        lines = [head]
        for p in self.problems.head(max_problems).itertuples(index=False):
            if pd.isna(p.line):  # a problem of the table as a whole (the iMeta hierarchy)
                lines.append(f"{p.file}: {p.reason}")
                continue
            col = f"column {p.column!r}" if p.column else "record"
            lines.append(f"{p.file}:{p.line}: {col}: value {p.value!r}: {p.reason}")
        if len(self.problems) > max_problems:
            lines.append(f"... and {len(self.problems) - max_problems} more problems")
        whole = int(self.problems["line"].isna().sum())
        lines.append(
            f"INVALID: {self.rows_with_problems} of {self.rows} rows have problems "
            f"({len(self.problems)} problems"
            + (f", {whole} of the table as a whole)" if whole else ")")
        )
        return "\n".join(lines)


def validate_file(
    path: str | Path,
    kind: str,
    *,
    sheet: str | None = None,
    source: str | None = None,
    sep: str | None = None,
    encoding: str | None = None,
) -> ValidationReport:
    """Check one file (CSV, xlsx or parquet) against the schema of ``kind``; write nothing.

    Parameters
    ----------
    path : the file.
    kind : ``cities``, ``requests``, ``service_panel``, ``iData`` or ``iMeta``.
    sheet : sheet name for workbooks.
    source : source name recorded in the problem list (default: the file name).
    sep, encoding : force the separator or encoding of a text file instead of detecting them.

    An ``iMeta`` whose rows all pass also gets the check ``ucc index build`` makes
    (:func:`ucc_research.indicators.meta.validate_meta`: unknown parents, cycles, levels, ...);
    its finding is a problem of the table as a whole (no line).

    Raises
    ------
    DataFileError
        The file cannot be read as a table, or lacks a required column.
    """
    get_spec(kind)
    name = str(path)
    df, detected = read_table(path, sheet=sheet, sep=sep, encoding=encoding)
    source = source or Path(path).name
    number_format = {"decimal": detected.get("decimal") or ".", "thousands": detected["thousands"]}
    kept, problems = validate_frame(df, kind, file=name, source=source, **number_format)
    problems = concat_quarantine(
        [reader_problems(detected, source=source, table=kind, file=name), problems]
    )
    if kind == "iMeta" and not len(problems):
        problems = _hierarchy_problems(kept, source=source, file=name)
    if len(problems):
        problems = problems.sort_values(["line", "column"], kind="stable", na_position="first")
    return ValidationReport(
        file=name,
        kind=kind,
        rows=int(detected["n_rows"]),
        rows_with_problems=int(problems["line"].nunique()),
        problems=problems.reset_index(drop=True),
        detected=detected,
    )


def _hierarchy_problems(imeta: pd.DataFrame, *, source: str, file: str) -> pd.DataFrame:
    """The finding of ``index build``'s own iMeta check, as a problem of the whole table."""
    from ucc_research.errors import SpecError
    from ucc_research.indicators.meta import validate_meta

    try:
        validate_meta(imeta)
    except SpecError as exc:  # the build's refusal, reported instead of raised
        reason = str(exc).removeprefix("iMeta: ")
        return problems_frame(
            source=source, table="iMeta", file=file, lines=[None], columns=[None],
            values=[""], reasons=[f"hierarchy: {reason} (ucc index build refuses it)"],
        )  # fmt: skip
    return empty_quarantine()


def cli_validate(args: argparse.Namespace) -> int:
    """``ucc validate --kind KIND FILE``: exit 0 when valid, 1 with the problem list if not."""
    report = validate_file(
        args.file,
        args.kind,
        sheet=args.sheet,
        source=args.source,
        sep=getattr(args, "sep", None),
        encoding=getattr(args, "encoding", None),
    )
    print(report.format(max_problems=args.max_problems))
    return 0 if report.ok else 1
