"""Reading the pieces of a YOLO / Ultralytics dataset: ``data.yaml`` (or a folder with
``classes.txt``), the image folders and lists, label files and their lines. Used by
:mod:`nbdiag.io.formats.yolo` (reading) and :mod:`nbdiag.io.formats._yolo_write` (writing)."""

from __future__ import annotations

import math
import os
import re
from collections.abc import Hashable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import yaml

from ...core import validation as v
from .._probe import PROGRESS_MIN_FILES, progress_bar
from ._parsed import relative_file_name

#: image suffixes Ultralytics reads (``ultralytics.data.utils.IMG_FORMATS``)
IMG_SUFFIXES = frozenset(
    {"bmp", "dng", "jpeg", "jpg", "mpo", "png", "tif", "tiff", "webp", "pfm", "heic"}
)
#: data.yaml keys that name splits (an nbdiag export lists its own under ``nbdiag: splits:``)
SPLIT_KEYS = ("train", "val", "validation", "test", "minival")
#: names of the dataset description looked for in a dataset folder
YAML_NAMES = ("data.yaml", "data.yml", "dataset.yaml", "dataset.yml")
#: ``nc`` above this (without ``names``) is refused rather than spelled out as class names
MAX_CLASSES = 100_000
#: normalised coordinates this far outside [0, 1] are clipped; farther out is a problem
COORD_TOLERANCE = 1e-3
#: from this many label files on, they are read by a thread pool
_PARALLEL_READS = 64
_CHUNK = 256

_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_yaml(path: str | os.PathLike[str]) -> Any:
    """The content of a YAML file; ``ValueError`` naming the file when it is not readable YAML."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as exc:
        raise ValueError(f"{os.fspath(path)}: cannot be read ({exc})") from exc
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{os.fspath(path)}: is not UTF-8 text ({exc})") from exc
    try:
        return yaml.load(text, Loader=_Loader)  # a safe loader
    except Exception as exc:  # YAMLError, and ValueError / RecursionError of odd scalars
        raise ValueError(f"{os.fspath(path)}: is not valid YAML ({exc})") from exc


def file_safe(sample_id: Hashable) -> str:
    """A sample id as a short, portable piece of a file name (as nbdiag's exports name
    in-memory images)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", str(sample_id))[:64] or "_"


@dataclass
class Layout:
    """Where a dataset's pieces are: root, class ids, and the folders / lists of each split."""

    source: str  # the data.yaml or the folder, for messages
    root: str
    names: dict[int, str]
    #: split name (None: no split) -> [(absolute path, recursive, how the source wrote it)]
    splits: dict[str | None, list[tuple[str, bool, str]]] = field(default_factory=dict)
    ids: dict[str, Any] = field(default_factory=dict)  # nbdiag_ids of an nbdiag export
    kpt: tuple[int, int] | None = None
    problems: list[str] = field(default_factory=list)  # loose problems found in the YAML


# ---------------------------------------------------------------------- layout
def read_layout(source: str | os.PathLike[str], names: Any) -> Layout:
    path = os.path.abspath(os.path.expanduser(os.fspath(source)))
    if os.path.isfile(path):
        return _from_yaml(path, names)
    if not os.path.isdir(path):
        raise FileNotFoundError(f"YOLO dataset {path!r} does not exist")
    for candidate in YAML_NAMES:
        if os.path.isfile(os.path.join(path, candidate)):
            return _from_yaml(os.path.join(path, candidate), names)
    return _from_folder(path, names)


