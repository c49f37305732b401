"""The real-browser harness: JupyterLab on 127.0.0.1, notebooks driven through its UI, a second
client on a notebook's kernel. The fixtures in ``conftest.py`` wrap it; the notes in
``shared/notes/browser-e2e.md`` explain every choice (flags, settings, waits)."""

from __future__ import annotations

import ast
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import nbformat

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
CHROMIUM = os.environ.get("E2E_CHROMIUM", "/usr/bin/chromium")
# what works headless on these machines (see shared/notes/browser-e2e.md): WebGL via SwiftShader,
# and no call to any Google service
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(os.environ.get("E2E_ARTIFACTS", HERE / "artifacts"))
KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
VIEWPORT = {"width": 1400, "height": 1000}


# ----------------------------------------------------------------------------- small helpers
def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(
    pred: Callable[[], Any], timeout: float, interval: float = 0.1, what: str = "condition"
):
    """Call ``pred`` until it returns something truthy (exceptions count as "not yet")."""
    t_end = time.monotonic() + timeout
    last_exc: BaseException | None = None
    while True:
        try:
            value = pred()
            if value:
                return value
        except Exception as e:
            last_exc = e
        if time.monotonic() >= t_end:
            raise TimeoutError(
                f"timed out after {timeout}s waiting for {what} (last error: {last_exc!r})"
            )
        time.sleep(interval)


def artifact_dir(node_name: str) -> Path:
    d = ARTIFACTS / re.sub(r"[^\w.-]+", "_", node_name).strip("_")
    d.mkdir(parents=True, exist_ok=True)
    return d


class NotebookError(AssertionError):
    """A notebook cell failed (or never finished) while the test ran it in JupyterLab."""


# ----------------------------------------------------------------------------- kernel probe
class KernelProbe:
    """A second client on a notebook's kernel (like ``jupyter console --existing``).

    Requests queue behind the notebook's own cells; the kernel serves widget (comm) messages
    between requests, so polling with :meth:`wait_for` lets the browser's messages land.
    """

    def __init__(self, connection_file: Path):
        from jupyter_client import BlockingKernelClient

        self.kc = BlockingKernelClient(connection_file=str(connection_file))
        self.kc.load_connection_file()
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=60)

    def execute(self, code: str, timeout: float = 60, **expressions: str) -> dict[str, str]:
        """Run ``code``; return the ``text/plain`` repr of each keyword expression."""
        stream: list[str] = []

        def on_output(msg: dict[str, Any]) -> None:
            if msg["msg_type"] == "stream":
                stream.append(msg["content"]["text"])

        reply = self.kc.execute_interactive(
            code,
            user_expressions=expressions,
            store_history=False,
            silent=False,
            allow_stdin=False,
            output_hook=on_output,
            timeout=timeout,
        )
        content = reply["content"]
        if content["status"] != "ok":
            raise RuntimeError(
                f"probe code failed: {content.get('ename')}: {content.get('evalue')}\n"
                + "\n".join(content.get("traceback", []))
            )
        out = {}
        for name, value in content["user_expressions"].items():
            if value["status"] != "ok":
                raise RuntimeError(
                    f"probe expression {name}={expressions[name]!r} failed: "
                    f"{value.get('ename')}: {value.get('evalue')}"
                )
            out[name] = value["data"]["text/plain"]
        return out

    def eval(self, expr: str, timeout: float = 60) -> Any:
        """Evaluate ``expr`` in the kernel; its value comes back through JSON."""
        wrapped = f"__import__('json').dumps({expr}, default=str)"
        text = self.execute("", timeout=timeout, value=wrapped)["value"]
        return json.loads(ast.literal_eval(text))

    def wait_for(
        self,
        expr: str,
        pred: Callable[[Any], bool] = bool,
        timeout: float = 30,
        interval: float = 0.2,
    ) -> Any:
        """Poll ``expr`` until ``pred(value)``; returns the value."""
        last: list[Any] = []

        def check():
            value = self.eval(expr)
            last[:] = [value]
            return (value,) if pred(value) else None

        try:
            return wait_until(check, timeout=timeout, interval=interval, what=expr)[0]
        except TimeoutError as e:
            raise TimeoutError(f"{e}; last value: {last[0] if last else '<none>'!r}") from None

    def close(self) -> None:
        self.kc.stop_channels()


