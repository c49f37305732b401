"""Give the memory freed by a large table operation back to the operating system.

Building a dataset or adding a run of millions of boxes allocates and frees column copies of
hundreds of MB. glibc's allocator keeps much of that freed memory in its heap (its threshold
for returning large blocks directly grows with every large block freed), so the kernel's RSS
stays up to twice the size of the tables it holds. ``malloc_trim`` hands the free pages back;
Dask's workers do the same for their "unmanaged memory". Elsewhere (macOS, Windows, musl) this
is a no-op.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
from typing import Any


@functools.cache
def _libc() -> Any:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        libc = ctypes.CDLL(name)
        return libc if hasattr(libc, "malloc_trim") else None
    except OSError:
        return None


def release_freed_memory() -> None:
    """Return the allocator's free pages to the OS (glibc ``malloc_trim(0)``; milliseconds)."""
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)
