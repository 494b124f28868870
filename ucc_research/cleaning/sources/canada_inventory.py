"""Government of Canada service inventory FY2023-24: one row per federal service.

Reads ``canada_service_inventory_2024/si_2024.csv`` and checks every coded value against the
official data dictionary beside it (``service_data_dict.json``). Produces ``canada_services``:

* identification: ``fiscal_yr``, ``service_id``, ``service_name_en``, ``owner_org``,
  ``owner_org_title``, ``service_type``, ``service_recipient_type``, ``service_scope``,
  ``client_target_groups``, ``client_feedback_channel`` (multi-valued codes stay
  comma-separated, as published), ``external`` (``EXTERN`` in the scope), ``service_fee``,
  ``automated_decision_system``, ``last_service_review``, ``last_service_improvement``;
* the six online interaction points ``os_*`` as nullable booleans (``Y`` True, ``N`` False,
  ``NA`` = not applicable to the service: missing), with ``os_online_count`` (points online)
  and ``os_applicable_count`` (points applicable);
* the volumes ``num_*`` as nullable integers, each with ``<col>_status``: ``reported`` (a
  number, ``0`` stays 0), ``not_collected`` (code ``ND``: no data collected) or
  ``not_offered`` (code ``NA``: the channel is not offered). Codes are never turned into 0;
* ``digital_takeup`` = ``num_applications_online / num_applications_total`` where the total
  is > 0 and the online count is reported (missing otherwise).

Rows with a value the dictionary does not allow are quarantined (file, line, column, value,
reason); nothing else is dropped.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from ucc_research.cleaning.base import SourceResult
from ucc_research.cleaning.quarantine import file_problems
from ucc_research.cleaning.readers import LINE, read_table
from ucc_research.errors import DataFileError

SOURCE = "canada_service_inventory_2024"
FOLDER = "canada_service_inventory_2024"
DATA_FILE = "si_2024.csv"
DICT_FILE = "service_data_dict.json"
TABLE = "canada_services"

OS_COLUMNS = [
    "os_account_registration",
    "os_authentication",
    "os_application",
    "os_decision",
    "os_issuance",
    "os_issue_resolution_feedback",
]
COUNT_COLUMNS = [
    "num_phone_enquiries",
    "num_applications_by_phone",
    "num_website_visits",
    "num_applications_online",
    "num_applications_in_person",
    "num_applications_by_mail",
    "num_applications_by_email",
    "num_applications_by_fax",
    "num_applications_by_other",
]
TOTAL = "num_applications_total"
#: Data-dictionary codes of the count columns and the status they map to.
COUNT_CODES = {"ND": "not_collected", "NA": "not_offered"}
#: Columns whose values (comma-separated for multi-valued ones) must be dictionary choices.
CODED_COLUMNS = [
    "fiscal_yr",
    "service_type",
    "service_recipient_type",
    "service_scope",
    "client_target_groups",
    "client_feedback_channel",
    "automated_decision_system",
    "service_fee",
    *OS_COLUMNS,
    "last_service_review",
    "last_service_improvement",
]
_OPTIONAL_CODED = {"last_service_review", "last_service_improvement", "client_feedback_channel"}
TEXT_COLUMNS = ["service_id", "service_name_en", "owner_org", "owner_org_title"]
_YN = {"Y": True, "N": False}


def data_dictionary(raw_dir: Path) -> dict[str, dict]:
    """The dictionary's ``service`` fields by id: ``{"os_application": {...}, ...}``."""
    rel = f"{FOLDER}/{DICT_FILE}"
    path = Path(raw_dir) / rel
    try:
        spec = json.loads(path.read_text(encoding="utf-8"))
        resource = next(r for r in spec["resources"] if r["resource_name"] == "service")
        return {f["id"]: f for f in resource["fields"]}
    except FileNotFoundError as exc:
        raise DataFileError(rel, "data dictionary not found") from exc
    except (json.JSONDecodeError, KeyError, StopIteration, TypeError) as exc:
        raise DataFileError(rel, f"not a service-inventory data dictionary ({exc})") from exc


def allowed_codes(dictionary: dict[str, dict]) -> dict[str, frozenset[str]]:
    """Allowed codes of each coded column, from the dictionary's ``choices``."""
    out = {}
    for col in CODED_COLUMNS:
        choices = dictionary.get(col, {}).get("choices")
        if not isinstance(choices, dict):
            raise DataFileError(f"{FOLDER}/{DICT_FILE}", f"no code list for {col!r}")
        out[col] = frozenset(choices)
    return out


