"""Schemas of the tidy tables and the split of a frame into kept rows and quarantine records.

Each table (``cities``, ``requests``, ``service_panel``, ``iData``, ``iMeta``) is declared once as
a :class:`TableSpec`: columns with their type and nullability, the unique key, and value rules
(vectorised functions returning True where a row is fine). From that one declaration come

* :func:`validate_frame` — the one validation engine, used by every adapter, ``ucc prepare``
  and ``ucc validate``: parse the raw text to typed columns, apply the rules (vectorised), and
  return the kept rows plus one quarantine record per (line, column, value, reason); and
* :func:`pandera_schema` — the same declaration as a ``pandera`` ``DataFrameSchema``, for
  documentation and for researchers who check their own typed frames with pandera. It is not a
  second engine: nothing in the package validates through it.

A missing required column is a table-level problem: :class:`DataFileError`, nothing kept.

Examples
--------
>>> import pandas as pd
>>> raw = pd.DataFrame({"city_id": ["A", "B"], "name": ["a", "b"], "country": ["FR", "ZZ"],
...                     "population": ["10", "-1"], "synthetic": ["false", "false"],
...                     "source": ["x", "x"], "_line": [2, 3]})
>>> kept, quarantine = validate_frame(raw, "cities", file="c.csv", source="x")
>>> kept["city_id"].tolist(), sorted(quarantine["column"])
(['A'], ['country', 'population'])
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ucc_research.cleaning.base import QUARANTINE_COLUMNS
from ucc_research.cleaning.channels import CHANNELS
from ucc_research.cleaning.countries import ISO_COUNTRIES
from ucc_research.cleaning.parsers import parse_bools, parse_datetimes, parse_numbers
from ucc_research.cleaning.quarantine import problems_frame
from ucc_research.cleaning.readers import LINE
from ucc_research.cleaning.text import text_is_unique
from ucc_research.errors import DataFileError, SpecError

KINDS = ("cities", "requests", "service_panel", "iData", "iMeta")

#: Column types and the dtype each gets in a processed table.
DTYPES = {
    "str": "str",
    "float": "float64",
    "int": "Int64",
    "bool": "boolean",
    "datetime": "datetime64[ns, UTC]",
}

RuleFn = Callable[[pd.DataFrame], pd.Series]


@dataclass(frozen=True)
class Rule:
    """A value rule: ``ok(frame)`` is True where the row is fine (missing operands pass).

    ``column`` is the column named in the quarantine record; ``needs`` the columns the rule
    reads (the rule is skipped when an optional one is absent).
    """

    column: str
    reason: str
    ok: RuleFn
    needs: tuple[str, ...] = ()


@dataclass(frozen=True)
class Col:
    name: str
    kind: str = "str"
    nullable: bool = True
    required: bool = True


@dataclass(frozen=True)
class TableSpec:
    name: str
    columns: tuple[Col, ...]
    key: tuple[str, ...] = ()
    rules: tuple[Rule, ...] = ()
    #: type of columns not declared above (None: keep them as text)
    extra: Callable[[str], Col | None] = field(default=lambda name: None)

    def column_specs(self, present: list[str]) -> list[Col]:
        declared = {c.name: c for c in self.columns}
        out = [c for c in self.columns if c.required or c.name in present]
        for name in present:
            if name not in declared and name != LINE:
                extra = self.extra(name)
                out.append(extra if extra is not None else Col(name, "str"))
        return out


# --------------------------------------------------------------------------------------------
# rule helpers (vectorised; a missing value passes, nullability is checked separately)


def _between(col: str, lo: float | None, hi: float | None) -> Rule:
    if lo is not None and hi is not None:
        reason = f"must be between {lo:g} and {hi:g}"
    elif lo is not None:
        reason = "must not be negative" if lo == 0 else f"must be >= {lo:g}"
    else:
        reason = f"must be <= {hi:g}"

    def ok(df: pd.DataFrame) -> pd.Series:
        s = df[col]
        good = s.isna()
        inside = pd.Series(True, index=s.index)
        if lo is not None:
            inside &= s >= lo
        if hi is not None:
            inside &= s <= hi
        return good | inside.fillna(False)

    return Rule(col, reason, ok, (col,))


def _binary(col: str) -> Rule:
    return Rule(col, "must be 0 or 1", lambda df: df[col].isna() | df[col].isin([0.0, 1.0]), (col,))


def _isin(col: str, allowed: frozenset | tuple, what: str) -> Rule:
    allowed = frozenset(allowed)
    return Rule(
        col, f"not a known {what}", lambda df: df[col].isna() | df[col].isin(allowed), (col,)
    )


def _le(small: str, big: str) -> Rule:
    def ok(df: pd.DataFrame) -> pd.Series:
        a, b = df[small], df[big]
        return a.isna() | b.isna() | (a <= b).fillna(True)

    return Rule(small, f"{small} is greater than {big}", ok, (small, big))


def _not_before(later: str, earlier: str) -> Rule:
    def ok(df: pd.DataFrame) -> pd.Series:
        a, b = df[later], df[earlier]
        return a.isna() | b.isna() | (a >= b).fillna(True)

    return Rule(later, f"{later} is before {earlier}", ok, (later, earlier))


_PERIOD = re.compile(r"^\d{4}(-(0[1-9]|1[0-2]))?$")


def _period(col: str) -> Rule:
    def ok(df: pd.DataFrame) -> pd.Series:
        s = df[col]
        return s.isna() | s.str.match(_PERIOD.pattern).fillna(False).astype(bool)

    return Rule(col, 'not a period ("YYYY-MM" or "YYYY")', ok, (col,))


def _tz_aware(col: str) -> Rule:
    # a flag column written by the parser; see _coerce
    flag = f"__naive__{col}"
    return Rule(col, "timestamp has no time zone", lambda df: ~df[flag], (col, flag))


# --------------------------------------------------------------------------------------------
# the tables


def _optional_floats(*names: str) -> tuple[Col, ...]:
    return tuple(Col(n, "float", required=False) for n in names)


FEATURES_BINARY = (
    "mobile_friendly",
    "eid_login",
    "prefilled_forms",
    "proactive",
    "status_tracking",
    "feedback_channel",
    "accessibility",
)
#: Every service feature of the ``service_panel`` contract (the one list the package uses).
SERVICE_FEATURES = ("online_sophistication", *FEATURES_BINARY)
CHANNEL_COLUMNS = tuple(f"transactions_{c}" for c in CHANNELS)

CITIES = TableSpec(
    "cities",
    (
        Col("city_id", nullable=False),
        Col("name", nullable=False),
        Col("country", nullable=False),
        Col("population", "float"),
        Col("synthetic", "bool", nullable=False),
        Col("unit_type", required=False),
        Col("source", nullable=False),
    ),
    key=("city_id",),
    rules=(
        _isin("country", ISO_COUNTRIES, "ISO 3166-1 alpha-2 country code"),
        _between("population", 0, None),
        _isin("unit_type", ("city", "country"), 'unit type ("city" or "country")'),
    ),
)

REQUESTS = TableSpec(
    "requests",
    (
        Col("request_id", nullable=False),
        Col("city_id", nullable=False),
        Col("service_type"),
        Col("channel", nullable=False),
        Col("channel_raw", required=False),
        Col("created_at", "datetime", nullable=False),
        Col("closed_at", "datetime"),
        Col("status"),
        Col("days_to_close", "float", required=False),
        Col("timezone", required=False),
        Col("source", nullable=False),
    ),
    key=("city_id", "request_id"),
    rules=(
        _isin("channel", CHANNELS, "channel (" + ", ".join(CHANNELS) + ")"),
        _tz_aware("created_at"),
        _tz_aware("closed_at"),
        _not_before("closed_at", "created_at"),
        _between("days_to_close", 0, None),
    ),
)


def _panel_extra(name: str) -> Col | None:
    if name.startswith("transactions_"):
        return Col(name, "float", required=False)
    return None


SERVICE_PANEL = TableSpec(
    "service_panel",
    (
        Col("city_id", nullable=False),
        Col("service_id", nullable=False),
        Col("period", nullable=False),
        Col("service_name", required=False),
        Col("life_event", required=False),
        Col("online_sophistication", "float", required=False),
        *(Col(f, "float", required=False) for f in FEATURES_BINARY),
        Col("transactions_total", "float", required=False),
        *(Col(c, "float", required=False) for c in CHANNEL_COLUMNS),
        *_optional_floats(
            "transactions_digital",
            "digital_share",
            "completion_rate",
            "satisfaction",
            "cost_per_transaction",
            "days_to_close_median",
        ),  # fmt: skip
        Col("adopted_period", required=False),
        Col("transferred_from", required=False),
        Col("synthetic", "bool", nullable=False),
        Col("source", nullable=False),
    ),
    key=("city_id", "service_id", "period"),
    rules=(
        _period("period"),
        _period("adopted_period"),
        _between("online_sophistication", 0, 4),
        *(_binary(f) for f in FEATURES_BINARY),
        _between("transactions_total", 0, None),
        *(_between(c, 0, None) for c in CHANNEL_COLUMNS),
        _between("transactions_digital", 0, None),
        _le("transactions_digital", "transactions_total"),
        _between("digital_share", 0, 1),
        _between("completion_rate", 0, 1),
        _between("satisfaction", 0, 100),
        _between("cost_per_transaction", 0, None),
        _between("days_to_close_median", 0, None),
    ),
    extra=_panel_extra,
)


def _idata_extra(name: str) -> Col | None:
    # COINr: "Group_*" columns are groupings and "x_*" columns are ignored; the rest are indicators
    if name.startswith(("Group_", "x_")):
        return Col(name, "str", required=False)
    return Col(name, "float", required=False)


IDATA = TableSpec(
    "iData",
    (
        Col("uCode", nullable=False),
        Col("uName", required=False),
        Col("Time", "float", required=False),
    ),
    key=("uCode", "Time"),
    extra=_idata_extra,
)

META_TYPES = ("Indicator", "Aggregate", "Group", "Denominator", "Other")


def _direction_ok(df: pd.DataFrame) -> pd.Series:
    d = df["Direction"]
    indicator = df["Type"] == "Indicator"
    return (d.isin([1.0, -1.0]) | (d.isna() & ~indicator)).fillna(False).astype(bool)


def _level_ok(df: pd.DataFrame) -> pd.Series:
    needs_level = df["Type"].isin(["Indicator", "Aggregate"]).fillna(False)
    return ~needs_level | (df["Level"].notna() & (df["Level"] >= 1)).fillna(False)


IMETA = TableSpec(
    "iMeta",
    (
        Col("iCode", nullable=False),
        Col("iName"),
        Col("Level", "int"),
        Col("Parent"),
        Col("Direction", "float"),
        Col("Weight", "float"),
        Col("Type", nullable=False),
        Col("Denominator", required=False),
        *_optional_floats("Target", "goalpost_lower", "goalpost_upper", "goalpost_scale"),
    ),
    key=("iCode",),
    rules=(
        _isin("Type", META_TYPES, "Type (" + ", ".join(META_TYPES) + ")"),
        Rule(
            "Level",
            "Level must be an integer >= 1 for indicators and aggregates",
            _level_ok,
            ("Level", "Type"),
        ),
        Rule(
            "Direction",
            "Direction must be 1 or -1 (and is required for indicators)",
            _direction_ok,
            ("Direction", "Type"),
        ),
        _between("Weight", 0, None),
    ),
)

SPECS: dict[str, TableSpec] = {s.name: s for s in (CITIES, REQUESTS, SERVICE_PANEL, IDATA, IMETA)}


def get_spec(kind: str) -> TableSpec:
    if kind not in SPECS:
        raise SpecError(f"unknown table kind {kind!r}; known: {', '.join(SPECS)}")
    return SPECS[kind]


# --------------------------------------------------------------------------------------------
# parsing raw text to typed columns


def _coerce(
    df: pd.DataFrame, cols: list[Col], *, decimal: str, thousands: str | None
) -> tuple[pd.DataFrame, list[pd.DataFrame]]:
    """Typed frame (same index) and problem frames (index, column, value, reason)."""
    typed: dict[str, pd.Series] = {}
    problems: list[pd.DataFrame] = []
    for col in cols:
        raw = df[col.name]
        if col.kind == "str":
            if pd.api.types.is_string_dtype(raw.dtype) or raw.dtype == object:
                values = stripped_text(raw)
            else:
                values = raw.astype("str").where(raw.notna(), None).astype("str")
            bad = pd.Series(False, index=raw.index)
            reason = ""
        elif col.kind in ("float", "int"):
            values, bad = parse_numbers(raw, decimal=decimal, thousands=thousands)
            reason = "not a number"
            if col.kind == "int":
                frac = values.notna() & (values != np.floor(values))
                problems.append(_problems(raw, frac & ~bad, col.name, "not a whole number"))
                values = values.where(~frac).astype("Int64")
        elif col.kind == "bool":
            values, bad = parse_bools(raw)
            reason = "not a yes/no value"
        elif col.kind == "datetime":
            naive = pd.Series(False, index=raw.index)
            if pd.api.types.is_datetime64_any_dtype(raw.dtype):
                values, bad = raw, pd.Series(False, index=raw.index)
                if not isinstance(raw.dtype, pd.DatetimeTZDtype):
                    naive = raw.notna()
                    values = raw.dt.tz_localize("UTC")
            else:
                text = raw.astype("str").str.strip()
                has_tz = text.str.contains(r"(?:Z|[+-]\d{2}:?\d{2})$", regex=True).fillna(False)
                values, bad, _ = parse_datetimes(raw.where(has_tz, None), tz="UTC")
                naive_vals, naive_bad, _ = parse_datetimes(raw.where(~has_tz, None))
                naive = naive_vals.notna()
                bad = bad | naive_bad
                values = values.where(has_tz, naive_vals.dt.tz_localize("UTC"))
            values = values.astype(DTYPES["datetime"])
            typed[f"__naive__{col.name}"] = naive.astype(bool)
            reason = "not a date/time"
        else:  # pragma: no cover - specs are static
            raise ValueError(col.kind)
        if reason:
            problems.append(_problems(raw, bad, col.name, reason))
        if not col.nullable:
            missing = values.isna() & ~bad
            problems.append(_problems(raw, missing, col.name, "missing value"))
        typed[col.name] = values
    return pd.DataFrame(typed, index=df.index), problems


def stripped_text(raw: pd.Series) -> pd.Series:
    """The text rule: no surrounding spaces, and empty text is missing (``str`` dtype).

    The validation of text columns and the key log of the streaming path
    (:class:`~ucc_research.cleaning.dataset.KeyLog`) both read ids through it.

    Examples
    --------
    >>> stripped_text(pd.Series([" a ", "  ", None], dtype="str")).tolist()
    ['a', nan, nan]
    """
    values = raw.astype("str").str.strip()
    return values.where(values != "", None).astype("str")


def _problems(raw: pd.Series, mask: pd.Series, column: str, reason: str) -> pd.DataFrame:
    flags = mask.to_numpy(dtype=bool)
    if not flags.any():
        return _empty_problems()
    idx = mask.index[flags]
    return pd.DataFrame(
        {"index": idx, "column": column, "value": raw.loc[idx].to_numpy(), "reason": reason}
    )


def _key_problems(typed: pd.DataFrame, key: tuple[str, ...], lines: pd.Series) -> pd.DataFrame:
    if not key or not all(k in typed for k in key):
        return _empty_problems()
    keys = typed[list(key)]
    # the common case, found 3x faster: one key column is unique (a column whose first
    # thousand values repeat, such as a city id, is not tried)
    if any(pd.Index(keys[k][:1000]).is_unique and _is_unique(keys[k]) for k in key):
        return _empty_problems()
    complete = keys.notna().all(axis=1) if len(key) > 1 else keys.iloc[:, 0].notna()
    dup = keys.duplicated(keep=False) & complete
    if not dup.any():
        return _empty_problems()
    d = keys.loc[dup].astype("str").fillna("")
    joined = d.iloc[:, 0] if len(key) == 1 else d.agg("|".join, axis=1)
    first = lines.loc[dup].groupby(joined.to_numpy()).transform("min")
    label = ", ".join(key)
    reason = f"duplicate key ({label}); first on line " + first.astype("int64").astype("str")
    return pd.DataFrame(
        {"index": d.index, "column": key[0], "value": joined.to_numpy(), "reason": reason}
    )


def _is_unique(values: pd.Series) -> bool:
    if pd.api.types.is_string_dtype(values.dtype):
        return text_is_unique(values)
    return pd.Index(values).is_unique


def _empty_problems() -> pd.DataFrame:
    return _EMPTY_PROBLEMS.copy()  # each column and rule asks for one: built once


_EMPTY_PROBLEMS = pd.DataFrame({"index": [], "column": [], "value": [], "reason": []})


# --------------------------------------------------------------------------------------------
# public API


def pandera_schema(kind: str, columns: list[str] | None = None):
    """The pandera ``DataFrameSchema`` of a typed table ``kind``.

    Parameters
    ----------
    kind : one of :data:`KINDS`.
    columns : the frame's columns (to type extra columns such as iData indicators); default:
        the declared ones.
    """
    import pandera.pandas as pa

    spec = get_spec(kind)
    present = columns if columns is not None else [c.name for c in spec.columns]
    cols = spec.column_specs(present)
    names = {c.name for c in cols}
    schema_cols = {}
    for c in cols:
        checks = []
        for r in spec.rules:
            if r.needs == (c.name,) and c.name in names:
                checks.append(_pa_check(r))
        schema_cols[c.name] = pa.Column(
            DTYPES[c.kind], nullable=c.nullable, required=c.required, checks=checks
        )
    frame_checks = [
        _pa_check(r)
        for r in spec.rules
        if len(r.needs) > 1
        and all(n in names for n in r.needs)
        and not r.needs[1].startswith("__naive__")
    ]
    return pa.DataFrameSchema(
        schema_cols,
        checks=frame_checks,
        unique=list(spec.key) if spec.key and all(k in names for k in spec.key) else None,
        report_duplicates="all",
        name=kind,
        strict=False,
        coerce=False,
    )


def _pa_check(rule: Rule):
    import pandera.pandas as pa

    if len(rule.needs) == 1:
        return pa.Check(
            lambda s, r=rule: r.ok(s.to_frame(r.column)), ignore_na=False, error=rule.reason
        )
    return pa.Check(lambda df, r=rule: r.ok(df), ignore_na=False, error=rule.reason)


def validate_frame(df: pd.DataFrame, kind: str, **options) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split raw rows into kept (typed) rows and quarantine records.

    Takes the arguments of :func:`validate_rows` (``file`` and ``source`` are required) and
    raises what it raises (:class:`DataFileError` for a missing required column).

    Returns
    -------
    kept : rows without any problem, typed, declared columns first, without the line column.
    quarantine : as :func:`validate_rows`'s: one row per problem.
    """
    typed, keep, quarantine = validate_rows(df, kind, **options)
    kept = typed if keep.all() else typed.loc[keep]
    return kept.reset_index(drop=True), quarantine


