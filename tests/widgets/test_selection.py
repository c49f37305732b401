"""The shared selection model, driven as the browser drives it: by assigning the synced traits."""

import numpy as np
import pandas as pd
import pytest
import traitlets

from nbdiag.widgets._base import SelectionWidget
from nbdiag.widgets._codecs import (
    MISSING_CODE,
    Binary,
    encode_codes,
    encode_float32,
    pack_mask,
    unpack_mask,
)


def test_pack_mask_layout_matches_the_js_contract():
    # rows 0, 3, 8, 10 of 11 -> bit i&7 of byte i>>3, LSB first (js/test/selection.test.ts)
    mask = np.zeros(11, dtype=bool)
    mask[[0, 3, 8, 10]] = True
    assert pack_mask(mask) == bytes([0x09, 0x05])
    assert unpack_mask(bytes([0x09, 0x05]), 11).nonzero()[0].tolist() == [0, 3, 8, 10]


def test_unpack_mask_tolerates_stale_lengths():
    assert unpack_mask(b"", 5).tolist() == [False] * 5
    assert unpack_mask(bytes([0xFF]), 3).tolist() == [True] * 3  # extra bits ignored
    assert unpack_mask(bytes([0x01]), 10).tolist() == [True] + [False] * 9  # short input padded
    assert pack_mask(np.zeros(7, dtype=bool)) == b""


def test_encode_codes_marks_missing():
    s = pd.Series(pd.Categorical(["b", None, "a"], categories=["a", "b"]))
    codes = np.frombuffer(encode_codes(s), dtype="<u2")
    assert codes.tolist() == [1, MISSING_CODE, 0]
    assert np.frombuffer(encode_float32([1.5, np.nan]), dtype="<f4")[0] == 1.5


def test_binary_trait_accepts_what_the_frontend_sends():
    class T(traitlets.HasTraits):
        b = Binary()

    t = T()
    t.b = memoryview(b"\x01\x02")
    assert t.b == b"\x01\x02"
    t.b = bytearray(b"\x03")
    assert t.b == b"\x03"
    with pytest.raises(traitlets.TraitError):
        t.b = "text"


class _Rows(SelectionWidget):
    _esm = "export default { render() {} };"


@pytest.fixture
def widget():
    rows = pd.DataFrame(
        {"score": [0.1, 0.9, 0.5, 0.7]}, index=pd.Index(["a", "b", "c", "d"], name="id")
    )
    return _Rows(rows)


def test_browser_selection_reaches_python(widget):
    seen = []
    widget.on_select(lambda w: seen.append(list(w.selection)))
    # what the browser's save_changes delivers: a memoryview of the packed mask
    widget.set_state({"_selection_source": "lasso", "_selection": memoryview(bytes([0b1010]))})
    assert list(widget.selection) == ["b", "d"]
    assert widget.selected.index.tolist() == ["b", "d"]
    assert widget.selection_source == "lasso"
    assert seen == [["b", "d"]]


def test_select_from_python_accepts_ids_masks_frames(widget):
    widget.select(["c", "a"])
    assert list(widget.selection) == ["a", "c"]
    assert widget._selection == bytes([0b0101])
    assert widget.selection_source == "python"
    widget.select(pd.Series([True, False], index=["d", "a"]))
    assert list(widget.selection) == ["d"]
    widget.select(np.array([True, True, False, False]))
    assert list(widget.selection) == ["a", "b"]
    widget.select(widget.rows.iloc[[2]])
    assert list(widget.selection) == ["c"]
    widget.select("b")
    assert list(widget.selection) == ["b"]
    widget.clear_selection()
    assert widget.selected.empty and widget._selection == b""


def test_select_unknown_ids_names_them(widget):
    with pytest.raises(ValueError, match="'zz'"):
        widget.select(["a", "zz"])
    with pytest.raises(ValueError, match="one entry per row"):
        widget.select(np.array([True]))


def test_a_failing_callback_never_breaks_the_widget(widget, caplog):
    def boom(w):
        raise RuntimeError("user bug")

    widget.on_select(boom)
    widget.select(["a"])  # must not raise
    assert list(widget.selection) == ["a"]
    assert "user bug" in caplog.text
    widget.on_select(boom, remove=True)


def test_selected_is_a_copy(widget):
    widget.select(["a"])
    sel = widget.selected
    sel["score"] = -1
    assert widget.rows.loc["a", "score"] == 0.1
