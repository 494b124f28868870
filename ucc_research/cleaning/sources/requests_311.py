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

import shutil
import tempfile
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ucc_research import config
from ucc_research.cleaning.background import BlockWriter, read_ahead
from ucc_research.cleaning.base import SourceResult
from ucc_research.cleaning.channels import BALTIMORE_CHANNELS, NYC_CHANNELS, map_channels
from ucc_research.cleaning.dataset import Dataset, KeyLog, YearWriter, drop_keys
from ucc_research.cleaning.panel import requests_to_panel
from ucc_research.cleaning.parsers import US_12H, parse_datetimes
from ucc_research.cleaning.quarantine import concat_quarantine, problems_frame, reader_problems
from ucc_research.cleaning.readers import LINE, NotStreamable, read_table, read_table_blocks
from ucc_research.cleaning.schemas import duplicate_key_problems, validate_frame, validate_rows

TIMEZONE = "America/New_York"
REQUESTS_KEY = ("city_id", "request_id")
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
    *("baltimore_311", "US-BALTIMORE", "Baltimore", 585_708, "2020 US Census"),
    *("baltimore_311_sample", "311_sample.csv"),
    *("ServiceRequestNum", "SRType", "MethodReceived", "CreatedDate", "CloseDate", "SRStatus"),
    channel_map=BALTIMORE_CHANNELS,
)

NYC = Log311(
    *("nyc_311", "US-NYC", "New York City", 8_804_190, "2020 US Census"),
    *("nyc_311_sample_2025", "311.csv"),
    *("Unique Key", "Complaint Type", "Open Data Channel Type", "Created Date", "Closed Date"),
    "Status",
    channel_map=NYC_CHANNELS,
)


def adapt_baltimore(raw_dir: Path) -> SourceResult:
    """Baltimore 311 sample (``baltimore_311_sample/311_sample.csv``)."""
    return adapt_log(Path(raw_dir), BALTIMORE, block_bytes=BLOCK_BYTES)


def adapt_nyc(raw_dir: Path) -> SourceResult:
    """NYC 311 one-day sample (``nyc_311_sample_2025/311.csv``)."""
    return adapt_log(Path(raw_dir), NYC, block_bytes=BLOCK_BYTES)


#: Bytes of a request log read, cleaned and validated at a time.
BLOCK_BYTES = 32 << 20

#: Columns of ``requests`` the monthly panel reads.
PANEL_COLUMNS = ["city_id", "service_type", "channel", "created_at", "closed_at", "source"]


def adapt_log(
    raw_dir: Path, spec: Log311, *, path: Path | None = None, block_bytes: int | None = BLOCK_BYTES
) -> SourceResult:
    """Read one 311 export and return its ``requests``, monthly ``service_panel`` and city row.

    A regular UTF-8 log is read, cleaned and validated block by block, and each block's kept
    rows are written to disk at once (one parquet file per local year, see
    :mod:`ucc_research.cleaning.dataset`): memory holds one block, whatever the log's size.
    The duplicate-key check spans all blocks (8 bytes per row: a hash of each id; the few rows
    whose hash repeats are read back and compared exactly). A file that is not regular
    (another encoding, quoted newlines, malformed records) is read whole, as one block. Both
    give the same tables, quarantine records and line numbers.

    Parameters
    ----------
    raw_dir : the raw data folder.
    spec : the city's column mapping (:data:`BALTIMORE` or :data:`NYC`).
    path : read this file instead of ``raw_dir/spec.folder/spec.file`` (benchmarks, tests).
    block_bytes : bytes of the file per block; None reads the file whole.

    Returns
    -------
    SourceResult
        ``requests`` is a :class:`~ucc_research.cleaning.dataset.Dataset` (``to_pandas()``
        gives the rows); ``service_panel`` and ``cities`` are frames.
    """
    path = path or raw_dir / spec.folder / spec.file
    rel = path.relative_to(raw_dir).as_posix() if path.is_relative_to(raw_dir) else str(path)
    stage = Path(tempfile.mkdtemp(prefix=f"{spec.source}-", dir=config.staging_dir()))
    try:
        requests, quarantine, notes, detected = _stream(path, spec, rel, block_bytes, stage)
        panel = _panel(requests, spec, rel)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    if config.staging_dir() is None:  # a direct call: nobody moves the files into place
        requests.remove_when_unused()
    return SourceResult(
        source=spec.source,
        tables={"requests": requests, "service_panel": panel, "cities": _city_row(spec)},
        quarantine=quarantine,
        rows_in={rel: int(detected["n_rows"])},
        rows_kept={rel: len(requests)},
        detected={rel: detected},
        synthetic=False,
        notes=notes,
    )


