"""Embeddings and the kNN graph on a real Dask cluster (2 worker processes) give the same
numbers as in process; a bad image fails the same way; a wrong ``client`` is refused clearly."""

from __future__ import annotations

from pathlib import Path

import nbdiag_tests_digits_model as helper  # registered by conftest.py
import numpy as np
import pandas as pd
import pytest

import nbdiag
from nbdiag.core import ImageLoadError
from nbdiag.embeddings import (
    KNNIndex,
    _dask,
    _dask_embed,
    _knn,
    embed,
    find_duplicates,
    neighbor_graph,
    set_embeddings,
)

distributed = pytest.importorskip(
    "distributed", reason="dask.distributed is not installed (extra nbdiag[dask])"
)

HAVE_FAISS = _knn._installed("faiss")


@pytest.fixture(scope="module")
def client():
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            host="127.0.0.1",
        ) as cluster,
        distributed.Client(cluster) as c,
    ):
        yield c


@pytest.fixture(scope="module")
def path_ds(tmp_path_factory):
    """The first 400 digits as PNG files, read by path."""
    src = helper.digits_dataset()
    folder = tmp_path_factory.mktemp("digits-png")
    paths = []
    for sid in src.samples.index[:400]:
        p = folder / f"{sid}.png"
        src.image(sid).save(p)
        paths.append(str(p))
    labels = src.samples["label"].astype(str).to_numpy()[:400]
    return nbdiag.Dataset.from_dataframe(pd.DataFrame({"path": paths, "label": labels}))


def _embed(ds, model, **kwargs):
    kwargs = {
        "layer": "embedding",
        "transform": helper.transform(),
        "batch_size": 96,
        "progress": False,
        "cache": False,
        **kwargs,
    }
    return embed(ds, model, **kwargs)


