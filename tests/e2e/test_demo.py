"""``make demo`` for real: scripts/demo.py starts JupyterLab on loopback and prints a URL; that
URL opens the quickstart notebook, which runs in the browser, and a click on its confusion
matrix comes back to the kernel.

And it always stops: Ctrl+C (SIGINT), SIGTERM and SIGHUP stop the demo, JupyterLab and every
kernel (with what the kernels started) in bounded time; a SIGKILLed demo takes them with it
too. Each test records every process under the demo, by pid and process group, and checks
that none is left. Timeouts are generous (a loaded machine) but bounded."""

from __future__ import annotations

import json
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import psutil
import pytest
from playwright.sync_api import expect

from .harness import REPO, JupyterLab, free_port, wait_until

DEMO = REPO / "scripts" / "demo.py"
EXAMPLES = REPO / "example_notebooks"
QUICKSTART = "01_quickstart_digits.ipynb"
URL_RE = re.compile(r"(http://127\.0\.0\.1:(\d+)/lab/tree/(\S+)\?token=(\w+))")
#: JupyterLab answering and the URL printed (the demo itself gives up after 180 s)
STARTUP_S = 240
#: the demo's own bound is GRACE_S + KILL_WAIT_S (25 s) plus its watcher's reaction; this is
#: that with room for a loaded machine, and still a hard limit
STOP_S = 60


def _running(p: psutil.Process) -> bool:
    """Still there: a zombie has exited (only not yet collected by its parent)."""
    try:
        return p.is_running() and p.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


class DemoProcess:
    def __init__(self, workdir: Path):
        # a copy: JupyterLab autosaves, and the committed notebooks must stay output-free
        self.committed = {p.name: p.read_bytes() for p in EXAMPLES.glob("*.ipynb")}
        self.notebooks = workdir / "example_notebooks"
        shutil.copytree(
            EXAMPLES, self.notebooks, ignore=shutil.ignore_patterns(".ipynb_checkpoints")
        )
        jdirs = workdir / "jupyter"
        self.runtime = jdirs / "runtime"
        env = dict(os.environ)
        env.update(
            JUPYTER_CONFIG_DIR=str(jdirs / "config"),
            JUPYTER_DATA_DIR=str(jdirs / "data"),
            JUPYTER_RUNTIME_DIR=str(self.runtime),
            IPYTHONDIR=str(jdirs / "ipython"),
            PYTHONUNBUFFERED="1",
        )
        self.port = free_port()
        self.proc = subprocess.Popen(
            [
                sys.executable,
                str(DEMO),
                "--no-browser",
                "--port",
                str(self.port),
                "--notebooks",
                str(self.notebooks),
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,  # signals go to the demo only, as Ctrl+C in its terminal would
        )
        self.me = psutil.Process(self.proc.pid)
        self.known: dict[int, psutil.Process] = {self.proc.pid: self.me}
        self.lines: queue.Queue[str] = queue.Queue()
        self.output: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.output.append(line)
            self.lines.put(line)

    def wait_for_url(self, timeout: float = STARTUP_S) -> re.Match[str]:
        def url():
            if self.proc.poll() is not None:
                raise AssertionError(f"demo exited early:\n{''.join(self.output)}")
            while not self.lines.empty():
                m = URL_RE.search(self.lines.get_nowait())
                if m:
                    return m
            return None

        return wait_until(url, timeout=timeout, interval=0.2, what="the demo's URL")

    def attach(self) -> JupyterLab:
        _, port, _, token = self.wait_for_url().groups()
        return JupyterLab.attach(f"http://127.0.0.1:{port}", token, self.notebooks, self.runtime)

    # -- the processes under the demo
    def snapshot(self) -> dict[int, psutil.Process]:
        """Every process under the demo now (added to what was seen before)."""
        for p in self.me.children(recursive=True):
            self.known.setdefault(p.pid, p)
        return self.known

    def groups(self) -> set[int]:
        out = set()
        for p in self.known.values():
            try:
                out.add(os.getpgid(p.pid))
            except OSError:
                pass
        return out

    def left(self, groups: set[int]) -> list[str]:
        """Processes seen under the demo, or in one of their process groups, still running."""
        procs = [p for p in self.known.values() if _running(p)]
        for q in psutil.process_iter():
            try:
                if q.pid != os.getpid() and os.getpgid(q.pid) in groups and _running(q):
                    procs.append(q)
            except (OSError, psutil.Error):
                pass
        out = []
        for p in {p.pid: p for p in procs}.values():
            try:
                out.append(f"{p.pid} (group {os.getpgid(p.pid)}): {' '.join(p.cmdline())[:120]}")
            except (OSError, psutil.Error):
                pass
        return out

    def stop(self) -> None:
        """Teardown: whatever a failed test left behind goes (by pid, identity checked)."""
        if self.proc.poll() is None:
            try:
                self.snapshot()
            except psutil.Error:
                pass
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=STOP_S)
            except subprocess.TimeoutExpired:
                pass
        for p in self.known.values():
            try:
                if _running(p):
                    p.kill()
            except psutil.Error:
                pass
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)


