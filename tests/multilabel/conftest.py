"""Generated multi-label data: random indicator labels, noisy per-class probabilities."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import nbdiag

CLASSES = ["cat", "dog", "car", "tree", "sky"]


def make_arrays(n: int = 300, seed: int = 0, p_pos: float = 0.3, noise: float = 0.18):
    """Indicator labels ``Y`` (n x C) and scores ``S`` correlated with them, in [0, 1]."""
    rng = np.random.default_rng(seed)
    y = (rng.random((n, len(CLASSES))) < p_pos).astype(int)
    s = np.clip(0.6 * y + 0.2 + rng.normal(0, noise, y.shape), 0, 1)
    return y, s


@pytest.fixture
def arrays():
    return make_arrays()


@pytest.fixture
def ds(arrays):
    y, s = arrays
    ids = [f"s{i:03d}" for i in range(len(y))]
    labels = [[CLASSES[k] for k in np.flatnonzero(row)] for row in y]
    d = nbdiag.Dataset(pd.DataFrame({"labels": labels}, index=ids), class_names=CLASSES)
    d.add_run("m", s)
    return d