def validate_rows(
    df: pd.DataFrame,
    kind: str,
    *,
    file: str,
    source: str,
    line_col: str = LINE,
    decimal: str = ".",
    thousands: str | None = None,
    check_key: bool = True,
    quarantined: np.ndarray | None = None,
) -> tuple[pd.DataFrame, np.ndarray, pd.DataFrame]:
    """Type every raw row, find its problems and say which rows to keep.

    :func:`validate_frame` keeps those rows; a caller that filters elsewhere uses this (the
    streaming 311 path lets pyarrow drop the quarantined rows while it writes the block, on the
    writer thread, without the GIL).

    Parameters
    ----------
    df : rows to check: text (from :func:`~ucc_research.cleaning.readers.read_table`) or typed
        values, plus the line column.
    kind : table kind, one of :data:`KINDS`.
    file : file named in quarantine records and errors (relative to the raw folder).
    source : source name recorded in quarantine records.
    line_col : column holding each row's line number (added as row number + 1 if absent).
    decimal, thousands : number format of text columns.
    check_key : also quarantine rows whose key repeats (every copy). False when the frame is
        one block of a larger table: :func:`duplicate_key_problems` then checks the whole.
    quarantined : boolean mask of rows already quarantined by the caller (say, for a date that
        did not parse): they are not kept, and no further problem of theirs is recorded.

    Returns
    -------
    typed : every row of ``df`` (same order, index 0..n-1), typed, declared columns first,
        without the line column.
    keep : boolean mask of the rows without any problem.
    quarantine : one row per problem, columns
        :data:`~ucc_research.cleaning.base.QUARANTINE_COLUMNS`.

    Raises
    ------
    DataFileError
        A required column is missing (the whole file is unusable).
    """
    spec = get_spec(kind)
    if line_col not in df:
        df = df.assign(**{line_col: np.arange(1, len(df) + 1)})
    present = [c for c in df.columns if c != line_col]
    missing = [c.name for c in spec.columns if c.required and c.name not in present]
    if missing:
        raise DataFileError(
            file,
            f"not a {kind} table: missing column(s) {', '.join(map(repr, missing))}; "
            f"found {', '.join(map(repr, present[:15]))}",
        )
    df = df.reset_index(drop=True)
    lines = df[line_col].astype("int64")
    cols = spec.column_specs(present)
    typed, problems = _coerce(df, cols, decimal=decimal, thousands=thousands)
    for rule in spec.rules:
        if all(n in typed for n in rule.needs):
            ok = rule.ok(typed).fillna(True).astype(bool)
            problems.append(
                _problems(df.get(rule.column, typed[rule.column]), ~ok, rule.column, rule.reason)
            )
    if check_key:
        problems.append(_key_problems(typed, spec.key, lines))
    probs = [p for p in problems if len(p)]
    probs = pd.concat(probs, ignore_index=True) if probs else _empty_problems()
    probs = probs.sort_values(["index", "column", "reason"], kind="stable")
    bad_rows = np.zeros(len(df), dtype=bool)
    if quarantined is not None:
        bad_rows |= np.asarray(quarantined, dtype=bool)
        probs = probs[~bad_rows[probs["index"].to_numpy(dtype="int64")]]
    bad_rows[probs["index"].to_numpy(dtype="int64")] = True
    quarantine = _records(probs, lines, source=source, kind=kind, file=file)
    return typed[[c.name for c in cols]], ~bad_rows, quarantine


