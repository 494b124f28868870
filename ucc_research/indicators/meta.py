"""Validation of COINr-format inputs (``iData``, ``iMeta``) and the framework hierarchy.

``iMeta`` has one row per code: indicators (``Type == "Indicator"``, ``Level`` 1), aggregates
(``Type == "Aggregate"``, ``Level`` >= 2), and non-indicator columns of ``iData``
(``Group``, ``Denominator``, ``Other``) with no level. Every indicator and aggregate below the
top level names its ``Parent``, an aggregate exactly one level up. Any depth is allowed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ucc_research.cleaning.schemas import META_TYPES  # the iMeta schema is the one source
from ucc_research.errors import SpecError

ID_COLS = ("uCode", "uName", "Time")
REQUIRED_META = ("iCode", "Level", "Parent")


def show(v: object) -> str:
    """A value for an error message: ``2`` rather than ``np.float64(2.0)``."""
    if isinstance(v, (bool, np.bool_)):
        return repr(bool(v))
    if isinstance(v, (int, float, np.integer, np.floating)):
        f = float(v)
        return str(int(f)) if f.is_integer() else repr(f)
    return repr(v)


def _blank(v: object) -> bool:
    if isinstance(v, str):
        return not v.strip()
    return v is None or bool(pd.isna(v))


def validate_meta(imeta: pd.DataFrame) -> pd.DataFrame:
    """Check and complete ``iMeta``; return a clean copy.

    Fills defaults (``iName`` = code, ``Direction`` = 1, ``Weight`` = 1, ``Type`` from ``Level``)
    and checks codes, types, directions, weights and the hierarchy (no orphans, no cycles,
    parents one level up, no childless aggregates, no zero-sum weights within a group).

    Raises
    ------
    SpecError
        Naming the code and the problem.

    Examples
    --------
    >>> m = validate_meta(pd.DataFrame({"iCode": ["a", "b", "I"], "Level": [1, 1, 2],
    ...                                 "Parent": ["I", "I", None]}))
    >>> m["Type"].tolist(), m["Weight"].tolist()
    (['Indicator', 'Indicator', 'Aggregate'], [1.0, 1.0, 1.0])
    >>> validate_meta(pd.DataFrame({"iCode": ["a", "a"], "Level": [1, 1], "Parent": [None] * 2}))
    Traceback (most recent call last):
    ...
    ucc_research.errors.SpecError: iMeta: duplicated iCode(s) ['a']
    """
    m = _indexed_by_code(imeta)
    _levels_and_types(m)
    if "iName" not in m.columns:
        m["iName"] = m["iCode"]
    m["iName"] = [c if _blank(n) else str(n) for c, n in zip(m["iCode"], m["iName"], strict=True)]
    m["Parent"] = pd.Series(
        [None if _blank(p) else str(p).strip() for p in m["Parent"]], index=m.index, dtype=object
    )
    _directions_and_weights(m)
    for col in ("Target", "Denominator", "goalpost_lower", "goalpost_upper"):
        if col in m.columns and col != "Denominator":
            m[col] = pd.to_numeric(m[col], errors="coerce")
    if "Denominator" in m.columns:
        m["Denominator"] = pd.Series(
            [None if _blank(d) else str(d) for d in m["Denominator"]], index=m.index, dtype=object
        )
    _check_hierarchy(m)
    return m


def _indexed_by_code(imeta: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``imeta`` indexed by its ``iCode`` (stripped, none empty, none repeated)."""
    if not isinstance(imeta, pd.DataFrame):
        raise SpecError(f"iMeta must be a DataFrame, got {type(imeta).__name__}")
    missing = [c for c in REQUIRED_META if c not in imeta.columns]
    if missing:
        raise SpecError(f"iMeta: required column(s) {missing} missing")
    m = imeta.copy()
    m["iCode"] = m["iCode"].astype(object)
    if m["iCode"].map(_blank).any():
        rows = [int(i) + 2 for i in np.flatnonzero(m["iCode"].map(_blank).to_numpy())]
        raise SpecError(f"iMeta: empty iCode on line(s) {rows}")
    m["iCode"] = m["iCode"].astype(str).str.strip()
    dup = m["iCode"][m["iCode"].duplicated()].tolist()
    if dup:
        raise SpecError(f"iMeta: duplicated iCode(s) {dup}")
    m = m.set_index("iCode", drop=False)
    m.index.name = None
    return m


