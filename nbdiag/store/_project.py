"""What ``Dataset`` delegates to: binding to a store, saved slices, notes, run and label history.

Every function works on a bound dataset (state committed to the store's SQLite database as it
is made) and on an unbound one (state kept in memory until ``ds.save(path)``).
"""

from __future__ import annotations

import os
from collections.abc import Hashable
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..evaluation import evaluate_run
from ._create import save_new
from ._state import _ATTR, state_of
from ._store import Store

if TYPE_CHECKING:
    from ..core import DatasetCore

_LEVELS = ("sample", "object")


def _now() -> pd.Timestamp:
    return pd.Timestamp.now(tz="UTC")


# ---------------------------------------------------------------------- binding
def open_dataset(path: str | os.PathLike[str]) -> DatasetCore:
    """Load the dataset saved in a project folder, bound to it.

    Tags, saved slices, notes, runs and label history come back as they were; from then on
    each of them is committed to the folder as it is made. ``ds.save()`` writes the tables
    again after analyses added columns (metrics, issues).

    Parameters
    ----------
    path
        A folder created by ``ds.save(path)``.

    Returns
    -------
    Dataset

    Raises
    ------
    nbdiag.store.StoreError
        When the folder does not exist, is not a store, or holds no saved dataset.

    Examples
    --------
    >>> ds.save("pets_project")                  # doctest: +SKIP
    >>> ds = nbdiag.open("pets_project")         # in a new kernel  # doctest: +SKIP
    >>> ds.tags                                  # doctest: +SKIP
    """
    return Store.open(path).load()


def save_dataset(
    ds: DatasetCore,
    path: str | os.PathLike[str] | None = None,
    *,
    overwrite: bool = False,
    force: bool = False,
) -> Store:
    """Save ``ds`` to ``path`` (binding it) or, without ``path``, to its bound store
    (``force``: even over a version another process saved in between)."""
    current: Store | None = getattr(ds, "_store", None)
    if path is None:
        if current is None:
            raise ValueError(
                "this dataset is not bound to a project folder yet; pass one: ds.save('my_project')"
            )
        current.save(ds, run_records=pending_run_records(ds, current), force=force)
        return current
    root = os.path.abspath(os.path.expanduser(os.fspath(path)))
    if current is not None and os.fspath(current.root) == root:
        current.save(ds, run_records=pending_run_records(ds, current), force=force)
        return current
    state = state_of(ds)  # in-memory state, or the store it was bound to before ("save as")
    store = save_new(
        root,
        ds,
        lambda: _Snapshot(state, pending_run_records(ds, state)),
        overwrite=overwrite,
    )
    ds._store = store
    if hasattr(ds, _ATTR):
        delattr(ds, _ATTR)
    if current is not None:  # "save as": the dataset continues with the new folder
        current.close()
    return store


class _Snapshot:
    """A state's records plus run records not yet in it (what a new store starts with)."""

    def __init__(self, state: Any, extra_runs: list[dict[str, Any]]):
        self.list_slices = state.list_slices
        self.list_notes = state.list_notes
        self.list_label_changes = state.list_label_changes
        self._runs = state.list_run_records() + extra_runs

    def list_run_records(self) -> list[dict[str, Any]]:
        return self._runs


def on_runs_changed(ds: DatasetCore) -> None:
    """After ``add_run`` / ``remove_run``: a bound dataset saves the run and records it."""
    store = getattr(ds, "_store", None)
    if store is not None:
        store.save(ds, run_records=pending_run_records(ds, store))


# ---------------------------------------------------------------------- run history
def _fingerprint(run: Any) -> str:
    return f"{run.name}|{pd.Timestamp(run.created).isoformat()}|{run.kind}|{len(run)}"


def _summary(ds: DatasetCore, name: str) -> dict[str, Any]:
    try:
        ev = evaluate_run(ds, name, progress=False)
        return dict(ev.summary())
    except Exception as exc:  # e.g. no labels yet: the run is recorded without numbers
        return {"error": f"{type(exc).__name__}: {exc}"}


def pending_run_records(ds: DatasetCore, state: Any) -> list[dict[str, Any]]:
    """Records (with evaluation summary) of the runs ``state`` has not recorded yet."""
    known = state.fingerprints()
    out = []
    for name, run in ds.runs.items():
        fp = _fingerprint(run)
        if fp in known:
            continue
        out.append(
            {
                "run": name,
                "kind": run.kind,
                "run_created": pd.Timestamp(run.created),
                "recorded": _now(),
                "size": len(run),
                "summary": _summary(ds, name),
                "fingerprint": fp,
            }
        )
    return out


