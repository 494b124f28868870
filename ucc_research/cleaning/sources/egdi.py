"""UN E-Government Development Index (EGDI) by country: context covariates.

Raw files (``egdi/``, see its README.txt): ``egdi-2010.csv`` ... ``egdi-2018.csv`` (with ISO3
codes) and ``EGOV_DATA_2022.csv`` / ``EGOV_DATA_2024_modified.csv`` (names only, with trailing
spaces; the 2024 copy has an added, partly wrong ``Region`` column, which is ignored).

Produces ``egdi``: ``iso3``, ``iso2`` (from ISO 3166-1; missing if unknown), ``country``,
``year``, ``egdi``, ``osi``, ``hci``, ``tii``, ``epi`` (all 0-1), ``rank``.

Names of the 2022/2024 files are joined to ISO3 codes through the names of the 2010-2018 files;
two countries renamed since then are mapped explicitly (:data:`RENAMED`). A name that still does
not match is quarantined (file, line, column, value, reason), never dropped silently.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ucc_research.cleaning.base import SourceResult
from ucc_research.cleaning.countries import iso3_to_iso2
from ucc_research.cleaning.quarantine import concat_quarantine, file_problems, problems_frame
from ucc_research.cleaning.readers import LINE, parse_numbers, read_table

SOURCE = "egdi"
FOLDER = "egdi"
TABLE = "egdi"
CODED_YEARS = (2010, 2012, 2014, 2016, 2018)
#: Files without ISO codes and the renaming of their columns.
NAMED_FILES = {
    "EGOV_DATA_2022.csv": {
        "Survey Year": "year",
        "Country Name": "country",
        "E-Government Rank": "rank",
        "E-Government Index": "egdi",
        "E-Participation Index": "epi",
        "Online Service Index": "osi",
        "Human Capital Index": "hci",
        "Telecommunication Infrastructure Index": "tii",
    },
    "EGOV_DATA_2024_modified.csv": {
        "Survey Year": "year",
        "Country": "country",
        "Rank": "rank",
        "E_Index": "egdi",
        "E_Participation": "epi",
        "Online_Service": "osi",
        "Human_Capital": "hci",
        "Tele_Infra": "tii",
    },
}
CODED_COLUMNS = {
    "country-code": "iso3",
    "country-name": "country",
    "e-gov-rank": "rank",
    "e-gov-index": "egdi",
    "e-pat-index": "epi",
    "osi": "osi",
    "hci": "hci",
    "tii": "tii",
}
#: Countries renamed after 2018: current UN name -> ISO3 (2018 name in the comment).
RENAMED = {
    "Türkiye": "TUR",  # Turkey
    "North Macedonia": "MKD",  # The former Yugoslav Republic of Macedonia
}
#: Survey years whose EGDI weights (OSI, TII, HCI) are not equal thirds.
WEIGHTS = {2010: (0.34, 0.33, 0.33)}
INDEX_COLUMNS = ["egdi", "osi", "hci", "tii", "epi"]
COLUMNS = ["iso3", "iso2", "country", "year", *INDEX_COLUMNS, "rank"]


def _values(df: pd.DataFrame, rel: str, problems: list[tuple]) -> pd.DataFrame:
    """Parse the index columns and the rank; record unparseable or out-of-range values."""
    out = pd.DataFrame({LINE: df[LINE]})
    for col in INDEX_COLUMNS:
        v, bad = parse_numbers(df[col])
        out[col] = v
        problems += [
            (ln, col, x, "not a number")
            for ln, x in zip(df.loc[bad, LINE], df.loc[bad, col], strict=True)
        ]
        rng = ~bad & v.notna() & ~v.between(0, 1)
        problems += [
            (ln, col, x, "index outside 0-1")
            for ln, x in zip(df.loc[rng, LINE], df.loc[rng, col], strict=True)
        ]
    rank, bad = parse_numbers(df["rank"])
    frac = ~bad & rank.notna() & ((rank != rank.round()) | (rank < 1))
    problems += [
        (ln, "rank", x, "rank is not a whole number >= 1")
        for ln, x in zip(df.loc[bad | frac, LINE], df.loc[bad | frac, "rank"], strict=True)
    ]
    out["rank"] = rank.where(~frac).round().astype("Int64")
    return out


def _problems(rel: str, problems: list[tuple], detected: dict) -> pd.DataFrame:
    return file_problems(problems, detected, source=SOURCE, table=TABLE, file=rel)


def adapt(raw_dir: Path) -> SourceResult:
    """Read all editions into ``egdi`` (see the module docstring)."""
    raw_dir = Path(raw_dir)
    result = SourceResult(source=SOURCE, tables={})
    name_to_iso3: dict[str, str] = {}
    frames = [_read_coded(raw_dir, year, name_to_iso3) for year in CODED_YEARS]
    frames += [_read_named(raw_dir, f, cols, name_to_iso3) for f, cols in NAMED_FILES.items()]
    kept, quarantines = [], []
    for rel, out, problems, det in frames:
        q = _problems(rel, problems, det)
        bad = set(q["line"].dropna().astype(int))
        ok = out[~out[LINE].isin(bad)].assign(_file=rel)
        kept.append(ok)
        quarantines.append(q)
        result.rows_in[rel] = det["n_rows"]
        result.detected[rel] = det
    table = pd.concat(kept, ignore_index=True)
    table["year"] = table["year"].astype("int64")
    table, twice = _first_per_edition(table)
    quarantines += twice
    for rel in result.rows_in:
        result.rows_kept[rel] = int((table["_file"] == rel).sum())
    table["iso2"] = table["iso3"].map(iso3_to_iso2()).astype("string")
    table["iso3"] = table["iso3"].astype("string")
    table["country"] = table["country"].astype("string")
    table = table[COLUMNS].sort_values(["year", "iso3"]).reset_index(drop=True)
    result.tables[TABLE] = table
    result.quarantine = concat_quarantine(quarantines)
    result.notes += [
        "egdi: country names stripped of trailing spaces; 2022/2024 names joined to ISO3 "
        "codes via the 2010-2018 files, with Türkiye -> TUR and North Macedonia -> MKD "
        "mapped explicitly (renamed after 2018).",
        "egdi: the Region column of EGOV_DATA_2024_modified.csv is ignored (partly wrong).",
        "egdi: empty index cells (e.g. 10 countries in 2010) are missing values.",
    ]
    return result


def _read_coded(raw_dir: Path, year: int, name_to_iso3: dict[str, str]) -> tuple:
    """One 2010-2018 edition (ISO3 codes given); records its names' codes in ``name_to_iso3``."""
    rel = f"{FOLDER}/egdi-{year}.csv"
    df, det = read_table(raw_dir / rel, required_columns=list(CODED_COLUMNS), display_name=rel)
    df = df.rename(columns=CODED_COLUMNS)
    problems: list[tuple] = []
    iso3 = df["iso3"].fillna("").str.strip().str.upper()
    name = df["country"].fillna("").str.strip()
    known = iso3.isin(list(iso3_to_iso2()))
    problems += [
        (ln, "country-code", x, "not an ISO 3166-1 alpha-3 code")
        for ln, x in zip(df.loc[~known, LINE], df.loc[~known, "iso3"], strict=True)
    ]
    problems += [
        (ln, "country-name", x, "empty country name")
        for ln, x in zip(df.loc[name == "", LINE], df.loc[name == "", "country"], strict=True)
    ]
    out = _values(df, rel, problems)
    out["iso3"], out["country"], out["year"] = iso3, name, year
    for n, c in zip(name[known & (name != "")], iso3[known & (name != "")], strict=True):
        name_to_iso3.setdefault(n, c)
    return rel, out, problems, det


