"""Label Studio results as pixel boxes: percent coordinates, rotated rectangles, polygons, and
the checks that find a result unusable (a :class:`Bad` naming the problem's kind)."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

#: percent coordinates may leave 0..100 by this much (Label Studio's float noise)
PERCENT_TOLERANCE = 0.01
_BOX_TYPES = {
    "rectanglelabels": "rectanglelabels",
    "rectangle": "rectanglelabels",
    "polygonlabels": "polygonlabels",
    "polygon": "polygonlabels",
}


class Bad(Exception):
    """A result that cannot be read: ``kind`` (a problem kind) and the reason."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


def read_result(res: Any, fallback: Callable[[], tuple[float, float] | None]) -> tuple[str, Any]:
    """``("box", row)``, ``("choice", name)`` or ``("skip", None)``; :class:`Bad` if unusable."""
    if not isinstance(res, Mapping):
        raise Bad("malformed_annotation", f"a {type(res).__name__}, not an object")
    rtype = res.get("type")
    if rtype == "relation":
        return "skip", None
    value = res.get("value")
    if not isinstance(value, Mapping):
        raise Bad("malformed_annotation", "no 'value' object")
    if rtype == "choices":
        return "choice", _one_name(value, "choices")
    if not isinstance(rtype, str) or rtype not in _BOX_TYPES:
        raise Bad("malformed_annotation", f"unsupported result type {rtype!r}")
    turned = res.get("image_rotation", 0)
    turned = 0.0 if turned is None else number(turned)
    if turned is None or turned % 360:
        raise Bad(
            "malformed_annotation",
            f"image rotated by {res.get('image_rotation')!r} "
            "degrees in Label Studio (not supported)",
        )
    size = original_size(res) or fallback()
    if size is None:
        raise Bad(
            "malformed_annotation",
            "no original_width/original_height, and no readable "
            "local image, to turn percent into pixels",
        )
    label = _one_name(value, _BOX_TYPES[rtype])
    if _BOX_TYPES[rtype] == "rectanglelabels":
        row = _rectangle(value, *size)
    else:
        row = _polygon(value, *size)
    row["label"] = label
    return "box", row


def _rectangle(value: Mapping[str, Any], width: float, height: float) -> dict[str, Any]:
    x, y, w, h = (_percent(value, k) for k in ("x", "y", "width", "height"))
    rot = value.get("rotation", 0)
    rot = 0.0 if rot is None else number(rot)
    if rot is None:
        raise Bad("malformed_annotation", f"non-numeric rotation {value.get('rotation')!r}")
    if w < 0 or h < 0:
        raise Bad("invalid_box", f"negative size width={w:g}% height={h:g}%")
    px, py, pw, ph = x * width / 100, y * height / 100, w * width / 100, h * height / 100
    if rot % 360 == 0:
        tol = PERCENT_TOLERANCE
        if min(x, y) < -tol or x + w > 100 + tol or y + h > 100 + tol:
            raise Bad(
                "invalid_box",
                f"x={x:g}% y={y:g}% width={w:g}% height={h:g}% leaves the image (0..100%)",
            )
        return {"x": px, "y": py, "w": pw, "h": ph}
    c, s = math.cos(math.radians(rot)), math.sin(math.radians(rot))
    xs = (px, px + pw * c, px - ph * s, px + pw * c - ph * s)
    ys = (py, py + pw * s, py + ph * c, py + pw * s + ph * c)
    x0, y0 = min(xs), min(ys)
    return {"x": x0, "y": y0, "w": max(xs) - x0, "h": max(ys) - y0, "rotation": rot}


def _polygon(value: Mapping[str, Any], width: float, height: float) -> dict[str, Any]:
    points = value.get("points")
    if not isinstance(points, list) or not points:
        raise Bad("malformed_annotation", "no 'points' list")
    flat: list[float] = []
    for p in points:
        xy = [number(c) for c in p] if isinstance(p, list) and len(p) == 2 else None
        if xy is None or None in xy:
            raise Bad("malformed_annotation", f"point {p!r} is not [x, y] numbers")
        lo, hi = min(xy), max(xy)  # type: ignore[type-var]
        if lo < -PERCENT_TOLERANCE or hi > 100 + PERCENT_TOLERANCE:
            raise Bad("invalid_box", f"point {p!r} leaves the image (0..100%)")
        flat += [xy[0] * width / 100, xy[1] * height / 100]  # type: ignore[operator]
    xs, ys = flat[0::2], flat[1::2]
    x0, y0 = min(xs), min(ys)
    return {"x": x0, "y": y0, "w": max(xs) - x0, "h": max(ys) - y0, "segmentation": [flat]}


def _one_name(value: Mapping[str, Any], key: str) -> str:
    names = value.get(key, value.get("labels"))
    if not isinstance(names, list) or not names:
        raise Bad("malformed_annotation", f"no class in value.{key}")
    if len(names) > 1:
        raise Bad("malformed_annotation", f"{len(names)} classes {names!r}, expected one")
    if not isinstance(names[0], str) or not names[0]:
        raise Bad("malformed_annotation", f"class {names[0]!r} is not a name")
    return names[0]


def _percent(value: Mapping[str, Any], key: str) -> float:
    if key not in value:
        raise Bad("malformed_annotation", f"value has no {key!r}")
    x = number(value[key])
    if x is None:
        raise Bad("malformed_annotation", f"value.{key} = {value[key]!r} is not a number")
    return x


def number(x: Any) -> float | None:
    """A finite float from a JSON number (never from a bool or a string)."""
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        return None
    try:
        f = float(x)
    except OverflowError:
        return None
    return f if math.isfinite(f) else None


def original_size(res: Mapping[str, Any]) -> tuple[float, float] | None:
    w, h = number(res.get("original_width")), number(res.get("original_height"))
    return (w, h) if w is not None and h is not None and w > 0 and h > 0 else None
