"""A save that fails changes nothing (issue 19): with the Parquet engine missing, a read-only
folder, or a full disk, a first save leaves no store behind and a later save leaves the last
good version readable, with every tag committed before the failure."""

from __future__ import annotations

import contextlib
import errno
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import nbdiag
from nbdiag.store import Store, StoreError
from nbdiag.store import open as open_store

#: what pandas says when no Parquet engine can be imported
NO_ENGINE = "pyarrow or fastparquet is required"


def make_ds(n: int = 8) -> nbdiag.Dataset:
    rng = np.random.default_rng(0)
    ds = nbdiag.Dataset.from_arrays(
        rng.integers(0, 256, (n, 4, 4), dtype=np.uint8),
        rng.integers(0, 2, n),
        probs=rng.dirichlet([1, 1], n),
        class_names=["cat", "dog"],
        name="pets",
    )
    ds.samples["gen"] = 0
    return ds


def saved(tmp_path: Path) -> tuple[nbdiag.Dataset, Path, set[str]]:
    """A bound dataset with a tag, its store folder and the data files of its version."""
    ds = make_ds()
    ds.tag([0], "before_save")
    ds.save(tmp_path / "proj")
    ds.tag([1], "committed")  # committed as made: must survive any later failure
    return ds, tmp_path / "proj", set(os.listdir(tmp_path / "proj" / "data"))


def notes(exc: BaseException) -> str:
    return "\n".join(getattr(exc, "__notes__", []))


def assert_previous_version(project: Path, files: set[str], tags: tuple[str, ...] = ()) -> None:
    assert set(os.listdir(project / "data")) == files  # the failed save's files are gone
    again = open_store(project)
    assert again.name == "pets" and list(again.runs) == ["model"]
    assert (again.samples["gen"] == 0).all() and "new" not in again.samples.columns
    assert set(again.tags["tag"]) == {"before_save", "committed", *tags}
    again.store.close()


def assert_no_store(tmp_path: Path, project: Path) -> None:
    assert not project.exists()
    assert list(tmp_path.iterdir()) == []  # no half-made store, no hidden staging folder
    with pytest.raises(StoreError, match="no such folder"):
        open_store(project)


