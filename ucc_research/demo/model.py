"""The demo's generator: :func:`generate`, a sequence of named sub-models.

Each sub-model draws from its own random stream (:func:`~ucc_research.demo.catalogue.rng`,
stream numbers in brackets), so changing one leaves the others' draws unchanged:

===========================  ======  ============================================================
sub-model                    stream  what it makes
===========================  ======  ============================================================
:func:`_make_cities`         1       fictional cities: population, internet use, skills, 65+
:func:`_make_services`       -       the service catalogue rows in use
:func:`_city_effects`        2       city effect ``a_c``, city trend ``r_c``, city-service ``v_cs``
:func:`_make_features`       3       the eight features' roll-out, city x service x month
:func:`_assign_adoption`     10      origin city, adoption cohorts, never-adopters
:func:`_transfer_effects`    4       the practice's dynamic effects ``tau_c(e)``, ``delta_c(e)``
:func:`_digital_share`       5       latent digital share with and without the practice
:func:`_satisfaction`        6       satisfaction 0-100
:func:`_completion`          7       completion rate (logistic)
:func:`_days_to_close`       8       median days to close (log-linear)
:func:`_transactions`        9       counts by channel and cost per transaction
:func:`_assemble_panel`      -       the ``service_panel`` table
:func:`_potential_outcomes`  -       the transferred service's ``*_y0`` and ``*_y1``
``make_takeup``              11      take-up by age group and gender (:mod:`.takeup`)
``make_indicators``          12      iData / iMeta (:mod:`.indicators`)
``make_truth``               -       ``truth.json`` (:mod:`.truth`)
===========================  ======  ============================================================
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ucc_research.cleaning.schemas import FEATURES_BINARY, SERVICE_FEATURES
from ucc_research.demo.catalogue import (
    CITY_NAMES,
    COUNTRY_CONTEXT,
    DEFAULT_PARAMS,
    DEFAULT_SEED,
    SERVICE_CATALOGUE,
    SIMULATED_CHANNELS,
    expit,
    logit,
    merge_params,
    rng,
)
from ucc_research.demo.data import DemoData
from ucc_research.demo.indicators import make_indicators
from ucc_research.demo.takeup import make_takeup
from ucc_research.demo.truth import make_truth
from ucc_research.errors import SpecError


@dataclass(frozen=True)
class _Calendar:
    """Monthly periods ``first``-01 .. ``last``-12 and their month index, year and month."""

    first: int
    last: int
    periods: list[str]
    t: np.ndarray
    year: np.ndarray
    month: np.ndarray

    @classmethod
    def of(cls, first: int, last: int) -> _Calendar:
        periods = [f"{y}-{m:02d}" for y in range(first, last + 1) for m in range(1, 13)]
        t = np.arange(len(periods))
        return cls(first, last, periods, t, first + t // 12, t % 12 + 1)


def generate(
    seed: int = DEFAULT_SEED,
    n_cities: int = 36,
    n_services: int = 20,
    years: tuple[int, int] = (2018, 2025),
    noise: float = 1.0,
    cohorts: Sequence[int] | None = None,
    population_scale: float = 1.0,
    params: dict | None = None,
) -> DemoData:
    """Generate the SYNTHETIC demo panel and its truth.

    Parameters
    ----------
    seed : int
        Seed of every random draw; the same arguments give identical tables.
    n_cities : int
        Number of fictional cities (at least 6); city names cycle through 10 countries.
    n_services : int
        Number of services (1-20), taken in catalogue order; the transferred service
        (``FAM-BENEFIT``) is always included.
    years : (first, last)
        Monthly periods from ``first``-01 to ``last``-12.
    noise : float
        Multiplier of every random standard deviation of the model: city, city-service and
        residual effects, city trends, the heterogeneity of the transfer effect (0 removes
        them all; the sampling noise of the counts remains, see ``population_scale``). The
        country context covariates and the feature roll-outs are drawn as usual.
    cohorts : sequence of int, optional
        Adoption years (January) of the transferred good practice; default up to four years
        from ``first + 2`` to ``last - 2`` (2020-2023 for 2018-2025).
    population_scale : float
        Multiplies every city's population (and so the transaction counts); large values make
        the observed shares close to their expectations.
    params : dict, optional
        Overrides of :data:`DEFAULT_PARAMS` (nested, e.g.
        ``{"digital_share": {"beta": {"proactive": 0.1}}}``).

    Returns
    -------
    DemoData

    Examples
    --------
    >>> d = generate(seed=1, n_cities=8, n_services=4, years=(2018, 2021))
    >>> d.service_panel["synthetic"].all()
    np.True_
    """
    seed, n_cities, cal, cohort_years, P, args = _check_args(
        seed, n_cities, n_services, years, noise, cohorts, population_scale, params
    )
    cities = _make_cities(seed, n_cities, population_scale)
    services = _make_services(n_services, P["good_practice"]["service_id"])
    C, S, T = len(cities), len(services), len(cal.periods)
    city = _city_effects(seed, P["digital_share"], cities, S, noise)
    X = _make_features(seed, P["features"], city["maturity"], C, S, T)
    k_mult = list(P["transfer_effect"]["cohort_multiplier"])
    adoption = _assign_adoption(seed, cities, P["good_practice"], cohort_years, cal.first, k_mult)
    transfer = _transfer_effects(seed, P["transfer_effect"], adoption, cal, noise)
    is_tr = services["good_practice_transferred"].to_numpy(dtype=bool)
    share = _digital_share(seed, P["digital_share"], cal, services, city, X, transfer, is_tr, noise)
    sat = _satisfaction(seed, P["satisfaction"], cal, services, X, transfer, is_tr, noise)
    comp = _completion(seed, P["completion_rate"], C, S, X, noise)
    days = _days_to_close(seed, P["days_to_close"], services, C, X, noise)
    tx = _transactions(seed, P, cal, cities, services, X, share["p"], noise)
    outcomes = {"completion": comp["completion"], "sat": sat["sat"], "days": days["days"]}
    panel = _assemble_panel(cal, cities, services, X, tx, outcomes, adoption, is_tr)
    po = _potential_outcomes(cal, cities, services, adoption, transfer, share, sat, P)
    takeup, divide_truth = make_takeup(seed, P["divide"], cities, services, panel, X, cal.year)
    idata, imeta = make_indicators(seed, cities, panel, takeup)
    draws = {"city": city, "transfer": transfer, "share": share, "sat": sat, "comp": comp}
    truth = make_truth(
        P, seed, args, cities, services, adoption, X, {**draws, "days": days, "tx": tx}, po
    )
    truth["true_effects"]["digital_divide"].update(divide_truth)
    return DemoData(cities, services, panel, takeup, idata, imeta, po, truth)


def _check_args(
    seed: object,
    n_cities: int,
    n_services: int,
    years: tuple[int, int],
    noise: float,
    cohorts: Sequence[int] | None,
    population_scale: float,
    params: dict | None,
) -> tuple[int, int, _Calendar, list[int], dict, dict]:
    """Validate :func:`generate`'s arguments; return the seed, the number of cities, the
    calendar, the cohorts, the parameters and the arguments as ``truth.json`` records them."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise SpecError(f"seed must be a non-negative integer, got {seed!r}")
    first, last = (int(years[0]), int(years[1]))
    if not 2000 <= first <= last <= 2100:
        raise SpecError(f"years must be (first, last) with first <= last, got {years!r}")
    if last - first < 2:
        raise SpecError(f"years {years!r}: need at least three years for the staggered adoption")
    if not 6 <= int(n_cities) <= 500:
        raise SpecError(f"n_cities must be between 6 and 500, got {n_cities!r}")
    if not 1 <= int(n_services) <= len(SERVICE_CATALOGUE):
        raise SpecError(
            f"n_services must be between 1 and {len(SERVICE_CATALOGUE)}, got {n_services!r}"
        )
    if not noise >= 0:
        raise SpecError(f"noise must be >= 0, got {noise!r}")
    if not population_scale > 0:
        raise SpecError(f"population_scale must be > 0, got {population_scale!r}")
    cohort_years = list(cohorts) if cohorts is not None else _default_cohorts(first, last)
    if not cohort_years:
        raise SpecError(f"years {years!r} leave no room for an adoption cohort; pass cohorts=")
    if sorted(set(cohort_years)) != list(cohort_years) or not all(
        first < int(g) <= last for g in cohort_years
    ):
        raise SpecError(
            f"cohorts must be increasing years after {first} and up to {last}, got {cohorts!r}"
        )
    cohort_years = [int(g) for g in cohort_years]
    P = merge_params(DEFAULT_PARAMS, params or {})
    k_mult = list(P["transfer_effect"]["cohort_multiplier"])
    if len(k_mult) < len(cohort_years):
        raise SpecError(
            f"transfer_effect.cohort_multiplier has {len(k_mult)} values for "
            f"{len(cohort_years)} cohorts"
        )
    args = {
        "n_cities": int(n_cities),
        "n_services": int(n_services),
        "years": [first, last],
        "noise": noise,
        "cohorts": cohort_years,
        "population_scale": population_scale,
    }
    return int(seed), int(n_cities), _Calendar.of(first, last), cohort_years, P, args


