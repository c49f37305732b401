#!/usr/bin/env python
"""nbdiag's demo: JupyterLab on the example notebooks, or the notebooks run headless.

    python scripts/demo.py                # JupyterLab on 127.0.0.1; prints the URL (with token)
    python scripts/demo.py --port 8899    # a given port
    python scripts/demo.py --headless     # execute every example notebook; exit 1 on any error

``make demo`` and ``make demo ARGS=--headless`` call this after setting up ``.venv``.

JupyterLab only listens on loopback, keeps its token, and is started with everything that would
call the outside world turned off (news, update checks, the extension manager's PyPI listing).
Headless mode runs copies of the notebooks in a temporary directory: the committed notebooks are
never rewritten.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = REPO / "example_notebooks"
DEFAULT_PORT = 8888
# the "get notified about Jupyter news?" toast stays even with news_url=None; this default hides it
_NO_NEWS = {"@jupyterlab/apputils-extension:notification": {"fetchNews": "false"}}


# ----------------------------------------------------------------------------- shared
def find_notebooks(directory: Path) -> list[Path]:
    """The notebooks of ``directory``, sorted by name (checkpoints left out)."""
    return sorted(p for p in directory.glob("*.ipynb") if not p.name.startswith("."))


def kernel_env() -> dict[str, str]:
    """The environment for Jupyter and its kernels: this checkout's nbdiag is importable even
    when it was not installed (``make demo`` installs it in editable mode anyway)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env.setdefault("JUPYTER_PLATFORM_DIRS", "1")  # silences a jupyter_core deprecation warning
    return env


# ----------------------------------------------------------------------------- headless
@dataclass
class NotebookFailure(Exception):
    """A cell of a notebook raised (or timed out)."""

    notebook: str
    cell: int  # 1-based, counting every cell (markdown too), as shown top to bottom in Lab
    source: str
    error: str

    def __str__(self) -> str:
        first_line = next((ln for ln in self.source.splitlines() if ln.strip()), "")
        return (
            f"{self.notebook}: cell {self.cell} failed (`{first_line[:60]}`)\n{self.error.rstrip()}"
        )


def execute_notebook(
    path: Path,
    *,
    timeout: int = 300,
    extra_cells: list[str] | tuple[str, ...] = (),
    workdir: Path | None = None,
):
    """Execute a copy of ``path`` (with ``extra_cells`` appended) in a scratch directory that
    also holds copies of its neighbours. Returns the executed notebook (an ``nbformat`` node).

    Raises :class:`NotebookFailure` naming the cell when one raises or runs longer than
    ``timeout`` seconds.
    """
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    nb = nbformat.read(path, as_version=4)
    for src in extra_cells:
        nb.cells.append(nbformat.v4.new_code_cell(src))
    with tempfile.TemporaryDirectory(prefix="nbdiag-demo-") as tmp:
        run_dir = Path(workdir or tmp) / path.parent.name
        shutil.copytree(
            path.parent,
            run_dir,
            ignore=shutil.ignore_patterns(".ipynb_checkpoints", "*.ipynb"),
            dirs_exist_ok=True,
        )
        current = {"index": -1}

        def on_cell_start(cell: Any, cell_index: int) -> None:
            current["index"] = cell_index

        kernel_name = nb.metadata.get("kernelspec", {}).get("name", "python3")
        client = NotebookClient(
            nb,
            timeout=timeout,
            kernel_name=kernel_name,
            km=_kernel_manager(kernel_name, run_dir),
            resources={"metadata": {"path": str(run_dir)}},
            on_cell_start=on_cell_start,
        )
        env = kernel_env()
        try:
            client.execute(env=env, cwd=str(run_dir))
        except (CellExecutionError, CellTimeoutError, DeadKernelError) as exc:
            i = current["index"]
            source = nb.cells[i].source if 0 <= i < len(nb.cells) else ""
            if isinstance(exc, CellTimeoutError):
                error = f"timed out after {timeout}s"
            elif isinstance(exc, DeadKernelError):
                error = f"the kernel died: {exc}"
            else:
                error = _error_text(nb.cells[i]) if 0 <= i < len(nb.cells) else str(exc)
            raise NotebookFailure(path.name, i + 1, source, error) from None
    return nb


