"""Take-up by age group and gender, with a known digital divide (random stream 11).

Users of a city-service-year (its transactions) are split over the six groups by a multinomial
draw. A group's expected digital share is ``expit(L + d_g)``: ``d_g`` is the group's known
log-odds gap to men aged 35-64 (the 65+ gap moves with the year's feature exposure) and ``L``
is solved so that the groups average to the year's observed share. The log-odds gap between
two groups of a cell is therefore exactly ``d_g - d_h``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ucc_research.demo.catalogue import AGE_GROUPS, GENDERS, expit, logit, rng

# groups in order: (18-34, f), (18-34, m), (35-64, f), (35-64, m), (65+, f), (65+, m)
_N_GROUPS = len(AGE_GROUPS) * len(GENDERS)


def make_takeup(
    seed: int,
    dv: dict,
    cities: pd.DataFrame,
    services: pd.DataFrame,
    panel: pd.DataFrame,
    X: dict[str, np.ndarray],
    year_of_t: np.ndarray,
) -> tuple[pd.DataFrame, dict]:
    """Annual users and digital users by age group and gender, and the divide's true effects.

    Parameters
    ----------
    seed : int
    dv : dict
        ``DEFAULT_PARAMS["divide"]`` (after overrides).
    cities, services, panel : DataFrame
        As made by the generator; the panel's rows are ordered city, service, month.
    X : dict of (C, S, T) arrays
        The features.
    year_of_t : array
        Calendar year of each month.

    Returns
    -------
    (takeup_by_group table, truth of the divide)

    Examples
    --------
    >>> from ucc_research.demo import generate
    >>> d = generate(seed=2, n_cities=6, n_services=2, years=(2018, 2020))
    >>> t = d.takeup_by_group
    >>> bool((t.groupby(["city_id", "service_id", "year"])["population_in_group"].sum() > 0).all())
    True
    """
    C, S, T = X["proactive"].shape
    Y = T // 12
    total = _annual(panel["transactions_total"].to_numpy().reshape(C, S, T))
    digital = _annual(panel["transactions_digital"].to_numpy().reshape(C, S, T))
    w4 = np.broadcast_to(_group_weights(cities, services)[:, :, None, :], (C, S, Y, _N_GROUPS))
    xbar = {k: _annual(X[k], "mean") for k in dv["narrow_65plus"]}
    d = _log_odds_gaps(dv, xbar, (C, S, Y))
    L = _reference_log_odds(w4, d, digital / total)
    truth = _divide_truth(dv, xbar, L, (C, S, Y))
    r = rng(seed, 11)
    users = r.multinomial(total, np.ascontiguousarray(w4))
    digital_users = r.binomial(users, expit(L[..., None] + d))
    return _takeup_table(cities, services, year_of_t[::12], users, digital_users), truth


def _annual(a: np.ndarray, how: str = "sum") -> np.ndarray:
    """(C, S, T) monthly array -> (C, S, Y) annual sums or means."""
    C, S, T = a.shape
    b = a.reshape(C, S, T // 12, 12)
    return b.sum(-1) if how == "sum" else b.mean(-1)


def _group_weights(cities: pd.DataFrame, services: pd.DataFrame) -> np.ndarray:
    """(C, S, 6) share of a city-service's users in each group: the service's age profile, the
    65+ part scaled by the city's share aged 65+, then split by the service's share female."""
    C, S = len(cities), len(services)
    age = services[["age_profile_18_34", "age_profile_35_64", "age_profile_65plus"]].to_numpy()
    age = np.broadcast_to(age[None], (C, S, 3)).copy()
    age[:, :, 2] *= (cities["share_65plus"].to_numpy() / 0.21)[:, None]
    age = np.maximum(age, 0.01)  # every group has some users (e.g. grandparents as guardians)
    age /= age.sum(-1, keepdims=True)
    fem = services["female_share"].to_numpy()[None, :, None]
    return np.stack(
        [
            age[:, :, a] * (fem[..., 0] if g == 0 else 1 - fem[..., 0])
            for a in range(3)
            for g in range(2)
        ],
        axis=-1,
    )


def _log_odds_gaps(dv: dict, exposure: dict[str, np.ndarray], shape: tuple) -> np.ndarray:
    """(C, S, Y, 6) log-odds gap ``d_g`` of each group to men aged 35-64."""
    gap65 = dv["gap"]["65+"] + sum(v * exposure[k] for k, v in dv["narrow_65plus"].items())
    d = np.zeros((*shape, _N_GROUPS))
    d[..., 0] = dv["gap"]["18-34"] + dv["female_other"]
    d[..., 1] = dv["gap"]["18-34"]
    d[..., 2] = dv["gap"]["35-64"] + dv["female_other"]
    d[..., 3] = dv["gap"]["35-64"]
    d[..., 4] = gap65 + dv["female_65plus"]
    d[..., 5] = gap65
    return d


def _reference_log_odds(w4: np.ndarray, d: np.ndarray, p_year: np.ndarray) -> np.ndarray:
    """Reference log-odds ``L`` (men aged 35-64) such that the user-weighted group shares average
    to the year's share: solves ``sum_g w_g expit(L + d_g) = p_year`` by Newton's method."""
    target = np.clip(p_year, 1e-4, 1 - 1e-4)
    L = logit(target)
    for _ in range(50):
        s = expit(L[..., None] + d)
        f = (w4 * s).sum(-1) - target
        L = L - f / (w4 * s * (1 - s)).sum(-1)
        if np.max(np.abs(f)) < 1e-12:
            break
    return L


def _divide_truth(dv: dict, xbar: dict[str, np.ndarray], L: np.ndarray, shape: tuple) -> dict:
    """Mean 65+ minus 35-64 gap on the share scale, and each feature's average effect on it."""

    def mean_gap(exposure: dict[str, np.ndarray]) -> float:
        pg = expit(L[..., None] + _log_odds_gaps(dv, exposure, shape))  # same gender
        return float(np.mean(pg[..., 4:6] - pg[..., 2:4]))

    return {
        "mean_gap_65plus_vs_35_64_share": mean_gap(xbar),
        "average_effect_on_gap_65plus_share": {
            k: mean_gap({**xbar, k: np.ones_like(xbar[k])})
            - mean_gap({**xbar, k: np.zeros_like(xbar[k])})
            for k in dv["narrow_65plus"]
        },
    }


def _takeup_table(
    cities: pd.DataFrame,
    services: pd.DataFrame,
    years: np.ndarray,
    users: np.ndarray,
    digital_users: np.ndarray,
) -> pd.DataFrame:
    """The ``takeup_by_group`` table; ``digital_share`` is empty for a group without users."""
    C, S, Y, G = users.shape
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(users > 0, digital_users / np.maximum(users, 1), np.nan)
    ic, js, iy, ig = (
        a.ravel()
        for a in np.meshgrid(np.arange(C), np.arange(S), np.arange(Y), np.arange(G), indexing="ij")
    )
    out = pd.DataFrame(
        {
            "city_id": cities["city_id"].to_numpy()[ic],
            "service_id": services["service_id"].to_numpy()[js],
            "year": years[iy].astype("int64"),
            "age_group": np.asarray(AGE_GROUPS)[ig // 2],
            "gender": np.asarray(GENDERS)[ig % 2],
            "population_in_group": users.ravel().astype("int64"),
            "digital_users": digital_users.ravel().astype("int64"),
            "digital_share": np.round(share.ravel(), 6),
            "synthetic": True,
            "source": "demo",
        }
    )
    for col in ["city_id", "service_id", "age_group", "gender", "source"]:
        out[col] = out[col].astype("str")
    return out
