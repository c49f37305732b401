"""Where a Dataset's embeddings live: an :class:`EmbeddingStore` attached as ``ds._embeddings``.

Embeddings are kept per level (``"sample"`` rows of ``ds.samples``, ``"object"`` rows of
``ds.objects``) and per name (several models' features side by side). The all-rows
nearest-neighbour graph computed from an embedding is cached next to it, so duplicates,
uniqueness, outliers and neighbour-disagreement label issues share one kNN search.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from ..core import validation as v

if TYPE_CHECKING:
    from ..core import DatasetCore

Level = Literal["sample", "object"]
LEVELS = ("sample", "object")
DEFAULT_NAME = "default"
_ATTR = "_embeddings"


@dataclass
class Embeddings:
    """One embedding matrix: ``vectors[i]`` is the embedding of row ``ids[i]``.

    Attributes
    ----------
    ids : pandas.Index
        Sample ids (level ``"sample"``) or object ids (level ``"object"``).
    vectors : numpy.ndarray
        ``(len(ids), dim)`` float32, C-contiguous.
    level : {"sample", "object"}
    name : str
    meta : dict
        Where they came from (model class, layer, cache key, ...).
    """

    ids: pd.Index
    vectors: np.ndarray
    level: str = "sample"
    name: str = DEFAULT_NAME
    meta: dict[str, Any] = field(default_factory=dict)
    #: kNN indexes and all-rows graphs built from these vectors (see ``_neighbors``)
    _graphs: dict[tuple[Any, ...], Any] = field(default_factory=dict, repr=False)

    @property
    def dim(self) -> int:
        """Embedding dimension."""
        return int(self.vectors.shape[1])

    def __len__(self) -> int:
        return len(self.ids)

    def to_frame(self) -> pd.DataFrame:
        """The embeddings as a DataFrame indexed by id (columns ``0 .. dim-1``)."""
        return pd.DataFrame(self.vectors, index=self.ids)

    def rows(self, ids: Sequence[Hashable] | pd.Index) -> np.ndarray:
        """Row positions of ``ids`` (``ValueError`` naming the ids that have no embedding)."""
        pos = self.ids.get_indexer(pd.Index(list(ids)))
        if (pos < 0).any():
            missing = pd.Index(list(ids))[pos < 0]
            raise ValueError(
                f"no {self.level} embedding ({self.name!r}) for ids {v.listed(missing)}"
            )
        return pos

    def __repr__(self) -> str:
        return f"Embeddings({self.name!r}, level={self.level!r}, {len(self)} x {self.dim}, float32)"


class EmbeddingStore:
    """Embeddings of one Dataset, by level and name (``store["sample", "default"]``)."""

    def __init__(self) -> None:
        self._items: dict[tuple[str, str], Embeddings] = {}
        self._active: dict[str, str] = {}

    def put(self, emb: Embeddings, *, activate: bool = True) -> Embeddings:
        self._items[emb.level, emb.name] = emb
        if activate or emb.level not in self._active:
            self._active[emb.level] = emb.name
        return emb

    def get(self, name: str | None = None, level: str = "sample") -> Embeddings:
        _check_level(level)
        if name is None:
            name = self._active.get(level)
            if name is None:
                raise ValueError(
                    f"this dataset has no {level} embeddings yet; compute them with "
                    f"ds.embed(model{', level=' + repr(level) if level != 'sample' else ''}) "
                    "or bring your own with ds.set_embeddings(array)"
                )
        try:
            return self._items[level, name]
        except KeyError:
            names = [n for (lv, n) in self._items if lv == level]
            raise KeyError(
                f"no {level} embeddings named {name!r}; this dataset has {names}"
            ) from None

    def names(self, level: str = "sample") -> list[str]:
        return [n for (lv, n) in self._items if lv == level]

    def __contains__(self, key: tuple[str, str]) -> bool:
        return key in self._items

    def __getitem__(self, key: tuple[str, str]) -> Embeddings:
        return self.get(key[1], key[0])

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        items = ", ".join(f"{lv}/{n}: {e.vectors.shape}" for (lv, n), e in self._items.items())
        return f"EmbeddingStore({items})"


def _check_level(level: str) -> None:
    if level not in LEVELS:
        raise ValueError(f"level must be 'sample' or 'object', got {level!r}")


def store_of(ds: DatasetCore) -> EmbeddingStore:
    """The dataset's :class:`EmbeddingStore`, created on first use."""
    store = getattr(ds, _ATTR, None)
    if store is None:
        store = EmbeddingStore()
        setattr(ds, _ATTR, store)
    return store


