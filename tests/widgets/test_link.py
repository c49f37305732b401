"""Linking views: one shared selection over the samples, driven as the browser drives it (by
assigning the shared model's synced traits)."""

import numpy as np
import pandas as pd
import pytest

import nbdiag
from nbdiag.widgets import ConfusionMatrix, Histogram, LinkedSelection, Scatter, link
from nbdiag.widgets._codecs import pack_mask, unpack_mask

N = 40


@pytest.fixture
def ds():
    rng = np.random.default_rng(3)
    labels = rng.choice(["cat", "dog", "bird"], N).astype(object)
    labels[[2, 7, 11]] = None  # unlabelled: not evaluated, not in the confusion matrix
    samples = pd.DataFrame(
        {
            "label": labels,
            "embedding_x": rng.normal(size=N),
            "embedding_y": rng.normal(size=N),
            "brightness": rng.uniform(0, 1, N),
        },
        index=[f"s{i:02d}" for i in range(N)],
    )
    d = nbdiag.Dataset(samples, class_names=["cat", "dog", "bird"])
    d.add_run("m", rng.dirichlet(np.ones(3), N))
    return d


def _browser_selects(linked: LinkedSelection, positions, source="lasso", view=""):
    """What the browser's debounced save of the shared model delivers."""
    mask = np.zeros(linked.n_samples, dtype=bool)
    mask[list(positions)] = True
    linked.set_state(
        {
            "_selection_source": source,
            "_selection_view": view,
            "_selection_region": {"kind": "lasso"},
            "_selection": memoryview(pack_mask(mask)),
        }
    )


def test_link_sets_row_keys_identity_for_all_samples_and_positions_for_subsets(ds):
    sc = Scatter(ds, _threaded_rpc=False)
    cm = ConfusionMatrix(ds.evaluate("m"))
    linked = link(sc, cm)
    assert sc.link is linked and cm.link is linked
    assert sc._row_keys == b""  # identity: row i is sample i, no bytes sent
    keys = np.frombuffer(cm._row_keys, dtype="<u4")
    assert len(keys) == cm.n_rows == N - 3
    assert list(ds.samples.index[keys]) == list(cm.rows.index)
    assert linked.n_samples == N and linked.dataset is ds
    # the views reference the shared model through widget_serialization
    assert sc.get_state()["_link"] == f"IPY_MODEL_{linked.model_id}"


def test_a_browser_selection_reaches_every_view_mapped_to_its_rows(ds):
    sc = Scatter(ds, _threaded_rpc=False)
    cm = ConfusionMatrix(ds.evaluate("m"))
    h = Histogram(ds, "brightness")
    linked = link(sc, cm, h)
    seen = []
    cm.on_select(lambda w: seen.append(len(w.selection)))
    _browser_selects(linked, [0, 2, 5, 7], view=sc._view_id)
    assert list(linked.selection) == ["s00", "s02", "s05", "s07"]
    assert list(sc.selection) == ["s00", "s02", "s05", "s07"]
    assert list(h.selected.index) == ["s00", "s02", "s05", "s07"]
    # the confusion matrix only has the labelled samples
    assert sorted(cm.selection) == ["s00", "s05"]
    assert seen == [2]
    assert linked.source_view is sc and cm.selection_source == "lasso"
    assert cm.selection_region == {"kind": "lasso"}
    assert len(linked.selected) == 4 and "brightness" in linked.selected.columns


def test_python_select_on_a_view_goes_through_the_link(ds):
    sc = Scatter(ds, _threaded_rpc=False)
    cm = ConfusionMatrix(ds.evaluate("m"))
    linked = link(sc, cm)
    cm.select_cell("cat", "cat")
    want = set(cm.rows.index[(cm.rows.label == "cat") & (cm.rows.prediction == "cat")])
    assert set(linked.selection) == want == set(sc.selection)
    assert linked.selection_source == "python" and linked._selection_view == cm._view_id
    assert cm._selection == b"" and sc._selection == b""  # own selections unused while linked
    linked.select(["s01"])
    assert list(sc.selection) == ["s01"]
    linked.clear_selection()
    assert len(sc.selection) == 0 and len(cm.selection) == 0


