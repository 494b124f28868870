"""Speed and peak memory of the 311 request-log path against a bare ``pandas.read_csv``.

Generates a 311-style CSV in the Baltimore schema (26 columns, default 1,000,000 rows; seeded),
then runs, each in a fresh subprocess so peak memory (``ru_maxrss``) is its own:

* ``bare read``: ``pandas.read_csv(path)`` with default type inference;
* ``clean + validate``: :func:`ucc_research.cleaning.sources.requests_311.adapt_log`: dialect and
  encoding detection, read as text, channel mapping, local-time parsing with DST rules, every
  ``requests`` rule, quarantine, and the monthly ``service_panel`` (validated too);
* ``plain pandas``: what a researcher would write for the same two tables (``read_csv``,
  ``to_datetime``, ``tz_localize``, ``groupby``), without quarantine or line numbers.

Each is run ``--repeat`` times, alternating, and the medians are compared (single runs on this
VM vary by up to +-25%).

Goals: clean + validate within 3x the bare read's time, and faster than plain pandas. Run::

    .venv/bin/python benchmarks/bench_prepare.py [--rows N] [--seed S] [--repeat R]
"""

from __future__ import annotations

import argparse
import functools
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]

COLUMNS = [
    "SRRecordID", "ServiceRequestNum", "SRType", "MethodReceived", "CreatedDate", "SRStatus",
    "StatusDate", "DueDate", "CloseDate", "Agency", "LastActivity", "LastActivityDate", "Outcome",
    "Address", "ZipCode", "Neighborhood", "CouncilDistrict", "PoliceDistrict", "PolicePost",
    "Latitude", "Longitude", "GeoLocation", "2010 Census Wards Precincts",
    "2010 Census Neighborhoods", "Zip Codes", "DaysOpen",
]  # fmt: skip


def _fmt(ts: pd.Series) -> pd.Series:
    """``MM/DD/YYYY hh:mm:ss AM`` text: each distinct day and each second of the day formatted
    once (strftime on millions of values took most of the generator's time), then joined."""
    import pyarrow as pa
    import pyarrow.compute as pc

    secs = ts.to_numpy(dtype="datetime64[s]").astype("int64")
    day, second = np.divmod(secs, 86400)
    days, at = np.unique(day, return_inverse=True)
    day_text = pd.to_datetime(days, unit="D").strftime("%m/%d/%Y")
    text = pc.binary_join_element_wise(
        pa.array(day_text.to_numpy(dtype=object)).take(pa.array(at)),
        _seconds_of_day().take(pa.array(second)),
        " ",
    )
    return pd.Series(text.to_numpy(zero_copy_only=False), index=ts.index, dtype="str")


@functools.cache
def _seconds_of_day():
    import pyarrow as pa

    text = pd.to_datetime(np.arange(86400), unit="s").strftime("%I:%M:%S %p")
    return pa.array(text.to_numpy(dtype=object))


def generate(path: Path, n: int, seed: int, block: int = 1_000_000) -> None:
    """A Baltimore-schema 311 CSV with realistic values and a few bad rows (about 0.1%).

    Written ``block`` rows at a time (memory stays that of one block); ids are a permutation of
    all ``n`` rows. Up to one block, the file is the one the single-frame generator wrote.
    """
    rng = np.random.default_rng(seed)
    if n <= block:
        _write_csv(_block(rng, n), path)
        return
    ids = rng.permutation(n)
    for i, first in enumerate(range(0, n, block)):
        size = min(block, n - first)
        _write_csv(_block(rng, size, ids[first : first + size]), path, append=i > 0)


