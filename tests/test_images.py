"""Image access: probing, loading, EXIF orientation, thumbnails, array conversion."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from nbdiag.images import (
    ImageLoadError,
    ThumbnailCache,
    array_to_image,
    array_to_uint8,
    encode_thumbnail,
    load_image,
    probe_image,
)


def test_probe_good_image(make_image, tmp_path):
    info = probe_image(make_image(tmp_path / "a.png", (40, 30)))
    assert (info.width, info.height, info.issue) == (40.0, 30.0, "")


@pytest.mark.parametrize(
    ("kind", "issue"),
    [("corrupt", "corrupt_image"), ("truncated", "truncated_image"), ("missing", "missing_file")],
)
def test_probe_records_problems(bad_images, kind, issue):
    info = probe_image(bad_images[kind])
    assert info.issue == issue
    assert np.isnan(info.width) and np.isnan(info.height)


def test_probe_header_only_misses_truncation_but_is_cheap(bad_images):
    # reading the header only cannot see that the pixel data is cut short
    assert probe_image(bad_images["truncated"], decode=False).issue == ""
    assert probe_image(bad_images["corrupt"], decode=False).issue == "corrupt_image"


@pytest.mark.parametrize(
    ("kind", "reason"),
    [("corrupt", "corrupt_image"), ("truncated", "truncated_image"), ("missing", "missing_file")],
)
def test_load_image_raises_naming_the_file(bad_images, kind, reason):
    path = bad_images[kind]
    with pytest.raises(ImageLoadError, match=path.name) as err:
        load_image(path)
    assert err.value.reason == reason
    assert err.value.path == str(path)


def test_exif_orientation_is_applied(make_image, tmp_path):
    path = make_image(tmp_path / "rot.jpg", (60, 20), orientation=6)
    with Image.open(path) as raw:
        assert raw.size == (60, 20)
        upright = np.asarray(raw.convert("RGB").transpose(Image.Transpose.ROTATE_270))
    info = probe_image(path)
    assert (info.width, info.height) == (20.0, 60.0)
    img = load_image(path)
    assert img.size == (20, 60)
    assert img.mode == "RGB"
    np.testing.assert_array_equal(np.asarray(img), upright)  # orientation 6: turn 90° clockwise


def test_load_image_normalises_modes(tmp_path):
    rgba = Image.new("RGBA", (4, 4), (255, 0, 0, 0))  # fully transparent -> white background
    rgba.save(tmp_path / "t.png")
    assert load_image(tmp_path / "t.png").getpixel((0, 0)) == (255, 255, 255)
    deep = Image.fromarray(np.arange(16, dtype=np.uint16).reshape(4, 4) * 1000)
    deep.save(tmp_path / "d.png")
    img = load_image(tmp_path / "d.png")
    assert img.mode == "L"
    assert np.asarray(img).max() == 255


def test_array_to_uint8_scales_over_the_stack():
    digits = np.array([[[0.0, 8.0]], [[16.0, 4.0]]])  # sklearn digits range 0..16
    out = array_to_uint8(digits)
    assert out.dtype == np.uint8
    assert out[0, 0, 1] == 128 and out[1, 0, 0] == 255  # relative brightness kept
    assert array_to_uint8(np.array([[[0.0, 1.0]]]))[0, 0, 1] == 255
    with pytest.raises(ValueError, match=r"NaN or infinite pixels at positions \[1\]"):
        array_to_uint8(np.array([[[0.0]], [[np.nan]]]))


def test_array_to_image_shapes():
    assert array_to_image(np.zeros((5, 7), np.uint8)).size == (7, 5)
    assert array_to_image(np.zeros((5, 7, 1), np.uint8)).mode == "L"
    assert array_to_image(np.zeros((5, 7, 3), np.uint8)).mode == "RGB"
    assert array_to_image(np.zeros((5, 7, 4), np.uint8)).mode == "RGB"
    with pytest.raises(ValueError, match="unsupported image array shape"):
        array_to_image(np.zeros((5, 7, 2), np.uint8))


@pytest.mark.parametrize(("size", "expected"), [((200, 100), (64, 32)), ((8, 8), (64, 64))])
def test_encode_thumbnail_size(size, expected):
    data = encode_thumbnail(Image.new("RGB", size), size=64)
    with Image.open(io.BytesIO(data)) as thumb:
        assert thumb.format == "WEBP"
        assert thumb.size == expected


def test_thumbnail_cache_is_bounded_lru():
    cache = ThumbnailCache(max_bytes=10)
    cache.put("a", b"12345")
    cache.put("b", b"12345")
    assert cache.get("a") == b"12345"  # "a" is now the most recently used
    cache.put("c", b"12345")
    assert cache.get("b") is None
    assert cache.get("a") is not None and cache.get("c") is not None
    assert cache.nbytes == 10 and len(cache) == 2
    assert cache.hits == 3 and cache.misses == 1


def test_encode_thumbnail_sizes_a_reduced_decode_from_the_full_size():
    # 1001 x 333 decoded at a quarter scale is 251 x 84: the thumbnail keeps the full image's
    # proportions (64 x 21), not the rounded reduced ones (64 x 21.4 -> 21)
    reduced = Image.new("RGB", (251, 84))
    data = encode_thumbnail(reduced, size=64, full_size=(1001, 333))
    with Image.open(io.BytesIO(data)) as thumb:
        assert thumb.size == (64, round(333 * 64 / 1001))
    tall = encode_thumbnail(Image.new("RGB", (30, 100)), size=200, full_size=(300, 1000))
    with Image.open(io.BytesIO(tall)) as thumb:  # reduced but still under the target: enlarged
        assert thumb.size == (60, 200)
