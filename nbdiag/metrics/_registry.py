"""The metric registry: ``@metric`` turns a function into a named, versioned quality metric."""

from __future__ import annotations

import hashlib
import inspect
import threading
import types
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

Scope = Literal["image", "object", "prediction"]
SCOPES: tuple[str, ...] = ("image", "object", "prediction")
DTYPES: tuple[str, ...] = ("float", "str")


@dataclass(frozen=True, eq=False)
class Metric:
    """A registered quality metric.

    Attributes
    ----------
    name : str
        Column name the metric writes (prediction metrics write ``"{name}@{run}"``).
    scope : {"image", "object", "prediction"}
        ``"image"``: ``func(image)`` with ``image`` an RGB ``uint8`` array ``(H, W, 3)``,
        returning a number, one row of ``samples`` each. ``"object"``: ``func(objects,
        samples)`` with the whole ``objects`` and ``samples`` tables, returning one value per
        row of ``objects`` (vectorise with pandas/numpy). ``"prediction"``: ``func(frame)``
        with a run's per-item evaluation table (for classification ``ev.per_sample``: ``label``,
        ``prediction``, ``correct``, ``confidence``, ``margin``, ``entropy``, ``loss``, ...),
        returning one value per row.
    version : str
        Part of the cache key: change it when the formula changes.
    dtype : {"float", "str"}
        Numbers (stored as float64, NaN on error) or strings (hashes).
    description : str
        First paragraph of the docstring (the formula, for built-ins).
    builtin : bool
    """

    name: str
    scope: str
    func: Callable[..., Any]
    version: str = "1"
    dtype: str = "float"
    description: str = ""
    builtin: bool = False
    #: built-in image metrics take the shared ``ImageView`` (not a bare array)
    takes_view: bool = False
    fingerprint: str = field(default="", repr=False)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.func(*args, **kwargs)

    @property
    def cache_key(self) -> str:
        """Version plus a fingerprint of the function's code (user metrics)."""
        return f"{self.version}:{self.fingerprint}" if self.fingerprint else self.version

    @property
    def doc(self) -> str:
        """The full docstring."""
        return inspect.getdoc(self.func) or ""


_REGISTRY: dict[str, Metric] = {}
_LOCK = threading.Lock()


def _code_fingerprint(func: Callable[..., Any]) -> str:
    """A digest of the function's bytecode and constants (nested functions included).

    Editing a metric's body changes its cache key even when the version is not bumped.
    """
    h = hashlib.blake2b(digest_size=8)

    def feed(code: types.CodeType) -> None:
        h.update(code.co_code)
        for const in code.co_consts:
            if isinstance(const, types.CodeType):
                feed(const)
            else:
                h.update(repr(const).encode())
        h.update(repr(code.co_names).encode())

    code = getattr(func, "__code__", None)
    if code is None:
        return ""
    feed(code)
    return h.hexdigest()


def _first_paragraph(doc: str | None) -> str:
    if not doc:
        return ""
    text = inspect.cleandoc(doc)
    return " ".join(text.split("\n\n", 1)[0].split())


def register(m: Metric, replace: bool = False) -> Metric:
    """Add a metric to the registry (see :func:`metric`)."""
    with _LOCK:
        old = _REGISTRY.get(m.name)
        if old is not None and old.builtin and not m.builtin and not replace:
            raise ValueError(
                f"{m.name!r} is a built-in metric; pick another name or pass replace=True"
            )
        _REGISTRY[m.name] = m
    return m


