"""Boolean issue flags derived from the image metrics, with documented default thresholds.

Each flag is a column of ``ds.samples`` (``False`` where its metric is missing):

=====================  ======================================================================
``dark``               ``dark_score < 0.32``: even the brightest 1% of pixels are below 32%
                       perceived brightness (cleanvision's threshold)
``light``              ``light_score < 0.30``: 95% of the pixels are above 70% perceived
                       brightness, a washed-out image (cleanvision: 0.05, i.e. almost white)
``blurry``             ``blurriness > 0.40``: re-blurring removes less than 60% of the detail
``low_information``    ``relative_contrast < 0.045``: no visible structure, a blank or nearly
                       flat image of any colour or brightness
``grayscale``          ``color_spread <= 0.02``: 99% of the pixels have R, G and B within 5
                       levels, however the file stores them (mode L, or RGB with R = G = B)
``odd_aspect_ratio``   ``min(w/h, h/w) < 0.35`` (cleanvision's threshold)
``odd_size``           ``sqrt(width * height)`` more than 3x below the lower quartile or 3x
                       above the upper quartile of the dataset (the margin widens to 3 IQRs of
                       the log size where sizes vary a lot)
``exact_duplicate``    another sample has the same ``exact_hash`` (identical pixels)
``near_duplicate``     another sample, not pixel-identical, is within ``near_duplicate_radius``
                       bits (default 11 of 64) on both pHash and dHash, comparing full images
                       or one's central 90% with the other's full image (finds resized,
                       re-encoded, slightly cropped and brightness-shifted copies); blank
                       (``low_information``) images are not compared
=====================  ======================================================================

``duplicate_group`` (nullable integer) numbers the groups of exact and near duplicates (largest
group first); samples without duplicates have ``<NA>``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from . import _hashes

FLAGS = (
    "dark",
    "light",
    "blurry",
    "low_information",
    "grayscale",
    "odd_aspect_ratio",
    "odd_size",
    "exact_duplicate",
    "near_duplicate",
)

#: default thresholds (see the module docstring); override any of them by keyword
DEFAULT_THRESHOLDS: dict[str, float] = {
    "dark": 0.32,
    "light": 0.30,
    "blurry": 0.40,
    "low_information": 0.045,
    "grayscale": 0.02,
    "odd_aspect_ratio": 0.35,
    "odd_size": 3.0,
    "near_duplicate_radius": 11,
}


def thresholds_with(overrides: Mapping[str, Any] | None) -> dict[str, float]:
    t = dict(DEFAULT_THRESHOLDS)
    for k, val in (overrides or {}).items():
        if k not in t:
            raise ValueError(f"unknown threshold {k!r}; known: {sorted(t)}")
        t[k] = float(val)
    return t


def _below(s: pd.DataFrame, col: str, thr: float, inclusive: bool = False) -> pd.Series | None:
    if col not in s.columns:
        return None
    x = pd.to_numeric(s[col], errors="coerce")
    out = (x <= thr) if inclusive else (x < thr)
    return out.fillna(False).astype(bool)


#: the metric columns the flags are computed from (``compute_flags`` and ``near_duplicates``)
FLAG_INPUTS = frozenset(
    {
        "dark_score",
        "light_score",
        "relative_contrast",
        "blurriness",
        "color_spread",
        "exact_hash",
        "phash",
        "dhash",
        "phash_center",
        "dhash_center",
        "width",
        "height",
    }
)


def compute_flags(
    samples: pd.DataFrame, thresholds: Mapping[str, Any] | None = None
) -> pd.DataFrame:
    """The flag columns (and ``duplicate_group``) computable from ``samples``' metric columns."""
    t = thresholds_with(thresholds)
    out = pd.DataFrame(index=samples.index)
    for flag, col in (
        ("dark", "dark_score"),
        ("light", "light_score"),
        ("low_information", "relative_contrast"),
    ):
        f = _below(samples, col, t[flag])
        if f is not None:
            out[flag] = f
    if "blurriness" in samples.columns:
        b = pd.to_numeric(samples["blurriness"], errors="coerce")
        out["blurry"] = (b > t["blurry"]).fillna(False).astype(bool)
    g = _below(samples, "color_spread", t["grayscale"], inclusive=True)
    if g is not None:
        out["grayscale"] = g
    if {"width", "height"} <= set(samples.columns):
        w = pd.to_numeric(samples["width"], errors="coerce")
        h = pd.to_numeric(samples["height"], errors="coerce")
        ratio = np.minimum(w / h, h / w)
        out["odd_aspect_ratio"] = (ratio < t["odd_aspect_ratio"]).fillna(False).astype(bool)
        out["odd_size"] = odd_size(np.sqrt(w * h), t["odd_size"])
    if "exact_hash" in samples.columns:
        dup = samples["exact_hash"].where(samples["exact_hash"].notna())
        counts = dup.map(dup.value_counts())
        out["exact_duplicate"] = (counts > 1).fillna(False).astype(bool)
    if {"phash", "dhash"} <= set(samples.columns):
        blank = out["low_information"] if "low_information" in out else None
        near, group = near_duplicates(samples, int(t["near_duplicate_radius"]), blank)
        out["near_duplicate"] = near
        out["duplicate_group"] = group
    return out


