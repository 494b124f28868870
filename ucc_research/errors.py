"""Errors meant for people: one clear message, no traceback at the command line."""

from __future__ import annotations

from pathlib import Path


class UccError(Exception):
    """Base class for errors whose message is shown to the user as is (``ucc`` exits 2)."""


class DataFileError(UccError):
    """A file that cannot be used at all: empty, wrong encoding, wrong columns, not a table.

    The message names the file and, where known, the line, the column and the reason.
    """

    def __init__(
        self,
        file: str | Path,
        reason: str,
        *,
        line: int | None = None,
        column: str | None = None,
    ) -> None:
        self.file = str(file)
        self.reason = reason
        self.line = line
        self.column = column
        where = self.file if line is None else f"{self.file}:{line}"
        if column is not None:
            where += f", column {column!r}"
        super().__init__(f"{where}: {reason}")


class SpecError(UccError):
    """An invalid argument, specification or metadata (names the offending code and problem)."""
