"""The import graph of nbdiag's Python package and TypeScript sources, checked against the layers.

    python scripts/import_graph.py            # counts: modules, arrows, upward arrows, circles
    python scripts/import_graph.py --mermaid  # the layer diagram as a Mermaid graph

Every import counts: module-level, inside functions and under ``TYPE_CHECKING``. The layers
(lowest first) are documented in ``docs/architecture.md``; ``tests/test_architecture.py`` runs
these checks in ``make test``.
"""

from __future__ import annotations

import argparse
import ast
import re
import sys
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MAX_LINES = 500

#: Python layers, lowest first: (name, module prefixes). A module may import its own layer and
#: the layers below it, never a layer above. The longest matching prefix wins.
PY_LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("core", ("nbdiag.core", "nbdiag._optional", "nbdiag._version")),
    (
        "readers, analyses, store",
        (
            "nbdiag.io",
            "nbdiag.evaluation",
            "nbdiag.metrics",
            "nbdiag.embeddings",
            "nbdiag.issues",
            "nbdiag.slices",
            "nbdiag.selection",
            "nbdiag.compare",
            "nbdiag.store",
        ),
    ),
    ("views", ("nbdiag.widgets", "nbdiag.report")),
    ("facade", ("nbdiag.dataset", "nbdiag._analyses")),
    ("package", ("nbdiag", "nbdiag.runs", "nbdiag.images", "nbdiag.validation")),
]

#: TypeScript layers under js/src, lowest first: (name, folder or file prefixes).
TS_LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("shared", ("shared/",)),
    ("views", ("scatter/", "grid/", "confusion/", "histogram/")),
    ("widgets", ("widgets/",)),
]


