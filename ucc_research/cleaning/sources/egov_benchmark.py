"""EU eGovernment Benchmark 2024: the official workbook as tidy tables and a COINr preset.

Reads ``egov_benchmark_2024/6_eGovernment_Benchmark_2024__Final_Results.xlsx`` itself (sheets
``1. Scores 2024`` and ``3a. Nat. Services - Results``; the CSV extracts beside it are only used
by the tests as a cross-check) and produces:

``egov_scores``
    one row per country x indicator x period column of sheet 1: ``country`` (ISO 3166-1
    alpha-2, Greece ``GR``; the aggregates keep their code), ``country_code`` (the workbook's
    code, Greece ``EL``), ``unit_type`` (``country`` or ``aggregate`` for ``AVERAGE_EU27`` and
    ``EU27+``, which are averages, not units), ``indicator_code`` (``0``, ``1``, ``1.1``, ...),
    ``period_type`` (``biennial_average``, ``biennial_target_group``, ``annual_average``,
    ``life_event``), ``scope`` (``all``, ``business``, ``citizen`` or the life event),
    ``year_start``, ``year_end``, ``value`` (0-100, full precision) and ``value_flag`` (the cell
    text when it is not a number: ``.`` not applicable, ``#DIV/0!``). Empty cells (countries not
    yet surveyed in early years) produce no row.
``egov_services``
    sheet 3a, one row per country x service x data year, with ``government_level``
    (Central/Regional/Local; missing when the service is not applicable) and the six service
    scores (missing when not applicable).
``iMeta_egov`` / ``iData_egov``
    the benchmark as a COINr framework (:func:`framework`) and its 14 indicator values per
    country and biennial period (:func:`country_data`). A plain weighted arithmetic
    aggregation rebuilds the published user centricity and transparency exactly; key enablers
    and cross-border services are computed by the Benchmark at service level, so the published
    overall score is rebuilt from ``iMeta_egov_pillars`` / ``iData_egov_pillars`` (the four
    published top-level scores, equal weights).
``cities``
    the benchmark's countries as units (``unit_type = "country"``): the source is national.

The published aggregation rule (checked on every country and period of the workbook from
2020-21 on): user centricity = (6 OA + 1 MF + 2 US) / 9, transparency = mean of its three
indicators, overall = mean of the four top-level scores.

Conservation and quarantine entries name the sheet as ``<file>::<sheet>``; ``line`` is the
sheet row.

Examples
--------
Rebuild the published overall scores with the indicators engine (scores are already 0-100,
so no normalisation):

>>> from ucc_research import config
>>> from ucc_research.indicators.coin import build
>>> res = adapt(config.raw_dir())
>>> d = res.tables["iData_egov_pillars"]
>>> coin = build(d[d["Time"] == 2023], res.tables["iMeta_egov_pillars"],
...              {"normalise": {"method": "none"}})
>>> float(round(coin.scores.set_index("uCode").at["AL", "Overall"], 2))
49.52
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from ucc_research.cleaning.base import SourceResult
from ucc_research.cleaning.countries import EU_TO_ISO, country_names
from ucc_research.cleaning.quarantine import concat_quarantine, problems_frame
from ucc_research.errors import DataFileError, SpecError

SOURCE = "egov_benchmark_2024"
FOLDER = "egov_benchmark_2024"
WORKBOOK = "6_eGovernment_Benchmark_2024__Final_Results.xlsx"
SCORES_SHEET = "1. Scores 2024"
SERVICES_SHEET = "3a. Nat. Services - Results"

#: Workbook indicator code -> (iCode, name, parent code, weight within the parent).
INDICATORS: dict[str, tuple[str, str, str | None, float]] = {
    "0": ("Overall", "Overall eGovernment Benchmark score", None, 1.0),
    "1": ("UserCentricity", "User centricity", "0", 1.0),
    "1.1": ("OA", "Online availability", "1", 6.0),
    "1.2": ("MF", "Mobile friendliness", "1", 1.0),
    "1.3": ("US", "User support", "1", 2.0),
    "2": ("Transparency", "Transparency", "0", 1.0),
    "2.1": ("TSD", "Transparency of service delivery", "2", 1.0),
    "2.2": ("TPD", "Transparency of personal data", "2", 1.0),
    "2.3": ("TDS", "Transparency of service design", "2", 1.0),
    "3": ("KeyEnablers", "Key enablers", "0", 1.0),
    "3.1": ("eID", "eID", "3", 1.0),
    "3.2": ("eDoc", "eDocuments", "3", 1.0),
    "3.3": ("PFF", "Pre-filled forms", "3", 1.0),
    "3.4": ("DPost", "Digital post", "3", 1.0),
    "4": ("CrossBorder", "Cross-border services", "0", 1.0),
    "4.1": ("CB_OA", "Cross-border online availability", "4", 1.0),
    "4.2": ("CB_US", "Cross-border user support", "4", 1.0),
    "4.3": ("CB_eID", "Cross-border eID", "4", 1.0),
    "4.4": ("CB_eDoc", "Cross-border eDocuments", "4", 1.0),
}

#: Workbook codes that are averages over countries, not countries.
AGGREGATE_CODES = ("AVERAGE_EU27", "EU27+")
EU27 = frozenset(
    "AT BE BG CY CZ DE DK EE EL ES FI FR HR HU IE IT LT LU LV MT NL PL PT RO SE SI SK".split()
)

_SCORE_LABEL = re.compile(r"^(\d(?:\.\d)?)\.? ")
_SERVICE_COLUMNS = {
    "Country": "country_code",
    "Life event": "life_event",
    "Label service": "service",
    "Service type": "service_type",
    "National or cross-border": "target_user",
    "Year data collection": "data_year",
    "Applicable": "applicable",
    "Proactive": "proactive",
    "Government level": "government_level",
    "Online availability": "online_availability",
    "Mobile Friendliness": "mobile_friendliness",
    "Service delivery": "transparency_service_delivery",
    "eID": "eid",
    "eDocuments": "edocuments",
    "Pre-filed forms": "prefilled_forms",
}
SERVICE_SCORES = [
    "online_availability",
    "mobile_friendliness",
    "transparency_service_delivery",
    "eid",
    "edocuments",
    "prefilled_forms",
]
_YES_NO = {"Yes": True, "No": False}


def iso_country(code: str) -> str:
    """ISO 3166-1 alpha-2 code of a workbook country code (``EL`` -> ``GR``)."""
    return EU_TO_ISO.get(code, code)


def _period(header: str, group: str | None) -> tuple[str, str, int, int]:
    """(period_type, scope, year_start, year_end) of a column header of sheet 1."""
    h = " ".join(header.split())
    years = sorted(int(y) for y in re.findall(r"20\d\d", h))
    if h.lower().startswith("biennial average"):
        return "biennial_average", "all", years[0], years[-1]
    if h.startswith(("Business life events", "Citizen life events")):
        return "biennial_target_group", h.split()[0].lower(), years[0], years[-1]
    if h.startswith("Average ("):
        return "annual_average", "all", years[0], years[0]
    m = re.fullmatch(r"(.+?) \((20\d\d)\)", h)
    if m is None:
        raise ValueError(f"unrecognised column header {header!r} under {group!r}")
    return "life_event", m.group(1), int(m.group(2)), int(m.group(2))


def _quarantine_row(file: str, table: str, line: int, column: str, value, reason: str) -> dict:
    return {
        "table": table,
        "file": file,
        "line": line,
        "column": column,
        "value": value,
        "reason": reason,
    }


def _quarantine_frame(records: list[dict]) -> pd.DataFrame:
    frames = [
        problems_frame(
            source=SOURCE,
            table=table,
            file=file,
            lines=[r["line"] for r in group],
            columns=[r["column"] for r in group],
            values=[r["value"] for r in group],
            reasons=[r["reason"] for r in group],
        )
        for (table, file), group in _group(records).items()
    ]
    return concat_quarantine(frames)


def _group(records: list[dict]) -> dict[tuple[str, str], list[dict]]:
    out: dict[tuple[str, str], list[dict]] = {}
    for r in records:
        out.setdefault((r["table"], r["file"]), []).append(r)
    return out


def _read_sheets(path: Path) -> dict[str, list[tuple]]:
    import openpyxl

    if not path.is_file():
        raise DataFileError(path, "workbook not found")
    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises several unrelated types for a bad file
        raise DataFileError(path, f"not a readable xlsx workbook ({exc})") from exc
    try:
        out = {}
        for sheet in (SCORES_SHEET, SERVICES_SHEET):
            if sheet not in wb.sheetnames:
                raise DataFileError(path, f"sheet {sheet!r} missing (sheets: {wb.sheetnames})")
            out[sheet] = list(wb[sheet].iter_rows(values_only=True))
        return out
    finally:
        wb.close()


def _header_row(rows: list[tuple], first: str, second: str, file: str) -> int:
    """0-based index of the row whose cells B and C are ``first`` and ``second``."""
    for i, r in enumerate(rows[:20]):
        if len(r) > 2 and r[1] == first and r[2] == second:
            return i
    raise DataFileError(file, f"header row with {first!r}, {second!r} in columns B:C not found")


def _is_blank(v) -> bool:
    return v is None or (isinstance(v, str) and not v.strip())


def _data_rows(rows: list[tuple], h: int):
    """(line number, row) of every non-blank row below the header row ``h``."""
    for i in range(h + 1, len(rows)):
        if not all(_is_blank(v) for v in rows[i]):
            yield i + 1, rows[i]


def _read_scores(rows: list[tuple], file: str) -> tuple[pd.DataFrame, list[dict], int, int]:
    h = _header_row(rows, "Country", "Scoring", file)
    groups, headers = rows[h - 1], rows[h]
    columns = []  # (column index, period tuple)
    group = None
    for j in range(3, len(headers)):
        group = groups[j] if groups[j] is not None else group
        if headers[j] is not None:
            columns.append((j, _period(str(headers[j]), group)))
    records, quarantine = [], []
    n_in = n_kept = 0
    for line, r in _data_rows(rows, h):
        n_in += 1
        code, label = r[1], r[2]
        m = _SCORE_LABEL.match(str(label or ""))
        if _is_blank(code):
            quarantine.append(
                _quarantine_row(file, "egov_scores", line, "Country", code, "empty country code")
            )
            continue
        if m is None or m.group(1) not in INDICATORS:
            quarantine.append(
                _quarantine_row(
                    file, "egov_scores", line, "Scoring", label, "unknown indicator label"
                )
            )
            continue
        n_kept += 1
        code = str(code).strip()
        for j, (ptype, scope, y0, y1) in columns:
            v = r[j] if j < len(r) else None
            if v is None:
                continue
            numeric = isinstance(v, (int, float)) and not isinstance(v, bool)
            records.append(
                (
                    code,
                    m.group(1),
                    ptype,
                    scope,
                    y0,
                    y1,
                    float(v) if numeric else np.nan,
                    None if numeric else str(v),
                )
            )
    df = pd.DataFrame(
        records,
        columns=[
            "country_code",
            "indicator_code",
            "period_type",
            "scope",
            "year_start",
            "year_end",
            "value",
            "value_flag",
        ],
    )
    df.insert(0, "country", df["country_code"].map(iso_country))
    df.insert(
        2, "unit_type", np.where(df["country_code"].isin(AGGREGATE_CODES), "aggregate", "country")
    )
    df["year_start"] = df["year_start"].astype("int64")
    df["year_end"] = df["year_end"].astype("int64")
    df["value_flag"] = df["value_flag"].astype("string")
    return df, quarantine, n_in, n_kept


def _read_services(rows: list[tuple], file: str) -> tuple[pd.DataFrame, list[dict], int, int]:
    h = _header_row(rows, "Country", "Life event", file)
    headers = [None if v is None else str(v).strip() for v in rows[h]]
    missing = [c for c in _SERVICE_COLUMNS if c not in headers]
    if missing:
        raise DataFileError(file, f"sheet {SERVICES_SHEET!r}: column(s) {missing} not found")
    pos = {name: headers.index(c) for c, name in _SERVICE_COLUMNS.items()}
    records, quarantine = [], []
    n_in = 0
    for line, r in _data_rows(rows, h):
        n_in += 1
        rec: dict = {"line": line}
        problems = []
        for name, j in pos.items():
            v = r[j] if j < len(r) else None
            raw_col = headers[j]
            if name in SERVICE_SCORES:
                if isinstance(v, str) and v.strip() == ".":
                    v = np.nan
                elif not isinstance(v, (int, float)) or isinstance(v, bool) or not 0 <= v <= 100:
                    problems.append((raw_col, v, "score is not a number in 0-100 or '.'"))
                    continue
                rec[name] = float(v)
            elif name == "data_year":
                if not isinstance(v, int):
                    problems.append((raw_col, v, "data collection year is not a whole number"))
                    continue
                rec[name] = v
            elif name in ("applicable", "proactive"):
                if isinstance(v, str) and v.strip() == "." and name == "proactive":
                    rec[name] = pd.NA
                elif v in _YES_NO:
                    rec[name] = _YES_NO[v]
                else:
                    problems.append((raw_col, v, "expected Yes or No"))
            elif name == "government_level":
                level = str(v).strip().capitalize() if v is not None else "."
                if level == ".":
                    rec[name] = pd.NA
                elif level in ("Central", "Regional", "Local"):
                    rec[name] = level
                else:
                    problems.append((raw_col, v, "expected Central, Regional, Local or '.'"))
            else:
                if _is_blank(v):
                    problems.append((raw_col, v, "empty"))
                    continue
                rec[name] = str(v).strip()
        if problems:
            quarantine += [
                _quarantine_row(file, "egov_services", line, c, v, reason)
                for c, v, reason in problems
            ]
        else:
            records.append(rec)
    df = pd.DataFrame(records, columns=["line", *pos]).drop(columns="line")
    df.insert(1, "country", df["country_code"].map(iso_country))
    df["data_year"] = df["data_year"].astype("int64")
    df["applicable"] = df["applicable"].astype("boolean")
    df["proactive"] = df["proactive"].astype("boolean")
    df["government_level"] = df["government_level"].astype("string")
    for c in SERVICE_SCORES:
        df[c] = df[c].astype("float64")
    return df, quarantine, n_in, len(df)


def read_workbook(raw_dir: Path) -> SourceResult:
    """Parse the two sheets into ``egov_scores`` and ``egov_services`` (no presets yet)."""
    path = Path(raw_dir) / FOLDER / WORKBOOK
    rel = f"{FOLDER}/{WORKBOOK}"
    sheets = _read_sheets(path.resolve())
    result = SourceResult(source=SOURCE, tables={})
    quarantine: list[dict] = []
    for sheet, table, reader, header in (
        (SCORES_SHEET, "egov_scores", _read_scores, ("Country", "Scoring")),
        (SERVICES_SHEET, "egov_services", _read_services, ("Country", "Life event")),
    ):
        # one conservation entry per sheet: sheet rows are the "lines" of that entry
        key = f"{rel}::{sheet}"
        df, q, n_in, n_kept = reader(sheets[sheet], key)
        result.tables[table] = df
        quarantine += q
        result.rows_in[key] = n_in
        result.rows_kept[key] = n_kept
        result.detected[key] = {
            "format": "xlsx",
            "reader": "openpyxl (two-row title block: the header row is found by its labels)",
            "sheet": sheet,
            "header_row": _header_row(sheets[sheet], *header, key) + 1,
            "n_rows": n_in,
        }
    result.quarantine = _quarantine_frame(quarantine)
    return result


def framework(level: str = "indicator") -> pd.DataFrame:
    """The eGovernment Benchmark as a COINr ``iMeta``.

    Parameters
    ----------
    level : ``"indicator"`` (default): Level 1 the 14 indicators (1.1 ... 4.4), Level 2 the four
        top-level scores, Level 3 the overall score, with the published weights (online
        availability 6, mobile friendliness 1, user support 2 within user centricity; equal
        weights everywhere else). ``"pillar"``: Level 1 the four top-level scores as published,
        Level 2 the overall score (equal weights).

    Notes
    -----
    A weighted arithmetic mean over the ``"indicator"`` preset rebuilds user centricity and
    transparency exactly (every country, 2020-21 to 2022-23), but **not** key enablers and
    cross-border services: the Benchmark computes those two from service-level answers, so
    they are not a fixed-weight mean of their published indicator scores (gaps up to 9 and 12
    points in 2022-23). The published overall score is the plain mean of the four published
    top-level scores, which the ``"pillar"`` preset (with ``country_data(level="pillar")``)
    reproduces exactly. ``Group_EU27`` is the group column of :func:`country_data`.

    Returns
    -------
    DataFrame
        Columns ``iCode, iName, Level, Parent, Direction, Weight, Type, Denominator, Target``.

    Raises
    ------
    SpecError
        Unknown ``level``.

    Examples
    --------
    >>> m = framework()
    >>> oa = m.set_index("iCode").loc["OA"]
    >>> oa["Parent"], float(oa["Weight"])
    ('UserCentricity', 6.0)
    >>> framework("pillar")["Level"].dropna().astype(int).tolist()
    [2, 1, 1, 1, 1]
    """
    if level not in ("indicator", "pillar"):
        raise SpecError(f"level must be 'indicator' or 'pillar', got {level!r}")
    rows = []
    for code, (icode, name, parent, weight) in INDICATORS.items():
        depth = 0 if code == "0" else 1 if "." not in code else 2
        if level == "pillar" and depth == 2:
            continue
        lev = (3 - depth) if level == "indicator" else (2 - depth)
        rows.append(
            {
                "iCode": icode,
                "iName": f"{code} {name}",
                "Level": lev,
                "Parent": None if parent is None else INDICATORS[parent][0],
                "Direction": 1,
                "Weight": weight,
                "Type": "Indicator" if lev == 1 else "Aggregate",
                "Denominator": None,
                "Target": np.nan,
            }
        )
    rows.append(
        {
            "iCode": "Group_EU27",
            "iName": "EU27 member state (EU27) or not (non-EU27)",
            "Level": pd.NA,
            "Parent": None,
            "Direction": np.nan,
            "Weight": np.nan,
            "Type": "Group",
            "Denominator": None,
            "Target": np.nan,
        }
    )
    m = pd.DataFrame(rows)
    m["Level"] = m["Level"].astype("Int64")
    m["Parent"] = m["Parent"].astype("string")
    m["Denominator"] = m["Denominator"].astype("string")
    return m


def country_scores(
    scores: pd.DataFrame,
    *,
    period_type: str = "biennial_average",
    scope: str = "all",
    codes: str = "workbook",
) -> pd.DataFrame:
    """Country x period table of all 19 scores from ``egov_scores``.

    Parameters
    ----------
    scores : the ``egov_scores`` table.
    period_type, scope : which columns of sheet 1 (default: the biennial averages, the
        published headline figures; the 2024 report is ``year_end == 2023``).
    codes : ``"workbook"`` (columns ``0``, ``1``, ``1.1`` ...) or ``"icode"`` (the iCodes of
        :func:`framework`).

    Returns
    -------
    DataFrame
        One row per ``country`` (including the EU27 aggregates, see ``unit_type``) and
        ``year_start``/``year_end``; one column per indicator code.
    """
    if codes not in ("workbook", "icode"):
        raise SpecError(f"codes must be 'workbook' or 'icode', got {codes!r}")
    sel = scores[(scores["period_type"] == period_type) & (scores["scope"] == scope)]
    if sel.empty:
        known = sorted(set(zip(scores["period_type"], scores["scope"], strict=True)))
        raise SpecError(
            f"no scores for period_type={period_type!r}, scope={scope!r}; known: {known}"
        )
    wide = sel.pivot(
        index=["country", "country_code", "unit_type", "year_start", "year_end"],
        columns="indicator_code",
        values="value",
    )
    wide = wide.reindex(columns=list(INDICATORS)).reset_index()
    wide.columns.name = None
    if codes == "icode":
        wide = wide.rename(columns={k: v[0] for k, v in INDICATORS.items()})
    return wide


def country_data(scores: pd.DataFrame, level: str = "indicator") -> pd.DataFrame:
    """``iData_egov``: countries x biennial period in COINr format.

    ``level="indicator"`` gives the 14 indicators, ``level="pillar"`` the four published
    top-level scores (see :func:`framework` for which preset rebuilds what).

    ``uCode`` is the ISO alpha-2 code (Greece ``GR``), ``Time`` the last data year of the
    biennial average (2023 = the 2024 report, data 2022+2023). The EU27 averages are not units
    and are left out. Before 2020 the life-event samples and indicator 2.3 differ (see the
    README): compare over time with care.
    """
    wide = country_scores(scores, codes="icode")
    wide = wide[wide["unit_type"] == "country"]
    names = country_names()
    out = pd.DataFrame(
        {
            "uCode": wide["country"],
            "uName": wide["country"].map(names),
            "Time": wide["year_end"].astype("int64"),
            "Group_EU27": np.where(wide["country_code"].isin(EU27), "EU27", "non-EU27"),
        }
    )
    if level not in ("indicator", "pillar"):
        raise SpecError(f"level must be 'indicator' or 'pillar', got {level!r}")
    deep = level == "indicator"
    inds = [v[0] for k, v in INDICATORS.items() if k != "0" and ("." in k) == deep]
    out = pd.concat([out, wide[inds]], axis=1)
    return out.sort_values(["Time", "uCode"]).reset_index(drop=True)


def adapt(raw_dir: Path) -> SourceResult:
    """Read the workbook into the tables of the module docstring (and the pillar-level preset)."""
    result = read_workbook(raw_dir)
    scores = result.tables["egov_scores"]
    idata = country_data(scores)
    result.tables["iMeta_egov"] = framework()
    result.tables["iData_egov"] = idata
    result.tables["iMeta_egov_pillars"] = framework("pillar")
    result.tables["iData_egov_pillars"] = country_data(scores, level="pillar")
    countries = sorted(idata["uCode"].unique())
    names = country_names()
    result.tables["cities"] = pd.DataFrame(
        {
            "city_id": countries,
            "name": [names.get(c, c) for c in countries],
            "country": countries,
            "population": pd.array([pd.NA] * len(countries), dtype="Int64"),
            "synthetic": False,
            "unit_type": "country",
            "source": SOURCE,
        }
    )
    result.notes += [
        "egov_benchmark_2024: units are countries (national source), not cities; "
        "cities rows carry unit_type='country'.",
        "egov_benchmark_2024: Greece is EL in the workbook, GR (ISO) in 'country'; "
        "AVERAGE_EU27 and EU27+ are averages (unit_type='aggregate'), not units.",
        "egov_benchmark_2024: '.' (not applicable) and '#DIV/0!' cells are missing values, "
        "their text kept in value_flag; empty cells (country not surveyed) give no row.",
        "egov_benchmark_2024: government level 'central' (2 rows) read as 'Central'.",
    ]
    return result
