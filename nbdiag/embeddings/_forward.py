"""The forward pass shared by the in-process and the Dask runs of
:func:`~nbdiag.embeddings.embed`: device choice, the layer hook, pooling to vectors, box crops,
and the final finiteness check, so both compute the very same numbers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .._optional import require
from ..core import validation as v

POOLS = ("avg", "max", "flatten", "first")


class _StopForward(Exception):
    """Raised by the hook once the wanted layer has run: the rest of the network is skipped."""


def resolve_device(device: Any = "auto") -> Any:
    """``"auto"``: CUDA when available, else Apple MPS, else CPU; anything else as given."""
    torch = require("torch", "computing embeddings")
    if device is None or device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    return torch.device(device)


def _first_tensor(out: Any, torch: Any) -> Any:
    if isinstance(out, torch.Tensor):
        return out
    if isinstance(out, (tuple, list)) and out and isinstance(out[0], torch.Tensor):
        return out[0]
    if isinstance(out, dict):
        tensors = [t for t in out.values() if isinstance(t, torch.Tensor)]
        if len(tensors) == 1:
            return tensors[0]
    for attr in ("last_hidden_state", "pooler_output", "logits"):
        if isinstance(getattr(out, attr, None), torch.Tensor):
            return getattr(out, attr)
    raise TypeError(
        f"cannot take embeddings from a module output of type {type(out).__name__}; pass "
        "layer= naming a module whose output is a tensor"
    )


def _pool(t: Any, pool: str) -> Any:
    """``(B, ...)`` -> ``(B, D)``: average / max over spatial (B,C,H,W) or token (B,T,D) axes,
    the first token, or flatten."""
    if t.ndim == 2 or pool == "flatten":
        return t.reshape(len(t), -1)
    if t.ndim == 4:  # B, C, H, W
        dims = (2, 3)
        first = t[:, :, 0, 0]
    elif t.ndim == 3:  # B, T, D (transformer tokens)
        dims = (1,)
        first = t[:, 0]
    else:
        return t.reshape(len(t), -1)
    if pool == "avg":
        return t.mean(dim=dims)
    if pool == "max":
        return t.amax(dim=dims)
    return first


def crop(img: Any, box: np.ndarray, padding: float) -> Any:
    """The box ``(x, y, w, h)`` of a PIL image, grown by ``padding`` x its size on every side
    (clipped to the image, at least one pixel)."""
    x, y, w, h = box
    px, py = padding * w, padding * h
    left = int(np.floor(max(0.0, x - px)))
    top = int(np.floor(max(0.0, y - py)))
    right = int(np.ceil(min(img.width, x + w + px)))
    bottom = int(np.ceil(min(img.height, y + h + py)))
    right, bottom = max(right, left + 1), max(bottom, top + 1)
    return img.crop((left, top, right, bottom))


def features(
    model: Any, x: Any, hooked: Any, captured: list[Any], pool: str, torch: Any
) -> np.ndarray:
    """One batch ``x`` (already on the model's device) through ``model`` -> ``(B, D)``
    float32 vectors: the output, or what the hook on ``hooked`` put in ``captured``."""
    captured.clear()
    try:
        result = model(x)
    except _StopForward:
        result = captured[0]
    if hooked is not None and not captured:
        raise RuntimeError("the hooked layer did not run during the forward pass")
    return _pool(_first_tensor(result, torch), pool).float().cpu().numpy()


def stop_hook(captured: list[Any]) -> Any:
    """A forward hook that keeps the layer's output in ``captured`` and skips the rest."""

    def hook(_module: Any, _inputs: Any, output: Any) -> None:
        captured.append(output)
        raise _StopForward

    return hook


def check_finite(out: np.ndarray, sample_ids: Sequence[Any]) -> None:
    """Raise ValueError naming the rows (and ids) with NaN/inf embeddings."""
    if not np.isfinite(out).all():
        bad = np.flatnonzero(~np.isfinite(out).all(axis=1))
        raise ValueError(
            f"the model produced NaN/inf embeddings for rows {v.listed(bad)} "
            f"(ids {v.listed([sample_ids[i] for i in bad[:5]])})"
        )
