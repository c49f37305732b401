#!/usr/bin/env python
"""The wheel as users get it: built, inspected, installed into fresh virtual environments and
used there. ``make wheelcheck`` (part of ``make test``, hence CI) runs it.

    python scripts/check_wheel.py             # build, inspect, both environments
    python scripts/check_wheel.py --keep      # keep the scratch folder (printed) for a look
    python scripts/check_wheel.py --dist DIR  # use the wheel and sdist already in DIR

1. ``python -m build``: the sdist, then the wheel built from the sdist (as a package index
   would), each in an isolated build environment.
2. The archives: the wheel carries the JS bundle (byte-equal to the freshly built
   ``nbdiag/static``) and every module of ``nbdiag/``, and nothing else; its metadata declares
   exactly pyproject's dependencies and extras; the sdist can rebuild everything (``js/`` sources
   included, ``node_modules`` not).
3. Two fresh environments (``python -m venv``, no system site packages, nothing from the
   development environment), in parallel:
   * ``core``: the wheel alone, every core dependency pinned to its declared lower bound, so the
     lower bounds are the versions tested;
   * ``all``: ``pip install torch==2.13.0`` first (the CPU build), then ``wheel[all]`` with the
     newest versions.
4. In each, ``scripts/wheel_smoke.py`` under ``python -I`` in a scratch working directory: the
   README's python blocks, save -> open with tags, CSV / Parquet / COCO exports, one of each
   view with its bundle loaded from the installed package; in ``core``, an ImportError naming
   the extra for every feature of a missing extra; in ``all``, those features working.

pip reuses its cache, so after the first run this takes about two minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import zipfile
from email.parser import Parser
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
WIDGETS = ("confusion_matrix", "image_grid", "scatter", "histogram")
TORCH = "torch==2.13.0"  # the CPU build (an unpinned torch pulls a multi-GB CUDA build)
#: what pip and venv need from the environment; the rest (PYTHONPATH, VIRTUAL_ENV, ...) stays out
PIP_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE")


def log(text: str) -> None:
    print(text, flush=True)


def run(cmd: list[str], *, cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    """Run ``cmd``; its output comes back, or is shown in full when it fails."""
    proc = subprocess.run(
        cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    if proc.returncode != 0:
        raise CheckFailed(f"`{' '.join(map(str, cmd))}` failed ({proc.returncode}):\n{proc.stdout}")
    return proc.stdout


class CheckFailed(Exception):
    pass


# ----------------------------------------------------------------------------- the archives
def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def project_table(repo: Path = REPO) -> dict:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    return tomllib.loads((repo / "pyproject.toml").read_text())["project"]


def wheel_metadata(names: list[str], read) -> dict[str, list[str]]:
    """``Requires-Dist`` split into core (``""``) and per-extra lists, from a wheel's METADATA."""
    (meta,) = [n for n in names if re.fullmatch(r"[^/]+\.dist-info/METADATA", n)]
    msg = Parser().parsestr(read(meta).decode())
    out: dict[str, list[str]] = {"": []}
    for extra in msg.get_all("Provides-Extra") or []:
        out[normalise(extra)] = []
    for line in msg.get_all("Requires-Dist") or []:
        m = re.search(r";\s*extra\s*==\s*['\"]([^'\"]+)['\"]\s*$", line)
        req = (line[: m.start()] if m else line.split(";")[0]).strip()
        out.setdefault(normalise(m.group(1)) if m else "", []).append(req)
    return out


def _canon(req: str) -> str:
    from packaging.requirements import Requirement

    r = Requirement(req)
    extras = f"[{','.join(sorted(r.extras))}]" if r.extras else ""
    return f"{normalise(r.name)}{extras}{r.specifier}"


def resolved_extras(project: dict) -> dict[str, list[str]]:
    """pyproject's extras with ``nbdiag[a,b]`` replaced by what those extras require."""
    from packaging.requirements import Requirement

    raw = project["optional-dependencies"]
    me = normalise(project["name"])

    def resolve(extra: str) -> set[str]:
        out: set[str] = set()
        for line in raw[extra]:
            r = Requirement(line)
            if normalise(r.name) == me:
                for sub in r.extras:
                    out |= resolve(sub)
            else:
                out.add(_canon(line))
        return out

    return {extra: sorted(resolve(extra)) for extra in raw}


