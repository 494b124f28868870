"""``ucc index build``: build an index from iData/iMeta files and write its tables."""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from ucc_research import io
from ucc_research.errors import DataFileError, SpecError
from ucc_research.indicators.coin import Coin, build
from ucc_research.indicators.meta import validate_meta

#: iMeta columns that hold numbers (the others are codes, names and types).
META_NUMBERS = ("Level", "Direction", "Weight", "Target", "goalpost_lower", "goalpost_upper")


def read_table(
    path: str | Path,
    *,
    numbers: tuple[str, ...] | list[str] = (),
    sep: str | None = None,
    encoding: str | None = None,
    sheet: str | None = None,
) -> pd.DataFrame:
    """Read a CSV, xlsx or parquet table as ``ucc validate`` reads it; parse the ``numbers``.

    The dialect (encoding, separator, decimal mark, thousands separator) is detected by
    :func:`ucc_research.cleaning.readers.read_table`, unless given. Columns named in
    ``numbers`` are parsed with the file's decimal mark (``"0,5"`` in a ``;``-separated file is
    0.5); the other columns stay text, so codes such as ``"001"`` keep their zeros.

    Parameters
    ----------
    path : the file.
    numbers : columns to parse as numbers (those absent from the file are ignored).
    sep, encoding : force the separator or encoding of a text file instead of detecting it.
    sheet : sheet name of a workbook (default: the first sheet).

    Returns
    -------
    DataFrame
        One row per record, columns as in the file (without the reader's ``_line``).

    Raises
    ------
    DataFileError
        The file cannot be read, has a malformed or cut-off record, or a value of a
        ``numbers`` column is not a number (naming the line, column and value).

    Examples
    --------
    A partner's file, ``;``-separated with decimal commas in Windows-1252:

    >>> from ucc_research import config
    >>> path = config.project_root() / "examples" / "own_data" / "data" / "indicators.csv"
    >>> df = read_table(path, numbers=["p_mobile"])
    >>> df.loc[0, "uName"], float(df.loc[0, "p_mobile"])
    ('Graz', 40.4)
    >>> read_table(path, numbers=["p_online"])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ucc_research.errors.DataFileError: ...line 18: column 'p_online': value 'n.d.' is not a number...
    """
    df, detected = _read(path, sep=sep, encoding=encoding, sheet=sheet)
    return _parse_numbers(df, detected, numbers, str(path))


def _read(path: str | Path, **kw) -> tuple[pd.DataFrame, dict]:
    """The dialect-detecting reader of ``ucc validate``, refusing malformed records."""
    from ucc_research.cleaning.readers import read_table as read_raw

    df, detected = read_raw(path, **kw)
    bad = detected["bad_lines"]
    if bad:
        more = f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""
        raise DataFileError(str(path), f"line {bad[0]['line']}: {bad[0]['reason']}{more}")
    return df, detected


def _parse_numbers(df: pd.DataFrame, detected: dict, numbers, name: str) -> pd.DataFrame:
    from ucc_research.cleaning.readers import LINE, parse_numbers

    decimal, thousands = detected.get("decimal") or ".", detected.get("thousands")
    df = df.copy()
    for col in [c for c in numbers if c in df.columns]:
        values, unparsed = parse_numbers(df[col], decimal=decimal, thousands=thousands)
        if unparsed.any():
            i = int(unparsed.to_numpy().nonzero()[0][0])
            raise DataFileError(
                name,
                f"line {df[LINE].iloc[i]}: column {col!r}: value {df[col].iloc[i]!r} is not a "
                f"number (decimal mark {decimal!r}; {int(unparsed.sum())} such value(s))",
            )
        df[col] = values
    return df.drop(columns=LINE)


def read_inputs(
    data: str | Path,
    meta: str | Path,
    *,
    sep: str | None = None,
    encoding: str | None = None,
    sheet: str | None = None,
    meta_sheet: str | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """iData and iMeta files as :func:`~ucc_research.indicators.coin.build` takes them.

    iMeta is read first: its ``Type`` column says which iData columns are numbers (``Time``,
    indicators, denominators); groups and other columns stay text.

    Raises
    ------
    DataFileError
        Either file cannot be read (see :func:`read_table`).
    SpecError
        iMeta fails the build's own check (:func:`~ucc_research.indicators.meta.validate_meta`).
    """
    data_raw = _read(data, sep=sep, encoding=encoding, sheet=sheet)
    imeta = read_table(meta, numbers=META_NUMBERS, sep=sep, encoding=encoding, sheet=meta_sheet)
    typed = validate_meta(imeta)
    numeric = typed.index[typed["Type"].isin(["Indicator", "Denominator"])].tolist()
    idata = _parse_numbers(*data_raw, ["Time", *numeric], str(data))
    return idata, imeta


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
    sheet = getattr(args, "sheet", None)
    idata, imeta = read_inputs(
        args.data,
        args.meta,
        sep=getattr(args, "sep", None),
        encoding=getattr(args, "encoding", None),
        sheet=sheet,
        meta_sheet=getattr(args, "meta_sheet", None) or sheet,
    )
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
