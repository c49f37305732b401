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
- ``duplicate_box``: two ground-truth boxes of one class in one image with IoU >= 0.9, or
  with IoU >= the matching threshold where the detector sees a single object (one box matched,
  the other not, and the matched prediction covers both).

One row per box: overlapping ``missing_box`` candidates (several classes predicted on one
unannotated object) give one row, the most confident; a near-identical duplicate is reported
as a duplicate only. ``score_threshold="auto"`` adapts the confidence threshold to the
detector's calibration (a quantile of the scores of its correct detections).
``docs/detection-label-issues.md`` has the rules and the benchmark against cleanlab.
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
#: ``score_threshold="auto"``: this quantile of the matched predictions' scores ...
AUTO_QUANTILE = 0.15
#: ... when at least this many predictions match (else 0.5)
AUTO_MIN_MATCHED = 20
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


def auto_score_threshold(ev: Any, quantile: float = AUTO_QUANTILE) -> float:
    """The ``quantile`` of the scores of the predictions matched to ground truth in the
    evaluation ``ev`` (made at score threshold 0); 0.5 with fewer than
    :data:`AUTO_MIN_MATCHED` matches."""
    scores = ev.predictions.loc[ev.predictions["match"] == "tp", "score"].to_numpy(dtype=float)
    if len(scores) < AUTO_MIN_MATCHED:
        return 0.5
    return float(np.quantile(scores, quantile))


def _iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    from ..evaluation.detection import box_iou

    return box_iou(a, b)


def find_detection_label_issues(
    ds: DatasetCore,
    run: str | None = None,
    *,
    score_threshold: float | str = "auto",
    iou_threshold: float = 0.5,
    duplicate_iou: float = 0.9,
    cleanlab_scores: bool = True,
    write: bool = True,
    auto_quantile: float = AUTO_QUANTILE,
) -> pd.DataFrame:
    """Likely annotation errors of a detection dataset; see
    :func:`nbdiag.issues.find_label_issues`.

    Parameters
    ----------
    ds : nbdiag.Dataset
        A detection dataset with a detection run.
    run : str, optional
        The run (out-of-sample predictions); needed when there are several.
    score_threshold : float or "auto", default "auto"
        Predictions scoring at least this are the detector's confident opinion; the others
        are ignored. ``"auto"`` adapts it to the detector's calibration: the
        ``auto_quantile`` quantile (default 0.15) of the scores of the predictions that match
        an annotated box (IoU >= ``iou_threshold``, same class) -- "as confident as 85 % of
        its correct detections" -- unchanged by any monotone rescaling of the scores (0.5
        when fewer than 20 predictions match). The value used is in ``attrs``.
    iou_threshold : float, default 0.5
        Matching IoU: a confident prediction covering a box at this IoU agrees with it.
    duplicate_iou : float, default 0.9
        Two boxes of one class overlapping this much are duplicates whatever the detector
        says; from ``iou_threshold`` up to it, when the detector sees one object there (one
        box is matched, the other is not, and the matched prediction covers both).
    cleanlab_scores : bool, default True
        Also write cleanlab's per-image label quality score (``samples.label_quality``).
    write : bool, default True
        Write ``objects.label_issue`` and ``samples.label_issue_count``.
    auto_quantile : float, default 0.15
        The quantile of ``score_threshold="auto"``, in (0, 1).

    Returns
    -------
    pandas.DataFrame
        One row per issue, most confident first: ``issue`` (kind), ``object_id`` (the
        ground-truth box concerned, or the prediction for ``missing_box``), ``sample_id``,
        ``label`` (its class; NaN for a missing box), ``suggested_label``, ``pred_id`` (the
        evidence; for a duplicate, the one prediction covering both boxes, or None when the
        boxes are near-identical), ``score`` (its confidence), ``iou``, ``x``/``y``/``w``/``h``
        (the suggested box: the prediction's, or the box itself for
        ``wrong_class``/``duplicate_box``), ``reason``. ``attrs``: ``run``,
        ``score_threshold`` (the one used), ``iou_threshold``.
    """
    from ..evaluation.detection import DetectionEvaluation

    r = ds._get_run(run, DetectionRun)
    if not 0.0 < iou_threshold <= 1.0:
        raise ValueError(f"iou_threshold must be in (0, 1], got {iou_threshold!r}")
    if not 0.0 < duplicate_iou <= 1.0:
        raise ValueError(f"duplicate_iou must be in (0, 1], got {duplicate_iou!r}")
    auto = isinstance(score_threshold, str)
    if auto and score_threshold != "auto":
        raise ValueError(f"score_threshold must be a number or 'auto', got {score_threshold!r}")
    if not 0.0 < auto_quantile < 1.0:
        raise ValueError(f"auto_quantile must be in (0, 1), got {auto_quantile!r}")
    start = score_threshold
    if auto:  # every prediction (scores may be logits, below 0)
        scores = ds.run_boxes(r.name)["score"].to_numpy(dtype=float)
        scores = scores[np.isfinite(scores)]
        start = min(0.0, float(scores.min())) if len(scores) else 0.0
    ev = DetectionEvaluation.from_dataset(
        ds, r.name, iou_threshold=iou_threshold, score_threshold=start, progress=False
    )
    if auto:
        score_threshold = auto_score_threshold(ev, auto_quantile)
        ev.set_thresholds(score=score_threshold)
    threshold = float(score_threshold)
    preds_all = ds.run_boxes(r.name)
    gt_all = ds.gt_objects
    preds = ev.predictions
    truth = ev.ground_truth
    rows: list[dict[str, Any]] = []

    # missing boxes: confident predictions overlapping nothing, one per unannotated object
    bg = preds[(preds["match"] == "fp") & (preds["error_type"] == "background")]
    bg = bg.loc[_one_per_object(bg, preds_all, iou_threshold)]
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
        confident = preds_all[preds_all["score"] >= threshold]
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
    flagged = {row["object_id"] for row in rows}
    dups = _duplicates(gt_all, truth, preds_all, duplicate_iou, iou_threshold, threshold, flagged)
    near_identical = {d["object_id"] for d in dups}  # a duplicate first, whatever else it is
    rows = [row for row in rows if row["object_id"] not in near_identical] + dups

    frame = pd.DataFrame(rows, columns=_COLUMNS)
    cats = ds.class_names
    frame["label"] = pd.Categorical(frame["label"], categories=cats)
    frame["suggested_label"] = pd.Categorical(frame["suggested_label"], categories=cats)
    frame["issue"] = pd.Categorical(frame["issue"], categories=list(KINDS))
    frame = frame.sort_values(["score", "iou"], ascending=[False, False], kind="stable")
    frame = frame.reset_index(drop=True)
    frame.index.name = "issue_id"
    frame.attrs.update(run=r.name, score_threshold=threshold, iou_threshold=iou_threshold)

    if write:
        write_issue_columns(ds, frame)
        if cleanlab_scores:
            scores = cleanlab_image_scores(ds, r.name)
            if scores is not None:
                ds.samples["label_quality"] = scores.reindex(ds.samples.index).to_numpy()
    return frame