# ---------------------------------------------------------------------- failure makers
@contextlib.contextmanager
def parquet_missing(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No Parquet engine: importing ``pyarrow.parquet`` (or ``fastparquet``) fails. (pyarrow
    itself stays: pandas >= 3 holds strings in it.)"""
    with monkeypatch.context() as m:
        for name in ("pyarrow.parquet", "fastparquet"):
            m.setitem(sys.modules, name, None)
        yield


def _chmod_stops_writes(folder: Path) -> bool:
    probe = folder / ".probe"
    try:
        probe.write_text("x")
    except PermissionError:
        return True
    probe.unlink()
    return False


@contextlib.contextmanager
def read_only(folder: Path, how: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """``folder`` refuses new files and folders: by its mode, or (``patched``) by the calls
    that create them, for a root user whom a mode does not stop."""
    if how == "chmod":
        mode = folder.stat().st_mode
        folder.chmod(0o555)
        try:
            if not _chmod_stops_writes(folder):
                pytest.skip(
                    "running as root: chmod does not stop writes (the patched variant runs)"
                )
            yield
        finally:
            folder.chmod(mode)
        return

    def inside(path: object) -> bool:
        return os.path.abspath(os.fspath(path)).startswith(os.fspath(folder) + os.sep)

    def denied(path: object) -> OSError:
        return PermissionError(errno.EACCES, os.strerror(errno.EACCES), os.fspath(path))

    real_open, real_mkdir = os.open, os.mkdir

    def fake_open(path, flags, *args, **kwargs):
        if flags & os.O_CREAT and inside(path):
            raise denied(path)
        return real_open(path, flags, *args, **kwargs)

    def fake_mkdir(path, *args, **kwargs):
        if inside(path):
            raise denied(path)
        return real_mkdir(path, *args, **kwargs)

    with monkeypatch.context() as m:
        m.setattr(os, "open", fake_open)
        m.setattr(os, "mkdir", fake_mkdir)
        yield


class FullDisk:
    """Once ``armed``, the disk fills up after the next table file: the one after it fails
    half written. ``written``: the tables written while armed."""

    def __init__(self) -> None:
        self.armed = False
        self.written: list[Path] = []


@pytest.fixture
def full_disk(monkeypatch: pytest.MonkeyPatch) -> Iterator[FullDisk]:
    real = pd.DataFrame.to_parquet
    disk = FullDisk()

    def to_parquet(self, path, *args, **kwargs):
        if disk.armed and disk.written:
            with open(path, "wb") as f:
                f.write(b"PAR1 half a table")
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), os.fspath(path))
        real(self, path, *args, **kwargs)
        if disk.armed:
            disk.written.append(Path(path))

    with monkeypatch.context() as m:
        m.setattr(pd.DataFrame, "to_parquet", to_parquet)
        yield disk


# ---------------------------------------------------------------------- no Parquet engine
def test_first_save_without_parquet_leaves_no_store(tmp_path, monkeypatch):
    ds = make_ds()
    ds.tag([2], "in_memory")
    with parquet_missing(monkeypatch):
        with pytest.raises(ImportError, match=NO_ENGINE) as info:
            ds.save(tmp_path / "proj")
    if sys.version_info >= (3, 11):
        assert "no store was made" in notes(info.value)
        assert "pip install pyarrow" in notes(info.value)
    assert ds.store is None
    assert_no_store(tmp_path, tmp_path / "proj")
    ds.save(tmp_path / "proj")  # tags made before the failed save go into the new store
    again = open_store(tmp_path / "proj")
    assert again.tags["tag"].tolist() == ["in_memory"] and list(again.runs) == ["model"]


def test_later_save_without_parquet_keeps_the_last_version(tmp_path, monkeypatch):
    ds, project, files = saved(tmp_path)
    ds.samples["new"] = 1.0
    with parquet_missing(monkeypatch):
        with pytest.raises(ImportError, match=NO_ENGINE) as info:
            ds.save()
        if sys.version_info >= (3, 11):
            assert "changed nothing" in notes(info.value)
        with pytest.raises(ImportError):
            ds.add_run("v2", np.full((len(ds), 2), 0.5))  # a run is a save too
    assert_previous_version(project, files)
    ds.tag([3], "after")  # the store keeps working, and saves again
    ds.save()
    assert "new" in open_store(project).samples.columns


def test_overwrite_without_parquet_keeps_the_other_store(tmp_path, monkeypatch):
    ds, project, files = saved(tmp_path)
    other = make_ds()
    other.samples["new"] = 1.0
    with parquet_missing(monkeypatch):
        with pytest.raises(ImportError, match=NO_ENGINE):
            other.save(project, overwrite=True)
    assert other.store is None
    assert_previous_version(project, files)


def test_first_save_into_an_empty_folder_leaves_it_empty(tmp_path, monkeypatch):
    from nbdiag.store import _create

    (tmp_path / "proj").mkdir()
    first, second = make_ds(), make_ds()
    with parquet_missing(monkeypatch):
        with pytest.raises(ImportError, match=NO_ENGINE):
            first.save(tmp_path / "proj")
        assert list((tmp_path / "proj").iterdir()) == [] and len(list(tmp_path.iterdir())) == 1
        # a folder a rename cannot replace (a mount point, a read-only parent): filled in place
        monkeypatch.setattr(_create, "_replaceable", lambda root: False)
        with pytest.raises(ImportError, match=NO_ENGINE) as info:
            second.save(tmp_path / "proj")
    if sys.version_info >= (3, 11):
        assert "the folder is empty again" in notes(info.value)
    assert list((tmp_path / "proj").iterdir()) == []
    with pytest.raises(StoreError, match="is not an nbdiag store"):
        open_store(tmp_path / "proj")
    second.save(tmp_path / "proj")  # in place, now that it works
    assert len(open_store(tmp_path / "proj")) == 8


def test_an_empty_store_stays_empty_with_a_clear_message(tmp_path, monkeypatch):
    Store.create(tmp_path / "proj").close()  # e.g. left by an older nbdiag's interrupted save
    ds = make_ds()
    with parquet_missing(monkeypatch):
        with pytest.raises(ImportError, match=NO_ENGINE):
            ds.save(tmp_path / "proj")
    assert os.listdir(tmp_path / "proj" / "data") == []
    with pytest.raises(StoreError, match=r"holds no saved dataset.*save the dataset to it again"):
        open_store(tmp_path / "proj")
    ds.save(tmp_path / "proj")
    assert len(open_store(tmp_path / "proj")) == 8


# ---------------------------------------------------------------------- read-only folder
@pytest.mark.parametrize("how", ["chmod", "patched"])
def test_first_save_into_a_read_only_folder_leaves_no_store(tmp_path, monkeypatch, how):
    parent = tmp_path / "shared"
    parent.mkdir()
    ds = make_ds()
    with read_only(parent, how, monkeypatch):
        with pytest.raises(PermissionError):
            ds.save(parent / "proj")
    assert ds.store is None
    assert list(parent.iterdir()) == []
    with pytest.raises(StoreError, match="no such folder"):
        open_store(parent / "proj")


@pytest.mark.parametrize("how", ["chmod", "patched"])
def test_later_save_into_a_read_only_folder_keeps_the_last_version(tmp_path, monkeypatch, how):
    ds, project, files = saved(tmp_path)
    ds.samples["new"] = 1.0
    with read_only(project / "data", how, monkeypatch):
        with pytest.raises(PermissionError) as info:
            ds.save()
        if sys.version_info >= (3, 11):
            assert "changed nothing" in notes(info.value)
        ds.tag([4], "while_read_only")  # tags live in the database, not in data/
    assert_previous_version(project, files, ("while_read_only",))


# ---------------------------------------------------------------------- full disk
def test_first_save_on_a_full_disk_leaves_no_store(tmp_path, full_disk):
    ds = make_ds()
    full_disk.armed = True
    with pytest.raises(OSError) as info:
        ds.save(tmp_path / "proj")
    assert info.value.errno == errno.ENOSPC
    assert len(full_disk.written) == 1  # the first table was written, the second one failed
    assert ds.store is None
    assert_no_store(tmp_path, tmp_path / "proj")


def test_later_save_on_a_full_disk_keeps_the_last_version(tmp_path, full_disk):
    ds, project, files = saved(tmp_path)
    ds.samples["new"] = 1.0
    full_disk.armed = True
    with pytest.raises(OSError) as info:
        ds.save()
    assert info.value.errno == errno.ENOSPC and "No space left" in str(info.value)
    (tmp,) = full_disk.written  # the first table was written, the second one failed
    assert tmp.name.startswith(".samples-")  # (its file is gone again: see the listing)
    assert_previous_version(project, files)


@pytest.mark.parametrize("point", ["before_commit", "in_transaction"])
def test_a_commit_that_fails_keeps_the_last_version(tmp_path, monkeypatch, point):
    """The disk fills up while the manifest is committed: the transaction is rolled back and
    the connection is not left inside it."""
    from nbdiag.store import _atomic

    ds, project, files = saved(tmp_path)
    ds.samples["new"] = 1.0

    def crash(name: str) -> None:
        if name == point:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    with monkeypatch.context() as m:
        m.setattr(_atomic, "_crash_point", crash)
        with pytest.raises(OSError, match="No space left"):
            ds.save()
    assert_previous_version(project, files)
    ds.tag([5], "after")  # a new transaction starts: the failed one was ended
    ds.save()
    assert "new" in open_store(project).samples.columns


# ---------------------------------------------------------------------- staging folder
def test_a_first_save_failing_before_the_rename_leaves_no_store(tmp_path, monkeypatch):
    from nbdiag.store import _atomic

    def crash(name: str) -> None:
        if name == "before_rename_dir":
            raise KeyboardInterrupt

    with monkeypatch.context() as m:
        m.setattr(_atomic, "_crash_point", crash)
        with pytest.raises(KeyboardInterrupt):
            make_ds().save(tmp_path / "a" / "proj")  # the missing parent goes again too
    assert list(tmp_path.iterdir()) == []


def test_stale_staging_folders_of_a_killed_first_save_are_removed(tmp_path):
    stale = tmp_path / ".proj.0123456789ab.tmp"
    young = tmp_path / ".proj.ba9876543210.tmp"
    mine = tmp_path / ".proj.mine.tmp"  # not named like a staging folder: not touched
    for folder in (stale, young, mine):
        (folder / "data").mkdir(parents=True)
        (folder / "data" / "samples-x.parquet").write_bytes(b"x")
    for path in (stale, stale / "data", stale / "data" / "samples-x.parquet", mine):
        os.utime(path, (0, 0))
    make_ds().save(tmp_path / "proj")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["proj", young.name, mine.name])
    assert len(open_store(tmp_path / "proj")) == 8
