"""``ucc index build`` writes scores, ranks, stages and the spec as run."""

from __future__ import annotations

import json

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
