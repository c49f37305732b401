"""Scatter's Python side: columns encoded as the browser reads them, tooltips answered over the
RPC channel, selections assigned as the browser assigns them."""

import numpy as np
import pandas as pd
import pytest

import nbdiag
from nbdiag.widgets import Scatter
from nbdiag.widgets._codecs import pack_mask
from nbdiag.widgets._rpc import KEY
from nbdiag.widgets.scatter import embedding_columns


@pytest.fixture
def ds(make_image, tmp_path):
    rng = np.random.default_rng(1)
    n = 50
    paths = [None] * n
    for i in range(3):
        paths[i] = str(make_image(tmp_path / f"img{i}.png", (40, 30), seed=i))
    samples = pd.DataFrame(
        {
            "label": rng.choice(["cat", "dog"], n),
            "embedding_x": rng.normal(size=n),
            "embedding_y": rng.normal(size=n),
            "brightness": rng.uniform(0, 1, n),
            "path": paths,
            "split": "val",
        },
        index=[f"s{i}" for i in range(n)],
    )
    return nbdiag.Dataset(samples)


def f32(b: bytes) -> np.ndarray:
    return np.frombuffer(b, dtype="<f4")


def test_defaults_to_the_embedding_and_sends_float32_columns(ds):
    sc = Scatter(ds, _threaded_rpc=False)
    assert (sc.x_label, sc.y_label) == ("embedding_x", "embedding_y")
    assert np.array_equal(f32(sc._x), ds.samples["embedding_x"].to_numpy(np.float32))
    assert np.array_equal(f32(sc._y), ds.samples["embedding_y"].to_numpy(np.float32))
    assert sc.equal_aspect and not sc.performance and sc.n_rows == 50
    assert sc.payload_bytes() == 50 * 8  # x + y, nothing per point in JSON
    assert sc.xy.shape == (50, 2)


def test_embedding_column_detection():
    assert embedding_columns(["a", "embedding_x", "embedding_y"]) == ("embedding_x", "embedding_y")
    assert embedding_columns(["umap_x", "umap_y"]) == ("umap_x", "umap_y")
    assert embedding_columns(["x", "y"]) is None


def test_needs_x_and_y_without_an_embedding():
    plain = nbdiag.Dataset(pd.DataFrame({"a": [1.0, 2.0], "b": [3.0, 4.0]}, index=["p", "q"]))
    with pytest.raises(ValueError, match="embedding"):
        Scatter(plain)
    with pytest.raises(ValueError, match="both x and y"):
        Scatter(plain, x="a")
    sc = Scatter(plain, x="a", y="b", _threaded_rpc=False)
    assert not sc.equal_aspect
    with pytest.raises(KeyError, match="'nope' is not a column"):
        Scatter(plain, x="a", y="nope")


def test_category_colour_as_uint8_codes_with_a_legend(ds):
    sc = Scatter(ds, color="label", _threaded_rpc=False)
    assert sc.color_kind == "category" and sc._color_code_width == 1
    assert sc.color_categories == ["cat", "dog"]
    codes = np.frombuffer(sc._color_codes, dtype="u1")
    assert list(np.array(sc.color_categories)[codes]) == list(ds.samples["label"].astype(str))


def test_many_categories_use_uint16_and_missing_codes(ds):
    values = pd.Series([f"c{i}" for i in range(300)] * 2, dtype=object)
    values[5] = None
    df = pd.DataFrame({"x": np.arange(600.0), "y": np.arange(600.0), "c": values})
    sc = Scatter(df, x="x", y="y", color="c", _threaded_rpc=False)
    assert sc._color_code_width == 2
    codes = np.frombuffer(sc._color_codes, dtype="<u2")
    assert codes[5] == 0xFFFF and len(sc.color_categories) == 300