def _code_problems(df: pd.DataFrame, col: str, allowed: frozenset[str]) -> list[tuple]:
    multi = col in (
        "service_type",
        "service_scope",
        "client_target_groups",
        "client_feedback_channel",
    )
    out = []
    for line, v in zip(df[LINE], df[col], strict=True):
        if pd.isna(v) or not str(v).strip():
            if col not in _OPTIONAL_CODED:
                out.append((line, col, v, "empty (required by the data dictionary)"))
            continue
        codes = [c.strip() for c in str(v).split(",")] if multi else [str(v).strip()]
        unknown = [c for c in codes if c not in allowed]
        if unknown:
            out.append((line, col, v, f"code(s) {unknown} not in the data dictionary"))
    return out


def _count_problems(df: pd.DataFrame, col: str, codes: bool) -> list[tuple]:
    text = df[col].fillna("").str.strip()
    ok = text.str.fullmatch(r"\d+") | (text.isin(list(COUNT_CODES)) if codes else False)
    reason = (
        "must be a whole number >= 0, 'ND' or 'NA' (data dictionary)"
        if codes
        else "must be a whole number >= 0"
    )
    return [
        (line, col, v, reason) for line, v in zip(df.loc[~ok, LINE], df.loc[~ok, col], strict=True)
    ]


def adapt(raw_dir: Path) -> SourceResult:
    """Read the inventory into ``canada_services`` (see the module docstring)."""
    raw_dir = Path(raw_dir)
    rel = f"{FOLDER}/{DATA_FILE}"
    allowed = allowed_codes(data_dictionary(raw_dir))
    required = [*TEXT_COLUMNS, *CODED_COLUMNS, *COUNT_COLUMNS, TOTAL]
    df, detected = read_table(raw_dir / rel, required_columns=required, display_name=rel)

    problems: list[tuple] = []
    for col in TEXT_COLUMNS[:2]:
        for line, v in zip(df[LINE], df[col], strict=True):
            if pd.isna(v) or not str(v).strip():
                problems.append((line, col, v, "empty"))
    for col in CODED_COLUMNS:
        problems += _code_problems(df, col, allowed[col])
    for col in COUNT_COLUMNS:
        problems += _count_problems(df, col, codes=True)
    problems += _count_problems(df, TOTAL, codes=False)
    dup = df.duplicated(["fiscal_yr", "service_id"], keep="first")
    for line, v in zip(df.loc[dup, LINE], df.loc[dup, "service_id"], strict=True):
        problems.append((line, "service_id", v, "duplicated service_id within the fiscal year"))

    quarantine = file_problems(problems, detected, source=SOURCE, table=TABLE, file=rel)
    bad = set(quarantine["line"].dropna().astype(int))
    kept = df[~df[LINE].isin(bad)].reset_index(drop=True)
    services = _tidy(kept)
    return SourceResult(
        source=SOURCE,
        tables={TABLE: services},
        quarantine=quarantine,
        rows_in={rel: detected["n_rows"]},
        rows_kept={rel: len(services)},
        detected={rel: detected},
        notes=[
            f"{SOURCE}: national (federal) services, not city services.",
            f"{SOURCE}: count codes ND (no data collected) and NA (channel not offered) are "
            "missing values with their meaning in <col>_status; 0 stays 0.",
            f"{SOURCE}: os_* code NA (interaction point not applicable) is a missing value.",
        ],
    )


def _tidy(kept: pd.DataFrame) -> pd.DataFrame:
    text = lambda c: kept[c].fillna("").str.strip().replace("", pd.NA).astype("string")  # noqa: E731
    out = pd.DataFrame({c: text(c) for c in ["fiscal_yr", *TEXT_COLUMNS]})
    for c in (
        "service_type",
        "service_recipient_type",
        "service_scope",
        "client_target_groups",
        "client_feedback_channel",
    ):
        out[c] = text(c)
    out["external"] = out["service_scope"].str.split(",").map(lambda s: "EXTERN" in s)
    out["external"] = out["external"].astype("bool")
    for c in ("service_fee", "automated_decision_system"):
        out[c] = kept[c].str.strip().map(_YN).astype("boolean")
    out["last_service_review"] = text("last_service_review")
    out["last_service_improvement"] = text("last_service_improvement")
    for c in OS_COLUMNS:
        out[c] = kept[c].str.strip().map(_YN).astype("boolean")
    os = out[OS_COLUMNS]
    out["os_online_count"] = os.fillna(False).sum(axis=1).astype("int64")
    out["os_applicable_count"] = os.notna().sum(axis=1).astype("int64")
    for c in COUNT_COLUMNS:
        raw = kept[c].str.strip()
        out[c] = pd.to_numeric(raw.where(~raw.isin(list(COUNT_CODES))), errors="raise").astype(
            "Int64"
        )
        out[f"{c}_status"] = raw.map(COUNT_CODES).fillna("reported").astype("string")
    out[TOTAL] = pd.to_numeric(kept[TOTAL].str.strip()).astype("Int64")
    online = out["num_applications_online"].astype("float64")
    total = out[TOTAL].astype("float64")
    out["digital_takeup"] = np.where(total > 0, online / total.where(total > 0), np.nan)
    return out
