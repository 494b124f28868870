"""A study on the researcher's own files (examples/own_data): from a European CSV to tables.

The example's files are as a spreadsheet in a European locale exports them (``;``, decimal
comma, cp1252, CRLF); two of the 17 indicator rows are broken on purpose and must be
quarantined and counted, the 15 others read with every value intact.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from ucc_research import cli
from ucc_research.errors import DataFileError
from ucc_research.indicators import build
from ucc_research.reports import inputs as inputs_mod
from ucc_research.reports.study import check_study, load_study

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "own_data"


@pytest.fixture
def example(tmp_path, monkeypatch):
    monkeypatch.setenv("UCC_PROCESSED_DIR", str(tmp_path / "processed"))
    monkeypatch.setenv("UCC_OUTPUTS_DIR", str(tmp_path / "outputs"))
    shutil.copytree(EXAMPLE, tmp_path / "own_data")
    return tmp_path / "own_data" / "own_study.yml"


def test_the_example_files_are_what_a_european_spreadsheet_writes():
    raw = (EXAMPLE / "data" / "indicators.csv").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    text = raw.decode("cp1252")
    assert "\r\n" in text and text.splitlines()[0].count(";") == 10
    assert "Malmö;M;" in text and ";7,06;" in text  # decimal comma


def test_own_files_are_read_validated_quarantined_and_written(example, capsys):
    assert cli.main(["study", "check", str(example)]) == 0
    checked = capsys.readouterr().out
    assert "15 city reports" in checked
    assert "own input own_idata (iData, data/indicators.csv): 17 rows, 15 kept, 2 to be " in checked
    assert cli.main(["study", "prepare", str(example)]) == 0
    printed = capsys.readouterr().out
    assert "own_idata (iData, data/indicators.csv; encoding 'cp1252', separator ';', " in printed
    assert "17 rows in, 15 kept, 2 quarantined" in printed

    study = load_study(example)
    quality = json.loads((study.inputs_dir / "quality.json").read_text("utf-8"))["inputs"]
    for record in quality.values():  # nothing is lost: every row is kept or quarantined
        assert record["rows_in"] == record["rows_kept"] + record["rows_quarantined"]
    assert quality["own_idata"]["detected"]["decimal"] == ","

    # the kept rows hold exactly the values of the file (read independently here)
    expected = pd.read_csv(
        EXAMPLE / "data" / "indicators.csv", sep=";", encoding="cp1252", dtype=str
    ).iloc[:15]
    got = study.read_table("own_idata")
    assert got["uCode"].tolist() == expected["uCode"].tolist()
    for col in ("p_online", "t_wait", "s_sat"):
        pd.testing.assert_series_equal(
            got[col].astype(float),
            pd.to_numeric(expected[col].str.replace(",", ".")),
            check_names=False,
        )
    assert got["uName"].tolist()[-2:] == ["Malmö", "Zürich"]

    # the broken rows are in the quarantine, with file, line, column and reason
    q = pd.read_parquet(study.inputs_dir / "quarantine" / "own_idata.parquet")
    found = set(zip(q["line"].astype(int), q["column"], q["reason"], strict=True))
    assert (17, "uCode", "missing value") in found
    assert (18, "p_online", "not a number") in found
    assert set(q["file"]) == {"data/indicators.csv"}

    # the study's own cities table gives the reports their names
    assert study.unit_display("SE-MMX") == "Malmö (SE-MMX)"

    # the composite index builds from the study's tables, with COINr's method names
    coin = build(
        study.read_table("own_idata"), study.read_table("own_imeta"), study.framework["spec"]
    )
    assert coin.spec["normalise"]["method"] == "minmax"
    assert coin.spec["aggregate"]["method"] == "arith_mean"
    assert coin.spec["impute"]["method"] == "group_mean"
    assert len(coin.scores) == 15 and coin.scores["Index"].notna().all()


def test_unchanged_inputs_are_not_read_again_and_changed_ones_are(example, monkeypatch):
    study = load_study(example)
    inputs_mod.prepare_inputs(study)
    calls = []
    real = inputs_mod.read_input
    monkeypatch.setattr(inputs_mod, "read_input", lambda s, t: calls.append(t) or real(s, t))
    inputs_mod.prepare_inputs(study)
    assert calls == []
    meta = example.parent / "data" / "indicators_meta.csv"
    meta.write_bytes(meta.read_bytes().replace(b"Speed of service", b"Speed"))
    inputs_mod.prepare_inputs(study)
    assert calls == ["own_imeta"]
    assert "Speed" in study.read_table("own_imeta")["iName"].tolist()


def test_a_missing_or_unreadable_input_is_one_clear_line(example):
    text = example.read_text(encoding="utf-8")
    missing = example.with_name("missing.yml")
    missing.write_text(text.replace("data/cities.csv", "data/nowhere.csv"), encoding="utf-8")
    with pytest.raises(Exception, match=r"tables: 'cities' data/nowhere.csv: file not found"):
        check_study(load_study(missing))
    with pytest.raises(DataFileError, match="file not found"):
        inputs_mod.prepare_inputs(load_study(missing))


@pytest.mark.slow
def test_the_example_runs_to_rendered_reports(example):
    """CSV to HTML: the inputs prepared by the run itself, one city and the cross-city report."""
    from ucc_research.reports.runner import run_study

    summary = run_study(example, jobs=1, only=["SE-MMX"], progress=False)
    assert summary.ok, [r.get("error") for r in summary.failed]
    assert {r["key"] for r in summary.records.values()} == {
        "study:index_robustness",
        "study:transfer_impact",
        "city:SE-MMX:city_report",
    }
    page = (summary.out_dir / "SE-MMX.html").read_text("utf-8")
    assert "Malmö" in page and "SYNTHETIC" in page
    ranks = pd.read_csv(summary.out_dir / "tables" / "index_ranks.csv", encoding="utf-8-sig")
    assert len(ranks) == 15 and sorted(ranks["Index"]) == list(range(1, 16))


@pytest.mark.slow
def test_the_own_staggered_panel_drives_the_transfer_report(example):
    """Columns named in German, cp1252, decimal comma: mapped by impact.panel, the known +0.08
    effect on adopters (SYNTHETIC) is recovered and inside the interval shown."""
    import json

    from ucc_research.reports.runner import run_study

    summary = run_study(example, jobs=1, only=["SE-MMX"], progress=False)
    assert summary.ok, [r.get("error") for r in summary.failed]
    res = json.loads((summary.out_dir / "results" / "transfer_impact.json").read_text("utf-8"))
    att = res["event_study"]["att"]
    lo, hi = res["event_study"]["randomisation_inference"]["ci"]  # 3-4 cities per cohort
    assert lo < 0.08 < hi and abs(att - 0.08) < 0.01
    assert res["headline"]["ATT (pp)"] == pytest.approx(100 * att)  # a share: percentage points
    page = (summary.out_dir / "transfer_impact.html").read_text("utf-8")
    assert "10 adopting and 5 never-adopting cities" in page


@pytest.mark.slow
def test_a_template_opened_on_its_own_prepares_the_studys_own_files(example):
    """As in JupyterLab: no ucc run before; the own inputs and the cache are made on first use."""
    import json

    import papermill

    from ucc_research import config
    from ucc_research.reports.notebook import ensure_kernel

    root = Path(__file__).resolve().parents[1]
    papermill.execute_notebook(
        str(root / "notebooks" / "transfer_impact.ipynb"),
        str(example.parent / "t.ipynb"),
        parameters={"study": str(example)},
        kernel_name=ensure_kernel(),
        progress_bar=False,
        cwd=str(root / "notebooks"),
    )
    out = config.outputs_dir() / "own_data_example"
    res = json.loads((out / "results" / "transfer_impact.json").read_text("utf-8"))
    assert res["headline"]["ATT (pp)"] == pytest.approx(8.3, abs=0.1)
    assert (config.processed_dir() / "studies" / "own_data_example" / "quality.json").is_file()
