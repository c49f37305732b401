"""Quality metrics: built-ins for images, boxes and model outputs, user metrics, issue flags.

>>> import nbdiag
>>> errors = nbdiag.metrics.compute_metrics(ds)            # doctest: +SKIP
>>> ds.samples[["brightness", "blurriness", "dark", "near_duplicate"]]   # doctest: +SKIP

A user metric in five lines (cached by image content, name and version)::

    @nbdiag.metrics.metric(scope="image", name="redness", version=1)
    def redness(image):              # RGB uint8 array (H, W, 3)
        return image[..., 0].mean() / 255

``list_metrics()`` shows every registered metric with its formula.
"""

from ..core.cache_dir import default_cache_dir
from . import _builtin_image, _builtin_object, _builtin_prediction  # noqa: F401  (register)
from ._cache import MetricCache
from ._engine import apply_flags, compute_metrics
from ._flags import DEFAULT_THRESHOLDS, FLAGS, flag_thresholds
from ._hashes import dhash_bits, hamming, phash_bits
from ._image import WORK_SIDE, ImageView
from ._registry import Metric, get_metric, list_metrics, metric, unregister

__all__ = [
    "DEFAULT_THRESHOLDS",
    "FLAGS",
    "WORK_SIDE",
    "ImageView",
    "Metric",
    "MetricCache",
    "apply_flags",
    "compute_metrics",
    "default_cache_dir",
    "dhash_bits",
    "flag_thresholds",
    "get_metric",
    "hamming",
    "list_metrics",
    "metric",
    "phash_bits",
    "unregister",
]
