"""The analysis resolutions of the built-in image metrics, checked on real files against values
computed independently here with NumPy on the fully decoded image."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from PIL import Image, ImageFilter

from nbdiag.metrics import compute_metrics

from ._images import dataset, save, scene

HSP = np.array([0.241, 0.691, 0.068]) / 255.0**2


def _photo(w: int, h: int, seed: int = 0) -> np.ndarray:
    """A sharp scene of ``w x h`` px: the small test scene enlarged, edges re-sharpened by a
    fine checker pattern and noise drawn at full size."""
    rng = np.random.default_rng(seed)
    base = Image.fromarray(scene(seed, 160, 120)).resize((w, h), Image.Resampling.NEAREST)
    arr = np.asarray(base, dtype=np.float64)
    yy, xx = np.mgrid[0:h, 0:w]
    arr += (((xx // 4 + yy // 4) % 2)[..., None] - 0.5) * 30
    arr += rng.normal(0, 3, arr.shape)
    return np.uint8(np.clip(arr, 0, 255))


def _samples(tmp_path, files):
    ds = dataset([str(f) for f in files])
    errors = compute_metrics(ds, cache_dir=False, progress=False, workers=1)
    assert errors.empty, errors
    return ds.samples


@pytest.mark.parametrize("suffix", ["jpg", "png"])
def test_means_are_those_of_the_full_image(tmp_path, suffix):
    arr = _photo(1300, 900)
    kwargs = {"quality": 95} if suffix == "jpg" else {}
    path = save(tmp_path, f"p.{suffix}", arr, **kwargs)
    s = _samples(tmp_path, [path]).iloc[0]
    full = np.asarray(Image.open(path).convert("RGB"), dtype=np.float64)
    assert s.brightness == pytest.approx(np.sqrt((full**2) @ HSP).mean(), abs=0.004)
    for c, name in enumerate(["mean_red", "mean_green", "mean_blue"]):
        assert s[name] == pytest.approx(full[..., c].mean() / 255, abs=0.004)
    luma = full @ np.array([0.299, 0.587, 0.114])
    assert s.contrast <= luma.std() / 255 + 1e-3  # area averaging only removes variation
    assert (s.width, s.height) == (1300, 900)


def test_blur_and_sharpness_do_not_depend_on_the_pixel_count(tmp_path):
    """The same picture at 2x and 4x the analysis size scores alike (it is measured at 512 px);
    the blurred copy is flagged at both sizes."""
    base = Image.fromarray(_photo(1024, 768, seed=3))
    files = []
    for scale in (1, 2):
        img = base.resize((1024 * scale, 768 * scale), Image.Resampling.NEAREST)
        files.append(save(tmp_path, f"sharp{scale}.png", img))
        blurred = img.filter(ImageFilter.GaussianBlur(4 * scale))
        files.append(save(tmp_path, f"blur{scale}.png", blurred))
    s = _samples(tmp_path, files)
    sharp1, blur1, sharp2, blur2 = (s.iloc[i] for i in range(4))
    assert sharp1.blurriness == pytest.approx(sharp2.blurriness, abs=0.02)
    assert blur1.blurriness == pytest.approx(blur2.blurriness, abs=0.02)
    assert sharp1.sharpness == pytest.approx(sharp2.sharpness, rel=0.05)
    assert s.blurry.tolist() == [False, True, False, True]


def test_exact_hash_reads_the_full_decoded_pixels(tmp_path):
    arr = _photo(900, 700, seed=5)
    png = save(tmp_path, "a.png", arr)
    bmp = save(tmp_path, "a.bmp", arr)  # other bytes, same pixels
    s = _samples(tmp_path, [png, bmp])
    h = hashlib.sha256(f"{arr.shape}|900x700".encode())
    h.update(arr.tobytes())
    assert s.exact_hash.tolist() == [h.hexdigest()[:32]] * 2
    assert s.exact_duplicate.all()


def test_tone_statistics_read_at_most_256_px(tmp_path):
    """An image whose only bright pixels form a one-pixel grid (1/16 of the pixels): at 256 px
    that grid is averaged into the background, so the dark score describes the image as seen,
    dark; an image with a bright 1/16 block keeps it."""
    grid = np.full((1024, 1024, 3), 40, np.uint8)
    grid[::4, ::4] = 255
    block = np.full((1024, 1024, 3), 40, np.uint8)
    block[:256, :256] = 255
    s = _samples(tmp_path, [save(tmp_path, "grid.png", grid), save(tmp_path, "block.png", block)])
    background = np.sqrt((np.array([40.0] * 3) ** 2) @ HSP)
    averaged = np.sqrt(((np.array([40.0] * 3) * 15 + 255) / 16) ** 2 @ HSP)
    assert s.dark_score.iloc[0] == pytest.approx(averaged, abs=0.01)
    assert s.dark_score.iloc[0] < 0.32 and bool(s.dark.iloc[0])
    assert s.dark_score.iloc[1] == pytest.approx(1.0, abs=0.01)
    assert s.light_score.iloc[1] == pytest.approx(1 - background, abs=0.01)
