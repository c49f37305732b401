"""ConfusionMatrix of one class of a multi-label run (``ev.for_class(c)``), driven as the browser
drives it: by assigning the synced traits."""

import numpy as np
import pytest

import nbdiag
from nbdiag.widgets import Scatter, link
from nbdiag.widgets._codecs import pack_mask


@pytest.fixture
def cm(ds):
    return nbdiag.ConfusionMatrix(ds.evaluate("m", threshold=0.6).for_class("car"))


def test_codes_sent_to_the_browser_rebuild_the_class_confusion(ds, cm):
    assert cm.class_names == ["not car", "car"]
    t = np.frombuffer(cm._y_true, dtype="<u2")
    p = np.frombuffer(cm._y_pred, dtype="<u2")
    counts = np.zeros((2, 2), dtype=int)
    np.add.at(counts, (t, p), 1)
    expected = ds.evaluate("m", threshold=0.6).confusion("car").to_numpy()
    assert (counts == expected).all() and (cm.matrix.to_numpy() == expected).all()


def test_a_clicked_cell_returns_the_missed_samples(ds, arrays, cm):
    y, s = arrays
    missed = (y[:, 2] == 1) & (s[:, 2] < 0.6)  # labelled car, not predicted at 0.6
    assert missed.any()
    # the browser sends the packed mask of the cell it computed from the codes
    t = np.frombuffer(cm._y_true, dtype="<u2")
    p = np.frombuffer(cm._y_pred, dtype="<u2")
    cm.set_state(
        {"_selection_source": "cell:1:0", "_selection": memoryview(pack_mask((t == 1) & (p == 0)))}
    )
    sel = cm.selected
    assert set(sel.index) == set(ds.samples.index[missed])
    assert (sel["label"] == "car").all() and (sel["prediction"] == "not car").all()
    assert all("car" in labels for labels in sel["labels"])  # dataset columns come along
    assert sel["confidence"].is_monotonic_decreasing
    # Python selection gives the same rows, and the selection goes back to the dataset
    cm.select_cell("car", "not car")
    assert set(cm.selection) == set(ds.samples.index[missed])
    assert ds.tag(cm.selected, "missed car") == int(missed.sum())
    assert set(ds.tagged("missed car").index) == set(ds.samples.index[missed])


def test_the_class_view_links_to_other_views_of_the_dataset(ds, arrays, cm):
    y, s = arrays
    ds.samples["embedding_x"] = s[:, 0]
    ds.samples["embedding_y"] = s[:, 1]
    sc = Scatter(ds, _threaded_rpc=False)
    linked = link(sc, cm)
    cm.select_cell("not car", "car")
    extra = ds.samples.index[(y[:, 2] == 0) & (s[:, 2] >= 0.6)]
    assert set(linked.selection) == set(extra) == set(sc.selection)