def _levels_and_types(m: pd.DataFrame) -> None:
    """``Level`` as a positive whole number and ``Type`` (default from the level), consistent."""
    level = pd.to_numeric(m["Level"], errors="coerce")
    bad = m.index[level.notna() & ((level < 1) | (level != level.round()))].tolist()
    bad += [c for c in m.index if not _blank(m.at[c, "Level"]) and pd.isna(level[c])]
    if bad:
        raise SpecError(f"iMeta: Level of {bad} is not a positive whole number")
    m["Level"] = level.astype("Int64")

    if "Type" not in m.columns:
        m["Type"] = np.where(level.isna(), "Other", np.where(level == 1, "Indicator", "Aggregate"))
    m["Type"] = [
        ("Other" if pd.isna(lv) else "Indicator" if lv == 1 else "Aggregate") if _blank(t) else t
        for t, lv in zip(m["Type"], level, strict=True)
    ]
    for code, t in m["Type"].items():
        if t not in META_TYPES:
            raise SpecError(f"iMeta: {code!r} has Type {t!r}, not one of {sorted(META_TYPES)}")
        lv = level[code]
        if t == "Indicator" and lv != 1:
            raise SpecError(f"iMeta: indicator {code!r} must have Level 1, has {lv}")
        if t == "Aggregate" and not (lv >= 2):
            raise SpecError(f"iMeta: aggregate {code!r} must have Level >= 2, has {lv}")
        if t not in {"Indicator", "Aggregate"} and not pd.isna(lv):
            raise SpecError(f"iMeta: {t} column {code!r} must have no Level")


def _directions_and_weights(m: pd.DataFrame) -> None:
    """``Direction`` (+1/-1, default 1) and ``Weight`` (a number, default 1) of the framework."""
    ind_agg = m["Type"].isin(["Indicator", "Aggregate"])
    if "Direction" not in m.columns:
        m["Direction"] = 1.0
    direction = pd.to_numeric(m["Direction"], errors="coerce")
    for code in m.index[ind_agg]:
        d = direction[code]
        if _blank(m.at[code, "Direction"]):
            direction[code] = 1.0
        elif d not in (-1, 1):
            raise SpecError(
                f"iMeta: Direction of {code!r} is {show(m.at[code, 'Direction'])}; must be +1 or -1"
            )
    m["Direction"] = direction.where(ind_agg)

    if "Weight" not in m.columns:
        m["Weight"] = 1.0
    weight = pd.to_numeric(m["Weight"], errors="coerce")
    for code in m.index[ind_agg]:
        if _blank(m.at[code, "Weight"]):
            weight[code] = 1.0
        elif not np.isfinite(weight[code]):
            raise SpecError(
                f"iMeta: Weight of {code!r} is {show(m.at[code, 'Weight'])}, not a number"
            )
    m["Weight"] = weight.where(ind_agg).astype(float)


def _check_hierarchy(m: pd.DataFrame) -> None:
    framework = m[m["Type"].isin(["Indicator", "Aggregate"])]
    if not (framework["Type"] == "Indicator").any():
        raise SpecError("iMeta: no rows with Type 'Indicator'")
    parents = framework["Parent"].to_dict()
    # cycles first, so a loop is reported as a loop rather than as a level mismatch
    for start in framework.index:
        seen = [start]
        p = parents.get(start)
        while p is not None and p in parents:
            if p in seen:
                loop = " -> ".join([*seen[seen.index(p) :], p])
                raise SpecError(f"iMeta: cycle in the hierarchy: {loop}")
            seen.append(p)
            p = parents.get(p)
    top = int(framework["Level"].max())
    for code, row in framework.iterrows():
        p = row["Parent"]
        if p is None:
            if row["Level"] != top:
                raise SpecError(
                    f"iMeta: {code!r} (Level {row['Level']}) has no Parent (orphan); only "
                    f"Level {top} codes may have none"
                )
            continue
        if p not in framework.index:
            raise SpecError(f"iMeta: Parent {p!r} of {code!r} is not an aggregate code in iMeta")
        if framework.at[p, "Type"] != "Aggregate":
            raise SpecError(f"iMeta: Parent {p!r} of {code!r} is an indicator, not an aggregate")
        if framework.at[p, "Level"] != row["Level"] + 1:
            raise SpecError(
                f"iMeta: Parent {p!r} of {code!r} is at Level {framework.at[p, 'Level']}; "
                f"expected Level {row['Level'] + 1}"
            )
    children = framework.groupby("Parent")["iCode"].apply(list).to_dict()
    for code in framework.index[framework["Type"] == "Aggregate"]:
        kids = children.get(code, [])
        if not kids:
            raise SpecError(f"iMeta: aggregate {code!r} has no children")
        if framework.loc[kids, "Weight"].sum() == 0:
            raise SpecError(f"iMeta: weights of the children of {code!r} sum to zero")


