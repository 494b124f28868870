"""Argument checks shared by the panel, synthetic-control, mixed and drivers estimators.

Each check raises :class:`~ucc_research.errors.SpecError` naming the column, unit or period and
the reason, so a researcher sees what to fix instead of a traceback from deep inside numpy.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from ucc_research.errors import SpecError

_SHOW = 5  # how many offending values a message lists before "..."


def _plain(v: object) -> object:
    """numpy scalars as Python ones, so messages read ``5``, not ``np.int64(5)``."""
    if isinstance(v, tuple):
        return tuple(_plain(x) for x in v)
    return v.item() if isinstance(v, np.generic) else v


def show(values: Iterable[object]) -> str:
    """A short, readable list of offending values for an error message."""
    values = list(values)
    text = ", ".join(repr(_plain(v)) for v in values[:_SHOW])
    return text + (f", ... ({len(values)} in all)" if len(values) > _SHOW else "")


def check_frame(data: object, what: str = "data") -> pd.DataFrame:
    if not isinstance(data, pd.DataFrame):
        raise SpecError(f"{what} must be a pandas DataFrame, got {type(data).__name__}")
    if data.empty:
        raise SpecError(f"{what} is empty")
    return data


def check_columns(data: pd.DataFrame, columns: Sequence[str], role: str = "column") -> None:
    missing = [c for c in columns if c not in data.columns]
    if missing:
        raise SpecError(
            f"{role} {show(missing)} not in the data; available columns: {show(data.columns)}"
        )


def check_numeric(data: pd.DataFrame, columns: Sequence[str], role: str = "column") -> None:
    for col in columns:
        s = data[col]
        if pd.api.types.is_bool_dtype(s):
            continue
        if not pd.api.types.is_numeric_dtype(s):
            bad = s[pd.to_numeric(s, errors="coerce").isna() & s.notna()]
            example = f" (e.g. {show(bad.unique())})" if len(bad) else ""
            raise SpecError(f"{role} {col!r} must be numeric, found dtype {s.dtype}{example}")


def check_unique_rows(data: pd.DataFrame, keys: Sequence[str]) -> None:
    dup = data.duplicated(list(keys), keep=False)
    if dup.any():
        rows = data.loc[dup, list(keys)].drop_duplicates().itertuples(index=False, name=None)
        raise SpecError(
            f"duplicated {'-'.join(keys)} rows (each combination must appear once): {show(rows)}"
        )


def one_value_per_unit(data: pd.DataFrame, unit: str, col: str, role: str) -> pd.Series:
    """Each unit's distinct non-missing values of ``col`` (a list, at most one: an error names
    the units with several), e.g. the first treated period of an adoption column."""
    per_unit = data.groupby(unit)[col].agg(lambda s: s.dropna().unique().tolist())
    several = [u for u, v in per_unit.items() if len(v) > 1]
    if several:
        raise SpecError(
            f"{role} {col!r} must hold one first-treated period per unit; unit(s) "
            f"{show(several)} have several"
        )
    return per_unit


def check_seed(seed: object) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise SpecError(f"seed must be a non-negative integer, got {seed!r}")
    return int(seed)


_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*")
# Names that are functions or keywords in formulas (patsy/formulaic), never data columns.
_FORMULA_WORDS = {"C", "I", "np", "log", "exp", "sqrt", "center", "scale", "i", "Treatment"}


def formula_names(formula: str) -> list[str]:
    """The bare variable names of a formula (functions and the literal 1/0 excluded)."""
    names: list[str] = []
    for match in _NAME.finditer(formula):
        name = match.group(0)
        after = formula[match.end() :].lstrip()[:2]
        # Functions (``C(...)``) and keyword arguments (``i(period, ref=0)``) are not columns.
        keyword = after[:1] == "=" and after != "=="
        if after[:1] == "(" or keyword or name in _FORMULA_WORDS:
            continue
        # A name inside quotes is a string literal (e.g. C(x, Treatment('a'))), not a column.
        before = formula[: match.start()]
        if before.count("'") % 2 or before.count('"') % 2:
            continue
        if name not in names:
            names.append(name)
    return names
