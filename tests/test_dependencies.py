"""nbdiag's declared dependencies match what its code imports.

Every ``.py`` under ``nbdiag/`` is parsed (nothing is imported) and every absolute import is
collected, wherever it stands: module level, inside functions and classes, under
``if TYPE_CHECKING:``, plus the modules named in ``require("...")`` / ``optional("...")`` (the
helper in ``nbdiag/_optional.py``) and in ``importlib.import_module("...")``. Each third-party
top-level name is mapped to its distribution with ``importlib.metadata.packages_distributions()``.
The rules:

* a package imported outside the helper must be a core dependency (``[project] dependencies``),
  except under ``TYPE_CHECKING`` or in a function that calls ``require()`` for it first;
* any other package must be in a user-facing extra, named for that extra in the helper's
  ``_EXTRAS``, and reached through ``require()`` / ``optional()`` only;
* packages the code needs without importing them (pyarrow, pandas' Parquet engine) are core;
* every core dependency has a lower bound and is used; ``all`` holds every user-facing extra but
  the ones the README's install section says it leaves out, and why.
"""

from __future__ import annotations

import ast
import re
import sys
from dataclasses import dataclass, field
from functools import cache
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest
from packaging.requirements import Requirement

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    tomllib = pytest.importorskip("tomli")

ROOT = Path(__file__).resolve().parent.parent
PKG = ROOT / "nbdiag"
HELPER = PKG / "_optional.py"
HELPER_FUNCTIONS = ("require", "optional")
#: extras for developers, never a runtime dependency of nbdiag's code
DEV_EXTRAS = {"test", "docs"}
#: user-facing extras that ``all`` leaves out; the README's install section says why
NOT_IN_ALL = {"umap", "dask", "hf"}
#: distributions nbdiag's code needs without importing them: (source pattern, why)
IMPLICIT = {
    "pyarrow": (r"\.to_parquet\(|read_parquet\(", "pandas' Parquet engine (store, export)"),
}
#: import name -> distribution for optional packages the dev environment may not have installed
NOT_INSTALLED = {"umap": "umap-learn", "faiss": "faiss-cpu", "cv2": "opencv-python"}


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


# ----------------------------------------------------------------------------- the import walk
@dataclass(frozen=True)
class Use:
    """One import of a third-party (or any absolute) module."""

    module: str  # full dotted name
    where: str  # path:line
    how: str  # "import" (a statement or import_module), "require" or "optional"
    at_import_time: bool  # runs when the module is imported (module or class body)
    type_checking: bool  # under `if TYPE_CHECKING:`
    required_before: frozenset[str] = field(default_factory=frozenset)  # require()d tops

    @property
    def top(self) -> str:
        return self.module.split(".")[0]


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _called_name(call: ast.Call) -> str | None:
    f = call.func
    if isinstance(f, ast.Name):
        return f.id
    if isinstance(f, ast.Attribute):
        return f.attr
    return None


def _string_arg(call: ast.Call) -> str | None:
    if call.args and isinstance(call.args[0], ast.Constant) and isinstance(call.args[0].value, str):
        return call.args[0].value
    return None


