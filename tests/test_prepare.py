"""``ucc prepare``: conservation, outputs, determinism, clean failure."""

import json

import pandas as pd

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
    req = pd.read_parquet(out / "requests.parquet")
    assert len(req) == summary["totals"]["rows_kept"] == 10235
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
