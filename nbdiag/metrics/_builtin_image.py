"""Built-in image metrics: one number (or hash) per image, each with its formula.

Two analysis resolutions, chosen per metric (the image is area-averaged down to them, never
enlarged):

- *structure* (``sharpness``, ``blurriness``, ``contrast``, and via 32 x 32 / 9 x 8 reductions
  ``relative_contrast`` and the perceptual hashes): the luma of the image, area-reduced so its
  longer side is at most 512 px (:data:`~nbdiag.metrics._image.WORK_SIDE`). Sharpness and blur
  are scale-dependent (the same photo is sharper when shrunk), so they are measured at this
  fixed size: a 640 px and a 4000 px copy of a photo score alike. Version 2 takes the luma
  first and then reduces it (version 1 reduced R, G, B, rounded them to integers and then took
  the luma): within half a level per pixel, cheaper, and without that rounding noise, which
  made very smooth (blurred) images look slightly less blurred.
- *tone and colour* (``brightness``, ``dark_score``, ``light_score``, ``mean_*``,
  ``colorfulness``, ``color_spread``, ``entropy``, ``low_information_score``): R, G, B of the
  image area-reduced to at most 256 px a side (:data:`~nbdiag.metrics._image.STATS_SIDE`;
  images over 512 px by a whole factor, to between 171 and 256 px). Means are unchanged by area
  averaging (to within 0.003); percentiles, spreads and entropy describe the image as seen at
  that size, with per-pixel noise averaged away: entropy is lower for noisy images (up to about
  one bit for a flat noisy image), and a percentile can move where the image's histogram has a
  gap at that percentile (e.g. when exactly 1% of the pixels form one bright shape). Version 2
  of these metrics; version 1 read the 512 px image.

Photo-sized JPEGs (1024 px and larger) are decoded straight at reduced scale by libjpeg (DCT
scaling to at least 512 px), so a large photo is never decoded at full resolution for the
built-ins. *Luma* is ITU-R BT.601 ``Y = 0.299 R + 0.587 G + 0.114 B``; *perceived brightness*
per pixel is the HSP model ``P = sqrt(0.241 R^2 + 0.691 G^2 + 0.068 B^2) / 255`` in [0, 1]
(the formula cleanvision publishes). Width and height are those of the full image (EXIF
orientation applied).
"""

from __future__ import annotations

import hashlib

import numpy as np

from . import _hashes
from ._image import ImageView
from ._registry import builtin

_LOG2_3 = float(np.log2(3.0))
_LEVELS = np.arange(256, dtype=np.float64)


def _mean_var(x: np.ndarray) -> tuple[float, float]:
    """Mean and (population) variance of a float32 array, centred before squaring."""
    flat = np.ascontiguousarray(x, dtype=np.float32).reshape(-1)
    m = float(flat.mean(dtype=np.float64))
    d = flat - np.float32(m)
    return m, float(np.dot(d, d)) / max(flat.size, 1)


def _channel_mean(v: ImageView, c: int) -> float:
    h = v.channel_histograms[c]
    return float(h @ _LEVELS / max(h.sum(), 1) / 255.0)


# ---------------------------------------------------------------------- geometry
@builtin("image", "width")
def _width(v: ImageView) -> float:
    """Width in pixels of the decoded image (after EXIF rotation)."""
    return float(v.width)


@builtin("image", "height")
def _height(v: ImageView) -> float:
    """Height in pixels of the decoded image (after EXIF rotation)."""
    return float(v.height)


@builtin("image", "area")
def _area(v: ImageView) -> float:
    """Area in pixels: ``width * height``."""
    return float(v.width * v.height)


@builtin("image", "aspect_ratio")
def _aspect_ratio(v: ImageView) -> float:
    """Aspect ratio ``width / height`` (> 1 landscape, < 1 portrait). The ``odd_aspect_ratio``
    flag uses ``min(w/h, h/w)``, cleanvision's aspect-ratio score."""
    return float(v.width / v.height)


# ---------------------------------------------------------------------- brightness & colour
@builtin("image", "brightness", version="2")
def _brightness(v: ImageView) -> float:
    """Mean perceived brightness in [0, 1]: the mean over pixels of
    ``sqrt(0.241 R^2 + 0.691 G^2 + 0.068 B^2) / 255`` (HSP colour model)."""
    return float(v.perceived.mean(dtype=np.float64))


@builtin("image", "dark_score", version="2")
def _dark_score(v: ImageView) -> float:
    """99th percentile of perceived brightness (cleanvision's dark score, in [0, 1]; low means
    even the brightest pixels are dim, i.e. a dark image)."""
    return float(v.perceived_quantiles[1])


@builtin("image", "light_score", version="2")
def _light_score(v: ImageView) -> float:
    """``1 -`` the 5th percentile of perceived brightness (cleanvision's light score, in
    [0, 1]; low means even the darkest pixels are bright, i.e. a washed-out image)."""
    return float(1.0 - v.perceived_quantiles[0])


