import numpy as np
import pandas as pd
import pytest
import traitlets

import nbdiag
from nbdiag.widgets._codecs import pack_mask


@pytest.fixture
def ds():
    rng = np.random.default_rng(7)
    n, k = 300, 4
    labels = rng.integers(0, k, n)
    probs = rng.dirichlet(np.ones(k) * 0.5, n)
    probs[np.arange(n), labels] += 0.4  # mostly right, with errors
    probs /= probs.sum(axis=1, keepdims=True)
    samples = pd.DataFrame({"label": labels, "split": "val"}, index=[f"s{i}" for i in range(n)])
    d = nbdiag.Dataset(samples, class_names=["cat", "dog", "car", "bus"])
    d.add_run("m", probs)
    return d


def test_codes_sent_to_the_browser_rebuild_the_python_matrix(ds):
    cm = nbdiag.ConfusionMatrix(ds.evaluate("m"))
    t = np.frombuffer(cm._y_true, dtype="<u2")
    p = np.frombuffer(cm._y_pred, dtype="<u2")
    counts = np.zeros((4, 4), dtype=int)
    np.add.at(counts, (t, p), 1)
    assert (counts == cm.matrix.to_numpy()).all()
    assert cm.n_rows == 300 and cm.class_names == ["cat", "dog", "car", "bus"]


def test_clicked_cell_returns_that_pair_most_confident_first(ds):
    ev = ds.evaluate("m")
    cm = nbdiag.ConfusionMatrix(ds, run="m")
    truth = ds.samples["label"].astype(str)
    pred = ds.runs["m"].predictions["prediction"].astype(str)
    expected = set(truth.index[(truth == "dog") & (pred == "car")])
    assert expected, "fixture should have dog->car errors"
    # the browser sends the packed mask of the cell it computed from the codes
    mask = (ev.y_true == 1) & (ev.y_pred == 2)
    cm.set_state({"_selection_source": "cell:1:2", "_selection": memoryview(pack_mask(mask))})
    sel = cm.selected
    assert set(sel.index) == expected
    assert sel["confidence"].is_monotonic_decreasing
    assert (sel["label"] == "dog").all() and (sel["prediction"] == "car").all()
    assert "split" in sel.columns  # dataset columns come along


def test_select_cell_from_python_and_union(ds):
    cm = nbdiag.ConfusionMatrix(ds.evaluate("m"))
    cm.select_cell("cat", "cat")
    n1 = len(cm.selection)
    cm.select_cell("dog", "dog", add=True)
    assert len(cm.selection) == n1 + int(cm.matrix.loc["dog", "dog"])
    assert set(cm.selected["label"]) == {"cat", "dog"}


def test_normalize_modes(ds):
    cm = nbdiag.ConfusionMatrix(ds.evaluate("m"), normalize="true")
    assert np.allclose(cm.matrix.sum(axis=1), 1.0)
    cm.normalize = "pred"
    assert np.allclose(cm.matrix.sum(axis=0), 1.0)
    with pytest.raises(traitlets.TraitError, match="normalize"):
        cm.normalize = "rows"


def test_rejects_wrong_source():
    with pytest.raises(TypeError, match="ClassificationEvaluation"):
        nbdiag.ConfusionMatrix(pd.DataFrame())