def collect_uses(source: str, name: str) -> list[Use]:
    """Every absolute import in ``source`` (the text of file ``name``), in source order."""
    uses: list[Use] = []

    def add(module: str, how: str, line: int, ctx: tuple[bool, bool, set[str]]) -> None:
        in_function, type_checking, required = ctx
        uses.append(
            Use(module, f"{name}:{line}", how, not in_function, type_checking, frozenset(required))
        )

    def walk(node: ast.AST, ctx: tuple[bool, bool, set[str]]) -> None:
        in_function, type_checking, required = ctx
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                # its body runs when called; what it require()s, it requires for itself
                walk(child, (True, type_checking, set()))
            elif isinstance(child, ast.If) and _is_type_checking(child.test):
                for stmt in child.body:
                    walk_one(stmt, (in_function, True, required))
                for stmt in child.orelse:
                    walk_one(stmt, ctx)
            else:
                walk_one(child, ctx)

    def walk_one(node: ast.AST, ctx: tuple[bool, bool, set[str]]) -> None:
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(alias.name, "import", node.lineno, ctx)
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0 and node.module:
                add(node.module, "import", node.lineno, ctx)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            walk(node, (True, ctx[1], set()))
            return
        elif isinstance(node, ast.Call):
            fname, arg = _called_name(node), _string_arg(node)
            if arg is not None and fname in HELPER_FUNCTIONS:
                add(arg, fname, node.lineno, ctx)
                if fname == "require":
                    ctx[2].add(arg.split(".")[0])
            elif arg is not None and fname in ("import_module", "__import__"):
                add(arg, "import", node.lineno, ctx)
        walk(node, ctx)

    walk(ast.parse(source, filename=name), (False, False, set()))
    return uses


# ----------------------------------------------------------------------------- the rules
@dataclass
class Declared:
    core: dict[str, Requirement]  # normalised distribution -> requirement
    extras: dict[str, set[str]]  # extra -> normalised distributions (self-references resolved)
    helper: dict[str, str]  # import name -> extra, from _optional._EXTRAS


def read_declared(pyproject: Path = ROOT / "pyproject.toml", helper: Path = HELPER) -> Declared:
    project = tomllib.loads(pyproject.read_text())["project"]
    core = {normalise(Requirement(r).name): Requirement(r) for r in project["dependencies"]}
    raw = {k: [Requirement(r) for r in v] for k, v in project["optional-dependencies"].items()}
    me = normalise(project["name"])

    def resolve(extra: str, seen: frozenset[str] = frozenset()) -> set[str]:
        out: set[str] = set()
        for req in raw[extra]:
            if normalise(req.name) == me:
                for sub in req.extras - seen:
                    out |= resolve(sub, seen | {extra})
            else:
                out.add(normalise(req.name))
        return out

    return Declared(core, {k: resolve(k) for k in raw}, helper_extras(helper.read_text()))


def helper_extras(source: str) -> dict[str, str]:
    """``_EXTRAS`` of the helper's source: import name -> extra (read, not imported)."""
    for node in ast.walk(ast.parse(source)):
        target = getattr(node, "target", None) or (getattr(node, "targets", None) or [None])[0]
        if isinstance(target, ast.Name) and target.id == "_EXTRAS":
            value = ast.literal_eval(node.value)  # type: ignore[attr-defined]
            return {k: v[0] for k, v in value.items()}
    raise AssertionError("nbdiag/_optional.py has no _EXTRAS table")


@cache
def _packages_distributions() -> dict[str, list[str]]:
    return packages_distributions()


def distributions(top: str) -> set[str]:
    dists = {normalise(d) for d in _packages_distributions().get(top, [])}
    if not dists and top in NOT_INSTALLED:
        dists = {normalise(NOT_INSTALLED[top])}
    return dists