@builtin("image", "mean_red", version="2")
def _mean_red(v: ImageView) -> float:
    """Mean of the red channel, ``mean(R) / 255`` in [0, 1]."""
    return _channel_mean(v, 0)


@builtin("image", "mean_green", version="2")
def _mean_green(v: ImageView) -> float:
    """Mean of the green channel, ``mean(G) / 255`` in [0, 1]."""
    return _channel_mean(v, 1)


@builtin("image", "mean_blue", version="2")
def _mean_blue(v: ImageView) -> float:
    """Mean of the blue channel, ``mean(B) / 255`` in [0, 1]."""
    return _channel_mean(v, 2)


@builtin("image", "colorfulness", version="2")
def _colorfulness(v: ImageView) -> float:
    """Hasler & Suesstrunk (2003) colourfulness: with ``rg = R - G`` and
    ``yb = (R + G) / 2 - B``, ``sqrt(std(rg)^2 + std(yb)^2) + 0.3 sqrt(mean(rg)^2 +
    mean(yb)^2)`` (0 for a gray image; about 15 "slightly", 33 "moderately", 59 "quite",
    82 "highly" colourful, 109 "extremely")."""
    r, g, b = v.planes.astype(np.float32)
    rg = r - g
    yb = r + g
    yb *= np.float32(0.5)
    yb -= b
    m_rg, var_rg = _mean_var(rg)
    m_yb, var_yb = _mean_var(yb)
    return float(np.sqrt(var_rg + var_yb) + 0.3 * np.sqrt(m_rg**2 + m_yb**2))


@builtin("image", "color_spread", version="2")
def _color_spread(v: ImageView) -> float:
    """99th percentile over pixels of ``(max(R, G, B) - min(R, G, B)) / 255`` in [0, 1]: 0
    for a gray image however it is stored (mode L or RGB with R = G = B), small for JPEG
    chroma noise, large as soon as 1% of the pixels have colour. The ``grayscale`` flag
    thresholds it."""
    counts = np.bincount(v.chroma.reshape(-1), minlength=256)
    cdf = np.cumsum(counts)
    return float(np.searchsorted(cdf, 0.99 * cdf[-1]) / 255.0)


# ---------------------------------------------------------------------- contrast & information
@builtin("image", "contrast", version="2")
def _contrast(v: ImageView) -> float:
    """RMS contrast: the standard deviation of luma, ``std(Y) / 255`` in [0, 0.5]."""
    return float(np.sqrt(_mean_var(v.luma)[1]) / 255.0)


@builtin("image", "relative_contrast", version="2")
def _relative_contrast(v: ImageView) -> float:
    """Visible structure relative to the brightness headroom: with ``T`` the luma reduced to a
    32 x 32 thumbnail by area averaging (which averages pixel noise away) and ``m = mean(T) /
    255``, ``(std(T) / 255) / (min(m, 1 - m) + 0.05)``. Near 0 for a blank or nearly flat
    image of any colour; a dark or washed-out image keeps its value, because its structure
    shrinks with its headroom (a smooth gradient scores high: see ``structure``)."""
    t = v.luma_reduced((32, 32)).astype(np.float64) / 255.0
    m = float(t.mean())
    return float(t.std() / (min(m, 1.0 - m) + 0.05))


def _detrend_matrix(n: int = 32) -> np.ndarray:
    """``I - A A+``: removes the least-squares quadratic surface ``1, x, y, x^2, y^2, xy``
    from an ``n x n`` image flattened to a vector."""
    yy, xx = np.mgrid[0:n, 0:n] / (n - 1.0) - 0.5
    a = np.stack([np.ones_like(xx), xx, yy, xx * xx, yy * yy, xx * yy], -1).reshape(-1, 6)
    return np.eye(n * n) - a @ np.linalg.pinv(a)


_DETREND = _detrend_matrix(16).astype(np.float32)


@builtin("image", "structure")
def _structure(v: ImageView) -> float:
    """Visible structure beyond a smooth trend: with ``T`` the luma area-reduced to 16 x 16
    (pixel noise averages away) and ``m = mean(T) / 255``, the standard deviation of ``T``
    minus its least-squares quadratic surface (a flat fill, a linear or radial gradient,
    vignetting), ``/ 255 / (min(m, 1 - m) + 0.05)``. Near 0 for a blank image, a gradient or
    pure noise; 0.1-0.6 for pictures. The ``low_information`` flag reads it."""
    t = v.luma_reduced((16, 16)).reshape(-1)
    m = float(t.mean()) / 255.0
    resid = _DETREND @ t
    return float(resid.std() / 255.0 / (min(m, 1.0 - m) + 0.05))


@builtin("image", "entropy", version="2")
def _entropy(v: ImageView) -> float:
    """Mean over R, G, B of the Shannon entropy (bits, 0..8) of the channel's 256-bin
    histogram: ``-sum(p log2 p)``. 0 for a constant image. cleanvision's entropy (PIL's
    ``Image.entropy`` of the RGB image) equals this ``+ log2(3)``."""
    h = v.channel_histograms.astype(np.float64)
    p = h / h.sum(axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, -p * np.log2(p), 0.0)
    return float(terms.sum(axis=1).mean())