def test_continuous_colour_and_size(ds):
    sc = Scatter(ds, color="brightness", size="brightness", _threaded_rpc=False)
    assert sc.color_kind == "value"
    assert sc.color_range == pytest.approx(
        [ds.samples.brightness.min(), ds.samples.brightness.max()]
    )
    size = f32(sc._size)
    assert np.nanmin(size) == 0.0 and np.nanmax(size) == 1.0
    sc.color_by("label")
    assert sc.color_kind == "category" and sc._color_values == b""
    sc.color_by(None)
    assert sc.color_kind == "none"


def test_colour_by_a_series_aligned_on_ids(ds):
    flag = pd.Series({"s3": True, "s1": False})  # others missing
    sc = Scatter(ds, color=flag, _threaded_rpc=False)
    codes = np.frombuffer(sc._color_codes, dtype="u1")
    assert sc.color_categories == ["False", "True"]
    assert codes[3] == 1 and codes[1] == 0 and codes[0] == 0xFF


def test_performance_mode_above_the_threshold(ds):
    assert Scatter(ds, performance_threshold=10, _threaded_rpc=False).performance
    assert not Scatter(
        ds, performance_threshold=10, performance=False, _threaded_rpc=False
    ).performance


def test_browser_selection_reaches_python(ds):
    sc = Scatter(ds, _threaded_rpc=False)
    mask = np.zeros(50, dtype=bool)
    mask[[4, 9]] = True
    sc.set_state(
        {
            "_selection_source": "lasso",
            "_selection_region": {"kind": "lasso", "x": [0, 1, 1], "y": [0, 0, 1]},
            "_selection": memoryview(pack_mask(mask)),
        }
    )
    assert list(sc.selected.index) == ["s4", "s9"]
    assert sc.selection_source == "lasso" and sc.selection_region["kind"] == "lasso"


def _request(sc, row, rid="t:1"):
    sent = []
    sc.send = lambda content, buffers=None: sent.append((content, buffers))  # type: ignore[method-assign]
    sc._on_custom_msg(
        sc, {KEY: "request", "id": rid, "method": "point", "params": {"row": row}}, []
    )
    assert len(sent) == 1
    return sent[0]


def test_tooltip_answers_key_columns_and_the_thumbnail(ds):
    sc = Scatter(ds, color="brightness", _threaded_rpc=False)
    content, buffers = _request(sc, 1)
    assert content[KEY] == "response" and content["ok"] and content["id"] == "t:1"
    result = content["result"]
    assert result["id"] == "s1"
    names = [k for k, _ in result["values"]]
    assert names[:2] == ["label", "split"] and "brightness" in names
    assert result["image"] == 0 and result["mime"] == "image/webp"
    assert bytes(buffers[0])[:4] == b"RIFF"  # a WebP thumbnail


def test_tooltip_without_an_image_says_so(ds):
    sc = Scatter(ds, _threaded_rpc=False)
    content, buffers = _request(sc, 10)
    assert content["ok"] and content["result"]["image"] is None and buffers == []
    assert content["result"]["values"][-1][0] == "image"


def test_tooltip_bad_row_is_an_error_response(ds):
    sc = Scatter(ds, _threaded_rpc=False)
    content, _ = _request(sc, 999)
    assert not content["ok"] and "row must be" in content["error"]["message"]


def test_scatter_of_a_run_has_its_prediction_columns(ds):
    rng = np.random.default_rng(0)
    ds.add_run("m", rng.dirichlet(np.ones(2), 50))
    sc = Scatter(ds, color="correct", run="m", _threaded_rpc=False)
    assert {"prediction", "confidence", "correct"} <= set(sc.rows.columns)
    assert sc.color_categories == ["False", "True"]
    assert "confidence" in sc._tooltip_columns


def test_a_bare_categorical_keeps_its_category_order():
    df = pd.DataFrame({"x": [0.0, 1.0, 2.0], "y": [0.0, 1.0, 2.0]})
    order = ["late", "early"]
    sc = Scatter(df, "x", "y", color=pd.Categorical(["late", "early", "late"], categories=order))
    assert sc.color_categories == order
    with pytest.raises(ValueError, match="one value per row"):
        Scatter(df, "x", "y", color=pd.Categorical(["late", "early"]))
