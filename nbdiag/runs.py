"""Moved to :mod:`nbdiag.core.runs`; this name is kept so that old imports still work."""

import sys

from .core import runs as _moved

sys.modules[__name__] = _moved
