"""End to end with the digits CNN: embed, out-of-fold probabilities, flips found."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("cleanlab")


def _helper():
    name = "nbdiag_tests_digits_model"
    if name not in sys.modules:
        path = Path(__file__).parents[1] / "embeddings" / "_digits_model.py"
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def test_flips_found_from_cnn_embeddings(tmp_path):
    import nbdiag
    from nbdiag.embeddings import embed
    from nbdiag.issues import find_label_issues

    helper = _helper()
    images, target = helper.digits()
    rng = np.random.default_rng(3)
    y = target.copy()
    # flip only held-out samples: the CNN never saw their (clean) labels
    flips = rng.choice(np.arange(helper.TRAIN_ROWS, len(y)), 40, replace=False)
    y[flips] = (y[flips] + rng.integers(1, 10, len(flips))) % 10
    ds = nbdiag.Dataset.from_arrays(images, y)
    embed(
        ds, helper.trained_model(), layer="embedding", image_size=8, progress=False, cache=tmp_path
    )
    issues = find_label_issues(ds)
    found = set(issues.index)
    # 2% noise: confident learning is conservative about how many to flag
    assert len(found & set(flips)) / len(flips) > 0.7
    assert len(found & set(flips)) / len(found) > 0.8
    # ranked: the top of the list is all flips
    assert set(issues.index[:20]) <= set(flips)
