"""HTML pieces of the report: styles, tables, thumbnails as data URIs."""

from __future__ import annotations

import base64
import html
import io
import math
from collections.abc import Hashable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from ..core import DatasetCore

CSS = """
:host { display: block; font-family: -apple-system, BlinkMacSystemFont, "Segoe UI", Roboto,
        Helvetica, Arial, sans-serif; font-size: 13px; color: #1f2328; }
h1 { font-size: 22px; margin: 8px 0 2px 0; }
h2 { font-size: 17px; margin: 22px 0 6px 0; padding-bottom: 3px; border-bottom: 1px solid #d0d7de; }
h3 { font-size: 14px; margin: 12px 0 4px 0; }
p { margin: 4px 0; }
.muted { color: #59636e; }
.note { background: #fff8c5; border: 1px solid #d4a72c66; padding: 6px 10px; border-radius: 6px;
        margin: 6px 0; }
table.t { border-collapse: collapse; margin: 4px 0 8px 0; }
table.t th, table.t td { border-bottom: 1px solid #e5e8eb; padding: 3px 8px; text-align: left;
                         vertical-align: top; }
table.t td.n { text-align: right; font-variant-numeric: tabular-nums; }
table.t thead th { background: #f6f8fa; }
.pos { color: #1a7f37; } .neg { color: #cf222e; }
.grid { display: flex; flex-wrap: wrap; gap: 10px; }
.card { width: 150px; border: 1px solid #d0d7de; border-radius: 6px; padding: 4px;
        font-size: 11px; overflow-wrap: anywhere; }
.card img { display: block; max-width: 140px; max-height: 140px; margin: 0 auto 3px auto;
            image-rendering: pixelated; }
.card .missing { height: 60px; background: #f6f8fa; color: #59636e; text-align: center;
                 line-height: 60px; }
"""


def esc(value: Any) -> str:
    return html.escape(str(value))


def fmt(value: Any, digits: int = 4) -> str:
    """A cell value as text: floats rounded, missing values empty."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if value != 0 and (abs(value) >= 1e5 or abs(value) < 1e-3):
            return f"{value:.3g}"
        if abs(value) >= 1:
            return f"{value:.{digits}g}"
        return f"{value:.{digits}f}".rstrip("0").rstrip(".") or "0"
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m-%d %H:%M")
    return str(value)


def _numeric(value: Any) -> bool:
    return isinstance(value, (int, float, np.number)) and not isinstance(value, (bool, np.bool_))


def table(
    frame: pd.DataFrame,
    *,
    index: bool = True,
    max_rows: int = 30,
    signed: Sequence[str] = (),
    lower_is_better: Sequence[Any] = (),
    digits: int = 4,
) -> str:
    """A DataFrame as a compact HTML table. ``signed`` columns show a sign and are green when
    better (positive, or negative in the rows named in ``lower_is_better``), red when worse."""
    shown = frame.head(max_rows)
    head = ([esc(frame.index.name or "")] if index else []) + [esc(c) for c in shown.columns]
    rows = []
    for idx, r in shown.iterrows():
        cells = [f"<th>{esc(fmt(idx))}</th>"] if index else []
        for col, val in r.items():
            text = esc(fmt(val, digits))
            cls = "n" if _numeric(val) else ""
            if col in signed and _numeric(val) and not pd.isna(val) and val != 0:
                better = (val > 0) != (idx in lower_is_better)
                cls += " pos" if better else " neg"
                text = ("+" if val > 0 else "") + text
            cells.append(f"<td class='{cls.strip()}'>{text}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    more = (
        f"<p class='muted'>{len(frame) - max_rows} more rows not shown</p>"
        if len(frame) > max_rows
        else ""
    )
    return (
        "<table class='t'><thead><tr>"
        + "".join(f"<th>{h}</th>" for h in head)
        + "</tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table>"
        + more
    )


def key_values(items: dict[str, Any]) -> str:
    rows = "".join(
        f"<tr><th>{esc(k)}</th><td class='{'n' if _numeric(v) else ''}'>{esc(fmt(v))}</td></tr>"
        for k, v in items.items()
    )
    return f"<table class='t'>{rows}</table>"


def note(text: str) -> str:
    return f"<div class='note'>{esc(text)}</div>"


# ---------------------------------------------------------------------- thumbnails
def thumbnail_uri(
    ds: DatasetCore,
    sample_id: Hashable,
    size: int = 128,
    boxes: Sequence[tuple[Any, ...]] = (),
) -> str | None:
    """The sample's image, shrunk to ``size`` px (longer side), with ``boxes`` drawn
    (``x, y, w, h, color`` in image pixels, optionally a sixth item: the object's mask as COCO
    counts, drawn as a translucent fill with an outline), as a ``data:image/png`` URI; None if
    unreadable."""
    from PIL import ImageDraw

    try:
        img = ds.image(sample_id).convert("RGB")
    except Exception:
        return None
    w, h = img.size
    masks = [(b[5], b[4]) for b in boxes if len(b) > 5 and isinstance(b[5], str)]
    scale = size / max(w, h, 1)
    if scale < 1:
        img = img.resize((max(1, round(w * scale)), max(1, round(h * scale))))
    elif scale > 1:  # tiny images (digits): enlarge without smoothing, so pixels stay visible
        factor = max(1, int(scale))
        img = img.resize((w * factor, h * factor), resample=0)
        scale = factor
    if masks:
        img = _draw_masks(img, masks, h, w)
    if boxes:
        draw = ImageDraw.Draw(img)
        for x, y, bw, bh, color, *_ in boxes:
            draw.rectangle(
                [x * scale, y * scale, (x + bw) * scale, (y + bh) * scale], outline=color, width=2
            )
    buf = io.BytesIO()
    img.save(buf, format="PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _draw_masks(img: Any, masks: Sequence[tuple[str, str]], h: int, w: int) -> Any:
    """``img`` (already resized) with each mask (counts over the ``h`` × ``w`` original) filled
    translucent and outlined in its colour."""
    from PIL import Image, ImageColor, ImageFilter

    from ..core.masks import decode

    base = img.convert("RGBA")
    for counts, color in masks:
        try:
            full = decode(counts, h, w)
        except Exception:  # a mask that does not fit its image is not drawn
            continue
        m = Image.fromarray(full.astype(np.uint8) * 255).resize(base.size, resample=0)
        inner = m.filter(ImageFilter.MinFilter(3))
        edge = Image.fromarray(((np.asarray(m) > 0) & (np.asarray(inner) == 0)).astype(np.uint8))
        alpha = np.where(np.asarray(edge) > 0, 255, np.where(np.asarray(m) > 0, 110, 0))
        rgb = ImageColor.getrgb(color)[:3]
        layer = Image.new("RGBA", base.size, rgb + (0,))
        layer.putalpha(Image.fromarray(alpha.astype(np.uint8)))
        base = Image.alpha_composite(base, layer)
    return base.convert("RGB")


def card(uri: str | None, lines: Sequence[str]) -> str:
    pic = f"<img src='{uri}' alt=''>" if uri else "<div class='missing'>image unavailable</div>"
    return f"<div class='card'>{pic}" + "<br>".join(esc(t) for t in lines) + "</div>"
