"""ImageGrid masks, kernel side: a page carries each drawn object's COCO counts (and only the
drawn images'), crops carry their origin, the detail image its masks, object ids map to grid rows
for click selection; semantic label maps become one region per class. Oracle: pycocotools,
decoding what the grid sends back to the arrays the masks were made from."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pycocotools.mask as cm
import pytest
from PIL import Image

import nbdiag
from nbdiag.widgets._grid_boxes import FOCUS, REGION, STYLE_GT, STYLE_PRED, decode_boxes
from nbdiag.widgets._grid_masks import label_regions
from nbdiag.widgets._rpc import KEY

W, H = 80, 60
CLASSES = ["cat", "dog", "bird"]


def shape_mask(seed: int, kind: str) -> np.ndarray:
    """An ellipse with a hole, or two separate blobs (multi-part)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:H, :W]
    m = np.zeros((H, W), bool)
    if kind == "ellipse":
        cx, cy = rng.integers(20, W - 20), rng.integers(15, H - 15)
        m = ((xx - cx) / 14.0) ** 2 + ((yy - cy) / 10.0) ** 2 <= 1
        m &= ((xx - cx) / 4.0) ** 2 + ((yy - cy) / 3.0) ** 2 > 1  # a hole
    else:
        x, y = rng.integers(0, 30), rng.integers(0, 20)
        m[y : y + 12, x : x + 9] = True
        m[y + 30 : y + 38, x + 40 : x + 52] = True
    return m


def bbox_of(m: np.ndarray) -> tuple[float, float, float, float]:
    ys, xs = np.nonzero(m)
    return (
        float(xs.min()),
        float(ys.min()),
        float(xs.max() - xs.min() + 1),
        float(ys.max() - ys.min() + 1),
    )


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    root = tmp_path_factory.mktemp("grid_masks")
    rng = np.random.default_rng(0)
    samples, gt, preds, arrays = [], [], [], {}
    for i in range(12):
        sid = f"s{i:02d}"
        Image.fromarray(rng.integers(0, 255, (H, W, 3), dtype=np.uint8)).save(root / f"{sid}.png")
        samples.append({"id": sid, "path": str(root / f"{sid}.png"), "width": W, "height": H})
        if i == 11:
            continue  # an image without objects
        for j, kind in enumerate(("ellipse", "parts")):
            m = shape_mask(100 * i + j, kind)
            oid = f"{sid}_g{j}"
            arrays[oid] = m
            x, y, w, h = bbox_of(m)
            gt.append(dict(object_id=oid, sample_id=sid, label=CLASSES[j], x=x, y=y, w=w, h=h))
            gt[-1]["mask"] = m
            pm = np.roll(m, 2, axis=1)
            pid = f"{sid}_p{j}"
            arrays[pid] = pm
            x, y, w, h = bbox_of(pm)
            preds.append(dict(object_id=pid, sample_id=sid, label=CLASSES[j], x=x, y=y, w=w, h=h))
            preds[-1].update(score=0.5 + 0.04 * i, mask=pm)
        # a box without a mask
        gt.append(
            dict(object_id=f"{sid}_g9", sample_id=sid, label="bird", x=1, y=1, w=5, h=5, mask=None)
        )
    return pd.DataFrame(samples), pd.DataFrame(gt), pd.DataFrame(preds), arrays


@pytest.fixture
def ds(made):
    samples, gt, preds, _ = made
    d = nbdiag.Dataset(samples, gt.set_index("object_id"), class_names=CLASSES, name="masks")
    d.add_run("seg", preds.set_index("object_id"))
    return d


def grid_of(ds, **kw):
    return nbdiag.ImageGrid(ds, _threaded_rpc=False, **kw)


def call(grid, method, **params):
    sent = []
    grid._rpc._send = lambda content, buffers: sent.append((content, buffers))
    grid._handle_custom_msg({KEY: "request", "id": "t:1", "method": method, "params": params}, [])
    content, buffers = sent[0]
    assert content["ok"], content
    return content["result"], buffers


@pytest.fixture(autouse=True)
def _quiet_pycocotools():  # its own numpy-2 copy= deprecation
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        yield


def decode(counts: str, h: int = H, w: int = W) -> np.ndarray:
    return cm.decode({"size": [h, w], "counts": counts.encode()}).astype(bool)