def problems(uses: list[Use], declared: Declared) -> list[str]:
    """Everything wrong with ``uses`` against ``declared``; empty when all is well."""
    stdlib = set(sys.stdlib_module_names)
    user_extras = {k: v for k, v in declared.extras.items() if k not in DEV_EXTRAS and k != "all"}
    out: list[str] = []
    for use in uses:
        top = use.top
        if top in stdlib or top == "nbdiag":
            continue
        dists = distributions(top)
        if not dists:
            out.append(
                f"{use.where}: cannot tell which distribution provides {top!r}: install it in "
                "the development environment, or name it in NOT_INSTALLED"
            )
            continue
        if dists & declared.core.keys():
            continue  # core: may be imported anywhere, any way
        in_extras = sorted(k for k, v in user_extras.items() if dists & v)
        dev_only = sorted(k for k, v in declared.extras.items() if k in DEV_EXTRAS and dists & v)
        if not in_extras:
            where = f" (only in the dev extra(s) {dev_only})" if dev_only else ""
            out.append(
                f"{use.where}: imports {use.module!r} ({'/'.join(sorted(dists))}), which is "
                f"neither a core dependency nor in a user-facing extra{where}"
            )
            continue
        extra = declared.helper.get(top)
        if extra is None:
            out.append(
                f"{use.where}: {top!r} (extra {in_extras}) is missing from _EXTRAS in "
                "nbdiag/_optional.py, so its ImportError cannot name the extra"
            )
        elif extra not in in_extras:
            out.append(
                f"{use.where}: _EXTRAS names the extra {extra!r} for {top!r}, but it is "
                f"declared in {in_extras}"
            )
        if use.type_checking or use.how in HELPER_FUNCTIONS:
            continue
        if use.at_import_time:
            out.append(
                f"{use.where}: imports the optional {use.module!r} when the module is imported: "
                f"nbdiag without the {in_extras[0]!r} extra would fail to import"
            )
        elif top not in use.required_before:
            out.append(
                f"{use.where}: imports the optional {use.module!r} directly; go through "
                f"nbdiag._optional (require({use.module!r}, ...) or optional(...)) so that a "
                f"missing {in_extras[0]!r} extra gives an ImportError naming it"
            )
    return out


def walk_package(pkg: Path = PKG) -> tuple[list[Use], dict[str, str]]:
    uses: list[Use] = []
    sources: dict[str, str] = {}
    for path in sorted(pkg.rglob("*.py")):
        rel = str(path.relative_to(ROOT))
        sources[rel] = path.read_text(encoding="utf-8")
        if path != HELPER:
            uses += collect_uses(sources[rel], rel)
    return uses, sources


# ----------------------------------------------------------------------------- the tests
def test_the_walk_sees_nbdiag():
    uses, sources = walk_package()
    assert len(sources) > 50, sorted(sources)
    tops = {u.top for u in uses}
    assert {"numpy", "pandas", "sklearn", "scipy", "threadpoolctl"} <= tops, tops
    # module level and function level (threadpoolctl is imported inside a function), and the
    # helper's calls
    assert any(u.at_import_time for u in uses) and not all(u.at_import_time for u in uses)
    assert any(u.how == "require" and u.top == "torch" for u in uses)


def test_every_import_is_declared():
    uses, _ = walk_package()
    found = problems(uses, read_declared())
    assert not found, "\n".join(found)


def test_packages_needed_without_an_import_are_core():
    declared = read_declared()
    _, sources = walk_package()
    for dist, (pattern, why) in IMPLICIT.items():
        users = sorted(p for p, s in sources.items() if re.search(pattern, s))
        if users:
            assert dist in declared.core, f"{dist} ({why}, used by {users}) is not a core dep"


def test_core_dependencies_have_lower_bounds_and_are_used():
    declared = read_declared()
    uses, sources = walk_package()
    imported = set().union(*(distributions(u.top) for u in uses if u.how == "import"))
    implicit = {
        d
        for d, (pattern, _) in IMPLICIT.items()
        if any(re.search(pattern, s) for s in sources.values())
    }
    for dist, req in declared.core.items():
        assert any(s.operator in (">=", "==", "~=") for s in req.specifier), (
            f"core dependency {req} has no lower bound"
        )
        assert dist in imported | implicit, f"core dependency {dist} is never used by nbdiag"


def test_the_helper_names_real_extras():
    declared = read_declared()
    for top, extra in declared.helper.items():
        assert extra in declared.extras, f"_EXTRAS[{top!r}] names the undeclared extra {extra!r}"
        dists = distributions(top)
        assert dists & declared.extras[extra], (
            f"_EXTRAS[{top!r}] names the extra {extra!r}, which does not install {top!r}"
        )


