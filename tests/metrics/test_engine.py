"""The engine: user metrics, the content cache, per-item errors, executors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import nbdiag
from nbdiag.metrics import _executor, compute_metrics, metric, unregister

from ._images import dataset, save, scene

CALLS: list[int] = []


@pytest.fixture
def files(tmp_path):
    return [save(tmp_path, f"img{i}.png", scene(i, 48, 40)) for i in range(4)]


@pytest.fixture
def user_metric():
    """A registered user metric that counts its calls (names are process-global)."""
    CALLS.clear()

    def make(version=1, factor=1.0):
        @metric(scope="image", name="redness", version=version)
        def redness(image):
            """Mean red value in [0, 1]."""
            CALLS.append(1)
            return image[..., 0].mean() / 255 * factor

        return redness

    yield make
    unregister("redness")


def test_user_metric_is_registered_cached_and_recomputed_on_version_change(
    tmp_path, files, user_metric
):
    m = user_metric(version=1)
    assert m.name == "redness" and m.scope == "image"
    assert "redness" in nbdiag.metrics.list_metrics().index
    cache = tmp_path / "cache"

    ds = dataset(files)
    first = compute_metrics(ds, ["redness"], cache_dir=cache, progress=False)
    assert len(CALLS) == 4
    assert first.attrs["images"] == {"images": 4, "from_cache": 0, "computed": 4}
    expected = [scene(i, 48, 40)[..., 0].mean() / 255 for i in range(4)]
    assert np.allclose(ds.samples["redness"], expected)

    # a second run (even on a new Dataset over the same files) reads the cache
    ds2 = dataset(files)
    second = compute_metrics(ds2, ["redness"], cache_dir=cache, progress=False)
    assert len(CALLS) == 4
    assert second.attrs["images"] == {"images": 4, "from_cache": 4, "computed": 0}
    assert np.allclose(ds2.samples["redness"], expected)

    # a new version is recomputed
    user_metric(version=2)
    compute_metrics(ds2, ["redness"], cache_dir=cache, progress=False)
    assert len(CALLS) == 8


def test_a_user_metric_alone_leaves_the_issue_flags_as_they_are(tmp_path, files, user_metric):
    user_metric()
    ds = dataset(files)
    compute_metrics(ds, ["redness"], cache_dir=tmp_path / "c", progress=False)
    assert "dark" not in ds.samples.columns  # no flag input was computed
    compute_metrics(ds, ["brightness"], cache_dir=tmp_path / "c", progress=False)  # dark's input
    assert "dark" in ds.samples.columns
    ds.samples["dark"] = True  # e.g. a user's own review of the flag
    compute_metrics(ds, ["redness"], cache_dir=tmp_path / "c", progress=False)
    assert ds.samples["dark"].all()
    # explicit thresholds re-derive the flags
    compute_metrics(ds, ["redness"], cache_dir=tmp_path / "c", progress=False, thresholds={})
    assert not ds.samples["dark"].all()
    # every flag input counts, sizes included
    fresh = dataset(files)
    compute_metrics(fresh, ["width", "height"], cache_dir=tmp_path / "c", progress=False)
    assert {"odd_aspect_ratio", "odd_size"} <= set(fresh.samples.columns)


def test_cache_is_keyed_by_content_not_path(tmp_path, user_metric):
    user_metric()
    a = save(tmp_path, "a.png", scene(1))
    ds = dataset([a])
    compute_metrics(ds, ["redness"], cache_dir=tmp_path / "c", progress=False)
    # same pixels under another name: served from the cache
    b = save(tmp_path, "b.png", scene(1))
    compute_metrics(dataset([b]), ["redness"], cache_dir=tmp_path / "c", progress=False)
    assert len(CALLS) == 1
    # the file changes: recomputed
    save(tmp_path, "a.png", scene(2))
    ds = dataset([a])
    compute_metrics(ds, ["redness"], cache_dir=tmp_path / "c", progress=False)
    assert len(CALLS) == 2
    assert ds.samples["redness"][0] == pytest.approx(scene(2)[..., 0].mean() / 255)


def test_editing_a_metric_without_bumping_its_version_invalidates_the_cache(
    tmp_path, files, user_metric
):
    user_metric(factor=1.0)
    compute_metrics(dataset(files), ["redness"], cache_dir=tmp_path / "c", progress=False)

    @metric(scope="image", name="redness", version=1)
    def redness(image):  # same name and version, new body
        CALLS.append(1)
        return 2 * image[..., 0].mean() / 255

    ds = dataset(files)
    compute_metrics(ds, ["redness"], cache_dir=tmp_path / "c", progress=False)
    assert len(CALLS) == 8
    assert ds.samples["redness"][0] == pytest.approx(2 * scene(0, 48, 40)[..., 0].mean() / 255)


def test_builtins_are_cached_too(tmp_path, files, monkeypatch):
    ds = dataset(files)
    compute_metrics(ds, cache_dir=tmp_path / "c", progress=False)
    first = ds.samples.copy()

    def boom(*args, **kwargs):
        raise AssertionError("nothing should be computed on a cached re-run")

    monkeypatch.setattr(_executor, "compute_chunk", boom)
    ds2 = dataset(files)
    compute_metrics(ds2, cache_dir=tmp_path / "c", progress=False)
    pd.testing.assert_frame_equal(ds2.samples, first)


def test_default_cache_dir_follows_the_environment(tmp_path, monkeypatch, files):
    monkeypatch.setenv("NBDIAG_CACHE_DIR", str(tmp_path / "env-cache"))
    compute_metrics(dataset(files), ["brightness"], progress=False)
    assert (tmp_path / "env-cache" / "metrics" / "metrics-v1.sqlite").exists()


def test_corrupt_and_missing_images_give_nan_and_an_issue(tmp_path, files, bad_images):
    paths = [*files[:2], str(bad_images["corrupt"]), str(bad_images["missing"])]
    paths.append(str(bad_images["truncated"]))
    ds = dataset(paths)
    errors = compute_metrics(ds, cache_dir=tmp_path / "c", progress=False)
    s = ds.samples
    assert s["brightness"].iloc[:2].notna().all()
    assert s["brightness"].iloc[2:].isna().all()
    assert s["exact_hash"].iloc[2:].isna().all()
    assert s["issues"].tolist()[2:] == ["corrupt_image", "missing_file", "truncated_image"]
    assert errors["error"].tolist() == ["corrupt_image", "missing_file", "truncated_image"]
    assert errors["id"].tolist() == list(s.index[2:])
    assert not s["dark"].iloc[2:].any()  # a missing value raises no flag
    # re-running does not duplicate the issue entry
    compute_metrics(ds, ["brightness"], cache_dir=tmp_path / "c", progress=False)
    assert ds.samples["issues"].iloc[2] == "corrupt_image"


def test_a_failing_user_metric_is_recorded_per_item(tmp_path, files):
    @metric(scope="image", name="picky")
    def picky(image):
        if image.shape[1] > 50:
            raise RuntimeError("too wide")
        return 1.0

    try:
        paths = [*files, save(tmp_path, "wide.png", scene(9, 80, 40))]
        ds = dataset(paths)
        errors = compute_metrics(ds, ["picky", "brightness"], cache_dir=False, progress=False)
        assert ds.samples["picky"].tolist()[:4] == [1.0] * 4
        assert np.isnan(ds.samples["picky"].iloc[4])
        assert ds.samples["brightness"].notna().all()
        assert errors[["metric", "error"]].values.tolist() == [["picky", "metric_failed"]]
        assert "too wide" in errors["detail"].iloc[0]
        assert ds.samples["issues"].iloc[4] == "metric_failed:picky"
    finally:
        unregister("picky")


def test_user_metric_must_return_a_number(tmp_path, files):
    @metric(scope="image", name="histogram")
    def histogram(image):
        return np.bincount(image[..., 0].ravel())

    try:
        ds = dataset(files[:1])
        errors = compute_metrics(ds, ["histogram"], cache_dir=False, progress=False)
        assert "one number" in errors["detail"].iloc[0]
    finally:
        unregister("histogram")


def test_builtins_are_protected():
    with pytest.raises(ValueError, match="built-in"):

        @metric(scope="image", name="brightness")
        def brightness(image):
            return 0.0

    with pytest.raises(ValueError, match="scope"):
        metric(scope="pixel")


def test_process_pool_gives_the_same_values(tmp_path, monkeypatch, user_metric):
    user_metric()
    paths = [save(tmp_path, f"p{i}.png", scene(i, 40, 40)) for i in range(12)]
    serial = dataset(paths)
    compute_metrics(serial, cache_dir=False, progress=False, workers=1)
    monkeypatch.setattr(_executor, "PARALLEL_MIN_ITEMS", 0)
    pooled = dataset(paths)
    compute_metrics(pooled, cache_dir=False, progress=False, workers=2)
    pd.testing.assert_frame_equal(serial.samples, pooled.samples)
    assert pooled.samples["redness"].notna().all()  # a user metric works in forked workers


def test_dask_executor(tmp_path, user_metric):
    distributed = pytest.importorskip("distributed")
    user_metric()
    paths = [save(tmp_path, f"d{i}.png", scene(i, 40, 40)) for i in range(6)]
    ds_local = dataset(paths)
    compute_metrics(ds_local, cache_dir=False, progress=False, workers=1)
    with (
        distributed.LocalCluster(
            n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        ds = dataset(paths)
        errors = compute_metrics(ds, cache_dir=tmp_path / "c", progress=False, client=client)
    assert errors.empty
    pd.testing.assert_frame_equal(ds.samples, ds_local.samples)


def test_a_crashing_worker_is_recorded_not_raised(tmp_path, monkeypatch):
    import os

    @metric(scope="image", name="crash")
    def crash(image):
        if image.shape[1] == 41:
            os._exit(1)  # a hard crash, as a broken decoder would
        return 1.0

    try:
        paths = [save(tmp_path, f"c{i}.png", scene(i, 40 + (i == 3), 40)) for i in range(8)]
        monkeypatch.setattr(_executor, "PARALLEL_MIN_ITEMS", 0)
        ds = dataset(paths)
        errors = compute_metrics(ds, ["crash"], cache_dir=False, progress=False, workers=2)
    finally:
        unregister("crash")
    assert "worker_failed" in set(errors["error"])
    assert ds.samples["crash"].isna().iloc[3]
    assert "worker_failed" in ds.samples["issues"].iloc[3]
