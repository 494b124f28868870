"""``ucc prepare``: run every source adapter, validate, write the processed tables.

Output (in ``data/processed/`` or ``$UCC_PROCESSED_DIR``):

* ``<table>.parquet`` — the tidy tables (``cities``, ``requests``, ``service_panel``, ``iData*``,
  ``iMeta*``, ...), concatenated over sources, re-validated, rows sorted by their key;
* ``quarantine/<table>.parquet`` — every rejected raw row: source, table, file, line, column,
  value, reason;
* ``quality.json`` — per source and file: rows in / kept / quarantined, the reader's detected
  dialect, reasons counted, notes, and a fingerprint of the raw inputs.

All adapters run before anything is written, so a file that cannot be read stops the run with
one message and leaves the previous outputs untouched; each file is written atomically.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pandas as pd

from ucc_research import __version__, config, io
from ucc_research.cleaning.base import SourceResult
from ucc_research.cleaning.quarantine import concat_quarantine
from ucc_research.cleaning.schemas import KINDS, get_spec, validate_frame
from ucc_research.cleaning.sources import SOURCES, get_adapter
from ucc_research.errors import DataFileError, SpecError, UccError

#: Raw folder of each source (default: the source's name).
SOURCE_DIRS: dict[str, str] = {
    "baltimore_311": "baltimore_311_sample",
    "nyc_311": "nyc_311_sample_2025",
}


def source_dir(raw_dir: Path, name: str) -> Path:
    return Path(raw_dir) / SOURCE_DIRS.get(name, name)


def table_kind(table: str) -> str | None:
    """Schema of a table name: ``iData_ucc2023`` -> ``iData``; unknown names -> None."""
    for kind in KINDS:
        if table == kind or re.match(rf"^{kind}[_.-]", table):
            return kind
    return None


def run_sources(raw_dir: Path, only: list[str] | None = None) -> tuple[list[SourceResult], dict]:
    """Run the adapters whose raw folder exists; return results and the skipped sources."""
    names = list(SOURCES) if not only else list(only)
    unknown = [n for n in names if n not in SOURCES]
    if unknown:
        raise SpecError(f"unknown source(s) {unknown}; known sources: {', '.join(SOURCES)}")
    results, skipped = [], {}
    for name in names:
        folder = source_dir(raw_dir, name)
        if not folder.is_dir():
            skipped[name] = f"raw folder {folder} not found"
            continue
        try:
            adapter = get_adapter(name)
        except ImportError as exc:
            raise UccError(
                f"source {name!r}: its adapter {SOURCES[name]} cannot be imported ({exc})"
            ) from exc
        try:
            result = adapter(Path(raw_dir))
        except DataFileError as exc:
            raise DataFileError(exc.file, f"{exc.reason} (source {name!r})") from exc
        problems = result.conservation_problems()
        if problems:
            raise UccError(f"source {name!r} loses rows: " + "; ".join(problems))
        results.append(result)
    return results, skipped


def _sort(df: pd.DataFrame, kind: str | None) -> pd.DataFrame:
    key = [k for k in (get_spec(kind).key if kind else ()) if k in df]
    if not key:
        return df.reset_index(drop=True)
    return df.sort_values(key, kind="stable", na_position="last").reset_index(drop=True)


def combine(results: list[SourceResult]) -> tuple[dict[str, pd.DataFrame], dict[str, pd.DataFrame]]:
    """Concatenate tables of the same name over sources and re-validate them.

    A row that passed its adapter but fails the combined table (for instance a ``city_id`` used
    by two sources) is an inconsistency between sources: :class:`UccError` listing it.
    """
    tables: dict[str, list[pd.DataFrame]] = {}
    for r in sorted(results, key=lambda r: r.source):
        for name, df in r.tables.items():
            tables.setdefault(name, []).append(df)
    out = {}
    for name in sorted(tables):
        frames = [f for f in tables[name] if len(f)] or tables[name][:1]
        df = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
        kind = table_kind(name)
        if kind is not None:
            df, q = validate_frame(df, kind, file=f"<combined {name}>", source="(all)")
            if len(q):
                shown = "; ".join(
                    f"row {p.line}: {p.column} {p.value!r}: {p.reason}"
                    for p in q.head(5).itertuples()
                )
                raise UccError(f"combined table {name!r} fails its schema: {shown}")
        out[name] = _sort(df, kind)
    quarantine: dict[str, list[pd.DataFrame]] = {}
    for r in results:
        q = r.quarantine
        for t in q["table"].dropna().unique():
            quarantine.setdefault(str(t), []).append(q.loc[q["table"] == t])
    qout = {}
    for t in sorted(set(out) | set(quarantine)):
        q = concat_quarantine(quarantine.get(t, []))
        qout[t] = q.sort_values(
            ["source", "file", "line", "column"], kind="stable", na_position="first"
        ).reset_index(drop=True)
    return out, qout


def quality_summary(
    results: list[SourceResult],
    skipped: dict,
    tables: dict[str, pd.DataFrame],
    raw_dir: Path,
) -> dict:
    """The content of ``quality.json`` (deterministic: no timestamps)."""
    sources = {}
    for r in sorted(results, key=lambda r: r.source):
        q = r.quarantine
        files = {}
        for f in sorted(r.rows_in):
            qf = q.loc[q["file"] == f]
            reasons = (
                qf["reason"].str.replace(r"; first on line \d+", "", regex=True).value_counts()
            )
            files[f] = {
                "rows_in": int(r.rows_in[f]),
                "rows_kept": int(r.rows_kept.get(f, 0)),
                "rows_quarantined": int(qf["line"].nunique()),
                "problems": len(qf),
                "reasons": {str(k): int(v) for k, v in sorted(reasons.items())},
                "detected": r.detected.get(f, {}),
            }
        sources[r.source] = {
            "synthetic": bool(r.synthetic),
            "raw_folder": SOURCE_DIRS.get(r.source, r.source),
            "fingerprint": io.fingerprint([source_dir(raw_dir, r.source)]),
            "files": files,
            "tables": {k: len(v) for k, v in sorted(r.tables.items())},
            "notes": list(r.notes),
        }
    return {
        "ucc_research_version": __version__,
        "sources": sources,
        "skipped": dict(sorted(skipped.items())),
        "tables": {k: {"rows": len(v), "columns": list(v.columns)} for k, v in tables.items()},
        "totals": {
            "rows_in": sum(f["rows_in"] for s in sources.values() for f in s["files"].values()),
            "rows_kept": sum(f["rows_kept"] for s in sources.values() for f in s["files"].values()),
            "rows_quarantined": sum(
                f["rows_quarantined"] for s in sources.values() for f in s["files"].values()
            ),
        },
    }


def prepare(
    raw_dir: str | Path | None = None,
    out_dir: str | Path | None = None,
    only: list[str] | None = None,
) -> dict:
    """Build the processed tables from the raw folder; return the quality summary.

    Parameters
    ----------
    raw_dir : raw data folder (default :func:`ucc_research.config.raw_dir`).
    out_dir : processed folder (default :func:`ucc_research.config.processed_dir`).
    only : source names to prepare (default: every registered source whose folder exists).
        The processed tables then hold only those sources.

    Returns
    -------
    dict
        The quality summary written to ``out_dir/quality.json``.

    Raises
    ------
    DataFileError
        A raw file cannot be read at all (nothing is written).
    UccError
        An adapter is missing or loses rows, or sources contradict each other.
    """
    raw_dir = Path(raw_dir) if raw_dir else config.raw_dir()
    out_dir = Path(out_dir) if out_dir else config.processed_dir()
    if not raw_dir.is_dir():
        raise UccError(f"raw data folder {raw_dir} not found")
    results, skipped = run_sources(raw_dir, only)
    if not results:
        raise UccError(f"no source found in {raw_dir} (looked for: {', '.join(SOURCES)})")
    tables, quarantine = combine(results)
    summary = quality_summary(results, skipped, tables, raw_dir)
    for name, df in tables.items():
        io.write_parquet(out_dir / f"{name}.parquet", df)
    for name, q in quarantine.items():
        io.write_parquet(out_dir / "quarantine" / f"{name}.parquet", q)
    io.write_json(out_dir / "quality.json", summary)
    return summary


def format_summary(summary: dict) -> str:
    """The table printed by ``ucc prepare``."""
    rows = [("source", "file", "rows in", "kept", "quarantined")]
    for name, s in summary["sources"].items():
        label = name + (" (SYNTHETIC)" if s["synthetic"] else "")
        for f, v in s["files"].items():
            rows.append((label, f, v["rows_in"], v["rows_kept"], v["rows_quarantined"]))
    t = summary["totals"]
    rows.append(("total", "", t["rows_in"], t["rows_kept"], t["rows_quarantined"]))
    widths = [max(len(str(r[i])) for r in rows) for i in range(5)]
    lines = []
    for i, r in enumerate(rows):
        cells = [
            str(c).ljust(w) if j < 2 else str(c).rjust(w) for j, (c, w) in enumerate(zip(r, widths))
        ]
        lines.append("  ".join(cells))
        if i == 0 or i == len(rows) - 2:
            lines.append("  ".join("-" * w for w in widths))
    for name, why in summary["skipped"].items():
        lines.append(f"skipped {name}: {why}")
    lines.append(
        "tables: " + ", ".join(f"{k} ({v['rows']} rows)" for k, v in summary["tables"].items())
    )
    return "\n".join(lines)


def cli_prepare(args: argparse.Namespace) -> int:
    """``ucc prepare [--raw DIR] [--out DIR] [--only SOURCE ...]``."""
    out_dir = Path(args.out) if args.out else config.processed_dir()
    summary = prepare(args.raw, out_dir, args.only)
    print(format_summary(summary))
    print(f"rows in = kept + quarantined for every file; written to {out_dir}")
    return 0
