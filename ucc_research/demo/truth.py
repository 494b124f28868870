"""The demo's truth: true average effects from the generated potential outcomes.

:func:`transfer_panel` turns the transferred service into the city x time panel the DiD
estimators take, and :func:`transfer_truth` gives the true ATTs at that level, aggregated as
Callaway and Sant'Anna do. :func:`make_truth` assembles ``truth.json``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ucc_research.cleaning.schemas import SERVICE_FEATURES
from ucc_research.demo.catalogue import expit
from ucc_research.demo.data import DemoData
from ucc_research.errors import SpecError


def _ame(
    lin: np.ndarray, x: np.ndarray | None, coef: float, lo: float, hi: float, link: str = "clip"
) -> float:
    """Average effect of a feature on the outcome scale, from the rows' potential outcomes.

    Binary ``x``: mean of f(lin with x=1) - f(lin with x=0); ``x=None`` (a level 0-4): mean of
    f(lin + coef/2) - f(lin - coef/2), the average effect of one level.
    """
    if x is None:
        up, down = lin + coef / 2, lin - coef / 2
    else:
        up, down = lin + coef * (1 - x), lin - coef * x
    if link == "expit":
        return float(np.mean(expit(up) - expit(down)))
    return float(np.mean(np.clip(up, lo, hi) - np.clip(down, lo, hi)))


def _transfer_level(frame: pd.DataFrame, cols: list[str], freq: str) -> pd.DataFrame:
    """City x time means of ``cols`` with the adoption cohort coded in the same time units.

    ``time`` is the calendar year (``freq="year"``) or the month number counted from the first
    month of the panel, starting at 1 (``freq="month"``); ``cohort`` is the first treated time
    and 0 for never-adopting cities.
    """
    if freq not in ("year", "month"):
        raise SpecError(f"freq must be 'year' or 'month', got {freq!r}")
    y = frame["period"].str.slice(0, 4).astype("int64").to_numpy()
    m = frame["period"].str.slice(5, 7).astype("int64").to_numpy()
    first = int(y.min())
    adopted = frame["adopted_period"]
    ay = adopted.str.slice(0, 4).astype("Int64")
    am = adopted.str.slice(5, 7).astype("Int64")
    if freq == "year":
        time, cohort = y, ay
    else:
        time, cohort = (y - first) * 12 + m, (ay - first) * 12 + am
    df = pd.DataFrame({"unit": frame["city_id"].astype("str").to_numpy(), "time": time})
    df["cohort"] = cohort.fillna(0).astype("int64").to_numpy()
    for c in cols:
        df[c] = frame[c].to_numpy()
    if freq == "month":
        df["period"] = frame["period"].to_numpy()
    keys = ["unit", "time", "cohort"] + (["period"] if freq == "month" else [])
    out = df.groupby(keys, sort=True, as_index=False)[cols].mean()
    out["event_time"] = (out["time"] - out["cohort"]).astype("Int64").mask(out["cohort"] == 0)
    out["post"] = (out["cohort"] > 0) & (out["time"] >= out["cohort"])
    return out


def _att_summary(df: pd.DataFrame, te: str) -> dict:
    """True ATTs in the aggregations of Callaway and Sant'Anna, from unit-level effects ``te``."""
    post = df[df["post"]]
    sizes = df.groupby("cohort")["unit"].nunique()
    att_gt = post.groupby(["cohort", "time"])[te].mean()
    e = post["time"] - post["cohort"]
    att_e = post.groupby(e)[te].agg(["mean", "size"])
    theta_g = att_gt.groupby(level="cohort").mean()
    w_g = sizes.reindex(theta_g.index)
    w_cell = att_gt.index.get_level_values("cohort").map(sizes).to_numpy(dtype=float)
    by_time = att_gt.index.get_level_values("time")
    calendar = (
        pd.Series(att_gt.to_numpy() * w_cell).groupby(by_time).sum()
        / pd.Series(w_cell).groupby(by_time).sum()
    )
    return {
        "att_gt": [
            {"cohort": int(g), "time": int(t), "att": float(v)} for (g, t), v in att_gt.items()
        ],
        "att_by_event_time": [
            {"event_time": int(k), "att": float(row["mean"]), "n_units": int(row["size"])}
            for k, row in att_e.iterrows()
        ],
        "att_by_cohort": [{"cohort": int(g), "att": float(v)} for g, v in theta_g.items()],
        "overall": {
            "simple": float(post[te].mean()),
            "dynamic": float(att_e["mean"].mean()),
            "group": float(np.average(theta_g.to_numpy(), weights=w_g.to_numpy())),
            "calendar": float(calendar.mean()),
        },
        "cohort_sizes": {str(int(g)): int(n) for g, n in sizes.items() if g > 0},
        "n_never_treated": int(sizes.get(0, 0)),
    }


