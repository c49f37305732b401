"""What a user of the installed wheel does, run by scripts/check_wheel.py inside a fresh virtual
environment (``python -I``: nothing from this checkout or the developer's environment is on
``sys.path``; the working directory is a scratch folder).

    python -I wheel_smoke.py --mode core|all --repo CHECKOUT --version X.Y.Z

Both modes: the README's python blocks (extracted by ``tests/test_readme.py``, the same code
that tests them in the development environment), a save -> ``nbdiag.open`` round trip with
tags, CSV / Parquet / COCO exports, one of each view (Scatter, ImageGrid, ConfusionMatrix,
Histogram, Explorer) whose front-end bundle is loaded from the installed package.
``--mode core``: every feature of each missing extra raises an ImportError naming the extra.
``--mode all``: those features work. Exits non-zero on the first failure, naming it.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import time
import traceback
import warnings
from pathlib import Path

CHECKS: list[tuple[str, float]] = []


def check(name: str):
    """Decorator: run the check now, print its outcome and time."""

    def run(fn):
        t0 = time.perf_counter()
        try:
            fn()
        except BaseException:
            print(f"FAIL {name}", flush=True)
            traceback.print_exc()
            sys.exit(1)
        CHECKS.append((name, time.perf_counter() - t0))
        print(f"ok   {name}  ({time.perf_counter() - t0:.1f}s)", flush=True)
        return fn

    return run


def expect_import_error(extra: str, call) -> None:
    """``call()`` must raise an ImportError whose message names ``nbdiag[extra]``."""
    try:
        call()
    except ImportError as exc:
        if f"nbdiag[{extra}]" not in str(exc):
            raise AssertionError(f"ImportError without 'nbdiag[{extra}]': {exc}") from exc
        return
    raise AssertionError(f"no ImportError naming nbdiag[{extra}]: the call succeeded")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", choices=("core", "all"), required=True)
    parser.add_argument("--repo", type=Path, required=True)
    parser.add_argument("--version", required=True)
    args = parser.parse_args()
    warnings.simplefilter("error", UserWarning)  # e.g. "front-end bundle ... is missing"
    warnings.filterwarnings("ignore", message=".*lbfgs failed to converge.*")

    import numpy as np
    import pandas as pd

    import nbdiag

    here = Path.cwd()
    installed = Path(nbdiag.__file__).resolve().parent

    @check("nbdiag is the installed wheel, not the checkout")
    def _():
        assert Path(sys.prefix) in installed.parents, (installed, sys.prefix)
        assert args.repo.resolve() not in installed.parents, installed
        assert not any(p and Path(p).resolve() == args.repo.resolve() for p in sys.path), sys.path
        assert nbdiag.__version__ == args.version, nbdiag.__version__
        assert sys.base_prefix != sys.prefix  # a virtual environment

    def has(module: str) -> bool:
        return importlib.util.find_spec(module) is not None

    extras = {"cleanlab": "cleanlab", "report": "bokeh", "torch": "torch", "faiss": "faiss"}
    extras.update(umap="umap", dask="dask")

    @check(f"the extras installed are the {args.mode} ones")
    def _():
        present = {extra for extra, module in extras.items() if has(module)}
        want = set() if args.mode == "core" else {"cleanlab", "report", "torch", "faiss"}
        assert present == want, f"installed extras {sorted(present)}, expected {sorted(want)}"
        assert has("jupyterlab") == (args.mode == "all")

    # ------------------------------------------------------------------ the README
    spec = importlib.util.spec_from_file_location(
        "readme_blocks", args.repo / "tests/test_readme.py"
    )
    assert spec is not None and spec.loader is not None
    test_readme = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(test_readme)
    blocks = test_readme._python_blocks()
    namespace: dict = {}

    @check(f"README: {len(blocks)} python blocks")
    def _():
        assert len(blocks) >= 2, blocks
        exec(compile(blocks[0], "README.md (block 1)", "exec"), namespace)
        assert namespace["ev"].accuracy > 0.9
        assert len(namespace["cm"].selected) > 0
        for i, block in enumerate(blocks[1:], 2):
            try:
                exec(compile(block, f"README.md (block {i})", "exec"), namespace)
            except ImportError as exc:
                # the core lacks an extra this block uses: the error must name it
                assert args.mode == "core" and "nbdiag[" in str(exc), exc
                print(f"     block {i} stops at a missing extra: {exc}", flush=True)
        if args.mode == "all":
            assert (here / "to_relabel.csv").exists()
            assert len(namespace["issues"]) > 0

    # ------------------------------------------------------------------ a dataset of our own
    from sklearn.datasets import load_digits

    digits = load_digits()
    n = 120
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(10), size=n)
    probs[np.arange(n), digits.target[:n]] += 1.0
    probs /= probs.sum(axis=1, keepdims=True)
    ds = nbdiag.Dataset.from_arrays(
        digits.images[:n], digits.target[:n], probs=probs, run_name="m", name="smoke"
    )

    @check("save -> nbdiag.open round trip with tags")
    def _():
        ids = list(ds.samples.index[:7])
        assert ds.tag(ids, "to_review") == 7
        ds.save(here / "project")
        late = list(ds.samples.index[10:13])
        ds.tag(late, "after_save")  # committed as it is made
        back = nbdiag.open(here / "project")
        assert len(back) == len(ds) and list(back.runs) == list(ds.runs)
        assert sorted(back.tagged("to_review").index) == sorted(ids)
        assert sorted(back.tagged("after_save").index) == sorted(late)
        pd.testing.assert_series_equal(
            back.samples["label"].astype(str), ds.samples["label"].astype(str)
        )
        assert abs(back.evaluate("m").accuracy - ds.evaluate("m").accuracy) < 1e-12

    @check("export: CSV and Parquet")
    def _():
        items = ds.tagged("to_review")
        csv = pd.read_csv(ds.export(items, format="csv", path=here / "x.csv"))
        parquet = pd.read_parquet(ds.export(items, format="parquet", path=here / "x.parquet"))
        assert sorted(csv["id"]) == sorted(items.index), csv
        assert len(parquet) == len(csv) and list(parquet.columns) == list(csv.columns)

    @check("export: COCO (a detection dataset from COCO)")
    def _():
        from PIL import Image

        images = here / "coco_images"
        images.mkdir()
        coco = {
            "images": [],
            "annotations": [],
            "categories": [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}],
        }
        for i in range(1, 4):
            Image.fromarray(rng.integers(0, 255, (40, 60, 3), dtype=np.uint8)).save(
                images / f"{i}.png"
            )
            coco["images"].append({"id": i, "file_name": f"{i}.png", "width": 60, "height": 40})
            for j, cat in enumerate((1, 2)):
                coco["annotations"].append(
                    {
                        "id": 10 * i + j,
                        "image_id": i,
                        "category_id": cat,
                        "bbox": [5.0 + 20 * j, 5.0, 15.0, 20.0],
                        "area": 300.0,
                        "iscrowd": 0,
                    }
                )
        det = nbdiag.Dataset.from_coco(coco, images=images)
        out = json.loads(det.export(format="coco", path=here / "boxes.json").read_text())
        assert len(out["images"]) == 3 and len(out["annotations"]) == 6, out

    # ------------------------------------------------------------------ the views
    static = installed / "static"

    def bundle_of(view) -> None:
        """The view's _esm/_css come from files in the installed package's static/ folder
        (anywidget reads a class's Path into a FileContents; the instance's trait holds the
        text)."""
        import traitlets

        name = type(view).__name__
        for attr, suffix in (("_esm", ".js"), ("_css", ".css")):
            declared = next(
                vars(c)[attr]
                for c in type(view).__mro__
                if attr in vars(c) and not isinstance(vars(c)[attr], traitlets.TraitType)
            )
            path = getattr(declared, "_path", None)
            assert path is not None, (name, attr, f"not read from a file: {str(declared)[:200]}")
            path = Path(path).resolve()
            assert path.suffix == suffix and path.parent == static, (name, attr, path)
            text = getattr(view, attr)
            assert isinstance(text, str) and text == path.read_text(), (name, attr, len(text))
            if suffix == ".js":
                assert "export" in text and "missing from" not in text, (name, text[:200])

    ev = ds.evaluate("m")
    ds.set_embeddings(digits.data[:n].astype(np.float32))
    ds.project("pca")

    @check("views: Scatter, ImageGrid, ConfusionMatrix, Histogram, Explorer")
    def _():
        views = [
            nbdiag.Scatter(ds),
            nbdiag.ImageGrid(ds),
            nbdiag.ConfusionMatrix(ev),
            nbdiag.Histogram(ds, "label"),
        ]
        for view in views:
            bundle_of(view)
        explorer = nbdiag.explore(ds, run="m")
        assert isinstance(explorer, nbdiag.Explorer)
        kinds = {type(v).__name__ for v in explorer.views.values()}
        assert {"Scatter", "ImageGrid", "ConfusionMatrix", "Histogram"} <= kinds, kinds
        for view in explorer.views.values():
            bundle_of(view)
        assert {p.name for p in static.glob("*.js")} >= {
            "confusion_matrix.js",
            "image_grid.js",
            "scatter.js",
            "histogram.js",
        }

    # ------------------------------------------------------------------ the extras
    features = [  # (extra, feature, call)
        ("cleanlab", "find_label_issues", lambda: ds.find_label_issues("m")),
        ("report", "report", lambda: ds.report(here / "report.html")),
        ("torch", "embed", lambda: ds.embed(_tiny_model(), progress=False)),
        ("torch", "Dataset.from_torch", lambda: nbdiag.Dataset.from_torch(_tiny_data())),
        (
            "faiss",
            "similar(backend='faiss')",
            lambda: ds.similar(ds.samples.index[:1], k=3, backend="faiss"),
        ),
        ("umap", "project('umap')", lambda: ds.project("umap")),
        (
            "dask",
            "compute_metrics(client=...)",
            lambda: ds.compute_metrics(client=object(), progress=False),
        ),
    ]

    def _tiny_model():
        if args.mode == "core":
            return object()
        import torch

        return torch.nn.Sequential(torch.nn.AdaptiveAvgPool2d(4), torch.nn.Flatten())

    def _tiny_data():
        if args.mode == "core":
            return [(np.zeros((8, 8), dtype=np.uint8), 0)]
        import torch
        from torch.utils.data import TensorDataset

        return TensorDataset(torch.rand(4, 1, 8, 8), torch.tensor([0, 1, 1, 0]))

    for extra, feature, call in features:
        if args.mode == "core":
            check(f"without nbdiag[{extra}]: {feature} raises an ImportError naming it")(
                lambda extra=extra, call=call: expect_import_error(extra, call)
            )
        elif extra in ("umap", "dask"):
            continue  # not in `all` (README: why)
        else:

            @check(f"with nbdiag[{extra}]: {feature} works")
            def _(call=call):
                result = call()
                assert result is not None

    if args.mode == "all":

        @check("report: one self-contained HTML file")
        def _():
            html = (here / "report.html").read_text()
            assert "<html" in html.lower() and "Bokeh" in html

    total = sum(t for _, t in CHECKS)
    print(f"{len(CHECKS)} passed, 0 failed  (wheel smoke, {args.mode}, {total:.1f}s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
