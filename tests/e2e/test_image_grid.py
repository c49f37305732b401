"""ImageGrid in real JupyterLab: thumbnails and boxes for the visible images (positions checked
against the known placements), a placeholder for a corrupt file, click / shift / ctrl selection
read back from the kernel, the confidence slider, scrolling, sorting and the detail view."""

from __future__ import annotations

import json
import re
import time

import numpy as np
import pytest
from playwright.sync_api import expect

from . import grid_digits
from .harness import wait_until

THUMB = 128  # the grid's default cell size (px)

CELLS_JS = """
(root) => {
  const scroll = root.querySelector('[data-testid=grid-scroll]');
  const sr = scroll.getBoundingClientRect();
  return [...root.querySelectorAll('[data-testid=grid-cell]')].map(c => {
    const img = c.querySelector('img[data-testid=grid-img]');
    const cr = c.getBoundingClientRect();
    const ph = c.querySelector('[data-testid=grid-placeholder]');
    const num = (r, a) => Number(r.getAttribute(a));
    return {
      pos: Number(c.dataset.pos), row: Number(c.dataset.row), id: c.dataset.id || null,
      state: c.dataset.state, selected: c.dataset.selected === '1',
      visible: cr.bottom > sr.top + 1 && cr.top < sr.bottom - 1,
      natural: img && !img.hidden && img.complete ? img.naturalWidth : 0,
      img: img && !img.hidden ? {x: img.offsetLeft, y: img.offsetTop, w: img.offsetWidth, h: img.offsetHeight} : null,
      issue: ph && !ph.hidden ? (ph.dataset.issue || null) : null,
      boxes: [...c.querySelectorAll('rect[data-testid=grid-box]')].map(r => ({
        kind: r.dataset.kind, state: r.dataset.state, cls: Number(r.dataset.cls),
        score: r.dataset.score === undefined ? null : Number(r.dataset.score),
        x: num(r, 'x'), y: num(r, 'y'), w: num(r, 'width'), h: num(r, 'height'),
      })),
    };
  });
}
"""


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> grid_digits.GridData:
    return grid_digits.build(tmp_path_factory.mktemp("grid") / "digits", n=60)


def cells(page) -> list[dict]:
    root = page.locator('[data-testid="nbdiag-image-grid"]').element_handle()
    return page.evaluate(CELLS_JS, root)


def expected_boxes(data: grid_digits.GridData, sid: str, threshold: float) -> list[dict]:
    """The boxes the grid must draw for ``sid`` at ``threshold`` (cell coordinates)."""
    s, dx, dy = grid_digits.fit(grid_digits.W, grid_digits.H, THUMB)
    matched = data.matched_score()
    out = []
    for g in data.gt[data.gt["sample_id"] == sid].itertuples():
        hit = g.object_id in matched and matched[g.object_id] >= threshold
        out.append(("gt", "tp" if hit else "fn", g.label, g.x, g.y, g.w, g.h))
    for p in data.preds[data.preds["sample_id"] == sid].itertuples():
        if p.score >= threshold:
            out.append(("pred", p.kind, p.label, p.x, p.y, p.w, p.h))
    return sorted(
        (
            k,
            st,
            int(lbl),
            round(dx + x * s, 1),
            round(dy + y * s, 1),
            round(w * s, 1),
            round(h * s, 1),
        )
        for k, st, lbl, x, y, w, h in out
    )


def drawn_boxes(cell: dict) -> list[tuple]:
    return sorted(
        (b["kind"], b["state"], b["cls"], b["x"], b["y"], b["w"], b["h"]) for b in cell["boxes"]
    )


def assert_boxes_match(cell: dict, want: list[tuple]) -> None:
    got = drawn_boxes(cell)
    assert len(got) == len(want), (cell["id"], got, want)
    for g, w in zip(got, want, strict=True):
        assert g[:3] == w[:3], (cell["id"], got, want)
        assert np.allclose(g[3:], w[3:], atol=0.15), (cell["id"], got, want)


def set_theme(page, name: str) -> None:
    """Settings > Theme > ``name`` (Lumino submenus carry no ARIA role: match their text)."""
    page.locator(".lm-MenuBar-item", has_text="Settings").first.click()
    page.locator(".lm-Menu-item[data-type='submenu']").filter(
        has_text=re.compile(r"^\s*Theme\s*$")
    ).first.hover()
    page.locator(".lm-Menu-item").filter(has_text=re.compile(rf"^\s*{name}\s*$")).first.click()


