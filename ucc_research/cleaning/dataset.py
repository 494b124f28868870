"""Tables too big for memory, kept on disk as parquet datasets partitioned by source and year.

A request log of any size is cleaned block by block (see
:mod:`ucc_research.cleaning.sources.requests_311`); its kept rows go straight to disk, one file
per local calendar year of creation (each block a row group)::

    requests/                       the processed table (``data/processed/requests/``)
        _dataset.json               {"key": [...], "partitioning": ["source", "year"]}
        source=baltimore_311/
            year=2014/part-0.parquet
            year=2015/part-0.parquet ...

A :class:`Dataset` stands for such a table in an adapter's
:class:`~ucc_research.cleaning.base.SourceResult` and in ``ucc prepare``: it knows its row
count and columns without reading the rows, and :meth:`Dataset.to_pandas` (or
:func:`ucc_research.io.read_parquet`) gives exactly the frame the single-file layout held:
every row, sorted by the table's key.

Files are only ever written in a staging folder and moved into place whole
(:func:`publish`), so a killed run leaves the previous table untouched.

Examples
--------
>>> import tempfile
>>> folder = Path(tempfile.mkdtemp())
>>> writer = YearWriter(folder / "x", key=("city_id", "request_id"))
>>> t = pd.to_datetime(["2020-01-31 23:00", "2020-02-01 00:30"]).tz_localize("UTC")
>>> writer.append(pd.DataFrame({"city_id": "A", "request_id": ["2", "1"], "created_at": t}),
...               timezone="America/New_York")
>>> ds = writer.close("src")
>>> len(ds), [f.parent.name for f in ds.files()]
(2, ['year=2020'])
>>> ds.to_pandas()["request_id"].tolist()
['1', '2']
>>> shutil.rmtree(folder)
"""

from __future__ import annotations

import json
import os
import shutil
import weakref
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

#: Name of the file describing a dataset folder (its key and partitioning).
META_FILE = "_dataset.json"


class Dataset:
    """A table held as parquet files, one folder per source (``source=<name>/year=<YYYY>/...``).

    Parameters
    ----------
    parts : source name -> the folder holding that source's ``year=`` folders.
    key : the table's key; :meth:`to_pandas` sorts by it.
    rows : row count when known (else read from the files' metadata).
    """

    def __init__(self, parts: dict[str, Path], *, key: tuple[str, ...], rows: int | None = None):
        self.parts = {s: Path(p) for s, p in sorted(parts.items())}
        self.key = tuple(key)
        self._rows = rows
        self._cleanup: weakref.finalize | None = None

    def __repr__(self) -> str:
        return f"Dataset({len(self)} rows, sources {list(self.parts)})"

    def __len__(self) -> int:
        if self._rows is None:
            import pyarrow.parquet as pq

            self._rows = sum(pq.ParquetFile(f).metadata.num_rows for f in self.files())
        return self._rows

    def files(self, source: str | None = None) -> list[Path]:
        """The parquet files, in source and year order."""
        names = [source] if source is not None else list(self.parts)
        return [f for s in names for f in sorted(self.parts[s].glob("year=*/*.parquet"))]

    @property
    def columns(self) -> list[str]:
        import pyarrow.parquet as pq

        files = self.files()
        if not files:
            return list(self._schema_names)
        return list(pq.read_schema(files[0]).names)

    _schema_names: tuple[str, ...] = ()

    def batches(
        self, columns: list[str] | None = None, *, categorical: list[str] | None = None
    ) -> Iterator[pd.DataFrame]:
        """Each file's rows (one local year of one source) as a frame: memory one year.

        ``categorical`` columns (text written with dictionary encoding) are read as pandas
        categoricals: no string object per row.
        """
        import pyarrow.parquet as pq

        for f in self.files():
            table = pq.read_table(
                f, columns=columns, partitioning=None, read_dictionary=categorical
            )
            yield table.to_pandas()

    def to_pandas(self, columns: list[str] | None = None) -> pd.DataFrame:
        """Every row in memory, sorted by the key: what the single-file table held."""
        return read_files(self.files(), columns=columns, key=self.key, schema_of=self)

    def distinct(self, column: str) -> set:
        """The distinct values of one column, read file by file."""
        import pyarrow.parquet as pq

        out: set = set()
        for f in self.files():
            out |= set(pq.read_table(f, columns=[column]).column(0).unique().to_pylist())
        return out

    def union(self, other: Dataset) -> Dataset:
        """The rows of both (sources must differ)."""
        same = set(self.parts) & set(other.parts)
        if same:
            raise ValueError(f"both datasets hold source(s) {sorted(same)}")
        rows = None if self._rows is None or other._rows is None else len(self) + len(other)
        out = Dataset({**self.parts, **other.parts}, key=self.key, rows=rows)
        out._schema_names = self._schema_names or other._schema_names
        return out

    def remove_when_unused(self) -> Dataset:
        """Delete the folders when this object is garbage (staging of a direct adapter call)."""
        folders = list(self.parts.values())
        self._cleanup = weakref.finalize(self, _remove, folders)
        return self

    def keep(self) -> Dataset:
        """Cancel :meth:`remove_when_unused` (``ucc prepare`` moves the folders itself)."""
        if self._cleanup is not None:
            self._cleanup.detach()
            self._cleanup = None
        return self

    def __getstate__(self) -> dict:  # the cleanup stays with the process that made it
        return {**self.__dict__, "_cleanup": None}


