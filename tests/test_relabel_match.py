"""Matching re-imported boxes to a sample's old boxes: the id a box came back with first, then
greedily by IoU, highest first; what stays unpaired is added / removed."""

from __future__ import annotations

import pandas as pd

from nbdiag.io.relabel._match import _match_boxes


def _old(rows: dict[int, tuple[str, float, float, float, float]]) -> pd.DataFrame:
    frame = pd.DataFrame.from_dict(rows, orient="index", columns=["sample_id", "x", "y", "w", "h"])
    frame.index.name = "object_id"
    return frame


def _new(rows: list[tuple[str, float, float, float, float, object]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["sample_id", "x", "y", "w", "h", "hint"])
    frame["hint"] = frame["hint"].astype(object)
    return frame


def test_id_first_then_highest_iou_then_added_and_removed():
    old = _old(
        {
            1: ("a", 0, 0, 10, 10),
            2: ("a", 20, 0, 10, 10),
            3: ("a", 40, 0, 10, 10),
            4: ("b", 0, 0, 10, 10),
        }
    )
    new = _new(
        [
            ("a", 100, 100, 5, 5, 1),  # keeps object 1 by its id, wherever it moved
            ("a", 21, 0, 10, 10, None),  # overlaps 2 most
            ("a", 22, 0, 10, 10, None),  # overlaps 2 too, but 2 is taken: under the IoU to 3
            ("b", 50, 50, 5, 5, "999"),  # unknown id, no overlap: added; 4 removed
        ]
    )
    pairs, added, removed = _match_boxes(old, new, ["a", "b"], old.index, 0.5)
    assert pairs == [(1, 0), (2, 1)]
    assert added == [2, 3]
    assert removed == [3, 4]


def test_ids_given_as_text_and_samples_without_old_boxes():
    old = _old({7: ("a", 0, 0, 10, 10)})
    new = _new([("a", 0, 0, 10, 10, "7"), ("c", 0, 0, 10, 10, None)])
    pairs, added, removed = _match_boxes(old, new, ["a", "c"], old.index, 0.5)
    assert (pairs, added, removed) == ([(7, 0)], [1], [])
