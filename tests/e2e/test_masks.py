"""Masks in the ImageGrid in real JupyterLab: the browser decodes the COCO counts the kernel sends
and paints them (canvas pixels read back where a mask is and is not, the painted area compared
with pycocotools' area), and a click inside a mask selects that object in the kernel and in a
linked object view; a selection made in Python is highlighted in the grid."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pycocotools.mask as cm
import pytest
from PIL import Image
from playwright.sync_api import expect

from .harness import wait_until

W, H, THUMB = 160, 120, 128
CLASSES = ["cat", "dog"]
RX, RY, SHIFT = 20, 14, 8  # ellipse radii; predictions are the ellipse shifted right


def ellipse(cx: float, cy: float) -> np.ndarray:
    yy, xx = np.mgrid[:H, :W]
    return ((xx - cx) / RX) ** 2 + ((yy - cy) / RY) ** 2 <= 1


def counts(m: np.ndarray) -> str:
    return cm.encode(np.asfortranarray(m.astype(np.uint8)))["counts"].decode("ascii")


def box(m: np.ndarray) -> tuple[int, int, int, int]:
    ys, xs = np.nonzero(m)
    return int(xs.min()), int(ys.min()), int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("masks")
    rng = np.random.default_rng(5)
    samples, gt, preds = [], [], []
    for i in range(16):
        sid = f"m{i:02d}"
        Image.fromarray(np.full((H, W, 3), 235, np.uint8)).save(root / f"{sid}.png")
        samples.append({"id": sid, "path": str(root / f"{sid}.png")})
        cx, cy = int(rng.integers(30, 100)), int(rng.integers(20, 100))
        g = ellipse(cx, cy)
        p = ellipse(cx + SHIFT, cy)
        lbl = CLASSES[i % 2]
        gt.append(dict(object_id=f"{sid}_g", sample_id=sid, label=lbl, cx=cx, cy=cy))
        gt[-1].update(zip("xywh", box(g), strict=True), mask=counts(g))
        preds.append(dict(object_id=f"{sid}_p", sample_id=sid, label=lbl, score=0.9))
        preds[-1].update(zip("xywh", box(p), strict=True), mask=counts(p))
    pd.DataFrame(samples).to_csv(root / "samples.csv", index=False)
    pd.DataFrame(gt).to_csv(root / "gt.csv", index=False)
    pd.DataFrame(preds).to_csv(root / "preds.csv", index=False)
    return root, pd.DataFrame(gt)


def notebook_code(root, grid_args: str) -> str:
    return f"""import pandas as pd
import nbdiag
root = {str(root)!r}
samples = pd.read_csv(root + "/samples.csv")
gt = pd.read_csv(root + "/gt.csv").drop(columns=["cx", "cy"])
preds = pd.read_csv(root + "/preds.csv")
ds = nbdiag.Dataset.from_dataframe(samples, gt, class_names={CLASSES!r}, name="masks")
ds.add_run("seg", preds)
grid = nbdiag.ImageGrid(ds, {grid_args})"""


CANVAS_JS = """
([root, pos]) => {
  const cell = root.querySelector(`[data-testid=grid-cell][data-pos="${pos}"]`);
  const c = cell && cell.querySelector('canvas[data-testid=grid-masks]');
  if (!c || c.hidden) return null;
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  return {w: c.width, h: c.height, masks: Number(cell.dataset.masks), rgba: Array.from(d)};
}
"""


def canvas(page, pos: int) -> dict | None:
    root = page.locator('[data-testid="nbdiag-image-grid"]').first.element_handle()
    return page.evaluate(CANVAS_JS, [root, pos])


def rgba(c: dict, x: float, y: float) -> list[int]:
    i = (int(y) * c["w"] + int(x)) * 4
    return c["rgba"][i : i + 4]


def hex_rgb(h: str) -> list[int]:
    v = int(h[1:], 16)
    return [(v >> 16) & 255, (v >> 8) & 255, v & 255]


def test_grid_paints_masks_decoded_in_the_browser(lab, notebook, page, artifacts, data):
    root, gt = data
    code = notebook_code(root, 'run="seg", show_boxes=False, color_by="class", height=360')
    lab.write_notebook("masks.ipynb", [code, "grid"])
    nb = notebook.open("masks.ipynb")
    nb.run_all()
    probe = nb.probe
    grid_root = page.locator('[data-testid="nbdiag-image-grid"][data-ready="1"]')
    expect(grid_root).to_be_visible(timeout=60_000)
    s, dy = THUMB / W, (THUMB - H * THUMB / W) / 2  # 160x120 in 128: scale 0.8, 16 px bars
    c = wait_until(lambda: canvas(page, 0), timeout=60, what="cell 0 painted its masks")
    assert c["masks"] == 2 and (c["w"], c["h"]) == (THUMB, THUMB)
    g = gt.iloc[0]
    # the centre of the GT ellipse (inside the prediction too): painted; a far corner: not
    inside = rgba(c, g.cx * s, dy + g.cy * s)
    assert inside[3] > 0, inside
    far_x = 5 if g.cx > 80 else W - 5
    assert rgba(c, far_x * s, dy + (5 if g.cy > 60 else H - 5) * s)[3] == 0
    assert all(v == 0 for v in rgba(c, 64, 5))  # the letterbox above the image

    # predictions off: only the GT mask, in its class colour; its painted area is pycocotools'
    probe.execute("grid.show_pred = False")
    palette = ["#1f77b4", "#ff7f0e"]  # js/src/grid/palette.ts, classes 0 and 1

    def gt_only():
        d = canvas(page, 0)
        return d if d and d["masks"] == 1 else None

    c = wait_until(gt_only, timeout=20, what="the prediction's mask hidden")
    got = rgba(c, g.cx * s, dy + g.cy * s)[:3]  # canvases store premultiplied: ±2
    want = hex_rgb(palette[CLASSES.index(g.label)])
    assert all(abs(a - b) <= 2 for a, b in zip(got, want, strict=True)), (got, want)
    painted = sum(1 for a in c["rgba"][3::4] if a > 0)
    area = float(cm.area({"size": [H, W], "counts": g["mask"].encode()}))
    assert math.isclose(painted, area * s * s, rel_tol=0.08), (painted, area * s * s)
    # opacity from Python: the fill's alpha follows
    probe.execute("grid.mask_opacity = 0.2")
    wait_until(
        lambda: (rgba(canvas(page, 0), g.cx * s, dy + g.cy * s)[3] == round(0.2 * 255)) or None,
        timeout=20,
        what="opacity 0.2 painted",
    )
    probe.execute("grid.show_masks = False")
    wait_until(lambda: canvas(page, 0) is None or None, timeout=20, what="masks hidden")
    page.screenshot(path=str(artifacts / "masks_grid.png"), full_page=True)
    errors = [m for m in page.console_messages if m.startswith(("pageerror", "error"))]
    assert not errors, errors


def test_click_inside_a_mask_selects_its_object_and_python_selection_shows(
    lab, notebook, page, artifacts, data
):
    root, gt = data
    code = notebook_code(root, 'run="seg", level="object", source="both", height=360')
    code += """