def _records(
    probs: pd.DataFrame, lines: pd.Series, *, source: str, kind: str, file: str
) -> pd.DataFrame:
    """Quarantine records of problems (``index`` of the row, column, value, reason)."""
    return problems_frame(
        source=source,
        table=kind,
        file=file,
        lines=lines.to_numpy()[probs["index"].to_numpy(dtype="int64")],
        columns=probs["column"].tolist(),
        values=probs["value"].tolist(),
        reasons=probs["reason"].tolist(),
    )


def duplicate_key_problems(
    df: pd.DataFrame, kind: str, *, file: str, source: str, line_col: str = LINE
) -> pd.DataFrame:
    """Quarantine records of the rows whose key repeats, as :func:`validate_frame` finds them.

    ``df`` holds the key columns (raw text or typed) and the line column of every row of the
    table, for instance gathered block by block; every copy of a repeated key gets a record
    naming the line of the first.
    """
    spec = get_spec(kind)
    df = df.reset_index(drop=True)
    cols = [c for c in spec.columns if c.name in spec.key]
    typed, _ = _coerce(df, cols, decimal=".", thousands=None)
    lines = df[line_col].astype("int64")
    probs = _key_problems(typed, spec.key, lines)
    return _records(probs, lines, source=source, kind=kind, file=file)


__all__ = [
    "KINDS",
    "QUARANTINE_COLUMNS",
    "Rule",
    "Col",
    "TableSpec",
    "SPECS",
    "get_spec",
    "pandera_schema",
    "validate_frame",
    "duplicate_key_problems",
]
