"""``ucc prepare``: conservation, outputs, determinism, clean failure."""

import json

import pandas as pd
import pytest

from ucc_research import io
from ucc_research.cleaning.base import empty_quarantine
from ucc_research.cleaning.prepare import prepare
from ucc_research.cli import main


def test_prepare_writes_tables_quarantine_and_quality(raw_311, tmp_path):
    out = tmp_path / "processed"
    summary = prepare(raw_311, out)
    assert set(summary["sources"]) == {"baltimore_311", "nyc_311"}
    assert "demo" in summary["skipped"]
    for s in summary["sources"].values():
        for f in s["files"].values():
            assert f["rows_in"] == f["rows_kept"] + f["rows_quarantined"]
    req = io.read_parquet(out / "requests")
    assert len(req) == summary["totals"]["rows_kept"] == 10235
    # a dataset partitioned by source and local year (issue 12), sorted by key when read
    years = sorted(p.parent.name for p in (out / "requests").glob("source=nyc_311/year=*/*"))
    assert years == ["year=2025"] and (out / "requests" / "source=baltimore_311").is_dir()
    assert req.equals(req.sort_values(["city_id", "request_id"]).reset_index(drop=True))
    assert str(req["created_at"].dtype) == "datetime64[ns, UTC]"
    cities = pd.read_parquet(out / "cities.parquet")
    assert cities["city_id"].tolist() == ["US-BALTIMORE", "US-NYC"]
    assert (out / "quarantine" / "requests.parquet").exists()
    first = (out / "quality.json").read_bytes()
    assert json.loads(first) == summary
    prepare(raw_311, out)
    assert (out / "quality.json").read_bytes() == first  # deterministic


def test_quarantined_rows_are_counted(raw_311, tmp_path):
    f = raw_311 / "nyc_311_sample_2025" / "311.csv"
    lines = f.read_text().splitlines(keepends=True)
    lines[3] = lines[3].replace("03/24/2025", "03/99/2025", 1)
    f.write_text("".join(lines))
    summary = prepare(raw_311, tmp_path / "p", only=["nyc_311"])
    nyc = summary["sources"]["nyc_311"]["files"]["nyc_311_sample_2025/311.csv"]
    assert (nyc["rows_in"], nyc["rows_kept"], nyc["rows_quarantined"]) == (235, 234, 1)
    q = pd.read_parquet(tmp_path / "p" / "quarantine" / "requests.parquet")
    assert q[["file", "line", "column"]].values.tolist() == [
        ["nyc_311_sample_2025/311.csv", 4, "Created Date"]
    ]


