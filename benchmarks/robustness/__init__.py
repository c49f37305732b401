"""Robustness suite for the image issue flags: planted-issue generators that differ in *how*
each issue is made, on generated scenes and on crops of real photos.

- ``planted``: :mod:`benchmarks.planted_images` (the generator the flags are tuned on);
- ``camera``: darkness by gamma, light by overexposure, motion blur, gradient fills, near
  duplicates by small rotation, overlaid text and colour shift;
- ``levels``: darkness by crushed blacks, light by lifted (washed-out) blacks, blur by
  down-and-up scaling, noise fills, near duplicates by crop-and-resize, recompression and
  channel gains.

See :func:`benchmarks.robustness.generators.generate`.
"""

from .generators import GENERATORS, ISSUES, generate

__all__ = ["GENERATORS", "ISSUES", "generate"]
