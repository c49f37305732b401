"""The project store: a folder holding a dataset's tables (Parquet), arrays (NumPy) and a SQLite
database (WAL) for tags, saved slices, notes, run history and label history.

Layout::

    project/
      nbdiag.sqlite          tags, slices, notes, run_history, label_history, meta (manifest)
      data/
        samples-<token>.parquet, objects-<token>.parquet
        run-<name>-predictions-<token>.parquet, run-<name>-probabilities-<token>.parquet
        images-<digest>.npz, embedding-<digest>.npz

Crash safety: a save first writes new data files (each atomically: temp file + ``os.replace``,
under names no committed manifest uses), then commits, in one SQLite transaction, the
*manifest* naming them together with any records that belong to the same change (run history,
label history). Killing the process at any point leaves the previous manifest and its files
intact, or the new ones complete; files no manifest names are removed by the next save. Tags,
slices and notes are single SQLite transactions, committed as they are made.

A save that fails changes nothing: the files it wrote are removed and the manifest stays. A
first save builds the whole store in a hidden sibling folder and renames it into place, so a
failed or killed first save leaves no store behind (:mod:`._create`).

The store's parts: :mod:`._db` (database, manifest), :mod:`._records` (tags, slices, notes),
:mod:`._history` (run and label history), :mod:`._files` (data files).
"""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import _atomic
from ._db import DB_NAME, FORMAT_VERSION, STATE_TABLES, StoreError, note_failure, resolve
from ._files import DATA_DIR, collect_garbage, discard, manifest_files, read_dataset, write_files
from ._history import History
from ._records import Records, tag_events

if TYPE_CHECKING:
    from ..core import DatasetCore

__all__ = ["DATA_DIR", "DB_NAME", "FORMAT_VERSION", "Store", "StoreError"]


