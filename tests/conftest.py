"""Shared fixtures: real image files written with Pillow (no mocks)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

EXIF_ORIENTATION = 0x0112


@pytest.fixture(scope="session", autouse=True)
def _private_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Metric values and thumbnails go to a temporary folder, not the user's ~/.cache (set in
    the environment, so kernels started by browser tests inherit it)."""
    import os

    if not os.environ.get("NBDIAG_TEST_KEEP_CACHE_DIR"):
        os.environ["NBDIAG_CACHE_DIR"] = str(tmp_path_factory.mktemp("nbdiag-cache"))


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
