"""The README's usage example must run as written."""

import re
from pathlib import Path

import pandas as pd

README = Path(__file__).resolve().parent.parent / "README.md"


def _python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_readme_example_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the second block writes its export here
    blocks = _python_blocks()
    assert len(blocks) >= 2, "README has no python examples"
    namespace: dict = {}
    exec(compile(blocks[0], str(README), "exec"), namespace)
    ev, cm, ds = namespace["ev"], namespace["cm"], namespace["ds"]
    assert ev.accuracy > 0.9
    sel = cm.selected
    assert (sel["label"] == "8").all() and (sel["prediction"] == "1").all()
    assert len(sel) == int(ev.confusion_matrix().loc["8", "1"])
    assert ds.tag(sel, "to_review") == len(sel)
    # the second block: label issues, tagged, exported, explored
    exec(compile(blocks[1], str(README), "exec"), namespace)
    issues = namespace["issues"]
    assert 0 < len(issues) < 100
    assert set(ds.tagged("label_error").index) == set(issues.index)
    exported = pd.read_csv(tmp_path / "to_relabel.csv")
    assert sorted(exported["id"]) == sorted(issues.index)