def run_history(ds: DatasetCore) -> pd.DataFrame:
    """One row per recorded run version, oldest first."""
    state = state_of(ds)
    pending = pending_run_records(ds, state)
    if pending:
        state.add_run_records(pending)
    records = state.list_run_records()
    current = {_fingerprint(r) for r in ds.runs.values()}
    rows = []
    for r in records:
        row = {
            "run": r["run"],
            "kind": r["kind"],
            "created": r["run_created"],
            "recorded": r["recorded"],
            "size": r["size"],
            "current": r["fingerprint"] in current,
        }
        for key, value in r["summary"].items():
            if key in ("run",) or key in row:
                continue
            if isinstance(value, (int, float, str, bool)) or value is None:
                row[key] = value
        rows.append(row)
    cols = ["run", "kind", "created", "recorded", "size", "current"]
    frame = pd.DataFrame(rows, columns=None if rows else cols)
    for col in ("created", "recorded"):
        if col in frame:
            frame[col] = pd.to_datetime(frame[col], utc=True)
    return frame


# ---------------------------------------------------------------------- tags as a column
def tags_column(ds: DatasetCore, level: str = "sample") -> pd.Series:
    """Comma-separated tags of every row of ``ds.samples`` (or ``ds.objects``), ``""`` if none."""
    if level not in _LEVELS:
        raise ValueError(f"level must be 'sample' or 'object', got {level!r}")
    table = ds.samples if level == "sample" else ds.objects
    tags = ds._tags[ds._tags["level"] == level]
    out = pd.Series("", index=table.index, dtype=object, name="tags")
    if len(tags):
        joined = tags.groupby("id", sort=False)["tag"].agg(lambda t: ",".join(sorted(set(t))))
        hit = table.index.isin(joined.index)
        out[hit] = joined.reindex(table.index[hit]).to_numpy()
    return out


# ---------------------------------------------------------------------- slices
def _query_frame(ds: DatasetCore, level: str) -> pd.DataFrame:
    table = ds.samples if level == "sample" else ds.objects
    if "tags" in table.columns:
        return table
    return table.assign(tags=tags_column(ds, level))


def _run_query(ds: DatasetCore, name: str, query: str, level: str) -> pd.Index:
    frame = _query_frame(ds, level)
    try:
        result = frame.query(query, engine="python")
    except Exception as exc:
        cols = [str(c) for c in frame.columns][:30]
        raise ValueError(
            f"slice {name!r}: cannot evaluate the query {query!r} on ds.{level}s: "
            f"{type(exc).__name__}: {exc}; columns are {cols}"
        ) from exc
    return result.index


def _is_known_id(ds: DatasetCore, value: Any, level: str | None) -> bool:
    tables = {"sample": ds.samples, "object": ds.objects}
    levels = [level] if level else list(tables)
    try:
        return any(value in tables[lv].index for lv in levels)
    except TypeError:
        return False


def save_slice(
    ds: DatasetCore,
    name: str,
    items: Any = None,
    *,
    query: str | None = None,
    level: str | None = None,
    description: str = "",
) -> pd.DataFrame:
    """Save a named slice (ids, a mask, a DataFrame such as a selection, or a query string);
    returns its rows. A saved name is replaced."""
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"slice name must be a non-empty string, got {name!r}")
    if level not in (None, *_LEVELS):
        raise ValueError(f"level must be 'sample' or 'object', got {level!r}")
    if isinstance(items, str) and query is None and not _is_known_id(ds, items, level):
        items, query = None, items
    if (items is None) == (query is None):
        raise ValueError(
            f"slice {name!r}: pass either items (ids, a mask or a DataFrame) or a query string"
        )
    record: dict[str, Any] = {"name": name, "description": str(description), "created": _now()}
    if query is not None:
        if not isinstance(query, str) or not query.strip():
            raise ValueError(f"slice {name!r}: query must be a non-empty string, got {query!r}")
        lv = level or "sample"
        _run_query(ds, name, query, lv)  # validate now, with an error naming the slice
        record.update(level=lv, kind="query", query=query, ids=None)
    else:
        ids, lv = ds._ids_from(items, level)
        record.update(level=lv, kind="ids", query=None, ids=list(dict.fromkeys(ids)))
    state_of(ds).put_slice(record)
    return slice_rows(ds, name)


