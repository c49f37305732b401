"""``select_for_labeling``: which samples to label next, and labelling functions as tags."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..core import validation as v
from ..core.multilabel import MultiLabelRun, is_multilabel, labelled, multilabel_run
from ..core.runs import ClassificationRun, DetectionRun
from ..embeddings._neighbors import _ids_of
from ..embeddings._store import get_embeddings
from ._samplers import (
    MULTILABEL_UNCERTAINTY,
    UNCERTAINTY,
    class_balanced,
    k_center_greedy,
    top_k,
)

if TYPE_CHECKING:
    from ..core import DatasetCore

STRATEGIES = (
    "least_confidence",
    "margin",
    "entropy",
    "k_center",
    "class_balanced",
    "hybrid",
    "random",
)


def _uncertainty_inputs(
    ds: DatasetCore, run: str | None, probabilities: Any, ids: pd.Index
) -> tuple[np.ndarray | None, pd.DataFrame | None]:
    """Class probabilities of ``ids`` ``(n, K)`` (classification), or per-sample box scores
    frame (detection run)."""
    if probabilities is not None:
        if isinstance(probabilities, pd.DataFrame):
            frame = probabilities
        else:
            arr = np.asarray(probabilities, dtype=float)
            if arr.ndim != 2 or len(arr) != len(ds):
                raise ValueError(
                    f"probabilities must be (samples, classes) in samples order with "
                    f"{len(ds)} rows, got shape {arr.shape}"
                )
            frame = pd.DataFrame(arr, index=ds.samples.index)
        v.check_known_ids(ids, frame.index, "sample (in probabilities)")
        return frame.loc[ids].to_numpy(dtype=float), None
    r = ds._get_run(run)
    if isinstance(r, ClassificationRun):
        if r.probabilities is None:
            raise ValueError(
                f"run {r.name!r} has predicted labels only; uncertainty needs probabilities"
            )
        v.check_known_ids(ids, r.probabilities.index, f"sample (in run {r.name!r})")
        return r.probabilities.loc[ids].to_numpy(dtype=float), None
    assert isinstance(r, DetectionRun)
    return None, ds.run_boxes(r.name)


def _multilabel_scores(
    ds: DatasetCore, run: str | None, probabilities: Any, ids: pd.Index
) -> np.ndarray | None:
    """Per-class probabilities ``(n, C)`` of ``ids`` when they are multi-label (a multi-label
    run, or ``probabilities`` of a multi-label dataset), else None."""
    if probabilities is not None:
        if not is_multilabel(ds.samples):
            return None
        frame = multilabel_run("probabilities", probabilities, ds.samples.index, ds.class_names)
        scores = frame.scores
    else:
        r = ds._get_run(run)
        if not isinstance(r, MultiLabelRun):
            return None
        scores = r.scores
    v.check_known_ids(ids, scores.index, "sample (in the probabilities)")
    return scores.loc[ids].to_numpy(dtype=float)


def _detection_scores(boxes: pd.DataFrame, ids: pd.Index, kind: str) -> np.ndarray:
    """Per image: the highest uncertainty of its predicted boxes, each box's score read as a
    binary probability (images without boxes score 0)."""
    s = boxes["score"].to_numpy(dtype=float).clip(0, 1)
    p = np.c_[s, 1 - s]
    per_box = UNCERTAINTY[kind](p)
    agg = pd.Series(per_box, index=boxes["sample_id"].to_numpy()).groupby(level=0).max()
    return agg.reindex(ids).fillna(0.0).to_numpy()


def _detection_classes(boxes: pd.DataFrame, ids: pd.Index) -> np.ndarray:
    """Per image: the class of its most confident box (-1 without boxes)."""
    if not len(boxes):
        return np.full(len(ids), -1)
    top = boxes.sort_values("score", ascending=False).drop_duplicates("sample_id")
    codes = pd.Series(top["label"].cat.codes.to_numpy(), index=top["sample_id"].to_numpy())
    return codes.reindex(ids).fillna(-1).astype(np.int64).to_numpy()


#: ``split`` values of samples that are evaluated on, not trained on
EVALUATION_SPLITS = frozenset({"test", "val", "valid", "validation", "holdout"})


def select_for_labeling(
    ds: DatasetCore,
    budget: int,
    strategy: str = "hybrid",
    *,
    run: str | None = None,
    probabilities: Any = None,
    name: str | None = None,
    candidates: Any = None,
    labeled: Any = None,
    uncertainty: str = "margin",
    pool_factor: float = 5.0,
    metric: str = "euclidean",
    seed: int = 0,
    tag: str | None = None,
) -> pd.DataFrame:
    """Choose the next ``budget`` samples to label.

    Parameters
    ----------
    ds : nbdiag.Dataset
    budget : int
        How many samples to choose.
    strategy : str, default "hybrid"
        - ``"least_confidence"``: highest ``1 - max p``;
        - ``"margin"``: highest ``1 - (p1 - p2)`` (smallest gap between the top two classes);
        - ``"entropy"``: highest entropy of the class probabilities;
        - ``"k_center"``: greedy k-center on the embeddings (core-set): each pick is the
          candidate farthest from the labelled samples and the earlier picks;
        - ``"class_balanced"``: round-robin over predicted classes, most uncertain (by
          ``uncertainty``) first within each;
        - ``"hybrid"``: the ``pool_factor x budget`` most uncertain candidates, then k-center
          greedy among them, so the batch is both uncertain and diverse;
        - ``"random"``: a seeded random sample (the baseline).
        For a detection run, a sample's uncertainty is the highest over its predicted boxes,
        each box's score read as a binary probability; its class is its most confident box's.
        For a multi-label run (per-class probabilities), each class is a binary decision:
        ``"least_confidence"`` is one minus the probability of the most likely label set,
        ``"margin"`` ``1 - min_c |2 p_c - 1|`` (the class closest to 0.5), ``"entropy"`` the
        mean binary entropy over classes; a sample's class is its most probable one.
    run : str, optional
        Classification run with probabilities (or detection or multi-label run) giving the
        uncertainty;
        default the only run. ``probabilities=`` (array in samples order or DataFrame by id)
        instead.
    name : str, optional
        Embeddings for ``"k_center"`` / ``"hybrid"`` (default the active ones).
    candidates : ids, boolean mask or DataFrame, optional
        The pool to choose from. Default: samples without a label, or all samples when every
        sample has one.
    labeled : ids, boolean mask or DataFrame, optional
        Already labelled samples (the initial centres of k-center): the training labels.
        Default: labelled samples outside the candidates, except those in an evaluation split
        (``split`` of ``"test"``, ``"val"``, ``"valid"``, ``"validation"`` or ``"holdout"``:
        they are not trained on, so they cover nothing). Every id given must have embeddings.
    uncertainty : {"margin", "least_confidence", "entropy"}
        Uncertainty used by ``"class_balanced"`` and ``"hybrid"``.
    metric : {"euclidean", "cosine"}
        Distance of k-center greedy.
    seed : int
    tag : str, optional
        Also tag the chosen samples (``ds.tag``).

    Returns
    -------
    pandas.DataFrame
        Indexed by sample id in pick order: ``rank`` (1-based), ``score`` (what chose it:
        the uncertainty, or the k-center distance to the nearest centre at pick time),
        ``strategy``; plus ``uncertainty`` for ``"hybrid"``/``"class_balanced"`` and
        ``predicted_class`` for ``"class_balanced"``.
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy must be one of {STRATEGIES}, got {strategy!r}")
    if uncertainty not in UNCERTAINTY:
        raise ValueError(f"uncertainty must be one of {tuple(UNCERTAINTY)}, got {uncertainty!r}")
    budget = int(budget)
    if budget < 1:
        raise ValueError(f"budget must be a positive integer, got {budget!r}")
    samples = ds.samples
    if candidates is None:
        unlabelled = ~labelled(samples)
        pool = samples.index[unlabelled] if unlabelled.any() else samples.index
    else:
        pool = pd.Index(list(dict.fromkeys(_ids_of(candidates, samples))))
        v.check_known_ids(pool, samples.index, "sample (in candidates)")
    if not len(pool):
        raise ValueError("there are no candidate samples to select from")
    budget = min(budget, len(pool))
    extra: dict[str, Any] = {}

    if strategy == "random":
        rng = np.random.default_rng(seed)
        picks = rng.permutation(len(pool))[:budget]
        score = np.full(budget, np.nan)
    elif strategy in ("k_center", "hybrid"):
        emb = get_embeddings(ds, name, "sample")
        x = emb.vectors[emb.rows(pool)]
        if labeled is None:
            held_out = samples["split"].astype(str).str.lower().isin(EVALUATION_SPLITS)
            lab = samples.index[labelled(samples) & ~samples.index.isin(pool) & ~held_out]
            lab = lab[lab.isin(emb.ids)]  # embeddings of a subset: the others cannot count
        else:
            lab = pd.Index(_ids_of(labeled, samples))
            v.check_known_ids(lab, samples.index, "sample (in labeled)")
            no_vectors = lab[~lab.isin(emb.ids)]
            if len(no_vectors):
                raise ValueError(
                    f"labeled samples without embeddings ({emb.name!r}): "
                    f"{v.listed(no_vectors)}; embed them too, or leave them out"
                )
        centers = emb.vectors[emb.rows(lab)] if len(lab) else None
        if strategy == "k_center":
            picks, score = k_center_greedy(x, budget, centers, metric=metric, seed=seed)
        else:
            unc, _ = _uncertainty(ds, run, probabilities, pool, uncertainty)
            shortlist = top_k(unc, int(np.ceil(pool_factor * budget)))
            sub, score = k_center_greedy(x[shortlist], budget, centers, metric=metric, seed=seed)
            picks = shortlist[sub]
            extra["uncertainty"] = unc[picks]
    else:
        kind = uncertainty if strategy == "class_balanced" else strategy
        unc, predicted = _uncertainty(ds, run, probabilities, pool, kind)
        if strategy == "class_balanced":
            n_classes = len(ds.class_names)
            # samples without predictions (class -1) queue last, as their own group
            groups = np.where(predicted < 0, n_classes, predicted)
            picks = class_balanced(groups, unc, budget, n_classes + 1)
            extra["uncertainty"] = unc[picks]
            names = np.asarray([*ds.class_names, None], dtype=object)
            extra["predicted_class"] = names[groups[picks]]
            score = unc[picks]
        else:
            picks = top_k(unc, budget)
            score = unc[picks]

    chosen = pool[picks]
    out = pd.DataFrame(
        {"rank": np.arange(1, len(picks) + 1), "score": score, "strategy": strategy, **extra},
        index=pd.Index(chosen, name="id"),
    )
    if tag is not None:
        ds.tag(list(chosen), tag, level="sample")
    return out


