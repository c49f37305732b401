"""On-disk cache of metric values, keyed by image content hash, metric name and version.

One SQLite file per cache directory. ``values`` holds one row per (content hash, metric, key)
where the key is the metric's version (plus a code fingerprint for user metrics); ``files``
remembers the content hash of a file by path, size and modification time, so a re-run does
not even read unchanged files. Only the calling process writes; workers never touch it.
Failed computations are not stored, so they are retried.
"""

from __future__ import annotations

import math
import os
import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS metric_values (
    hash TEXT NOT NULL, metric TEXT NOT NULL, key TEXT NOT NULL, value,
    PRIMARY KEY (hash, metric, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS files (
    path TEXT PRIMARY KEY, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, hash TEXT NOT NULL
) WITHOUT ROWID;
"""
FILE_NAME = "metrics-v1.sqlite"


def file_stat(path: str) -> tuple[int, int] | None:
    """(size, mtime_ns) of a file, or None when it cannot be stat'ed."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_size, st.st_mtime_ns


class MetricCache:
    """Metric values by content hash. ``MetricCache(None)`` is a no-op cache."""

    def __init__(self, directory: str | os.PathLike[str] | None):
        self.path: Path | None = None
        self._con: sqlite3.Connection | None = None
        if directory is None:
            return
        d = Path(directory).expanduser()
        d.mkdir(parents=True, exist_ok=True)
        self.path = d / FILE_NAME
        con = sqlite3.connect(self.path, timeout=30)
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("PRAGMA synchronous=NORMAL")
        con.executescript(_SCHEMA)
        con.execute("CREATE TEMP TABLE IF NOT EXISTS wanted (hash TEXT PRIMARY KEY)")
        self._con = con

    @property
    def enabled(self) -> bool:
        return self._con is not None

    def close(self) -> None:
        if self._con is not None:
            self._con.close()
            self._con = None

    def __enter__(self) -> MetricCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ files
    def known_files(self, paths: Sequence[str]) -> dict[str, tuple[int, int, str]]:
        """``path -> (size, mtime_ns, hash)`` for the paths the cache has seen."""
        if self._con is None or not paths:
            return {}
        out: dict[str, tuple[int, int, str]] = {}
        for start in range(0, len(paths), 900):
            chunk = list(paths[start : start + 900])
            marks = ",".join("?" * len(chunk))
            rows = self._con.execute(
                f"SELECT path, size, mtime_ns, hash FROM files WHERE path IN ({marks})", chunk
            )
            out.update({p: (s, m, h) for p, s, m, h in rows})
        return out

    def remember_files(self, rows: Iterable[tuple[str, int, int, str]]) -> None:
        if self._con is None:
            return
        with self._con:
            self._con.executemany(
                "INSERT OR REPLACE INTO files (path, size, mtime_ns, hash) VALUES (?, ?, ?, ?)",
                rows,
            )

    # ------------------------------------------------------------------ values
    def get(self, hashes: Sequence[str], metric: str, key: str) -> dict[str, Any]:
        """Cached values of one metric version for the given hashes (missing ones absent;
        a stored NULL comes back as NaN)."""
        if self._con is None or not hashes:
            return {}
        con = self._con
        with con:
            con.execute("DELETE FROM wanted")
            con.executemany(
                "INSERT OR IGNORE INTO wanted (hash) VALUES (?)", ((h,) for h in hashes)
            )
        rows = con.execute(
            "SELECT v.hash, v.value FROM metric_values v JOIN wanted w ON v.hash = w.hash "
            "WHERE v.metric = ? AND v.key = ?",
            (metric, key),
        )
        return {h: (math.nan if v is None else v) for h, v in rows}

    def get_many(
        self, hashes: Sequence[str], metrics: Sequence[tuple[str, str]]
    ) -> dict[tuple[str, str], dict[str, Any]]:
        """:meth:`get` for several ``(metric, key)`` pairs, filling the hash list once."""
        if self._con is None or not hashes or not metrics:
            return {m: {} for m in metrics}
        con = self._con
        with con:
            con.execute("DELETE FROM wanted")
            con.executemany(
                "INSERT OR IGNORE INTO wanted (hash) VALUES (?)", ((h,) for h in hashes)
            )
        out: dict[tuple[str, str], dict[str, Any]] = {}
        for metric, key in metrics:
            rows = con.execute(
                "SELECT v.hash, v.value FROM metric_values v JOIN wanted w ON v.hash = w.hash "
                "WHERE v.metric = ? AND v.key = ?",
                (metric, key),
            )
            out[(metric, key)] = {h: (math.nan if v is None else v) for h, v in rows}
        return out

    def put(self, rows: Iterable[tuple[str, str, str, Any]]) -> None:
        """Store ``(hash, metric, key, value)`` rows (NaN is stored as NULL)."""
        if self._con is None:
            return
        clean = (
            (h, m, k, None if isinstance(v, float) and math.isnan(v) else v) for h, m, k, v in rows
        )
        with self._con:
            self._con.executemany(
                "INSERT OR REPLACE INTO metric_values (hash, metric, key, value) "
                "VALUES (?, ?, ?, ?)",
                clean,
            )

    def clear(self) -> None:
        """Forget every cached value and file hash."""
        if self._con is None:
            return
        with self._con:
            self._con.execute("DELETE FROM metric_values")
            self._con.execute("DELETE FROM files")


class ReadOnlyCache:
    """A worker's read-only view of the cache (looks values up by content hash)."""

    def __init__(self, path: str | os.PathLike[str] | None):
        self._con: sqlite3.Connection | None = None
        if path is None or not os.path.exists(path):
            return
        try:
            self._con = sqlite3.connect(f"file:{os.fspath(path)}?mode=ro", uri=True, timeout=30)
        except sqlite3.Error:  # pragma: no cover - unreadable cache: compute instead
            self._con = None

    def lookup(self, digest: str, keys: Sequence[tuple[str, str]]) -> dict[str, Any]:
        """``{metric: value}`` of the cached ``(metric, key)`` pairs of one image."""
        if self._con is None or not keys:
            return {}
        try:
            rows = self._con.execute(
                "SELECT metric, key, value FROM metric_values WHERE hash = ?", (digest,)
            ).fetchall()
        except sqlite3.Error:  # pragma: no cover
            return {}
        wanted = dict(keys)
        return {m: (math.nan if v is None else v) for m, k, v in rows if wanted.get(m, None) == k}

    def close(self) -> None:
        if self._con is not None:
            self._con.close()
            self._con = None
