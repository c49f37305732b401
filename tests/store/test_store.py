"""The project store: save / open round trips, tags committed as they are made, slices,
notes, run history, errors naming the problem, and state surviving a fresh Python process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import nbdiag
from nbdiag.store import DB_NAME, Store, StoreError
from nbdiag.store import open as open_store

ROOT = Path(__file__).resolve().parents[2]


def classification_ds(n: int = 12) -> nbdiag.Dataset:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (n, 8, 8), dtype=np.uint8)
    labels = rng.integers(0, 3, n)
    probs = rng.dirichlet([1, 1, 1], n)
    ds = nbdiag.Dataset.from_arrays(
        images, labels, probs=probs, class_names=["cat", "dog", "bird"], name="pets"
    )
    ds.samples["brightness"] = rng.random(n)
    ds.samples["dark"] = ds.samples["brightness"] < 0.3
    ds.samples["note"] = [f"n{i}" if i % 2 else None for i in range(n)]
    ds.samples["mixed"] = [1, "a"] * (n // 2)  # mixed types: stored as JSON
    ds.samples["listy"] = [[i, i + 1] for i in range(n)]
    return ds


def detection_ds() -> nbdiag.Dataset:
    samples = pd.DataFrame({"width": [100, 80, 60], "height": [50, 40, 30]}, index=[1, 2, 3])
    objects = pd.DataFrame(
        {
            "sample_id": [1, 1, 2],
            "label": ["car", "person", "car"],
            "x": [0, 10, 5],
            "y": [0, 5, 5],
            "w": [20, 10, 30],
            "h": [10, 20, 30],
        },
        index=[101, 102, 103],
    )
    ds = nbdiag.Dataset(samples, objects, name="street")
    ds.coco_categories = {3: "car", 7: "person"}
    ds.add_run(
        "det",
        pd.DataFrame(
            {
                "sample_id": [1, 2],
                "label": ["car", "person"],
                "x": [1, 5],
                "y": [1, 5],
                "w": [20, 30],
                "h": [10, 30],
                "score": [0.9, 0.4],
            }
        ),
    )
    return ds


def assert_same_dataset(a: nbdiag.Dataset, b: nbdiag.Dataset) -> None:
    pd.testing.assert_frame_equal(a.samples, b.samples, check_index_type=False)
    pd.testing.assert_frame_equal(a.objects, b.objects, check_index_type=False)
    assert a.class_names == b.class_names
    assert a.name == b.name
    assert a.coco_categories == b.coco_categories
    assert list(a.runs) == list(b.runs)
    for name, run in a.runs.items():
        other = b.runs[name]
        assert type(other) is type(run) and len(other) == len(run)
        assert pd.Timestamp(other.created) == pd.Timestamp(run.created)
        if run.kind == "classification":
            pd.testing.assert_frame_equal(run.predictions, other.predictions)
            if run.probabilities is not None:
                pd.testing.assert_frame_equal(run.probabilities, other.probabilities)
    assert set(a._images) == set(b._images)
    for k, arr in a._images.items():
        np.testing.assert_array_equal(arr, b._images[k])


def test_round_trip_classification(tmp_path):
    ds = classification_ds()
    ds.tag([0, 1, 2], "label_error")
    ds.tag(ds.samples["dark"], "dark")
    ds.save_slice("dark_cats", "dark and label == 'cat'", description="dark cats")
    ds.save_slice("firsts", [0, 1, 2, 3])
    ds.note("checked by Ana", [4, 5])
    store = ds.save(tmp_path / "proj")
    assert isinstance(store, Store) and ds.store is store
    assert (tmp_path / "proj" / DB_NAME).is_file()

    again = nbdiag.store.open(tmp_path / "proj")
    assert_same_dataset(ds, again)
    assert again.samples["listy"].iloc[3] == [3, 4]
    assert again.samples["mixed"].tolist()[:2] == [1, "a"]
    pd.testing.assert_frame_equal(
        ds.tags.drop(columns="created"), again.tags.drop(columns="created")
    )
    assert (ds.tags["created"] == again.tags["created"]).all()
    assert again.slices.loc["dark_cats", "description"] == "dark cats"
    pd.testing.assert_frame_equal(again.slice("dark_cats"), ds.slice("dark_cats"))
    assert list(again.slice("firsts").index) == [0, 1, 2, 3]
    assert again.notes["text"].tolist() == ["checked by Ana"]
    assert again.notes["ids"].iloc[0] == [4, 5]
    assert again.run_history["run"].tolist() == ["model"]
    assert again.store is not None and again.store.path == (tmp_path / "proj").resolve()


def test_round_trip_detection_with_mixed_object_ids(tmp_path):
    ds = detection_ds()
    assert list(ds.objects.index) == [101, 102, 103, 1_000_000, 1_000_001]
    # a run whose boxes carry text ids of the user's: the index mixes ints and strings
    ds.add_run("txt", ds.run_boxes("det").reset_index(drop=True).assign(object_id=["p0", "p1"]))
    ds.tag([101, 1_000_001, "p1"], "check", level="object")
    ds.save(tmp_path / "p")
    again = open_store(tmp_path / "p")
    assert_same_dataset(ds, again)
    assert list(again.objects.index) == [101, 102, 103, 1_000_000, 1_000_001, "p0", "p1"]
    assert again.tagged("check", level="object").index.tolist() == [101, 1_000_001, "p1"]
    assert again.evaluate("det").summary()["AP"] == ds.evaluate("det").summary()["AP"]


def test_embeddings_round_trip(tmp_path):
    from nbdiag.embeddings._store import get_embeddings, set_embeddings

    ds = classification_ds(6)
    vectors = np.arange(18, dtype=np.float32).reshape(6, 3)
    set_embeddings(ds, vectors, name="feat", meta={"model": "toy"})
    ds.save(tmp_path / "p")
    again = open_store(tmp_path / "p")
    emb = get_embeddings(again)
    assert emb.name == "feat" and emb.meta == {"model": "toy"}
    np.testing.assert_array_equal(emb.vectors, vectors)
    assert list(emb.ids) == list(ds.samples.index)
    assert isinstance(emb.vectors, np.memmap)  # paged in from the store, not read whole


def test_saved_embeddings_are_memory_mapped_and_every_neighbour_query_works(tmp_path):
    from nbdiag.embeddings._store import get_embeddings, set_embeddings

    ds = classification_ds(40)
    vectors = np.random.default_rng(0).normal(size=(40, 16)).astype(np.float32)
    set_embeddings(ds, vectors)
    expected = ds.similar(ds.samples.index[3], k=5).index.tolist()
    dups = len(ds.find_duplicates(threshold=0.5))
    ds.save(tmp_path / "p")
    again = open_store(tmp_path / "p")
    assert isinstance(get_embeddings(again).vectors, np.memmap)
    assert again.similar(again.samples.index[3], k=5).index.tolist() == expected
    assert len(again.find_duplicates(threshold=0.5)) == dups
    again.save(tmp_path / "p")  # saving again from mapped vectors: same content, same file
    np.testing.assert_array_equal(get_embeddings(open_store(tmp_path / "p")).vectors, vectors)


def test_tags_are_committed_as_they_are_made(tmp_path):
    ds = classification_ds()
    ds.save(tmp_path / "p")
    ds.tag([3, 4], "label_error")
    ds.untag([3], "label_error")
    ds.save_slice("s", [1, 2])
    ds.note("hello")
    # a second connection (what another kernel would see), without any ds.save()
    other = Store.open(tmp_path / "p")
    assert other.load_tags()["id"].tolist() == [4]
    assert [s["name"] for s in other.list_slices()] == ["s"]
    assert [n["text"] for n in other.list_notes()] == ["hello"]
    other.close()


def test_state_of_an_unbound_dataset_moves_into_the_store(tmp_path):
    ds = classification_ds()
    ds.tag([0], "x")
    ds.save_slice("q", "brightness > 0.5")
    ds.note("before saving")
    assert ds.store is None and len(ds.run_history) == 1
    ds.save(tmp_path / "p")
    again = open_store(tmp_path / "p")
    assert again.tags["tag"].tolist() == ["x"]
    assert list(again.slices.index) == ["q"]
    assert again.notes["text"].tolist() == ["before saving"]
    assert len(again.run_history) == 1


def test_save_again_writes_new_columns_and_removes_old_files(tmp_path):
    ds = classification_ds()
    ds.save(tmp_path / "p")
    data = tmp_path / "p" / "data"
    before = set(os.listdir(data))
    ds.samples["sharpness"] = np.linspace(0, 1, len(ds))
    debris = data / ".samples-x.parquet.abc.tmp"
    debris.write_bytes(b"half a file")
    os.utime(debris, (0, 0))  # old: a killed writer's leftover
    assert ds.save() is ds.store
    after = set(os.listdir(data))
    assert not debris.exists()
    # tables are rewritten; the content-addressed image file is reused
    assert {f for f in before if f.startswith("images-")} == {
        f for f in after if f.startswith("images-")
    }
    assert not {f for f in before if f.startswith("samples-")} & after
    assert "sharpness" in open_store(tmp_path / "p").samples.columns


def test_runs_are_recorded_with_summary_and_kept_in_history(tmp_path):
    ds = classification_ds()
    ds.save(tmp_path / "p")
    rng = np.random.default_rng(1)
    ds.add_run("v2", rng.dirichlet([1, 1, 1], len(ds)))  # saved and recorded at once
    ds.add_run("v2", rng.dirichlet([1, 1, 1], len(ds)), replace=True)
    ds.remove_run("model")
    again = open_store(tmp_path / "p")
    assert list(again.runs) == ["v2"]
    history = again.run_history
    assert history["run"].tolist() == ["model", "v2", "v2"]
    assert history["current"].tolist() == [False, False, True]
    assert history["accuracy"].between(0, 1).all()
    assert history["recorded"].is_monotonic_increasing
    evaluated = again.evaluate("v2").accuracy
    assert history["accuracy"].iloc[-1] == pytest.approx(evaluated)


def test_run_without_labels_is_recorded_with_an_error_summary(tmp_path):
    ds = nbdiag.Dataset(pd.DataFrame({"label": [None, None]}), class_names=["a", "b"])
    ds.add_run("m", np.array([[0.2, 0.8], [0.6, 0.4]]))
    ds.save(tmp_path / "p")
    history = open_store(tmp_path / "p").run_history
    assert history["run"].tolist() == ["m"]
    assert "ground-truth label" in history["error"].iloc[0]


def test_untagged_slices_queries_see_tags(tmp_path):
    ds = classification_ds()
    ds.tag([1, 5], "label_error")
    rows = ds.save_slice("errs", "tags.str.contains('label_error')")
    assert rows.index.tolist() == [1, 5]
    assert ds.slices.loc["errs", "size"] == 2
    ds.delete_slice("errs")
    assert len(ds.slices) == 0


def test_slice_and_note_errors(tmp_path):
    ds = classification_ds()
    with pytest.raises(ValueError, match=r"slice 'bad'.*brightnes.*columns are"):
        ds.save_slice("bad", "brightnes > 0.3")
    with pytest.raises(ValueError, match="unknown sample ids.*99"):
        ds.save_slice("ids", [1, 99], level="sample")
    with pytest.raises(ValueError, match="non-empty string"):
        ds.save_slice("", [1])
    with pytest.raises(ValueError, match="either items"):
        ds.save_slice("both", [1], query="label == 'cat'")
    with pytest.raises(KeyError, match="unknown slice 'nope'"):
        ds.slice("nope")
    with pytest.raises(ValueError, match="non-empty string"):
        ds.note("  ")


def test_a_string_id_is_an_id_not_a_query():
    ds = nbdiag.Dataset(pd.DataFrame({"label": ["a", "b"]}, index=["x", "label == 'a'"]))
    assert ds.save_slice("one", "x").index.tolist() == ["x"]
    assert ds.save_slice("q", "label == 'b'").index.tolist() == ["label == 'a'"]


def test_save_and_open_errors(tmp_path):
    ds = classification_ds()
    with pytest.raises(ValueError, match="not bound to a project folder"):
        ds.save()
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine")
    with pytest.raises(StoreError, match="not empty and is not an nbdiag store"):
        ds.save(tmp_path / "busy")
    (tmp_path / "file").write_text("x")
    with pytest.raises(StoreError, match="it is a file"):
        ds.save(tmp_path / "file")
    with pytest.raises(StoreError, match="no such folder"):
        open_store(tmp_path / "missing")
    with pytest.raises(StoreError, match="is not an nbdiag store"):
        open_store(tmp_path / "busy")
    Store.create(tmp_path / "empty").close()
    with pytest.raises(StoreError, match="holds no saved dataset"):
        open_store(tmp_path / "empty")


def test_overwrite_replaces_another_store(tmp_path):
    first = classification_ds()
    first.tag([0], "old")
    first.save(tmp_path / "p")
    second = detection_ds()
    with pytest.raises(StoreError, match="already holds an nbdiag store"):
        second.save(tmp_path / "p")
    second.tag([1], "new")
    second.save(tmp_path / "p", overwrite=True)
    again = open_store(tmp_path / "p")
    assert again.name == "street"
    assert again.tags["tag"].tolist() == ["new"]


def test_save_as_copies_state_to_a_new_folder(tmp_path):
    ds = classification_ds()
    ds.save(tmp_path / "a")
    ds.tag([2], "t")
    ds.save_slice("s", [1])
    ds.save(tmp_path / "b")
    assert ds.store.path == (tmp_path / "b").resolve()
    ds.tag([3], "t")  # goes to the new store only
    assert open_store(tmp_path / "a").tags["id"].tolist() == [2]
    b = open_store(tmp_path / "b")
    assert b.tags["id"].tolist() == [2, 3]
    assert list(b.slices.index) == ["s"]


def test_unusual_columns_fall_back_to_pickle(tmp_path):
    ds = classification_ds(4)
    ds.samples["pair"] = [(1, 2), (3, 4), (5, 6), (7, 8)]
    with pytest.warns(UserWarning, match="stored as a pickle"):
        ds.save(tmp_path / "p")
    assert open_store(tmp_path / "p").samples["pair"].tolist()[0] == (1, 2)


def test_ids_that_cannot_be_stored_are_named(tmp_path):
    ds = nbdiag.Dataset(pd.DataFrame({"label": ["a", "b"]}, index=[(1, 2), (3, 4)]))
    with pytest.warns(UserWarning):
        ds.save(tmp_path / "p")
    with pytest.raises(TypeError, match=r"id \(1, 2\).*strings or numbers"):
        ds.tag([(1, 2)], "t", level="sample")
    assert len(ds.tags) == 0  # not tagged in memory either


def _run(code: str, cwd: Path) -> str:
    env = {**os.environ, "PYTHONPATH": os.fspath(ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    return out.stdout


@pytest.mark.slow
def test_tags_and_slices_survive_a_fresh_python_process(tmp_path):
    project = tmp_path / "proj"
    ds = nbdiag.Dataset(
        pd.DataFrame({"label": ["a", "b", "a", "b"]}, index=["s1", "s2", "s3", "s4"])
    )
    ds.save(project)
    # no save after these, and this process keeps its connection open (nothing checkpointed):
    # a fresh process must still see all of it
    ds.tag(["s1", "s3"], "label_error")
    ds.save_slice("bs", "label == 'b'")
    ds.save_slice("picked", ["s4"])
    ds.note("look at s1", ["s1"])
    ds.add_run("m", np.array([[0.9, 0.1], [0.2, 0.8], [0.4, 0.6], [0.3, 0.7]]))
    out = _run(
        f"""
        import json, nbdiag, nbdiag.store
        ds = nbdiag.store.open({os.fspath(project)!r})
        print(json.dumps({{
            "tags": ds.tags[["id", "tag", "level"]].values.tolist(),
            "slices": {{n: ds.slice(n).index.tolist() for n in ds.slices.index}},
            "notes": ds.notes["text"].tolist(),
            "runs": list(ds.runs),
            "history": ds.run_history[["run", "accuracy"]].values.tolist(),
        }}))
        """,
        tmp_path,
    )
    got = json.loads(out)
    assert got["tags"] == [["s1", "label_error", "sample"], ["s3", "label_error", "sample"]]
    assert got["slices"] == {"bs": ["s2", "s4"], "picked": ["s4"]}
    assert got["notes"] == ["look at s1"]
    assert got["runs"] == ["m"]
    assert got["history"] == [["m", 0.75]]


def test_files_written_atomically_get_the_usual_permissions(tmp_path):
    """A report or an export is for teammates: not mkstemp's private 0600."""
    import os
    import stat

    from nbdiag.store._atomic import _umask, atomic_write_text

    expected = 0o666 & ~_umask()
    new = atomic_write_text(tmp_path / "report.html", "<html></html>")
    assert stat.S_IMODE(new.stat().st_mode) == expected
    os.chmod(new, 0o640)  # a file that exists keeps its mode
    atomic_write_text(new, "<html>2</html>")
    assert stat.S_IMODE(new.stat().st_mode) == 0o640


