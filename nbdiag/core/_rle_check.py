"""A vectorised check of COCO compressed-RLE counts strings: well formed, and covering exactly
their image. pycocotools decodes a malformed string into out-of-bounds writes, so every string a
user gives is checked once, on the way in; a million masks take seconds, not minutes."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

#: characters of counts strings checked at once (bounds the check's memory to ~30 MB)
CHECK_CHARS = 500_000


def _runs(counts: str) -> np.ndarray | None:
    """Decode COCO's compressed counts string into run lengths (``None`` when malformed); the
    reference the vectorised check is tested against."""
    out: list[int] = []
    p, n = 0, len(counts)
    while p < n:
        x, k, more = 0, 0, True
        while more:
            if p >= n:
                return None
            c = ord(counts[p]) - 48
            if c < 0 or c > 63:
                return None
            x |= (c & 0x1F) << (5 * k)
            more = bool(c & 0x20)
            p += 1
            k += 1
            if not more and (c & 0x10):
                x |= -1 << (5 * k)
        if len(out) > 2:
            x += out[-2]
        out.append(x)
    arr = np.asarray(out, dtype=np.int64)
    return None if (arr < 0).any() else arr


def counts_ok(counts: Sequence[str], pixels: np.ndarray) -> np.ndarray:
    """Which compressed-RLE counts strings are well formed and cover exactly ``pixels`` (their
    image's height × width); checked in chunks of about :data:`CHECK_CHARS` characters (a
    bounded memory), see :func:`_counts_ok`."""
    n = len(counts)
    out = np.ones(n, dtype=bool)
    pixels = np.asarray(pixels, dtype=np.int64)
    lens = np.fromiter(map(len, counts), dtype=np.int64, count=n)
    cuts = np.searchsorted(np.cumsum(lens), np.arange(CHECK_CHARS, int(lens.sum()), CHECK_CHARS))
    bounds = np.unique(np.r_[0, cuts, n])
    for s, e in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True):
        out[s:e] = _counts_ok(counts[s:e], pixels[s:e])
    return out


def _counts_ok(counts: Sequence[str], pixels: np.ndarray) -> np.ndarray:
    """Which compressed-RLE counts strings are well formed and cover exactly ``pixels`` (their
    image's height × width): the check of :func:`nbdiag.core.masks.to_rle`, vectorised over all
    strings at once (pycocotools decodes a malformed string into out-of-bounds writes).

    COCO's format: each run length is a little-endian base-32 number in chars ``'0' + (5 bits |
    0x20 if more follow)``, sign-extended from its last char's bit 0x10; from the fourth run on
    a run is stored as its difference to the run two before.
    """
    n = len(counts)
    ok = np.ones(n, dtype=bool)
    if not n:
        return ok
    pixels = np.asarray(pixels, dtype=np.int64)
    try:
        buf = np.frombuffer("".join(counts).encode("ascii"), dtype=np.uint8)
    except UnicodeEncodeError:
        return _slow_ok(counts, pixels)
    lens = np.fromiter(map(len, counts), dtype=np.int64, count=n)
    c = buf - np.uint8(48)  # wraps: chars below '0' become > 63 too
    more = (c & 0x20) != 0
    ends = np.cumsum(lens) - 1
    has = lens > 0
    bad = np.zeros(n, dtype=bool)
    bad[has] = more[ends[has]]  # a string must end with a number's last char
    bad_char = c > 63
    if bad_char.any():
        bad |= np.bincount(np.repeat(np.arange(n), lens)[bad_char], minlength=n) > 0
    if bad.any():  # check the well-formed strings only
        good = np.flatnonzero(~bad)
        ok[bad] = False
        ok[good] = _counts_ok([counts[i] for i in good], pixels[good])
        return ok
    term = ~more
    last = np.flatnonzero(term)  # last char of each number
    first = np.r_[0, last[:-1] + 1]
    length = last - first + 1
    if len(length) and length.max() > 11:  # > 55 bits: no run of any image
        return _slow_ok(counts, pixels)
    c5 = c & np.uint8(0x1F)
    x = c5[first].astype(np.int64)
    for j in range(1, int(length.max()) if len(length) else 0):
        sel = np.flatnonzero(length > j)
        x[sel] |= c5[first[sel] + j].astype(np.int64) << (5 * j)
    neg = (c[last] & 0x10) != 0
    x[neg] |= -1 << (5 * length[neg])
    # numbers per string, and each number's position i in its string
    char_start = ends + 1 - lens
    per = np.searchsorted(last, ends, side="right") - np.searchsorted(last, char_start)
    first_num = np.cumsum(per) - per
    owner = np.repeat(np.arange(n), per)
    i = np.arange(len(x)) - first_num[owner]
    # run i > 2 is x[i] + run[i - 2]: cumulative sums over the odd i, and the even i from 2
    runs = x.copy()
    for sel in (np.flatnonzero(i % 2 == 1), np.flatnonzero((i % 2 == 0) & (i > 0))):
        if not len(sel):
            continue
        cs = np.cumsum(x[sel])
        o = owner[sel]
        gstart = np.flatnonzero(np.r_[True, o[1:] != o[:-1]])
        base = cs[gstart] - x[sel][gstart]
        runs[sel] = cs - np.repeat(base, np.diff(np.r_[gstart, len(sel)]))
    ok &= np.bincount(owner[runs < 0], minlength=n) == 0
    total = np.zeros(n, dtype=np.int64)
    nz = per > 0
    if nz.any():
        total[nz] = np.add.reduceat(runs, first_num[nz])
    ok &= total == pixels
    return ok


def _slow_ok(counts: Sequence[str], pixels: np.ndarray) -> np.ndarray:
    out = np.zeros(len(counts), dtype=bool)
    for j, (cnt, px) in enumerate(zip(counts, pixels, strict=True)):
        runs = _runs(cnt)
        out[j] = runs is not None and int(runs.sum()) == int(px)
    return out
