"""Tags, saved slices and notes in the store's database: each change is one transaction,
committed as it is made (no ``ds.save()`` needed). Methods as :class:`~nbdiag.store.MemoryState`
has them, so a bound dataset and an unbound one are used alike."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from typing import Any

import pandas as pd

from ._codec import decode_id, encode_id, from_iso, iso
from ._db import Database


def tag_values(rows: pd.DataFrame) -> Iterable[tuple[str, str, str, str]]:
    return (
        (lv, t, encode_id(i), iso(c))
        for i, t, lv, c in zip(rows["id"], rows["tag"], rows["level"], rows["created"], strict=True)
    )


def _ids_text(ids: Any) -> str | None:
    return None if ids is None else json.dumps([encode_id(i) for i in ids])


def _ids_from_text(text: str | None) -> list[Any] | None:
    return None if text is None else [decode_id(i) for i in json.loads(text)]


class Records(Database):
    """Tags, saved slices and notes of a store."""

    # ------------------------------------------------------------------ tags
    def add_tags(self, rows: pd.DataFrame) -> None:
        """Commit tag rows (``id, tag, level, created``); existing ones are kept."""
        values = list(tag_values(rows))
        with self.transaction() as cur:
            self._insert_tags(cur, values)

    @staticmethod
    def _insert_tags(cur: sqlite3.Cursor, values: Iterable[tuple[str, str, str, str]]) -> None:
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
