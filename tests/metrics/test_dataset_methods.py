"""The Dataset entry points of the metrics and slices packages."""

import numpy as np
import pandas as pd

import nbdiag


def test_dataset_methods_compute_and_break_down(tmp_path):
    rng = np.random.default_rng(0)
    n = 120
    images = rng.integers(0, 256, (n, 16, 16), dtype=np.uint8)
    images[:40] //= 8  # the first 40 are dark
    labels = rng.integers(0, 2, n)
    ds = nbdiag.Dataset.from_arrays(images, labels, class_names=["a", "b"])
    errors = ds.compute_metrics(["brightness"], cache_dir=tmp_path, progress=False, workers=1)
    assert isinstance(errors, pd.DataFrame) and errors.empty
    assert ds.samples["brightness"].iloc[:40].max() < ds.samples["brightness"].iloc[40:].min()
    # a model that fails exactly on the dark images
    pred = labels.copy()
    pred[:40] = 1 - pred[:40]
    ds.add_run("m", pred)
    table = ds.performance_by("brightness", run="m", bins=3)
    assert table["accuracy"].iloc[0] == 0.0 and table["accuracy"].iloc[-1] == 1.0
    assert ds.metric_importance("m").index[0] == "brightness" or (
        ds.metric_importance("m").iloc[0].get("metric") == "brightness"
    )
    assert len(ds.worst_slices("m", ["brightness"], bins=3, include_classes=False)) >= 1