# ----------------------------------------------------------------------------- the server
class JupyterLab:
    """A JupyterLab server started for the test session."""

    #: the venv's console script that starts this front end's server
    app_script = "jupyter-lab"

    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.root = workdir / "root"
        self.jdirs = workdir / "jupyter"
        self.runtime = self.jdirs / "runtime"
        self.log_path = workdir / "jupyter.log"
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.token = secrets.token_hex(16)
        self.proc: subprocess.Popen[bytes] | None = None
        self.startup_s = 0.0

    @classmethod
    def attach(cls, base: str, token: str, root: Path, runtime: Path) -> JupyterLab:
        """A server started by someone else (e.g. ``scripts/demo.py``): REST, notebooks and
        kernel probes work; ``start``/``stop`` are not for it."""
        lab = cls.__new__(cls)
        lab.workdir = lab.jdirs = None  # type: ignore[assignment]
        lab.root, lab.runtime, lab.base, lab.token = root, runtime, base, token
        lab.port = int(base.rsplit(":", 1)[1])
        lab.log_path = runtime / "<no log>"
        lab.proc, lab.startup_s = None, 0.0
        return lab

    # -- lifecycle
    def start(self, timeout: float = 90) -> None:
        self.root.mkdir(parents=True)
        for d in ("config", "data", "runtime", "ipython", "workspaces", "settings", "app-settings"):
            (self.jdirs / d).mkdir(parents=True)
        # no "get notified about Jupyter news?" toast (news_url=None alone does not hide it)
        notif = self.jdirs / "settings" / "@jupyterlab" / "apputils-extension"
        notif.mkdir(parents=True)
        (notif / "notification.jupyterlab-settings").write_text(json.dumps({"fetchNews": "false"}))

        env = dict(os.environ)
        env.update(
            JUPYTER_CONFIG_DIR=str(self.jdirs / "config"),
            JUPYTER_DATA_DIR=str(self.jdirs / "data"),  # the venv's share/jupyter is still read
            JUPYTER_RUNTIME_DIR=str(self.runtime),
            JUPYTER_PLATFORM_DIRS="1",
            IPYTHONDIR=str(self.jdirs / "ipython"),
            PYTHONUNBUFFERED="1",
            # the kernel imports nbdiag from this checkout even if it is not installed
            PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
            # kernels on a 2-core machine: don't oversubscribe
            OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "1"),
        )
        cmd = [
            str(Path(sys.executable).parent / self.app_script),
            "--no-browser",
            f"--IdentityProvider.token={self.token}",
            "--ServerApp.password=",
            "--ip=127.0.0.1",
            f"--port={self.port}",
            "--ServerApp.port_retries=0",
            f"--ServerApp.root_dir={self.root}",
            f"--LabApp.workspaces_dir={self.jdirs / 'workspaces'}",
            f"--LabApp.user_settings_dir={self.jdirs / 'settings'}",
            # nothing from the outside: no news, no update check, no extension listing
            "--LabApp.news_url=None",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            "--LabApp.extension_manager=readonly",
            *self.app_args(),
        ]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            cmd.append("--allow-root")  # the server refuses to run as root otherwise
        self._log = open(self.log_path, "wb")
        t0 = time.monotonic()
        self.proc = subprocess.Popen(
            cmd,
            cwd=self.root,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: pgid == pid
        )

        def up():
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"{self.app_script} exited with {self.proc.returncode}:\n{self.log_tail()}"
                )
            return self.api("status")

        try:
            wait_until(up, timeout=timeout, interval=0.2, what="jupyter server /api/status")
        except TimeoutError as e:
            raise RuntimeError(f"{e}\n{self.log_tail()}") from None
        except RuntimeError:
            raise
        self.startup_s = time.monotonic() - t0

    def app_args(self) -> list[str]:
        """Command-line flags of this front end's app, after the shared ones."""
        return []

    def stop(self) -> None:
        """SIGTERM the server (it shuts its kernels down); SIGKILL its own group after 15 s."""
        proc = self.proc
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)
        if getattr(self, "_log", None):
            self._log.close()

    def log_tail(self, n: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-n:]
        except OSError:
            return "<no server log>"

    # -- REST
    def api(self, path: str, method: str = "GET", timeout: float = 10) -> Any:
        """JSON from the server's REST API (``/api/<path>``), authenticated by the token."""
        return self.request(f"api/{path}", method=method, timeout=timeout)

    def request(self, path: str, method: str = "GET", timeout: float = 10) -> Any:
        """JSON from any server path (e.g. ``lab/api/settings/...``)."""
        req = urllib.request.Request(
            f"{self.base}/{path.lstrip('/')}",
            method=method,
            headers={"Authorization": f"token {self.token}"},
        )
        with urllib.request.urlopen(req, timeout=timeout) as r:
            body = r.read()
        return json.loads(body) if body else None

    def url(self, path: str, **query: str) -> str:
        q = "&".join([*(f"{k}={v}" if v else k for k, v in query.items()), f"token={self.token}"])
        return f"{self.base}/{path.lstrip('/')}?{q}"

    def notebook_url(self, nb_path: str) -> str:
        """Where the UI opens ``nb_path``: in its own workspace (a clean layout per test)."""
        workspace = "e2e-" + re.sub(r"[^\w-]+", "-", nb_path)
        return self.url(f"lab/workspaces/{workspace}/tree/{nb_path}", reset="")

    def session_for(self, nb_path: str) -> dict[str, Any] | None:
        for s in self.api("sessions"):
            if s["path"] == nb_path and s.get("kernel"):
                return s
        return None

    def kernel_state(self, kernel_id: str) -> str:
        return self.api(f"kernels/{kernel_id}")["execution_state"]

    def shutdown_session(self, nb_path: str) -> None:
        try:
            s = self.session_for(nb_path)
            if s:
                self.api(f"sessions/{s['id']}", method="DELETE", timeout=30)
        except (urllib.error.URLError, OSError):
            pass  # the server is gone already

    # -- notebooks and kernels
    def write_notebook(self, name: str, cells: Iterable[str | tuple[str, str]]) -> Path:
        """Write a notebook (kernelspec set, so Lab asks nothing). A cell is code, or
        ``("markdown", text)``."""
        nb = nbformat.v4.new_notebook()
        nb.metadata["kernelspec"] = dict(KERNELSPEC)
        nb.metadata["language_info"] = {"name": "python"}
        for cell in cells:
            if isinstance(cell, tuple):
                kind, src = cell
                nb.cells.append(
                    nbformat.v4.new_markdown_cell(src)
                    if kind == "markdown"
                    else nbformat.v4.new_code_cell(src)
                )
            else:
                nb.cells.append(nbformat.v4.new_code_cell(cell))
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, path)
        return path

    def probe(self, kernel_id: str) -> KernelProbe:
        return KernelProbe(self.runtime / f"kernel-{kernel_id}.json")