def _kernel_manager(kernel_name: str, run_dir: Path):
    """Unix sockets in the scratch dir where possible (nothing listens on a port, and ipykernel
    does not warn about unencrypted TCP); loopback TCP otherwise."""
    from jupyter_client import KernelManager

    ipc = run_dir / ".kernel-ipc"
    if os.name == "posix" and len(str(ipc)) < 90:  # unix socket paths are limited to ~104 bytes
        return KernelManager(kernel_name=kernel_name, transport="ipc", ip=str(ipc))
    return KernelManager(kernel_name=kernel_name)


def _error_text(cell: Any) -> str:
    import re

    for out in cell.get("outputs", []):
        if out.get("output_type") == "error":
            tb = "\n".join(out.get("traceback", []))
            return re.sub(r"\x1b\[[0-9;]*m", "", tb)  # no terminal colours in the report
    return "(no error output)"


def run_headless(directory: Path, timeout: int, output_dir: Path | None) -> int:
    import nbformat

    notebooks = find_notebooks(directory)
    if not notebooks:
        print(f"no notebooks in {directory}", file=sys.stderr)
        return 1
    print(f"executing {len(notebooks)} notebook(s) from {directory} (cell timeout {timeout}s)")
    failures: list[NotebookFailure] = []
    t_all = time.perf_counter()
    for path in notebooks:
        t0 = time.perf_counter()
        try:
            nb = execute_notebook(path, timeout=timeout)
        except NotebookFailure as failure:
            failures.append(failure)
            print(f"FAIL {path.name}  {time.perf_counter() - t0:6.1f}s", flush=True)
            print("     " + str(failure).replace("\n", "\n     "), flush=True)
            continue
        print(f"ok   {path.name}  {time.perf_counter() - t0:6.1f}s", flush=True)
        if output_dir is not None:
            output_dir.mkdir(parents=True, exist_ok=True)
            nbformat.write(nb, output_dir / path.name)
    total = time.perf_counter() - t_all
    if failures:
        names = ", ".join(f"{f.notebook} (cell {f.cell})" for f in failures)
        print(f"{len(failures)} of {len(notebooks)} notebook(s) failed in {total:.1f}s: {names}")
        return 1
    print(f"all {len(notebooks)} notebook(s) ran clean in {total:.1f}s")
    return 0


# ----------------------------------------------------------------------------- JupyterLab
def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def pick_port(requested: int | None) -> int:
    if requested is not None:
        if not _port_free(requested):
            raise SystemExit(f"port {requested} on 127.0.0.1 is in use; pick another with --port")
        return requested
    for port in range(DEFAULT_PORT, DEFAULT_PORT + 12):
        if _port_free(port):
            return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _app_settings_dir(scratch: Path) -> Path:
    """A copy of JupyterLab's app settings dir (page_config, overrides) plus our defaults.
    The user's own settings are untouched and still win."""
    from jupyterlab.commands import get_app_dir

    src = Path(get_app_dir()) / "settings"
    dst = scratch / "app-settings"
    if src.is_dir():
        shutil.copytree(src, dst)
    (dst / "overrides.d").mkdir(parents=True, exist_ok=True)
    (dst / "overrides.d" / "nbdiag-demo.json").write_text(json.dumps(_NO_NEWS))
    return dst


def _wait_until_up(proc: subprocess.Popen[bytes], base: str, token: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    req = urllib.request.Request(f"{base}/api/status", headers={"Authorization": f"token {token}"})
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"JupyterLab exited with code {proc.returncode} (see its log above)")
        try:
            with urllib.request.urlopen(req, timeout=2):
                return
        except OSError:
            time.sleep(0.3)
    raise SystemExit(f"JupyterLab did not answer on {base} within {timeout:.0f}s")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM JupyterLab (it shuts its kernels down); SIGKILL its own group after 15 s."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)