@builtin("image", "low_information_score", version="2")
def _low_information_score(v: ImageView) -> float:
    """cleanvision's low-information score: ``min(1, 0.1 * (entropy + log2 3))``, i.e. a tenth
    of PIL's entropy of the RGB image, capped at 1 (cleanvision flags below 0.3)."""
    return float(min(1.0, 0.1 * (_entropy(v) + _LOG2_3)))


# ---------------------------------------------------------------------- sharpness & blur
@builtin("image", "sharpness", version="2")
def _sharpness(v: ImageView) -> float:
    """Variance of the Laplacian: ``var(L)`` with ``L`` the luma filtered by the 4-neighbour
    kernel ``[[0, 1, 0], [1, -4, 1], [0, 1, 0]]`` (valid pixels only). High for crisp edges
    and fine texture; it also grows with noise and content, so compare like with like."""
    y = v.luma
    if min(y.shape) < 3:
        return float("nan")
    lap = y[1:-1, :-2] + y[1:-1, 2:]
    lap += y[:-2, 1:-1]
    lap += y[2:, 1:-1]
    lap -= 4.0 * y[1:-1, 1:-1]
    return _mean_var(lap)[1]


@builtin("image", "blurriness", version="2")
def _blurriness(v: ImageView) -> float:
    """Blur effect of Crete-Roffet et al. (2007) in [0, 1] (0 sharp, 1 fully blurred): along
    one axis, ``dY_i = |Y[i+1] - Y[i]|`` are the neighbour differences of the luma and
    ``dB_i = |Y[i+6] - Y[i-5]| / 11`` those of the luma blurred again by an 11-pixel moving
    average (its differences telescope to that); ``b = 1 - sum(max(0, dY - dB)) / sum(dY)``
    measures how little detail the re-blur removes. The score is the larger ``b`` of the two
    axes. It depends on sharpness rather than on content or contrast. NaN for a flat image
    (no detail to judge) or one under 13 px."""
    y = v.luma
    if min(y.shape) < 13:
        return float("nan")
    scores = []
    for axis in (1, 0):  # horizontal, then vertical differences

        def cut(lo: int, hi: int, axis: int = axis) -> np.ndarray:
            return y[:, lo : y.shape[1] + hi] if axis == 1 else y[lo : y.shape[0] + hi]

        d_y = cut(6, -6) - cut(5, -7)
        np.abs(d_y, out=d_y)
        d_b = cut(11, -1) - cut(0, -12)
        np.abs(d_b, out=d_b)
        d_b *= np.float32(1.0 / 11.0)
        total = float(d_y.sum(dtype=np.float64))
        if total <= 0:
            return float("nan")
        # sum(max(0, dY - dB)) = sum(dY) - sum(min(dY, dB))
        lost = float(np.minimum(d_y, d_b, out=d_b).sum(dtype=np.float64))
        scores.append(lost / total)
    return float(max(scores))


# ---------------------------------------------------------------------- hashes
@builtin("image", "exact_hash", dtype="str")
def _exact_hash(v: ImageView) -> str:
    """SHA-256 (first 128 bits, hex) of the decoded pixels and their shape: equal for images with
    identical pixels, whatever their file names or formats (``exact_duplicate``). JPEGs of
    1024 px or more are hashed on their pixels decoded at reduced scale (libjpeg DCT scaling),
    which is as exact for identical files and several times cheaper."""
    shape, data = v.hash_bytes
    h = hashlib.sha256(f"{shape}|{v.width}x{v.height}".encode())
    h.update(data)
    return h.hexdigest()[:32]


@builtin("image", "phash", version="2", dtype="str")
def _phash(v: ImageView) -> str:
    """Perceptual hash (64 bit, hex): luma area-reduced to 32 x 32, orthonormal 2-D DCT-II,
    the 8 x 8 lowest frequencies compared with the median of the 63 non-DC ones."""
    return _hashes.to_hex(_hashes.phash_bits(v.luma_reduced((32, 32))))


@builtin("image", "dhash", version="2", dtype="str")
def _dhash(v: ImageView) -> str:
    """Difference hash (64 bit, hex): luma area-reduced to 9 x 8 pixels; bit = pixel brighter
    than its left neighbour."""
    return _hashes.to_hex(_hashes.dhash_bits(v.luma_reduced((9, 8))))


@builtin("image", "phash_center", version="2", dtype="str")
def _phash_center(v: ImageView) -> str:
    """pHash of the central 90% (5% cut from each side): matched against other images' full
    ``phash`` it finds copies that were cropped by a few percent."""
    return _hashes.to_hex(_hashes.phash_bits(v.luma_reduced((32, 32), crop=0.05)))


@builtin("image", "dhash_center", version="2", dtype="str")
def _dhash_center(v: ImageView) -> str:
    """dHash of the central 90% (5% cut from each side); see ``phash_center``."""
    return _hashes.to_hex(_hashes.dhash_bits(v.luma_reduced((9, 8), crop=0.05)))