def _block(rng: np.random.Generator, n: int, ids: np.ndarray | None = None) -> pd.DataFrame:
    start = pd.Timestamp("2014-01-01").value
    span = pd.Timestamp("2019-01-01").value - start
    created = pd.Series(pd.to_datetime(start + rng.integers(0, span, n), unit="ns").floor("s"))
    days = rng.exponential(6.0, n)
    closed = created + pd.to_timedelta(days * 86400, unit="s").floor("s")
    open_ = rng.random(n) < 0.03
    methods = np.array(["Phone", "API", "Internal", "Mail", "System", "Other", "Email", "Web"])
    method = methods[rng.choice(8, n, p=[0.5, 0.26, 0.2, 0.02, 0.01, 0.006, 0.002, 0.002])]
    types = np.array([f"SW-Type {i}" for i in range(60)])
    lat = 39.2 + rng.random(n) * 0.2
    lon = -76.7 + rng.random(n) * 0.2
    # ids in no particular order, as in the real Baltimore and NYC extracts
    ids = pd.Series(rng.permutation(n) if ids is None else ids).astype("str").str.zfill(8)
    close_text = _fmt(closed).where(~open_, "")
    bad = rng.random(n) < 0.001
    close_text = close_text.where(~bad, "not a date")
    df = pd.DataFrame(
        {
            "SRRecordID": "18-" + ids,
            "ServiceRequestNum": "18-" + ids,
            "SRType": types[rng.integers(0, 60, n)],
            "MethodReceived": method,
            "CreatedDate": _fmt(created),
            "SRStatus": np.where(open_, "Open", "Closed"),
            "StatusDate": _fmt(closed),
            "DueDate": _fmt(created + pd.Timedelta("7D")),
            "CloseDate": close_text,
            "Agency": "Solid Waste",
            "LastActivity": "",
            "LastActivityDate": "",
            "Outcome": "",
            "Address": "3400 GARRISON BLVD, BALTIMORE, MD, 21215",
            "ZipCode": rng.integers(21201, 21240, n),
            "Neighborhood": "Dorchester",
            "CouncilDistrict": rng.integers(1, 15, n),
            "PoliceDistrict": "Northwestern",
            "PolicePost": rng.integers(100, 999, n),
            "Latitude": lat.round(6),
            "Longitude": lon.round(6),
            "GeoLocation": "(39.0, -77.0)",
            "2010 Census Wards Precincts": rng.integers(1, 300, n),
            "2010 Census Neighborhoods": rng.integers(1, 300, n),
            "Zip Codes": rng.integers(20000, 40000, n),
            "DaysOpen": np.where(open_, -1, np.floor(days)).astype("int64"),
        }
    )[COLUMNS]
    df["DaysOpen"] = df["DaysOpen"].astype("str").replace("-1", "")
    return df


def _write_csv(df: pd.DataFrame, path: Path, block: int = 1 << 20, append: bool = False) -> None:
    """What ``df.to_csv(path, index=False)`` writes (byte for byte, for these columns), built by
    joining arrow string columns: pandas' writer took 70% of the generator's time."""
    import pyarrow as pa
    import pyarrow.compute as pc

    with open(path, "ab" if append else "wb") as fh:
        if not append:
            fh.write((",".join(df.columns) + "\n").encode())
        for start in range(0, len(df), block):
            part = df.iloc[start : start + block]
            cols = []
            for c in df.columns:
                arr = pa.array(part[c])
                if pa.types.is_large_string(arr.type):
                    arr = arr.cast(pa.string())
                if pa.types.is_string(arr.type):
                    # quoted where it holds the separator, as pandas does
                    arr = pc.if_else(
                        pc.match_substring(arr, ","),
                        pc.binary_join_element_wise('"', arr, '"', ""),
                        arr,
                    )
                cols.append(pc.fill_null(pc.cast(arr, pa.string()), ""))
            lines = pc.binary_join_element_wise(*cols, pa.scalar(","))
            lines = pc.binary_join_element_wise(lines, "\n", "")  # each line then its end
            _, offsets, data = lines.buffers()
            off = np.frombuffer(offsets, dtype="int32")[
                lines.offset : lines.offset + len(lines) + 1
            ]
            fh.write(memoryview(data)[off[0] : off[-1]])


_CHILD = r"""
import json, resource, sys, time
from pathlib import Path
mode, path = sys.argv[1], Path(sys.argv[2])
import pandas as pd
from ucc_research.config import configure_arrow_pool
from ucc_research.cleaning.sources.requests_311 import BALTIMORE, adapt_log
configure_arrow_pool()  # as the ucc command does, for all three paths
r0 = resource.getrusage(resource.RUSAGE_SELF)
base = r0.ru_maxrss
t0 = time.perf_counter()
extra = {}
if mode == "bare":
    n = len(pd.read_csv(path))
elif mode == "plain":
    fmt, tz = "%m/%d/%Y %I:%M:%S %p", "America/New_York"
    df = pd.read_csv(path, usecols=BALTIMORE.columns, dtype="str")
    n = len(df)
    created = pd.to_datetime(df["CreatedDate"], format=fmt, errors="coerce")
    closed = pd.to_datetime(df["CloseDate"], format=fmt, errors="coerce")
    created = created.dt.tz_localize(tz, ambiguous="NaT", nonexistent="shift_forward")
    closed = closed.dt.tz_localize(tz, ambiguous="NaT", nonexistent="shift_forward")
    df["days"] = (closed - created) / pd.Timedelta(days=1)
    df["period"] = created.dt.tz_localize(None).dt.to_period("M")
    g = df.groupby(["SRType", "period"])
    panel = g["MethodReceived"].value_counts().unstack(fill_value=0)
    panel["days_to_close_median"] = g["days"].median()
    extra = {"panel_rows": len(panel)}
elif mode == "prepare":
    import tempfile
    from ucc_research.cleaning.prepare import prepare
    with tempfile.TemporaryDirectory(dir=path.parent) as tmp:
        raw = Path(tmp) / "raw" / BALTIMORE.folder
        raw.mkdir(parents=True)
        (raw / BALTIMORE.file).symlink_to(path)
        summary = prepare(raw.parent, Path(tmp) / "processed")
    n = summary["totals"]["rows_in"]
    extra = {"kept": summary["totals"]["rows_kept"],
             "quarantined": summary["totals"]["rows_quarantined"],
             "panel_rows": summary["tables"]["service_panel"]["rows"]}
else:
    r = adapt_log(path.parent, BALTIMORE, path=path)
    n = sum(r.rows_in.values())
    assert not r.conservation_problems(), r.conservation_problems()
    extra = {"kept": len(r.tables["requests"]), "quarantined": int(r.quarantine["line"].nunique()),
             "panel_rows": len(r.tables["service_panel"])}
secs = time.perf_counter() - t0
r1 = resource.getrusage(resource.RUSAGE_SELF)
cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
print(json.dumps({"rows": n, "seconds": secs, "cpu": cpu, "peak_mb": r1.ru_maxrss / 1024,
                  "import_mb": base / 1024, **extra}))
"""


