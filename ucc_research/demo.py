"""The SYNTHETIC demo panel: fictional cities' e-services from a documented model with known truth.

No public data set has per-city e-service transactions across many European cities, so the
project ships a clearly synthetic panel (``ucc demo``, ``data/raw/demo/``) whose data-generating
process is written down and whose true effects are known, so that every estimator can be checked
against the truth.

The model (all parameters are in :data:`DEFAULT_PARAMS` and in ``truth.json``)
-----------------------------------------------------------------------------
For city ``c``, service ``s`` and month ``t`` (features ``x_k`` change over time):

- digital share (linear on the share scale, clipped to ``[share_lo, share_hi]``, which is rare)::

      p = clip(a_c + a_s + v_cs + g(t) + r_c * t/12 + sum_k beta_k x_k + D tau_c(e) + eps)

  with ``a_c`` the city effect (from internet use, digital skills, share aged 65+ and a random
  part), ``a_s`` the service base share, ``v_cs`` a city-service effect, ``g(t)`` a common trend
  and COVID bump, ``r_c`` a small city-specific trend, ``D`` the indicator of the transferred
  good practice (only in the transferred service, from the adoption month on), ``e`` the months
  since adoption and ``tau_c(e) = tau_max * k_g * m_c * (1 - exp(-(e + 1) / ramp))`` its
  dynamic effect (cohort multiplier ``k_g``, city multiplier ``m_c`` with mean 1).
- transactions: ``total = 1 + Poisson(lambda - 1)``, ``lambda`` = population x service rate x
  seasonality x growth; ``digital ~ Binomial(total, p)`` split into web / mobile app / email, the
  rest into phone / in person / mail. The reported ``digital_share`` is ``digital / total``,
  whose expectation is ``p``.
- satisfaction (0-100, clipped): ``55 + city + service + trend + sum gamma_k x_k + D delta_c(e)
  + noise``; completion rate: logistic; cost per transaction: channel unit costs x city price
  level; days to close: log-linear.
- take-up by age group and gender (annual): the group digital share is the year's share plus a
  known gap; the 65+ gap is ``gap65 + sum_k narrow_k xbar_k`` (accessibility and proactive
  delivery narrow it, eID login widens it), women aged 65+ have an extra gap.
- the good practice is adopted by an origin city first and by the other cities in staggered
  January cohorts assigned at random (independent of every outcome), so parallel trends hold
  by construction; some cities never adopt.

True effects are given both as structural parameters and as the average effects an estimator
targets (computed from the generated potential outcomes, so they include the rare clipping).
"""

from __future__ import annotations

import argparse
import copy
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ucc_research import io
from ucc_research.cleaning.schemas import SERVICE_FEATURES
from ucc_research.errors import SpecError

__all__ = [
    "AGE_GROUPS",
    "DEFAULT_PARAMS",
    "DEFAULT_SEED",
    "FEATURES",
    "CHANNELS",
    "FILES",
    "LIFE_EVENTS",
    "DemoData",
    "generate",
    "load",
    "transfer_panel",
    "transfer_truth",
    "write_demo",
    "cli_demo",
]

DEFAULT_SEED = 20240601

#: Service features in the panel; all 0/1 except ``online_sophistication`` (0-4).
FEATURES = list(SERVICE_FEATURES)
BINARY_FEATURES = FEATURES[1:]
CHANNELS = ["web", "mobile_app", "phone", "in_person", "email", "mail"]
AGE_GROUPS = ["18-34", "35-64", "65+"]
GENDERS = ["female", "male"]
LIFE_EVENTS = [
    "moving",
    "family",
    "business",
    "mobility",
    "waste",
    "tax",
    "participation",
    "health",
]

# Fictional city names (puns on "example", "fiction", "test", "mock" in the country's language),
# chosen so that none can be mistaken for a real place. Countries are real (ISO 3166-1 alpha-2).
_CITY_NAMES: dict[str, list[str]] = {
    "DE": ["Beispielfurt", "Fiktivhausen", "Mockenburg", "Synthstadt", "Erfundingen"],
    "FR": ["Simulaville", "Fauxbourg-les-Données", "Fictionnac", "Exemplons-sur-Test", "Imaginoux"],
    "IT": ["Finzionia", "Esempiano", "Simulacro Alto", "Immaginola", "Fittizia Marina"],
    "ES": ["Ficticia del Mar", "Simulancia", "Ejemplar de los Datos", "Inventoria", "Fingidilla"],
    "NL": ["Nepdam", "Proefwijk", "Verzinhoven", "Voorbeeldrecht", "Fictiezijl"],
    "SE": ["Mockholm", "Exempelby", "Påhittsala", "Låtsasköping", "Fiktivstad"],
    "PL": ["Fikcjowo", "Przykładzin", "Udawanów", "Testogród", "Symulacjów"],
    "PT": ["Simuleira", "Fingimento", "Exemplarés", "Inventada do Norte", "Ficticiana"],
    "FI": ["Esimerkkilä", "Keksintälä", "Kuvitelmala", "Simulaatiola", "Datalahti-Demo"],
    "AT": ["Fiktivbrunn", "Testalpen", "Beispielsdorf am Demo", "Attrappenau", "Erfundenstein"],
}
# Country context: internet use, at least basic digital skills, share aged 65+ (rounded,
# Eurostat-like levels; the cities themselves are fictional).
_COUNTRY_CONTEXT: dict[str, tuple[float, float, float]] = {
    "DE": (0.92, 0.52, 0.22),
    "FR": (0.90, 0.60, 0.21),
    "IT": (0.86, 0.46, 0.24),
    "ES": (0.94, 0.66, 0.20),
    "NL": (0.97, 0.80, 0.20),
    "SE": (0.96, 0.67, 0.20),
    "PL": (0.87, 0.44, 0.19),
    "PT": (0.85, 0.56, 0.24),
    "FI": (0.95, 0.82, 0.23),
    "AT": (0.92, 0.64, 0.19),
}

