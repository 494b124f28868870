"""ISO 3166-1 alpha-2 country codes, and the EU's two exceptions (EL for Greece, UK for the UK).

The ``cities`` table stores ISO codes; adapters of EU sources translate with :func:`to_iso2`.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pandas as pd

# The 249 officially assigned ISO 3166-1 codes (alpha-2, alpha-3, English short name).
_TABLE = Path(__file__).with_name("iso3166.csv")


@cache
def iso3166() -> pd.DataFrame:
    """The ISO 3166-1 table: columns ``alpha2``, ``alpha3``, ``name`` (249 rows)."""
    return pd.read_csv(_TABLE, dtype=str, keep_default_na=False)  # keep Namibia's "NA"


@cache
def country_names() -> dict[str, str]:
    """ISO alpha-2 code -> English short name."""
    t = iso3166()
    return dict(zip(t["alpha2"], t["name"], strict=True))


@cache
def iso3_to_iso2() -> dict[str, str]:
    """ISO alpha-3 -> alpha-2 code."""
    t = iso3166()
    return dict(zip(t["alpha3"], t["alpha2"], strict=True))


#: Valid country codes: ISO 3166-1 alpha-2 plus XK (Kosovo, user-assigned, used by the EU).
ISO_COUNTRIES: frozenset[str] = frozenset(iso3166()["alpha2"]) | {"XK"}

#: EU/Eurostat codes that differ from ISO 3166-1.
EU_TO_ISO: dict[str, str] = {"EL": "GR", "UK": "GB"}


def to_iso2(codes: pd.Series) -> pd.Series:
    """Upper-case, strip, and translate EU codes (EL, UK) to ISO (GR, GB); others unchanged.

    Examples
    --------
    >>> to_iso2(pd.Series(["el", "UK ", "FR"])).tolist()
    ['GR', 'GB', 'FR']
    """
    text = codes.astype("str").str.strip().str.upper()
    return text.replace(EU_TO_ISO)


def is_iso2(codes: pd.Series) -> pd.Series:
    """True where the code is a valid ISO 3166-1 alpha-2 code (missing gives False)."""
    return codes.isin(ISO_COUNTRIES)
