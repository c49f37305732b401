"""Histogram's Python side: binning identical to the browser's, range and category selection,
a brush assigned as the browser assigns it."""

import numpy as np
import pandas as pd
import pytest

import nbdiag
from nbdiag.widgets import Histogram
from nbdiag.widgets._codecs import pack_mask
from nbdiag.widgets.histogram import bin_edges, bin_index


@pytest.fixture
def ds():
    rng = np.random.default_rng(5)
    n = 200
    b = rng.uniform(0, 10, n)
    b[[3, 4]] = np.nan
    samples = pd.DataFrame(
        {
            "label": rng.choice(["cat", "dog", "bird"], n),
            "brightness": b,
            "n_boxes": rng.integers(0, 4, n),
        },
        index=[f"s{i}" for i in range(n)],
    )
    return nbdiag.Dataset(samples)


def test_numeric_column_is_sent_as_float32_with_its_range(ds):
    h = Histogram(ds, "brightness", bins=20)
    assert h.kind == "numeric" and h.bins == 20 and h.column == "brightness"
    values = np.frombuffer(h._values, dtype="<f4")
    assert np.array_equal(values, ds.samples.brightness.to_numpy(np.float32), equal_nan=True)
    lo, hi = h.value_range
    assert lo == float(np.nanmin(values)) and hi == float(np.nanmax(values))
    counts = h.counts
    assert counts.sum() == 198 and len(counts) == 20  # the two NaN are in no bin


def test_binning_follows_the_documented_rule():
    edges = bin_edges(0.0, 1.0, 4)
    assert edges.tolist() == [0.0, 0.25, 0.5, 0.75, 1.0]
    v = np.array([0.0, 0.2499, 0.25, 0.99, 1.0, np.nan, -0.1, 1.1])
    assert bin_index(v, 0.0, 1.0, 4).tolist() == [0, 0, 1, 3, 3, -1, -1, -1]


def test_select_range_with_bounds_from_the_data_keeps_the_rows_at_the_bounds():
    # 0.1 as float32 is above 0.1 as float64: a float32 comparison dropped the max row
    df = pd.DataFrame({"x": [0.0, 0.05, 0.1]})
    h = Histogram(df, "x")
    h.select_range(np.float64(0.0), df["x"].max())
    assert list(h.selection) == [0, 1, 2]
    h.select_range(0.05, 0.1)
    assert list(h.selection) == [1, 2]
    h.select_range(0.0, h.values.max())  # a float32 bound, as drawn
    assert list(h.selection) == [0, 1, 2]


def test_select_range_and_bins(ds):
    h = Histogram(ds, "brightness", bins=10)
    h.select_range(2.0, 4.0)
    v = ds.samples.brightness
    assert set(h.selection) == set(v.index[(v >= 2.0) & (v <= 4.0)])
    assert h.range == (2.0, 4.0) and h.selection_source == "python"
    h.select_bins(2, 3)
    idx = h.bin_index()
    assert set(h.selection) == set(ds.samples.index[(idx >= 2) & (idx <= 3)])
    e = h.edges
    assert h.range == (e[2], e[4])
    sel = h.selected.brightness
    assert sel.min() >= e[2] and sel.max() <= e[4]
    with pytest.raises(ValueError, match="bins are numbered"):
        h.select_bins(0, 10)


def test_a_brush_from_the_browser(ds):
    h = Histogram(ds, "brightness", bins=10)
    idx = h.bin_index()
    mask = (idx >= 5) & (idx <= 7)
    e = h.edges
    h.set_state(
        {
            "_selection_source": "range",
            "_selection_region": {
                "kind": "range",
                "column": "brightness",
                "lo": e[5],
                "hi": e[8],
                "bins": [5, 7],
            },
            "_selection": memoryview(pack_mask(mask)),
        }
    )
    assert h.range == (e[5], e[8])
    assert len(h.selected) == mask.sum()


def test_categorical_columns_are_bars(ds):
    h = Histogram(ds, "label")
    assert h.kind == "categorical" and h.categories == ["bird", "cat", "dog"]
    assert h.counts.sum() == 200
    h.select_categories("cat", "dog")
    assert set(h.selected.label) == {"cat", "dog"}
    with pytest.raises(KeyError, match="unknown categories"):
        h.select_categories("zebra")
    with pytest.raises(TypeError, match="categorical"):
        h.select_range(0, 1)
    # integers with few values are categories too
    assert Histogram(ds, "n_boxes").kind == "categorical"


def test_explicit_range_and_constant_columns(ds):
    h = Histogram(ds, "brightness", bins=5, range=(0, 5))
    assert h.value_range == [0.0, 5.0]
    assert h.counts.sum() == (ds.samples.brightness <= 5).sum()
    const = Histogram(pd.DataFrame({"v": [2.0, 2.0, 2.0]}, index=list("abc")), "v")
    assert const.value_range == [1.5, 2.5]
    assert const.counts.sum() == 3


def test_text_columns_are_not_numeric_errors(ds):
    with pytest.raises(KeyError, match="not a column"):
        Histogram(ds, "nope")
    with pytest.raises(ValueError, match="bins"):
        Histogram(ds, "brightness", bins=0)


def test_histogram_of_a_run_and_of_an_evaluation(ds):
    rng = np.random.default_rng(1)
    ds.add_run("m", rng.dirichlet(np.ones(3), 200))
    h = Histogram(ds, "confidence", run="m")
    assert h.n_rows == 200  # all samples, the run's columns joined
    he = Histogram(ds.evaluate("m"), "loss")
    assert he.n_rows == 200 and he.dataset is ds