# One row per service: id, name, life event, base digital share, base satisfaction offset,
# transactions per inhabitant per month, median days to close (base), share of users by age
# group (18-34, 35-64, 65+; before the city's 65+ adjustment), share female, phone and mail
# shares of the non-digital channels.
# fmt: off
_SERVICES = [
    ("MOV-ADDR", "Change of address", "moving", 0.22, 2, 0.006, 3, (0.5, 0.38, 0.12), 0.5, 0.3, 0.05),
    ("MOV-RES", "Residence certificate", "moving", 0.18, 0, 0.003, 2, (0.42, 0.44, 0.14), 0.5, 0.25, 0.08),
    ("FAM-BIRTH", "Birth registration", "family", 0.1, 4, 0.0009, 2, (0.45, 0.55, 0.0), 0.6, 0.2, 0.04),
    ("FAM-BENEFIT", "Child benefit application", "family", 0.16, -2, 0.0012, 20, (0.48, 0.52, 0.0), 0.6, 0.35, 0.1),
    ("FAM-CARE", "Childcare place application", "family", 0.2, -4, 0.001, 30, (0.5, 0.5, 0.0), 0.6, 0.3, 0.06),
    ("BUS-REG", "Business registration", "business", 0.24, -3, 0.0008, 7, (0.4, 0.55, 0.05), 0.4, 0.3, 0.06),
    ("BUS-LIC", "Trading licence", "business", 0.15, -5, 0.0004, 25, (0.3, 0.62, 0.08), 0.4, 0.3, 0.1),
    ("BUS-BUILD", "Building permit", "business", 0.12, -8, 0.0005, 60, (0.2, 0.62, 0.18), 0.4, 0.3, 0.15),
    ("MOB-PARK", "Resident parking permit", "mobility", 0.26, 1, 0.004, 5, (0.3, 0.5, 0.2), 0.5, 0.35, 0.05),
    ("MOB-PASS", "Public transport concession pass", "mobility", 0.14, 3, 0.003, 10, (0.35, 0.2, 0.45), 0.6, 0.3, 0.08),
    ("MOB-ROAD", "Report a road defect", "mobility", 0.25, -1, 0.0025, 14, (0.3, 0.5, 0.2), 0.4, 0.55, 0.02),
    ("WAS-BULKY", "Bulky waste collection booking", "waste", 0.24, 5, 0.0035, 9, (0.3, 0.48, 0.22), 0.5, 0.55, 0.03),
    ("WAS-BIN", "Waste container request", "waste", 0.2, 3, 0.0015, 12, (0.25, 0.52, 0.23), 0.5, 0.5, 0.05),
    ("TAX-PROP", "Local property tax payment", "tax", 0.28, 0, 0.005, 1, (0.15, 0.55, 0.3), 0.5, 0.25, 0.2),
    ("TAX-DOG", "Dog tax registration", "tax", 0.18, 2, 0.0006, 4, (0.35, 0.45, 0.2), 0.6, 0.25, 0.15),
    ("PAR-BUDGET", "Participatory budget vote", "participation", 0.3, 4, 0.002, 1, (0.4, 0.45, 0.15), 0.5, 0.1, 0.1),
    ("PAR-CONSULT", "Public consultation comment", "participation", 0.22, -2, 0.001, 45, (0.3, 0.48, 0.22), 0.5, 0.15, 0.25),
    ("HEA-HOME", "Home care request", "health", 0.06, -1, 0.0008, 21, (0.05, 0.25, 0.7), 0.6, 0.45, 0.1),
    ("HEA-DISAB", "Disability card application", "health", 0.09, -3, 0.0006, 35, (0.15, 0.4, 0.45), 0.5, 0.35, 0.2),
    ("HEA-VACC", "Vaccination appointment booking", "health", 0.2, 6, 0.004, 1, (0.3, 0.4, 0.3), 0.55, 0.45, 0.01),
]
# fmt: on
_TRANSFERRED_SERVICE = "FAM-BENEFIT"

#: Every structural parameter of the model. Override any of them with ``generate(params=...)``.
DEFAULT_PARAMS: dict[str, Any] = {
    "good_practice": {
        "service_id": _TRANSFERRED_SERVICE,
        "name": "One-stop 'new baby' journey: child benefit applied for together with the birth "
        "registration, data reused (once-only)",
        "origin_adoption_month": 7,  # the origin city adopts in July of the first year
        "never_share": 0.3,  # share of non-origin cities that never adopt
    },
    "digital_share": {
        "intercept": 0.0,
        "city": {  # a_c = sum coef * (covariate - centre) + N(0, sd_random)
            "internet_use": 0.40,
            "digital_skills": 0.30,
            "share_65plus": -0.50,
            "centre": {"internet_use": 0.91, "digital_skills": 0.60, "share_65plus": 0.21},
            "sd_random": 0.04,
        },
        "sd_city_service": 0.03,
        "trend_per_year": 0.012,
        "covid_bump": 0.03,  # added 2020-03 .. 2021-12
        "sd_city_trend_per_year": 0.003,
        "beta": {
            "online_sophistication": 0.03,  # per level (0-4)
            "mobile_friendly": 0.04,
            "eid_login": 0.05,
            "prefilled_forms": 0.03,
            "proactive": 0.06,
            "status_tracking": 0.02,
            "feedback_channel": 0.0,  # a true null effect
            "accessibility": 0.02,
        },
        "sd_noise": 0.03,
        "clip": [0.02, 0.98],
    },
    "transfer_effect": {
        "digital_share_max": 0.12,  # tau_max
        "satisfaction_max": 6.0,  # delta_max (points)
        "ramp_months": 6.0,
        "cohort_multiplier": [1.0, 1.1, 1.2, 1.3],  # earliest to latest cohort
        "sd_city_multiplier": 0.2,  # m_c ~ N(1, sd) truncated to [0.4, 1.6]
    },
    "satisfaction": {
        "intercept": 55.0,
        "sd_city": 4.0,
        "trend_per_year": 0.3,
        "gamma": {
            "online_sophistication": 1.5,
            "mobile_friendly": 3.0,
            "eid_login": 2.0,
            "prefilled_forms": 4.0,
            "proactive": 5.0,
            "status_tracking": 3.0,
            "feedback_channel": 2.0,
            "accessibility": 2.5,
        },
        "sd_noise": 3.0,
        "clip": [0.0, 100.0],
    },
    "completion_rate": {  # logit scale
        "intercept": 1.3,
        "sd_city": 0.15,
        "sd_service": 0.2,
        "kappa": {
            "online_sophistication": 0.08,
            "mobile_friendly": 0.25,
            "eid_login": 0.2,
            "prefilled_forms": 0.3,
            "proactive": 0.1,
            "status_tracking": 0.05,
            "feedback_channel": 0.0,
            "accessibility": 0.15,
        },
        "sd_noise": 0.15,
    },
    "days_to_close": {  # log scale, relative to the service base
        "effect": {
            "online_sophistication": -0.05,
            "prefilled_forms": -0.15,
            "proactive": -0.25,
            "status_tracking": -0.05,
        },
        "sd_city": 0.15,
        "sd_noise": 0.1,
    },
    "demand": {
        "sd_city_multiplier": 0.1,  # lognormal
        "growth_per_year": 0.02,
        "seasonal_amplitude": 0.15,  # 1 + a * cos(2 pi (month - peak) / 12)
    },
    "channels": {
        "mobile_of_digital": {"base": 0.10, "mobile_friendly": 0.25, "per_year": 0.015},
        "email_of_digital": 0.06,
        "unit_cost_eur": {
            "web": 1.5,
            "mobile_app": 1.2,
            "email": 4.0,
            "phone": 8.0,
            "in_person": 16.0,
            "mail": 12.0,
        },
        "sd_city_price_level": 0.15,  # lognormal
        "sd_cost_noise": 0.05,
    },
    "features": {  # probabilities before the city's maturity shift
        "on_at_start": {
            "mobile_friendly": 0.25,
            "eid_login": 0.20,
            "prefilled_forms": 0.15,
            "proactive": 0.05,
            "status_tracking": 0.20,
            "feedback_channel": 0.25,
            "accessibility": 0.20,
        },
        "rolled_out": 0.6,  # probability that a feature off at the start is rolled out
        "maturity_logit_shift": 0.5,  # x standardised city effect
        "sophistication_step": 0.6,  # probability of each of up to four level increases
    },
    "divide": {
        # log-odds of a digital transaction relative to men aged 35-64 of the same city-service-year
        "gap": {"18-34": 0.25, "35-64": 0.0, "65+": -1.2},
        # added to the 65+ gap per unit of the year's exposure (share of months the feature was on)
        "narrow_65plus": {"accessibility": 0.3, "proactive": 0.25, "eid_login": -0.15},
        "female_65plus": -0.2,
        "female_other": 0.0,
    },
}


