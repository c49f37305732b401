"""Run history (one record per run version, with its evaluation summary) and label history
(every change ``import_labels`` made) in the store's database. Records are written in the same
transaction as the tables they describe (see :meth:`~nbdiag.store.Store.save`)."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from ._codec import decode_id, encode_id, from_iso, iso, to_jsonable
from ._db import Database


def _json_or_none(value: Any) -> str | None:
    return None if value is None else json.dumps(to_jsonable(value))


class History(Database):
    """Run and label history of a store."""

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
                    iso(r["run_created"]),
                    iso(r["recorded"]),
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
                "run_created": from_iso(r[2]),
                "recorded": from_iso(r[3]),
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
                    iso(c["created"]),
                    c.get("source"),
                    c["level"],
                    encode_id(c["id"]),
                    None if c.get("sample_id") is None else encode_id(c["sample_id"]),
                    c["change"],
                    _json_or_none(c.get("old")),
                    _json_or_none(c.get("new")),
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
                "created": from_iso(r[1]),
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
