"""Every code block in the documentation runs.

Each page's fenced ``python`` blocks are executed in order, as one script, in a fresh Python
process whose working directory is an empty temporary folder (pages write files: COCO JSON,
project stores, reports). A failure names the page, the block (its line and first line of
code) and the traceback, whose line numbers are those of the Markdown file.

Shell blocks (``bash``, ``console``, ``sh``) are not run; the ``make`` targets they name must
exist in the Makefile.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PAGES = sorted(DOCS.rglob("*.md"))
TIMEOUT = 300  # seconds per page

PYTHON = {"python", "py"}
SHELL = {"bash", "console", "sh", "shell"}
NOT_CODE = {
    "text",
    "mermaid",
}  # plain text (a folder layout, an example output) or a diagram; a bare ``` is refused

_FENCE = re.compile(r"^(?P<indent> *)(?P<fence>`{3,}|~{3,})\s*(?P<info>[^`]*)$")


def code_blocks(page: Path) -> list[tuple[str, int, str]]:
    """``(language, first line number, code)`` of each fenced block of a Markdown page."""
    blocks = []
    lines = page.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        indent, fence = len(m["indent"]), m["fence"]
        info = m["info"].strip()
        lang = info.split()[0].lstrip(".").lower() if info else ""
        start = i + 1
        j = start
        while j < len(lines) and not re.match(rf"^ *{re.escape(fence)}{fence[0]}*\s*$", lines[j]):
            j += 1
        if j == len(lines):
            raise AssertionError(f"{page.relative_to(ROOT)}:{i + 1}: unclosed code fence")
        body = "\n".join(
            line[indent:] if line[:indent].isspace() else line for line in lines[start:j]
        )
        blocks.append((lang, start + 1, body + "\n"))
        i = j + 1
    return blocks


def _rel(page: Path) -> str:
    return page.relative_to(ROOT).as_posix()


def _python_pages() -> list[Path]:
    return [p for p in PAGES if any(lang in PYTHON for lang, _, _ in code_blocks(p))]


# Runs in the child process: executes the blocks of one page in one namespace. A block's code
# is compiled with the page as its file name and padded so that traceback lines are Markdown
# lines. A failing block prints a marker line with its index, then the traceback.
_RUNNER = textwrap.dedent(
    """
    import json, sys, traceback
    page, blocks = json.load(sys.stdin)
    namespace = {"__name__": "__main__"}
    for index, (line, code) in enumerate(blocks):
        try:
            exec(compile("\\n" * (line - 1) + code, page, "exec"), namespace)
        except BaseException as exc:
            sys.stdout.flush()
            print(f"@@nbdiag-docs-failed-block {index}", file=sys.stderr)
            traceback.print_exception(type(exc), exc, exc.__traceback__.tb_next)
            sys.exit(1)
    """
)


def _cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


WORKERS = max(1, min(4, _cpus()))  # pages run this many at a time


def _child_env(tmp: Path) -> dict[str, str]:
    env = dict(os.environ)
    # nbdiag importable whether installed (CI: editable) or not (a plain checkout)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [env.get("PYTHONPATH")])])
    env["NBDIAG_CACHE_DIR"] = str(tmp / "cache")  # metric / embedding caches: fresh, private
    env["MPLBACKEND"] = "Agg"
    env.setdefault("OMP_NUM_THREADS", str(max(1, _cpus() // WORKERS)))
    return env


def run_page(page: Path, tmp: Path) -> str | None:
    """Run the python blocks of ``page`` in a fresh process, in the empty folder ``tmp/work``;
    ``None`` when they all run, else what failed and its traceback."""
    blocks = [(line, code) for lang, line, code in code_blocks(page) if lang in PYTHON]
    work = tmp / "work"
    work.mkdir(parents=True)
    try:
        proc = subprocess.run(
            [sys.executable, "-c", _RUNNER],
            input=json.dumps([str(page), blocks]),
            cwd=work,
            env=_child_env(tmp),
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
        )
    except subprocess.TimeoutExpired as exc:
        return f"{_rel(page)}: its code blocks did not finish within {exc.timeout} s"
    if proc.returncode == 0:
        return None
    err = proc.stderr
    m = re.search(r"^@@nbdiag-docs-failed-block (\d+)$", err, flags=re.M)
    if m is None:
        return f"{_rel(page)}: the page's code exited with {proc.returncode}\n{err}"
    line, code = blocks[int(m[1])]
    first = next((c for c in code.splitlines() if c.strip()), "")
    return (
        f"{_rel(page)}: the code block at line {line} fails\n"
        f"    {first}\n\n{err[m.end() :].lstrip()}"
    )


@pytest.fixture(scope="module")
def page_runs(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    """The selected pages' runs, started together, ``WORKERS`` at a time: page -> Future."""
    pages = list(
        dict.fromkeys(
            item.callspec.params["page"]
            for item in request.session.items
            if getattr(item, "originalname", None) == "test_page_code_runs"
        )
    )
    pool = ThreadPoolExecutor(max_workers=WORKERS)
    futures = {
        page: pool.submit(run_page, page, tmp_path_factory.mktemp(page.stem)) for page in pages
    }
    yield futures
    pool.shutdown(wait=True, cancel_futures=True)


@pytest.mark.slow
@pytest.mark.parametrize("page", _python_pages(), ids=_rel)
def test_page_code_runs(page: Path, page_runs: dict[Path, Future], tmp_path: Path) -> None:
    future = page_runs.get(page)
    failure = future.result() if future is not None else run_page(page, tmp_path)
    if failure:
        pytest.fail(failure, pytrace=False)


def test_pages_have_known_fences() -> None:
    """Every block is python (run), shell (make targets checked) or ``text``: a bare fence or a
    typo in the language (``pyhton``) would silently leave a block untested."""
    unknown = [
        f"{_rel(p)}:{line - 1}: ```{lang}"
        for p in PAGES
        for lang, line, _ in code_blocks(p)
        if lang not in PYTHON | SHELL | NOT_CODE
    ]
    assert not unknown, "code blocks in an unknown language:\n" + "\n".join(unknown)
    assert len(_python_pages()) >= 10


def _make_targets() -> set[str]:
    text = (ROOT / "Makefile").read_text()
    targets: set[str] = set()
    for m in re.finditer(r"^([A-Za-z0-9_.%/ -]+?)\s*:(?!=)", text, flags=re.M):
        targets.update(m[1].split())
    return targets


def test_shell_blocks_name_existing_make_targets() -> None:
    targets = _make_targets()
    named = [
        (f"{_rel(p)}:{line + k}", word)
        for p in PAGES
        for lang, line, code in code_blocks(p)
        if lang in SHELL
        for k, row in enumerate(code.splitlines())
        for cmd in re.findall(r"(?:^|[;&|]\s*)\$?\s*make\b([^#;&|]*)", row)
        for word in cmd.split()
        if "=" not in word and not word.startswith("-")
    ]
    missing = [f"{where}: make {t}" for where, t in named if t not in targets]
    assert not missing, "make targets that the Makefile lacks:\n" + "\n".join(missing)
