"""The demo data set's container, :class:`DemoData`."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd


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

    Examples
    --------
    >>> from ucc_research.demo import generate
    >>> d = generate(seed=1, n_cities=6, n_services=1, years=(2018, 2020))
    >>> d.cities["city_id"].tolist()[:2], d.truth["good_practice"]["service_id"]
    (['DEMO-001', 'DEMO-002'], 'FAM-BENEFIT')
    """

    cities: pd.DataFrame
    services: pd.DataFrame
    service_panel: pd.DataFrame
    takeup_by_group: pd.DataFrame
    idata: pd.DataFrame
    imeta: pd.DataFrame
    potential_outcomes: pd.DataFrame
    truth: dict = field(default_factory=dict)
