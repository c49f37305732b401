"""A seeded generator of real image files with planted quality issues and their ground truth.

``generate(root, n=2000, seed=0)`` writes ``root/images/*.jpg|png`` and ``root/truth.csv``
(one row per file: ``file`` plus one boolean column per planted issue) and returns the truth
table. Re-running with the same arguments reuses the folder.

Clean images are synthetic "scenes": a smooth two-colour gradient with low-frequency colour
variation, 6-14 random shapes (ellipses, rectangles, polygons, some textured), and mild sensor
noise; most are 256x256, a few vary by up to ~12% per side, JPEG (quality 88-95) or PNG. Each
planted issue is a clear case a person would name the same way:

=================  ===================================================================
dark               the scene's pixel values multiplied by 0.08-0.30
light              washed out: ``255 - (255 - v) * f`` with f in 0.08-0.30
blurry             Gaussian blur, radius 2-5 px (of a 256 px image)
low_information    one clear hue (perceived brightness 0.35-0.65) + Gaussian noise sigma 1-4 levels,
                   sometimes a faint gradient of at most 8 levels
grayscale          the scene as luminance only, saved half as RGB (R=G=B), half as mode L
odd_size           tiny (20-56 px a side) or large (1000-1400 px a side), square-ish
odd_aspect_ratio   a strip: one side 256, the other 0.12-0.28 of it
exact_duplicate    a byte-identical copy of a clean image (both files are positives)
near_duplicate     a clean image and a changed copy: resized (0.45-0.8), re-encoded as
                   JPEG (quality 30-70), cropped (3-8% off each side) or brightness-shifted
                   (+-12-25 levels); both files are positives
=================  ===================================================================
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image, ImageDraw, ImageFilter

ISSUES = (
    "dark",
    "light",
    "blurry",
    "low_information",
    "grayscale",
    "odd_size",
    "odd_aspect_ratio",
    "exact_duplicate",
    "near_duplicate",
)
GENERATOR_VERSION = 5
NEAR_KINDS = ("resize", "jpeg", "crop", "brightness")


def _shares(n: int) -> dict[str, int]:
    """How many images of each kind for ``n`` files in total (about 45% have an issue)."""
    k = max(2, round(n * 0.06))  # per single-image issue
    pairs_exact = max(1, round(n * 0.03))
    pairs_near = max(4, round(n * 0.06)) // 4 * 4
    odd = max(1, round(n * 0.025))
    used = 5 * k + 2 * odd + 2 * pairs_exact + 2 * pairs_near
    return {
        "clean": n - used,
        "single": k,
        "odd": odd,
        "pairs_exact": pairs_exact,
        "pairs_near": pairs_near,
    }


def scene(rng: np.random.Generator, w: int = 256, h: int = 256) -> np.ndarray:
    """A synthetic natural-looking scene, uint8 (h, w, 3), colourful, well exposed and sharp."""
    c0, c1 = rng.uniform(30, 225, 3), rng.uniform(30, 225, 3)
    angle = rng.uniform(0, 2 * np.pi)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    t = (np.cos(angle) * xx / w + np.sin(angle) * yy / h + 1.0) / 2.0
    img = c0 + (c1 - c0) * t[..., None]
    low = rng.normal(0, 18, (4, 4, 3)).astype(np.float32)
    low_img = Image.fromarray(np.uint8(np.clip(low + 128, 0, 255))).resize(
        (w, h), Image.Resampling.BICUBIC
    )
    img = img + (np.asarray(low_img, dtype=np.float32) - 128)
    base = Image.fromarray(np.uint8(np.clip(img, 0, 255)))
    draw = ImageDraw.Draw(base)
    for _ in range(int(rng.integers(6, 15))):
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        x0, y0 = rng.uniform(-0.1, 0.9, 2) * (w, h)
        sw, sh = rng.uniform(0.08, 0.45, 2) * (w, h)
        box = [x0, y0, x0 + sw, y0 + sh]
        kind = rng.integers(0, 3)
        if kind == 0:
            draw.ellipse(box, fill=colour)
        elif kind == 1:
            draw.rectangle(box, fill=colour)
        else:
            pts = [(float(x), float(y)) for x, y in rng.uniform(0, 1, (5, 2)) * (sw, sh) + (x0, y0)]
            draw.polygon(pts, fill=colour)
    arr = np.asarray(base, dtype=np.float32)
    # a textured patch (stripes or checks) for fine detail
    px, py = int(rng.integers(0, w // 2)), int(rng.integers(0, h // 2))
    pw, ph = int(rng.integers(w // 6, w // 2)), int(rng.integers(h // 6, h // 2))
    period = int(rng.integers(3, 9))
    sy, sx = np.mgrid[0:ph, 0:pw]
    pattern = ((sx // period + sy // period * int(rng.integers(0, 2))) % 2).astype(np.float32)
    patch = arr[py : py + ph, px : px + pw]
    patch += (pattern[: patch.shape[0], : patch.shape[1], None] - 0.5) * rng.uniform(40, 90)
    arr += rng.normal(0, rng.uniform(2, 5), arr.shape)
    return np.uint8(np.clip(arr, 0, 255))


def _save(arr: np.ndarray, path: Path, rng: np.random.Generator, fmt: str | None = None) -> Path:
    fmt = fmt or ("png" if rng.random() < 0.3 else "jpg")
    path = path.with_suffix("." + fmt)
    img = Image.fromarray(arr)
    if fmt == "jpg":
        img.save(path, quality=int(rng.integers(88, 96)))
    else:
        img.save(path)
    return path


def _base_size(rng: np.random.Generator) -> tuple[int, int]:
    if rng.random() < 0.7:
        return 256, 256
    return int(rng.integers(232, 288)), int(rng.integers(232, 288))


def generate(root: str | Path, n: int = 2000, seed: int = 0, force: bool = False) -> pd.DataFrame:
    """Write ``n`` planted image files under ``root/images`` and return the truth table."""
    root = Path(root)
    manifest = {"n": n, "seed": seed, "version": GENERATOR_VERSION}
    truth_file, manifest_file = root / "truth.csv", root / "manifest.json"
    if not force and manifest_file.exists() and truth_file.exists():
        if json.loads(manifest_file.read_text()) == manifest:
            return pd.read_csv(truth_file, dtype={"file": str, "near_kind": str})
    if root.exists():
        shutil.rmtree(root)
    images = root / "images"
    images.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    share = _shares(n)
    rows: list[dict[str, object]] = []

    def add(arr: np.ndarray, issues: tuple[str, ...] = (), fmt: str | None = None, **extra):
        path = _save(arr, images / f"img_{len(rows):05d}", rng, fmt)
        row = {"file": path.name, **{i: i in issues for i in ISSUES}, "near_kind": ""}
        row.update(extra)
        rows.append(row)
        return path

    for _ in range(share["clean"]):
        add(scene(rng, *_base_size(rng)))
    for _ in range(share["single"]):
        a = scene(rng, *_base_size(rng)).astype(np.float32)
        add(np.uint8(a * rng.uniform(0.08, 0.30)), ("dark",))
    for _ in range(share["single"]):
        a = scene(rng, *_base_size(rng)).astype(np.float32)
        add(np.uint8(np.clip(255 - (255 - a) * rng.uniform(0.08, 0.30), 0, 255)), ("light",))
    for _ in range(share["single"]):
        img = Image.fromarray(scene(rng, *_base_size(rng)))
        blurred = img.filter(ImageFilter.GaussianBlur(float(rng.uniform(2.0, 5.0))))
        add(np.asarray(blurred), ("blurry",))
    for _ in range(share["single"]):
        w, h = _base_size(rng)
        colour = rng.uniform(40, 255, 3)
        colour[rng.integers(0, 3)] *= rng.uniform(0.2, 0.6)  # a clear hue, not gray
        hsp = np.sqrt((np.array([0.241, 0.691, 0.068]) * colour**2).sum()) / 255
        colour = np.clip(colour * rng.uniform(0.35, 0.65) / hsp, 10, 245)
        flat = np.broadcast_to(colour, (h, w, 3)).astype(np.float32)
        if rng.random() < 0.5:
            ramp = np.linspace(0, rng.uniform(2, 8), w, dtype=np.float32)
            flat = flat + ramp[None, :, None]
        flat = flat + rng.normal(0, rng.uniform(1, 4), (h, w, 3))
        add(np.uint8(np.clip(flat, 0, 255)), ("low_information",))
    for i in range(share["single"]):
        gray = np.asarray(Image.fromarray(scene(rng, *_base_size(rng))).convert("L"))
        arr = np.repeat(gray[..., None], 3, axis=2) if i % 2 == 0 else gray
        add(arr, ("grayscale",))
    for i in range(share["odd"]):
        side = int(rng.integers(20, 57)) if i % 2 == 0 else int(rng.integers(1000, 1401))
        w = side
        h = max(8, int(side * rng.uniform(0.85, 1.15)))
        add(scene(rng, w, h), ("odd_size",))
    for i in range(share["odd"]):
        long_side, short = 256, int(256 * rng.uniform(0.12, 0.28))
        w, h = (long_side, short) if i % 2 == 0 else (short, long_side)
        add(scene(rng, w, h), ("odd_aspect_ratio",))
    for _ in range(share["pairs_exact"]):
        first = add(scene(rng, *_base_size(rng)), ("exact_duplicate",))
        copy = images / f"img_{len(rows):05d}{first.suffix}"
        shutil.copyfile(first, copy)
        rows.append(
            {"file": copy.name, **{i: i == "exact_duplicate" for i in ISSUES}, "near_kind": ""}
        )
    for j in range(share["pairs_near"]):
        kind = NEAR_KINDS[j % len(NEAR_KINDS)]
        arr = scene(rng, *_base_size(rng))
        group = len(rows)
        add(arr, ("near_duplicate",), near_kind=kind, pair=group)
        img = Image.fromarray(arr)
        h, w = arr.shape[:2]
        if kind == "resize":
            s = rng.uniform(0.45, 0.8)
            changed = np.asarray(
                img.resize((round(w * s), round(h * s)), Image.Resampling.BILINEAR)
            )
            add(changed, ("near_duplicate",), near_kind=kind, pair=group)
        elif kind == "jpeg":
            path = images / f"img_{len(rows):05d}.jpg"
            img.save(path, quality=int(rng.integers(30, 71)))
            rows.append(
                {
                    "file": path.name,
                    **{i: i == "near_duplicate" for i in ISSUES},
                    "near_kind": kind,
                    "pair": group,
                }
            )
        elif kind == "crop":
            fx = rng.uniform(0.03, 0.08, 4)
            box = (
                round(w * fx[0]),
                round(h * fx[1]),
                w - round(w * fx[2]),
                h - round(h * fx[3]),
            )
            add(np.asarray(img.crop(box)), ("near_duplicate",), near_kind=kind, pair=group)
        else:
            shift = rng.uniform(12, 25) * rng.choice([-1, 1])
            changed = np.uint8(np.clip(arr.astype(np.float32) + shift, 0, 255))
            add(changed, ("near_duplicate",), near_kind=kind, pair=group)
    truth = pd.DataFrame(rows)
    truth.to_csv(truth_file, index=False)
    manifest_file.write_text(json.dumps(manifest))
    return truth


if __name__ == "__main__":  # pragma: no cover - manual use
    import sys

    t = generate(sys.argv[1] if len(sys.argv) > 1 else "/tmp/nbdiag-planted")
    print(t[list(ISSUES)].sum())