def transfer_truth(data: DemoData, freq: str = "year", include_origin: bool = False) -> dict:
    """True ATTs of the transferred good practice at the level of :func:`transfer_panel`.

    Computed from the generated potential outcomes: the unit effect is the city-time mean of
    ``*_y1 - *_y0`` (monthly values averaged within the year for ``freq="year"``), aggregated
    as Callaway and Sant'Anna do (``simple``: mean over treated post-adoption unit-times;
    ``dynamic``: mean over event times of the event-time ATTs; ``group``: cohort-size weighted
    mean of the cohorts' ATTs; ``calendar``: mean over calendar times).

    Parameters
    ----------
    data : DemoData
    freq : {"year", "month"}
    include_origin : bool
        Keep the origin city (it adopts in the first year, without a pre-period).

    Returns
    -------
    dict with keys ``digital_share`` and ``satisfaction``, each as :func:`_att_summary`.

    Examples
    --------
    >>> from ucc_research.demo import generate
    >>> d = generate(seed=1, n_cities=8, n_services=2, years=(2018, 2021))
    >>> t = transfer_truth(d)["digital_share"]
    >>> t["cohort_sizes"], round(t["overall"]["simple"], 3) > 0
    ({'2020': 5}, True)
    """
    po = data.potential_outcomes
    if not include_origin:
        po = po[~po["is_origin"]]
    po = po.assign(
        te_digital_share=po["digital_share_y1"] - po["digital_share_y0"],
        te_satisfaction=po["satisfaction_y1"] - po["satisfaction_y0"],
    )
    lvl = _transfer_level(po, ["te_digital_share", "te_satisfaction"], freq)
    return {
        "digital_share": _att_summary(lvl, "te_digital_share"),
        "satisfaction": _att_summary(lvl, "te_satisfaction"),
    }


def transfer_panel(
    data: DemoData, freq: str = "year", include_origin: bool = False
) -> pd.DataFrame:
    """The transferred service as a city x time panel ready for ``impact.staggered_did``.

    Parameters
    ----------
    data : DemoData
    freq : {"year", "month"}
        ``"year"``: ``time`` is the calendar year and outcomes are the means of the monthly
        values; ``"month"``: ``time`` counts months from the panel's first month (1, 2, ...).
    include_origin : bool
        The origin city adopts in the first year, before any pre-period; it is left out unless
        asked for (then its ``is_origin`` is True).

    Returns
    -------
    DataFrame with ``unit`` (city_id), ``time``, ``cohort`` (first treated time, 0 = never),
    ``event_time`` (null for never-adopters), ``post``, outcomes ``digital_share`` and
    ``satisfaction``, ``transactions_total``, city covariates and ``is_origin``. The true ATTs
    at this level are in ``truth["true_effects"]["transfer"][freq]`` (see
    :func:`transfer_truth`).

    Examples
    --------
    >>> from ucc_research.demo import generate
    >>> d = generate(seed=1, n_cities=8, n_services=2, years=(2018, 2021))
    >>> tp = transfer_panel(d)
    >>> sorted(tp["cohort"].unique().tolist())
    [0, 2020]
    """
    gp_service = data.truth["good_practice"]["service_id"]
    sp = data.service_panel
    sp = sp[sp["service_id"] == gp_service]
    origin = data.truth["good_practice"]["origin_city_id"]
    if not include_origin:
        sp = sp[sp["city_id"] != origin]
    out = _transfer_level(
        sp, ["digital_share", "satisfaction", "transactions_total", "transactions_digital"], freq
    )
    cov = data.cities.set_index("city_id")[
        ["country", "population", "internet_use", "digital_skills", "share_65plus"]
    ]
    out = out.join(cov, on="unit")
    out["is_origin"] = out["unit"] == origin
    out["synthetic"] = True
    return out.reset_index(drop=True)


