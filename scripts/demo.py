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
import select
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


def run_lab(directory: Path, port: int | None, open_browser: bool) -> int:
    """JupyterLab until Ctrl+C, SIGTERM or SIGHUP; then it and its kernels stop (bounded time).

    JupyterLab runs under a watcher (this script with ``--_supervise``, see :func:`supervise`)
    that holds the read end of a pipe whose only write end is held here. Stopping is closing
    it: on Ctrl+C, SIGTERM or SIGHUP this process closes it and waits for the watcher; when this
    process dies any other way (SIGKILL included) the operating system closes it. Either way the
    watcher reads end-of-file and stops JupyterLab and every process under it.
    """
    try:
        import jupyterlab  # noqa: F401
    except ImportError:
        print(
            "JupyterLab is not installed: pip install 'nbdiag[lab]' (or run `make demo`)",
            file=sys.stderr,
        )
        return 1
    stop_signals = _StopSignals()  # before anything starts: no window without a handler
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
        read_end, write_end = os.pipe()  # both close-on-exec: only the watcher gets read_end
        watcher: subprocess.Popen[bytes] | None = None
        try:
            # own session: Ctrl+C reaches this script only, which stops Jupyter without its
            # y/n prompt
            watcher = subprocess.Popen(
                [sys.executable, str(Path(__file__).resolve()), SUPERVISE, str(read_end), *cmd],
                cwd=directory,
                env=kernel_env(),
                pass_fds=(read_end,),
                start_new_session=True,
            )
            os.close(read_end)
            read_end = -1
            _wait_until_up(watcher, base, token, timeout=STARTUP_S)
            url = f"{base}{first}?token={token}"
            bar = "=" * min(100, len(url) + 4)
            print(
                f"\n{bar}\n  nbdiag demo: JupyterLab is running on {directory}\n"
                f"  open this URL in your browser:\n\n  {url}\n\n"
                f"  (listening on 127.0.0.1 only; Ctrl+C stops it)\n{bar}\n",
                flush=True,
            )
            return watcher.wait()
        except Stopped as stop:
            _say(f"\n{signal.Signals(stop.signum).name}: stopping JupyterLab …")
            return 0 if stop.signum == signal.SIGINT else 128 + stop.signum
        finally:
            stop_signals.stopping = True  # a second signal must not cut the clean-up short
            if read_end >= 0:
                os.close(read_end)
            os.close(write_end)  # the watcher reads end-of-file and stops everything
            if watcher is not None:
                _wait_for_watcher(watcher)


# ----------------------------------------------------------------------------- stopping, always
#: seconds JupyterLab gets, after SIGTERM, to shut its kernels down by itself
GRACE_S = 20.0
#: seconds for what is left after that (SIGKILLed) to be gone
KILL_WAIT_S = 5.0
#: seconds JupyterLab may take to answer after it was started
STARTUP_S = 180.0
SUPERVISE = "--_supervise"  # internal: run as the watcher of JupyterLab (see `supervise`)
STOP_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)
)