@dataclass
class DemoData:
    """The SYNTHETIC demo data set.

    Attributes
    ----------
    cities, services, service_panel, takeup_by_group, idata, imeta : tidy tables
        (see ``data/raw/demo/README.md``).
    potential_outcomes : the transferred service's digital share and satisfaction under no
        adoption (``*_y0``) and adoption (``*_y1``), city x month, without sampling noise.
    truth : every parameter and the true average effects (what ``truth.json`` holds).
    """

    cities: pd.DataFrame
    services: pd.DataFrame
    service_panel: pd.DataFrame
    takeup_by_group: pd.DataFrame
    idata: pd.DataFrame
    imeta: pd.DataFrame
    potential_outcomes: pd.DataFrame
    truth: dict = field(default_factory=dict)


# --------------------------------------------------------------------------------------------
# helpers


def _merge(base: dict, override: dict, path: str = "params") -> dict:
    out = copy.deepcopy(base)
    for key, value in override.items():
        if key not in out:
            raise SpecError(f"{path}: unknown parameter {key!r}; known: {', '.join(out)}")
        if isinstance(out[key], dict) and isinstance(value, dict):
            out[key] = _merge(out[key], value, f"{path}.{key}")
        else:
            out[key] = copy.deepcopy(value)
    return out


def _rng(seed: int, stream: int) -> np.random.Generator:
    # one independent stream per component, so a change in one part leaves the others unchanged
    return np.random.default_rng([seed, stream])


def _logit(p: np.ndarray | float) -> np.ndarray:
    return np.log(p) - np.log1p(-np.asarray(p))