def test_unreadable_file_stops_with_one_line_and_writes_nothing(raw_311, tmp_path, capsys):
    out = tmp_path / "processed"
    prepare(raw_311, out, only=["nyc_311"])
    before = {p.name: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    (raw_311 / "baltimore_311_sample" / "311_sample.csv").write_bytes(b"")
    code = main(["prepare", "--raw", str(raw_311), "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1
    assert "baltimore_311_sample/311_sample.csv: file is empty" in err
    assert {p.name: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before


def test_cli_prints_conservation_table(raw_311, tmp_path, capsys):
    code = main(
        ["prepare", "--raw", str(raw_311), "--out", str(tmp_path / "o"), "--only", "nyc_311"]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "nyc_311_sample_2025/311.csv" in out and "235" in out
    code = main(["prepare", "--raw", str(raw_311), "--only", "no_such_source"])
    assert code == 2


def _outputs(folder):
    """Every table, quarantine table and provenance of a processed folder, plus quality.json."""
    frames = {
        p.relative_to(folder).as_posix(): pd.read_parquet(p) for p in folder.rglob("*.parquet")
    }
    return frames, json.loads((folder / "quality.json").read_text())


def _assert_same_outputs(a, b):
    (fa, qa), (fb, qb) = _outputs(a), _outputs(b)
    assert sorted(fa) == sorted(fb)
    for name in fa:
        pd.testing.assert_frame_equal(fa[name], fb[name], obj=name)
    assert qa == qb


def _spoil_nyc_line(raw, line, old, new):
    f = raw / "nyc_311_sample_2025" / "311.csv"
    lines = f.read_text().splitlines(keepends=True)
    assert old in lines[line - 1]
    lines[line - 1] = lines[line - 1].replace(old, new, 1)
    f.write_text("".join(lines))


def test_only_replaces_the_named_sources_and_keeps_the_others(raw_311, tmp_path):
    # the attack of issue 15: `--only nyc_311` rewrote cities from 86 rows to 1 and the panel
    # to NYC's 50 rows. A partial run must give exactly what a full run gives on the same raw.
    _spoil_nyc_line(raw_311, 4, "03/24/2025", "03/99/2025")  # one quarantined NYC row to keep
    out, full = tmp_path / "partial", tmp_path / "full"
    prepare(raw_311, out)
    summary = prepare(raw_311, out, only=["baltimore_311"])
    assert set(summary["sources"]) == {"baltimore_311", "nyc_311"}
    assert pd.read_parquet(out / "cities.parquet")["city_id"].tolist() == [
        "US-BALTIMORE",
        "US-NYC",
    ]
    prepare(raw_311, full)
    _assert_same_outputs(out, full)
    q = pd.read_parquet(out / "quarantine" / "requests.parquet")
    assert q[["source", "line"]].values.tolist() == [["nyc_311", 4]]

    # NYC's raw file changes: only NYC's rows, quarantine and quality entry change
    _spoil_nyc_line(raw_311, 4, "03/99/2025", "03/24/2025")
    _spoil_nyc_line(raw_311, 7, "03/24/2025", "13/24/2025")
    summary = prepare(raw_311, out, only=["nyc_311"])
    nyc = summary["sources"]["nyc_311"]["files"]["nyc_311_sample_2025/311.csv"]
    assert (nyc["rows_kept"], nyc["rows_quarantined"]) == (234, 1)
    q = pd.read_parquet(out / "quarantine" / "requests.parquet")
    assert q[["source", "line"]].values.tolist() == [["nyc_311", 7]]
    prepare(raw_311, full)
    _assert_same_outputs(out, full)


def test_only_refuses_what_it_cannot_keep(raw_311, tmp_path, capsys):
    out = tmp_path / "processed"
    prepare(raw_311, out)
    # a processed folder written before provenance was recorded: the rows' sources are unknown
    (out / "provenance" / "cities.parquet").unlink()
    before = {p.name: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    code = main(["prepare", "--raw", str(raw_311), "--out", str(out), "--only", "nyc_311"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert "provenance/cities.parquet is missing" in err and "without --only" in err
    assert {p.name: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    # a named source without raw folder is an error, not a silent skip
    code = main(["prepare", "--raw", str(raw_311), "--out", str(out), "--only", "nyc_311", "demo"])
    err = capsys.readouterr().err
    assert code == 2 and "--only names source(s) without raw data: demo" in err


@pytest.mark.slow
def test_sources_prepared_in_parallel_give_the_same_outputs(raw_311, tmp_path, capsys):
    _spoil_nyc_line(raw_311, 4, "03/24/2025", "03/99/2025")
    one, two = tmp_path / "one", tmp_path / "two"
    prepare(raw_311, one)
    assert main(["prepare", "--raw", str(raw_311), "--out", str(two), "--jobs", "2"]) == 0
    _assert_same_outputs(one, two)
    # a file that cannot be read, in a worker process: the same one line, nothing written
    (raw_311 / "baltimore_311_sample" / "311_sample.csv").write_bytes(b"")
    before = {p.name: p.read_bytes() for p in two.rglob("*") if p.is_file()}
    capsys.readouterr()
    assert main(["prepare", "--raw", str(raw_311), "--out", str(two), "--jobs", "2"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert (
        "baltimore_311_sample/311_sample.csv: file is empty (0 bytes) (source 'baltimore_311')"
        in err
    )
    assert {p.name: p.read_bytes() for p in two.rglob("*") if p.is_file()} == before
    assert main(["prepare", "--raw", str(raw_311), "--out", str(two), "--jobs", "0"]) == 2
    assert "jobs must be a whole number >= 1, got 0" in capsys.readouterr().err


def test_a_table_no_source_produces_any_more_is_removed(raw_311, tmp_path):
    out = tmp_path / "processed"
    prepare(raw_311, out)
    # a table of a previous run (say, of an adapter that no longer writes it)
    quality = json.loads((out / "quality.json").read_text())
    quality["tables"]["old_table"] = {"rows": 1, "columns": ["x"]}
    (out / "quality.json").write_text(json.dumps(quality))
    pd.DataFrame({"x": [1]}).to_parquet(out / "old_table.parquet")
    pd.DataFrame({"source": ["gone"]}).to_parquet(out / "provenance" / "old_table.parquet")
    empty_quarantine().to_parquet(out / "quarantine" / "old_table.parquet")
    prepare(raw_311, out, only=["nyc_311"])
    assert not list(out.rglob("old_table.parquet"))
    assert "old_table" not in json.loads((out / "quality.json").read_text())["tables"]
    assert (out / "requests").is_dir()


@pytest.mark.slow
def test_sources_prepared_on_a_dask_cluster_give_the_same_outputs(
    raw_311, tmp_path, capsys, monkeypatch
):
    from distributed import LocalCluster

    from ucc_research.cleaning import prepare as prep

    local, dask = tmp_path / "local", tmp_path / "dask"
    prepare(raw_311, local)
    with LocalCluster(
        n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None
    ) as c:
        argv = ["prepare", "--raw", str(raw_311), "--out", str(dask)]
        assert main([*argv, "--scheduler", c.scheduler_address]) == 0
    _assert_same_outputs(local, dask)
    # an unreachable scheduler: one line, exit 2, within the connect timeout
    monkeypatch.setattr(prep, "_CONNECT_TIMEOUT", "1s")
    capsys.readouterr()
    assert main([*argv, "--scheduler", "tcp://127.0.0.1:9"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot reach the Dask scheduler 'tcp://127.0.0.1:9'" in err