def visible_loaded(page) -> list[dict]:
    return [c for c in cells(page) if c["visible"] and c["state"] in ("ready", "error")]


def test_image_grid_boxes_selection_slider_scroll(lab, notebook, page, artifacts, data):
    timings: dict[str, float] = {}
    t0 = time.monotonic()

    def lap(name: str) -> None:
        timings[name] = round(time.monotonic() - t0, 2)

    lab.write_notebook("image_grid.ipynb", [data.notebook_code(), "grid"])
    nb = notebook.open("image_grid.ipynb")
    nb.run_all()
    lap("run_all_done")
    probe = nb.probe
    ids = list(data.samples["id"])

    root = page.locator('[data-testid="nbdiag-image-grid"][data-ready="1"]')
    expect(root).to_be_visible(timeout=60_000)
    lap("widget_ready")

    # --- the visible cells load: thumbnails decoded, boxes where the placements say
    def first_screen():
        vis = [c for c in cells(page) if c["visible"]]
        done = [
            c for c in vis if c["state"] == "ready" and c["natural"] > 0 or c["state"] == "error"
        ]
        return vis if vis and len(done) == len(vis) else None

    vis = wait_until(first_screen, timeout=60, interval=0.25, what="visible thumbnails loaded")
    lap("first_screen_loaded")
    assert len(vis) >= 8, f"expected a screenful of cells, got {len(vis)}"
    assert [c["row"] for c in sorted(vis, key=lambda c: c["pos"])][:8] == list(range(8))
    s, dx, dy = grid_digits.fit(grid_digits.W, grid_digits.H, THUMB)
    n_boxes = 0
    for c in vis:
        sid = ids[c["row"]]
        assert c["id"] == sid
        if sid == data.corrupt:
            continue
        assert c["natural"] == THUMB  # a 128 px WEBP of a 160x120 image
        assert c["img"] == {"x": 0, "y": round(dy), "w": round(160 * s), "h": round(120 * s)}
        want = expected_boxes(data, sid, 0.0)
        assert_boxes_match(c, want)
        n_boxes += len(want)
    assert n_boxes >= 10
    states = {b["state"] for c in vis for b in c["boxes"]}
    assert {"tp", "fn", "fp"} <= states, states

    # --- the corrupt file: a placeholder naming the issue, never a broken grid
    bad = next(c for c in vis if ids[c["row"]] == data.corrupt)
    assert bad["state"] == "error" and bad["issue"] == "corrupt_image" and bad["img"] is None
    expect(page.get_by_test_id("grid-placeholder").filter(has_text="corrupt_image")).to_have_count(
        1
    )
    page.screenshot(path=str(artifacts / "01_loaded.png"))
    root.screenshot(path=str(artifacts / "grid.png"))

    # --- click, shift-click (range), ctrl-click (toggle): checked in the kernel
    selected = "list(grid.selected.index)"
    page.locator('[data-testid=grid-cell][data-pos="0"]').click()
    assert probe.wait_for(selected, lambda v: v == ids[:1], timeout=30) == ids[:1]
    assert probe.eval("grid.selection_source") == "click:0"
    page.locator('[data-testid=grid-cell][data-pos="5"]').click(modifiers=["Shift"])
    assert probe.wait_for(selected, lambda v: len(v) == 6, timeout=30) == ids[:6]
    page.locator('[data-testid=grid-cell][data-pos="2"]').click(modifiers=["Control"])
    want = [ids[i] for i in (0, 1, 3, 4, 5)]
    assert probe.wait_for(selected, lambda v: len(v) == 5, timeout=30) == want
    lap("selection_to_kernel")
    marked = sorted(c["row"] for c in cells(page) if c["selected"])
    assert marked == [0, 1, 3, 4, 5]
    expect(page.get_by_test_id("grid-status")).to_have_attribute("data-selected-count", "5")
    page.screenshot(path=str(artifacts / "02_selected.png"))

    # --- from Python: the grid follows
    probe.execute(f"grid.select({ids[6:9]!r})")
    wait_until(
        lambda: sorted(c["row"] for c in cells(page) if c["selected"]) == [6, 7, 8],
        timeout=20,
        what="python selection outlined",
    )

    # --- confidence slider: low-scoring predictions vanish, their ground truth turns FN
    slider = page.get_by_test_id("grid-threshold")
    slider.evaluate(
        """(el) => { el.value = '0.6'; el.dispatchEvent(new Event('input', {bubbles: true}));
                     el.dispatchEvent(new Event('change', {bubbles: true})); }"""
    )
    assert probe.wait_for("grid.score_threshold", lambda v: abs(v - 0.6) < 1e-9) == 0.6
    vis = visible_loaded(page)
    hidden = 0
    for c in vis:
        sid = ids[c["row"]]
        if sid == data.corrupt:
            continue
        assert_boxes_match(c, expected_boxes(data, sid, 0.6))
        hidden += len(expected_boxes(data, sid, 0.0)) - len(expected_boxes(data, sid, 0.6))
    assert hidden > 0, "the slider should hide some boxes on the first screen"
    assert all(b["score"] >= 0.6 for c in vis for b in c["boxes"] if b["kind"] == "pred")
    lap("slider")
    page.screenshot(path=str(artifacts / "03_threshold_0.6.png"))

    # --- hide ground truth from the toolbar: only predictions remain
    page.get_by_test_id("grid-show-gt").uncheck()
    assert probe.wait_for("grid.show_gt", lambda v: v is False) is False
    vis = visible_loaded(page)
    assert all(b["kind"] == "pred" for c in vis for b in c["boxes"])

    # --- scrolling: later pages load, the DOM stays small
    scroll = page.get_by_test_id("grid-scroll")
    scroll.evaluate("el => { el.scrollTop = el.scrollHeight; }")

    def last_loaded():
        cs = cells(page)
        rows = {c["row"] for c in cs if c["visible"] and c["natural"] > 0}
        return cs if len(ids) - 1 in rows else None

    cs = wait_until(last_loaded, timeout=60, interval=0.25, what="the last page loaded")
    lap("scrolled_to_end")
    assert len(cs) < 60, f"virtualised: {len(cs)} cells in the DOM for 60 rows"
    assert min(c["row"] for c in cs) > 0, "the first rows should have been recycled"
    page.screenshot(path=str(artifacts / "04_scrolled.png"))

    # --- sort by a column from the toolbar (descending max score): the kernel's order shows
    page.get_by_test_id("grid-show-gt").check()
    page.get_by_test_id("grid-sort").select_option("max_score")
    assert probe.wait_for("grid.sort_by", lambda v: v == "max_score") == "max_score"
    page.get_by_test_id("grid-sort-dir").click()
    assert probe.wait_for("grid.ascending", lambda v: v is False) is False
    best = data.preds.groupby("sample_id")["score"].max()
    order = sorted(range(len(ids)), key=lambda i: (ids[i] not in best, -best.get(ids[i], 0.0)))
    assert probe.eval("list(grid.display_ids[:10])") == [ids[i] for i in order[:10]]
    wait_until(
        lambda: (
            [c["row"] for c in sorted(visible_loaded(page), key=lambda c: c["pos"])][:6]
            == order[:6]
        ),
        timeout=30,
        what="sorted cells",
    )
    # the selection is kept across the sort, in grid order
    assert probe.eval(selected) == [ids[i] for i in order if i in (6, 7, 8)]
    page.screenshot(path=str(artifacts / "05_sorted.png"))

    # --- detail view: full-size image and every box, then close
    first = page.locator('[data-testid=grid-cell][data-pos="0"]')
    first.dblclick()
    detail = page.locator('[data-testid=grid-detail][data-state="ready"]')
    expect(detail).to_be_visible(timeout=30_000)
    img = page.get_by_test_id("grid-detail-img")
    wait_until(lambda: img.evaluate("i => i.complete && i.naturalWidth") > 0, timeout=20)
    assert img.evaluate("i => i.naturalWidth") == 512  # small images are enlarged, crisp
    sid = ids[order[0]]
    n_want = len(expected_boxes(data, sid, 0.6))
    assert detail.locator("rect[data-testid=grid-box]").count() == n_want
    expect(page.get_by_test_id("grid-detail-title")).to_have_text(sid)
    lap("detail")
    page.screenshot(path=str(artifacts / "06_detail.png"))
    root.screenshot(path=str(artifacts / "detail.png"))
    page.get_by_test_id("grid-detail-close").click()
    expect(page.get_by_test_id("grid-detail")).to_be_hidden()

    # dark theme: the grid follows JupyterLab's CSS variables
    bg_light = root.evaluate("el => getComputedStyle(el).backgroundColor")
    set_theme(page, "JupyterLab Dark")

    def dark():
        rgb = root.evaluate("el => getComputedStyle(el).backgroundColor")
        nums = [int(x) for x in rgb[rgb.index("(") + 1 : rgb.index(")")].split(",")[:3]]
        return rgb if sum(nums) < 3 * 90 else None

    bg_dark = wait_until(dark, timeout=30, what="dark theme applied to the grid")
    assert bg_dark != bg_light
    page.wait_for_timeout(300)
    root.screenshot(path=str(artifacts / "grid_dark.png"))
    set_theme(page, "JupyterLab Light")

    errors = [m for m in page.console_messages if m.startswith(("pageerror", "error"))]
    assert not errors, errors
    (artifacts / "timings.json").write_text(json.dumps(timings, indent=2))