@pytest.fixture()
def demo(tmp_path: Path, artifacts: Path):
    proc = DemoProcess(tmp_path)
    try:
        yield proc
    finally:
        proc.stop()
        (artifacts / "demo_output.log").write_text("".join(proc.output))


def start_kernel(lab: JupyterLab) -> str:
    req = urllib.request.Request(
        f"{lab.base}/api/kernels",
        data=b"{}",
        method="POST",
        headers={"Authorization": f"token {lab.token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.loads(r.read())["id"]


def stop_and_check(demo: DemoProcess, sig: signal.Signals, expected_code: int) -> dict[str, float]:
    """Send ``sig`` to the demo; everything under it must be gone within STOP_S, and JupyterLab
    must have stopped cleanly (its runtime file removed)."""
    groups = demo.groups()
    demo.snapshot()
    assert len(demo.known) >= 3, demo.known  # demo, watcher, server at least
    t0 = time.monotonic()
    demo.proc.send_signal(sig)
    try:
        code = demo.proc.wait(timeout=STOP_S)
    except subprocess.TimeoutExpired:
        raise AssertionError(
            f"the demo did not exit within {STOP_S}s of {sig.name}:\n{''.join(demo.output)}"
        ) from None
    exited = time.monotonic() - t0
    assert code == expected_code, (code, "".join(demo.output))
    if sig != signal.SIGKILL:
        # the demo waits for its watcher, which waits for everything: nothing may be left now
        # (a second of slack for the last exits to be collected)
        deadline = 1.0
    else:
        deadline = max(1.0, STOP_S - exited)  # the watcher stops everything on its own
    try:
        wait_until(lambda: not demo.left(groups), timeout=deadline, interval=0.2, what="no process")
    except TimeoutError:
        raise AssertionError(
            f"{sig.name}: still running {time.monotonic() - t0:.1f}s later:\n"
            + "\n".join(demo.left(groups))
            + f"\n{''.join(demo.output)}"
        ) from None
    gone = time.monotonic() - t0
    wait_until(
        lambda: not list(demo.runtime.glob("jpserver-*.json")),
        timeout=5,
        what="JupyterLab to have removed its runtime file (a clean stop)",
    )
    return {"demo_exited_s": round(exited, 2), "all_gone_s": round(gone, 2)}


@pytest.mark.parametrize(
    ("sig", "code"),
    [
        (signal.SIGINT, 0),
        (signal.SIGTERM, 128 + signal.SIGTERM),
        (signal.SIGHUP, 128 + signal.SIGHUP),
        (signal.SIGKILL, -signal.SIGKILL),
    ],
    ids=lambda v: v.name if isinstance(v, signal.Signals) else None,
)
def test_demo_stops_jupyterlab_and_its_kernels(demo, artifacts, sig, code):
    lab = demo.attach()
    kernels = [start_kernel(lab), start_kernel(lab)]
    # a kernel that started a process of its own (as a worker pool or a subprocess would)
    probe = wait_until(lambda: lab.probe(kernels[0]), timeout=120, what="a kernel client")
    worker = int(
        probe.execute("import subprocess; _w = subprocess.Popen(['sleep', '600'])", pid="_w.pid")[
            "pid"
        ]
    )
    probe.close()
    # the server: `python -m jupyterlab ...` somewhere under the demo (not its watcher, whose
    # arguments hold that command line too)
    server = wait_until(
        lambda: [
            p
            for p in demo.snapshot().values()
            if "jupyterlab" in p.cmdline() and "--_supervise" not in p.cmdline()
        ],
        timeout=30,
        what="the server process",
    )[0]
    kernel_procs = wait_until(
        lambda: (
            (ks := [p for p in server.children() if "ipykernel" in " ".join(p.cmdline())])
            and len(ks) == 2
            and ks
        ),
        timeout=120,
        what="both kernels' processes",
    )
    assert worker in demo.snapshot(), (worker, sorted(demo.known))
    # the kernels run in process groups of their own, not the server's
    assert {os.getpgid(k.pid) for k in kernel_procs}.isdisjoint({os.getpgid(server.pid)})

    timings = stop_and_check(demo, sig, code)
    (artifacts / "timings.json").write_text(json.dumps(timings, indent=2))


def test_demo_serves_the_quickstart_and_it_works(demo, notebook, page, artifacts):
    t0, timings = time.monotonic(), {}

    def lap(name: str) -> None:
        timings[name] = round(time.monotonic() - t0, 2)

    m = demo.wait_for_url()
    lap("url_printed")
    url, port, path, token = m.groups()
    assert int(port) == demo.port and path == QUICKSTART and len(token) >= 32
    out = "".join(demo.output)
    assert "127.0.0.1 only" in out

    # the printed URL (with its token) opens the quickstart notebook
    lab = JupyterLab.attach(f"http://127.0.0.1:{port}", token, demo.notebooks, demo.runtime)
    # no "Jupyter news?" toast: the demo's default for the notification plugin
    news = lab.request("lab/api/settings/@jupyterlab/apputils-extension:notification")
    assert news["schema"]["properties"]["fetchNews"]["default"] == "false", news["schema"]
    nb = notebook.open(QUICKSTART, lab=lab, url=url)
    expect(page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) h1").first).to_contain_text(
        "Quickstart"
    )
    lap("notebook_open")
    nb.run_all(timeout=240)
    lap("run_all_done")
    # the notebook's own matrix comes first; explore() shows a second one further down
    root = page.locator('[data-testid="nbdiag-confusion-matrix"][data-ready="1"]').first
    expect(root).to_be_visible(timeout=60_000)
    assert nb.probe.eval("ev.accuracy") > 0.9

    # click the most frequent confusion; the kernel gets exactly its samples, most confident first
    t, p = nb.probe.eval(
        "[int(v) for v in __import__('numpy').unravel_index("
        "(ev.confusion_matrix().to_numpy() * (1 - __import__('numpy').eye(10))).argmax(), (10, 10))]"
    )
    want = nb.probe.eval(f"[int(i) for i in ev.samples_in_cell({t}, {p}).index]")
    cell = root.get_by_test_id(f"cm-cell-{t}-{p}")
    cell.scroll_into_view_if_needed()
    cell.click()
    got = nb.probe.wait_for(
        "[int(i) for i in cm.selected.index]", lambda ids: ids == want, timeout=30
    )
    assert got == want
    lap("click_to_kernel")
    root.screenshot(path=str(artifacts / "quickstart_confusion_matrix.png"))

    # Ctrl+C: the demo stops JupyterLab, the notebook's kernel (still running) and itself
    nb.probe.close()
    nb._probe = None  # closed: the teardown must not close it again
    demo.snapshot()
    assert any("ipykernel" in " ".join(p.cmdline()) for p in demo.known.values() if _running(p))
    timings.update(stop_and_check(demo, signal.SIGINT, 0))
    lap("stopped")
    (artifacts / "timings.json").write_text(json.dumps(timings, indent=2))
    # the committed notebooks were not touched
    assert {p.name: p.read_bytes() for p in EXAMPLES.glob("*.ipynb")} == demo.committed
