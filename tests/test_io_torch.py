"""from_torch: reading a torch Dataset of (image, label) pairs into memory."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import Dataset as TorchDataset
from torch.utils.data import IterableDataset, Subset, TensorDataset

import nbdiag
from nbdiag.io import from_torch


class Shapes(TorchDataset):
    """A map-style dataset mixing image types, like user code does."""

    classes = ["circle", "square", "star"]

    def __init__(self):
        self.items = [
            (Image.new("RGB", (10, 6), (255, 0, 0)), 0),
            (torch.full((1, 5, 7), 0.5), torch.tensor(2)),  # CHW float in [0, 1]
            (torch.full((4, 4), 200, dtype=torch.uint8), np.int64(1)),  # HW uint8
            (np.full((3, 8, 3), 255, np.uint8), "square"),  # HWC numpy, label by name
            (Image.new("RGBA", (2, 2), (0, 0, 0, 0)), 1, {"extra": "ignored"}),
        ]

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        return self.items[i]


def test_tensor_dataset():
    images = torch.rand(6, 3, 8, 12)
    data = TensorDataset(images, torch.tensor([0, 1, 2, 1, 0, 2]))
    ds = nbdiag.Dataset.from_torch(data, class_names=["a", "b", "c"], name="t")
    assert (len(ds), ds.name) == (6, "t")
    assert ds.samples["label"].tolist() == ["a", "b", "c", "b", "a", "c"]
    assert ds.samples.loc[0, ["width", "height"]].tolist() == [12.0, 8.0]
    expected = np.rint(images[0].permute(1, 2, 0).numpy() * 255).astype(np.uint8)
    np.testing.assert_array_equal(np.asarray(ds.image(0)), expected)


def test_mixed_image_types_and_classes_attribute():
    ds = from_torch(Shapes())
    assert ds.class_names == ["circle", "square", "star"]
    assert ds.samples["label"].tolist() == ["circle", "star", "square", "square", "square"]
    sizes = ds.samples[["width", "height"]].to_numpy().tolist()
    assert sizes == [[10, 6], [7, 5], [4, 4], [8, 3], [2, 2]]
    assert ds.image(0).getpixel((0, 0)) == (255, 0, 0)
    assert ds.image(1).mode == "L" and ds.image(1).getpixel((0, 0)) == 128
    assert ds.image(2).getpixel((0, 0)) == 200
    assert ds.image(4).getpixel((0, 0)) == (255, 255, 255)  # transparent onto white


def test_subset_and_max_samples():
    sub = Subset(Shapes(), [3, 0])
    ds = from_torch(sub)
    assert ds.class_names == ["circle", "square", "star"]  # found through the Subset
    assert ds.samples["label"].tolist() == ["square", "circle"]
    assert len(from_torch(Shapes(), max_samples=2)) == 2


def test_normalised_tensors_are_scaled_over_the_set():
    images = torch.tensor([[[[-2.0, 0.0]]], [[[1.0, 2.0]]]])  # (N, 1, 1, 2) after Normalize
    ds = from_torch(TensorDataset(images, torch.tensor([0, 1])))
    assert np.asarray(ds.image(0)).tolist() == [[0, 128]]
    assert np.asarray(ds.image(1)).tolist() == [[191, 255]]
    assert ds.class_names == ["0", "1"]


class Stream(IterableDataset):
    def __iter__(self):
        for i in range(5):
            yield torch.full((3, 4, 4), i / 4)


def test_iterable_dataset_without_labels():
    ds = from_torch(Stream(), max_samples=3, progress=True)
    assert len(ds) == 3 and ds.task == "unlabelled"
    assert np.asarray(ds.image(2))[0, 0].tolist() == [128, 128, 128]


class Broken(TorchDataset):
    def __init__(self, item):
        self.item = item

    def __len__(self):
        return 1

    def __getitem__(self, i):
        return self.item


@pytest.mark.parametrize(
    ("item", "error", "message"),
    [
        (
            (torch.zeros(3, 4, 4), torch.tensor([0, 1])),
            ValueError,
            r"item 0: the label is a tensor",
        ),
        (("not an image", 0), TypeError, "item 0: the image is a str"),
        ((torch.zeros(2, 2, 2, 2), 0), ValueError, r"item 0: cannot read an image of shape"),
        ((torch.full((2, 2), float("nan")), 0), ValueError, "item 0: the image has NaN"),
        ((torch.zeros(2, 2), [0]), TypeError, "item 0: the label is a list"),
        ((torch.zeros(2, 2), 3), ValueError, r"unknown class index in samples.label: 0 \(3\)"),
    ],
)
def test_errors(item, error, message):
    with pytest.raises(error, match=message):
        from_torch(Broken(item), class_names=["a", "b"])


def test_empty_dataset():
    with pytest.raises(ValueError, match="the torch dataset is empty"):
        from_torch(TensorDataset(torch.zeros(0, 3, 2, 2)))
