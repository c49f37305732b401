"""The store's SQLite database (WAL): its schema and format version, the connection, one-step
write transactions, and the *manifest*, the record naming the data files that hold the dataset.

What the database keeps is split by concept: tags, saved slices and notes
(:mod:`~nbdiag.store._records`), run and label history (:mod:`~nbdiag.store._history`); the
data files themselves are :mod:`~nbdiag.store._files`.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from . import _atomic
from ._codec import now

FORMAT_VERSION = 1
DB_NAME = "nbdiag.sqlite"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tags (
    level TEXT NOT NULL, tag TEXT NOT NULL, id TEXT NOT NULL, created TEXT NOT NULL,
    PRIMARY KEY (level, tag, id));
CREATE TABLE IF NOT EXISTS tag_events (
    event_id INTEGER PRIMARY KEY AUTOINCREMENT, op TEXT NOT NULL, level TEXT NOT NULL,
    tag TEXT NOT NULL, created TEXT NOT NULL, ids TEXT NOT NULL);
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
#: the tables holding project state (everything but ``meta``)
STATE_TABLES = ("tags", "tag_events", "slices", "notes", "run_history", "label_history")


class StoreError(RuntimeError):
    """A store folder is missing, not a store, from a newer nbdiag, or incomplete."""


def note_failure(exc: BaseException, text: str) -> None:
    """Say on a failed save's error what the save left behind (Python >= 3.11; a
    :class:`StoreError` says it in its message)."""
    if isinstance(exc, Exception) and not isinstance(exc, StoreError) and hasattr(exc, "add_note"):
        if isinstance(exc, ImportError):
            text += "; the store writes tables as Parquet, which needs pyarrow: pip install pyarrow"
        exc.add_note(text)


def resolve(path: str | os.PathLike[str]) -> Path:
    """A store path as an absolute path (``~`` expanded)."""
    return Path(os.path.abspath(os.path.expanduser(os.fspath(path))))


class Database:
    """The connection to a store's database; creates the schema on first use."""

    def __init__(self, root: str | os.PathLike[str]):
        self.root = resolve(root)
        self._lock = threading.RLock()
        self._conn = sqlite3.connect(
            self.root / DB_NAME, isolation_level=None, check_same_thread=False, timeout=30.0
        )
        try:
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=FULL")
            self._conn.execute("PRAGMA foreign_keys=ON")
            self._init_schema()
        except BaseException:
            self._conn.close()
            raise

    def _init_schema(self) -> None:
        with self.transaction() as cur:
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    cur.execute(statement)
            row = cur.execute("SELECT value FROM meta WHERE key='format_version'").fetchone()
            if row is None:
                cur.execute(
                    "INSERT INTO meta VALUES ('format_version', ?), ('created', ?)",
                    (str(FORMAT_VERSION), now().isoformat()),
                )
            elif int(row[0]) > FORMAT_VERSION:
                raise StoreError(
                    f"the store at {os.fspath(self.root)!r} was written by a newer nbdiag "
                    f"(format {row[0]}; this version reads up to {FORMAT_VERSION})"
                )

    def close(self) -> None:
        """Close the database connection (the dataset stays usable in memory)."""
        with self._lock:
            self._conn.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Cursor]:
        """One write transaction (``BEGIN IMMEDIATE`` ... ``COMMIT``); rolled back when the
        body or the commit itself fails, so the connection is never left inside it."""
        with self._lock:
            cur = self._conn.cursor()
            cur.execute("BEGIN IMMEDIATE")
            try:
                yield cur
                _atomic._crash_point("before_commit")
                cur.execute("COMMIT")
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    cur.execute("ROLLBACK")
                raise

    def _query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    # ------------------------------------------------------------------ manifest
    def manifest(self) -> dict[str, Any] | None:
        """The committed manifest (which data files hold the dataset), None before a save."""
        text = self._manifest_text()
        return None if text is None else json.loads(text)

    def _manifest_text(self, cur: sqlite3.Cursor | None = None) -> str | None:
        sql = "SELECT value FROM meta WHERE key='manifest'"
        rows = cur.execute(sql).fetchall() if cur is not None else self._query(sql)
        return rows[0][0] if rows else None

    @staticmethod
    def _put_manifest(cur: sqlite3.Cursor, text: str) -> None:
        cur.execute("INSERT OR REPLACE INTO meta VALUES ('manifest', ?)", (text,))
