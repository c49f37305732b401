"""Property-based tests of the YOLO reader: thousands of generated malformed label files,
prediction files and data.yaml variants. The reader either succeeds, recording only the
documented problem kinds with messages naming the file and line, or raises ValueError
naming the file; valid boxes come back at the pixel positions computed here."""

from __future__ import annotations

import tempfile
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from nbdiag.io.formats import to_dataset
from nbdiag.io.formats.yolo import from_yolo, read_yolo, read_yolo_predictions

KINDS = {"malformed_annotation", "unknown_class", "invalid_box", "missing_file"}
SIZE = (10, 8)  # the test image's width, height
NAMES = ["a", "b", "c"]
FUZZ = settings(
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _dataset(tmp: Path) -> Path:
    """A tiny YOLO dataset three folders deep (so '..' in a fuzzed YAML stays in ``tmp``)."""
    root = tmp / "x" / "y" / "ds"
    (root / "images" / "train").mkdir(parents=True)
    (root / "labels" / "train").mkdir(parents=True)
    Image.new("RGB", SIZE, "gray").save(root / "images" / "train" / "a.png")
    (root / "train.txt").write_text("images/train/a.png\n")
    (root / "data.yaml").write_text("train: images/train\nnames: [a, b, c]\n")
    return root


# ---------------------------------------------------------------------- strategies
ODD = [
    "nan", "NaN", "inf", "-inf", "Infinity", "1e400", "-1e400", "1e-400", "-0", "0x1", "1_0",
    "٣", "½", "—", "+.5", ".", "-", "e5", "1e", "0.5.5", "１", "𝟙", "\x00", "\ufeff0", "9" * 400,
]  # fmt: skip
token = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.floats(-0.2, 1.2).map(lambda x: f"{x:.6f}"),
    st.integers(-3, 10**30).map(str),
    st.sampled_from(ODD),
    st.text(min_size=1, max_size=6),
)
plausible = st.tuples(
    st.integers(-1, 4), st.lists(st.floats(-0.05, 1.05), min_size=3, max_size=10)
).map(lambda t: " ".join([str(t[0])] + [f"{x:.5f}" for x in t[1]]))
line = st.one_of(st.lists(token, max_size=12).map(" ".join), plausible, st.text(max_size=20))


@st.composite
def label_bytes(draw) -> bytes:
    if draw(st.integers(0, 9)) == 0:
        return draw(st.binary(max_size=80))  # not even text
    lines = draw(st.lists(line, max_size=8))
    end = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    text = end.join(lines) + (end if draw(st.booleans()) else "")
    bom = b"\xef\xbb\xbf" if draw(st.booleans()) else b""
    return bom + text.encode("utf-8", errors="surrogatepass")


def _nonblank_lines(raw: bytes) -> int:
    text = raw.decode("utf-8-sig", errors="replace")
    return sum(1 for x in text.splitlines() if x.split())


# ---------------------------------------------------------------------- label files
def test_fuzzed_label_files_load_with_documented_problems():
    with tempfile.TemporaryDirectory() as tmp:
        root = _dataset(Path(tmp))
        label = root / "labels" / "train" / "a.txt"

        @settings(FUZZ, max_examples=800)
        @given(raw=label_bytes(), build=st.integers(0, 9))
        def run(raw: bytes, build: int) -> None:
            label.write_bytes(raw)
            parsed = read_yolo(root)
            boxes = pd.DataFrame(parsed._boxes, columns=["x", "y", "w", "h", "label", "score"])
            on_lines = 0
            for image, kind, message in parsed.problems:
                assert image == 0 and kind in KINDS
                assert message.startswith("labels/train/a.txt line ")
                on_lines += 1
            # every non-blank line is a box or exactly one problem
            assert len(boxes) + on_lines == _nonblank_lines(raw)
            if len(boxes):
                x, y, w, h = (boxes[c].to_numpy() for c in "xywh")
                assert np.isfinite([x, y, w, h]).all()
                assert (x >= 0).all() and (y >= 0).all() and (w >= 0).all() and (h >= 0).all()
                assert (x + w <= SIZE[0] + 1e-9).all() and (y + h <= SIZE[1] + 1e-9).all()
                assert set(boxes["label"]) <= set(NAMES)
            if build:  # building the dataset takes ~60 ms: one example in ten
                return
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ds = to_dataset(parsed, name="fuzz", check_images=False)
            assert len(ds.gt_objects) == int(boxes["score"].isna().sum())

        run()


@st.composite
def valid_box(draw) -> tuple[int, float, float, float, float]:
    w, h = draw(st.floats(0, 1)), draw(st.floats(0, 1))
    cx = draw(st.floats(w / 2, 1 - w / 2)) if w < 1 else 0.5
    cy = draw(st.floats(h / 2, 1 - h / 2)) if h < 1 else 0.5
    return draw(st.integers(0, 2)), cx, cy, w, h


