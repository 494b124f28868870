"""Shared fixtures: raw 311 copies, one headless Chromium, one small SYNTHETIC demo run."""

import shutil
from pathlib import Path

import pytest

RAW = Path(__file__).resolve().parents[1] / "data" / "raw"


@pytest.hookimpl(tryfirst=True)  # before ``-m "not slow"`` deselects
def pytest_collection_modifyitems(items):
    """Every test that reads the shared demo run is ``slow``: building it runs every notebook."""
    for item in items:
        if "demo_reports" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.slow)


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

    Yields ``(summary, study_doc)``; the notebook and browser tests read the same run. Under
    pytest-xdist (``make test``) the workers share one run: the first to get here builds it in
    the session's common temporary folder under a file lock, the others wait and read it.
    """
    import os
    import pickle

    from filelock import FileLock

    from ucc_research.io import atomic_open

    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent  # shared by the workers of this session
    tmp = base / "demo_reports"
    done = tmp / "run.pickle"
    with FileLock(base / "demo_reports.lock"):
        if not done.is_file():
            result = _run_demo_reports(tmp)
            with atomic_open(done, "wb", encoding=None) as f:  # never half a run
                pickle.dump(result, f)
    yield pickle.loads(done.read_bytes())


def _run_demo_reports(tmp: Path):
    import yaml

    from ucc_research import demo
    from ucc_research.cleaning.prepare import prepare
    from ucc_research.reports.runner import run_study

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
    return summary, doc
