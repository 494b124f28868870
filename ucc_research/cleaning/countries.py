"""ISO 3166-1 alpha-2 country codes, and the EU's two exceptions (EL for Greece, UK for the UK).

The ``cities`` table stores ISO codes; adapters of EU sources translate with :func:`to_iso2`.
"""

from __future__ import annotations

import pandas as pd

# The 249 officially assigned ISO 3166-1 alpha-2 codes.
_ISO = """
AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS
BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE
EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM
HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC
LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA
NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW
SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO
TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW
"""

#: Valid country codes: ISO 3166-1 alpha-2 plus XK (Kosovo, user-assigned, used by the EU).
ISO_COUNTRIES: frozenset[str] = frozenset(_ISO.split()) | {"XK"}

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
