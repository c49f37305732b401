"""A small CNN trained on scikit-learn's digits in about a second, shared by the embeddings,
issues and selection tests (each conftest loads this file by path; results are memoised)."""

from __future__ import annotations

import functools
from collections import OrderedDict

import numpy as np
import torch
from sklearn.datasets import load_digits

import nbdiag
from nbdiag.embeddings import default_transform

IMAGE_SIZE = 8
TRAIN_ROWS = 1200


def transform():
    return default_transform(IMAGE_SIZE, channels=1)


def make_model() -> torch.nn.Module:
    return torch.nn.Sequential(
        OrderedDict(
            conv1=torch.nn.Conv2d(1, 16, 3, padding=1),
            relu1=torch.nn.ReLU(),
            pool=torch.nn.MaxPool2d(2),
            conv2=torch.nn.Conv2d(16, 32, 3, padding=1),
            relu2=torch.nn.ReLU(),
            flatten=torch.nn.Flatten(),
            embedding=torch.nn.Linear(32 * 4 * 4, 64),
            relu3=torch.nn.ReLU(),
            head=torch.nn.Linear(64, 10),
        )
    )


@functools.lru_cache(maxsize=1)
def digits():
    d = load_digits()
    return d.images, d.target


def digits_dataset() -> nbdiag.Dataset:
    images, target = digits()
    return nbdiag.Dataset.from_arrays(images, target)


@functools.lru_cache(maxsize=1)
def _trained_state() -> dict:
    torch.manual_seed(0)
    ds = digits_dataset()
    t = transform()
    x = torch.stack([t(ds.image(i)) for i in ds.samples.index])
    y = torch.as_tensor(digits()[1])
    model = make_model()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    g = torch.Generator().manual_seed(0)
    model.train()
    for _ in range(8):
        perm = torch.randperm(TRAIN_ROWS, generator=g)
        for s in range(0, TRAIN_ROWS, 64):
            b = perm[s : s + 64]
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(x[b]), y[b])
            loss.backward()
            opt.step()
    model.eval()
    with torch.no_grad():
        acc = (model(x[TRAIN_ROWS:]).argmax(1) == y[TRAIN_ROWS:]).float().mean().item()
    assert acc > 0.9, f"the test CNN should learn digits, held-out accuracy {acc:.3f}"
    return {k: v.clone() for k, v in model.state_dict().items()}


def trained_model() -> torch.nn.Module:
    """A fresh copy of the trained CNN (tests may move or modify it)."""
    model = make_model()
    model.load_state_dict(_trained_state())
    return model.eval()


def to_probabilities(model: torch.nn.Module, ds: nbdiag.Dataset) -> np.ndarray:
    t = transform()
    x = torch.stack([t(ds.image(i)) for i in ds.samples.index])
    with torch.no_grad():
        return torch.softmax(model(x), dim=1).numpy().astype(np.float64)
