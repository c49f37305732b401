"""The default image transform of :func:`nbdiag.embeddings.embed`: resize, to tensor, normalise."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from PIL import Image

from .._optional import require

#: ImageNet channel statistics (what most pretrained torchvision / timm models expect)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class ImageTransform:
    """PIL image -> float32 tensor ``(channels, height, width)``: convert the mode, resize
    (bilinear) to ``size``, scale to [0, 1], subtract ``mean`` and divide by ``std`` per channel.

    Parameters
    ----------
    size : int or (height, width), optional
        Output size; ``None`` keeps the image's size (then batches need equal-sized images).
    channels : {1, 3}
        1 converts to grayscale ("L"), 3 to RGB.
    mean, std : sequence of float, optional
        Per-channel statistics; default ImageNet's (their averages for one channel).

    The ``repr`` lists every parameter, so it is part of the embedding cache key.

    Examples
    --------
    >>> from PIL import Image
    >>> t = ImageTransform(size=4, channels=1)
    >>> tuple(t(Image.new("RGB", (10, 6))).shape)
    (1, 4, 4)
    """

    def __init__(
        self,
        size: int | tuple[int, int] | None = 224,
        channels: int = 3,
        mean: Sequence[float] | None = None,
        std: Sequence[float] | None = None,
    ):
        if channels not in (1, 3):
            raise ValueError(f"channels must be 1 or 3, got {channels!r}")
        if size is not None:
            size = (int(size), int(size)) if np.isscalar(size) else tuple(int(s) for s in size)  # type: ignore[arg-type]
            if len(size) != 2 or min(size) < 1:
                raise ValueError(f"size must be a positive int or (height, width), got {size!r}")
        self.size: tuple[int, int] | None = size  # type: ignore[assignment]
        self.channels = channels
        default_mean = IMAGENET_MEAN if channels == 3 else (float(np.mean(IMAGENET_MEAN)),)
        default_std = IMAGENET_STD if channels == 3 else (float(np.mean(IMAGENET_STD)),)
        self.mean = tuple(float(m) for m in (default_mean if mean is None else mean))
        self.std = tuple(float(s) for s in (default_std if std is None else std))
        if len(self.mean) != channels or len(self.std) != channels:
            raise ValueError(f"mean and std need {channels} values each")
        if min(self.std) <= 0:
            raise ValueError("std values must be positive")
        self._mean = np.asarray(self.mean, dtype=np.float32)[:, None, None]
        self._scale = (1.0 / (255.0 * np.asarray(self.std, dtype=np.float32)))[:, None, None]
        self._offset = (self._mean / np.asarray(self.std, dtype=np.float32)[:, None, None]).astype(
            np.float32
        )

    def array(self, img: Image.Image) -> np.ndarray:
        """The transformed image as a float32 numpy array ``(C, H, W)``."""
        mode = "L" if self.channels == 1 else "RGB"
        if img.mode != mode:
            img = img.convert(mode)
        if self.size is not None and img.size != (self.size[1], self.size[0]):
            img = img.resize((self.size[1], self.size[0]), Image.BILINEAR)
        arr = np.asarray(img, dtype=np.float32)
        arr = arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1)
        return arr * self._scale - self._offset

    def __call__(self, img: Image.Image) -> Any:
        torch = require("torch", "embeddings from torch models")

        return torch.from_numpy(np.ascontiguousarray(self.array(img)))

    def __repr__(self) -> str:
        return (
            f"ImageTransform(size={self.size}, channels={self.channels}, mean={self.mean}, "
            f"std={self.std})"
        )


def default_transform(
    size: int | tuple[int, int] | None = 224,
    channels: int = 3,
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
) -> ImageTransform:
    """The transform :func:`~nbdiag.embeddings.embed` uses when given none; see
    :class:`ImageTransform`."""
    return ImageTransform(size=size, channels=channels, mean=mean, std=std)


def input_channels(model: Any, default: int = 3) -> int:
    """Input channels of the model's first ``Conv2d`` (1 or 3), else ``default``."""
    torch = require("torch", "embeddings from torch models")

    for module in model.modules():
        if isinstance(module, torch.nn.Conv2d):
            return 1 if module.in_channels == 1 else 3
    return default