def table_of(ds: DatasetCore, level: str) -> pd.DataFrame:
    """``ds.samples`` or ``ds.objects``."""
    _check_level(level)
    return ds.samples if level == "sample" else ds.objects


def get_embeddings(ds: DatasetCore, name: str | None = None, level: str = "sample") -> Embeddings:
    """The dataset's embeddings (the most recently computed or set ones when ``name`` is None).

    Raises ``ValueError`` telling how to compute them when there are none.
    """
    return store_of(ds).get(name, level)


def as_vectors(values: Any, what: str = "embeddings") -> np.ndarray:
    """A 2-D, finite, C-contiguous float32 array (``ValueError`` naming ``what`` otherwise)."""
    if isinstance(values, pd.DataFrame):
        values = values.to_numpy()
    arr = np.asarray(values)
    if arr.dtype == object or not np.issubdtype(arr.dtype, np.number):
        raise TypeError(f"{what} must be numeric, got dtype {arr.dtype}")
    if arr.ndim == 1:
        raise ValueError(f"{what} must be 2-D (rows x dimensions), got a 1-D array")
    if arr.ndim > 2:
        arr = arr.reshape(len(arr), -1)
    arr = np.ascontiguousarray(arr, dtype=np.float32)
    # in blocks of rows: a 1M x 512 check would otherwise make a 512 MB temporary mask
    step = max(1, (1 << 24) // max(1, arr.shape[1]))
    bad = np.concatenate(
        [~np.isfinite(arr[k : k + step]).all(axis=1) for k in range(0, len(arr), step)]
        or [np.zeros(0, dtype=bool)]
    )
    if bad.any():
        raise ValueError(
            f"{what} has NaN or infinite values in rows {v.listed(np.flatnonzero(bad))}"
        )
    return arr


def set_embeddings(
    ds: DatasetCore,
    embeddings: Any,
    *,
    ids: Sequence[Hashable] | pd.Index | None = None,
    level: str = "sample",
    name: str = DEFAULT_NAME,
    meta: dict[str, Any] | None = None,
) -> Embeddings:
    """Attach embeddings you computed yourself.

    Parameters
    ----------
    ds : nbdiag.Dataset
    embeddings : array-like or DataFrame
        ``(n, dim)`` numbers. A DataFrame indexed by id supplies its own ids.
    ids : sequence, optional
        The row ids, in order. Default: the DataFrame's index, else every row of ``ds.samples``
        (``ds.objects`` for ``level="object"``) in table order.
    level : {"sample", "object"}
    name : str
        Several embeddings can be kept side by side; the last one set is the default.

    Returns
    -------
    Embeddings

    Examples
    --------
    >>> import numpy as np, pandas as pd, nbdiag
    >>> from nbdiag.embeddings import set_embeddings
    >>> ds = nbdiag.Dataset(pd.DataFrame({"label": ["a", "b", "a"]}))
    >>> set_embeddings(ds, np.eye(3))
    Embeddings('default', level='sample', 3 x 3, float32)
    """
    table = table_of(ds, level)
    if ids is None and isinstance(embeddings, pd.DataFrame):
        ids = embeddings.index
    vectors = as_vectors(embeddings)
    index = table.index if ids is None else pd.Index(list(ids))
    v.check_same_length("embeddings", vectors, f"{level} ids", index)
    if ids is not None:  # the table's own index is unique and known
        v.check_unique_ids(index, level)
        v.positions_of(index, table.index, level)
    if not isinstance(name, str) or not name:
        raise ValueError(f"name must be a non-empty string, got {name!r}")
    emb = Embeddings(index, vectors, level=level, name=name, meta=dict(meta or {}))
    return store_of(ds).put(emb)
