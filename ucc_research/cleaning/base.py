"""The contract between source adapters and ``ucc prepare``.

An adapter reads one source's raw files and returns a :class:`SourceResult`: the tidy rows it
kept, one quarantine record per problem found in the rows it did not keep, and the row counts
that prove nothing was silently lost::

    for every raw file f:  rows_in[f] == rows_kept[f] + (distinct quarantined lines of f)
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

#: Columns of every quarantine table (``data/processed/quarantine/<table>.parquet``).
QUARANTINE_COLUMNS = ["source", "table", "file", "line", "column", "value", "reason"]


def empty_quarantine() -> pd.DataFrame:
    """A quarantine table without rows (a copy of one built once: each block asks for a few)."""
    return _EMPTY_QUARANTINE.copy()


_EMPTY_QUARANTINE = pd.DataFrame(
    {c: pd.Series(dtype="Int64" if c == "line" else "string") for c in QUARANTINE_COLUMNS}
)


@dataclass
class SourceResult:
    """What one source adapter produced.

    Attributes
    ----------
    source : registry name of the source (e.g. ``"baltimore_311"``).
    tables : tidy table name -> kept rows (e.g. ``{"requests": df, "cities": df}``); tables of
        the same name from several sources are concatenated by ``ucc prepare``.
    quarantine : one row per problem (columns :data:`QUARANTINE_COLUMNS`); ``file`` is relative
        to the raw folder and ``line`` is the 1-based physical line (CSV) or sheet row (Excel).
    rows_in : raw file -> data rows read (header excluded).
    rows_kept : raw file -> rows that reached a processed table.
    detected : raw file -> what the reader detected (encoding, separator, decimal, sheet, ...).
    synthetic : True for synthetic sources (labelled as such in every table and report).
    notes : free-text remarks recorded in the quality summary (e.g. codes mapped to missing).
    fingerprint : SHA-256 of the raw folder the rows were prepared from; None (the default)
        means "now", computed when the quality summary is written. Set for the sources that
        ``ucc prepare --only`` keeps from a previous run.
    """

    source: str
    tables: dict[str, pd.DataFrame]
    quarantine: pd.DataFrame = field(default_factory=empty_quarantine)
    rows_in: dict[str, int] = field(default_factory=dict)
    rows_kept: dict[str, int] = field(default_factory=dict)
    detected: dict[str, dict] = field(default_factory=dict)
    synthetic: bool = False
    notes: list[str] = field(default_factory=list)
    fingerprint: str | None = None

    def conservation_problems(self) -> list[str]:
        """Files whose rows do not add up (empty list when every raw row is accounted for)."""
        problems = []
        q = self.quarantine
        for f, n_in in self.rows_in.items():
            n_q = int(q.loc[q["file"] == f, "line"].nunique()) if len(q) else 0
            n_kept = self.rows_kept.get(f, 0)
            if n_in != n_kept + n_q:
                problems.append(f"{f}: {n_in} rows in != {n_kept} kept + {n_q} quarantined")
        return problems
