"""ImageGrid captions say why an image is flagged: the ``flag_reasons`` of ``compute_metrics``
reach each sample item (for the cell's tooltip), and only flagged images carry one."""

from __future__ import annotations

import numpy as np
import pandas as pd

import nbdiag
from nbdiag.metrics import compute_metrics
from nbdiag.widgets._grid_data import GridSource
from nbdiag.widgets._grid_rows import caption_columns, sample_rows


def _scene(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    img = np.repeat(np.repeat(rng.integers(30, 230, (8, 8, 3)), 8, 0), 8, 1)
    return np.uint8(np.clip(img + rng.normal(0, 3, img.shape), 0, 255))


def _dataset() -> nbdiag.Dataset:
    arrays = {f"s{i}": _scene(i) for i in range(24)}
    arrays["dark"] = np.uint8(_scene(99) * 0.1)
    ds = nbdiag.Dataset(pd.DataFrame(index=list(arrays)), images=arrays)
    compute_metrics(ds, cache_dir=False, progress=False, workers=1)
    return ds


def test_flagged_samples_carry_their_reason_in_the_caption():
    ds = _dataset()
    assert ds.samples.dark.sum() == 1
    caps = caption_columns(sample_rows(ds, None, None, None), "sample", None)
    why = dict(zip(ds.samples.index, caps["reasons"], strict=True))
    assert why["dark"].startswith("dark: brightness ")
    assert "threshold at p" in why["dark"] and "image at p4" in why["dark"]
    assert all(why[k] is None for k in ds.samples.index if k != "dark")


def test_page_items_of_the_grid_send_the_reason():
    ds = _dataset()
    source = GridSource(ds)
    row = int(source.rows.index.get_loc("dark"))
    caption = source.caption(row)
    assert caption["reasons"] == ds.samples.flag_reasons["dark"]
    assert source.caption(0)["reasons"] is None


def test_without_metrics_the_captions_are_unchanged():
    arrays = {f"s{i}": _scene(i) for i in range(3)}
    ds = nbdiag.Dataset(pd.DataFrame(index=list(arrays)), images=arrays)
    caps = caption_columns(sample_rows(ds, None, None, None), "sample", None)
    assert list(caps["reasons"]) == [None, None, None]
