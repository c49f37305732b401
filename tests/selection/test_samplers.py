"""Each sampler picks what its definition says on a toy case."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import nbdiag
from nbdiag.embeddings import set_embeddings
from nbdiag.selection import (
    apply_labeling_functions,
    class_balanced,
    entropy,
    k_center_greedy,
    least_confidence,
    margin,
    select_for_labeling,
)

# rows: a sure, b two-way tie, c three-way spread, d top-heavy but close second
PROBS = np.array(
    [
        [0.98, 0.01, 0.01],
        [0.50, 0.50, 0.00],
        [0.34, 0.33, 0.33],
        [0.60, 0.39, 0.01],
    ]
)


def test_uncertainty_definitions():
    np.testing.assert_allclose(least_confidence(PROBS), [0.02, 0.5, 0.66, 0.4])
    np.testing.assert_allclose(margin(PROBS), [0.03, 1.0, 0.99, 0.79])
    assert entropy(PROBS).argmax() == 2 and entropy(PROBS).argmin() == 0


@pytest.fixture
def toy():
    ids = ["a", "b", "c", "d"]
    ds = nbdiag.Dataset(pd.DataFrame({"label": [None] * 4}, index=ids), class_names=["x", "y", "z"])
    ds.add_run("model", PROBS)
    return ds


@pytest.mark.parametrize(
    ("strategy", "want"),
    [("least_confidence", ["c", "b"]), ("margin", ["b", "c"]), ("entropy", ["c", "d"])],
)
def test_uncertainty_strategies(toy, strategy, want):
    out = select_for_labeling(toy, 2, strategy)
    assert list(out.index) == want
    assert out["rank"].tolist() == [1, 2] and (out["strategy"] == strategy).all()
    assert out["score"].is_monotonic_decreasing


def test_k_center_picks_the_farthest_points():
    # three tight clusters and a far point; one cluster is labelled already
    x = np.array([[0, 0], [0.1, 0], [10, 0], [10.1, 0], [0, 10], [0, 10.1], [30, 30]], float)
    picks, dist = k_center_greedy(x, 3, centers=x[[0]])
    assert picks[0] == 6  # farthest from the labelled centre
    assert set(picks[1:]) & {2, 3} and set(picks[1:]) & {4, 5}  # one from each other cluster
    assert np.all(np.diff(dist) <= 0)
    ds = nbdiag.Dataset(pd.DataFrame({"label": ["l", None, None, None, None, None, None]}))
    set_embeddings(ds, x)
    out = select_for_labeling(ds, 3, "k_center")
    assert out.index[0] == 6 and 0 not in out.index
    assert out["score"].iloc[0] == pytest.approx(np.hypot(30, 30))


def test_k_center_without_labelled_points_is_textbook_greedy():
    # the candidates' mean only chooses the first pick; it is not a centre afterwards
    x = np.array([[-10.0], [1.0], [10.0], [6.0]])
    picks, dist = k_center_greedy(x, 3)
    assert picks.tolist() == [0, 2, 1]
    assert dist[0] == np.inf and dist[1:].tolist() == [20.0, 9.0]
    # and it matches a brute-force greedy on random points
    rng = np.random.default_rng(1)
    y = rng.normal(size=(60, 3))
    picks, dist = k_center_greedy(y, 8)
    chosen = [int(picks[0])]
    for _ in range(7):
        d = np.linalg.norm(y[:, None, :] - y[chosen][None, :, :], axis=2).min(axis=1)
        chosen.append(int(np.argmax(d)))
    assert picks.tolist() == chosen


def test_class_balanced_round_robin():
    predicted = np.array([0, 0, 0, 0, 1, 2])
    scores = np.array([0.9, 0.8, 0.7, 0.6, 0.1, 0.2])
    assert class_balanced(predicted, scores, 4, 3).tolist() == [0, 4, 5, 1]
    assert class_balanced(predicted, scores, 10, 3).tolist() == [0, 4, 5, 1, 2, 3]


def test_class_balanced_strategy_on_a_dataset():
    probs = np.array([[0.9, 0.1], [0.6, 0.4], [0.55, 0.45], [0.2, 0.8]])
    ds = nbdiag.Dataset(pd.DataFrame({"label": [None] * 4}), class_names=["p", "q"])
    ds.add_run("m", probs)
    out = select_for_labeling(ds, 2, "class_balanced")
    assert list(out.index) == [2, 3]  # the most uncertain "p" and the only "q"
    assert out["predicted_class"].tolist() == ["p", "q"]


def test_hybrid_is_uncertain_and_diverse():
    # six uncertain points in two far-apart pairs plus six confident ones
    x = np.array([[0, 0], [0.01, 0], [5, 5], [5.01, 5], [9, 0], [9.01, 0]] + [[2, 2]] * 6, float)
    p_unsure = np.tile([0.5, 0.5], (6, 1))
    p_sure = np.tile([0.99, 0.01], (6, 1))
    ds = nbdiag.Dataset(pd.DataFrame({"label": [None] * 12}), class_names=["a", "b"])
    ds.add_run("m", np.r_[p_unsure, p_sure])
    set_embeddings(ds, x)
    out = select_for_labeling(ds, 3, "hybrid", pool_factor=2)
    assert set(out.index) <= set(range(6))  # only uncertain ones
    pairs = {i // 2 for i in out.index}
    assert pairs == {0, 1, 2}  # one from each pair: diverse
    assert (out["uncertainty"] == 1.0).all()


def test_candidates_labeled_random_and_tagging(toy):
    out = select_for_labeling(toy, 2, "margin", candidates=["a", "d"], tag="next")
    assert list(out.index) == ["d", "a"]
    assert set(toy.tagged("next").index) == {"a", "d"}
    r1 = select_for_labeling(toy, 3, "random", seed=1)
    r2 = select_for_labeling(toy, 3, "random", seed=1)
    assert list(r1.index) == list(r2.index)
    assert len(select_for_labeling(toy, 99, "margin")) == 4
    with pytest.raises(ValueError, match="strategy must be one of"):
        select_for_labeling(toy, 1, "badge")
    with pytest.raises(ValueError, match="budget"):
        select_for_labeling(toy, 0)
    with pytest.raises(ValueError, match="no sample embeddings"):
        select_for_labeling(toy, 1, "k_center")


def test_detection_uncertainty_from_box_scores():
    samples = pd.DataFrame({"width": 50.0, "height": 50.0}, index=["s0", "s1", "s2"])
    gt = pd.DataFrame([{"sample_id": "s0", "label": "cat", "x": 1, "y": 1, "w": 5, "h": 5}])
    ds = nbdiag.Dataset(samples, gt, class_names=["cat", "dog"])
    preds = pd.DataFrame(
        [
            {"sample_id": "s0", "label": "cat", "x": 1, "y": 1, "w": 5, "h": 5, "score": 0.97},
            {"sample_id": "s1", "label": "dog", "x": 1, "y": 1, "w": 5, "h": 5, "score": 0.52},
            {"sample_id": "s2", "label": "cat", "x": 1, "y": 1, "w": 5, "h": 5, "score": 0.8},
        ]
    )
    ds.add_run("det", preds)
    out = select_for_labeling(ds, 2, "least_confidence", candidates=list(samples.index))
    assert list(out.index) == ["s1", "s2"]
    bal = select_for_labeling(ds, 2, "class_balanced", candidates=list(samples.index))
    assert set(bal["predicted_class"]) == {"cat", "dog"}


def test_labeling_functions_become_tags():
    ds = nbdiag.Dataset(pd.DataFrame({"label": ["a", "b", "a"], "brightness": [0.05, 0.5, 0.95]}))

    def dark(row):
        return "too_dark" if row["brightness"] < 0.1 else None

    out = apply_labeling_functions(ds, [dark, lambda r: r["brightness"] > 0.9 and "too_bright"])
    assert set(zip(out["id"], out["tag"], strict=True)) == {(0, "too_dark"), (2, "too_bright")}
    assert list(ds.tagged("too_dark").index) == [0]
    named = apply_labeling_functions(ds, {"is_b": lambda r: r["label"] == "b"})
    assert named["tag"].tolist() == ["is_b"] and list(ds.tagged("is_b").index) == [1]
    with pytest.raises(TypeError, match="return a tag name"):
        apply_labeling_functions(ds, [lambda r: 3])
    with pytest.raises(RuntimeError, match="failed on sample 0"):
        apply_labeling_functions(ds, [lambda r: r["missing_column"]])


def test_default_centres_are_training_labels_not_the_test_split():
    x = np.array([[0.0, 0.0], [1.0, 0.0], [9.0, 0.0], [10.0, 0.0], [100.0, 100.0]])
    samples = pd.DataFrame(
        {"label": ["a", None, None, None, "b"], "split": ["train", None, None, None, "test"]}
    )
    ds = nbdiag.Dataset(samples)
    set_embeddings(ds, x)
    out = select_for_labeling(ds, 1, "k_center")
    # the far test image is no centre: the pick is the candidate farthest from the train image
    assert out.index.tolist() == [3] and out["score"].iloc[0] == pytest.approx(10.0)
    out = select_for_labeling(ds, 1, "k_center", labeled=[0, 4])  # explicit: as given
    assert out.index.tolist() == [3]


def test_labeled_ids_without_embeddings_are_named():
    ds = nbdiag.Dataset(pd.DataFrame({"label": ["a", None, None, "b"]}))
    set_embeddings(ds, np.eye(3), ids=[0, 1, 2])
    with pytest.raises(ValueError, match=r"labeled samples without embeddings.*3"):
        select_for_labeling(ds, 1, "k_center", candidates=[1, 2], labeled=[0, 3])
    with pytest.raises(ValueError, match="unknown sample"):
        select_for_labeling(ds, 1, "k_center", candidates=[1, 2], labeled=[0, 99])
