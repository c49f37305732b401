"""Likely label errors of a classification dataset: out-of-sample model probabilities combined
with the labels of each sample's nearest neighbours, ranked by a noise-aware posterior built on
cleanlab's confident joint (``_classification_score``), or any of cleanlab's filters."""

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
from ._classification_score import auto_flags, choose_neighbor_weight
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
#: ``filter_by`` values: the default rule (see ``_classification_score``) and cleanlab's filters
RULES = ("auto", *FILTERS)
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
    neighbor_weight: float | str | None = "auto",
    filter_by: str = "auto",
    include_all: bool = False,
    write: bool = True,
    client: Any = None,
) -> pd.DataFrame:
    """Likely label errors, most likely first; see :func:`nbdiag.issues.find_label_issues`
    (and ``docs/label-issues.md`` for the default rule). ``client``: a
    ``dask.distributed.Client`` for the all-rows kNN behind the neighbour evidence (same
    neighbours as the local run)."""
    cleanlab_filter = require("cleanlab.filter", "label-issue detection (confident learning)")
    cleanlab_count = require("cleanlab.count", "label-issue detection (confident learning)")
    if filter_by not in RULES:
        raise ValueError(f"filter_by must be one of {RULES}, got {filter_by!r}")
    auto_weight = neighbor_weight is None or (
        isinstance(neighbor_weight, str) and neighbor_weight == "auto"
    )
    if not auto_weight and (
        isinstance(neighbor_weight, str)
        or not isinstance(neighbor_weight, (int, float, np.number))
        or not 0.0 <= float(neighbor_weight) <= 1.0
    ):
        raise ValueError(f"neighbor_weight must be 'auto' or in [0, 1], got {neighbor_weight!r}")
    n_labelled = int(ds.samples["label"].notna().sum()) if len(ds.class_names) else 0
    if n_labelled < 2:
        raise ValueError(
            f"label issues need at least two labelled samples; {n_labelled} of {len(ds)} "
            "samples have a label"
        )
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
    if len(np.unique(codes)) < 2:
        raise ValueError(
            "label issues need at least two classes among the labels, found only "
            f"{ds.class_names[int(codes[0])]!r}"
        )

    have_emb = len(store_of(ds).names("sample")) > 0
    agreement = np.full(len(ids), np.nan)
    nb_label = np.full(len(ids), -1)
    weight = 0.0
    if have_emb and (auto_weight or float(neighbor_weight) > 0):
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
        if auto_weight:
            weight, _ = choose_neighbor_weight(p_model, q, codes)
        else:
            weight = float(neighbor_weight)
        p = (1.0 - weight) * p_model + weight * q
        evidence = f"model + neighbour probabilities (neighbour weight {weight:.1f})"
    else:
        p = p_model
        evidence = "model probabilities"
        if (auto_weight or float(neighbor_weight) > 0) and not have_emb:
            evidence += " (no embeddings: neighbour disagreement skipped)"

    noise_rate = float("nan")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model_flag = cleanlab_filter.find_label_issues(
            codes, p_model, filter_by="prune_by_noise_rate" if filter_by == "auto" else filter_by
        )
        if filter_by == "auto":
            flagged, quality, ranked, noise_rate = auto_flags(p, codes, cleanlab_count)
            method = f"noise-aware posterior on {evidence}"
        else:
            flagged = cleanlab_filter.find_label_issues(codes, p, filter_by=filter_by)
            ranked = p
            method = f"confident learning ({filter_by}) on {evidence}"
    rows = np.arange(len(ids))
    if filter_by != "auto":
        quality = p[rows, codes]
    others = ranked.copy()
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
        if filter_by == "auto":
            parts.append(f"estimated chance the label is wrong {1.0 - quality[r]:.0%}")
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
    frame.attrs.update(
        probabilities=source,
        method=method,
        filter_by=filter_by,
        k=k,
        neighbor_weight=weight,
        noise_rate=noise_rate,
    )
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
