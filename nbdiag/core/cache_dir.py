"""Where nbdiag keeps its caches (metric values, thumbnails) on this machine."""

from __future__ import annotations

import os
from pathlib import Path


def default_cache_dir() -> Path:
    """``$NBDIAG_CACHE_DIR``, else ``$XDG_CACHE_HOME/nbdiag``, else ``~/.cache/nbdiag``."""
    env = os.environ.get("NBDIAG_CACHE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "nbdiag"
