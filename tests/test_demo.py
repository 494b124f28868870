"""The SYNTHETIC demo panel: deterministic, coherent, and its truth is what the data carry.

The truth is checked against quantities recomputed here from the generated data (potential
outcomes, counts, features), and the feature and transfer effects are recovered from the
observed panel by textbook estimators written out in this file (two-way within regression,
2x2 DiD against never-adopters), independent of the package's estimators.
"""

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ucc_research import demo, io
from ucc_research.cleaning.schemas import FEATURES_BINARY, SERVICE_FEATURES
from ucc_research.cli import main
from ucc_research.errors import SpecError

SMALL = {"n_cities": 8, "n_services": 3, "years": (2018, 2021)}


@pytest.fixture(scope="module")
def full():
    return demo.generate()


def _files(folder):
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_same_seed_writes_byte_identical_files_and_other_seed_differs(tmp_path):
    a = _files_of(tmp_path / "a", seed=5)
    b = _files_of(tmp_path / "b", seed=5)
    c = _files_of(tmp_path / "c", seed=6)
    assert a == b
    assert set(a) == set(c)
    differing = {n for n in a if a[n] != c[n]}
    assert {
        "demo_synthetic_service_panel.parquet",
        "demo_synthetic_takeup_by_group.csv",
        "demo_synthetic_iData.csv",
        "truth.json",
    } <= differing


CHECKSUMS = json.loads((Path(__file__).parent / "demo_checksums.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("run", sorted(CHECKSUMS["runs"]))
def test_the_package_writes_the_same_bytes_as_the_single_module_did(tmp_path, run):
    """The demo became a package of sub-models; its output must not have moved by one byte.

    The checksums were taken from the pre-refactor ``demo.py`` (see the fixture's provenance).
    The README is prose from a template that follows the API (its example now reads the
    result convention's ``estimate``), so only its presence is compared; every data file and
    truth.json must be byte-identical.
    """
    spec = CHECKSUMS["runs"][run]
    paths = demo.write_demo(tmp_path, **spec["kwargs"])
    got = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in paths}
    assert got.keys() == spec["sha256"].keys()
    data_files = set(got) - {"README.md"}
    assert {k: got[k] for k in data_files} == {k: spec["sha256"][k] for k in data_files}


def _files_of(folder, seed):
    demo.write_demo(folder, seed=seed, **SMALL)
    return _files(folder)


def test_cli_writes_labelled_synthetic_files(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path), "--seed", "3"]) == 0
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == sorted([*demo.FILES.values(), "truth.json", "README.md"])
    assert all("synthetic" in n for n in names if n not in ("truth.json", "README.md"))
    assert (tmp_path / "README.md").read_text().splitlines()[0].startswith("# SYNTHETIC")
    truth = json.loads((tmp_path / "truth.json").read_text())
    assert truth["generator"]["seed"] == 3 and "SYNTHETIC" in truth
    assert "SYNTHETIC" in capsys.readouterr().out
    assert sum(p.stat().st_size for p in tmp_path.iterdir()) < 15e6


def test_default_panel_has_the_promised_shape(full):
    c, sp = full.cities, full.service_panel
    assert len(c) >= 30 and c["country"].nunique() >= 8
    assert c["city_id"].str.startswith("DEMO-").all() and c["city_id"].is_unique
    assert c["name"].is_unique and c["synthetic"].all() and (c["unit_type"] == "city").all()
    assert c[["internet_use", "share_65plus", "digital_skills"]].stack().between(0, 1).all()
    assert sp["service_id"].nunique() == 20
    assert set(sp["life_event"]) == set(demo.LIFE_EVENTS)
    months = pd.period_range("2018-01", "2025-12", freq="M").strftime("%Y-%m").tolist()
    assert sorted(sp["period"].unique()) == months
    assert len(sp) == len(c) * 20 * len(months)
    assert not sp.duplicated(["city_id", "service_id", "period"]).any()
    assert sp["synthetic"].all() and (sp["source"] == "demo").all()