def test_a_save_never_silently_overwrites_what_another_kernel_saved(tmp_path):
    """Two kernels with the same project: tags from both land; tables refuse a blind overwrite."""
    ds = classification_ds()
    ds.save(tmp_path / "p")
    a, b = open_store(tmp_path / "p"), open_store(tmp_path / "p")  # two kernels
    a.samples["note_a"] = 1.0
    a.save()
    b.tag([0, 1], "from_b")  # tags are committed as made, whatever the tables do
    b.samples["note_b"] = 2.0
    with pytest.raises(StoreError, match=r"saved by another kernel.*force=True"):
        b.save()
    with pytest.raises(StoreError, match="saved by another kernel"):
        b.add_run("late", np.full((12, 3), 1 / 3))  # a run is a save too
    assert "late" not in b.runs  # refused before anything changed
    before = b.samples["label"].copy()
    with pytest.raises(StoreError, match="saved by another kernel"):
        b.import_labels(pd.Series({0: b.class_names[-1]}))
    assert b.samples["label"].equals(before) and len(b.label_history) == 0
    fresh = open_store(tmp_path / "p")
    assert "note_a" in fresh.samples.columns and "note_b" not in fresh.samples.columns
    assert set(fresh.tagged("from_b").index) == {0, 1}
    b.save(force=True)  # b keeps its version on purpose
    assert "note_b" in open_store(tmp_path / "p").samples.columns
    with pytest.raises(StoreError, match="saved by another kernel"):
        a.save()
    # a reloaded dataset saves again normally
    again = open_store(tmp_path / "p")
    again.samples["x"] = 0.0
    again.save()
