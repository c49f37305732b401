"""Test helpers: real image files written with Pillow and datasets over them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

import nbdiag


def scene(seed: int, w: int = 96, h: int = 96) -> np.ndarray:
    """A colourful, sharp test image: soft colour waves, solid rectangles, a checked patch
    and mild noise (like a photo: mostly smooth, with edges and some texture)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    base = np.stack(
        [
            128 + 40 * np.sin(xx / rng.uniform(8, 16) + rng.uniform(0, 6)),
            128 + 40 * np.cos(yy / rng.uniform(8, 16) + rng.uniform(0, 6)),
            128 + 40 * np.sin((xx + yy) / rng.uniform(10, 20)),
        ],
        axis=2,
    )
    for _ in range(12):
        x0, y0 = rng.integers(0, w - 8), rng.integers(0, h - 8)
        sw, sh = rng.integers(w // 12 + 2, w // 3 + 3), rng.integers(h // 12 + 2, h // 3 + 3)
        base[y0 : y0 + sh, x0 : x0 + sw] = rng.integers(0, 256, 3)
    px, py = rng.integers(0, w // 2), rng.integers(0, h // 2)
    cy, cx = np.mgrid[0 : h // 4, 0 : w // 4]
    base[py : py + h // 4, px : px + w // 4] += (((cx // 3 + cy // 3) % 2)[..., None] - 0.5) * 80
    base += rng.normal(0, 3, base.shape)
    return np.uint8(np.clip(base, 0, 255))


def save(folder: Path, name: str, arr: np.ndarray | Image.Image, **kwargs) -> str:
    path = folder / name
    img = arr if isinstance(arr, Image.Image) else Image.fromarray(arr)
    img.save(path, **kwargs)
    return str(path)


def dataset(paths: list[str], **columns) -> nbdiag.Dataset:
    return nbdiag.Dataset(pd.DataFrame({"path": paths, **columns}))