def test_link_keeps_an_existing_selection_and_unlink_hands_it_back(ds):
    sc = Scatter(ds, _threaded_rpc=False)
    h = Histogram(ds, "brightness")
    sc.select(["s03", "s04"])
    linked = link(sc, h)
    assert list(h.selection) == ["s03", "s04"]
    linked.remove(h)
    assert h.link is None and h._row_keys == b""
    assert list(h.selection) == ["s03", "s04"]  # back to its own selection
    assert unpack_mask(h._selection, N).sum() == 2
    linked.select(["s05"])
    assert list(h.selection) == ["s03", "s04"]  # no longer follows
    assert list(sc.selection) == ["s05"]


def test_relinking_moves_a_view_to_the_new_link(ds):
    a, b, c = (Histogram(ds, "brightness") for _ in range(3))
    first = link(a, b)
    second = link(b, c)
    assert b.link is second and a.link is first
    assert first.views == (a,) and set(second.views) == {b, c}


def test_object_rows_link_through_their_sample(ds):
    objects = pd.DataFrame(
        {"sample_id": ["s01", "s01", "s04", "s09"], "score": [0.9, 0.2, 0.5, 0.7]},
        index=pd.Index(["o1", "o2", "o3", "o4"], name="object_id"),
    )
    hobj = Histogram(objects, "score", level="objects")
    sc = Scatter(ds, _threaded_rpc=False)
    linked = link(sc, hobj)
    assert list(np.frombuffer(hobj._row_keys, dtype="<u4")) == [1, 1, 4, 9]
    hobj.select(["o2"])  # one box -> its sample -> every box of that sample
    assert list(linked.selection) == ["s01"]
    assert list(hobj.selection) == ["o1", "o2"]


def test_linking_refuses_rows_outside_the_dataset(ds):
    other = pd.DataFrame({"v": [1.0, 2.0]}, index=["s01", "zz"])
    h = Histogram(other, "v")
    with pytest.raises(ValueError, match="'zz'"):
        link(Scatter(ds, _threaded_rpc=False), h)


def test_link_without_a_dataset_uses_the_union_of_the_views(ds):
    a = Histogram(pd.DataFrame({"v": [1.0, 2.0, 3.0]}, index=["x", "y", "z"]), "v")
    b = Histogram(pd.DataFrame({"v": [5.0, 6.0]}, index=["z", "w"]), "v")
    linked = link(a, b)
    assert list(linked.samples.index) == ["x", "y", "z", "w"]
    b.select(["z"])
    assert list(a.selection) == ["z"]


def test_link_needs_nbdiag_views(ds):
    with pytest.raises(TypeError, match="only nbdiag views"):
        link(Scatter(ds, _threaded_rpc=False), object())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="at least one"):
        link()


def test_a_failing_link_callback_is_logged_not_raised(ds, caplog):
    linked = link(Histogram(ds, "brightness"))

    def boom(_):
        raise RuntimeError("user bug")

    linked.on_select(boom)
    _browser_selects(linked, [1])
    assert "user bug" in caplog.text
    assert list(linked.selection) == ["s01"]


def test_stale_browser_masks_never_raise(ds):
    linked = link(Histogram(ds, "brightness"))
    linked.set_state({"_selection": memoryview(b"\xff")})  # short: padded
    assert list(linked.selection) == [f"s{i:02d}" for i in range(8)]
    linked.set_state({"_selection": memoryview(b"\xff" * 20)})  # long: extra bits ignored
    assert len(linked.selection) == N


def test_selection_message_is_a_bitmask_of_n_over_8_bytes(ds):
    linked = link(Histogram(ds, "brightness"))
    linked.select(np.ones(N, dtype=bool))
    assert len(linked._selection) == N // 8


def test_replace_rows_rekeys_a_linked_view(ds):
    sc = Scatter(ds, _threaded_rpc=False)
    h = Histogram(pd.DataFrame({"v": [1.0, 2.0]}, index=["s03", "s05"]), "v")
    linked = link(sc, h, dataset=ds)
    assert list(np.frombuffer(h._row_keys, dtype="<u4")) == [3, 5]
    with h.hold_sync():
        h._replace_rows(pd.DataFrame({"v": [1.0, 2.0, 3.0]}, index=["s07", "s01", "s02"]))
    assert h.n_rows == 3 and list(np.frombuffer(h._row_keys, dtype="<u4")) == [7, 1, 2]
    linked.select(["s01"])
    assert list(h.selection) == ["s01"]


