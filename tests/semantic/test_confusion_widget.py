"""ConfusionMatrix of a SemanticEvaluation: rows are (image, true, predicted) cells weighted by
their pixels; what the browser receives rebuilds the pixel matrix, and a cell click gives back
the images holding that confusion, most pixels first (counted here with numpy)."""

from __future__ import annotations

import numpy as np
import pytest

import nbdiag
from nbdiag.widgets._codecs import pack_mask

CLASSES = ["road", "car", "sky"]


@pytest.fixture
def data():
    rng = np.random.default_rng(3)
    gt = rng.integers(0, 3, (8, 16, 12)).astype(np.uint8)
    gt[:, :2] = 255
    pred = np.where(rng.random(gt.shape) < 0.7, gt, rng.integers(0, 3, gt.shape)).astype(np.uint8)
    pred[pred == 255] = 0
    ds = nbdiag.Dataset.from_label_maps(
        np.zeros((*gt.shape, 3), np.uint8), gt, CLASSES, ids=[f"img{i}" for i in range(8)]
    )
    ds.samples["split"] = "val"
    ds.add_run("seg", pred)
    return ds, gt, pred


def test_codes_and_weights_rebuild_the_pixel_matrix(data) -> None:
    ds, gt, pred = data
    ev = ds.evaluate("seg", progress=False)
    cm = nbdiag.ConfusionMatrix(ev)
    t = np.frombuffer(cm._y_true, dtype="<u2")
    p = np.frombuffer(cm._y_pred, dtype="<u2")
    w = np.frombuffer(cm._weights, dtype="<u4")
    assert len(t) == len(p) == len(w) == cm.n_rows
    counts = np.zeros((3, 3), dtype=np.int64)
    np.add.at(counts, (t, p), w)
    valid = gt != 255
    direct = np.zeros((3, 3), dtype=np.int64)
    np.add.at(direct, (gt[valid].astype(int), pred[valid].astype(int)), 1)
    np.testing.assert_array_equal(counts, direct)
    np.testing.assert_array_equal(cm.matrix.to_numpy(), direct)
    assert cm.is_semantic and "mIoU" in cm.title
    # classification matrices send no weights: their behaviour is unchanged
    assert nbdiag.ConfusionMatrix(nbdiag.evaluate_classification([0, 1], [0, 0]))._weights == b""


def test_clicked_cell_selects_images_sorted_by_pixels(data) -> None:
    ds, gt, pred = data
    cm = nbdiag.ConfusionMatrix(ds, run="seg")
    rows = cm.rows
    mask = (rows["true"] == "road").to_numpy() & (rows["pred"] == "sky").to_numpy()
    cm.set_state({"_selection_source": "cell:0:2", "_selection": memoryview(pack_mask(mask))})
    sel = cm.selected
    direct = {f"img{i}": int(((gt[i] == 0) & (pred[i] == 2)).sum()) for i in range(len(gt))}
    want = sorted(((n, i) for i, n in direct.items() if n), key=lambda x: -x[0])
    assert [n for n, _ in want] == sel["pixels"].tolist()
    assert set(sel.index) == {i for _, i in want}
    assert sel.index.name == "id" and "split" in sel.columns  # rows of ds.samples
    assert list(cm.selection) == list(sel.index)
    # the same as the evaluation's samples_in_cell and select_cell from Python
    assert sel["pixels"].tolist() == cm.evaluation.samples_in_cell("road", "sky")["pixels"].tolist()
    cm.clear_selection()
    cm.select_cell("road", "sky")
    assert cm.selected["pixels"].tolist() == sel["pixels"].tolist()
    # a selection goes straight into tags
    assert ds.tag(cm.selected, "road_as_sky") == len(sel)
    # selecting images by id selects every cell of those images
    cm.select(["img0"])
    assert set(cm.selected.index) == {"img0"}
    assert cm.selected["pixels"].iloc[0] == (gt[0] != 255).sum()
    with pytest.raises(KeyError, match="nope"):
        cm.select(["nope"])


def test_linked_matrix_keeps_the_clicked_cell_and_maps_images_to_other_views(data) -> None:
    ds, gt, pred = data
    cm = nbdiag.ConfusionMatrix(ds, run="seg")
    grid = nbdiag.ImageGrid(ds)
    nbdiag.link(cm, grid)
    cm.select_cell("car", "road")
    direct = {f"img{i}": int(((gt[i] == 1) & (pred[i] == 0)).sum()) for i in range(len(gt))}
    hit = {i for i, n in direct.items() if n}
    assert set(grid.selected.index) == hit
    assert dict(zip(cm.selected.index, cm.selected["pixels"], strict=True)) == {
        i: direct[i] for i in hit
    }
    grid.select(["img2"])  # from another view: every cell of that image
    assert cm.selected["pixels"].tolist() == [(gt[2] != 255).sum()]
