"""Optional dependencies: import them lazily with a message that names the extra to install."""

from __future__ import annotations

import importlib
from types import ModuleType

#: module name -> (pip extra, what it is needed for)
_EXTRAS: dict[str, tuple[str, str]] = {
    "torch": ("torch", "torch models and datasets"),
    "jupyterlab": ("lab", "running JupyterLab"),
    "bokeh": ("report", "HTML reports"),
    "cleanlab": ("cleanlab", "confident-learning label issues"),
    "umap": ("umap", "UMAP projections"),
    "dask": ("dask", "Dask execution"),
    "faiss": ("faiss", "the faiss nearest-neighbour backend"),
}


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
