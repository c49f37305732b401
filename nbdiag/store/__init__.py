"""The project store: a dataset bound to a folder, so that tags, saved slices, notes, runs and
label history survive the kernel.

>>> ds.save("pets_project")            # binds ds to the folder    # doctest: +SKIP
>>> ds.tag(ids, "label_error")         # committed at once         # doctest: +SKIP
>>> ds = nbdiag.open("pets_project")   # in a new kernel           # doctest: +SKIP

A store folder holds Parquet tables, NumPy arrays and an SQLite database (WAL); every write is
atomic (see :mod:`nbdiag.store._store`).
"""

from ._project import open_dataset, tags_column
from ._state import MemoryState
from ._store import DB_NAME, FORMAT_VERSION, Store, StoreError

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