def odd_size(side: pd.Series, factor: float = 3.0) -> pd.Series:
    """True where ``side`` (square root of the area) is ``factor`` times below the lower
    quartile or above the upper quartile (or 3 IQRs of the log side, if wider)."""
    x = pd.to_numeric(side, errors="coerce")
    ok = x > 0
    if ok.sum() < 4:
        return pd.Series(False, index=side.index)
    logs = np.log(x[ok].to_numpy(dtype=float))
    q1, q3 = np.percentile(logs, [25, 75])
    margin = max(3.0 * (q3 - q1), float(np.log(factor)))
    lx = np.log(x.where(ok))
    flag = (lx < q1 - margin) | (lx > q3 + margin)
    return flag.fillna(False).astype(bool)


def near_duplicates(
    samples: pd.DataFrame, radius: int = 11, exclude: pd.Series | None = None
) -> tuple[pd.Series, pd.Series]:
    """``near_duplicate`` flags and ``duplicate_group`` labels from the hash columns.

    Rows in ``exclude`` (the ``low_information`` ones: blank images have no structure, so
    their perceptual hashes are all alike or pure noise) are not compared; they can still be
    exact duplicates."""
    n = len(samples)
    pf, ok_pf = _hashes.from_hex(samples["phash"])
    df, ok_df = _hashes.from_hex(samples["dhash"])
    has_center = {"phash_center", "dhash_center"} <= set(samples.columns)
    if has_center:
        pc, ok_pc = _hashes.from_hex(samples["phash_center"])
        dc, ok_dc = _hashes.from_hex(samples["dhash_center"])
    else:
        pc, dc, ok_pc, ok_dc = pf, df, ok_pf, ok_df
    ok = ok_pf & ok_df & ok_pc & ok_dc
    if exclude is not None:
        ok &= ~exclude.to_numpy(dtype=bool)
    idx = np.flatnonzero(ok)
    m = len(idx)
    # rows 0..m-1: full-image hashes; m..2m-1: central-crop hashes of the same samples
    p_all = np.concatenate([pf[idx], pc[idx]])
    d_all = np.concatenate([df[idx], dc[idx]])
    pairs = _hashes.candidate_pairs(p_all, radius)
    if len(pairs):
        d_ok = _hashes.hamming(d_all[pairs[:, 0]], d_all[pairs[:, 1]]) <= radius
        pairs = pairs[d_ok]
        pairs = np.sort(pairs % m, axis=1) if m else pairs
        pairs = pairs[pairs[:, 0] != pairs[:, 1]]
        pairs = np.unique(pairs, axis=0) if len(pairs) else pairs
    pairs = idx[pairs] if len(pairs) else np.empty((0, 2), dtype=np.int64)
    exact = samples["exact_hash"].to_numpy(dtype=object) if "exact_hash" in samples else None
    near = np.zeros(n, dtype=bool)
    if len(pairs):
        if exact is not None:
            differ = exact[pairs[:, 0]] != exact[pairs[:, 1]]
        else:
            differ = np.ones(len(pairs), dtype=bool)
        near[pairs[differ].reshape(-1)] = True
    links = [pairs]
    if exact is not None:
        codes, uniq = pd.factorize(pd.Series(exact).where(pd.Series(exact).notna()))
        order = np.argsort(codes, kind="stable")
        c = codes[order]
        same = (c[1:] == c[:-1]) & (c[1:] >= 0)
        links.append(np.c_[order[:-1][same], order[1:][same]])
    labels = _hashes.components(n, np.concatenate(links).astype(np.int64))
    group = pd.array(np.where(labels >= 0, labels, 0), dtype="Int64")
    group[labels < 0] = pd.NA
    return (
        pd.Series(near, index=samples.index),
        pd.Series(group, index=samples.index, name="duplicate_group"),
    )