def _read_named(
    raw_dir: Path, file: str, columns: dict[str, str], name_to_iso3: dict[str, str]
) -> tuple:
    """A 2022/2024 file (names only), its countries coded through the earlier editions."""
    rel = f"{FOLDER}/{file}"
    df, det = read_table(raw_dir / rel, required_columns=list(columns), display_name=rel)
    df = df.rename(columns=columns)
    problems: list[tuple] = []
    name = df["country"].fillna("").str.strip()
    iso3 = name.map(lambda n: RENAMED.get(n, name_to_iso3.get(n)))
    miss = iso3.isna()
    problems += [
        (ln, "country", x, "country name matches no name of the 2010-2018 files (no ISO code)")
        for ln, x in zip(df.loc[miss, LINE], df.loc[miss, "country"], strict=True)
    ]
    year, bad_year = parse_numbers(df["year"])
    bad_year |= year.isna() | (year != year.round())
    problems += [
        (ln, "year", x, "survey year is not a whole number")
        for ln, x in zip(df.loc[bad_year, LINE], df.loc[bad_year, "year"], strict=True)
    ]
    out = _values(df, rel, problems)
    out["iso3"], out["country"] = iso3, name
    out["year"] = year.where(~bad_year)
    return rel, out, problems, det


def _first_per_edition(table: pd.DataFrame) -> tuple[pd.DataFrame, list[pd.DataFrame]]:
    """A country twice in one edition: keep the first, quarantine the others."""
    dup = table.duplicated(["iso3", "year"], keep="first")
    quarantined = [
        problems_frame(
            source=SOURCE,
            table=TABLE,
            file=f,
            lines=[ln],
            columns=["country"],
            values=[c],
            reasons="country appears twice in this edition",
        )
        for f, ln, c in zip(
            table.loc[dup, "_file"], table.loc[dup, LINE], table.loc[dup, "country"], strict=True
        )
    ]
    return table[~dup], quarantined


def identity_gaps(table: pd.DataFrame, tol: float = 1e-4) -> pd.DataFrame:
    """Rows whose EGDI differs from its definition by more than ``tol``.

    EGDI = (OSI + TII + HCI) / 3, except the 2010 survey, which weighted them 0.34, 0.33, 0.33
    (:data:`WEIGHTS`; the published 2010 values fit those weights to 1e-5 and miss equal
    thirds by up to 0.004). Components are published to 4-5 decimals, hence ``tol``.

    Returns
    -------
    DataFrame
        ``iso3, country, year, egdi, osi, tii, hci, expected, gap`` for the rows off by more
        than ``tol`` (rows with a missing component are not checked).
    """
    w = table["year"].map(lambda y: WEIGHTS.get(int(y), (1 / 3, 1 / 3, 1 / 3)))
    comps = table[["osi", "tii", "hci"]].to_numpy(float)
    expected = (comps * np.array(w.tolist(), dtype=float).reshape(-1, 3)).sum(axis=1)
    out = table.assign(expected=expected, gap=(table["egdi"] - expected).abs())
    cols = ["iso3", "country", "year", "egdi", "osi", "tii", "hci", "expected", "gap"]
    return out.loc[out["gap"] > tol, cols].reset_index(drop=True)