def _one_per_object(bg: pd.DataFrame, preds_all: pd.DataFrame, iou: float) -> list[Any]:
    """Ids of the background predictions to report: in each image, by descending score, those
    not overlapping an already kept one at IoU >= ``iou`` (whatever the classes)."""
    keep: list[Any] = []
    for _, grp in bg.groupby("sample_id", observed=True, sort=False):
        if len(grp) == 1:
            keep.append(grp.index[0])
            continue
        grp = grp.sort_values("score", ascending=False, kind="stable")
        boxes = preds_all.loc[grp.index, ["x", "y", "w", "h"]].to_numpy(dtype=float)
        m = _iou_matrix(boxes, boxes)
        kept: list[int] = []
        for i in range(len(grp)):
            if not kept or m[i, kept].max() < iou:
                kept.append(i)
        keep.extend(grp.index[kept])
    return keep


def _duplicates(
    gt_all: pd.DataFrame,
    truth: pd.DataFrame,
    preds_all: pd.DataFrame,
    duplicate_iou: float,
    iou_threshold: float,
    score_threshold: float,
    flagged: set[Any],
) -> list[dict[str, Any]]:
    """``duplicate_box`` rows: same-class pairs at IoU >= ``duplicate_iou``, and pairs at IoU
    >= ``iou_threshold`` where the detector saw one object: one box is matched, the other is
    not, and the matched prediction covers it too (IoU >= ``iou_threshold``)."""
    rows: list[dict[str, Any]] = []
    plain = gt_all[~gt_all["iscrowd"]]
    lo = min(iou_threshold, duplicate_iou)
    for (sid, lab), grp in plain.groupby(["sample_id", "label"], observed=True, sort=False):
        if len(grp) < 2:
            continue
        boxes = grp[["x", "y", "w", "h"]].to_numpy(dtype=float)
        m = np.triu(_iou_matrix(boxes, boxes), k=1)
        done: set[Any] = set()
        for a, b in zip(*np.nonzero(m >= lo), strict=True):
            pred_id, score, iou = None, np.nan, float(m[a, b])
            if m[a, b] < duplicate_iou:  # needs the detector's evidence
                ta, tb = (truth.at[grp.index[i], "match"] == "tp" for i in (a, b))
                if ta == tb:
                    continue
                a, b = (a, b) if ta else (b, a)
                pred_id = truth.at[grp.index[a], "matched_pred"]
                score = float(preds_all.at[pred_id, "score"])
                pbox = preds_all.loc[pred_id, ["x", "y", "w", "h"]].to_numpy(dtype=float)
                if score < score_threshold:
                    continue
                if _iou_matrix(pbox[None], boxes[b][None])[0, 0] < iou_threshold:
                    continue
            oid = grp.index[b]
            if oid in done or (pred_id is not None and oid in flagged):
                continue
            done.add(oid)
            seen = (
                ""
                if pred_id is None
                else f"; the detector sees one object there ({pred_id!r}, score {score:.2f})"
            )
            rows.append(
                dict(
                    issue="duplicate_box",
                    object_id=oid,
                    sample_id=sid,
                    label=lab,
                    suggested_label=lab,
                    pred_id=pred_id,
                    score=score,
                    iou=iou,
                    x=boxes[b, 0],
                    y=boxes[b, 1],
                    w=boxes[b, 2],
                    h=boxes[b, 3],
                    reason=(
                        f"duplicate of annotated box {grp.index[a]!r} of the same class "
                        f"(IoU {iou:.2f}){seen}"
                    ),
                )
            )
    return rows


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


