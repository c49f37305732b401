"""Values read from a corrected file, taken against the dataset: blank cells, ids, class
names; and the columns of the change report every kind of change fills."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ...store._codec import native

if TYPE_CHECKING:
    from ...core import DatasetCore

REPORT_COLUMNS = [
    "level",
    "id",
    "sample_id",
    "change",
    "old_label",
    "new_label",
    "old_box",
    "new_box",
]


class _IdMap:
    """Find dataset ids from values read from a file (exact, or by their text)."""

    def __init__(self, index: pd.Index, what: str):
        self.index = index
        self.what = what
        self.by_text: dict[str, Any] = {}
        for i in index:
            key = str(native(i))
            self.by_text[key] = _AMBIGUOUS if key in self.by_text else i

    def get(self, value: Any) -> Any:
        value = native(value)
        try:
            if value in self.index:
                return value
        except TypeError:
            return None
        found = self.by_text.get(str(value).strip())
        if found is _AMBIGUOUS:
            raise ValueError(
                f"{self.what} id {value!r} in the file matches several ids of the dataset "
                "(e.g. 1 and '1'); make the dataset's ids unambiguous"
            )
        if found is None and isinstance(value, float) and value.is_integer():
            return self.get(int(value))
        return found


_AMBIGUOUS = object()


def _check_class(label: Any, ds: DatasetCore, where: str) -> str:
    name = str(native(label)).strip()
    if name not in ds.class_names:
        raise ValueError(
            f"unknown class {name!r} in {where}; the dataset's classes are "
            f"{ds.class_names[:20]} (class names are fixed: add the class to the dataset first)"
        )
    return name


def _blank(x: Any) -> bool:
    return (
        x is None
        or (isinstance(x, float) and np.isnan(x))
        or (isinstance(x, str) and not x.strip())
    )
