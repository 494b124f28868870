"""index.html under attack: hostile unit ids, names, titles, notebook names, error messages and
link targets (tests/hostile.py) rendered by ``render_index`` and opened in headless Chromium."""

from __future__ import annotations

import pandas as pd
import pytest

from tests.hostile import PAYLOADS, texts
from ucc_research.reports.index import write_index
from ucc_research.reports.study import Study


def _flat(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture
def hostile_index(tmp_path, monkeypatch):
    """index.html of a run whose every data-borne string is a payload; and the texts it shows."""
    processed = tmp_path / "processed"
    processed.mkdir()
    monkeypatch.setenv("UCC_PROCESSED_DIR", str(processed))
    payloads = texts()
    n = len(payloads)
    units = [f"{p}" for p in payloads]
    names = [payloads[(i + 7) % n] for i in range(n)]  # a different payload as each unit's name
    pd.DataFrame({"city_id": units, "name": names}).to_parquet(processed / "cities.parquet")
    title = next(p.text for p in PAYLOADS if p.name == "title-break")
    study = Study(
        name="hostile",
        path=tmp_path / "hostile.yml",
        title=title,
        synthetic=True,
        sources=tuple(payloads[:5]),
        tables=("cities",),
        units={"table": "cities", "column": "city_id", "label": payloads[1]},
    )
    links = texts("url") + payloads  # link targets: javascript:, data:, remote, traversal, markup
    reports = {}
    for i, unit in enumerate(units):
        failed = i % 3 == 0
        reports[f"city-{i}"] = {
            "kind": "city",
            "unit": unit,
            "notebook": payloads[(i + 3) % n],
            "status": "failed" if failed else payloads[(i + 5) % n],
            "html": links[i % len(links)],
            "headline": {payloads[(i + 11) % n]: payloads[(i + 13) % n], "score": 0.75},
            "error": payloads[(i + 17) % n] if failed else None,
            "seconds": 1.5,
        }
    for i, notebook in enumerate(payloads[:8]):
        reports[f"study-{i}"] = {
            "kind": "study",
            "unit": None,
            "notebook": notebook,
            "status": "ok" if i % 2 else "failed",
            "html": links[(i + 4) % len(links)],
            "error": payloads[-1 - i],
            "seconds": payloads[i + 1],
        }
    manifest = {"package_version": payloads[2], "data_fingerprint": payloads[0], "reports": reports}
    path = write_index(tmp_path / "out" / "index.html", study, manifest)
    shown = [title, *units, *names, *payloads[:8]]
    return path, shown


def test_hostile_names_in_the_index_run_no_script_and_fetch_nothing(hostile_index, chromium):
    path, _ = hostile_index
    audit = chromium.audit(path)
    assert audit.xss_events == ()
    assert audit.dialogs == ()
    assert audit.blocked_requests == ()
    assert audit.navigations == ()
    assert audit.unsafe_markup == ()
    assert audit.page_errors == ()
    assert [link.href for link in audit.links if link.kind not in ("file", "fragment")] == []


def test_hostile_names_in_the_index_show_as_their_own_text(hostile_index, chromium):
    """Escaped, not dropped: every hostile string is on the page, character for character."""
    path, shown = hostile_index
    audit = chromium.audit(path)
    text = _flat(audit.text)
    missing = [s for s in shown if _flat(s) not in text]
    assert missing == []
    assert audit.title == _flat(next(p.text for p in PAYLOADS if p.name == "title-break"))
