"""The house rules, checked on every run: imports flow one way, no circles, small modules.

The same checks print as a report with ``python scripts/import_graph.py`` (see
``docs/architecture.md``).
"""

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("import_graph", ROOT / "scripts/import_graph.py")
graph = importlib.util.module_from_spec(_spec)
sys.modules["import_graph"] = graph
_spec.loader.exec_module(graph)


@pytest.fixture(scope="module")
def py():
    return graph.python_imports(graph.python_modules())


def test_no_python_import_circle(py):
    assert graph.circles(py) == []


def test_python_imports_never_run_up_a_layer(py):
    assert graph.upward(py, graph.PY_LAYERS) == []


def test_every_module_has_a_layer(py):
    for module in py:
        graph.layer_index(module, graph.PY_LAYERS)


def test_typescript_views_import_the_shared_layer_never_each_other():
    ts = graph.ts_imports()
    assert ts, "no TypeScript found under js/src"
    assert graph.ts_violations(ts) == []
    assert graph.circles(ts) == []


def test_no_module_over_500_lines():
    files = list((ROOT / "nbdiag").rglob("*.py")) + list((ROOT / "js/src").rglob("*.ts"))
    assert graph.long_files(files) == []


# the checks themselves must be able to fail
def test_the_checker_sees_circles_upward_arrows_and_function_level_imports(tmp_path):
    pkg = tmp_path / "nbdiag"
    (pkg / "core").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "core" / "__init__.py").write_text("")
    (pkg / "core" / "a.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ..dataset import X\n"
    )
    (pkg / "dataset.py").write_text("def f():\n    from .core import a\n")
    (pkg / "widgets").mkdir()
    (pkg / "widgets" / "__init__.py").write_text("from . import b\n")
    (pkg / "widgets" / "b.py").write_text("from . import c\n")
    (pkg / "widgets" / "c.py").write_text("from .b import thing\n")
    mods = graph.python_modules(pkg)
    g = graph.python_imports(mods)
    assert g["nbdiag.core.a"] == {"nbdiag.dataset"}
    assert g["nbdiag.dataset"] == {"nbdiag.core.a"}
    assert ["nbdiag.core.a", "nbdiag.dataset"] in graph.circles(g)
    assert ["nbdiag.widgets.b", "nbdiag.widgets.c"] in graph.circles(g)
    assert ("nbdiag.core.a", "nbdiag.dataset") in graph.upward(g, graph.PY_LAYERS)


def test_the_checker_sees_views_importing_each_other(tmp_path):
    src = tmp_path / "src"
    for d in ("shared", "scatter", "histogram"):
        (src / d).mkdir(parents=True)
    (src / "shared" / "codecs.ts").write_text("export const x = 1;\n")
    (src / "scatter" / "colors.ts").write_text("import { x } from '../shared/codecs';\n")
    (src / "histogram" / "view.ts").write_text(
        "import { x } from '../shared/codecs';\nimport type { C } from \"../scatter/colors\";\n"
    )
    ts = graph.ts_imports(src)
    assert graph.ts_violations(ts) == [("histogram/view.ts", "scatter/colors.ts")]