def test_in_memory_images_embed_the_same_on_the_cluster(client, digits_model, digits_ds):
    model = digits_model()
    model.train()
    local = _embed(digits_ds, model, name="local")
    with distributed.get_task_stream(client) as ts:
        remote = _embed(digits_ds, model, name="remote", client=client)
    ran = [t for t in ts.data if "_embed_batches" in t["key"]]
    n_batches = -(-len(digits_ds) // 96)
    per_task = _dask_embed.batches_per_task(n_batches, 2)
    assert per_task == 2  # 19 batches: 2 a task, so each of the 2 workers still gets 8+ tasks
    assert len(ran) == -(-n_batches // per_task), "every batch ran on the cluster"
    assert remote.vectors.dtype == np.float32 and remote.vectors.shape == (len(digits_ds), 64)
    assert list(remote.ids) == list(local.ids) == list(digits_ds.samples.index)
    assert np.allclose(remote.vectors, local.vectors, rtol=0, atol=1e-5)
    assert remote.meta["dask_workers"] == 2 and not remote.meta["cached"]
    assert model.training, "the caller's model is untouched"


def test_files_read_by_the_workers_embed_the_same(client, digits_model, path_ds, digits_ds):
    model = digits_model()
    ids = list(path_ds.samples.index[::-1][:250])  # id order as asked, not table order
    local = _embed(path_ds, model, ids=ids, batch_size=32, layer=None, image_size=8)
    remote = _embed(path_ds, model, ids=ids, batch_size=32, layer=None, image_size=8, client=client)
    assert list(remote.ids) == ids
    assert np.allclose(remote.vectors, local.vectors, rtol=0, atol=1e-5)
    in_memory = _embed(digits_ds, model, ids=ids, batch_size=32, layer=None, image_size=8)
    assert np.allclose(remote.vectors, in_memory.vectors, rtol=0, atol=1e-5)


def test_box_crops_embed_the_same_on_the_cluster(client, digits_model, monkeypatch):
    monkeypatch.setattr(_dask_embed, "SCATTER_BYTES", 0)  # batches scattered ahead, not inline
    images, _ = helper.digits()
    canvas = np.zeros((6, 16, 16), dtype=np.uint8)
    for i in range(6):
        canvas[i, 4:12, 2:10] = (images[i] * 15).astype(np.uint8)
    objects = pd.DataFrame(
        {
            "sample_id": [0, 1, 2, 3, 3, 4, 5, 5],
            "label": list("01233455"),
            "x": [2.0, 2, 2, 2, 8, 2, 2, 0],
            "y": [4.0, 4, 4, 4, 8, 4, 4, 0],
            "w": [8.0, 8, 8, 8, 8, 8, 8, 12],
            "h": [8.0, 8, 8, 8, 8, 8, 8, 12],
        }
    )
    ds = nbdiag.Dataset(
        pd.DataFrame(index=range(6)), objects, images={i: canvas[i] for i in range(6)}
    )
    kw = {"level": "object", "image_size": 8, "transform": None, "batch_size": 3, "padding": 0.1}
    local = _embed(ds, digits_model(), **kw)
    remote = _embed(ds, digits_model(), client=client, **kw)
    assert list(remote.ids) == list(ds.objects.index) and remote.level == "object"
    assert np.allclose(remote.vectors, local.vectors, rtol=0, atol=1e-5)


def _error_of(fn):
    with pytest.raises(Exception) as info:
        fn()
    return info.value


def test_a_missing_image_fails_as_in_process(client, digits_model, path_ds, tmp_path):
    model = digits_model()
    samples = path_ds.samples[["path", "label"]].iloc[:300].copy()
    copies = []
    for p in samples["path"]:
        dst = tmp_path / p.rsplit("/", 1)[-1]
        dst.write_bytes(Path(p).read_bytes())
        copies.append(str(dst))
    samples["path"] = copies
    ds = nbdiag.Dataset.from_dataframe(samples)
    Path(copies[250]).unlink()  # a late batch
    Path(copies[37]).write_bytes(b"not a png")  # an early one
    local = _error_of(lambda: _embed(ds, model, batch_size=16))
    remote = _error_of(lambda: _embed(ds, model, batch_size=16, client=client))
    assert type(remote) is type(local) is ImageLoadError
    assert str(remote) == str(local) and copies[37] in str(remote)
    assert (remote.path, remote.reason, remote.detail) == (local.path, local.reason, local.detail)
    # only the late one left: the missing file, named the same way
    Path(copies[37]).write_bytes(Path(path_ds.samples["path"].iloc[37]).read_bytes())
    local = _error_of(lambda: _embed(ds, model, batch_size=16))
    remote = _error_of(lambda: _embed(ds, model, batch_size=16, client=client))
    assert isinstance(remote, ImageLoadError) and remote.reason == local.reason == "missing_file"
    assert str(remote) == str(local)
    # a sample with neither a file nor an in-memory image
    ds.samples.loc[ds.samples.index[5], "path"] = None
    local = _error_of(lambda: _embed(ds, model, batch_size=16))
    remote = _error_of(lambda: _embed(ds, model, batch_size=16, client=client))
    assert type(remote) is type(local) is ValueError and str(remote) == str(local)


@pytest.mark.parametrize(
    "backend",
    [
        "sklearn",
        "torch",
        pytest.param(
            "faiss", marks=pytest.mark.skipif(not HAVE_FAISS, reason="faiss not installed")
        ),
    ],
)
@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_neighbor_graph_on_the_cluster_equals_local(client, digits_ds, backend, metric):
    x = helper.digits()[0].reshape(len(digits_ds), -1)
    set_embeddings(digits_ds, x, name="local")
    set_embeddings(digits_ds, x, name="remote")
    _, d0, i0 = neighbor_graph(digits_ds, 10, name="local", metric=metric, backend=backend)
    _, d1, i1 = neighbor_graph(
        digits_ds, 10, name="remote", metric=metric, backend=backend, client=client
    )
    np.testing.assert_array_equal(i1, i0)
    np.testing.assert_array_equal(d1, d0)
    assert not (i1 == np.arange(len(x))[:, None]).any()


@pytest.mark.parametrize(
    "backend",
    [
        "torch",
        pytest.param(
            "faiss", marks=pytest.mark.skipif(not HAVE_FAISS, reason="faiss not installed")
        ),
    ],
)
def test_approximate_index_trained_once_searches_the_same_on_the_cluster(client, backend):
    rng = np.random.default_rng(3)
    centers = rng.normal(size=(20, 16))
    x = (centers[rng.integers(0, 20, 2500)] + 0.3 * rng.normal(size=(2500, 16))).astype(np.float32)
    index = KNNIndex(x, backend=backend, exact_max=500)
    assert not index.exact
    parts = index.self_knn_parts(2 * _dask.PARTS_PER_WORKER)
    assert len(parts) > 2, "the search is split"
    d0, i0 = index.self_knn(7)
    d1, i1 = _dask.self_knn(index, 7, client)
    np.testing.assert_array_equal(i1, i0)
    np.testing.assert_array_equal(d1, d0)


def test_find_duplicates_on_the_cluster(client, digits_ds):
    x = helper.digits()[0].reshape(len(digits_ds), -1).copy()
    x[100:110] = x[0]  # a planted group
    set_embeddings(digits_ds, x, name="a")
    local = find_duplicates(digits_ds, name="a", write=False)
    set_embeddings(digits_ds, x, name="b")
    remote = find_duplicates(digits_ds, name="b", write=False, client=client)
    pd.testing.assert_frame_equal(remote, local)
    assert remote.attrs["threshold"] == local.attrs["threshold"]
    assert set(range(100, 110)) | {0} <= set(remote.index)


def test_a_client_that_is_not_a_dask_client_is_refused(digits_model, digits_ds):
    with pytest.raises(TypeError, match="client must be a dask.distributed.Client.*str"):
        embed(digits_ds, digits_model(), client="tcp://127.0.0.1:8786", progress=False)
    set_embeddings(digits_ds, np.eye(len(digits_ds), 4))
    with pytest.raises(TypeError, match="client must be a dask.distributed.Client.*object"):
        neighbor_graph(digits_ds, client=object())


# an in-process cluster's worker may find the dashboard's default port taken (harmless here)
@pytest.mark.filterwarnings("ignore:Port 8787 is already in use")
def test_an_in_process_cluster_leaves_the_callers_model_alone(digits_model, digits_ds):
    """With ``processes=False`` nothing is pickled: the workers must run their own copy."""
    model = digits_model()
    model.train()
    ids = list(digits_ds.samples.index[:300])
    local = _embed(digits_ds, model, ids=ids, name="local")
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as c,
    ):
        remote = _embed(digits_ds, model, ids=ids, name="remote", client=c)
    assert np.allclose(remote.vectors, local.vectors, rtol=0, atol=1e-5)
    assert model.training
    assert not any(m._forward_hooks for m in model.modules()), "no hook left on the model"


def test_batches_per_task_amortises_round_trips_but_keeps_every_worker_busy():
    bpt = _dask_embed.batches_per_task
    assert bpt(1, 2) == 1 and bpt(16, 2) == 1  # few batches: one a task
    assert bpt(17, 2) == 2 and bpt(160, 2) == 10
    assert bpt(10_000, 2) == _dask_embed.MAX_BATCHES_PER_TASK  # a bounded task
    assert bpt(100, 0) == bpt(100, 1)
