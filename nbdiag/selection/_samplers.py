"""Active-learning samplers on arrays: uncertainty scores, k-center greedy, class balance."""

from __future__ import annotations

import numpy as np

_EPS = 1e-12


def _probs(p: np.ndarray) -> np.ndarray:
    p = np.asarray(p, dtype=np.float64)
    if p.ndim != 2 or p.shape[1] < 1:
        raise ValueError(f"probabilities must be 2-D (samples x classes), got shape {p.shape}")
    return p


def least_confidence(p: np.ndarray) -> np.ndarray:
    """``1 - max_c p_c``: high when the model's top class is unsure."""
    return 1.0 - _probs(p).max(axis=1)


def margin(p: np.ndarray) -> np.ndarray:
    """``1 - (p_top1 - p_top2)``: high when the two most likely classes are close."""
    p = _probs(p)
    if p.shape[1] == 1:
        return 1.0 - np.abs(2 * p[:, 0] - 1)
    top2 = -np.partition(-p, 1, axis=1)[:, :2]
    return 1.0 - (top2[:, 0] - top2[:, 1])


def entropy(p: np.ndarray) -> np.ndarray:
    """Shannon entropy in nats: high when probability is spread over many classes."""
    p = _probs(p)
    return -(p * np.log(np.clip(p, _EPS, 1.0))).sum(axis=1)


UNCERTAINTY = {"least_confidence": least_confidence, "margin": margin, "entropy": entropy}


def top_k(scores: np.ndarray, budget: int) -> np.ndarray:
    """Positions of the ``budget`` highest scores, highest first (ties: lower position first)."""
    scores = np.asarray(scores, dtype=np.float64)
    order = np.lexsort((np.arange(len(scores)), -scores))
    return order[: max(0, int(budget))]


def k_center_greedy(
    x: np.ndarray,
    budget: int,
    centers: np.ndarray | None = None,
    *,
    metric: str = "euclidean",
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Greedy k-center (core-set) selection (Sener & Savarese, 2018).

    Repeatedly picks the candidate farthest from every centre so far (the already labelled
    points ``centers``, then the picks). Without centres the first pick is the candidate
    farthest from the candidates' mean (deterministic; ``seed`` breaks exact ties only).

    Returns
    -------
    (positions, distances)
        Positions into ``x`` in pick order, and each pick's distance to its nearest centre at
        the time it was picked (non-increasing).
    """
    x = np.asarray(x, dtype=np.float64)
    if metric == "cosine":
        x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), _EPS)
        if centers is not None and len(centers):
            c = np.asarray(centers, dtype=np.float64)
            centers = c / np.maximum(np.linalg.norm(c, axis=1, keepdims=True), _EPS)
    elif metric != "euclidean":
        raise ValueError(f"metric must be 'euclidean' or 'cosine', got {metric!r}")
    n = len(x)
    budget = min(int(budget), n)
    if budget <= 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    rng = np.random.default_rng(seed)
    jitter = rng.random(n) * 1e-12  # tie-break only
    sq = (x * x).sum(axis=1)

    def dist_to(c: np.ndarray) -> np.ndarray:
        d2 = sq[:, None] + (c * c).sum(axis=1)[None, :] - 2.0 * x @ c.T
        return np.sqrt(np.maximum(d2, 0.0)).min(axis=1)

    if centers is not None and len(centers):
        nearest = np.full(n, np.inf)
        c = np.asarray(centers, dtype=np.float64)
        for s in range(0, len(c), 4096):
            nearest = np.minimum(nearest, dist_to(c[s : s + 4096]))
    else:
        nearest = dist_to(x.mean(axis=0, keepdims=True))  # only to choose the first pick
    cold = centers is None or not len(centers)
    picks = np.empty(budget, dtype=np.int64)
    dists = np.empty(budget)
    for t in range(budget):
        j = int(np.argmax(nearest + jitter))
        picks[t], dists[t] = j, nearest[j]
        d = dist_to(x[j : j + 1])
        # the mean is not a centre: after the first pick, distances are to the picks alone
        nearest = d if cold and t == 0 else np.minimum(nearest, d)
        nearest[j] = -np.inf
    if centers is None or not len(centers):
        dists[0] = np.inf  # the first pick had no centre to be far from
    return picks, dists


def class_balanced(
    predicted: np.ndarray, scores: np.ndarray, budget: int, n_classes: int
) -> np.ndarray:
    """Round-robin over predicted classes, most uncertain (highest score) first within each;
    a class that runs out of candidates leaves its turns to the others.

    Returns positions in pick order.
    """
    predicted = np.asarray(predicted)
    scores = np.asarray(scores, dtype=np.float64)
    queues = []
    for c in range(n_classes):
        members = np.flatnonzero(predicted == c)
        queues.append(list(members[top_k(scores[members], len(members))]))
    picks: list[int] = []
    budget = min(int(budget), len(scores))
    while len(picks) < budget:
        progressed = False
        for q in queues:
            if q and len(picks) < budget:
                picks.append(int(q.pop(0)))
                progressed = True
        if not progressed:
            break
    return np.asarray(picks, dtype=np.int64)


# ---------------------------------------------------------------------- multi-label
# Per-class independent probabilities (sigmoid outputs): each class is a binary decision.


def multilabel_least_confidence(p: np.ndarray) -> np.ndarray:
    """``1 - prod_c max(p_c, 1 - p_c)``: one minus the probability of the most likely label
    set (classes independent). High when any class, or many, are unsure."""
    p = _probs(p)
    return 1.0 - np.exp(np.log(np.clip(np.maximum(p, 1.0 - p), _EPS, 1.0)).sum(axis=1))


def multilabel_margin(p: np.ndarray) -> np.ndarray:
    """``1 - min_c |2 p_c - 1|``: high when some class is close to the 0.5 decision boundary."""
    return 1.0 - np.abs(2.0 * _probs(p) - 1.0).min(axis=1)


def multilabel_entropy(p: np.ndarray) -> np.ndarray:
    """Mean binary entropy over the classes (nats): high when many classes are unsure."""
    p = np.clip(_probs(p), _EPS, 1.0 - _EPS)
    return -(p * np.log(p) + (1.0 - p) * np.log(1.0 - p)).mean(axis=1)


MULTILABEL_UNCERTAINTY = {
    "least_confidence": multilabel_least_confidence,
    "margin": multilabel_margin,
    "entropy": multilabel_entropy,
}