class Notebook7(JupyterLab):
    """A Jupyter Notebook 7 server (``jupyter notebook``) started for the test session: the same
    Jupyter server, flags and isolated dirs as :class:`JupyterLab`; notebooks open at
    ``/notebooks/<path>``, one per browser tab, in Notebook 7's single-document UI (built from
    JupyterLab's components: the same notebook panel, cells, execution indicator and Run menu,
    so :class:`Notebook` drives it unchanged)."""

    app_script = "jupyter-notebook"

    def app_args(self) -> list[str]:
        # the jupyterlab server extension still loads (its --LabApp flags above apply to it);
        # these are the same isolated dirs for the notebook app itself
        return [
            f"--JupyterNotebookApp.workspaces_dir={self.jdirs / 'workspaces'}",
            f"--JupyterNotebookApp.user_settings_dir={self.jdirs / 'settings'}",
        ]

    def notebook_url(self, nb_path: str) -> str:
        return self.url(f"notebooks/{nb_path}")


# ----------------------------------------------------------------------------- a notebook in the UI
_RUN_STATE_JS = """
(panel) => [...panel.querySelectorAll('.jp-Notebook .jp-CodeCell')].map(c => ({
  prompt: (c.querySelector('.jp-InputPrompt')?.textContent || '').trim(),
  stderr: [...c.querySelectorAll(
    '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]')].map(o => o.textContent),
}))
"""
# an IPython error display (JupyterLab renders it as stderr, like warnings): a traceback whose
# last line names the exception
_TRACEBACK_RE = re.compile(r"(Traceback \(most recent call last\)|Cell In\[\d+\], line)")
_LAST_LINE_RE = re.compile(r"^[A-Za-z_][\w.]*(: .*)?$")


def _cell_error(stderr: list[str]) -> str | None:
    for text in stderr:
        lines = [ln for ln in text.strip().splitlines() if ln.strip()]
        if lines and _TRACEBACK_RE.search(text) and _LAST_LINE_RE.match(lines[-1]):
            return text
    return None