def metric(
    func: Callable[..., Any] | None = None,
    *,
    scope: str = "image",
    name: str | None = None,
    version: str | int = 1,
    dtype: str = "float",
    replace: bool = False,
) -> Any:
    """Register a function as a quality metric; use as ``@metric(scope=..., name=...)``.

    Parameters
    ----------
    scope
        ``"image"``: ``func(image) -> number`` with ``image`` an RGB ``uint8`` array
        ``(H, W, 3)``; it runs in worker processes, one image at a time, and its values are
        cached by image content, name and version. ``"object"``: ``func(objects, samples) ->``
        one value per row of ``objects``. ``"prediction"``: ``func(frame) ->`` one value per row
        of a run's evaluation table (``ev.per_sample`` for classification).
    name
        Column name (default: the function's name).
    version
        Bump it when you change the formula to invalidate cached values. (The cache key also
        holds a fingerprint of the function's code, so an edit alone invalidates it too.)
    dtype
        ``"float"`` (default) or ``"str"``.
    replace
        Allow replacing a built-in metric of the same name.

    Returns the :class:`Metric` (callable like the function). Re-registering a user metric of
    the same name (re-running a notebook cell) replaces it.

    Examples
    --------
    >>> import nbdiag
    >>> @nbdiag.metrics.metric(scope="image", name="redness", version=1)
    ... def redness(image):
    ...     return image[..., 0].mean() / 255
    >>> redness.name, redness.scope
    ('redness', 'image')
    >>> nbdiag.metrics.unregister("redness")
    """
    if scope not in SCOPES:
        raise ValueError(f"scope must be one of {SCOPES}, got {scope!r}")
    if dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {DTYPES}, got {dtype!r}")
    if name is not None and (not isinstance(name, str) or not name):
        raise ValueError(f"name must be a non-empty string, got {name!r}")

    def wrap(f: Callable[..., Any]) -> Metric:
        if not callable(f):
            raise TypeError(f"@metric decorates a function, got {type(f).__name__}")
        m = Metric(
            name=name or f.__name__,
            scope=scope,
            func=f,
            version=str(version),
            dtype=dtype,
            description=_first_paragraph(f.__doc__),
            fingerprint=_code_fingerprint(f),
        )
        return register(m, replace=replace)

    return wrap(func) if func is not None else wrap


def builtin(
    scope: str, name: str | None = None, version: str = "1", dtype: str = "float"
) -> Callable[[Callable[..., Any]], Metric]:
    """Register a built-in metric (image built-ins take the shared ``ImageView``)."""

    def wrap(f: Callable[..., Any]) -> Metric:
        m = Metric(
            name=name or f.__name__.removeprefix("_"),
            scope=scope,
            func=f,
            version=version,
            dtype=dtype,
            description=_first_paragraph(f.__doc__),
            builtin=True,
            takes_view=scope == "image",
        )
        return register(m)

    return wrap


def unregister(name: str) -> None:
    """Remove a user metric from the registry (built-ins stay)."""
    with _LOCK:
        m = _REGISTRY.get(name)
        if m is None:
            raise KeyError(f"no metric named {name!r}")
        if m.builtin:
            raise ValueError(f"{name!r} is a built-in metric and cannot be removed")
        del _REGISTRY[name]


def get_metric(name: str) -> Metric:
    """The registered metric called ``name``."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(
            f"unknown metric {name!r}; registered metrics: {sorted(_REGISTRY)}"
        ) from None


def registered(scope: str | None = None) -> list[Metric]:
    """Registered metrics, optionally of one scope, in registration order."""
    return [m for m in _REGISTRY.values() if scope is None or m.scope == scope]


def resolve(names: str | Iterable[str] | None, scope: str | None = None) -> list[Metric]:
    """Metrics by name (all when ``names`` is None); unknown names raise a ``ValueError``."""
    if names is None:
        return registered(scope)
    if isinstance(names, str):
        names = [names]
    names = list(dict.fromkeys(names))
    unknown = [n for n in names if n not in _REGISTRY]
    if unknown:
        raise ValueError(f"unknown metrics {unknown}; registered metrics: {sorted(_REGISTRY)}")
    return [_REGISTRY[n] for n in names if scope is None or _REGISTRY[n].scope == scope]


def list_metrics(scope: str | None = None) -> pd.DataFrame:
    """A table of the registered metrics: ``name`` (index), ``scope``, ``version``, ``dtype``,
    ``builtin`` and ``description`` (the formula, for built-ins)."""
    if scope is not None and scope not in SCOPES:
        raise ValueError(f"scope must be one of {SCOPES} or None, got {scope!r}")
    rows = [
        {
            "name": m.name,
            "scope": m.scope,
            "version": m.version,
            "dtype": m.dtype,
            "builtin": m.builtin,
            "description": m.description,
        }
        for m in registered(scope)
    ]
    cols = ["name", "scope", "version", "dtype", "builtin", "description"]
    return pd.DataFrame(rows, columns=cols).set_index("name")


def align_output(raw: Any, index: pd.Index, m: Metric) -> pd.Series:
    """A metric's output as a Series on ``index`` (a Series is aligned by index, anything
    else must have one value per row)."""
    dtype = float if m.dtype == "float" else object
    if isinstance(raw, pd.Series):
        out = raw.reindex(index)
    else:
        arr = np.asarray(raw)
        if arr.shape != (len(index),):
            raise ValueError(
                f"metric {m.name!r} returned shape {arr.shape}; expected ({len(index)},)"
            )
        out = pd.Series(arr, index=index)
    if dtype is float:
        return pd.to_numeric(out, errors="coerce").astype(float)
    return out.astype(object)
