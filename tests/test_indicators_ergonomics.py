"""What researchers expect of the indicators package: completion, names, integer ranks, COINr's
method names, export to CSV/Excel, plots (issue 10 item 6)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest

import ucc_research
from ucc_research import indicators
from ucc_research.errors import SpecError
from ucc_research.indicators import build, load_spec, rank_intervals
from ucc_research.indicators.coin import METHOD_ALIASES
from ucc_research.indicators.plots import plot_bar, plot_framework, plot_uncertainty


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(7)
    n = 9
    idata = pd.DataFrame(
        {
            "uCode": [f"U{i}" for i in range(n)],
            "uName": [f"Town {chr(65 + i)}" for i in range(n)],
            **{f"i{k}": rng.uniform(1, 10, n) for k in range(1, 5)},
        }
    )
    idata.loc[3, "uName"] = None  # a unit without a name shows its code
    imeta = pd.DataFrame(
        {
            "iCode": ["i1", "i2", "i3", "i4", "P1", "P2", "Index"],
            "Level": [1, 1, 1, 1, 2, 2, 3],
            "Parent": ["P1", "P1", "P2", "P2", "Index", "Index", None],
            "Direction": [1, -1, 1, 1, 1, 1, 1],
            "Weight": [1.0, 1, 2, 1, 1, 3, 1],
        }
    )
    return idata, imeta


@pytest.fixture(scope="module")
def coin(data):
    return build(*data)


def test_tab_completion_lists_lazy_exports_and_subpackages():
    names = dir(indicators)
    for lazy in ("rank_intervals", "uncertainty_analysis", "plot_bar", "coherence", "preset"):
        assert lazy in names
    for name in names:  # everything offered resolves
        if not name.startswith("_"):
            getattr(indicators, name)
    assert {"cleaning", "indicators", "impact", "reports"} <= set(dir(ucc_research))
    assert ucc_research.reports.__name__ == "ucc_research.reports"


def test_scores_ranks_and_intervals_carry_unit_names_and_integer_ranks(coin):
    assert list(coin.scores.columns[:2]) == ["uCode", "uName"]
    assert coin.scores.set_index("uCode").at["U0", "uName"] == "Town A"
    assert coin.scores.set_index("uCode").at["U3", "uName"] == "U3"
    assert list(coin.ranks.columns[:2]) == ["uCode", "uName"]
    assert all(str(coin.ranks[c].dtype) == "Int64" for c in coin.ranks.columns[2:])
    top = coin.ranks.set_index("uCode")["Index"]
    assert sorted(top.tolist()) == list(range(1, 10))
    res = coin.results()
    assert str(res["rank"].dtype) == "Int64"
    ri = rank_intervals(coin, n=16, seed=3)
    assert list(ri.columns[:3]) == ["uCode", "uName", "nominal_rank"]
    assert str(ri["nominal_rank"].dtype) == "Int64"
    assert ri.set_index("uCode").at["U1", "uName"] == "Town B"
    merged = ri.merge(coin.ranks[["uCode", "Index"]], on="uCode")
    assert (merged["nominal_rank"] == merged["Index"]).all()


def test_ties_share_the_lower_rank_and_a_missing_score_has_no_rank():
    idata = pd.DataFrame({"uCode": list("ABCD"), "x": [5.0, 7.0, 5.0, None]})
    imeta = pd.DataFrame({"iCode": ["x", "I"], "Level": [1, 2], "Parent": ["I", None]})
    ranks = build(idata, imeta, {"aggregate": {"dat_thresh": 1}}).ranks.set_index("uCode")["x"]
    assert ranks.tolist()[:3] == [2, 1, 2] and ranks.isna().tolist() == [False] * 3 + [True]


@pytest.mark.parametrize(
    ("coinr", "ours"),
    [
        ({"normalise": {"method": "n_zscore", "m_sd": [10, 2]}, "aggregate": "a_gmean"},
         {"normalise": {"method": "zscore", "m_sd": [10, 2]}, "aggregate": "geom_mean"}),
        ({"normalise": {"method": "n_minmax", "range": [1, 100]}, "aggregate": {"f_ag": "a_hmean"}},
         {"normalise": {"method": "minmax", "range": [1, 100]}, "aggregate": "harm_mean"}),
        ({"normalise": "n_prank", "impute": "i_median"}, {"normalise": "percentile", "impute": "median"}),
        ({"aggregate": {"method": ["a_amean", "a_gmean"]}}, {"aggregate": {"method": ["arith_mean", "geom_mean"]}}),
    ],
)  # fmt: skip
def test_coinr_method_names_are_aliases(data, coinr, ours):
    assert load_spec(coinr) == load_spec(ours)
    a, b = build(*data, coinr), build(*data, ours)
    pd.testing.assert_frame_equal(a.scores, b.scores)


def test_every_alias_names_one_of_our_methods():
    from ucc_research.indicators import aggregate, impute, normalise

    ours = {
        "impute": impute.METHODS,
        "normalise": normalise.METHODS,
        "aggregate": aggregate.METHODS,
    }
    for step, table in METHOD_ALIASES.items():
        assert set(table.values()) <= set(ours[step]), step
    with pytest.raises(SpecError, match="normalise method 'n_scaled' is not one of"):
        load_spec({"normalise": "n_scaled"})  # COINr's n_scaled has no counterpart here


def test_export_writes_csvs_and_one_workbook(coin, tmp_path):
    written = coin.export(tmp_path / "out", name="town_index")
    names = {p.name for p in written}
    assert {"scores.csv", "ranks.csv", "results.csv", "town_index.xlsx", "log.json"} <= names
    assert {f"stage_{s}.csv" for s in indicators.STAGES} <= names
    scores = pd.read_csv(tmp_path / "out" / "scores.csv", encoding="utf-8-sig")
    np.testing.assert_allclose(scores["Index"], coin.scores["Index"])
    book = openpyxl.load_workbook(tmp_path / "out" / "town_index.xlsx", read_only=True)
    assert book.sheetnames[:3] == ["scores", "ranks", "results"]
    sheet = pd.read_excel(tmp_path / "out" / "town_index.xlsx", sheet_name="ranks")
    assert sheet["Index"].tolist() == coin.ranks["Index"].astype(int).tolist()
    assert sheet["uName"].tolist() == coin.ranks["uName"].tolist()
    again = coin.export(tmp_path / "again", name="town_index")
    import zipfile

    with zipfile.ZipFile(tmp_path / "out" / "town_index.xlsx") as book:  # no time of writing
        assert {i.date_time for i in book.infolist()} == {(1980, 1, 1, 0, 0, 0)}
        core = book.read("docProps/core.xml").decode()
        assert core.count("2000-01-01T00:00:00Z") == 2  # created and modified
    for p in again:  # the same coin gives the same bytes, the workbook included
        assert p.read_bytes() == (tmp_path / "out" / p.name).read_bytes(), p.name


def test_bar_plot_shows_sorted_scores_names_and_rank_intervals(coin):
    ri = rank_intervals(coin, n=16, seed=3)
    fig = plot_bar(coin, intervals=ri)
    ax = fig.axes[0]
    widths = [p.get_width() for p in ax.patches]
    expected = coin.scores.sort_values("Index")["Index"].tolist()
    np.testing.assert_allclose(widths, expected)
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert (
        labels[-1]
        == coin.scores.set_index("uCode").loc[
            coin.ranks.set_index("uCode")["Index"].idxmin(), "uName"
        ]
    )
    notes = [t.get_text() for t in ax.texts]
    best = ri.iloc[0]
    assert f"rank 1 ({best['q05']:.0f}-{best['q95']:.0f})" in notes
    with pytest.raises(SpecError, match="not an indicator or aggregate"):
        plot_bar(coin, "nope")


def test_framework_plot_wedges_follow_effective_weights(coin):
    fig = plot_framework(coin)
    wedges = fig.axes[0].patches
    assert len(wedges) == len(coin.framework.framework_codes)
    angle = {w.get_label(): w.theta2 - w.theta1 for w in wedges if w.get_label()}
    ew = coin.effective_weights
    for code in ("i1", "i3", "P1", "P2"):
        assert angle[code] == pytest.approx(360 * ew[code] / ew[coin.framework.codes(1)].sum())


def test_uncertainty_plot_draws_each_units_interval(coin):
    ri = rank_intervals(coin, n=16, seed=3)
    fig = plot_uncertainty(ri)
    ax = fig.axes[0]
    segments = ax.collections[0].get_segments()
    order = ri.sort_values("nominal_rank", ascending=False, kind="stable")
    for seg, (_, row) in zip(segments, order.iterrows(), strict=True):
        assert (seg[0][0], seg[1][0]) == (row["q05"], row["q95"])
    with pytest.raises(SpecError, match="pass the result of rank_intervals"):
        plot_uncertainty(ri.drop(columns="q05"))


def test_make_lab_starts_at_the_project_root():
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run(
        ["make", "-n", "lab"], cwd=root, capture_output=True, text=True, check=True
    ).stdout
    line = next(x for x in out.splitlines() if "jupyter lab" in x)
    assert f'--notebook-dir="{root}"' in line
    assert ("--allow-root" in line) == (os.geteuid() == 0)


@pytest.mark.parametrize("n", [1_000_000_000, 0, -3, 2.5, True])
def test_absurd_run_counts_are_refused_before_any_work(coin, n):
    from ucc_research.indicators import sensitivity_analysis, uncertainty_analysis

    for func in (uncertainty_analysis, sensitivity_analysis):
        with pytest.raises(SpecError, match=r"must be (between 1 and 100,000|a positive integer)"):
            func(coin, n=n)


def test_index_build_refuses_an_absurd_uncertainty_count_with_one_line(tmp_path, capsys):
    from ucc_research import cli

    idata = tmp_path / "idata.csv"
    imeta = tmp_path / "imeta.csv"
    pd.DataFrame({"uCode": ["A", "B"], "x": [1.0, 2], "y": [3.0, 1]}).to_csv(idata, index=False)
    pd.DataFrame({"iCode": ["x", "y", "I"], "Level": [1, 1, 2], "Parent": ["I", "I", None]}).to_csv(
        imeta, index=False
    )
    argv = ["index", "build", "--data", str(idata), "--meta", str(imeta), "--out"]
    argv += [str(tmp_path / "out"), "--uncertainty", "1000000000"]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        "ucc index build: error: the number of runs n must be between 1 and 100,000, "
        "got 1,000,000,000"
    ]
