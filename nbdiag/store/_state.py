"""Project state that is not a table: saved slices, notes, run history, label history.

An unbound dataset keeps it in memory (:class:`MemoryState`, attached as ``ds._project``); a
dataset bound to a folder keeps it in the store's SQLite database (:class:`~nbdiag.store.Store`
has the same methods). Records are plain dicts:

- slice: ``name, level, kind ("ids" | "query"), query, ids, description, created``
- note: ``note_id, text, level, ids, created``
- run record: ``run, kind, run_created, recorded, size, summary (dict), fingerprint``
- label change: ``batch, created, source, level, id, sample_id, change, old, new``
  (``old``/``new``: ``{"label": ..., "box": [x, y, w, h], "iscrowd": ...}`` or None)
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..core import DatasetCore

_ATTR = "_project"


class MemoryState:
    """In-memory project state of a dataset that is not bound to a store."""

    def __init__(self) -> None:
        self.slices: dict[str, dict[str, Any]] = {}
        self.notes: list[dict[str, Any]] = []
        self.run_records: list[dict[str, Any]] = []
        self.label_changes: list[dict[str, Any]] = []

    # slices
    def put_slice(self, record: dict[str, Any]) -> None:
        self.slices[record["name"]] = dict(record)

    def delete_slice(self, name: str) -> None:
        del self.slices[name]

    def list_slices(self) -> list[dict[str, Any]]:
        return [dict(r) for r in self.slices.values()]

    # notes
    def add_note(self, record: dict[str, Any]) -> int:
        note_id = (max((n["note_id"] for n in self.notes), default=0)) + 1
        self.notes.append({**record, "note_id": note_id})
        return note_id

    def list_notes(self) -> list[dict[str, Any]]:
        return [dict(n) for n in self.notes]

    # run history
    def fingerprints(self) -> set[str]:
        return {r["fingerprint"] for r in self.run_records}

    def add_run_records(self, records: list[dict[str, Any]]) -> None:
        known = self.fingerprints()
        self.run_records.extend(dict(r) for r in records if r["fingerprint"] not in known)

    def list_run_records(self) -> list[dict[str, Any]]:
        return copy.deepcopy(self.run_records)

    # label history
    def next_batch(self) -> int:
        return max((c["batch"] for c in self.label_changes), default=0) + 1

    def add_label_changes(self, changes: list[dict[str, Any]]) -> None:
        self.label_changes.extend(dict(c) for c in changes)

    def list_label_changes(self) -> list[dict[str, Any]]:
        return copy.deepcopy(self.label_changes)


def state_of(ds: DatasetCore) -> Any:
    """Where ``ds`` keeps its project state: its bound store, else an in-memory state."""
    store = getattr(ds, "_store", None)
    if store is not None:
        return store
    state = getattr(ds, _ATTR, None)
    if state is None:
        state = MemoryState()
        setattr(ds, _ATTR, state)
    return state
