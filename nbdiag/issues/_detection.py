"""Likely annotation errors of a detection dataset, from a detector's confident predictions
matched against the ground truth (nbdiag's COCO matching), plus cleanlab's per-image label
quality score from its object-detection module.

Kinds of issue:

- ``missing_box``: a confident prediction overlapping no ground-truth box (IoU < 0.1 with every
  box, TIDE's "background" error): the annotator probably missed an object.
- ``wrong_class``: a ground-truth box left unmatched by its own class but covered (IoU >= the
  threshold) by a confident prediction of another class: the class is probably wrong.
- ``bad_localization``: a ground-truth box left unmatched while a confident same-class
  prediction overlaps it only partly (IoU in [0.1, threshold)): the box is probably badly drawn.
- ``duplicate_box``: two ground-truth boxes of one class in one image with IoU >= 0.9.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .._optional import optional
from ..core.runs import DetectionRun

if TYPE_CHECKING:
    from ..core import DatasetCore

KINDS = ("missing_box", "wrong_class", "bad_localization", "duplicate_box")
BACKGROUND_IOU = 0.1
_COLUMNS = [
    "issue",
    "object_id",
    "sample_id",
    "label",
    "suggested_label",
    "pred_id",
    "score",
    "iou",
    "x",
    "y",
    "w",
    "h",
    "reason",
]


def _iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    from ..evaluation.detection import box_iou

    return box_iou(a, b)


def find_detection_label_issues(
    ds: DatasetCore,
    run: str | None = None,
    *,
    score_threshold: float = 0.5,
    iou_threshold: float = 0.5,
    duplicate_iou: float = 0.9,
    cleanlab_scores: bool = True,
    write: bool = True,
) -> pd.DataFrame:
    """Likely annotation errors of a detection dataset; see
    :func:`nbdiag.issues.find_label_issues`.

    Returns
    -------
    pandas.DataFrame
        One row per issue, most confident first: ``issue`` (kind), ``object_id`` (the
        ground-truth box concerned, or the prediction for ``missing_box``), ``sample_id``,
        ``label`` (its class; NaN for a missing box), ``suggested_label``, ``pred_id`` (the
        evidence), ``score`` (its confidence), ``iou``, ``x``/``y``/``w``/``h`` (the suggested
        box: the prediction's, or the box itself for ``wrong_class``/``duplicate_box``),
        ``reason``.
    """
    from ..evaluation.detection import DetectionEvaluation

    r = ds._get_run(run, DetectionRun)
    if not 0.0 < iou_threshold <= 1.0:
        raise ValueError(f"iou_threshold must be in (0, 1], got {iou_threshold!r}")
    ev = DetectionEvaluation.from_dataset(
        ds, r.name, iou_threshold=iou_threshold, score_threshold=score_threshold, progress=False
    )
    preds_all = ds.run_boxes(r.name)
    gt_all = ds.gt_objects
    preds = ev.predictions
    truth = ev.ground_truth
    rows: list[dict[str, Any]] = []

    # missing boxes: confident predictions overlapping nothing
    bg = preds[(preds["match"] == "fp") & (preds["error_type"] == "background")]
    for pid, p in bg.iterrows():
        box = preds_all.loc[pid, ["x", "y", "w", "h"]].to_numpy(dtype=float)
        rows.append(
            dict(
                issue="missing_box",
                object_id=pid,
                sample_id=p["sample_id"],
                label=np.nan,
                suggested_label=p["label"],
                pred_id=pid,
                score=float(p["score"]),
                iou=float(p["iou"]),
                x=box[0],
                y=box[1],
                w=box[2],
                h=box[3],
                reason=(
                    f"confident {p['label']!r} prediction (score {p['score']:.2f}) overlaps no "
                    f"annotated box (IoU < {BACKGROUND_IOU:g}): an object may be unannotated"
                ),
            )
        )

    # wrong class: unmatched GT covered by a confident prediction of another class
    pairs = ev.confusion_pairs
    conf = pairs[pairs["kind"] == "confusion"]
    for _, c in conf.iterrows():
        gid = c["gt_id"]
        box = gt_all.loc[gid, ["x", "y", "w", "h"]].to_numpy(dtype=float)
        rows.append(
            dict(
                issue="wrong_class",
                object_id=gid,
                sample_id=c["sample_id"],
                label=c["true_class"],
                suggested_label=c["pred_class"],
                pred_id=c["pred_id"],
                score=float(c["score"]),
                iou=float(c["iou"]),
                x=box[0],
                y=box[1],
                w=box[2],
                h=box[3],
                reason=(
                    f"annotated {c['true_class']!r} but a confident {c['pred_class']!r} "
                    f"prediction (score {c['score']:.2f}) covers it (IoU {c['iou']:.2f}) and no "
                    f"{c['true_class']!r} prediction does"
                ),
            )
        )
    confused = set(conf["gt_id"])

    # bad localisation: unmatched GT partly overlapped by a confident same-class prediction
    loose = truth[
        (truth["match"] == "fn")
        & (truth["iou"] >= BACKGROUND_IOU)
        & (truth["iou"] < iou_threshold)
        & ~truth.index.isin(confused)
    ]
    if len(loose):
        confident = preds_all[preds_all["score"] >= score_threshold]
        for gid, g in loose.iterrows():
            cand = confident[
                (confident["sample_id"] == g["sample_id"]) & (confident["label"] == g["label"])
            ]
            if not len(cand):
                continue
            gbox = gt_all.loc[gid, ["x", "y", "w", "h"]].to_numpy(dtype=float)
            ious = _iou_matrix(cand[["x", "y", "w", "h"]].to_numpy(dtype=float), gbox[None])[:, 0]
            j = int(np.argmax(ious))
            pbox = cand.iloc[j][["x", "y", "w", "h"]].to_numpy(dtype=float)
            score = float(cand.iloc[j]["score"])
            rows.append(
                dict(
                    issue="bad_localization",
                    object_id=gid,
                    sample_id=g["sample_id"],
                    label=g["label"],
                    suggested_label=g["label"],
                    pred_id=cand.index[j],
                    score=score,
                    iou=float(ious[j]),
                    x=pbox[0],
                    y=pbox[1],
                    w=pbox[2],
                    h=pbox[3],
                    reason=(
                        f"a confident {g['label']!r} prediction (score {score:.2f}) overlaps this "
                        f"box only at IoU {ious[j]:.2f} and none matches it: the box may be "
                        "badly drawn"
                    ),
                )
            )

    # duplicate annotations
    plain = gt_all[~gt_all["iscrowd"]]
    for (sid, lab), grp in plain.groupby(["sample_id", "label"], observed=True, sort=False):
        if len(grp) < 2:
            continue
        boxes = grp[["x", "y", "w", "h"]].to_numpy(dtype=float)
        m = np.triu(_iou_matrix(boxes, boxes), k=1)
        for a, b in zip(*np.nonzero(m >= duplicate_iou), strict=True):
            rows.append(
                dict(
                    issue="duplicate_box",
                    object_id=grp.index[b],
                    sample_id=sid,
                    label=lab,
                    suggested_label=lab,
                    pred_id=None,
                    score=np.nan,
                    iou=float(m[a, b]),
                    x=boxes[b, 0],
                    y=boxes[b, 1],
                    w=boxes[b, 2],
                    h=boxes[b, 3],
                    reason=(
                        f"duplicate of annotated box {grp.index[a]!r} of the same class "
                        f"(IoU {m[a, b]:.2f})"
                    ),
                )
            )

    frame = pd.DataFrame(rows, columns=_COLUMNS)
    cats = ds.class_names
    frame["label"] = pd.Categorical(frame["label"], categories=cats)
    frame["suggested_label"] = pd.Categorical(frame["suggested_label"], categories=cats)
    frame["issue"] = pd.Categorical(frame["issue"], categories=list(KINDS))
    frame = frame.sort_values(["score", "iou"], ascending=[False, False], kind="stable")
    frame = frame.reset_index(drop=True)
    frame.index.name = "issue_id"
    frame.attrs.update(run=r.name, score_threshold=score_threshold, iou_threshold=iou_threshold)

    if write:
        write_issue_columns(ds, frame)
        if cleanlab_scores:
            scores = cleanlab_image_scores(ds, r.name)
            if scores is not None:
                ds.samples["label_quality"] = scores.reindex(ds.samples.index).to_numpy()
    return frame


def write_issue_columns(ds: DatasetCore, frame: pd.DataFrame) -> None:
    """``objects.label_issue`` (the comma-separated kinds flagged on each object, ``""`` for
    none) and ``samples.label_issue_count`` from an issues frame."""
    objects = ds.objects
    col = pd.Series("", index=objects.index, dtype=object)
    on_objects = frame[frame["object_id"].isin(objects.index)]
    for oid, kinds in on_objects.groupby("object_id", sort=False)["issue"]:
        col[oid] = ",".join(sorted(set(map(str, kinds))))
    objects["label_issue"] = col
    counts = frame["sample_id"].value_counts()
    ds.samples["label_issue_count"] = (
        counts.reindex(ds.samples.index).fillna(0).astype(np.int64).to_numpy()
    )


def cleanlab_image_scores(ds: DatasetCore, run: str) -> pd.Series | None:
    """cleanlab's object-detection label quality score per image (0 = likely wrong, 1 = fine),
    or None when cleanlab is not installed or cannot score this data."""
    rank = optional("cleanlab.object_detection.rank")
    if rank is None:
        return None
    get_label_quality_scores = rank.get_label_quality_scores
    k = len(ds.class_names)
    if k == 0:
        return None
    gt = ds.gt_objects
    gt = gt[~gt["iscrowd"] & gt["label"].notna()]
    preds = ds.run_boxes(run)
    ids = ds.samples.index
    g_by = {sid: grp for sid, grp in gt.groupby("sample_id", sort=False)}
    p_by = {sid: grp for sid, grp in preds.groupby("sample_id", sort=False)}
    labels, predictions = [], []

    def xyxy(frame: pd.DataFrame) -> np.ndarray:
        b = frame[["x", "y", "w", "h"]].to_numpy(dtype=float)
        return np.c_[b[:, 0], b[:, 1], b[:, 0] + b[:, 2], b[:, 1] + b[:, 3]]

    for sid in ids:
        g = g_by.get(sid)
        if g is None:
            labels.append({"bboxes": np.zeros((0, 4)), "labels": np.zeros(0, dtype=int)})
        else:
            labels.append({"bboxes": xyxy(g), "labels": g["label"].cat.codes.to_numpy()})
        p = p_by.get(sid)
        per_class = [np.zeros((0, 5), dtype=np.float32) for _ in range(k)]
        if p is not None:
            boxes = np.c_[xyxy(p), p["score"].to_numpy(dtype=float)].astype(np.float32)
            codes = p["label"].cat.codes.to_numpy()
            for c in np.unique(codes):
                per_class[c] = boxes[codes == c]
        predictions.append(np.array(per_class, dtype=object))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            scores = get_label_quality_scores(labels, predictions, verbose=False)
    except Exception:  # cleanlab's internals vary by version; the score is a bonus
        return None
    return pd.Series(np.asarray(scores, dtype=float), index=ids, name="label_quality")