def crop_region(x: float, y: float, w: float, h: float) -> tuple[int, int, int, int]:
    """The crop an object cell shows: its box plus 25% context, inside the 160x120 image."""
    import math

    pad = max(0.25 * max(w, h), 2.0)
    x0 = min(max(math.floor(x - pad), 0), grid_digits.W - 1)
    y0 = min(max(math.floor(y - pad), 0), grid_digits.H - 1)
    x1 = max(min(math.ceil(x + w + pad), grid_digits.W), x0 + 1)
    y1 = max(min(math.ceil(y + h + pad), grid_digits.H), y0 + 1)
    return x0, y0, x1, y1


def test_image_grid_object_level_crops(lab, notebook, page, artifacts, data):
    lab.write_notebook(
        "image_grid_objects.ipynb",
        [data.notebook_code('run="det", level="object", source="both"'), "grid"],
    )
    nb = notebook.open("image_grid_objects.ipynb")
    nb.run_all()
    probe = nb.probe
    root = page.locator('[data-testid="nbdiag-image-grid"][data-ready="1"]')
    expect(root).to_be_visible(timeout=60_000)
    object_ids = probe.eval("list(grid.rows.index)")
    gt = data.gt.set_index("object_id")
    preds = data.preds.set_index("object_id")
    assert object_ids == list(gt.index) + list(preds.index)

    def loaded():
        vis = [c for c in cells(page) if c["visible"]]
        return vis if vis and all(c["state"] == "ready" and c["natural"] > 0 for c in vis) else None

    vis = wait_until(loaded, timeout=60, interval=0.25, what="object crops loaded")
    chips = {
        el["row"]: el["chip"]
        for el in page.evaluate(
            """() => [...document.querySelectorAll('[data-testid=grid-cell]')].map(c => ({
                 row: Number(c.dataset.row),
                 chip: c.querySelector('[data-testid=grid-chip]')?.textContent || null}))"""
        )
    }
    matched = data.matched_score()
    for c in vis:
        oid = object_ids[c["row"]]
        src = gt.loc[oid] if oid in gt.index else preds.loc[oid]
        x0, y0, x1, y1 = crop_region(src.x, src.y, src.w, src.h)
        s, dx, dy = grid_digits.fit(x1 - x0, y1 - y0, THUMB)
        focus = [b for b in c["boxes"] if b["kind"] == ("gt" if oid in gt.index else "pred")]
        own = [
            b
            for b in focus
            if np.allclose(
                [b["x"], b["y"], b["w"], b["h"]],
                [dx + (src.x - x0) * s, dy + (src.y - y0) * s, src.w * s, src.h * s],
                atol=0.15,
            )
        ]
        assert len(own) == 1, (oid, c["boxes"])
        if oid in gt.index:
            want = "TP" if oid in matched else "FN"
        else:
            want = src.kind.upper()
        assert chips[c["row"]] == want, (oid, chips[c["row"]], want)
    root.screenshot(path=str(artifacts / "objects.png"))

    # select two objects: the kernel gets object rows, with their sample
    page.locator('[data-testid=grid-cell][data-pos="1"]').click()
    page.locator('[data-testid=grid-cell][data-pos="2"]').click(modifiers=["Control"])
    got = probe.wait_for("list(grid.selected.index)", lambda v: len(v) == 2, timeout=30)
    assert got == object_ids[1:3]
    assert probe.eval("list(grid.selected.sample_id)") == list(gt.loc[got, "sample_id"])
    errors = [m for m in page.console_messages if m.startswith(("pageerror", "error"))]
    assert not errors, errors