def _from_yaml(path: str, names: Any) -> Layout:
    data = load_yaml(path)
    if not isinstance(data, dict):
        raise ValueError(f"{path}: a YOLO data.yaml must hold a mapping, not {type(data).__name__}")
    base = os.path.dirname(path)
    raw_root = data.get("path")
    if raw_root is not None and not isinstance(raw_root, str):
        raise ValueError(f"{path}: 'path' must be a folder (text), got {_show(raw_root)}")
    root = os.path.abspath(os.path.join(base, os.path.expanduser(raw_root or "")))
    if names is not None:
        ids = class_map(names, "names=")
    elif data.get("names") is not None:
        ids = class_map(data["names"], path)
    elif data.get("nc") is not None:
        ids = {i: f"class_{i}" for i in range(_count(data["nc"], path))}
    else:
        raise ValueError(f"{path}: no class names ('names' or 'nc'); pass names=")
    if names is None and data.get("nc") is not None and _count(data["nc"], path) != len(ids):
        raise ValueError(f"{path}: 'nc' is {data['nc']} but 'names' has {len(ids)} names")
    layout = Layout(source=path, root=root, names=ids, kpt=_kpt_shape(data.get("kpt_shape"), path))
    meta = data.get("nbdiag")
    keys = list(SPLIT_KEYS)
    if isinstance(meta, dict) and isinstance(meta.get("splits"), list):
        keys = [s for s in meta["splits"] if isinstance(s, str)]  # an nbdiag export's own
    for key in keys:
        value = data.get(key)
        if value is None or value == "" or value == []:
            continue
        entries = value if isinstance(value, list) else [value]
        if not all(isinstance(e, str) and e for e in entries):
            raise ValueError(
                f"{path}: split {key!r} must be a path or a list of paths: {_show(value)}"
            )
        layout.splits[key] = [_entry(e, root) for e in entries]
    if not layout.splits:
        raise ValueError(f"{path}: has no split key ({', '.join(SPLIT_KEYS)}) naming images")
    found = data.get("nbdiag_ids")
    if isinstance(found, dict):
        layout.ids = {k: x for k, x in found.items() if isinstance(k, str)}
    elif found is not None:
        layout.problems.append(f"{path}: 'nbdiag_ids' is not a mapping; ignored")
    return layout


def _entry(text: str, root: str) -> tuple[str, bool, str]:
    full = os.path.abspath(os.path.join(root, os.path.expanduser(text)))
    if kind(full) is None and text.startswith("../"):  # Ultralytics' fallback (Roboflow)
        full = os.path.abspath(os.path.join(root, text[3:]))
    return full, True, text


def _from_folder(folder: str, names: Any) -> Layout:
    images = os.path.join(folder, "images")
    if not os.path.isdir(images):
        raise ValueError(
            f"{folder}: not a YOLO dataset: no {' / '.join(YAML_NAMES[:2])} and no images/ folder"
        )
    if names is not None:
        ids = class_map(names, "names=")
    else:
        candidates = [os.path.join(folder, "classes.txt")]
        candidates.append(os.path.join(folder, "labels", "classes.txt"))
        listing = next((p for p in candidates if os.path.isfile(p)), None)
        if listing is None:
            raise ValueError(
                f"{folder}: no data.yaml and no classes.txt, so class ids have no names; "
                "pass names=[...] (in class-id order)"
            )
        ids = dict(enumerate(_class_lines(listing)))
    layout = Layout(source=folder, root=folder, names=ids)
    try:
        with os.scandir(images) as it:
            subs = sorted(e.name for e in it if e.is_dir() and not e.name.startswith("."))
    except OSError as exc:
        raise ValueError(f"{images}: cannot be listed ({exc})") from exc
    layout.splits = {s: [(os.path.join(images, s), True, f"images/{s}")] for s in subs}
    layout.splits[None] = [(images, False, "images")]
    return layout


def _class_lines(path: str) -> list[str]:
    with open(path, encoding="utf-8-sig", errors="replace") as f:
        lines = [line.strip() for line in f.read().splitlines()]
    while lines and not lines[-1]:
        lines.pop()
    empty = [n for n, line in enumerate(lines, start=1) if not line]
    if empty:
        raise ValueError(f"{path} line {empty[0]}: empty class name")
    if len(set(lines)) != len(lines):
        raise ValueError(f"{path}: duplicate class names")
    return lines