def _default_cohorts(first: int, last: int) -> list[int]:
    """At least two pre-treatment years and, where the panel allows it, two post-treatment years."""
    years = list(range(first + 2, max(first + 2, last - 2) + 1))
    if len(years) > 4:  # spread four cohorts over the window
        idx = np.linspace(0, len(years) - 1, 4).round().astype(int)
        years = [years[i] for i in idx]
    return years


def _city_names(n: int) -> tuple[list[str], list[str]]:
    """``n`` fictional names and their countries, cycling through the countries."""
    countries = list(CITY_NAMES)
    names, iso = [], []
    per_country = len(CITY_NAMES[countries[0]])
    for i in range(n):
        country = countries[i % len(countries)]
        j = (i // len(countries)) % per_country
        rnd = i // (len(countries) * per_country)
        names.append(CITY_NAMES[country][j] + (f" {rnd + 1}" if rnd else ""))
        iso.append(country)
    return names, iso


def _make_cities(seed: int, n: int, population_scale: float) -> pd.DataFrame:
    """Cities: lognormal population, country context plus a city deviation."""
    r = rng(seed, 1)
    names, iso = _city_names(n)
    ctx = np.array([COUNTRY_CONTEXT[c] for c in iso])
    pop = np.exp(r.normal(np.log(150_000), 1.0, n)).clip(40_000, 2_500_000) * population_scale
    internet = np.clip(ctx[:, 0] + r.normal(0, 0.025, n), 0.6, 0.995)
    skills = np.clip(ctx[:, 1] + r.normal(0, 0.05, n), 0.2, 0.95)
    old = np.clip(ctx[:, 2] + r.normal(0, 0.025, n), 0.10, 0.35)
    pop = np.maximum(np.round(pop, -1), 10).astype("int64")
    size = np.where(pop < 100_000, "S", np.where(pop < 500_000, "M", "L"))
    return pd.DataFrame(
        {
            "city_id": pd.array([f"DEMO-{i + 1:03d}" for i in range(n)], dtype="str"),
            "name": pd.array(names, dtype="str"),
            "country": pd.array(iso, dtype="str"),
            "population": pop,
            "internet_use": internet.round(4),
            "share_65plus": old.round(4),
            "digital_skills": skills.round(4),
            "size_class": pd.array(size, dtype="str"),
            "synthetic": True,
            "unit_type": pd.array(["city"] * n, dtype="str"),
            "source": pd.array(["demo"] * n, dtype="str"),
        }
    )


def _make_services(n: int, transferred: str) -> pd.DataFrame:
    """The first ``n`` catalogue services, always including the transferred one."""
    ids = [s[0] for s in SERVICE_CATALOGUE]
    if transferred not in ids:
        raise SpecError(
            f"good_practice.service_id {transferred!r} is not a demo service; "
            f"known: {', '.join(ids)}"
        )
    rows = [s for s in SERVICE_CATALOGUE if s[0] == transferred]
    rows += [s for s in SERVICE_CATALOGUE if s[0] != transferred][: n - 1]
    rows.sort(key=lambda s: ids.index(s[0]))
    df = pd.DataFrame(
        [
            {
                "service_id": s[0],
                "service_name": s[1],
                "life_event": s[2],
                "base_share": s[3],
                "base_satisfaction": float(s[4]),
                "rate_per_capita_month": s[5],
                "base_days": float(s[6]),
                "age_profile_18_34": s[7][0],
                "age_profile_35_64": s[7][1],
                "age_profile_65plus": s[7][2],
                "female_share": s[8],
                "phone_share": s[9],
                "mail_share": s[10],
                "good_practice_transferred": s[0] == transferred,
                "synthetic": True,
            }
            for s in rows
        ]
    )
    for col in ["service_id", "service_name", "life_event"]:
        df[col] = df[col].astype("str")
    return df


def _city_effects(seed: int, ds: dict, cities: pd.DataFrame, S: int, noise: float) -> dict:
    """City effect ``a_c`` (context covariates, centred, plus a random part), city trend ``r_c``,
    city-service effect ``v_cs`` and the city's standardised maturity."""
    cen = ds["city"]["centre"]
    C = len(cities)
    r = rng(seed, 2)
    a_city_random = r.normal(0, ds["city"]["sd_random"] * noise, C)
    a_city = (
        ds["city"]["internet_use"] * (cities["internet_use"].to_numpy() - cen["internet_use"])
        + ds["city"]["digital_skills"]
        * (cities["digital_skills"].to_numpy() - cen["digital_skills"])
        + ds["city"]["share_65plus"] * (cities["share_65plus"].to_numpy() - cen["share_65plus"])
        + a_city_random
    )
    r_city = r.normal(0, ds["sd_city_trend_per_year"] * noise, C)
    v_cs = r.normal(0, ds["sd_city_service"] * noise, (C, S))
    maturity = (a_city - a_city.mean()) / (a_city.std() if a_city.std() > 0 else 1.0)
    return {"a_city": a_city, "r_city": r_city, "v_cs": v_cs, "maturity": maturity}


def _make_features(
    seed: int, fp: dict, maturity: np.ndarray, C: int, S: int, T: int
) -> dict[str, np.ndarray]:
    """Roll-out of each feature at its own random month per city-service (independent timing)."""
    r = rng(seed, 3)
    t = np.arange(T)[None, None, :]
    shift = fp["maturity_logit_shift"] * maturity[:, None]
    X: dict[str, np.ndarray] = {}
    for k in FEATURES_BINARY:
        p_start = expit(logit(fp["on_at_start"][k]) + shift)
        p_roll = expit(logit(fp["rolled_out"]) + shift)
        on0 = r.random((C, S)) < p_start
        rolls = r.random((C, S)) < p_roll
        month = r.integers(1, T, (C, S))
        X[k] = (on0[:, :, None] | (rolls[:, :, None] & (t >= month[:, :, None]))).astype(float)
    level0 = np.clip(np.round(1.2 + 0.6 * maturity[:, None] + r.normal(0, 0.8, (C, S))), 0, 3)
    steps = np.zeros((C, S, T))
    for _ in range(4):
        active = r.random((C, S)) < fp["sophistication_step"]
        month = r.integers(1, T, (C, S))
        steps += (active[:, :, None] & (t >= month[:, :, None])).astype(float)
    X["online_sophistication"] = np.minimum(level0[:, :, None] + steps, 4.0)
    return X


def _assign_adoption(
    seed: int, cities: pd.DataFrame, gp: dict, cohort_years: list[int], first: int, k_mult: list
) -> pd.DataFrame:
    """Origin city first; the others in random cohorts (independent of all outcomes) or never."""
    r = rng(seed, 10)
    n = len(cities)
    order = r.permutation(n)
    origin = int(order[0])
    others = order[1:]
    n_never = int(round(gp["never_share"] * len(others)))
    cohort_of = np.full(n, -1)
    mult = np.zeros(n)
    rest = others[n_never:]
    for j, c in enumerate(rest):
        cohort_of[c] = j % len(cohort_years)
    adopt_t = np.full(n, -1)
    adopted_period = np.full(n, None, dtype=object)
    for c in range(n):
        if cohort_of[c] >= 0:
            g = cohort_years[cohort_of[c]]
            adopt_t[c] = (g - first) * 12
            adopted_period[c] = f"{g}-01"
            mult[c] = k_mult[cohort_of[c]]
    om = int(gp["origin_adoption_month"])
    adopt_t[origin] = om - 1
    adopted_period[origin] = f"{first}-{om:02d}"
    mult[origin] = 1.0
    cohort_of_year = np.where(cohort_of >= 0, np.asarray(cohort_years)[np.maximum(cohort_of, 0)], 0)
    cohort_of_year[origin] = first
    return pd.DataFrame(
        {
            "city_id": cities["city_id"],
            "is_origin": np.arange(n) == origin,
            "adopt_t": adopt_t,
            "adopted_period": adopted_period,
            "cohort_year": cohort_of_year,
            "cohort_multiplier": mult,
        }
    )


def _transfer_effects(
    seed: int, te: dict, adoption: pd.DataFrame, cal: _Calendar, noise: float
) -> dict:
    """The practice's effect path, city x month: ``tau_max * k_g * m_c * (1 - exp(-(e+1)/ramp))``
    on the digital share (``tau_ct``) and the same path for satisfaction (``dlt_ct``)."""
    r = rng(seed, 4)
    m_city = np.clip(r.normal(1.0, te["sd_city_multiplier"] * noise, len(adoption)), 0.4, 1.6)
    adopt_t = adoption["adopt_t"].to_numpy()  # -1 = never
    k_city = adoption["cohort_multiplier"].to_numpy()
    e_ct = cal.t[None, :] - adopt_t[:, None]  # months since adoption
    treated_ct = (adopt_t[:, None] >= 0) & (e_ct >= 0)
    ramp = 1.0 - np.exp(-(e_ct + 1) / te["ramp_months"])
    tau_ct = np.where(treated_ct, te["digital_share_max"] * (k_city * m_city)[:, None] * ramp, 0.0)
    dlt_ct = np.where(treated_ct, te["satisfaction_max"] * (k_city * m_city)[:, None] * ramp, 0.0)
    return {
        "m_city": m_city,
        "adopt_t": adopt_t,
        "e_ct": e_ct,
        "treated_ct": treated_ct,
        "tau_ct": tau_ct,
        "dlt_ct": dlt_ct,
    }


def _digital_share(
    seed: int,
    ds: dict,
    cal: _Calendar,
    services: pd.DataFrame,
    city: dict,
    X: dict[str, np.ndarray],
    transfer: dict,
    is_tr: np.ndarray,
    noise: float,
) -> dict:
    """Latent digital share without the practice (``lin0``), with it (``lin``) and clipped (``p``)."""
    t = cal.t
    covid = ((cal.year == 2020) & (cal.month >= 3)) | (cal.year == 2021)
    g_t = ds["trend_per_year"] * t / 12 + ds["covid_bump"] * covid
    r = rng(seed, 5)
    eps = r.normal(0, ds["sd_noise"] * noise, (len(city["a_city"]), len(services), len(t)))
    lin0 = (
        ds["intercept"]
        + city["a_city"][:, None, None]
        + services["base_share"].to_numpy()[None, :, None]
        + city["v_cs"][:, :, None]
        + g_t[None, None, :]
        + city["r_city"][:, None, None] * (t / 12)[None, None, :]
        + sum(ds["beta"][k] * X[k] for k in SERVICE_FEATURES)
        + eps
    )
    lo, hi = ds["clip"]
    tau = np.where(is_tr[None, :, None], transfer["tau_ct"][:, None, :], 0.0)
    lin = lin0 + tau
    return {"lin0": lin0, "lin": lin, "p": np.clip(lin, lo, hi)}


def _satisfaction(
    seed: int,
    sp: dict,
    cal: _Calendar,
    services: pd.DataFrame,
    X: dict[str, np.ndarray],
    transfer: dict,
    is_tr: np.ndarray,
    noise: float,
) -> dict:
    """Satisfaction: intercept + city + service + trend + features + noise (``sat_lin``), plus the
    practice's effect ``dlt`` in the transferred service, clipped to 0-100 (``sat``)."""
    C, S, T = X["proactive"].shape
    r = rng(seed, 6)
    sat_city = r.normal(0, sp["sd_city"] * noise, C)
    sat_lin = (
        sp["intercept"]
        + sat_city[:, None, None]
        + services["base_satisfaction"].to_numpy()[None, :, None]
        + sp["trend_per_year"] * (cal.t / 12)[None, None, :]
        + sum(sp["gamma"][k] * X[k] for k in SERVICE_FEATURES)
        + r.normal(0, sp["sd_noise"] * noise, (C, S, T))
    )
    dlt = np.where(is_tr[None, :, None], transfer["dlt_ct"][:, None, :], 0.0)
    sat = np.clip(sat_lin + dlt, *sp["clip"])
    return {"sat_city": sat_city, "sat_lin": sat_lin, "dlt": dlt, "sat": sat}


def _completion(
    seed: int, cp: dict, C: int, S: int, X: dict[str, np.ndarray], noise: float
) -> dict:
    """Completion rate: logistic in city, service, features and noise."""
    r = rng(seed, 7)
    comp_city = r.normal(0, cp["sd_city"] * noise, C)
    comp_service = r.normal(0, cp["sd_service"] * noise, S)
    lin = (
        cp["intercept"]
        + comp_city[:, None, None]
        + comp_service[None, :, None]
        + sum(cp["kappa"][k] * X[k] for k in SERVICE_FEATURES)
        + r.normal(0, cp["sd_noise"] * noise, X["proactive"].shape)
    )
    return {
        "comp_city": comp_city,
        "comp_service": comp_service,
        "lin": lin,
        "completion": expit(lin),
    }


def _days_to_close(
    seed: int, dp: dict, services: pd.DataFrame, C: int, X: dict[str, np.ndarray], noise: float
) -> dict:
    """Median days to close: log-linear around the service's base."""
    r = rng(seed, 8)
    days_city = r.normal(0, dp["sd_city"] * noise, C)
    log_days = (
        np.log(services["base_days"].to_numpy())[None, :, None]
        + days_city[:, None, None]
        + sum(v * X[k] for k, v in dp["effect"].items())
        + r.normal(0, dp["sd_noise"] * noise, X["proactive"].shape)
    )
    return {"days_city": days_city, "days": np.exp(log_days)}


def _transactions(
    seed: int,
    P: dict,
    cal: _Calendar,
    cities: pd.DataFrame,
    services: pd.DataFrame,
    X: dict[str, np.ndarray],
    p: np.ndarray,
    noise: float,
) -> dict:
    """Transactions ``1 + Poisson(lambda - 1)``, ``digital ~ Binomial(total, p)`` split over the
    channels, and the cost per transaction; one random stream, drawn in this order."""
    r = rng(seed, 9)
    demand = _demand(r, P["demand"], cal, cities, services, noise)
    total = 1 + r.poisson(np.maximum(demand["lam"] - 1, 0))
    digital = r.binomial(total, p)
    counts = _split_channels(r, P["channels"], cal, services, X, total, digital)
    ch = P["channels"]
    price = np.exp(r.normal(0, ch["sd_city_price_level"] * noise, len(cities)))
    cost = sum(ch["unit_cost_eur"][c] * counts[c] for c in SIMULATED_CHANNELS) / total
    cost = (
        cost * price[:, None, None] * np.exp(r.normal(0, ch["sd_cost_noise"] * noise, cost.shape))
    )
    return {
        "total": total,
        "digital": digital,
        "counts": counts,
        "price": price,
        "cost": cost,
        "city_demand": demand["city_demand"],
        "peak": demand["peak"],
    }


def _demand(
    r: np.random.Generator,
    dm: dict,
    cal: _Calendar,
    cities: pd.DataFrame,
    services: pd.DataFrame,
    noise: float,
) -> dict:
    """Expected transactions: population x city demand x service rate x seasonality x growth."""
    city_demand = np.exp(r.normal(0, dm["sd_city_multiplier"] * noise, len(cities)))
    peak = r.integers(1, 13, len(services))
    season = 1 + dm["seasonal_amplitude"] * np.cos(
        2 * np.pi * (cal.month[None, :] - peak[:, None]) / 12
    )
    growth = (1 + dm["growth_per_year"]) ** (cal.t / 12)
    lam = (
        cities["population"].to_numpy()[:, None, None]
        * city_demand[:, None, None]
        * services["rate_per_capita_month"].to_numpy()[None, :, None]
        * season[None, :, :]
        * growth[None, None, :]
    )
    return {"city_demand": city_demand, "peak": peak, "lam": lam}


def _split_channels(
    r: np.random.Generator,
    ch: dict,
    cal: _Calendar,
    services: pd.DataFrame,
    X: dict[str, np.ndarray],
    total: np.ndarray,
    digital: np.ndarray,
) -> dict[str, np.ndarray]:
    """Digital into mobile app / email / web, the rest into phone / mail / in person."""
    q_mob = np.clip(
        ch["mobile_of_digital"]["base"]
        + ch["mobile_of_digital"]["mobile_friendly"] * X["mobile_friendly"]
        + ch["mobile_of_digital"]["per_year"] * (cal.t / 12)[None, None, :],
        0,
        0.85,
    )
    q_email = ch["email_of_digital"]
    mobile = r.binomial(digital, q_mob)
    email = r.binomial(digital - mobile, np.clip(q_email / (1 - q_mob), 0, 1))
    nondigital = total - digital
    ph = services["phone_share"].to_numpy()[None, :, None]
    ml = services["mail_share"].to_numpy()[None, :, None]
    phone = r.binomial(nondigital, np.broadcast_to(ph, nondigital.shape))
    mail = r.binomial(nondigital - phone, np.broadcast_to(ml / (1 - ph), nondigital.shape))
    return {
        "web": digital - mobile - email,
        "mobile_app": mobile,
        "phone": phone,
        "in_person": nondigital - phone - mail,
        "email": email,
        "mail": mail,
    }


def _assemble_panel(
    cal: _Calendar,
    cities: pd.DataFrame,
    services: pd.DataFrame,
    X: dict[str, np.ndarray],
    tx: dict,
    outcomes: dict[str, np.ndarray],
    adoption: pd.DataFrame,
    is_tr: np.ndarray,
) -> pd.DataFrame:
    """The ``service_panel`` table, rows ordered by city, service, period."""
    C, S = len(cities), len(services)
    idx_c, idx_s, idx_t = np.meshgrid(np.arange(C), np.arange(S), cal.t, indexing="ij")
    idx_c, idx_s, idx_t = idx_c.ravel(), idx_s.ravel(), idx_t.ravel()
    adopted = adoption["adopted_period"].to_numpy(dtype=object)
    adopt_t = adoption["adopt_t"].to_numpy()
    origin_id = adoption.loc[adoption["is_origin"], "city_id"].iloc[0]
    tr_row = is_tr[idx_s] & (adopt_t[idx_c] >= 0)
    from_row = tr_row & ~adoption["is_origin"].to_numpy()[idx_c]
    panel = pd.DataFrame(
        {
            "city_id": cities["city_id"].to_numpy()[idx_c],
            "service_id": services["service_id"].to_numpy()[idx_s],
            "period": np.asarray(cal.periods)[idx_t],
            "service_name": services["service_name"].to_numpy()[idx_s],
            "life_event": services["life_event"].to_numpy()[idx_s],
        }
    )
    for k in SERVICE_FEATURES:
        panel[k] = X[k].ravel().astype(float)
    total, digital = tx["total"], tx["digital"]
    panel["transactions_total"] = total.ravel().astype("int64")
    for c in SIMULATED_CHANNELS:
        panel[f"transactions_{c}"] = tx["counts"][c].ravel().astype("int64")
    panel["transactions_digital"] = digital.ravel().astype("int64")
    panel["digital_share"] = (digital / total).ravel().round(6)
    panel["completion_rate"] = outcomes["completion"].ravel().round(4)
    panel["satisfaction"] = outcomes["sat"].ravel().round(2)
    panel["cost_per_transaction"] = tx["cost"].ravel().round(2)
    panel["days_to_close_median"] = outcomes["days"].ravel().round(1)
    panel["adopted_period"] = pd.Series(np.where(tr_row, adopted[idx_c], None), dtype="str")
    panel["transferred_from"] = pd.Series(np.where(from_row, origin_id, None), dtype="str")
    panel["synthetic"] = True
    panel["source"] = "demo"
    for col in ["city_id", "service_id", "period", "service_name", "life_event", "source"]:
        panel[col] = panel[col].astype("str")
    return panel


def _potential_outcomes(
    cal: _Calendar,
    cities: pd.DataFrame,
    services: pd.DataFrame,
    adoption: pd.DataFrame,
    transfer: dict,
    share: dict,
    sat: dict,
    P: dict,
) -> pd.DataFrame:
    """The transferred service's outcomes without (``*_y0``) and with (``*_y1``) the practice,
    city x month, before sampling noise (the truth behind every ATT)."""
    C, T = len(cities), len(cal.periods)
    s_tr = int(np.flatnonzero(services["good_practice_transferred"].to_numpy())[0])
    lo, hi = P["digital_share"]["clip"]
    sclip = P["satisfaction"]["clip"]
    lin0, sat_lin = share["lin0"][:, s_tr, :], sat["sat_lin"][:, s_tr, :]
    adopt_t = transfer["adopt_t"]
    po = pd.DataFrame(
        {
            "city_id": np.repeat(cities["city_id"].to_numpy(), T),
            "service_id": services["service_id"].iloc[s_tr],
            "period": np.tile(cal.periods, C),
            "year": np.tile(cal.year, C),
            "adopted_period": np.repeat(adoption["adopted_period"].to_numpy(dtype=object), T),
            "is_origin": np.repeat(adoption["is_origin"].to_numpy(), T),
            "event_time_months": pd.Series(transfer["e_ct"].ravel(), dtype="Int64").mask(
                np.repeat(adopt_t < 0, T)
            ),
            "treated": transfer["treated_ct"].ravel(),
            "digital_share_y0": np.clip(lin0, lo, hi).ravel(),
            "digital_share_y1": np.clip(lin0 + transfer["tau_ct"], lo, hi).ravel(),
            "satisfaction_y0": np.clip(sat_lin, *sclip).ravel(),
            "satisfaction_y1": np.clip(sat_lin + transfer["dlt_ct"], *sclip).ravel(),
            "synthetic": True,
        }
    )
    po["adopted_period"] = po["adopted_period"].astype("str")
    for col in ["city_id", "service_id", "period"]:
        po[col] = po[col].astype("str")
    return po