def _uncertainty(
    ds: DatasetCore, run: str | None, probabilities: Any, pool: pd.Index, kind: str
) -> tuple[np.ndarray, np.ndarray]:
    """Uncertainty of each candidate and its predicted class code (-1: none)."""
    scores = _multilabel_scores(ds, run, probabilities, pool)
    if scores is not None:
        return MULTILABEL_UNCERTAINTY[kind](scores), scores.argmax(axis=1)
    probs, boxes = _uncertainty_inputs(ds, run, probabilities, pool)
    if probs is not None:
        return UNCERTAINTY[kind](probs), probs.argmax(axis=1)
    assert boxes is not None
    return _detection_scores(boxes, pool, kind), _detection_classes(boxes, pool)


LabelingFunction = Callable[[pd.Series], Any]


def apply_labeling_functions(
    ds: DatasetCore,
    functions: Mapping[str, LabelingFunction] | Iterable[LabelingFunction],
    *,
    level: str = "sample",
    ids: Any = None,
) -> pd.DataFrame:
    """Apply user rules to every row and record their verdicts as tags.

    A labelling function takes a row of ``ds.samples`` (``ds.objects`` with
    ``level="object"``) as a pandas Series and returns a tag name (str), ``True`` (tag with the
    function's name, or its key when ``functions`` is a dict), or ``None``/``False`` (no tag).

    Returns
    -------
    pandas.DataFrame
        One row per tag applied: ``id``, ``tag``, ``function``. The tags are added with
        ``ds.tag``.

    Examples
    --------
    >>> def dark(row):                                          # doctest: +SKIP
    ...     return "too_dark" if row["brightness"] < 0.1 else None
    >>> apply_labeling_functions(ds, [dark])                    # doctest: +SKIP
    """
    table = ds.samples if level == "sample" else ds.objects
    if level not in ("sample", "object"):
        raise ValueError(f"level must be 'sample' or 'object', got {level!r}")
    if isinstance(functions, Mapping):
        named = list(functions.items())
    else:
        named = [(getattr(f, "__name__", repr(f)), f) for f in functions]
    for key, f in named:
        if not callable(f):
            raise TypeError(f"labelling function {key!r} is not callable")
    rows = table if ids is None else table.loc[_ids_of(ids, table)]
    applied: list[tuple[Hashable, str, str]] = []
    for key, f in named:
        for rid, row in rows.iterrows():
            try:
                verdict = f(row)
            except Exception as exc:
                raise RuntimeError(
                    f"labelling function {key!r} failed on {level} {v.show(rid)}: {exc}"
                ) from exc
            if (
                verdict is None
                or verdict is False
                or (isinstance(verdict, float) and np.isnan(verdict))
            ):
                continue
            if verdict is True or isinstance(verdict, (bool, np.bool_)):
                tag = key
            elif isinstance(verdict, str) and verdict:
                tag = verdict
            else:
                raise TypeError(
                    f"labelling function {key!r} returned {verdict!r} for {v.show(rid)}; "
                    "return a tag name, True, or None"
                )
            applied.append((rid, tag, key))
    out = pd.DataFrame(applied, columns=["id", "tag", "function"])
    for tag, grp in out.groupby("tag", sort=False):
        ds.tag(list(grp["id"]), str(tag), level=level)
    return out
