"""The project store: a folder holding a dataset's tables (Parquet), arrays (NumPy) and a SQLite
database (WAL) for tags, saved slices, notes, run history and label history.

Layout::

    project/
      nbdiag.sqlite          tags, slices, notes, run_history, label_history, meta (manifest)
      data/
        samples-<token>.parquet, objects-<token>.parquet
        run-<name>-predictions-<token>.parquet, run-<name>-probabilities-<token>.parquet
        images-<digest>.npz, embedding-<digest>.npz

Crash safety: a save first writes new data files (each atomically: temp file + ``os.replace``),
then commits, in one SQLite transaction, the *manifest* naming them together with any records
that belong to the same change (run history, label history). Killing the process at any point
leaves the previous manifest and its files intact, or the new ones complete; files no manifest
names are removed by the next save. Tags, slices and notes are single SQLite transactions,
committed as they are made.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from . import _atomic
from ._atomic import TMP_SUFFIX
from ._codec import (
    decode_id,
    encode_id,
    ids_array,
    ids_from_array,
    read_table,
    to_jsonable,
    write_arrays,
    write_table,
)

if TYPE_CHECKING:
    from ..dataset import Dataset

FORMAT_VERSION = 1
DB_NAME = "nbdiag.sqlite"
DATA_DIR = "data"
#: temporary files older than this are debris of a killed writer and are removed by a save
STALE_TMP_SECONDS = 600

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tags (
    level TEXT NOT NULL, tag TEXT NOT NULL, id TEXT NOT NULL, created TEXT NOT NULL,
    PRIMARY KEY (level, tag, id));
CREATE TABLE IF NOT EXISTS slices (
    name TEXT PRIMARY KEY, level TEXT NOT NULL, kind TEXT NOT NULL, query TEXT, ids TEXT,
    description TEXT NOT NULL DEFAULT '', created TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS notes (
    note_id INTEGER PRIMARY KEY AUTOINCREMENT, text TEXT NOT NULL, level TEXT, ids TEXT,
    created TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS run_history (
    record_id INTEGER PRIMARY KEY AUTOINCREMENT, run TEXT NOT NULL, kind TEXT NOT NULL,
    run_created TEXT NOT NULL, recorded TEXT NOT NULL, size INTEGER NOT NULL,
    summary TEXT NOT NULL, fingerprint TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS label_history (
    change_id INTEGER PRIMARY KEY AUTOINCREMENT, batch INTEGER NOT NULL, created TEXT NOT NULL,
    source TEXT, level TEXT NOT NULL, id TEXT NOT NULL, sample_id TEXT, change TEXT NOT NULL,
    old TEXT, new TEXT);
"""
_STATE_TABLES = ("tags", "slices", "notes", "run_history", "label_history")


class StoreError(RuntimeError):
    """A store folder is missing, not a store, from a newer nbdiag, or incomplete."""