def _expit(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _city_names(n: int) -> tuple[list[str], list[str]]:
    countries = list(_CITY_NAMES)
    names, iso = [], []
    per_country = len(_CITY_NAMES[countries[0]])
    for i in range(n):
        country = countries[i % len(countries)]
        j = (i // len(countries)) % per_country
        rnd = i // (len(countries) * per_country)
        names.append(_CITY_NAMES[country][j] + (f" {rnd + 1}" if rnd else ""))
        iso.append(country)
    return names, iso


def _default_cohorts(first: int, last: int) -> list[int]:
    # at least two pre-treatment years and, where the panel allows it, two post-treatment years
    years = list(range(first + 2, max(first + 2, last - 2) + 1))
    if len(years) > 4:  # spread four cohorts over the window
        idx = np.linspace(0, len(years) - 1, 4).round().astype(int)
        years = [years[i] for i in idx]
    return years


# --------------------------------------------------------------------------------------------
# generation


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
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise SpecError(f"seed must be a non-negative integer, got {seed!r}")
    first, last = (int(years[0]), int(years[1]))
    if not 2000 <= first <= last <= 2100:
        raise SpecError(f"years must be (first, last) with first <= last, got {years!r}")
    if last - first < 2:
        raise SpecError(f"years {years!r}: need at least three years for the staggered adoption")
    if not 6 <= int(n_cities) <= 500:
        raise SpecError(f"n_cities must be between 6 and 500, got {n_cities!r}")
    if not 1 <= int(n_services) <= len(_SERVICES):
        raise SpecError(f"n_services must be between 1 and {len(_SERVICES)}, got {n_services!r}")
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
    P = _merge(DEFAULT_PARAMS, params or {})
    k_mult = list(P["transfer_effect"]["cohort_multiplier"])
    if len(k_mult) < len(cohort_years):
        raise SpecError(
            f"transfer_effect.cohort_multiplier has {len(k_mult)} values for "
            f"{len(cohort_years)} cohorts"
        )
    seed = int(seed)
    n_cities = int(n_cities)

    periods = [f"{y}-{m:02d}" for y in range(first, last + 1) for m in range(1, 13)]
    T = len(periods)
    t_idx = np.arange(T)
    year_of_t = first + t_idx // 12
    month_of_t = t_idx % 12 + 1

    cities = _make_cities(seed, n_cities, population_scale)
    services = _make_services(n_services, P["good_practice"]["service_id"])
    C, S = len(cities), len(services)

    # ---- city effects
    ds = P["digital_share"]
    cen = ds["city"]["centre"]
    r = _rng(seed, 2)
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

    # ---- features (C, S, T)
    X = _make_features(seed, P["features"], maturity, C, S, T)

    # ---- adoption of the good practice
    adoption = _assign_adoption(seed, cities, P["good_practice"], cohort_years, first, k_mult)
    te = P["transfer_effect"]
    r = _rng(seed, 4)
    m_city = np.clip(r.normal(1.0, te["sd_city_multiplier"] * noise, C), 0.4, 1.6)
    adopt_t = adoption["adopt_t"].to_numpy()  # -1 = never
    k_city = adoption["cohort_multiplier"].to_numpy()
    e_ct = t_idx[None, :] - adopt_t[:, None]  # months since adoption
    treated_ct = (adopt_t[:, None] >= 0) & (e_ct >= 0)
    ramp = 1.0 - np.exp(-(e_ct + 1) / te["ramp_months"])
    tau_ct = np.where(treated_ct, te["digital_share_max"] * (k_city * m_city)[:, None] * ramp, 0.0)
    dlt_ct = np.where(treated_ct, te["satisfaction_max"] * (k_city * m_city)[:, None] * ramp, 0.0)
    s_tr = int(np.flatnonzero(services["good_practice_transferred"].to_numpy())[0])
    is_tr_service = np.zeros(S, bool)
    is_tr_service[s_tr] = True

    # ---- digital share (latent, linear)
    covid = ((year_of_t == 2020) & (month_of_t >= 3)) | (year_of_t == 2021)
    g_t = ds["trend_per_year"] * t_idx / 12 + ds["covid_bump"] * covid
    r = _rng(seed, 5)
    eps = r.normal(0, ds["sd_noise"] * noise, (C, S, T))
    lin0 = (
        ds["intercept"]
        + a_city[:, None, None]
        + services["base_share"].to_numpy()[None, :, None]
        + v_cs[:, :, None]
        + g_t[None, None, :]
        + r_city[:, None, None] * (t_idx / 12)[None, None, :]
        + sum(ds["beta"][k] * X[k] for k in FEATURES)
        + eps
    )
    lo, hi = ds["clip"]
    tau = np.where(is_tr_service[None, :, None], tau_ct[:, None, :], 0.0)
    lin = lin0 + tau
    p = np.clip(lin, lo, hi)

    # ---- satisfaction
    sp = P["satisfaction"]
    r = _rng(seed, 6)
    sat_city = r.normal(0, sp["sd_city"] * noise, C)
    sat_lin = (
        sp["intercept"]
        + sat_city[:, None, None]
        + services["base_satisfaction"].to_numpy()[None, :, None]
        + sp["trend_per_year"] * (t_idx / 12)[None, None, :]
        + sum(sp["gamma"][k] * X[k] for k in FEATURES)
        + r.normal(0, sp["sd_noise"] * noise, (C, S, T))
    )
    dlt = np.where(is_tr_service[None, :, None], dlt_ct[:, None, :], 0.0)
    sat = np.clip(sat_lin + dlt, *sp["clip"])

    # ---- completion rate
    cp = P["completion_rate"]
    r = _rng(seed, 7)
    comp_city = r.normal(0, cp["sd_city"] * noise, C)
    comp_service = r.normal(0, cp["sd_service"] * noise, S)
    comp_lin = (
        cp["intercept"]
        + comp_city[:, None, None]
        + comp_service[None, :, None]
        + sum(cp["kappa"][k] * X[k] for k in FEATURES)
        + r.normal(0, cp["sd_noise"] * noise, (C, S, T))
    )
    completion = _expit(comp_lin)

    # ---- days to close
    dp = P["days_to_close"]
    r = _rng(seed, 8)
    days_city = r.normal(0, dp["sd_city"] * noise, C)
    log_days = (
        np.log(services["base_days"].to_numpy())[None, :, None]
        + days_city[:, None, None]
        + sum(v * X[k] for k, v in dp["effect"].items())
        + r.normal(0, dp["sd_noise"] * noise, (C, S, T))
    )
    days = np.exp(log_days)

    # ---- transactions by channel
    dm = P["demand"]
    r = _rng(seed, 9)
    city_demand = np.exp(r.normal(0, dm["sd_city_multiplier"] * noise, C))
    peak = r.integers(1, 13, S)
    season = 1 + dm["seasonal_amplitude"] * np.cos(
        2 * np.pi * (month_of_t[None, :] - peak[:, None]) / 12
    )
    growth = (1 + dm["growth_per_year"]) ** (t_idx / 12)
    lam = (
        cities["population"].to_numpy()[:, None, None]
        * city_demand[:, None, None]
        * services["rate_per_capita_month"].to_numpy()[None, :, None]
        * season[None, :, :]
        * growth[None, None, :]
    )
    total = 1 + r.poisson(np.maximum(lam - 1, 0))
    digital = r.binomial(total, p)
    ch = P["channels"]
    q_mob = np.clip(
        ch["mobile_of_digital"]["base"]
        + ch["mobile_of_digital"]["mobile_friendly"] * X["mobile_friendly"]
        + ch["mobile_of_digital"]["per_year"] * (t_idx / 12)[None, None, :],
        0,
        0.85,
    )
    q_email = ch["email_of_digital"]
    mobile = r.binomial(digital, q_mob)
    email = r.binomial(digital - mobile, np.clip(q_email / (1 - q_mob), 0, 1))
    web = digital - mobile - email
    nondigital = total - digital
    ph = services["phone_share"].to_numpy()[None, :, None]
    ml = services["mail_share"].to_numpy()[None, :, None]
    phone = r.binomial(nondigital, np.broadcast_to(ph, nondigital.shape))
    mail = r.binomial(nondigital - phone, np.broadcast_to(ml / (1 - ph), nondigital.shape))
    in_person = nondigital - phone - mail
    counts = {
        "web": web,
        "mobile_app": mobile,
        "phone": phone,
        "in_person": in_person,
        "email": email,
        "mail": mail,
    }
    price = np.exp(r.normal(0, ch["sd_city_price_level"] * noise, C))
    cost = sum(ch["unit_cost_eur"][c] * counts[c] for c in CHANNELS) / total
    cost = (
        cost * price[:, None, None] * np.exp(r.normal(0, ch["sd_cost_noise"] * noise, cost.shape))
    )

    # ---- assemble the panel (row order: city, service, period)
    idx_c, idx_s, idx_t = np.meshgrid(np.arange(C), np.arange(S), t_idx, indexing="ij")
    idx_c, idx_s, idx_t = idx_c.ravel(), idx_s.ravel(), idx_t.ravel()
    adopted = adoption["adopted_period"].to_numpy(dtype=object)
    origin_id = adoption.loc[adoption["is_origin"], "city_id"].iloc[0]
    tr_row = is_tr_service[idx_s] & (adopt_t[idx_c] >= 0)
    from_row = tr_row & ~adoption["is_origin"].to_numpy()[idx_c]
    panel = pd.DataFrame(
        {
            "city_id": cities["city_id"].to_numpy()[idx_c],
            "service_id": services["service_id"].to_numpy()[idx_s],
            "period": np.asarray(periods)[idx_t],
            "service_name": services["service_name"].to_numpy()[idx_s],
            "life_event": services["life_event"].to_numpy()[idx_s],
        }
    )
    for k in FEATURES:
        panel[k] = X[k].ravel().astype(float)
    panel["transactions_total"] = total.ravel().astype("int64")
    for c in CHANNELS:
        panel[f"transactions_{c}"] = counts[c].ravel().astype("int64")
    panel["transactions_digital"] = digital.ravel().astype("int64")
    panel["digital_share"] = (digital / total).ravel().round(6)
    panel["completion_rate"] = completion.ravel().round(4)
    panel["satisfaction"] = sat.ravel().round(2)
    panel["cost_per_transaction"] = cost.ravel().round(2)
    panel["days_to_close_median"] = days.ravel().round(1)
    panel["adopted_period"] = pd.Series(np.where(tr_row, adopted[idx_c], None), dtype="str")
    panel["transferred_from"] = pd.Series(np.where(from_row, origin_id, None), dtype="str")
    panel["synthetic"] = True
    panel["source"] = "demo"
    for col in ["city_id", "service_id", "period", "service_name", "life_event", "source"]:
        panel[col] = panel[col].astype("str")

    # ---- potential outcomes of the transferred service (no sampling noise)
    po = pd.DataFrame(
        {
            "city_id": np.repeat(cities["city_id"].to_numpy(), T),
            "service_id": services["service_id"].iloc[s_tr],
            "period": np.tile(periods, C),
            "year": np.tile(year_of_t, C),
            "adopted_period": np.repeat(adopted, T),
            "is_origin": np.repeat(adoption["is_origin"].to_numpy(), T),
            "event_time_months": pd.Series(e_ct.ravel(), dtype="Int64").mask(
                np.repeat(adopt_t < 0, T)
            ),
            "treated": treated_ct.ravel(),
            "digital_share_y0": np.clip(lin0[:, s_tr, :], lo, hi).ravel(),
            "digital_share_y1": np.clip(lin0[:, s_tr, :] + tau_ct, lo, hi).ravel(),
            "satisfaction_y0": np.clip(sat_lin[:, s_tr, :], *sp["clip"]).ravel(),
            "satisfaction_y1": np.clip(sat_lin[:, s_tr, :] + dlt_ct, *sp["clip"]).ravel(),
            "synthetic": True,
        }
    )
    po["adopted_period"] = po["adopted_period"].astype("str")
    for col in ["city_id", "service_id", "period"]:
        po[col] = po[col].astype("str")

    takeup, divide_truth = _make_takeup(seed, P["divide"], cities, services, panel, X, year_of_t)
    idata, imeta = _make_indicators(seed, cities, panel, takeup)

    truth = _make_truth(
        P=P,
        seed=seed,
        args={
            "n_cities": n_cities,
            "n_services": S,
            "years": [first, last],
            "noise": noise,
            "cohorts": cohort_years,
            "population_scale": population_scale,
        },
        cities=cities,
        services=services,
        adoption=adoption,
        effects={
            "a_city": a_city,
            "r_city": r_city,
            "m_city": m_city,
            "sat_city": sat_city,
            "comp_city": comp_city,
            "days_city": days_city,
            "demand_city": city_demand,
            "price_city": price,
            "comp_service": comp_service,
            "peak_service": peak,
            "v_cs": v_cs,
        },
        X=X,
        lin=lin,
        sat_lin=sat_lin + dlt,
        comp_lin=comp_lin,
        po=po,
        divide=divide_truth,
    )
    return DemoData(
        cities=cities,
        services=services,
        service_panel=panel,
        takeup_by_group=takeup,
        idata=idata,
        imeta=imeta,
        potential_outcomes=po,
        truth=truth,
    )


def _make_cities(seed: int, n: int, population_scale: float) -> pd.DataFrame:
    r = _rng(seed, 1)
    names, iso = _city_names(n)
    ctx = np.array([_COUNTRY_CONTEXT[c] for c in iso])
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
    if transferred not in [s[0] for s in _SERVICES]:
        raise SpecError(
            f"good_practice.service_id {transferred!r} is not a demo service; "
            f"known: {', '.join(s[0] for s in _SERVICES)}"
        )
    rows = [s for s in _SERVICES if s[0] == transferred]
    rows += [s for s in _SERVICES if s[0] != transferred][: n - 1]
    rows.sort(key=lambda s: [x[0] for x in _SERVICES].index(s[0]))
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


def _make_features(
    seed: int, fp: dict, maturity: np.ndarray, C: int, S: int, T: int
) -> dict[str, np.ndarray]:
    """Roll-out of each feature at its own random month per city-service (independent timing)."""
    r = _rng(seed, 3)
    t = np.arange(T)[None, None, :]
    shift = fp["maturity_logit_shift"] * maturity[:, None]
    X: dict[str, np.ndarray] = {}
    for k in BINARY_FEATURES:
        p_start = _expit(_logit(fp["on_at_start"][k]) + shift)
        p_roll = _expit(_logit(fp["rolled_out"]) + shift)
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
    r = _rng(seed, 10)
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


def _annual(a: np.ndarray, how: str = "sum") -> np.ndarray:
    """(C, S, T) monthly array -> (C, S, Y) annual sums or means."""
    C, S, T = a.shape
    b = a.reshape(C, S, T // 12, 12)
    return b.sum(-1) if how == "sum" else b.mean(-1)


def _make_takeup(
    seed: int,
    dv: dict,
    cities: pd.DataFrame,
    services: pd.DataFrame,
    panel: pd.DataFrame,
    X: dict[str, np.ndarray],
    year_of_t: np.ndarray,
) -> tuple[pd.DataFrame, dict]:
    """Annual users and digital users by age group and gender, with a known digital divide.

    Users of a city-service-year (its transactions) are split over the six groups by a
    multinomial draw. A group's expected digital share is ``expit(L + d_g)``: ``d_g`` is the
    group's known log-odds gap to men aged 35-64 (the 65+ gap moves with the year's feature
    exposure) and ``L`` is solved so that the groups average to the year's observed share.
    The log-odds gap between two groups of a cell is therefore exactly ``d_g - d_h``.
    """
    r = _rng(seed, 11)
    C, S, T = X["proactive"].shape
    Y = T // 12
    total = _annual(panel["transactions_total"].to_numpy().reshape(C, S, T))
    digital = _annual(panel["transactions_digital"].to_numpy().reshape(C, S, T))
    p_year = digital / total
    age = services[["age_profile_18_34", "age_profile_35_64", "age_profile_65plus"]].to_numpy()
    age = np.broadcast_to(age[None], (C, S, 3)).copy()
    age[:, :, 2] *= (cities["share_65plus"].to_numpy() / 0.21)[:, None]
    age = np.maximum(age, 0.01)  # every group has some users (e.g. grandparents as guardians)
    age /= age.sum(-1, keepdims=True)
    fem = services["female_share"].to_numpy()[None, :, None]
    # groups in order: (18-34, f), (18-34, m), (35-64, f), (35-64, m), (65+, f), (65+, m)
    w = np.stack(
        [
            age[:, :, a] * (fem[..., 0] if g == 0 else 1 - fem[..., 0])
            for a in range(3)
            for g in range(2)
        ],
        axis=-1,
    )  # (C, S, 6)
    xbar = {k: _annual(X[k], "mean") for k in dv["narrow_65plus"]}
    w4 = np.broadcast_to(w[:, :, None, :], (C, S, Y, 6))

    def log_odds_gaps(exposure: dict[str, np.ndarray]) -> np.ndarray:
        gap65 = dv["gap"]["65+"] + sum(v * exposure[k] for k, v in dv["narrow_65plus"].items())
        d = np.zeros((C, S, Y, 6))
        d[..., 0] = dv["gap"]["18-34"] + dv["female_other"]
        d[..., 1] = dv["gap"]["18-34"]
        d[..., 2] = dv["gap"]["35-64"] + dv["female_other"]
        d[..., 3] = dv["gap"]["35-64"]
        d[..., 4] = gap65 + dv["female_65plus"]
        d[..., 5] = gap65
        return d

    d = log_odds_gaps(xbar)
    # reference log-odds L (men aged 35-64) such that the user-weighted group shares average to
    # the year's share: solve sum_g w_g expit(L + d_g) = p_year by Newton's method
    target = np.clip(p_year, 1e-4, 1 - 1e-4)
    L = _logit(target)
    for _ in range(50):
        s = _expit(L[..., None] + d)
        f = (w4 * s).sum(-1) - target
        L = L - f / (w4 * s * (1 - s)).sum(-1)
        if np.max(np.abs(f)) < 1e-12:
            break
    p_g = _expit(L[..., None] + d)

    def mean_gap(exposure: dict[str, np.ndarray]) -> float:
        pg = _expit(L[..., None] + log_odds_gaps(exposure))  # 65+ minus 35-64, same gender
        return float(np.mean(pg[..., 4:6] - pg[..., 2:4]))

    truth = {
        "mean_gap_65plus_vs_35_64_share": mean_gap(xbar),
        "average_effect_on_gap_65plus_share": {
            k: mean_gap({**xbar, k: np.ones_like(xbar[k])})
            - mean_gap({**xbar, k: np.zeros_like(xbar[k])})
            for k in dv["narrow_65plus"]
        },
    }
    users = r.multinomial(total, np.ascontiguousarray(w4))
    digital_users = r.binomial(users, p_g)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(users > 0, digital_users / np.maximum(users, 1), np.nan)
    years = year_of_t[::12]
    ic, js, iy, ig = (
        a.ravel()
        for a in np.meshgrid(np.arange(C), np.arange(S), np.arange(Y), np.arange(6), indexing="ij")
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
    return out, truth


# iCode, iName, Parent, Direction, Unit (Level-1 indicators of the demo user-centricity index)
_INDICATORS = [
    ("sup_soph", "Mean online sophistication of services", "SUP", 1, "level 0-4"),
    ("sup_mobile", "Services that are mobile friendly", "SUP", 1, "%"),
    ("sup_eid", "Services with national eID login", "SUP", 1, "%"),
    ("sup_proactive", "Services delivered proactively", "SUP", 1, "%"),
    ("use_digital", "Transactions made digitally", "USE", 1, "%"),
    ("use_app", "Mobile app transactions", "USE", 1, "transactions per year"),
    ("use_inperson", "Transactions made in person", "USE", -1, "%"),
    ("exp_satisf", "Mean user satisfaction", "EXP", 1, "score 0-100"),
    ("exp_complete", "Completion rate of online applications", "EXP", 1, "%"),
    ("exp_days", "Median days to close a request (mean over services)", "EXP", -1, "days"),
    ("exp_codesign", "Co-design sessions held with users", "EXP", 1, "sessions per year"),
    ("inc_gap65", "Digital-share gap, aged 35-64 minus 65+", "INC", -1, "percentage points"),
    ("inc_access", "Services meeting accessibility standards", "INC", 1, "%"),
    ("inc_feedback", "Services with a user feedback channel", "INC", 1, "%"),
]
_PILLARS = [
    ("SUP", "Online supply"),
    ("USE", "Digital take-up"),
    ("EXP", "User experience"),
    ("INC", "Inclusion"),
]


def _make_indicators(
    seed: int, cities: pd.DataFrame, panel: pd.DataFrame, takeup: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """City-year indicators in COINr's iData/iMeta form, computed from the panel.

    ``use_app`` is a raw count with ``population`` as Denominator, ``exp_codesign`` is heavily
    right-skewed (it triggers winsorisation), ``exp_satisf`` and ``exp_codesign`` have missing
    city-years (no survey / not reported).
    """
    r = _rng(seed, 12)
    p = panel.assign(year=panel["period"].str.slice(0, 4).astype("int64"))
    g = p.groupby(["city_id", "year"], sort=True)
    feat = g[
        [
            "online_sophistication",
            "mobile_friendly",
            "eid_login",
            "proactive",
            "accessibility",
            "feedback_channel",
        ]
    ].mean()
    sums = g[
        [
            "transactions_total",
            "transactions_digital",
            "transactions_mobile_app",
            "transactions_in_person",
        ]
    ].sum()
    means = g[["satisfaction", "completion_rate", "days_to_close_median"]].mean()
    tk = takeup[takeup["age_group"].isin(["35-64", "65+"])]
    tk = tk.groupby(["city_id", "year", "age_group"], sort=True)[
        ["digital_users", "population_in_group"]
    ].sum()
    tk_share = (tk["digital_users"] / tk["population_in_group"]).unstack("age_group")
    gap = (tk_share["35-64"] - tk_share["65+"]) * 100
    ind = pd.DataFrame(index=feat.index)
    ind["sup_soph"] = feat["online_sophistication"].round(3)
    ind["sup_mobile"] = (100 * feat["mobile_friendly"]).round(2)
    ind["sup_eid"] = (100 * feat["eid_login"]).round(2)
    ind["sup_proactive"] = (100 * feat["proactive"]).round(2)
    ind["use_digital"] = (100 * sums["transactions_digital"] / sums["transactions_total"]).round(3)
    ind["use_app"] = sums["transactions_mobile_app"].astype(float)
    ind["use_inperson"] = (100 * sums["transactions_in_person"] / sums["transactions_total"]).round(
        3
    )
    ind["exp_satisf"] = means["satisfaction"].round(2)
    ind["exp_complete"] = (100 * means["completion_rate"]).round(2)
    ind["exp_days"] = means["days_to_close_median"].round(2)
    n_c = cities.shape[0]
    years = np.sort(ind.index.get_level_values("year").unique())
    base = np.exp(r.normal(1.0, 1.1, n_c))  # city's co-design intensity: heavy right tail
    lam = base[:, None] * (1 + 0.15 * np.arange(len(years)))[None, :]
    ind["exp_codesign"] = r.poisson(lam).ravel().astype(float)
    ind["inc_gap65"] = gap.reindex(ind.index).round(3)
    ind["inc_access"] = (100 * feat["accessibility"]).round(2)
    ind["inc_feedback"] = (100 * feat["feedback_channel"]).round(2)
    # missing survey / reporting years, at random
    ind.loc[r.random(len(ind)) < 0.08, "exp_satisf"] = np.nan
    ind.loc[r.random(len(ind)) < 0.10, "exp_codesign"] = np.nan
    ind = ind.reset_index()
    c = cities.set_index("city_id")
    idata = pd.DataFrame(
        {
            "uCode": ind["city_id"].astype("str"),
            "uName": c.loc[ind["city_id"], "name"].to_numpy(),
            "Time": ind["year"].astype("int64"),
            "Group_country": c.loc[ind["city_id"], "country"].to_numpy(),
            "Group_size": c.loc[ind["city_id"], "size_class"].to_numpy(),
            "population": c.loc[ind["city_id"], "population"].to_numpy().astype(float),
        }
    )
    for code, *_ in _INDICATORS:
        idata[code] = ind[code].to_numpy()
    for col in ["uName", "Group_country", "Group_size"]:
        idata[col] = idata[col].astype("str")
    rows = []
    for code, name, parent, direction, unit in _INDICATORS:
        rows.append(
            (
                code,
                name,
                1,
                parent,
                direction,
                1.0,
                "Indicator",
                "population" if code == "use_app" else None,
                None,
                unit,
            )
        )
    for code, name in _PILLARS:
        rows.append((code, name, 2, "UCI", 1, 1.0, "Aggregate", None, None, "score"))
    rows.append(
        (
            "UCI",
            "Demo user-centricity index (SYNTHETIC)",
            3,
            None,
            1,
            1.0,
            "Aggregate",
            None,
            None,
            "score",
        )
    )
    rows.append(("Group_country", "Country", None, None, None, None, "Group", None, None, None))
    rows.append(
        (
            "Group_size",
            "City size class (S < 100k, M < 500k, L)",
            None,
            None,
            None,
            None,
            "Group",
            None,
            None,
            None,
        )
    )
    rows.append(
        (
            "population",
            "Population",
            None,
            None,
            None,
            None,
            "Denominator",
            None,
            None,
            "inhabitants",
        )
    )
    imeta = pd.DataFrame(
        rows,
        columns=[
            "iCode",
            "iName",
            "Level",
            "Parent",
            "Direction",
            "Weight",
            "Type",
            "Denominator",
            "Target",
            "Unit",
        ],
    )
    imeta["Level"] = imeta["Level"].astype("Int64")
    imeta["Direction"] = imeta["Direction"].astype("Int64")
    imeta["Weight"] = imeta["Weight"].astype("Float64")
    imeta["Target"] = imeta["Target"].astype("Float64")
    for col in ["iCode", "iName", "Parent", "Type", "Denominator", "Unit"]:
        imeta[col] = imeta[col].astype("str")
    return idata, imeta


# --------------------------------------------------------------------------------------------
# truth


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
        return float(np.mean(_expit(up) - _expit(down)))
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


def _make_truth(
    *,
    P: dict,
    seed: int,
    args: dict,
    cities: pd.DataFrame,
    services: pd.DataFrame,
    adoption: pd.DataFrame,
    effects: dict[str, np.ndarray],
    X: dict[str, np.ndarray],
    lin: np.ndarray,
    sat_lin: np.ndarray,
    comp_lin: np.ndarray,
    po: pd.DataFrame,
    divide: dict,
) -> dict:
    ds, sp, cp = P["digital_share"], P["satisfaction"], P["completion_rate"]
    lo, hi = ds["clip"]
    share_effect, sat_effect, comp_effect = {}, {}, {}
    for k in FEATURES:
        x = None if k == "online_sophistication" else X[k]
        share_effect[k] = _ame(lin, x, ds["beta"][k], lo, hi)
        sat_effect[k] = _ame(sat_lin, x, sp["gamma"][k], *sp["clip"])
        comp_effect[k] = _ame(comp_lin, x, cp["kappa"][k], 0, 1, link="expit")
    origin = adoption.loc[adoption["is_origin"], "city_id"].iloc[0]
    cohorts = {
        str(g): adoption.loc[(adoption["cohort_year"] == g) & ~adoption["is_origin"], "city_id"]
        .astype(str)
        .tolist()
        for g in args["cohorts"]
    }
    never = adoption.loc[adoption["adopt_t"] < 0, "city_id"].astype(str).tolist()
    te = P["transfer_effect"]
    path = [te["digital_share_max"] * (1 - np.exp(-(e + 1) / te["ramp_months"])) for e in range(36)]
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
    clipped = float(np.mean((lin < lo) | (lin > hi)))
    sat_clipped = float(np.mean((sat_lin < sp["clip"][0]) | (sat_lin > sp["clip"][1])))
    stub = DemoData(
        cities=cities,
        services=services,
        service_panel=pd.DataFrame(),
        takeup_by_group=pd.DataFrame(),
        idata=pd.DataFrame(),
        imeta=pd.DataFrame(),
        potential_outcomes=po,
    )
    return {
        "SYNTHETIC": "All data generated by ucc_research.demo; no real city, service or person.",
        "generator": {"function": "ucc_research.demo.generate", "seed": seed, **args},
        "parameters": P,
        "good_practice": {
            "service_id": P["good_practice"]["service_id"],
            "name": P["good_practice"]["name"],
            "origin_city_id": origin,
            "origin_adopted_period": adoption.loc[adoption["is_origin"], "adopted_period"].iloc[0],
            "cohorts": cohorts,
            "never_adopters": never,
            "assignment": "random permutation of the cities, independent of every outcome",
            "effect_path_digital_share_multiplier_1": [float(v) for v in path],
        },
        "cities": city_rows,
        "services": services[
            ["service_id", "life_event", "base_share", "base_satisfaction", "base_days"]
        ]
        .assign(
            service_effect_completion_logit=effects["comp_service"],
            seasonal_peak_month=effects["peak_service"],
        )
        .to_dict("records"),
        "city_service_effects_digital_share": [
            {"city_id": c, "service_id": s_id, "effect": float(effects["v_cs"][i, j])}
            for i, c in enumerate(cities["city_id"])
            for j, s_id in enumerate(services["service_id"])
        ],
        "true_effects": {
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
            "transfer": {
                "year": transfer_truth(stub, "year"),
                "month": transfer_truth(stub, "month"),
            },
            "digital_divide": {
                "scale": "log-odds of a digital transaction, relative to men aged 35-64 of the "
                "same city, service and year",
                "gap_vs_35_64": P["divide"]["gap"],
                "gap_65plus": "gap['65+'] + sum_k narrow_65plus[k] * (share of the year's months "
                "feature k was on); women aged 65+ add female_65plus",
                "narrow_65plus": P["divide"]["narrow_65plus"],
                "female_65plus": P["divide"]["female_65plus"],
                "female_other": P["divide"]["female_other"],
                **divide,
            },
        },
    }


# --------------------------------------------------------------------------------------------
# files

FILES = {
    "cities": "demo_synthetic_cities.csv",
    "services": "demo_synthetic_services.csv",
    "service_panel": "demo_synthetic_service_panel.parquet",
    "takeup_by_group": "demo_synthetic_takeup_by_group.csv",
    "idata": "demo_synthetic_iData.csv",
    "imeta": "demo_synthetic_iMeta.csv",
    "potential_outcomes": "demo_synthetic_potential_outcomes.csv",
}


def _readme(data: DemoData) -> str:
    t = data.truth
    P = t["parameters"]
    g = t["generator"]
    gp = t["good_practice"]
    te = t["true_effects"]
    yr = te["transfer"]["year"]["digital_share"]
    ds = P["digital_share"]
    cc = ds["city"]
    clip_pct = f"{te['digital_share']['clipped_fraction']:.2%}"
    beta = ds["beta"]
    gamma = P["satisfaction"]["gamma"]
    rows = "\n".join(
        f"| `{k}` | {beta[k]:+.3f} | {te['digital_share']['average_effect'][k]:+.4f} | "
        f"{gamma[k]:+.1f} | {te['satisfaction']['average_effect'][k]:+.3f} |"
        for k in FEATURES
    )
    dyn = ", ".join(f"{r['event_time']}: {r['att']:.4f}" for r in yr["att_by_event_time"])
    n_cohort = ", ".join(f"{k}: {len(v)}" for k, v in gp["cohorts"].items())
    return f"""# SYNTHETIC demo data: fictional cities, generated by `ucc demo` (not real data)

Everything in this folder is **synthetic**: {g["n_cities"]} fictional cities (ids `DEMO-...`,
invented names; the countries are real ISO codes used only to give realistic context levels),
{g["n_services"]} services over 8 life events, monthly {g["years"][0]}-01 to {g["years"][1]}-12.
Generated by `ucc_research.demo.generate(seed={g["seed"]})`; `ucc demo --out DIR --seed N`
regenerates it byte for byte. Every parameter and every true effect is in `truth.json`.

## Files
| file | content |
|---|---|
| `{FILES["cities"]}` | one row per city: population, internet use, digital skills, share aged 65+ (shares in [0, 1]), size class |
| `{FILES["services"]}` | the service catalogue and its base parameters |
| `{FILES["service_panel"]}` | city x service x month: 8 features, transactions by channel, digital share, completion, satisfaction, cost, days to close, adoption of the transferred practice |
| `{FILES["takeup_by_group"]}` | city x service x year x age group (18-34, 35-64, 65+) x gender: users and digital users (`digital_share` is empty when a group has no users) |
| `{FILES["idata"]}`, `{FILES["imeta"]}` | city-year user-centricity indicators in COINr's iData/iMeta form (14 indicators, 4 pillars, 1 index) |
| `{FILES["potential_outcomes"]}` | the transferred service's digital share and satisfaction with and without the practice (the truth behind the ATTs) |
| `truth.json` | all parameters, city and service effects, cohorts, true effects |

## Model (city c, service s, month t)
- **Digital share**, linear on the share scale, clipped to {ds["clip"]} ({clip_pct} of rows):
  `p = a_c + a_s + v_cs + g(t) + r_c t/12 + sum_k beta_k x_k + D tau_c(e) + eps`, where the
  city effect `a_c` = {cc["internet_use"]:+} internet use {cc["digital_skills"]:+} digital skills
  {cc["share_65plus"]:+} share 65+ (centred) + N(0, {cc["sd_random"]}); `a_s` the service base
  share; `v_cs` ~ N(0, {ds["sd_city_service"]}); `g(t)` a trend of {ds["trend_per_year"]} a year
  plus a COVID bump of {ds["covid_bump"]} (2020-03 to 2021-12); `r_c` ~ N(0,
  {ds["sd_city_trend_per_year"]}) a city trend; eps ~ N(0, {ds["sd_noise"]}).
- **Transactions**: `1 + Poisson(lambda - 1)` with lambda = population x service rate x
  seasonality x growth; digital ~ Binomial(total, p), split into web / mobile app / email, the
  rest into phone / in person / mail. `digital_share = transactions_digital / transactions_total`.
- **Satisfaction** = {P["satisfaction"]["intercept"]} + city + service + trend + sum gamma_k x_k +
  D delta_c(e) + N(0, {P["satisfaction"]["sd_noise"]}), clipped to 0-100. Completion rate is
  logistic in the features, days to close log-linear, cost per transaction = channel unit costs
  x city price level.
- **Features** roll out at independent random months per city-service (more mature cities
  start with more features: a time-invariant difference that city-service fixed effects
  absorb; pooled OLS without fixed effects is biased upwards on purpose).

| feature | beta (share) | true average effect | gamma (satisfaction) | true average effect |
|---|---|---|---|---|
{rows}

`feedback_channel` has a true null effect on the digital share.

## Transferred good practice
{gp["name"]} in service `{gp["service_id"]}`: origin city `{gp["origin_city_id"]}` adopts in
{gp["origin_adopted_period"]}; the other cities adopt in January cohorts ({n_cohort} cities) assigned at
random, {len(gp["never_adopters"])} never adopt. Effect on the digital share
`tau_c(e) = {P["transfer_effect"]["digital_share_max"]} x k_g x m_c x (1 - exp(-(e + 1) / {P["transfer_effect"]["ramp_months"]}))`
with cohort multipliers `k_g` = {P["transfer_effect"]["cohort_multiplier"][: len(gp["cohorts"])]} and
city multipliers `m_c` ~ N(1, {P["transfer_effect"]["sd_city_multiplier"]}); no anticipation; parallel trends hold by
construction. On the city-year panel (`ucc_research.demo.transfer_panel(data, "year")`,
origin excluded) the true ATT is {yr["overall"]["simple"]:.4f} (simple), {yr["overall"]["dynamic"]:.4f}
(dynamic), {yr["overall"]["group"]:.4f} (group); by event year {dyn}. Late event years
average only the early cohorts, whose multipliers are smaller, hence the dip. Satisfaction
gains up to {P["transfer_effect"]["satisfaction_max"]} points on the same path. Monthly and
satisfaction ATTs are in `truth.json` (`true_effects.transfer`).

## Digital divide (take-up by group)
A group's digital share is `expit(L + d_g)`, with `L` set so that the groups average to the
year's share and `d_g` the log-odds gap to men aged 35-64: {P["divide"]["gap"]}. The 65+ gap
moves by {P["divide"]["narrow_65plus"]} x (share of the year's months the feature was on), so
accessibility and proactive delivery narrow it and eID login widens it; women aged 65+ add
{P["divide"]["female_65plus"]}. On the share scale the mean 65+ minus 35-64 gap is
{te["digital_divide"]["mean_gap_65plus_vs_35_64_share"]:.3f} and the features change it by
{ {k: round(v, 4) for k, v in te["digital_divide"]["average_effect_on_gap_65plus_share"].items()} }.

## Using it
```python
from ucc_research import demo
from ucc_research.impact import staggered_did
d = demo.load()                          # these files (demo.generate() makes them anew)
tp = demo.transfer_panel(d, "year")      # unit, time, cohort (0 = never), outcomes
res = staggered_did(tp, "digital_share", "unit", "time", "cohort")
res.aggregate("simple").overall_att      # vs d.truth["true_effects"]["transfer"]["year"]
```
Feature effects: a regression of `digital_share` on the 8 features with city-service and
month fixed effects targets `true_effects.digital_share.average_effect`. Synthetic control:
take one city of the last cohort (long pre-period) with the never-adopters as donors; its
true effect path is `digital_share_y1 - digital_share_y0` in the potential-outcomes file.

## Indicators (iData/iMeta)
Computed per city and year from the panel. `use_app` is a count with Denominator `population`;
`exp_codesign` is heavily right-skewed (winsorisation); `exp_satisf` and `exp_codesign` have
missing city-years; `use_inperson`, `exp_days` and `inc_gap65` have Direction -1.
"""


def write_demo(
    out_dir: str | Path | None = None, seed: int = DEFAULT_SEED, **kwargs: Any
) -> list[Path]:
    """Generate the SYNTHETIC demo data and write it atomically to ``out_dir``.

    Parameters
    ----------
    out_dir : path, optional
        Output folder (default ``config.raw_dir() / "demo"``).
    seed : int
        Seed passed to :func:`generate`.
    **kwargs
        Other arguments of :func:`generate`.

    Returns
    -------
    list of Path, the files written (tables, ``truth.json``, ``README.md``).
    """
    from ucc_research import config

    out = Path(out_dir) if out_dir is not None else config.raw_dir() / "demo"
    data = generate(seed=seed, **kwargs)
    written = []
    for attr, name in FILES.items():
        df = getattr(data, attr)
        path = out / name
        if name.endswith(".parquet"):
            written.append(io.write_parquet(path, df))
        else:
            written.append(io.write_csv(path, df))
    written.append(io.write_json(out / "truth.json", data.truth))
    written.append(io.write_text(out / "README.md", _readme(data)))
    return written


def load(folder: str | Path | None = None) -> DemoData:
    """Read the SYNTHETIC demo files written by :func:`write_demo` back into a :class:`DemoData`.

    Parameters
    ----------
    folder : path, optional
        Default ``config.raw_dir() / "demo"`` (the shipped files).

    Returns
    -------
    DemoData, with ``truth`` from ``truth.json``.

    Raises
    ------
    DataFileError
        A file is missing (generate the folder with ``ucc demo``).
    """
    import json

    from ucc_research import config
    from ucc_research.errors import DataFileError

    folder = Path(folder) if folder is not None else config.raw_dir() / "demo"
    frames = {}
    for attr, name in FILES.items():
        path = folder / name
        if not path.is_file():
            raise DataFileError(path, "demo file not found; generate the folder with `ucc demo`")
        if name.endswith(".parquet"):
            frames[attr] = pd.read_parquet(path)
        else:
            frames[attr] = pd.read_csv(path, keep_default_na=False, na_values=[""])
    truth_path = folder / "truth.json"
    if not truth_path.is_file():
        raise DataFileError(truth_path, "truth.json not found; generate the folder with `ucc demo`")
    frames["potential_outcomes"]["event_time_months"] = frames["potential_outcomes"][
        "event_time_months"
    ].astype("Int64")
    for col in ("Level", "Direction"):
        frames["imeta"][col] = frames["imeta"][col].astype("Int64")
    for col in ("Weight", "Target"):
        frames["imeta"][col] = frames["imeta"][col].astype("Float64")
    return DemoData(**frames, truth=json.loads(truth_path.read_text(encoding="utf-8")))


def cli_demo(args: argparse.Namespace) -> int:
    """``ucc demo --out DIR [--seed N]``."""
    from ucc_research import config

    out = Path(args.out) if getattr(args, "out", None) else config.raw_dir() / "demo"
    seed = getattr(args, "seed", None)
    paths = write_demo(out, seed=DEFAULT_SEED if seed is None else int(seed))
    total = sum(p.stat().st_size for p in paths)
    print(
        f"SYNTHETIC demo data (seed {seed}) written to {out}: {len(paths)} files, {total / 1e6:.1f} MB"
    )
    for p in paths:
        print(f"  {p.name}")
    return 0
