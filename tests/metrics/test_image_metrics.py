"""Built-in image metrics and flags on real image files with known values."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageFilter

import nbdiag
from nbdiag.metrics import compute_metrics

from ._images import dataset, save, scene


def _metrics(tmp_path, arrays: dict[str, np.ndarray | Image.Image], **kwargs):
    paths = [save(tmp_path, name, arr) for name, arr in arrays.items()]
    ds = dataset(paths)
    errors = compute_metrics(ds, cache_dir=tmp_path / "cache", progress=False, **kwargs)
    assert errors.empty, errors
    ds.samples.index = list(arrays)
    return ds.samples


def test_black_white_and_constant_images(tmp_path):
    s = _metrics(
        tmp_path,
        {
            "black.png": np.zeros((40, 50, 3), np.uint8),
            "white.png": np.full((40, 50, 3), 255, np.uint8),
            "teal.png": np.broadcast_to(np.uint8([0, 128, 128]), (40, 50, 3)).copy(),
        },
    )
    black, white, teal = s.loc["black.png"], s.loc["white.png"], s.loc["teal.png"]
    assert black.brightness == 0 and black.dark_score < 0.001 and black.dark
    assert white.brightness == pytest.approx(1.0) and white.light_score < 0.001 and white.light
    for row in (black, white, teal):
        assert row.entropy == 0
        assert row.contrast == 0
        assert row.sharpness == 0
        assert row.relative_contrast == pytest.approx(0, abs=1e-9)
        assert not row.near_duplicate  # blank images are not compared
        assert row.low_information
        assert np.isnan(row.blurriness)  # no detail at all: undefined, not "blurry"
        assert not row.blurry
    # the HSP brightness of (0, 128, 128): sqrt(0.691 g^2 + 0.068 b^2) / 255
    expected = np.sqrt(0.691 * 128**2 + 0.068 * 128**2) / 255
    assert teal.brightness == pytest.approx(expected, abs=1e-6)
    assert teal.mean_red == 0 and teal.mean_green == pytest.approx(128 / 255)
    assert black.grayscale and white.grayscale and not teal.grayscale


def test_pure_red_colour_metrics(tmp_path):
    s = _metrics(tmp_path, {"red.png": np.broadcast_to(np.uint8([255, 0, 0]), (20, 30, 3)).copy()})
    red = s.iloc[0]
    assert red.mean_red == 1 and red.mean_green == 0 and red.mean_blue == 0
    assert red.brightness == pytest.approx(np.sqrt(0.241), abs=1e-6)
    # Hasler-Suesstrunk: rg = 255, yb = 127.5, no spread -> 0.3 * |(rg, yb)|
    assert red.colorfulness == pytest.approx(0.3 * np.hypot(255, 127.5), rel=1e-6)
    assert red.color_spread == 1.0


def test_half_black_half_white(tmp_path):
    arr = np.zeros((40, 40, 3), np.uint8)
    arr[:, 20:] = 255
    s = _metrics(tmp_path, {"half.png": arr}).iloc[0]
    assert s.entropy == pytest.approx(1.0)  # two equally frequent levels per channel
    assert s.contrast == pytest.approx(0.5)
    assert s.low_information_score == pytest.approx(0.1 * (1 + np.log2(3)))
    assert not s.low_information  # a sharp edge is visible structure


def test_geometry(tmp_path):
    s = _metrics(tmp_path, {"wide.png": scene(0, w=200, h=50)}).iloc[0]
    assert (s.width, s.height, s.area, s.aspect_ratio) == (200, 50, 10000, 4.0)
    assert s.odd_aspect_ratio


def test_exif_rotation_is_applied(tmp_path, make_image):
    path = make_image(tmp_path / "rot.jpg", (60, 30), orientation=6)
    ds = dataset([str(path)])
    compute_metrics(ds, ["width", "height"], cache_dir=False, progress=False)
    assert (ds.samples.width[0], ds.samples.height[0]) == (30, 60)


def test_blurred_image_is_less_sharp_and_flagged(tmp_path):
    sharp = Image.fromarray(scene(1, 128, 128))
    blurred = sharp.filter(ImageFilter.GaussianBlur(3))
    s = _metrics(tmp_path, {"sharp.png": sharp, "blurred.png": blurred})
    assert s.sharpness["blurred.png"] < s.sharpness["sharp.png"] / 10
    assert s.blurriness["blurred.png"] > s.blurriness["sharp.png"] + 0.2
    assert s.blurry.tolist() == [False, True]


def test_dark_light_and_nearly_flat_images(tmp_path):
    base = scene(2, 128, 128).astype(float)
    rng = np.random.default_rng(0)
    flat = np.clip(np.array([170.0, 120, 60]) + rng.normal(0, 3, (128, 128, 3)), 0, 255)
    s = _metrics(
        tmp_path,
        {
            "normal.png": base.astype(np.uint8),
            "dark.png": (base * 0.2).astype(np.uint8),
            "light.png": (255 - (255 - base) * 0.2).astype(np.uint8),
            "flat.png": flat.astype(np.uint8),
        },
    )
    flags = s[["dark", "light", "low_information", "blurry", "grayscale"]]
    assert flags.loc["normal.png"].sum() == 0
    assert flags.loc["dark.png"].tolist() == [True, False, False, False, False]
    assert flags.loc["light.png"].tolist() == [False, True, False, False, False]
    assert flags.loc["flat.png"].tolist() == [False, False, True, False, False]
    # cleanvision's published scores are kept (their thresholds would miss this light image)
    assert s.light_score["light.png"] > 0.05


def test_grayscale_however_stored(tmp_path):
    gray = np.asarray(Image.fromarray(scene(3)).convert("L"))
    paths = [
        save(tmp_path, "l.png", gray),
        save(tmp_path, "rgb.jpg", np.repeat(gray[..., None], 3, axis=2), quality=90),
        save(tmp_path, "colour.jpg", scene(3), quality=90),
    ]
    ds = dataset(paths)
    compute_metrics(ds, cache_dir=False, progress=False)
    assert ds.samples.grayscale.tolist() == [True, True, False]
    assert ds.samples.color_spread.iloc[1] <= 0.02


def test_exact_and_near_duplicates(tmp_path):
    a = scene(10, 160, 160)
    img = Image.fromarray(a)
    arrays = {
        "a.png": a,
        "a_copy.png": a,
        "a_resized.png": np.asarray(img.resize((100, 100), Image.Resampling.BILINEAR)),
        "a_brighter.png": np.uint8(np.clip(a.astype(int) + 20, 0, 255)),
        "a_cropped.png": np.asarray(img.crop((10, 8, 151, 150))),
    }
    for seed in range(11, 17):
        arrays[f"other{seed}.png"] = scene(seed, 160, 160)
    paths = [save(tmp_path, name, arr) for name, arr in arrays.items()]
    paths.append(save(tmp_path, "a_jpeg.jpg", img, quality=40))
    ds = dataset(paths)
    compute_metrics(ds, cache_dir=False, progress=False)
    s = ds.samples
    s.index = [*arrays, "a_jpeg.jpg"]
    family = [
        "a.png",
        "a_copy.png",
        "a_resized.png",
        "a_brighter.png",
        "a_cropped.png",
        "a_jpeg.jpg",
    ]
    others = [n for n in s.index if n not in family]
    assert s.exact_duplicate[["a.png", "a_copy.png"]].all()
    assert not s.exact_duplicate.drop(["a.png", "a_copy.png"]).any()
    assert s.near_duplicate[family].all(), s.loc[family, ["phash", "dhash"]]
    assert not s.near_duplicate[others].any()
    assert s.duplicate_group[family].nunique() == 1 and s.duplicate_group[others].isna().all()
    # radius 0 keeps only identical hashes: the crop no longer matches
    flags = nbdiag.metrics.apply_flags(ds, {"near_duplicate_radius": 0})
    flags.index = s.index
    assert not flags.near_duplicate["a_cropped.png"]


def test_odd_size_is_relative_to_the_dataset(tmp_path):
    arrays = {f"n{i}.png": scene(i, 96 + 4 * i, 96) for i in range(10)}
    arrays["tiny.png"] = scene(50, 20, 20)
    arrays["huge.png"] = scene(51, 420, 400)
    s = _metrics(tmp_path, arrays)
    assert s.odd_size[s.odd_size].index.tolist() == ["tiny.png", "huge.png"]


def test_alpha_and_16_bit_images_decode(tmp_path):
    rgba = np.zeros((20, 20, 4), np.uint8)
    rgba[..., 3] = 0  # fully transparent: composited on white
    deep = Image.fromarray(np.arange(400, dtype=np.uint16).reshape(20, 20) * 100)
    s = _metrics(tmp_path, {"alpha.png": rgba, "deep.png": deep})
    assert s.brightness["alpha.png"] == pytest.approx(1.0)
    assert s.contrast["deep.png"] > 0.1


def test_in_memory_images_match_files(tmp_path):
    arrays = [scene(i, 64, 48) for i in range(3)]
    from_files = dataset([save(tmp_path, f"{i}.png", a) for i, a in enumerate(arrays)])
    import pandas as pd

    in_memory = nbdiag.Dataset(pd.DataFrame(index=[0, 1, 2]), images=dict(enumerate(arrays)))
    for ds in (from_files, in_memory):
        compute_metrics(ds, cache_dir=tmp_path / "c", progress=False)
    cols = ["brightness", "sharpness", "blurriness", "entropy", "exact_hash", "phash"]
    a = from_files.samples[cols].reset_index(drop=True)
    b = in_memory.samples[cols].reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b)


def test_every_builtin_has_a_documented_formula():
    table = nbdiag.metrics.list_metrics()
    builtins = table[table.builtin]
    assert len(builtins) >= 30
    assert (builtins.description.str.len() > 20).all()
    assert set(nbdiag.metrics.list_metrics("object").index) >= {
        "box_area",
        "relative_area",
        "box_aspect_ratio",
        "border_closeness",
        "boxes_per_image",
        "max_iou",
        "class_frequency",
        "shape_outlier",
    }


def test_unknown_metric_name_is_a_clear_error(tmp_path):
    ds = dataset([save(tmp_path, "a.png", scene(0))])
    with pytest.raises(ValueError, match="unknown metrics \\['brightnes'\\]"):
        compute_metrics(ds, ["brightnes"], cache_dir=False)


def test_samples_without_images(tmp_path):
    import pandas as pd

    ds = nbdiag.Dataset(pd.DataFrame({"label": ["a", "b"]}))
    assert compute_metrics(ds, cache_dir=False, progress=False).empty  # nothing to compute
    with pytest.raises(ValueError, match="need images"):
        compute_metrics(ds, ["brightness"], cache_dir=False)


def test_large_jpegs_are_decoded_at_reduced_scale(tmp_path):
    from nbdiag.metrics import metric, unregister

    big = np.asarray(Image.fromarray(scene(5, 160, 120)).resize((1600, 1200)))
    path = save(tmp_path, "big.jpg", big, quality=92)
    copy = save(tmp_path, "copy.jpg", Image.open(path))  # re-encoded: not identical
    seen = []

    @metric(scope="image", name="full_width")
    def full_width(image):
        seen.append(image.shape)
        return image.shape[1]

    try:
        ds = dataset([path, path, copy])
        compute_metrics(ds, cache_dir=False, progress=False)
    finally:
        unregister("full_width")
    s = ds.samples
    assert s.width.tolist() == [1600] * 3 and s.height.tolist() == [1200] * 3
    assert seen[0] == (1200, 1600, 3)  # user metrics still get the full image
    assert s.full_width.tolist() == [1600] * 3
    assert s.exact_duplicate.tolist() == [True, True, False]
    assert s.near_duplicate.tolist() == [True, True, True]
    # statistics from the reduced decode match a full decode closely
    full = nbdiag.metrics.ImageView(np.asarray(Image.open(path).convert("RGB")))
    from nbdiag.metrics._builtin_image import _brightness, _contrast

    assert s.brightness.iloc[0] == pytest.approx(_brightness(full), abs=0.01)
    assert s.contrast.iloc[0] == pytest.approx(_contrast(full), abs=0.01)


def test_real_photographs():
    """scikit-learn's two sample photos (640 x 427) and edited copies of them."""
    import pandas as pd
    from sklearn.datasets import load_sample_images

    arrays = {}
    for name, a in zip(["china", "flower"], load_sample_images().images, strict=True):
        img = Image.fromarray(a)
        arrays[name] = a
        arrays[f"{name}_blur2"] = np.asarray(img.filter(ImageFilter.GaussianBlur(2)))
        arrays[f"{name}_dark"] = (a * 0.25).astype(np.uint8)
        arrays[f"{name}_light"] = (255 - (255 - a.astype(float)) * 0.25).astype(np.uint8)
        arrays[f"{name}_gray"] = np.asarray(img.convert("L"))
        arrays[f"{name}_small"] = np.asarray(img.resize((320, 213)))
    ds = nbdiag.Dataset(pd.DataFrame(index=list(arrays)), images=arrays)
    compute_metrics(ds, cache_dir=False, progress=False)
    flags = ds.samples[["dark", "light", "blurry", "low_information", "grayscale"]]
    flagged = {sid: [f for f in flags.columns if flags.at[sid, f]] for sid in flags.index}
    for name in ("china", "flower"):
        assert flagged[name] == [] and flagged[f"{name}_small"] == []
        assert flagged[f"{name}_blur2"] == ["blurry"]
        assert flagged[f"{name}_dark"] == ["dark"]
        assert flagged[f"{name}_light"] == ["light"]
        assert flagged[f"{name}_gray"] == ["grayscale"]
    groups = ds.samples.duplicate_group
    assert ds.samples.near_duplicate.all()
    assert (
        groups.filter(like="china").nunique() == 1 and groups.filter(like="flower").nunique() == 1
    )
    assert groups["china"] != groups["flower"]
