"""Masks in the HTML report's thumbnails: an object's mask is filled translucent and outlined in
its card's colour, pixel-exactly where pycocotools decodes it (enlarged by the thumbnail's
nearest-neighbour factor); a mask-less card is unchanged."""

from __future__ import annotations

import base64
import io
import re
import warnings

import numpy as np
import pandas as pd
import pycocotools.mask as cm
from PIL import Image

import nbdiag
from nbdiag.report import write_report
from nbdiag.report._html import thumbnail_uri

H, W, GRAY, RED = 40, 60, 128, (255, 59, 48)  # RED: "#ff3b30", the report's card colour
FILL = 110 / 255


def ellipse() -> np.ndarray:
    yy, xx = np.mgrid[:H, :W]
    return ((xx - 30) / 14) ** 2 + ((yy - 20) / 9) ** 2 <= 1


def counts(m: np.ndarray) -> str:
    return cm.encode(np.asfortranarray(m.astype(np.uint8)))["counts"].decode()


def image_of(uri: str) -> np.ndarray:
    data = base64.b64decode(uri.split(",", 1)[1])
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB")).astype(int)


def dataset(tmp_path) -> nbdiag.Dataset:
    p = tmp_path / "a.png"
    Image.fromarray(np.full((H, W, 3), GRAY, np.uint8)).save(p)
    m = ellipse()
    ys, xs = np.nonzero(m)
    gt = pd.DataFrame(
        {
            "object_id": ["o1"],
            "sample_id": ["a"],
            "label": ["car"],
            "x": [float(xs.min())],
            "y": [float(ys.min())],
            "w": [float(np.ptp(xs) + 1)],
            "h": [float(np.ptp(ys) + 1)],
            "mask": [counts(m)],
        }
    )
    return nbdiag.Dataset.from_dataframe(pd.DataFrame({"id": ["a"], "path": [str(p)]}), gt)


def test_thumbnail_fills_and_outlines_the_mask_where_pycocotools_puts_it(tmp_path):
    ds = dataset(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        m = cm.decode({"size": [H, W], "counts": ds.objects.at["o1", "mask"].encode()}) > 0
    uri = thumbnail_uri(ds, "a", 120, [(0, 0, 0, 0, "#ff3b30", ds.objects.at["o1", "mask"])])
    img = image_of(uri)
    assert img.shape == (2 * H, 2 * W, 3)  # enlarged x2 without smoothing
    big = np.kron(m, np.ones((2, 2), bool))
    eroded = big.copy()
    eroded[1:-1, 1:-1] = (
        big[1:-1, 1:-1] & big[:-2, 1:-1] & big[2:, 1:-1] & big[1:-1, :-2] & big[1:-1, 2:]
        & big[:-2, :-2] & big[:-2, 2:] & big[2:, :-2] & big[2:, 2:]
    )  # fmt: skip
    edge = big & ~eroded
    fill = big & eroded
    want_fill = np.round(GRAY * (1 - FILL) + np.array(RED) * FILL)
    assert np.all(np.abs(img[fill] - want_fill) <= 1)
    assert np.all(img[edge] == RED)
    outside = ~big
    outside[:3, :3] = False  # the zero-size box's dot at the origin
    assert np.all(img[outside] == GRAY)
    assert fill.sum() > 500 and edge.sum() > 50
    # no mask: the image as it was (the box of size 0 draws a dot; give none)
    plain = image_of(thumbnail_uri(ds, "a", 120, [(0, 0, 0, 0, "#ff3b30", None)]))
    assert not np.any(np.all(plain == RED, axis=-1)[5:, 5:])


def test_report_cards_of_tagged_objects_show_their_masks(tmp_path):
    ds = dataset(tmp_path)
    ds.tag(["o1"], "label_error")
    out = write_report(ds, tmp_path / "r.html", sections=["label_errors"])
    html = out.read_text() if hasattr(out, "read_text") else (tmp_path / "r.html").read_text()
    uris = re.findall(r"src='(data:image/png;base64,[^']+)'", html)
    assert len(uris) == 1
    img = image_of(uris[0])
    scale = img.shape[1] / W
    # the ellipse's centre, inside the box: blended towards red (the box alone leaves it gray)
    cy, cx = int(20 * scale), int(30 * scale)
    want = np.round(GRAY * (1 - FILL) + np.array(RED) * FILL)
    assert np.all(np.abs(img[cy, cx] - want) <= 1), img[cy, cx]
