"""Where the built front-end bundles live (``nbdiag/static``, built from ``js/`` by esbuild)."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

STATIC = Path(__file__).resolve().parent.parent / "static"

_MISSING = (
    "nbdiag's front-end bundle {name} is missing from {static}. Install nbdiag from a wheel, or "
    "build it from a source checkout with `cd js && npm ci && npm run build` (`make setup` does "
    "this)."
)


def bundle(name: str, suffix: str = ".js") -> Path | str:
    """Path of a built bundle. When the JavaScript was never built, importing still works: the
    widget shows the error (and a warning says how to build it) instead of failing silently."""
    path = STATIC / f"{name}{suffix}"
    if path.exists():
        return path
    message = _MISSING.format(name=path.name, static=STATIC)
    warnings.warn(message, stacklevel=2)
    if suffix == ".css":
        return ""
    return (
        "export default { render({ el }) { const p = document.createElement('pre'); "
        f"p.textContent = {json.dumps(message)}; el.appendChild(p); }} }};"
    )
