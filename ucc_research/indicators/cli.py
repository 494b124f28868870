"""``ucc index build``: build an index from iData/iMeta files and write its tables."""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from ucc_research import io
from ucc_research.errors import DataFileError, SpecError
from ucc_research.indicators.coin import Coin, build


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a CSV, xlsx or parquet table, with a clear error for missing/unreadable files."""
    p = Path(path)
    if not p.is_file():
        raise DataFileError(p, "file not found")
    suffix = p.suffix.lower()
    try:
        if suffix in (".xlsx", ".xls"):
            return pd.read_excel(p)
        if suffix == ".parquet":
            return pd.read_parquet(p)
        return pd.read_csv(p)
    except (ValueError, OSError, UnicodeDecodeError) as exc:
        raise DataFileError(p, f"cannot be read as a table: {exc}") from None


def write_outputs(coin: Coin, out: str | Path) -> Path:
    """Write ``scores.csv``, ``ranks.csv``, ``stages/<stage>.csv`` and ``log.json`` to ``out``."""
    out = Path(out)
    io.write_csv(out / "scores.csv", coin.scores)
    io.write_csv(out / "ranks.csv", coin.ranks)
    for stage, df in coin.stages.items():
        io.write_csv(out / "stages" / f"{stage}.csv", df.reset_index())
    io.write_json(out / "log.json", coin.spec)
    return out


def cli_build(args: argparse.Namespace) -> int:
    """Handler of ``ucc index build`` (see ``ucc index build --help``)."""
    idata = read_table(args.data)
    imeta = read_table(args.meta)
    coin = build(idata, imeta, args.spec)
    out = write_outputs(coin, args.out)
    n = int(getattr(args, "uncertainty", 0) or 0)
    if n < 0:
        raise SpecError(f"--uncertainty must be >= 0, got {n}")
    if n:
        try:
            from ucc_research.indicators.uncertainty import rank_intervals
        except ImportError:
            raise SpecError(
                "--uncertainty needs ucc_research.indicators.uncertainty.rank_intervals, "
                "which is not available in this version"
            ) from None
        io.write_csv(out / "rank_intervals.csv", rank_intervals(coin, n, args.seed))
    top = coin.framework.codes(coin.framework.n_levels)
    print(
        f"built {coin!r}\nwrote {out}/scores.csv, ranks.csv, stages/, log.json"
        + (" and rank_intervals.csv" if n else "")
        + f"\ntop-level: {', '.join(top)}"
    )
    return 0
