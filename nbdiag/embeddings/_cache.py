"""On-disk cache of embeddings, keyed by a hash of the model weights, the layer, the transform
and the data (ids and image content)."""

from __future__ import annotations

import hashlib
import inspect
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from .._optional import require
from ..core.cache_dir import default_cache_dir as cache_root
from ..store._atomic import file_mode

#: bump when the extraction changes in a way that changes the vectors
CACHE_VERSION = "1"


def default_cache_dir() -> Path:
    """``embeddings`` under nbdiag's cache folder (``$NBDIAG_CACHE_DIR``, else
    ``$XDG_CACHE_HOME/nbdiag``, else ``~/.cache/nbdiag``)."""
    return cache_root() / "embeddings"


def resolve_cache_dir(cache: bool | str | os.PathLike[str] | None) -> Path | None:
    if cache is None or cache is False:
        return None
    if cache is True:
        return default_cache_dir()
    return Path(cache)


class Hasher:
    """A blake2b hash fed with labelled parts (labels keep ``("ab", "c")`` != ``("a", "bc")``)."""

    def __init__(self) -> None:
        self._h = hashlib.blake2b(digest_size=20)

    def update(self, label: str, data: bytes | str) -> Hasher:
        if isinstance(data, str):
            data = data.encode("utf-8", "surrogatepass")
        self._h.update(f"{label}:{len(data)}:".encode())
        self._h.update(data)
        return self

    def array(self, label: str, arr: np.ndarray) -> Hasher:
        arr = np.ascontiguousarray(arr)
        self.update(label, f"{arr.dtype.str}{arr.shape}")
        self._h.update(memoryview(arr).cast("B"))
        return self

    def hexdigest(self) -> str:
        return self._h.hexdigest()


def hash_model(model: Any, h: Hasher) -> None:
    """Model class and every state_dict entry (name, dtype, shape, bytes)."""
    h.update("model", f"{type(model).__module__}.{type(model).__qualname__}")
    for key, value in model.state_dict().items():
        if hasattr(value, "detach"):
            t = value.detach().cpu().contiguous()
            if t.dtype.is_floating_point and t.dtype not in _NUMPY_FLOATS:
                t = t.float()  # bfloat16 etc. have no numpy dtype
            h.array(f"w:{key}", t.numpy())
        else:
            h.update(f"x:{key}", repr(value))


def _torch_floats() -> set[Any]:
    torch = require("torch", "embeddings from torch models")

    return {torch.float16, torch.float32, torch.float64}


class _LazyFloats:
    _value: set[Any] | None = None

    def __contains__(self, item: Any) -> bool:
        if self._value is None:
            self._value = _torch_floats()
        return item in self._value


_NUMPY_FLOATS = _LazyFloats()


def fingerprint_callable(fn: Any) -> str:
    """A stable description of a transform: its ``repr`` when it defines one (torchvision
    transforms and :class:`~nbdiag.embeddings.ImageTransform` list their parameters), else its
    qualified name plus a hash of its source (or bytecode)."""
    if fn is None:
        return "None"
    cls = type(fn)
    if cls.__repr__ is not object.__repr__ and not inspect.isfunction(fn):
        return f"{cls.__module__}.{cls.__qualname__}:{fn!r}"
    name = getattr(fn, "__qualname__", cls.__qualname__)
    try:
        src = inspect.getsource(fn)
    except (OSError, TypeError):
        code = getattr(fn, "__code__", None)
        src = repr((code.co_code, code.co_consts)) if code is not None else ""
    return f"{getattr(fn, '__module__', '')}.{name}:{hashlib.sha1(src.encode()).hexdigest()}"


def hash_data(ds: Any, ids: Iterable[Any], h: Hasher) -> None:
    """Ids and content: in-memory image bytes, or path + size + modification time of files."""
    samples = ds.samples
    images = getattr(ds, "_images", {})
    for i in ids:
        h.update("id", repr(i))
        arr = images.get(i)
        if arr is not None:
            h.array("img", arr)
            continue
        path = samples.at[i, "path"] if i in samples.index else None
        if path is None or (isinstance(path, float) and np.isnan(path)):
            h.update("nopath", "")
            continue
        try:
            st = os.stat(path)
            h.update("file", f"{os.fspath(path)}|{st.st_size}|{st.st_mtime_ns}")
        except OSError:
            h.update("file", f"{os.fspath(path)}|missing")


def load(cache_dir: Path | None, key: str, n: int) -> np.ndarray | None:
    """The cached vectors for ``key`` (``None`` on a miss or an unreadable / mismatched file)."""
    if cache_dir is None:
        return None
    path = cache_dir / f"{key}.npy"
    try:
        arr = np.load(path, allow_pickle=False)
    except (OSError, ValueError):
        return None
    if arr.ndim != 2 or len(arr) != n or arr.dtype != np.float32:
        return None
    return arr


def save(cache_dir: Path | None, key: str, vectors: np.ndarray) -> Path | None:
    """Write atomically (temp file + rename); a cache that cannot be written is skipped."""
    if cache_dir is None:
        return None
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=cache_dir, suffix=".npy.tmp")
        with os.fdopen(fd, "wb") as f:
            np.save(f, vectors, allow_pickle=False)
        path = cache_dir / f"{key}.npy"
        os.chmod(tmp, file_mode(path))
        os.replace(tmp, path)
        return path
    except OSError:
        return None