def inspect_wheel(wheel: Path, repo: Path = REPO) -> list[str]:
    """Everything wrong with the wheel; empty when it is as it should be."""
    problems: list[str] = []
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        for widget in WIDGETS:
            for suffix in (".js", ".css"):
                name = f"nbdiag/static/{widget}{suffix}"
                built = repo / name
                if name not in names:
                    problems.append(f"{name} (the JS bundle) is missing from the wheel")
                elif built.exists() and z.read(name) != built.read_bytes():
                    problems.append(f"{name} in the wheel differs from the fresh build in {built}")
        for path in sorted((repo / "nbdiag").rglob("*.py")):
            name = path.relative_to(repo).as_posix()
            if name not in names:
                problems.append(f"{name} is missing from the wheel")
        strays = [n for n in names if not n.startswith(("nbdiag/", "nbdiag-"))]
        problems += [f"{n} does not belong in the wheel" for n in strays]
        meta = wheel_metadata(names, z.read)
    project = project_table(repo)
    want_core = sorted(_canon(r) for r in project["dependencies"])
    if sorted(_canon(r) for r in meta.get("", [])) != want_core:
        problems.append(f"the wheel requires {meta.get('', [])}, pyproject says {want_core}")
    for extra, reqs in resolved_extras(project).items():
        got = sorted(_canon(r) for r in meta.get(normalise(extra), []))
        if got != reqs:
            problems.append(f"extra {extra!r}: the wheel requires {got}, pyproject says {reqs}")
    return problems


def inspect_sdist(sdist: Path) -> list[str]:
    problems = []
    with tarfile.open(sdist) as t:
        names = {n.split("/", 1)[1] for n in t.getnames() if "/" in n}
    must = ["pyproject.toml", "README.md", "js/package.json", "js/package-lock.json"]
    must += [f"nbdiag/static/{w}.js" for w in WIDGETS]
    problems += [f"{n} is missing from the sdist" for n in must if n not in names]
    if not any(n.startswith("js/src/") for n in names):
        problems.append("js/src/ (the front end's sources) is missing from the sdist")
    problems += [f"{n} does not belong in the sdist" for n in names if "node_modules/" in n][:5]
    return problems


def lower_bounds(requirements: list[str]) -> list[str]:
    """Pins ``name==X`` for each requirement's ``>=X`` (``~=X``): the oldest versions allowed."""
    from packaging.requirements import Requirement

    pins = []
    for line in requirements:
        r = Requirement(line)
        low = [s.version for s in r.specifier if s.operator in (">=", "~=", "==")]
        if not low:
            raise CheckFailed(f"core dependency {line!r} has no lower bound to test")
        pins.append(f"{r.name}=={low[0]}")
    return pins


# ----------------------------------------------------------------------------- environments
def base_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k in PIP_ENV or k.startswith("PIP_")}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