# ------------------------------------------------------------------ object-level selections
@pytest.fixture
def boxes():
    samples = pd.DataFrame(
        {"label": [None] * 4, "embedding_x": [0.0, 1, 2, 3], "embedding_y": [0.0, 1, 2, 3]},
        index=["a", "b", "c", "d"],
    )
    objects = pd.DataFrame(
        {
            "sample_id": ["a", "a", "b", "c", "c", "c"],
            "label": ["cat", "dog", "cat", "dog", "dog", "cat"],
            "x": 0.0,
            "y": 0.0,
            "w": [5.0, 50.0, 8.0, 60.0, 7.0, 70.0],
            "h": 10.0,
        },
        index=pd.Index([10, 11, 12, 13, 14, 15], name="object_id"),
    )
    return nbdiag.Dataset(samples, objects, class_names=["cat", "dog"])


def test_an_object_selection_stays_exact_in_object_views_and_widens_in_sample_views(boxes):
    by_width = Histogram(boxes, "w", level="objects")
    big = Histogram(boxes.objects[boxes.objects["w"] > 40], "w", level="objects")  # a subset
    sc = Scatter(boxes, _threaded_rpc=False)
    linked = link(by_width, big, sc)
    assert linked.n_objects == 6
    assert list(np.frombuffer(big._object_keys, dtype="<u4")) == [1, 3, 5]
    assert sc._object_keys == b""  # sample rows
    by_width.select_range(0, 10)  # the small boxes: 10, 12, 14
    assert list(by_width.selection) == [10, 12, 14]
    assert list(big.selection) == []  # no big box is small: exact, not "every box of a, b, c"
    assert list(sc.selection) == ["a", "b", "c"]  # the images that hold them
    assert list(linked.selected_objects.index) == [10, 12, 14]
    # other boxes of the same images: the samples stay, the selection changes
    calls = []
    linked.on_select(lambda link_: calls.append(list(link_.selected_objects.index)))
    by_width.select_range(40, 100)
    assert calls == [[11, 13, 15]] and list(sc.selection) == ["a", "c"]
    # a selection of samples (a lasso in the scatter, Python) selects every box they hold
    sc.select(["c"])
    assert linked.object_mask is None
    assert list(by_width.selection) == [13, 14, 15] and list(big.selection) == [13, 15]
    assert len(calls) == 2


def test_object_selections_from_the_browser_come_in_one_message(boxes):
    by_width = Histogram(boxes, "w", level="objects")
    sc = Scatter(boxes, _threaded_rpc=False)
    linked = link(by_width, sc)
    calls = []
    linked.on_select(lambda link_: calls.append(1))
    objects = np.zeros(6, dtype=bool)
    objects[[2]] = True
    samples = np.zeros(4, dtype=bool)
    samples[[1]] = True
    linked.set_state(
        {
            "_selection_source": "range",
            "_selection_view": by_width._view_id,
            "_object_selection": memoryview(pack_mask(objects)),
            "_selection": memoryview(pack_mask(samples)),
        }
    )
    assert calls == [1]  # one change, reported once
    assert list(by_width.selection) == [12] and list(sc.selection) == ["b"]
    assert linked.source_view is by_width


def test_rows_that_are_not_the_datasets_objects_link_by_sample(boxes):
    # same ids, other samples: not the dataset's objects
    foreign = boxes.objects.assign(sample_id=["d"] * 6)
    h = Histogram(foreign, "w", level="objects")
    linked = link(h, Histogram(boxes, "w", level="objects"), dataset=boxes)
    assert h._object_keys == b"" and h._row_keys != b""
    h.select([10])
    assert linked.object_mask is None and list(linked.selection) == ["d"]


def test_a_refreshed_grid_and_a_rematched_matrix_keep_valid_link_keys(boxes):
    from nbdiag.widgets import ImageGrid

    def preds(n, seed):
        r = np.random.default_rng(seed)
        return pd.DataFrame(
            {
                "sample_id": r.choice(list("abc"), n),
                "label": r.choice(["cat", "dog"], n),
                "x": 0.0,
                "y": 0.0,
                "w": r.uniform(1, 80, n),
                "h": 10.0,
                "score": r.uniform(0, 1, n),
            }
        )

    boxes.add_run("det", preds(5, 0))
    grid = ImageGrid(boxes, level="object", run="det", source="pred", _threaded_rpc=False)
    sc = Scatter(boxes, _threaded_rpc=False)
    linked = link(grid, sc)
    boxes.add_run("det", preds(3, 1), replace=True)  # other boxes, some under the same ids
    grid.refresh()
    assert len(grid._row_positions) == grid.n_rows == 3
    assert len(grid._object_keys) == 0 or len(grid._object_keys) // 4 == 3
    sc.select(["a"])
    want = grid.rows.index[grid.rows["sample_id"] == "a"]
    assert list(grid.selection) == list(want)
    assert set(linked.selected_objects["sample_id"]) <= {"a"}