h = nbdiag.Histogram(ds.evaluate("seg").predictions, "score", level="objects", bins=5)
link = nbdiag.widgets.link(grid, h, dataset=ds)"""
    lab.write_notebook("mask_select.ipynb", [code, "grid"])
    nb = notebook.open("mask_select.ipynb")
    nb.run_all()
    probe = nb.probe
    grid_root = page.locator('[data-testid="nbdiag-image-grid"][data-ready="1"]')
    expect(grid_root).to_be_visible(timeout=60_000)
    rows = probe.eval("[str(i) for i in grid.rows.index]")
    pos = rows.index("m01_g")  # the GT crop of image 1; its prediction is another row
    pred_id = probe.eval(
        "str(ds.objects.index[ds.objects['sample_id'].eq('m01') & ds.objects['source'].eq('seg')][0])"
    )
    x0, y0, x1, y1 = probe.eval(f"grid._source._region({pos})")
    cw, ch = x1 - x0, y1 - y0
    s = min(THUMB / cw, THUMB / ch)
    dx, dy = (THUMB - cw * s) / 2, (THUMB - ch * s) / 2
    g = gt.set_index("object_id").loc["m01_g"]
    wait_until(lambda: canvas(page, pos), timeout=60, what="the crop's masks painted")
    frame = page.locator(f'[data-testid=grid-cell][data-pos="{pos}"] .nbd-grid-frame')
    frame.scroll_into_view_if_needed()
    fb = frame.bounding_box()

    def click_image(x: float, y: float) -> None:
        page.mouse.click(fb["x"] + dx + (x - x0) * s, fb["y"] + dy + (y - y0) * s)

    # inside the prediction's mask, outside the GT's: the prediction is selected, not the crop
    px = g.cx + RX + 3
    assert ((px - g.cx - SHIFT) / RX) ** 2 < 1 and px < x1
    click_image(px, g.cy)
    got = probe.wait_for("[str(i) for i in grid.selection]", lambda v: len(v) > 0, timeout=30)
    assert got == [pred_id]
    assert [str(i) for i in probe.eval("list(grid.selected_objects.index)")] == [pred_id]
    assert [str(i) for i in probe.eval("list(link.selected_objects.index)")] == [pred_id]
    assert [str(i) for i in probe.eval("list(h.selection)")] == [pred_id]
    # inside the GT's own mask, outside the prediction's (drawn on top): the GT object
    click_image(g.cx - RX + 3, g.cy)
    probe.wait_for("[str(i) for i in grid.selection]", lambda v: v == ["m01_g"], timeout=30)
    assert list(map(str, probe.eval("list(link.selected_objects.index)"))) == ["m01_g"]

    # Python selects an object: its cell is highlighted
    probe.execute("grid.select(['m00_g'])")
    cell0 = page.locator(f'[data-testid=grid-cell][data-pos="{rows.index("m00_g")}"]')
    expect(cell0).to_have_attribute("data-selected", "1", timeout=10_000)
    expect(page.get_by_test_id("grid-status")).to_have_attribute(
        "data-selected-count", "1", timeout=10_000
    )
    page.screenshot(path=str(artifacts / "masks_select.png"), full_page=True)
    errors = [m for m in page.console_messages if m.startswith(("pageerror", "error"))]
    assert not errors, errors
