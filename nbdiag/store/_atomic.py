"""Atomic file writes: write a temporary file next to the target, flush it to disk, then
``os.replace`` it into place. A reader (or a process restarted after a crash) sees either the
old file or the complete new one, never a torn write. :func:`atomic_dir` does the same for a
new folder (a store's first save)."""

from __future__ import annotations

import contextlib
import functools
import os
import re
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

#: temporary files are named ``.<name>.<random>.tmp``; a later save removes stale ones
TMP_SUFFIX = ".tmp"
#: temporary files and folders older than this are debris of a killed writer
STALE_TMP_SECONDS = 600


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


# ---------------------------------------------------------------------- folders
def _stage_pattern(target: Path) -> re.Pattern[str]:
    return re.compile(rf"\.{re.escape(target.name)}\.[0-9a-f]{{12}}{re.escape(TMP_SUFFIX)}")


def _newest_mtime(folder: Path) -> float:
    newest = folder.stat().st_mtime
    for parent, dirs, files in os.walk(folder):
        for name in (*dirs, *files):
            with contextlib.suppress(OSError):
                newest = max(newest, os.stat(os.path.join(parent, name)).st_mtime)
    return newest


def remove_stale_dirs(target: Path) -> None:
    """Remove temporary folders of :func:`atomic_dir` for ``target`` that a killed writer left
    (named ``.<name>.<12 hex>.tmp``, untouched for :data:`STALE_TMP_SECONDS`)."""
    pattern = _stage_pattern(target)
    now = time.time()
    with contextlib.suppress(OSError):
        for path in target.parent.iterdir():
            if not pattern.fullmatch(path.name) or not path.is_dir() or path.is_symlink():
                continue
            with contextlib.suppress(OSError):
                if now - _newest_mtime(path) >= STALE_TMP_SECONDS:
                    shutil.rmtree(path)


@contextlib.contextmanager
def atomic_dir(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a new, empty temporary folder next to ``target``; on success it is renamed to
    ``target`` in one step (``target`` must not exist, or be an empty folder), on failure it is
    removed, together with the parent folders this created. A reader sees no folder or the
    complete one; a killed writer leaves only a hidden ``.<name>.<random>.tmp`` folder, which a
    later call removes once it is stale."""
    target = Path(target)
    created = [p for p in (target.parent, *target.parent.parents) if not p.exists()]
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_dirs(target)
    tmp = target.parent / f".{target.name}.{uuid.uuid4().hex[:12]}{TMP_SUFFIX}"
    try:
        os.mkdir(tmp)
        try:
            yield tmp
            fsync_dir(tmp)
            _crash_point("before_rename_dir")
            try:
                os.rename(tmp, target)  # POSIX: replaces an empty folder at target
            except OSError:
                if os.name != "nt" or not target.is_dir():
                    raise
                os.rmdir(target)  # Windows does not replace a folder; only an empty one goes
                os.rename(tmp, target)
            fsync_dir(target.parent)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    except BaseException:
        for parent in created:  # deepest first; one that is not empty (any more) stays
            with contextlib.suppress(OSError):
                parent.rmdir()
        raise
