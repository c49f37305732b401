"""Tags kept as row positions: one boolean mask per (tag, level) over the samples or objects
table, so that tagging 100k of 1M samples is one vectorised lookup, not a loop over ids.

The user's ids live only in the tables' indexes; :meth:`TagIndex.frame` turns positions back
into the ``id, tag, level, created`` rows users (and the store) see. Tags of objects that are no
longer in the table (a removed run's boxes) are kept by id and come back if the ids do.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

#: a (tag, level) pair
Key = tuple[str, str]


def empty_frame() -> pd.DataFrame:
    """No tags, in the dtypes :meth:`TagIndex.frame` gives."""
    return pd.DataFrame(
        {
            "id": pd.Series(dtype=object),
            "tag": pd.Series(dtype=str),
            "level": pd.Series(dtype=str),
            "created": pd.Series(dtype="datetime64[ns, UTC]"),
        }
    )


@dataclass
class _Tag:
    """One (tag, level): which rows carry it, and when each batch of them was tagged."""

    mask: np.ndarray
    #: (time, positions tagged then) in the order they were made; stale positions (untagged
    #: since) are dropped on untag
    batches: list[tuple[pd.Timestamp, np.ndarray]] = field(default_factory=list)


class TagIndex:
    """Tags of the rows of two tables (``"sample"`` and ``"object"`` level), by position."""

    def __init__(self) -> None:
        self._tags: dict[Key, _Tag] = {}
        #: tags whose ids are in neither table any more (kept; restored when the ids return)
        self._orphans = empty_frame()

    # ------------------------------------------------------------------ changes
    def add(
        self,
        tag: str,
        level: str,
        positions: np.ndarray,
        n_rows: int,
        created: pd.Timestamp | None = None,
    ) -> int:
        """Tag the rows at ``positions`` (of a table of ``n_rows``); return how many were not
        tagged before. Vectorised: no hashing of the positions (duplicates are dropped when
        the rows are listed)."""
        entry = self._tags.get((tag, level))
        if entry is None:
            entry = self._tags[(tag, level)] = _Tag(np.zeros(n_rows, dtype=bool))
        new = positions[~entry.mask[positions]]
        if not len(new):
            return 0
        before = np.count_nonzero(entry.mask)
        entry.mask[new] = True
        entry.batches.append((created or pd.Timestamp.now(tz="UTC"), new))
        return int(np.count_nonzero(entry.mask) - before)

    def fresh(self, tag: str, level: str, positions: np.ndarray) -> np.ndarray:
        """The positions among ``positions`` that do not carry ``tag`` yet, each once."""
        entry = self._tags.get((tag, level))
        new = positions if entry is None else positions[~entry.mask[positions]]
        return pd.unique(new) if len(new) > 1 else new

    def tagged_among(self, tag: str, level: str, positions: np.ndarray) -> np.ndarray:
        """The positions among ``positions`` that carry ``tag``, each once."""
        entry = self._tags.get((tag, level))
        if entry is None:
            return np.empty(0, dtype=np.intp)
        hit = positions[entry.mask[positions]]
        return pd.unique(hit) if len(hit) > 1 else hit

    def remove(self, tag: str, level: str, positions: np.ndarray) -> int:
        """Untag the rows at ``positions``; return how many carried the tag."""
        entry = self._tags.get((tag, level))
        if entry is None:
            return 0
        hit = positions[entry.mask[positions]]
        if not len(hit):
            return 0
        before = np.count_nonzero(entry.mask)
        entry.mask[hit] = False
        entry.batches = [(ts, p[entry.mask[p]]) for ts, p in entry.batches]
        entry.batches = [(ts, p) for ts, p in entry.batches if len(p)]
        if not entry.batches:
            del self._tags[(tag, level)]
        return int(before - np.count_nonzero(entry.mask))

    def positions(self, tag: str, level: str) -> np.ndarray:
        """Positions of the rows carrying ``tag``, ascending."""
        entry = self._tags.get((tag, level))
        return np.empty(0, dtype=np.intp) if entry is None else np.flatnonzero(entry.mask)

    def names(self) -> list[str]:
        """Every tag name (of either level), in the order first made."""
        found = dict.fromkeys(t for t, _ in self._tags)
        found.update(dict.fromkeys(self._orphans["tag"]))
        return list(found)

    # ------------------------------------------------------------------ as rows
    def frame(self, indexes: dict[str, pd.Index]) -> pd.DataFrame:
        """``id, tag, level, created`` rows, in the order they were made."""
        out = TagIndex._of(self._tags, indexes)
        if len(self._orphans):
            out = pd.concat([self._orphans, out], ignore_index=True) if len(out) else self._orphans
            out = out.sort_values("created", kind="stable", ignore_index=True)
        return out.astype({"created": "datetime64[ns, UTC]"})

    def load(self, rows: pd.DataFrame, indexes: dict[str, pd.Index]) -> None:
        """Replace every tag by ``rows`` (``id, tag, level, created``), e.g. from a store."""
        self._tags = {}
        self._orphans = empty_frame()
        self._attach(rows, indexes)

    def reindex(self, level: str, old: pd.Index, new: pd.Index) -> None:
        """The ``level`` table's rows changed from ``old`` to ``new``: move its tags along; tags
        of rows that went become orphans, orphans whose ids came back are restored."""
        mine = {k: v for k, v in self._tags.items() if k[1] == level}
        lost = self._orphans["level"] == level
        if (not mine and not lost.any()) or old.equals(new):
            return
        rows = pd.concat(
            [TagIndex._of(mine, {level: old}), self._orphans[lost]], ignore_index=True
        ).sort_values("created", kind="stable")
        self._tags = {k: v for k, v in self._tags.items() if k[1] != level}
        self._orphans = self._orphans[~lost].reset_index(drop=True)
        self._attach(rows, {level: new})

    @staticmethod
    def _of(tags: dict[Key, _Tag], indexes: dict[str, pd.Index]) -> pd.DataFrame:
        parts = [
            pd.DataFrame(
                {
                    "id": pd.Index(indexes[level][pd.unique(pos)], dtype=object),
                    "tag": tag,
                    "level": level,
                    "created": ts,
                }
            )
            for (tag, level), entry in tags.items()
            for ts, pos in entry.batches
        ]
        if not parts:
            return empty_frame()
        out = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
        return out.sort_values("created", kind="stable", ignore_index=True)

    def _attach(self, rows: pd.DataFrame, indexes: dict[str, pd.Index]) -> None:
        """Add ``rows`` of the levels in ``indexes``; ids not in their table become orphans."""
        if not len(rows):
            return
        rows = rows.assign(created=pd.to_datetime(rows["created"], utc=True))
        orphans: list[pd.DataFrame] = []
        for (tag, level), group in rows.groupby(["tag", "level"], sort=False):
            index = indexes[level]
            pos = index.get_indexer(pd.Index(group["id"], dtype=object))
            known = pos >= 0
            if not known.all():
                orphans.append(group[~known])
            if not known.any():
                continue
            entry = self._tags.setdefault((tag, level), _Tag(np.zeros(len(index), dtype=bool)))
            created = group["created"].to_numpy()[known]
            pos = pos[known]
            for ts in pd.unique(created):
                p = pos[(created == ts) & ~entry.mask[pos]]
                if len(p):
                    p = pd.unique(p)
                    entry.mask[p] = True
                    entry.batches.append((_utc(ts), p))
        if orphans:
            frames = [self._orphans, *orphans] if len(self._orphans) else orphans
            self._orphans = pd.concat(frames, ignore_index=True)[list(empty_frame().columns)]


def _utc(value: object) -> pd.Timestamp:
    ts = pd.Timestamp(value)  # type: ignore[arg-type]
    return ts.tz_convert("UTC") if ts.tzinfo is not None else ts.tz_localize("UTC")