def _iso(ts: Any) -> str:
    """A timestamp as ISO text in UTC (naive ones are taken as UTC)."""
    t = pd.Timestamp(ts)
    return (t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC")).isoformat()


def _ts(text: str | None) -> pd.Timestamp | None:
    return None if text is None else pd.Timestamp(text).tz_convert("UTC")


def _now() -> pd.Timestamp:
    return pd.Timestamp.now(tz="UTC")


def _safe(name: str) -> str:
    """A run name as a file-name fragment (the manifest keeps the real name)."""
    kept = "".join(c if c.isalnum() or c in "-_" else "_" for c in name)[:40]
    return kept or "run"


class Store:
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
        self.root = Path(os.path.abspath(os.path.expanduser(os.fspath(root))))
        self._lock = threading.RLock()
        self._conn = sqlite3.connect(
            self.root / DB_NAME, isolation_level=None, check_same_thread=False, timeout=30.0
        )
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=FULL")
        self._conn.execute("PRAGMA foreign_keys=ON")
        with self.transaction() as cur:
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    cur.execute(statement)
            row = cur.execute("SELECT value FROM meta WHERE key='format_version'").fetchone()
            if row is None:
                cur.execute(
                    "INSERT INTO meta VALUES ('format_version', ?), ('created', ?)",
                    (str(FORMAT_VERSION), _now().isoformat()),
                )
            elif int(row[0]) > FORMAT_VERSION:
                raise StoreError(
                    f"the store at {os.fspath(self.root)!r} was written by a newer nbdiag "
                    f"(format {row[0]}; this version reads up to {FORMAT_VERSION})"
                )
        #: the committed manifest this store's dataset was loaded from or last saved
        self._base = self._manifest_text()

    # ------------------------------------------------------------------ opening
    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> Store:
        """Open an existing store folder (``StoreError`` when it is not one)."""
        root = Path(os.path.abspath(os.path.expanduser(os.fspath(path))))
        if not root.is_dir():
            raise StoreError(f"no nbdiag store at {os.fspath(root)!r}: no such folder")
        if not (root / DB_NAME).is_file():
            raise StoreError(
                f"{os.fspath(root)!r} is not an nbdiag store (it has no {DB_NAME}); "
                "create one with ds.save(path)"
            )
        return cls(root)

    @classmethod
    def create(cls, path: str | os.PathLike[str], *, overwrite: bool = False) -> Store:
        """A store at ``path``: a new or empty folder, or (``overwrite=True``) an existing store
        whose content the next :meth:`save` with ``replace=True`` replaces."""
        root = Path(os.path.abspath(os.path.expanduser(os.fspath(path))))
        if root.exists() and not root.is_dir():
            raise StoreError(f"cannot create a store at {os.fspath(root)!r}: it is a file")
        if (root / DB_NAME).is_file():
            existing = cls(root)
            if existing.manifest() is None:  # an empty store (e.g. a first save that failed)
                return existing
            existing.close()
            if not overwrite:
                raise StoreError(
                    f"{os.fspath(root)!r} already holds an nbdiag store; continue with it via "
                    "nbdiag.open(path), or pass overwrite=True to replace its content"
                )
        elif root.is_dir() and any(root.iterdir()):
            raise StoreError(
                f"cannot create a store in {os.fspath(root)!r}: the folder is not empty and "
                "is not an nbdiag store; choose a new or empty folder"
            )
        (root / DATA_DIR).mkdir(parents=True, exist_ok=True)
        return cls(root)

    @property
    def path(self) -> Path:
        """The store folder."""
        return self.root

    @property
    def data_dir(self) -> Path:
        return self.root / DATA_DIR

    def close(self) -> None:
        """Close the database connection (the dataset stays usable in memory)."""
        with self._lock:
            self._conn.close()

    def __reduce__(self) -> tuple[Any, tuple[()]]:
        # a pickled or deep-copied dataset is a detached, unbound copy: it must not write to
        # (or hold a connection of) the original's store
        return _detached, ()

    def __repr__(self) -> str:
        try:
            m = self.manifest() or {}
            n_tags = self._conn.execute("SELECT COUNT(*) FROM tags").fetchone()[0]
            n_runs = self._conn.execute("SELECT COUNT(*) FROM run_history").fetchone()[0]
        except sqlite3.Error:
            return f"Store({os.fspath(self.root)!r}, closed)"
        return (
            f"Store({os.fspath(self.root)!r}: dataset {m.get('name')!r}, {n_tags} tags, "
            f"{n_runs} run records)"
        )

    # ------------------------------------------------------------------ transactions
    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Cursor]:
        """One write transaction (``BEGIN IMMEDIATE`` ... ``COMMIT``; rolled back on error)."""
        with self._lock:
            cur = self._conn.cursor()
            cur.execute("BEGIN IMMEDIATE")
            try:
                yield cur
            except BaseException:
                cur.execute("ROLLBACK")
                raise
            _atomic._crash_point("before_commit")
            cur.execute("COMMIT")

    def _query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    def manifest(self) -> dict[str, Any] | None:
        """The committed manifest (which data files hold the dataset), None before a save."""
        text = self._manifest_text()
        return None if text is None else json.loads(text)

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

    def _manifest_text(self, cur: sqlite3.Cursor | None = None) -> str | None:
        sql = "SELECT value FROM meta WHERE key='manifest'"
        rows = cur.execute(sql).fetchall() if cur is not None else self._query(sql)
        return rows[0][0] if rows else None

    # ------------------------------------------------------------------ tags
    def add_tags(self, rows: pd.DataFrame) -> None:
        """Commit tag rows (``id, tag, level, created``); existing ones are kept."""
        values = [
            (lv, t, encode_id(i), _iso(c))
            for i, t, lv, c in zip(
                rows["id"], rows["tag"], rows["level"], rows["created"], strict=True
            )
        ]
        with self.transaction() as cur:
            cur.executemany("INSERT OR IGNORE INTO tags VALUES (?, ?, ?, ?)", values)

    def remove_tags(self, rows: pd.DataFrame) -> None:
        values = [
            (lv, t, encode_id(i))
            for i, t, lv in zip(rows["id"], rows["tag"], rows["level"], strict=True)
        ]
        with self.transaction() as cur:
            cur.executemany("DELETE FROM tags WHERE level=? AND tag=? AND id=?", values)

    def load_tags(self) -> pd.DataFrame:
        """The committed tags, in the order they were made (dtypes as ``Dataset.tag`` makes)."""
        rows = self._query("SELECT id, tag, level, created FROM tags ORDER BY rowid")
        created = pd.to_datetime([r[3] for r in rows], utc=True, format="ISO8601")
        if not rows:
            return pd.DataFrame(
                {
                    "id": pd.Series(dtype=object),
                    "tag": pd.Series(dtype=str),
                    "level": pd.Series(dtype=str),
                    "created": pd.Series(dtype="datetime64[ns, UTC]"),
                }
            )
        return pd.DataFrame(
            {
                "id": [decode_id(r[0]) for r in rows],
                "tag": [r[1] for r in rows],
                "level": [r[2] for r in rows],
                "created": created,
            }
        )

    # ------------------------------------------------------------------ slices
    def put_slice(self, record: dict[str, Any]) -> None:
        with self.transaction() as cur:
            self._insert_slice(cur, record)

    @staticmethod
    def _insert_slice(cur: sqlite3.Cursor, r: dict[str, Any]) -> None:
        ids = None if r.get("ids") is None else json.dumps([encode_id(i) for i in r["ids"]])
        cur.execute(
            "INSERT OR REPLACE INTO slices VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                r["name"],
                r["level"],
                r["kind"],
                r.get("query"),
                ids,
                r.get("description") or "",
                _iso(r["created"]),
            ),
        )

    def delete_slice(self, name: str) -> None:
        with self.transaction() as cur:
            cur.execute("DELETE FROM slices WHERE name=?", (name,))

    def list_slices(self) -> list[dict[str, Any]]:
        rows = self._query(
            "SELECT name, level, kind, query, ids, description, created FROM slices ORDER BY rowid"
        )
        return [
            {
                "name": r[0],
                "level": r[1],
                "kind": r[2],
                "query": r[3],
                "ids": None if r[4] is None else [decode_id(i) for i in json.loads(r[4])],
                "description": r[5],
                "created": _ts(r[6]),
            }
            for r in rows
        ]

    # ------------------------------------------------------------------ notes
    def add_note(self, record: dict[str, Any]) -> int:
        with self.transaction() as cur:
            return self._insert_note(cur, record)

    @staticmethod
    def _insert_note(cur: sqlite3.Cursor, r: dict[str, Any]) -> int:
        ids = None if r.get("ids") is None else json.dumps([encode_id(i) for i in r["ids"]])
        cur.execute(
            "INSERT INTO notes (text, level, ids, created) VALUES (?, ?, ?, ?)",
            (r["text"], r.get("level"), ids, _iso(r["created"])),
        )
        return int(cur.lastrowid or 0)

    def list_notes(self) -> list[dict[str, Any]]:
        rows = self._query("SELECT note_id, text, level, ids, created FROM notes ORDER BY note_id")
        return [
            {
                "note_id": r[0],
                "text": r[1],
                "level": r[2],
                "ids": None if r[3] is None else [decode_id(i) for i in json.loads(r[3])],
                "created": _ts(r[4]),
            }
            for r in rows
        ]

    # ------------------------------------------------------------------ run history
    def fingerprints(self) -> set[str]:
        return {r[0] for r in self._query("SELECT fingerprint FROM run_history")}

    def add_run_records(self, records: list[dict[str, Any]]) -> None:
        with self.transaction() as cur:
            self._insert_run_records(cur, records)

    @staticmethod
    def _insert_run_records(cur: sqlite3.Cursor, records: list[dict[str, Any]]) -> None:
        cur.executemany(
            "INSERT OR IGNORE INTO run_history "
            "(run, kind, run_created, recorded, size, summary, fingerprint) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    r["run"],
                    r["kind"],
                    _iso(r["run_created"]),
                    _iso(r["recorded"]),
                    int(r["size"]),
                    json.dumps(to_jsonable(r["summary"])),
                    r["fingerprint"],
                )
                for r in records
            ],
        )

    def list_run_records(self) -> list[dict[str, Any]]:
        rows = self._query(
            "SELECT run, kind, run_created, recorded, size, summary, fingerprint "
            "FROM run_history ORDER BY record_id"
        )
        return [
            {
                "run": r[0],
                "kind": r[1],
                "run_created": _ts(r[2]),
                "recorded": _ts(r[3]),
                "size": r[4],
                "summary": json.loads(r[5]),
                "fingerprint": r[6],
            }
            for r in rows
        ]

    # ------------------------------------------------------------------ label history
    def next_batch(self) -> int:
        return int(self._query("SELECT COALESCE(MAX(batch), 0) FROM label_history")[0][0]) + 1

    @staticmethod
    def _insert_label_changes(cur: sqlite3.Cursor, changes: list[dict[str, Any]]) -> None:
        cur.executemany(
            "INSERT INTO label_history "
            "(batch, created, source, level, id, sample_id, change, old, new) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    int(c["batch"]),
                    _iso(c["created"]),
                    c.get("source"),
                    c["level"],
                    encode_id(c["id"]),
                    None if c.get("sample_id") is None else encode_id(c["sample_id"]),
                    c["change"],
                    None if c.get("old") is None else json.dumps(to_jsonable(c["old"])),
                    None if c.get("new") is None else json.dumps(to_jsonable(c["new"])),
                )
                for c in changes
            ],
        )

    def list_label_changes(self) -> list[dict[str, Any]]:
        rows = self._query(
            "SELECT batch, created, source, level, id, sample_id, change, old, new "
            "FROM label_history ORDER BY change_id"
        )
        return [
            {
                "batch": r[0],
                "created": _ts(r[1]),
                "source": r[2],
                "level": r[3],
                "id": decode_id(r[4]),
                "sample_id": None if r[5] is None else decode_id(r[5]),
                "change": r[6],
                "old": None if r[7] is None else json.loads(r[7]),
                "new": None if r[8] is None else json.loads(r[8]),
            }
            for r in rows
        ]

    # ------------------------------------------------------------------ saving
    def save(
        self,
        ds: Dataset,
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
        unless ``force``."""
        manifest = self._write_files(ds)
        text = json.dumps(manifest)
        with self.transaction() as cur:
            if not force and self._manifest_text(cur) != self._base:
                raise self._conflict()
            missing = [f for f in _manifest_files(manifest) if not (self.data_dir / f).is_file()]
            if missing:  # removed by a concurrent writer's clean-up: nothing is committed
                raise StoreError(
                    f"data files vanished before they were committed ({missing[:3]}); another "
                    "process is saving to this store; save again"
                )
            cur.execute("INSERT OR REPLACE INTO meta VALUES ('manifest', ?)", (text,))
            if replace_state is not None:
                self._replace_state(cur, ds, replace_state)
            if run_records:
                self._insert_run_records(cur, run_records)
            if label_changes:
                self._insert_label_changes(cur, label_changes)
            _atomic._crash_point("in_transaction")
        self._base = text
        _atomic._crash_point("after_commit")
        self._collect_garbage()
        return manifest

    def _replace_state(self, cur: sqlite3.Cursor, ds: Dataset, state: Any) -> None:
        for table in _STATE_TABLES:
            cur.execute(f"DELETE FROM {table}")  # fixed table names
        tags = ds._tags
        cur.executemany(
            "INSERT OR IGNORE INTO tags VALUES (?, ?, ?, ?)",
            [
                (lv, t, encode_id(i), _iso(c))
                for i, t, lv, c in zip(
                    tags["id"], tags["tag"], tags["level"], tags["created"], strict=True
                )
            ],
        )
        for record in state.list_slices():
            self._insert_slice(cur, record)
        for note in state.list_notes():
            self._insert_note(cur, note)
        self._insert_run_records(cur, state.list_run_records())
        self._insert_label_changes(cur, state.list_label_changes())

    def _write_files(self, ds: Dataset) -> dict[str, Any]:
        data = self.data_dir
        data.mkdir(parents=True, exist_ok=True)
        token = uuid.uuid4().hex[:12]
        manifest: dict[str, Any] = {
            "format_version": FORMAT_VERSION,
            "name": ds.name,
            "class_names": ds.class_names,
            "coco_categories": [[int(k), str(val)] for k, val in ds.coco_categories.items()],
            "saved": _now().isoformat(),
            "tables": {
                "samples": write_table(ds.samples, data / f"samples-{token}"),
                "objects": write_table(ds.objects, data / f"objects-{token}"),
            },
            "runs": {},
            "images": None,
            "embeddings": [],
        }
        from ..runs import ClassificationRun

        for i, (name, run) in enumerate(ds.runs.items()):
            entry: dict[str, Any] = {
                "kind": run.kind,
                "created": _iso(run.created),
                "size": len(run),
            }
            if isinstance(run, ClassificationRun):
                stem = f"run{i}-{_safe(name)}"
                entry["predictions"] = write_table(
                    run.predictions, data / f"{stem}-predictions-{token}"
                )
                if run.probabilities is not None:
                    entry["probabilities"] = write_table(
                        run.probabilities, data / f"{stem}-probabilities-{token}"
                    )
            manifest["runs"][name] = entry
        images = getattr(ds, "_images", None) or {}
        if images:
            manifest["images"] = self._write_images(images)
        manifest["embeddings"], manifest["active_embeddings"] = self._write_embeddings(ds)
        return manifest

    def _write_images(self, images: dict[Any, np.ndarray]) -> str:
        ids = list(images)
        id_arr = ids_array(ids)
        h = hashlib.blake2b(digest_size=16)
        h.update(id_arr.tobytes())
        arrays = {"__ids__": id_arr}
        for k, i in enumerate(ids):
            arr = np.ascontiguousarray(images[i])
            h.update(f"{arr.dtype.str}{arr.shape}".encode())
            h.update(memoryview(arr).cast("B"))
            arrays[f"a{k}"] = arr
        name = f"images-{h.hexdigest()}.npz"
        if not (self.data_dir / name).is_file():
            write_arrays(self.data_dir / name, arrays)
        return name

    def _write_embeddings(self, ds: Dataset) -> tuple[list[dict[str, Any]], dict[str, str]]:
        store = getattr(ds, "_embeddings", None)
        items = getattr(store, "_items", None)
        if not items:
            return [], {}
        out = []
        for (level, name), emb in items.items():
            vectors = np.ascontiguousarray(emb.vectors)
            id_arr = ids_array(emb.ids)
            h = hashlib.blake2b(digest_size=16)
            h.update(id_arr.tobytes())
            h.update(f"{vectors.dtype.str}{vectors.shape}".encode())
            h.update(memoryview(vectors).cast("B"))
            file = f"embedding-{h.hexdigest()}.npz"
            if not (self.data_dir / file).is_file():
                write_arrays(self.data_dir / file, {"ids": id_arr, "vectors": vectors})
            out.append({"level": level, "name": name, "meta": to_jsonable(emb.meta), "file": file})
        return out, dict(getattr(store, "_active", {}))

    def _collect_garbage(self) -> None:
        """Remove data files the committed manifest does not name (older versions, debris)."""
        with self._lock:
            manifest = self.manifest()
            if manifest is None:
                return
            keep = set(_manifest_files(manifest))
            now = time.time()
            for path in self.data_dir.iterdir():
                if path.name in keep:
                    continue
                try:
                    if path.name.endswith(TMP_SUFFIX):
                        if now - path.stat().st_mtime < STALE_TMP_SECONDS:
                            continue
                    path.unlink()
                except OSError:
                    pass

    # ------------------------------------------------------------------ loading
    def load(self) -> Dataset:
        """The saved dataset, bound to this store."""
        from ..dataset import Dataset
        from ..runs import ClassificationRun, DetectionRun

        text = self._manifest_text()
        m = None if text is None else json.loads(text)
        if m is None:
            raise StoreError(
                f"the store at {os.fspath(self.root)!r} holds no saved dataset yet "
                "(was its first save interrupted?)"
            )
        data = self.data_dir
        try:
            samples = read_table(data, m["tables"]["samples"])
            objects = read_table(data, m["tables"]["objects"])
            images = self._read_images(m["images"]) if m.get("images") else None
        except (OSError, ValueError) as exc:
            raise StoreError(
                f"cannot read the data of the store at {os.fspath(self.root)!r}: {exc}"
            ) from exc
        # labels as names: the constructor turns them back into categoricals over class_names
        for table in (samples, objects):
            if "label" in table.columns:
                table["label"] = table["label"].astype(object)
        ds = Dataset(samples, objects, m["class_names"], images=images, name=m["name"])
        ds.coco_categories = {int(k): str(val) for k, val in m.get("coco_categories", [])}
        runs: dict[str, Any] = {}
        for name, entry in m["runs"].items():
            created = pd.Timestamp(entry["created"])
            if entry["kind"] == "classification":
                pred = read_table(data, entry["predictions"])
                probs = (
                    read_table(data, entry["probabilities"]) if entry.get("probabilities") else None
                )
                runs[name] = ClassificationRun(name, pred, probs, created=created)
            else:
                runs[name] = DetectionRun(name, int(entry["size"]), created=created)
        ds.runs = runs
        self._read_embeddings(ds, m.get("embeddings") or [], m.get("active_embeddings") or {})
        ds._tags = self.load_tags()
        ds._store = self
        self._base = text
        return ds

    def _read_images(self, file: str) -> dict[Any, np.ndarray]:
        with np.load(self.data_dir / file, allow_pickle=False) as z:
            ids = ids_from_array(z["__ids__"])
            return {i: z[f"a{k}"] for k, i in enumerate(ids)}

    def _read_embeddings(
        self, ds: Dataset, entries: list[dict[str, Any]], active: dict[str, str]
    ) -> None:
        if not entries:
            return
        import warnings

        try:
            from ..embeddings._store import Embeddings, store_of
        except ImportError as exc:  # the embeddings package is optional at this level
            warnings.warn(f"embeddings in the store were not loaded: {exc}", stacklevel=3)
            return
        store = store_of(ds)
        for e in entries:
            with np.load(self.data_dir / e["file"], allow_pickle=False) as z:
                ids = pd.Index(ids_from_array(z["ids"]))
                vectors = np.ascontiguousarray(z["vectors"])
            store.put(
                Embeddings(ids, vectors, level=e["level"], name=e["name"], meta=e["meta"]),
                activate=active.get(e["level"]) == e["name"],
            )


def _detached() -> None:
    return None


def _manifest_files(m: dict[str, Any]) -> list[str]:
    files = [t["file"] for t in m["tables"].values()]
    for entry in m["runs"].values():
        for key in ("predictions", "probabilities"):
            if entry.get(key):
                files.append(entry[key]["file"])
    if m.get("images"):
        files.append(m["images"])
    files.extend(e["file"] for e in m.get("embeddings") or [])
    return files