def test_all_holds_every_extra_but_the_documented_ones():
    declared = read_declared()
    user = {k for k in declared.extras if k not in DEV_EXTRAS | {"all"}}
    members = {k for k in user if declared.extras[k] <= declared.extras["all"]}
    assert members == user - NOT_IN_ALL, (
        f"`all` should hold {sorted(user - NOT_IN_ALL)}, holds {sorted(members)}"
    )
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Installing", 1)[1].split("\n## ", 1)[0]
    for extra in NOT_IN_ALL:
        assert f"`{extra}`" in section, (
            f"README's install section does not say why `all` leaves out `{extra}`"
        )
    for extra in user:
        assert f"`{extra}`" in section, f"README's install section does not list `{extra}`"


# ----------------------------------------------------------------------------- self-check
SYNTHETIC = """
from __future__ import annotations
import os
from typing import TYPE_CHECKING
import numpy as np
import requests_oauthlib_never_installed
import pytest
import torch
from nbdiag._optional import require, optional
if TYPE_CHECKING:
    import bokeh.models

class K:
    import faiss

def ok():
    umap = require("umap", "UMAP projections")
    from bokeh.plotting import figure   # no require() for bokeh in this function

def ok_after_require():
    require("bokeh", "reports")
    from bokeh.embed import file_html
    rank = optional("cleanlab.object_detection.rank")

def late():
    import cleanlab.filter
    import importlib
    importlib.import_module("dask.distributed")
"""


def _synthetic_declared() -> Declared:
    declared = read_declared()
    # the self-check stands on its own: cleanlab named for a wrong extra
    return Declared(declared.core, declared.extras, {**declared.helper, "cleanlab": "report"})


def test_self_check_collects_every_kind_of_import():
    uses = collect_uses(SYNTHETIC, "synthetic.py")
    by = {(u.module, u.how): u for u in uses}
    assert by[("numpy", "import")].at_import_time
    assert by[("bokeh.models", "import")].type_checking
    assert by[("faiss", "import")].at_import_time  # a class body runs at import
    assert not by[("torch", "import")].type_checking
    assert by[("umap", "require")].how == "require"
    assert by[("bokeh.embed", "import")].required_before == {"bokeh"}
    assert "bokeh" not in by[("bokeh.plotting", "import")].required_before
    assert not by[("cleanlab.filter", "import")].at_import_time
    assert ("dask.distributed", "import") in by
    assert ("cleanlab.object_detection.rank", "optional") in by


def test_self_check_fails_on_what_it_should():
    found = problems(collect_uses(SYNTHETIC, "synthetic.py"), _synthetic_declared())
    text = "\n".join(found)

    def line_of(snippet: str) -> str:
        n = next(i for i, ln in enumerate(SYNTHETIC.splitlines(), 1) if snippet in ln)
        return f"synthetic.py:{n}:"

    expected = {
        line_of("import requests_oauthlib"): "cannot tell which distribution",
        line_of("import pytest"): "only in the dev extra",
        line_of("import torch"): "when the module is imported",
        line_of("    import faiss"): "when the module is imported",
        line_of("from bokeh.plotting"): "imports the optional 'bokeh.plotting' directly",
        line_of("import cleanlab.filter"): "names the extra 'report' for 'cleanlab'",
        line_of('import_module("dask'): "imports the optional 'dask.distributed' directly",
    }
    for where, message in expected.items():
        assert any(p.startswith(where) and message in p for p in found), (where, message, text)
    # and nothing else: numpy, TYPE_CHECKING, require(), import after require(), optional()
    for ok in ("import numpy", "import bokeh.models", 'require("umap"', "from bokeh.embed"):
        assert not any(p.startswith(line_of(ok)) for p in found), (ok, text)
    assert not any(
        p.startswith(line_of('optional("cleanlab')) and "directly" in p for p in found
    ), text


def test_self_check_catches_a_core_package_left_out():
    declared = read_declared()
    without_scipy = Declared(
        {k: v for k, v in declared.core.items() if k != "scipy"}, declared.extras, declared.helper
    )
    found = problems(collect_uses("from scipy.stats import norm\n", "x.py"), without_scipy)
    assert found and "neither a core dependency nor in a user-facing extra" in found[0], found
