"""Likely label errors of a classification dataset: confident learning (cleanlab) on
out-of-sample probabilities, combined with the labels of each sample's nearest neighbours."""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .._optional import require
from ..core import validation as v
from ..core.runs import ClassificationRun
from ..embeddings._neighbors import neighbor_graph
from ..embeddings._store import store_of
from ._oof import out_of_fold_probabilities

if TYPE_CHECKING:
    from ..core import DatasetCore

FILTERS = (
    "prune_by_noise_rate",
    "prune_by_class",
    "both",
    "confident_learning",
    "predicted_neq_given",
)
#: add-one smoothing of the neighbour label distribution (so no class gets probability 0)
_SMOOTH = 0.1


def neighbor_label_distribution(
    labels: np.ndarray, neighbors: np.ndarray, n_classes: int
) -> np.ndarray:
    """Per row, the smoothed distribution of its neighbours' labels (``labels`` are codes, -1
    for unlabelled; ``neighbors`` row positions, -1 for none)."""
    n, k = neighbors.shape
    q = np.full((n, n_classes), _SMOOTH / n_classes)
    for j in range(k):
        nb = neighbors[:, j]
        ok = nb >= 0
        lab = np.where(ok, labels[np.maximum(nb, 0)], -1)
        ok &= lab >= 0
        np.add.at(q, (np.flatnonzero(ok), lab[ok]), 1.0)
    return q / q.sum(axis=1, keepdims=True)


def _probabilities(
    ds: DatasetCore, run: str | None, probabilities: Any, name: str | None
) -> tuple[pd.DataFrame, str]:
    """The out-of-sample probabilities to use and where they came from."""
    if probabilities is not None:
        if isinstance(probabilities, pd.DataFrame):
            frame = probabilities.rename(columns=str)
            missing = [c for c in ds.class_names if c not in frame.columns]
            if missing:
                raise ValueError(f"probabilities lack columns for classes {missing[:10]}")
            frame = frame[ds.class_names]
        else:
            arr = np.asarray(probabilities, dtype=float)
            if arr.ndim != 2 or arr.shape != (len(ds), len(ds.class_names)):
                raise ValueError(
                    f"probabilities must have shape (samples, classes) = "
                    f"{(len(ds), len(ds.class_names))}, got {arr.shape}"
                )
            frame = pd.DataFrame(arr, index=ds.samples.index, columns=ds.class_names)
        p = v.check_probabilities(frame.to_numpy(), frame.index)
        return pd.DataFrame(p, index=frame.index, columns=ds.class_names), "given probabilities"
    if run is not None or (
        not len(store_of(ds).names("sample"))
        and any(isinstance(r, ClassificationRun) for r in ds.runs.values())
    ):
        r = ds._get_run(run, ClassificationRun)
        assert isinstance(r, ClassificationRun)
        if r.probabilities is None:
            raise ValueError(
                f"run {r.name!r} has predicted labels only; label issues need class "
                "probabilities (out-of-sample, e.g. from cross-validation)"
            )
        return r.probabilities, f"run {r.name!r}"
    if not len(store_of(ds).names("sample")):
        raise ValueError(
            "label issues need out-of-sample class probabilities: pass run= (a classification "
            "run with probabilities from cross-validation), probabilities=, or compute "
            "embeddings first (ds.embed(model) / ds.set_embeddings(array)) for out-of-fold "
            "probabilities"
        )
    return out_of_fold_probabilities(ds, name=name), "out-of-fold logistic regression"


