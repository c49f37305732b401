"""explore(): which views it builds, and that they share one selection."""

import numpy as np
import pandas as pd
import pytest

import nbdiag
from nbdiag.widgets import ConfusionMatrix, Explorer, Histogram, Scatter, explore
from nbdiag.widgets._codecs import pack_mask


@pytest.fixture
def ds():
    rng = np.random.default_rng(11)
    n = 120
    samples = pd.DataFrame(
        {
            "label": rng.choice(["cat", "dog", "bird"], n),
            "embedding_x": rng.normal(size=n),
            "embedding_y": rng.normal(size=n),
            "brightness": rng.uniform(0, 1, n),
        },
        index=[f"s{i}" for i in range(n)],
    )
    d = nbdiag.Dataset(samples, class_names=["cat", "dog", "bird"])
    d.add_run("m", rng.dirichlet(np.ones(3), n))
    return d


def test_explore_builds_linked_views_for_a_classification_run(ds):
    ex = explore(ds, run="m", max_histograms=3)
    assert isinstance(ex, Explorer)
    assert isinstance(ex.scatter, Scatter) and isinstance(ex.confusion_matrix, ConfusionMatrix)
    names = [h.column for h in ex.histograms]
    assert names == ["confidence", "loss", "margin"]
    assert all(v.link is ex.link for v in ex.views.values())
    assert ex.scatter.color_column == "label"
    # a browser selection on the shared model is the explorer's selection
    mask = np.zeros(120, dtype=bool)
    mask[[1, 2, 3]] = True
    ex.link.set_state({"_selection_source": "lasso", "_selection": memoryview(pack_mask(mask))})
    assert list(ex.selected.index) == ["s1", "s2", "s3"]
    assert "3</b> of 120" in ex.status.value
    assert list(ex.confusion_matrix.selection) == ["s1", "s2", "s3"]


def test_explore_picks_the_only_run_and_metric_columns(ds):
    ex = explore(ds, histograms=["brightness"])
    assert ex.confusion_matrix is not None
    assert [h.column for h in ex.histograms] == ["brightness"]


def test_explore_without_runs_or_embedding(ds):
    plain = nbdiag.Dataset(pd.DataFrame({"brightness": [0.1, 0.5, 0.9]}, index=list("abc")))
    ex = explore(plain)
    assert ex.scatter is None and ex.confusion_matrix is None
    assert [h.column for h in ex.histograms] == ["brightness"]
    ex.select(["b"])
    assert list(ex.histograms[0].selection) == ["b"]
    with pytest.raises(KeyError, match="unknown run"):
        explore(ds, run="nope")
    with pytest.raises(TypeError):
        explore(pd.DataFrame())  # type: ignore[arg-type]


def test_explorer_on_select(ds):
    ex = explore(ds, run="m")
    seen = []

    def cb(e):
        seen.append(len(e.selected))

    ex.on_select(cb)
    ex.select(["s5", "s6"])
    ex.on_select(cb, remove=True)
    ex.clear_selection()
    assert seen == [2]
    assert isinstance(ex.histograms[0], Histogram)


def test_explore_a_detection_run_links_boxes_through_their_images():
    rng = np.random.default_rng(0)
    n = 30
    samples = pd.DataFrame(
        {
            "width": 100.0,
            "height": 100.0,
            "brightness": rng.uniform(0, 1, n),
            "embedding_x": rng.normal(size=n),
            "embedding_y": rng.normal(size=n),
        },
        index=[f"s{i}" for i in range(n)],
    )
    gt = pd.DataFrame(
        {
            "sample_id": [f"s{i % n}" for i in range(60)],
            "label": rng.choice(["a", "b"], 60),
            "x": rng.uniform(0, 50, 60),
            "y": rng.uniform(0, 50, 60),
            "w": 20.0,
            "h": 20.0,
        }
    )
    ds = nbdiag.Dataset(samples, objects=gt)
    pred = gt.copy()
    pred["x"] += rng.normal(0, 2, 60)
    pred["score"] = rng.uniform(0.3, 1, 60)
    ds.add_run("det", pred)
    ex = explore(ds)
    assert list(ex.views)[:4] == [
        "scatter",
        "confusion_matrix",
        "histogram:prediction score",
        "histogram:prediction iou",
    ]
    assert [h.level for h in ex.histograms[:2]] == ["objects", "objects"]
    ex.select(["s3"])
    assert set(ex.confusion_matrix.selected.sample_id) == {"s3"}
    assert set(ex.histograms[0].selected.sample_id) == {"s3"}
    # re-matching replaces the matrix's rows: the link follows
    ex.confusion_matrix.set_thresholds(iou=0.3)
    assert len(ex.confusion_matrix._row_keys) == 4 * ex.confusion_matrix.n_rows
    ex.select(["s4"])
    assert set(ex.confusion_matrix.selected.sample_id) == {"s4"}