def test_valid_boxes_come_back_in_pixels():
    with tempfile.TemporaryDirectory() as tmp:
        root = _dataset(Path(tmp))
        label = root / "labels" / "train" / "a.txt"

        @settings(FUZZ, max_examples=200)
        @given(boxes=st.lists(valid_box(), min_size=1, max_size=5))
        def run(boxes) -> None:
            label.write_text("".join(f"{c} {x!r} {y!r} {w!r} {h!r}\n" for c, x, y, w, h in boxes))
            got = read_yolo(root).boxes()
            assert len(got) == len(boxes)
            iw, ih = SIZE
            want = [(max(x - w / 2, 0) * iw, max(y - h / 2, 0) * ih) for _, x, y, w, h in boxes]
            np.testing.assert_allclose(got[["x", "y"]].to_numpy(), want, atol=1e-9)
            sizes = [(w * iw, h * ih) for _, _, _, w, h in boxes]
            np.testing.assert_allclose(got[["w", "h"]].to_numpy(), sizes, atol=1e-9)
            assert got["label"].tolist() == [NAMES[c] for c, *_ in boxes]

        run()


# ---------------------------------------------------------------------- prediction files
def test_fuzzed_prediction_files_give_boxes_or_a_valueerror_naming_the_file():
    with tempfile.TemporaryDirectory() as tmp:
        root = _dataset(Path(tmp))
        ds = from_yolo(root)
        preds = Path(tmp) / "preds"
        preds.mkdir()
        file = preds / "a.txt"

        @settings(FUZZ, max_examples=300)
        @given(raw=label_bytes())
        def run(raw: bytes) -> None:
            file.write_bytes(raw)
            try:
                frame = read_yolo_predictions(ds, preds)
            except ValueError as exc:
                assert str(file) in str(exc)
                return
            assert len(frame) == _nonblank_lines(raw)
            assert np.isfinite(frame[["x", "y", "w", "h", "score"]].to_numpy(float)).all()
            assert set(frame["label"]) <= set(NAMES)

        run()


# ---------------------------------------------------------------------- data.yaml
PATHS = [
    "images/train", "images", "images/train/a.png", "train.txt", "data.yaml", "missing",
    "../ds/images/train", "../images/train", "", ".", "..", "labels/train", "labels/train/a.txt",
]  # fmt: skip
safe_text = st.text(
    alphabet=st.sampled_from(list("abcxyz019._- ") + ["\x00", "é", "中", "\u2028"]), max_size=8
)
scalar = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**20), 10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    safe_text,
    st.sampled_from(PATHS),
)
value = st.recursive(
    scalar,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(st.integers(-2, 5), safe_text), inner, max_size=4),
    ),
    max_leaves=8,
)
KEYS = ["path", "train", "val", "test", "names", "nc", "kpt_shape", "nbdiag_ids", "nbdiag"]


@st.composite
def data_yaml(draw) -> str:
    choice = draw(st.integers(0, 9))
    if choice == 0:  # arbitrary text: mostly not a mapping, sometimes not YAML at all
        return draw(st.text(max_size=60))
    data = {}
    if draw(st.booleans()):  # usually a plausible base to mutate
        data = {"train": "images/train", "names": ["a", "b", "c"]}
    for key in draw(st.lists(st.sampled_from(KEYS), max_size=4)):
        data[key] = draw(
            st.one_of(
                value,
                st.sampled_from(PATHS),
                st.lists(st.sampled_from(PATHS), max_size=3),
                st.dictionaries(st.integers(0, 4), safe_text, max_size=4),
                st.fixed_dictionaries({"splits": st.lists(st.sampled_from(KEYS), max_size=3)}),
            )
        )
    text = yaml.safe_dump(data, allow_unicode=True)
    if draw(st.integers(0, 4)) == 0:  # corrupt it a little
        k = draw(st.integers(0, len(text)))
        text = (
            text[:k]
            + draw(st.sampled_from([":", "[", "- ", "\t", "{", "'", "!!python/object "]))
            + text[k:]
        )
    return text


def test_fuzzed_data_yaml_loads_or_raises_valueerror_naming_it():
    with tempfile.TemporaryDirectory() as tmp:
        root = _dataset(Path(tmp))
        conf = root / "data.yaml"

        @settings(FUZZ, max_examples=500)
        @given(text=data_yaml(), bom=st.booleans())
        def run(text: str, bom: bool) -> None:
            conf.write_bytes(
                (b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8", "surrogatepass")
            )
            try:
                parsed = read_yolo(conf)
            except ValueError as exc:
                assert str(conf) in str(exc)
                return
            assert all(kind in KINDS for _, kind, _ in parsed.problems)
            images = parsed.images()
            assert len(images) >= 1 and images["id"].is_unique
            boxes = parsed.boxes()
            if len(boxes):
                assert np.isfinite(boxes[["x", "y", "w", "h"]].to_numpy(float)).all()
            assert all(isinstance(n, str) for n in parsed.class_names)
            fine = images["issues"] == ""
            assert not images.loc[fine, "width"].isna().any()

        run()