class Notebook:
    """A notebook opened in JupyterLab in its own workspace."""

    def __init__(self, lab: JupyterLab, page, path: str, url: str | None = None):
        from playwright.sync_api import expect

        self.lab, self.page, self.path = lab, page, path
        t0 = time.monotonic()
        page.goto(url or lab.notebook_url(path))
        self.panel = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden)")
        expect(self.panel.locator(".jp-Cell").first).to_be_visible(timeout=90_000)
        session = wait_until(lambda: lab.session_for(path), timeout=60, what=f"a kernel for {path}")
        self.kernel_id: str = session["kernel"]["id"]
        self.wait_idle()
        self.open_s = time.monotonic() - t0
        self._probe: KernelProbe | None = None

    def wait_idle(self, timeout: float = 90) -> None:
        """The kernel is idle for the server (REST) and for the notebook's UI."""
        from playwright.sync_api import expect

        wait_until(
            lambda: self.lab.kernel_state(self.kernel_id) == "idle",
            timeout=timeout,
            interval=0.2,
            what="kernel idle (REST)",
        )
        expect(
            self.panel.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']").first
        ).to_be_attached(timeout=timeout * 1000)

    def run_all(self, timeout: float = 180) -> float:
        """Run > Run All Cells; wait until every code cell ran. Raises NotebookError naming the
        first failing code cell (1-based) with its traceback. Returns the seconds taken.

        Completion is read from the input prompts, so the notebook must start without execution
        counts (as written by ``write_notebook`` and as committed)."""
        t0 = time.monotonic()
        page = self.page
        page.locator(".lm-MenuBar-item", has_text="Run").first.click()
        page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
        handle = self.panel.element_handle()
        cells: list[dict[str, Any]] = []
        stopped_since: tuple[Any, float] | None = None  # (prompts, since) while nothing runs
        while time.monotonic() < t0 + timeout:
            cells = page.evaluate(_RUN_STATE_JS, handle)
            for i, cell in enumerate(cells):
                err = _cell_error(cell["stderr"])
                if err:
                    raise NotebookError(f"{self.path}: code cell {i + 1} failed:\n{err[-3000:]}")
            prompts = [c["prompt"] for c in cells]
            if prompts and all(re.fullmatch(r"\[\d+\]:", p) for p in prompts):
                self.wait_idle()
                return time.monotonic() - t0
            if "[*]:" in prompts:
                stopped_since = None
            elif stopped_since is None or stopped_since[0] != prompts:
                stopped_since = (prompts, time.monotonic())
            elif (
                time.monotonic() - stopped_since[1] > 2.0
                and self.lab.kernel_state(self.kernel_id) == "idle"
            ):
                # Run All stopped early: nothing queued, kernel idle, some cells never ran
                ran = [i for i, p in enumerate(prompts) if re.fullmatch(r"\[\d+\]:", p)]
                last = ran[-1] if ran else 0
                raise NotebookError(
                    f"{self.path}: Run All stopped after code cell {last + 1} (prompts {prompts}); "
                    f"its stderr:\n{''.join(cells[last]['stderr'])[-3000:]}"
                )
            time.sleep(0.2)
        raise NotebookError(
            f"{self.path}: Run All did not finish in {timeout}s; prompts "
            f"{[c['prompt'] for c in cells]}"
        )

    @property
    def probe(self) -> KernelProbe:
        """A second client on this notebook's kernel (opened once, closed with the test)."""
        if self._probe is None:
            self._probe = self.lab.probe(self.kernel_id)
        return self._probe

    def close(self) -> None:
        if self._probe is not None:
            self._probe.close()
            self._probe = None
        self.lab.shutdown_session(self.path)  # free the kernel: 2 cores, many tests


class Notebooks:
    """Factory fixture: ``notebook.open(path)``; closes what it opened after the test."""

    def __init__(self, lab: JupyterLab, page):
        self.lab, self.page = lab, page
        self.opened: list[Notebook] = []

    def open(
        self, path: str | Path, lab: JupyterLab | None = None, url: str | None = None
    ) -> Notebook:
        """Open ``path`` (relative to the server root) in a fresh workspace, or by ``url``."""
        lab = lab or self.lab
        rel = str(Path(path).relative_to(lab.root)) if Path(path).is_absolute() else str(path)
        nb = Notebook(lab, self.page, rel, url=url)
        self.opened.append(nb)
        return nb

    def close_all(self) -> None:
        for nb in self.opened:
            nb.close()
