"""ImageGrid, kernel side: rows, sorting, selection and filter traits set as the browser sets
them, and the RPC methods answering page / image requests from real image files (written with
Pillow; one corrupt, one missing)."""

from __future__ import annotations

import io
import threading

import numpy as np
import pandas as pd
import pytest
import traitlets
from PIL import Image

import nbdiag
from nbdiag.widgets._codecs import pack_mask
from nbdiag.widgets._grid_data import (
    BOX_STRIDE,
    FOCUS,
    STYLE_GT,
    STYLE_GT_FN,
    STYLE_GT_TP,
    STYLE_PRED,
    STYLE_PRED_FP,
    STYLE_PRED_TP,
    decode_boxes,
)
from nbdiag.widgets._rpc import KEY

W, H, S = 96, 64, 24  # canvas and digit size (8x8 digits enlarged 3x)
CLASSES = [str(i) for i in range(10)]
# sample -> [(digit index in sklearn's digits, x, y)]; digits 0..4 are the classes "0".."4"
LAYOUT = {
    "a": [(0, 4, 4), (1, 50, 20)],
    "b": [(2, 10, 10)],
    "c": [(3, 30, 8), (4, 60, 30)],
    "d": [],
}
# predictions: (sample, class, x, y, w, h, score)
PREDS = [
    ("a", "0", 5, 4, S, S, 0.9),  # TP of a's "0"
    ("a", "1", 50, 21, S, S, 0.4),  # TP of a's "1"
    ("a", "7", 70, 40, 16, 16, 0.3),  # FP (nothing there)
    ("c", "3", 31, 8, S, S, 0.8),  # TP of c's "3"
    ("c", "9", 60, 30, S, S, 0.7),  # FP: wrong class on c's "4" (which is missed: FN)
]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    from sklearn.datasets import load_digits

    digits = load_digits()
    root = tmp_path_factory.mktemp("grid")
    samples, gt = [], []
    for sid, placed in LAYOUT.items():
        canvas = np.zeros((H, W, 3), dtype=np.uint8)
        for j, (d, x, y) in enumerate(placed):
            patch = np.kron(digits.images[d] / 16 * 255, np.ones((3, 3))).astype(np.uint8)
            canvas[y : y + S, x : x + S] = patch[..., None]
            gt.append(
                {
                    "object_id": f"{sid}{j}",
                    "sample_id": sid,
                    "label": str(digits.target[d]),
                    "x": x,
                    "y": y,
                    "w": S,
                    "h": S,
                }
            )
        Image.fromarray(canvas).save(root / f"{sid}.png")
        samples.append({"id": sid, "path": str(root / f"{sid}.png"), "split": "val"})
    (root / "bad.png").write_bytes(b"\x89PNG but not really" * 8)
    samples.append({"id": "bad", "path": str(root / "bad.png"), "split": "val"})
    samples.append({"id": "gone", "path": str(root / "gone.png"), "split": "test"})
    preds = pd.DataFrame(PREDS, columns=["sample_id", "label", "x", "y", "w", "h", "score"])
    preds.index = [f"p{i}" for i in range(len(preds))]
    preds.index.name = "object_id"
    return pd.DataFrame(samples), pd.DataFrame(gt), preds.reset_index()


@pytest.fixture
def ds(files):
    samples, gt, preds = files
    d = nbdiag.Dataset.from_dataframe(samples, gt, class_names=CLASSES, name="digits")
    d.add_run("det", preds)
    return d


def grid_of(ds, **kw):
    return nbdiag.ImageGrid(ds, _threaded_rpc=False, **kw)


def call(grid, method, **params):
    """One request as the browser sends it; the response the kernel sends back."""
    sent = []
    grid._rpc._send = lambda content, buffers: sent.append((content, buffers))
    grid._handle_custom_msg({KEY: "request", "id": "t:1", "method": method, "params": params}, [])
    assert len(sent) == 1
    content, buffers = sent[0]
    assert content[KEY] == "response" and content["id"] == "t:1"
    return content, buffers