def test_counts_shares_and_ranges_are_coherent(full):
    sp = full.service_panel
    ch = sp[[f"transactions_{c}" for c in demo.SIMULATED_CHANNELS]]
    assert (ch >= 0).all().all()
    assert (ch.sum(axis=1) == sp["transactions_total"]).all()
    digital = sp[["transactions_web", "transactions_mobile_app", "transactions_email"]].sum(axis=1)
    assert (digital == sp["transactions_digital"]).all()
    assert (sp["transactions_digital"] <= sp["transactions_total"]).all()
    share = sp["transactions_digital"] / sp["transactions_total"]
    assert np.allclose(sp["digital_share"], share, atol=5e-7)
    for col, lo, hi in [
        ("digital_share", 0, 1),
        ("completion_rate", 0, 1),
        ("satisfaction", 0, 100),
        ("online_sophistication", 0, 4),
    ]:
        assert sp[col].between(lo, hi).all(), col
    assert (sp["cost_per_transaction"] >= 0).all() and (sp["days_to_close_median"] >= 0).all()
    for f in FEATURES_BINARY:
        assert set(sp[f].unique()) == {0.0, 1.0}, f


def test_features_change_within_city_service(full):
    # every feature is switched on at different dates in many city-services (identification)
    changes = (
        full.service_panel.groupby(["city_id", "service_id"])[list(SERVICE_FEATURES)].nunique() > 1
    )
    assert (changes.mean() > 0.25).all(), changes.mean()
    months_first_on = (
        full.service_panel[full.service_panel["eid_login"] == 1]
        .groupby(["city_id", "service_id"])["period"]
        .min()
    )
    assert months_first_on.nunique() > 50


def test_adoption_is_staggered_with_origin_and_never_adopters(full):
    gp = full.truth["good_practice"]
    sp = full.service_panel
    tr = sp[sp["service_id"] == gp["service_id"]]
    adopted = tr.groupby("city_id")["adopted_period"].first()
    origin = gp["origin_city_id"]
    assert adopted[origin] == gp["origin_adopted_period"] < "2019-01"
    assert tr.loc[tr["city_id"] == origin, "transferred_from"].isna().all()
    others = tr[(tr["city_id"] != origin) & tr["adopted_period"].notna()]
    assert (others["transferred_from"] == origin).all()
    assert sorted(adopted.drop(origin).dropna().unique()) == [
        "2020-01",
        "2021-01",
        "2022-01",
        "2023-01",
    ]
    assert adopted.isna().sum() == len(gp["never_adopters"]) >= 5
    # the practice is recorded only on the transferred service
    assert sp.loc[sp["service_id"] != gp["service_id"], "adopted_period"].isna().all()


def test_truth_atts_equal_the_potential_outcomes_recomputed(full):
    po = full.potential_outcomes
    po = po[~po["is_origin"]].copy()
    po["year"] = po["period"].str[:4].astype(int)
    annual = po.groupby(["city_id", "year"], as_index=False).agg(
        y0=("digital_share_y0", "mean"),
        y1=("digital_share_y1", "mean"),
        adopted=("adopted_period", "first"),
    )
    annual["cohort"] = annual["adopted"].str[:4].astype(float)
    post = annual[annual["year"] >= annual["cohort"]]
    te = post["y1"] - post["y0"]
    truth = full.truth["true_effects"]["transfer"]["year"]["digital_share"]
    assert truth["overall"]["simple"] == pytest.approx(te.mean(), abs=1e-12)
    by_e = te.groupby(post["year"] - post["cohort"]).mean()
    got = {r["event_time"]: r["att"] for r in truth["att_by_event_time"]}
    assert got == pytest.approx({int(k): v for k, v in by_e.items()}, abs=1e-12)
    cell = post.assign(te=te).groupby(["cohort", "year"])["te"].mean()
    theta_g = cell.groupby(level="cohort").mean()
    n_g = annual.groupby("cohort")["city_id"].nunique()
    assert truth["overall"]["group"] == pytest.approx(
        np.average(theta_g, weights=n_g[theta_g.index])
    )
    # before adoption and for never-adopters the two potential outcomes coincide
    pre = po[~po["treated"]]
    assert (pre["digital_share_y1"] == pre["digital_share_y0"]).all()
    # the effect ramps up: later event years are at least as large on average as year 0
    assert got[0] < got[1] and 0.05 < truth["overall"]["simple"] < 0.2


