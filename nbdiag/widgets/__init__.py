"""Linked anywidget views of a Dataset; every widget shares the selection API of
:class:`SelectionWidget`, and ``link(a, b, ...)`` makes views share one selection."""

from ._base import SelectionWidget
from ._link import LinkedSelection, link
from .confusion import ConfusionMatrix
from .explorer import Explorer, explore
from .histogram import Histogram
from .image_grid import ImageGrid
from .scatter import Scatter

__all__ = [
    "ConfusionMatrix",
    "Explorer",
    "Histogram",
    "ImageGrid",
    "LinkedSelection",
    "Scatter",
    "SelectionWidget",
    "explore",
    "link",
]
