"""A small detection dataset for the ImageGrid browser tests: scikit-learn digits pasted onto
canvases with Pillow, with known ground-truth boxes, predictions (slightly shifted, scored),
false positives, misses, and one corrupt file. Everything the tests assert is computed here
from the placements, independently of nbdiag."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

W, H = 160, 120
DIGIT = 32  # 8x8 digits enlarged 4x
CLASSES = [str(i) for i in range(10)]
TINTS = [(255, 230, 200), (200, 230, 255), (220, 255, 210)]


@dataclass
class GridData:
    root: Path
    samples: pd.DataFrame  # id, path
    gt: pd.DataFrame  # object_id, sample_id, label, x, y, w, h
    preds: pd.DataFrame  # object_id, sample_id, label, x, y, w, h, score, kind ("tp" / "fp")
    corrupt: str  # id of the unreadable image

    def notebook_code(self, grid_args: str = 'run="det"') -> str:
        return f"""import pandas as pd
import nbdiag
root = {str(self.root)!r}
samples = pd.read_csv(root + "/samples.csv")
gt = pd.read_csv(root + "/gt.csv")
preds = pd.read_csv(root + "/preds.csv").drop(columns=["kind"])
ds = nbdiag.Dataset.from_dataframe(samples, gt, class_names={CLASSES!r}, name="digits")
ds.add_run("det", preds)
grid = nbdiag.ImageGrid(ds, {grid_args})"""

    def matched_score(self) -> dict[str, float]:
        """GT object id -> score of the prediction matching it (TP pairs)."""
        tp = self.preds[self.preds["kind"] == "tp"]
        return dict(zip(tp["gt_id"], tp["score"], strict=True))


def build(root: Path, n: int = 60, seed: int = 3, corrupt_index: int = 3) -> GridData:
    """Write ``n`` PNGs (160x120) with 1-3 digits each into ``root``; image ``corrupt_index`` is
    garbage bytes (and has no boxes)."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    samples, gt, preds = [], [], []
    for i in range(n):
        sid = f"img{i:03d}"
        path = root / f"{sid}.png"
        samples.append({"id": sid, "path": str(path)})
        if i == corrupt_index:
            path.write_bytes(b"this is not a PNG file" * 20)
            continue
        canvas = np.full((H, W, 3), 24, dtype=np.uint8)
        for j in range(1 + i % 3):
            d = int(rng.integers(len(digits.images)))
            cls = str(int(digits.target[d]))
            x = 6 + 52 * j + int(rng.integers(0, 8))
            y = 4 + int(
                rng.integers(0, 46)
            )  # digits stay above y = 82: the FP strip below is empty
            patch = np.kron(digits.images[d] / 16.0, np.ones((4, 4)))
            tint = np.array(TINTS[j % 3], dtype=float)
            canvas[y : y + DIGIT, x : x + DIGIT] = np.maximum(
                canvas[y : y + DIGIT, x : x + DIGIT], (patch[..., None] * tint).astype(np.uint8)
            )
            gid = f"g{i:03d}_{j}"
            gt.append(
                {
                    "object_id": gid,
                    "sample_id": sid,
                    "label": cls,
                    "x": x,
                    "y": y,
                    "w": DIGIT,
                    "h": DIGIT,
                }
            )
            if i % 7 == 0 and j == 0:
                continue  # missed: a false negative
            dx, dy = int(rng.integers(-2, 3)), int(rng.integers(-2, 3))
            preds.append(
                {
                    "object_id": f"p{i:03d}_{j}",
                    "sample_id": sid,
                    "label": cls,
                    "x": x + dx,
                    "y": max(0, y + dy),
                    "w": DIGIT,
                    "h": DIGIT,
                    "score": round(float(rng.uniform(0.3, 0.99)), 3),
                    "kind": "tp",
                    "gt_id": gid,
                }
            )
        if i % 4 == 1:  # a false positive in the empty strip at the bottom
            preds.append(
                {
                    "object_id": f"p{i:03d}_fp",
                    "sample_id": sid,
                    "label": CLASSES[int(rng.integers(10))],
                    "x": 10 + int(rng.integers(0, 100)),
                    "y": 90,
                    "w": 24,
                    "h": 24,
                    "score": round(float(rng.uniform(0.05, 0.6)), 3),
                    "kind": "fp",
                    "gt_id": None,
                }
            )
        Image.fromarray(canvas).save(path)
    out = GridData(
        root,
        pd.DataFrame(samples),
        pd.DataFrame(gt),
        pd.DataFrame(preds),
        f"img{corrupt_index:03d}",
    )
    out.samples.to_csv(root / "samples.csv", index=False)
    out.gt.to_csv(root / "gt.csv", index=False)
    out.preds.drop(columns=["gt_id"]).to_csv(root / "preds.csv", index=False)
    return out


def fit(sw: float, sh: float, box: float) -> tuple[float, float, float]:
    """(scale, dx, dy) of a ``sw x sh`` image contained in a ``box x box`` square, centred."""
    s = min(box / sw, box / sh)
    return s, (box - sw * s) / 2, (box - sh * s) / 2