def test_linking_keeps_a_selection_of_boxes_made_before(boxes):
    by_width = Histogram(boxes, "w", level="objects")
    by_width.select([10])
    linked = link(by_width, Scatter(boxes, _threaded_rpc=False))
    assert list(linked.selected_objects.index) == [10] and list(by_width.selection) == [10]


def test_a_detection_matrix_cell_selects_exactly_its_boxes(boxes):
    preds = pd.DataFrame(
        {
            "sample_id": ["a", "a", "c", "d"],
            "label": ["cat", "cat", "dog", "dog"],  # box 11 (dog) predicted cat
            "x": 0.0,
            "y": 0.0,
            "w": [5.0, 50.0, 60.0, 9.0],
            "h": 10.0,
            "score": [0.9, 0.8, 0.7, 0.6],
        }
    )
    boxes.add_run("det", preds)
    cm = ConfusionMatrix(boxes, run="det")
    gt_boxes = Histogram(boxes.gt_objects, "w", level="objects")
    pred_boxes = Histogram(boxes.run_boxes("det"), "score", level="objects")
    linked = link(cm, gt_boxes, pred_boxes, dataset=boxes)
    keys = np.frombuffer(cm._object_keys, dtype="<u4").reshape(-1, 2)
    assert len(keys) == cm.n_rows and (keys != 0xFFFFFFFF).any(axis=1).all()
    cm.select_cell("dog", "cat")  # box 11, a dog, detected as a cat
    pairs = cm.selected
    assert len(pairs) == 1
    pred_id, gt_id = pairs["pred_id"].iloc[0], pairs["gt_id"].iloc[0]
    assert gt_id == 11
    assert list(gt_boxes.selection) == [11]  # not box 10 of the same image
    assert list(pred_boxes.selection) == [pred_id]
    assert sorted(map(str, linked.selected_objects.index)) == sorted(map(str, [11, pred_id]))
    # a missed box: the background column holds only a ground truth
    cm.select_cell("cat", "background")
    missed = cm.selected["gt_id"].tolist()
    assert len(missed) >= 1
    assert list(gt_boxes.selection) == missed and list(pred_boxes.selection) == []
    # and back: a prediction picked in the score histogram selects its pair in the matrix
    pred_boxes.select([pred_id])
    assert list(cm.selection) == list(pairs.index)


def test_boxes_numbered_like_the_datasets_but_not_its_own_link_by_image(boxes):
    # predictions of COCO results files are numbered 1..n: the same ids, samples and labels as
    # the dataset's annotations, but other boxes (they have scores)
    gt = boxes.gt_objects
    other = gt.iloc[:3][["sample_id", "label"]].assign(score=[0.9, 0.8, 0.7])
    h = Histogram(other, "score", level="objects")
    gt_view = Histogram(boxes, "w", level="objects")
    link(h, gt_view, dataset=boxes)
    assert h._object_keys == b"" and gt_view._object_keys != b""


def test_a_threshold_change_clears_a_selection_made_in_the_matrix(boxes):
    preds = boxes.gt_objects.reset_index(drop=True).assign(score=[0.9, 0.8, 0.7, 0.6, 0.5, 0.4])
    boxes.add_run("det", preds)
    cm = ConfusionMatrix(boxes, run="det")
    other = Histogram(boxes, "w", level="objects")
    linked = link(cm, other)
    cm.select_cell("cat", "cat")
    assert len(linked.selection) > 0
    cm.set_thresholds(score=0.75)  # new pairs: the clicked cell is gone
    assert list(linked.selection) == [] and linked.object_mask is None
    assert list(cm.selection) == [] and cm.selection_source == "thresholds"
    # a selection made elsewhere stays, shown on the new pairs
    other.select([10])
    cm.set_thresholds(score=0.0)
    assert list(other.selection) == [10] and len(cm.selection) == 1


def test_rows_that_do_not_fit_the_link_change_nothing(boxes):
    h = Histogram(boxes, "w", level="objects")
    link(h)
    before = h.rows
    bad = before.assign(sample_id="zz")
    with pytest.raises(ValueError, match="not in the linked dataset"):
        h._replace_rows(bad)
    assert h.rows is before and len(h._row_positions) == len(before)
