"""Linked anywidget views of a Dataset; every widget shares the selection API of
:class:`SelectionWidget`."""

from ._base import SelectionWidget
from .confusion import ConfusionMatrix

__all__ = ["ConfusionMatrix", "SelectionWidget"]
