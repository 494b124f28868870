"""Issue 12: request logs stream to a parquet dataset; same tables as the single-frame code."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ucc_research import io
from ucc_research.cleaning import dataset, text
from ucc_research.cleaning.dataset import Dataset, KeyLog, YearWriter, drop_keys, publish
from ucc_research.cleaning.prepare import prepare
from ucc_research.cleaning.sources import requests_311
from ucc_research.cleaning.sources.requests_311 import BALTIMORE, adapt_log

ROOT = Path(__file__).resolve().parents[1]
#: The last commit whose 311 adapter held the whole log in memory (before issue 12's stream).
REFERENCE = os.environ.get("UCC_REFERENCE_COMMIT", "8171b71")

HEADER = "ServiceRequestNum,SRType,MethodReceived,CreatedDate,SRStatus,CloseDate\n"


def _log(tmp_path, rows):
    f = tmp_path / "raw" / "311.csv"
    f.parent.mkdir(parents=True, exist_ok=True)
    f.write_text(HEADER + "".join(",".join(r) + "\n" for r in rows))
    return f


def _run_reference(tmp_path, code: str, *args) -> None:
    """Run ``code`` (with ``args``) on the package as it was at :data:`REFERENCE`."""
    ref = tmp_path / "ref"
    ref.mkdir()
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", REFERENCE, "ucc_research"],
        check=True,
        capture_output=True,
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(ref)], input=archive, check=True)
    subprocess.run(
        [sys.executable, "-c", code, *map(str, args)],
        check=True,
        env={**os.environ, "PYTHONPATH": str(ref)},
        cwd=ref,  # else `python -c` imports the package beside the current folder
    )


@pytest.mark.slow
def test_prepare_gives_the_tables_of_the_in_memory_code(raw_311, tmp_path, monkeypatch):
    # the acceptance test of issue 12: the reference commit's prepare, run from its own source
    code = "import sys; from ucc_research.cleaning.prepare import prepare; prepare(*sys.argv[1:])"
    _run_reference(tmp_path, code, raw_311, tmp_path / "old")
    monkeypatch.setattr(requests_311, "BLOCK_BYTES", 1 << 12)  # hundreds of blocks per log
    prepare(raw_311, tmp_path / "new")
    old, new = tmp_path / "old", tmp_path / "new"
    assert (new / "requests").is_dir() and not (new / "requests.parquet").exists()
    for table in ("requests", "service_panel", "cities"):
        path = new / table if (new / table).is_dir() else new / f"{table}.parquet"
        pd.testing.assert_frame_equal(
            io.read_parquet(path), pd.read_parquet(old / f"{table}.parquet"), obj=table
        )
    pd.testing.assert_frame_equal(
        pd.read_parquet(new / "quarantine" / "requests.parquet"),
        pd.read_parquet(old / "quarantine" / "requests.parquet"),
    )
    assert (new / "quality.json").read_text() == (old / "quality.json").read_text()


_REFERENCE_311 = r"""
import json, sys
from pathlib import Path
import pandas as pd
from ucc_research.cleaning.prepare import _sort
from ucc_research.cleaning.sources.requests_311 import BALTIMORE, adapt_log
log, out = Path(sys.argv[1]), Path(sys.argv[2])
r = adapt_log(log.parent, BALTIMORE, path=log)
for table in ("requests", "service_panel"):  # sorted by key, as its prepare wrote them
    _sort(r.tables[table], table).to_parquet(out / f"{table}.parquet")
