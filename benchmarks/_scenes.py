"""Generated detection scenes and a tiny CenterNet-style detector trained on them on the CPU.

Used by ``bench_detection_label_issues``. Nothing is downloaded: scenes are drawn with numpy
and the detector is trained from scratch in about a minute on one CPU thread.

- **Scenes** (:func:`make_scenes`): ``size`` x ``size`` RGB images (default 64) on a textured
  background (a smooth random colour field plus pixel noise), holding 1 to ``max_objects``
  shapes of four classes -- ``circle`` (ellipse), ``square`` (rectangle), ``triangle``,
  ``cross`` -- of random colour, 10 to 26 px, aspect 0.7 to 1.4, overlapping each other at
  IoU <= 0.1. The ground-truth box is the tight box of the drawn mask.
- **Detector** (:class:`TinyCenterNet`): a 6-conv backbone at stride 4, a per-class centre
  heatmap (focal loss, Gaussian targets), a size head and a sub-cell offset head (L1), decoded
  by 3 x 3 peak picking, as in CenterNet (Zhou et al., 2019). :func:`train_detector` and
  :func:`predict` return boxes in the ``x, y, w, h`` pixel convention of nbdiag.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pandas as pd

CLASSES = ("circle", "square", "triangle", "cross")
STRIDE = 4


def _background(rng: np.random.Generator, size: int) -> np.ndarray:
    coarse = rng.uniform(0, 255, (4, 4, 3))
    # bilinear upsampling of a 4 x 4 colour grid: a smooth texture
    t = np.linspace(0, 3, size)
    i0 = np.minimum(t.astype(int), 2)
    f = (t - i0)[:, None]
    rows = coarse[i0] * (1 - f[..., None]) + coarse[i0 + 1] * f[..., None]
    img = rows[:, i0] * (1 - f[None, :, :]) + rows[:, i0 + 1] * f[None, :, :]
    img = 0.55 * img + 0.45 * rng.uniform(60, 200, 3)
    return img + rng.normal(0, 12, (size, size, 3))


def _mask(kind: str, yy: np.ndarray, xx: np.ndarray, box: tuple[float, ...]) -> np.ndarray:
    x, y, w, h = box
    u = (xx + 0.5 - x) / w  # 0..1 inside the box
    v = (yy + 0.5 - y) / h
    inside = (u >= 0) & (u < 1) & (v >= 0) & (v < 1)
    if kind == "circle":
        return (u - 0.5) ** 2 + (v - 0.5) ** 2 <= 0.25
    if kind == "square":
        return inside
    if kind == "triangle":  # apex at the top centre
        return inside & (np.abs(u - 0.5) <= 0.5 * v)
    bar = 1 / 3  # cross: two bars a third as thick as the box
    return inside & ((np.abs(u - 0.5) <= bar / 2) | (np.abs(v - 0.5) <= bar / 2))


def _iou1(a: np.ndarray, b: np.ndarray) -> float:
    ix = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = ix * iy
    return inter / (a[2] * a[3] + b[2] * b[3] - inter)


def make_scenes(
    n: int, seed: int, *, size: int = 64, max_objects: int = 4, prefix: str = "img"
) -> tuple[np.ndarray, pd.DataFrame]:
    """``n`` seeded scenes: images ``(n, size, size, 3)`` uint8 and their boxes (one row per
    object: ``sample_id``, ``label``, ``x``, ``y``, ``w``, ``h``; object ids as index)."""
    rng = np.random.default_rng(seed)
    images = np.empty((n, size, size, 3), dtype=np.uint8)
    yy, xx = np.mgrid[0:size, 0:size]
    rows: list[dict[str, Any]] = []
    for i in range(n):
        img = _background(rng, size)
        placed: list[np.ndarray] = []
        for _ in range(int(rng.integers(1, max_objects + 1))):
            for _attempt in range(20):
                s = rng.uniform(10, 26)
                a = np.exp(rng.uniform(np.log(0.7), np.log(1.4)))
                w, h = s * np.sqrt(a), s / np.sqrt(a)
                if w > size - 2 or h > size - 2:
                    continue
                x, y = rng.uniform(1, size - 1 - w), rng.uniform(1, size - 1 - h)
                cand = np.array([x, y, w, h])
                if all(_iou1(cand, p) <= 0.1 for p in placed):
                    break
            else:
                continue
            kind = CLASSES[int(rng.integers(len(CLASSES)))]
            m = _mask(kind, yy, xx, (x, y, w, h))
            if m.sum() < 12:
                continue
            colour = rng.uniform(0, 255, 3)
            bg = img[m].mean(axis=0)
            if np.abs(colour - bg).sum() < 150:  # keep the shape visible
                colour = 255 - bg
            img[m] = colour + rng.normal(0, 8, (int(m.sum()), 3))
            ys, xs = np.nonzero(m)
            box = np.array([xs.min(), ys.min(), xs.max() + 1 - xs.min(), ys.max() + 1 - ys.min()])
            placed.append(box.astype(float))
            rows.append(
                dict(
                    sample_id=f"{prefix}{i}",
                    label=kind,
                    x=float(box[0]),
                    y=float(box[1]),
                    w=float(box[2]),
                    h=float(box[3]),
                )
            )
        images[i] = np.clip(img, 0, 255).astype(np.uint8)
    boxes = pd.DataFrame(rows)
    boxes.index = pd.Index([f"{prefix}_gt{j}" for j in range(len(boxes))], name="object_id")
    return images, boxes


def _torch() -> Any:
    import torch

    return torch


def _build_model(n_classes: int) -> Any:
    torch = _torch()
    nn = torch.nn

    def block(cin: int, cout: int, stride: int = 1, dilation: int = 1) -> list[Any]:
        return [
            nn.Conv2d(cin, cout, 3, stride, padding=dilation, dilation=dilation, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU(inplace=True),
        ]

    class TinyCenterNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.body = nn.Sequential(
                *block(3, 16),
                *block(16, 24, stride=2),
                *block(24, 32),
                *block(32, 48, stride=2),
                *block(48, 48, dilation=2),
                *block(48, 48, dilation=4),
                *block(48, 48),
            )
            self.heat = nn.Conv2d(48, n_classes, 1)
            self.reg = nn.Conv2d(48, 4, 1)  # log w, log h (in cells), dx, dy
            nn.init.constant_(self.heat.bias, -2.19)  # prior 0.1

        def forward(self, x: Any) -> tuple[Any, Any]:
            f = self.body(x)
            return self.heat(f), self.reg(f)

    return TinyCenterNet()


def _targets(boxes: pd.DataFrame, ids: list[str], size: int) -> tuple[np.ndarray, ...]:
    g = size // STRIDE
    k = len(CLASSES)
    heat = np.zeros((len(ids), k, g, g), dtype=np.float32)
    reg = np.zeros((len(ids), 4, g, g), dtype=np.float32)
    mask = np.zeros((len(ids), g, g), dtype=np.float32)
    pos = {s: i for i, s in enumerate(ids)}
    yy, xx = np.mgrid[0:g, 0:g]
    for b in boxes.itertuples():
        i = pos[b.sample_id]
        c = CLASSES.index(b.label)
        cx, cy = (b.x + b.w / 2) / STRIDE, (b.y + b.h / 2) / STRIDE
        ix, iy = min(int(cx), g - 1), min(int(cy), g - 1)
        sigma = max(0.5, min(b.w, b.h) / STRIDE / 6)
        gauss = np.exp(-((xx - ix) ** 2 + (yy - iy) ** 2) / (2 * sigma**2))
        heat[i, c] = np.maximum(heat[i, c], gauss)
        reg[i, :, iy, ix] = (np.log(b.w / STRIDE), np.log(b.h / STRIDE), cx - ix, cy - iy)
        mask[i, iy, ix] = 1.0
    return heat, reg, mask


def _as_input(images: np.ndarray) -> Any:
    torch = _torch()
    x = torch.from_numpy(images).permute(0, 3, 1, 2).float()
    return (x - 127.5) / 64.0


def train_detector(
    images: np.ndarray,
    boxes: pd.DataFrame,
    sample_ids: list[str],
    *,
    epochs: int = 14,
    batch_size: int = 32,
    seed: int = 0,
    threads: int = 1,
    log: bool = True,
) -> Any:
    """Train :class:`TinyCenterNet` on ``images`` (ids ``sample_ids``) and their boxes
    (``make_scenes`` output)."""
    torch = _torch()
    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    n, size = len(images), images.shape[1]
    ids = list(sample_ids)
    heat, reg, mask = (torch.from_numpy(a) for a in _targets(boxes, ids, size))
    x_all = _as_input(images)
    model = _build_model(len(CLASSES))
    steps = epochs * int(np.ceil(n / batch_size))
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=steps)
    gen = torch.Generator().manual_seed(seed)
    t0 = time.perf_counter()
    model.train()
    for epoch in range(epochs):
        perm = torch.randperm(n, generator=gen)
        total = 0.0
        for s in range(0, n, batch_size):
            idx = perm[s : s + batch_size]
            xb = x_all[idx]
            if torch.rand(1, generator=gen).item() < 0.5:  # horizontal flip
                xb, hb, rb, mb = (
                    xb.flip(-1),
                    heat[idx].flip(-1),
                    reg[idx].flip(-1).clone(),
                    mask[idx].flip(-1),
                )
                rb[:, 2] = torch.where(mb > 0, 1 - rb[:, 2], rb[:, 2])
            else:
                hb, rb, mb = heat[idx], reg[idx], mask[idx]
            h_logit, r_out = model(xb)
            loss = _focal(h_logit, hb) + _reg_loss(r_out, rb, mb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss.detach()) * len(idx)
        if log:
            print(
                f"  epoch {epoch + 1}/{epochs}: loss {total / n:.3f} "
                f"({time.perf_counter() - t0:.0f} s)",
                flush=True,
            )
    model.eval()
    return model


def _focal(logit: Any, target: Any) -> Any:
    torch = _torch()
    p = torch.sigmoid(logit).clamp(1e-4, 1 - 1e-4)
    pos = target.eq(1).float()
    neg = 1 - pos
    pos_loss = torch.log(p) * (1 - p) ** 2 * pos
    neg_loss = torch.log(1 - p) * p**2 * (1 - target) ** 4 * neg
    n_pos = pos.sum().clamp(min=1)
    return -(pos_loss.sum() + neg_loss.sum()) / n_pos


def _reg_loss(out: Any, target: Any, mask: Any) -> Any:
    m = mask.unsqueeze(1)
    return ((out - target).abs() * m).sum() / (m.sum().clamp(min=1) * 4) * 2.0


def predict(
    model: Any,
    images: np.ndarray,
    sample_ids: list[str],
    *,
    top_k: int = 20,
    min_score: float = 0.05,
) -> pd.DataFrame:
    """Detections of ``model`` on ``images``: ``sample_id``, ``label``, ``score``, ``x``,
    ``y``, ``w``, ``h``, clipped to the image, at most ``top_k`` per image."""
    torch = _torch()
    size = images.shape[1]
    out: list[pd.DataFrame] = []
    with torch.no_grad():
        for s in range(0, len(images), 256):
            h_logit, reg = model(_as_input(images[s : s + 256]))
            heat = torch.sigmoid(h_logit)
            peak = torch.nn.functional.max_pool2d(heat, 3, 1, 1)
            heat = heat * (peak == heat).float()
            b, k, g, _ = heat.shape
            scores, flat = heat.reshape(b, -1).topk(top_k)
            cls = (flat // (g * g)).numpy()
            cell = (flat % (g * g)).numpy()
            iy, ix = cell // g, cell % g
            r = reg.numpy()
            bi = np.repeat(np.arange(b)[:, None], top_k, axis=1)
            w = np.exp(r[bi, 0, iy, ix]) * STRIDE
            h = np.exp(r[bi, 1, iy, ix]) * STRIDE
            cx = (ix + r[bi, 2, iy, ix]) * STRIDE
            cy = (iy + r[bi, 3, iy, ix]) * STRIDE
            x0 = np.clip(cx - w / 2, 0, size)
            y0 = np.clip(cy - h / 2, 0, size)
            x1 = np.clip(cx + w / 2, 0, size)
            y1 = np.clip(cy + h / 2, 0, size)
            sc = scores.numpy()
            keep = (sc >= min_score) & (x1 - x0 > 1) & (y1 - y0 > 1)
            out.append(
                pd.DataFrame(
                    {
                        "sample_id": np.asarray(sample_ids[s : s + b])[bi[keep]],
                        "label": np.asarray(CLASSES)[cls[keep]],
                        "score": sc[keep].astype(float),
                        "x": x0[keep],
                        "y": y0[keep],
                        "w": (x1 - x0)[keep],
                        "h": (y1 - y0)[keep],
                    }
                )
            )
    preds = pd.concat(out, ignore_index=True)
    preds.index = pd.Index([f"pred{j}" for j in range(len(preds))], name="object_id")
    return preds