def test_a_page_sends_the_masks_of_the_images_drawn_and_no_others(ds, made):
    arrays = made[3]
    grid = grid_of(ds, run="seg")
    assert grid.has_masks and grid.show_masks and grid.show_boxes
    rows = [2, 5]
    res, buffers = call(grid, "page", rows=rows, size=64)
    boxes = decode_boxes(buffers[res["boxes"]])
    assert len(res["masks"]) == len(res["mask_rows"]) == len(boxes)
    # every object of rows 2 and 5 (and no other), each mask decoding to its array
    want = {oid: m for oid, m in arrays.items() if oid.startswith(("s02_", "s05_"))}
    got = [c for c in res["masks"] if c is not None]
    assert len(got) == len(want) == 8
    for counts in got:
        match = [oid for oid, m in want.items() if np.array_equal(decode(counts), m)]
        assert len(match) == 1
    # box rows carry their grid row; a box without a mask has null
    per_row = {r: [c for b, c in zip(boxes, res["masks"], strict=True) if b[0] == r] for r in rows}
    assert [len(v) for v in per_row.values()] == [5, 5]
    assert [sum(c is None for c in v) for v in per_row.values()] == [1, 1]
    for it in res["items"]:
        assert (it["mh"], it["mw"], it["ox"], it["oy"]) == (H, W, 0.0, 0.0)
    # the mask of each box row is the mask of that box: pycocotools' box of the mask = the box
    for b, c in zip(boxes, res["masks"], strict=True):
        if c is not None:
            x, y, w, h = cm.toBbox({"size": [H, W], "counts": c.encode()})
            assert np.allclose(b[1:5], [x, y, w, h])
    grid.close()


def test_images_without_masks_send_none_and_a_maskless_dataset_sends_no_masks(ds, made):
    grid = grid_of(ds, run="seg")
    res, _ = call(grid, "page", rows=[11], size=64)  # s11: no objects
    assert "masks" not in res and "mh" not in res["items"][0]
    grid.close()
    samples, gt, _, _ = made
    plain = nbdiag.Dataset(samples, gt.drop(columns="mask").set_index("object_id"))
    g2 = grid_of(plain)
    assert not g2.has_masks
    res, _ = call(g2, "page", rows=[0, 1], size=64)
    assert "masks" not in res and res["boxes"] >= 0
    g2.close()


def test_object_crops_carry_their_origin_and_neighbours_map_to_rows(ds, made):
    arrays = made[3]
    grid = grid_of(ds, run="seg", level="object", source="both")
    rows = list(grid.rows.index)
    pos = rows.index("s03_g0")
    res, buffers = call(grid, "page", rows=[pos], size=64)
    boxes = decode_boxes(buffers[res["boxes"]])
    item = res["items"][0]
    x0, y0, x1, y1 = grid._source._region(pos)
    assert (item["ox"], item["oy"]) == (x0, y0) and (item["mh"], item["mw"]) == (H, W)
    assert (item["sw"], item["sh"]) == (x1 - x0, y1 - y0)
    focus = [i for i, b in enumerate(boxes) if int(b[7]) & FOCUS]
    assert len(focus) == 1
    assert np.array_equal(decode(res["masks"][focus[0]]), arrays["s03_g0"])
    assert res["mask_rows"][focus[0]] == pos
    # every mask in the crop names the grid row of its object
    for c, r in zip(res["masks"], res["mask_rows"], strict=True):
        if c is not None:
            assert c == ds.objects.at[rows[r], "mask"]
    assert sum(c is not None for c in res["masks"]) >= 2  # the focus and its prediction
    grid.close()


def test_detail_image_has_every_mask_of_its_image(ds, made):
    grid = grid_of(ds, run="seg")
    res, buffers = call(grid, "image", row=4, max_size=256)
    boxes = decode_boxes(buffers[res["boxes"]])
    assert len(res["masks"]) == len(boxes) == 5
    assert sum(c is not None for c in res["masks"]) == 4
    kinds = sorted(int(b[7]) & 4 for b, c in zip(boxes, res["masks"], strict=True) if c is not None)
    assert kinds == [0, 0, 4, 4]  # 2 GT + 2 predictions with masks
    grid.close()