def _stream(
    path: Path, spec: Log311, rel: str, block_bytes: int | None, stage: Path
) -> tuple[Dataset, pd.DataFrame, list[str], dict]:
    """The log's blocks, cleaned into ``stage``: block by block when the file allows it."""
    if block_bytes is not None:
        try:
            blocks, detected = read_table_blocks(
                path, usecols=spec.columns, block_bytes=block_bytes, display_name=rel
            )
            # the next block is read and parsed while this one is cleaned; closed on the way
            # out, so an error stops the reading thread now, not when its traceback is freed
            with closing(read_ahead(blocks)) as ahead:
                return (*_clean_blocks(ahead, spec, file=rel, detected=detected, stage=stage),)
        except NotStreamable:  # declared by the reader: this file is read whole below
            pass
    df, detected = read_table(path, usecols=spec.columns, display_name=rel)
    return (*_clean_blocks([df], spec, file=rel, detected=detected, stage=stage),)


def clean_requests(
    df: pd.DataFrame, spec: Log311, *, file: str, detected: dict
) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """Map a raw 311 frame (text, with ``_line``) to validated ``requests`` rows.

    Returns the kept rows (sorted by key), the quarantine records of the others, and notes
    (channel mapping counts, DST handling).
    """
    stage = Path(tempfile.mkdtemp(prefix=f"{spec.source}-"))
    try:
        requests, quarantine, notes, _ = _clean_blocks(
            [df], spec, file=file, detected=detected, stage=stage
        )
        return requests.to_pandas(), quarantine, notes
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def _clean_blocks(
    blocks, spec: Log311, *, file: str, detected: dict, stage: Path
) -> tuple[Dataset, pd.DataFrame, list[str], dict]:
    """Clean ``blocks`` (frames of raw text with ``_line``) and write their kept rows to disk."""
    shutil.rmtree(stage, ignore_errors=True)  # what a read abandoned for a whole one left
    writer = YearWriter(stage / "requests", key=REQUESTS_KEY)
    keys = KeyLog(stage / "keys.parquet")
    parts = []
    empty = pd.DataFrame({c: pd.Series(dtype="str") for c in spec.columns})
    # Each block's rows are written while the next block is read and cleaned (parquet encoding
    # and the file writes release the GIL): one block in flight, so memory holds two at most.
    background = BlockWriter()
    try:
        for df in _at_least_one(blocks, empty.assign(**{LINE: pd.Series(dtype="int64")})):
            part = _clean_block(df, spec, file=file)
            kept, block_keys = part.pop("kept"), part.pop("keys")
            background.submit(_write_block, writer, keys, kept, block_keys)
            parts.append(part)
        background.wait()
        candidates = keys.candidates()
    except BaseException:
        background.wait(raise_error=False)  # its files are closed before they are deleted
        writer.abort()
        raise
    finally:
        keys.close()
    requests = writer.close(spec.source)
    key_q = duplicate_key_problems(
        candidates.rename(columns={"id": "request_id"}).assign(city_id=spec.city_id),
        "requests",
        file=file,
        source=spec.source,
    )
    if len(key_q):  # every copy of a repeated id is quarantined: out of the written files
        lines = key_q["line"].to_numpy(dtype="int64")
        drop_keys(requests, "request_id", candidates.loc[candidates[LINE].isin(lines), "id"])
    quarantine, notes = _finish(parts, key_q, spec, file=file, detected=detected)
    return requests, quarantine, notes, detected