def _remove(folders: list[Path]) -> None:
    for f in folders:
        shutil.rmtree(f, ignore_errors=True)


def read_files(
    files: list[Path], *, columns: list[str] | None, key: tuple[str, ...], schema_of=None
) -> pd.DataFrame:
    """Rows of parquet ``files`` in one frame, sorted (stably) by ``key``."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    tables = [pq.read_table(f, columns=columns, partitioning=None) for f in files]
    if not tables:
        names = columns or list(getattr(schema_of, "_schema_names", ()))
        return pd.DataFrame({c: pd.Series(dtype="str") for c in names})
    df = pa.concat_tables(tables).to_pandas()
    by = [k for k in key if k in df]
    if by:
        df = df.sort_values(by, kind="stable", na_position="last")
    return df.reset_index(drop=True)


def read_dataset(folder: str | Path, columns: list[str] | None = None) -> pd.DataFrame:
    """A dataset folder written by ``ucc prepare`` as one frame, sorted by its key."""
    folder = Path(folder)
    meta = json.loads((folder / META_FILE).read_text(encoding="utf-8"))
    files = sorted(folder.glob("source=*/year=*/*.parquet"))
    return read_files(files, columns=columns, key=tuple(meta["key"]))


def dataset_schema(folder: str | Path) -> list[str]:
    """Column names of a dataset folder (from its first file; the declared ones if empty)."""
    import pyarrow.parquet as pq

    folder = Path(folder)
    files = sorted(folder.glob("source=*/year=*/*.parquet"))
    if files:
        return list(pq.read_schema(files[0]).names)
    return list(json.loads((folder / META_FILE).read_text(encoding="utf-8")).get("columns", []))


#: Columns written with parquet dictionary encoding (few distinct values; the ids are not).
DICTIONARY_COLUMNS = ("city_id", "service_type", "channel", "channel_raw", "status", "timezone",
                      "source", "service_id")  # fmt: skip


#: Columns whose min/max statistics are written (row groups are skipped by time ranges).
STATISTICS_COLUMNS = ("created_at", "closed_at")


class YearWriter:
    """Rows appended block by block into one parquet file per local calendar year of a column.

    Each block is one row group of its year's file; a block within one year (request logs are
    mostly in time order) is written as it is, one spanning several years is split by masks.

    Parameters
    ----------
    folder : where the ``year=YYYY/part-0.parquet`` files go (created).
    key : the table's key (recorded in the :class:`Dataset` returned by :meth:`close`).
    """

    def __init__(self, folder: Path, *, key: tuple[str, ...]):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.key = key
        self.rows = 0
        self._writers: dict[int, object] = {}
        self._schema = None

    def append(
        self,
        df: pd.DataFrame,
        *,
        timezone: str,
        column: str = "created_at",
        rows: np.ndarray | None = None,
    ) -> None:
        """Write ``df``'s rows (those where the boolean mask ``rows`` is True, if given), each
        to the file of its local year of ``column``. The rows are picked by pyarrow, which
        releases the GIL (the caller may go on cleaning the next block meanwhile)."""
        import pyarrow as pa

        table = pa.Table.from_pandas(df, preserve_index=False)
        if self._schema is None:
            self._schema = table.schema
        elif table.schema != self._schema:
            table = table.cast(self._schema)
        keep = np.ones(len(df), dtype=bool) if rows is None else np.asarray(rows, dtype=bool)
        if not keep.any():
            return
        year = df[column].dt.tz_convert(timezone).dt.year  # a row left out may have no time
        year = year.fillna(-1).to_numpy("int64")
        years = np.unique(year[keep])
        for y in years:
            pick = keep if len(years) == 1 else keep & (year == y)
            self._write(int(y), table if pick.all() else table.filter(pick))
        self.rows += int(keep.sum())

    def _write(self, year: int, table) -> None:
        import pyarrow.parquet as pq

        writer = self._writers.get(year)
        if writer is None:
            path = self.folder / f"year={year}" / "part-0.parquet"
            path.parent.mkdir(parents=True, exist_ok=True)
            dictionary = [c for c in self._schema.names if c in DICTIONARY_COLUMNS]
            # min/max statistics only where a reader can skip row groups by them: the times
            # (logs come roughly in time order); ids, types and channels are spread over every
            # block, and their statistics cost a fifth of the writing
            stats = [c for c in self._schema.names if c in STATISTICS_COLUMNS]
            writer = pq.ParquetWriter(
                path, self._schema, use_dictionary=dictionary, write_statistics=stats
            )
            self._writers[year] = writer
        writer.write_table(table)

    def close(self, source: str) -> Dataset:
        """Close every file; the rows written, as a :class:`Dataset` of ``source``."""
        for writer in self._writers.values():
            writer.close()
        self._writers = {}
        ds = Dataset({source: self.folder}, key=self.key, rows=self.rows)
        ds._schema_names = tuple(self._schema.names) if self._schema is not None else ()
        return ds

    def abort(self) -> None:
        """Close and delete everything written."""
        for writer in self._writers.values():
            writer.close()
        self._writers = {}
        shutil.rmtree(self.folder, ignore_errors=True)


class KeyLog:
    """The ids of a table written block by block, for a duplicate check over all blocks.

    Memory: 8 bytes per row (a 64-bit hash of each id, :func:`~ucc_research.cleaning.text.
    key_hashes`); the ids and lines go to a parquet file, from which :meth:`candidates` reads
    back only the rows whose hash repeats (every real duplicate, and the rare collision that
    the exact check then clears).

    Parameters
    ----------
    path : the file of ids and lines (deleted by :meth:`close`).
    column : the id column of the frames given to :meth:`append`.
    line : their line column.
    """

    def __init__(self, path: Path, *, column: str = "request_id", line: str = "_line"):
        self.path, self.column, self.line = Path(path), column, line
        self._hashes: list[np.ndarray] = []
        self._writer = None

    def append(self, df: pd.DataFrame) -> None:
        """Record the ids (stripped; missing ones are not keys) and lines of one block."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        from ucc_research.cleaning.schemas import stripped_text
        from ucc_research.cleaning.text import key_hashes

        ids = stripped_text(df[self.column])  # as the key rule reads them (empty: missing)
        lines = df[self.line].to_numpy(dtype="int64")
        has = ids.notna().to_numpy(dtype=bool)
        if not has.all():
            ids, lines = ids[has], lines[has]
        hashes = key_hashes(ids)
        self._hashes.append(hashes)
        table = pa.table(
            {"hash": hashes, "id": pa.array(ids.array, pa.large_string()), "line": lines}
        )
        if self._writer is None:
            self._writer = pq.ParquetWriter(
                self.path, table.schema, compression="none", use_dictionary=False
            )
        self._writer.write_table(table)

    def candidates(self) -> pd.DataFrame:
        """``id`` and line of every row whose hash occurs more than once (all its copies)."""
        import pyarrow as pa
        import pyarrow.compute as pc
        import pyarrow.parquet as pq

        empty = pd.DataFrame({"id": pd.Series(dtype="str"), self.line: pd.Series(dtype="int64")})
        if self._writer is None:
            return empty
        self._writer.close()
        self._writer = None
        hashes = np.concatenate(self._hashes)
        self._hashes = []
        hashes.sort()  # in place: memory stays 8 bytes per row
        repeated = np.unique(hashes[1:][hashes[1:] == hashes[:-1]])
        if not len(repeated):
            return empty
        wanted = pc.field("hash").isin(pa.array(repeated, pa.uint64()))
        got = pq.read_table(self.path, filters=wanted).to_pandas()
        return pd.DataFrame({"id": got["id"].astype("str"), self.line: got["line"].astype("int64")})

    def close(self) -> None:
        """Close and delete the file of ids."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        self._hashes = []
        self.path.unlink(missing_ok=True)


def drop_keys(ds: Dataset, column: str, values) -> int:
    """Remove the rows whose ``column`` is in ``values`` from ``ds``'s files (each file that holds
    one is rewritten, atomically); return the rows removed."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from ucc_research import io

    values = pd.Series(values, dtype="str").str.strip().unique().tolist()
    removed = 0
    for f in ds.files():
        ids = pq.read_table(f, columns=[column]).column(0)
        hit = pc.is_in(ids, value_set=pa.array(values, ids.type))
        n = pc.sum(hit).as_py() or 0
        if not n:
            continue
        table = pq.read_table(f, partitioning=None)
        table = table.filter(pc.invert(pc.fill_null(hit, False)))
        with io.atomic_path(f) as tmp:
            pq.write_table(table, tmp)
        removed += n
    if ds._rows is not None:
        ds._rows -= removed
    return removed