def make_env(
    name: str, scratch: Path, wheel: Path, version: str, core_pins: list[str]
) -> tuple[str, float]:
    """Create the environment, install, run the smoke script there. Returns its log and time."""
    t0 = time.perf_counter()
    venv = scratch / f"venv-{name}"
    out = [f"== {name}: python -m venv {venv}"]
    run([sys.executable, "-m", "venv", str(venv)], env=base_env())
    py = venv / "bin" / "python"
    # --no-compile: no .pyc files written at install (torch alone has thousands); imports still work
    pip = [str(py), "-m", "pip", "install", "--quiet", "--no-compile"]
    if name == "core":
        constraints = scratch / "lower-bounds.txt"
        constraints.write_text("\n".join(core_pins) + "\n")
        out.append(f"   core dependencies at their lower bounds: {', '.join(core_pins)}")
        run([*pip, "--constraint", str(constraints), str(wheel)], env=base_env())
    else:
        run([*pip, TORCH], env=base_env())
        run([*pip, f"{wheel}[all]"], env=base_env())
    frozen = run([str(py), "-m", "pip", "freeze", "--all"], env=base_env())
    (scratch / f"freeze-{name}.txt").write_text(frozen)
    out.append(
        f"   installed in {time.perf_counter() - t0:.0f}s ({len(frozen.splitlines())} packages)"
    )
    work = scratch / f"work-{name}"
    home = scratch / f"home-{name}"
    work.mkdir()
    home.mkdir()
    env = {
        "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
        "HOME": str(home),  # no caches or config of the developer's
        "XDG_CACHE_HOME": str(home / ".cache"),
        "LANG": os.environ.get("LANG", "C.UTF-8"),
        "MPLBACKEND": "Agg",
    }
    smoke = [str(py), "-I", str(REPO / "scripts" / "wheel_smoke.py")]
    smoke += ["--mode", name, "--repo", str(REPO), "--version", version]
    proc = subprocess.run(smoke, cwd=work, env=env, capture_output=True, text=True)
    out.append(proc.stdout.rstrip())
    if proc.returncode != 0:
        out.append(proc.stderr.rstrip())
        raise CheckFailed("\n".join(out) + f"\n== {name}: the smoke run failed")
    return "\n".join(out), time.perf_counter() - t0


# ----------------------------------------------------------------------------- main
def build(dist: Path) -> tuple[Path, Path]:
    for widget in WIDGETS:
        if not (REPO / "nbdiag" / "static" / f"{widget}.js").exists():
            raise CheckFailed("the JS bundle is not built: run `make js` first")
    # sdist, then the wheel from the sdist, each in an isolated build environment
    run([sys.executable, "-m", "build", "--outdir", str(dist), str(REPO)], env=base_env())
    (sdist,) = dist.glob("nbdiag-*.tar.gz")
    (wheel,) = dist.glob("nbdiag-*.whl")
    return wheel, sdist


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dist", type=Path, help="use the wheel and sdist in this folder")
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder")
    parser.add_argument(
        "--env", choices=("core", "all"), action="append", help="only this environment"
    )
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    scratch = Path(tempfile.mkdtemp(prefix="nbdiag-wheelcheck-"))
    try:
        if args.dist:
            (wheel,) = args.dist.glob("nbdiag-*.whl")
            (sdist,) = args.dist.glob("nbdiag-*.tar.gz")
        else:
            log("build: python -m build (sdist, then the wheel from it)")
            wheel, sdist = build(scratch / "dist")
        log(f"       {wheel.name}, {sdist.name}  ({time.perf_counter() - t0:.0f}s)")
        problems = inspect_wheel(wheel) + inspect_sdist(sdist)
        if problems:
            raise CheckFailed("the archives:\n  " + "\n  ".join(problems))
        log("ok    the wheel carries the fresh JS bundle, every module, the declared metadata")
        log("ok    the sdist can rebuild it (js/ sources, no node_modules)")
        version = project_table()["version"]
        pins = lower_bounds(project_table()["dependencies"])
        names = args.env or ["core", "all"]
        results: dict[str, tuple[str, float] | BaseException] = {}

        def one(name: str) -> None:
            try:
                results[name] = make_env(name, scratch, wheel, version, pins)
            except BaseException as exc:  # reported below
                results[name] = exc

        threads = [threading.Thread(target=one, args=(n,)) for n in names]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        failed = []
        for name in names:
            result = results[name]
            if isinstance(result, BaseException):
                failed.append(name)
                log(str(result))
            else:
                text, seconds = result
                log(text)
                log(f"== {name}: ok in {seconds:.0f}s")
        if failed:
            raise CheckFailed(f"the wheel fails in the {' and '.join(failed)} environment(s)")
        log(f"wheel check: all ok in {time.perf_counter() - t0:.0f}s")
        return 0
    except CheckFailed as exc:
        log(f"\nWHEEL CHECK FAILED: {exc}")
        return 1
    finally:
        if args.keep:
            log(f"(kept {scratch})")
        else:
            t1 = time.perf_counter()
            shutil.rmtree(scratch, ignore_errors=True)
            log(f"(scratch folder removed in {time.perf_counter() - t1:.0f}s)")


if __name__ == "__main__":
    sys.exit(main())