class Store(Records, History):
    """A project folder bound to a :class:`~nbdiag.Dataset`.

    Use :func:`nbdiag.open` to load a dataset from a folder and ``ds.save(path)`` to create one;
    both bind the dataset, after which tags, slices, notes, runs and imported labels are
    committed as they are made. ``ds.save()`` writes the tables again (e.g. after computing
    metrics).

    Several kernels may open one store. Tags, slices and notes from each are committed as
    made. The tables are one version at a time: a save checks that the store still holds the
    version this dataset was loaded from (or last saved), and refuses, with a
    :class:`StoreError`, to overwrite what another process saved in between
    (``ds.save(force=True)`` overwrites it anyway).
    """

    def __init__(self, root: str | os.PathLike[str]):
        super().__init__(root)
        #: the committed manifest this store's dataset was loaded from or last saved
        self._base = self._manifest_text()

    # ------------------------------------------------------------------ opening
    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> Store:
        """Open an existing store folder (``StoreError`` when it is not one)."""
        root = resolve(path)
        if not root.is_dir():
            raise StoreError(f"no nbdiag store at {os.fspath(root)!r}: no such folder")
        if not (root / DB_NAME).is_file():
            raise StoreError(
                f"{os.fspath(root)!r} is not an nbdiag store (it has no {DB_NAME}); "
                "create one with ds.save(path)"
            )
        return cls(root)

    @classmethod
    def existing(cls, path: str | os.PathLike[str], *, overwrite: bool = False) -> Store | None:
        """The store already at ``path`` that a first save goes into (an empty one, or any
        with ``overwrite``); None for a new or empty folder. :class:`StoreError` when ``path``
        cannot become a store (a file, a folder with other files, a store without
        ``overwrite``)."""
        root = resolve(path)
        if root.exists() and not root.is_dir():
            raise StoreError(f"cannot create a store at {os.fspath(root)!r}: it is a file")
        if (root / DB_NAME).is_file():
            existing = cls(root)
            if existing.manifest() is None or overwrite:  # empty: e.g. a first save was killed
                return existing
            existing.close()
            raise StoreError(
                f"{os.fspath(root)!r} already holds an nbdiag store; continue with it via "
                "nbdiag.open(path), or pass overwrite=True to replace its content"
            )
        if root.is_dir() and any(root.iterdir()):
            raise StoreError(
                f"cannot create a store in {os.fspath(root)!r}: the folder is not empty and "
                "is not an nbdiag store; choose a new or empty folder"
            )
        return None

    @classmethod
    def create(cls, path: str | os.PathLike[str], *, overwrite: bool = False) -> Store:
        """A store at ``path``: a new or empty folder, or (``overwrite=True``) an existing store
        whose content the next :meth:`save` with ``replace=True`` replaces."""
        root = resolve(path)
        existing = cls.existing(root, overwrite=overwrite)
        if existing is not None:
            return existing
        (root / DATA_DIR).mkdir(parents=True, exist_ok=True)
        return cls(root)

    @property
    def path(self) -> Path:
        """The store folder."""
        return self.root

    @property
    def data_dir(self) -> Path:
        return self.root / DATA_DIR

    def __reduce__(self) -> tuple[Any, tuple[()]]:
        # a pickled or deep-copied dataset is a detached, unbound copy: it must not write to
        # (or hold a connection of) the original's store
        return _detached, ()

    def __repr__(self) -> str:
        try:
            m = self.manifest() or {}
            n_tags = len(self.load_tags())
            n_runs = self._conn.execute("SELECT COUNT(*) FROM run_history").fetchone()[0]
        except sqlite3.Error:
            return f"Store({os.fspath(self.root)!r}, closed)"
        return (
            f"Store({os.fspath(self.root)!r}: dataset {m.get('name')!r}, {n_tags} tags, "
            f"{n_runs} run records)"
        )

    # ------------------------------------------------------------------ versions
    def check_current(self, action: str = "") -> None:
        """Raise :class:`StoreError` when another kernel (or another dataset opened from this
        folder) saved the tables since this store loaded or saved them: what a change made now
        would overwrite. Called before a change is applied, so a refused change leaves the
        dataset as it was."""
        if self._manifest_text() != self._base:
            raise self._conflict(action)

    def _conflict(self, action: str = "") -> StoreError:
        what = f"{action} was refused and changed nothing: " if action else ""
        return StoreError(
            f"{what}the store at {os.fspath(self.root)!r} was saved by another kernel (or "
            "another dataset opened from it) since this dataset was loaded or last saved, and "
            "saving now would overwrite its tables (tags, slices and notes are not affected: "
            "they are committed as made). Load its version with nbdiag.open(path), or keep "
            "this one with ds.save(force=True)"
        )

    # ------------------------------------------------------------------ saving
    def save(
        self,
        ds: DatasetCore,
        *,
        run_records: list[dict[str, Any]] | None = None,
        label_changes: list[dict[str, Any]] | None = None,
        replace_state: Any = None,
        force: bool = False,
    ) -> dict[str, Any]:
        """Write the dataset's tables and arrays and commit them, with ``run_records`` and
        ``label_changes``, in one transaction. ``replace_state`` (a state holding tags, slices,
        notes and history, e.g. the in-memory one of a dataset being bound) replaces this
        store's state in the same transaction. Raises :class:`StoreError` (and commits
        nothing) when another process saved the store since this one loaded or saved it,
        unless ``force``. A save that fails for any reason changes nothing in the store."""
        try:
            return self._save(
                ds,
                run_records=run_records,
                label_changes=label_changes,
                replace_state=replace_state,
                force=force,
            )
        except BaseException as exc:
            note_failure(
                exc,
                f"nbdiag: the save to {os.fspath(self.root)!r} failed and changed nothing; the "
                "store keeps its last saved version, tags, slices and notes",
            )
            raise

    def _save(
        self,
        ds: DatasetCore,
        *,
        run_records: list[dict[str, Any]] | None = None,
        label_changes: list[dict[str, Any]] | None = None,
        replace_state: Any = None,
        force: bool = False,
    ) -> dict[str, Any]:
        created: list[Path] = []
        try:
            manifest = write_files(self.data_dir, ds, created)
            text = json.dumps(manifest)
            with self.transaction() as cur:
                if not force and self._manifest_text(cur) != self._base:
                    raise self._conflict()
                missing = [f for f in manifest_files(manifest) if not (self.data_dir / f).is_file()]
                if missing:  # removed by a concurrent writer's clean-up: nothing is committed
                    raise StoreError(
                        f"data files vanished before they were committed ({missing[:3]}); "
                        "another process is saving to this store; save again"
                    )
                self._put_manifest(cur, text)
                if replace_state is not None:
                    self._replace_state(cur, ds, replace_state)
                if run_records:
                    self._insert_run_records(cur, run_records)
                if label_changes:
                    self._insert_label_changes(cur, label_changes)
                _atomic._crash_point("in_transaction")
        except BaseException:
            self._discard(created)
            raise
        self._base = text
        _atomic._crash_point("after_commit")
        self._collect_garbage()
        return manifest

    def _replace_state(self, cur: sqlite3.Cursor, ds: DatasetCore, state: Any) -> None:
        for table in STATE_TABLES:
            cur.execute(f"DELETE FROM {table}")  # fixed table names
        self._insert_tag_events(cur, tag_events(ds._tags, "+"))
        for record in state.list_slices():
            self._insert_slice(cur, record)
        for note in state.list_notes():
            self._insert_note(cur, note)
        self._insert_run_records(cur, state.list_run_records())
        self._insert_label_changes(cur, state.list_label_changes())

    def _discard(self, created: list[Path]) -> None:
        """Remove the files a failed save wrote. Under the write lock, so that a file another
        writer's committed manifest names (a shared content-addressed array) is kept."""
        if not created:
            return
        try:
            with self.transaction() as cur:
                text = self._manifest_text(cur)
                keep = set() if text is None else set(manifest_files(json.loads(text)))
                discard(created, keep)
        except (sqlite3.Error, OSError):
            pass  # e.g. the disk is full: the next save's clean-up removes them

    def _collect_garbage(self) -> None:
        """Remove data files the committed manifest does not name (older versions, debris)."""
        with self._lock:
            manifest = self.manifest()
            if manifest is None:
                return
            collect_garbage(self.data_dir, set(manifest_files(manifest)))

    # ------------------------------------------------------------------ loading
    def load(self) -> DatasetCore:
        """The saved dataset, bound to this store."""
        text = self._manifest_text()
        if text is None:
            raise StoreError(
                f"the store at {os.fspath(self.root)!r} holds no saved dataset yet "
                "(was its first save interrupted?); save the dataset to it again with "
                "ds.save(path)"
            )
        ds = read_dataset(self.data_dir, json.loads(text))
        ds._tags = self.load_tags()
        ds._store = self
        self._base = text
        return ds


def _detached() -> None:
    return None
