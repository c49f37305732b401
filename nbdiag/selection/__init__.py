"""Active learning: which samples to label next (uncertainty, k-center diversity, class
balance, a hybrid with a budget) and user labelling functions applied as tags."""

from ._samplers import (
    class_balanced,
    entropy,
    k_center_greedy,
    least_confidence,
    margin,
    multilabel_entropy,
    multilabel_least_confidence,
    multilabel_margin,
    top_k,
)
from ._select import STRATEGIES, apply_labeling_functions, select_for_labeling

__all__ = [
    "STRATEGIES",
    "apply_labeling_functions",
    "class_balanced",
    "entropy",
    "k_center_greedy",
    "least_confidence",
    "margin",
    "multilabel_entropy",
    "multilabel_least_confidence",
    "multilabel_margin",
    "select_for_labeling",
    "top_k",
]
