"""Dataset-calibrated issue flags: the rule, its guards, its knob and the per-image reasons."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import nbdiag
from nbdiag.metrics import compute_metrics, flag_thresholds
from nbdiag.metrics._calibration import RULES, calibrate

from ._images import scene


def _ds(arrays: dict[str, np.ndarray], **kwargs) -> pd.DataFrame:
    ds = nbdiag.Dataset(pd.DataFrame(index=list(arrays)), images=arrays)
    errors = compute_metrics(ds, cache_dir=False, progress=False, workers=1, **kwargs)
    assert errors.empty, errors
    return ds


def _normals(n: int = 30, scale: float = 1.0) -> dict[str, np.ndarray]:
    return {f"n{i}": np.uint8(scene(i, 64, 64) * scale) for i in range(n)}


def test_a_dark_image_among_normal_ones_is_flagged_with_its_reason():
    arrays = _normals()
    arrays["dark"] = np.uint8(scene(99, 64, 64) * 0.15)
    s = _ds(arrays).samples
    assert s.dark.sum() == 1 and s.dark["dark"]
    why = s.flag_reasons["dark"]
    thr = flag_thresholds(s).loc["dark"]
    assert why.startswith(f"dark: brightness {s.brightness['dark']:.3g} < {thr.threshold:.3g}")
    assert "calibrated" in why and f"threshold at p{thr.percentile:.0f}" in why
    assert "image at p3" in why  # the darkest of 31
    assert s.flag_reasons.drop("dark").isna().all()  # unflagged rows carry nothing


def test_a_dataset_of_dim_images_is_not_all_dark_but_a_black_frame_is():
    arrays = _normals(scale=0.35)  # night shots: every image dim
    arrays["black"] = np.zeros((64, 64, 3), np.uint8)
    s = _ds(arrays).samples
    assert s.brightness.drop("black").max() < 0.30  # all would be dark by a fixed rule
    assert s.dark.tolist() == [False] * 30 + [True]
    assert "guard" in flag_thresholds(s).loc["dark", "mode"] or s.dark["black"]


def test_the_sensitivity_knob_moves_the_decision():
    arrays = _normals()
    arrays["dim"] = np.uint8(scene(98, 64, 64) * 0.6)  # brightness 0.29, the others 0.52
    ds = _ds(arrays)
    assert not ds.samples.dark["dim"]
    flags = ds.flag_issues({"dark_z": 2})
    assert flags.dark["dim"]
    assert flags.attrs["thresholds"].loc["dark", "z"] == 2
    assert ds.samples.flag_reasons["dim"].startswith("dark: brightness")
    # a fixed threshold bypasses the calibration (the old overrides keep working)
    flags = ds.flag_issues({"dark": 0.0})
    assert not flags.dark.any() and flags.attrs["thresholds"].loc["dark", "mode"] == "fixed"


def test_guards_bound_the_calibrated_threshold():
    rule = RULES["dark"]
    uniform = pd.Series(np.full(50, 0.5))  # no spread: the floor keeps z meaningful
    cal = calibrate(rule, uniform, z=4.0, fixed=None)
    assert cal["mode"] == "calibrated" and rule.always < cal["threshold"] < 0.5
    night = pd.Series(np.linspace(0.03, 0.12, 50))
    cal = calibrate(rule, night, z=4.0, fixed=None)
    assert cal["mode"] == "guard: always" and cal["threshold"] == rule.always
    bright = pd.Series(np.linspace(0.85, 0.95, 50))
    cal = calibrate(rule, bright, z=0.5, fixed=None)
    assert cal["mode"] == "guard: never" and cal["threshold"] == rule.never
    small = calibrate(rule, pd.Series([0.5] * 5), z=4.0, fixed=None)
    assert small["mode"].startswith("default") and small["threshold"] == rule.default


@pytest.mark.parametrize("kind", ["gradient", "noise", "flat"])
def test_blank_images_of_any_kind_are_low_information(kind):
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:64, 0:64]
    if kind == "gradient":
        blank = np.stack([xx * 3.5, yy * 2 + 40, 200 - xx * 2], -1)
    elif kind == "noise":
        blank = 120 + rng.normal(0, 30, (128, 128, 3))  # averaged away at 16 x 16
    else:
        blank = np.broadcast_to([90.0, 140, 60], (64, 64, 3)) + rng.normal(0, 2, (64, 64, 3))
    arrays = _normals()
    arrays["blank"] = np.uint8(np.clip(blank, 0, 255))
    s = _ds(arrays).samples
    assert s.low_information.sum() == 1 and s.low_information["blank"]
    assert s.flag_reasons["blank"].startswith("low_information: structure")
    assert not s.blurry.any()  # a blank image is not judged for blur


def test_a_grayscale_dataset_is_not_all_grayscale_issues():
    gray = {
        k: np.repeat(v.mean(axis=2, keepdims=True), 3, 2).astype(np.uint8)
        for k, v in _normals(24).items()
    }
    gray["colour"] = scene(77, 64, 64)
    s = _ds(gray).samples
    assert not s.grayscale.any()
    assert flag_thresholds(s).loc["grayscale", "mode"].startswith("grayscale dataset")
    mixed = _normals(24)
    mixed["gray"] = np.repeat(scene(60, 64, 64).mean(axis=2, keepdims=True), 3, 2).astype(np.uint8)
    s = _ds(mixed).samples
    assert s.grayscale.tolist() == [False] * 24 + [True]
    assert s.flag_reasons["gray"] == "grayscale: color_spread 0 <= 0.02"


def test_reasons_of_geometry_and_duplicates():
    arrays = _normals(12)
    arrays["strip"] = scene(50, 120, 20)
    arrays["copy"] = arrays["n3"]
    s = _ds(arrays).samples
    assert s.flag_reasons["strip"].startswith("odd_aspect_ratio: min(w/h, h/w) 0.167 < 0.35")
    assert "exact_duplicate: group" in s.flag_reasons["copy"]
    assert "(2 images)" in s.flag_reasons["n3"]
