"""Planted-issue generators that differ in *how* each issue is made.

``generate(name, root, n, seed)`` writes ``root/images/*`` and ``root/truth.csv`` (``file``,
``source``, ``how`` and one boolean column per issue) and returns the truth table; a folder
written with the same arguments is reused. ``planted`` is :mod:`benchmarks.planted_images`
(the flags' defaults are tuned on it); ``camera`` and ``levels`` are only reported on.

==================  ============================  =========================================
issue               camera                        levels
==================  ============================  =========================================
dark                gamma 2.5-4, x 0.5-0.8        crushed blacks (black point 0.35-0.6)
                                                  then exposure x 0.35-0.7
light               overexposure x 3.5-6 + flare   gamma 0.15-0.3 then haze towards white
blurry              motion blur, 9-25 px line     down-and-up scaling by 4-8
low_information     linear or radial gradient     colour noise (sigma 12-40) on a flat fill,
                    between two colours           or a flat fill saved as JPEG q 20-50
grayscale           luma saved as RGB JPEG        mode L PNG / JPEG
odd_size            tiny (14-40 px)               huge (1100-1500 px)
odd_aspect_ratio    wide banner (0.10-0.30)       tall strip (0.10-0.30)
exact_duplicate     byte copy                     same pixels re-saved as PNG
near_duplicate      rotation 2-5 deg, overlaid    crop 4-10% + resize 0.6-0.9,
                    text, colour shift            recompression (JPEG/WEBP q 15-40),
                                                  channel gains + brightness
==================  ============================  =========================================

A dark (light) edit is applied again until its mean luma is at most 15% (at least 85%) of full
scale, a clear case as in ``planted_images``. Clean images and the images each issue is
planted on come from
:mod:`benchmarks.robustness.scenes`: 55% synthetic scenes, 30% crops of scikit-learn's sample
photos, 15% upscaled digits (``source`` column).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image, ImageDraw

from .. import planted_images
from . import scenes

ISSUES = planted_images.ISSUES
VERSION = 6
Arr = np.ndarray
Rng = np.random.Generator


# ---------------------------------------------------------------------- tone
#: a planted dark (light) image is a clear case: its mean luma is at most (at least) this share
#: of full scale, as with ``planted_images`` (the edit is applied again until it is)
CLEAR_DARK, CLEAR_LIGHT = 0.15, 0.85
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


def clearly(make: Callable, a: Arr, rng: Rng, dark: bool) -> tuple[Arr, str]:
    """``make(a, rng)`` with parameters redrawn (then applied again, for a very bright or very
    dark scene) until the result is clearly dark (or light) but not blank: a picture is still
    visible (luma standard deviation of at least 8 levels)."""
    src, hows = a, []
    for attempt in range(40):
        out, how = make(src, rng)
        luma = out.astype(np.float32) @ _LUMA
        m = float(luma.mean()) / 255.0
        clear = (m <= CLEAR_DARK) if dark else (m >= CLEAR_LIGHT)
        if clear and luma.std() >= 8:
            return out, "; ".join([*hows, how])
        if attempt == 19:  # not reachable in one step: compound from here on
            src, hows = out, [how]
    raise RuntimeError(f"{make.__name__} did not give a clear case")


def _f(a: Arr) -> Arr:
    return a.astype(np.float32) / 255.0


def _u8(x: Arr) -> Arr:
    return np.uint8(np.clip(np.rint(x * 255.0), 0, 255))


def dark_gamma(a: Arr, rng: Rng) -> tuple[Arr, str]:
    g, k = rng.uniform(2.5, 4.0), rng.uniform(0.5, 0.8)
    return _u8(_f(a) ** g * k), f"gamma {g:.1f}, x{k:.2f}"


def dark_crushed(a: Arr, rng: Rng) -> tuple[Arr, str]:
    b, s = rng.uniform(0.35, 0.6), rng.uniform(0.35, 0.7)
    return _u8(np.clip((_f(a) - b) / (1 - b), 0, 1) * s), f"black point {b:.2f}, x{s:.2f}"


def light_overexposed(a: Arr, rng: Rng) -> tuple[Arr, str]:
    k, flare = rng.uniform(3.5, 6.0), rng.uniform(0.1, 0.25)
    return _u8(_f(a) * k + flare), f"exposure x{k:.1f} + flare {flare:.2f}"


def light_lifted(a: Arr, rng: Rng) -> tuple[Arr, str]:
    g, t = rng.uniform(0.15, 0.3), rng.uniform(0.6, 0.8)
    return _u8((_f(a) ** g) * t + 0.97 * (1 - t)), f"gamma {g:.2f}, haze {1 - t:.2f}"


# ---------------------------------------------------------------------- blur
def blur_motion(a: Arr, rng: Rng) -> tuple[Arr, str]:
    length = int(rng.integers(9, 26))
    angle = rng.uniform(0, np.pi)
    h, w = a.shape[:2]
    pad = length
    big = np.pad(a.astype(np.float32), ((pad, pad), (pad, pad), (0, 0)), mode="edge")
    acc = np.zeros_like(a, dtype=np.float32)
    for t in np.linspace(-(length - 1) / 2, (length - 1) / 2, length):
        dx, dy = int(round(t * np.cos(angle))), int(round(t * np.sin(angle)))
        acc += big[pad + dy : pad + dy + h, pad + dx : pad + dx + w]
    return np.uint8(np.clip(acc / length, 0, 255)), f"motion {length} px"


def blur_down_up(a: Arr, rng: Rng) -> tuple[Arr, str]:
    f = rng.uniform(4, 8)
    h, w = a.shape[:2]
    img = Image.fromarray(a)
    small = img.resize((max(2, round(w / f)), max(2, round(h / f))), Image.Resampling.BOX)
    return np.asarray(small.resize((w, h), Image.Resampling.BILINEAR)), f"down-up x{f:.1f}"


# ---------------------------------------------------------------------- low information
def _colour(rng: Rng) -> Arr:
    """A colour of mid perceived brightness (0.3-0.7): a blank image, not a dark or light one."""
    c = rng.uniform(30, 255, 3)
    hsp = np.sqrt((np.array([0.241, 0.691, 0.068]) * c**2).sum()) / 255
    return np.clip(c * rng.uniform(0.3, 0.7) / hsp, 5, 250).astype(np.float32)


def low_gradient(rng: Rng, w: int, h: int) -> tuple[Arr, str]:
    c0, c1 = _colour(rng), _colour(rng)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    if rng.random() < 0.5:
        ang = rng.uniform(0, 2 * np.pi)
        t = (np.cos(ang) * (xx / w - 0.5) + np.sin(ang) * (yy / h - 0.5)) + 0.5
        how = "linear gradient"
    else:
        cx, cy = rng.uniform(0.2, 0.8, 2)
        t = np.hypot(xx / w - cx, yy / h - cy) / 0.8
        how = "radial gradient"
    t = np.clip(t, 0, 1)[..., None]
    arr = c0 + (c1 - c0) * t + rng.normal(0, rng.uniform(0.5, 2.5), (h, w, 3))
    return np.uint8(np.clip(arr, 0, 255)), how


def low_noise(rng: Rng, w: int, h: int) -> tuple[Arr, str]:
    c = _colour(rng)
    if rng.random() < 0.6:
        sigma = rng.uniform(12, 40)
        mono = rng.random() < 0.5
        noise = rng.normal(0, sigma, (h, w, 1) if mono else (h, w, 3))
        return np.uint8(np.clip(c + noise, 0, 255)), f"noise sigma {sigma:.0f}"
    return np.uint8(np.broadcast_to(c, (h, w, 3))), "flat, jpeg"


# ---------------------------------------------------------------------- near duplicates
def near_rotate(a: Arr, rng: Rng) -> tuple[Arr, str]:
    deg = rng.uniform(2, 5) * rng.choice([-1, 1])
    img = Image.fromarray(a).rotate(deg, Image.Resampling.BILINEAR, expand=False)
    h, w = a.shape[:2]
    m = 0.06  # cut the filled corners
    box = (round(w * m), round(h * m), w - round(w * m), h - round(h * m))
    return np.asarray(img.crop(box)), f"rotate {deg:.1f}"


def near_text(a: Arr, rng: Rng) -> tuple[Arr, str]:
    img = Image.fromarray(a.copy())
    h, w = a.shape[:2]
    d = ImageDraw.Draw(img)
    d.text(
        (w * rng.uniform(0.05, 0.5), h * rng.uniform(0.6, 0.85)),
        "(c) photo " + str(rng.integers(1000, 9999)),
        fill=(255, 255, 255),
        font_size=max(10, h // 14),
        stroke_width=1,
        stroke_fill=(0, 0, 0),
    )
    return np.asarray(img), "overlaid text"


def near_colour(a: Arr, rng: Rng) -> tuple[Arr, str]:
    gains = rng.uniform(0.8, 1.2, 3)
    return np.uint8(np.clip(a.astype(np.float32) * gains, 0, 255)), "colour shift"


def near_crop_resize(a: Arr, rng: Rng) -> tuple[Arr, str]:
    h, w = a.shape[:2]
    fx = rng.uniform(0.04, 0.10, 4)
    box = (round(w * fx[0]), round(h * fx[1]), w - round(w * fx[2]), h - round(h * fx[3]))
    s = rng.uniform(0.6, 0.9)
    img = Image.fromarray(a).crop(box)
    img = img.resize((round(img.width * s), round(img.height * s)), Image.Resampling.BICUBIC)
    return np.asarray(img), "crop + resize"


def near_gains(a: Arr, rng: Rng) -> tuple[Arr, str]:
    gains = rng.uniform(0.85, 1.15, 3)
    shift = rng.uniform(-10, 10)
    return np.uint8(np.clip(a.astype(np.float32) * gains + shift, 0, 255)), "gains + shift"


# ---------------------------------------------------------------------- the generators
class Recipe:
    """How one generator makes each issue."""

    def __init__(
        self,
        dark: Callable,
        light: Callable,
        blurry: Callable,
        low_information: Callable,
        gray_formats: tuple[str, ...],
        odd_size: tuple[int, int],
        aspect: str,
        exact: str,
        near: tuple[Callable | str, ...],
    ):
        self.dark, self.light, self.blurry = dark, light, blurry
        self.low_information, self.gray_formats = low_information, gray_formats
        self.odd_size, self.aspect, self.exact, self.near = odd_size, aspect, exact, near


GENERATORS: dict[str, Recipe | None] = {
    "planted": None,  # benchmarks.planted_images
    "camera": Recipe(
        dark_gamma,
        light_overexposed,
        blur_motion,
        low_gradient,
        ("rgb-jpg",),
        (14, 40),
        "wide",
        "copy",
        (near_rotate, near_text, near_colour),
    ),
    "levels": Recipe(
        dark_crushed,
        light_lifted,
        blur_down_up,
        low_noise,
        ("L-png", "L-jpg"),
        (1100, 1500),
        "tall",
        "png",
        (near_crop_resize, "recompress", near_gains),
    ),
}


def _size(rng: Rng) -> tuple[int, int]:
    r = rng.random()
    if r < 0.5:
        return 256, 256
    if r < 0.8:
        return int(rng.integers(200, 320)), int(rng.integers(160, 260))
    return int(rng.integers(160, 240)), int(rng.integers(200, 300))


def generate(name: str, root: str | Path, n: int = 300, seed: int = 0) -> pd.DataFrame:
    """Write ``n`` files of generator ``name`` under ``root/images``; return the truth table."""
    if name == "planted":
        truth = planted_images.generate(root, n=n, seed=seed)
        truth["source"], truth["how"] = "planted scene", ""
        return truth
    recipe = GENERATORS[name]
    assert recipe is not None
    root = Path(root)
    manifest = {"generator": name, "n": n, "seed": seed, "version": VERSION}
    truth_file, manifest_file = root / "truth.csv", root / "manifest.json"
    if manifest_file.exists() and truth_file.exists():
        if json.loads(manifest_file.read_text()) == manifest:
            return pd.read_csv(truth_file, dtype={"file": str, "how": str}, keep_default_na=False)
    if root.exists():
        shutil.rmtree(root)
    images = root / "images"
    images.mkdir(parents=True)
    rng = np.random.default_rng([seed, sum(map(ord, name))])
    rows: list[dict] = []
    scenes.reset()

    def save(arr: Arr, issues: tuple[str, ...], source: str, how: str = "", fmt=None) -> Path:
        fmt = fmt or ("png" if rng.random() < 0.4 else "jpg")
        path = images / f"{name}_{len(rows):05d}.{fmt.split('-')[-1]}"
        img = Image.fromarray(arr)
        if path.suffix == ".jpg":
            img.save(path, quality=int(rng.integers(85, 96)))
        elif path.suffix == ".webp":
            img.save(path, quality=int(rng.integers(15, 41)))
        else:
            img.save(path)
        rows.append({"file": path.name, "source": source, "how": how, "near_pair": -1})
        rows[-1].update({i: i in issues for i in ISSUES})
        return path

    k = max(2, round(n * 0.06))
    odd = max(2, round(n * 0.025))
    n_exact, n_near = max(1, round(n * 0.02)), max(3, round(n * 0.05))
    n_clean = n - 4 * k - k // 2 * 2 - 2 * odd - 2 * n_exact - 2 * n_near
    for _ in range(n_clean):
        src, a = scenes.clean(rng, *_size(rng))
        save(a, (), src)
    for issue in ("dark", "light", "blurry"):
        make = getattr(recipe, issue)
        for _ in range(k):
            src, a = scenes.clean(rng, *_size(rng))
            while issue != "blurry":
                try:
                    out, how = clearly(make, a, rng, dark=issue == "dark")
                    break
                except RuntimeError:  # e.g. a digit whose strokes vanish first: another scene
                    src, a = scenes.clean(rng, *_size(rng))
            else:
                out, how = make(a, rng)
            save(out, (issue,), src, how)
    for _ in range(k):
        out, how = recipe.low_information(rng, *_size(rng))
        save(out, ("low_information",), "fill", how, "jpg" if how == "flat, jpeg" else None)
    for i in range(k // 2 * 2):
        src, a = scenes.clean(rng, *_size(rng))
        gray = np.asarray(Image.fromarray(a).convert("L"))
        fmt = recipe.gray_formats[i % len(recipe.gray_formats)]
        arr = np.repeat(gray[..., None], 3, axis=2) if fmt.startswith("rgb") else gray
        save(arr, ("grayscale",), src, fmt, fmt)
    for _ in range(odd):
        side = int(rng.integers(*recipe.odd_size))
        w, h = side, max(8, round(side * rng.uniform(0.8, 1.25)))
        src = "scene" if side < 100 else str(rng.choice(["scene", "digit"]))
        _, a = scenes.clean(rng, w, h, src)
        save(a, ("odd_size",), src, f"{w}x{h}", "jpg" if side > 100 else None)
    for _ in range(odd):
        long_side = int(rng.integers(240, 360))
        short = max(8, round(long_side * rng.uniform(0.10, 0.30)))
        w, h = (long_side, short) if recipe.aspect == "wide" else (short, long_side)
        _, a = scenes.clean(rng, w, h, "scene")
        save(a, ("odd_aspect_ratio",), "scene", f"{w}x{h}")
    for _ in range(n_exact):
        src, a = scenes.clean(rng, *_size(rng))
        first = save(a, ("exact_duplicate",), src)
        if recipe.exact == "copy":
            copy = images / f"{name}_{len(rows):05d}{first.suffix}"
            shutil.copyfile(first, copy)
            pixels = first
        else:
            pixels = images / f"{name}_{len(rows):05d}.png"
            copy = pixels
            Image.open(first).convert("RGB").save(copy)
        rows.append({**rows[-1], "file": copy.name, "how": recipe.exact})
        del pixels
    for j in range(n_near):
        make = recipe.near[j % len(recipe.near)]
        src, a = scenes.clean(rng, *_size(rng))
        group = len(rows)
        if make == "recompress":
            save(a, ("near_duplicate",), src, "original", "png")
            rows[-1]["near_pair"] = group
            save(a, ("near_duplicate",), src, "recompress", str(rng.choice(["jpg", "webp"])))
            if rows[-1]["file"].endswith(".jpg"):  # re-save at a low quality
                Image.fromarray(a).save(
                    images / rows[-1]["file"], quality=int(rng.integers(15, 41))
                )
        else:
            save(a, ("near_duplicate",), src, "original")
            rows[-1]["near_pair"] = group
            out, how = make(a, rng)
            save(out, ("near_duplicate",), src, how)
        rows[-1]["near_pair"] = group
    truth = pd.DataFrame(rows)
    truth.to_csv(truth_file, index=False)
    manifest_file.write_text(json.dumps(manifest))
    return truth
