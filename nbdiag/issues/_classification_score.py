"""The default ("auto") label-issue rule for classification: no noise rate, no threshold.

Three steps, each from evidence available without ground truth:

1. **Weight** -- the model probabilities ``p`` and the neighbour label distribution ``q`` (both
   out-of-sample: ``p`` from cross-validation, ``q`` from the *other* rows' labels) are mixed as
   ``(1 - w) p + w q``, with ``w`` on a grid of 0, 0.1, ..., 1 chosen to minimise the Brier
   score of the given labels (mean squared distance between the mix and the one-hot given
   label). Both inputs are held-out predictions, so this is stacking two predictors with one
   parameter; the Brier score is used rather than the log-loss because it is bounded, so the
   wrong labels themselves cannot dominate the choice.
2. **Noise rate** -- cleanlab's calibrated confident joint of the mix (``estimate_joint``, an
   estimate of ``P(given label = i, true label = j)``): its off-diagonal mass is the estimated
   share of wrong labels, and its columns give the noise channel ``P(given | true)``.
3. **Posterior and count** -- for each sample, Bayes' rule with that channel:
   ``P(true = j | x, given = i) ~ P(given = i | true = j) * mix_j(x)``; samples are ranked by the
   posterior probability that their label is wrong and the top ``round(noise rate * n)`` are
   flagged.

Confusions the data makes often (look-alike classes) get a larger channel probability, so a
sample whose evidence points to its label's usual confusion partner ranks higher than one
pointing at an unrelated class; under uniform noise the channel is flat and the rule reduces
to ranking by the mix's probability of the given label.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

#: mixture weights tried for the neighbour evidence
WEIGHT_GRID = np.round(np.linspace(0.0, 1.0, 11), 2)
_TINY = 1e-12


def choose_neighbor_weight(
    p: np.ndarray, q: np.ndarray, codes: np.ndarray, grid: np.ndarray = WEIGHT_GRID
) -> tuple[float, np.ndarray]:
    """The weight ``w`` of ``q`` in ``(1 - w) p + w q`` with the lowest Brier score against the
    given labels (``codes``), and the per-weight Brier scores. Ties go to the smaller weight."""
    # |m - e_y|^2 = sum_j m_j^2 - 2 m_y + 1 with m = (1 - w) p + w q: three dot products per
    # row, computed once, then O(n) per weight
    rows = np.arange(len(codes))
    pp, pq, qq = (np.einsum("ij,ij->i", a, b) for a, b in ((p, p), (p, q), (q, q)))
    py, qy = p[rows, codes], q[rows, codes]
    scores = np.array(
        [
            (
                (1 - w) ** 2 * pp + 2 * w * (1 - w) * pq + w**2 * qq - 2 * ((1 - w) * py + w * qy)
            ).mean()
            + 1.0
            for w in grid
        ]
    )
    return float(grid[int(np.argmin(scores))]), scores


def estimate_noise(
    codes: np.ndarray, p: np.ndarray, cleanlab_count: Any
) -> tuple[np.ndarray, float]:
    """cleanlab's calibrated joint ``P(given, true)`` on the classes present among the labels
    (embedded in a ``(K, K)`` array, zeros elsewhere), and the estimated noise rate
    ``1 - trace``."""
    n_classes = p.shape[1]
    present = np.flatnonzero(np.bincount(codes, minlength=n_classes) > 0)
    remap = np.full(n_classes, -1)
    remap[present] = np.arange(len(present))
    sub = p[:, present]
    sub = sub / np.maximum(sub.sum(axis=1, keepdims=True), _TINY)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        joint_sub = cleanlab_count.estimate_joint(remap[codes], sub)
    joint = np.zeros((n_classes, n_classes))
    joint[np.ix_(present, present)] = joint_sub
    rate = float(np.clip(1.0 - np.trace(joint), 0.0, 1.0))
    return joint, rate


def noise_posterior(p: np.ndarray, codes: np.ndarray, joint: np.ndarray) -> np.ndarray:
    """``P(true = j | x, given label)``: the channel ``P(given = i | true = j)`` (columns of
    ``joint`` normalised) times ``p``, renormalised per row. Rows whose likelihood vanishes
    keep ``p``."""
    channel = joint / np.maximum(joint.sum(axis=0, keepdims=True), _TINY)
    lik = channel[codes] * p
    total = lik.sum(axis=1, keepdims=True)
    out = np.where(total > _TINY, lik / np.maximum(total, _TINY), p)
    return out


def auto_flags(
    p: np.ndarray, codes: np.ndarray, cleanlab_count: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """The auto rule on mixed probabilities ``p``: ``(flagged, p_label_correct, posterior,
    noise_rate)``. ``p_label_correct`` is the posterior probability of the given label;
    exactly ``round(noise_rate * n)`` samples are flagged, the least likely correct first (ties
    broken by the lower mixed probability of the given label)."""
    n = len(codes)
    rows = np.arange(n)
    joint, rate = estimate_noise(codes, p, cleanlab_count)
    post = noise_posterior(p, codes, joint)
    correct = post[rows, codes]
    order = np.lexsort((p[rows, codes], correct))
    flagged = np.zeros(n, dtype=bool)
    flagged[order[: int(round(rate * n))]] = True
    return flagged, correct, post, rate