def _count(nc: Any, where: str) -> int:
    if isinstance(nc, bool) or not isinstance(nc, int) or not 0 <= nc <= MAX_CLASSES:
        raise ValueError(
            f"{where}: 'nc' must be a whole number from 0 to {MAX_CLASSES}: {_show(nc)}"
        )
    return nc


def _kpt_shape(raw: Any, where: str) -> tuple[int, int] | None:
    if raw is None:
        return None
    ok = isinstance(raw, list) and len(raw) == 2
    ok = ok and all(isinstance(x, int) and not isinstance(x, bool) for x in raw)
    ok = ok and 0 < raw[0] < 10_000 and raw[1] in (2, 3)
    if not ok:
        raise ValueError(f"{where}: 'kpt_shape' must be [keypoints, 2 or 3]: {_show(raw)}")
    return raw[0], raw[1]


# ---------------------------------------------------------------------- files
def walk(
    folder: str, suffixes: frozenset[str] | set[str], recursive: bool = True
) -> tuple[list[str], list[str]]:
    """Files under ``folder`` (hidden ones skipped) with one of ``suffixes``, sorted; and the
    folders that could not be listed."""
    out: list[str] = []
    errors: list[str] = []
    stack, seen = [folder], set()
    while stack:
        current = stack.pop()
        try:
            real = os.path.realpath(current)
            if real in seen:
                continue
            seen.add(real)
            with os.scandir(current) as it:
                entries = list(it)
        except (OSError, ValueError) as exc:
            errors.append(f"{current} ({exc})")
            continue
        for e in entries:
            if e.name.startswith("."):
                continue
            try:
                is_dir = e.is_dir()
            except OSError:
                is_dir = False
            if is_dir:
                if recursive:
                    stack.append(e.path)
            elif suffix(e.name) in suffixes:
                out.append(e.path)
    out.sort()
    return out, errors


def txt_files(folders: set[str]) -> set[str]:
    """Every ``.txt`` file directly in ``folders`` (one listing per folder)."""
    out: set[str] = set()
    for folder in folders:
        try:
            with os.scandir(folder) as it:
                out.update(e.path for e in it if e.name.endswith(".txt") and _is_file(e))
        except (OSError, ValueError):
            continue
    return out


def read_texts(paths: Sequence[str | None], progress: bool | None) -> list[Any]:
    """Each file's text (UTF-8, BOM dropped, undecodable bytes replaced), None for a None
    path, or the OSError reading it raised. Many files are read by a thread pool in chunks
    (small files: the waiting is on the disk, not on Python)."""
    todo = [k for k, p in enumerate(paths) if p is not None]
    out: list[Any] = [None] * len(paths)
    show = len(todo) >= PROGRESS_MIN_FILES if progress is None else bool(progress)
    chunks = [todo[i : i + _CHUNK] for i in range(0, len(todo), _CHUNK)]
    with progress_bar(len(todo), "reading YOLO labels", show, unit="file") as bar:
        if len(todo) < _PARALLEL_READS:
            results: Any = map(_read_many, ([paths[k] for k in c] for c in chunks))
        else:
            pool = ThreadPoolExecutor(max_workers=min(8, (os.cpu_count() or 1) + 4))
            results = pool.map(_read_many, [[paths[k] for k in c] for c in chunks])
        for chunk, texts in zip(chunks, results, strict=True):
            for k, text in zip(chunk, texts, strict=True):
                out[k] = text
            bar.update(len(chunk))
        if len(todo) >= _PARALLEL_READS:
            pool.shutdown()
    return out


def _read_many(paths: list[Any]) -> list[str | OSError]:
    return [_read_one(p) for p in paths]


def _read_one(path: str) -> str | OSError:
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8-sig", errors="replace")
    except (OSError, ValueError) as exc:
        return exc if isinstance(exc, OSError) else OSError(str(exc))


