"""Boolean issue flags derived from the image metrics, each explained per image.

Each flag is a column of ``ds.samples`` (``False`` where its metric is missing). ``dark``,
``light``, ``blurry`` and ``low_information`` are **calibrated on the dataset** (see
:mod:`nbdiag.metrics._calibration`): their threshold is the dataset's median minus (or plus)
``z`` robust standard deviations of the metric, clipped to two absolute guards, so that a set of
night shots is not "all dark" while a black frame is always flagged.

=====================  ======================================================================
``dark``               ``brightness`` (mean perceived brightness) below the calibrated
                       threshold, which stays within [0.06, 0.30]; knob ``dark_z`` (5.75)
``light``              ``brightness`` above the calibrated threshold, within [0.72, 0.94],
                       and ``light_score <= 0.55`` (no real shadows); knob ``light_z`` (5.5)
``blurry``             ``blurriness`` above the calibrated threshold, within [0.33, 0.60];
                       knob ``blurry_z`` (7); not raised on ``low_information`` images
``low_information``    ``structure`` (detail beyond a smooth trend) below the calibrated
                       threshold, within [0.035, 0.09]: flat fills, gradients, noise; knob
                       ``low_information_z`` (8)
``grayscale``          ``color_spread <= 0.02``: 99% of the pixels have R, G and B within 5
                       levels, however the file stores them; not raised when at least half of
                       a dataset of 20 or more images is grayscale (a grayscale dataset)
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

``thresholds={"dark": 0.15}`` fixes a calibrated flag's threshold (no calibration); datasets
under 20 images use the defaults in :data:`DEFAULT_THRESHOLDS`. ``flag_reasons`` says, for each
flagged sample only (``None`` elsewhere), why: e.g. ``"dark: brightness 0.081 < 0.214
(calibrated, threshold at p6, image at p1)"``; :func:`flag_thresholds` gives the thresholds of
a dataset. ``duplicate_group`` (nullable integer) numbers the groups of exact and near
duplicates (largest group first); samples without duplicates have ``<NA>``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from . import _hashes
from ._calibration import MIN_CALIBRATION, RULES, calibrate, fmt, percentile_of

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
#: the column of ``ds.samples`` that explains each flagged sample
REASONS = "flag_reasons"

#: default thresholds (see the module docstring); override any of them by keyword. For the
#: calibrated flags, ``"<flag>"`` is the threshold of datasets too small to calibrate (or a
#: fixed threshold when given) and ``"<flag>_z"`` the sensitivity knob.
DEFAULT_THRESHOLDS: dict[str, float] = {
    **{flag: rule.default for flag, rule in RULES.items()},
    **{f"{flag}_z": rule.z for flag, rule in RULES.items()},
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
        "brightness",
        "light_score",
        "structure",
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


_HASHES = ("exact_hash", "phash", "dhash", "phash_center", "dhash_center")


def flag_thresholds(
    samples: pd.DataFrame, thresholds: Mapping[str, Any] | None = None
) -> pd.DataFrame:
    """The threshold each flag uses on ``samples`` (one row per flag whose metric is present):
    ``metric``, ``side`` (``"<"``: a value below the threshold is the issue), ``threshold``,
    ``percentile`` (the share of the dataset's values at or below it, 0-100), ``mode``
    (``calibrated``, ``guard: always`` / ``guard: never`` when an absolute guard bounded it,
    ``fixed``, ``default (n < 20)``), the dataset's ``centre`` (median) and robust ``spread``
    (on the rule's scale), the knob ``z`` and ``n`` (valid values)."""
    cols = [c for c in samples.columns if c in FLAG_INPUTS and c not in _HASHES]
    return compute_flags(samples[cols], thresholds).attrs["thresholds"]


def _grow(reasons: dict[int, list[str]], pos: np.ndarray, texts: list[str]) -> None:
    for p, text in zip(pos.tolist(), texts, strict=True):
        reasons.setdefault(p, []).append(text)


def compute_flags(
    samples: pd.DataFrame, thresholds: Mapping[str, Any] | None = None
) -> pd.DataFrame:
    """The flag columns, ``flag_reasons`` and ``duplicate_group`` computable from ``samples``'
    metric columns; ``.attrs["thresholds"]`` is the :func:`flag_thresholds` table."""
    given = set(thresholds or {})
    t = thresholds_with(thresholds)
    out = pd.DataFrame(index=samples.index)
    reasons: dict[int, list[str]] = {}
    table: list[dict[str, Any]] = []
    for flag, rule in RULES.items():
        if rule.column not in samples.columns:
            continue
        x = pd.to_numeric(samples[rule.column], errors="coerce").to_numpy(dtype=float)
        fixed = t[flag] if flag in given else None
        cal = calibrate(rule, samples[rule.column], t[f"{flag}_z"], fixed)
        thr = cal["threshold"]
        hit = rule.beyond(x, thr)
        if rule.requires is not None and rule.requires[0] in samples.columns:
            extra = pd.to_numeric(samples[rule.requires[0]], errors="coerce").to_numpy(float)
            hit &= extra <= rule.requires[1]
        if flag == "blurry" and "low_information" in out:
            hit &= ~out["low_information"].to_numpy(dtype=bool)
        out[flag] = hit
        valid = np.sort(x[np.isfinite(x)])
        thr_p = float(percentile_of(valid, np.array([thr]))[0])
        table.append(
            {"flag": flag, "metric": rule.column, "side": "<" if rule.side == "low" else ">"}
            | {"threshold": thr, "percentile": thr_p, "mode": cal["mode"]}
            | {"centre": cal["centre"], "spread": cal["spread"], "z": t[f"{flag}_z"]}
            | {"n": cal["n"], "flagged": int(hit.sum())}
        )
        pos = np.flatnonzero(hit)
        if len(pos):
            img_p = percentile_of(valid, x[pos])
            op = "<" if rule.side == "low" else ">"
            head = f"{flag}: {rule.column} "
            tail = f" {op} {fmt(thr)} ({cal['mode']}, threshold at p{thr_p:.0f}, image at p"
            _grow(
                reasons,
                pos,
                [f"{head}{fmt(v)}{tail}{p:.0f})" for v, p in zip(x[pos], img_p, strict=True)],
            )
    g = _below(samples, "color_spread", t["grayscale"], inclusive=True)
    if g is not None:
        n_valid = int(samples["color_spread"].notna().sum())
        share = g.sum() / max(n_valid, 1)
        gray_dataset = "grayscale" not in given and n_valid >= MIN_CALIBRATION and share >= 0.5
        out["grayscale"] = g & (not gray_dataset)
        table.append(
            {
                "flag": "grayscale",
                "metric": "color_spread",
                "side": "<=",
                "threshold": t["grayscale"],
            }
            | {"percentile": 100.0 * share, "n": n_valid, "flagged": int(out["grayscale"].sum())}
            | {"mode": "grayscale dataset: not flagged" if gray_dataset else "fixed"}
        )
        pos = np.flatnonzero(out["grayscale"].to_numpy())
        spread = samples["color_spread"].to_numpy(dtype=float)
        _grow(
            reasons,
            pos,
            [f"grayscale: color_spread {fmt(v)} <= {fmt(t['grayscale'])}" for v in spread[pos]],
        )
    if {"width", "height"} <= set(samples.columns):
        w = pd.to_numeric(samples["width"], errors="coerce")
        h = pd.to_numeric(samples["height"], errors="coerce")
        ratio = np.minimum(w / h, h / w)
        out["odd_aspect_ratio"] = (ratio < t["odd_aspect_ratio"]).fillna(False).astype(bool)
        pos = np.flatnonzero(out["odd_aspect_ratio"].to_numpy())
        r = ratio.to_numpy(dtype=float)[pos]
        lim = fmt(t["odd_aspect_ratio"])
        _grow(reasons, pos, [f"odd_aspect_ratio: min(w/h, h/w) {fmt(v)} < {lim}" for v in r])
        side = np.sqrt(w * h)
        out["odd_size"], (lo, hi) = odd_size(side, t["odd_size"], bounds=True)
        pos = np.flatnonzero(out["odd_size"].to_numpy())
        sv = side.to_numpy(dtype=float)[pos]
        _grow(
            reasons,
            pos,
            [
                f"odd_size: sqrt(w*h) {v:.0f} px {'<' if v < lo else '>'} "
                f"{lo if v < lo else hi:.0f} px"
                for v in sv
            ],
        )
    if "exact_hash" in samples.columns:
        dup = samples["exact_hash"].where(samples["exact_hash"].notna())
        counts = dup.map(dup.value_counts())
        out["exact_duplicate"] = (counts > 1).fillna(False).astype(bool)
    if {"phash", "dhash"} <= set(samples.columns):
        blank = out["low_information"] if "low_information" in out else None
        near, group = near_duplicates(samples, int(t["near_duplicate_radius"]), blank)
        out["near_duplicate"] = near
        out["duplicate_group"] = group
        sizes = group.map(group.value_counts())
        for flag in ("exact_duplicate", "near_duplicate"):
            if flag in out:
                pos = np.flatnonzero(out[flag].to_numpy())
                gv, sz = group.to_numpy(dtype=object)[pos], sizes.to_numpy(dtype=object)[pos]
                _grow(
                    reasons,
                    pos,
                    [f"{flag}: group {a} ({b} images)" for a, b in zip(gv, sz, strict=True)],
                )
    elif "exact_duplicate" in out:
        pos = np.flatnonzero(out["exact_duplicate"].to_numpy())
        _grow(reasons, pos, ["exact_duplicate: same pixels as another sample"] * len(pos))
    why = np.full(len(samples), None, dtype=object)
    for p, texts in reasons.items():
        why[p] = "; ".join(texts)
    out[REASONS] = why
    out.attrs["thresholds"] = pd.DataFrame(table).set_index("flag") if table else pd.DataFrame()
    return out


def odd_size(side: pd.Series, factor: float = 3.0, bounds: bool = False) -> Any:
    """True where ``side`` (square root of the area) is ``factor`` times below the lower
    quartile or above the upper quartile (or 3 IQRs of the log side, if wider). With
    ``bounds``, also the ``(low, high)`` sides outside which a sample is flagged."""
    x = pd.to_numeric(side, errors="coerce")
    ok = x > 0
    if ok.sum() < 4:
        flag = pd.Series(False, index=side.index)
        return (flag, (0.0, np.inf)) if bounds else flag
    logs = np.log(x[ok].to_numpy(dtype=float))
    q1, q3 = np.percentile(logs, [25, 75])
    margin = max(3.0 * (q3 - q1), float(np.log(factor)))
    lx = np.log(x.where(ok))
    flag = ((lx < q1 - margin) | (lx > q3 + margin)).fillna(False).astype(bool)
    if bounds:
        return flag, (float(np.exp(q1 - margin)), float(np.exp(q3 + margin)))
    return flag


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