def measure(mode: str, path: Path) -> dict:
    """One run of ``mode`` ("bare", "clean", "plain" or "prepare") in a fresh process."""
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, mode, str(path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=311)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--generate", metavar="PATH", help="only write the generated CSV")
    parser.add_argument(
        "--modes",
        nargs="+",
        choices=list(LABELS),
        default=list(LABELS),
        help="paths to run (bare and plain hold the whole file: leave them out at 16M rows)",
    )
    parser.add_argument("--tmp", help="folder for the generated CSV (default: the system's)")
    parser.add_argument("--csv", help="measure this file (written by --generate) instead")
    args = parser.parse_args()
    if args.generate:
        generate(Path(args.generate), args.rows, args.seed)
        return
    runs: dict[str, list[dict]] = {m: [] for m in args.modes}
    with tempfile.TemporaryDirectory(dir=args.tmp) as tmp:
        path = Path(args.csv) if args.csv else Path(tmp) / "311_bench.csv"
        t0 = time.perf_counter()
        if not args.csv:
            # in its own process: Linux keeps a process's peak memory across exec, so a
            # generator run here would show up as every measured child's peak
            subprocess.run(
                [sys.executable, __file__, "--generate", str(path), "--rows", str(args.rows),
                 "--seed", str(args.seed)],
                check=True,
            )  # fmt: skip
        size = path.stat().st_size / 1e6
        how = f"read {path}" if args.csv else f"generated in {time.perf_counter() - t0:.1f} s"
        print(f"{args.rows:,} rows ({size:.0f} MB), {how}")
        for _ in range(args.repeat):
            for mode in runs:
                runs[mode].append(measure(mode, path))
    _report(runs, args.repeat)


LABELS = {
    "bare": "bare read_csv",
    "clean": "clean + validate (ucc)",
    "plain": "plain pandas pipeline",
    "prepare": "ucc prepare (whole run)",
}


def _report(runs: dict[str, list[dict]], repeat: int) -> None:
    """The table of medians, and the goals' ratios where both paths ran."""
    med = {k: statistics.median(r["seconds"] for r in v) for k, v in runs.items()}
    cpu = {k: statistics.median(r["cpu"] for r in v) for k, v in runs.items()}
    peak = {k: statistics.median(r["peak_mb"] for r in v) for k, v in runs.items()}
    labels = {k: v for k, v in LABELS.items() if k in runs}
    width = 5 * repeat + 1
    print()
    print(
        f"{'path':<26}{'rows':>11}{'median s':>10}{'CPU s':>8}  {'runs (s)':<{width}}"
        f"{'rows/s':>10}{'peak MB':>9}"
    )
    for key, label in labels.items():
        r = runs[key]
        times = " ".join(f"{x['seconds']:.2f}" for x in r)
        print(
            f"{label:<26}{r[0]['rows']:>11,}{med[key]:>10.2f}{cpu[key]:>8.2f}  {times:<{width}}"
            f"{r[0]['rows'] / med[key]:>10,.0f}{peak[key]:>9.0f}"
        )
    print()
    if "bare" in runs and "clean" in runs:
        print(
            f"time ratio (clean + validate / bare read, medians of {repeat}): "
            f"{med['clean'] / med['bare']:.2f}x (goal <= 3x); CPU {cpu['clean'] / cpu['bare']:.2f}x; "
            f"peak memory {peak['clean'] / peak['bare']:.2f}x"
        )
    if "plain" in runs and "clean" in runs:
        print(
            f"plain pandas / clean: {med['plain'] / med['clean']:.2f}x (goal > 1); "
            f"CPU {cpu['plain'] / cpu['clean']:.2f}x"
        )
    full = next(v[0] for k, v in runs.items() if k in ("clean", "prepare"))
    print(
        f"kept {full['kept']:,}, quarantined {full['quarantined']:,} rows, "
        f"panel {full['panel_rows']:,} rows"
    )


if __name__ == "__main__":
    main()
