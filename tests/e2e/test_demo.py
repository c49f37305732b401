"""``make demo`` for real: scripts/demo.py starts JupyterLab on loopback and prints a URL; that
URL opens the quickstart notebook, which runs in the browser, and a click on its confusion
matrix comes back to the kernel. Ctrl+C stops everything."""

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
from pathlib import Path

import pytest
from playwright.sync_api import expect

from .harness import REPO, JupyterLab, free_port, wait_until

DEMO = REPO / "scripts" / "demo.py"
EXAMPLES = REPO / "example_notebooks"
QUICKSTART = "01_quickstart_digits.ipynb"
URL_RE = re.compile(r"(http://127\.0\.0\.1:(\d+)/lab/tree/(\S+)\?token=(\w+))")


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
            start_new_session=True,  # SIGINT goes to the demo only, as Ctrl+C would
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.output: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.output.append(line)
            self.lines.put(line)

    def wait_for_url(self, timeout: float = 120) -> re.Match[str]:
        def url():
            if self.proc.poll() is not None:
                raise AssertionError(f"demo exited early:\n{''.join(self.output)}")
            while not self.lines.empty():
                m = URL_RE.search(self.lines.get_nowait())
                if m:
                    return m
            return None

        return wait_until(url, timeout=timeout, interval=0.2, what="the demo's URL")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)
        # JupyterLab runs in its own session: if the demo could not stop it, do it here
        for info in self.runtime.glob("jpserver-*.json"):
            pid = int(info.stem.split("-")[1])
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass


@pytest.fixture()
def demo(tmp_path: Path, artifacts: Path):
    proc = DemoProcess(tmp_path)
    try:
        yield proc
    finally:
        proc.stop()
        (artifacts / "demo_output.log").write_text("".join(proc.output))


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

    # Ctrl+C: the demo stops JupyterLab and exits cleanly
    nb.close()
    demo.proc.send_signal(signal.SIGINT)
    assert demo.proc.wait(timeout=30) == 0, "".join(demo.output)
    wait_until(
        lambda: not list(demo.runtime.glob("jpserver-*.json")),
        timeout=15,
        what="JupyterLab to remove its runtime file",
    )
    lap("stopped")
    (artifacts / "timings.json").write_text(json.dumps(timings, indent=2))
    # the committed notebooks were not touched
    assert {p.name: p.read_bytes() for p in EXAMPLES.glob("*.ipynb")} == demo.committed