def page(grid, rows, size=64):
    content, buffers = call(grid, "page", rows=rows, size=size)
    assert content["ok"], content
    res = content["result"]
    boxes = decode_boxes(buffers[res["boxes"]]) if res["boxes"] >= 0 else np.zeros((0, 8))
    return res["items"], buffers, boxes


def image_size(data) -> tuple[int, int, str]:
    with Image.open(io.BytesIO(bytes(data))) as img:
        return img.size + (img.format,)


# ---------------------------------------------------------------------------- traits and rows
def test_rows_traits_and_sort_options(ds):
    grid = grid_of(ds, run="det")
    assert grid.n_rows == 6 and list(grid.rows.index) == ["a", "b", "c", "d", "bad", "gone"]
    assert grid.class_names == CLASSES and grid._level == "sample" and grid.level == "samples"
    assert grid.has_boxes and grid.has_predictions and grid.has_evaluation
    assert grid.color_by == "match" and grid.evaluation is not None
    rows = grid.rows
    assert rows.loc["a", ["n_gt", "n_pred", "tp", "fp", "fn"]].tolist() == [2, 3, 2, 1, 0]
    assert rows.loc["c", ["n_gt", "n_pred", "tp", "fp", "fn"]].tolist() == [2, 2, 1, 1, 1]
    assert rows.loc["b", ["tp", "fn"]].tolist() == [0, 1]
    assert np.isnan(rows.loc["d", "max_score"]) and rows.loc["a", "max_score"] == 0.9
    assert {"n_gt", "fp", "fn", "max_score", "width"} <= set(grid.sort_options)
    assert "path" not in grid.sort_options
    assert grid.rows.loc["bad", "issues"] == "corrupt_image"
    plain = grid_of(ds)
    assert not plain.has_predictions and not plain.has_evaluation and plain.color_by == "class"
    assert "tp" not in plain.rows.columns and plain.rows.loc["c", "n_gt"] == 2


def test_sort_by_a_column_missing_last_and_selection_in_grid_order(ds):
    grid = grid_of(ds, run="det", sort_by="max_score", ascending=False)
    assert list(grid.display_ids) == ["a", "c", "b", "d", "bad", "gone"]  # no score: last, stable
    order = np.frombuffer(grid._order, dtype="<u4")
    assert order.tolist() == [0, 2, 1, 3, 4, 5]
    grid.ascending = True
    assert list(grid.display_ids) == ["c", "a", "b", "d", "bad", "gone"]
    grid.sort("fn", ascending=False)
    assert list(grid.display_ids[:2]) == ["b", "c"]
    # the browser selects rows (positions in the dataset order, whatever the sort)
    grid.set_state(
        {
            "_selection": memoryview(pack_mask(np.array([1, 1, 1, 0, 0, 0], bool))),
            "_selection_source": "range:0-2",
        }
    )
    assert list(grid.selected.index) == ["b", "c", "a"]  # as shown
    grid.sort(None)
    assert grid._order == b"" and list(grid.display_ids) == list(ds.samples.index)
    assert list(grid.selected.index) == ["a", "b", "c"]  # sorting never changed the selection
    grid.sort_by = "split"  # categorical-like columns sort too
    with pytest.raises(traitlets.TraitError, match="no column 'nope'"):
        grid.sort_by = "nope"


def test_browser_selection_and_python_select(ds):
    grid = grid_of(ds)
    seen = []
    grid.on_select(lambda w: seen.append(list(w.selection)))
    grid.set_state(
        {
            "_selection": memoryview(pack_mask(np.array([0, 0, 1, 0, 1, 0], bool))),
            "_selection_source": "toggle:4",
        }
    )
    assert list(grid.selected.index) == ["c", "bad"] and grid.selection_source == "toggle:4"
    assert seen == [["c", "bad"]]
    assert "path" in grid.selected.columns
    grid.select(["d"])
    assert grid.selection_source == "python" and list(grid.selection) == ["d"]


