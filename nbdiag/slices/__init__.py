"""Performance broken down by every metric: per-metric bins, metric importance, worst slices;
label quality broken down by annotator (or any grouping).

>>> ds.compute_metrics()                                   # doctest: +SKIP
>>> nbdiag.slices.performance_by(ds, "brightness", run="resnet")   # doctest: +SKIP
>>> nbdiag.slices.metric_importance(ds, "resnet")                  # doctest: +SKIP
>>> nbdiag.slices.worst_slices(ds, "resnet")                       # doctest: +SKIP
>>> nbdiag.slices.quality_by(ds, "annotator", run="resnet")        # doctest: +SKIP
"""

from ._importance import metric_importance
from ._items import evaluated_items
from ._performance import performance_by
from ._quality_by import quality_by
from ._stats import wilson_interval
from ._worst import Predicate, worst_slices

__all__ = [
    "Predicate",
    "evaluated_items",
    "metric_importance",
    "performance_by",
    "quality_by",
    "wilson_interval",
    "worst_slices",
]
