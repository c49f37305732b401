"""Killing a writer mid-write (SIGKILL) loses nothing already committed and never corrupts the
store: at every crash point of a save and of a tag, and at random moments of a busy writer."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import nbdiag
from nbdiag.store import open as open_store

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")

ROOT = Path(__file__).resolve().parents[2]

CHILD = r"""
import os, signal, sys
import nbdiag.store
from nbdiag.store import _atomic

point, project, gen = sys.argv[1], sys.argv[2], int(sys.argv[3])
ds = nbdiag.store.open(project)
sid = f"s{len(ds.tags)}"
ds.tag([sid], "committed")
print("TAGGED", sid, flush=True)

def crash(name):
    if name != point:
        return
    if name == "before_fsync":  # leave a half-written file behind, as a kill mid-write does
        data = os.path.join(project, "data")
        tmp = max((os.path.join(data, f) for f in os.listdir(data) if f.endswith(".tmp")),
                  key=os.path.getmtime)
        with open(tmp, "r+b") as f:
            f.truncate(os.path.getsize(tmp) // 2)
    os.kill(os.getpid(), signal.SIGKILL)

_atomic._crash_point = crash
if point == "tag":
    _atomic._crash_point = lambda name: os.kill(os.getpid(), signal.SIGKILL)
    ds.tag(["s199"], "lost")
else:
    ds.samples["gen"] = gen
    ds.save()
print("SURVIVED", flush=True)
"""


def _project(folder: Path, n: int = 200) -> Path:
    rng = np.random.default_rng(0)
    samples = pd.DataFrame(
        {"label": rng.choice(["a", "b"], n), "gen": 0, "value": rng.random(n)},
        index=[f"s{i}" for i in range(n)],
    )
    ds = nbdiag.Dataset(samples)
    ds.add_run("m", rng.dirichlet([1, 1], n))
    ds.save(folder / "proj")
    ds.store.close()
    return folder / "proj"


def _check_readable(project: Path) -> nbdiag.Dataset:
    ds = open_store(project)
    assert ds.store.manifest() is not None
    assert len(ds) == 200 and list(ds.runs) == ["m"]
    assert ds.samples["gen"].nunique() == 1  # one consistent version of the table
    return ds


#: crash point -> whether the interrupted save is committed
CRASH_POINTS = {
    "before_fsync": False,  # a half-written temporary file
    "before_replace": False,  # a complete temporary file, not yet in place
    "before_commit": False,  # new files in place, manifest transaction not committed
    "in_transaction": False,  # manifest written inside the open transaction
    "after_commit": True,  # committed, old files not yet cleaned up
    "tag": False,  # killed inside a tag's transaction
}


@pytest.mark.slow
def test_kill_at_each_crash_point(tmp_path):
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    env = {**os.environ, "PYTHONPATH": os.fspath(ROOT)}
    procs = {}
    for point in CRASH_POINTS:  # one writer per crash point, run side by side
        project = _project(tmp_path / point)
        procs[point] = subprocess.Popen(
            [sys.executable, os.fspath(script), point, os.fspath(project), "7"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        )  # fmt: skip
    for point, committed in CRASH_POINTS.items():
        out, err = procs[point].communicate(timeout=120)
        assert procs[point].returncode == -signal.SIGKILL, (point, err)
        assert "TAGGED s0" in out and "SURVIVED" not in out, point
        project = tmp_path / point / "proj"
        ds = _check_readable(project)
        assert ds.tags["id"].tolist() == ["s0"], point  # committed before the crash: kept
        assert "lost" not in set(ds.tags["tag"]), point  # the killed tag: not half there
        assert ds.samples["gen"].iloc[0] == (7 if committed else 0), point
        if point == "before_fsync":
            assert any(f.endswith(".tmp") for f in os.listdir(project / "data"))
        # the store keeps working: a later save, tag and reopen are fine
        ds.samples["gen"] = 8
        ds.tag(["s1"], "after")
        ds.save()
        again = _check_readable(project)
        assert again.samples["gen"].iloc[0] == 8, point
        assert again.tags["id"].tolist() == ["s0", "s1"], point
        for store in (ds.store, again.store):
            store.close()


@pytest.mark.slow
def test_kill_a_busy_writer_at_random_moments(tmp_path):
    """A writer tags and saves a larger table in a loop; SIGKILL at random times, reopen."""
    n = 60_000
    rng = np.random.default_rng(1)
    ds = nbdiag.Dataset(
        pd.DataFrame({"label": rng.choice(["a", "b"], n), "gen": 0, "v": rng.random(n)})
    )
    ds.save(tmp_path / "proj")
    ds.store.close()
    loop = r"""
import sys, nbdiag.store
ds = nbdiag.store.open(sys.argv[1])
start = int(ds.samples["gen"].max()) + 1
for gen in range(start, start + 10_000):
    ds.tag([gen % len(ds)], f"t{gen}")
    print("TAG", gen % len(ds), f"t{gen}", flush=True)
    ds.samples["gen"] = gen
    ds.save()
    print("SAVED", gen, flush=True)
"""
    script = tmp_path / "loop.py"
    script.write_text(loop)
    env = {**os.environ, "PYTHONPATH": os.fspath(ROOT)}
    random.seed(3)
    committed_tags: set[tuple[int, str]] = set()
    for _round in range(3):
        proc = subprocess.Popen(
            [sys.executable, os.fspath(script), os.fspath(tmp_path / "proj")],
            stdout=subprocess.PIPE, text=True, env=env,
        )  # fmt: skip
        assert proc.stdout is not None
        saved = []
        deadline = None
        while True:
            line = proc.stdout.readline()
            if not line:
                break
            kind, *rest = line.split()
            if kind == "TAG":
                committed_tags.add((int(rest[0]), rest[1]))
            else:
                saved.append(int(rest[0]))
                if deadline is None and len(saved) >= 2:
                    deadline = time.monotonic() + random.uniform(0.0, 0.4)
            if deadline is not None and time.monotonic() >= deadline:
                os.kill(proc.pid, signal.SIGKILL)
                break
        proc.wait(timeout=60)
        # drain what the writer printed before it died
        rest_lines = proc.stdout.read().split("\n")
        for line in rest_lines:
            if line.startswith("TAG"):
                _, i, t = line.split()
                committed_tags.add((int(i), t))
            elif line.startswith("SAVED"):
                saved.append(int(line.split()[1]))
        assert proc.returncode == -signal.SIGKILL
        reopened = open_store(tmp_path / "proj")
        gens = reopened.samples["gen"].unique()
        assert len(gens) == 1  # never a mix of two versions
        # the last reported save, or the one in flight when killed
        assert saved[-1] <= gens[0] <= saved[-1] + 1
        tags = set(zip(reopened.tags["id"], reopened.tags["tag"], strict=True))
        assert committed_tags <= tags
        reopened.store.close()