def make_truth(
    P: dict,
    seed: int,
    args: dict,
    cities: pd.DataFrame,
    services: pd.DataFrame,
    adoption: pd.DataFrame,
    X: dict[str, np.ndarray],
    draws: dict[str, dict],
    po: pd.DataFrame,
) -> dict:
    """Everything ``truth.json`` holds: the generator's arguments, every parameter, the drawn
    city and service effects, the adoption and the true average effects.

    ``draws`` holds the outputs of the generator's sub-models by name (``city``, ``transfer``,
    ``share``, ``sat``, ``comp``, ``days``, ``tx``). The digital divide's average effects
    are added by the generator from the take-up model. Doctested through :func:`generate`:

    >>> from ucc_research.demo import generate
    >>> t = generate(seed=1, n_cities=6, n_services=1, years=(2018, 2020)).truth
    >>> sorted(t["true_effects"])[:3]
    ['completion_rate', 'days_to_close_median', 'digital_divide']
    """
    city, comp, tx = draws["city"], draws["comp"], draws["tx"]
    effects = {
        "a_city": city["a_city"],
        "r_city": city["r_city"],
        "m_city": draws["transfer"]["m_city"],
        "sat_city": draws["sat"]["sat_city"],
        "comp_city": comp["comp_city"],
        "days_city": draws["days"]["days_city"],
        "demand_city": tx["city_demand"],
        "price_city": tx["price"],
    }
    latent = {
        "lin": draws["share"]["lin"],
        "sat_lin": draws["sat"]["sat_lin"] + draws["sat"]["dlt"],
        "comp_lin": comp["lin"],
    }
    return {
        "SYNTHETIC": "All data generated by ucc_research.demo; no real city, service or person.",
        "generator": {"function": "ucc_research.demo.generate", "seed": seed, **args},
        "parameters": P,
        "good_practice": _good_practice_truth(P, args["cohorts"], adoption),
        "cities": _city_truth(cities, adoption, effects),
        "services": services[
            ["service_id", "life_event", "base_share", "base_satisfaction", "base_days"]
        ]
        .assign(
            service_effect_completion_logit=comp["comp_service"],
            seasonal_peak_month=tx["peak"],
        )
        .to_dict("records"),
        "city_service_effects_digital_share": [
            {"city_id": c, "service_id": s_id, "effect": float(city["v_cs"][i, j])}
            for i, c in enumerate(cities["city_id"])
            for j, s_id in enumerate(services["service_id"])
        ],
        "true_effects": _true_effects(P, X, latent, cities, services, po),
    }


def _good_practice_truth(P: dict, cohort_years: list[int], adoption: pd.DataFrame) -> dict:
    """The practice, its origin, cohorts, never-adopters and effect path (multiplier 1)."""
    origin = adoption.loc[adoption["is_origin"], "city_id"].iloc[0]
    cohorts = {
        str(g): adoption.loc[(adoption["cohort_year"] == g) & ~adoption["is_origin"], "city_id"]
        .astype(str)
        .tolist()
        for g in cohort_years
    }
    never = adoption.loc[adoption["adopt_t"] < 0, "city_id"].astype(str).tolist()
    te = P["transfer_effect"]
    path = [te["digital_share_max"] * (1 - np.exp(-(e + 1) / te["ramp_months"])) for e in range(36)]
    return {
        "service_id": P["good_practice"]["service_id"],
        "name": P["good_practice"]["name"],
        "origin_city_id": origin,
        "origin_adopted_period": adoption.loc[adoption["is_origin"], "adopted_period"].iloc[0],
        "cohorts": cohorts,
        "never_adopters": never,
        "assignment": "random permutation of the cities, independent of every outcome",
        "effect_path_digital_share_multiplier_1": [float(v) for v in path],
    }