def test_observed_transferred_service_follows_its_potential_outcomes(full):
    """The observed share is a binomial draw around Y(1) when treated and Y(0) otherwise."""
    gp = full.truth["good_practice"]
    sp = full.service_panel
    tr = sp[sp["service_id"] == gp["service_id"]].merge(
        full.potential_outcomes, on=["city_id", "period"], suffixes=("", "_po")
    )
    expected = np.where(tr["treated"], tr["digital_share_y1"], tr["digital_share_y0"])
    resid = tr["digital_share"] - expected
    binom_var = expected * (1 - expected) / tr["transactions_total"]
    z = resid.sum() / np.sqrt(binom_var.sum())
    assert abs(z) < 4
    assert np.mean(resid**2 / binom_var) == pytest.approx(1, abs=0.15)


def _within(df, cols, unit, time):
    """Two-way within transformation of a balanced panel (exact two-way fixed effects)."""
    out = df[cols].astype(float)
    mu_u = out.groupby(df[unit]).transform("mean")
    mu_t = out.groupby(df[time]).transform("mean")
    return out - mu_u - mu_t + out.mean()


def _cluster_ols(y, X, groups):
    beta, *_ = np.linalg.lstsq(X, y, rcond=None)
    e = y - X @ beta
    bread = np.linalg.inv(X.T @ X)
    scores = pd.DataFrame(X * e[:, None]).groupby(np.asarray(groups)).sum().to_numpy()
    cov = bread @ (scores.T @ scores) @ bread
    return beta, np.sqrt(np.diag(cov))


@pytest.mark.parametrize("outcome", ["digital_share", "satisfaction"])
def test_two_way_fixed_effects_recover_the_true_feature_effects(outcome):
    d = demo.generate(seed=11, n_cities=40, n_services=12, population_scale=3.0)
    sp = d.service_panel
    gp = d.truth["good_practice"]["service_id"]
    sp = sp.assign(
        unit=sp["city_id"] + "|" + sp["service_id"],
        D=(
            (sp["service_id"] == gp)
            & sp["adopted_period"].notna()
            & (sp["period"] >= sp["adopted_period"].fillna("9999"))
        ).astype(float),
    )
    cols = [outcome, *SERVICE_FEATURES, "D"]
    w = _within(sp, cols, "unit", "period")
    beta, se = _cluster_ols(w[outcome].to_numpy(), w[cols[1:]].to_numpy(), sp["unit"])
    truth = d.truth["true_effects"][outcome]["average_effect"]
    for k, b, s in zip(cols[1:], beta, se):
        if k == "D":
            continue
        assert abs(b - truth[k]) < 4 * s, (k, b, truth[k], s)
    if outcome == "digital_share":
        # the true null is not detected; pooled OLS without fixed effects is biased (maturity)
        k = SERVICE_FEATURES.index("feedback_channel")
        assert abs(beta[k]) < 4 * se[k]
        X = np.column_stack([np.ones(len(sp)), sp[list(SERVICE_FEATURES)].to_numpy()])
        pooled, _ = _cluster_ols(sp[outcome].to_numpy(), X, sp["unit"])
        assert pooled[1 + k] > truth["feedback_channel"] + 10 * se[k]


def test_did_against_never_adopters_recovers_the_true_att():
    """Parallel trends hold by construction: a 2x2 DiD per cohort and year is unbiased."""
    d = demo.generate(seed=3, n_cities=60, n_services=2, population_scale=3.0)
    tp = demo.transfer_panel(d, "year")
    assert not tp["is_origin"].any() and (tp["cohort"] == 0).sum() > 0
    y = tp.pivot(index="unit", columns="time", values="digital_share")
    cohort = tp.groupby("unit")["cohort"].first()
    never = y[cohort == 0]
    est, var, truth_rows = [], [], []
    truth = {
        (r["cohort"], r["time"]): r["att"]
        for r in d.truth["true_effects"]["transfer"]["year"]["digital_share"]["att_gt"]
    }
    for g in sorted(cohort[cohort > 0].unique()):
        treated = y[cohort == g]
        for t in y.columns[y.columns >= g]:
            dt = treated[t] - treated[g - 1]
            dn = never[t] - never[g - 1]
            est.append(dt.mean() - dn.mean())
            var.append(dt.var() / len(dt) + dn.var() / len(dn))
            truth_rows.append(truth[(g, t)])
    est, se, tru = np.array(est), np.sqrt(var), np.array(truth_rows)
    assert np.all(np.abs(est - tru) < 4.5 * se)
    # and on average across cells
    assert abs(np.mean(est - tru)) < 3 * np.sqrt(np.mean(se**2) / len(se)) + 0.01
    assert tp.set_index(["unit", "time"]).index.is_unique


