"""The detection evaluation's concept modules: one-way imports, and their plain functions used
alone (without a ``DetectionEvaluation``) give what the class gives."""

from __future__ import annotations

import ast
import graphlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nbdiag.evaluation.detection import (
    DetectionEvaluation,
    _breakdown,
    _coco,
    _common,
    _confusion,
    _confusion_matrix,
    _data,
    _errors,
    _rematch,
    _summary,
    _tables,
    evaluate_detections,
)

from .coco_cases import make_case

PKG = Path(_coco.__file__).parent
MIXINS = ("_summary", "_tables", "_confusion_matrix", "_breakdown")


def _imports() -> dict[str, set[str]]:
    """Sibling modules each module imports, anywhere (TYPE_CHECKING, functions included)."""
    graph = {}
    for path in PKG.glob("*.py"):
        deps = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module:
                deps.add(node.module.split(".")[0])
        graph[path.stem] = deps
    return graph


def test_imports_flow_one_way() -> None:
    graph = _imports()
    list(graphlib.TopologicalSorter(graph).static_order())  # raises CycleError on a circle
    for name in MIXINS:
        assert not graph[name] & {*MIXINS, "_evaluation", "__init__"}, name
    assert "_evaluation" not in set().union(*(v for k, v in graph.items() if k != "__init__"))


def test_modules_stay_small() -> None:
    for path in PKG.glob("*.py"):
        assert len(path.read_text(encoding="utf-8").splitlines()) <= 500, path.name


def test_put_bounded_drops_the_oldest() -> None:
    cache: dict[int, int] = {}
    for i in range(5):
        _common.put_bounded(cache, i, i * 10, size=3)
    assert cache == {2: 20, 3: 30, 4: 40}


def test_threshold_checks() -> None:
    assert _rematch.check_iou_threshold(1) == 1.0
    for bad in (0, -0.1, 1.01, float("nan")):
        with pytest.raises(ValueError, match="iou_threshold"):
            _rematch.check_iou_threshold(bad)
    assert _rematch.check_score_threshold(-np.inf) == -np.inf
    with pytest.raises(ValueError, match="score_threshold"):
        _rematch.check_score_threshold(float("nan"))


@pytest.mark.parametrize("seed", range(3))
def test_plain_functions_reproduce_the_class(seed: int) -> None:
    gt, dt = make_case(seed)
    ev = evaluate_detections(gt, dt, progress=False).set_thresholds(iou=0.4, score=0.2)
    index = _coco.Index(_data.problem_from_coco(gt, dt))
    coco = _coco.evaluate(index)
    np.testing.assert_array_equal(coco.stats, ev.coco_stats)
    state = _rematch.view(index, _rematch.match_at(index, coco, 0.4, {}), 0.2)
    att = _errors.attribute(
        _errors.overlaps(index, _confusion.cross_class_pairs(index)),
        state["fp"],
        state["gt_match"],
        index.g_crowd,
        0.4,
    )
    pd.testing.assert_frame_equal(_tables.predictions_frame(index, state, att), ev.predictions)
    pd.testing.assert_frame_equal(_tables.ground_truth_frame(index, state, att), ev.ground_truth)
    pd.testing.assert_frame_equal(_summary.per_class_frame(index, coco, state), ev.per_class)
    assert _summary.precision_recall_f1(index, state) == pytest.approx(
        (ev.precision, ev.recall, ev.f1), nan_ok=True
    )
    pairs = _confusion_matrix.confusion_pairs_frame(
        index, _confusion.cross_class_pairs(index), state, 0.4
    )
    pd.testing.assert_frame_equal(pairs, ev.confusion_pairs)
    pd.testing.assert_frame_equal(
        _confusion_matrix.confusion_matrix_frame(pairs, ev.class_names, "true"),
        ev.confusion_matrix("true"),
    )
    counts = _breakdown.error_counts(index, att)
    table = ev.error_breakdown()
    np.testing.assert_array_equal(counts.sum(axis=0), table["count"].to_numpy())


def test_one_public_class() -> None:
    import nbdiag

    assert nbdiag.DetectionEvaluation is DetectionEvaluation
    assert isinstance(DetectionEvaluation.predictions, property)
    assert DetectionEvaluation.__module__ == "nbdiag.evaluation.detection._evaluation"