def _city_truth(
    cities: pd.DataFrame, adoption: pd.DataFrame, effects: dict[str, np.ndarray]
) -> list[dict]:
    """One record per city: its drawn effects and its adoption."""
    city_rows = []
    for i, row in cities.reset_index(drop=True).iterrows():
        a = adoption.iloc[i]
        city_rows.append(
            {
                "city_id": row["city_id"],
                "city_effect_digital_share": float(effects["a_city"][i]),
                "city_trend_per_year": float(effects["r_city"][i]),
                "city_effect_satisfaction": float(effects["sat_city"][i]),
                "transfer_effect_multiplier": float(effects["m_city"][i] * a["cohort_multiplier"]),
                "city_effect_completion_logit": float(effects["comp_city"][i]),
                "city_effect_log_days": float(effects["days_city"][i]),
                "demand_multiplier": float(effects["demand_city"][i]),
                "price_level": float(effects["price_city"][i]),
                "adopted_period": a["adopted_period"],
                "is_origin": bool(a["is_origin"]),
            }
        )
    return city_rows


def _true_effects(
    P: dict,
    X: dict[str, np.ndarray],
    latent: dict[str, np.ndarray],
    cities: pd.DataFrame,
    services: pd.DataFrame,
    po: pd.DataFrame,
) -> dict:
    """Feature effects (structural and average), transfer ATTs and the digital divide."""
    ds, sp, cp = P["digital_share"], P["satisfaction"], P["completion_rate"]
    lin, sat_lin = latent["lin"], latent["sat_lin"]
    lo, hi = ds["clip"]
    share_effect, sat_effect, comp_effect = {}, {}, {}
    for k in SERVICE_FEATURES:
        x = None if k == "online_sophistication" else X[k]
        share_effect[k] = _ame(lin, x, ds["beta"][k], lo, hi)
        sat_effect[k] = _ame(sat_lin, x, sp["gamma"][k], *sp["clip"])
        comp_effect[k] = _ame(latent["comp_lin"], x, cp["kappa"][k], 0, 1, link="expit")
    clipped = float(np.mean((lin < lo) | (lin > hi)))
    sat_clipped = float(np.mean((sat_lin < sp["clip"][0]) | (sat_lin > sp["clip"][1])))
    empty = pd.DataFrame()
    stub = DemoData(cities, services, empty, empty, empty, empty, potential_outcomes=po)
    return {
        "note": (
            "Feature effects are average effects on the outcome scale from the generated "
            "potential outcomes of every city-service-month (binary feature: x=1 vs x=0; "
            "online_sophistication: one level). digital_share and completion_rate are "
            "shares in [0, 1] (multiply by 100 for percentage points); satisfaction is in "
            "points 0-100. The transfer ATTs exclude the origin city."
        ),
        "digital_share": {
            "structural": ds["beta"],
            "average_effect": share_effect,
            "average_effect_pp": {k: 100 * v for k, v in share_effect.items()},
            "clipped_fraction": clipped,
        },
        "satisfaction": {
            "structural": sp["gamma"],
            "average_effect": sat_effect,
            "clipped_fraction": sat_clipped,
        },
        "completion_rate": {"structural_logit": cp["kappa"], "average_effect": comp_effect},
        "days_to_close_median": {"structural_log": P["days_to_close"]["effect"]},
        "transfer": {"year": transfer_truth(stub, "year"), "month": transfer_truth(stub, "month")},
        "digital_divide": {
            "scale": "log-odds of a digital transaction, relative to men aged 35-64 of the "
            "same city, service and year",
            "gap_vs_35_64": P["divide"]["gap"],
            "gap_65plus": "gap['65+'] + sum_k narrow_65plus[k] * (share of the year's months "
            "feature k was on); women aged 65+ add female_65plus",
            "narrow_65plus": P["divide"]["narrow_65plus"],
            "female_65plus": P["divide"]["female_65plus"],
            "female_other": P["divide"]["female_other"],
        },
    }
