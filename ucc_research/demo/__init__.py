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

Layout
------
:mod:`.catalogue` the fixed catalogue and :data:`DEFAULT_PARAMS`; :mod:`.model` the generator
(:func:`generate`, one function per sub-model); :mod:`.takeup` and :mod:`.indicators` the
group take-up and the iData/iMeta tables; :mod:`.truth` the true effects and
:func:`transfer_panel`; :mod:`.readme` the folder's README (prose in
``templates/README.md.in``); :mod:`.files` writing and loading; :mod:`.cli` ``ucc demo``.

Examples
--------
>>> from ucc_research import demo
>>> d = demo.generate(seed=1, n_cities=6, n_services=2, years=(2018, 2020))
>>> sorted(d.service_panel["service_id"].unique())
['FAM-BENEFIT', 'MOV-ADDR']
"""

from __future__ import annotations

from ucc_research.demo.catalogue import (
    AGE_GROUPS,
    DEFAULT_PARAMS,
    DEFAULT_SEED,
    GENDERS,
    LIFE_EVENTS,
    SIMULATED_CHANNELS,
)
from ucc_research.demo.cli import cli_demo
from ucc_research.demo.data import DemoData
from ucc_research.demo.files import FILES, load, write_demo
from ucc_research.demo.model import generate
from ucc_research.demo.truth import _transfer_level as _transfer_level
from ucc_research.demo.truth import transfer_panel, transfer_truth

__all__ = [
    "AGE_GROUPS",
    "DEFAULT_PARAMS",
    "DEFAULT_SEED",
    "FILES",
    "GENDERS",
    "LIFE_EVENTS",
    "SIMULATED_CHANNELS",
    "DemoData",
    "cli_demo",
    "generate",
    "load",
    "transfer_panel",
    "transfer_truth",
    "write_demo",
]
# ``_transfer_level`` stays importable from here for benchmarks/sim_transfer_synth.py.
