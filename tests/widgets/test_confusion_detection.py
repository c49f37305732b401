"""The detection ConfusionMatrix: rows are the evaluation's confusion pairs (with a background
class), the IoU / score thresholds re-match live, selections come back as pairs and boxes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import traitlets

import nbdiag
from nbdiag.widgets._codecs import pack_mask

CLASSES = ["cat", "dog", "bird"]


@pytest.fixture
def ds():
    """Three 100x100 images. Predictions: matches shifted by 1 or 6 px (IoU ~0.9 / ~0.6), a
    class confusion, a low-scoring false positive, a missed box."""
    samples = pd.DataFrame({"width": 100.0, "height": 100.0}, index=["i0", "i1", "i2"])
    gt = pd.DataFrame(
        [
            ("g0", "i0", "cat", 10, 10, 30, 30),
            ("g1", "i0", "dog", 50, 50, 30, 30),
            ("g2", "i1", "bird", 20, 20, 40, 40),
            ("g3", "i2", "cat", 5, 5, 20, 20),  # missed
        ],
        columns=["object_id", "sample_id", "label", "x", "y", "w", "h"],
    ).set_index("object_id")
    preds = pd.DataFrame(
        [
            ("p0", "i0", "cat", 11, 10, 30, 30, 0.9),  # TP, IoU ~0.94
            ("p1", "i0", "dog", 56, 50, 30, 30, 0.6),  # TP at IoU 0.5 (IoU ~0.67), not at 0.8
            ("p2", "i1", "cat", 21, 20, 40, 40, 0.8),  # bird predicted as cat: a confusion
            ("p3", "i2", "dog", 60, 60, 20, 20, 0.2),  # FP on background
        ],
        columns=["object_id", "sample_id", "label", "x", "y", "w", "h", "score"],
    )
    d = nbdiag.Dataset(samples, gt, class_names=CLASSES)
    d.add_run("det", preds)
    return d


def counts(cm) -> np.ndarray:
    k = len(cm.class_names)
    t = np.frombuffer(cm._y_true, dtype="<u2")
    p = np.frombuffer(cm._y_pred, dtype="<u2")
    out = np.zeros((k, k), dtype=int)
    np.add.at(out, (t, p), 1)
    return out


def test_detection_matrix_has_a_background_class_and_matches_the_evaluation(ds):
    ev = ds.evaluate("det")
    cm = nbdiag.ConfusionMatrix(ev)
    assert cm.is_detection and cm._detection
    assert cm.class_names == [*CLASSES, "background"]
    assert cm.level == "objects" and cm.n_rows == len(ev.confusion_pairs)
    assert (counts(cm) == ev.confusion_matrix().to_numpy()).all()
    m = pd.DataFrame(counts(cm), index=cm.class_names, columns=cm.class_names)
    assert m.loc["cat", "cat"] == 1 and m.loc["dog", "dog"] == 1
    assert m.loc["bird", "cat"] == 1  # the confusion
    assert m.loc["background", "dog"] == 1  # the false positive
    assert m.loc["cat", "background"] == 1  # the miss
    assert (cm.iou_threshold, cm.score_threshold) == (0.5, 0.0)
    assert "precision" in cm.title and "IoU 0.5" in cm.title
    assert (cm.matrix.to_numpy() == counts(cm)).all()


def test_from_a_dataset_and_run(ds):
    cm = nbdiag.ConfusionMatrix(ds, run="det", iou_threshold=0.8)
    assert cm.is_detection and cm.dataset is ds and cm.iou_threshold == 0.8
    assert cm.title.startswith("det ·")
    only = nbdiag.ConfusionMatrix(ds)  # the only run
    assert only.is_detection


def test_clicked_cell_returns_pairs_highest_score_first_and_their_boxes(ds):
    cm = nbdiag.ConfusionMatrix(ds, run="det")
    rows = cm.rows
    t = rows["true_class"].cat.codes.to_numpy()
    mask = t < 3  # every row with a real true class (as a click on three row headers would)
    cm.set_state({"_selection": memoryview(pack_mask(mask)), "_selection_source": "row:0"})
    sel = cm.selected
    assert list(sel["score"].dropna()) == sorted(sel["score"].dropna(), reverse=True)
    assert set(sel["gt_id"]) == {"g0", "g1", "g2", "g3"}
    cm.select_cell("background", "dog")
    sel = cm.selected
    assert list(sel["pred_id"]) == ["p3"] and sel["kind"].tolist() == ["fp"]
    objs = cm.selected_objects
    assert list(objs.index) == ["p3"] and objs.loc["p3", "source"] == "det"
    cm.select_cell("bird", "cat", add=True)
    assert set(cm.selected["kind"]) == {"fp", "confusion"}
    assert set(cm.selected_objects.index) == {"p3", "p2", "g2"}
    with pytest.raises(KeyError, match="unknown class"):
        cm.select_cell("fish", "cat")


def test_thresholds_rematch_live_as_the_sliders_do(ds):
    ev = ds.evaluate("det")
    cm = nbdiag.ConfusionMatrix(ev)
    cm.select_cell("cat", "cat")
    changes = []
    cm.on_select(lambda w: changes.append(len(w.selection)))
    # the browser releases the IoU slider at 0.8: p1 (IoU ~0.67) no longer matches g1
    cm.set_state({"iou_threshold": 0.8})
    assert ev.iou_threshold == 0.8
    m = pd.DataFrame(counts(cm), index=cm.class_names, columns=cm.class_names)
    assert m.loc["dog", "dog"] == 0 and m.loc["dog", "background"] == 1
    assert m.loc["background", "dog"] == 2
    assert (counts(cm) == ev.confusion_matrix().to_numpy()).all()
    assert cm.n_rows == len(cm.rows) == len(ev.confusion_pairs)
    assert len(cm.selection) == 0 and changes == [0]  # the old rows' selection is gone
    assert "IoU 0.8" in cm.title
    # score threshold from Python: the 0.2 false positive disappears
    cm.set_thresholds(score=0.5)
    assert ev.score_threshold == 0.5
    m = pd.DataFrame(counts(cm), index=cm.class_names, columns=cm.class_names)
    assert m.loc["background", "dog"] == 1
    assert "p3" not in set(cm.rows["pred_id"].dropna())


def test_threshold_validation_and_classification_guard(ds):
    cm = nbdiag.ConfusionMatrix(ds, run="det")
    with pytest.raises(traitlets.TraitError, match="iou_threshold"):
        cm.iou_threshold = 0.0
    with pytest.raises(traitlets.TraitError):
        cm.score_threshold = float("inf")
    clf = nbdiag.Dataset(pd.DataFrame({"label": ["cat", "dog"]}, index=["a", "b"]))
    clf.add_run("m", ["cat", "cat"])
    with pytest.raises(ValueError, match="detection"):
        nbdiag.ConfusionMatrix(clf, run="m", iou_threshold=0.5)
    ccm = nbdiag.ConfusionMatrix(clf, run="m")
    assert not ccm.is_detection and ccm.class_names == ["cat", "dog"]
    with pytest.raises(ValueError, match="detection"):
        ccm.set_thresholds(iou=0.5)
    with pytest.raises(AttributeError):
        _ = ccm.selected_objects


def test_linked_with_the_image_grid_selects_the_pairs_samples(ds):
    cm = nbdiag.ConfusionMatrix(ds, run="det")
    grid = nbdiag.ImageGrid(ds, run="det", _threaded_rpc=False)
    nbdiag.widgets.link(cm, grid)
    cm.select_cell("bird", "cat")
    assert list(grid.selection) == ["i1"]
    cm.set_thresholds(iou=0.8)  # new pairs: the link's keys follow
    cm.select_cell("dog", "background")
    assert list(grid.selection) == ["i0"]
    grid.select(["i2"])
    assert set(cm.selected["sample_id"]) == {"i2"}