def test_monthly_transfer_panel_codes_time_and_cohort_in_months():
    d = demo.generate(seed=2, **SMALL)
    tp = demo.transfer_panel(d, "month")
    assert tp["time"].min() == 1 and tp["time"].max() == 48
    first = tp.loc[tp["cohort"] > 0, ["period", "time", "cohort", "event_time"]]
    at_adoption = first[first["event_time"] == 0]
    assert (at_adoption["period"] == "2020-01").all() and (at_adoption["time"] == 25).all()
    assert tp.loc[tp["cohort"] == 0, "event_time"].isna().all()
    with pytest.raises(SpecError, match="freq"):
        demo.transfer_panel(d, "week")


def test_digital_divide_is_known_and_narrowed_by_features():
    d = demo.generate(seed=4, n_cities=30, n_services=10, population_scale=20.0)
    t = d.takeup_by_group
    assert set(t["age_group"]) == {"18-34", "35-64", "65+"}
    assert set(t["gender"]) == {"female", "male"}
    # group users add up to the year's transactions exactly
    sp = d.service_panel.assign(year=d.service_panel["period"].str[:4].astype(int))
    annual = sp.groupby(["city_id", "service_id", "year"])["transactions_total"].sum()
    users = t.groupby(["city_id", "service_id", "year"])["population_in_group"].sum()
    assert users.equals(annual.rename("population_in_group"))
    # the log-odds gap 65+ vs 35-64 (same gender and cell) is linear in the year's exposure
    big = t[t["population_in_group"] >= 300]
    lo = np.log(
        (big["digital_users"] + 0.5) / (big["population_in_group"] - big["digital_users"] + 0.5)
    )
    wide = (
        big.assign(lo=lo)
        .pivot_table(
            index=["city_id", "service_id", "year", "gender"], columns="age_group", values="lo"
        )
        .dropna(subset=["35-64", "65+"])
    )
    gap = (wide["65+"] - wide["35-64"]).rename("gap").reset_index()
    feats = ["accessibility", "proactive", "eid_login"]
    expo = sp.groupby(["city_id", "service_id", "year"])[feats].mean()
    gap = gap.join(expo, on=["city_id", "service_id", "year"])
    X = np.column_stack([np.ones(len(gap)), gap["gender"] == "female", gap[feats]]).astype(float)
    beta, se = _cluster_ols(gap["gap"].to_numpy(), X, gap["city_id"] + gap["service_id"])
    truth = d.truth["true_effects"]["digital_divide"]
    assert beta[0] == pytest.approx(truth["gap_vs_35_64"]["65+"], abs=4 * se[0])
    assert beta[1] == pytest.approx(truth["female_65plus"], abs=4 * se[1])
    for j, k in enumerate(feats):
        assert beta[2 + j] == pytest.approx(truth["narrow_65plus"][k], abs=4 * se[2 + j]), k
    assert truth["narrow_65plus"]["accessibility"] > 0 > truth["narrow_65plus"]["eid_login"]
    # on the share scale the 65+ are well behind, and accessibility narrows the gap
    assert truth["mean_gap_65plus_vs_35_64_share"] < -0.1
    assert truth["average_effect_on_gap_65plus_share"]["accessibility"] > 0.02


