"""A store's first save, all or nothing: ``ds.save(path)`` on a dataset that is not bound to
``path`` yet.

A new folder is built as a hidden sibling (``.<name>.<random>.tmp``) and renamed into place
(:func:`~nbdiag.store._atomic.atomic_dir`): a failed first save leaves no store, a killed one
only the hidden folder, which a later first save removes once it is stale. An existing empty
folder is replaced the same way where a rename can (same file system, not a mount point, a
writable parent); otherwise it is filled in place and emptied again on failure. An existing
store (an empty one, or any with ``overwrite=True``) is saved into with one commit, so on
failure it keeps what it held.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._atomic import atomic_dir
from ._db import DB_NAME, note_failure, resolve
from ._files import DATA_DIR
from ._store import Store

if TYPE_CHECKING:
    from ..core import DatasetCore


def save_new(
    path: str | os.PathLike[str],
    ds: DatasetCore,
    state: Callable[[], Any],
    *,
    overwrite: bool = False,
) -> Store:
    """Save ``ds`` as the store at ``path``; returns the store (``ds`` is not bound here).
    ``state()`` gives what the store starts with besides ``ds._tags`` (slices, notes, run and
    label history: see ``replace_state`` of :meth:`Store.save`); it is called once ``path`` is
    known to be usable."""
    root = resolve(path)
    existing = Store.existing(root, overwrite=overwrite)
    snapshot = state()
    if existing is not None:
        try:
            existing.save(ds, replace_state=snapshot)
        except BaseException:
            existing.close()
            raise
        return existing
    if root.is_dir() and not _replaceable(root):
        return _fill_in_place(root, ds, snapshot)
    try:
        with atomic_dir(root) as stage:
            staged = Store.create(stage)
            try:
                staged._save(ds, replace_state=snapshot)
            finally:
                staged.close()
    except BaseException as exc:
        note_failure(
            exc, f"nbdiag: the first save to {os.fspath(root)!r} failed; no store was made"
        )
        raise
    return Store(root)


def _replaceable(root: Path) -> bool:
    """Whether the existing empty folder ``root`` can be replaced by renaming a sibling."""
    try:
        parent = root.parent
        return (
            os.name != "nt"
            and not os.path.ismount(root)
            and root.stat().st_dev == parent.stat().st_dev
            and os.access(parent, os.W_OK)
        )
    except OSError:
        return False


def _fill_in_place(root: Path, ds: DatasetCore, snapshot: Any) -> Store:
    made = [root / DATA_DIR, *(root / f"{DB_NAME}{s}" for s in ("", "-wal", "-shm", "-journal"))]
    try:
        store = Store.create(root)
        try:
            store._save(ds, replace_state=snapshot)
        except BaseException:
            store.close()
            raise
    except BaseException as exc:
        for path in made:  # the folder was empty: what is there now, this save made
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
        note_failure(
            exc, f"nbdiag: the first save to {os.fspath(root)!r} failed; the folder is empty again"
        )
        raise
    return store
