"""What a report cell shows: escaping, numbers for readers, withheld cells, the page wrapper."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ucc_research.reports import analysis
from ucc_research.reports.display import (
    Figure,
    Findings,
    NotShown,
    Table,
    Text,
    esc,
    fmt_number,
    new_figure,
)

HOSTILE = '<img src=x onerror="alert(1)">'


def test_every_display_object_escapes_data():
    t = Table(pd.DataFrame({"city": [HOSTILE], "score": [1.5]}), HOSTILE, note=HOSTILE)
    html = t._repr_html_()
    assert "<img" not in html and html.count(esc(HOSTILE)) == 3
    assert "<img" not in Text("{x} is here", x=HOSTILE)._repr_html_()
    assert "<img" not in NotShown(HOSTILE)._repr_html_()
    assert "<img" not in Findings([Text("{x}", x=HOSTILE)])._repr_html_()
    fig, ax = new_figure()
    ax.plot([0, 1], [0, 1])
    shown = Figure(fig, alt=f"A line rising for {HOSTILE}")._repr_html_()
    assert shown.count("<img") == 1 and 'alt="A line rising for &lt;img' in shown


def test_numbers_for_readers():
    assert fmt_number(0.0448123) == "0.0448"
    assert fmt_number(1234.56) == "1,235"
    assert fmt_number(-0.0000001) == "0"  # no "-0" and no scientific notation
    assert fmt_number(np.int64(7)) == "7"
    html = Table(pd.DataFrame({"rank": [3.0], "n": [12.0], "p-value": [1e-9]}))._repr_html_()
    assert '<td class="num">3</td>' in html and '<td class="num">12</td>' in html
    assert "&lt;0.001" in html
    assert "<th" in html and "index" not in html.lower()  # no pandas row index


def test_a_figure_needs_alt_text_that_says_something():
    fig, _ = new_figure()
    with pytest.raises(ValueError, match="alt text"):
        Figure(fig, alt="figure")


def test_not_shown_is_one_sentence():
    html = NotShown("the data has no take-up by age group.")._repr_html_()
    assert html.endswith("the data has no take-up by age group.</p>")
    assert html.count(".") == 1


def _latest(city, service, share, n):
    return {
        "city_id": city,
        "service_id": service,
        "service_name": service.title(),
        "period": "2020-12",
        "first_period": "2020-01",
        "digital_share": share,
        "transactions_total": n,
    }


def test_service_comparison_withholds_small_cells_and_thin_bands():
    latest = pd.DataFrame(
        [_latest("A", "s1", 0.5, 100), _latest("A", "s2", 0.9, 12)]
        + [_latest(c, "s1", v, 50) for c, v in (("B", 0.2), ("C", 0.4), ("D", 0.6))]
        + [_latest(c, "s2", v, 50) for c, v in (("B", 0.3), ("C", 0.5))]
        + [_latest("E", "s1", 1.0, 5)]  # too few transactions: not in anyone's band
    )
    out = analysis.service_comparison(
        latest[latest["city_id"] == "A"], latest, min_n=30, min_cities=3
    ).set_index("service")
    assert out.at["S1", "digital share %"] == pytest.approx(50)
    assert out.at["S1", "others p25"] == pytest.approx(100 * np.quantile([0.2, 0.4, 0.6], 0.25))
    assert out.at["S1", "other cities"] == 3  # E's 5 transactions do not count
    assert np.isnan(out.at["S2", "digital share %"])  # 12 < 30 transactions: withheld
    assert np.isnan(out.at["S2", "others p25"])  # 2 other cities < 3: no band


def test_latest_outcomes_pool_the_last_twelve_months():
    periods = pd.period_range("2019-01", "2020-12", freq="M").astype(str)
    rng = np.random.default_rng(3)
    tot = rng.integers(10, 50, len(periods)).astype(float)
    dig = np.floor(tot * rng.uniform(0.1, 0.9, len(periods)))
    panel = pd.DataFrame(
        {
            "city_id": "A",
            "service_id": "s",
            "period": periods,
            "transactions_total": tot,
            "transactions_digital": dig,
            "digital_share": dig / tot,
            "satisfaction": rng.uniform(50, 90, 24),
        }
    )
    row = analysis.latest_service_outcomes(panel).iloc[0]
    assert row["period"] == "2020-12" and row["first_period"] == "2020-01"
    assert row["digital_share"] == pytest.approx(dig[12:].sum() / tot[12:].sum())
    assert row["transactions_total"] == tot[12:].sum()
    assert row["satisfaction"] == pytest.approx(panel["satisfaction"].iloc[12:].mean())
