"""COCO ``segmentation`` read into ``objects["mask"]``: annotations (a bad one is a data issue
of its image, the box kept) and results (a bad one is an error naming it)."""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .._optional import optional
from ..core import masks as m
from ..core import validation as v

if TYPE_CHECKING:
    from ..core import DatasetCore

#: ``samples.issues`` kind of an annotation whose segmentation cannot be read (box kept)
INVALID_MASK = "invalid_mask"
#: masks per ``pycocotools.mask.area`` call (its numpy-2 build overflows a uint8 from 256 on)
CHUNK = 255


def mask_geometry(
    masks: pd.Series,
    image_id: pd.Series,
    samples: pd.DataFrame,
    area: np.ndarray,
    boxes: np.ndarray,
    no_box: np.ndarray,
) -> None:
    """Set ``area`` (in place) to the mask area of every row with a mask, and ``boxes`` to the
    mask's bounding box where ``no_box``; one pycocotools call per image size and chunk."""
    has = masks.notna().to_numpy()
    if not has.any():
        return
    sizes = samples[["height", "width"]].reindex(pd.Index(image_id, dtype=object)).to_numpy()
    rows = np.flatnonzero(has)
    keys, inv = np.unique(sizes[rows], axis=0, return_inverse=True)
    values = masks.to_numpy(dtype=object)
    for k, (h, w) in enumerate(keys):
        sel = rows[inv.reshape(-1) == k]
        for c in range(0, len(sel), CHUNK):
            part = sel[c : c + CHUNK]
            counts = list(values[part])
            area[part] = m.area(counts, int(h), int(w))
            nb = part[no_box[part]]
            if len(nb):
                boxes[nb] = m.bbox(list(values[nb]), int(h), int(w))


def want_masks(anns: list[Any], masks: bool | None) -> bool:
    """Whether to read the annotations' masks (``masks`` as :func:`from_coco` documents)."""
    if masks is False:
        return False
    if masks is True:
        m.mask_api()  # ImportError naming the extra
        return True
    if not any(isinstance(a, Mapping) and a.get("segmentation") for a in anns):
        return False
    if optional("pycocotools.mask") is None:
        warnings.warn(
            "the COCO annotations have segmentation masks, which were skipped: reading them "
            "needs pycocotools (pip install 'nbdiag[masks]'); pass masks=False to silence this",
            stacklevel=3,
        )
        return False
    return True


def with_masks(anns: list[Any], objects: pd.DataFrame, samples: pd.DataFrame) -> pd.DataFrame:
    """``objects`` with a ``mask`` column read from the annotations' ``segmentation``; an
    annotation whose segmentation cannot be read keeps its box, without a mask, and its image
    gets the ``invalid_mask`` issue and the reason in ``annotation_problems``."""
    sizes = samples[["height", "width"]].reindex(pd.Index(objects["sample_id"], dtype=object))
    out: list[str | None] = []
    problems: list[tuple[Any, str]] = []
    for oid, a, (h, w) in zip(objects.index, anns, sizes.to_numpy(), strict=True):
        seg = a.get("segmentation")
        if seg is None or (isinstance(seg, (list, dict)) and not seg):
            out.append(None)
            continue
        what = f"COCO annotation {v.show(oid)}"
        try:
            out.append(m.to_rle(seg, h if np.isfinite(h) else None, w, what))
        except (ValueError, TypeError) as exc:
            out.append(None)
            problems.append((a["image_id"], str(exc)))
    objects = objects.copy()
    objects[m.MASK] = pd.Series(out, index=objects.index, dtype=object)
    if problems:
        record_mask_problems(samples, problems)
    no_area = np.array(["area" not in a for a in anns], dtype=bool) & objects[m.MASK].notna()
    for i in np.flatnonzero(no_area.to_numpy()):  # COCO's area of a mask is its pixel count
        h, w = sizes.iloc[i]
        objects.iloc[i, objects.columns.get_loc("area")] = float(
            m.area([objects[m.MASK].iloc[i]], int(h), int(w))[0]
        )
    return objects


def record_mask_problems(samples: pd.DataFrame, problems: list[tuple[Any, str]]) -> None:
    """Problems into ``samples.issues`` (``invalid_mask``, once) and
    ``samples.annotation_problems`` ("; "-separated), as the format readers record theirs,
    and one warning naming the first few."""
    texts: dict[Any, list[str]] = {}
    for sid, message in problems:
        texts.setdefault(sid, []).append(message)
    issues = (
        samples["issues"].fillna("").astype(str).to_dict()
        if "issues" in samples.columns
        else dict.fromkeys(samples.index, "")
    )
    detail = (
        samples["annotation_problems"].fillna("").astype(str).to_dict()
        if "annotation_problems" in samples.columns
        else dict.fromkeys(samples.index, "")
    )
    for sid, messages in texts.items():
        old = [i for i in issues[sid].split(",") if i]
        issues[sid] = ",".join(old + ([INVALID_MASK] if INVALID_MASK not in old else []))
        detail[sid] = "; ".join([d for d in [detail[sid]] if d] + messages)
    samples["issues"] = pd.Series(issues)
    samples["annotation_problems"] = pd.Series(detail)
    warnings.warn(
        f"{len(problems)} COCO annotation(s) in {len(texts)} image(s) have a segmentation that "
        f"cannot be read (kept as boxes without a mask); first: "
        f"{' | '.join(m for _, m in problems[:3])} (see samples.issues and "
        "samples.annotation_problems)",
        stacklevel=4,
    )


def result_masks(
    results: Sequence[Mapping[str, Any]], image_id: pd.Series, ds: DatasetCore, source: str
) -> pd.Series | None:
    """Each result's ``segmentation`` as a counts string (None where it has none); None when no
    result has one. A bad one is an error naming the result (predictions are not data)."""
    if not any(r.get("segmentation") for r in results):
        return None
    out: list[str | None] = []
    known = image_id.isin(ds.samples.index).to_numpy()
    for i, r in enumerate(results):
        seg = r.get("segmentation")
        if not seg or not known[i]:
            out.append(None)
            continue
        h, w = ds.samples.loc[r["image_id"], ["height", "width"]]
        size = (h, w) if np.isfinite(h) and np.isfinite(w) else (None, None)
        out.append(m.to_rle(seg, size[0], size[1], f"COCO result {i} (in {source})"))
    return pd.Series(out, dtype=object)