# ---------------------------------------------------------------------- lines
class BadLine(Exception):
    """A label line that cannot be used: ``kind`` (a problem kind) and ``reason``."""

    def __init__(self, kind: str, reason: str):
        super().__init__(reason)
        self.kind = kind
        self.reason = reason


#: a parsed line: class id, normalised x1, y1, x2, y2 (clipped to [0, 1]), score (NaN for a
#: label), polygon (flat normalised coordinates) or None, keypoints (flat) or None
Line = tuple[int, float, float, float, float, float, "list[float] | None", "list[float] | None"]


def _shape(n: int, kpt: tuple[int, int] | None, predictions: bool) -> str:
    """What a line of ``n`` values is: box, box+conf, poly, poly+conf or kpt."""
    if kpt is not None and n == 5 + kpt[0] * kpt[1] and not predictions:
        return "kpt"
    if n == 6:
        return "box+conf"
    if predictions:
        if n >= 8 and n % 2 == 0:
            return "poly+conf"
        what = "a box" if n == 5 else "a polygon" if n >= 7 and n % 2 else None
        if what:
            raise BadLine("malformed_annotation", f"{what} without a confidence (no score)")
        raise BadLine(
            "malformed_annotation",
            f"{n} values; expected 6 (class, box, confidence) or an even number of at least "
            "8 (class, polygon, confidence)",
        )
    if n == 5:
        return "box"
    if n >= 7 and n % 2:
        return "poly"
    raise BadLine(
        "malformed_annotation",
        f"{n} value{'s' if n != 1 else ''}; expected 5 (class and box), 6 (and a confidence) "
        "or an odd number of at least 7 (class and polygon)"
        + (f" or {5 + kpt[0] * kpt[1]} (class, box and keypoints)" if kpt else ""),
    )