BIG = 100_000

BIG_NOTEBOOK = [
    f"""import numpy as np
import nbdiag
from sklearn.datasets import load_digits
d = load_digits()
reps = -(-{BIG} // len(d.images))
images = np.tile(d.images, (reps, 1, 1))[:{BIG}]
labels = np.tile(d.target, reps)[:{BIG}]
rng = np.random.default_rng(0)
pred = np.where(rng.random({BIG}) < 0.85, labels, rng.integers(0, 10, {BIG}))
probs = np.full(({BIG}, 10), 0.02)
probs[np.arange({BIG}), pred] = 0.82
ds = nbdiag.Dataset.from_arrays(images, labels, probs=probs, class_names=[str(i) for i in range(10)])
grid = nbdiag.ImageGrid(ds, run="model", height=420)""",
    "grid",
]


def test_image_grid_100k_classification_virtualised(lab, notebook, page, artifacts):
    timings: dict[str, float] = {}
    lab.write_notebook("image_grid_100k.ipynb", BIG_NOTEBOOK)
    nb = notebook.open("image_grid_100k.ipynb")
    nb.run_all(timeout=300)
    t0 = time.monotonic()
    probe = nb.probe
    root = page.locator('[data-testid="nbdiag-image-grid"][data-ready="1"]')
    expect(root).to_be_visible(timeout=60_000)
    truth = probe.eval("[str(v) for v in ds.samples.label[:40]]")
    predicted = probe.eval("[str(v) for v in grid.rows.prediction[:40]]")

    def loaded():
        vis = [c for c in cells(page) if c["visible"]]
        return vis if vis and all(c["state"] == "ready" and c["natural"] > 0 for c in vis) else None

    vis = wait_until(loaded, timeout=60, interval=0.25, what="first screen of 100k")
    timings["first_screen_s"] = round(time.monotonic() - t0, 2)
    captions = page.evaluate(
        """() => Object.fromEntries([...document.querySelectorAll('[data-testid=grid-cell]')].map(c =>
             [c.dataset.row, {status: c.dataset.status || null,
                              text: c.querySelector('[data-testid=grid-caption]').textContent}]))"""
    )
    for c in vis:
        r = c["row"]
        cap = captions[str(r)]
        wrong = truth[r] != predicted[r]
        assert cap["status"] == ("wrong" if wrong else "right"), (r, cap)
        assert cap["text"].startswith(truth[r])
        if wrong:
            assert predicted[r] in cap["text"]
    assert any(captions[str(c["row"])]["status"] == "wrong" for c in vis)
    status = page.get_by_test_id("grid-status")
    assert int(status.get_attribute("data-shown")) == BIG
    root.screenshot(path=str(artifacts / "classification.png"))

    # jump to the middle, then to the end: the DOM stays a window, the new rows load
    scroll = page.get_by_test_id("grid-scroll")
    for where, target in (("middle", "el.scrollHeight / 2"), ("end", "el.scrollHeight")):
        t1 = time.monotonic()
        scroll.evaluate(f"el => {{ el.scrollTop = {target}; }}")
        vis = wait_until(loaded, timeout=60, interval=0.25, what=f"rows at the {where}")
        timings[f"{where}_loaded_s"] = round(time.monotonic() - t1, 2)
        n_cells = len(cells(page))
        assert n_cells < 120, f"{n_cells} cells in the DOM"
        rows = [c["row"] for c in vis]
        if where == "middle":
            assert 40_000 < min(rows) < 60_000
        else:
            assert BIG - 1 in rows
    page.screenshot(path=str(artifacts / "scrolled_to_end.png"))
    # fast scrolling through: most pages are cancelled, the kernel skips what was still queued
    for k in range(20):
        scroll.evaluate(f"el => {{ el.scrollTop = el.scrollHeight * {k} / 20; }}")
        page.wait_for_timeout(30)
    wait_until(loaded, timeout=60, interval=0.25, what="rows after fast scrolling")
    # a slow answer (4 s per page: images on a slow disk), past anywidget's 3 s default: the
    # cells wait (never "failed") and load when the answer comes
    probe.execute(
        "import time as _t\n"
        "_fast = grid._rpc.methods['page']\n"
        "def _slow(call):\n"
        "    _t.sleep(4)\n"
        "    return _fast(call)\n"
        "grid._rpc.methods['page'] = _slow"
    )
    t1 = time.monotonic()
    scroll.evaluate("el => { el.scrollTop = el.scrollHeight * 0.37; }")  # never visited
    page.wait_for_timeout(3500)
    waiting = [c for c in cells(page) if c["visible"]]
    assert waiting and all(c["state"] == "loading" for c in waiting), [c["state"] for c in waiting]
    wait_until(loaded, timeout=60, interval=0.25, what="rows after a slow answer")
    timings["slow_page_loaded_s"] = round(time.monotonic() - t1, 2)
    assert timings["slow_page_loaded_s"] > 4
    probe.execute("grid._rpc.methods['page'] = _fast")
    stats = probe.eval("grid._rpc.stats")
    timings["kernel_rpc"] = stats
    assert stats["errors"] == 0
    (artifacts / "timings.json").write_text(json.dumps(timings, indent=2))
    errors = [m for m in page.console_messages if m.startswith(("pageerror", "error"))]
    assert not errors, errors