class Stopped(BaseException):
    """Raised by the signal handler: Ctrl+C (SIGINT), SIGTERM or SIGHUP arrived. A
    BaseException, like KeyboardInterrupt: no ``except Exception`` on the way swallows it."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


class _StopSignals:
    """Ctrl+C, SIGTERM and SIGHUP raise :class:`Stopped` (once: later ones are ignored, so they
    cannot interrupt the clean-up, which is bounded anyway)."""

    def __init__(self) -> None:
        self.stopping = False
        for signum in STOP_SIGNALS:
            signal.signal(signum, self._handle)

    def _handle(self, signum: int, frame: Any) -> None:
        if not self.stopping:
            self.stopping = True
            raise Stopped(signum)


def _say(text: str) -> None:
    """Print, unless the terminal is gone (SIGHUP: writing to it fails)."""
    try:
        print(text, flush=True)
    except OSError:
        pass


def _wait_for_watcher(watcher: subprocess.Popen[bytes]) -> None:
    """The watcher stops JupyterLab within GRACE_S + KILL_WAIT_S; should it not, its whole tree
    is killed from here."""
    try:
        watcher.wait(timeout=GRACE_S + KILL_WAIT_S + 10)
    except subprocess.TimeoutExpired:
        tree = ProcessTree(watcher.pid)
        tree.kill(tree.alive(), signal.SIGKILL)
        watcher.kill()
        watcher.wait(timeout=KILL_WAIT_S)
    _say("JupyterLab and its kernels have stopped.")


@dataclass(frozen=True)
class Proc:
    pid: int
    ppid: int
    pgid: int
    start: str  # start time as the OS tells it: a later process with the same pid differs here
    zombie: bool


def processes() -> dict[int, Proc]:
    """Every process of the machine: /proc on Linux, ``ps`` elsewhere."""
    out: dict[int, Proc] = {}
    if os.path.isdir("/proc/self"):
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                with open(f"/proc/{entry.name}/stat", "rb") as f:
                    stat = f.read().decode(errors="replace")
            except OSError:
                continue  # gone meanwhile
            # "pid (comm) state ppid pgrp session tty tpgid flags ... starttime(22nd)";
            # comm may hold spaces and parentheses, hence the last ")"
            fields = stat[stat.rindex(")") + 2 :].split()
            pid = int(entry.name)
            out[pid] = Proc(pid, int(fields[1]), int(fields[2]), fields[19], fields[0] == "Z")
        return out
    ps = subprocess.run(
        ["ps", "-A", "-o", "pid=,ppid=,pgid=,stat=,lstart="],
        capture_output=True,
        text=True,
        check=False,
    )
    for line in ps.stdout.splitlines():
        parts = line.split(None, 4)
        if len(parts) == 5 and parts[0].isdigit():
            pid = int(parts[0])
            out[pid] = Proc(pid, int(parts[1]), int(parts[2]), parts[4], parts[3].startswith("Z"))
    return out


class ProcessTree:
    """The processes under ``root``, remembered after they leave it (an orphan is re-parented
    away from the tree, but it is still the demo's to stop)."""

    def __init__(self, root: int):
        self.root = root
        self.seen: dict[int, Proc] = {}

    def alive(self) -> list[Proc]:
        """Every process seen under the root so far (this call looks again) still running."""
        table = processes()
        children: dict[int, list[int]] = {}
        for p in table.values():
            children.setdefault(p.ppid, []).append(p.pid)
        todo = [self.root]
        while todo:
            for pid in children.get(todo.pop(), ()):
                self.seen[pid] = table[pid]
                todo.append(pid)
        return [
            p
            for p in self.seen.values()
            if (now := table.get(p.pid)) is not None and now.start == p.start and not now.zombie
        ]

    @staticmethod
    def kill(procs: list[Proc], sig: int) -> None:
        """``sig`` to each process and to each process group they lead or belong to (a kernel
        runs in a group of its own; a worker it forked may not have been seen yet)."""
        own = os.getpgrp()
        for group in {p.pgid for p in procs} - {0, 1, own}:
            try:
                os.killpg(group, sig)
            except OSError:
                pass
        for p in procs:
            try:
                os.kill(p.pid, sig)
            except OSError:
                pass


def _become_subreaper() -> None:
    """Linux: processes orphaned under this one (a kernel whose server has exited, a worker
    whose kernel has) are re-parented to it instead of init, so they stay in its tree."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        pass


def _reap(keep: int) -> None:
    """Collect exited children other than ``keep`` (adopted orphans), so none stays a zombie."""
    me = os.getpid()
    for p in processes().values():
        if p.ppid == me and p.zombie and p.pid != keep:
            try:
                os.waitpid(p.pid, os.WNOHANG)
            except ChildProcessError:
                pass


def supervise(fd: int, cmd: list[str]) -> int:
    """The watcher: run JupyterLab (``cmd``) until ``fd`` reads end-of-file, a stop signal
    arrives or JupyterLab exits; then stop JupyterLab and every process under it.

    Why a pipe and a watcher process rather than ``prctl(PR_SET_PDEATHSIG)`` on the server:
    end-of-file on a pipe whose only write end the demo holds arrives however the demo ends
    (a SIGKILL included), on every POSIX system, with no race (a demo that died before the
    watcher started still reads as end-of-file) and no polling; PR_SET_PDEATHSIG is Linux-only,
    fires when the *thread* that forked exits, and reaches only the server, not the kernels it
    started in their own sessions. This watcher does not import Jupyter, so it stays small and
    responsive however busy the server is.

    Stopping: SIGTERM to the server, which shuts its kernels down itself (Jupyter's clean
    exit); after it exits, or after GRACE_S, SIGKILL to whatever is left under this process
    (and to their process groups); at most KILL_WAIT_S more. Returns the server's exit code.
    """
    _become_subreaper()
    requested: list[int] = []
    for signum in STOP_SIGNALS:
        signal.signal(signum, lambda signum, frame: requested.append(signum))
    tree = ProcessTree(os.getpid())
    server = subprocess.Popen(cmd, start_new_session=True)
    try:
        while not requested and server.poll() is None:
            ready, _, _ = select.select([fd], [], [], 0.5)
            if ready and not os.read(fd, 64):
                break  # end-of-file: the demo is stopping, or gone
            tree.alive()  # remember the kernels (and their workers) while they are in the tree
    finally:
        code = _stop_tree(server, tree)
    return code


def _stop_tree(server: subprocess.Popen[bytes], tree: ProcessTree) -> int:
    if server.poll() is None:
        tree.alive()
        try:
            server.send_signal(signal.SIGTERM)  # Jupyter's clean exit: it stops its kernels
        except OSError:
            pass
        deadline = time.monotonic() + GRACE_S
        while server.poll() is None and time.monotonic() < deadline:
            tree.alive()
            _reap(server.pid)
            time.sleep(0.2)
    # JupyterLab has exited (or ran out of time): nothing under it may outlive it
    deadline = time.monotonic() + KILL_WAIT_S
    while (left := tree.alive()) and time.monotonic() < deadline:
        tree.kill(left, signal.SIGKILL)
        _reap(server.pid)
        time.sleep(0.1)
    _reap(server.pid)
    try:
        return server.wait(timeout=1)
    except subprocess.TimeoutExpired:
        return 1


# ----------------------------------------------------------------------------- CLI
def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == [SUPERVISE]:  # internal: the watcher run_lab() starts (fd, JupyterLab's cmd)
        return supervise(int(argv[1]), argv[2:])
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
        # SIGTERM / SIGHUP stop it like Ctrl+C: nbclient shuts the running kernel down
        for signum in STOP_SIGNALS:
            signal.signal(signum, signal.default_int_handler)
        return run_headless(directory, args.timeout, args.output_dir)
    has_display = sys.platform in ("darwin", "win32") or bool(
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    )
    return run_lab(directory, args.port, open_browser=has_display and not args.no_browser)


if __name__ == "__main__":
    sys.exit(main())
