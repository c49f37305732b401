"""Tags, saved slices and notes in the store's database: each change is one transaction,
committed as it is made (no ``ds.save()`` needed). Methods as :class:`~nbdiag.store.MemoryState`
has them, so a bound dataset and an unbound one are used alike."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

import numpy as np
import pandas as pd

from ._codec import decode_id, encode_id, encode_ids, from_iso, iso, now
from ._db import Database
from ._tag_log import replay_tags


def tag_events(rows: pd.DataFrame, op: str = "+") -> list[tuple[str, str, str, str, str]]:
    """``(op, level, tag, created, ids as a JSON array)``, one per (tag, level, time) of
    ``rows`` (``id, tag, level`` and, for additions, ``created``): a batch of 100k tags is one
    database row, written in one transaction."""
    if not len(rows):
        return []
    keys = ["tag", "level", "created"] if op == "+" else ["tag", "level"]
    out = []
    for key, group in rows.groupby(keys, sort=False):
        tag, level = key[0], key[1]
        created = iso(key[2]) if op == "+" else iso(now())
        out.append((op, level, tag, created, ids_json(group["id"])))
    return out


def ids_json(ids: Any) -> str:
    """Ids as one JSON array (``5`` and ``"5"`` stay distinct); str, int or float only.
    Whole arrays of integers or of strings are encoded in one vectorised step."""
    values = pd.Index(ids)
    kind = pd.api.types.infer_dtype(values, skipna=False)
    if kind == "integer":
        return "[" + ",".join(values.astype(np.int64).astype(str)) + "]"
    if kind == "string":
        return json.dumps(values.tolist())  # one call of the C encoder
    return "[" + ",".join(encode_ids(values)) + "]"


def _ids_text(ids: Any) -> str | None:
    return None if ids is None else json.dumps([encode_id(i) for i in ids])


def _ids_from_text(text: str | None) -> list[Any] | None:
    return None if text is None else [decode_id(i) for i in json.loads(text)]


class Records(Database):
    """Tags, saved slices and notes of a store."""

    # ------------------------------------------------------------------ tags
    def add_tags(self, rows: pd.DataFrame) -> None:
        """Commit tag rows (``id, tag, level, created``) as one event per batch."""
        events = tag_events(rows, "+")
        with self.transaction() as cur:
            self._insert_tag_events(cur, events)

    @staticmethod
    def _insert_tag_events(cur: sqlite3.Cursor, events: list[tuple[str, ...]]) -> None:
        cur.executemany(
            "INSERT INTO tag_events (op, level, tag, created, ids) VALUES (?, ?, ?, ?, ?)", events
        )

    def remove_tags(self, rows: pd.DataFrame) -> None:
        """Commit the removal of tag rows (``id, tag, level``)."""
        events = tag_events(rows, "-")
        with self.transaction() as cur:
            self._insert_tag_events(cur, events)

    def load_tags(self) -> pd.DataFrame:
        """The committed tags, in the order they were made (dtypes as ``Dataset.tag`` makes):
        rows of the per-id table older stores wrote, then the events replayed in order."""
        legacy = self._query("SELECT id, tag, level, created FROM tags ORDER BY rowid")
        events = self._query(
            "SELECT op, level, tag, created, ids FROM tag_events ORDER BY event_id"
        )
        return replay_tags(legacy, events)

    # ------------------------------------------------------------------ slices
    def put_slice(self, record: dict[str, Any]) -> None:
        with self.transaction() as cur:
            self._insert_slice(cur, record)

    @staticmethod
    def _insert_slice(cur: sqlite3.Cursor, r: dict[str, Any]) -> None:
        cur.execute(
            "INSERT OR REPLACE INTO slices VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                r["name"],
                r["level"],
                r["kind"],
                r.get("query"),
                _ids_text(r.get("ids")),
                r.get("description") or "",
                iso(r["created"]),
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
                "ids": _ids_from_text(r[4]),
                "description": r[5],
                "created": from_iso(r[6]),
            }
            for r in rows
        ]

    # ------------------------------------------------------------------ notes
    def add_note(self, record: dict[str, Any]) -> int:
        with self.transaction() as cur:
            return self._insert_note(cur, record)

    @staticmethod
    def _insert_note(cur: sqlite3.Cursor, r: dict[str, Any]) -> int:
        cur.execute(
            "INSERT INTO notes (text, level, ids, created) VALUES (?, ?, ?, ?)",
            (r["text"], r.get("level"), _ids_text(r.get("ids")), iso(r["created"])),
        )
        return int(cur.lastrowid or 0)

    def list_notes(self) -> list[dict[str, Any]]:
        rows = self._query("SELECT note_id, text, level, ids, created FROM notes ORDER BY note_id")
        return [
            {
                "note_id": r[0],
                "text": r[1],
                "level": r[2],
                "ids": _ids_from_text(r[3]),
                "created": from_iso(r[4]),
            }
            for r in rows
        ]