r.quarantine.to_parquet(out / "quarantine.parquet")
(out / "notes.json").write_text(json.dumps({"notes": r.notes, "detected": r.detected}, default=str))
"""


@pytest.mark.slow
def test_a_generated_million_row_log_gives_the_outputs_of_the_in_memory_code(tmp_path):
    # issue 12's acceptance on the benchmark's 1M-row file (seeded: bad rows, DST hours,
    # repeated ids), the reference commit run from its own source in a subprocess
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        from bench_prepare import generate
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    log = tmp_path / "raw" / "311_1m.csv"
    log.parent.mkdir()
    generate(log, 1_000_000, seed=311)
    old = tmp_path / "old"
    old.mkdir()
    _run_reference(tmp_path, _REFERENCE_311, log, old)
    new = adapt_log(log.parent, BALTIMORE, path=log)  # the default blocks: about ten
    assert len(new.tables["requests"].files()) > 1
    for table in ("requests", "service_panel"):
        got = new.tables[table]
        got = got.to_pandas() if isinstance(got, Dataset) else got
        pd.testing.assert_frame_equal(got, pd.read_parquet(old / f"{table}.parquet"), obj=table)
    pd.testing.assert_frame_equal(new.quarantine, pd.read_parquet(old / "quarantine.parquet"))
    assert len(new.quarantine) > 0
    expected = json.loads((old / "notes.json").read_text())
    assert new.notes == expected["notes"]
    assert json.loads(json.dumps(new.detected, default=str)) == expected["detected"]


def test_a_repeated_dst_hour_is_daylight_time_in_every_block(tmp_path):
    # 2016-11-06 01:30 happens twice in New York: read as the first (EDT, UTC-4), as a note says
    rows = [
        (f"18-{i:05d}", "SW-Dirty Alley", "Phone", created, "Closed", "11/07/2016 09:00:00 AM")
        for i, created in enumerate(
            ["11/06/2016 01:30:00 AM", "11/06/2016 12:59:59 AM", "11/06/2016 02:00:00 AM"] * 40
        )
    ]
    f = _log(tmp_path, rows)
    whole = adapt_log(f.parent, BALTIMORE, path=f, block_bytes=None)
    blocks = adapt_log(f.parent, BALTIMORE, path=f, block_bytes=512)
    req = blocks.tables["requests"].to_pandas()
    pd.testing.assert_frame_equal(req, whole.tables["requests"].to_pandas())
    utc = req.set_index("request_id")["created_at"]
    assert utc["18-00000"] == pd.Timestamp("2016-11-06 05:30", tz="UTC")  # EDT
    assert utc["18-00002"] == pd.Timestamp("2016-11-06 07:00", tz="UTC")  # EST after the change
    assert blocks.notes == whole.notes
    assert any(n.startswith("40 created times fall in the repeated hour") for n in blocks.notes)


def test_keys_repeated_across_blocks_are_quarantined_and_left_out_of_the_files(tmp_path):
    rows = [
        (f"18-{i:05d}", "SW-Dirty Alley", "Web", "03/01/2017 10:00:00 AM", "Open", "")
        for i in range(300)
    ]
    rows[250] = ("18-00003", *rows[250][1:])  # line 252 repeats line 5's id, blocks away
    rows[260] = (" 18-00004 ", *rows[260][1:])  # spaces are not part of an id
    f = _log(tmp_path, rows)
    r = adapt_log(f.parent, BALTIMORE, path=f, block_bytes=1024)
    q = r.quarantine
    assert r.conservation_problems() == []
    reasons = q.set_index("line")["reason"].to_dict()
    assert reasons[5] == reasons[252] == "duplicate key (city_id, request_id); first on line 5"
    assert reasons[6] == reasons[262] == "duplicate key (city_id, request_id); first on line 6"
    kept = r.tables["requests"].to_pandas()
    assert len(kept) == len(r.tables["requests"]) == 296
    assert not kept["request_id"].isin(["18-00003", "18-00004"]).any()
    assert r.tables["service_panel"]["transactions_total"].sum() == 296


def test_hash_collisions_are_cleared_by_the_exact_check(tmp_path, monkeypatch):
    # every id hashed alike: all are candidates, and none is a duplicate
    monkeypatch.setattr(text, "key_hashes", lambda ids: np.zeros(len(ids), dtype=np.uint64))
    log = KeyLog(tmp_path / "keys.parquet")
    log.append(pd.DataFrame({"request_id": ["a", "b", None], "_line": [2, 3, 4]}))
    log.append(pd.DataFrame({"request_id": ["c", " a"], "_line": [5, 6]}))
    cand = log.candidates()
    log.close()
    assert cand["id"].tolist() == ["a", "b", "c", "a"] and cand["_line"].tolist() == [2, 3, 5, 6]
    assert not (tmp_path / "keys.parquet").exists()


def test_key_hashes_agree_across_blocks_of_any_lengths():
    long = "x" * 70
    a = text.key_hashes(pd.Series(["1", long, "abc"], dtype="str"))
    b = text.key_hashes(pd.Series(["abc", "1"], dtype="str"))
    assert a[2] == b[0] and a[0] == b[1] and len(set(a.tolist())) == 3
    # an entry of two words hashes the same beside one word, eight words or alone
    mid = "18-00770445x"
    c = text.key_hashes(pd.Series([mid, "1"], dtype="str"))
    d = text.key_hashes(pd.Series([long, mid], dtype="str"))
    e = text.key_hashes(pd.Series([mid], dtype="str"))
    assert c[0] == d[1] == e[0] and c[1] == a[0]
    # beyond 64 bytes only the length tells entries apart: a collision, checked exactly later
    assert (
        text.key_hashes(pd.Series(["x" * 70 + "a", "x" * 70 + "b"]))[0]
        == text.key_hashes(pd.Series(["x" * 70 + "b"]))[0]
    )


def _rows(n, start, year):
    created = pd.date_range(f"{year}-12-31 20:00", periods=n, freq="h", tz="America/New_York")
    return pd.DataFrame(
        {
            "city_id": "A",
            "request_id": [f"{start + i:04d}" for i in range(n)],
            "created_at": created.tz_convert("UTC"),
        }
    )


def test_year_files_follow_local_time_and_read_back_sorted(tmp_path):
    writer = YearWriter(tmp_path / "s", key=("city_id", "request_id"))
    writer.append(_rows(6, 10, 2019), timezone="America/New_York")  # spans New Year (local)
    writer.append(_rows(2, 0, 2020), timezone="America/New_York")
    ds = writer.close("src")
    years = {f.parent.name: len(pd.read_parquet(f)) for f in ds.files()}
    # 20:00-23:00 local on 31 Dec are 2019 (01:00-04:00 UTC on 1 Jan are not 2020 here)
    assert years == {"year=2019": 4, "year=2020": 4}
    df = ds.to_pandas()
    assert df["request_id"].tolist() == sorted(df["request_id"]) and len(df) == len(ds) == 8
    assert drop_keys(ds, "request_id", ["0011", "0000"]) == 2
    assert len(ds) == 6 and "0011" not in set(ds.to_pandas()["request_id"])


def test_publish_replaces_the_folder_and_keeps_linked_sources(tmp_path):
    out = tmp_path / "requests"
    a = YearWriter(tmp_path / "a", key=("request_id",))
    a.append(_rows(2, 0, 2020), timezone="UTC")
    b = YearWriter(tmp_path / "b", key=("request_id",))
    b.append(_rows(3, 5, 2021), timezone="UTC")
    publish(a.close("a").union(b.close("b")), out, columns=["request_id"])
    assert not (tmp_path / "a").exists()  # moved
    assert len(io.read_parquet(out)) == 5
    kept = Dataset({"b": out / "source=b"}, key=("request_id",))
    c = YearWriter(tmp_path / "c", key=("request_id",))
    c.append(_rows(1, 9, 2022), timezone="UTC")
    publish(kept.union(c.close("c")), out, columns=["request_id"])
    assert sorted(p.name for p in out.iterdir()) == [dataset.META_FILE, "source=b", "source=c"]
    assert io.read_parquet(out)["request_id"].tolist() == ["0005", "0006", "0007", "0009"]
    assert io.parquet_columns(out) == ["city_id", "request_id", "created_at"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging left


def test_a_direct_call_removes_its_staged_files_when_done(tmp_path):
    rows = [(f"18-{i}", "T", "Web", "03/01/2017 10:00:00 AM", "Open", "") for i in range(5)]
    f = _log(tmp_path, rows)
    r = adapt_log(f.parent, BALTIMORE, path=f)
    folder = r.tables["requests"].parts["baltimore_311"]
    assert folder.is_dir()
    del r
    import gc

    gc.collect()
    assert not folder.exists()


def test_block_writer_runs_jobs_in_order_one_in_flight_and_raises_their_errors():
    import threading
    import time

    from ucc_research.cleaning.background import BlockWriter

    running, seen, lock = [], [], threading.Lock()

    def job(i):
        with lock:
            running.append(i)
            seen.append(len(running))
        time.sleep(0.01)
        with lock:
            running.remove(i)

    bw = BlockWriter()
    order = []
    for i in range(5):
        bw.submit(job, i)
        bw.submit(order.append, i)
    bw.wait()
    assert order == list(range(5)) and max(seen) == 1

    def fail(i):
        raise OSError(f"disk full at job {i}")

    bw = BlockWriter()
    bw.submit(fail, 1)
    with pytest.raises(OSError, match="disk full at job 1"):
        bw.submit(order.append, 99)  # the error of the job before is raised here, not lost
    assert 99 not in order
    bw.wait()  # nothing in flight: returns


def test_a_failed_block_write_stops_the_read_and_leaves_no_files(tmp_path, monkeypatch):
    rows = [(f"18-{i}", "T", "Web", "03/01/2017 10:00:00 AM", "Open", "") for i in range(400)]
    f = _log(tmp_path, rows)
    calls = []

    def failing_append(self, df, **kw):
        calls.append(len(df))
        if len(calls) == 2:
            raise OSError("No space left on device")

    monkeypatch.setattr(YearWriter, "append", failing_append)
    staging = tmp_path / "staging"
    staging.mkdir()
    monkeypatch.setenv("UCC_STAGING_DIR", str(staging))
    with pytest.raises(OSError, match="No space left"):
        adapt_log(f.parent, BALTIMORE, path=f, block_bytes=2048)
    assert 2 <= len(calls) <= 3  # stopped at the failing block (one more may be in flight)
    assert list(staging.iterdir()) == []


def test_an_error_while_cleaning_stops_the_reading_thread_at_once(tmp_path, monkeypatch):
    import threading

    rows = [(f"18-{i}", "T", "Web", "03/01/2017 10:00:00 AM", "Open", "") for i in range(400)]
    f = _log(tmp_path, rows)
    clean_block, calls = requests_311._clean_block, []

    def failing(df, spec, *, file):
        calls.append(len(df))
        if len(calls) == 2:
            raise ValueError("a bug in the cleaning")
        return clean_block(df, spec, file=file)

    monkeypatch.setattr(requests_311, "_clean_block", failing)
    with pytest.raises(ValueError, match="a bug in the cleaning") as caught:
        adapt_log(f.parent, BALTIMORE, path=f, block_bytes=2048)
    assert caught.traceback  # the traceback (and the frames it holds) is still alive here
    alive = [t.name for t in threading.enumerate() if t.name.startswith("ucc-")]
    assert alive == []


def test_a_failed_prepare_leaves_no_staging_behind(raw_311, tmp_path):
    out = tmp_path / "processed"
    prepare(raw_311, out)
    before = sorted(p.relative_to(out) for p in out.rglob("*"))
    (raw_311 / "nyc_311_sample_2025" / "311.csv").write_bytes(b"a,b\n\x00\x00\n")
    with pytest.raises(Exception, match="NUL byte"):
        prepare(raw_311, out)
    assert sorted(p.relative_to(out) for p in out.rglob("*")) == before


def test_studies_read_the_requests_dataset_as_they_read_the_file(raw_311, tmp_path, monkeypatch):
    from ucc_research.reports.runner import data_fingerprint
    from ucc_research.reports.study import check_study, load_study

    monkeypatch.setenv("UCC_PROCESSED_DIR", str(tmp_path / "processed"))
    prepare(raw_311, tmp_path / "processed")
    study = load_study(ROOT / "studies" / "requests_311.yml")
    req = study.read_table("requests")
    assert len(req) == 10235 and req["created_at"].dt.tz is not None
    assert req.equals(io.read_parquet(tmp_path / "processed" / "requests"))
    two = study.read_table("requests", columns=["request_id", "channel"])
    assert list(two.columns) == ["request_id", "channel"] and len(two) == 10235
    assert "3 tables (service_panel, requests, cities)" in check_study(study, notebooks=False)
    before = data_fingerprint(study)
    (
        tmp_path / "processed" / "requests" / "source=nyc_311" / "year=2025" / "part-0.parquet"
    ).unlink()
    assert data_fingerprint(study) != before  # the dataset's files are the study's input


def test_a_log_with_a_header_only_gives_empty_tables_either_way(tmp_path):
    f = _log(tmp_path, [])
    whole = adapt_log(f.parent, BALTIMORE, path=f, block_bytes=None)
    blocks = adapt_log(f.parent, BALTIMORE, path=f, block_bytes=1024)
    assert len(blocks.tables["requests"]) == len(whole.tables["requests"]) == 0
    pd.testing.assert_frame_equal(blocks.tables["service_panel"], whole.tables["service_panel"])
    assert blocks.notes == whole.notes and blocks.rows_in == whole.rows_in == {"311.csv": 0}
