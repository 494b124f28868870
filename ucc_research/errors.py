"""Errors meant for people: one clear message, no traceback at the command line."""

from __future__ import annotations

from pathlib import Path


class UccError(ValueError):
    """Base class for errors whose message is shown to the user as is (``ucc`` exits 2).

    A ``ValueError``: every one of them is a wrong value (a file, a setting, an argument), so
    ``except ValueError`` catches them as it catches NumPy's and pandas' own.
    """


class UccWarning(UserWarning):
    """The package's one warning class (filter it with ``warnings.filterwarnings``)."""


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


class StudyError(SpecError):
    """A study file with problems: every problem is one line naming the file and the key.

    ``problems`` holds the lines; the message is those lines joined by newlines.
    """

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


class AnalysisError(UccError):
    """A study-level analysis (a section computed once per study) raised: the run fails.

    Attributes
    ----------
    study, section : which study and which analysis.
    reason : ``"ExceptionType: message"`` of the original error.
    """

    def __init__(self, study: str, section: str, reason: str) -> None:
        self.study = study
        self.section = section
        self.reason = reason
        super().__init__(f"study {study!r}: the {section} analysis failed: {reason}")