def test_detection_confusion_matrix_filters_the_linked_grid(lab, notebook, page, artifacts, data):
    code = data.notebook_code('run="det", selected_only=True, height=380')
    code += """
cm = nbdiag.ConfusionMatrix(ds, run="det")
link = nbdiag.widgets.link(cm, grid)"""
    lab.write_notebook("cm_detection.ipynb", [code, "cm", "grid"])
    nb = notebook.open("cm_detection.ipynb")
    nb.run_all()
    probe = nb.probe
    cm_root = page.locator('[data-testid="nbdiag-confusion-matrix"][data-ready="1"]')
    expect(cm_root).to_be_visible(timeout=60_000)
    names = probe.eval("cm.class_names")
    assert names[-1] == "background" and len(names) == 11

    def dom_counts() -> list[list[int]]:
        return page.evaluate(
            """(k) => Array.from({length: k}, (_, t) => Array.from({length: k}, (_, p) =>
                 Number(document.querySelector(`[data-testid="cm-cell-${t}-${p}"]`).dataset.count)))""",
            len(names),
        )

    want = probe.eval("cm.matrix.to_numpy().astype(int).tolist()")
    assert dom_counts() == want
    bg = len(names) - 1
    n_fp = len(data.preds[data.preds["kind"] == "fp"])
    n_fn = len(data.gt) - len(data.preds[data.preds["kind"] == "tp"])
    assert sum(want[bg]) == n_fp and sum(r[bg] for r in want) == n_fn
    expect(page.get_by_test_id("cm-thresholds")).to_be_visible()

    # click a false-positive cell: the shared selection holds those predictions' images, and
    # the linked grid (selected_only) shows just them
    p = max(range(bg), key=lambda j: want[bg][j])
    fps = data.preds[(data.preds["kind"] == "fp") & (data.preds["label"] == names[p])]
    assert len(fps) == want[bg][p]
    fp_samples = sorted(set(fps["sample_id"]))
    page.get_by_test_id(f"cm-cell-{bg}-{p}").click()
    assert probe.wait_for("sorted(link.selection)", lambda v: v == fp_samples) == fp_samples
    assert probe.eval("link.selection_source") == f"cell:{bg}:{p}"
    assert probe.eval("sorted(grid.selection)") == fp_samples
    # every pair of those images is in the matrix's selection (linking is per sample)
    kinds = probe.eval("sorted(set(cm.selected.kind))")
    assert "fp" in kinds
    assert set(probe.eval("list(cm.selected.sample_id)")) == set(fp_samples)

    def grid_ids():
        ids = sorted(c["id"] for c in cells(page) if c["state"] == "ready")
        return ids if ids == fp_samples else None

    wait_until(grid_ids, timeout=30, what="the grid filtered to the clicked cell's images")
    page.screenshot(path=str(artifacts / "01_fp_cell_filters_grid.png"), full_page=True)
    cm_root.screenshot(path=str(artifacts / "confusion_detection.png"))
    grid_root = page.locator('[data-testid="nbdiag-image-grid"]')
    grid_root.scroll_into_view_if_needed()
    grid_root.screenshot(path=str(artifacts / "grid_filtered.png"))

    # raise the IoU threshold to 0.95: every 1-2 px shifted match fails, the matrix re-matches
    iou = page.get_by_test_id("cm-iou")
    iou.evaluate(
        """(el) => { el.value = '0.95'; el.dispatchEvent(new Event('input', {bubbles: true}));
                     el.dispatchEvent(new Event('change', {bubbles: true})); }"""
    )
    assert probe.wait_for("cm.iou_threshold", lambda v: abs(v - 0.95) < 1e-9) == 0.95
    want95 = probe.eval("cm.matrix.to_numpy().astype(int).tolist()")
    assert want95 != want and sum(want95[bg]) > sum(want[bg])
    wait_until(lambda: dom_counts() == want95, timeout=30, what="matrix redrawn at IoU 0.95")
    assert probe.eval("cm.evaluation.iou_threshold") == 0.95
    errors = [m for m in page.console_messages if m.startswith(("pageerror", "error"))]
    assert not errors, errors


