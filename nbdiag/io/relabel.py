"""Re-import corrected labels: a COCO JSON, CSV or Parquet file (typically an edited
:func:`~nbdiag.io.export.export`) replaces the labels of the samples it covers; the previous
labels go to the label history, and a change report says what changed.

Semantics: every sample in the file gets exactly the labels the file gives it —

- classification (a CSV/Parquet with ``id`` and ``label``): the sample's label;
- detection (COCO, or CSV/Parquet with boxes): the sample's ground-truth boxes. An image in a
  COCO file with no annotation, or a CSV row with a sample id and no box, means "no boxes".

Boxes keep their object id (and so their tags) when they come back with it (``nbdiag_id`` in
COCO, ``object_id`` in CSV/Parquet, or a COCO annotation id equal to an integer object id);
boxes whose id was lost are matched to the sample's old boxes by IoU. Pre-labels written by
``export(predictions=...)`` are ignored unless ``prelabels="accept"``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Hashable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .. import validation as v
from ..store._codec import native

if TYPE_CHECKING:
    from ..dataset import Dataset

CORE_BOX_COLUMNS = ("sample_id", "label", "x", "y", "w", "h", "source", "score", "iscrowd")
REPORT_COLUMNS = [
    "level",
    "id",
    "sample_id",
    "change",
    "old_label",
    "new_label",
    "old_box",
    "new_box",
]
_FORMATS = {".json": "coco", ".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}


def import_labels(
    ds: Dataset,
    path: str | os.PathLike[str] | pd.DataFrame | pd.Series,
    format: str | None = None,
    *,
    prelabels: str = "ignore",
    allow_unlabelled: bool = False,
    match_iou: float = 0.5,
    box_tolerance: float = 0.5,
    dry_run: bool = False,
) -> pd.DataFrame:
    """Replace the labels of the samples in a corrected file and report what changed.

    Parameters
    ----------
    ds
        The dataset the file was exported from (or whose ids / image files it names).
    path
        A COCO instances JSON, a CSV or a Parquet file; or the labels in memory: a Series of
        labels indexed by sample id (e.g. answers from an annotator, or a model's
        ``suggested_label``), or a DataFrame shaped like a CSV export (``id`` and ``label``
        columns; boxes: ``sample_id``, ``label``, ``x``, ``y``, ``w``, ``h``, ...). An
        in-memory box frame changes the boxes it names by ``object_id`` (a column, or the
        index as in ``ds.objects`` rows) and adds those without one; the images' other boxes
        stay (removing boxes takes a file). Recorded in the history with the source
        ``"<Series>"`` / ``"<DataFrame>"``.
    format
        ``"coco"``, ``"csv"`` or ``"parquet"`` (default: from the file's extension; ignored
        for a Series or a DataFrame).
    prelabels
        ``"ignore"`` (default): skip pre-labels that still carry the export's marks
        (``nbdiag_prelabel`` in COCO, a ``source`` other than ``"gt"`` in CSV/Parquet);
        ``"accept"``: take them as labels.
    allow_unlabelled
        Classification: an empty label removes the sample's label (otherwise an error).
    match_iou
        Boxes that came back without their id are matched to the sample's old boxes with at
        least this IoU (greedy, highest first); unmatched ones are added / removed.
    box_tolerance
        Coordinates differing by at most this many pixels count as unchanged (annotation tools
        round coordinates).
    dry_run
        Only report the changes; change nothing.

    Returns
    -------
    DataFrame
        One row per change: ``level`` (sample/object), ``id``, ``sample_id``, ``change``
        (``relabelled``, ``labelled``, ``unlabelled`` for samples; ``relabelled``, ``moved``,
        ``relabelled+moved``, ``added``, ``removed`` for boxes), ``old_label``, ``new_label``,
        ``old_box``, ``new_box``. ``attrs``: ``batch`` (history batch, None on a dry run),
        ``samples`` (samples covered by the file), ``unchanged`` (items left as they were).

    Raises ``ValueError`` naming the offending row, id or label for unknown ids, unknown class
    names, duplicate ids, malformed boxes and files of an unrecognised shape; nothing is changed
    then.

    Examples
    --------
    >>> ds.export(ds.tagged("label_error"), format="csv", path="fix.csv")  # doctest: +SKIP
    >>> changes = ds.import_labels("fix.csv")       # after editing        # doctest: +SKIP
    >>> ds.label_history                                                   # doctest: +SKIP
    >>> ds.import_labels(pd.Series({17: "cat", 42: "dog"}))                # doctest: +SKIP
    """
    if prelabels not in ("ignore", "accept"):
        raise ValueError(f"prelabels must be 'ignore' or 'accept', got {prelabels!r}")
    if isinstance(path, pd.Series | pd.DataFrame):
        source = f"<{type(path).__name__}>"
        table = _frame_of(path, ds)
        result = _table_changes(
            ds, table, prelabels == "accept", allow_unlabelled, match_iou, box_tolerance, source
        )
        return _apply(ds, result, source, dry_run)
    path = Path(os.path.expanduser(os.fspath(path)))
    if format is None:
        format = _FORMATS.get(path.suffix.lower())
        if format is None:
            raise ValueError(
                f"cannot tell the format of {os.fspath(path)!r} from its extension; "
                "pass format='coco', 'csv' or 'parquet'"
            )
    if format not in ("coco", "csv", "parquet"):
        raise ValueError(f"format must be 'coco', 'csv' or 'parquet', got {format!r}")
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {os.fspath(path)!r}")
    source = os.fspath(path.resolve())
    if format == "coco":
        covered, boxes = _read_coco(ds, path, prelabels == "accept")
        result = _box_changes(ds, covered, boxes, match_iou, box_tolerance, source)
    else:
        table = _read_table(path, format)
        result = _table_changes(
            ds, table, prelabels == "accept", allow_unlabelled, match_iou, box_tolerance, source
        )
    return _apply(ds, result, source, dry_run)


def _table_changes(
    ds: Dataset,
    table: pd.DataFrame,
    accept_prelabels: bool,
    allow_unlabelled: bool,
    match_iou: float,
    box_tolerance: float,
    source: str,
) -> tuple[pd.DataFrame, Any]:
    """The changes a CSV-shaped table asks for: boxes when it has box columns, else labels."""
    if {"x", "y", "w", "h"} <= set(table.columns):
        covered, boxes = _boxes_from_table(ds, table, accept_prelabels, source)
        return _box_changes(ds, covered, boxes, match_iou, box_tolerance, source)
    return _sample_changes(ds, table, allow_unlabelled, source)


def _apply(
    ds: Dataset, result: tuple[pd.DataFrame, Any], source: str, dry_run: bool
) -> pd.DataFrame:
    """Apply the changes (unless ``dry_run``) and record them as one history batch."""
    report, apply = result
    report.attrs["batch"] = None
    if not dry_run and len(report):
        from ..store._project import commit_label_changes, next_batch, refuse_if_stale

        refuse_if_stale(ds, "import_labels")  # no change without its history

        batch = next_batch(ds)
        created = pd.Timestamp.now(tz="UTC")
        before = ds._samples["label"].copy(), ds._objects.copy()
        try:
            records = apply()
            for r in records:
                r.update(batch=batch, created=created, source=source)
            commit_label_changes(ds, records)
        except BaseException:
            ds._samples["label"], ds._objects = before  # the history could not be written: undo
            raise
        report.attrs["batch"] = batch
    return report


# ---------------------------------------------------------------------- reading
def _frame_of(labels: pd.Series | pd.DataFrame, ds: Dataset) -> pd.DataFrame:
    """Labels in memory as the table a CSV file would give.

    A box frame names the boxes it changes (``object_id``, as a column or as the index named
    ``object_id`` of ``ds.objects`` rows, e.g. ``link.selected_objects``); the other
    ground-truth boxes of its images are kept as they are
    (a file, in contrast, gives each image exactly its boxes)."""
    if isinstance(labels, pd.Series):
        return pd.DataFrame(
            {"id": labels.index.to_numpy(dtype=object), "label": labels.to_numpy(dtype=object)}
        )
    table = labels.copy()
    table.columns = [str(c).strip() for c in table.columns]
    if not {"x", "y", "w", "h"} <= set(table.columns):
        if not {"id", "sample_id"} & set(table.columns) and "label" in table.columns:
            table = table.reset_index(names="id")  # ids in the index, e.g. a `selected` frame
        return table
    if "object_id" not in table.columns and table.index.name == "object_id":
        table = table.reset_index()  # rows of ds.objects (e.g. `selected_objects`): their ids
    if "sample_id" not in table.columns:
        return table  # the error names the missing column
    gt = ds.gt_objects
    named = table["object_id"].dropna() if "object_id" in table.columns else pd.Series([])
    keep = gt[gt["sample_id"].isin(table["sample_id"]) & ~gt.index.isin(named)]
    if len(keep):
        kept = keep.reset_index(names="object_id")
        kept["label"] = kept["label"].astype(object)
        kept["source"] = "gt"
        columns = [
            c
            for c in ("object_id", "sample_id", "label", "x", "y", "w", "h", "iscrowd", "source")
            if c in kept.columns
        ]
        table = pd.concat([table, kept[columns]], ignore_index=True)
    return table


def _read_table(path: Path, format: str) -> pd.DataFrame:
    if format == "csv":
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
        table = table.replace({"": None})
    else:
        table = pd.read_parquet(path)
    table.columns = [str(c).strip() for c in table.columns]
    return table


class _IdMap:
    """Find dataset ids from values read from a file (exact, or by their text)."""

    def __init__(self, index: pd.Index, what: str):
        self.index = index
        self.what = what
        self.by_text: dict[str, Any] = {}
        for i in index:
            key = str(native(i))
            self.by_text[key] = _AMBIGUOUS if key in self.by_text else i

    def get(self, value: Any) -> Any:
        value = native(value)
        try:
            if value in self.index:
                return value
        except TypeError:
            return None
        found = self.by_text.get(str(value).strip())
        if found is _AMBIGUOUS:
            raise ValueError(
                f"{self.what} id {value!r} in the file matches several ids of the dataset "
                "(e.g. 1 and '1'); make the dataset's ids unambiguous"
            )
        if found is None and isinstance(value, float) and value.is_integer():
            return self.get(int(value))
        return found


_AMBIGUOUS = object()


def _check_class(label: Any, ds: Dataset, where: str) -> str:
    name = str(native(label)).strip()
    if name not in ds.class_names:
        raise ValueError(
            f"unknown class {name!r} in {where}; the dataset's classes are "
            f"{ds.class_names[:20]} (class names are fixed: add the class to the dataset first)"
        )
    return name


def _blank(x: Any) -> bool:
    return (
        x is None
        or (isinstance(x, float) and np.isnan(x))
        or (isinstance(x, str) and not x.strip())
    )


# ---------------------------------------------------------------------- classification
def _sample_changes(
    ds: Dataset, table: pd.DataFrame, allow_unlabelled: bool, source: str
) -> tuple[pd.DataFrame, Any]:
    id_col = "id" if "id" in table.columns else "sample_id" if "sample_id" in table else None
    if id_col is None or "label" not in table.columns:
        raise ValueError(
            f"{source}: a label file needs an 'id' (or 'sample_id') column and a 'label' column "
            f"(boxes: 'x', 'y', 'w', 'h' too); found columns {list(table.columns)[:20]}"
        )
    ids = _IdMap(ds.samples.index, "sample")
    resolved: list[Hashable] = []
    unknown = []
    for k, raw in enumerate(table[id_col]):
        sid = None if _blank(raw) else ids.get(raw)
        if sid is None:
            unknown.append(f"row {k + 2}: {raw!r}" if not _blank(raw) else f"row {k + 2}: empty")
        resolved.append(sid)
    if unknown:
        raise ValueError(
            f"unknown sample ids (not in the dataset) in {source}: {', '.join(unknown[:5])}"
            + (f" (and {len(unknown) - 5} more)" if len(unknown) > 5 else "")
        )
    dup = pd.Index(resolved)[pd.Index(resolved).duplicated()].unique()
    if len(dup):
        raise ValueError(f"duplicate sample ids in {source}: {v.listed(dup)}")
    new_labels: list[str | None] = []
    empty = []
    for k, (sid, raw) in enumerate(zip(resolved, table["label"], strict=True)):
        if _blank(raw):
            empty.append(sid)
            new_labels.append(None)
        else:
            new_labels.append(_check_class(raw, ds, f"row {k + 2} (sample {v.show(sid)})"))
    if empty and not allow_unlabelled:
        raise ValueError(
            f"rows with an empty label in {source}, for samples {v.listed(empty)}; pass "
            "allow_unlabelled=True to remove those samples' labels"
        )
    old = ds.samples["label"].reindex(resolved).astype(object)
    rows = []
    for sid, before, after in zip(resolved, old, new_labels, strict=True):
        before = None if _blank(before) else str(before)
        if before == after:
            continue
        change = "labelled" if before is None else "unlabelled" if after is None else "relabelled"
        rows.append((sid, before, after, change))
    report = pd.DataFrame(
        {
            "level": "sample",
            "id": [r[0] for r in rows],
            "sample_id": [r[0] for r in rows],
            "change": [r[3] for r in rows],
            "old_label": [r[1] for r in rows],
            "new_label": [r[2] for r in rows],
            "old_box": None,
            "new_box": None,
        },
        columns=REPORT_COLUMNS,
    )
    report.attrs.update(samples=len(resolved), unchanged=len(resolved) - len(rows))

    def apply() -> list[dict[str, Any]]:
        if rows:
            changed = [r[0] for r in rows]
            labels = ds._samples["label"].astype(object)
            labels.loc[changed] = [r[2] for r in rows]
            ds._samples["label"] = ds._categorical(labels.where(labels.notna(), np.nan))
        return [
            {
                "level": "sample",
                "id": r[0],
                "sample_id": r[0],
                "change": r[3],
                "old": None if r[1] is None else {"label": r[1]},
                "new": None if r[2] is None else {"label": r[2]},
            }
            for r in rows
        ]

    return report, apply


# ---------------------------------------------------------------------- detection: reading
def _read_coco(
    ds: Dataset, path: Path, accept_prelabels: bool
) -> tuple[list[Hashable], pd.DataFrame]:
    from .coco import _bbox_array

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{os.fspath(path)!r} is not valid JSON: {exc}") from exc
    if not isinstance(data, Mapping) or not isinstance(data.get("images"), list):
        raise ValueError(f"{os.fspath(path)!r} is not a COCO instances file (no 'images' list)")
    cats = {}
    for c in data.get("categories") or []:
        if not isinstance(c, Mapping) or "id" not in c or "name" not in c:
            raise ValueError(f"malformed COCO category {c!r} in {os.fspath(path)!r}")
        cats[c["id"]] = c
    info = data.get("info") if isinstance(data.get("info"), Mapping) else {}
    root = (info.get("nbdiag") or {}).get("image_root") if isinstance(info, Mapping) else None
    resolver = _ImageResolver(ds, path.parent, root)
    image_to_sample: dict[Any, Hashable] = {}
    unresolved = []
    for img in data["images"]:
        if not isinstance(img, Mapping) or "id" not in img:
            raise ValueError(f"malformed COCO image {img!r} in {os.fspath(path)!r}")
        sid = resolver.resolve(img)
        if sid is None:
            unresolved.append(f"image {img['id']!r} ({img.get('file_name')!r})")
        image_to_sample[img["id"]] = sid
    if unresolved:
        raise ValueError(
            f"COCO images that match no sample of the dataset (by nbdiag_id, id or file name) "
            f"in {os.fspath(path)!r}: {', '.join(unresolved[:5])}"
            + (f" (and {len(unresolved) - 5} more)" if len(unresolved) > 5 else "")
        )
    covered = list(dict.fromkeys(image_to_sample.values()))
    if len(covered) != len(image_to_sample):
        seen: dict[Hashable, Any] = {}
        for iid, sid in image_to_sample.items():
            if sid in seen:
                raise ValueError(
                    f"COCO images {seen[sid]!r} and {iid!r} are both sample {v.show(sid)}"
                )
            seen[sid] = iid
    anns = [
        a
        for a in data.get("annotations") or []
        if accept_prelabels or not (isinstance(a, Mapping) and a.get("nbdiag_prelabel"))
    ]
    rows = []
    for k, a in enumerate(anns):
        if not isinstance(a, Mapping) or "image_id" not in a or "category_id" not in a:
            raise ValueError(f"malformed COCO annotation at position {k}: {a!r}")
        what = f"COCO annotation {a.get('id', k)!r}"
        if a["image_id"] not in image_to_sample:
            raise ValueError(f"{what} refers to image id {a['image_id']!r}, not in 'images'")
        if a["category_id"] not in cats:
            raise ValueError(
                f"{what} refers to category id {a['category_id']!r}, not in 'categories'"
            )
        label = _check_class(
            cats[a["category_id"]]["name"], ds, f"{what} (category {a['category_id']!r})"
        )
        rows.append(
            {
                "sample_id": image_to_sample[a["image_id"]],
                "label": label,
                "bbox": a.get("bbox"),
                "iscrowd": bool(a.get("iscrowd", 0)),
                "area": a.get("area"),
                "hint": a.get("nbdiag_id", a.get("id")),
                "what": what,
            }
        )
    index = pd.RangeIndex(len(rows))
    box = _bbox_array(
        [r["bbox"] for r in rows],
        "COCO annotation",
        pd.Index([r["what"] for r in rows]),
        os.fspath(path),
    )
    boxes = pd.DataFrame(
        {
            "sample_id": pd.Series([r["sample_id"] for r in rows], index=index, dtype=object),
            "label": [r["label"] for r in rows],
            "x": box[:, 0],
            "y": box[:, 1],
            "w": box[:, 2],
            "h": box[:, 3],
            "iscrowd": [r["iscrowd"] for r in rows],
            "area": [np.nan if _blank(r["area"]) else float(r["area"]) for r in rows],
            "hint": pd.Series([r["hint"] for r in rows], index=index, dtype=object),
            "what": [r["what"] for r in rows],
        },
        index=index,
    )
    return covered, boxes


class _ImageResolver:
    """COCO image -> sample id: ``nbdiag_id``, then integer sample ids, then the file name."""

    def __init__(self, ds: Dataset, json_dir: Path, root: str | None):
        self.ids = _IdMap(ds.samples.index, "sample")
        self.int_ids = pd.api.types.is_integer_dtype(ds.samples.index.dtype)
        self.roots = [Path(root)] if root else []
        self.roots.append(json_dir)
        paths = ds.samples["path"].dropna()
        self.by_path = {os.path.normcase(os.path.abspath(p)): i for i, p in paths.items()}
        by_name: dict[str, Any] = {}
        for i, p in paths.items():
            name = os.path.basename(p)
            by_name[name] = _AMBIGUOUS if name in by_name else i
        self.by_name = by_name

    def resolve(self, img: Mapping[str, Any]) -> Hashable | None:
        if "nbdiag_id" in img:
            sid = self.ids.get(img["nbdiag_id"])
            if sid is not None:
                return sid
        file = img.get("file_name")
        if file:
            for root in self.roots:
                full = os.path.normcase(os.path.abspath(os.path.join(root, file)))
                if full in self.by_path:
                    return self.by_path[full]
        if self.int_ids and not isinstance(img["id"], bool):
            sid = self.ids.get(img["id"])
            if sid is not None:
                return sid
        if file:
            found = self.by_name.get(os.path.basename(file))
            if found is not None and found is not _AMBIGUOUS:
                return found
        return None


def _boxes_from_table(
    ds: Dataset, table: pd.DataFrame, accept_prelabels: bool, source: str
) -> tuple[list[Hashable], pd.DataFrame]:
    if "sample_id" not in table.columns:
        raise ValueError(
            f"{source}: a boxes file needs a 'sample_id' column (and 'label', 'x', 'y', 'w', "
            f"'h'); found columns {list(table.columns)[:20]}"
        )
    sids = _IdMap(ds.samples.index, "sample")
    resolved = []
    unknown = []
    for k, raw in enumerate(table["sample_id"]):
        sid = None if _blank(raw) else sids.get(raw)
        if sid is None:
            unknown.append(f"row {k + 2}: {raw!r}")
        resolved.append(sid)
    if unknown:
        raise ValueError(
            f"unknown sample ids (not in the dataset) in {source}: {', '.join(unknown[:5])}"
            + (f" (and {len(unknown) - 5} more)" if len(unknown) > 5 else "")
        )
    covered = list(dict.fromkeys(resolved))
    table = table.assign(_sid=resolved, _row=np.arange(len(table)) + 2)
    if "source" in table.columns and not accept_prelabels:
        src = table["source"].map(lambda x: "gt" if _blank(x) else str(x).strip())
        table = table[(src == "gt").to_numpy()]
    coords = table[["x", "y", "w", "h"]]
    blank = coords.map(_blank).all(axis=1).to_numpy().copy()
    if "label" in table.columns:
        blank = blank & table["label"].map(_blank).to_numpy()
    rows = table[~blank]
    labels = []
    for r, raw in zip(
        rows["_row"], rows["label"] if "label" in rows else [None] * len(rows), strict=True
    ):
        if _blank(raw):
            raise ValueError(f"row {r} of {source} has a box but no label")
        labels.append(_check_class(raw, ds, f"row {r}"))
    try:
        box = rows[["x", "y", "w", "h"]].astype(float).to_numpy()
    except (TypeError, ValueError):
        bad = [
            r
            for r, vals in zip(rows["_row"], rows[["x", "y", "w", "h"]].to_numpy(), strict=True)
            if not _numeric(vals)
        ]
        raise ValueError(f"non-numeric box coordinates in {source}, rows {bad[:5]}") from None
    bad = ~np.isfinite(box).all(axis=1) | (box[:, 2] < 0) | (box[:, 3] < 0)
    if bad.any():
        raise ValueError(
            f"missing, non-finite or negative box coordinates in {source}, rows "
            f"{list(rows['_row'].to_numpy()[bad][:5])}"
        )
    iscrowd = (
        rows["iscrowd"].map(lambda x: str(x).strip().lower() in ("1", "true", "yes")).to_numpy()
        if "iscrowd" in rows
        else np.zeros(len(rows), bool)
    )
    hints = rows["object_id"] if "object_id" in rows else pd.Series(None, index=rows.index)
    index = pd.RangeIndex(len(rows))
    boxes = pd.DataFrame(
        {
            "sample_id": pd.Series(list(rows["_sid"]), index=index, dtype=object),
            "label": labels,
            "x": box[:, 0],
            "y": box[:, 1],
            "w": box[:, 2],
            "h": box[:, 3],
            "iscrowd": iscrowd,
            "area": np.nan,
            "hint": pd.Series([None if _blank(h) else h for h in hints], index=index, dtype=object),
            "what": [f"row {r}" for r in rows["_row"]],
        },
        index=index,
    )
    return covered, boxes


def _numeric(values: Any) -> bool:
    try:
        np.asarray(values, dtype=float)
        return True
    except (TypeError, ValueError):
        return False


# ---------------------------------------------------------------------- detection: diff
def _iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    ax0, ay0, ax1, ay1 = a[:, 0], a[:, 1], a[:, 0] + a[:, 2], a[:, 1] + a[:, 3]
    bx0, by0, bx1, by1 = b[:, 0], b[:, 1], b[:, 0] + b[:, 2], b[:, 1] + b[:, 3]
    iw = np.clip(np.minimum(ax1[:, None], bx1) - np.maximum(ax0[:, None], bx0), 0, None)
    ih = np.clip(np.minimum(ay1[:, None], by1) - np.maximum(ay0[:, None], by0), 0, None)
    inter = iw * ih
    union = (a[:, 2] * a[:, 3])[:, None] + b[:, 2] * b[:, 3] - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(union > 0, inter / union, 0.0)


def _state(row: Any) -> dict[str, Any]:
    return {
        "label": None if _blank(row["label"]) else str(row["label"]),
        "box": [float(row[c]) for c in ("x", "y", "w", "h")],
        "iscrowd": bool(row["iscrowd"]),
    }


def _box_changes(
    ds: Dataset,
    covered: list[Hashable],
    boxes: pd.DataFrame,
    match_iou: float,
    tolerance: float,
    source: str,
) -> tuple[pd.DataFrame, Any]:
    gt = ds.gt_objects
    old = gt[gt["sample_id"].isin(covered)]
    gt_ids = _IdMap(gt.index, "object")
    old_by_sample = {sid: frame for sid, frame in old.groupby("sample_id", sort=False)}
    new_by_sample = {sid: frame for sid, frame in boxes.groupby("sample_id", sort=False)}
    pairs: list[tuple[Hashable, int]] = []  # (old object id, new row)
    added: list[int] = []
    removed: list[Hashable] = []
    for sid in covered:
        o = old_by_sample.get(sid, old.iloc[:0])
        n = new_by_sample.get(sid, boxes.iloc[:0])
        free_old = list(o.index)
        rest = []
        for r, hint in zip(n.index, n["hint"], strict=True):
            oid = None if _blank(hint) else gt_ids.get(hint)
            if oid is not None and oid in free_old:
                pairs.append((oid, r))
                free_old.remove(oid)
            else:
                rest.append(r)
        if rest and free_old:
            iou = _iou(
                n.loc[rest, ["x", "y", "w", "h"]].to_numpy(float),
                o.loc[free_old, ["x", "y", "w", "h"]].to_numpy(float),
            )
            taken_new, taken_old = set(), set()
            for flat in np.argsort(-iou, axis=None, kind="stable"):
                i, j = divmod(int(flat), iou.shape[1])
                if iou[i, j] < match_iou:
                    break
                if i in taken_new or j in taken_old:
                    continue
                taken_new.add(i)
                taken_old.add(j)
                pairs.append((free_old[j], rest[i]))
            rest = [r for k, r in enumerate(rest) if k not in taken_new]
            free_old = [oid for k, oid in enumerate(free_old) if k not in taken_old]
        added.extend(rest)
        removed.extend(free_old)

    rows: list[dict[str, Any]] = []
    updates: list[tuple[Hashable, int, str]] = []
    for oid, r in pairs:
        before, after = _state(old.loc[oid]), _state(boxes.loc[r])
        relabelled = before["label"] != after["label"]
        moved = (
            np.max(np.abs(np.subtract(before["box"], after["box"]))) > tolerance
            or before["iscrowd"] != after["iscrowd"]
        )
        if not (relabelled or moved):
            continue
        change = (
            "relabelled+moved" if relabelled and moved else "relabelled" if relabelled else "moved"
        )
        updates.append((oid, r, change))
        rows.append(
            {
                "id": oid,
                "sample_id": old.at[oid, "sample_id"],
                "change": change,
                "old": before,
                "new": after,
            }
        )
    for oid in removed:
        rows.append(
            {
                "id": oid,
                "sample_id": old.at[oid, "sample_id"],
                "change": "removed",
                "old": _state(old.loc[oid]),
                "new": None,
            }
        )
    new_ids = _new_object_ids(ds, boxes, added)
    for r, oid in zip(added, new_ids, strict=True):
        rows.append(
            {
                "id": oid,
                "sample_id": boxes.at[r, "sample_id"],
                "change": "added",
                "old": None,
                "new": _state(boxes.loc[r]),
            }
        )

    report = pd.DataFrame(
        {
            "level": "object",
            "id": pd.Series([r["id"] for r in rows], dtype=object),
            "sample_id": pd.Series([r["sample_id"] for r in rows], dtype=object),
            "change": [r["change"] for r in rows],
            "old_label": [(r["old"] or {}).get("label") for r in rows],
            "new_label": [(r["new"] or {}).get("label") for r in rows],
            "old_box": [None if r["old"] is None else tuple(r["old"]["box"]) for r in rows],
            "new_box": [None if r["new"] is None else tuple(r["new"]["box"]) for r in rows],
        },
        columns=REPORT_COLUMNS,
    )
    report.attrs.update(samples=len(covered), unchanged=len(pairs) - len(updates))

    # validate the new boxes now (sizes, classes), so that a bad file changes nothing
    new_rows = _object_rows(ds, boxes, added, new_ids)
    if len(new_rows):
        ds._check_objects(ds._normalise_objects(new_rows.copy()))
    if updates:
        moved_rows = boxes.loc[[r for _, r, _ in updates], ["sample_id", "x", "y", "w", "h"]]
        moved_rows.index = pd.Index([oid for oid, _, _ in updates], dtype=object)
        v.check_boxes(moved_rows, ds.samples[["width", "height"]], what="imported box")

    def apply() -> list[dict[str, Any]]:
        objects = ds._objects.drop(index=removed) if removed else ds._objects.copy()
        # float columns computed from the old box (metrics) no longer hold; area is recomputed
        extra = [
            c
            for c in objects.columns
            if c not in CORE_BOX_COLUMNS and pd.api.types.is_float_dtype(objects[c].dtype)
        ]
        for oid, r, _change in updates:
            src = boxes.loc[r]
            for col in ("x", "y", "w", "h"):
                objects.at[oid, col] = float(src[col])
            objects.at[oid, "iscrowd"] = bool(src["iscrowd"])
            for col in extra:
                objects.at[oid, col] = np.nan if col != "area" else _area(src)
        if updates:
            labels = objects["label"].astype(object)
            labels.loc[[u[0] for u in updates]] = [str(boxes.at[r, "label"]) for _, r, _ in updates]
            objects["label"] = ds._categorical(labels)
        if len(new_rows):
            norm = ds._normalise_objects(new_rows.copy())
            objects = pd.concat([objects, norm])
            objects["label"] = ds._categorical(objects["label"].astype(object))
        objects.index.name = "object_id"
        ds._objects = objects
        return [{"level": "object", **r} for r in rows]

    return report, apply


def _area(src: pd.Series) -> float:
    return float(src["area"]) if not _blank(src["area"]) else float(src["w"] * src["h"])


def _new_object_ids(ds: Dataset, boxes: pd.DataFrame, rows: list[int]) -> list[Hashable]:
    """Ids for added boxes: the file's own id when it is free, else fresh ones of the same
    kind as the dataset's ground-truth ids."""
    used = set(ds.objects.index)
    gt = ds.gt_objects.index
    ints = len(gt) == 0 or all(isinstance(native(x), int) for x in gt)
    next_int = (
        max([int(native(x)) for x in ds.objects.index if isinstance(native(x), int)] or [0]) + 1
    )
    out: list[Hashable] = []
    token = pd.Timestamp.now(tz="UTC").strftime("%Y%m%d%H%M%S")
    for k, r in enumerate(rows):
        hint = native(boxes.at[r, "hint"])
        if ints and isinstance(hint, int) and not isinstance(hint, bool) and hint not in used:
            oid: Hashable = hint
        elif ints:
            while next_int in used:
                next_int += 1
            oid = next_int
        else:
            oid = f"gt:{token}:{k}"
        used.add(oid)
        out.append(oid)
    return out


def _object_rows(
    ds: Dataset, boxes: pd.DataFrame, rows: list[int], ids: list[Hashable]
) -> pd.DataFrame:
    part = boxes.loc[rows]
    frame = pd.DataFrame(
        {
            "sample_id": part["sample_id"].to_numpy(dtype=object),
            "label": part["label"].to_numpy(dtype=object),
            "x": part["x"].to_numpy(float),
            "y": part["y"].to_numpy(float),
            "w": part["w"].to_numpy(float),
            "h": part["h"].to_numpy(float),
            "source": "gt",
            "score": np.nan,
            "iscrowd": part["iscrowd"].to_numpy(bool),
        },
        index=pd.Index(ids, dtype=object, name="object_id"),
    )
    if "area" in ds.objects.columns:
        frame["area"] = [_area(part.loc[r]) for r in rows]
    return frame