def test_indicator_tables_follow_coinr_format_and_the_panel(full):
    idata, imeta = full.idata, full.imeta
    assert list(idata.columns[:3]) == ["uCode", "uName", "Time"]
    ind = imeta[imeta["Type"] == "Indicator"]
    assert 12 <= len(ind) <= 15 and set(ind["iCode"]) <= set(idata.columns)
    assert set(imeta.loc[imeta["Type"] == "Aggregate", "Level"]) == {2, 3}
    parents = set(imeta["iCode"])
    assert set(ind["Parent"]) <= parents
    assert (ind["Direction"] == -1).sum() >= 2
    assert ind["Denominator"].notna().sum() >= 1
    denom = ind["Denominator"].dropna().iloc[0]
    assert imeta.set_index("iCode").loc[denom, "Type"] == "Denominator" and denom in idata
    assert idata[ind["iCode"]].isna().any().sum() >= 1
    skew = idata.groupby("Time")["exp_codesign"].skew()
    kurt = idata.groupby("Time")["exp_codesign"].apply(lambda s: s.kurt())
    assert ((skew.abs() > 2) & (kurt > 3.5)).any()
    # an indicator recomputed from the panel
    sp = full.service_panel
    city, year = idata.loc[5, "uCode"], idata.loc[5, "Time"]
    rows = sp[(sp["city_id"] == city) & sp["period"].str.startswith(str(year))]
    share = 100 * rows["transactions_digital"].sum() / rows["transactions_total"].sum()
    assert idata.loc[5, "use_digital"] == pytest.approx(share, abs=1e-3)


def test_invalid_arguments_are_named():
    with pytest.raises(SpecError, match="n_cities"):
        demo.generate(n_cities=2)
    with pytest.raises(SpecError, match="seed"):
        demo.generate(seed=-1)
    with pytest.raises(SpecError, match="cohorts"):
        demo.generate(years=(2018, 2021), cohorts=[2025], n_cities=8, n_services=2)
    with pytest.raises(SpecError, match="unknown parameter 'bogus'"):
        demo.generate(params={"digital_share": {"bogus": 1}}, **SMALL)


def test_parameters_can_be_overridden():
    d = demo.generate(params={"digital_share": {"beta": {"proactive": 0.1}}}, noise=0.0, **SMALL)
    assert d.truth["parameters"]["digital_share"]["beta"]["proactive"] == 0.1
    assert d.truth["true_effects"]["digital_share"]["average_effect"]["proactive"] == (
        pytest.approx(0.1, abs=0.005)
    )


def test_truth_lists_the_drawn_effects_with_their_documented_spread(full):
    t = full.truth
    P = t["parameters"]
    vcs = pd.DataFrame(t["city_service_effects_digital_share"])
    assert len(vcs) == len(full.cities) * 20 and not vcs.duplicated(["city_id", "service_id"]).any()
    assert vcs["effect"].std() == pytest.approx(P["digital_share"]["sd_city_service"], rel=0.15)
    cities = pd.DataFrame(t["cities"]).set_index("city_id")
    assert cities["city_trend_per_year"].std() == pytest.approx(
        P["digital_share"]["sd_city_trend_per_year"], rel=0.4
    )
    # the city effect is the documented function of the covariates plus a N(0, sd) part
    c = full.cities.set_index("city_id")
    cp = P["digital_share"]["city"]
    fitted = sum(cp[k] * (c[k] - cp["centre"][k]) for k in cp["centre"])
    resid = cities["city_effect_digital_share"] - fitted
    assert resid.std() == pytest.approx(cp["sd_random"], rel=0.4)
    assert abs(resid.mean()) < 3 * cp["sd_random"] / np.sqrt(len(resid))
    # observed mean shares follow the city effects (the city effect is not a free label)
    mean_share = full.service_panel.groupby("city_id")["digital_share"].mean()
    assert np.corrcoef(mean_share[cities.index], cities["city_effect_digital_share"])[0, 1] > 0.8


def test_load_reads_back_exactly_what_generate_made(tmp_path):
    demo.write_demo(tmp_path, seed=8, **SMALL)
    loaded, made = demo.load(tmp_path), demo.generate(seed=8, **SMALL)
    for attr in demo.FILES:
        pd.testing.assert_frame_equal(getattr(loaded, attr), getattr(made, attr), rtol=1e-12)
    assert loaded.truth == json.loads(io.to_json(made.truth))
    assert demo.transfer_panel(loaded).equals(demo.transfer_panel(made))
    (tmp_path / "truth.json").unlink()
    with pytest.raises(Exception, match="truth.json not found"):
        demo.load(tmp_path)