def cleanlab_inputs(
    ds: DatasetCore, run: str
) -> tuple[list[dict[str, Any]], list[np.ndarray], list[np.ndarray], list[np.ndarray]]:
    """The ground truth and run ``run`` of ``ds`` in cleanlab's object-detection format, one
    entry per sample (``ds.samples`` order).

    Returns ``(labels, predictions, label_ids, pred_ids)``: ``labels[i]`` is
    ``{"bboxes": (L, 4) x1 y1 x2 y2, "labels": (L,) class codes}`` (crowd and unlabelled boxes
    left out), ``predictions[i]`` an object array of one ``(M_k, 5)`` array
    ``[x1, y1, x2, y2, score]`` per class; ``label_ids[i]`` / ``pred_ids[i]`` are the object
    ids in the order cleanlab enumerates the boxes (labels in order; predictions class by
    class), so that its per-box scores can be mapped back to ``ds.objects``.
    """
    k = len(ds.class_names)
    gt = ds.gt_objects
    gt = gt[~gt["iscrowd"] & gt["label"].notna()]
    preds = ds.run_boxes(run)
    preds = preds[preds["label"].notna()]
    g_by = {sid: grp for sid, grp in gt.groupby("sample_id", sort=False)}
    p_by = {sid: grp for sid, grp in preds.groupby("sample_id", sort=False)}
    labels: list[dict[str, Any]] = []
    predictions: list[np.ndarray] = []
    label_ids: list[np.ndarray] = []
    pred_ids: list[np.ndarray] = []

    def xyxy(frame: pd.DataFrame) -> np.ndarray:
        b = frame[["x", "y", "w", "h"]].to_numpy(dtype=float)
        return np.c_[b[:, 0], b[:, 1], b[:, 0] + b[:, 2], b[:, 1] + b[:, 3]]

    for sid in ds.samples.index:
        g = g_by.get(sid)
        if g is None:
            labels.append({"bboxes": np.zeros((0, 4)), "labels": np.zeros(0, dtype=int)})
            label_ids.append(np.array([], dtype=object))
        else:
            labels.append({"bboxes": xyxy(g), "labels": g["label"].cat.codes.to_numpy()})
            label_ids.append(g.index.to_numpy(dtype=object))
        p = p_by.get(sid)
        per_class = [np.zeros((0, 5), dtype=np.float32) for _ in range(k)]
        ids = np.array([], dtype=object)
        if p is not None:
            boxes = np.c_[xyxy(p), p["score"].to_numpy(dtype=float)].astype(np.float32)
            codes = p["label"].cat.codes.to_numpy()
            order = np.argsort(codes, kind="stable")
            ids = p.index.to_numpy(dtype=object)[order]
            for c in np.unique(codes):
                per_class[c] = boxes[codes == c]
        arr = np.empty(k, dtype=object)
        arr[:] = per_class
        predictions.append(arr)
        pred_ids.append(ids)
    return labels, predictions, label_ids, pred_ids


def cleanlab_image_scores(ds: DatasetCore, run: str) -> pd.Series | None:
    """cleanlab's object-detection label quality score per image (0 = likely wrong, 1 = fine),
    or None when cleanlab is not installed or cannot score this data."""
    rank = optional("cleanlab.object_detection.rank")
    if rank is None:
        return None
    if len(ds.class_names) == 0:
        return None
    labels, predictions, _, _ = cleanlab_inputs(ds, run)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            scores = rank.get_label_quality_scores(labels, predictions, verbose=False)
    except Exception:  # cleanlab's internals vary by version; the score is a bonus
        return None
    return pd.Series(np.asarray(scores, dtype=float), index=ds.samples.index, name="label_quality")