def _write_block(writer: YearWriter, keys: KeyLog, kept: tuple, ids: pd.DataFrame) -> None:
    typed, keep = kept
    writer.append(typed, timezone=TIMEZONE, rows=keep)
    keys.append(ids)


def _at_least_one(blocks, empty: pd.DataFrame):
    """The blocks, or ``empty`` when there is none (a file with a header only)."""
    none = True
    for block in blocks:
        none = False
        yield block
    if none:
        yield empty


def _panel(requests: Dataset, spec: Log311, file: str) -> pd.DataFrame:
    """The monthly ``service_panel``, one year file at a time (a year holds the whole of each of
    its months' cells: the medians are exact), validated."""
    text = ["city_id", "service_type", "channel", "source"]  # read as categoricals: faster
    with closing(read_ahead(requests.batches(PANEL_COLUMNS, categorical=text))) as years:
        months = [requests_to_panel(m, timezone=TIMEZONE) for m in years]  # next file meanwhile
    if not months:
        empty = {c: pd.Series(dtype="str") for c in PANEL_COLUMNS}
        empty["created_at"] = empty["closed_at"] = pd.Series(dtype="datetime64[ns, UTC]")
        months = [requests_to_panel(pd.DataFrame(empty), timezone=TIMEZONE)]
    panel = pd.concat(months, ignore_index=True) if len(months) > 1 else months[0]
    panel = panel.sort_values(["city_id", "service_id", "period"], kind="stable")
    panel, panel_q = validate_frame(
        panel.reset_index(drop=True), "service_panel", file=file, source=spec.source
    )
    if len(panel_q):  # built from validated rows, so this is a bug, not bad data
        raise RuntimeError(
            f"{spec.source}: bug: the panel of validated requests fails its schema:\n{panel_q.head()}"
        )
    return panel


def _city_row(spec: Log311) -> pd.DataFrame:
    return pd.DataFrame(
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


def _clean_block(df: pd.DataFrame, spec: Log311, *, file: str) -> dict:
    """One block of raw records, cleaned and validated except for the key check, which needs
    every block (see :func:`_clean_blocks`)."""
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
    raw_cols = list(dict.fromkeys([spec.request_id, spec.service_type, spec.channel, spec.status]))
    raw = df[[*raw_cols, LINE]].assign(_channel=channel, _created=created, _closed=closed)
    raw = raw.reset_index(drop=True)
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
    # rows with an unparseable date are quarantined above; the rules check the rest
    parse_bad = (bad_created | bad_closed).to_numpy()
    # every row typed, and which to keep: the writer drops the others (pyarrow, off the GIL)
    typed, keep, rule_q = validate_rows(
        requests, "requests", file=file, source=spec.source, check_key=False,
        quarantined=parse_bad,
    )  # fmt: skip
    keys = requests[["request_id", LINE]]
    return {
        "kept": (typed, keep),
        "keys": keys[~parse_bad] if parse_bad.any() else keys,
        "parse_q": parse_q,
        "rule_q": rule_q,
        "labels": df[spec.channel].value_counts(dropna=False),
        "unmapped": unmapped,
        "dst": {"created": dst_created, "closed": dst_closed},
    }


def _finish(
    blocks: list[dict], key_q: pd.DataFrame, spec: Log311, *, file: str, detected: dict
) -> tuple[pd.DataFrame, list[str]]:
    """The quarantine records and notes of the blocks of :func:`_clean_block`."""
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
    return concat_quarantine([*parse_q, rule_q]), notes