def test_selected_objects_exact_at_object_level_and_per_image_at_sample_level(ds):
    og = grid_of(ds, run="seg", level="object", source="both")
    pred = ds.objects.index[(ds.objects["sample_id"] == "s01") & (ds.objects["source"] == "seg")]
    og.select([pred[1], "s04_g0"])
    assert sorted(og.selected_objects.index, key=str) == sorted([pred[1], "s04_g0"], key=str)
    assert list(og.selected_objects.columns) == list(ds.objects.columns)
    sg = grid_of(ds, run="seg")
    sg.select(["s02"])
    assert sorted(sg.selected_objects.index, key=str) == sorted(
        ds.objects.index[ds.objects["sample_id"] == "s02"], key=str
    )
    og.close()
    sg.close()


def test_mask_opacity_is_clipped_and_show_boxes_defaults(ds):
    grid = grid_of(ds, run="seg")
    grid.mask_opacity = 3
    assert grid.mask_opacity == 1.0
    grid.mask_opacity = -1
    assert grid.mask_opacity == 0.0
    with pytest.raises(Exception, match="mask_opacity"):
        grid.mask_opacity = float("nan")
    assert grid_of(ds, show_boxes=False).show_boxes is False
    grid.close()


def test_label_regions_one_mask_per_class_pycocotools_exact():
    rng = np.random.default_rng(3)
    lm = rng.integers(0, 3, (H, W)).astype(np.uint8)
    lm[:5] = 255
    regions = label_regions(lm, 3)
    assert [c for c, _ in regions] == [0, 1, 2]
    for cls, counts in regions:
        want = cm.encode(np.asfortranarray((lm == cls).astype(np.uint8)))["counts"].decode()
        assert counts == want
    assert label_regions(np.full((4, 4), 255), 3) == []
    with pytest.raises(ValueError, match=r"sample 'x'.*outside \[0, 3\)"):
        label_regions(np.full((4, 4), 7), 3, "sample 'x'")
    with pytest.raises(ValueError, match="H×W"):
        label_regions(np.zeros((2, 2, 2)), 3)


def test_region_rows_are_masks_without_boxes():
    # the style flags a semantic page uses: a region is GT / prediction + REGION
    assert (STYLE_GT + REGION) & 4 == 0 and (STYLE_PRED + REGION) & 4 == 4
    assert (STYLE_PRED + REGION) & 7 == STYLE_PRED


def test_semantic_grid_draws_each_class_region_of_the_real_label_maps():
    """A semantic dataset (``Dataset.from_label_maps``): each shown sample's GT and predicted
    maps become one region per class present (ignore pixels left out), each region's counts
    decoding to exactly ``map == class`` (pycocotools); boxes are off by default."""
    rng = np.random.default_rng(4)
    n, h, w = 5, 24, 32
    images = rng.integers(0, 255, (n, h, w, 3), dtype=np.uint8)
    gt_maps = rng.integers(0, 3, (n, h, w)).astype(np.uint8)
    gt_maps[:, :3] = 255  # ignored rows
    gt_maps[2] = 1  # one class only
    pred_maps = gt_maps.copy()
    pred_maps[pred_maps == 255] = 0
    pred_maps[:, :, :4] = 2
    ds = nbdiag.Dataset.from_label_maps(images, list(gt_maps), CLASSES)
    assert ds.task == "semantic"
    ds.add_run("seg", list(pred_maps))
    grid = grid_of(ds, run="seg")
    assert grid.has_masks and not grid.has_boxes and grid.show_boxes is False
    assert grid.has_predictions
    res, buffers = call(grid, "page", rows=[1, 2], size=64)
    boxes = decode_boxes(buffers[res["boxes"]])
    assert len(boxes) == len(res["masks"]) and res["mask_rows"] == [-1] * len(boxes)
    for r in (1, 2):
        sid = ds.samples.index[r]
        mine = [(b, c) for b, c in zip(boxes, res["masks"], strict=True) if b[0] == r]
        for source, lm, kind in (("gt", gt_maps[r], 0), ("seg", pred_maps[r], 4)):
            want = sorted(int(c) for c in np.unique(lm) if c != 255)
            got = [(int(b[6]), c) for b, c in mine if int(b[7]) & 4 == kind]
            assert [g for g, _ in got] == want, (sid, source)
            for cls, c in got:
                assert np.array_equal(decode(c, h, w), lm == cls)
        assert all(int(b[7]) & REGION for b, _ in mine)
    item = res["items"][0]
    assert (item["mh"], item["mw"]) == (h, w)
    # the detail view has the same regions
    det, _ = call(grid, "image", row=2, max_size=256)
    assert sorted(c for c in det["masks"] if c) == sorted(
        c for b, c in zip(boxes, res["masks"], strict=True) if b[0] == 2
    )
    grid.close()