def parse_line(parts: list[str], kpt: tuple[int, int] | None, predictions: bool = False) -> Line:
    """One label line's values (``line.split()``); :class:`BadLine` when it cannot be used.

    Coordinates up to :data:`COORD_TOLERANCE` outside [0, 1] are clipped; farther out, and
    negative sizes, are ``invalid_box``; wrong counts, text and non-finite numbers
    ``malformed_annotation``. The class id is not checked against the names here."""
    if len(parts) == 5 and not predictions:  # the common case, checked in one go
        try:
            c, cx, cy, w, h = map(float, parts)
        except ValueError:
            pass
        else:
            x1, y1, x2, y2 = cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2
            # NaN and infinities fail these comparisons and take the path that names them
            if c >= 0 and c.is_integer() and w >= 0 and h >= 0 and x1 >= 0 and y1 >= 0:
                if x2 <= 1 and y2 <= 1:
                    return int(c), x1, y1, x2, y2, math.nan, None, None
    shape = _shape(len(parts), kpt, predictions)
    try:
        values = [float(p) for p in parts]
    except ValueError:
        bad = next(p for p in parts if not _is_number(p))
        raise BadLine("malformed_annotation", f"{_short(bad)} is not a number") from None
    if not all(map(math.isfinite, values)):
        bad = next(p for p, x in zip(parts, values, strict=True) if not math.isfinite(x))
        raise BadLine("malformed_annotation", f"{_short(bad)} is not a finite number")
    c = values[0]
    if c < 0 or not c.is_integer():
        raise BadLine("malformed_annotation", f"class id {_short(parts[0])} is not a whole number")
    score = math.nan
    if shape.endswith("+conf"):
        score = values.pop()
    coords = values[1:]
    poly = kpts = None
    if shape.startswith("poly"):
        poly = coords
        xs, ys = coords[0::2], coords[1::2]
        x1, y1, x2, y2 = min(xs), min(ys), max(xs), max(ys)
        lo, hi = min(x1, y1), max(x2, y2)
    else:
        cx, cy, w, h = coords[:4]
        if w < 0 or h < 0:
            raise BadLine("invalid_box", f"negative box size (w={w:g}, h={h:g})")
        x1, y1, x2, y2 = cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2
        lo, hi = min(x1, y1), max(x2, y2)
        if shape == "kpt":
            kpts = coords[4:]
    if lo < -COORD_TOLERANCE or hi > 1 + COORD_TOLERANCE:
        raise BadLine(
            "invalid_box",
            f"coordinates outside [0, 1] (from {lo:.6g} to {hi:.6g}): not normalised?",
        )
    if poly is not None:
        poly = [min(max(c, 0.0), 1.0) for c in poly]
    clip = (min(max(x1, 0.0), 1.0), min(max(y1, 0.0), 1.0))
    x2, y2 = min(max(x2, 0.0), 1.0), min(max(y2, 0.0), 1.0)
    return int(c), clip[0], clip[1], x2, y2, score, poly, kpts


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _show(value: Any) -> str:
    """``repr`` of a value from a file, shortened for a message."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _short(text: str) -> str:
    return repr(text if len(text) <= 24 else text[:21] + "...")


def class_map(raw: Any, where: str) -> dict[int, str]:
    """``{class id: name}`` (ids ascending) from a names list or mapping; ``ValueError``
    naming ``where`` for anything else, negative or non-integer ids, duplicate names."""
    if isinstance(raw, Mapping):
        items = list(raw.items())
    elif isinstance(raw, (list, tuple)):
        items = list(enumerate(raw))
    else:
        raise ValueError(
            f"{where}: names must be a list or a mapping of class id to name, got {_show(raw)}"
        )
    out: dict[int, str] = {}
    for key, name in items:
        cid = _class_id(key)
        if cid is None:
            raise ValueError(f"{where}: class id {_show(key)} in names is not a whole number >= 0")
        if name is None or isinstance(name, (Mapping, list, tuple, set, bytes)):
            raise ValueError(f"{where}: the name of class {cid} is {_show(name)}, not a text")
        if cid in out:
            raise ValueError(f"{where}: class id {cid} appears twice in names")
        out[cid] = str(name)
    if len(set(out.values())) != len(out):
        seen: set[str] = set()
        dup = [n for n in out.values() if n in seen or seen.add(n)]  # type: ignore[func-returns-value]
        raise ValueError(f"{where}: duplicate class names {v.listed(dup)}")
    return dict(sorted(out.items()))


def _class_id(key: Any) -> int | None:
    if isinstance(key, bool):
        return None
    if isinstance(key, float) and key.is_integer():
        key = int(key)
    if isinstance(key, str):
        try:
            key = int(key.strip())
        except ValueError:
            return None
    return key if isinstance(key, int) and key >= 0 else None


def describe(ids: Mapping[int, str]) -> str:
    keys = sorted(ids)
    if not keys:
        return "names (there are none)"
    if keys == list(range(len(keys))):
        return f"names (0-{len(keys) - 1})"
    return f"names ({v.listed(keys)})"


# ---------------------------------------------------------------------- paths
def label_path(image: str) -> str:
    """Ultralytics' rule: the last ``/images/`` becomes ``/labels/``, the suffix ``.txt``."""
    sa, sb = f"{os.sep}images{os.sep}", f"{os.sep}labels{os.sep}"
    return os.path.splitext(sb.join(image.rsplit(sa, 1)))[0] + ".txt"


def rel(path: str, root: str) -> str:
    """``path`` relative to ``root``, with forward slashes (how sample ids name images)."""
    prefix = os.path.join(root, "")
    if path.startswith(prefix):  # the usual case, without relpath's normalising
        return path[len(prefix) :].replace(os.sep, "/")
    try:
        return relative_file_name(path, root)
    except ValueError:  # another drive (Windows)
        return path.replace(os.sep, "/")


def suffix(name: str) -> str:
    return name.rpartition(".")[2].lower() if "." in os.path.basename(name) else ""


def kind(path: str) -> str | None:
    try:
        return "dir" if os.path.isdir(path) else "file" if os.path.isfile(path) else None
    except (OSError, ValueError):
        return None


def _is_file(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_file()
    except OSError:
        return False
