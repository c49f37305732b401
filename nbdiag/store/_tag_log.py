"""Tags in the database as an append-only log: each ``tag`` / ``untag`` call is one event
holding all its ids, so that tagging 100k ids is one row in one transaction (kill -9 safe, as
every commit). Loading replays the log; a save compacts it to one event per batch."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pandas as pd

from ..core.tags import empty_frame
from ._codec import decode_id


def _frame(ids: list[Any], tag: str, level: str, created: Any) -> pd.DataFrame:
    return pd.DataFrame(
        {"id": pd.Index(ids, dtype=object), "tag": tag, "level": level, "created": created}
    )


def replay_tags(legacy: Sequence[Sequence[Any]], events: Sequence[Sequence[Any]]) -> pd.DataFrame:
    """The tags that hold after ``legacy`` rows (``id, tag, level, created`` as JSON id text and
    ISO time, from stores written before the log) and then ``events`` (``op, level, tag,
    created, ids``), in the order they were made; an id tagged twice keeps its first time."""
    batches: dict[tuple[str, str], list[pd.DataFrame]] = {}
    if legacy:
        rows = pd.DataFrame(
            {
                "id": pd.Index([decode_id(r[0]) for r in legacy], dtype=object),
                "tag": [r[1] for r in legacy],
                "level": [r[2] for r in legacy],
                "created": [r[3] for r in legacy],
            }
        )
        for (tag, level), group in rows.groupby(["tag", "level"], sort=False):
            batches.setdefault((tag, level), []).append(group)
    for op, level, tag, created, ids_text in events:
        ids = json.loads(ids_text)
        parts = batches.setdefault((tag, level), [])
        if op == "+":
            parts.append(_frame(ids, tag, level, created))
        else:
            gone = pd.Index(ids, dtype=object)
            batches[(tag, level)] = [p[~p["id"].isin(gone)] for p in parts]
    frames = [p for parts in batches.values() for p in parts if len(p)]
    if not frames:
        return empty_frame()
    out = pd.concat(frames, ignore_index=True)
    out["created"] = pd.to_datetime(out["created"], utc=True, format="ISO8601").astype(
        "datetime64[ns, UTC]"
    )
    out = out.sort_values("created", kind="stable", ignore_index=True)
    return out.drop_duplicates(["tag", "level", "id"], keep="first", ignore_index=True)
