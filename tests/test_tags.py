"""Tags as row positions: id lookups, unknown ids, following the objects table, round trips."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import nbdiag
from nbdiag.core.validation import UnknownIdError


def _ds(n: int = 50, string_ids: bool = False) -> nbdiag.Dataset:
    ids = [f"img{i}" for i in range(n)] if string_ids else list(range(n))
    samples = pd.DataFrame({"width": 100.0, "height": 80.0, "label": "a"}, index=ids)
    samples.loc[samples.index[1::2], "label"] = "b"
    objects = pd.DataFrame(
        {
            "sample_id": ids[:10],
            "label": "a",
            "x": 1.0,
            "y": 2.0,
            "w": 10.0,
            "h": 10.0,
        },
        index=[f"o{i}" for i in range(10)],
    )
    return nbdiag.Dataset(samples, objects)


@pytest.mark.parametrize("string_ids", [False, True])
def test_tag_untag_tagged_by_ids_arrays_masks_and_frames(string_ids):
    ds = _ds(string_ids=string_ids)
    ids = list(ds.samples.index)
    assert ds.tag(ids[5:15], "x") == 10
    assert ds.tag(np.array(ids[10:20], dtype=object), "x") == 5  # 5 new, 5 already tagged
    assert ds.tag(ids[0], "x") == 1  # one id
    assert ds.tag(ds.samples["label"] == "a", "y") == 25  # a boolean Series
    assert ds.tag(ds.samples.iloc[:3], "z") == 3  # a DataFrame
    assert ds.tag([ids[2], ids[3], ids[3]], "z") == 1  # duplicates count once
    assert ds.tagged("x").index.tolist() == [ids[0]] + ids[5:20]  # table order
    assert ds.untag(ids[5:8] + ids[5:6], "x") == 3
    assert ds.untag(ids[5:8], "x") == 0
    assert ds.untag(ids, "never-made") == 0
    assert ds.tagged("x").index.tolist() == [ids[0]] + ids[8:20]
    # the frame users see: one row per tagged id, in the order tags were made
    frame = ds.tags
    assert list(frame.columns) == ["id", "tag", "level", "created"]
    x = frame[frame["tag"] == "x"]
    assert x["id"].tolist() == ids[8:15] + ids[15:20] + [ids[0]]
    assert frame["created"].is_monotonic_increasing
    assert str(frame["created"].dtype) == "datetime64[ns, UTC]"
    assert set(frame["level"]) == {"sample"}


def test_unknown_ids_raise_a_key_error_naming_up_to_five():
    ds = _ds()
    bad = [1000 + i for i in range(8)]
    with pytest.raises(KeyError) as info:
        ds.tag([1, 2] + bad, "x")
    msg = str(info.value)
    assert "1000, 1001, 1002, 1003, 1004 (and 3 more)" in msg
    assert "1005" not in msg and "unknown sample" in msg
    assert isinstance(info.value, UnknownIdError) and isinstance(info.value, ValueError)
    assert ds.tags.empty  # nothing half-done
    with pytest.raises(KeyError, match="unknown object ids.*'zz'"):
        ds.tag(["o1", "zz"], "x", level="object")
    with pytest.raises(KeyError, match="unknown sample or object ids.*77777"):
        ds.untag([77777], "x")
    with pytest.raises(ValueError, match="length mismatch"):
        ds.tag(np.ones(3, dtype=bool), "x")
    with pytest.raises(ValueError, match="mix samples and objects"):
        ds.tag([1, "o1"], "x")


def test_object_tags_follow_their_rows_when_runs_come_and_go():
    ds = _ds()
    boxes = pd.DataFrame(
        {"sample_id": [0, 1], "label": "a", "x": 1.0, "y": 1.0, "w": 5.0, "h": 5.0, "score": 0.9},
        index=pd.Index(["p0", "p1"], name="object_id"),
    )
    ds.add_run("m1", boxes.reset_index())
    ds.tag(["o3", "p1"], "look", level="object")
    ds.add_run("m0", boxes.rename(index=lambda i: "q" + i).reset_index())
    assert sorted(ds.tagged("look", "object").index) == ["o3", "p1"]
    ds.remove_run("m1")  # p1 goes: its tag is kept by id, not lost
    assert ds.tagged("look", "object").index.tolist() == ["o3"]
    assert sorted(ds.tags["id"]) == ["o3", "p1"]
    ds.add_run("m1", boxes.reset_index())  # the same ids come back: so does the tag
    assert sorted(ds.tagged("look", "object").index) == ["o3", "p1"]
    assert ds.untag(["p1"], "look", level="object") == 1
    assert ds.tags["id"].tolist() == ["o3"]


def test_tags_round_trip_through_save_and_open(tmp_path):
    ds = _ds(string_ids=True)
    ds.tag(["img3", "img1"], "first")
    ds.tag(["o2"], "box", level="object")
    ds.tag(["img1", "img7"], "second")
    before = ds.tags
    ds.save(tmp_path / "proj")
    again = nbdiag.open(tmp_path / "proj")
    after = again.tags
    pd.testing.assert_frame_equal(before, after)
    assert again.tagged("second").index.tolist() == ["img1", "img7"]
    # durable: a tag made on the bound dataset is in the store without a save
    again.tag(["img9"], "third")
    assert nbdiag.open(tmp_path / "proj").tagged("third").index.tolist() == ["img9"]
    again.untag(["img1"], "first")
    assert nbdiag.open(tmp_path / "proj").tagged("first").index.tolist() == ["img3"]


def test_tagging_a_large_table_is_one_lookup():
    n = 200_000
    ds = nbdiag.Dataset(pd.DataFrame({"label": "a"}, index=np.arange(n) * 3))
    ids = np.random.default_rng(0).choice(np.arange(n) * 3, 20_000, replace=False)
    assert ds.tag(ids, "t") == 20_000
    assert ds.tagged("t").index.sort_values().tolist() == sorted(ids.tolist())
    assert ds.untag(ids[:5000], "t") == 5000
    assert len(ds.tagged("t")) == 15_000


def test_stores_written_before_the_tag_log_still_load_their_tags(tmp_path):
    import sqlite3

    ds = _ds(string_ids=True)
    ds.save(tmp_path / "proj")
    db = next((tmp_path / "proj").rglob("*.sqlite"))
    with sqlite3.connect(db) as conn:  # the per-id rows older versions wrote
        conn.executemany(
            "INSERT INTO tags VALUES (?, ?, ?, ?)",
            [
                ("sample", "old", '"img2"', "2026-01-01T00:00:00+00:00"),
                ("sample", "old", '"img5"', "2026-01-01T00:00:00+00:00"),
                ("object", "old", '"o1"', "2026-01-02T00:00:00+00:00"),
            ],
        )
    again = nbdiag.open(tmp_path / "proj")
    assert again.tagged("old").index.tolist() == ["img2", "img5"]
    assert again.tagged("old", "object").index.tolist() == ["o1"]
    again.untag(["img2"], "old")  # an event after the legacy rows
    assert nbdiag.open(tmp_path / "proj").tagged("old").index.tolist() == ["img5"]
