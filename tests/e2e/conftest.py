"""Real-browser test harness: JupyterLab on 127.0.0.1 driven by Playwright with Debian's Chromium.

One JupyterLab server and one Chromium per test session; one page (and one notebook) per test.

- ``lab``: the server (free port, temp root dir, isolated ``JUPYTER_*`` dirs, a random token,
  nothing fetched from the outside). ``lab.write_notebook(name, cells)`` puts a notebook in its
  root; ``lab.probe(kernel_id)`` opens a second client on a notebook's kernel.
- ``page``: a fresh page with console capture. Its artifacts (final screenshot, browser console,
  server log tail on failure) go to ``tests/e2e/artifacts/<test-name>/``.
- ``notebook``: ``nb = notebook.open(name)`` opens a notebook in its own workspace, waits for the
  kernel (REST and UI); ``nb.run_all()`` runs every cell through the Run menu and raises
  :class:`NotebookError` naming the first failing cell.
- ``notebook7``, ``nb7_page``, ``nb7_notebook``: the same for Jupyter Notebook 7 (its own server,
  started only when a test asks for it; notebooks open at ``/notebooks/<path>``).

Environment: ``E2E_CHROMIUM`` (default ``/usr/bin/chromium``), ``E2E_ARTIFACTS`` (default
``tests/e2e/artifacts``), ``E2E_HEADED=1`` to watch the browser.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from .harness import (
    CHROMIUM,
    CHROMIUM_ARGS,
    HERE,
    VIEWPORT,
    JupyterLab,
    Notebook7,
    Notebooks,
    artifact_dir,
)


# ----------------------------------------------------------------------------- pytest plumbing
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Every test under tests/e2e is an ``e2e`` test (run alone with ``-m e2e``)."""
    for item in items:
        if HERE in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.e2e)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):
    """Keep each phase's report on the item so fixtures know whether the test failed."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


def _failed(node: pytest.Item) -> bool:
    return any(
        getattr(getattr(node, f"rep_{when}", None), "failed", False) for when in ("setup", "call")
    )


# ----------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory):
    """JupyterLab on 127.0.0.1 for the whole session."""
    server = JupyterLab(tmp_path_factory.mktemp("lab"))
    try:
        server.start()
        print(
            f"\n[e2e] JupyterLab up on {server.base} in {server.startup_s:.1f}s "
            f"(pid {server.proc.pid})"
        )
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def browser(tmp_path_factory: pytest.TempPathFactory):
    """One headless Chromium (Debian's, never a downloaded one) for the session."""
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"Chromium not found at {CHROMIUM}: install it (`make setup-test`) or set "
            "E2E_CHROMIUM to a Chromium binary",
            pytrace=False,
        )
    from playwright.sync_api import sync_playwright

    home = tmp_path_factory.mktemp("browser-home")
    (home / "tmp").mkdir()
    env = dict(os.environ, HOME=str(home), TMPDIR=str(home / "tmp"))
    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM,
            headless=os.environ.get("E2E_HEADED") != "1",
            args=CHROMIUM_ARGS,
            env=env,
        )
        try:
            yield b
        finally:
            b.close()


@pytest.fixture(scope="session")
def browser_context(browser):
    """One context for the session: JupyterLab's static assets are cached after the first test.
    Every test still gets its own page and its own Lab workspace."""
    ctx = browser.new_context(viewport=VIEWPORT)
    yield ctx
    ctx.close()


@pytest.fixture()
def artifacts(request: pytest.FixtureRequest) -> Path:
    """``tests/e2e/artifacts/<test-name>/`` (screenshots, logs)."""
    return artifact_dir(request.node.name)


@pytest.fixture()
def page(browser_context, request: pytest.FixtureRequest, artifacts: Path, lab: JupyterLab):
    """A fresh page; console captured; final screenshot + console log (and, on failure, the
    server log tail) saved in the test's artifact dir."""
    yield from _page(browser_context, request, artifacts, lab)


def _page(browser_context, request: pytest.FixtureRequest, artifacts: Path, lab: JupyterLab):
    pg = browser_context.new_page()
    pg.set_default_timeout(60_000)
    console: list[str] = []
    pg.on("console", lambda m: console.append(f"{m.type}: {m.text}"))
    pg.on("pageerror", lambda e: console.append(f"pageerror: {e}"))
    pg.console_messages = console  # for tests asserting on console errors
    yield pg
    failed = _failed(request.node)
    try:
        pg.screenshot(
            path=str(artifacts / ("failure.png" if failed else "final.png")), full_page=True
        )
    except Exception as e:
        console.append(f"[harness] screenshot failed: {e}")
    (artifacts / "browser_console.log").write_text("\n".join(console) + "\n")
    if failed:
        (artifacts / "jupyter_server.log").write_text(lab.log_tail(20_000))
    pg.close()


@pytest.fixture()
def notebook(lab: JupyterLab, page):
    """Open notebooks in the test's page; their kernels are shut down after the test."""
    factory = Notebooks(lab, page)
    yield factory
    factory.close_all()


# ----------------------------------------------------------------------------- Notebook 7
@pytest.fixture(scope="session")
def notebook7(tmp_path_factory: pytest.TempPathFactory):
    """Jupyter Notebook 7 (``jupyter notebook``) on 127.0.0.1 for the whole session: the same
    flags and isolated dirs as ``lab``. Started only by tests that use it."""
    server = Notebook7(tmp_path_factory.mktemp("notebook7"))
    try:
        server.start()
        print(
            f"\n[e2e] Jupyter Notebook 7 up on {server.base} in {server.startup_s:.1f}s "
            f"(pid {server.proc.pid})"
        )
        yield server
    finally:
        server.stop()


@pytest.fixture()
def nb7_page(browser_context, request: pytest.FixtureRequest, artifacts: Path, notebook7):
    """``page`` for Notebook 7 tests (the server log on failure is Notebook 7's; no JupyterLab
    server is started for them)."""
    yield from _page(browser_context, request, artifacts, notebook7)


@pytest.fixture()
def nb7_notebook(notebook7: Notebook7, nb7_page):
    """``notebook`` for Notebook 7: ``nb7_notebook.open(path)`` opens ``/notebooks/<path>``."""
    factory = Notebooks(notebook7, nb7_page)
    yield factory
    factory.close_all()