def _get_slice(ds: DatasetCore, name: str) -> dict[str, Any]:
    for record in state_of(ds).list_slices():
        if record["name"] == name:
            return record
    names = [r["name"] for r in state_of(ds).list_slices()]
    raise KeyError(f"unknown slice {name!r}; saved slices are {names}")


def slice_rows(ds: DatasetCore, name: str) -> pd.DataFrame:
    """Rows of ``ds.samples`` (or ``ds.objects``) in the saved slice ``name``, evaluated now
    (a query slice follows the data; an ids slice keeps the ids that still exist)."""
    record = _get_slice(ds, name)
    table = ds.samples if record["level"] == "sample" else ds.objects
    if record["kind"] == "query":
        return table.loc[_run_query(ds, name, record["query"], record["level"])]
    return table.loc[table.index.isin(record["ids"])]


def delete_slice(ds: DatasetCore, name: str) -> None:
    _get_slice(ds, name)
    state_of(ds).delete_slice(name)


def slices_frame(ds: DatasetCore) -> pd.DataFrame:
    """The saved slices: ``level``, ``kind`` (ids/query), ``size`` (now), ``query``,
    ``description``, ``created``; indexed by name."""
    rows = []
    for r in state_of(ds).list_slices():
        try:
            size: float = len(slice_rows(ds, r["name"]))
        except (ValueError, KeyError):
            size = np.nan  # a query over columns that are gone
        rows.append(
            {
                "name": r["name"],
                "level": r["level"],
                "kind": r["kind"],
                "size": size,
                "query": r["query"],
                "description": r["description"],
                "created": r["created"],
            }
        )
    cols = ["name", "level", "kind", "size", "query", "description", "created"]
    return pd.DataFrame(rows, columns=cols).set_index("name")


# ---------------------------------------------------------------------- notes
def add_note(ds: DatasetCore, text: str, items: Any = None, *, level: str | None = None) -> int:
    """Attach a free-text note to the dataset (or to some items); returns its id."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError("a note must be a non-empty string")
    ids: list[Hashable] | None = None
    lv: str | None = None
    if items is not None:
        ids, lv = ds._ids_from(items, level)
    return state_of(ds).add_note({"text": text, "level": lv, "ids": ids, "created": _now()})


def notes_frame(ds: DatasetCore) -> pd.DataFrame:
    cols = ["text", "level", "ids", "created"]
    notes = state_of(ds).list_notes()
    frame = pd.DataFrame(notes, columns=["note_id", *cols]).set_index("note_id")
    return frame


# ---------------------------------------------------------------------- label history
def _box(value: dict[str, Any] | None) -> Any:
    if not value or value.get("box") is None:
        return None
    return tuple(float(x) for x in value["box"])


def label_history(ds: DatasetCore) -> pd.DataFrame:
    """Every label change made by ``import_labels``, oldest first: ``batch`` (one per import),
    ``created``, ``source``, ``level``, ``id``, ``sample_id``, ``change``, ``old_label``,
    ``new_label``, ``old_box``, ``new_box`` (``(x, y, w, h)`` for boxes)."""
    rows = [
        {
            "batch": c["batch"],
            "created": c["created"],
            "source": c.get("source"),
            "level": c["level"],
            "id": c["id"],
            "sample_id": c.get("sample_id"),
            "change": c["change"],
            "old_label": (c.get("old") or {}).get("label"),
            "new_label": (c.get("new") or {}).get("label"),
            "old_box": _box(c.get("old")),
            "new_box": _box(c.get("new")),
        }
        for c in state_of(ds).list_label_changes()
    ]
    cols = [
        "batch",
        "created",
        "source",
        "level",
        "id",
        "sample_id",
        "change",
        "old_label",
        "new_label",
        "old_box",
        "new_box",
    ]
    return pd.DataFrame(rows, columns=cols)


def refuse_if_stale(ds: DatasetCore, action: str) -> None:
    """A bound dataset whose store another kernel saved since: refuse ``action`` before it
    changes anything (see :meth:`Store.check_current`)."""
    store = getattr(ds, "_store", None)
    if store is not None:
        store.check_current(action)


def commit_label_changes(ds: DatasetCore, changes: list[dict[str, Any]]) -> None:
    """Record label changes already applied to ``ds``'s tables; a bound dataset commits the
    new tables and the history in one transaction."""
    store = getattr(ds, "_store", None)
    if store is not None:
        store.save(ds, label_changes=changes)
    else:
        state_of(ds).add_label_changes(changes)


def next_batch(ds: DatasetCore) -> int:
    return int(state_of(ds).next_batch())
