"""``ucc index build`` writes scores, ranks, stages and the spec as run."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from ucc_research import config
from ucc_research.cli import main

ASEM = config.shared_data_dir() / "coinr_asem"
SPEC_YAML = """\
denominate: true
impute: {method: group_mean, group: EurAsia_group}
treat: {method: winsorise, winmax: 5, skew_thresh: 2, kurt_thresh: 3.5}
normalise: {method: minmax, range: [0, 100]}
aggregate: {method: arith_mean}
"""


def test_index_build_writes_coinr_results(tmp_path, capsys):
    spec = tmp_path / "spec.yml"
    spec.write_text(SPEC_YAML)
    out = tmp_path / "out"
    code = main(
        [
            "index",
            "build",
            "--data",
            str(ASEM / "ASEM_iData.csv"),
            "--meta",
            str(ASEM / "ASEM_iMeta.csv"),
            "--spec",
            str(spec),
            "--out",
            str(out),
        ]
    )
    assert code == 0
    scores = pd.read_csv(out / "scores.csv").set_index("uCode")
    assert list(scores.columns[:2]) == ["uName", "LPI"] and scores.columns[-1] == "Index"
    assert len(scores) == 51 and scores.loc["CHE", "uName"] == "Switzerland"
    assert scores.loc["CHE", "Index"] == pytest.approx(68.3837, abs=1e-4)
    ranks = pd.read_csv(out / "ranks.csv").set_index("uCode")
    assert ranks.loc["CHE", "Index"] == 1 and ranks.loc["NLD", "Index"] == 2
    for stage in ("raw", "denominated", "imputed", "treated", "normalised", "aggregated"):
        assert (out / "stages" / f"{stage}.csv").is_file()
    log = json.loads((out / "log.json").read_text())
    assert log["treat"]["winmax"] == 5 and log["impute"]["group"] == "EurAsia_group"
    # the log replays the build
    code = main(
        [
            "index",
            "build",
            "--data",
            str(ASEM / "ASEM_iData.csv"),
            "--meta",
            str(ASEM / "ASEM_iMeta.csv"),
            "--spec",
            str(out / "log.json"),
            "--out",
            str(tmp_path / "again"),
        ]
    )
    assert code == 0
    again = pd.read_csv(tmp_path / "again" / "scores.csv").set_index("uCode")
    pd.testing.assert_frame_equal(scores, again)


def test_index_build_bad_input_is_one_line_error(tmp_path, capsys):
    meta = pd.read_csv(ASEM / "ASEM_iMeta.csv")
    meta.loc[meta["iCode"] == "LPI", "Direction"] = 0
    meta.to_csv(tmp_path / "meta.csv", index=False)
    code = main(
        [
            "index",
            "build",
            "--data",
            str(ASEM / "ASEM_iData.csv"),
            "--meta",
            str(tmp_path / "meta.csv"),
            "--out",
            str(tmp_path / "out"),
        ]
    )
    assert code == 2
    err = capsys.readouterr().err
    assert "Direction of 'LPI' is 0; must be +1 or -1" in err and "Traceback" not in err
    code = main(
        [
            "index",
            "build",
            "--data",
            str(tmp_path / "nope.csv"),
            "--meta",
            str(tmp_path / "meta.csv"),
            "--out",
            str(tmp_path / "out"),
        ]
    )
    assert code == 2 and "nope.csv: file not found" in capsys.readouterr().err


def test_uncertainty_flag(tmp_path, capsys):
    out = tmp_path / "out"
    args = [
        "index",
        "build",
        "--data",
        str(ASEM / "ASEM_iData.csv"),
        "--meta",
        str(ASEM / "ASEM_iMeta.csv"),
        "--out",
        str(out),
        "--uncertainty",
        "3",
        "--seed",
        "2",
    ]
    assert main(args) == 0
    intervals = pd.read_csv(out / "rank_intervals.csv").set_index("uCode")
    best = pd.read_csv(out / "scores.csv").set_index("uCode")["Index"].idxmax()
    assert len(intervals) == 51 and intervals.loc[best, "nominal_rank"] == 1
    assert (intervals["q05"] <= intervals["median_rank"]).all()
    assert (intervals["median_rank"] <= intervals["q95"]).all()
    assert "rank_intervals.csv" in capsys.readouterr().out


DEMO = Path(__file__).resolve().parents[1] / "data" / "raw" / "demo"
HOSTILE = Path(__file__).parent / "hostile" / "raw"


def _build(tmp_path, data, meta, *extra):
    out = tmp_path / f"out{len(list(tmp_path.glob('out*')))}"
    argv = ["index", "build", "--data", str(data), "--meta", str(meta), "--out", str(out)]
    return main([*argv, *extra]), out


def test_european_csv_builds_like_its_plain_original(tmp_path, capsys):
    # the attack of issue 10: a partner's ';'-separated, decimal-comma, cp1252 file gave
    # "'utf-8' codec can't decode byte 0xc5" (plain pd.read_csv); `ucc validate` read it
    idata = pd.read_csv(DEMO / "demo_synthetic_iData.csv", dtype={"uCode": str})
    idata["uName"] = idata["uName"].str.encode("cp1252", "replace").str.decode("cp1252")
    idata.loc[0, "uName"] = "Århus"  # 0xC5 in cp1252
    imeta = pd.read_csv(DEMO / "demo_synthetic_iMeta.csv")
    imeta.loc[imeta["iCode"] == "sup_soph", "Weight"] = 0.5
    plain_data, plain_meta = tmp_path / "data.csv", tmp_path / "meta.csv"
    idata.to_csv(plain_data, index=False)
    imeta.to_csv(plain_meta, index=False)
    eu_data, eu_meta = tmp_path / "data_eu.csv", tmp_path / "meta_eu.csv"
    for df, path in ((idata, eu_data), (imeta, eu_meta)):
        df.to_csv(path, index=False, sep=";", decimal=",", encoding="cp1252")
    assert b"\xc5rhus" in eu_data.read_bytes() and b";0,5;" in eu_meta.read_bytes()
    code, plain = _build(tmp_path, plain_data, plain_meta)
    assert code == 0
    code, eu = _build(tmp_path, eu_data, eu_meta)
    assert code == 0, capsys.readouterr().err
    for f in ("scores.csv", "ranks.csv", "stages/raw.csv", "stages/aggregated.csv", "log.json"):
        assert (eu / f).read_bytes() == (plain / f).read_bytes(), f
    # the overrides: stated rather than detected, the same; a wrong one is one clear line
    code, forced = _build(tmp_path, eu_data, eu_meta, "--sep", ";", "--encoding", "cp1252")
    assert code == 0 and (forced / "scores.csv").read_bytes() == (plain / "scores.csv").read_bytes()
    capsys.readouterr()
    code, _ = _build(tmp_path, eu_data, eu_meta, "--encoding", "utf-8")
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "data_eu.csv: cannot be decoded" in err


def test_index_build_refuses_what_validate_quarantines(tmp_path, capsys):
    # a cut-off last record and a non-number: refused with the file, line and reason
    lines = (DEMO / "demo_synthetic_iData.csv").read_text().splitlines()
    cut = tmp_path / "cut.csv"
    cut.write_text("\n".join(lines)[:-3])
    code, _ = _build(tmp_path, cut, DEMO / "demo_synthetic_iMeta.csv")
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert f"cut.csv: line {len(lines)}: the file ends inside this record" in err
    bad = tmp_path / "bad.csv"
    bad.write_text("\n".join([lines[0], lines[1].replace(",1.171,", ",n/a,"), *lines[2:]]) + "\n")
    code, _ = _build(tmp_path, bad, DEMO / "demo_synthetic_iMeta.csv")
    err = capsys.readouterr().err
    assert code == 2 and "bad.csv: line 2: column 'sup_soph': value 'n/a' is not a number" in err
    # a key column named twice, as `ucc validate` refuses it
    code, _ = _build(
        tmp_path, HOSTILE / "iData_duplicate_key.csv", DEMO / "demo_synthetic_iMeta.csv"
    )
    assert code == 2 and "'uCode' is column 1 and 4" in capsys.readouterr().err


def test_one_workbook_with_data_and_meta_sheets(tmp_path, capsys):
    book = tmp_path / "partner.xlsx"
    idata = pd.read_csv(DEMO / "demo_synthetic_iData.csv", dtype={"uCode": str})
    imeta = pd.read_csv(DEMO / "demo_synthetic_iMeta.csv")
    with pd.ExcelWriter(book) as xl:
        idata.to_excel(xl, sheet_name="iData", index=False)
        imeta.to_excel(xl, sheet_name="iMeta", index=False)
    code, plain = _build(
        tmp_path, DEMO / "demo_synthetic_iData.csv", DEMO / "demo_synthetic_iMeta.csv"
    )
    assert code == 0
    code, xl_out = _build(tmp_path, book, book, "--sheet", "iData", "--meta-sheet", "iMeta")
    assert code == 0, capsys.readouterr().err
    a = pd.read_csv(plain / "scores.csv")
    b = pd.read_csv(xl_out / "scores.csv")
    pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-12)
    capsys.readouterr()
    code, _ = _build(tmp_path, book, book, "--sheet", "nope")
    err = capsys.readouterr().err
    assert code == 2 and "has no sheet 'nope'; sheets: iData, iMeta" in err
