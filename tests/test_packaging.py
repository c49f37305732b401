"""The wheel must carry the built JS bundle (it is git-ignored, so this is easy to lose)."""

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_wheel_contains_the_js_bundle(tmp_path):
    assert (ROOT / "nbdiag/static/confusion_matrix.js").exists(), "run `make js` first"
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(tmp_path)],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("nbdiag-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for widget in ("confusion_matrix", "image_grid", "scatter", "histogram"):
        assert f"nbdiag/static/{widget}.js" in names, widget
        assert f"nbdiag/static/{widget}.css" in names, widget
    assert "nbdiag/widgets/confusion.py" in names
    assert not any(n.startswith(("tests/", "js/")) for n in names)


def test_missing_extra_error_names_the_extra():
    from nbdiag._optional import require

    with pytest.raises(ImportError, match=r"nbdiag\[cleanlab\]"):
        require("cleanlab.definitely_not_a_module", "label issues")