# ----------------------------------------------------------------------------- Python
def python_modules(package: Path = ROOT / "nbdiag") -> dict[str, Path]:
    """Dotted module name -> file, for every ``.py`` file of the package."""
    out = {}
    for path in sorted(package.rglob("*.py")):
        parts = list(path.relative_to(package.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _resolve(module: str, is_package: bool, level: int, target: str | None) -> str:
    if level == 0:
        return target or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (level - 1)]
    return ".".join(base + ([target] if target else []))


def python_imports(modules: dict[str, Path]) -> dict[str, set[str]]:
    """Module -> the package modules it imports (every import statement in the file)."""
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for module, path in modules.items():
        is_package = path.name == "__init__.py"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = _resolve(module, is_package, node.level, node.module)
                # `from .pkg import sub` imports the submodule; `from .pkg import name` takes a
                # name defined in pkg/__init__.py (a parent package is imported anyway)
                subs = [f"{base}.{a.name}" for a in node.names]
                names = [s for s in subs if s in modules]
                if len(names) < len(subs):
                    names.append(base)
            for name in names:
                target = _owner(name, modules)
                if target is not None and target != module:
                    graph[module].add(target)
    return graph


def _owner(name: str, modules: dict[str, Path]) -> str | None:
    """The package module a dotted name lives in (``nbdiag.core.DatasetCore`` -> core)."""
    while name:
        if name in modules:
            return name
        name = name.rpartition(".")[0]
    return None


def layer_index(module: str, layers: list[tuple[str, tuple[str, ...]]]) -> int:
    best, best_len = -1, -1
    for i, (_, prefixes) in enumerate(layers):
        for p in prefixes:
            if (
                module == p
                or module.startswith(p.rstrip(".") + ".")
                or (p.endswith("/") and module.startswith(p))
            ) and len(p) > best_len:
                best, best_len = i, len(p)
    if best < 0:
        raise ValueError(f"{module} belongs to no layer; add it to the layer table")
    return best


# ----------------------------------------------------------------------------- TypeScript
_TS_IMPORT = re.compile(r"""(?:import|export)\s[^'"]*?from\s*['"](\.{1,2}/[^'"]+)['"]""")


def ts_imports(src: Path = ROOT / "js" / "src") -> dict[str, set[str]]:
    """``.ts`` file (relative to js/src) -> the ``.ts`` files of js/src it imports."""
    graph: dict[str, set[str]] = {}
    for path in sorted(src.rglob("*.ts")):
        rel = path.relative_to(src).as_posix()
        graph[rel] = set()
        for spec in _TS_IMPORT.findall(path.read_text(encoding="utf-8")):
            target = (path.parent / spec).resolve()
            for cand in (target, target.with_suffix(".ts"), target / "index.ts"):
                if cand.suffix == ".ts" and cand.is_file():
                    graph[rel].add(cand.relative_to(src).as_posix())
                    break
    return graph


# ----------------------------------------------------------------------------- checks
def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one node (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    counter = 0
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                comp = []
                while True:
                    n = stack.pop()
                    on_stack.discard(n)
                    comp.append(n)
                    if n == node:
                        break
                if len(comp) > 1:
                    out.append(sorted(comp))
    return out


def upward(
    graph: dict[str, set[str]], layers: list[tuple[str, tuple[str, ...]]]
) -> list[tuple[str, str]]:
    """Arrows from a lower layer to a higher one."""
    return sorted(
        (a, b)
        for a, targets in graph.items()
        for b in targets
        if layer_index(b, layers) > layer_index(a, layers)
    )


def long_files(paths: Iterable[Path], limit: int = MAX_LINES) -> list[tuple[str, int]]:
    out = []
    for p in paths:
        n = len(p.read_text(encoding="utf-8").splitlines())
        if n > limit:
            out.append((p.relative_to(ROOT).as_posix(), n))
    return out


def report() -> dict[str, object]:
    modules = python_modules()
    py = python_imports(modules)
    ts = ts_imports()
    return {
        "python modules": len(py),
        "python import arrows": sum(len(t) for t in py.values()),
        "python arrows up a layer": upward(py, PY_LAYERS),
        "python circles": circles(py),
        "typescript files": len(ts),
        "typescript import arrows": sum(len(t) for t in ts.values()),
        "typescript arrows up a layer or between views": ts_violations(ts),
        "typescript circles": circles(ts),
        "files over 500 lines": long_files(
            list(modules.values()) + sorted((ROOT / "js" / "src").rglob("*.ts"))
        ),
    }


def ts_violations(ts: dict[str, set[str]]) -> list[tuple[str, str]]:
    """TS arrows up a layer, and arrows from one view folder into another."""
    bad = []
    for a, targets in ts.items():
        for b in targets:
            la, lb = layer_index(a, TS_LAYERS), layer_index(b, TS_LAYERS)
            if lb > la or (la == lb == 1 and a.split("/")[0] != b.split("/")[0]):
                bad.append((a, b))
    return sorted(bad)


def mermaid() -> str:
    """The package-level graph (sub-packages collapsed), grouped by layer."""
    py = python_imports(python_modules())

    def group(m: str) -> str:
        parts = m.split(".")
        return ".".join(parts[:2]) if len(parts) > 1 else m

    edges = sorted(
        {(group(a), group(b)) for a, ts in py.items() for b in ts if group(a) != group(b)}
    )
    nodes = sorted({n for e in edges for n in e} | {group(m) for m in py})
    lines = ["graph BT"]
    for i, (name, _) in enumerate(PY_LAYERS):
        members = [n for n in nodes if layer_index(n, PY_LAYERS) == i]
        lines.append(f'  subgraph L{i}["{name}"]')
        lines += [f"    {n.replace('.', '_')}[{n}]" for n in members]
        lines.append("  end")
    lines += [f"  {a.replace('.', '_')} --> {b.replace('.', '_')}" for a, b in edges]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mermaid", action="store_true", help="print the package graph as Mermaid")
    args = ap.parse_args(argv)
    if args.mermaid:
        print(mermaid())
        return 0
    bad = 0
    for key, value in report().items():
        if isinstance(value, list):
            print(f"{key}: {len(value)}")
            for item in value:
                print(f"    {item}")
            bad += len(value)
        else:
            print(f"{key}: {value}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
