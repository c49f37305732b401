"""Moved to :mod:`nbdiag.core.images`; this name is kept so that old imports still work."""

import sys

from .core import images as _moved

sys.modules[__name__] = _moved
