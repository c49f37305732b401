"""Comparing two runs of a dataset: what a new model fixed, what it broke, where it changed.

>>> cmp = ds.compare("resnet_v1", "resnet_v2")          # doctest: +SKIP
>>> cmp.counts                   # fixed / broken / still_wrong / both_right   # doctest: +SKIP
>>> cmp.items[cmp.items.change == "broken"]            # doctest: +SKIP
>>> cmp.confusion_delta          # counts of run_b minus run_a                # doctest: +SKIP
>>> cmp.most_disagreeing(20)                           # doctest: +SKIP
"""

from ._comparison import CHANGES, RunComparison
from ._runs import compare_runs

__all__ = ["CHANGES", "RunComparison", "compare_runs"]
