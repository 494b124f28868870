"""Atomic, deterministic writers and input fingerprints.

Every output of the project goes through these helpers: the content is written to a temporary
file in the destination folder and renamed into place, so a killed run never leaves a
half-written file behind.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

import pandas as pd


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        # mkstemp creates 0600 files; give the result the permissions a plain open() would
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp_path, 0o666 & ~umask)
        os.replace(tmp_path, path)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def atomic_open(path: str | Path, mode: str = "w", encoding: str | None = "utf-8") -> Iterator[IO]:
    """Open a temporary file for writing; it replaces ``path`` only when the block succeeds."""
    if "b" in mode:
        encoding = None
    with atomic_path(path) as tmp, open(tmp, mode, encoding=encoding) as fh:
        yield fh


def write_text(path: str | Path, text: str) -> Path:
    with atomic_open(path) as fh:
        fh.write(text)
    return Path(path)


def _json_default(obj: Any) -> Any:
    import numpy as np

    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return float(obj)
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, (pd.Timestamp, pd.Period)):
        return str(obj)
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, set):
        return sorted(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def _nan_to_none(obj: Any) -> Any:
    if isinstance(obj, float) and obj != obj:  # NaN is the only float unequal to itself
        return None
    if isinstance(obj, dict):
        return {k: _nan_to_none(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_nan_to_none(v) for v in obj]
    return obj


def to_json(obj: Any) -> str:
    """Deterministic JSON: sorted keys, two-space indent, NaN written as null (strict JSON)."""
    obj = json.loads(json.dumps(obj, default=_json_default, allow_nan=True))
    return json.dumps(_nan_to_none(obj), indent=2, sort_keys=True, allow_nan=False) + "\n"


def write_json(path: str | Path, obj: Any) -> Path:
    return write_text(path, to_json(obj))


def write_parquet(path: str | Path, df: pd.DataFrame) -> Path:
    with atomic_path(path) as tmp:
        df.to_parquet(tmp, index=False)
    return Path(path)


def write_csv(path: str | Path, df: pd.DataFrame, **kwargs: Any) -> Path:
    kwargs.setdefault("index", False)
    with atomic_path(path) as tmp:
        df.to_csv(tmp, **kwargs)
    return Path(path)


def fingerprint(paths: Iterable[str | Path]) -> str:
    """SHA-256 over the names and bytes of ``paths`` (folders are walked in sorted order)."""
    digest = hashlib.sha256()
    files: list[Path] = []
    for p in paths:
        p = Path(p)
        files.extend(sorted(f for f in p.rglob("*") if f.is_file()) if p.is_dir() else [p])
    for f in files:
        digest.update(f.name.encode())
        with open(f, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def read_parquet(path: str | Path, columns: list[str] | None = None) -> pd.DataFrame:
    """A processed table: a parquet file, or a dataset folder written by ``ucc prepare``
    (``requests/source=.../year=.../*.parquet``: every row, sorted by the table's key, the frame
    the single-file layout held)."""
    path = Path(path)
    if path.is_dir():
        from ucc_research.cleaning.dataset import read_dataset

        return read_dataset(path, columns)
    return pd.read_parquet(path, columns=columns)


def parquet_columns(path: str | Path) -> list[str]:
    """Column names of a parquet file or dataset folder (:func:`read_parquet`), from the schema."""
    path = Path(path)
    if path.is_dir():
        from ucc_research.cleaning.dataset import dataset_schema

        return dataset_schema(path)
    import pyarrow.parquet as pq

    return list(pq.read_schema(path).names)
