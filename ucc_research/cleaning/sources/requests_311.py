"""311 request logs of Baltimore and New York City -> ``requests``, ``service_panel``, ``cities``.

Both logs map to the one ``requests`` table:

=================  ===============================  ===============================
requests column    Baltimore (311_sample.csv)        NYC (311.csv)
=================  ===============================  ===============================
request_id         ServiceRequestNum                 Unique Key
service_type       SRType                            Complaint Type
channel_raw        MethodReceived                    Open Data Channel Type
created_at         CreatedDate                       Created Date
closed_at          CloseDate                         Closed Date
status             SRStatus                          Status
=================  ===============================  ===============================

Channels are mapped by :mod:`ucc_research.cleaning.channels` (unknown labels -> ``unknown``,
never dropped). Timestamps are local New York time (``MM/DD/YYYY hh:mm:ss AM``), made tz-aware
in ``America/New_York`` and stored in UTC (``timezone`` keeps the zone). Local times that occur
twice when clocks go back are read as the first occurrence (daylight time); times that do not
exist when clocks go forward are moved to the first valid instant; both are counted in the
notes. Rows with an unparseable date, a close before the creation, a missing id or a duplicate
id are quarantined. The monthly panel is built by :func:`ucc_research.cleaning.panel.requests_to_panel`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ucc_research.cleaning.base import SourceResult
from ucc_research.cleaning.channels import BALTIMORE_CHANNELS, NYC_CHANNELS, map_channels
from ucc_research.cleaning.panel import requests_to_panel
from ucc_research.cleaning.quarantine import concat_quarantine, problems_frame, reader_problems
from ucc_research.cleaning.readers import (
    LINE,
    US_12H,
    NotStreamable,
    parse_datetimes,
    read_table,
    read_table_blocks,
)
from ucc_research.cleaning.schemas import duplicate_key_problems, validate_frame

TIMEZONE = "America/New_York"
DATE_FORMAT = US_12H


@dataclass(frozen=True)
class Log311:
    """Where one city's 311 export keeps each field of the ``requests`` table."""

    source: str
    city_id: str
    city_name: str
    population: int
    population_note: str
    folder: str
    file: str
    request_id: str
    service_type: str
    channel: str
    created: str
    closed: str
    status: str
    channel_map: dict[str, str]

    @property
    def columns(self) -> list[str]:
        return [
            self.request_id,
            self.service_type,
            self.channel,
            self.created,
            self.closed,
            self.status,
        ]


BALTIMORE = Log311(
    source="baltimore_311",
    city_id="US-BALTIMORE",
    city_name="Baltimore",
    population=585_708,
    population_note="2020 US Census",
    folder="baltimore_311_sample",
    file="311_sample.csv",
    request_id="ServiceRequestNum",
    service_type="SRType",
    channel="MethodReceived",
    created="CreatedDate",
    closed="CloseDate",
    status="SRStatus",
    channel_map=BALTIMORE_CHANNELS,
)

NYC = Log311(
    source="nyc_311",
    city_id="US-NYC",
    city_name="New York City",
    population=8_804_190,
    population_note="2020 US Census",
    folder="nyc_311_sample_2025",
    file="311.csv",
    request_id="Unique Key",
    service_type="Complaint Type",
    channel="Open Data Channel Type",
    created="Created Date",
    closed="Closed Date",
    status="Status",
    channel_map=NYC_CHANNELS,
)


def adapt_baltimore(raw_dir: Path) -> SourceResult:
    """Baltimore 311 sample (``baltimore_311_sample/311_sample.csv``)."""
    return adapt_log(Path(raw_dir), BALTIMORE)


def adapt_nyc(raw_dir: Path) -> SourceResult:
    """NYC 311 one-day sample (``nyc_311_sample_2025/311.csv``)."""
    return adapt_log(Path(raw_dir), NYC)


#: Bytes of a request log read, cleaned and validated at a time.
BLOCK_BYTES = 64 << 20


