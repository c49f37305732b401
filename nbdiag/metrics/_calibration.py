"""Dataset-calibrated thresholds of the tone, blur and information flags.

A flag compares one metric with one threshold per dataset. The threshold comes from the
dataset's own distribution of the metric, bounded by two absolute guards:

1. *robust z-score*: on a scale where the issue acts additively (the log of brightness, of its
   complement, of structure; blurriness as is), ``centre = median`` and ``spread = 1.4826 *
   MAD`` bounded to ``[floor, cap]`` (fixed for ``dark`` and ``light``: a brightness ratio); the relative threshold is ``centre - z * spread`` (``+`` for flags raised by
   high values), ``z`` being the flag's sensitivity knob (``thresholds={"dark_z": 3}``: lower
   flags more). The floor keeps a very uniform dataset from flagging tiny differences.
2. *absolute guards*: the threshold is clipped to ``[always, never]``: a value beyond
   ``always`` is the issue whatever the dataset (a black frame in a set of night shots); a
   value on the other side of ``never`` never is (a dataset of night shots is not "all dark",
   and a bright but normal image in a dim dataset is not "light").

Datasets with fewer than :data:`MIN_CALIBRATION` valid values use the rule's ``default``
threshold; so does a flag given a fixed threshold (``thresholds={"dark": 0.2}``). Each flagged
image's reason quotes its value, the threshold and their percentiles in the dataset.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

#: fewer valid values than this: the default (fixed) threshold, no calibration
MIN_CALIBRATION = 20
_MAD_TO_SD = 1.4826


@dataclass(frozen=True)
class Rule:
    """How one flag is decided from one metric column (see the module docstring)."""

    flag: str
    column: str
    #: ``"low"``: the issue is a low value; ``"high"``: a high one
    side: str
    #: the scale of the robust z-score: ``"log"`` (``log(x + eps)``), ``"log1m"``
    #: (``-log(1 + eps - x)``, for values bounded by 1) or ``"linear"``
    scale: str
    eps: float
    always: float
    never: float
    default: float
    z: float
    floor: float
    #: the largest spread used (``floor == cap``: a fixed spread, the threshold is then a fixed
    #: ratio to the dataset's median on the rule's scale)
    cap: float = np.inf
    #: ``(column, limit)``: the flag also needs ``column <= limit`` (when that column exists)
    requires: tuple[str, float] | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        if self.scale == "log":
            return np.log(np.maximum(x, 0) + self.eps)
        if self.scale == "log1m":
            return -np.log(np.maximum(1.0 + self.eps - x, self.eps))
        return x

    def inverse(self, u: float) -> float:
        if self.scale == "log":
            return float(np.exp(u) - self.eps)
        if self.scale == "log1m":
            return float(1.0 + self.eps - np.exp(-u))
        return float(u)

    def beyond(self, x: np.ndarray, threshold: float) -> np.ndarray:
        """Whether each value is on the issue side of ``threshold`` (NaN: False)."""
        with np.errstate(invalid="ignore"):
            return (x < threshold) if self.side == "low" else (x > threshold)


#: the calibrated flags. Each ``z`` is the middle of the range of z that flags
#: ``benchmarks/planted_images.py`` (400 images, seed 0) perfectly, tuned on that generator only:
#: dark 4.75-6.75, light 5-6, blurry 4.75-9.25, low_information 3.75-12 (capped at 12)
RULES: dict[str, Rule] = {
    r.flag: r
    for r in (
        # mean perceived brightness: exposure, gamma and crushed blacks all lower it. Exposure
        # is a factor, so the spread is fixed: the threshold is the dataset's median brightness
        # divided by exp(z * 0.15) (a typical image's exposure varies too much between
        # datasets for its MAD to be a steady yardstick)
        Rule("dark", "brightness", "low", "log", 0.01, 0.06, 0.30, 0.22, 5.75, 0.15, 0.15),
        # washed out or overexposed: the mean brightness nears 1 (its complement, a factor)
        # ... and has no real shadows: its darkest 5% are above 45% brightness (a white page
        # with dark print is not washed out)
        Rule(
            "light",
            "brightness",
            "high",
            "log1m",
            0.01,
            0.94,
            0.72,
            0.80,
            5.5,
            0.15,
            0.15,
            requires=("light_score", 0.55),
        ),
        # structure beyond a smooth trend: flat fills, gradients and noise have none
        # (always: under about 5 grey levels of detail at mid-grey, nothing is visible)
        Rule("low_information", "structure", "low", "log", 0.005, 0.035, 0.09, 0.045, 8.0, 0.15),
        # blank (low-information) images are not judged for blur: a gradient has no edge
        Rule("blurry", "blurriness", "high", "linear", 0.0, 0.60, 0.33, 0.40, 7.0, 0.02),
    )
}


def calibrate(rule: Rule, values: pd.Series, z: float, fixed: float | None) -> dict:
    """The threshold of ``rule`` on ``values``: ``{"threshold", "mode", "centre", "spread",
    "n"}`` (``mode``: ``"calibrated"``, ``"guard: always"``, ``"guard: never"``, ``"fixed"``
    or ``"default (n < 20)"``)."""
    x = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    x = x[np.isfinite(x)]
    out = {"threshold": rule.default, "mode": "fixed", "centre": np.nan, "spread": np.nan}
    out["n"] = len(x)
    if fixed is not None:
        out["threshold"] = float(fixed)
        return out
    if len(x) < MIN_CALIBRATION:
        out["mode"] = f"default (n < {MIN_CALIBRATION})"
        return out
    u = rule.forward(x)
    centre = float(np.median(u))
    mad = _MAD_TO_SD * float(np.median(np.abs(u - centre)))
    spread = min(max(mad, rule.floor), rule.cap)
    sign = -1.0 if rule.side == "low" else 1.0
    cut = rule.inverse(centre + sign * z * spread)
    lo, hi = sorted((rule.always, rule.never))
    threshold = float(np.clip(cut, lo, hi))
    mode = "calibrated"
    if threshold != cut:
        mode = "guard: always" if threshold == rule.always else "guard: never"
    out.update(threshold=threshold, mode=mode, centre=rule.inverse(centre), spread=spread)
    return out


def percentile_of(sorted_values: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Percentile rank (0-100) of each ``x`` among ``sorted_values``: the share at or below."""
    if not len(sorted_values):
        return np.full(len(x), np.nan)
    return 100.0 * np.searchsorted(sorted_values, x, side="right") / len(sorted_values)


def fmt(value: float) -> str:
    """A compact number for a reason text."""
    return f"{value:.3g}"
