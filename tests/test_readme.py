"""The README's usage example must run as written."""

import re
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def _python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_readme_example_runs():
    blocks = _python_blocks()
    assert blocks, "README has no python example"
    namespace: dict = {}
    exec(compile(blocks[0], str(README), "exec"), namespace)
    ev, cm, ds = namespace["ev"], namespace["cm"], namespace["ds"]
    assert ev.accuracy > 0.9
    sel = cm.selected
    assert (sel["label"] == "8").all() and (sel["prediction"] == "1").all()
    assert len(sel) == int(ev.confusion_matrix().loc["8", "1"])
    assert ds.tag(sel, "to_review") == len(sel)