def adapt_log(
    raw_dir: Path, spec: Log311, *, path: Path | None = None, block_bytes: int | None = BLOCK_BYTES
) -> SourceResult:
    """Read one 311 export and return its ``requests``, monthly ``service_panel`` and city row.

    A regular UTF-8 log is read, cleaned and validated block by block (the duplicate-key check
    over all blocks); a file that is not (another encoding, quoted newlines, malformed records)
    is read whole. Both give the same tables, quarantine records and line numbers.

    Parameters
    ----------
    raw_dir : the raw data folder.
    spec : the city's column mapping (:data:`BALTIMORE` or :data:`NYC`).
    path : read this file instead of ``raw_dir/spec.folder/spec.file`` (benchmarks, tests).
    block_bytes : bytes of the file per block; None reads the file whole.
    """
    path = path or raw_dir / spec.folder / spec.file
    rel = path.relative_to(raw_dir).as_posix() if path.is_relative_to(raw_dir) else str(path)
    requests = None
    if block_bytes is not None:
        try:
            blocks, detected = read_table_blocks(
                path, usecols=spec.columns, block_bytes=block_bytes, display_name=rel
            )
            parts = [_clean_block(b, spec, file=rel) for b in blocks]
        except NotStreamable:  # declared by the reader: this file is read whole below
            pass
        else:
            requests, quarantine, notes = _finish(parts, spec, file=rel, detected=detected)
    if requests is None:
        df, detected = read_table(path, usecols=spec.columns, display_name=rel)
        requests, quarantine, notes = clean_requests(df, spec, file=rel, detected=detected)
    panel, panel_q = validate_frame(
        requests_to_panel(requests, timezone=TIMEZONE),
        "service_panel",
        file=rel,
        source=spec.source,
    )
    if len(panel_q):  # built from validated rows, so this is a bug, not bad data
        raise RuntimeError(
            f"{spec.source}: bug: the panel of validated requests fails its schema:\n{panel_q.head()}"
        )
    cities = pd.DataFrame(
        {
            "city_id": [spec.city_id],
            "name": [spec.city_name],
            "country": ["US"],
            "population": [float(spec.population)],
            "synthetic": pd.array([False], dtype="boolean"),
            "unit_type": ["city"],
            "source": [spec.source],
            "note": [
                f"US city used as a real request-log (311) example; population: "
                f"{spec.population_note}"
            ],
        }
    )
    return SourceResult(
        source=spec.source,
        tables={"requests": requests, "service_panel": panel, "cities": cities},
        quarantine=quarantine,
        rows_in={rel: int(detected["n_rows"])},
        rows_kept={rel: len(requests)},
        detected={rel: detected},
        synthetic=False,
        notes=notes,
    )


def clean_requests(
    df: pd.DataFrame, spec: Log311, *, file: str, detected: dict
) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """Map a raw 311 frame (text, with ``_line``) to validated ``requests`` rows.

    Returns the kept rows (in file order), the quarantine records of the others, and notes
    (channel mapping counts, DST handling).
    """
    return _finish([_clean_block(df, spec, file=file)], spec, file=file, detected=detected)


def _clean_block(df: pd.DataFrame, spec: Log311, *, file: str) -> dict:
    """One block of raw records, cleaned and validated except for the key check, which needs
    every block (see :func:`_finish`)."""
    channel, unmapped = map_channels(df[spec.channel], spec.channel_map)
    created, bad_created, dst_created = parse_datetimes(df[spec.created], DATE_FORMAT, tz=TIMEZONE)
    closed, bad_closed, dst_closed = parse_datetimes(df[spec.closed], DATE_FORMAT, tz=TIMEZONE)
    lines = df[LINE].to_numpy()
    parse_q = {}
    for col, bad in ((spec.created, bad_created), (spec.closed, bad_closed)):
        parse_q[col] = problems_frame(
            source=spec.source,
            table="requests",
            file=file,
            lines=lines[bad.to_numpy()],
            columns=[col] * int(bad.sum()),
            values=df.loc[bad, col].tolist(),
            reasons=f"not a date/time in the format {DATE_FORMAT}",
        )
    # rows with an unparseable date are already quarantined; the rest go on to the rules
    parsed_ok = ~(bad_created | bad_closed).to_numpy()
    raw_cols = list(dict.fromkeys([spec.request_id, spec.service_type, spec.channel, spec.status]))
    raw = df[[*raw_cols, LINE]].assign(_channel=channel, _created=created, _closed=closed)
    raw = raw[parsed_ok].reset_index(drop=True)
    requests = pd.DataFrame(
        {
            "request_id": raw[spec.request_id],
            "city_id": pd.Series(spec.city_id, index=raw.index, dtype="str"),
            "service_type": raw[spec.service_type],
            "channel": raw["_channel"],
            "channel_raw": raw[spec.channel],
            "created_at": raw["_created"].dt.tz_convert("UTC"),
            "closed_at": raw["_closed"].dt.tz_convert("UTC"),
            "status": raw[spec.status],
            "days_to_close": (raw["_closed"] - raw["_created"]) / pd.Timedelta(days=1),
            "timezone": pd.Series(TIMEZONE, index=raw.index, dtype="str"),
            "source": pd.Series(spec.source, index=raw.index, dtype="str"),
            LINE: raw[LINE],
        }
    )
    kept, rule_q = validate_frame(
        requests, "requests", file=file, source=spec.source, check_key=False
    )
    row_lines = requests[LINE].to_numpy()
    kept_lines = row_lines[~np.isin(row_lines, rule_q["line"].to_numpy(dtype="int64"))]
    if len(kept_lines) != len(kept):
        raise RuntimeError(f"{spec.source}: bug: kept rows and their lines disagree")
    return {
        "kept": kept,
        "kept_lines": kept_lines,
        "keys": requests[["city_id", "request_id", LINE]],
        "parse_q": parse_q,
        "rule_q": rule_q,
        "labels": df[spec.channel].value_counts(dropna=False),
        "unmapped": unmapped,
        "dst": {"created": dst_created, "closed": dst_closed},
    }


