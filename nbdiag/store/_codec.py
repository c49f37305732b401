"""Encoding ids, timestamps and tables for the store: ids as JSON text and timestamps as ISO
text in SQLite, tables as Parquet.

Parquet cannot hold every pandas column (mixed int/str ids, as in an objects table holding COCO
annotation ids and a run's text ids, or a store written when run boxes were ``"run:0"``; lists; Python objects). Such columns are stored as
JSON text and decoded on load; a table that not even that can hold falls back to a pickle
(with a warning), so a save never fails on an unusual user column.
"""

from __future__ import annotations

import hashlib
import json
import math
import warnings
from collections.abc import Hashable, Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..core import validation as v
from ._atomic import atomic_write_with

INDEX_COLUMN = "__nbdiag_index__"
#: ``infer_dtype`` kinds that Parquet stores faithfully in an object column
_PLAIN_KINDS = {"string", "empty", "integer", "floating", "boolean", "bytes", "decimal"}


# ---------------------------------------------------------------------- ids
def native(value: Any) -> Any:
    """A numpy scalar as the equivalent Python value; other values unchanged."""
    return value.item() if isinstance(value, np.generic) else value


def encode_id(value: Any) -> str:
    """An id as JSON text (``5`` and ``"5"`` stay distinct). Ids must be str, int or float."""
    value = native(value)
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise TypeError(
            f"id {v.show(value)} of type {type(value).__name__} cannot be stored; "
            "store ids must be strings or numbers"
        )
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"id {value!r} cannot be stored")
    return json.dumps(value)


def decode_id(text: str) -> Hashable:
    return json.loads(text)


def encode_ids(values: Iterable[Any]) -> list[str]:
    return [encode_id(x) for x in values]


