"""Binary column codecs shared with ``js/src/shared/codecs.ts`` and ``js/src/shared/selection.ts``.

Columns travel as little-endian typed arrays in ``Bytes`` traits; selections as packed bitmasks
(row ``i`` is bit ``i & 7`` of byte ``i >> 3``)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import traitlets

#: uint16 code of a missing category
MISSING_CODE = 0xFFFF


class Binary(traitlets.TraitType):
    """A bytes trait that also accepts the ``memoryview`` the front end sends back."""

    default_value = b""
    info_text = "bytes, bytearray or memoryview"

    def validate(self, obj: Any, value: Any) -> bytes:
        if isinstance(value, bytes):
            return value
        if isinstance(value, bytearray | memoryview):
            return bytes(value)
        self.error(obj, value)


def encode_float32(values: Any) -> bytes:
    """float32 little-endian bytes (NaN stays NaN)."""
    return np.ascontiguousarray(np.asarray(values, dtype="<f4")).tobytes()


def encode_codes(values: pd.Series | pd.Categorical | np.ndarray) -> bytes:
    """uint16 category codes; missing values (code -1) become :data:`MISSING_CODE`."""
    if isinstance(values, pd.Series):
        values = (
            values.cat.codes.to_numpy()
            if isinstance(values.dtype, pd.CategoricalDtype)
            else values.to_numpy()
        )
    elif isinstance(values, pd.Categorical):
        values = values.codes
    codes = np.asarray(values, dtype=np.int64)
    if len(codes) and codes.max(initial=-1) >= MISSING_CODE:
        raise ValueError(f"too many categories for uint16 codes (max code {codes.max()})")
    return np.where(codes < 0, MISSING_CODE, codes).astype("<u2").tobytes()


def pack_mask(mask: np.ndarray) -> bytes:
    """Boolean mask -> packed bitmask bytes; an all-false mask packs to ``b""``."""
    mask = np.asarray(mask, dtype=bool)
    if not mask.any():
        return b""
    return np.packbits(mask, bitorder="little").tobytes()


def unpack_mask(data: bytes | memoryview | None, n: int) -> np.ndarray:
    """Packed bitmask -> boolean mask of length ``n``. Short input is padded with False and
    bits past ``n`` are ignored, so a stale message can never raise."""
    if not data:
        return np.zeros(n, dtype=bool)
    bits = np.unpackbits(np.frombuffer(data, dtype=np.uint8), bitorder="little").astype(bool)
    if len(bits) >= n:
        return bits[:n]
    return np.concatenate([bits, np.zeros(n - len(bits), dtype=bool)])
