"""Fixtures: the digits CNN (trained once per session) and an isolated embedding cache."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")


def load_helper():
    name = "nbdiag_tests_digits_model"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            name, Path(__file__).with_name("_digits_model.py")
        )
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


helper = load_helper()


@pytest.fixture(autouse=True)
def _cache_dir(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("NBDIAG_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "nbdiag-cache"))


@pytest.fixture(scope="session")
def digits_model():
    """Factory: a fresh copy of the CNN trained on digits (trained once per session)."""
    return helper.trained_model


@pytest.fixture
def digits_ds():
    return helper.digits_dataset()