def test_filter_shows_a_subset_and_is_distinct_from_no_filter(ds):
    grid = grid_of(ds)
    grid.filter(["c", "a"])
    assert np.unpackbits(np.frombuffer(grid._filter, np.uint8), bitorder="little")[:6].tolist() == [
        1,
        0,
        1,
        0,
        0,
        0,
    ]
    assert list(grid.display_ids) == ["a", "c"]
    grid.filter(ds.samples["split"] == "test")  # a boolean Series
    assert list(grid.display_ids) == ["gone"]
    grid.filter([])  # nothing: not the same as no filter
    assert grid._filter != b"" and list(grid.display_ids) == []
    grid.clear_filter()
    assert grid._filter == b"" and len(grid.display_ids) == 6


def test_setting_validation(ds):
    grid = grid_of(ds, run="det")
    grid.hidden_classes = ["3", "3", "7"]
    assert grid.hidden_classes == ["3", "7"]
    with pytest.raises(traitlets.TraitError, match="unknown classes"):
        grid.hidden_classes = ["cat"]
    with pytest.raises(traitlets.TraitError):
        grid.color_by = "rainbow"
    grid.thumbnail_size = 4000
    assert grid.thumbnail_size == 512
    with pytest.raises(traitlets.TraitError):
        grid.score_threshold = float("nan")
    with pytest.raises(ValueError, match="level must be"):
        grid_of(ds, level="pixel")
    with pytest.raises(TypeError, match="Dataset"):
        nbdiag.ImageGrid(ds.samples)
    with pytest.raises(ValueError, match="source= only applies"):
        grid_of(ds, source="gt")


# ---------------------------------------------------------------------------- page requests
def test_page_returns_webp_thumbnails_and_the_boxes_of_those_rows(ds):
    grid = grid_of(ds, run="det")
    items, buffers, boxes = page(grid, [0, 2], size=64)
    assert [it["id"] for it in items] == ["a", "c"]
    for it in items:
        assert it["mime"] == "image/webp" and (it["sw"], it["sh"]) == (W, H)
        assert image_size(buffers[it["buffer"]]) == (64, round(64 * H / W), "WEBP")
    assert boxes.shape[1] == BOX_STRIDE
    by = {}
    for row, x, y, w, h, score, cls, style in boxes:
        by.setdefault(int(row), []).append(
            (x, y, w, h, round(float(score), 3), int(cls), int(style))
        )
    nan = float("nan")
    want_a = [
        (4, 4, S, S, 0.9, 0, STYLE_GT_TP),  # GT carries its match's score
        (50, 20, S, S, 0.4, 1, STYLE_GT_TP),
        (5, 4, S, S, 0.9, 0, STYLE_PRED_TP),
        (50, 21, S, S, 0.4, 1, STYLE_PRED_TP),
        (70, 40, 16, 16, 0.3, 7, STYLE_PRED_FP),
    ]
    want_c = [
        (30, 8, S, S, 0.8, 3, STYLE_GT_TP),
        (60, 30, S, S, nan, 4, STYLE_GT_FN),
        (31, 8, S, S, 0.8, 3, STYLE_PRED_TP),
        (60, 30, S, S, 0.7, 9, STYLE_PRED_FP),
    ]
    for row, want in ((0, want_a), (2, want_c)):
        got = sorted(by[row], key=lambda b: (b[6], b[0]))
        want = sorted(want, key=lambda b: (b[6], b[0]))
        assert len(got) == len(want)
        for g, w in zip(got, want, strict=True):
            assert g[:4] == w[:4] and g[5:] == w[5:]
            assert (np.isnan(g[4]) and np.isnan(w[4])) or g[4] == pytest.approx(w[4], abs=1e-6)


def test_without_a_run_boxes_are_plain_ground_truth(ds):
    grid = grid_of(ds)
    _, _, boxes = page(grid, [0, 1])
    assert set(boxes[:, 7].astype(int)) == {STYLE_GT} and np.isnan(boxes[:, 5]).all()
    assert len(boxes) == 3