def publish(ds: Dataset, path: Path, *, columns: list[str]) -> Path:
    """Make ``path`` the folder of ``ds``'s rows, replacing what was there as one rename.

    Each source's folder is moved (a staged one) or hard-linked (one already under ``path``,
    kept by ``ucc prepare --only``) into a staging folder beside ``path``, which then replaces
    ``path``.
    """
    path = Path(path)
    stage = path.parent / f".{path.name}.tmp-{os.getpid()}"
    old = path.parent / f".{path.name}.old-{os.getpid()}"
    shutil.rmtree(stage, ignore_errors=True)
    stage.mkdir(parents=True)
    try:
        for source, folder in ds.parts.items():
            dest = stage / f"source={source}"
            if folder.resolve().is_relative_to(path.resolve()):
                shutil.copytree(folder, dest, copy_function=_link_or_copy)
            else:
                shutil.move(folder, dest)
        meta = {"key": list(ds.key), "partitioning": ["source", "year"], "columns": columns}
        (stage / META_FILE).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
        if path.exists():
            os.replace(path, old)
        os.replace(stage, path)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    shutil.rmtree(old, ignore_errors=True)
    ds.parts = {s: path / f"source={s}" for s in ds.parts}
    return path


def _link_or_copy(src: str, dst: str) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


__all__ = [
    "Dataset",
    "YearWriter",
    "KeyLog",
    "drop_keys",
    "publish",
    "read_dataset",
    "dataset_schema",
    "META_FILE",
]
