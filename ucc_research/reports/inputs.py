"""A study's own files (``inputs:``): read, validated, quarantined and written as the study's tables.

A study may name its own CSV, Excel or parquet files, each with a kind::

    inputs:
      my_idata: {path: data/own/idata.csv, kind: iData}        # relative to the study file
      my_imeta: {path: data/own/imeta.csv, kind: iMeta, sep: ";", encoding: cp1252}

Each is read by the package's dialect-detecting reader
(:func:`ucc_research.cleaning.readers.read_table`: encoding, separator, decimal comma), checked
against its kind's schema (:func:`ucc_research.cleaning.schemas.validate_frame`) exactly as
``ucc prepare`` checks the built-in sources, and written atomically to
``data/processed/studies/<study>/``::

    <table>.parquet             the rows that pass
    quarantine/<table>.parquet  one record per problem of every row left out (file, line, reason)
    quality.json                rows in / kept / quarantined per input, and the detected dialect

``study.read_table(<table>)`` then returns the kept rows. An input whose file, settings and
package version are unchanged is not read again.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pandas as pd

from ucc_research import __version__, io
from ucc_research.errors import DataFileError
from ucc_research.reports.study import Study

_READ_KEYS = ("sep", "encoding", "decimal", "sheet")


def _read(study: Study, table: str) -> tuple[pd.DataFrame, dict, str]:
    from ucc_research.cleaning.readers import read_table

    spec = study.inputs[table]
    path = study.input_path(table)
    shown = str(spec["path"])
    df, detected = read_table(
        path,
        sheet=spec.get("sheet"),
        encoding=spec.get("encoding"),
        sep=spec.get("sep"),
        decimal=spec.get("decimal"),
        display_name=shown,
    )
    return df, detected, shown


def input_columns(study: Study, table: str) -> list[str]:
    """Columns one input will have once read and validated (nothing is written)."""
    kept, _, _ = read_input(study, table)
    return list(kept.columns)


def _filled(study: Study, table: str, present: list[str]) -> dict[str, Any]:
    """``source`` and ``synthetic`` columns a kind requires, when the file has none."""
    from ucc_research.cleaning.schemas import get_spec

    kind = study.inputs[table]["kind"]
    if kind == "table":
        return {}
    needed = {c.name for c in get_spec(kind).columns if c.required}
    fill = {"source": f"{study.name}:{table}", "synthetic": "true" if study.synthetic else "false"}
    return {k: v for k, v in fill.items() if k in needed and k not in present}


def _key(study: Study, table: str) -> str:
    spec = study.inputs[table]
    payload = {
        "file": hashlib.sha256(study.input_path(table).read_bytes()).hexdigest(),
        "settings": {k: spec.get(k) for k in ("kind", *_READ_KEYS)},
        "study": [study.name, study.synthetic],
        "version": __version__,
    }
    return hashlib.sha256(io.to_json(payload).encode()).hexdigest()


def _plain_table(df: pd.DataFrame, decimal: str, thousands: str | None) -> pd.DataFrame:
    """Kind ``table``: a column whose every value is a number becomes numeric; others stay text."""
    from ucc_research.cleaning.readers import parse_numbers

    out = {}
    for col in df.columns:
        values, bad = parse_numbers(df[col], decimal=decimal, thousands=thousands)
        out[col] = values if not bad.any() and values.notna().any() else df[col]
    return pd.DataFrame(out, index=df.index)


def read_input(study: Study, table: str) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """Read and validate one of the study's inputs in memory; write nothing.

    Returns
    -------
    kept : the rows that pass the kind's schema, typed.
    quarantine : one record per problem of the rows left out (file, line, column, reason).
    record : ``{file, kind, rows_in, rows_kept, rows_quarantined, problems, reasons,
        detected, key}`` (the entry of ``quality.json``).

    Raises
    ------
    DataFileError
        The file cannot be read as a table, or lacks a column its kind requires.
    """
    from ucc_research.cleaning.quarantine import concat_quarantine, reader_problems
    from ucc_research.cleaning.readers import LINE
    from ucc_research.cleaning.schemas import validate_frame

    kind = study.inputs[table]["kind"]
    df, detected, shown = _read(study, table)
    source = f"{study.name}:{table}"
    fill = _filled(study, table, list(df.columns))
    if fill:
        df = df.assign(**fill)
    decimal = detected.get("decimal") or "."
    thousands = detected.get("thousands")
    quarantine = reader_problems(detected, source=source, table=table, file=shown)
    if kind == "table":
        kept = _plain_table(df.drop(columns=[LINE]), decimal, thousands).reset_index(drop=True)
    else:
        kept, problems = validate_frame(
            df, kind, file=shown, source=source, decimal=decimal, thousands=thousands
        )
        quarantine = concat_quarantine([quarantine, problems])
    reasons = quarantine["reason"].str.replace(r"; first on line \d+", "", regex=True)
    record = {
        "file": shown,
        "kind": kind,
        "rows_in": int(detected["n_rows"]),
        "rows_kept": len(kept),
        "rows_quarantined": int(quarantine["line"].nunique()),
        "problems": len(quarantine),
        "reasons": {str(k): int(v) for k, v in sorted(reasons.value_counts().items())},
        "detected": {
            k: detected.get(k) for k in ("format", "encoding", "separator", "decimal", "sheet")
        },
        "key": _key(study, table),
    }
    return kept, quarantine, record


def prepare_input(study: Study, table: str) -> dict[str, Any]:
    """Read, validate and write one of the study's inputs; return its quality record.

    Writes ``<table>.parquet`` (the kept rows) and ``quarantine/<table>.parquet`` under
    :attr:`Study.inputs_dir`.

    Raises
    ------
    DataFileError
        The file cannot be read as a table, or lacks a column its kind requires.
    """
    kept, quarantine, record = read_input(study, table)
    io.write_parquet(study.inputs_dir / "quarantine" / f"{table}.parquet", quarantine)
    io.write_parquet(study.inputs_dir / f"{table}.parquet", kept)
    return record


def prepare_inputs(study: Study, *, force: bool = False) -> dict[str, dict[str, Any]]:
    """Bring every input of the study up to date; return ``quality.json``'s records.

    Parameters
    ----------
    study : the study.
    force : read every input again even when unchanged.

    Returns
    -------
    dict
        Table -> ``{file, kind, rows_in, rows_kept, rows_quarantined, problems, reasons,
        detected}``; ``rows_in == rows_kept + rows_quarantined`` for every input.

    Examples
    --------
    It writes into ``data/processed/studies/<study>/`` (see ``tests/test_own_data.py``)::

        quality = prepare_inputs(load_study("examples/own_data/own_study.yml"))
        quality["own_idata"]["rows_quarantined"]   # 2: a row without a city code, a value "n.d."
    """
    if not study.inputs:
        return {}
    quality_path = study.inputs_dir / "quality.json"
    old: dict[str, Any] = {}
    if quality_path.is_file():
        try:
            loaded = json.loads(quality_path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError):
            loaded = {}
        old = loaded.get("inputs", {}) if isinstance(loaded, dict) else {}
        old = old if isinstance(old, dict) else {}
    records = {}
    for table in study.inputs:
        path = study.input_path(table)
        if not path.is_file():
            raise DataFileError(study.inputs[table]["path"], f"file not found (looked at {path})")
        previous = old.get(table)
        current = (
            not force
            and isinstance(previous, dict)
            and previous.get("key") == _key(study, table)
            and study.table_path(table).is_file()
        )
        records[table] = previous if current else prepare_input(study, table)
    io.write_json(quality_path, {"study": study.name, "inputs": records})
    return records


def format_quality(records: dict[str, dict[str, Any]]) -> str:
    """One line per input: rows in, kept and quarantined, and where the quarantine is."""
    lines = []
    for table, r in records.items():
        d = r["detected"]
        dialect = ", ".join(
            f"{k} {d[k]!r}" for k in ("encoding", "separator", "decimal") if d.get(k)
        )
        lines.append(
            f"{table} ({r['kind']}, {r['file']}; {dialect}): {r['rows_in']} rows in, "
            f"{r['rows_kept']} kept, {r['rows_quarantined']} quarantined"
        )
    return "\n".join(lines)


__all__ = ["format_quality", "input_columns", "prepare_input", "prepare_inputs", "read_input"]