def test_bad_images_are_error_entries_and_the_page_goes_on(ds):
    grid = grid_of(ds, run="det")
    items, buffers, boxes = page(grid, [4, 3, 5])
    by = {it["id"]: it for it in items}
    assert by["bad"]["error"] == "corrupt_image" and "buffer" not in by["bad"]
    assert "bad.png" in by["bad"]["detail"]
    assert by["gone"]["error"] == "missing_file"
    assert by["d"]["buffer"] == 0 and len(buffers) == 1  # no boxes: no box table
    assert len(boxes) == 0


def test_bad_requests_are_answered_with_errors(ds):
    grid = grid_of(ds)
    content, _ = call(grid, "page", rows="0-3")
    assert content["ok"] is False and content["error"]["type"] == "BadRequest"
    content, _ = call(grid, "page", rows=[0, 99])
    assert content["error"] == {"type": "BadRequest", "message": "row 99 out of range [0, 6)"}
    content, _ = call(grid, "page", rows=list(range(300)))
    assert "at most" in content["error"]["message"]
    content, _ = call(grid, "image", row=True)
    assert content["error"]["type"] == "BadRequest"


def test_thumbnails_are_cached_in_the_dataset(ds):
    grid = grid_of(ds)
    page(grid, [0, 1], size=96)
    hits = ds._thumbs.hits
    page(grid, [0, 1], size=96)
    assert ds._thumbs.hits == hits + 2


def test_detail_image_with_all_boxes_and_the_row_columns(ds):
    grid = grid_of(ds, run="det")
    content, buffers = call(grid, "image", row=2, max_size=1024)
    res = content["result"]
    assert res["id"] == "c" and (res["sw"], res["sh"]) == (W, H)
    assert image_size(buffers[res["buffer"]]) == (
        512,
        round(512 * H / W),
        "WEBP",
    )  # small: enlarged
    assert len(decode_boxes(buffers[res["boxes"]])) == 4
    info = dict(res["info"])
    assert info["id"] == "c" and info["fp"] == "1" and info["split"] == "val"
    content, _ = call(grid, "image", row=4)
    assert content["ok"] and content["result"]["error"] == "corrupt_image"


# ---------------------------------------------------------------------------- object level
def test_object_level_rows_are_boxes_shown_as_crops(ds):
    grid = grid_of(ds, run="det", level="object")
    assert grid.level == "objects" and grid._level == "object"
    rows = grid.rows
    assert len(rows) == 5 + 5  # ground truth and predictions of the run
    assert {"sample_id", "match", "iou", "area"} <= set(rows.columns)
    assert rows.loc["c1", "match"] == "fn" and rows.loc["p4", "match"] == "fp"
    row = list(rows.index).index("a0")
    items, buffers, boxes = page(grid, [row], size=64)
    it = items[0]
    # the crop: the 24 px box plus 25% context (6 px) each side, inside the image
    assert (it["sw"], it["sh"]) == (4 + 24 + 6, 4 + 24 + 6)
    assert it["label"] == "0" and it["kind"] == "gt" and it["status"] == "tp"
    focus = boxes[boxes[:, 7].astype(int) >= FOCUS]
    assert len(focus) == 1
    assert focus[0, 1:5].tolist() == [4, 4, S, S]  # the crop starts at the image corner
    # the matching prediction overlaps the crop, shifted into crop coordinates
    assert any(b[7] == STYLE_PRED_TP and b[1] == 5 for b in boxes)
    fp_row = list(rows.index).index("p2")
    items, _, boxes = page(grid, [fp_row], size=64)
    assert items[0]["kind"] == "pred" and items[0]["pred"] == "7" and items[0]["score"] == 0.3
    focus = boxes[boxes[:, 7].astype(int) >= FOCUS][0]
    assert int(focus[7]) == STYLE_PRED_FP + FOCUS
    assert (items[0]["sw"], items[0]["sh"]) == (16 + 2 * 4, 16 + 2 * 4)
    assert focus[1:3].tolist() == [4, 4]