@dataclass(frozen=True)
class Framework:
    """The hierarchy: codes by level, children of each aggregate and each code's lineage."""

    meta: pd.DataFrame

    @property
    def indicators(self) -> list[str]:
        m = self.meta
        return m.index[m["Type"] == "Indicator"].tolist()

    @property
    def n_levels(self) -> int:
        m = self.meta
        return int(m.loc[m["Type"].isin(["Indicator", "Aggregate"]), "Level"].max())

    def codes(self, level: int) -> list[str]:
        m = self.meta
        return m.index[(m["Level"] == level) & m["Type"].isin(["Indicator", "Aggregate"])].tolist()

    def children(self, code: str) -> list[str]:
        m = self.meta
        return m.index[m["Parent"] == code].tolist()

    @property
    def framework_codes(self) -> list[str]:
        return [c for lev in range(1, self.n_levels + 1) for c in self.codes(lev)]

    def ancestor(self, code: str, level: int) -> str | None:
        """The ancestor of ``code`` at ``level`` (itself when at that level)."""
        m = self.meta
        c: str | None = code
        while c is not None and m.at[c, "Level"] < level:
            c = m.at[c, "Parent"]
        return c

    def lineage(self) -> pd.DataFrame:
        """One row per indicator, one column per level: the code of its ancestor there."""
        return pd.DataFrame(
            {
                f"Level_{lev}": [self.ancestor(i, lev) for i in self.indicators]
                for lev in range(1, self.n_levels + 1)
            },
            index=pd.Index(self.indicators, name="iCode"),
        )


def validate_data(idata: pd.DataFrame, meta: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split ``iData`` into indicator values and unit attributes, checking codes and types.

    Returns
    -------
    values : DataFrame
        Float indicator columns (iMeta order), index ``uCode`` or (``uCode``, ``Time``).
    units : DataFrame
        ``uName``, group, denominator and other columns, same index.
    """
    if not isinstance(idata, pd.DataFrame):
        raise SpecError(f"iData must be a DataFrame, got {type(idata).__name__}")
    if "uCode" not in idata.columns:
        raise SpecError("iData: required column 'uCode' missing")
    d = idata.copy()
    if d["uCode"].map(_blank).any():
        rows = [int(i) + 2 for i in np.flatnonzero(d["uCode"].map(_blank).to_numpy())]
        raise SpecError(f"iData: empty uCode on line(s) {rows}")
    d["uCode"] = d["uCode"].astype(str)
    panel = "Time" in d.columns and d["Time"].nunique(dropna=False) > 1
    if "Time" in d.columns:
        t = pd.to_numeric(d["Time"], errors="coerce")
        if t.isna().any():
            raise SpecError(
                f"iData: Time is missing or not numeric for {d['uCode'][t.isna()].tolist()}"
            )
        d["Time"] = t.astype(int) if (t == t.round()).all() else t
    key = ["uCode", "Time"] if panel else ["uCode"]
    dup = d.duplicated(key)
    if dup.any():
        raise SpecError(f"iData: duplicated {'/'.join(key)}: {d.loc[dup, key].values.tolist()}")
    inds = meta.index[meta["Type"] == "Indicator"].tolist()
    absent = [c for c in inds if c not in d.columns]
    if absent:
        raise SpecError(f"iMeta: indicator code(s) {absent} not found among iData columns")
    aggs = [c for c in meta.index[meta["Type"] == "Aggregate"] if c in d.columns]
    if aggs:
        raise SpecError(f"iData: column(s) {aggs} are aggregate codes; iData holds indicators only")
    known = set(meta.index) | set(ID_COLS)
    # COINr ignores iData columns whose names start with "x_" (carried as unit attributes)
    unknown = [c for c in d.columns if c not in known and not str(c).startswith("x_")]
    if unknown:
        raise SpecError(
            f"iData: column(s) {unknown} are not in iMeta; add them with Type Group, "
            "Denominator or Other (or prefix them with x_)"
        )
    d = d.set_index(key)
    values = {}
    for code in inds:
        col = d[code]
        num = pd.to_numeric(col, errors="coerce")
        bad = num.isna() & ~col.isna()
        if bad.any():
            unit = bad.index[bad.to_numpy()][0]
            raise SpecError(
                f"iData: indicator {code!r} has non-numeric value {col[unit]!r} for unit {unit!r}"
            )
        values[code] = num.astype(float)
    denoms = meta.index[meta["Type"] == "Denominator"].tolist()
    for code in denoms:
        if code in d.columns:
            num = pd.to_numeric(d[code], errors="coerce")
            if (num.isna() & ~d[code].isna()).any():
                raise SpecError(f"iData: denominator {code!r} has non-numeric values")
            d[code] = num.astype(float)
    vals = pd.DataFrame(values, index=d.index)
    units = d.drop(columns=inds)
    if "Time" in units.columns:
        units = units.drop(columns="Time")
    return vals, units
