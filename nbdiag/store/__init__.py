"""The project store: a dataset bound to a folder, so that tags, saved slices, notes, runs and
label history survive the kernel.

>>> ds.save("pets_project")            # binds ds to the folder    # doctest: +SKIP
>>> ds.tag(ids, "label_error")         # committed at once         # doctest: +SKIP
>>> ds = nbdiag.open("pets_project")   # in a new kernel           # doctest: +SKIP

A store folder holds Parquet tables, NumPy arrays and an SQLite database (WAL); every write is
atomic, and a save that fails changes nothing (see :mod:`nbdiag.store._store`).
"""

from ._db import DB_NAME, FORMAT_VERSION, StoreError
from ._project import open_dataset, tags_column
from ._state import MemoryState
from ._store import Store

#: ``nbdiag.open(path)``
open = open_dataset

__all__ = [
    "DB_NAME",
    "FORMAT_VERSION",
    "MemoryState",
    "Store",
    "StoreError",
    "open",
    "open_dataset",
    "tags_column",
]
