"""The report's sections. Each returns a list of parts: HTML strings and bokeh figures.

A section that cannot be built (an optional module missing, no run, no metrics yet) says so in
a note instead of failing the report.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .._optional import require
from ..evaluation import evaluate_run
from . import _figures as fig
from ._html import card, esc, fmt, key_values, note, table, thumbnail_uri
from ._tasks import multilabel_evaluation, semantic_evaluation

if TYPE_CHECKING:
    from ..core import DatasetCore

Parts = list[Any]
_CORE_SAMPLE = {"path", "width", "height", "label", "split", "issues"}
_CORE_OBJECT = {"sample_id", "label", "x", "y", "source", "score", "iscrowd"}


@dataclass
class Context:
    ds: DatasetCore
    run: str | None
    compare_with: str | None
    max_classes: int = 30
    max_metrics: int = 12
    max_label_issues: int = 24
    thumbnail_size: int = 128
    notes: list[str] = field(default_factory=list)

    @cached_property
    def evaluation(self) -> Any:
        if self.run is None:
            return None
        return evaluate_run(self.ds, self.run, progress=False)


# ---------------------------------------------------------------------- overview
def overview(ctx: Context) -> Parts:
    ds = ctx.ds
    s = ds.summary()
    facts: dict[str, Any] = {
        "task": ds.task,
        "samples": s["samples"],
        "labelled samples": s["labelled"],
        "ground-truth boxes": s["gt_objects"],
        "classes": s["classes"],
        "runs": ", ".join(f"{n} ({kind})" for n, (kind, _) in s["runs"].items()) or "none",
        "image files with problems": s["image_issues"],
    }
    splits = ds.samples["split"].dropna()
    if len(splits):
        facts["splits"] = ", ".join(f"{k}: {n}" for k, n in splits.value_counts().items())
    parts: Parts = [key_values(facts)]
    if ds.task == "multilabel":  # a sample counts once for each of its classes
        counts = ds.samples["labels"].dropna().explode().dropna().value_counts()
    else:
        counts = (ds.gt_objects if ds.task == "detection" else ds.samples)["label"].value_counts()
    counts = counts[counts > 0]
    if len(counts):
        shown = counts.head(ctx.max_classes)
        what = "boxes" if ds.task == "detection" else "samples"
        title = f"{what} per class" + (
            f" (the {len(shown)} largest of {len(counts)})" if len(counts) > len(shown) else ""
        )
        parts.append(fig.bars(list(shown.index), list(shown.to_numpy()), title))
    if s["image_issues"]:
        issues = ds.samples["issues"][ds.samples["issues"] != ""].str.split(",").explode()
        parts.append("<h3>Image file problems</h3>")
        parts.append(table(issues.value_counts().rename("samples").to_frame()))
    tags = ds.tags
    if len(tags):
        parts.append("<h3>Tags</h3>")
        parts.append(
            table(tags.groupby(["tag", "level"]).size().rename("items").reset_index(), index=False)
        )
    return parts


# ---------------------------------------------------------------------- metric distributions
def _metric_columns(frame: pd.DataFrame, core: set[str]) -> tuple[list[str], list[str]]:
    numeric, flags = [], []
    for col in frame.columns:
        if not isinstance(col, str) or col in core or "@" in col:
            continue
        dtype = frame[col].dtype
        if pd.api.types.is_bool_dtype(dtype):
            flags.append(col)
        elif pd.api.types.is_numeric_dtype(dtype) and not isinstance(dtype, pd.CategoricalDtype):
            if np.isfinite(frame[col].to_numpy(dtype=float, na_value=np.nan)).any():
                numeric.append(col)
    return numeric, flags


def metric_distributions(ctx: Context) -> Parts:
    gridplot = require("bokeh.layouts", "HTML reports").gridplot

    ds = ctx.ds
    parts: Parts = []
    levels = [("samples", ds.samples, _CORE_SAMPLE)]
    if ds.task == "detection":
        levels.append(("ground-truth boxes", ds.gt_objects, _CORE_OBJECT))
    any_metric = False
    for what, frame, core in levels:
        numeric, flags = _metric_columns(frame, core)
        if not numeric and not flags:
            continue
        any_metric = True
        if numeric:
            shown = numeric[: ctx.max_metrics]
            parts.append(f"<h3>Metrics of {esc(what)}</h3>")
            if len(numeric) > len(shown):
                parts.append(f"<p class='muted'>first {len(shown)} of {len(numeric)}</p>")
            figs = [
                fig.histogram(frame[c].to_numpy(dtype=float, na_value=np.nan), c) for c in shown
            ]
            parts.append(gridplot(figs, ncols=3, toolbar_location=None))
        if flags:
            counts = pd.DataFrame(
                {"flagged": [int(frame[c].fillna(False).sum()) for c in flags]},
                index=pd.Index(flags, name="flag"),
            )
            counts["share"] = counts["flagged"] / max(len(frame), 1)
            parts.append(f"<h3>Issue flags of {esc(what)}</h3>")
            parts.append(table(counts.sort_values("flagged", ascending=False)))
    if not any_metric:
        parts.append(note("No metrics computed yet: run ds.compute_metrics() before the report."))
    return parts


# ---------------------------------------------------------------------- evaluation
def evaluation(ctx: Context) -> Parts:
    if ctx.run is None:
        return [note("No run to evaluate: add predictions with ds.add_run(name, predictions).")]
    ev = ctx.evaluation
    ds = ctx.ds
    kind = ds.runs[ctx.run].kind
    if kind == "multilabel":
        return multilabel_evaluation(ev, ctx.run, ctx.max_classes)
    if kind == "semantic":
        return semantic_evaluation(ev, ctx.run, ctx.max_classes)
    parts: Parts = [f"<p>Run <b>{esc(ctx.run)}</b> ({kind}).</p>"]
    summary = {k: v for k, v in ev.summary().items() if k != "run"}
    parts.append(key_values(summary))
    per_class = ev.per_class
    detection = ds.runs[ctx.run].kind == "detection"
    order = per_class["n_gt" if detection else "support"].sort_values(ascending=False)
    keep = list(order.index[: ctx.max_classes])
    cm = ev.confusion_matrix()
    if detection:
        from ..evaluation.detection import BACKGROUND

        keep_cm = [*keep, BACKGROUND]
    else:
        keep_cm = keep
    cm = cm.loc[keep_cm, keep_cm]
    title = "confusion matrix (rows normalised)"
    if len(keep) < len(per_class):
        title += f", {len(keep)} largest classes"
    parts.append(fig.heatmap(cm, title, normalize_rows=True))
    parts.append("<h3>Per class</h3>")
    parts.append(table(per_class.loc[keep], max_rows=ctx.max_classes))
    return parts


# ---------------------------------------------------------------------- metrics that matter
def _rate_columns(task: str, target: str | None) -> tuple[str, str]:
    if task == "classification":
        return "accuracy", "count"
    if task == "multilabel":
        return "subset_accuracy", "count"
    if task == "semantic":
        return "miou", "count"
    if target == "fp":
        return "precision", "predictions"
    return "recall", "ground_truth"


def performance(ctx: Context) -> Parts:
    if ctx.run is None:
        return [note("No run: performance by metric needs a run.")]
    try:
        from ..slices import metric_importance, performance_by
    except ImportError as exc:
        return [note(f"Performance by metric is unavailable: {exc}")]
    try:
        importance = metric_importance(ctx.ds, ctx.run)
    except Exception as exc:
        return [
            note(
                f"Performance by metric could not be computed ({type(exc).__name__}: "
                f"{exc}). Compute metrics with ds.compute_metrics() first."
            )
        ]
    if not len(importance):
        return [note("No metrics to break performance down by: run ds.compute_metrics().")]
    parts: Parts = [
        "<p>Metrics ranked by how strongly they relate to the run's errors "
        "(mutual information).</p>"
    ]
    parts.append(table(importance.head(10), index=False))
    gridplot = require("bokeh.layouts", "HTML reports").gridplot

    figs = []
    task = ctx.ds.runs[ctx.run].kind
    for _, row in importance.head(4).iterrows():
        metric = row["metric"]
        target = row.get("target") if "target" in importance.columns else None
        try:
            frame = performance_by(ctx.ds, metric, run=ctx.run, bins=5)
        except Exception as exc:
            parts.append(note(f"{metric}: {type(exc).__name__}: {exc}"))
            continue
        rate, count = _rate_columns(task, target)
        frame = frame[frame[count] > 0] if count in frame else frame
        if rate not in frame or not len(frame):
            continue
        figs.append(fig.rate_by_bin(frame, rate, count, f"{rate} by {metric}"))
    if figs:
        parts.append(gridplot(figs, ncols=2, toolbar_location=None))
    return parts


def worst(ctx: Context) -> Parts:
    if ctx.run is None:
        return [note("No run: worst slices need a run.")]
    try:
        from ..slices import worst_slices
    except ImportError as exc:
        return [note(f"Worst slices are unavailable: {exc}")]
    try:
        frame = worst_slices(ctx.ds, ctx.run)
    except Exception as exc:
        return [note(f"Worst slices could not be computed ({type(exc).__name__}: {exc}).")]
    if not len(frame):
        return [note("No slice stands out (or no metrics were computed).")]
    cols = [
        c
        for c in (
            "target",
            "slice",
            "size",
            "errors",
            "error_rate",
            "error_rate_low",
            "error_rate_high",
            "lift",
            "jaccard",
            "miou",
        )
        if c in frame.columns
    ]
    return [
        "<p>Where the run errs most: conjunctions of metric ranges and classes, ranked by "
        "error rate and size.</p>",
        table(frame[cols], index=False),
    ]


# ---------------------------------------------------------------------- label errors
def label_errors(ctx: Context) -> Parts:
    ds = ctx.ds
    parts: Parts = []
    tagged = ds.tags
    tagged = tagged[tagged["tag"] == "label_error"]
    if len(tagged):
        parts.append(f"<h3>Tagged <code>label_error</code> ({len(tagged)})</h3>")
        cards = []
        for _, t in tagged.head(ctx.max_label_issues).iterrows():
            if t["level"] == "object" and t["id"] in ds.objects.index:
                o = ds.objects.loc[t["id"]]
                uri = thumbnail_uri(
                    ds,
                    o["sample_id"],
                    ctx.thumbnail_size,
                    [(o["x"], o["y"], o["w"], o["h"], "#ff3b30", o.get("mask"))],
                )
                cards.append(card(uri, [f"object {fmt(t['id'])}", f"label: {o['label']}"]))
            elif t["id"] in ds.samples.index:
                uri = thumbnail_uri(ds, t["id"], ctx.thumbnail_size)
                cards.append(
                    card(
                        uri, [f"sample {fmt(t['id'])}", f"label: {ds.samples.at[t['id'], 'label']}"]
                    )
                )
        parts.append("<div class='grid'>" + "".join(cards) + "</div>")
    if ctx.run is None:
        parts.append(note("No run: likely label errors need a model's predictions."))
        return parts
    if ds.runs[ctx.run].kind == "semantic":
        parts.append(
            note(
                "Label-error search is not available for semantic segmentation runs; the "
                "evaluation section lists the images with the lowest mIoU."
            )
        )
        return parts
    issues, method = _find_issues(ctx)
    parts.append(f"<h3>Likely label errors</h3><p class='muted'>{esc(method)}</p>")
    if issues is None or not len(issues):
        parts.append("<p>None found.</p>")
        return parts
    parts.append("<div class='grid'>" + "".join(_issue_cards(ctx, issues)) + "</div>")
    return parts


def _find_issues(ctx: Context) -> tuple[pd.DataFrame | None, str]:
    ds = ctx.ds
    errors = []
    try:
        from ..issues import find_label_issues
    except ImportError as exc:
        find_label_issues = None
        errors.append(str(exc))
    if find_label_issues is not None:
        attempts: list[dict[str, Any]] = [{"write": False}]
        if ds.task != "detection":
            attempts.append({"write": False, "neighbor_weight": 0.0})
        for kwargs in attempts:
            try:
                found = find_label_issues(ds, ctx.run, **kwargs)
                return found, "From nbdiag.issues.find_label_issues (most likely first)."
            except Exception as exc:
                errors.append(f"{type(exc).__name__}: {exc}")
    why = f" ({errors[-1]})" if errors else ""
    ctx.notes.append(f"label issues fell back to a simple ranking{why}")
    ev = ctx.evaluation
    if ds.runs[ctx.run].kind == "detection":
        preds = ev.predictions
        conf = preds[(preds["match"] == "fp") & (preds["error_type"] == "classification")]
        conf = conf.sort_values("score", ascending=False)
        frame = pd.DataFrame(
            {
                "sample_id": conf["sample_id"],
                "issue": "wrong_class",
                "suggested_label": conf["label"].astype(object),
                "score": conf["score"],
            }
        )
        for c in ("x", "y", "w", "h"):
            frame[c] = ds.objects.loc[conf.index, c]
        return frame, (
            "nbdiag.issues is unavailable here" + why + "; showing confident predictions "
            "overlapping a ground-truth box of another class instead."
        )
    ps = ev.per_sample
    wrong = ps[~ps["correct"]]
    if "p_label" in wrong:
        wrong = wrong.sort_values("p_label")
        msg = "misclassified samples with the lowest probability of their given label"
    else:
        wrong = wrong.sort_values("confidence", ascending=False)
        msg = "confidently misclassified samples"
    frame = wrong.rename(columns={"prediction": "suggested_label"})
    return frame, f"nbdiag.issues is unavailable here{why}; showing {msg} instead."


def _issue_cards(ctx: Context, issues: pd.DataFrame) -> list[str]:
    ds = ctx.ds
    cards = []
    for idx, row in issues.head(ctx.max_label_issues).iterrows():
        sid = row["sample_id"] if "sample_id" in issues.columns else idx
        if sid not in ds.samples.index:
            continue
        boxes = []
        oid = row.get("object_id")
        if oid is not None and oid in ds.gt_objects.index:
            o = ds.objects.loc[oid]
            boxes.append((o["x"], o["y"], o["w"], o["h"], "#ff3b30", o.get("mask")))
        if all(c in issues.columns for c in ("x", "y", "w", "h")) and pd.notna(row["x"]):
            boxes.append((row["x"], row["y"], row["w"], row["h"], "#34c759"))
        uri = thumbnail_uri(ds, sid, ctx.thumbnail_size, boxes)
        lines = [f"sample {fmt(sid)}"]
        if "issue" in issues.columns:
            lines.append(str(row["issue"]))
        if ds.task == "multilabel":
            for col, what in (("labels", "labels"), ("suggested_labels", "suggested")):
                if isinstance(row.get(col), tuple):
                    lines.append(f"{what}: {', '.join(map(str, row[col])) or '(none)'}")
        else:
            default = ds.samples.at[sid, "label"] if ds.task != "detection" else None
            given = row.get("label", default)
            if given is not None and not pd.isna(given):
                lines.append(f"label: {given}")
        if "suggested_label" in issues.columns and pd.notna(row["suggested_label"]):
            lines.append(f"suggested: {row['suggested_label']}")
        for score in ("label_quality", "p_label", "score"):
            if score in issues.columns and pd.notna(row[score]):
                lines.append(f"{score}: {fmt(float(row[score]), 3)}")
                break
        cards.append(card(uri, lines))
    return cards


# ---------------------------------------------------------------------- run comparison
def comparison(ctx: Context) -> Parts:
    if ctx.run is None or ctx.compare_with is None:
        return []
    from ..compare import compare_runs

    cmp = compare_runs(ctx.ds, ctx.compare_with, ctx.run)
    parts: Parts = [
        f"<p><b>{esc(ctx.compare_with)}</b> &rarr; <b>{esc(ctx.run)}</b> "
        f"({'ground-truth boxes' if cmp.kind == 'detection' else 'samples'} per change)</p>",
        table(cmp.counts.to_frame()),
        table(cmp.summary, signed=("delta",), lower_is_better=("log_loss", "ece", "hamming_loss")),
    ]
    pc = cmp.per_class
    delta_col = "f1_delta"
    shown = pc.reindex(pc[delta_col].abs().sort_values(ascending=False).index).head(ctx.max_classes)
    parts.append(
        fig.bars(
            list(shown.index),
            list(shown[delta_col].fillna(0)),
            f"F1 change per class ({ctx.run} minus {ctx.compare_with})",
            signed=True,
        )
    )
    delta = cmp.confusion_delta
    if cmp.kind == "multilabel":  # per class: change in tp / fp / fn / tn
        parts.append("<h3>Change in each class's decisions</h3>")
        parts.append(table(delta.loc[shown.index], signed=tuple(delta.columns)))
    elif len(delta) <= ctx.max_classes + 1:
        parts.append(fig.heatmap(delta, "confusion matrix change (counts)", diverging=True))
    bm = cmp.by_metric
    if len(bm):
        big = bm.reindex(bm["delta"].abs().sort_values(ascending=False).index).head(10)
        parts.append("<h3>Largest changes by metric bin</h3>")
        parts.append(table(big.drop(columns=["lower", "upper"]), index=False, signed=("delta",)))
    top = cmp.most_disagreeing(10)
    if len(top):
        parts.append("<h3>Where the two runs disagree most</h3>")
        parts.append(table(top, max_rows=10))
    return parts


# ---------------------------------------------------------------------- project records
def records(ctx: Context) -> Parts:
    ds = ctx.ds
    parts: Parts = []
    history = ds.run_history
    if len(history):
        headline = ["accuracy", "macro_f1", "log_loss", "AP", "AP50", "precision", "recall"]
        headline += ["mAP", "micro_f1", "miou"]
        cols = ["run", "kind", "created", "recorded", "size", "current"]
        cols += [c for c in headline if c in history.columns]
        parts.append("<h3>Run history</h3>")
        parts.append(table(history[cols], index=False))
    slices = ds.slices
    if len(slices):
        parts.append("<h3>Saved slices</h3>")
        parts.append(table(slices.drop(columns=["created"])))
    notes = ds.notes
    if len(notes):
        parts.append("<h3>Notes</h3>")
        parts.append(table(notes.drop(columns=["ids"])))
    changes = ds.label_history
    if len(changes):
        parts.append("<h3>Label changes</h3>")
        summary = changes.groupby(["batch", "source", "change"]).size().rename("items")
        parts.append(table(summary.reset_index(), index=False))
    return parts
