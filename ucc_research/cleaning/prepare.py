"""``ucc prepare``: run every source adapter, validate, write the processed tables.

Output (in ``data/processed/`` or ``$UCC_PROCESSED_DIR``):

* ``<table>.parquet`` — the tidy tables (``cities``, ``service_panel``, ``iData*``, ``iMeta*``,
  ...), concatenated over sources, re-validated, rows sorted by their key;
* ``requests/`` — the request logs, too big for memory: a parquet dataset partitioned by
  source and local year (``requests/source=<s>/year=<YYYY>/part-0.parquet``, see
  :mod:`ucc_research.cleaning.dataset`), written block by block by the adapters and moved into
  place whole; :func:`ucc_research.io.read_parquet` reads it as the single file was read
  (every row, sorted by key);
* ``quarantine/<table>.parquet`` — every rejected raw row: source, table, file, line, column,
  value, reason;
* ``quality.json`` — per source and file: rows in / kept / quarantined, the reader's detected
  dialect, reasons counted, notes, and a fingerprint of the raw inputs;
* ``provenance/<table>.parquet`` — one ``source`` per row of ``<table>.parquet``, in the same
  order: what lets ``ucc prepare --only`` replace one source's rows and keep the others' (a
  dataset's folders already say each row's source).

All adapters run before anything is written, so a file that cannot be read stops the run with
one message and leaves the previous outputs untouched; each file is written atomically.

``--only SOURCE ...`` runs only the named adapters and *replaces their rows* in the processed
tables; every other source keeps the rows, quarantine records and quality entry of the previous
run (read back from ``out_dir``), so a partial run never shrinks a shared table such as
``cities`` or ``service_panel``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from ucc_research import __version__, config, io
from ucc_research.cleaning.base import SourceResult
from ucc_research.cleaning.dataset import META_FILE, Dataset, publish
from ucc_research.cleaning.quarantine import concat_quarantine
from ucc_research.cleaning.schemas import KINDS, get_spec, validate_frame
from ucc_research.cleaning.sources import SOURCES, get_adapter
from ucc_research.errors import DataFileError, SpecError, UccError

#: Raw folder of each source (default: the source's name).
SOURCE_DIRS: dict[str, str] = {
    "baltimore_311": "baltimore_311_sample",
    "nyc_311": "nyc_311_sample_2025",
}


#: Folder (in the processed folder) of the per-row source of every table.
PROVENANCE = "provenance"
_SOURCE_TMP = "__ucc_source__"
_CONNECT_TIMEOUT = "10s"


def source_dir(raw_dir: Path, name: str) -> Path:
    return Path(raw_dir) / SOURCE_DIRS.get(name, name)


def table_kind(table: str) -> str | None:
    """Schema of a table name: ``iData_ucc2023`` -> ``iData``; unknown names -> None."""
    for kind in KINDS:
        if table == kind or re.match(rf"^{kind}[_.-]", table):
            return kind
    return None


def run_sources(
    raw_dir: Path,
    only: list[str] | None = None,
    *,
    jobs: int = 1,
    scheduler: str | None = None,
    staging: Path | None = None,
) -> tuple[list[SourceResult], dict]:
    """Run the adapters whose raw folder exists; return results and the skipped sources.

    ``staging`` is where adapters write tables too big for memory (request logs); the
    :class:`~ucc_research.cleaning.dataset.Dataset` they return points there (on a Dask
    cluster the workers must see it at the same path).

    With ``jobs > 1`` the adapters run in that many worker processes (several request logs
    prepare on several cores); with ``scheduler`` (a Dask scheduler's address) they run on
    that cluster, whose workers must see ``raw_dir`` at the same path. The results are the
    same as in one process.
    """
    if not isinstance(jobs, int) or isinstance(jobs, bool) or jobs < 1:
        raise SpecError(f"jobs must be a whole number >= 1, got {jobs!r}")
    names = list(SOURCES) if not only else list(only)
    unknown = [n for n in names if n not in SOURCES]
    if unknown:
        raise SpecError(f"unknown source(s) {unknown}; known sources: {', '.join(SOURCES)}")
    todo, skipped = [], {}
    for name in names:
        folder = source_dir(raw_dir, name)
        if not folder.is_dir():
            skipped[name] = f"raw folder {folder} not found"
        else:
            todo.append(name)
    if scheduler and todo:
        from distributed import Client

        try:
            client = Client(scheduler, timeout=_CONNECT_TIMEOUT)
        except OSError as exc:  # refused, unreachable or timed out
            raise UccError(f"cannot reach the Dask scheduler {scheduler!r}: {exc}") from exc
        with client:
            futures = client.map(
                _run_source, [Path(raw_dir)] * len(todo), todo, [staging] * len(todo),
                pure=False, key=[f"ucc-prepare-{name}" for name in todo],
            )  # fmt: skip
            outcomes = client.gather(futures)
    elif jobs == 1 or len(todo) < 2:
        outcomes = [_run_source(Path(raw_dir), name, staging) for name in todo]
    else:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        # spawned workers: forking a process that runs pyarrow's threads is not safe
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(min(jobs, len(todo)), mp_context=context) as pool:
            outcomes = list(
                pool.map(_run_source, [Path(raw_dir)] * len(todo), todo, [staging] * len(todo))
            )
    results = []
    for outcome in outcomes:
        if isinstance(outcome, tuple):  # a file that cannot be read
            file, reason, line, column = outcome
            raise DataFileError(file, reason, line=line, column=column)
        results.append(outcome)
    return results, skipped


def _run_source(raw_dir: Path, name: str, staging: Path | None = None) -> SourceResult | tuple:
    """One adapter, its row conservation checked; an unreadable file as (file, reason, line,
    column)."""
    with _staging_env(staging):
        return _run_adapter(raw_dir, name)


@contextlib.contextmanager
def _staging_env(staging: Path | None):
    """``UCC_STAGING_DIR`` set to ``staging`` for the duration (unchanged when None)."""
    before = os.environ.get("UCC_STAGING_DIR")
    if staging is not None:
        os.environ["UCC_STAGING_DIR"] = str(staging)
    try:
        yield
    finally:
        if staging is not None:
            if before is None:
                os.environ.pop("UCC_STAGING_DIR", None)
            else:
                os.environ["UCC_STAGING_DIR"] = before


def _run_adapter(raw_dir: Path, name: str) -> SourceResult | tuple:
    try:
        adapter = get_adapter(name)
    except ImportError as exc:
        raise UccError(
            f"source {name!r}: its adapter {SOURCES[name]} cannot be imported ({exc})"
        ) from exc
    try:
        result = adapter(Path(raw_dir))
    except DataFileError as exc:  # returned, not raised: it crosses a process boundary
        return exc.file, f"{exc.reason} (source {name!r})", exc.line, exc.column
    problems = result.conservation_problems()
    if problems:
        raise UccError(f"source {name!r} loses rows: " + "; ".join(problems))
    return result


def _sort(df: pd.DataFrame, kind: str | None) -> pd.DataFrame:
    key = [k for k in (get_spec(kind).key if kind else ()) if k in df]
    if not key:
        return df.reset_index(drop=True)
    return df.sort_values(key, kind="stable", na_position="last").reset_index(drop=True)


def combine(
    results: list[SourceResult],
) -> tuple[dict[str, pd.DataFrame], dict[str, pd.DataFrame], dict[str, pd.DataFrame]]:
    """Concatenate tables of the same name over sources and re-validate them.

    A row that passed its adapter but fails the combined table (for instance a ``city_id`` used
    by two sources) is an inconsistency between sources: :class:`UccError` listing it.

    Returns
    -------
    tables : table name -> rows of every source, sorted by the table's key.
    quarantine : table name -> quarantine records of every source.
    provenance : table name -> one-column frame ``source``, the source of each row of the table.
    """
    tables: dict[str, list[tuple[str, pd.DataFrame]]] = {}
    for r in sorted(results, key=lambda r: r.source):
        for name, df in r.tables.items():
            tables.setdefault(name, []).append((r.source, df))
    out, provenance = {}, {}
    for name in sorted(tables):
        if any(isinstance(f, Dataset) for _, f in tables[name]):
            out[name] = _union(name, tables[name])
            continue
        parts = [p for p in tables[name] if len(p[1])] or tables[name][:1]
        frames = [f for _, f in parts]
        df = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
        sources = pd.Series(np.repeat([s for s, _ in parts], [len(f) for f in frames]), dtype="str")
        kind = table_kind(name)
        if kind is not None:
            df, q = validate_frame(df, kind, file=f"<combined {name}>", source="(all)")
            if len(q):
                shown = "; ".join(
                    f"row {p.line}: {p.column} {p.value!r}: {p.reason}"
                    for p in q.head(5).itertuples()
                )
                raise UccError(f"combined table {name!r} fails its schema: {shown}")
        # the source of each row travels with it through the sort
        df = _sort(df.assign(**{_SOURCE_TMP: sources.to_numpy()}), kind)
        provenance[name] = df.pop(_SOURCE_TMP).rename("source").to_frame()
        out[name] = df
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
    return out, qout, provenance


def _union(name: str, parts: list[tuple[str, pd.DataFrame | Dataset]]) -> Dataset:
    """The datasets of several sources as one; refuses a ``city_id`` two sources use (their
    keys could collide, and each city's rows must come from one source)."""
    if not all(isinstance(f, Dataset) for _, f in parts):
        raise UccError(f"table {name!r} is a dataset for some sources and a frame for others")
    out, seen = None, {}
    for source, ds in parts:
        if "city_id" in ds.columns:
            for city in ds.distinct("city_id"):
                if city in seen:
                    raise UccError(
                        f"combined table {name!r}: city_id {city!r} comes from sources "
                        f"{seen[city]!r} and {source!r}"
                    )
                seen[city] = source
        out = ds if out is None else out.union(ds)
    return out


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
            "fingerprint": r.fingerprint or io.fingerprint([source_dir(raw_dir, r.source)]),
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


def previous_results(
    out_dir: Path, keep: set[str] | None = None
) -> tuple[list[SourceResult], dict]:
    """The sources of a previous ``ucc prepare`` in ``out_dir``, read back from its outputs.

    Parameters
    ----------
    out_dir : the processed folder of the previous run.
    keep : sources to read back (default: all); the others are left out.

    Returns
    -------
    results : one :class:`SourceResult` per kept source, with the rows, quarantine records,
        counts, detected dialects, notes and raw fingerprint of that run.
    skipped : the previous run's skipped sources (those in ``keep``).

    Raises
    ------
    UccError
        ``out_dir`` holds a run without provenance (written before it was recorded), or tables
        that disagree with its ``quality.json``. A folder without ``quality.json`` is a first
        run: nothing to keep.
    """
    out_dir = Path(out_dir)
    fix = f"run `ucc prepare --out {out_dir}` without --only first"
    qpath = out_dir / "quality.json"
    if not qpath.is_file():  # a first run: there is nothing to keep
        return [], {}
    quality = json.loads(qpath.read_text(encoding="utf-8"))
    wanted = {s: v for s, v in quality["sources"].items() if keep is None or s in keep}
    rows: dict[str, dict[str, pd.DataFrame | Dataset]] = {s: {} for s in wanted}
    for table in quality["tables"]:
        holders = {s: v["tables"][table] for s, v in wanted.items() if table in v["tables"]}
        if holders:
            for s, part in _previous_rows(out_dir, table, holders, fix).items():
                rows[s][table] = part
    qframes = [pd.read_parquet(q) for q in sorted((out_dir / "quarantine").glob("*.parquet"))]
    quarantine = concat_quarantine(qframes)
    results = []
    for s, v in sorted(wanted.items()):
        files = v["files"]
        results.append(
            SourceResult(
                source=s,
                tables=rows[s],
                quarantine=quarantine.loc[quarantine["source"] == s].reset_index(drop=True),
                rows_in={f: int(x["rows_in"]) for f, x in files.items()},
                rows_kept={f: int(x["rows_kept"]) for f, x in files.items()},
                detected={f: x["detected"] for f, x in files.items()},
                synthetic=bool(v["synthetic"]),
                notes=list(v["notes"]),
                fingerprint=v["fingerprint"],
            )
        )
        problems = results[-1].conservation_problems()
        if problems:
            raise UccError(
                f"the previous rows of {s!r} in {out_dir} do not add up: {problems}; {fix}"
            )
    skipped = {s: why for s, why in quality["skipped"].items() if keep is None or s in keep}
    return results, skipped


def _previous_rows(
    out_dir: Path, table: str, holders: dict[str, int], fix: str
) -> dict[str, pd.DataFrame | Dataset]:
    """Each holder source's rows of ``table`` in a previous run, checked against the row counts
    of its ``quality.json`` (``holders``: source -> rows)."""
    out: dict[str, pd.DataFrame | Dataset] = {}
    if (out_dir / table).is_dir():  # a dataset: one folder per source
        meta = json.loads((out_dir / table / META_FILE).read_text(encoding="utf-8"))
        for s in holders:
            out[s] = Dataset({s: out_dir / table / f"source={s}"}, key=tuple(meta["key"]))
            out[s]._schema_names = tuple(meta["columns"])
        where = out_dir / table
    else:
        tpath, ppath = out_dir / f"{table}.parquet", out_dir / PROVENANCE / f"{table}.parquet"
        if not ppath.is_file():
            raise UccError(f"{ppath} is missing (the row sources of {table!r} are unknown); {fix}")
        df, prov = pd.read_parquet(tpath), pd.read_parquet(ppath)["source"]
        if len(df) != len(prov):
            raise UccError(f"{tpath} has {len(df)} rows but {ppath} {len(prov)}; {fix}")
        for s in holders:
            out[s] = df.loc[(prov == s).to_numpy()].reset_index(drop=True)
        where = tpath
    for s, n in holders.items():
        if len(out[s]) != n:
            raise UccError(
                f"{where} holds {len(out[s])} rows of {s!r}; quality.json says {n}; {fix}"
            )
    return out


def prepare(
    raw_dir: str | Path | None = None,
    out_dir: str | Path | None = None,
    only: list[str] | None = None,
    *,
    jobs: int = 1,
    scheduler: str | None = None,
) -> dict:
    """Build the processed tables from the raw folder; return the quality summary.

    Parameters
    ----------
    raw_dir : raw data folder (default :func:`ucc_research.config.raw_dir`).
    out_dir : processed folder (default :func:`ucc_research.config.processed_dir`).
    only : source names to prepare again (default: every registered source whose folder
        exists). Their rows replace theirs of the previous run in ``out_dir``; the rows,
        quarantine records and quality entries of every other source are kept.
    jobs : adapters run at once, each in its own process (default 1); same outputs.
    scheduler : address of a Dask scheduler to run the adapters on instead (its workers must
        see ``raw_dir`` at the same path); same outputs.

    Returns
    -------
    dict
        The quality summary written to ``out_dir/quality.json``.

    Raises
    ------
    DataFileError
        A raw file cannot be read at all (nothing is written).
    UccError
        An adapter is missing or loses rows, sources contradict each other, or ``only`` names
        a source without raw folder, or the previous run in ``out_dir`` cannot be read back.

    Examples
    --------
    Every source, then one source again (the others' rows are kept)::

        prepare("data/raw", "data/processed")
        prepare("data/raw", "data/processed", only=["nyc_311"])
    """
    raw_dir = Path(raw_dir) if raw_dir else config.raw_dir()
    out_dir = Path(out_dir) if out_dir else config.processed_dir()
    if not raw_dir.is_dir():
        raise UccError(f"raw data folder {raw_dir} not found")
    created = not out_dir.exists()
    out_dir.mkdir(parents=True, exist_ok=True)
    # request logs are written here block by block, then moved into place (same file system)
    staging = Path(tempfile.mkdtemp(prefix=".ucc-staging-", dir=out_dir))
    try:
        return _prepare(raw_dir, out_dir, only, jobs=jobs, scheduler=scheduler, staging=staging)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        if created and not any(out_dir.iterdir()):  # a refused first run leaves nothing
            out_dir.rmdir()


def _prepare(
    raw_dir: Path,
    out_dir: Path,
    only: list[str] | None,
    *,
    jobs: int,
    scheduler: str | None,
    staging: Path,
) -> dict:
    """:func:`prepare` once its folders are checked and the staging folder made."""
    results, skipped = run_sources(
        raw_dir, only, jobs=jobs, scheduler=scheduler, staging=staging
    )  # fmt: skip
    if only:
        if skipped:
            raise UccError(
                "--only names source(s) without raw data: "
                + "; ".join(f"{n}: {why}" for n, why in sorted(skipped.items()))
            )
        others, skipped = previous_results(out_dir, keep=set(SOURCES) - set(only))
        results += others
    if not results:
        raise UccError(f"no source found in {raw_dir} (looked for: {', '.join(SOURCES)})")
    tables, quarantine, provenance = combine(results)
    summary = quality_summary(results, skipped, tables, raw_dir)
    before = out_dir / "quality.json"
    stale = []
    if before.is_file():  # tables of the previous run that this run no longer has
        previous = json.loads(before.read_text(encoding="utf-8")).get("tables", {})
        stale = sorted(set(previous) - set(tables))
    for name, df in tables.items():
        if isinstance(df, Dataset):  # its folders say each row's source: no provenance file
            publish(df, out_dir / name, columns=list(df.columns))
            for old in (out_dir / f"{name}.parquet", out_dir / PROVENANCE / f"{name}.parquet"):
                old.unlink(missing_ok=True)  # the single-file layout of an older run
            continue
        io.write_parquet(out_dir / f"{name}.parquet", df)
        io.write_parquet(out_dir / PROVENANCE / f"{name}.parquet", provenance[name])
    for name, q in quarantine.items():
        io.write_parquet(out_dir / "quarantine" / f"{name}.parquet", q)
    io.write_json(out_dir / "quality.json", summary)
    for name in stale:  # else a study could still read rows no source produces any more
        for folder in (out_dir, out_dir / PROVENANCE, out_dir / "quarantine"):
            (folder / f"{name}.parquet").unlink(missing_ok=True)
        if (out_dir / name).is_dir():
            shutil.rmtree(out_dir / name)
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
    """``ucc prepare [--raw DIR] [--out DIR] [--only SOURCE ...] [--jobs N] [--scheduler A]``."""
    out_dir = Path(args.out) if args.out else config.processed_dir()
    scheduler = getattr(args, "scheduler", None) or os.environ.get("UCC_DASK_SCHEDULER") or None
    summary = prepare(
        args.raw, out_dir, args.only, jobs=getattr(args, "jobs", 1), scheduler=scheduler
    )
    print(format_summary(summary))
    print(f"rows in = kept + quarantined for every file; written to {out_dir}")
    return 0
