"""Shared fixtures of the cleaning tests."""

import shutil
from pathlib import Path

import pytest

RAW = Path(__file__).resolve().parents[1] / "data" / "raw"


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
