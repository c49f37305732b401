"""Shared fixtures: real image files written with Pillow (no mocks)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

EXIF_ORIENTATION = 0x0112


def _write_image(
    path: str | Path,
    size: tuple[int, int] = (32, 24),
    *,
    mode: str = "RGB",
    seed: int = 0,
    orientation: int | None = None,
) -> Path:
    """Write a noise image of ``size`` (width, height); the format follows the file suffix."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    w, h = size
    rng = np.random.default_rng(seed)
    shape = (h, w) if mode == "L" else (h, w, 3)
    img = Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8))
    kwargs = {}
    if orientation is not None:
        exif = Image.Exif()
        exif[EXIF_ORIENTATION] = orientation
        kwargs["exif"] = exif
    img.save(path, **kwargs)
    return path


@pytest.fixture
def make_image() -> Callable[..., Path]:
    """``make_image(path, size=(w, h), mode="RGB", seed=0, orientation=None)`` writes an image."""
    return _write_image


@pytest.fixture
def bad_images(tmp_path: Path) -> dict[str, Path]:
    """A good PNG, a corrupt '.png' (garbage bytes), a JPEG cut in half, and a missing file."""
    good = _write_image(tmp_path / "bad" / "good.png", (40, 30))
    corrupt = tmp_path / "bad" / "corrupt.png"
    corrupt.write_bytes(b"this is not an image at all" * 10)
    full = _write_image(tmp_path / "bad" / "full.jpg", (64, 48), seed=1)
    data = full.read_bytes()
    truncated = tmp_path / "bad" / "truncated.jpg"
    truncated.write_bytes(data[: len(data) // 2])
    full.unlink()
    return {
        "good": good,
        "corrupt": corrupt,
        "truncated": truncated,
        "missing": tmp_path / "bad" / "missing.png",
    }
