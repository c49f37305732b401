"""Detection predictions in any box convention -> the boxes frame ``ds.add_run`` takes.

Oracle boxes are written out by hand in every convention (not computed by the code under test).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from nbdiag.dataset import Dataset
from nbdiag.io.run_boxes import (
    BOX_FORMATS,
    boxes_to_xywh,
    detections_to_frame,
    to_xywh,
)

# two samples: "a" is 200 x 100 pixels, "b" is 50 x 40
SIZES = {"a": (200.0, 100.0), "b": (50.0, 40.0)}

# The same three boxes in every convention, worked out by hand.
# box 0 on "a": left 20, top 10, 40 wide, 30 high
# box 1 on "a": left 100, top 50, 100 wide, 50 high (touches the bottom-right corner)
# box 2 on "b": left 5, top 4, 10 wide, 20 high
SAMPLE = ["a", "a", "b"]
ORACLE = {
    "xywh": [[20, 10, 40, 30], [100, 50, 100, 50], [5, 4, 10, 20]],
    "xyxy": [[20, 10, 60, 40], [100, 50, 200, 100], [5, 4, 15, 24]],
    "cxcywh": [[40, 25, 40, 30], [150, 75, 100, 50], [10, 14, 10, 20]],
    "xywhn": [[0.1, 0.1, 0.2, 0.3], [0.5, 0.5, 0.5, 0.5], [0.1, 0.1, 0.2, 0.5]],
    "xyxyn": [[0.1, 0.1, 0.3, 0.4], [0.5, 0.5, 1.0, 1.0], [0.1, 0.1, 0.3, 0.6]],
    "cxcywhn": [[0.2, 0.25, 0.2, 0.3], [0.75, 0.75, 0.5, 0.5], [0.2, 0.35, 0.2, 0.5]],
}
XYWH = np.array(ORACLE["xywh"], dtype=float)
COLUMNS = {
    "xywh": [("x", "y", "w", "h"), ("x", "y", "width", "height")],
    "xyxy": [("x1", "y1", "x2", "y2"), ("xmin", "ymin", "xmax", "ymax")],
    "cxcywh": [("cx", "cy", "w", "h"), ("x_center", "y_center", "width", "height")],
}


@pytest.fixture
def ds() -> Dataset:
    samples = pd.DataFrame(
        {"width": [w for w, _ in SIZES.values()], "height": [h for _, h in SIZES.values()]},
        index=list(SIZES),
    )
    objects = pd.DataFrame(
        {
            "sample_id": SAMPLE,
            "label": ["car", "person", "car"],
            "x": XYWH[:, 0],
            "y": XYWH[:, 1],
            "w": XYWH[:, 2],
            "h": XYWH[:, 3],
        }
    )
    return Dataset(samples, objects, class_names=["car", "person"], name="runs")


def test_oracle_covers_every_convention():
    assert set(ORACLE) == set(BOX_FORMATS)


@pytest.mark.parametrize("fmt", BOX_FORMATS)
def test_to_xywh_every_convention(fmt):
    w = np.array([SIZES[s][0] for s in SAMPLE])
    h = np.array([SIZES[s][1] for s in SAMPLE])
    np.testing.assert_allclose(to_xywh(np.array(ORACLE[fmt]), fmt, w, h), XYWH, atol=1e-9)


@pytest.mark.parametrize(
    "alias,fmt", [("coco", "xywh"), ("pascal_voc", "xyxy"), ("yolo", "cxcywhn")]
)
def test_aliases(alias, fmt):
    w = np.array([SIZES[s][0] for s in SAMPLE])
    h = np.array([SIZES[s][1] for s in SAMPLE])
    np.testing.assert_allclose(to_xywh(np.array(ORACLE[fmt]), alias, w, h), XYWH, atol=1e-9)


@pytest.mark.parametrize("fmt", BOX_FORMATS)
@pytest.mark.parametrize("names", [0, 1])
def test_boxes_to_xywh_every_convention_and_column_names(ds, fmt, names):
    cols = COLUMNS[fmt[:-1] if fmt.endswith("n") else fmt][names]
    values = np.array(ORACLE[fmt])
    frame = pd.DataFrame(
        {
            "sample_id": SAMPLE,
            "label": ["car", "person", 0],
            **{c: values[:, k] for k, c in enumerate(cols)},
            "score": [0.9, 0.8, 0.7],
            "extra": ["p", "q", "r"],
        },
        index=[10, 11, 12],
    )
    out = boxes_to_xywh(frame, ds, box_format=fmt)
    np.testing.assert_allclose(out[["x", "y", "w", "h"]].to_numpy(float), XYWH, atol=1e-9)
    assert list(out.columns[:6]) == ["sample_id", "label", "x", "y", "w", "h"]
    assert list(out["extra"]) == ["p", "q", "r"]
    assert list(out.index) == [10, 11, 12]
    for c in set(cols) - {"x", "y", "w", "h"}:
        assert c not in out.columns
    run = ds.add_run("m", out)
    assert len(run) == 3
    boxes = ds.run_boxes("m")
    np.testing.assert_allclose(boxes[["x", "y", "w", "h"]].to_numpy(float), XYWH, atol=1e-9)
    assert list(boxes["label"].astype(str)) == ["car", "person", "car"]


def _torch_dets(fmt="xyxy", offset=0):
    boxes = np.array(ORACLE[fmt], dtype=np.float32)
    return [
        {
            "boxes": torch.tensor(boxes[:2]),
            "labels": torch.tensor([0 + offset, 1 + offset]),
            "scores": torch.tensor([0.9, 0.6]),
        },
        {
            "boxes": torch.tensor(boxes[2:]),
            "labels": torch.tensor([0 + offset]),
            "scores": torch.tensor([0.75]),
        },
    ]


@pytest.mark.parametrize("fmt", BOX_FORMATS)
def test_detections_from_torch_tensors_every_convention(ds, fmt):
    frame = detections_to_frame(_torch_dets(fmt), ds, box_format=fmt)
    assert list(frame.columns) == ["sample_id", "label", "x", "y", "w", "h", "score"]
    assert list(frame["sample_id"]) == SAMPLE
    assert list(frame["label"]) == ["car", "person", "car"]
    np.testing.assert_allclose(frame[["x", "y", "w", "h"]].to_numpy(), XYWH, atol=1e-4)
    np.testing.assert_allclose(frame["score"], [0.9, 0.6, 0.75], atol=1e-6)


def test_torch_tensors_with_grad_and_label_offset(ds):
    dets = _torch_dets(offset=1)
    dets[0]["boxes"] = dets[0]["boxes"].clone().requires_grad_(True)
    frame = detections_to_frame(dets, ds, label_offset=1)
    assert list(frame["label"]) == ["car", "person", "car"]


def test_detections_from_numpy_and_lists_and_names(ds):
    xyxy = ORACLE["xyxy"]
    dets = [
        {"boxes": np.array(xyxy[:2]), "labels": np.array(["car", "person"]), "scores": [0.9, 0.6]},
        {"boxes": [xyxy[2]], "labels": [0], "scores": np.array([0.75])},
    ]
    frame = detections_to_frame(dets, ds)
    np.testing.assert_allclose(frame[["x", "y", "w", "h"]].to_numpy(), XYWH, atol=1e-9)
    assert list(frame["label"]) == ["car", "person", "car"]


def test_sample_ids_order_dict_input_and_empty_detections(ds):
    xyxy = ORACLE["xyxy"]
    dets = [
        {"boxes": [xyxy[2]], "labels": [0], "scores": [0.5]},
        {"boxes": np.zeros((0, 4)), "labels": [], "scores": []},
    ]
    frame = detections_to_frame(dets, ds, sample_ids=["b", "a"])
    assert list(frame["sample_id"]) == ["b"]
    np.testing.assert_allclose(frame[["x", "y", "w", "h"]].to_numpy(), XYWH[2:], atol=1e-9)
    by_id = detections_to_frame({"b": dets[0], "a": dets[1]}, ds)
    pd.testing.assert_frame_equal(by_id, frame)
    empty = detections_to_frame([{"boxes": [], "labels": [], "scores": []}] * 2, ds)
    assert len(empty) == 0 and list(empty.columns)[:2] == ["sample_id", "label"]


def test_add_run_and_evaluate(ds):
    frame = detections_to_frame(_torch_dets(), ds)
    ds.add_run("m", frame)
    summary = ds.evaluate("m").summary()
    # every predicted box is exactly a ground-truth box of its class
    assert summary["pred_boxes"] == summary["gt_boxes"] == 3
    assert summary["precision"] == summary["recall"] == 1.0
    assert summary["AP50"] == pytest.approx(1.0)


# ---------------------------------------------------------------- errors name the item
@pytest.mark.parametrize(
    "mutate,pattern",
    [
        (lambda d: d.pop(), r"got 1 predictions for 2 samples"),
        (lambda d: d.__setitem__(1, [1, 2]), r"predictions\[1\] \(sample 'b'\) is a list"),
        (lambda d: d[0].pop("scores"), r"predictions\[0\] \(sample 'a'\) has no \['scores'\]"),
        (
            lambda d: d[0].__setitem__("boxes", torch.zeros(2, 5)),
            r"predictions\[0\] \(sample 'a'\): boxes must have shape \(N, 4\), got \(2, 5\)",
        ),
        (
            lambda d: d[1].__setitem__("scores", torch.tensor([0.1, 0.2])),
            r"predictions\[1\] \(sample 'b'\): 1 boxes, 1 labels and 2 scores",
        ),
        (
            lambda d: d[0]["boxes"].__setitem__((1, 2), float("nan")),
            r"predictions\[0\] \(sample 'a'\) box 1: NaN or infinite coordinates",
        ),
        (
            lambda d: d[1]["scores"].__setitem__(0, float("nan")),
            r"predictions\[1\] \(sample 'b'\) box 0: NaN or infinite score",
        ),
        (
            lambda d: d[1]["labels"].__setitem__(0, 2),
            r"predictions\[1\] \(sample 'b'\) box 0: class index 2 is not in 0..1 .*label_offset=1",
        ),
        (
            lambda d: d[0].__setitem__("labels", np.array(["car", "truck"])),
            r"predictions\[0\] \(sample 'a'\) box 1: unknown class 'truck'",
        ),
        (
            lambda d: d[0].__setitem__("labels", torch.tensor([0.0, 0.5])),
            r"predictions\[0\] \(sample 'a'\) box 1: label 0.5 is not a whole class index",
        ),
        (
            lambda d: d[0]["boxes"].__setitem__((0, 2), 0.0),
            r"predictions\[0\] \(sample 'a'\) box 0: negative width or height .*'xyxy'",
        ),
    ],
)
def test_detection_errors_name_the_item(ds, mutate, pattern):
    dets = _torch_dets()
    mutate(dets)
    with pytest.raises(ValueError, match=pattern):
        detections_to_frame(dets, ds)


def test_label_offset_error_names_the_shifted_index(ds):
    with pytest.raises(ValueError, match=r"box 0: class index 0 - label_offset 1 = -1"):
        detections_to_frame(_torch_dets(), ds, label_offset=1)


def test_sample_ids_are_checked(ds):
    with pytest.raises(ValueError, match="unknown sample .*'z'"):
        detections_to_frame(_torch_dets(), ds, sample_ids=["a", "z"])
    with pytest.raises(ValueError, match="duplicate sample"):
        detections_to_frame(_torch_dets(), ds, sample_ids=["a", "a"])
    with pytest.raises(ValueError, match="unknown box format 'xyz'"):
        detections_to_frame(_torch_dets(), ds, box_format="xyz")


def _frame(**cols):
    base = {"sample_id": ["a", "b"], "label": ["car", "car"], "score": [0.5, 0.6]}
    base.update(cols)
    return pd.DataFrame(base, index=["r0", "r1"])


def test_boxes_to_xywh_errors_name_the_rows(ds):
    with pytest.raises(ValueError, match=r"need the columns sample_id, label and x1, y1, x2, y2"):
        boxes_to_xywh(_frame(x=[1, 2], y=[1, 2], w=[1, 2], h=[1, 2]), ds, box_format="xyxy")
    ok = {"x": [1, 2], "y": [1, 2], "w": [1, 2], "h": [1, 2]}
    with pytest.raises(ValueError, match=r"unknown samples in rows 'r1' \(sample ids 'zz'\)"):
        boxes_to_xywh(_frame(**ok, sample_id=["a", "zz"]), ds, box_format="xywh")
    with pytest.raises(ValueError, match=r"non-numeric box coordinates .* rows 'r0'"):
        boxes_to_xywh(_frame(**{**ok, "w": [np.nan, 2]}), ds, box_format="xywh")
    with pytest.raises(ValueError, match=r"non-numeric box coordinates .* rows 'r1'"):
        boxes_to_xywh(_frame(**{**ok, "h": [1, "big"]}), ds, box_format="xywh")
    with pytest.raises(ValueError, match=r"NaN or non-numeric score in rows 'r1'"):
        boxes_to_xywh(_frame(**ok, score=[0.1, None]), ds, box_format="xywh")
    xyxy = {"x1": [5, 5], "y1": [5, 5], "x2": [10, 1], "y2": [10, 10]}
    with pytest.raises(ValueError, match=r"row 'r1': negative width or height"):
        boxes_to_xywh(_frame(**xyxy), ds, box_format="xyxy")
    with pytest.raises(TypeError, match="DataFrame"):
        boxes_to_xywh([1, 2], ds, box_format="xywh")


def test_normalised_boxes_need_the_image_size():
    ds = Dataset(
        pd.DataFrame({"width": [100.0, np.nan], "height": [50.0, np.nan]}, index=["a", "b"]),
        class_names=["car"],
    )
    frame = _frame(cx=[0.5, 0.5], cy=[0.5, 0.5], w=[0.1, 0.1], h=[0.1, 0.1])
    with pytest.raises(ValueError, match=r"row 'r1': normalised boxes need the image size.*'b'"):
        boxes_to_xywh(frame, ds, box_format="yolo")
    dets = [{"boxes": [[0.1, 0.1, 0.2, 0.2]], "labels": [0], "scores": [0.5]}] * 2
    with pytest.raises(ValueError, match=r"predictions\[1\] \(sample 'b'\) box 0: normalised"):
        detections_to_frame(dets, ds, box_format="xyxyn")
