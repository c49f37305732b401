"""Clean images for the robustness generators: synthetic scenes drawn differently from
:func:`benchmarks.planted_images.scene`, crops of real photos and upscaled handwritten digits.

Every clean image is well exposed, sharp and has visible structure; its exposure varies (a
clean image may be low-key or high-key), so that the flags must tell a dim but normal picture
from a dark one.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw

WORDS = ("STOP", "SALE", "hello", "2024", "EXIT", "cafe", "OPEN", "north", "42", "zone")


@lru_cache(maxsize=1)
def photos() -> tuple[np.ndarray, ...]:
    """scikit-learn's two sample photos (china, flower; 640 x 427 RGB)."""
    from sklearn.datasets import load_sample_images

    return tuple(load_sample_images().images)


@lru_cache(maxsize=1)
def digits() -> np.ndarray:
    """scikit-learn's 8 x 8 digits, 0..16."""
    from sklearn.datasets import load_digits

    return load_digits().images


def _tone(arr: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Map the 1st-99th luma percentiles to a random but normal exposure range."""
    luma = arr @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    p1, p99 = np.percentile(luma, [1, 99])
    lo, hi = rng.uniform(0, 45), rng.uniform(175, 255)
    out = (arr - p1) * ((hi - lo) / max(p99 - p1, 1.0)) + lo
    return np.clip(out, 0, 255)


def blob_scene(rng: np.random.Generator, w: int, h: int) -> np.ndarray:
    """Soft colour blobs over a tilted, striped backdrop, a few thick strokes, a word and sensor
    noise; the exposure range is drawn at random (low-key to high-key)."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    img = np.empty((h, w, 3), np.float32)
    img[:] = rng.uniform(40, 200, 3)
    for _ in range(int(rng.integers(4, 9))):
        cx, cy = rng.uniform(0, w), rng.uniform(0, h)
        s = rng.uniform(0.05, 0.25) * max(w, h)
        g = np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * s * s))
        img += g[..., None] * rng.uniform(-120, 120, 3)
    period = rng.uniform(6, 20)
    angle = rng.uniform(0, np.pi)
    stripes = np.sin((np.cos(angle) * xx + np.sin(angle) * yy) * 2 * np.pi / period)
    img += stripes[..., None] * rng.uniform(6, 18)
    base = Image.fromarray(np.uint8(np.clip(img, 0, 255)))
    draw = ImageDraw.Draw(base)
    for _ in range(int(rng.integers(3, 8))):
        pts = [tuple(float(v) for v in rng.uniform(0, 1, 2) * (w, h)) for _ in range(3)]
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        draw.line(pts, fill=colour, width=int(rng.integers(2, max(3, w // 25))))
    word = str(rng.choice(WORDS))
    draw.text(
        (float(rng.uniform(0, 0.6) * w), float(rng.uniform(0, 0.8) * h)),
        word,
        fill=tuple(int(c) for c in rng.integers(0, 256, 3)),
        font_size=int(rng.integers(max(10, h // 10), max(12, h // 4))),
    )
    arr = np.asarray(base, dtype=np.float32)
    # fine texture over the whole picture (sand, foliage, fabric): natural photos have detail
    # almost everywhere, not just at a few edges
    for cell in (2, 4):
        tex = rng.normal(0, 1, (h // cell + 1, w // cell + 1)).astype(np.float32)
        tex = np.repeat(np.repeat(tex, cell, 0), cell, 1)[:h, :w]
        arr += tex[..., None] * rng.uniform(6, 14)
    arr = _tone(arr, rng)
    arr += rng.normal(0, rng.uniform(1, 4), arr.shape)
    return np.uint8(np.clip(arr, 0, 255))


#: crops of the photos are taken from disjoint cells of this size (at a few scales), so two clean
#: crops never show the same part of a photo at the same scale
CELL = 128
SCALES = (1.0, 1.5, 2.2)
_used: set[tuple[int, float, int, int, bool]] = set()


def reset() -> None:
    """Forget which photo cells were used (each generator run starts afresh)."""
    _used.clear()


def photo_crop(rng: np.random.Generator, w: int, h: int) -> np.ndarray:
    """A crop of china or flower from a cell not used before (at most 128 px a side, the photo
    area-reduced by 1, 1.5 or 2.2 first; mirrored or not), sometimes with its colour channels
    permuted; a cell without visible structure (sky, shadow) is skipped. Falls back to a
    synthetic scene when every cell is used."""
    cells = []
    for p in range(2):
        ph, pw = photos()[p].shape[:2]
        for s in SCALES:
            for gx in range(int(pw / s) // CELL):
                for gy in range(int(ph / s) // CELL):
                    for flip in (False, True):
                        if (p, s, gx, gy, flip) not in _used:
                            cells.append((p, s, gx, gy, flip))
    for k in rng.permutation(len(cells)):
        key = cells[k]
        p, s, gx, gy, flip = key
        _used.add(key)
        img = Image.fromarray(photos()[p])
        if s != 1.0:
            img = img.resize((round(img.width / s), round(img.height / s)), Image.Resampling.BOX)
        cw, ch = min(w, CELL), min(h, CELL)
        x0 = gx * CELL + int(rng.integers(0, CELL - cw + 1))
        y0 = gy * CELL + int(rng.integers(0, CELL - ch + 1))
        crop = img.crop((x0, y0, x0 + cw, y0 + ch))
        small = np.asarray(crop.convert("L").resize((16, 16), Image.Resampling.BOX), np.float32)
        if small.std() < 18 or not 50 < small.mean() < 200:
            continue  # a patch of sky or shadow: not a clean "scene"
        gray = np.asarray(crop.convert("L"), np.float32)
        if np.abs(np.diff(gray, axis=1)).mean() < 5:
            continue  # mostly out-of-focus background (the flower's bokeh)
        arr = np.asarray(crop)
        if flip:
            arr = arr[:, ::-1]
        if rng.random() < 0.3:
            arr = arr[:, :, list(rng.permutation(3))]
        return np.ascontiguousarray(arr)
    return blob_scene(rng, w, h)


def digit_scene(rng: np.random.Generator, w: int, h: int) -> np.ndarray:
    """A handwritten digit (8 x 8) enlarged with nearest-neighbour to ``w x h``, in two random
    colours, with mild noise."""
    d = digits()[int(rng.integers(0, len(digits())))] / 16.0
    luma = np.array([0.299, 0.587, 0.114])
    fg, bg = rng.uniform(0, 255, 3), rng.uniform(0, 255, 3)
    while abs(fg @ luma - bg @ luma) < 90 or min(fg @ luma, bg @ luma) > 100:
        fg, bg = rng.uniform(0, 255, 3), rng.uniform(0, 255, 3)
    s = rng.uniform(0.5, 0.9)  # the digit's share of the canvas, at a random place
    dw, dh = max(8, round(w * s)), max(8, round(h * s))
    glyph = Image.fromarray(np.uint8(d * 255)).resize((dw, dh), Image.Resampling.NEAREST)
    canvas = Image.new("L", (w, h), 0)
    canvas.paste(glyph, (int(rng.integers(0, w - dw + 1)), int(rng.integers(0, h - dh + 1))))
    t = np.asarray(canvas, dtype=np.float32)[..., None] / 255.0
    arr = bg + (fg - bg) * t + rng.normal(0, 2, (h, w, 3))
    return np.uint8(np.clip(arr, 0, 255))


SOURCES = {"scene": blob_scene, "photo": photo_crop, "digit": digit_scene}
#: how often each source is drawn
SOURCE_SHARES = {"scene": 0.55, "photo": 0.30, "digit": 0.15}


def clean(rng: np.random.Generator, w: int, h: int, source: str | None = None):
    """``(source name, image)``: a clean image of a source drawn by :data:`SOURCE_SHARES`."""
    if source is None:
        names = list(SOURCE_SHARES)
        source = str(rng.choice(names, p=list(SOURCE_SHARES.values())))
    return source, SOURCES[source](rng, w, h)
