"""Optional dependencies: import them lazily with a message that names the extra to install.

Every import of a package that is not a core dependency goes through this module:
:func:`require` where the feature cannot work without it (an ``ImportError`` naming the extra),
:func:`optional` where nbdiag falls back to something else when it is missing.
``tests/test_dependencies.py`` checks that nbdiag's code keeps to this, and that ``_EXTRAS``
matches the extras declared in ``pyproject.toml``.
"""

from __future__ import annotations

import importlib
from types import ModuleType

#: import name -> (pip extra, what it is needed for)
_EXTRAS: dict[str, tuple[str, str]] = {
    "torch": ("torch", "torch models and datasets"),
    "jupyterlab": ("lab", "running JupyterLab"),
    "bokeh": ("report", "HTML reports"),
    "cleanlab": ("cleanlab", "confident-learning label issues"),
    "umap": ("umap", "UMAP projections"),
    "dask": ("dask", "Dask execution"),
    "faiss": ("faiss", "the faiss nearest-neighbour backend"),
    "datasets": ("hf", "Hugging Face datasets"),
    "pycocotools": ("masks", "object masks (COCO segmentation)"),
}


def extra_for(module: str) -> str | None:
    """The pip extra that installs ``module`` (``None`` when it is not an optional one)."""
    entry = _EXTRAS.get(module.split(".")[0])
    return entry[0] if entry else None


def require(module: str, feature: str | None = None) -> ModuleType:
    """Import ``module`` or raise an ImportError that tells the user which extra installs it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        top = module.split(".")[0]
        extra, default_feature = _EXTRAS.get(top, (None, top))
        what = feature or default_feature
        hint = f"pip install 'nbdiag[{extra}]'" if extra else f"pip install {top}"
        raise ImportError(
            f"{what} needs the optional dependency {top!r}, which is not installed. "
            f"Install it with: {hint}"
        ) from exc


def optional(module: str) -> ModuleType | None:
    """Import ``module``, or ``None`` when its optional package is not installed (for features
    that fall back to something else without it)."""
    try:
        return importlib.import_module(module)
    except ImportError:
        return None
