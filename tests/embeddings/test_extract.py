"""Embeddings from a small CNN trained on digits: hooks, batching, caching, crops, validation."""

from __future__ import annotations

import nbdiag_tests_digits_model as helper  # registered by conftest.py
import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.model_selection import cross_val_score
from sklearn.neighbors import KNeighborsClassifier

import nbdiag
from nbdiag.embeddings import (
    ImageTransform,
    default_transform,
    embed,
    get_embeddings,
    set_embeddings,
)
from nbdiag.embeddings._transform import input_channels


def _bare_loop(model, ds, upto: str) -> np.ndarray:
    """What a user would write by hand: transform, batch, forward up to a layer."""
    t = helper.transform()
    x = torch.stack([t(ds.image(i)) for i in ds.samples.index])
    layers = dict(model.named_children())
    out = []
    with torch.no_grad():
        for s in range(0, len(x), 64):
            h = x[s : s + 64]
            for name, layer in layers.items():
                h = layer(h)
                if name == upto:
                    break
            out.append(h)
    return torch.cat(out).numpy()


def test_layer_embeddings_equal_a_bare_forward_pass(digits_model, digits_ds):
    model = digits_model()
    model.train()
    emb = embed(digits_ds, model, layer="embedding", transform=helper.transform(), progress=False)
    assert emb.vectors.dtype == np.float32 and emb.vectors.shape == (len(digits_ds), 64)
    assert emb.vectors.flags.c_contiguous
    assert list(emb.ids) == list(digits_ds.samples.index)
    np.testing.assert_allclose(emb.vectors, _bare_loop(model, digits_ds, "embedding"), atol=1e-5)
    assert model.training, "the model's training mode is restored"
    assert get_embeddings(digits_ds) is emb
    assert emb.meta["layer"] == "embedding" and emb.meta["cached"] is False


def test_embeddings_separate_the_classes(digits_model, digits_ds):
    emb = embed(digits_ds, digits_model(), layer="embedding", image_size=8, progress=False)
    y = digits_ds.samples["label"].cat.codes.to_numpy()
    acc = cross_val_score(KNeighborsClassifier(5), emb.vectors, y, cv=3).mean()
    assert acc > 0.95


def test_model_output_default_transform_infers_one_channel(digits_model, digits_ds):
    model = digits_model()
    assert input_channels(model) == 1
    emb = embed(digits_ds, model, image_size=8, batch_size=500, progress=False, cache=False)
    probs = helper.to_probabilities(model, digits_ds)
    logits = emb.vectors
    np.testing.assert_allclose(torch.softmax(torch.from_numpy(logits), 1).numpy(), probs, atol=1e-5)


def test_disk_cache_hits_and_misses(digits_model, digits_ds, tmp_path):
    model = digits_model()
    ids = list(digits_ds.samples.index[:200])
    first = embed(digits_ds, model, ids=ids, image_size=8, cache=tmp_path, progress=False)
    again = embed(digits_ds, model, ids=ids, image_size=8, cache=tmp_path, progress=False)
    assert not first.meta["cached"] and again.meta["cached"]
    np.testing.assert_array_equal(first.vectors, again.vectors)
    assert len(list(tmp_path.glob("*.npy"))) == 1
    # other weights, other layer, other data, other transform: misses
    with torch.no_grad():
        model.head.bias += 1.0
    assert not embed(digits_ds, model, ids=ids, image_size=8, cache=tmp_path, progress=False).meta[
        "cached"
    ]
    assert not embed(
        digits_ds, model, ids=ids[:-1], image_size=8, cache=tmp_path, progress=False
    ).meta["cached"]
    assert not embed(
        digits_ds, model, ids=ids, layer="embedding", image_size=8, cache=tmp_path, progress=False
    ).meta["cached"]
    other = default_transform(8, channels=1, mean=(0.5,), std=(0.25,))
    assert not embed(
        digits_ds, model, ids=ids, transform=other, cache=tmp_path, progress=False
    ).meta["cached"]
    digits_ds._images[ids[0]] = 255 - digits_ds._images[ids[0]]
    assert not embed(digits_ds, model, ids=ids, image_size=8, cache=tmp_path, progress=False).meta[
        "cached"
    ]


def test_object_level_embeds_box_crops(digits_model):
    images, _ = helper.digits()
    canvas = np.zeros((4, 16, 16), dtype=np.uint8)
    for i in range(4):
        canvas[i, 4:12, 2:10] = (images[i] * 15).astype(np.uint8)
    objects = pd.DataFrame(
        {
            "sample_id": [0, 1, 2, 3, 3],
            "label": ["0", "1", "2", "3", "3"],
            "x": [2.0, 2, 2, 2, 8],
            "y": [4.0, 4, 4, 4, 8],
            "w": [8.0, 8, 8, 8, 8],
            "h": [8.0, 8, 8, 8, 8],
        }
    )
    ds = nbdiag.Dataset(
        pd.DataFrame(index=range(4)), objects, images={i: canvas[i] for i in range(4)}
    )
    model = digits_model()
    emb = embed(
        ds, model, layer="embedding", level="object", image_size=8, progress=False, batch_size=2
    )
    assert emb.level == "object" and list(emb.ids) == list(ds.objects.index)
    t = default_transform(8, channels=1)
    crops = torch.stack([t(ds.image(i).crop((2, 4, 10, 12))) for i in range(4)])
    with torch.no_grad():
        want = model[:7](crops).numpy()
    np.testing.assert_allclose(emb.vectors[:4], want, atol=1e-5)
    assert get_embeddings(ds, level="object") is emb
    with pytest.raises(ValueError, match="no sample embeddings"):
        get_embeddings(ds)


def test_helpful_errors(digits_model, digits_ds):
    model = digits_model()
    with pytest.raises(ValueError, match="no layer 'embeddingz'.*embedding"):
        embed(digits_ds, model, layer="embeddingz")
    with pytest.raises(TypeError, match="torch.nn.Module"):
        embed(digits_ds, lambda x: x)
    with pytest.raises(ValueError, match="pool must be"):
        embed(digits_ds, model, pool="median")
    with pytest.raises(ValueError, match="channels must be 1 or 3"):
        ImageTransform(channels=2)


def test_set_embeddings_validates_and_keeps_several(digits_ds):
    x = np.random.default_rng(0).normal(size=(len(digits_ds), 5))
    emb = set_embeddings(digits_ds, x, name="mine")
    assert emb.vectors.dtype == np.float32 and get_embeddings(digits_ds).name == "mine"
    frame = pd.DataFrame(x[:10], index=digits_ds.samples.index[:10])
    part = set_embeddings(digits_ds, frame, name="part")
    assert list(part.ids) == list(digits_ds.samples.index[:10])
    assert get_embeddings(digits_ds, "mine") is emb
    with pytest.raises(ValueError, match="length mismatch"):
        set_embeddings(digits_ds, x[:-1])
    bad = x.copy()
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN or infinite values in rows 3"):
        set_embeddings(digits_ds, bad)
    with pytest.raises(ValueError, match="unknown sample ids"):
        set_embeddings(digits_ds, x[:2], ids=["nope", 0])
    with pytest.raises(KeyError, match="no sample embeddings named 'other'"):
        get_embeddings(digits_ds, "other")
