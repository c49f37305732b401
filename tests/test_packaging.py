"""The wheel check (scripts/check_wheel.py, ``make wheelcheck``, part of ``make test``) builds the
real wheel and sdist and uses them in fresh environments; these tests check that its inspection
fails on what it should, on synthetic archives (fast, no build)."""

import importlib.util
import io
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("check_wheel", ROOT / "scripts" / "check_wheel.py")
check_wheel = importlib.util.module_from_spec(_spec)
sys.modules["check_wheel"] = check_wheel
_spec.loader.exec_module(check_wheel)


def _metadata(core_change: str | None = None) -> str:
    project = check_wheel.project_table()
    lines = ["Metadata-Version: 2.3", f"Name: {project['name']}", f"Version: {project['version']}"]
    core = list(project["dependencies"])
    if core_change:
        core = core[1:] + [core_change]
    lines += [f"Requires-Dist: {r}" for r in core]
    for extra, reqs in check_wheel.resolved_extras(project).items():
        lines.append(f"Provides-Extra: {extra}")
        lines += [f"Requires-Dist: {r}; extra == '{extra}'" for r in reqs]
    return "\n".join(lines) + "\n"


def _wheel(tmp_path: Path, drop: str = "", add: str = "", core_change: str | None = None) -> Path:
    path = tmp_path / "nbdiag-0.1.0-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as z:
        for py in (ROOT / "nbdiag").rglob("*.py"):
            z.write(py, py.relative_to(ROOT).as_posix())
        for widget in check_wheel.WIDGETS:
            for suffix in (".js", ".css"):
                name = f"nbdiag/static/{widget}{suffix}"
                built = ROOT / name
                z.writestr(name, built.read_bytes() if built.exists() else b"export default {};")
        z.writestr("nbdiag-0.1.0.dist-info/METADATA", _metadata(core_change))
        if add:
            z.writestr(add, "")
    if drop:
        rebuilt = tmp_path / "dropped.whl"
        with zipfile.ZipFile(path) as src, zipfile.ZipFile(rebuilt, "w") as dst:
            for name in src.namelist():
                if name != drop:
                    dst.writestr(name, src.read(name))
        rebuilt.replace(path)
    return path


def test_a_complete_wheel_passes(tmp_path):
    assert check_wheel.inspect_wheel(_wheel(tmp_path)) == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"drop": "nbdiag/static/scatter.js"},
            "nbdiag/static/scatter.js (the JS bundle) is missing",
        ),
        ({"drop": "nbdiag/static/histogram.css"}, "histogram.css (the JS bundle) is missing"),
        ({"drop": "nbdiag/_optional.py"}, "nbdiag/_optional.py is missing from the wheel"),
        ({"add": "tests/test_x.py"}, "tests/test_x.py does not belong in the wheel"),
        ({"add": "js/src/index.ts"}, "js/src/index.ts does not belong in the wheel"),
        ({"core_change": "requests>=2"}, "the wheel requires"),
    ],
)
def test_the_inspection_fails_on(tmp_path, kwargs, message):
    problems = check_wheel.inspect_wheel(_wheel(tmp_path, **kwargs))
    assert any(message in p for p in problems), problems


def test_a_stale_bundle_fails(tmp_path):
    built = ROOT / "nbdiag/static/scatter.js"
    if not built.exists():
        pytest.skip("the JS bundle is not built (make js)")
    wheel = _wheel(tmp_path, drop="nbdiag/static/scatter.js")
    with zipfile.ZipFile(wheel, "a") as z:
        z.writestr("nbdiag/static/scatter.js", b"export default { old: 1 };")
    problems = check_wheel.inspect_wheel(wheel)
    assert any("differs from the fresh build" in p for p in problems), problems


def test_the_sdist_inspection(tmp_path):
    def sdist(names: list[str]) -> Path:
        path = tmp_path / f"s{len(list(tmp_path.iterdir()))}.tar.gz"
        with tarfile.open(path, "w:gz") as t:
            for name in names:
                info = tarfile.TarInfo(f"nbdiag-0.1.0/{name}")
                t.addfile(info, io.BytesIO(b""))
        return path

    good = ["pyproject.toml", "README.md", "js/package.json", "js/package-lock.json"]
    good += ["js/src/index.ts"] + [f"nbdiag/static/{w}.js" for w in check_wheel.WIDGETS]
    assert check_wheel.inspect_sdist(sdist(good)) == []
    problems = check_wheel.inspect_sdist(sdist([n for n in good if not n.startswith("js/src")]))
    assert any("js/src/" in p for p in problems), problems
    problems = check_wheel.inspect_sdist(sdist([*good, "js/node_modules/x/index.js"]))
    assert any("node_modules" in p for p in problems), problems


def test_the_core_is_pinned_to_its_lower_bounds():
    pins = check_wheel.lower_bounds(["numpy>=1.24", "pandas>=2.1,<4", "tqdm~=4.60"])
    assert pins == ["numpy==1.24", "pandas==2.1", "tqdm==4.60"]
    with pytest.raises(check_wheel.CheckFailed, match="no lower bound"):
        check_wheel.lower_bounds(["scipy"])
    # the real ones: every core dependency has one
    assert len(check_wheel.lower_bounds(check_wheel.project_table()["dependencies"])) >= 10


def test_missing_extra_error_names_the_extra():
    from nbdiag._optional import require

    with pytest.raises(ImportError, match=r"nbdiag\[cleanlab\]"):
        require("cleanlab.definitely_not_a_module", "label issues")
