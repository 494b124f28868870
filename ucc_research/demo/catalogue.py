"""The demo's fixed catalogue and its parameters: cities' countries, services, features, groups.

Everything here is data, not code: the fictional city names, the country context levels, the
service catalogue and :data:`DEFAULT_PARAMS` (every structural parameter of the model, written
to ``truth.json``). The feature and channel vocabularies are the package's own
(:data:`ucc_research.cleaning.schemas.SERVICE_FEATURES`,
:data:`ucc_research.cleaning.channels.CHANNELS`), not copies.

Examples
--------
>>> SIMULATED_CHANNELS
('web', 'mobile_app', 'phone', 'in_person', 'email', 'mail')
>>> merge_params({"a": {"b": 1}}, {"a": {"b": 2}})
{'a': {'b': 2}}
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

from ucc_research.cleaning.channels import CHANNELS
from ucc_research.errors import SpecError

DEFAULT_SEED = 20240601

#: The channels a resident uses in the demo, in the canonical order of
#: :data:`ucc_research.cleaning.channels.CHANNELS`: every channel except the machine, staff and
#: unclassified ones (``api``, ``social``, ``internal``, ``other``, ``unknown``), which the demo
#: does not simulate.
SIMULATED_CHANNELS: tuple[str, ...] = tuple(
    c for c in CHANNELS if c not in {"api", "social", "internal", "other", "unknown"}
)
#: Age groups and genders of the take-up table (``takeup_by_group``).
AGE_GROUPS: tuple[str, ...] = ("18-34", "35-64", "65+")
GENDERS: tuple[str, ...] = ("female", "male")
#: The life events that group the demo's services.
LIFE_EVENTS: tuple[str, ...] = (
    "moving",
    "family",
    "business",
    "mobility",
    "waste",
    "tax",
    "participation",
    "health",
)

# Fictional city names (puns on "example", "fiction", "test", "mock" in the country's language),
# chosen so that none can be mistaken for a real place. Countries are real (ISO 3166-1 alpha-2).
CITY_NAMES: dict[str, list[str]] = {
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
COUNTRY_CONTEXT: dict[str, tuple[float, float, float]] = {
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
SERVICE_CATALOGUE = [
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
TRANSFERRED_SERVICE = "FAM-BENEFIT"

#: Every structural parameter of the model. Override any of them with ``generate(params=...)``.
DEFAULT_PARAMS: dict[str, Any] = {
    "good_practice": {
        "service_id": TRANSFERRED_SERVICE,
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


def merge_params(base: dict, override: dict, path: str = "params") -> dict:
    """A deep copy of ``base`` with the nested ``override`` applied; unknown keys are refused.

    Examples
    --------
    >>> merge_params({"a": 1}, {"b": 2})
    Traceback (most recent call last):
    ...
    ucc_research.errors.SpecError: params: unknown parameter 'b'; known: a
    """
    out = copy.deepcopy(base)
    for key, value in override.items():
        if key not in out:
            raise SpecError(f"{path}: unknown parameter {key!r}; known: {', '.join(out)}")
        if isinstance(out[key], dict) and isinstance(value, dict):
            out[key] = merge_params(out[key], value, f"{path}.{key}")
        else:
            out[key] = copy.deepcopy(value)
    return out


def rng(seed: int, stream: int) -> np.random.Generator:
    """One independent random stream per component, so a change in one leaves the others alone.

    >>> bool(rng(1, 2).random() == rng(1, 2).random() != rng(1, 3).random())
    True
    """
    return np.random.default_rng([seed, stream])


def logit(p: np.ndarray | float) -> np.ndarray:
    """Log-odds of ``p``.

    >>> float(logit(0.5)), round(float(expit(logit(0.2))), 12)
    (0.0, 0.2)
    """
    return np.log(p) - np.log1p(-np.asarray(p))


def expit(x: np.ndarray) -> np.ndarray:
    """Inverse of :func:`logit`.

    >>> expit(np.array([0.0])).tolist()
    [0.5]
    """
    return 1.0 / (1.0 + np.exp(-x))
