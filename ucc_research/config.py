"""Project paths, overridable by environment variables so tests can run in a temporary tree.

Every path is read from the environment at call time (not at import), so ``monkeypatch.setenv``
in a test, or ``UCC_ROOT=/tmp/x ucc prepare`` on the command line, takes effect immediately.

========================  ===============================  ==============================
function                  environment variable             default
========================  ===============================  ==============================
:func:`project_root`      ``UCC_ROOT``                     the folder above this package
:func:`raw_dir`           ``UCC_RAW_DIR``                  ``<root>/data/raw``
:func:`processed_dir`     ``UCC_PROCESSED_DIR``            ``<root>/data/processed``
:func:`outputs_dir`       ``UCC_OUTPUTS_DIR``              ``<root>/outputs``
:func:`shared_data_dir`   ``UCC_SHARED_DATA``              ``<root>/../shared/data``
:func:`staging_dir`       ``UCC_STAGING_DIR``              None (the system's temp folder)
========================  ===============================  ==============================

:func:`max_record_bytes` bounds the length of a line in a text table (``UCC_MAX_RECORD_MB``);
:func:`configure_arrow_pool` (called by the ``ucc`` command) gives pyarrow the jemalloc pool.
"""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
_DEFAULT_ROOT = PACKAGE_DIR.parent


def _env_path(name: str, default: Path) -> Path:
    value = os.environ.get(name)
    return Path(value).expanduser().resolve() if value else default


def project_root() -> Path:
    """The project's root folder (``UCC_ROOT``)."""
    return _env_path("UCC_ROOT", _DEFAULT_ROOT)


def raw_dir() -> Path:
    """Immutable inputs: real public sources and the synthetic demo (``UCC_RAW_DIR``)."""
    return _env_path("UCC_RAW_DIR", project_root() / "data" / "raw")


def processed_dir() -> Path:
    """Generated tidy tables, quarantine and quality summary (``UCC_PROCESSED_DIR``)."""
    return _env_path("UCC_PROCESSED_DIR", project_root() / "data" / "processed")


def outputs_dir() -> Path:
    """Generated reports, figures and tables (``UCC_OUTPUTS_DIR``)."""
    return _env_path("UCC_OUTPUTS_DIR", project_root() / "outputs")


def shared_data_dir() -> Path:
    """Reference data beside the project, used by validation tests (``UCC_SHARED_DATA``)."""
    return _env_path("UCC_SHARED_DATA", project_root().parent / "shared" / "data")


def staging_dir() -> Path | None:
    """Where adapters write tables too big for memory before ``ucc prepare`` moves them into
    place (``UCC_STAGING_DIR``, set by ``ucc prepare`` to a folder inside its ``--out``); None:
    the system's temporary folder, cleaned when the table is no longer used."""
    value = os.environ.get("UCC_STAGING_DIR")
    return Path(value) if value else None


def configure_arrow_pool() -> str:
    """Give pyarrow the jemalloc memory pool (unless ``ARROW_DEFAULT_MEMORY_POOL`` chooses one);
    return the pool in use.

    pyarrow's default pool (mimalloc) commits memory page by page as it is first touched; on the
    virtual machines this project is benchmarked on, that made ``clean + validate`` of a 1M-row
    311 log take 2.8 s of CPU instead of 1.8 s (``benchmarks/bench_prepare.py``; 3.5x a bare
    ``read_csv`` instead of about 2x, against a goal of 3x). pyarrow's own
    ``ARROW_DEFAULT_MEMORY_POOL`` (``jemalloc``, ``mimalloc``, ``system``) overrides the choice.

    Examples
    --------
    >>> configure_arrow_pool() in ("jemalloc", "mimalloc", "system")
    True
    """
    import pyarrow as pa

    if not os.environ.get("ARROW_DEFAULT_MEMORY_POOL"):
        try:
            pa.set_memory_pool(pa.jemalloc_memory_pool())
        except NotImplementedError:  # a pyarrow built without jemalloc keeps its default
            pass
    return pa.default_memory_pool().backend_name


def max_record_bytes() -> int:
    """Longest line a text table may have, in bytes (``UCC_MAX_RECORD_MB``, default 64 MB).

    A longer run without a line end (a file of NULs or of one endless line) is refused while
    the reader scans the file block by block, before any parser holds it in memory.

    Examples
    --------
    >>> max_record_bytes() >= 1 << 20
    True
    """
    value = os.environ.get("UCC_MAX_RECORD_MB", "").strip()
    if not value:
        return 64 << 20
    try:
        mb = float(value)
    except ValueError:
        mb = float("nan")
    if not mb >= 1:
        from ucc_research.errors import SpecError

        raise SpecError(f"UCC_MAX_RECORD_MB={value!r}: use a number of megabytes >= 1")
    return int(mb * (1 << 20))


def max_file_bytes() -> int:
    """Largest table file a reader takes whole, in bytes (``UCC_MAX_FILE_GB``).

    Default: a third of the machine's memory. Cleaning a request log peaks at about 2.5 times
    the CSV's size (``benchmarks/bench_prepare.py``: 2.7 GB for a 1.1 GB log), so a larger file
    would exhaust memory midway; it is refused up front instead, with this limit named.

    Examples
    --------
    >>> max_file_bytes() > 0
    True
    """
    value = os.environ.get("UCC_MAX_FILE_GB", "").strip()
    if not value:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 3
    try:
        gb = float(value)
    except ValueError:
        gb = float("nan")
    if not gb > 0:
        from ucc_research.errors import SpecError

        raise SpecError(f"UCC_MAX_FILE_GB={value!r}: use a number of gigabytes > 0")
    return int(gb * (1 << 30))