def _finish(
    blocks: list[dict], spec: Log311, *, file: str, detected: dict
) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """The blocks of :func:`_clean_block` as one table: the key checked over all of them."""
    keys = pd.concat([b["keys"] for b in blocks], ignore_index=True)
    key_q = duplicate_key_problems(keys, "requests", file=file, source=spec.source)
    kept = pd.concat([b["kept"] for b in blocks], ignore_index=True)
    if len(key_q):
        kept_lines = np.concatenate([b["kept_lines"] for b in blocks])
        kept = kept[~np.isin(kept_lines, key_q["line"].to_numpy(dtype="int64"))]
        kept = kept.reset_index(drop=True)
    # in file order, as one validate_frame call gives them
    rule_q = concat_quarantine([*(b["rule_q"] for b in blocks), key_q])
    rule_q = rule_q.sort_values(["line", "column", "reason"], kind="stable").reset_index(drop=True)
    # the raw column names are what a reader of the quarantine can find in the file
    raw_names = {
        "request_id": spec.request_id,
        "service_type": spec.service_type,
        "channel": spec.channel,
        "created_at": spec.created,
        "closed_at": spec.closed,
        "status": spec.status,
    }
    rule_q["column"] = rule_q["column"].replace(raw_names)
    parse_q = [reader_problems(detected, source=spec.source, table="requests", file=file)]
    for col in (spec.created, spec.closed):
        parse_q += [b["parse_q"][col] for b in blocks]

    # how each distinct raw label (missing as "") was mapped, and how often
    counts = pd.concat([b["labels"] for b in blocks]).groupby(level=0, dropna=False).sum()
    labels = pd.Series(counts.index, dtype="str")
    mapped, _ = map_channels(labels, spec.channel_map)
    counts = (
        pd.DataFrame(
            {"raw": labels.fillna("").to_numpy(), "ch": mapped.to_numpy(), "n": counts.to_numpy()}
        )
        .groupby(["raw", "ch"])["n"]
        .sum()
    )
    mapping = "; ".join(f"{raw!r} -> {ch} ({int(n)})" for (raw, ch), n in counts.items() if n)
    notes = [f"{spec.channel} mapped to channel: {mapping}"]
    unmapped: dict[str, int] = {}
    for b in blocks:
        for label, n in b["unmapped"].items():
            unmapped[label] = unmapped.get(label, 0) + n
    if unmapped:
        notes.append(
            f"labels outside the mapping, set to 'unknown': {dict(sorted(unmapped.items()))}"
        )
    for what in ("created", "closed"):
        dst = {k: sum(b["dst"][what][k] for b in blocks) for k in ("ambiguous", "nonexistent")}
        if dst["ambiguous"]:
            notes.append(
                f"{dst['ambiguous']} {what} times fall in the repeated hour when clocks go back; "
                "read as the first occurrence (daylight time)"
            )
        if dst["nonexistent"]:
            notes.append(
                f"{dst['nonexistent']} {what} times fall in the skipped hour when clocks go "
                "forward; moved to the first valid instant"
            )
    return kept, concat_quarantine([*parse_q, rule_q]), notes