def run_lab(directory: Path, port: int | None, open_browser: bool) -> int:
    try:
        import jupyterlab  # noqa: F401
    except ImportError:
        print(
            "JupyterLab is not installed: pip install 'nbdiag[lab]' (or run `make demo`)",
            file=sys.stderr,
        )
        return 1
    notebooks = find_notebooks(directory)
    port = pick_port(port)
    token = secrets.token_hex(24)
    base = f"http://127.0.0.1:{port}"
    first = f"/lab/tree/{notebooks[0].name}" if notebooks else "/lab"
    with tempfile.TemporaryDirectory(prefix="nbdiag-demo-") as scratch:
        cmd = [
            sys.executable,
            "-m",
            "jupyterlab",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={port}",
            "--ServerApp.port_retries=0",
            f"--ServerApp.root_dir={directory}",
            f"--ServerApp.default_url={first}",
            f"--IdentityProvider.token={token}",
            f"--ServerApp.open_browser={open_browser}",
            # nothing from the outside: no news, no update check, no extension listing
            "--LabApp.news_url=None",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            "--LabApp.extension_manager=readonly",
            f"--LabApp.app_settings_dir={_app_settings_dir(Path(scratch))}",
        ]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            cmd.append("--allow-root")  # Jupyter refuses to start as root otherwise
        # own session: Ctrl+C reaches this script, which stops Jupyter without its y/n prompt
        proc = subprocess.Popen(cmd, cwd=directory, env=kernel_env(), start_new_session=True)
        try:
            _wait_until_up(proc, base, token, timeout=120)
            url = f"{base}{first}?token={token}"
            bar = "=" * min(100, len(url) + 4)
            print(
                f"\n{bar}\n  nbdiag demo: JupyterLab is running on {directory}\n"
                f"  open this URL in your browser:\n\n  {url}\n\n"
                f"  (listening on 127.0.0.1 only; Ctrl+C stops it)\n{bar}\n",
                flush=True,
            )
            return proc.wait()
        except KeyboardInterrupt:
            print("\nstopping JupyterLab …", flush=True)
            return 0
        finally:
            _stop(proc)


# ----------------------------------------------------------------------------- CLI
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="nbdiag demo: JupyterLab on the example notebooks (default), or run them "
        "headless with --headless.",
    )
    parser.add_argument(
        "--headless",
        action="store_true",
        help="execute every notebook (sorted) and exit; non-zero on any error",
    )
    parser.add_argument(
        "--port",
        type=int,
        default=None,
        help=f"JupyterLab port on 127.0.0.1 (default: {DEFAULT_PORT} or the next free one)",
    )
    parser.add_argument(
        "--no-browser",
        action="store_true",
        help="do not try to open a web browser (only the URL is printed)",
    )
    parser.add_argument(
        "--notebooks",
        type=Path,
        default=NOTEBOOKS,
        help="directory of notebooks (default: example_notebooks/)",
    )
    parser.add_argument(
        "--timeout",
        type=int,
        default=300,
        help="--headless: seconds a single cell may run (default: 300)",
    )
    parser.add_argument(
        "--output-dir",
        type=Path,
        default=None,
        help="--headless: also write the executed notebooks here",
    )
    args = parser.parse_args(argv)
    directory = args.notebooks.resolve()
    if not directory.is_dir():
        parser.error(f"--notebooks: {directory} is not a directory")
    if args.headless:
        return run_headless(directory, args.timeout, args.output_dir)
    has_display = sys.platform in ("darwin", "win32") or bool(
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    )
    return run_lab(directory, args.port, open_browser=has_display and not args.no_browser)


if __name__ == "__main__":
    sys.exit(main())