def to_jsonable(value: Any) -> Any:
    """Plain JSON values for dicts of numbers/strings/timestamps (NaN -> None)."""
    value = native(value)
    if isinstance(value, dict):
        return {str(k): to_jsonable(x) for k, x in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [to_jsonable(x) for x in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


# ---------------------------------------------------------------------- timestamps
def iso(ts: Any) -> str:
    """A timestamp as ISO text in UTC (naive ones are taken as UTC)."""
    t = pd.Timestamp(ts)
    return (t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC")).isoformat()


def from_iso(text: str | None) -> pd.Timestamp | None:
    return None if text is None else pd.Timestamp(text).tz_convert("UTC")


def now() -> pd.Timestamp:
    return pd.Timestamp.now(tz="UTC")


# ---------------------------------------------------------------------- tables
def _json_cell(value: Any) -> str | None:
    value = native(value)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, tuple):
        raise TypeError("tuple")
    if isinstance(value, np.ndarray):
        value = value.tolist()
    return json.dumps(value, allow_nan=False)


def _encode_column(values: pd.Series) -> tuple[pd.Series, dict[str, Any]]:
    """A column Parquet can hold, and how to restore the original."""
    dtype = values.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        cats = [native(c) for c in dtype.categories]
        json.dumps(cats)  # TypeError for categories JSON cannot hold -> pickle fallback
        return values, {"codec": "category", "categories": cats, "ordered": bool(dtype.ordered)}
    if pd.api.types.is_object_dtype(dtype):
        kind = pd.api.types.infer_dtype(values, skipna=True)
        if kind in _PLAIN_KINDS:
            return values, {"codec": "object", "kind": kind}
        present = values.dropna()
        if len(present) and all(
            isinstance(x, tuple) and all(isinstance(c, str) for c in x) for x in present
        ):
            # tuples of names, e.g. multi-label ``labels``: JSON lists, read back as tuples
            encoded = pd.Series(
                [_json_cell(list(x)) if isinstance(x, tuple) else None for x in values],
                index=values.index,
                dtype=object,
            )
            return encoded, {"codec": "json_tuple"}
        encoded = pd.Series([_json_cell(x) for x in values], index=values.index, dtype=object)
        return encoded, {"codec": "json"}
    return values, {"codec": "plain"}


def _decode_column(values: pd.Series, meta: dict[str, Any]) -> pd.Series:
    codec = meta["codec"]
    if codec == "category":
        return pd.Series(
            pd.Categorical(
                values.astype(object), categories=meta["categories"], ordered=meta["ordered"]
            ),
            index=values.index,
            name=values.name,
        )
    if codec == "object":
        out = values.astype(object)
        return out.where(out.notna(), None) if meta.get("kind") in ("string", "empty") else out
    if codec in ("json", "json_tuple"):
        cast = tuple if codec == "json_tuple" else (lambda x: x)
        return pd.Series(
            [None if x is None or x is pd.NA or x != x else cast(json.loads(x)) for x in values],
            index=values.index,
            name=values.name,
            dtype=object,
        )
    return values


def write_table(frame: pd.DataFrame, path: Path) -> dict[str, Any]:
    """Write ``frame`` (index included) atomically; returns the manifest entry to read it."""
    try:
        names = list(frame.columns)
        if any(not isinstance(c, str) for c in names) or len(set(names)) != len(names):
            raise TypeError("column names must be unique strings")
        if INDEX_COLUMN in names:
            raise TypeError(f"reserved column name {INDEX_COLUMN!r}")
        out = {}
        columns: dict[str, Any] = {}
        index = pd.Series(frame.index, index=range(len(frame)))
        out[INDEX_COLUMN], columns[INDEX_COLUMN] = _encode_column(index)
        for name in names:
            col = frame[name].reset_index(drop=True)
            out[name], columns[name] = _encode_column(col)
        table = pd.DataFrame(out)
        target = path.with_suffix(".parquet")
        atomic_write_with(target, lambda tmp: table.to_parquet(tmp, index=False))
        return {
            "file": target.name,
            "format": "parquet",
            "index_name": frame.index.name,
            "columns": columns,
        }
    except (TypeError, ValueError, OverflowError) as exc:  # pyarrow's errors subclass these
        warnings.warn(
            f"table {path.stem.split('-')[0]!r} has columns Parquet cannot hold ({exc}); "
            "it is stored as a pickle instead",
            stacklevel=3,
        )
        target = path.with_suffix(".pkl")
        atomic_write_with(target, lambda tmp: frame.to_pickle(tmp))
        return {"file": target.name, "format": "pickle"}


def read_table(folder: Path, entry: dict[str, Any]) -> pd.DataFrame:
    """Read a table written by :func:`write_table`."""
    path = folder / entry["file"]
    if entry["format"] == "pickle":
        return pd.read_pickle(path)
    raw = pd.read_parquet(path)
    columns = entry["columns"]
    index = _decode_column(raw[INDEX_COLUMN], columns[INDEX_COLUMN])
    data = {
        name: _decode_column(raw[name], meta)
        for name, meta in columns.items()
        if name != INDEX_COLUMN
    }
    frame = pd.DataFrame(data, index=range(len(raw)))
    frame.index = pd.Index(index.to_numpy(), name=entry.get("index_name"))
    if columns[INDEX_COLUMN]["codec"] in ("object", "json"):
        frame.index = frame.index.astype(object)
    return frame


# ---------------------------------------------------------------------- arrays
def write_arrays(path: Path, arrays: dict[str, np.ndarray]) -> str:
    """Write named arrays as an uncompressed ``.npz`` atomically; returns the file name."""

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)

    atomic_write_with(path, write)
    return path.name


def ids_array(ids: Iterable[Any]) -> np.ndarray:
    """Ids as a unicode array of JSON texts (loadable without pickle)."""
    return np.array(encode_ids(ids), dtype=str)


def ids_from_array(arr: np.ndarray) -> list[Hashable]:
    return [decode_id(str(x)) for x in arr]


def write_arrays_once(
    data: Path, file: str, arrays: dict[str, np.ndarray], created: list[Path]
) -> None:
    """A content-addressed array file: written only when no file of that digest exists
    (``created`` collects what was written, for a failed save to remove)."""
    if not (data / file).is_file():
        write_arrays(data / file, arrays)
        created.append(data / file)


def write_arrays_by_id(
    data: Path, arrays_by_id: dict[Any, np.ndarray], created: list[Path], prefix: str
) -> str:
    """Arrays keyed by id (in-memory images, label maps) in one ``.npz`` named
    ``<prefix>-<digest of ids and content>.npz``, written once; returns its name."""
    ids = list(arrays_by_id)
    id_arr = ids_array(ids)
    h = hashlib.blake2b(digest_size=16)
    h.update(id_arr.tobytes())
    arrays = {"__ids__": id_arr}
    for k, i in enumerate(ids):
        arr = np.ascontiguousarray(arrays_by_id[i])
        h.update(f"{arr.dtype.str}{arr.shape}".encode())
        h.update(memoryview(arr).cast("B"))
        arrays[f"a{k}"] = arr
    name = f"{prefix}-{h.hexdigest()}.npz"
    write_arrays_once(data, name, arrays, created)
    return name


def mmap_npz_member(path: Path, key: str) -> np.ndarray:
    """Array ``key`` of an uncompressed ``.npz`` (as :func:`write_arrays` writes them),
    memory-mapped read-only: a 10M x 512 embedding is paged in as it is used, not read whole.
    Falls back to reading it when the member is compressed."""
    import zipfile

    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo(f"{key}.npy")
        if info.compress_type != zipfile.ZIP_STORED:
            with np.load(path, allow_pickle=False) as z:
                return z[key]
    with open(path, "rb") as f:
        f.seek(info.header_offset)
        local = f.read(30)  # the local file header: its name and extra field lengths follow
        name_len = int.from_bytes(local[26:28], "little")
        extra_len = int.from_bytes(local[28:30], "little")
        f.seek(info.header_offset + 30 + name_len + extra_len)
        version = np.lib.format.read_magic(f)
        read_header = (
            np.lib.format.read_array_header_1_0
            if version == (1, 0)
            else np.lib.format.read_array_header_2_0
        )
        shape, fortran, dtype = read_header(f)
        offset = f.tell()
    if dtype.hasobject:
        raise ValueError(f"{path.name}: {key} holds Python objects; it cannot be memory-mapped")
    if not shape or int(np.prod(shape)) == 0:
        return np.zeros(shape, dtype=dtype)
    return np.memmap(
        path, dtype=dtype, mode="r", offset=offset, shape=shape, order="F" if fortran else "C"
    )


def read_arrays_by_id(data: Path, file: str) -> dict[Hashable, np.ndarray]:
    """What :func:`write_arrays_by_id` wrote, by id."""
    with np.load(data / file, allow_pickle=False) as z:
        ids = ids_from_array(z["__ids__"])
        return {i: z[f"a{k}"] for k, i in enumerate(ids)}
