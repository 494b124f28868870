"""Shared fixtures: raw 311 copies, one headless Chromium, one small SYNTHETIC demo run."""

import shutil
from pathlib import Path

import pytest

RAW = Path(__file__).resolve().parents[1] / "data" / "raw"


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist turns the groups into node ids
def pytest_collection_modifyitems(items):
    """Groups for ``pytest -n 2 --dist loadgroup`` (``make test``); no effect without xdist.

    A module's tests run on one worker, so its module-scoped fixtures are built once; every test
    that reads the shared demo run (``demo_reports``) is in one group, so the run is built once
    per session rather than once per worker.
    """
    for item in items:
        shared = "demo_reports" in getattr(item, "fixturenames", ())
        group = "demo_reports" if shared else item.nodeid.split("::")[0]
        item.add_marker(pytest.mark.xdist_group(group))


@pytest.fixture
def raw_311(tmp_path):
    """A raw folder holding copies of the two real 311 samples (and nothing else)."""
    raw = tmp_path / "raw"
    for folder in ("baltimore_311_sample", "nyc_311_sample_2025"):
        shutil.copytree(RAW / folder, raw / folder)
    return raw


@pytest.fixture(scope="session")
def chromium():
    """One headless Chromium for the whole test session (see ``tests/browser.py``)."""
    from tests.browser import browser_session

    session = browser_session()
    yield session
    session.close()


#: The two city reports of the shared demo run (with the four cross-city reports).
DEMO_CITIES = ["DEMO-002", "DEMO-005"]


@pytest.fixture(scope="session")
def demo_reports(tmp_path_factory):
    """Every shipped notebook run by ``ucc run`` on a tiny SYNTHETIC demo (2 cities + 4 reports).

    Yields ``(summary, study_doc)``; the notebook and browser tests read the same run.
    """
    import yaml

    from ucc_research import demo
    from ucc_research.cleaning.prepare import prepare
    from ucc_research.reports.runner import run_study

    tmp = tmp_path_factory.mktemp("nb")
    mp = pytest.MonkeyPatch()
    mp.setenv("UCC_PROCESSED_DIR", str(tmp / "processed"))
    mp.setenv("UCC_OUTPUTS_DIR", str(tmp / "outputs"))
    demo.write_demo(tmp / "raw" / "demo", seed=7, n_cities=10, n_services=3, years=(2016, 2023))
    prepare(tmp / "raw", tmp / "processed", only=["demo"])
    root = Path(__file__).resolve().parents[1]
    doc = yaml.safe_load((root / "studies" / "demo.yml").read_text())
    doc["cities"] = DEMO_CITIES
    doc["framework"]["uncertainty"] = {"n": 16, "seed": 1}
    doc["parameters"] = {"index_robustness": {"sensitivity_n": 8}}
    study = tmp / "demo.yml"
    study.write_text(yaml.safe_dump(doc))
    try:
        summary = run_study(study, jobs=2, progress=False)
    finally:
        mp.undo()  # session-wide: the paths must not leak into other tests
    yield summary, doc
