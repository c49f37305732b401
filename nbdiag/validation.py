"""Moved to :mod:`nbdiag.core.validation`; this name is kept so that old imports still work."""

import sys

from .core import validation as _moved

sys.modules[__name__] = _moved
