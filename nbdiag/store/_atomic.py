"""Atomic file writes: write a temporary file next to the target, flush it to disk, then
``os.replace`` it into place. A reader (or a process restarted after a crash) sees either the
old file or the complete new one, never a torn write."""

from __future__ import annotations

import contextlib
import functools
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

#: temporary files are named ``.<name>.<random>.tmp``; a later save removes stale ones
TMP_SUFFIX = ".tmp"


def _crash_point(name: str) -> None:
    """Test hook: the kill-mid-write tests replace this to kill the process at ``name``."""


def fsync_dir(path: str | os.PathLike[str]) -> None:
    """Flush a directory entry (the rename) to disk; a no-op where directories can't be opened."""
    try:
        fd = os.open(os.fspath(path), os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@functools.cache
def _umask() -> int:
    """The process umask, read once: from ``/proc`` on Linux (no side effect), else by setting
    and restoring it (the only portable way; a file created by another thread in between would
    get the temporary mask, so it is done once)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def file_mode(target: Path) -> int:
    """The mode a new file gets from ``open()``, or the mode of the file being replaced:
    ``mkstemp``'s private 0600 would make a report or an export unreadable to teammates."""
    try:
        return target.stat().st_mode & 0o7777
    except OSError:
        return 0o666 & ~_umask()


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path to write; on success it replaces ``target`` atomically.

    >>> with atomic_path("table.parquet") as tmp:      # doctest: +SKIP
    ...     frame.to_parquet(tmp)
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=TMP_SUFFIX, dir=target.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        _crash_point("before_fsync")
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        with contextlib.suppress(OSError):
            os.chmod(tmp, file_mode(target))
        _crash_point("before_replace")
        os.replace(tmp, target)
        fsync_dir(target.parent)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def atomic_write_bytes(target: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``target`` atomically."""
    with atomic_path(target) as tmp:
        with open(tmp, "wb") as f:
            half = len(data) // 2
            f.write(data[:half])
            f.flush()
            _crash_point("mid_file")
            f.write(data[half:])
    return Path(target)


def atomic_write_text(target: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` (UTF-8) to ``target`` atomically."""
    return atomic_write_bytes(target, text.encode("utf-8"))


def atomic_write_with(target: str | os.PathLike[str], write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp_path)`` and move the result onto ``target`` atomically."""
    with atomic_path(target) as tmp:
        write(tmp)
    return Path(target)