def find_classification_label_issues(
    ds: DatasetCore,
    run: str | None = None,
    *,
    probabilities: Any = None,
    name: str | None = None,
    k: int = 10,
    neighbor_weight: float = 0.5,
    filter_by: str = "prune_by_noise_rate",
    include_all: bool = False,
    write: bool = True,
    client: Any = None,
) -> pd.DataFrame:
    """Likely label errors, most likely first; see :func:`nbdiag.issues.find_label_issues`.
    ``client``: a ``dask.distributed.Client`` for the all-rows kNN behind the neighbour
    evidence (same neighbours as the local run)."""
    cleanlab_filter = require("cleanlab.filter", "label-issue detection (confident learning)")
    if filter_by not in FILTERS:
        raise ValueError(f"filter_by must be one of {FILTERS}, got {filter_by!r}")
    if not 0.0 <= neighbor_weight <= 1.0:
        raise ValueError(f"neighbor_weight must be in [0, 1], got {neighbor_weight!r}")
    probs, source = _probabilities(ds, run, probabilities, name)
    samples = ds.samples
    labels = samples["label"].reindex(probs.index)
    keep = labels.notna().to_numpy()
    probs = probs[keep]
    ids = probs.index
    codes = labels.cat.codes.to_numpy()[keep].astype(np.int64)
    n_classes = len(ds.class_names)
    p_model = probs.to_numpy(dtype=np.float64)
    if len(ids) < 2:
        raise ValueError("label issues need at least two labelled samples")

    have_emb = len(store_of(ds).names("sample")) > 0
    agreement = np.full(len(ids), np.nan)
    nb_label = np.full(len(ids), -1)
    if have_emb and neighbor_weight > 0:
        emb, _, nbrs = neighbor_graph(ds, k, name=name, client=client)
        all_codes = samples["label"].reindex(emb.ids).cat.codes.to_numpy().astype(np.int64)
        q_all = neighbor_label_distribution(all_codes, nbrs, n_classes)
        pos = emb.ids.get_indexer(ids)
        has = pos >= 0
        q = np.tile(np.full(n_classes, 1.0 / n_classes), (len(ids), 1))
        q[has] = q_all[pos[has]]
        nb_codes = np.where(nbrs >= 0, all_codes[np.maximum(nbrs, 0)], -1)
        counted = (nb_codes >= 0).sum(axis=1)
        same = (nb_codes == all_codes[:, None]).sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            agree_all = np.where(counted > 0, same / counted, np.nan)
        agreement[has] = agree_all[pos[has]]
        nb_label[has] = q_all[pos[has]].argmax(axis=1)
        p = (1.0 - neighbor_weight) * p_model + neighbor_weight * q
        method = "confident learning on model + neighbour probabilities"
    else:
        p = p_model
        method = "confident learning on model probabilities"
        if neighbor_weight > 0 and not have_emb:
            method += " (no embeddings: neighbour disagreement skipped)"

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        flagged = cleanlab_filter.find_label_issues(codes, p, filter_by=filter_by)
        model_flag = cleanlab_filter.find_label_issues(codes, p_model, filter_by=filter_by)
    rows = np.arange(len(ids))
    quality = p[rows, codes]
    others = p.copy()
    others[rows, codes] = -1.0
    suggested = others.argmax(axis=1)
    model_pred = p_model.argmax(axis=1)
    names = np.asarray(ds.class_names, dtype=object)

    reasons = np.empty(len(ids), dtype=object)
    for r in range(len(ids)):
        lab = names[codes[r]]
        parts = [f"model gives {lab!r} p={p_model[r, codes[r]]:.2f}"]
        if model_pred[r] != codes[r]:
            parts[0] += f" and predicts {names[model_pred[r]]!r} ({p_model[r, model_pred[r]]:.2f})"
        if not np.isnan(agreement[r]):
            share = agreement[r]
            parts.append(
                f"{share:.0%} of {k} nearest neighbours are {lab!r}"
                + (
                    f", most are {names[nb_label[r]]!r}"
                    if nb_label[r] not in (-1, codes[r])
                    else ""
                )
            )
        reasons[r] = "; ".join(parts)

    frame = pd.DataFrame(
        {
            "label": pd.Categorical.from_codes(codes, categories=ds.class_names),
            "suggested_label": pd.Categorical.from_codes(suggested, categories=ds.class_names),
            "label_quality": quality,
            "is_label_issue": flagged,
            "model_p_label": p_model[rows, codes],
            "model_prediction": pd.Categorical.from_codes(model_pred, categories=ds.class_names),
            "neighbor_agreement": agreement,
            "confident_learning": model_flag,
            "reason": reasons,
        },
        index=pd.Index(ids, name="id"),
    )
    frame = frame.sort_values(
        ["is_label_issue", "label_quality"], ascending=[False, True], kind="stable"
    )
    frame.attrs.update(probabilities=source, method=method, filter_by=filter_by, k=k)
    if write:
        samples["label_issue"] = False
        samples.loc[ids, "label_issue"] = flagged
        samples["label_quality"] = np.nan
        samples.loc[ids, "label_quality"] = quality
        sugg = pd.Series(
            pd.Categorical([None] * len(samples), categories=ds.class_names), index=samples.index
        )
        flagged_ids = ids[flagged]
        sugg[flagged_ids] = names[suggested[flagged]]
        samples["suggested_label"] = sugg
    return frame if include_all else frame[frame["is_label_issue"]]
