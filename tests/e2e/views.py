"""Helpers for the Scatter / Histogram / linking browser tests: synthetic data whose answers are
known in advance, pointer gestures in page coordinates, and DOM reads."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence

import numpy as np

SCATTER = '[data-testid="nbdiag-scatter"]'
HISTOGRAM = '[data-testid="nbdiag-histogram"]'
CONFUSION = '[data-testid="nbdiag-confusion-matrix"]'

#: notebook code building `ds`: 4 clusters of 150 points (disks of radius 1.5 around
#: (+-6, +-6)), a tiny in-memory image per sample, a "brightness" metric, and a classifier run
#: "m" whose predictions depend on the cluster (so confusion cells and clusters overlap)
DATA_CELL = """import numpy as np, pandas as pd, nbdiag
from nbdiag.widgets import Scatter, Histogram, ConfusionMatrix, link

rng = np.random.default_rng(2024)
CENTERS = {"A": (-6.0, 6.0), "B": (6.0, 6.0), "C": (-6.0, -6.0), "D": (6.0, -6.0)}
names, xs, ys = [], [], []
for name, (cx, cy) in CENTERS.items():
    r = 1.5 * np.sqrt(rng.uniform(0, 1, 150)); a = rng.uniform(0, 2 * np.pi, 150)
    xs.append(cx + r * np.cos(a)); ys.append(cy + r * np.sin(a)); names += [name] * 150
n = len(names)
ids = [f"img{i:04d}" for i in range(n)]
label = np.array(["cat", "dog", "bird"])[rng.integers(0, 3, n)]
samples = pd.DataFrame({"embedding_x": np.concatenate(xs), "embedding_y": np.concatenate(ys),
                        "cluster": names, "label": label,
                        "brightness": rng.uniform(0, 1, n).round(4)}, index=ids)
images = {i: np.full((12, 12, 3), (40 * k) % 255, dtype=np.uint8) for k, i in enumerate(ids)}
ds = nbdiag.Dataset(samples, class_names=["cat", "dog", "bird"], images=images)
probs = rng.dirichlet(np.ones(3), n)
probs[np.arange(n), rng.integers(0, 3, n)] += 1.0
ds.add_run("m", probs / probs.sum(axis=1, keepdims=True))"""


def transform(page, root: str = SCATTER) -> tuple[float, float, float, float, dict]:
    """The scatter's data -> canvas transform and the canvas' box in page coordinates."""
    el = page.locator(root).first
    kx, ky, tx, ty = json.loads(el.get_attribute("data-transform"))
    box = el.locator('[data-testid="sc-canvas"]').bounding_box()
    return kx, ky, tx, ty, box


def to_page(page, x: float, y: float, root: str = SCATTER) -> tuple[float, float]:
    kx, ky, tx, ty, box = transform(page, root)
    return box["x"] + x * kx + tx, box["y"] + y * ky + ty


def circle(cx: float, cy: float, r: float, n: int = 36) -> list[tuple[float, float]]:
    """A closed circle in data coordinates, starting on its left (away from the legend)."""
    return [
        (cx - r * math.cos(2 * math.pi * k / n), cy + r * math.sin(2 * math.pi * k / n))
        for k in range(n + 1)
    ]


def drag(page, points: Sequence[tuple[float, float]], modifiers: Sequence[str] = ()) -> None:
    """Press at the first point, move through the others, release at the last."""
    for m in modifiers:
        page.keyboard.down(m)
    page.mouse.move(*points[0])
    page.mouse.down()
    for p in points[1:]:
        page.mouse.move(*p, steps=2)
    page.mouse.up()
    for m in modifiers:
        page.keyboard.up(m)


def lasso_data(page, poly: Sequence[tuple[float, float]], root: str = SCATTER, **kw) -> None:
    """Draw a lasso along a polygon given in data coordinates."""
    drag(page, [to_page(page, x, y, root) for x, y in poly], **kw)


def points_in_polygon(
    x: np.ndarray, y: np.ndarray, px: Sequence[float], py: Sequence[float]
) -> np.ndarray:
    """Even-odd point-in-polygon, vectorised: the Python oracle of the browser's lasso."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    inside = np.zeros(len(x), dtype=bool)
    n = len(px)
    j = n - 1
    for i in range(n):
        xi, yi, xj, yj = px[i], py[i], px[j], py[j]
        crosses = (yi > y) != (yj > y)
        with np.errstate(divide="ignore", invalid="ignore"):
            xcross = (xj - xi) * (y - yi) / (yj - yi) + xi
        inside ^= crosses & (x < xcross)
        j = i
    return inside


def bar_center(page, root: str, i: int) -> tuple[float, float]:
    box = page.locator(root).first.locator(f'[data-testid="hist-bar-{i}"]').bounding_box()
    plot = page.locator(root).first.locator('[data-testid="hist-plot"]').bounding_box()
    # mid-height of the plot: the brush hit area covers the whole plot, whatever the bar's height
    return box["x"] + box["width"] / 2, plot["y"] + plot["height"] * 0.45


def lit_pixels(page, root: str = SCATTER) -> int:
    return page.locator(root).first.evaluate("el => el.nbdiag.litPixels()")


def console_errors(page) -> list[str]:
    return [m for m in page.console_messages if m.startswith(("pageerror", "error"))]
