"""Reading a COCO instances file: its images resolved to samples (``nbdiag_id``, integer ids,
file names), its annotations as the normalised boxes frame that
:func:`~nbdiag.io.relabel._boxes._box_changes` compares with the dataset."""

from __future__ import annotations

import json
import os
from collections.abc import Hashable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ...core import validation as v
from ._resolve import _ImageResolver
from ._values import _blank, _check_class

if TYPE_CHECKING:
    from ...core import DatasetCore


def _read_coco(
    ds: DatasetCore, path: Path, accept_prelabels: bool
) -> tuple[list[Hashable], pd.DataFrame]:
    from ..coco import _bbox_array

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
