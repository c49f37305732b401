"""Perceptual hashes (pHash, dHash) and near-duplicate search by Hamming radius.

Both hashes are 64-bit integers written as 16 hex digits.

- **pHash**: the image's luma, area-reduced to 32 x 32, is transformed with a 2-D DCT-II
  (orthonormal); the 8 x 8 lowest frequencies are kept and each bit says whether a coefficient
  is above the median of the 63 non-DC ones. Low frequencies survive resizing, re-encoding and
  mild blur; comparing with the median makes the hash blind to brightness and contrast changes.
- **dHash**: luma area-reduced to 9 x 8; each bit says whether a pixel is brighter than its
  left neighbour (a gradient-direction signature, also blind to brightness shifts).

Two images are near duplicates when *both* hashes are within a Hamming radius: the two are
computed differently, so unrelated images rarely come close on both at once, while edits that
keep the picture (resize, JPEG, a few percent cropped, brightness) move each by few bits.
Candidate pairs are found with multi-index hashing (pigeonhole: two 64-bit hashes within
distance ``r`` agree exactly on at least one of ``r + 1`` disjoint bit bands), so the search
is about linear in the number of images rather than quadratic.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd

_BITS = 1 << np.arange(64, dtype=np.uint64)


@lru_cache(maxsize=4)
def _dct_matrix(n: int) -> np.ndarray:
    """Orthonormal DCT-II matrix ``D`` (n x n): ``D @ x`` transforms a column vector."""
    k = np.arange(n)[:, None]
    i = np.arange(n)[None, :]
    d = np.cos(np.pi * (2 * i + 1) * k / (2 * n)) * np.sqrt(2.0 / n)
    d[0] /= np.sqrt(2.0)
    return d.astype(np.float64)


def _pack(bits: np.ndarray) -> int:
    return int((bits.reshape(-1).astype(np.uint64) * _BITS).sum(dtype=np.uint64))


def phash_bits(gray32: np.ndarray) -> int:
    """pHash of a 32 x 32 grayscale array, as a 64-bit integer."""
    d = _dct_matrix(gray32.shape[0])
    coef = (d @ gray32.astype(np.float64) @ d.T)[:8, :8].reshape(-1)
    med = np.median(coef[1:])
    return _pack(coef > med)


def dhash_bits(gray9x8: np.ndarray) -> int:
    """dHash of an 8-row x 9-column grayscale array, as a 64-bit integer."""
    return _pack(gray9x8[:, 1:] > gray9x8[:, :-1])


def to_hex(value: int) -> str:
    return f"{value:016x}"


def from_hex(values: pd.Series | list[str | None]) -> tuple[np.ndarray, np.ndarray]:
    """uint64 hashes and a validity mask from hex strings (None/NaN invalid)."""
    vals = list(values)
    ok = np.array([isinstance(v, str) and len(v) > 0 for v in vals], dtype=bool)
    out = np.zeros(len(vals), dtype=np.uint64)
    for i in np.flatnonzero(ok):
        out[i] = np.uint64(int(vals[i], 16))
    return out, ok


def hamming(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Bitwise Hamming distance of uint64 arrays (broadcasting)."""
    x = np.bitwise_xor(a, b)
    if hasattr(np, "bitwise_count"):
        return np.bitwise_count(x).astype(np.int64)
    x = x.astype(np.uint64)  # pragma: no cover - numpy < 2
    count = np.zeros(x.shape, dtype=np.int64)
    for shift in range(0, 64, 8):
        count += _POP8[((x >> np.uint64(shift)) & np.uint64(255)).astype(np.intp)]
    return count


_POP8 = np.array([bin(i).count("1") for i in range(256)], dtype=np.int64)


def candidate_pairs(hashes: np.ndarray, radius: int, method: str = "auto") -> np.ndarray:
    """Index pairs ``(i, j)``, ``i < j``, whose 64-bit hashes are within ``radius`` bits.

    Multi-index hashing: split the bits into ``radius + 1`` bands; any pair within the radius
    agrees exactly on at least one band. Pairs sharing a band are then checked exactly.
    ``method="auto"`` compares all pairs (in blocks) up to 20,000 hashes, where that is
    faster.
    """
    n = len(hashes)
    if n < 2:
        return np.empty((0, 2), dtype=np.int64)
    radius = int(radius)
    if method not in ("auto", "brute", "mih"):
        raise ValueError(f"method must be 'auto', 'brute' or 'mih', got {method!r}")
    if method == "brute" or (method == "auto" and (radius >= 16 or n <= 20000)):
        return _pairs_brute(hashes, radius)
    bands = radius + 1
    edges = np.linspace(0, 64, bands + 1).round().astype(int)
    found: list[np.ndarray] = []
    idx = np.arange(n)
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        mask = np.uint64((1 << int(hi - lo)) - 1)
        key = (hashes >> np.uint64(lo)) & mask
        order = np.argsort(key, kind="stable")
        k_sorted = key[order]
        starts = np.flatnonzero(np.r_[True, k_sorted[1:] != k_sorted[:-1]])
        sizes = np.diff(np.r_[starts, n])
        for s, size in zip(starts[sizes > 1], sizes[sizes > 1], strict=True):
            members = idx[order[s : s + size]]
            a, b = np.triu_indices(size, k=1)
            found.append(np.c_[members[a], members[b]])
    if not found:
        return np.empty((0, 2), dtype=np.int64)
    pairs = np.unique(np.sort(np.concatenate(found), axis=1), axis=0)
    d = hamming(hashes[pairs[:, 0]], hashes[pairs[:, 1]])
    return pairs[d <= radius]


def _pairs_brute(hashes: np.ndarray, radius: int, block: int = 1024) -> np.ndarray:
    n = len(hashes)
    out: list[np.ndarray] = []
    for s in range(0, n, block):
        d = hamming(hashes[s : s + block, None], hashes[None, :])
        i, j = np.nonzero(d <= radius)
        i = i + s
        keep = i < j
        out.append(np.c_[i[keep], j[keep]])
    return np.concatenate(out) if out else np.empty((0, 2), dtype=np.int64)


def components(n: int, pairs: np.ndarray) -> np.ndarray:
    """Connected-component label per node (``-1`` for nodes in no pair), numbered from 0 by
    decreasing component size, then first member."""
    parent = np.arange(n)

    def find(x: int) -> int:
        root = x
        while parent[root] != root:
            root = parent[root]
        while parent[x] != root:
            parent[x], x = root, parent[x]
        return root

    for a, b in pairs:
        ra, rb = find(int(a)), find(int(b))
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    roots = np.array([find(i) for i in range(n)])
    in_pair = np.zeros(n, dtype=bool)
    if len(pairs):
        in_pair[pairs.reshape(-1)] = True
    labels = np.full(n, -1, dtype=np.int64)
    if not in_pair.any():
        return labels
    r = roots[in_pair]
    uniq, first, counts = np.unique(r, return_index=True, return_counts=True)
    order = np.lexsort((first, -counts))
    rank = np.empty(len(uniq), dtype=np.int64)
    rank[order] = np.arange(len(uniq))
    labels[in_pair] = rank[np.searchsorted(uniq, r)]
    return labels