def test_object_level_sources_and_errors(ds):
    assert len(grid_of(ds, level="object").rows) == 5  # no run: ground truth
    assert len(grid_of(ds, run="det", level="object", source="pred").rows) == 5
    with pytest.raises(ValueError, match="needs run="):
        grid_of(ds, level="object", source="pred")
    digits = nbdiag.Dataset(pd.DataFrame({"label": ["1", "2"]}, index=["x", "y"]))
    with pytest.raises(ValueError, match="no objects"):
        grid_of(digits, level="object")


def test_object_rows_link_through_their_sample(ds):
    grid = grid_of(ds, level="object")
    assert list(grid._row_sample_ids()) == list(ds.gt_objects["sample_id"])


# ---------------------------------------------------------------------------- classification
def test_classification_captions_label_vs_prediction(tmp_path):
    imgs = np.random.default_rng(0).integers(0, 255, (4, 8, 8), dtype=np.uint8)
    d = nbdiag.Dataset.from_arrays(imgs, ["0", "1", "0", "1"], class_names=["0", "1"])
    d.add_run("clf", np.array([[0.9, 0.1], [0.8, 0.2], [0.3, 0.7], [0.4, 0.6]]))
    grid = grid_of(d, run="clf", sort_by="confidence", ascending=False)
    assert not grid.has_boxes and grid.color_by == "class"
    assert grid.rows["correct"].tolist() == [True, False, False, True]
    items, buffers, boxes = page(grid, [0, 1, 2])
    assert [(i["label"], i["pred"], i["status"]) for i in items] == [
        ("0", "0", "right"),
        ("1", "0", "wrong"),
        ("0", "1", "wrong"),
    ]
    assert items[1]["score"] == pytest.approx(0.8)
    assert (items[0]["sw"], items[0]["sh"]) == (8, 8) and len(boxes) == 0
    assert image_size(buffers[0])[:2] == (64, 64)  # 8x8 enlarged, crisp


# ---------------------------------------------------------------------------- live thresholds
def test_refresh_after_the_evaluation_changes(ds):
    grid = grid_of(ds, run="det")
    version = grid._data_version
    grid.evaluation.set_thresholds(iou=0.95)  # the 1 px shifts no longer match
    grid.refresh()
    assert grid._data_version == version + 1
    _, _, boxes = page(grid, [0])
    styles = sorted(int(s) for s in boxes[:, 7])
    assert styles == [STYLE_GT_FN, STYLE_GT_FN, STYLE_PRED_FP, STYLE_PRED_FP, STYLE_PRED_FP]
    assert STYLE_PRED not in styles


def test_threaded_rpc_through_the_widget(ds):
    grid = nbdiag.ImageGrid(ds)  # threaded, as in a kernel
    got = threading.Event()
    sent = []

    def send(content, buffers):
        sent.append((content, buffers, threading.current_thread().name))
        got.set()

    grid.send = send
    grid._handle_custom_msg(
        {KEY: "request", "id": "x:1", "method": "page", "params": {"rows": [0]}}, []
    )
    assert got.wait(10)
    content, buffers, thread = sent[0]
    assert content["ok"] and thread == "nbdiag-grid-rpc" and len(buffers) == 2
    grid.close()


def test_refresh_picks_up_new_columns_and_keeps_the_selection(ds):
    grid = grid_of(ds, run="det", sort_by="max_score")
    grid.select(["c"])
    ds.samples["sharpness"] = [3.0, 1.0, 2.0, 0.0, np.nan, np.nan]  # e.g. a metric computed later
    assert "sharpness" not in grid.sort_options
    grid.refresh()
    assert "sharpness" in grid.sort_options and "sharpness" in grid.rows.columns
    assert list(grid.selection) == ["c"] and grid.sort_by == "max_score"
    grid.sort("sharpness")
    assert list(grid.display_ids[:4]) == ["d", "b", "c", "a"]
