"""Fuzzing the Hugging Face objects reader: malformed ``objects`` rows and box values.

The row parser (``parse_objects``, Arrow compute over a whole column) is checked against a
plain-Python reading of the documented rules, row by row, on generated columns in both layouts
(a dict of lists per row, a list of dicts per row); ``read_hf`` on small real
``datasets.Dataset`` objects must either succeed with problems of the documented kinds naming
their row, or raise ValueError.
"""

from __future__ import annotations

import math
import warnings

import datasets
import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nbdiag.io.formats._hf_objects import parse_objects
from nbdiag.io.formats._parsed import PROBLEM_KINDS, to_dataset
from nbdiag.io.formats.hf import read_hf

NAMES = ["cat", "dog", "bird"]
FORMATS = ["coco", "xyxy", "cxcywh", "yolo"]

coordinate = st.one_of(
    st.floats(-50, 200, allow_nan=False, width=32),
    st.sampled_from([math.nan, math.inf, -math.inf, 0.0, -1.0, 1e9]),
    st.none(),
)
bbox_variable = st.one_of(st.none(), st.lists(coordinate, min_size=0, max_size=6))
bbox_fixed = st.one_of(st.none(), st.lists(coordinate, min_size=4, max_size=4))
category_int = st.one_of(st.none(), st.integers(-2, len(NAMES) + 1))
category_str = st.one_of(st.none(), st.sampled_from(NAMES + ["zebra", ""]))


@st.composite
def objects_column(draw):
    """(rows, arrow type, layout, category kind, names) of a generated objects column."""
    layout = draw(st.sampled_from(["columns", "rows"]))
    fixed = draw(st.booleans())
    cat_kind = draw(st.sampled_from(["int", "str"]))
    bbox_st = bbox_fixed if fixed else bbox_variable
    cat_st = category_int if cat_kind == "int" else category_str
    bbox_t = pa.list_(pa.float64(), 4) if fixed else pa.list_(pa.float64())
    cat_t = pa.int64() if cat_kind == "int" else pa.string()
    with_area = draw(st.booleans())
    n_rows = draw(st.integers(0, 5))
    rows = []
    for _ in range(n_rows):
        if draw(st.integers(0, 9)) == 0:
            rows.append(None)
            continue
        n = draw(st.integers(0, 4))
        if layout == "columns":
            row = {
                "bbox": draw(st.one_of(st.none(), st.lists(bbox_st, min_size=n, max_size=n))),
                # mostly as many categories as boxes; sometimes not
                "category": draw(
                    st.lists(cat_st, min_size=n, max_size=n)
                    if draw(st.integers(0, 4))
                    else st.one_of(st.none(), st.lists(cat_st, max_size=5))
                ),
            }
            if with_area:
                row["area"] = draw(
                    st.one_of(st.none(), st.lists(st.floats(0, 100), min_size=0, max_size=5))
                )
        else:
            row = [
                None
                if draw(st.integers(0, 9)) == 0
                else {"bbox": draw(bbox_st), "category": draw(cat_st)}
                | ({"area": draw(st.one_of(st.none(), st.floats(0, 100)))} if with_area else {})
                for _ in range(n)
            ]
        rows.append(row)
    fields = [("bbox", pa.list_(bbox_t) if layout == "columns" else bbox_t)]
    fields.append(("category", pa.list_(cat_t) if layout == "columns" else cat_t))
    if with_area:
        fields.append(("area", pa.list_(pa.float64()) if layout == "columns" else pa.float64()))
    struct = pa.struct(fields)
    arrow_type = struct if layout == "columns" else pa.list_(struct)
    names = draw(st.sampled_from([NAMES, None])) if cat_kind == "int" else NAMES
    return rows, arrow_type, layout, names


def _oracle_box(values, fmt, w, h):
    a, b, c, d = values
    if fmt == "coco":
        return [a, b, c, d]
    if fmt == "xyxy":
        return [a, b, c - a, d - b]
    if fmt == "cxcywh":
        return [a - c / 2, b - d / 2, c, d]
    return [(a - c / 2) * w, (b - d / 2) * h, c * w, d * h]  # yolo


def _oracle_label(c, names):
    if c is None or isinstance(c, str):
        return c
    if names is None:
        return str(c)
    return names[c] if 0 <= c < len(names) else c


