"""Fixtures of the metric tests."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    """Never touch the user's ~/.cache from the tests."""
    monkeypatch.setenv("NBDIAG_CACHE_DIR", str(tmp_path / "default-cache"))