def test_an_object_selection_stays_exact_across_linked_object_views(
    lab, notebook, page, artifacts, data
):
    """Clicking one predicted box in the object grid selects that box (not every box of its
    image) in the linked score histogram, and the kernel gets the exact objects; a score range
    selected in Python shows as exactly those crops in the grid."""
    code = data.notebook_code('run="det", level="object", source="pred", height=360')
    code += """
h = nbdiag.Histogram(ds.evaluate("det").predictions, "score", level="objects", bins=10)
link = nbdiag.widgets.link(grid, h, dataset=ds)"""
    lab.write_notebook("object_link.ipynb", [code, "h", "grid"])
    nb = notebook.open("object_link.ipynb")
    nb.run_all()
    probe = nb.probe
    grid_root = page.locator('[data-testid="nbdiag-image-grid"][data-ready="1"]')
    hist_root = page.locator('[data-testid="nbdiag-histogram"][data-ready="1"]')
    expect(grid_root).to_be_visible(timeout=60_000)
    expect(hist_root).to_be_visible(timeout=60_000)
    object_ids = probe.eval("list(grid.rows.index)")
    per_image = data.preds.groupby("sample_id").size()
    # a crop whose image holds several predictions: linking by image would select them all
    pos = next(i for i, oid in enumerate(object_ids) if per_image[_sample_of(data, oid)] > 1)
    grid_root.scroll_into_view_if_needed()
    page.locator(f'[data-testid=grid-cell][data-pos="{pos}"]').click()
    oid = object_ids[pos]
    got = probe.wait_for("list(link.selected_objects.index)", lambda v: len(v) > 0, timeout=30)
    assert got == [oid]
    assert probe.eval("list(h.selection)") == [oid]
    assert probe.eval("list(link.selection)") == [_sample_of(data, oid)]

    def hist_selected() -> int:
        return hist_root.evaluate(
            "el => [...el.querySelectorAll('[data-testid^=hist-bar-]')]"
            ".reduce((s, b) => s + Number(b.dataset.selectedCount || 0), 0)"
        )

    # the histogram highlights one box in the browser, not every box of the image
    wait_until(lambda: hist_selected() == 1 or None, timeout=10, what="one box in the histogram")

    # Python: a score range; the grid shows exactly those crops as selected
    want = probe.eval("h.select_range(0.3, 0.7) or sorted(h.selection)")
    assert 0 < len(want) < len(object_ids)
    status = page.get_by_test_id("grid-status")
    expect(status).to_have_attribute("data-selected-count", str(len(want)), timeout=10_000)
    assert probe.eval("sorted(grid.selection)") == want
    page.screenshot(path=str(artifacts / "object_link.png"), full_page=True)
    errors = [m for m in page.console_messages if m.startswith(("pageerror", "error"))]
    assert not errors, errors


def _sample_of(data: grid_digits.GridData, object_id) -> str:
    return data.preds.set_index("object_id").loc[object_id, "sample_id"]