def oracle(rows, layout, names, fmt, width, height):
    """The documented reading, one Python row at a time: boxes and (row, kind) problems."""
    boxes, problems = [], []
    for r, value in enumerate(rows):
        if value is None:
            continue
        objs = []
        if layout == "columns":
            bb, cc = value.get("bbox"), value.get("category")
            nb, nc = len(bb or []), len(cc or [])
            if nb != nc:
                problems.append((r, "malformed_annotation"))
                continue
            area = value.get("area")
            if area is not None and nb and len(area) and len(area) != nb:
                problems.append((r, "malformed_annotation"))
            objs = [(j, bb[j], cc[j]) for j in range(nb)]
        else:
            for j, o in enumerate(value):
                if o is None:
                    problems.append((r, "malformed_annotation"))
                else:
                    objs.append((j, o["bbox"], o["category"]))
        for j, b, c in objs:
            if b is None or len(b) != 4:
                problems.append((r, "malformed_annotation"))
                continue
            vals = [math.nan if x is None else float(x) for x in b]
            if fmt == "yolo" and not (math.isfinite(width[r]) and math.isfinite(height[r])):
                problems.append((r, "invalid_box"))
                continue
            boxes.append(
                (r, j, _oracle_box(vals, fmt, width[r], height[r]), _oracle_label(c, names))
            )
    return boxes, problems


@settings(
    max_examples=1200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    column=objects_column(),
    fmt=st.sampled_from(FORMATS),
    sizes=st.lists(st.sampled_from([100.0, 37.0, math.nan]), min_size=5, max_size=5),
    chunked=st.booleans(),
)
def test_parse_objects_matches_the_documented_rules(column, fmt, sizes, chunked):
    rows, arrow_type, layout, names = column
    arr = pa.array(rows, type=arrow_type)
    if chunked and len(rows) > 1:  # several chunks, and a sliced one
        arr = pa.chunked_array([arr.slice(0, 1), arr.slice(1)], type=arrow_type)
    width = np.array(sizes[: len(rows)] or [], dtype=float)
    height = width[::-1].copy()
    got = parse_objects(
        arr,
        names=names,
        bbox_format=fmt,
        width=width,
        height=height,
        row_name=lambda r: f"row {r}",
    )
    want_boxes, want_problems = oracle(rows, layout, names, fmt, width, height)
    assert [(int(r), int(j)) for r, j in zip(got.row, got.index, strict=True)] == [
        (r, j) for r, j, _, _ in want_boxes
    ]
    want_xywh = np.array([b for _, _, b, _ in want_boxes], dtype=float).reshape(-1, 4)
    np.testing.assert_allclose(got.xywh, want_xywh, rtol=1e-9, atol=1e-9, equal_nan=True)
    assert list(got.label) == [label for _, _, _, label in want_boxes]
    assert sorted((r, kind) for r, kind, _ in got.problems) == sorted(want_problems)
    for r, kind, message in got.problems:
        assert kind in PROBLEM_KINDS
        assert message.startswith(f"row {r}")


@st.composite
def hf_rows(draw):
    """Rows of a small detection dataset (dict-of-lists objects, integer categories)."""
    n = draw(st.integers(1, 4))
    rows = []
    for _ in range(n):
        k = draw(st.integers(0, 3))
        bbox = draw(st.lists(st.lists(coordinate, min_size=0, max_size=5), min_size=k, max_size=k))
        cats = draw(st.lists(st.integers(-1, 4), min_size=k, max_size=k + draw(st.integers(0, 1))))
        rows.append({"bbox": bbox, "category": cats})
    widths = draw(st.lists(st.sampled_from([None, 50, 120]), min_size=n, max_size=n))
    return rows, widths


FEATURES = datasets.Features(
    {
        "width": datasets.Value("int64"),
        "height": datasets.Value("int64"),
        "objects": {
            "bbox": datasets.List(datasets.List(datasets.Value("float64"))),
            "category": datasets.List(datasets.Value("int64")),
        },
    }
)


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=hf_rows(), fmt=st.sampled_from(FORMATS))
def test_read_hf_records_problems_naming_the_row(data, fmt):
    rows, widths = data
    hf = datasets.Dataset.from_dict(
        {"width": widths, "height": widths, "objects": rows}, features=FEATURES
    )
    try:
        parsed = read_hf(hf, image=None, bbox_format=fmt, class_names=NAMES)
    except ValueError as exc:  # only for an unusable column, which these are not
        pytest.fail(f"read_hf raised {exc}")
    for image, kind, message in parsed.problems:
        assert kind in PROBLEM_KINDS
        assert message.startswith(f"row {image}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = to_dataset(parsed, name="fuzz", check_images=False)
    assert len(ds) == len(rows)
    kept = ds.gt_objects
    assert set(kept["label"].astype(str)) <= set(NAMES)
    coords = kept[["x", "y", "w", "h"]].to_numpy(float)
    assert np.isfinite(coords).all() and (coords[:, 2:] >= 0).all()
    problems = "; ".join(ds.samples.get("annotation_problems", []))
    for r, cats in enumerate(c["category"] for c in rows):
        if any(c not in range(len(NAMES)) for c in cats) and len(cats) == len(rows[r]["bbox"]):
            bad = [j for j, c in enumerate(cats) if c not in range(len(NAMES))]
            # an unknown class is named by row and object unless the box was dropped earlier
            assert any(f"row {r} object {j}" in problems for j in bad)
