"""Likely annotation errors of an instance-segmentation dataset, from a model's confident
predicted masks matched against the ground-truth masks (``iou_type="segm"``: nbdiag's COCO
matching on mask IoU, as pycocotools' ``COCOeval(iouType="segm")``).

Kinds of issue:

- ``missing_mask``: a confident predicted mask overlapping no ground-truth mask (mask IoU below
  0.1 with every one, TIDE's "background" error) and not the evidence of a ``poor_mask``:
  the annotator probably missed an object.
- ``wrong_class``: a ground-truth mask left unmatched by its own class but covered (mask IoU
  >= the threshold) by a confident prediction of another class.
- ``poor_mask``: the object is there -- a confident same-class prediction's box overlaps the
  ground-truth box at IoU >= ``box_iou``, or one mask lies mostly inside the other
  (intersection over the smaller mask >= ``containment``) -- but no confident same-class
  predicted mask reaches mask IoU ``mask_iou`` with it: the mask's shape is probably wrong
  (drawn too small, too large, or sloppily).
- ``duplicate_mask``: two ground-truth masks of one class in one image with mask IoU >= 0.9.

Each row's ``confidence`` (the ranking key) is the prediction's score for ``missing_mask`` and
``wrong_class``, ``score × (agreement − mask IoU)`` for ``poor_mask`` (agreement: the box IoU,
or the containment when that passes its threshold and is larger) and the masks' IoU for
``duplicate_mask``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..core import masks as M
from ..core.runs import DetectionRun
from ._detection import BACKGROUND_IOU, write_issue_columns

if TYPE_CHECKING:
    from ..core import DatasetCore

MASK_KINDS = ("missing_mask", "wrong_class", "poor_mask", "duplicate_mask")
_COLUMNS = [
    "issue",
    "object_id",
    "sample_id",
    "label",
    "suggested_label",
    "pred_id",
    "score",
    "iou",
    "box_iou",
    "containment",
    "confidence",
    "x",
    "y",
    "w",
    "h",
    "reason",
]
_BOX = ["x", "y", "w", "h"]


def check_masks(ds: DatasetCore, run: str) -> None:
    """A ValueError, naming the objects, unless the ground truth and the run have masks."""
    for what, table in (
        ("ground-truth objects", ds.gt_objects),
        (f"run {run!r}", ds.run_boxes(run)),
    ):
        if not len(table):
            continue
        if M.MASK not in table.columns or table[M.MASK].isna().all():
            raise ValueError(
                f"iou_type='segm' finds mask label issues, but the {what} have no masks "
                f"(e.g. object {table.index[0]!r}); add a 'mask' column or use iou_type='bbox'"
            )
        absent = table.index[table[M.MASK].isna().to_numpy()]
        if len(absent):
            listed = ", ".join(repr(i) for i in absent[:5])
            raise ValueError(
                f"iou_type='segm' needs a mask on every object; {len(absent)} {what} have "
                f"none: {listed}"
            )


def _containment(m_iou: np.ndarray, a_pred: np.ndarray, a_gt: np.ndarray) -> np.ndarray:
    """Intersection over the smaller mask, from the IoU matrix and the areas:
    ``I = IoU (|P| + |G|) / (1 + IoU)``."""
    total = a_pred[:, None] + a_gt[None, :]
    inter = m_iou * total / (1.0 + m_iou)
    smaller = np.minimum(a_pred[:, None], a_gt[None, :])
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(smaller > 0, inter / smaller, 0.0)


def find_mask_label_issues(
    ds: DatasetCore,
    run: str | None = None,
    *,
    score_threshold: float = 0.5,
    iou_threshold: float = 0.5,
    mask_iou: float | None = None,
    box_iou: float = 0.5,
    containment: float = 0.8,
    duplicate_iou: float = 0.9,
    write: bool = True,
    progress: bool = True,
) -> pd.DataFrame:
    """Likely mask annotation errors; see :func:`nbdiag.issues.find_label_issues` with
    ``iou_type="segm"``.

    Parameters
    ----------
    ds
        A detection dataset whose objects carry masks (``objects["mask"]``).
    run
        A detection run with predicted masks (the only run when omitted).
    score_threshold
        Predictions below this score are not evidence.
    iou_threshold
        Mask IoU at which a prediction matches a ground truth (the evaluation's threshold).
    mask_iou
        ``poor_mask``: a ground-truth mask no confident same-class predicted mask reaches this
        IoU with (default ``iou_threshold``) ...
    box_iou, containment
        ... while such a prediction finds the object: its box overlaps the ground-truth box at
        IoU >= ``box_iou``, or one of the two masks lies mostly inside the other (intersection
        over the smaller mask >= ``containment``: a mask drawn too small or too large).
    duplicate_iou
        Mask IoU of two same-class ground-truth masks flagged as ``duplicate_mask``.
    write
        Write ``objects.label_issue`` and ``samples.label_issue_count``.
    progress
        A tqdm bar over the images for the shape comparison.

    Returns
    -------
    pandas.DataFrame
        One row per issue, most confident first: ``issue``, ``object_id`` (the ground-truth
        object, or the prediction for ``missing_mask``), ``sample_id``, ``label`` (NaN for a
        missing mask), ``suggested_label``, ``pred_id`` (the evidence; its mask is the suggested
        mask), ``score``, ``iou`` (mask IoU), ``box_iou``, ``containment`` (intersection over
        the smaller mask; ``poor_mask`` only), ``confidence`` (the ranking key, see
        the module docstring), ``x``/``y``/``w``/``h`` (the suggested box) and ``reason``.
    """
    from ..evaluation.detection import DetectionEvaluation
    from ..evaluation.detection import box_iou as box_iou_matrix

    r = ds._get_run(run, DetectionRun)
    checks = (("iou_threshold", iou_threshold), ("box_iou", box_iou), ("containment", containment))
    for name, value in checks:
        if not 0.0 < value <= 1.0:
            raise ValueError(f"{name} must be in (0, 1], got {value!r}")
    mask_iou = iou_threshold if mask_iou is None else float(mask_iou)
    check_masks(ds, r.name)
    ev = DetectionEvaluation.from_dataset(
        ds,
        r.name,
        iou_type="segm",
        iou_threshold=iou_threshold,
        score_threshold=score_threshold,
        progress=False,
    )
    preds_all = ds.run_boxes(r.name)
    gt_all = ds.gt_objects
    rows: list[dict[str, Any]] = []

    def box_of(table: pd.DataFrame, oid: Any) -> np.ndarray:
        return table.loc[oid, _BOX].to_numpy(dtype=float)

    def add(issue: str, oid: Any, sid: Any, box: np.ndarray, **kw: Any) -> None:
        rows.append(
            dict(
                issue=issue,
                object_id=oid,
                sample_id=sid,
                x=box[0],
                y=box[1],
                w=box[2],
                h=box[3],
                **kw,
            )
        )

    # missing masks: confident predicted masks overlapping no annotated mask
    preds = ev.predictions
    bg = preds[(preds["match"] == "fp") & (preds["error_type"] == "background")]
    for pid, p in bg.iterrows():
        add(
            "missing_mask",
            pid,
            p["sample_id"],
            box_of(preds_all, pid),
            label=np.nan,
            suggested_label=p["label"],
            pred_id=pid,
            score=float(p["score"]),
            iou=float(p["iou"]),
            box_iou=np.nan,
            confidence=float(p["score"]),
            reason=(
                f"confident {p['label']!r} predicted mask (score {p['score']:.2f}) overlaps "
                f"no annotated mask (mask IoU < {BACKGROUND_IOU:g}): an object may be "
                "unannotated"
            ),
        )

    # wrong class: unmatched GT mask covered by a confident prediction of another class
    pairs = ev.confusion_pairs
    conf = pairs[pairs["kind"] == "confusion"]
    for _, c in conf.iterrows():
        gid = c["gt_id"]
        add(
            "wrong_class",
            gid,
            c["sample_id"],
            box_of(gt_all, gid),
            label=c["true_class"],
            suggested_label=c["pred_class"],
            pred_id=c["pred_id"],
            score=float(c["score"]),
            iou=float(c["iou"]),
            box_iou=np.nan,
            confidence=float(c["score"]),
            reason=(
                f"annotated {c['true_class']!r} but a confident {c['pred_class']!r} "
                f"predicted mask (score {c['score']:.2f}) covers it (mask IoU "
                f"{c['iou']:.2f}) and no {c['true_class']!r} prediction does"
            ),
        )
    confused = set(conf["gt_id"])

    # poor masks and duplicates, image by image
    sizes = ds.samples[["height", "width"]]
    plain = gt_all[~gt_all["iscrowd"].astype(bool)]
    confident = preds_all[preds_all["score"] >= score_threshold]
    p_by = dict(tuple(confident.groupby("sample_id", sort=False)))
    groups = list(plain.groupby("sample_id", sort=False))
    from tqdm.auto import tqdm

    for sid, g in tqdm(
        groups,
        desc="mask issues",
        unit="img",
        leave=False,
        disable=not progress or len(groups) < 200,
    ):
        h, w = (int(v) for v in sizes.loc[sid])
        g_counts = g[M.MASK].tolist()
        g_label = g["label"].astype(object).to_numpy()
        if len(g) > 1:
            dup = np.triu(M.iou(g_counts, g_counts, h, w, [False] * len(g)), k=1)
            same = g_label[:, None] == g_label[None, :]
            for a, b in zip(*np.nonzero((dup >= duplicate_iou) & same), strict=True):
                add(
                    "duplicate_mask",
                    g.index[b],
                    sid,
                    box_of(g, g.index[b]),
                    label=g_label[b],
                    suggested_label=g_label[b],
                    pred_id=None,
                    score=np.nan,
                    iou=float(dup[a, b]),
                    box_iou=np.nan,
                    confidence=float(dup[a, b]),
                    reason=(
                        f"duplicate of annotated mask {g.index[a]!r} of the same class "
                        f"(mask IoU {dup[a, b]:.2f})"
                    ),
                )
        p = p_by.get(sid)
        if p is None:
            continue
        p_label = p["label"].astype(object).to_numpy()
        same = p_label[:, None] == g_label[None, :]
        if not same.any():
            continue
        p_counts = p[M.MASK].tolist()
        m_iou = M.iou(p_counts, g_counts, h, w, [False] * len(g))
        b_iou = box_iou_matrix(p[_BOX].to_numpy(float), g[_BOX].to_numpy(float))
        contain = _containment(m_iou, M.area(p_counts, h, w), M.area(g_counts, h, w))
        agree = np.maximum(b_iou, np.where(contain >= containment, contain, 0.0))
        for k, gid in enumerate(g.index):
            cand = np.flatnonzero(same[:, k])
            if not len(cand) or gid in confused or m_iou[cand, k].max() >= mask_iou:
                continue
            j = cand[np.argmax(agree[cand, k])]
            if b_iou[j, k] < box_iou and contain[j, k] < containment:
                continue
            score = float(p["score"].iat[j])
            mi, bi, ci = float(m_iou[j, k]), float(b_iou[j, k]), float(contain[j, k])
            why = f"box IoU {bi:.2f}" if bi >= box_iou else f"one mask {ci:.0%} inside the other"
            add(
                "poor_mask",
                gid,
                sid,
                box_of(g, gid),
                label=g_label[k],
                suggested_label=g_label[k],
                pred_id=p.index[j],
                score=score,
                iou=mi,
                box_iou=bi,
                containment=ci,
                confidence=score * max(float(agree[j, k]) - mi, 0.0),
                reason=(
                    f"a confident {g_label[k]!r} prediction (score {score:.2f}) finds this "
                    f"object ({why}) but its mask disagrees (mask IoU {mi:.2f}): the mask may "
                    "be badly drawn"
                ),
            )

    # a prediction that is the evidence of a poor mask found an annotated object: not missing
    evidence = {r["pred_id"] for r in rows if r["issue"] == "poor_mask"}
    rows = [r for r in rows if not (r["issue"] == "missing_mask" and r["pred_id"] in evidence)]
    frame = pd.DataFrame(rows, columns=_COLUMNS)
    cats = ds.class_names
    frame["label"] = pd.Categorical(frame["label"], categories=cats)
    frame["suggested_label"] = pd.Categorical(frame["suggested_label"], categories=cats)
    frame["issue"] = pd.Categorical(frame["issue"], categories=list(MASK_KINDS))
    frame = frame.sort_values("confidence", ascending=False, kind="stable").reset_index(drop=True)
    frame.index.name = "issue_id"
    frame.attrs.update(
        run=r.name,
        iou_type="segm",
        score_threshold=score_threshold,
        iou_threshold=iou_threshold,
        mask_iou=mask_iou,
        box_iou=box_iou,
        containment=containment,
    )
    if write:
        write_issue_columns(ds, frame)
    return frame
